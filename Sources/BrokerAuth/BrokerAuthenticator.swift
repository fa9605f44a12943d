import BrokerCore
import Dispatch
import Foundation
import Logging
import MQTTWire
import Synchronization

/// The broker's `Authenticator`: internal users (bcrypt), OAuth2 access tokens (username
/// `oauth2`, JWT password) and anonymous clients, with the ACL compiled into the verdict.
///
/// `authenticate` returns at once; bcrypt runs on a concurrent Dispatch queue and token
/// checks in a Swift task, never on a shard thread. `reload` swaps users, rules and the
/// OpenID settings (SIGHUP); connections already open keep the permissions they got.
package final class BrokerAuthenticator: Authenticator {
    private struct State: Sendable {
        let policy: AuthPolicy
        let users: UserDirectory
        let tokens: TokenVerifier?
    }

    private let state: Mutex<State>
    private let fetcher: HTTPFetcher
    private let logger: Logger
    private let clock: @Sendable () -> Int
    private let queue = DispatchQueue(label: "mqtt-broker.auth", qos: .userInitiated, attributes: .concurrent)
    /// Verdicts by method, their latency, JWKS fetches (kept across reloads).
    private let counters = AuthCounters()
    /// Longer passwords are refused before any work (a JWT is a few KiB; bcrypt reads 72 bytes).
    static let maxPasswordBytes = 16 * 1024

    package init(
        policy: AuthPolicy, fetcher: HTTPFetcher = HTTPFetcher(), logger: Logger,
        clock: @escaping @Sendable () -> Int = { Int(Date().timeIntervalSince1970) }
    ) {
        self.fetcher = fetcher
        self.logger = logger
        self.clock = clock
        self.state = Mutex(Self.makeState(policy, fetcher: fetcher, logger: logger, counters: counters))
    }

    package var statistics: AuthStatistics { counters.snapshot }

    private static func makeState(_ policy: AuthPolicy, fetcher: HTTPFetcher, logger: Logger, counters: AuthCounters) -> State {
        let tokens = policy.openID.map {
            TokenVerifier(policy: $0, keys: JWKSCache(policy: $0, fetcher: fetcher, logger: logger, counters: counters))
        }
        return State(policy: policy, users: UserDirectory(users: policy.users), tokens: tokens)
    }

    /// Fetches the JWKS and starts its refresh timer (returns at once).
    package func start() {
        guard let keys = state.withLock({ $0.tokens?.keys }) else { return }
        Task { await keys.start() }
    }

    /// Replaces users, ACL rules and OpenID settings, and fetches the JWKS again.
    package func reload(_ policy: AuthPolicy) {
        let fresh = Self.makeState(policy, fetcher: fetcher, logger: logger, counters: counters)
        let old = state.withLock { state in
            defer { state = fresh }
            return state
        }
        if let keys = old.tokens?.keys { Task { await keys.stop() } }
        start()
        logger.info("authentication reloaded", metadata: [
            "users": "\(policy.users.count)", "acl_rules": "\(policy.rules.count)", "openid": "\(policy.openID != nil)",
        ])
    }

    package func authenticate(_ credentials: Credentials, completion: @escaping @Sendable (AuthDecision) -> Void) {
        let method: AuthStatistics.Method = credentials.username == nil
            ? .anonymous : credentials.username == AuthPolicy.tokenUsername ? .token : .password
        let started = DispatchTime.now().uptimeNanoseconds
        let counters = self.counters
        decide(credentials) { decision in
            if case .allow = decision {
                counters.record(method, allowed: true, nanoseconds: DispatchTime.now().uptimeNanoseconds &- started)
            } else {
                counters.record(method, allowed: false, nanoseconds: DispatchTime.now().uptimeNanoseconds &- started)
            }
            completion(decision)
        }
    }

    private func decide(_ credentials: Credentials, completion: @escaping @Sendable (AuthDecision) -> Void) {
        let state = self.state.withLock { $0 }
        let policy = state.policy
        guard let username = credentials.username else {
            guard policy.allowAnonymous else {
                completion(.deny(.notAuthorized, reason: "anonymous clients not allowed"))
                return
            }
            let permissions = ACLCompiler.permissions(rules: policy.rules, roles: [AuthPolicy.anonymousRole], subject: nil)
            completion(.allow(Identity(subject: nil, roles: [AuthPolicy.anonymousRole], permissions: permissions)))
            return
        }
        let password = credentials.password ?? []
        guard !password.isEmpty else {
            completion(.deny(.badUsernameOrPassword, reason: "no password"))
            return
        }
        guard password.count <= Self.maxPasswordBytes else {
            completion(.deny(.badUsernameOrPassword, reason: "password longer than \(Self.maxPasswordBytes) bytes"))
            return
        }
        if username == AuthPolicy.tokenUsername, let tokens = state.tokens {
            let now = clock()
            Task {
                switch await tokens.verify(password, now: now) {
                case .success(let token):
                    let permissions = ACLCompiler.permissions(rules: policy.rules, roles: token.roles, subject: token.subject)
                    completion(.allow(Identity(
                        subject: token.subject, roles: token.roles,
                        expiresAt: token.expiresAt + tokens.policy.leewaySeconds, permissions: permissions,
                        viaToken: true)))
                case .failure(let error):
                    completion(.deny(.badUsernameOrPassword, reason: "token refused: \(error)"))
                }
            }
            return
        }
        queue.async {
            guard let user = state.users.verify(username: username, password: password) else {
                completion(.deny(.badUsernameOrPassword, reason: "bad username or password"))
                return
            }
            let permissions = ACLCompiler.permissions(rules: policy.rules, roles: user.roles, subject: user.username)
            completion(.allow(Identity(subject: user.username, roles: user.roles, permissions: permissions)))
        }
    }
}
