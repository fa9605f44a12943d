import Synchronization
import MQTTWire
extension ShardEngine {
    /// Shard 0 publishes the broker's `$SYS` topics (retained, like Mosquitto) every
    /// `sys_interval_seconds`, summing every shard's published statistics.
    func publishSysTopicsIfDue(now: UInt64) {
        let interval = UInt64(context.settings.sysIntervalSeconds) * 1000
        guard interval > 0, lastSysPublish == 0 || now &- lastSysPublish >= interval else { return }
        lastSysPublish = now
        for (topic, value) in sysTopicValues() {
            route(Message(topic: topic, payload: Array(value.utf8), qos: .atMostOnce, retain: true))
        }
    }

    /// The `$SYS` topics and their current values, named as Mosquitto names them.
    func sysTopicValues() -> [(String, String)] {
        func sum(_ field: (ShardStats) -> Int) -> String { String(context.stats.reduce(0) { $0 + field($1) }) }
        let uptime = max(0, environment.wallClockSeconds - context.startedAt)
        return [
            ("$SYS/broker/version", "mqtt-broker version \(BrokerContext.version)"),
            ("$SYS/broker/uptime", "\(uptime) seconds"),
            ("$SYS/broker/clients/connected", sum { $0.clientsConnected.load(ordering: .relaxed) }),
            ("$SYS/broker/clients/total", sum { $0.sessions.load(ordering: .relaxed) }),
            ("$SYS/broker/messages/received", sum { $0.messagesReceived.load(ordering: .relaxed) }),
            ("$SYS/broker/messages/sent", sum { $0.messagesSent.load(ordering: .relaxed) }),
            ("$SYS/broker/publish/messages/dropped", sum { $0.messagesDropped.load(ordering: .relaxed) }),
            ("$SYS/broker/bytes/received", sum { $0.bytesReceived.load(ordering: .relaxed) }),
            ("$SYS/broker/bytes/sent", sum { $0.bytesSent.load(ordering: .relaxed) }),
            ("$SYS/broker/subscriptions/count", sum { $0.subscriptions.load(ordering: .relaxed) }),
            // Not in Mosquitto: what the ACL, the authenticator and the bridge refused.
            ("$SYS/broker/publish/messages/denied", sum { $0.publishesDenied.load(ordering: .relaxed) }),
            ("$SYS/broker/subscriptions/denied", sum { $0.subscriptionsDenied.load(ordering: .relaxed) }),
            ("$SYS/broker/authentication/failures", sum { $0.authenticationFailures.load(ordering: .relaxed) }),
            ("$SYS/broker/bridge/failures", sum { $0.bridgeFailures.load(ordering: .relaxed) }),
            ("$SYS/broker/retained messages/count", String(context.stats[shardIndex].retainedMessages.load(ordering: .relaxed))),
            // Not in Mosquitto: shared subscription groups (every shard knows every group) and
            // their members.
            ("$SYS/broker/shared_subscriptions/groups", String(context.stats[shardIndex].sharedGroups.load(ordering: .relaxed))),
            ("$SYS/broker/shared_subscriptions/members", sum { $0.sharedMembers.load(ordering: .relaxed) }),
            // Not in Mosquitto: MQTT 5 clients, and messages MQTT 5 rules kept from a subscriber.
            ("$SYS/broker/clients/mqtt5", sum { $0.clientsConnectedV5.load(ordering: .relaxed) }),
            ("$SYS/broker/publish/messages/expired", sum { $0.messagesExpired.load(ordering: .relaxed) }),
            ("$SYS/broker/publish/messages/too_large", sum { $0.messagesTooLarge.load(ordering: .relaxed) }),
        ] + storeTopicValues(sum) + clusterTopicValues(sum)
    }

    /// With a cluster: this node's view of it (not in Mosquitto).
    private func clusterTopicValues(_ sum: ((ShardStats) -> Int) -> String) -> [(String, String)] {
        guard let cluster = context.cluster else { return [] }
        let figures = cluster.statistics
        return [
            ("$SYS/broker/cluster/nodes", String(figures.nodesAlive)),
            ("$SYS/broker/cluster/available", figures.available ? "1" : "0"),
            ("$SYS/broker/cluster/routes", String(figures.remoteRoutes)),
            ("$SYS/broker/cluster/messages/forwarded", sum { $0.clusterForwarded.load(ordering: .relaxed) }),
            ("$SYS/broker/cluster/messages/received", sum { $0.clusterReceived.load(ordering: .relaxed) }),
            ("$SYS/broker/cluster/bus/gaps", String(figures.busGaps)),
            ("$SYS/broker/cluster/bus/duplicates", String(figures.busDuplicates)),
            ("$SYS/broker/cluster/bus/pending", String(figures.busPending)),
            ("$SYS/broker/cluster/bus/dropped", String(figures.busDropped)),
            ("$SYS/broker/cluster/bus/lag_ms", String(figures.busLagMilliseconds)),
        ]
    }

    /// With a store: whether it is reachable and what it refused (not in Mosquitto).
    private func storeTopicValues(_ sum: ((ShardStats) -> Int) -> String) -> [(String, String)] {
        guard let store = context.store else { return [] }
        return [
            ("$SYS/broker/store/available", store.isAvailable ? "1" : "0"),
            ("$SYS/broker/store/loaded", context.storeLoaded.load(ordering: .relaxed) ? "1" : "0"),
            ("$SYS/broker/store/failures", sum { $0.storeFailures.load(ordering: .relaxed) }),
        ]
    }
}
