import Actors
import Foundation
import HTTPTypes
import Net
import Testing

/// `POST /api/webhooks/shopify` (CONTRACT §4).
struct ShopifyWebhookTests {
    @Test func aBadSignatureIsRefused() async throws {
        try await Onboarding.run { harness, client in
            let shop = "hooks-a.myshopify.com"
            _ = try await harness.install(client, shop: shop)
            let forged = try await harness.shopifyWebhook(
                client, topic: "app/uninstalled", shop: shop, id: "w-1", body: #"{"id":1}"#, secret: "other")
            #expect(forged.status == .unauthorized)
            #expect(forged.errorCode == "invalid_signature")
            var headers = Onboarding.json()
            headers[HTTPField.Name("X-Shopify-Topic")!] = "app/uninstalled"
            headers[HTTPField.Name("X-Shopify-Shop-Domain")!] = shop
            let unsigned = try await harness.send(client, .post, "/api/webhooks/shopify", headers: headers, body: "{}")
            #expect(unsigned.status == .unauthorized)
            #expect(await harness.registry.merchant(MerchantID(shop))?.isInstalled == true)
        }
    }

    @Test func uninstallStopsCheckoutsKeepsTheLedgerAndIsDeduplicatedAcrossARestart() async throws {
        let directory = try Onboarding.temporaryDirectory()
        let sandbox = await Onboarding.makeSandbox()
        let shop = "uninstall-a.myshopify.com"
        try await Onboarding.run(directory: directory, sandbox: sandbox) { harness, client in
            let cookie = try await harness.ready(client, shop: shop, key: Onboarding.keyA, secret: "ws_test_a")
            let (_, plan, _) = try await harness.checkoutWithPlan(client, shop: shop)
            _ = try await harness.pay(client, plan: plan)
            let first = try await harness.shopifyWebhook(
                client, topic: "app/uninstalled", shop: shop, id: "uninstall-1", body: #"{"id":1,"domain":"\#(shop)"}"#)
            #expect(first.status == .ok)
            #expect(first.json?["status"] as? String == "recorded")
            let again = try await harness.shopifyWebhook(
                client, topic: "app/uninstalled", shop: shop, id: "uninstall-1", body: #"{"id":1,"domain":"\#(shop)"}"#)
            #expect(again.json?["status"] as? String == "duplicate")
            let variant = try #require(await harness.sandbox.shopify.products(shop).first?.variants.first?.id)
            let refused = try await harness.send(
                client, .post, "/api/checkout/create-from-cart", headers: Onboarding.json(),
                body: #"{"shop":"\#(shop)","currency":"USD","items":[{"variant_id":\#(variant),"quantity":1}]}"#)
            #expect(refused.status == .conflict)
            #expect(refused.errorCode == "merchant_not_ready")
            // The session of an uninstalled shop is over; the ledger is kept.
            #expect(try await harness.send(client, .get, "/api/merchant", headers: Onboarding.cookieHeader(cookie)).status == .unauthorized)
            let merchant = try #require(harness.registry.merchant(MerchantID(shop)))
            #expect(await merchant.ledger(month: Timestamp.now.month).count == 1)
            #expect(await merchant.snapshot().shopifyToken == nil)
        }
        // After a restart (journal replayed) the delivery id is still known.
        try await Onboarding.run(directory: directory, sandbox: sandbox) { harness, client in
            let again = try await harness.shopifyWebhook(
                client, topic: "app/uninstalled", shop: shop, id: "uninstall-1", body: #"{"id":1,"domain":"\#(shop)"}"#)
            #expect(again.status == .ok)
            #expect(again.json?["status"] as? String == "duplicate")
            let merchant = try #require(harness.registry.merchant(MerchantID(shop)))
            #expect(await merchant.ledger(month: Timestamp.now.month).count == 1)
            // Reinstalling brings the shop back.
            _ = try await harness.install(client, shop: shop)
            #expect(await merchant.isInstalled)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test func aRefundDeliveredTwiceRefundsOnWhopOnce() async throws {
        try await Onboarding.run { harness, client in
            let shop = "refund-a.myshopify.com"
            _ = try await harness.ready(client, shop: shop, key: Onboarding.keyA, secret: "ws_test_a")
            let (checkout, plan, total) = try await harness.checkoutWithPlan(client, shop: shop)
            let payment = try await harness.pay(client, plan: plan)
            let merchant = try #require(harness.registry.merchant(MerchantID(shop)))
            let synced = await Onboarding.eventually {
                (try? await merchant.checkout(CheckoutID(checkout)))?.orderID != nil
            }
            #expect(synced)
            let order = try #require(try await merchant.checkout(CheckoutID(checkout)).orderID)
            let partial = Currency.decimalString(minor: total / 4, currency: "USD")
            let body = """
                {"id":890088,"order_id":\(order),"created_at":"2026-01-01T00:00:00Z","note":"",\
                "refund_line_items":[],"transactions":[{"id":1,"order_id":\(order),"kind":"refund",\
                "status":"success","amount":"\(partial)","currency":"USD","gateway":"Whop"}]}
                """
            let first = try await harness.shopifyWebhook(client, topic: "refunds/create", shop: shop, id: "r-1", body: body)
            #expect(first.status == .ok)
            #expect(first.json?["status"] as? String == "refunded")
            // The same delivery again, and the same refund under a new delivery id.
            let again = try await harness.shopifyWebhook(client, topic: "refunds/create", shop: shop, id: "r-1", body: body)
            #expect(again.json?["status"] as? String == "duplicate")
            let redelivered = try await harness.shopifyWebhook(
                client, topic: "refunds/create", shop: shop, id: "r-2", body: body)
            #expect(redelivered.status == .ok)
            let refunds = await harness.sandbox.whop.refunds
            #expect(refunds.count == 1)
            #expect(refunds.first?.0 == payment)
            #expect(refunds.first?.1.flatMap { Currency.parseDecimal($0, currency: "USD") } == total / 4)
            // A second, larger refund is capped at what is left of the payment.
            let rest = body.replacingOccurrences(of: "890088", with: "890089")
                .replacingOccurrences(of: "\"amount\":\"\(partial)\"", with: "\"amount\":\"99999.00\"")
            let capped = try await harness.shopifyWebhook(client, topic: "refunds/create", shop: shop, id: "r-3", body: rest)
            #expect(capped.json?["status"] as? String == "refunded")
            let all = await harness.sandbox.whop.refunds
            #expect(all.count == 2)
            #expect(all.last?.1.flatMap { Currency.parseDecimal($0, currency: "USD") } == total - total / 4)
            // Nothing is left to refund.
            let more = rest.replacingOccurrences(of: "890089", with: "890090")
            let nothing = try await harness.shopifyWebhook(client, topic: "refunds/create", shop: shop, id: "r-4", body: more)
            #expect(nothing.status == .ok)
            #expect(await harness.sandbox.whop.refunds.count == 2)
        }
    }

    @Test func complianceTopicsEraseBuyerDataAndSecrets() async throws {
        try await Onboarding.run { harness, client in
            let shop = "gdpr-a.myshopify.com"
            _ = try await harness.ready(client, shop: shop, key: Onboarding.keyA, secret: "ws_test_a")
            let variant = try #require(await harness.sandbox.shopify.products(shop).first?.variants.first?.id)
            let created = try await harness.send(
                client, .post, "/api/checkout/create-from-cart", headers: Onboarding.json(),
                body: #"{"shop":"\#(shop)","currency":"USD","email":"buyer@example.com","items":[{"variant_id":\#(variant),"quantity":1}]}"#)
            let checkout = CheckoutID(try #require(created.json?["checkout_id"] as? String))
            let merchant = try #require(harness.registry.merchant(MerchantID(shop)))
            #expect(try await merchant.checkout(checkout).email == "buyer@example.com")
            let request = try await harness.shopifyWebhook(
                client, topic: "customers/data_request", shop: shop, id: "c-1",
                body: #"{"shop_domain":"\#(shop)","customer":{"id":1,"email":"buyer@example.com"},"orders_requested":[1]}"#)
            #expect(request.status == .ok)
            let redact = try await harness.shopifyWebhook(
                client, topic: "customers/redact", shop: shop, id: "c-2",
                body: #"{"shop_domain":"\#(shop)","customer":{"id":1,"email":"BUYER@example.com"},"orders_to_redact":[]}"#)
            #expect(redact.status == .ok)
            #expect(try await merchant.checkout(checkout).email == nil)
            let shopRedact = try await harness.shopifyWebhook(
                client, topic: "shop/redact", shop: shop, id: "c-3", body: #"{"shop_id":1,"shop_domain":"\#(shop)"}"#)
            #expect(shopRedact.status == .ok)
            let state = await merchant.snapshot()
            #expect(state.whopKey == nil && state.webhookSecret == nil && state.shopifyToken == nil)
            // A shop Hygge never saw: nothing to erase.
            let unknown = try await harness.shopifyWebhook(
                client, topic: "shop/redact", shop: "never-seen.myshopify.com", id: "c-4", body: #"{"shop_id":2}"#)
            #expect(unknown.status == .ok)
        }
    }
}
