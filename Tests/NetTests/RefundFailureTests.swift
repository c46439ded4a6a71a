import Actors
import Foundation
import HTTPTypes
import HummingbirdTesting
import Net
import Testing

/// Shopify-initiated refunds (`refunds/create` → Whop `POST /payments/{id}/refund`) that failed: on the dashboard
/// with their reason, and retried once per click.
struct RefundFailureTests {
    /// A paid, order-synced checkout of a ready shop; returns (cookie, checkout id, Shopify order id, total).
    static func paidAndSynced(_ harness: Onboarding, _ client: any TestClientProtocol, shop: String) async throws
        -> (cookie: String, checkout: String, order: Int64, total: Int64)
    {
        let cookie = try await harness.ready(client, shop: shop, key: Onboarding.keyA, secret: "ws_test_a")
        let (checkout, plan, total) = try await harness.checkoutWithPlan(client, shop: shop)
        _ = try await harness.pay(client, plan: plan)
        let merchant = try #require(harness.registry.merchant(MerchantID(shop)))
        let synced = await Onboarding.eventually {
            (try? await merchant.checkout(CheckoutID(checkout)))?.orderID != nil
        }
        #expect(synced)
        let order = try #require(try await merchant.checkout(CheckoutID(checkout)).orderID)
        return (cookie, checkout, order, total)
    }

    static func refundBody(id: Int64, order: Int64, amount: String) -> String {
        """
        {"id":\(id),"order_id":\(order),"created_at":"2026-01-01T00:00:00Z","note":"","refund_line_items":[],\
        "transactions":[{"id":1,"order_id":\(order),"kind":"refund","status":"success","amount":"\(amount)",\
        "currency":"USD","gateway":"Whop"}]}
        """
    }

    @Test func aRefusedRefundIsShownWithItsReasonAndRetriedOnce() async throws {
        try await Onboarding.run { harness, client in
            let shop = "refund-fail-a.myshopify.com"
            let (cookie, checkout, order, total) = try await Self.paidAndSynced(harness, client, shop: shop)
            let amount = Currency.decimalString(minor: total / 2, currency: "USD")
            await harness.sandbox.whop.failNextRefunds(status: 422)
            let delivered = try await harness.shopifyWebhook(
                client, topic: "refunds/create", shop: shop, id: "rf-1",
                body: Self.refundBody(id: 770001, order: order, amount: amount))
            #expect(delivered.status == .ok)
            #expect(delivered.json?["status"] as? String == "failed")
            #expect(await harness.sandbox.whop.refunds.isEmpty)

            // The dashboard lists it: checkout, amount, reason and stable code, with a retry form.
            let dashboard = try await harness.send(client, .get, "/app", headers: Onboarding.cookieHeader(cookie))
            #expect(dashboard.status == .ok)
            #expect(dashboard.text.contains("Refunds that failed"))
            #expect(dashboard.text.contains("/app/orders/\(checkout)/retry-refund"))
            #expect(dashboard.text.contains("whop_refund_rejected_422"))
            #expect(dashboard.text.contains("Whop rejected the refund (HTTP 422)"))
            #expect(dashboard.text.contains("\(amount) USD"))
            #expect(!dashboard.text.contains("{{"))

            // The retry button (CSRF-checked) refunds on Whop once; a second click finds nothing to retry.
            var form = Onboarding.cookieHeader(cookie)
            form[.contentType] = "application/x-www-form-urlencoded"
            let forged = try await harness.send(
                client, .post, "/app/orders/\(checkout)/retry-refund", headers: form, body: "_csrf=nope")
            #expect(forged.status == .forbidden)
            #expect(await harness.sandbox.whop.refunds.isEmpty)
            let csrf = try AppPagesTests.csrf(in: dashboard.text)
            let retried = try await harness.send(
                client, .post, "/app/orders/\(checkout)/retry-refund", headers: form, body: "_csrf=\(csrf)")
            #expect(retried.status == .seeOther)
            let refunds = await harness.sandbox.whop.refunds
            #expect(refunds.count == 1)
            #expect(refunds.first?.1.flatMap { Currency.parseDecimal($0, currency: "USD") } == total / 2)
            let again = try await harness.send(
                client, .post, "/api/merchant/orders/\(checkout)/retry-refund",
                headers: Onboarding.cookieHeader(cookie))
            #expect(again.status == .conflict)
            #expect(again.errorCode == "refund_not_failed")
            #expect(await harness.sandbox.whop.refunds.count == 1)
            let after = try await harness.send(client, .get, "/app", headers: Onboarding.cookieHeader(cookie))
            #expect(!after.text.contains("/app/orders/\(checkout)/retry-refund"))
            // The same Shopify refund delivered again is still only refunded once.
            let redelivered = try await harness.shopifyWebhook(
                client, topic: "refunds/create", shop: shop, id: "rf-2",
                body: Self.refundBody(id: 770001, order: order, amount: amount))
            #expect(redelivered.status == .ok)
            #expect(await harness.sandbox.whop.refunds.count == 1)
        }
    }

    @Test func aTimedOutRefundStaysAmbiguousAndARetryThatFailsAgainComesBack() async throws {
        try await Onboarding.run { harness, client in
            let shop = "refund-fail-b.myshopify.com"
            let (cookie, checkout, order, total) = try await Self.paidAndSynced(harness, client, shop: shop)
            let headers = Onboarding.cookieHeader(cookie)
            await harness.sandbox.whop.failNextRefunds(status: 503, count: 2)
            let amount = Currency.decimalString(minor: total, currency: "USD")
            let delivered = try await harness.shopifyWebhook(
                client, topic: "refunds/create", shop: shop, id: "rf-3",
                body: Self.refundBody(id: 770002, order: order, amount: amount))
            #expect(delivered.json?["status"] as? String == "failed")
            let dashboard = try await harness.send(client, .get, "/app", headers: headers)
            #expect(dashboard.text.contains("whop_refund_unavailable"))
            #expect(dashboard.text.contains("check this payment in Whop before retrying"))
            // An ambiguous failure keeps its amount counted: a second Shopify refund cannot ask for it again.
            let second = try await harness.shopifyWebhook(
                client, topic: "refunds/create", shop: shop, id: "rf-4",
                body: Self.refundBody(id: 770003, order: order, amount: amount))
            #expect(second.status == .ok)
            #expect(await harness.sandbox.whop.refunds.isEmpty)

            // The retry fails again (503): the refund is back on the list with its error.
            let failed = try await harness.send(
                client, .post, "/api/merchant/orders/\(checkout)/retry-refund", headers: headers)
            #expect(failed.status == .ok)
            #expect(failed.json?["status"] as? String == "failed")
            #expect(failed.json?["error"] as? String == "whop_refund_unavailable")
            // Then it goes through, as a full refund.
            let refunded = try await harness.send(
                client, .post, "/api/merchant/orders/\(checkout)/retry-refund", headers: headers)
            #expect(refunded.status == .ok)
            #expect(refunded.json?["status"] as? String == "refunded")
            let refunds = await harness.sandbox.whop.refunds
            #expect(refunds.count == 1)
            #expect(refunds.first?.1 == nil)
            let none = try await harness.send(
                client, .post, "/api/merchant/orders/\(checkout)/retry-refund", headers: headers)
            #expect(none.errorCode == "refund_not_failed")
        }
    }

    @Test func anotherShopsCheckoutCannotBeRetried() async throws {
        try await Onboarding.run { harness, client in
            let (_, checkout, order, total) = try await Self.paidAndSynced(harness, client, shop: "refund-own-a.myshopify.com")
            await harness.sandbox.whop.failNextRefunds(status: 422)
            _ = try await harness.shopifyWebhook(
                client, topic: "refunds/create", shop: "refund-own-a.myshopify.com", id: "rf-5",
                body: Self.refundBody(
                    id: 770004, order: order, amount: Currency.decimalString(minor: total, currency: "USD")))
            let other = try await harness.install(client, shop: "refund-own-b.myshopify.com")
            let refused = try await harness.send(
                client, .post, "/api/merchant/orders/\(checkout)/retry-refund", headers: Onboarding.cookieHeader(other))
            #expect(refused.status == .forbidden)
            let unknown = try await harness.send(
                client, .post, "/api/merchant/orders/chk_nope/retry-refund", headers: Onboarding.cookieHeader(other))
            #expect(unknown.status == .notFound)
            #expect(await harness.sandbox.whop.refunds.isEmpty)
        }
    }
}
