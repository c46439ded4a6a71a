import Actors
import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import Net
import ServiceLifecycle
import Testing

/// Upstream faults acted out by the sandbox emulators (`POST /sandbox/config`) against a real server, through the
/// production Shopify and Whop HTTP clients: whatever Shopify or Whop do, every paid checkout ends with exactly one
/// order, and the money invariants (`Invariants`) hold after every scenario.
@Suite("Upstream faults over HTTP", .serialized)
struct FaultTests {
    /// Short client timeouts and backoffs, so a timeout scenario takes seconds, not the production 10 s per attempt.
    /// (Serialized: on a loaded machine an ordinary answer must not come close to these timeouts.)
    static func faulty(_ configuration: inout ServerConfiguration) {
        configuration.shopifyTimeout = .seconds(3)
        configuration.whopTimeout = .seconds(3)
        configuration.settings.orderBackoffBase = .milliseconds(5)
        configuration.settings.orderBackoffMax = .milliseconds(40)
    }

    /// One fault scenario: the faults queued for the first order POST or plan creation, and what the emulator must
    /// then have seen.
    struct Scenario: Sendable, CustomTestStringConvertible {
        var name: String
        /// The `/sandbox/config` body.
        var faults: String
        /// Order POSTs for the faulted checkout (Shopify scenarios), or plan requests (Whop scenarios).
        var shopifyPosts: Int? = nil
        var whopRequests: Int? = nil
        /// Least time between the first two order POSTs (a `Retry-After`), in milliseconds.
        var gapMilliseconds: Int? = nil
        var testDescription: String { self.name }
    }

    static let scenarios: [Scenario] = [
        Scenario(
            name: "Shopify 429 with Retry-After", faults: #"{"shopify_order_faults":[{"status":429,"retry_after":0.3}]}"#,
            shopifyPosts: 2, gapMilliseconds: 300),
        Scenario(
            name: "Shopify 500 then 503", faults: #"{"shopify_order_faults":[{"status":500},{"status":503}]}"#,
            shopifyPosts: 3),
        Scenario(
            name: "Shopify 500 after creating the order",
            faults: #"{"shopify_order_faults":[{"status":500,"create":true}]}"#, shopifyPosts: 1),
        Scenario(
            name: "Shopify timeout after creating the order",
            faults: #"{"shopify_order_faults":[{"stall_ms":5000,"create":true}]}"#, shopifyPosts: 1),
        Scenario(
            name: "Shopify timeout before creating the order",
            faults: #"{"shopify_order_faults":[{"stall_ms":5000}]}"#, shopifyPosts: 2),
        Scenario(
            name: "Shopify connection reset before creating the order",
            faults: #"{"shopify_order_faults":[{"reset":true}]}"#, shopifyPosts: 2),
        Scenario(
            name: "Shopify connection reset after creating the order",
            faults: #"{"shopify_order_faults":[{"reset":true,"create":true}]}"#, shopifyPosts: 1),
        Scenario(
            name: "Shopify slow answer (within the timeout)", faults: #"{"shopify_order_faults":[{"delay_ms":300}]}"#,
            shopifyPosts: 1),
        Scenario(
            name: "Shopify 429, then a reset after creating, then a timeout",
            faults: #"{"shopify_order_faults":[{"status":429,"retry_after":0.05},{"reset":true,"create":true},{"stall_ms":5000}]}"#,
            shopifyPosts: 2),
        Scenario(name: "Whop 500 on plan creation", faults: #"{"whop_plan_faults":[{"status":500}]}"#, whopRequests: 2),
        Scenario(
            name: "Whop timeout on plan creation", faults: #"{"whop_plan_faults":[{"stall_ms":5000}]}"#, whopRequests: 2),
        Scenario(
            name: "Whop timeout after creating the plan",
            faults: #"{"whop_plan_faults":[{"stall_ms":5000,"create":true}]}"#, whopRequests: 2),
        Scenario(
            name: "Whop connection reset on plan creation", faults: #"{"whop_plan_faults":[{"reset":true}]}"#,
            whopRequests: 2),
        Scenario(
            name: "Whop connection reset after creating the plan",
            faults: #"{"whop_plan_faults":[{"reset":true,"create":true}]}"#, whopRequests: 2),
        Scenario(name: "Whop slow answer", faults: #"{"whop_plan_faults":[{"delay_ms":300}]}"#, whopRequests: 1),
    ]

    @Test("one order per paid checkout, and the money adds up, under each upstream fault", arguments: Self.scenarios)
    func scenario(_ scenario: Scenario) async throws {
        try await LiveServer.with(configure: Self.faulty) { live in
            let sandbox = try #require(live.server.sandbox)
            let config = try await live.request("POST", "/sandbox/config", body: Data(scenario.faults.utf8))
            #expect(config.status == 200, "\(config.text)")
            let postsBefore = await sandbox.shopify.calls.filter { $0.name == "POST orders.json" }.count
            let whopBefore = await sandbox.whop.planRequests

            // The faulted checkout: plan (Whop faults), payment, order (Shopify faults).
            let (first, plan) = try await live.planned()
            #expect(await sandbox.whop.configurations(forCheckout: first).count == 1, "one Whop plan per checkout")
            if let expected = scenario.whopRequests {
                #expect(await sandbox.whop.planRequests - whopBefore == expected)
            }
            let pay = try await live.post("/sandbox/whop/pay", json: ["plan_id": plan])
            #expect(pay.json?["webhook_status"] as? Int == 200)
            let synced = try await live.waitStatus(first) { $0 == "order_synced" }
            #expect((synced["shopify_order_name"] as? String)?.hasPrefix("#") == true)
            let posts = await sandbox.shopify.calls.filter { $0.name == "POST orders.json" }.dropFirst(postsBefore)
            if let expected = scenario.shopifyPosts { #expect(posts.count == expected, "order POSTs") }
            if let gap = scenario.gapMilliseconds, posts.count >= 2 {
                let seen = posts[posts.startIndex + 1].at - posts[posts.startIndex].at
                #expect(seen >= .milliseconds(gap), "Retry-After honoured: \(seen)")
            }

            // A normal checkout after the faults, and one left awaiting payment (a live reservation).
            let (second, secondPlan) = try await live.planned(quantity: 2)
            _ = try await live.post("/sandbox/whop/pay", json: ["plan_id": secondPlan])
            let (third, _) = try await live.planned(quantity: 3)
            let report = try await Invariants.check(live, checkouts: [first, second, third])
            #expect(report.paid == 2)
            #expect(report.orders == 2)
            #expect(report.reserved == 1)
        }
    }

    @Test("a hanging Whop makes get-plan answer 502 whop_unavailable within its deadline, not after each timeout")
    func getPlanDeadline() async throws {
        try await LiveServer.with(configure: { configuration in
            // A per-attempt timeout (30 s) far above the 1 s get-plan budget: without the deadline cutting the
            // attempt short, the answer would take at least 30 s (with the production 4 s, about 4 s).
            configuration.whopTimeout = .seconds(30)
            configuration.settings.whopDeadline = .seconds(1)
        }) { live in
            let sandbox = try #require(live.server.sandbox)
            _ = try await live.post(
                "/sandbox/config", json: ["whop_plan_faults": Array(repeating: ["stall_ms": 40_000], count: 2)])
            let created = try await live.createCheckout()
            let id = try #require(created.json?["checkout_id"] as? String)
            let clock = ContinuousClock()
            let start = clock.now
            let reply = try await live.post("/api/checkout/get-plan", json: ["checkout_id": id])
            let took = clock.now - start
            #expect(reply.status == 502)
            #expect(reply.errorCode == "whop_unavailable")
            // Within the contract's 10 s, far below one attempt timeout (budget 1 s; the margin is for a loaded machine).
            #expect(took < .seconds(10), "get-plan took \(took)")
            // No slot stays reserved, and once Whop answers again the same checkout gets its plan.
            _ = try await live.post("/sandbox/config", json: ["clear_faults": true])
            let plan = try await live.post("/api/checkout/get-plan", json: ["checkout_id": id])
            #expect(plan.status == 200)
            #expect(await sandbox.whop.configurations(forCheckout: id).count == 1)
            try await Invariants.check(live, checkouts: [id])
        }
    }

    @Test("a get-plan in flight at shutdown gets its plan: its retry reaches the Whop emulator after the public listener stopped")
    func getPlanDrainsAtShutdown() async throws {
        try await LiveServer.with { live in
            let sandbox = try #require(live.server.sandbox)
            // The first attempt answers 503 after 800 ms; the retry is sent after graceful shutdown began, when the
            // public listener no longer accepts connections.
            _ = try await live.post("/sandbox/config", json: ["whop_plan_faults": [["status": 503, "delay_ms": 800]]])
            let created = try await live.createCheckout()
            let id = try #require(created.json?["checkout_id"] as? String)
            let clock = ContinuousClock()
            let start = clock.now
            async let reply = live.post("/api/checkout/get-plan", json: ["checkout_id": id])
            try await Task.sleep(for: .milliseconds(300))
            await live.group.triggerGracefulShutdown()
            let answer = try await reply
            let took = clock.now - start
            #expect(answer.status == 200, "\(answer.status) \(answer.text)")
            #expect(answer.json?["plan_id"] is String)
            #expect(await sandbox.whop.configurations(forCheckout: id).count == 1)
            // Before the emulators had a listener of their own, the retry met a closed port until the budget ran out.
            #expect(took < .seconds(5), "get-plan took \(took)")
        }
    }

    @Test("Shopify's call-limit header: a nearly full bucket (39/40) makes the next call wait for the drain")
    func callLimitHeader() async throws {
        try await LiveServer.with { live in
            let sandbox = try #require(live.server.sandbox)
            let config = try await live.post("/sandbox/config", json: ["shopify_call_limit": "39/40"])
            #expect(config.status == 200)
            let shopify = live.server.shopify
            let variant = live.firstVariant
            for _ in 0..<3 {
                _ = try await shopify.variant(shop: live.demo.shop, token: live.demo.shopifyToken, id: variant)
            }
            let calls = await sandbox.shopify.calls.filter { $0.name == "GET variants" }.suffix(3)
            let times = calls.map(\.at)
            #expect(times.count == 3)
            // 39 of 40 used, draining 2 calls/s: each next call waits until one slot is free again (0.5 s).
            for (earlier, later) in zip(times, times.dropFirst()) {
                #expect(later - earlier >= .milliseconds(450), "waited \(later - earlier)")
            }
            // The whole flow still works under the nearly full bucket, with one order.
            let (id, plan) = try await live.planned()
            _ = try await live.post("/sandbox/whop/pay", json: ["plan_id": plan])
            try await Invariants.check(live, checkouts: [id])
            let bad = try await live.post("/sandbox/config", json: ["shopify_call_limit": "lots"])
            #expect(bad.status == 400)
            #expect(bad.errorCode == "invalid_request")
            let badFault = try await live.post("/sandbox/config", json: ["shopify_order_faults": [["status": 1000]]])
            #expect(badFault.status == 400)
        }
    }

    @Test("500 concurrent get-plans over HTTP never exceed the monthly limit of 50")
    func limitRace() async throws {
        try await LiveServer.with(configure: { $0.demo.monthlyLimit = 50 }) { live in
            let sandbox = try #require(live.server.sandbox)
            // Slow plan creation widens the window in which the reservations race.
            _ = try await live.post("/sandbox/config", json: ["whop_latency_ms": 20])
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 128)
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            let wide = LiveServer(base: live.base, server: live.server, group: live.group, client: client)
            do {
                let ids = try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<500 {
                        group.addTask {
                            let created = try await wide.createCheckout()
                            guard let id = created.json?["checkout_id"] as? String else {
                                throw Failure("create-from-cart answered \(created.status)")
                            }
                            return id
                        }
                    }
                    return try await group.reduce(into: [String]()) { $0.append($1) }
                }
                #expect(ids.count == 500)
                let answers = try await withThrowingTaskGroup(of: (String, Int, String?).self) { group in
                    for id in ids {
                        group.addTask {
                            let reply = try await wide.post("/api/checkout/get-plan", json: ["checkout_id": id])
                            return (id, reply.status, reply.errorCode)
                        }
                    }
                    return try await group.reduce(into: [(String, Int, String?)]()) { $0.append($1) }
                }
                let granted = answers.filter { $0.1 == 200 }
                #expect(granted.count == 50)
                #expect(answers.filter { $0.1 == 429 && $0.2 == "monthly_limit_reached" }.count == 450)
                #expect(await sandbox.whop.planRequests == 50)
                // Paying some of them moves slots from reserved to paid; the counter stays paid + reserved.
                for (id, _, _) in granted.prefix(5) {
                    let plan = try await wide.post("/api/checkout/get-plan", json: ["checkout_id": id])
                    let planID = try #require(plan.json?["plan_id"] as? String)
                    _ = try await wide.post("/sandbox/whop/pay", json: ["plan_id": planID])
                }
                let report = try await Invariants.check(live, checkouts: ids)
                #expect(report.paid == 5)
                #expect(report.reserved == 45)
                let refusedID = try #require(answers.first { $0.1 == 429 }?.0)
                let refused = try await wide.post("/api/checkout/get-plan", json: ["checkout_id": refusedID])
                #expect(refused.errorCode == "monthly_limit_reached")
            } catch {
                try? await client.shutdown()
                throw error
            }
            try await client.shutdown()
        }
    }
}
