import BrokerAuth
import BrokerConfig
import BrokerCore
import Foundation
import Logging

/// Turns the configuration's auth sections into BrokerAuth's policy, and reloads it on SIGHUP.
enum AuthWiring {
    /// Nil when nothing about authentication is configured: the broker then accepts clients as
    /// `allow_anonymous` says, with no ACL, exactly as without this module.
    static func makeAuthenticator(_ settings: BrokerConfiguration, logger: Logger) -> BrokerAuthenticator? {
        guard isConfigured(settings) else { return nil }
        return BrokerAuthenticator(policy: policy(settings), logger: logger)
    }

    static func isConfigured(_ settings: BrokerConfiguration) -> Bool {
        !settings.auth.internalUsers.isEmpty || settings.auth.openID != nil || !settings.acl.isEmpty
    }

    static func policy(_ settings: BrokerConfiguration) -> AuthPolicy {
        AuthPolicy(
            users: settings.auth.internalUsers.map {
                AuthPolicy.User(username: $0.username, passwordHash: $0.passwordHash, roles: $0.roles)
            },
            rules: settings.acl.map { AuthPolicy.Rule(role: $0.role, publish: $0.publish, subscribe: $0.subscribe) },
            openID: settings.auth.openID.map {
                OpenIDPolicy(
                    jwksURL: $0.jwksURL, issuer: $0.issuer, audience: $0.audience, rolesKey: $0.rolesKey,
                    subjectKey: $0.subjectKey, algorithms: Set($0.algorithms.map(\.rawValue)),
                    leewaySeconds: $0.leewaySeconds, jwksRefreshSeconds: $0.jwksRefreshSeconds, tokenType: $0.tokenType)
            },
            allowAnonymous: settings.core.allowAnonymous)
    }

    /// Reads the configuration again and swaps users, ACL and OpenID settings; a file that no
    /// longer validates leaves everything as it was.
    static func reload(_ authenticator: BrokerAuthenticator, path: String?, overrides: ConfigOverrides, logger: Logger) {
        do {
            let settings = try ConfigLoader.load(
                path: path, environment: ProcessInfo.processInfo.environment, overrides: overrides)
            authenticator.reload(policy(settings))
        } catch {
            logger.error("reload failed, keeping the current users and ACL: \(error)")
        }
    }
}
