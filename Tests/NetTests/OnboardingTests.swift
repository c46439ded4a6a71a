import Actors
import Foundation
import HTTPTypes
import Net
import Testing

/// Shopify OAuth install and merchant sessions (CONTRACT §3, §8).
struct OnboardingTests {
    @Test func shopifyReferenceVector() throws {
        let message =
            "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173"
        #expect(
            ShopifyCallbackSignature.sign(message, secret: "hush")
                == "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf")
        // The message is rebuilt from a query in any order, with hmac dropped.
        let pairs = try #require(
            ShopifyCallbackSignature.parse(
                "timestamp=1337178173&hmac=700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf&state=0.6784241404160823&shop=some-shop.myshopify.com&code=0907a61c0c8d55e99db179b68161bc00"
            ))
        #expect(ShopifyCallbackSignature.message(pairs) == message)
        #expect(ShopifyCallbackSignature.isValid(pairs, secret: "hush"))
        #expect(!ShopifyCallbackSignature.isValid(pairs, secret: "hush!"))
    }

    @Test func installRegistersOneScriptTagAndTheWebhooksIdempotently() async throws {
        try await Onboarding.run { harness, client in
            let shop = "install-a.myshopify.com"
            _ = try await harness.install(client, shop: shop)
            let token = try #require(await harness.sandbox.shopify.token(of: shop))
            let merchant = try #require(harness.registry.merchant(MerchantID(shop)))
            #expect(await merchant.isInstalled)
            // The token is stored sealed: the state holds no plaintext.
            let state = await merchant.snapshot()
            let encoded = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
            #expect(!encoded.contains(token))
            // An older Hygge tag and a foreign tag exist before the reinstall.
            await harness.sandbox.shopify.addScriptTag(shop: shop, src: "\(Onboarding.publicURL)/embed/cart.js?v=1")
            await harness.sandbox.shopify.addScriptTag(shop: shop, src: "https://other.example/app.js")
            _ = try await harness.install(client, shop: shop)
            let list = await harness.sandbox.shopify.scriptTagList(of: shop)
            let tags = list.map(\.src)
            #expect(tags.filter { $0 == "\(Onboarding.publicURL)/embed/cart.js?shop=\(shop)" }.count == 1)
            #expect(!tags.contains("\(Onboarding.publicURL)/embed/cart.js?v=1"))
            #expect(tags.contains("https://other.example/app.js"))
            #expect(list.first { $0.src.hasSuffix("?shop=\(shop)") }?.scope == "online_store")
            let hooks = await harness.sandbox.shopify.webhookTopics(of: shop)
            #expect(hooks.sorted() == ["app/uninstalled", "refunds/create"])
        }
    }

    @Test func installRefusesABadShopDomain() async throws {
        try await Onboarding.run { harness, client in
            for shop in ["evil.com", "Upper.myshopify.com", "-x.myshopify.com", "a.myshopify.com.evil.com", ""] {
                let reply = try await harness.send(client, .get, "/shopify/install?shop=\(shop)")
                #expect(reply.status == .badRequest)
                #expect(reply.errorCode == "invalid_shop")
            }
        }
    }

    /// A callback query signed with `secret` (Shopify's rules).
    static func callback(_ fields: [(String, String)], secret: String = Onboarding.apiSecret, hmac: String? = nil)
        -> String
    {
        var pairs = fields
        pairs.append(("hmac", hmac ?? ShopifyCallbackSignature.sign(ShopifyCallbackSignature.message(fields), secret: secret)))
        return "/shopify/callback?" + pairs.map {
            "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
        }.joined(separator: "&")
    }

    @Test func callbackRefusesForgedReplayedAndStaleRequests() async throws {
        try await Onboarding.run { harness, client in
            let shop = "callback-a.myshopify.com"
            let now = String(Timestamp.now.seconds)
            // Forged hmac (signed with another secret), and none at all.
            let first = try await harness.startInstall(client, shop: shop)
            let code = await harness.sandbox.shopify.mintCode(shop: shop)
            let fields = [("code", code), ("shop", shop), ("state", first.state), ("timestamp", now)]
            let forged = try await harness.send(client, .get, Self.callback(fields, secret: "not-the-secret"))
            #expect(forged.status == .unauthorized)
            #expect(forged.errorCode == "invalid_callback")
            let unsigned = try await harness.send(
                client, .get, "/shopify/callback?code=\(code)&shop=\(shop)&state=\(first.state)&timestamp=\(now)")
            #expect(unsigned.status == .unauthorized)
            #expect(unsigned.errorCode == "invalid_callback")
            // Stale timestamp (25 h old), correctly signed.
            let stale = [("code", code), ("shop", shop), ("state", first.state), ("timestamp", String(Timestamp.now.seconds - 25 * 3600))]
            #expect(try await harness.send(client, .get, Self.callback(stale)).status == .unauthorized)
            // State bound to another shop.
            let other = try await harness.startInstall(client, shop: "callback-b.myshopify.com")
            let crossed = [("code", code), ("shop", shop), ("state", other.state), ("timestamp", now)]
            #expect(try await harness.send(client, .get, Self.callback(crossed)).errorCode == "invalid_callback")
            // A made-up state.
            let madeUp = [("code", code), ("shop", shop), ("state", "0.6784241404160823"), ("timestamp", now)]
            #expect(try await harness.send(client, .get, Self.callback(madeUp)).errorCode == "invalid_callback")
            // The genuine callback works once; replaying its state is refused.
            let good = try await harness.send(client, .get, Self.callback(fields))
            #expect(good.status == .found, "\(good.text)")
            let code2 = await harness.sandbox.shopify.mintCode(shop: shop)
            let replay = [("code", code2), ("shop", shop), ("state", first.state), ("timestamp", now)]
            let replayed = try await harness.send(client, .get, Self.callback(replay))
            #expect(replayed.status == .unauthorized)
            #expect(replayed.errorCode == "invalid_callback")
            // Missing parameters are a bad request.
            #expect(try await harness.send(client, .get, "/shopify/callback?shop=\(shop)").status == .badRequest)
        }
    }

    @Test func sessionTokensAreCheckedStrictly() async throws {
        try await Onboarding.run { harness, client in
            let shop = "session-a.myshopify.com"
            _ = try await harness.install(client, shop: shop)
            let now = Timestamp.now.seconds
            let good = try await harness.send(
                client, .get, "/api/merchant", headers: Onboarding.bearer(Onboarding.sessionToken(shop: shop)))
            #expect(good.status == .ok, "\(good.text)")
            #expect(good.json?["shop"] as? String == shop)
            // Within the 10 s leeway.
            let leeway = Onboarding.sessionToken(shop: shop, exp: now - 5)
            #expect(try await harness.send(client, .get, "/api/merchant", headers: Onboarding.bearer(leeway)).status == .ok)
            let refused = [
                Onboarding.sessionToken(shop: shop, aud: "someone-else"),
                Onboarding.sessionToken(shop: shop, exp: now - 30),
                Onboarding.sessionToken(shop: shop, nbf: now + 60),
                Onboarding.sessionToken(shop: shop, secret: "wrong-secret"),
                Onboarding.sessionToken(shop: shop, iss: "https://other.myshopify.com/admin"),
                Onboarding.sessionToken(shop: "never-installed.myshopify.com"),
                String(Onboarding.sessionToken(shop: shop).dropLast(2)) + "AA",
                "not.a.jwt",
            ]
            for token in refused {
                let reply = try await harness.send(client, .get, "/api/merchant", headers: Onboarding.bearer(token))
                #expect(reply.status == .unauthorized)
                #expect(reply.errorCode == "unauthorized")
            }
            let none = try await harness.send(client, .get, "/api/merchant")
            #expect(none.status == .unauthorized)
            var tampered = Onboarding.cookieHeader("x" + (try await harness.install(client, shop: shop)))
            #expect(try await harness.send(client, .get, "/api/merchant", headers: tampered).status == .unauthorized)
            tampered = Onboarding.cookieHeader("")
            #expect(try await harness.send(client, .get, "/api/merchant", headers: tampered).status == .unauthorized)
        }
    }

    @Test func aMerchantCannotReachAnotherShop() async throws {
        try await Onboarding.run { harness, client in
            let shopA = "cross-a.myshopify.com"
            let shopB = "cross-b.myshopify.com"
            let cookieA = try await harness.ready(client, shop: shopA, key: Onboarding.keyA, secret: "ws_test_a")
            _ = try await harness.ready(client, shop: shopB, key: Onboarding.keyB, secret: "ws_test_b")
            let checkoutB = try await harness.checkoutWithPlan(client, shop: shopB).checkout
            let headersA = Onboarding.cookieHeader(cookieA)
            let asked = try await harness.send(client, .get, "/api/merchant?shop=\(shopB)", headers: headersA)
            #expect(asked.status == .forbidden)
            #expect(asked.errorCode == "forbidden")
            let retry = try await harness.send(
                client, .post, "/api/merchant/orders/\(checkoutB)/retry-sync", headers: headersA)
            #expect(retry.status == .forbidden)
            let page = try await harness.send(client, .get, "/app?shop=\(shopB)", headers: headersA)
            #expect(page.status == .forbidden)
            // A's own data is A's.
            let own = try await harness.send(client, .get, "/api/merchant", headers: headersA)
            #expect(own.json?["shop"] as? String == shopA)
            #expect(own.json?["company_id"] as? String == "biz_test_a")
            // A's own checkout that is not failed: 409 not_failed.
            let checkoutA = try await harness.checkoutWithPlan(client, shop: shopA).checkout
            let notFailed = try await harness.send(
                client, .post, "/api/merchant/orders/\(checkoutA)/retry-sync", headers: headersA)
            #expect(notFailed.status == .conflict)
            #expect(notFailed.errorCode == "not_failed")
        }
    }
}
