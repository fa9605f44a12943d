import Logging
import MQTTWire

extension ShardEngine {
    /// An inbound PUBLISH that matches the bridge's rules: hand it over, route it to MQTT when
    /// the rules say so, and acknowledge QoS 1/2 only once the bridge has it (when it waits) and
    /// the store has what routing wrote (when it waits).
    func publishThroughBridge(
        _ publish: Publish, topic: String, match: BridgeMatch, bridge: any PublishBridge,
        session: Session, on connection: ClientConnection
    ) {
        if publish.qos == .exactlyOnce && answeredAsQoS2Resend(publish.packetId!, of: session, on: connection) { return }
        let message = makeMessage(publish, topic: topic, from: connection)
        let client = bridgeClient(for: connection)
        let storeWaits = publish.qos != .atMostOnce && self.storeWaits
        guard publish.qos != .atMostOnce, match.awaitsAcknowledgement || storeWaits else {
            bridge.forward(message, match: match, from: client, completion: nil)
            if match.alsoMQTT { route(message) }
            if let packetId = publish.packetId {
                if publish.qos == .exactlyOnce {
                    session.inboundQoS2.insert(packetId)
                    recordInboundQoS2(packetId, of: session)
                }
                acknowledge(publish.qos == .atLeastOnce ? .puback : .pubrec, packetId: packetId, on: connection)
            }
            return
        }
        let ticket = holdAcknowledgement(
            publish.qos == .atLeastOnce ? .puback : .pubrec, packetId: publish.packetId!, on: connection)
        if match.awaitsAcknowledgement {
            ticket.retain()
            bridge.forward(message, match: match, from: client) { delivered in
                ticket.release(failed: delivered ? [] : .bridge)
            }
        } else {
            bridge.forward(message, match: match, from: client, completion: nil)
        }
        routingAck = storeWaits ? .ticket(ticket) : nil
        if match.alsoMQTT { route(message) }
        if publish.qos == .exactlyOnce { recordInboundQoS2(publish.packetId!, of: session) }
        routingAck = nil
        releaseOwnerHold(ticket)
    }

    func bridgeClient(for connection: ClientConnection) -> BridgeClient {
        BridgeClient(
            clientId: connection.clientId, subject: connection.identity?.subject,
            tokenAuthenticated: connection.identity?.viaToken ?? false, peer: connection.peer)
    }
}
