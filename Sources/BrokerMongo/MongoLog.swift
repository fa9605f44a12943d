import CMongoC
import Logging

/// libmongoc's own log lines (warnings about topology changes, TLS, authentication) go to the
/// broker's log, under the `mongoc` label with libmongoc's domain, once a store exists. Before
/// that (checking a connection string) they stay off: what they would say comes back in the
/// error that is reported.
enum MongoLog {
    /// Routes libmongoc's log to `logger` for the rest of the process (the handler and the
    /// logger it holds are never released).
    static func route(to logger: Logger) {
        MongoLibrary.initialize()
        let box = Unmanaged.passRetained(LoggerBox(logger)).toOpaque()
        mongoc_log_set_handler(mongoLogHandler, box)
    }

    final class LoggerBox {
        let logger: Logger
        init(_ logger: Logger) { self.logger = logger }
    }

    static func level(_ level: mongoc_log_level_t) -> Logger.Level? {
        switch level {
        case MONGOC_LOG_LEVEL_ERROR, MONGOC_LOG_LEVEL_CRITICAL: .error
        case MONGOC_LOG_LEVEL_WARNING: .warning
        case MONGOC_LOG_LEVEL_MESSAGE, MONGOC_LOG_LEVEL_INFO: .info
        case MONGOC_LOG_LEVEL_DEBUG: .debug
        default: nil  // trace: per-call noise
        }
    }
}

let mongoLogHandler: @convention(c) (mongoc_log_level_t, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    level, domain, message, context in
    guard let context, let message, let swiftLevel = MongoLog.level(level) else { return }
    let logger = Unmanaged<MongoLog.LoggerBox>.fromOpaque(context).takeUnretainedValue().logger
    logger.log(level: swiftLevel, "libmongoc: \(String(cString: message))", metadata: [
        "domain": "\(domain.map { String(cString: $0) } ?? "")",
    ])
}
