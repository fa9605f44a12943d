/// Where sessions, retained messages and queued messages are kept.
package enum PersistenceSettings: Sendable, Equatable {
    /// In process memory; lost on restart.
    case memory
    /// In MongoDB at `url`, in the database named `database`.
    case mongodb(url: String, database: String)
}
