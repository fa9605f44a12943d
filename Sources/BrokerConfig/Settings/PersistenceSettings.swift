import BrokerMongo

/// Where sessions, retained messages and queued messages are kept.
package enum PersistenceSettings: Sendable, Equatable {
    /// In process memory; lost on restart.
    case memory
    /// In MongoDB (`persistence.url`, `database`, `durability`, `flush_interval_ms`, `writers`).
    case mongodb(MongoStoreSettings)
}
