import Actors
import Crypto
import Foundation
import Net
import Testing

/// Webhooks as Whop and Shopify really deliver them: twice, under new ids, out of order; refunds in parts. The
/// money invariants (`Invariants`) hold at the end.
@Suite("Duplicate, reordered and partial webhooks over HTTP")
struct WebhookOrderingTests {
    /// A Shopify webhook signed with the sandbox app secret.
    static func shopifyWebhook(_ live: LiveServer, topic: String, id: String, body: String) async throws
        -> LiveServer.Reply
    {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array(body.utf8), using: SymmetricKey(data: Array(Onboarding.apiSecret.utf8)))
        return try await live.request(
            "POST", "/api/webhooks/shopify",
            headers: [
                ("Content-Type", "application/json"), ("X-Shopify-Hmac-Sha256", Data(mac).base64EncodedString()),
                ("X-Shopify-Topic", topic), ("X-Shopify-Shop-Domain", live.demo.shop.rawValue),
                ("X-Shopify-Webhook-Id", id),
            ],
            body: Data(body.utf8))
    }

    static func refundBody(refund: Int, order: Int64, amount: String) -> String {
        """
        {"id":\(refund),"order_id":\(order),"created_at":"2026-01-01T00:00:00Z","note":"","refund_line_items":[],\
        "transactions":[{"id":\(refund + 1),"order_id":\(order),"kind":"refund","status":"success",\
        "amount":"\(amount)","currency":"USD","gateway":"Whop"}]}
        """
    }

    @Test("duplicate and reordered payment and refund events, then a partial and a full refund: counted once each")
    func orderingAndRefunds() async throws {
        try await LiveServer.with { live in
            let sandbox = try #require(live.server.sandbox)
            let secret = live.demo.webhookSecret
            let (id, plan) = try await live.planned()
            _ = try await live.post("/sandbox/whop/pay", json: ["plan_id": plan])
            let synced = try await live.waitStatus(id) { $0 == "order_synced" }
            let payment = try #require(synced["payment_id"] as? String)
            let order = Int64(try #require(synced["shopify_order_id"] as? Int))

            // Whop retries the payment under a new message id: a duplicate, no second row or order.
            let again = """
                {"id":"msg_again","api_version":"v1","timestamp":"\(Timestamp.now.iso8601)","type":"payment.succeeded",\
                "company_id":"\(live.demo.companyID)","data":{"id":"\(payment)","status":"paid","substatus":"succeeded",\
                "total":129.0,"currency":"usd","metadata":{"hygge_checkout_id":"\(id)"},"plan":{"id":"\(plan)"}}}
                """
            let duplicate = try await live.webhook(body: Data(again.utf8), secret: secret, id: "msg_again_1")
            #expect(duplicate.status == 200)
            // An earlier failed attempt, delivered after the success: the checkout stays paid.
            let failed = """
                {"id":"msg_failed","api_version":"v1","timestamp":"\(Timestamp.now.iso8601)","type":"payment.failed",\
                "company_id":"\(live.demo.companyID)","data":{"id":"pay_earlier_attempt","status":"open",\
                "substatus":"failed","total":129.0,"currency":"usd","metadata":{"hygge_checkout_id":"\(id)"},\
                "plan":{"id":"\(plan)"}}}
                """
            #expect(try await live.webhook(body: Data(failed.utf8), secret: secret, id: "msg_failed_1").status == 200)
            #expect(try await live.waitStatus(id) { _ in true }["status"] as? String == "order_synced")

            // A partial refund on Whop whose refund.updated (succeeded) overtakes its refund.created, and whose
            // refund.created then arrives twice under different message ids.
            let refunded = await sandbox.whop.refund(
                authorization: "Bearer \(live.demo.whopKey)", paymentID: payment,
                body: Data(#"{"partial_amount":29.00}"#.utf8))
            #expect(refunded.status == 200)
            let created = try #require(await sandbox.whop.takeRefundDeliveries().first)
            let createdText = String(decoding: created.body, as: UTF8.self)
            let updated = Data(createdText.replacingOccurrences(of: "\"refund.created\"", with: "\"refund.updated\"").utf8)
            #expect(try await live.webhook(body: updated, secret: secret, id: "msg_refund_updated").status == 200)
            #expect(try await live.webhook(body: created.body, secret: secret, id: "msg_refund_created").status == 200)
            #expect(try await live.webhook(body: created.body, secret: secret, id: "msg_refund_created_2").status == 200)
            #expect(try await live.waitStatus(id) { _ in true }["status"] as? String == "partially_refunded")
            let partial = try await Invariants.check(live, checkouts: [id])
            #expect(partial.refunds == 2_900)

            // The merchant refunds the rest in Shopify: Hygge refunds it on Whop, Whop's refund.created closes it.
            let rest = try await Self.shopifyWebhook(
                live, topic: "refunds/create", id: "shopify-refund-1",
                body: Self.refundBody(refund: 7001, order: order, amount: "100.00"))
            #expect(rest.status == 200)
            _ = try await live.waitStatus(id) { $0 == "refunded" }
            // The same Shopify refund redelivered, and a further refund with nothing left: no Whop call.
            let whopRefunds = await sandbox.whop.refunds.count
            let redelivered = try await Self.shopifyWebhook(
                live, topic: "refunds/create", id: "shopify-refund-1b",
                body: Self.refundBody(refund: 7001, order: order, amount: "100.00"))
            #expect(redelivered.status == 200)
            let more = try await Self.shopifyWebhook(
                live, topic: "refunds/create", id: "shopify-refund-2",
                body: Self.refundBody(refund: 7003, order: order, amount: "10.00"))
            #expect(more.status == 200)
            #expect(await sandbox.whop.refunds.count == whopRefunds)
            let report = try await Invariants.check(live, checkouts: [id])
            #expect(report.refunds == 12_900)
            #expect(report.gross == 12_900)
            #expect(report.orders == 1)
        }
    }

    @Test("a Whop refund delivered before its payment.succeeded is kept and applied when the payment arrives")
    func refundOvertakesPayment() async throws {
        try await LiveServer.with { live in
            let sandbox = try #require(live.server.sandbox)
            let secret = live.demo.webhookSecret
            let (id, plan) = try await live.planned()
            let configuration = try #require(await sandbox.whop.configuration(matching: plan))
            // Whop takes the payment and a partial refund; its webhooks reach Hygge in the opposite order.
            guard case .success(let payment) = await sandbox.whop.pay(
                configurationID: configuration.id, outcome: "succeeded", amountMinor: nil)
            else { throw Failure("the sandbox refused the payment") }
            let refunded = await sandbox.whop.refund(
                authorization: "Bearer \(live.demo.whopKey)", paymentID: payment.paymentID,
                body: Data(#"{"partial_amount":29.00}"#.utf8))
            #expect(refunded.status == 200)
            let refund = try #require(await sandbox.whop.takeRefundDeliveries().first)
            let early = try await live.webhook(body: refund.body, secret: secret, id: "msg_refund_early")
            #expect(early.status == 200)
            #expect(early.json?["status"] as? String == "parked")
            #expect(try await live.webhook(body: refund.body, secret: secret, id: "msg_refund_early_2").json?["status"] as? String == "duplicate")
            let paid = try await live.webhook(body: payment.body, secret: secret, id: "msg_payment_late")
            #expect(paid.json?["status"] as? String == "recorded")
            _ = try await live.waitStatus(id) { $0 == "partially_refunded" }
            // The order is posted all the same (the status no longer says when: wait for its id).
            let ordered = try await live.waitCheckout(id) { $0["shopify_order_id"] is Int }
            #expect(ordered["status"] as? String == "partially_refunded")
            let report = try await Invariants.check(live, checkouts: [id])
            #expect(report.gross == 12_900)
            #expect(report.refunds == 2_900)
            #expect(report.orders == 1)
            // The refund delivered once more after the payment: still counted once.
            #expect(try await live.webhook(body: refund.body, secret: secret, id: "msg_refund_late").json?["status"] as? String == "duplicate")
            #expect(try await Invariants.check(live, checkouts: [id]).refunds == 2_900)
        }
    }

    @Test("a payment that arrives after its checkout expired is still recorded, ordered once and flagged late")
    func latePayment() async throws {
        try await LiveServer.with(configure: { $0.settings.checkoutTTL = .seconds(2) }) { live in
            let (id, plan) = try await live.planned()
            // The checkout's lifetime is wall-clock time: get-plan keeps answering the plan until it has passed.
            var expired = try await live.post("/api/checkout/get-plan", json: ["checkout_id": id])
            for _ in 0..<200 where expired.status == 200 {
                try await Task.sleep(for: .milliseconds(25))
                expired = try await live.post("/api/checkout/get-plan", json: ["checkout_id": id])
            }
            #expect(expired.status == 410)
            #expect(expired.errorCode == "checkout_expired")
            #expect(try await live.waitStatus(id) { _ in true }["status"] as? String == "expired")
            try await Invariants.check(live, checkouts: [id])  // the reservation is released
            // Whop took the money anyway (the buyer paid on a page opened in time).
            let pay = try await live.post("/sandbox/whop/pay", json: ["plan_id": plan])
            #expect(pay.json?["webhook_status"] as? Int == 200)
            let synced = try await live.waitStatus(id) { $0 == "order_synced" }
            #expect(synced["late_payment"] as? Bool == true)
            let report = try await Invariants.check(live, checkouts: [id])
            #expect(report.paid == 1)
            #expect(report.orders == 1)
        }
    }
}
