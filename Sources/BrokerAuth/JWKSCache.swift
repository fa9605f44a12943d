import BrokerCore
import Foundation
import JWTKit
import Logging

/// A verified-usable set of signing keys, as fetched once.
struct KeySet: Sendable {
    let collection: JWTKeyCollection
    let kids: Set<String>
}

/// The provider's signing keys: fetched at start, refreshed on a timer and when a token names
/// an unknown `kid` (at most once per `minimumInterval`), one fetch at a time; a failed fetch
/// keeps the last good set. Keys come only from the configured address (or the issuer's
/// discovery document), never from anything a token says (`jku`, `x5u`, `kid`).
actor JWKSCache {
    private let policy: OpenIDPolicy
    private let fetcher: HTTPFetcher
    private let logger: Logger
    private let counters: AuthCounters?
    private(set) var keySet: KeySet?
    private var lastAttempt: ContinuousClock.Instant?
    private var inflight: Task<Void, Never>?
    private var timer: Task<Void, Never>?
    private var discoveredURL: String?
    let minimumInterval: Duration

    init(
        policy: OpenIDPolicy, fetcher: HTTPFetcher, logger: Logger, counters: AuthCounters? = nil,
        minimumInterval: Duration = .seconds(10)
    ) {
        self.counters = counters
        self.policy = policy
        self.fetcher = fetcher
        self.logger = logger
        self.minimumInterval = minimumInterval
    }

    /// Starts the first fetch and the refresh timer; returns at once (the broker starts even
    /// when the provider is down).
    func start() {
        _ = refreshNow()
        let interval = Duration.seconds(max(1, policy.jwksRefreshSeconds))
        timer = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self, !Task.isCancelled else { return }
                await self.refresh(force: true)
            }
        }
    }

    func stop() {
        timer?.cancel()
        timer = nil
    }

    /// The key set holding `kid` (or its only key when the token names none), after at most
    /// one rate-limited refresh: a provider that rotated its keys is asked again, a token
    /// naming keys nobody has is not a way to make the broker fetch on every CONNECT.
    func keySet(holding kid: String?) async -> KeySet? {
        func holds(_ set: KeySet?) -> Bool {
            guard let set else { return false }
            if let kid { return set.kids.contains(kid) }
            return set.kids.count == 1
        }
        if holds(keySet) { return keySet }
        await refresh(force: false)
        return holds(keySet) ? keySet : nil
    }

    /// Fetches again unless one fetch is running (then waits for it) or, unless `force`, the
    /// last attempt was less than `minimumInterval` ago.
    func refresh(force: Bool) async {
        if let inflight {
            await inflight.value
            return
        }
        if !force, let lastAttempt, ContinuousClock.now - lastAttempt < minimumInterval { return }
        await refreshNow().value
    }

    private func refreshNow() -> Task<Void, Never> {
        if let inflight { return inflight }
        lastAttempt = .now
        let task = Task { await self.fetchAndInstall() }
        inflight = task
        return task
    }

    private func fetchAndInstall() async {
        defer { inflight = nil }
        do {
            let url = try await jwksAddress()
            let body = try await fetcher.get(url)
            let set = try await Self.makeKeySet(jwks: body, algorithms: policy.algorithms)
            keySet = set
            counters?.recordJWKSFetch(succeeded: true)
            logger.info("JWKS loaded", metadata: ["url": "\(url)", "keys": "\(set.kids.sorted().joined(separator: ","))"])
        } catch {
            counters?.recordJWKSFetch(succeeded: false)
            logger.error("JWKS fetch failed; keeping the previous keys", metadata: [
                "error": "\(error)", "have_keys": "\(keySet != nil)",
            ])
        }
    }

    /// Installs a key set directly (tests, and keys known without a fetch).
    func install(jwks: Data) async throws {
        keySet = try await Self.makeKeySet(jwks: jwks, algorithms: policy.algorithms)
    }

    private func jwksAddress() async throws -> String {
        if let url = policy.jwksURL { return url }
        if let discoveredURL { return discoveredURL }
        guard let issuer = policy.issuer else { throw JWKSError.noAddress }
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        let document = try await fetcher.get(base + "/.well-known/openid-configuration")
        guard let object = try JSONSerialization.jsonObject(with: document) as? [String: Any],
              let url = object["jwks_uri"] as? String, url.hasPrefix("http://") || url.hasPrefix("https://")
        else { throw JWKSError.badDiscoveryDocument }
        discoveredURL = url
        return url
    }

    /// Keeps the signature keys usable with the allowed algorithms (skips encryption keys,
    /// symmetric keys and keys without `kid`), each added on its own so one odd key does not
    /// spoil the set. Throws when nothing usable remains.
    static func makeKeySet(jwks: Data, algorithms: Set<String>) async throws -> KeySet {
        guard let object = try? JSONSerialization.jsonObject(with: jwks) as? [String: Any],
              let keys = object["keys"] as? [[String: Any]]
        else { throw JWKSError.notAJWKS }
        let collection = JWTKeyCollection()
        var kids = Set<String>()
        for key in keys {
            guard let kid = key["kid"] as? String, !kid.isEmpty,
                  let kty = key["kty"] as? String, ["RSA", "EC", "OKP"].contains(kty)
            else { continue }
            if let use = key["use"] as? String, use != "sig" { continue }
            if let alg = key["alg"] as? String, !algorithms.contains(alg) { continue }
            guard let data = try? JSONSerialization.data(withJSONObject: key),
                  let jwk = try? JSONDecoder().decode(JWK.self, from: data),
                  (try? await collection.add(jwk: jwk)) != nil
            else { continue }
            kids.insert(kid)
        }
        guard !kids.isEmpty else { throw JWKSError.noUsableKeys }
        return KeySet(collection: collection, kids: kids)
    }
}

enum JWKSError: Error, CustomStringConvertible {
    case noAddress, badDiscoveryDocument, notAJWKS, noUsableKeys

    var description: String {
        switch self {
        case .noAddress: "neither jwks_url nor issuer is configured"
        case .badDiscoveryDocument: "the discovery document has no usable jwks_uri"
        case .notAJWKS: "the response is not a JWKS"
        case .noUsableKeys: "the JWKS has no usable signing key"
        }
    }
}
