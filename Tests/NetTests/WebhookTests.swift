import Actors
import Foundation
import NIOHTTP1
import Net
import Testing

@Suite("Whop webhooks: signatures, dedupe and routing", .serialized)
struct WebhookTests {
    @Test("the Standard Webhooks reference vector (CONTRACT §8)")
    func referenceVector() throws {
        let body = Data(#"{"test": 2432232314}"#.utf8)
        let signature = StandardWebhooks.sign(
            secret: "ws_test_secret", id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330", body: body)
        #expect(signature == "v1,ZGsK9U9L+WPr5534oMojEZlwYkrFG1ZObyI7M1Suhx4=")
        try StandardWebhooks.verify(
            secret: "ws_test_secret", id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330",
            signatures: "v1,bm90IGl0 v1a,whatever \(signature)", body: body, now: 1_614_265_330 + 299)
        #expect(throws: StandardWebhooks.Rejection.staleTimestamp) {
            try StandardWebhooks.verify(
                secret: "ws_test_secret", id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330",
                signatures: signature, body: body, now: 1_614_265_330 + 301)
        }
        #expect(throws: StandardWebhooks.Rejection.badSignature) {
            try StandardWebhooks.verify(
                secret: "ws_test_secret", id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330",
                signatures: signature, body: Data(#"{"test": 2432232315}"#.utf8), now: 1_614_265_330)
        }
        #expect(throws: StandardWebhooks.Rejection.missingHeaders) {
            try StandardWebhooks.verify(
                secret: "ws_test_secret", id: nil, timestamp: "1614265330", signatures: signature, body: body,
                now: 1_614_265_330)
        }
    }

    @Test("constant-time comparison compares whole strings")
    func constantTime() {
        #expect(StandardWebhooks.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!StandardWebhooks.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!StandardWebhooks.constantTimeEquals([0, 2, 3], [1, 2, 3]))
        #expect(!StandardWebhooks.constantTimeEquals([1, 2], [1, 2, 3]))
    }

    static func paymentBody(company: String, checkout: String, plan: String, payment: String, total: String = "129.00")
        -> Data
    {
        Data(
            """
            {"id":"msg_x","api_version":"v1","timestamp":"2026-12-03T00:00:00Z","type":"payment_succeeded",
             "company_id":"\(company)","data":{"id":"\(payment)","status":"paid","total":\(total),"currency":"usd",
             "metadata":{"hygge_checkout_id":"\(checkout)"},"plan":{"id":"\(plan)"}}}
            """.utf8)
    }

    @Test("forged, stale, unsigned, cross-merchant and replayed deliveries")
    func hostileDeliveries() async throws {
        try await LiveServer.with { live in
            let sandbox = try #require(live.server.sandbox)
            _ = try await sandbox.seedLoadMerchants(count: 1, registry: live.server.registry, whop: live.server.whop)
            let (checkout, plan) = try await live.planned()
            let body = Self.paymentBody(company: live.demo.companyID, checkout: checkout, plan: plan, payment: "pay_t1")
            let secret = live.demo.webhookSecret

            let forged = try await live.webhook(body: body, secret: "ws_not_the_secret")
            #expect(forged.status == 401)
            #expect(forged.errorCode == "invalid_signature")
            let stale = try await live.webhook(body: body, secret: secret, timestamp: Timestamp.now.seconds - 301)
            #expect(stale.status == 401)
            let future = try await live.webhook(body: body, secret: secret, timestamp: Timestamp.now.seconds + 330)  // margin: the server reads its clock later
            #expect(future.status == 401)
            let unsigned = try await live.request("POST", "/api/webhooks/whop", body: body)
            #expect(unsigned.status == 401)
            let garbage = try await live.webhook(body: body, secret: secret, signature: "v1,AAAA v2,BBBB")
            #expect(garbage.status == 401)
            // Signed with another merchant's (valid) secret: still refused for this merchant.
            let cross = try await live.webhook(body: body, secret: "ws_sandbox_load_0")
            #expect(cross.status == 401)
            // The platform secret never verifies merchant events.
            let platform = try await live.webhook(body: body, secret: "ws_platform")
            #expect(platform.status == 401)
            #expect(try await live.request("GET", "/api/checkout/\(checkout)").json?["status"] as? String == "awaiting_payment")

            let unknown = try await live.webhook(
                body: Self.paymentBody(company: "biz_nobody", checkout: checkout, plan: plan, payment: "pay_t1"),
                secret: secret)
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "unknown_merchant")
            let unparseable = try await live.webhook(body: Data("{\"type\":".utf8), secret: secret)
            #expect(unparseable.status == 400)
            #expect(unparseable.errorCode == "invalid_payload")

            let good = try await live.webhook(body: body, secret: secret, id: "msg_once")
            #expect(good.status == 200)
            let replay = try await live.webhook(body: body, secret: secret, id: "msg_once")
            #expect(replay.status == 200)
            let twin = try await live.webhook(body: body, secret: secret, id: "msg_twin")
            #expect(twin.status == 200)
            _ = try await live.waitStatus(checkout) { $0 == "order_synced" }
            #expect(try await live.orders().count == 1)
            let merchant = try #require(live.server.registry.merchant(live.demo.shop))
            #expect(await merchant.summary(now: .now).usage.paid == 1)
        }
    }

    @Test("a payment whose amount differs is recorded as amount_mismatch with no order")
    func tamperedAmount() async throws {
        try await LiveServer.with { live in
            let (checkout, plan) = try await live.planned()
            let pay = try await live.post("/sandbox/whop/pay", json: ["plan_id": plan, "amount": 100])
            #expect(pay.json?["webhook_status"] as? Int == 200)
            _ = try await live.waitStatus(checkout) { $0 == "amount_mismatch" }
            #expect(try await live.orders().isEmpty)
        }
    }

    @Test("platform events change the tier; a merchant secret never works on the platform endpoint")
    func platformTiers() async throws {
        try await LiveServer.with(configure: {
            $0.platformWebhookSecret = "ws_platform"
            $0.settings.tiers = ["plan_pro": 2]
        }) { live in
            let shop = live.demo.shop.rawValue
            let body = Data(
                #"{"type":"membership.activated","data":{"id":"mem_1","plan":{"id":"plan_pro"},"metadata":{"shop":"\#(shop)"}}}"#
                    .utf8)
            let merchantSigned = try await live.webhook("/api/webhooks/whop/platform", body: body, secret: live.demo.webhookSecret)
            #expect(merchantSigned.status == 401)
            let merchant = try #require(live.server.registry.merchant(live.demo.shop))
            #expect(await merchant.summary(now: .now).monthlyLimit == live.demo.monthlyLimit)
            let signed = try await live.webhook("/api/webhooks/whop/platform", body: body, secret: "ws_platform")
            #expect(signed.status == 200)
            #expect(await merchant.summary(now: .now).monthlyLimit == 2)
            // The new limit applies to the next get-plan.
            _ = try await live.planned()
            _ = try await live.planned()
            let third = try await live.createCheckout()
            let id = try #require(third.json?["checkout_id"] as? String)
            let refused = try await live.post("/api/checkout/get-plan", json: ["checkout_id": id])
            #expect(refused.status == 429)
            #expect(refused.errorCode == "monthly_limit_reached")
        }
    }
}
