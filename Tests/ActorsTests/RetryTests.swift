import Actors
import Foundation
import Synchronization
import Testing

/// `Retry.run`: the deadline bounds the whole call, attempts included (issue 6: get-plan must answer within its
/// deadline even when Whop hangs).
@Suite("Retry deadlines")
struct RetryTests {
    @Test("an attempt that hangs is cut off at the deadline, not after the client's own timeout")
    func hangingAttempt() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: GatewayError.unavailable("deadline")) {
            try await Retry.run(deadline: .milliseconds(200)) { () async throws(GatewayError) -> Int in
                try? await Task.sleep(for: .seconds(3600))
                throw .unavailable("cancelled")
            }
        }
        // Bounded: the hang is an hour; the margin over the 200 ms budget is generous because the whole suite runs
        // in parallel on two cores.
        #expect(clock.now - start < .seconds(60))
    }

    @Test("retryable failures are retried until one succeeds; others are not retried")
    func retries() async throws {
        let calls = Calls()
        let value = try await Retry.run(deadline: .seconds(30), base: .milliseconds(1)) { () async throws(GatewayError) -> Int in
            let n = calls.add()
            if n < 3 { throw .unavailable("http 500") }
            return n
        }
        #expect(value == 3)
        calls.reset()
        await #expect(throws: GatewayError.rejected(status: 422, message: "no")) {
            try await Retry.run(deadline: .seconds(30), base: .milliseconds(1)) { () async throws(GatewayError) -> Int in
                calls.add()
                throw .rejected(status: 422, message: "no")
            }
        }
        #expect(calls.count == 1)
    }

    @Test("a Retry-After that ends past the deadline is not waited for")
    func retryAfterPastDeadline() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: GatewayError.rateLimited(retryAfter: .seconds(3600))) {
            try await Retry.run(deadline: .seconds(5)) { () async throws(GatewayError) -> Int in
                throw .rateLimited(retryAfter: .seconds(3600))
            }
        }
        #expect(clock.now - start < .seconds(60), "the Retry-After is an hour")
    }

    @Test("get-plan against a hanging Whop fails with whop_unavailable within its deadline and reserves nothing")
    func hangingWhop() async throws {
        var settings = DomainSettings()
        settings.whopDeadline = .milliseconds(300)
        let harness = try Harness(settings: settings)
        defer { Task { await harness.remove() } }
        let merchant = try await harness.readyMerchant()
        let (checkout, _) = try await merchant.createCheckout(.one(), idempotencyKey: nil, requestHash: nil, now: .now)
        harness.whop.book.withLock { $0.hangPlans = true }
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: HyggeError.whopUnavailable) { _ = try await merchant.plan(for: checkout.id, now: .now) }
        // The budget is 300 ms, the hang an hour (generous margin: the suite runs in parallel on two cores).
        #expect(clock.now - start < .seconds(60))
        #expect(await merchant.summary(now: .now).reserved == 0)
        // Whop recovers: the same checkout gets its plan.
        harness.whop.book.withLock { $0.hangPlans = false }
        let answer = try await merchant.plan(for: checkout.id, now: .now)
        #expect(answer.status == .awaitingPayment)
        #expect(await merchant.summary(now: .now).reserved == 1)
    }
}

/// A call counter shared with `@Sendable` closures.
private final class Calls: Sendable {
    private let value = Mutex(0)
    @discardableResult func add() -> Int { self.value.withLock { $0 += 1; return $0 } }
    func reset() { self.value.withLock { $0 = 0 } }
    var count: Int { self.value.withLock { $0 } }
}
