import Actors
import Crypto
import Foundation
import Net

/// Targets for what arrives over HTTP: request bodies, webhook envelopes and signature headers, the OAuth callback
/// query, session tokens and cookies, and decimal money amounts.
enum WebTargets {
    static let now: Int64 = 1_750_000_000
    static let appSecret = "fuzz_app_secret"
    static let apiKey = "fuzz_api_key"
    static let webhookSecret = "ws_fuzz_secret"

    static let all: [FuzzTarget] = [
        FuzzTarget(
            name: "checkout-body",
            summary: "create-from-cart / get-plan / merchant API JSON bodies (decodeStrict, cartRequest, fingerprint)",
            run: Self.checkoutBody, seeds: Self.checkoutSeeds),
        FuzzTarget(
            name: "whop-payload", summary: "Whop webhook envelopes of both shapes (WhopPayload.parse, .event, .membership)",
            run: Self.whopPayload, seeds: Self.whopSeeds),
        FuzzTarget(
            name: "standard-webhooks",
            summary: "webhook-id / webhook-timestamp / webhook-signature headers and body (StandardWebhooks.verify)",
            run: Self.standardWebhooks, seeds: Self.standardWebhookSeeds),
        FuzzTarget(
            name: "shopify-callback",
            summary: "the OAuth callback query and form bodies (ShopifyCallbackSignature.parse, message, isValid)",
            run: Self.shopifyCallback, seeds: Self.callbackSeeds),
        FuzzTarget(
            name: "session-token", summary: "Shopify session-token JWTs, raw and validly signed (ShopifySessionToken.verify)",
            run: Self.sessionToken, seeds: Self.sessionTokenSeeds),
        FuzzTarget(
            name: "session-cookie",
            summary: "hygge_session cookies, OAuth state and signed tokens (SignedToken.open, SessionCookie, OAuthStates)",
            run: Self.sessionCookie, seeds: Self.cookieSeeds),
        FuzzTarget(
            name: "shopify-webhook", summary: "Shopify webhook HMAC header and topic bodies (ShopifyWebhookRoutes)",
            run: Self.shopifyWebhook, seeds: Self.shopifyWebhookSeeds),
        FuzzTarget(
            name: "money", summary: "decimal amounts and minor units (Currency.parseDecimal, decimalString, platformFee)",
            run: Self.money, seeds: Self.moneySeeds),
    ]

    // MARK: Request bodies

    static func checkoutBody(_ bytes: [UInt8]) throws(FuzzViolation) {
        let body = Data(bytes)
        if let parsed = try? UntrustedInput.cart(body) {
            try require(MerchantID.isValidShopDomain(parsed.shop.rawValue), "accepted shop \(parsed.shop)")
            try require((1...100).contains(parsed.cart.items.count), "accepted \(parsed.cart.items.count) lines")
            try require(
                parsed.cart.items.allSatisfy { $0.variantID > 0 && (1...999).contains($0.quantity) },
                "accepted a bad line")
            try require(Currency.isValidCode(parsed.cart.currency), "accepted currency \(parsed.cart.currency)")
            try require(parsed.cart.email.map { $0.utf8.count <= 254 } ?? true, "accepted a long email")
            try require((try? UntrustedInput.cart(body))?.fingerprint == parsed.fingerprint, "fingerprint not stable")
        }
        _ = try? UntrustedInput.planCheckoutID(body)
        _ = UntrustedInput.merchantBodies(body)
    }

    static func checkoutSeeds() -> [[UInt8]] {
        [
            #"{"shop":"hygge-demo.myshopify.com","currency":"USD","items":[{"variant_id":450789469002,"quantity":2}],"client_total":{"amount":1,"currency":"USD"},"email":"a@b.c"}"#,
            #"{"shop":"s.myshopify.com","currency":"jpy","items":[{"variant_id":1,"quantity":999},{"variant_id":9223372036854775807,"quantity":1}]}"#,
            #"{"checkout_id":"chk_0123456789abcdef01234567"}"#,
            #"{"api_key":" apik_sandbox_demo ","secret":"ws_x"}"#,
        ].map { Array($0.utf8) }
    }

    // MARK: Whop webhooks

    static func whopPayload(_ bytes: [UInt8]) throws(FuzzViolation) {
        guard let payload = WhopPayload.parse(Data(bytes)) else { return }
        _ = payload.membership
        switch payload.event {
        case .paymentSucceeded(let notice), .paymentFailed(let notice):
            try require(!notice.paymentID.isEmpty, "payment event without a payment id")
            if let amount = notice.amount {
                try require(Currency.isValidCode(amount.currency), "payment in currency \(amount.currency)")
                let text = Currency.decimalString(minor: amount.amount, currency: amount.currency)
                try require(
                    Currency.parseDecimal(text, currency: amount.currency) == amount.amount,
                    "amount \(amount.amount) does not round-trip through \(text)")
                _ = Currency.platformFee(amount.amount)
            }
        case .refund(let notice):
            if let text = notice.amountText { _ = Currency.parseDecimal(text, currency: "USD") }
        case .ignored:
            break
        }
    }

    static func whopSeeds() -> [[UInt8]] {
        [
            #"{"id":"msg_1","api_version":"v1","timestamp":"2026-01-01T00:00:00Z","type":"payment.succeeded","company_id":"biz_1","data":{"id":"pay_1","status":"paid","total":398.0,"currency":"usd","checkout_configuration_id":"ch_1","metadata":{"hygge_checkout_id":"chk_0123456789abcdef01234567","shop":"s.myshopify.com","n":1},"plan":{"id":"plan_1"},"company":{"id":"biz_1"},"user":{"email":"b@e.com"}}}"#,
            #"{"id":"msg_2","type":"payment_succeeded","account_id":"biz_1","data":{"id":"pay_2","total":{"amount":"398.00","currency":"usd"},"plan_id":"plan_2"}}"#,
            #"{"type":"refund.created","data":{"id":"r_1","payment_id":"pay_1","amount":{"amount":"12.50","currency":"usd"},"status":"succeeded"}}"#,
            #"{"type":"refund_updated","data":{"id":"r_2","payment":{"id":"pay_1"},"amount":1e3}}"#,
            #"{"type":"membership.activated","data":{"plan":{"id":"plan_pro"},"metadata":{"shop":"s.myshopify.com"}}}"#,
            #"{"event":"payment.failed","data":{"id":"pay_3","total":"0.001","currency":"kwd"}}"#,
        ].map { Array($0.utf8) }
    }

    /// Input: `id \n timestamp \n signatures \n body`.
    static func standardWebhooks(_ bytes: [UInt8]) throws(FuzzViolation) {
        let parts = bytes.fuzzParts(4)
        guard parts.count == 4 else {
            _ = try? StandardWebhooks.verify(
                secret: Self.webhookSecret, id: bytes.fuzzText, timestamp: bytes.fuzzText, signatures: bytes.fuzzText,
                body: bytes, now: Self.now)
            return
        }
        let (id, stamp, signatures, body) = (parts[0].fuzzText, parts[1].fuzzText, parts[2].fuzzText, parts[3])
        let real = StandardWebhooks.sign(secret: Self.webhookSecret, id: id, timestamp: stamp, body: body)
        let given: Bool
        do throws(StandardWebhooks.Rejection) {
            try StandardWebhooks.verify(
                secret: Self.webhookSecret, id: id, timestamp: stamp, signatures: signatures, body: body, now: Self.now)
            given = true
        } catch {
            given = false
        }
        if given {
            try require(StandardWebhooks.entries(signatures).contains { Self.sameSignature($0, real) }, "accepted a forgery")
        }
        let signed = signatures.isEmpty ? real : signatures + " " + real
        let fresh: Bool = {
            guard let seconds = Int64(stamp) else { return false }
            let (difference, overflow) = Self.now.subtractingReportingOverflow(seconds)
            return !overflow && difference.magnitude <= UInt64(StandardWebhooks.tolerance)
        }()
        let expected = fresh && !id.isEmpty && id.utf8.count <= 256 && signed.utf8.count <= StandardWebhooks.headerBytesMax
        let accepted = (try? StandardWebhooks.verify(
            secret: Self.webhookSecret, id: id, timestamp: stamp, signatures: signed, body: body, now: Self.now)) != nil
        try require(accepted == expected, "a correctly signed delivery was \(accepted ? "accepted" : "refused") wrongly")
        let a = parts[0]
        let b = parts[1]
        try require(StandardWebhooks.constantTimeEquals(a, b) == (a == b), "constantTimeEquals disagrees with ==")
    }

    /// Whether a `v1,<base64>` entry decodes to the same MAC as `real` (base64 may differ in padding only).
    private static func sameSignature(_ entry: Substring, _ real: String) -> Bool {
        guard entry.hasPrefix("v1,"), let given = Data(base64Encoded: String(entry.dropFirst(3))),
            let expected = Data(base64Encoded: String(real.dropFirst(3)))
        else { return false }
        return given == expected
    }

    static func standardWebhookSeeds() -> [[UInt8]] {
        let body = Array(#"{"test": 2432232314}"#.utf8)
        let signature = StandardWebhooks.sign(secret: Self.webhookSecret, id: "msg_1", timestamp: "\(Self.now)", body: body)
        return [
            Array("msg_1\n\(Self.now)\n\(signature)\n".utf8) + body,
            Array("msg_1\n\(Self.now - 301)\nv1,AAAA v2,xyz\n{}".utf8),
            Array("msg_1\n-9223372036854775808\nv1,\n{}".utf8),
        ]
    }

    // MARK: Shopify OAuth callback

    static func shopifyCallback(_ bytes: [UInt8]) throws(FuzzViolation) {
        guard let pairs = ShopifyCallbackSignature.parse(bytes.fuzzText) else { return }
        _ = ShopifyCallbackSignature.isValid(pairs, secret: "hush")
        guard !pairs.contains(where: { $0.0 == "hmac" }) else { return }
        let hmac = ShopifyCallbackSignature.sign(ShopifyCallbackSignature.message(pairs), secret: "hush")
        let signed = pairs + [("hmac", hmac)]
        try require(ShopifyCallbackSignature.isValid(signed, secret: "hush"), "its own signature does not verify")
        var extra = "zz"
        while pairs.contains(where: { $0.0 == extra }) { extra += "z" }
        try require(
            !ShopifyCallbackSignature.isValid(signed + [(extra, "1")], secret: "hush"), "an added parameter verifies")
        if let first = pairs.first, first.0 != "signature" {
            var changed = signed
            changed[0].1 += "x"
            try require(!ShopifyCallbackSignature.isValid(changed, secret: "hush"), "a changed value verifies")
        }
    }

    static func callbackSeeds() -> [[UInt8]] {
        [
            "code=0907a61c0c8d55e99db179b68161bc00&hmac=700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173",
            "a=%26%25b&c%3D=d+e&signature=x&empty=&novalue",
            "_csrf=abc&api_key=apik_sandbox_demo",
        ].map { Array($0.utf8) }
    }

    // MARK: Session tokens and cookies

    /// Input: a raw token; also `header \n claims` (or just claims) signed correctly, to reach the claim checks.
    static func sessionToken(_ bytes: [UInt8]) throws(FuzzViolation) {
        _ = try? ShopifySessionToken.verify(bytes.fuzzText, apiKey: Self.apiKey, secret: Self.appSecret, now: Self.now)
        let parts = bytes.fuzzParts(2)
        let header = parts.count == 2 ? parts[0] : Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8)
        let claims = parts[parts.count - 1]
        let signingInput = base64url(header) + "." + base64url(claims)
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array(signingInput.utf8), using: SymmetricKey(data: Array(Self.appSecret.utf8)))
        let token = signingInput + "." + base64url(mac)
        if let shop = try? ShopifySessionToken.verify(token, apiKey: Self.apiKey, secret: Self.appSecret, now: Self.now) {
            try require(MerchantID.isValidShopDomain(shop.rawValue), "session for shop \(shop)")
        }
        let forged = signingInput + "." + base64url(mac.map { $0 ^ 1 })
        try require(
            (try? ShopifySessionToken.verify(forged, apiKey: Self.apiKey, secret: Self.appSecret, now: Self.now)) == nil,
            "a forged session token verifies")
    }

    static func sessionTokenSeeds() -> [[UInt8]] {
        let claims: [String: Any] = [
            "iss": "https://s.myshopify.com/admin", "dest": "https://s.myshopify.com", "aud": Self.apiKey,
            "sub": "1", "exp": Self.now + 60, "nbf": Self.now - 60, "iat": Self.now,
        ]
        let json = (try? JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys])) ?? Data()
        return [
            Array(json),
            Array(#"{"alg":"none"}"#.utf8) + [0x0A] + Array(json),
            Array(#"{"aud":["x","fuzz_api_key"],"exp":9223372036854775807,"nbf":-9223372036854775808,"dest":"https://s.myshopify.com","iss":"https://s.myshopify.com/admin"}"#.utf8),
            Array(#"{"exp":1e300,"nbf":"x","aud":"fuzz_api_key"}"#.utf8),
            Array(ShopifySessionToken.sign(claims, secret: Self.appSecret).utf8),
        ]
    }

    static func sessionCookie(_ bytes: [UInt8]) throws(FuzzViolation) {
        let text = bytes.fuzzText
        let now = Timestamp(milliseconds: Self.now * 1000)
        let shop = MerchantID("fuzz.myshopify.com")
        _ = UntrustedInput.sessionCookie(text, appSecret: Self.appSecret, now: now)
        _ = UntrustedInput.signedToken(text, appSecret: Self.appSecret, purpose: "session")
        try require(
            !UntrustedInput.oauthState(text, shop: shop, appSecret: Self.appSecret, now: now), "an unissued state passes")
        for purpose in ["session", "oauth-state"] {
            let token = UntrustedInput.makeSignedToken(text, appSecret: Self.appSecret, purpose: purpose)
            let opened = UntrustedInput.signedToken(token, appSecret: Self.appSecret, purpose: purpose)
            try require(opened == (token.utf8.count <= 2048 ? text : nil), "a signed token does not open to its payload")
            let other = purpose == "session" ? "oauth-state" : "session"
            try require(
                UntrustedInput.signedToken(token, appSecret: Self.appSecret, purpose: other) == nil,
                "a \(purpose) token opens as \(other)")
        }
        let cookie = UntrustedInput.makeSignedToken(text, appSecret: Self.appSecret, purpose: "session")
        if let shop = UntrustedInput.sessionCookie(cookie, appSecret: Self.appSecret, now: now) {
            try require(MerchantID.isValidShopDomain(shop.rawValue), "cookie for shop \(shop)")
        }
        let state = UntrustedInput.makeSignedToken(text, appSecret: Self.appSecret, purpose: "oauth-state")
        try require(
            !UntrustedInput.oauthState(state, shop: shop, appSecret: Self.appSecret, now: now),
            "a state that was never issued passes")
    }

    static func cookieSeeds() -> [[UInt8]] {
        [
            "s.myshopify.com|\(Self.now * 1000 + 60_000)",
            "s.myshopify.com|9223372036854775807",
            "nonce|fuzz.myshopify.com|\(Self.now * 1000 + 60_000)",
            UntrustedInput.makeSignedToken("s.myshopify.com|1", appSecret: Self.appSecret, purpose: "session"),
        ].map { Array($0.utf8) }
    }

    // MARK: Shopify webhooks

    static let topics = [
        "app/uninstalled", "refunds/create", "customers/data_request", "customers/redact", "shop/redact", "orders/paid",
    ]

    /// Input: a topic selector byte, then the body.
    static func shopifyWebhook(_ bytes: [UInt8]) throws(FuzzViolation) {
        let topic = Self.topics[Int(bytes.first ?? 0) % Self.topics.count]
        let body = Data(bytes.dropFirst())
        let header = String(decoding: bytes.prefix(64), as: UTF8.self)
        let unsigned = UntrustedInput.shopifyWebhook(topic: topic, signature: header, body: body, secret: Self.appSecret)
        let signature = Data(
            HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(Self.appSecret.utf8)))
        ).base64EncodedString()
        try require(!unsigned.valid || header == signature, "a forged Shopify HMAC verifies")
        let signed = UntrustedInput.shopifyWebhook(topic: topic, signature: signature, body: body, secret: Self.appSecret)
        try require(signed.valid, "a correct Shopify HMAC does not verify")
        if case .refundCreated(let notice) = signed.event {
            for text in notice.amounts { _ = Currency.parseDecimal(text, currency: "USD") }
        }
    }

    static func shopifyWebhookSeeds() -> [[UInt8]] {
        [
            [1] + Array(#"{"id":890088186047892319,"order_id":820982911946154508,"transactions":[{"kind":"refund","status":"success","amount":"41.94"},{"kind":"refund","amount":12.5}]}"#.utf8),
            [2] + Array(#"{"shop_id":1,"orders_requested":[1,"2",3.5,null]}"#.utf8),
            [3] + Array(#"{"customer":{"email":"b@e.com"},"orders_to_redact":[9223372036854775807,1e300]}"#.utf8),
            [0] + Array("{}".utf8),
        ]
    }

    // MARK: Money

    static let currencies = ["USD", "JPY", "KWD", "usd", "EUR", "CLP"]

    /// Input: a currency selector byte, then the decimal text; the first 8 bytes are also read as minor units.
    static func money(_ bytes: [UInt8]) throws(FuzzViolation) {
        let currency = Self.currencies[Int(bytes.first ?? 0) % Self.currencies.count]
        let text = Array(bytes.dropFirst()).fuzzText
        if let minor = Currency.parseDecimal(text, currency: currency) {
            let back = Currency.decimalString(minor: minor, currency: currency)
            try require(Currency.parseDecimal(back, currency: currency) == minor, "\(text) → \(minor) → \(back)")
            try Self.checkFee(minor)
        }
        if bytes.count >= 8 {
            let minor = bytes.prefix(8).reduce(Int64(0)) { ($0 << 8) | Int64($1) }
            let text = Currency.decimalString(minor: minor, currency: currency)
            try require(Currency.parseDecimal(text, currency: currency) == minor, "\(minor) → \(text) does not parse back")
            try Self.checkFee(minor)
        }
    }

    private static func checkFee(_ minor: Int64) throws(FuzzViolation) {
        let fee = Currency.platformFee(minor)
        try require(fee >= 0 && (minor <= 0 || fee <= minor), "fee \(fee) of \(minor)")
        if minor > 0, minor <= Int64.max / 5 - 500 {
            try require(fee == (minor * 5 + 500) / 1000, "fee \(fee) of \(minor) is not (amount*5+500)/1000")
        }
    }

    static func moneySeeds() -> [[UInt8]] {
        ["0398.00", "1500", "2-1.250", "0+0.5", "0 92233720368547758.07 ", "1.", "3-", "0."].map { Array($0.utf8) }
            + [[0x80, 0, 0, 0, 0, 0, 0, 0], [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]]
    }
}
