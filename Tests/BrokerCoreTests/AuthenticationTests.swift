import BrokerCore
import MQTTWire
import Synchronization
import Testing

/// An authenticator the test controls: it answers from a table of passwords, either at once
/// or only when the test releases the verdicts (to see what happens while one is pending).
final class FakeAuthenticator: Authenticator {
    var statistics: AuthStatistics { AuthStatistics() }
    struct Account {
        var password: String
        var identity: Identity
    }
    let accounts: [String: Account]
    let holdVerdicts: Bool
    private let held = Mutex<[@Sendable () -> Void]>([])
    let calls = Atomic<Int>(0)

    init(accounts: [String: Account], holdVerdicts: Bool = false) {
        self.accounts = accounts
        self.holdVerdicts = holdVerdicts
    }

    func authenticate(_ credentials: Credentials, completion: @escaping @Sendable (AuthDecision) -> Void) {
        calls.wrappingAdd(1, ordering: .relaxed)
        let decision: AuthDecision
        if let username = credentials.username, let account = accounts[username],
           credentials.password == Array(account.password.utf8) {
            decision = .allow(account.identity)
        } else if credentials.username == nil {
            decision = .deny(.notAuthorized, reason: "anonymous")
        } else {
            decision = .deny(.badUsernameOrPassword, reason: "bad password")
        }
        if holdVerdicts {
            held.withLock { $0.append { completion(decision) } }
        } else {
            completion(decision)
        }
    }

    /// Sends every held verdict.
    func release() {
        let pending = held.withLock { held in
            defer { held.removeAll() }
            return held
        }
        for verdict in pending { verdict() }
    }
}

func permissions(publish: [String], subscribe: [String]) -> Permissions {
    Permissions(publish: publish.compactMap { TopicFilter($0) }, subscribe: subscribe.compactMap { TopicFilter($0) })
}

@Suite struct AuthenticationTests {
    static let device = FakeAuthenticator.Account(
        password: "pw",
        identity: Identity(
            subject: "d1", roles: ["device"],
            permissions: permissions(publish: ["devices/d1/#"], subscribe: ["devices/d1/commands/#", "public/#"])))
    static let admin = FakeAuthenticator.Account(
        password: "root", identity: Identity(subject: "admin", roles: ["admin"], permissions: nil))

    func makeCluster(shards: Int = 1, hold: Bool = false, settings: CoreSettings = CoreSettings()) -> (TestCluster, FakeAuthenticator) {
        let authenticator = FakeAuthenticator(accounts: ["device": Self.device, "admin": Self.admin], holdVerdicts: hold)
        return (TestCluster(shards: shards, settings: settings, authenticator: authenticator), authenticator)
    }

    @Test func goodCredentialsGetConnack0() {
        let (cluster, _) = makeCluster()
        let client = cluster.connect("c", username: "device", password: "pw")
        #expect(client.take() == [.connack(sessionPresent: false, code: .accepted)])
        #expect(client.connection.identity?.subject == "d1")
    }

    @Test func badPasswordGetsConnack4AndAnonymousConnack5() {
        let (cluster, _) = makeCluster()
        let bad = cluster.connect("c", username: "device", password: "nope")
        #expect(bad.take() == [.connack(sessionPresent: false, code: .badUsernameOrPassword)])
        #expect(bad.isClosed)
        let anonymous = cluster.connect("a")
        #expect(anonymous.take() == [.connack(sessionPresent: false, code: .notAuthorized)])
        #expect(anonymous.isClosed)
        #expect(cluster.shards[0].engine.counters.authenticationFailures == 2)
    }

    @Test func packetsSentBeforeTheVerdictAreHeldThenHandledInOrder() {
        let (cluster, authenticator) = makeCluster(hold: true)
        let subscriber = cluster.connect("s", username: "admin", password: "root")
        authenticator.release()
        cluster.settle()
        subscriber.subscribe("#")
        _ = subscriber.take()

        let client = cluster.open()
        client.send(
            ConnectEncoder.encode(clientId: Array("c".utf8), username: Array("device".utf8), password: Array("pw".utf8))
                + SubscribeEncoder.encode(packetId: 7, filters: [(Array("devices/d1/commands/#".utf8), .atLeastOnce)])
                + PublishEncoder.encode(topic: Array("devices/d1/t".utf8), payload: Array("1".utf8), qos: .atLeastOnce, retain: false, dup: false, packetId: 3))
        cluster.settle()
        // Nothing is answered, routed or claimed before the verdict.
        #expect(client.take() == [])
        #expect(subscriber.take() == [])
        #expect(client.connection.state == .authenticating)
        #expect(cluster.context.registry.owner(of: "c") == nil)

        authenticator.release()
        cluster.settle()
        #expect(client.take() == [.connack(sessionPresent: false, code: .accepted), .suback(7, [.grantedQoS1]), .puback(3)])
        #expect(subscriber.take() == [.publish("devices/d1/t", "1")])
    }

    @Test func aClientClosedWhileAuthenticatingIsForgotten() {
        let (cluster, authenticator) = makeCluster(hold: true)
        let client = cluster.connect("c", username: "device", password: "pw")
        client.drop()
        authenticator.release()
        cluster.settle()
        #expect(cluster.context.registry.owner(of: "c") == nil)
        #expect(cluster.shards[0].engine.sessions.isEmpty)
    }

    @Test func heldPacketsWaitForATakeoverFromAnotherShardToo() {
        let (cluster, _) = makeCluster(shards: 2)
        let first = cluster.connect("c", shard: 0, clean: false, username: "device", password: "pw")
        first.subscribe("devices/d1/commands/#", qos: .atLeastOnce)
        _ = first.take()
        let second = cluster.open(shard: 1)
        second.send(
            ConnectEncoder.encode(cleanSession: false, clientId: Array("c".utf8), username: Array("device".utf8), password: Array("pw".utf8))
                + EmptyPacketEncoder.encode(.pingreq))
        cluster.settle()
        #expect(first.isClosed)
        #expect(second.take() == [.connack(sessionPresent: true, code: .accepted), .pingresp])
    }

    @Test func deniedPublishIsAcknowledgedDroppedAndCounted() {
        let (cluster, _) = makeCluster()
        let admin = cluster.connect("s", username: "admin", password: "root")
        admin.subscribe("#")
        _ = admin.take()
        let device = cluster.connect("c", username: "device", password: "pw")
        _ = device.take()
        device.publish("devices/d2/t", "x", qos: .atLeastOnce, id: 1)
        device.publish("devices/d2/t", "y", qos: .exactlyOnce, id: 2)
        device.publish("devices/d2/t", "z")
        device.publish("devices/d1/t", "ok")
        #expect(device.take() == [.puback(1), .pubrec(2)])
        #expect(admin.take() == [.publish("devices/d1/t", "ok")])
        #expect(cluster.shards[0].engine.counters.publishesDenied == 3)
        #expect(!device.isClosed)
    }

    @Test func deniedPublishClosesWhenConfigured() {
        var settings = CoreSettings()
        settings.disconnectOnDeniedPublish = true
        let (cluster, _) = makeCluster(settings: settings)
        let device = cluster.connect("c", username: "device", password: "pw")
        _ = device.take()
        device.publish("elsewhere", "x", qos: .atLeastOnce, id: 1)
        #expect(device.take() == [])
        #expect(device.isClosed)
    }

    @Test func deniedSubscribeFilterGets0x80() {
        let (cluster, _) = makeCluster()
        let device = cluster.connect("c", username: "device", password: "pw")
        _ = device.take()
        device.subscribe([("devices/d1/commands/+", .atLeastOnce), ("devices/d1/#", .atMostOnce), ("devices/+/commands/x", .atMostOnce), ("public/#", .atMostOnce)], id: 4)
        #expect(device.take() == [.suback(4, [.grantedQoS1, .failure, .failure, .grantedQoS0])])
        #expect(cluster.shards[0].engine.counters.subscriptionsDenied == 2)
    }

    @Test func unrestrictedIdentityHasNoChecks() {
        let (cluster, _) = makeCluster()
        let admin = cluster.connect("s", username: "admin", password: "root")
        _ = admin.take()
        admin.subscribe([("#", .atMostOnce), ("$SYS/#", .atMostOnce)], id: 2)
        #expect(admin.take() == [.suback(2, [.grantedQoS0, .grantedQoS0])])
    }

    @Test func willOnAForbiddenTopicIsRefused() {
        let (cluster, _) = makeCluster()
        let device = cluster.connect("c", will: ("elsewhere", "gone", .atMostOnce, false), username: "device", password: "pw")
        #expect(device.take() == [.connack(sessionPresent: false, code: .notAuthorized)])
    }

    @Test func retainedMessagesAreRecheckedOnDelivery() {
        let (cluster, _) = makeCluster()
        let admin = cluster.connect("a", username: "admin", password: "root")
        admin.publish("public/x", "yes", retain: true)
        admin.publish("$SYS-like/x", "no", retain: true)
        let device = cluster.connect("c", username: "device", password: "pw")
        _ = device.take()
        device.subscribe("public/#")
        #expect(device.take() == [.suback(1, [.grantedQoS0]), .publish("public/x", "yes", retain: true)])
    }

    @Test func queuedMessagesAndSubscriptionsAreRecheckedWhenTheSessionResumesUnderOtherRights() {
        // The same client id first logs in as admin (everything), queues messages while
        // offline, then comes back as the device: only what the device may receive arrives.
        let (cluster, _) = makeCluster()
        let first = cluster.connect("c", clean: false, username: "admin", password: "root")
        first.subscribe([("secret/#", .atLeastOnce), ("public/#", .atLeastOnce)])
        first.disconnect()
        let publisher = cluster.connect("p", username: "admin", password: "root")
        publisher.publish("secret/a", "s", qos: .atLeastOnce, id: 1)
        publisher.publish("public/a", "p", qos: .atLeastOnce, id: 2)
        let again = cluster.connect("c", clean: false, username: "device", password: "pw")
        #expect(again.take() == [.connack(sessionPresent: true, code: .accepted), .publish("public/a", "p", qos: .atLeastOnce, id: 1)])
        #expect(cluster.shards[0].engine.sessions["c"]?.subscriptions.keys.sorted() == ["public/#"])
        publisher.publish("secret/a", "s2")
        #expect(again.take() == [])
    }

    @Test func expiredCredentialsCloseTheConnection() {
        let expiring = FakeAuthenticator.Account(
            password: "t", identity: Identity(subject: "x", roles: [], expiresAt: 1_700_000_000 + 1 + 30))
        let cluster = TestCluster(authenticator: FakeAuthenticator(accounts: ["oauth2": expiring]))
        let client = cluster.connect("c", will: ("w", "bye", .atMostOnce, false), username: "oauth2", password: "t")
        #expect(client.take() == [.connack(sessionPresent: false, code: .accepted)])
        cluster.advance(seconds: 20)
        #expect(!client.isClosed)
        cluster.advance(seconds: 15)
        #expect(client.isClosed)
    }

    @Test func noAuthenticatorKeepsTodaysBehaviour() {
        let cluster = TestCluster()
        let client = cluster.connect("c", username: "anyone", password: "anything")
        #expect(client.take() == [.connack(sessionPresent: false, code: .accepted)])
        #expect(client.connection.permissions == nil)
    }
}
