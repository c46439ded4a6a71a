import Actors
import Foundation
import HTTPTypes
import HummingbirdTesting
import Net
import Testing

/// One Whop company takes payments for one installed shop: Whop's events carry the company id and Hygge routes
/// them by it (CONTRACT §4), so a second shop with the same company would make routing ambiguous.
struct WhopCompanyPolicyTests {
    static func putKey(_ harness: Onboarding, _ client: any TestClientProtocol, cookie: String, key: String)
        async throws -> Onboarding.Reply
    {
        try await harness.send(
            client, .put, "/api/merchant/whop-key", headers: Onboarding.json(Onboarding.cookieHeader(cookie)),
            body: #"{"api_key":"\#(key)"}"#)
    }

    @Test func theSameCompanyKeyForASecondShopIsRefusedClearly() async throws {
        try await Onboarding.run { harness, client in
            let shopA = "company-a.myshopify.com"
            let shopB = "company-b.myshopify.com"
            let cookieA = try await harness.ready(client, shop: shopA, key: Onboarding.keyA, secret: "ws_test_a")
            let cookieB = try await harness.install(client, shop: shopB)

            // JSON API: 409 with a stable code; nothing stored for B.
            let refused = try await Self.putKey(harness, client, cookie: cookieB, key: Onboarding.keyA)
            #expect(refused.status == .conflict)
            #expect(refused.errorCode == "whop_company_in_use")
            let message = ((refused.json?["error"] as? [String: Any])?["message"] as? String) ?? ""
            #expect(message.contains("already connected to another shop"))
            #expect(!message.contains(shopA))
            let summaryB = try await harness.send(client, .get, "/api/merchant", headers: Onboarding.cookieHeader(cookieB))
            #expect(summaryB.json?["company_id"] == nil || summaryB.json?["company_id"] is NSNull)
            #expect(summaryB.json?["whop_key_fingerprint"] == nil || summaryB.json?["whop_key_fingerprint"] is NSNull)

            // The wizard says so in words, and stays the wizard.
            let wizard = try await harness.send(client, .get, "/app", headers: Onboarding.cookieHeader(cookieB))
            var form = Onboarding.cookieHeader(cookieB)
            form[.contentType] = "application/x-www-form-urlencoded"
            let page = try await harness.send(
                client, .post, "/app/whop-key", headers: form,
                body: AppPagesTests.form([("_csrf", try AppPagesTests.csrf(in: wizard.text)), ("api_key", Onboarding.keyA)]))
            #expect(page.status == .conflict)
            #expect(page.text.contains("This Whop company is already connected to another shop"))
            #expect(page.text.contains(#"data-code="whop_company_in_use""#))
            #expect(page.text.contains("Connect Whop"))
            #expect(!page.text.contains(Onboarding.keyA))

            // Its own company is fine for B; A can paste its key again; A's payments still reach A.
            #expect(try await Self.putKey(harness, client, cookie: cookieB, key: Onboarding.keyB).status == .ok)
            #expect(try await Self.putKey(harness, client, cookie: cookieA, key: "  \(Onboarding.keyA) ").status == .ok)
            // B cannot switch to A's company either.
            #expect(try await Self.putKey(harness, client, cookie: cookieB, key: Onboarding.keyA).errorCode == "whop_company_in_use")
            let (checkout, plan, _) = try await harness.checkoutWithPlan(client, shop: shopA)
            _ = try await harness.pay(client, plan: plan)
            let merchantA = try #require(harness.registry.merchant(MerchantID(shopA)))
            #expect(try await merchantA.checkout(CheckoutID(checkout)).status.isPaid)
        }
    }

    @Test func anUninstalledShopGivesItsCompanyUpAndASwitchReleasesTheOldOne() async throws {
        try await Onboarding.run { harness, client in
            let shopA = "company-c.myshopify.com"
            let shopB = "company-d.myshopify.com"
            _ = try await harness.ready(client, shop: shopA, key: Onboarding.keyA, secret: "ws_test_a")
            let uninstalled = try await harness.shopifyWebhook(
                client, topic: "app/uninstalled", shop: shopA, id: "company-uninstall", body: #"{"id":1}"#)
            #expect(uninstalled.status == .ok)
            // With A uninstalled, B may connect the company; payments for it now go to B.
            let cookieB = try await harness.ready(client, shop: shopB, key: Onboarding.keyA, secret: "ws_test_a")
            let (checkout, plan, _) = try await harness.checkoutWithPlan(client, shop: shopB)
            _ = try await harness.pay(client, plan: plan)
            let merchantB = try #require(harness.registry.merchant(MerchantID(shopB)))
            #expect(try await merchantB.checkout(CheckoutID(checkout)).status.isPaid)

            // A reinstalls: it cannot take payments with the company B now holds, and says why.
            let cookieA = try await harness.install(client, shop: shopA)
            let variant = try #require(await harness.sandbox.shopify.products(shopA).first?.variants.first?.id)
            let refused = try await harness.send(
                client, .post, "/api/checkout/create-from-cart", headers: Onboarding.json(),
                body: #"{"shop":"\#(shopA)","currency":"USD","items":[{"variant_id":\#(variant),"quantity":1}]}"#)
            #expect(refused.status == .conflict)
            #expect(refused.errorCode == "merchant_not_ready")
            let dashboard = try await harness.send(client, .get, "/app", headers: Onboarding.cookieHeader(cookieA))
            #expect(dashboard.text.contains(#"id="company-elsewhere""#))
            #expect(try await Self.putKey(harness, client, cookie: cookieA, key: Onboarding.keyA).errorCode == "whop_company_in_use")

            // B switches to another company: A's old company is free again, and A connects it.
            await harness.sandbox.whop.addCompany(
                id: "biz_test_e", title: "E", apiKey: "apik_test_company_e", webhookSecret: "ws_test_e",
                webhookURL: "\(Onboarding.publicURL)/api/webhooks/whop")
            #expect(try await Self.putKey(harness, client, cookie: cookieB, key: "apik_test_company_e").status == .ok)
            #expect(try await Self.putKey(harness, client, cookie: cookieA, key: Onboarding.keyA).status == .ok)
            let after = try await harness.send(client, .get, "/app", headers: Onboarding.cookieHeader(cookieA))
            #expect(!after.text.contains(#"id="company-elsewhere""#))
        }
    }
}
