import Glibc

/// Runs `body` on a new detached thread (the store's writers and its late loader: threads that
/// live as long as they are needed and may block on MongoDB, which no shard may).
func startDetachedThread(_ body: @escaping @Sendable () -> Void) {
    var thread = pthread_t()
    let status = pthread_create(&thread, nil, detachedThreadEntry, Unmanaged.passRetained(ThreadBody(body)).toOpaque())
    precondition(status == 0, "cannot start a thread: \(status)")
    pthread_detach(thread)
}

private final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

private let detachedThreadEntry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { context in
    Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue().body()
    return nil
}

/// A value handed to the thread that alone uses it from then on (a libmongoc client, a change
/// stream opened before the thread starts).
struct Handover<Value>: @unchecked Sendable {
    let value: Value
}
