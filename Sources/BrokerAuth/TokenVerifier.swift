import Foundation
import JWTKit

/// Why a token was refused (logged; the client only sees CONNACK 4).
package enum TokenError: Error, Equatable, CustomStringConvertible {
    case tooLarge, malformed, algorithmNotAllowed(String), unknownKey, badSignature
    case missingExpiry, expired, notYetValid, issuedInTheFuture, wrongIssuer, wrongAudience
    case wrongTokenType, noSubject, noKeys

    package var description: String {
        switch self {
        case .tooLarge: "token too large"
        case .malformed: "not a JWT"
        case .algorithmNotAllowed(let alg): "algorithm \(alg) not allowed"
        case .unknownKey: "unknown signing key"
        case .badSignature: "bad signature"
        case .missingExpiry: "no exp claim"
        case .expired: "token expired"
        case .notYetValid: "token not yet valid (nbf)"
        case .issuedInTheFuture: "token issued in the future (iat)"
        case .wrongIssuer: "wrong issuer"
        case .wrongAudience: "wrong audience"
        case .wrongTokenType: "wrong token type"
        case .noSubject: "no subject claim"
        case .noKeys: "no signing keys available"
        }
    }
}

/// What a valid token says about its holder.
package struct VerifiedToken: Sendable, Equatable {
    package var subject: String
    package var roles: [String]
    /// `exp` (seconds since the epoch).
    package var expiresAt: Int
}

/// The whole payload, kept as JSON: which claims matter is configuration.
struct RawClaims: JWTPayload {
    let json: JSONValue

    init(from decoder: any Decoder) throws { json = try JSONValue(from: decoder) }
    func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
    /// Claims are checked by `TokenVerifier` with its own clock and leeway.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Verifies OAuth2 access tokens (JWT) against the provider's keys and the configured rules.
struct TokenVerifier: Sendable {
    let policy: OpenIDPolicy
    let keys: JWKSCache
    /// Longer tokens are refused before any parsing.
    static let maxTokenBytes = 16 * 1024

    func verify(_ token: [UInt8], now: Int) async -> Result<VerifiedToken, TokenError> {
        guard token.count <= Self.maxTokenBytes else { return .failure(.tooLarge) }
        guard let text = String(validating: token, as: UTF8.self) else { return .failure(.malformed) }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty,
              let headerData = Self.base64URLDecode(parts[0]),
              let header = try? JSONDecoder().decode(JSONValue.self, from: headerData),
              case .object = header
        else { return .failure(.malformed) }
        // The algorithm comes from the server's allowlist; `none` and HMAC never verify with
        // a provider's public keys.
        guard let alg = header["alg"]?.string else { return .failure(.malformed) }
        guard policy.algorithms.contains(alg), alg != "none", !alg.hasPrefix("HS") else {
            return .failure(.algorithmNotAllowed(alg))
        }
        let kid = header["kid"]?.string
        guard let keySet = await keys.keySet(holding: kid) else {
            return .failure(await keys.keySet == nil ? .noKeys : .unknownKey)
        }
        let claims: JSONValue
        do {
            claims = try await keySet.collection.verify(text, as: RawClaims.self).json
        } catch {
            return .failure(.badSignature)
        }
        return check(claims, header: header, now: now)
    }

    func check(_ claims: JSONValue, header: JSONValue, now: Int) -> Result<VerifiedToken, TokenError> {
        let leeway = policy.leewaySeconds
        guard let exp = claims["exp"]?.number else { return .failure(.missingExpiry) }
        guard Double(now - leeway) < exp else { return .failure(.expired) }
        if let nbf = claims["nbf"] {
            guard let value = nbf.number else { return .failure(.malformed) }
            guard value <= Double(now + leeway) else { return .failure(.notYetValid) }
        }
        if let iat = claims["iat"] {
            guard let value = iat.number else { return .failure(.malformed) }
            guard value <= Double(now + leeway) else { return .failure(.issuedInTheFuture) }
        }
        if let issuer = policy.issuer {
            guard claims["iss"]?.string == issuer else { return .failure(.wrongIssuer) }
        }
        if let audience = policy.audience {
            let matches: Bool = switch claims["aud"] {
            case .string(let value): value == audience
            case .array(let values): values.contains(.string(audience))
            default: false
            }
            guard matches else { return .failure(.wrongAudience) }
        }
        if let tokenType = policy.tokenType {
            let wanted = tokenType.lowercased()
            let claimType = claims["typ"]?.string?.lowercased()
            let headerType = header["typ"]?.string?.lowercased()
            guard claimType == wanted || (claimType == nil && headerType == wanted) else {
                return .failure(.wrongTokenType)
            }
        }
        guard let subject = claims.value(atPath: policy.subjectKey)?.string, !subject.isEmpty else {
            return .failure(.noSubject)
        }
        var roles: [String] = []
        if let rolesKey = policy.rolesKey {
            switch claims.value(atPath: rolesKey) {
            case .string(let role): roles = [role]
            case .array(let values): roles = values.compactMap(\.string)
            default: break
            }
        }
        let expiresAt = exp >= Double(Int.max / 2) ? Int.max / 2 : Int(exp)
        return .success(VerifiedToken(subject: subject, roles: roles, expiresAt: expiresAt))
    }

    static func base64URLDecode(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
