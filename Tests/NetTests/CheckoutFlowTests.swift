import Actors
import Foundation
import NIOHTTP1
import Net
import Testing

@Suite("The paid-checkout flow over HTTP", .serialized)
struct CheckoutFlowTests {
    @Test("create-from-cart → get-plan → pay → one paid order in Shopify, tagged hygge-checkout")
    func flow() async throws {
        try await LiveServer.with { live in
            let created = try await live.post(
                "/api/checkout/create-from-cart",
                json: [
                    "shop": live.demo.shop.rawValue, "currency": "USD",
                    "items": [["variant_id": live.firstVariant, "quantity": 2]],
                    "client_total": ["amount": 1, "currency": "USD"],
                ])
            #expect(created.status == 201)
            let json = try #require(created.json)
            #expect((json["total"] as? [String: Any])?["amount"] as? Int == 25_800)
            #expect(json["client_total_mismatch"] as? Bool == true)
            #expect(json["status"] as? String == "open")
            let id = try #require(json["checkout_id"] as? String)
            #expect(id.hasPrefix("chk_"))

            let plan = try await live.post("/api/checkout/get-plan", json: ["checkout_id": id])
            #expect(plan.status == 200)
            let planID = try #require(plan.json?["plan_id"] as? String)
            let again = try await live.post("/api/checkout/get-plan", json: ["checkout_id": id])
            #expect(again.json?["plan_id"] as? String == planID)

            let pay = try await live.post("/sandbox/whop/pay", json: ["plan_id": planID])
            #expect(pay.json?["webhook_status"] as? Int == 200)
            let synced = try await live.waitStatus(id) { $0 == "order_synced" }
            #expect(synced["shopify_order_name"] as? String == "#1001")
            #expect((synced["payment_id"] as? String)?.hasPrefix("pay_") == true)
            let paidAgain = try await live.post("/api/checkout/get-plan", json: ["checkout_id": id])
            #expect(paidAgain.json?["status"] as? String == "order_synced")

            let orders = try await live.orders()
            #expect(orders.count == 1)
            let order = try #require(orders.first)
            #expect(order["source_identifier"] as? String == id)
            #expect((order["tags"] as? String)?.contains("hygge-checkout") == true)
            #expect(order["financial_status"] as? String == "paid")
            #expect(order["total_price"] as? String == "258.00")
        }
    }

    @Test("an Idempotency-Key replays the first answer; a different body is 409")
    func idempotencyKey() async throws {
        try await LiveServer.with { live in
            let body: [String: Any] = [
                "shop": live.demo.shop.rawValue, "currency": "USD", "items": [["variant_id": live.firstVariant, "quantity": 1]],
            ]
            let first = try await live.post("/api/checkout/create-from-cart", json: body, headers: [("Idempotency-Key", "k-1")])
            let second = try await live.post("/api/checkout/create-from-cart", json: body, headers: [("Idempotency-Key", "k-1")])
            #expect(first.status == 201)
            #expect(second.status == first.status)
            #expect(second.json?["checkout_id"] as? String == first.json?["checkout_id"] as? String)
            var other = body
            other["items"] = [["variant_id": live.firstVariant, "quantity": 3]]
            let reused = try await live.post("/api/checkout/create-from-cart", json: other, headers: [("Idempotency-Key", "k-1")])
            #expect(reused.status == 409)
            #expect(reused.errorCode == "idempotency_key_reused")
        }
    }

    @Test("bad input gets a stable JSON error code and the request id")
    func errors() async throws {
        try await LiveServer.with { live in
            let shop = live.demo.shop.rawValue
            let cases: [(String, String, Data?, Int, String)] = [
                ("POST", "/api/checkout/create-from-cart", Data("{not json".utf8), 400, "invalid_request"),
                ("POST", "/api/checkout/create-from-cart", Data(#"{"shop":"\#(shop)","currency":"USD","items":[]}"#.utf8), 400, "invalid_request"),
                ("POST", "/api/checkout/create-from-cart", Data(#"{"shop":"\#(shop)","currency":"USD","items":[{"variant_id":450789469002,"quantity":0}]}"#.utf8), 400, "invalid_request"),
                ("POST", "/api/checkout/create-from-cart", Data(#"{"shop":"\#(shop)","currency":"USD","items":[{"variant_id":450789469002,"quantity":1000}]}"#.utf8), 400, "invalid_request"),
                ("POST", "/api/checkout/create-from-cart", Data(#"{"shop":"\#(shop)","currency":"US","items":[{"variant_id":450789469002,"quantity":1}]}"#.utf8), 400, "invalid_request"),
                ("POST", "/api/checkout/create-from-cart", Data(#"{"shop":"nobody.myshopify.com","currency":"USD","items":[{"variant_id":1,"quantity":1}]}"#.utf8), 404, "unknown_shop"),
                ("POST", "/api/checkout/create-from-cart", Data(#"{"shop":"\#(shop)","currency":"USD","items":[{"variant_id":1,"quantity":1}]}"#.utf8), 422, "variant_not_found"),
                ("POST", "/api/checkout/get-plan", Data(#"{"checkout_id":"chk_000000000000000000000000"}"#.utf8), 404, "unknown_checkout"),
                ("POST", "/api/checkout/get-plan", Data(#"{}"#.utf8), 400, "invalid_request"),
                ("GET", "/api/checkout/chk_000000000000000000000000", nil, 404, "unknown_checkout"),
                ("GET", "/api/checkout/..%2F..%2Fetc", nil, 404, "unknown_checkout"),
                ("GET", "/no/such/route", nil, 404, "not_found"),
                ("POST", "/admin/snapshot", nil, 401, "unauthorized"),
                ("POST", "/api/webhooks/whop", Data("{}".utf8), 401, "invalid_signature"),
            ]
            for (method, path, body, status, code) in cases {
                let reply = try await live.request(method, path, body: body)
                #expect(reply.status == status, "\(method) \(path) \(body.map { String(decoding: $0, as: UTF8.self) } ?? "")")
                #expect(reply.errorCode == code, "\(method) \(path): \(reply.text)")
                let requestID = try #require(reply.headers.first(name: "X-Request-Id"))
                #expect((reply.json?["error"] as? [String: Any])?["request_id"] as? String == requestID)
                #expect(((reply.json?["error"] as? [String: Any])?["message"] as? String)?.isEmpty == false)
                #expect(reply.headers.first(name: "Content-Type")?.hasPrefix("application/json") == true)
            }
        }
    }

    @Test("CORS answers only the merchant's storefront origins")
    func cors() async throws {
        try await LiveServer.with { live in
            let own = try await live.request(
                "OPTIONS", "/api/checkout/create-from-cart",
                headers: [("Origin", live.base), ("Access-Control-Request-Method", "POST")])
            #expect(own.headers.first(name: "Access-Control-Allow-Origin") == live.base)
            let shop = try await live.request(
                "GET", "/api/checkout/chk_000000000000000000000000", headers: [("Origin", "https://\(live.demo.shop)")])
            #expect(shop.headers.first(name: "Access-Control-Allow-Origin") == "https://\(live.demo.shop)")
            let evil = try await live.request(
                "OPTIONS", "/api/checkout/create-from-cart",
                headers: [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "POST")])
            #expect(evil.headers.first(name: "Access-Control-Allow-Origin") == nil)
        }
    }

    @Test("no response carries a secret of the demo merchant")
    func noSecretsInResponses() async throws {
        try await LiveServer.with { live in
            let (id, _) = try await live.planned()
            let auth = [("Authorization", "Bearer admin-test-token")]
            var bodies: [String] = []
            for (method, path) in [
                ("GET", "/api/checkout/\(id)"), ("GET", "/admin/merchants"), ("GET", "/metrics"), ("GET", "/readyz"),
                ("GET", "/embed/cart.js?shop=\(live.demo.shop)"), ("POST", "/admin/snapshot"),
            ] {
                let reply = try await live.request(method, path, headers: auth)
                #expect(reply.status < 400, "\(path) \(reply.status)")
                bodies.append(reply.text + String(describing: reply.headers))
            }
            for body in bodies {
                for secret in [live.demo.whopKey, live.demo.webhookSecret, live.demo.shopifyToken] {
                    #expect(!body.contains(secret))
                }
            }
        }
    }
}
