import CLibUV

// libuv callbacks are C function pointers; they live in global constants in a library module,
// never in an executable's main.swift (Swift 6 makes closures in top-level code main-actor
// isolated: one handed to pthread_create compiled and then crashed on the shard thread), and
// find their Swift object through the handle's `data`.

let shardWakeCallback: @convention(c) (UnsafeMutablePointer<uv_async_t>?) -> Void = { handle in
    Shard.from(handle!.pointee.data).drainInbox()
}

let shardPrepareCallback: @convention(c) (UnsafeMutablePointer<uv_prepare_t>?) -> Void = { handle in
    Shard.from(handle!.pointee.data).beforePoll()
}

let shardTickCallback: @convention(c) (UnsafeMutablePointer<uv_timer_t>?) -> Void = { handle in
    Shard.from(handle!.pointee.data).tick()
}

let shardThreadEntry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { argument in
    let shard = Unmanaged<Shard>.fromOpaque(argument!).takeRetainedValue()
    shard.run()
    return nil
}
