import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// GETs small documents (JWKS, OpenID discovery) with a timeout and a size limit: the body is
/// abandoned as soon as it grows past the limit.
package struct HTTPFetcher: Sendable {
    package var timeoutSeconds: Double
    package var maxBytes: Int

    package init(timeoutSeconds: Double = 5, maxBytes: Int = 1 << 20) {
        self.timeoutSeconds = timeoutSeconds
        self.maxBytes = maxBytes
    }

    package enum FetchError: Error, CustomStringConvertible {
        case badURL(String)
        case status(Int)
        case tooLarge(Int)
        case transport(String)

        package var description: String {
            switch self {
            case .badURL(let url): "bad URL \(url)"
            case .status(let code): "HTTP status \(code)"
            case .tooLarge(let limit): "body larger than \(limit) bytes"
            case .transport(let message): message
            }
        }
    }

    package func get(_ address: String) async throws -> Data {
        guard let url = URL(string: address), url.scheme == "http" || url.scheme == "https" else {
            throw FetchError.badURL(address)
        }
        let collector = BodyCollector(maxBytes: maxBytes)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        configuration.timeoutIntervalForResource = timeoutSeconds
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        let session = URLSession(configuration: configuration, delegate: collector, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        var request = URLRequest(url: url)
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        return try await withCheckedThrowingContinuation { continuation in
            collector.start(continuation)
            session.dataTask(with: request).resume()
        }
    }
}

/// URLSession delegate that accumulates the body and cancels past the limit.
private final class BodyCollector: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let maxBytes: Int
    private let lock = NSLock()
    private var body = Data()
    private var continuation: CheckedContinuation<Data, any Error>?
    private var failure: HTTPFetcher.FetchError?

    init(maxBytes: Int) { self.maxBytes = maxBytes }

    func start(_ continuation: CheckedContinuation<Data, any Error>) {
        lock.withLock { self.continuation = continuation }
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            lock.withLock { failure = .status(http.statusCode) }
            completionHandler(.cancel)
            return
        }
        if response.expectedContentLength > Int64(maxBytes) {
            lock.withLock { failure = .tooLarge(maxBytes) }
            completionHandler(.cancel)
            return
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let over = lock.withLock { () -> Bool in
            body.append(data)
            if body.count > maxBytes {
                failure = .tooLarge(maxBytes)
                return true
            }
            return false
        }
        if over { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let (continuation, result): (CheckedContinuation<Data, any Error>?, Result<Data, any Error>) = lock.withLock {
            defer { self.continuation = nil }
            if let failure { return (self.continuation, .failure(failure)) }
            if let error { return (self.continuation, .failure(HTTPFetcher.FetchError.transport("\(error.localizedDescription)"))) }
            return (self.continuation, .success(body))
        }
        continuation?.resume(with: result)
    }
}
