@testable import BrokerAuth
import Crypto
import _CryptoExtras
import Foundation
import JWTKit
import Logging
import Testing

/// Claims for minting test tokens; nil fields are left out.
struct TestClaims: JWTPayload {
    var sub: String? = "device-1"
    var exp: Int? = 1_700_000_600
    var nbf: Int?
    var iat: Int? = 1_700_000_000
    var iss: String? = "https://issuer.test"
    var aud: [String]? = ["mqtt"]
    var typ: String?
    var realm_access: [String: [String]]? = ["roles": ["device", "reader"]]

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Keys made by the test: an RSA and an EC key in a JWKS, and a signer for each.
struct TestKeys {
    let signers = JWTKeyCollection()
    let rsa: JWTKit.Insecure.RSA.PrivateKey
    let jwks: Data

    init() async throws {
        rsa = try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        let ec = ES256PrivateKey()
        await signers.add(rsa: rsa, digestAlgorithm: .sha256, kid: "rsa-1")
        await signers.add(ecdsa: ec, kid: "ec-1")
        let (n, e) = try rsa.publicKey.getKeyPrimitives()
        let (x, y) = ec.publicKey.parameters!
        let keys: [[String: String]] = [
            ["kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": n.base64URL, "e": e.base64URL],
            ["kty": "EC", "kid": "ec-1", "use": "sig", "alg": "ES256", "crv": "P-256", "x": x, "y": y],
            ["kty": "RSA", "kid": "enc-1", "use": "enc", "alg": "RSA-OAEP", "n": n.base64URL, "e": e.base64URL],
        ]
        jwks = try JSONSerialization.data(withJSONObject: ["keys": keys])
    }

    func sign(_ claims: TestClaims = TestClaims(), kid: String = "rsa-1") async throws -> String {
        try await signers.sign(claims, kid: JWKIdentifier(string: kid))
    }
}

extension Data {
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

@Suite struct TokenVerifierTests {
    static let now = 1_700_000_100

    func verifier(_ keys: TestKeys, tokenType: String? = nil) async throws -> TokenVerifier {
        let policy = OpenIDPolicy(
            jwksURL: "http://127.0.0.1:9/jwks", issuer: "https://issuer.test", audience: "mqtt",
            rolesKey: "realm_access.roles", algorithms: ["RS256", "ES256"], leewaySeconds: 60, tokenType: tokenType)
        let cache = JWKSCache(
            policy: policy, fetcher: HTTPFetcher(timeoutSeconds: 0.5), logger: Logger(label: "test"))
        try await cache.install(jwks: keys.jwks)
        return TokenVerifier(policy: policy, keys: cache)
    }

    func verify(_ token: String, _ keys: TestKeys, tokenType: String? = nil) async throws -> Result<VerifiedToken, TokenError> {
        try await verifier(keys, tokenType: tokenType).verify(Array(token.utf8), now: Self.now)
    }

    @Test func validRS256AndES256TokensGiveSubjectRolesAndExpiry() async throws {
        let keys = try await TestKeys()
        for kid in ["rsa-1", "ec-1"] {
            let result = try await verify(try await keys.sign(kid: kid), keys)
            #expect(result == .success(VerifiedToken(subject: "device-1", roles: ["device", "reader"], expiresAt: 1_700_000_600)))
        }
    }

    @Test func algNoneIsRefused() async throws {
        let keys = try await TestKeys()
        let parts = try await keys.sign().split(separator: ".")
        let header = Data(#"{"alg":"none","kid":"rsa-1"}"#.utf8).base64URL
        #expect(try await verify("\(header).\(parts[1]).", keys) == .failure(.malformed))
        #expect(try await verify("\(header).\(parts[1]).\(parts[2])", keys) == .failure(.algorithmNotAllowed("none")))
    }

    @Test func hs256SignedWithThePublicKeyIsRefused() async throws {
        let keys = try await TestKeys()
        let header = Data(#"{"alg":"HS256","kid":"rsa-1","typ":"JWT"}"#.utf8).base64URL
        let payload = try JSONEncoder().encode(TestClaims()).base64URL
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("\(header).\(payload)".utf8), using: SymmetricKey(data: Data(keys.rsa.publicKey.pemRepresentation.utf8)))
        #expect(try await verify("\(header).\(payload).\(Data(mac).base64URL)", keys) == .failure(.algorithmNotAllowed("HS256")))
    }

    @Test func unknownKidIsRefused() async throws {
        let keys = try await TestKeys()
        let other = JWTKeyCollection()
        await other.add(ecdsa: ES256PrivateKey(), kid: "ec-unknown")
        let token = try await other.sign(TestClaims(), kid: "ec-unknown")
        #expect(try await verify(token, keys) == .failure(.unknownKey))
    }

    @Test func aKnownKidWithAnotherKeysSignatureIsRefused() async throws {
        let keys = try await TestKeys()
        let other = JWTKeyCollection()
        await other.add(ecdsa: ES256PrivateKey(), kid: "ec-1")
        let token = try await other.sign(TestClaims(), kid: "ec-1")
        #expect(try await verify(token, keys) == .failure(.badSignature))
    }

    @Test func tamperedPayloadIsRefused() async throws {
        let keys = try await TestKeys()
        let parts = try await keys.sign().split(separator: ".")
        var claims = TestClaims()
        claims.realm_access = ["roles": ["admin"]]
        let forged = try JSONEncoder().encode(claims).base64URL
        #expect(try await verify("\(parts[0]).\(forged).\(parts[2])", keys) == .failure(.badSignature))
    }

    @Test func timeClaims() async throws {
        let keys = try await TestKeys()
        var expired = TestClaims()
        expired.exp = Self.now - 61
        #expect(try await verify(try await keys.sign(expired), keys) == .failure(.expired))
        var withinLeeway = TestClaims()
        withinLeeway.exp = Self.now - 30
        #expect(try await verify(try await keys.sign(withinLeeway), keys).isSuccess)
        var noExp = TestClaims()
        noExp.exp = nil
        #expect(try await verify(try await keys.sign(noExp), keys) == .failure(.missingExpiry))
        var notYet = TestClaims()
        notYet.nbf = Self.now + 120
        #expect(try await verify(try await keys.sign(notYet), keys) == .failure(.notYetValid))
        var future = TestClaims()
        future.iat = Self.now + 120
        #expect(try await verify(try await keys.sign(future), keys) == .failure(.issuedInTheFuture))
    }

    @Test func issuerAndAudience() async throws {
        let keys = try await TestKeys()
        var wrongIssuer = TestClaims()
        wrongIssuer.iss = "https://issuer.test/other"
        #expect(try await verify(try await keys.sign(wrongIssuer), keys) == .failure(.wrongIssuer))
        var wrongAudience = TestClaims()
        wrongAudience.aud = ["account"]
        #expect(try await verify(try await keys.sign(wrongAudience), keys) == .failure(.wrongAudience))
        var noAudience = TestClaims()
        noAudience.aud = nil
        #expect(try await verify(try await keys.sign(noAudience), keys) == .failure(.wrongAudience))
    }

    @Test func idTokenRefusedWhenAccessTokenTypeIsRequired() async throws {
        let keys = try await TestKeys()
        var idToken = TestClaims()
        idToken.typ = "ID"
        #expect(try await verify(try await keys.sign(idToken), keys, tokenType: "Bearer") == .failure(.wrongTokenType))
        var accessToken = TestClaims()
        accessToken.typ = "Bearer"
        #expect(try await verify(try await keys.sign(accessToken), keys, tokenType: "Bearer").isSuccess)
        // Not checked unless configured.
        #expect(try await verify(try await keys.sign(idToken), keys).isSuccess)
    }

    @Test(arguments: ["not a jwt", "a.b", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30"])
    func notAJWTIsRefused(token: String) async throws {
        let keys = try await TestKeys()
        #expect(try await verify(token, keys) == .failure(.malformed))
    }

    @Test func a64KiBPasswordIsRefusedUnparsed() async throws {
        let keys = try await TestKeys()
        #expect(try await verify(String(repeating: "a", count: 65535), keys) == .failure(.tooLarge))
    }

    @Test func rolesClaimMayBeAString() async throws {
        let keys = try await TestKeys()
        let policy = OpenIDPolicy(jwksURL: "http://127.0.0.1:9/jwks", rolesKey: "sub", algorithms: ["RS256"])
        let cache = JWKSCache(policy: policy, fetcher: HTTPFetcher(), logger: Logger(label: "test"))
        try await cache.install(jwks: keys.jwks)
        let result = await TokenVerifier(policy: policy, keys: cache).verify(Array(try await keys.sign().utf8), now: Self.now)
        #expect(try result.get().roles == ["device-1"])
    }

    @Test func garbageJWKSIsRejected() async {
        await #expect(throws: JWKSError.self) {
            _ = try await JWKSCache.makeKeySet(jwks: Data("<html>".utf8), algorithms: ["RS256"])
        }
        await #expect(throws: JWKSError.self) {
            _ = try await JWKSCache.makeKeySet(jwks: Data(#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}"#.utf8), algorithms: ["RS256"])
        }
    }
}

extension Result {
    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
