import Actors
import Foundation
import Net
import Testing

@Suite("hygge loadtest against a live sandbox server", .serialized)
struct LoadTestTests {
    @Test("the flow mode over 3 merchants: every paid checkout has one order, ledger grows by exactly the payments")
    func flowIsCorrect() async throws {
        try await LiveServer.with { live in
            var options = LoadTestOptions(url: live.base)
            options.merchants = 3
            options.checkouts = 24
            options.concurrency = 6
            options.adminToken = "admin-test-token"
            options.progress = .none
            let runner = LoadTestRunner(options: options, log: { _ in })
            let result = try await runner.run()
            await runner.shutdown()
            #expect(result.errors.isEmpty)
            #expect(result.completed == 24)
            let check = try #require(result.correctness)
            #expect(check.paid == 24)
            #expect(check.orders_ok == 24)
            #expect(check.ledger.checked && check.ledger.ok)
            #expect(result.passed)
            for step in ["create_from_cart", "get_plan", "pay", "order", "flow"] {
                #expect(result.steps[step]?.count == 24, "step \(step)")
            }
            #expect(result.summaryLine.hasPrefix("loadtest: 24 checkouts in "))
            #expect(result.summaryLine.hasSuffix(", orders 24/24, errors 0"))
            let html = result.html
            #expect(html.contains("<svg") && html.contains("latency by percentile") && !html.contains("<script"))
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.json().utf8)) as? [String: Any])
            #expect(json["completed"] as? Int == 24)
        }
    }

    @Test("the check catches a paid checkout without an order and an order with the wrong total")
    func checkCatchesMissingAndWrongOrders() async throws {
        try await LiveServer.with { live in
            var options = LoadTestOptions(url: live.base)
            options.checkouts = 2
            options.concurrency = 1
            options.progress = .none
            let runner = LoadTestRunner(options: options, log: { _ in })
            let result = try await runner.run()
            let targets = try await runner.loadTargets()
            let orders = try await live.orders()
            let real = try #require(orders.first?["source_identifier"] as? String)
            let shop = live.demo.shop.rawValue
            let check = await runner.check(
                paid: [
                    PaidCheckout(shop: shop, checkoutID: "chk_never_ordered", amount: 100),
                    PaidCheckout(shop: shop, checkoutID: real, amount: 1),
                ], targets: targets, ledgerBefore: nil)
            await runner.shutdown()
            #expect(result.correctness?.orders_ok == 2)
            #expect(check.paid == 2 && check.orders_ok == 0 && check.missing == 1 && check.wrong_amount == 1)
            #expect(!check.ok)
            var broken = result
            broken.correctness = check
            #expect(!broken.passed)
            #expect(broken.summaryLine.hasSuffix("orders 0/2, errors 0"))
        }
    }

    @Test("single-endpoint modes: healthz, create-from-cart, get-plan and signed webhooks all answer 2xx")
    func modes() async throws {
        try await LiveServer.with { live in
            for mode in [LoadTestOptions.Mode.healthz, .createFromCart, .getPlan, .webhook] {
                var options = LoadTestOptions(url: live.base)
                options.mode = mode
                options.merchants = 2
                options.checkouts = 20
                options.concurrency = 4
                options.progress = .none
                let runner = LoadTestRunner(options: options, log: { _ in })
                let result = try await runner.run()
                await runner.shutdown()
                #expect(result.errors.isEmpty, "\(mode): \(result.errors)")
                #expect(result.steps["request"]?.count == 20, "\(mode)")
                #expect(result.correctness == nil)
            }
        }
    }

    @Test("POST /sandbox/load-merchants seeds ready merchants idempotently and describes them")
    func loadMerchants() async throws {
        try await LiveServer.with { live in
            let first = try await live.post("/sandbox/load-merchants", json: ["count": 3])
            #expect(first.status == 200)
            let merchants = try #require(first.json?["merchants"] as? [[String: Any]])
            #expect(merchants.map { $0["shop"] as? String } == (0..<3).map { "hygge-load-\($0).myshopify.com" })
            #expect((merchants.first?["variant_ids"] as? [Any])?.isEmpty == false)
            #expect((first.json?["demo"] as? [String: Any])?["shop"] as? String == live.demo.shop.rawValue)
            let again = try await live.post("/sandbox/load-merchants", json: ["count": 3])
            #expect((again.json?["merchants"] as? [[String: Any]])?.count == 3)
            #expect(live.server.registry.count == 4)
            let tooMany = try await live.post("/sandbox/load-merchants", json: ["count": -1])
            #expect(tooMany.status == 400)
        }
    }
}
