package import Actors
import Crypto
import Foundation
import Synchronization

/// The Shopify app's credentials and where its install flow points (CONTRACT §3).
package struct ShopifyApp: Sendable {
    /// Made-up app credentials of sandbox mode (no Shopify account needed; the embedded emulator signs its OAuth
    /// callbacks with this secret).
    package static let sandboxAPIKey = "hygge_sandbox_api_key"
    package static let sandboxAPISecret = "hygge_sandbox_api_secret"
    package static let defaultScopes = "read_products,write_orders,write_script_tags"

    /// `SHOPIFY_API_KEY` (the OAuth `client_id`, and the `aud` of session tokens).
    package var apiKey: String
    /// `SHOPIFY_API_SECRET`: verifies callbacks, webhooks and session tokens; signs Hygge's own state and cookies.
    package var apiSecret: String
    /// `SHOPIFY_SCOPES`.
    package var scopes: String
    /// `HYGGE_SHOPIFY_BASE_URL` (`{shop}` replaced): where the OAuth authorize page lives.
    package var baseTemplate: String
    /// The install calls (code exchange, script tags, webhooks).
    package var installer: any ShopifyInstaller
    /// How long an install's `state` stays valid.
    package var stateLifetime: Duration = .seconds(600)
    /// How long a session cookie stays valid.
    package var sessionLifetime: Duration = .seconds(12 * 3600)

    package init(apiKey: String, apiSecret: String, scopes: String, baseTemplate: String, installer: any ShopifyInstaller)
    {
        self.apiKey = apiKey
        self.apiSecret = apiSecret
        self.scopes = scopes
        self.baseTemplate = baseTemplate
        self.installer = installer
    }

    /// The shop's base URL (no trailing slash).
    package func base(_ shop: MerchantID) -> String {
        var base = self.baseTemplate.replacingOccurrences(of: "{shop}", with: shop.rawValue)
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    /// The key Hygge signs its own tokens (install state, session cookie, CSRF) with: derived from the app secret,
    /// so tokens survive restarts and die with a rotated secret.
    var signingKey: SymmetricKey { Self.signingKey(appSecret: self.apiSecret) }

    static func signingKey(appSecret: String) -> SymmetricKey {
        SymmetricKey(
            data: Array(
                HMAC<SHA256>.authenticationCode(
                    for: Array("hygge:session-key:v1".utf8), using: SymmetricKey(data: Array(appSecret.utf8)))))
    }
}

/// Shopify's OAuth callback signature: hex HMAC-SHA256 (app secret) of the query parameters minus `hmac` (and the
/// legacy `signature`), sorted by key and joined as `k=v` with `&`; `%` and `&` in keys and values are escaped as
/// `%25`/`%26`, and `=` in keys as `%3D`.
package enum ShopifyCallbackSignature {
    /// Parses a raw query string into decoded pairs; nil when a key repeats or the encoding is broken.
    package static func parse(_ query: String) -> [(String, String)]? {
        var pairs: [(String, String)] = []
        var seen: Set<String> = []
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = Self.decode(kv[0]), let value = Self.decode(kv.count > 1 ? kv[1] : "") else { return nil }
            guard seen.insert(key).inserted else { return nil }
            pairs.append((key, value))
        }
        return pairs
    }

    private static func decode(_ text: Substring) -> String? {
        String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// The message that is signed.
    package static func message(_ pairs: [(String, String)]) -> String {
        pairs.filter { $0.0 != "hmac" && $0.0 != "signature" }
            .map { (Self.escape($0.0, key: true), Self.escape($0.1, key: false)) }
            .sorted { $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    private static func escape(_ text: String, key: Bool) -> String {
        var out = text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "&", with: "%26")
        if key { out = out.replacingOccurrences(of: "=", with: "%3D") }
        return out
    }

    /// Lower-case hex HMAC-SHA256 of `message`.
    package static func sign(_ message: String, secret: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: Array(secret.utf8)))
            .map { String(format: "%02x", $0) }.joined()
    }

    /// Whether the pairs carry a valid `hmac` (constant-time comparison).
    package static func isValid(_ pairs: [(String, String)], secret: String) -> Bool {
        guard let given = pairs.first(where: { $0.0 == "hmac" })?.1.lowercased() else { return false }
        let expected = Self.sign(Self.message(pairs), secret: secret)
        return StandardWebhooks.constantTimeEquals(Array(given.utf8), Array(expected.utf8))
    }
}

/// Compact signed tokens (`payload.signature`, both base64url) for Hygge's own install state, session cookie and
/// CSRF tokens.
enum SignedToken {
    static func base64url(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func unbase64url(_ text: some StringProtocol) -> [UInt8]? {
        var base = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base.utf8.count % 4 != 0 { base += "=" }
        return Data(base64Encoded: base).map(Array.init)
    }

    static func mac(_ text: String, key: SymmetricKey, purpose: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array("\(purpose)\n\(text)".utf8), using: key))
    }

    /// `base64url(payload).base64url(HMAC(purpose ‖ payload))`.
    static func make(_ payload: String, key: SymmetricKey, purpose: String) -> String {
        let body = Self.base64url(Array(payload.utf8))
        return body + "." + Self.base64url(Self.mac(body, key: key, purpose: purpose))
    }

    /// The payload of a token whose signature checks out (constant time), else nil.
    static func open(_ token: String, key: SymmetricKey, purpose: String) -> String? {
        guard token.utf8.count <= 2048 else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let given = Self.unbase64url(parts[1]),
            StandardWebhooks.constantTimeEquals(given, Self.mac(String(parts[0]), key: key, purpose: purpose)),
            let payload = Self.unbase64url(parts[0])
        else { return nil }
        return String(decoding: payload, as: UTF8.self)
    }
}

/// Install `state` values: signed, bound to the shop, short-lived and single-use. Outstanding nonces are kept in
/// memory, so a restart invalidates installs in progress (the merchant simply starts again); at most
/// `outstandingMax` are kept.
package final class OAuthStates: Sendable {
    static let outstandingMax = 10_000
    private let outstanding = Mutex<[String: Timestamp]>([:])

    package init() {}

    /// A new state for `shop`, valid until `now + lifetime`.
    func issue(shop: MerchantID, now: Timestamp, lifetime: Duration, key: SymmetricKey) -> String {
        let nonce = RandomToken.hex(bytes: 16)
        let expires = now.adding(lifetime)
        self.outstanding.withLock { map in
            if map.count >= Self.outstandingMax { map = map.filter { $0.value > now } }
            if map.count >= Self.outstandingMax, let oldest = map.min(by: { $0.value < $1.value })?.key {
                map[oldest] = nil
            }
            map[nonce] = expires
        }
        return SignedToken.make("\(nonce)|\(shop.rawValue)|\(expires.milliseconds)", key: key, purpose: "oauth-state")
    }

    /// Consumes a state: true only once, only for the shop it was issued for, and only before it expires.
    func consume(_ state: String, shop: MerchantID, now: Timestamp, key: SymmetricKey) -> Bool {
        guard let payload = SignedToken.open(state, key: key, purpose: "oauth-state") else { return false }
        let parts = payload.split(separator: "|").map(String.init)
        guard parts.count == 3, parts[1] == shop.rawValue, let ms = Int64(parts[2]), Timestamp(milliseconds: ms) > now
        else { return false }
        return self.outstanding.withLock { $0.removeValue(forKey: parts[0]) != nil }
    }
}

/// The `hygge_session` cookie: `shop|expires-ms`, signed.
enum SessionCookie {
    static let name = "hygge_session"

    static func make(shop: MerchantID, now: Timestamp, lifetime: Duration, key: SymmetricKey) -> String {
        SignedToken.make("\(shop.rawValue)|\(now.adding(lifetime).milliseconds)", key: key, purpose: "session")
    }

    /// The shop of a valid, unexpired session cookie.
    static func shop(_ value: String, now: Timestamp, key: SymmetricKey) -> MerchantID? {
        guard let payload = SignedToken.open(value, key: key, purpose: "session") else { return nil }
        let parts = payload.split(separator: "|").map(String.init)
        guard parts.count == 2, MerchantID.isValidShopDomain(parts[0]), let ms = Int64(parts[1]),
            Timestamp(milliseconds: ms) > now
        else { return nil }
        return MerchantID(parts[0])
    }

    /// The CSRF token of a session: bound to the session cookie's value, so it dies with it.
    static func csrf(for session: String, key: SymmetricKey) -> String {
        SignedToken.base64url(SignedToken.mac(session, key: key, purpose: "csrf"))
    }
}

/// Shopify session tokens (App Bridge): HS256 JWTs signed with the app secret.
package enum ShopifySessionToken {
    /// Allowed clock skew for `exp` and `nbf`.
    package static let leewaySeconds: Int64 = 10

    /// Why a token was refused (logged; the client only sees `401 unauthorized`).
    package enum Rejection: String, Error {
        case malformed, algorithm, signature, audience, expired, notYetValid, destination, issuer
    }

    /// The shop a valid token names (`dest` = `https://S`, `iss` = `https://S/admin`).
    ///
    /// - Parameters:
    ///   - apiKey: the expected `aud`.
    ///   - secret: the app secret (HMAC key).
    ///   - now: Unix seconds.
    package static func verify(_ token: String, apiKey: String, secret: String, now: Int64) throws(Rejection)
        -> MerchantID
    {
        guard token.utf8.count <= 4096 else { throw .malformed }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = SignedToken.unbase64url(parts[0]),
            let payloadBytes = SignedToken.unbase64url(parts[1]), let signature = SignedToken.unbase64url(parts[2]),
            let header = (try? JSONSerialization.jsonObject(with: Data(headerBytes))) as? [String: Any],
            let claims = (try? JSONSerialization.jsonObject(with: Data(payloadBytes))) as? [String: Any]
        else { throw .malformed }
        guard header["alg"] as? String == "HS256" else { throw .algorithm }
        let expected = HMAC<SHA256>.authenticationCode(
            for: Array("\(parts[0]).\(parts[1])".utf8), using: SymmetricKey(data: Array(secret.utf8)))
        guard StandardWebhooks.constantTimeEquals(signature, Array(expected)) else { throw .signature }
        let audiences: [String] = (claims["aud"] as? String).map { [$0] } ?? (claims["aud"] as? [String]) ?? []
        guard audiences.contains(apiKey) else { throw .audience }
        // Compared as `now - leeway` against the claims, so a hostile `exp` of Int64.max cannot overflow.
        guard let exp = (claims["exp"] as? NSNumber)?.int64Value, now - Self.leewaySeconds <= exp else { throw .expired }
        if let nbf = (claims["nbf"] as? NSNumber)?.int64Value, now + Self.leewaySeconds < nbf { throw .notYetValid }
        guard let dest = claims["dest"] as? String, dest.hasPrefix("https://") else { throw .destination }
        let host = String(dest.dropFirst(8))
        guard MerchantID.isValidShopDomain(host) else { throw .destination }
        guard claims["iss"] as? String == "https://\(host)/admin" else { throw .issuer }
        return MerchantID(host)
    }

    /// Signs claims as an HS256 JWT (tests and the sandbox use it to mint tokens).
    package static func sign(_ claims: [String: Any], secret: String) -> String {
        let header = SignedToken.base64url(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let payload = SignedToken.base64url(
            Array((try? JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()))
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(header).\(payload)".utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return "\(header).\(payload).\(SignedToken.base64url(mac))"
    }
}
