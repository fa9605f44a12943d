import Synchronization

/// The Prometheus text format (version 0.0.4) of the broker's figures, written at scrape time
/// from what the shards already publish (`ShardStats`: plain counters on each shard's thread,
/// copied out once per tick), the store and the cluster link.
///
/// Written by hand rather than with swift-metrics/swift-prometheus: their counters are shared
/// objects incremented where the event happens (an atomic or a lock per increment on the hot
/// path), while a shard's counters here are its own integers, summed only when scraped.
public enum MetricsExposition {
    public static func render(_ context: BrokerContext) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: Int)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples {
                out += sample.labels.isEmpty ? "\(name) \(sample.value)\n" : "\(name){\(sample.labels)} \(sample.value)\n"
            }
        }
        func histogram(_ name: String, _ help: String, _ histogram: LatencyHistogram) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
            var cumulative = 0
            for (index, bound) in LatencyHistogram.bounds.enumerated() {
                cumulative += histogram.counts[index]
                out += "\(name)_bucket{le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "\(name)_bucket{le=\"+Inf\"} \(histogram.count)\n"
            out += "\(name)_sum \(histogram.sumSeconds)\n\(name)_count \(histogram.count)\n"
        }
        /// A gauge per shard kept in microseconds, exposed in seconds (Prometheus' base unit).
        func secondsPerShard(_ name: String, _ help: String, _ microseconds: (ShardStats) -> Int) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for (shard, stats) in context.stats.enumerated() {
                out += "\(name){shard=\"\(shard)\"} \(Double(microseconds(stats)) / 1e6)\n"
            }
        }
        func perShard(_ field: (ShardStats) -> Int) -> [(labels: String, value: Int)] {
            context.stats.enumerated().map { (labels: "shard=\"\($0.offset)\"", value: field($0.element)) }
        }
        family("mqtt_messages_received_total", "counter", "PUBLISH packets routed (from clients, wills, Kafka, other nodes).",
               perShard { $0.messagesReceived.load(ordering: .relaxed) })
        family("mqtt_messages_sent_total", "counter", "PUBLISH packets sent to clients.",
               perShard { $0.messagesSent.load(ordering: .relaxed) })
        family("mqtt_messages_dropped_total", "counter", "Messages dropped (queue full, QoS 0 backlog, no member could take them).",
               perShard { $0.messagesDropped.load(ordering: .relaxed) })
        func byQoS(_ field: (ShardStats) -> [StatCounter]) -> [(labels: String, value: Int)] {
            context.stats.enumerated().flatMap { shard, stats in
                field(stats).enumerated().map { qos, counter in
                    (labels: "shard=\"\(shard)\",qos=\"\(qos)\"", value: counter.value.load(ordering: .relaxed))
                }
            }
        }
        func summed(_ field: (ShardStats) -> Int) -> Int { context.stats.reduce(0) { $0 + field($1) } }
        family("mqtt_publish_received_total", "counter", "Messages routed, by QoS as published.",
               byQoS { $0.receivedByQoS })
        family("mqtt_publish_sent_total", "counter", "PUBLISH packets sent to clients, by the QoS they went out with.",
               byQoS { $0.sentByQoS })
        let expired = summed { $0.messagesExpired.load(ordering: .relaxed) }
        let tooLarge = summed { $0.messagesTooLarge.load(ordering: .relaxed) }
        let queueFull = summed { $0.droppedQueueFull.load(ordering: .relaxed) }
        let backlog = summed { $0.droppedBacklog.load(ordering: .relaxed) }
        let notAuthorized = summed { $0.droppedNotAuthorized.load(ordering: .relaxed) }
        let noMember = summed { $0.droppedNoMember.load(ordering: .relaxed) }
        let dropped = summed { $0.messagesDropped.load(ordering: .relaxed) }
        family("mqtt_messages_dropped_by_reason_total", "counter",
               "Messages dropped, by reason: a session queue full, a QoS 0 backlog over 4 MiB, expired, over the client's maximum packet size, no longer allowed to the client, no shared member, other.", [
                (labels: "reason=\"queue_full\"", value: queueFull), (labels: "reason=\"qos0_backlog\"", value: backlog),
                (labels: "reason=\"expired\"", value: expired), (labels: "reason=\"too_large\"", value: tooLarge),
                (labels: "reason=\"not_authorized\"", value: notAuthorized), (labels: "reason=\"no_member\"", value: noMember),
                (labels: "reason=\"other\"", value: max(0, dropped - queueFull - backlog - expired - tooLarge - notAuthorized - noMember)),
               ])
        family("mqtt_disconnects_total", "counter", "Connected clients' connections that ended, by reason.",
               DisconnectCategory.allCases.enumerated().map { index, category in
                   (labels: "reason=\"\(category.rawValue)\"", value: summed { $0.disconnects[index].value.load(ordering: .relaxed) })
               })
        family("mqtt_bytes_received_total", "counter", "Bytes read from client sockets.",
               perShard { $0.bytesReceived.load(ordering: .relaxed) })
        family("mqtt_bytes_sent_total", "counter", "Bytes written to client sockets.",
               perShard { $0.bytesSent.load(ordering: .relaxed) })
        family("mqtt_connections_accepted_total", "counter", "TCP connections accepted.",
               perShard { $0.connectionsAccepted.load(ordering: .relaxed) })
        family("mqtt_protocol_errors_total", "counter", "Connections closed for a protocol violation.",
               perShard { $0.protocolErrors.load(ordering: .relaxed) })
        family("mqtt_publishes_denied_total", "counter", "PUBLISH packets the ACL refused.",
               perShard { $0.publishesDenied.load(ordering: .relaxed) })
        family("mqtt_subscriptions_denied_total", "counter", "SUBSCRIBE filters the ACL refused.",
               perShard { $0.subscriptionsDenied.load(ordering: .relaxed) })
        family("mqtt_authentication_failures_total", "counter", "CONNECTs the authenticator refused.",
               perShard { $0.authenticationFailures.load(ordering: .relaxed) })
        family("mqtt_bridge_failures_total", "counter", "QoS 1/2 publishes the Kafka bridge gave up on.",
               perShard { $0.bridgeFailures.load(ordering: .relaxed) })
        family("mqtt_store_failures_total", "counter", "Packets whose MongoDB (or cluster bus) writes were refused for good.",
               perShard { $0.storeFailures.load(ordering: .relaxed) })
        family("mqtt_clients_connected", "gauge", "Connected clients.",
               perShard { $0.clientsConnected.load(ordering: .relaxed) })
        family("mqtt_clients_connected_mqtt5", "gauge", "Connected clients speaking MQTT 5.",
               perShard { $0.clientsConnectedV5.load(ordering: .relaxed) })
        family("mqtt_messages_expired_total", "counter", "MQTT 5 messages not delivered: their expiry interval passed.",
               perShard { $0.messagesExpired.load(ordering: .relaxed) })
        family("mqtt_messages_too_large_total", "counter", "Messages not sent: larger than the client's Maximum Packet Size.",
               perShard { $0.messagesTooLarge.load(ordering: .relaxed) })
        secondsPerShard("mqtt_loop_lag_seconds", "How late the shard's 500 ms timer fired last (its loop was busy).") {
            $0.loopLagMicroseconds.load(ordering: .relaxed)
        }
        secondsPerShard("mqtt_loop_lag_max_seconds", "The most the shard's timer was late in the last 5 s.") {
            $0.loopLagMaxMicroseconds.load(ordering: .relaxed)
        }
        family("mqtt_ring_entries", "gauge", "Posts from other shards waiting in the rings towards this shard.",
               perShard { $0.ringEntries.load(ordering: .relaxed) })
        family("mqtt_overflow_entries", "gauge", "This shard's posts waiting for room in a full ring.",
               perShard { $0.overflowEntries.load(ordering: .relaxed) })
        family("mqtt_connections", "gauge", "Open client connections (connected or still in CONNECT), by listener.",
               context.listeners.enumerated().map { index, listener in
                   (labels: "listener=\"\(listener.name)\",transport=\"\(listener.transport)\"",
                    value: summed { $0.openConnectionsByListener[index].value.load(ordering: .relaxed) })
               })
        family("mqtt_sessions", "gauge", "Sessions held (connected and offline persistent ones).",
               perShard { $0.sessions.load(ordering: .relaxed) })
        family("mqtt_sessions_offline", "gauge", "Of mqtt_sessions, the persistent ones waiting for their client.",
               perShard { $0.offlineSessions.load(ordering: .relaxed) })
        family("mqtt_queued_messages", "gauge", "Messages waiting in sessions' queues (offline, or behind a full in-flight window).",
               perShard { $0.queuedMessages.load(ordering: .relaxed) })
        family("mqtt_inflight_messages", "gauge", "QoS 1/2 messages sent to clients and not yet acknowledged.",
               perShard { $0.inflightMessages.load(ordering: .relaxed) })
        family("mqtt_outbound_bytes", "gauge", "Bytes encoded for clients and not yet handed to their sockets.",
               perShard { $0.outboundBytes.load(ordering: .relaxed) })
        family("mqtt_subscriptions", "gauge", "Subscriptions held (shared memberships included).",
               perShard { $0.subscriptions.load(ordering: .relaxed) })
        family("mqtt_shared_subscription_members", "gauge", "Memberships of shared subscription groups.",
               perShard { $0.sharedMembers.load(ordering: .relaxed) })
        family("mqtt_retained_messages", "gauge", "Retained messages (every shard keeps the same replica; shard 0's).",
               [(labels: "", value: context.stats[0].retainedMessages.load(ordering: .relaxed))])
        if let store = context.store {
            family("mqtt_store_available", "gauge", "1 while MongoDB takes the store's writes.",
                   [(labels: "", value: store.isAvailable ? 1 : 0)])
            family("mqtt_store_loaded", "gauge", "1 once what MongoDB kept is loaded.",
                   [(labels: "", value: context.storeLoaded.load(ordering: .relaxed) ? 1 : 0)])
            let figures = store.statistics
            family("mqtt_store_writes_total", "counter", "Session, queue and retained-message writes MongoDB applied.",
                   [(labels: "", value: figures.applied)])
            family("mqtt_store_pending_writes", "gauge", "Writes handed to the store's writers and not yet applied.",
                   [(labels: "", value: figures.pending)])
            histogram("mqtt_store_batch_seconds", "Applying one batch of writes to MongoDB, retries included.", figures.batchLatency)
        }
        if let authenticator = context.authenticator {
            let figures = authenticator.statistics
            var verdicts: [(labels: String, value: Int)] = []
            for method in AuthStatistics.Method.allCases {
                verdicts.append((labels: "method=\"\(method.rawValue)\",outcome=\"allowed\"", value: figures.allowed[method] ?? 0))
                verdicts.append((labels: "method=\"\(method.rawValue)\",outcome=\"denied\"", value: figures.denied[method] ?? 0))
            }
            family("mqtt_authentications_total", "counter", "Authentication verdicts by method (password, token, anonymous).", verdicts)
            histogram("mqtt_authentication_seconds", "From a CONNECT's credentials to the authenticator's verdict.", figures.latency)
            family("mqtt_jwks_fetches_total", "counter", "Fetches of the OpenID provider's key set, by outcome.", [
                (labels: "outcome=\"ok\"", value: figures.jwksFetches - figures.jwksFailures),
                (labels: "outcome=\"failed\"", value: figures.jwksFailures),
            ])
        }
        if let bridge = context.bridge {
            family("mqtt_bridge_available", "gauge", "1 while a Kafka broker answers the bridge's metadata requests.",
                   [(labels: "", value: bridge.isAvailable ? 1 : 0)])
            let figures = bridge.statistics
            family("mqtt_bridge_records_delivered_total", "counter", "Records Kafka acknowledged (publishes and events).",
                   [(labels: "", value: figures.delivered)])
            family("mqtt_bridge_records_failed_total", "counter", "Records librdkafka gave up on.",
                   [(labels: "", value: figures.failed)])
            family("mqtt_bridge_records_pending", "gauge", "What librdkafka still holds: records not yet acknowledged or given up on (and requests in flight).",
                   [(labels: "", value: figures.pending)])
            histogram("mqtt_bridge_delivery_seconds", "From producing a record to Kafka's acknowledgement.", figures.deliveryLatency)
        }
        if let cluster = context.cluster {
            let figures = cluster.statistics
            family("mqtt_cluster_nodes", "gauge", "Cluster nodes alive, this one included.", [(labels: "", value: figures.nodesAlive)])
            family("mqtt_cluster_available", "gauge", "1 while the cluster link reaches MongoDB.",
                   [(labels: "", value: figures.available ? 1 : 0)])
            family("mqtt_cluster_routes", "gauge", "Other nodes' filters known here.", [(labels: "", value: figures.remoteRoutes)])
            family("mqtt_cluster_forwarded_total", "counter", "Publishes put on the bus for other nodes.",
                   perShard { $0.clusterForwarded.load(ordering: .relaxed) })
            family("mqtt_cluster_received_total", "counter", "Publishes routed from other nodes.",
                   perShard { $0.clusterReceived.load(ordering: .relaxed) })
            family("mqtt_cluster_bus_gaps_total", "counter", "Bus messages from other nodes that never arrived.",
                   [(labels: "", value: figures.busGaps)])
            family("mqtt_cluster_bus_duplicates_total", "counter", "Bus messages received twice (dropped).",
                   [(labels: "", value: figures.busDuplicates)])
            family("mqtt_cluster_bus_dropped_total", "counter", "Unwaited messages dropped while the bus was too far behind.",
                   [(labels: "", value: figures.busDropped)])
            family("mqtt_cluster_bus_pending", "gauge", "Bus messages waiting to be written.", [(labels: "", value: figures.busPending)])
            family("mqtt_cluster_bus_lag_milliseconds", "gauge", "Age of the last bus message read when it arrived.",
                   [(labels: "", value: figures.busLagMilliseconds)])
        }
        return out
    }

    /// What stops this process from taking traffic (empty: ready): the store not loaded or
    /// unreachable, the cluster link down, Kafka unreachable when the bridge is configured.
    public static func notReady(_ context: BrokerContext) -> [String] {
        var reasons: [String] = []
        if context.store != nil && !context.storeLoaded.load(ordering: .relaxed) { reasons.append("store not loaded") }
        if let store = context.store, !store.isAvailable { reasons.append("MongoDB unreachable") }
        if let cluster = context.cluster, !cluster.statistics.available { reasons.append("cluster link down") }
        if let bridge = context.bridge, !bridge.isAvailable { reasons.append("Kafka unreachable") }
        return reasons
    }
}
