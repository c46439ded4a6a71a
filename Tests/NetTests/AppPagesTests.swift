import Actors
import Foundation
import HTTPTypes
import Net
import Testing

/// The server-rendered merchant app (`/app*`).
struct AppPagesTests {
    static func csrf(in html: String) throws -> String {
        let marker = #"name="_csrf" value=""#
        let start = try #require(html.range(of: marker)).upperBound
        return String(html[start...].prefix { $0 != "\"" })
    }

    static func form(_ fields: [(String, String)]) -> String {
        fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            .joined(separator: "&")
    }

    static func formHeaders(_ cookie: String) -> HTTPFields {
        var headers = Onboarding.cookieHeader(cookie)
        headers[.contentType] = "application/x-www-form-urlencoded"
        return headers
    }

    @Test func wizardDashboardAndIntegrationsRender() async throws {
        try await Onboarding.run { harness, client in
            let shop = "pages-a.myshopify.com"
            // Signed out: a known shop is sent to install, an unknown visitor gets a page.
            let anonymous = try await harness.send(client, .get, "/app?shop=\(shop)")
            #expect(anonymous.status == .found)
            #expect(anonymous.headers[.location] == "/shopify/install?shop=\(shop)")
            #expect(try await harness.send(client, .get, "/app").status == .unauthorized)

            let cookie = try await harness.install(client, shop: shop)
            let wizard = try await harness.send(client, .get, "/app", headers: Onboarding.cookieHeader(cookie))
            #expect(wizard.status == .ok)
            #expect(wizard.headers[.contentType]?.hasPrefix("text/html") == true)
            let csp = try #require(wizard.headers[.contentSecurityPolicy])
            #expect(csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe"))
            #expect(wizard.text.contains("Connect Whop"))
            #expect(wizard.text.components(separatedBy: "<input id=").count - 1 == 1)
            #expect(!wizard.text.contains("{{"))
            let csrf = try Self.csrf(in: wizard.text)
            #expect(!csrf.isEmpty)

            // No CSRF token (or a wrong one): refused.
            let forged = try await harness.send(
                client, .post, "/app/whop-key", headers: Self.formHeaders(cookie),
                body: Self.form([("api_key", Onboarding.keyA)]))
            #expect(forged.status == .forbidden)
            let wrong = try await harness.send(
                client, .post, "/app/whop-key", headers: Self.formHeaders(cookie),
                body: Self.form([("_csrf", "x" + csrf), ("api_key", Onboarding.keyA)]))
            #expect(wrong.status == .forbidden)

            // A user key fails with the three checks.
            let failed = try await harness.send(
                client, .post, "/app/whop-key", headers: Self.formHeaders(cookie),
                body: Self.form([("_csrf", csrf), ("api_key", Onboarding.userKey)]))
            #expect(failed.status == .unprocessableContent)
            #expect(failed.text.contains("This key didn&#39;t validate") || failed.text.contains("This key didn't validate"))
            #expect(failed.text.contains("Company API Keys"))
            #expect(failed.text.contains("Admin"))
            #expect(failed.text.contains("whitespace"))
            #expect(!failed.text.contains(Onboarding.userKey))

            // A good key with whitespace around it connects, and only its fingerprint is shown.
            let connected = try await harness.send(
                client, .post, "/app/whop-key", headers: Self.formHeaders(cookie),
                body: Self.form([("_csrf", csrf), ("api_key", "  \(Onboarding.keyA) ")]))
            #expect(connected.status == .seeOther)
            let dashboard = try await harness.send(client, .get, "/app", headers: Onboarding.cookieHeader(cookie))
            #expect(dashboard.status == .ok)
            #expect(dashboard.text.contains("Dashboard"))
            #expect(dashboard.text.contains("…" + String(Onboarding.keyA.suffix(4))))
            #expect(dashboard.text.contains("Order syncs that failed"))
            #expect(dashboard.text.contains("Recent checkouts"))
            #expect(!dashboard.text.contains(Onboarding.keyA))

            // Integrations → Whop: the webhook URL, the secret form, whether a signed event arrived.
            let whop = try await harness.send(
                client, .get, "/app/integrations/whop", headers: Onboarding.cookieHeader(cookie))
            #expect(whop.text.contains("\(Onboarding.publicURL)/api/webhooks/whop"))
            #expect(whop.text.contains("not yet"))
            let saved = try await harness.send(
                client, .post, "/app/webhook-secret", headers: Self.formHeaders(cookie),
                body: Self.form([("_csrf", try Self.csrf(in: whop.text)), ("secret", "ws_test_a")]))
            #expect(saved.status == .seeOther)
            let (checkout, plan, _) = try await harness.checkoutWithPlan(client, shop: shop)
            _ = try await harness.pay(client, plan: plan)
            let after = try await harness.send(
                client, .get, "/app/integrations/whop", headers: Onboarding.cookieHeader(cookie))
            #expect(after.text.contains(#"<span class="ok" id="received">yes</span>"#))
            #expect(!after.text.contains("ws_test_a"))
            let withCheckout = try await harness.send(client, .get, "/app", headers: Onboarding.cookieHeader(cookie))
            #expect(withCheckout.text.contains(checkout))
            let settings = try await harness.send(client, .get, "/app/settings", headers: Onboarding.cookieHeader(cookie))
            #expect(settings.text.contains("biz_test_a"))
            #expect(try await harness.send(client, .get, "/assets/hygge.css").status == .ok)
            let token = await harness.sandbox.shopify.token(of: shop) ?? "-"
            for text in harness.bodies.texts {
                #expect(!text.contains(Onboarding.keyA))
                #expect(!text.contains("ws_test_a"))
                #expect(!text.contains(token))
            }
        }
    }

    @Test func pagesEscapeWhatTheyShow() async throws {
        try await Onboarding.run { harness, client in
            let shop = "escape-a.myshopify.com"
            let cookie = try await harness.install(client, shop: shop)
            // A company id (from Whop) with markup in it is shown escaped.
            let merchant = try #require(harness.registry.merchant(MerchantID(shop)))
            try await merchant.setWhopKey("apik_x\"<i>", companyID: "biz_<b>bold</b>", now: .now)
            let page = try await harness.send(client, .get, "/app", headers: Onboarding.cookieHeader(cookie))
            #expect(page.status == .ok)
            #expect(page.text.contains("biz_&lt;b&gt;bold&lt;/b&gt;"))
            #expect(!page.text.contains("<b>bold"))
            #expect(!page.text.contains("<i>"))
        }
    }
}
