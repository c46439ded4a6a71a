import Actors
import Foundation
import Synchronization
import Testing

@Suite("A merchant actor")
struct MerchantActorTests {
    @Test("prices come from Shopify; the client's total is ignored and flagged")
    func repricing() async throws {
        let harness = try Harness()
        defer { Task { await harness.remove() } }
        let merchant = try await harness.readyMerchant()
        let (checkout, replayed) = try await merchant.createCheckout(
            .one(quantity: 2, client: 1), idempotencyKey: nil, requestHash: nil, now: .now)
        #expect(!replayed)
        #expect(checkout.total == Money(amount: 25_800, currency: "USD"))
        #expect(checkout.lineItems.map(\.unitPrice) == [12_900])
        #expect(checkout.clientTotalMismatch)
        #expect(checkout.status == .open)
        let honest = try await merchant.createCheckout(
            .one(quantity: 2, client: 25_800), idempotencyKey: nil, requestHash: nil, now: .now)
        #expect(!honest.checkout.clientTotalMismatch)
        // The second checkout reused the cached price.
        #expect(harness.shopify.book.withLock { $0.variantCalls } == 1)
    }

    @Test("zero-decimal currencies are priced in whole units")
    func yen() async throws {
        let harness = try Harness()
        defer { Task { await harness.remove() } }
        let merchant = try await harness.readyMerchant()
        let (checkout, _) = try await merchant.createCheckout(
            .one(Harness.yen, quantity: 3, currency: "JPY"), idempotencyKey: nil, requestHash: nil, now: .now)
        #expect(checkout.total == Money(amount: 4500, currency: "JPY"))
        _ = try await merchant.plan(for: checkout.id, now: .now)
        let ready = try await merchant.checkout(checkout.id)
        #expect(try await merchant.handle(paid(ready), delivery: "msg_yen", now: .now) == .recorded)
        let row = try #require(await merchant.ledger(month: Timestamp.now.month).first)
        #expect(row.amount == 4500)
        #expect(row.fee == 23)  // 22.5 rounds half up
    }

    @Test("unknown variants and unready merchants are refused with stable errors")
    func refusals() async throws {
        let harness = try Harness()
        defer { Task { await harness.remove() } }
        let bare = try await harness.registry.merchantCreatingIfNeeded(MerchantID("bare.myshopify.com"), now: .now)
        await #expect(throws: HyggeError.self) {
            _ = try await bare.createCheckout(.one(), idempotencyKey: nil, requestHash: nil, now: .now)
        }
        let merchant = try await harness.readyMerchant()
        await #expect(throws: HyggeError.variantNotFound(999)) {
            _ = try await merchant.createCheckout(.one(999), idempotencyKey: nil, requestHash: nil, now: .now)
        }
        try await merchant.uninstall(now: .now)
        do {
            _ = try await merchant.createCheckout(.one(), idempotencyKey: nil, requestHash: nil, now: .now)
            Issue.record("an uninstalled merchant took a checkout")
        } catch {
            guard case .merchantNotReady = error else { throw error }
        }
    }

    @Test("an idempotency key replays the first checkout, and refuses a different body")
    func idempotencyKeys() async throws {
        let harness = try Harness()
        defer { Task { await harness.remove() } }
        let merchant = try await harness.readyMerchant()
        let first = try await merchant.createCheckout(.one(), idempotencyKey: "k1", requestHash: "h1", now: .now)
        let again = try await merchant.createCheckout(.one(), idempotencyKey: "k1", requestHash: "h1", now: .now)
        #expect(!first.replayed)
        #expect(again.replayed)
        #expect(again.checkout.id == first.checkout.id)
        await #expect(throws: HyggeError.idempotencyKeyReused) {
            _ = try await merchant.createCheckout(.one(quantity: 5), idempotencyKey: "k1", requestHash: "h2", now: .now)
        }
        // Concurrent retries with one key create one checkout.
        let ids = try await withThrowingTaskGroup(of: CheckoutID.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await merchant.createCheckout(.one(), idempotencyKey: "k2", requestHash: "h", now: .now).checkout.id
                }
            }
            return try await group.reduce(into: Set<CheckoutID>()) { $0.insert($1) }
        }
        #expect(ids.count == 1)
        // After 24 hours the key is free again.
        let later = Timestamp.now.adding(.seconds(24 * 3600 + 1))
        let fresh = try await merchant.createCheckout(.one(), idempotencyKey: "k1", requestHash: "h2", now: later)
        #expect(fresh.checkout.id != first.checkout.id)
    }

    @Test("get-plan is idempotent: one Whop plan per checkout, even under concurrent calls")
    func planIdempotent() async throws {
        let harness = try Harness(planDelay: .milliseconds(20))
        defer { Task { await harness.remove() } }
        let merchant = try await harness.readyMerchant()
        let (checkout, _) = try await merchant.createCheckout(.one(), idempotencyKey: nil, requestHash: nil, now: .now)
        let plans = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<25 { group.addTask { try await merchant.plan(for: checkout.id, now: .now).plan.planID } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(plans.count == 1)
        #expect(harness.whop.book.withLock { $0.planCalls } == 1)
        let summary = await merchant.summary(now: .now)
        #expect(summary.reserved == 1)
    }

    @Test("300 concurrent get-plans never exceed the monthly limit of 50")
    func limitRace() async throws {
        let harness = try Harness(limit: 50, planDelay: .milliseconds(5))
        defer { Task { await harness.remove() } }
        let merchant = try await harness.readyMerchant()
        var ids: [CheckoutID] = []
        for _ in 0..<300 {
            ids.append(try await merchant.createCheckout(.one(), idempotencyKey: nil, requestHash: nil, now: .now).checkout.id)
        }
        let outcomes = await withTaskGroup(of: Result<String, HyggeError>.self) { group in
            for id in ids {
                group.addTask {
                    do throws(HyggeError) {
                        return .success(try await merchant.plan(for: id, now: .now).plan.planID)
                    } catch {
                        return .failure(error)
                    }
                }
            }
            return await group.reduce(into: [Result<String, HyggeError>]()) { $0.append($1) }
        }
        let granted = outcomes.filter { if case .success = $0 { true } else { false } }.count
        let refused = outcomes.filter { $0 == Result<String, HyggeError>.failure(.monthlyLimitReached) }.count
        #expect(granted == 50)
        #expect(refused == 250)
        #expect(harness.whop.book.withLock { $0.planCalls } == 50)
        #expect(await merchant.summary(now: .now).reserved == 50)
        let month = Timestamp.now.month
        #expect(await merchant.limitUsage(in: month) == 50)
        #expect(await merchant.snapshot().limitUsage(in: month) == 50)
    }

    @Test("expiry releases a reservation; a late payment is still recorded and ordered")
    func expiryAndLatePayment() async throws {
        let harness = try Harness(limit: 1)
        defer { Task { await harness.remove() } }
        let merchant = try await harness.readyMerchant()
        let start = Timestamp.now
        let (first, _) = try await merchant.createCheckout(.one(), idempotencyKey: nil, requestHash: nil, now: start)
        _ = try await merchant.plan(for: first.id, now: start)
        let (second, _) = try await merchant.createCheckout(.one(), idempotencyKey: nil, requestHash: nil, now: start)
        await #expect(throws: HyggeError.monthlyLimitReached) { _ = try await merchant.plan(for: second.id, now: start) }
        let later = start.adding(.seconds(31 * 60))
        try await merchant.expireDue(now: later)
        #expect(try await merchant.checkout(first.id).status == .expired)
        await #expect(throws: HyggeError.checkoutExpired) { _ = try await merchant.plan(for: first.id, now: later) }
        let (third, _) = try await merchant.createCheckout(.one(), idempotencyKey: nil, requestHash: nil, now: later)
        _ = try await merchant.plan(for: third.id, now: later)
        // Whop took the money for the expired checkout anyway: it counts, and is ordered.
        let expired = try await merchant.checkout(first.id)
        #expect(try await merchant.handle(paid(expired, payment: "pay_late"), delivery: "msg_late", now: later) == .recorded)
        let recorded = try await merchant.checkout(first.id)
        #expect(recorded.status == .paid)
        #expect(recorded.latePayment)
        #expect(await merchant.pendingOrders == [first.id])
        // The actor's O(1) limit counter agrees with a full count of the state, for both months touched.
        for month in Set([start.month, later.month]) {
            #expect(await merchant.limitUsage(in: month) == (await merchant.snapshot()).limitUsage(in: month))
        }
        if start.month == later.month {  // the late payment + the third's reservation
            #expect(await merchant.limitUsage(in: later.month) == 2)
        }
    }

    @Test("a payment is recorded once with its 0.5% fee; retries and twin deliveries are duplicates")
    func paymentOnce() async throws {
        let harness = try Harness()
        defer { Task { await harness.remove() } }
        let merchant = try await harness.readyMerchant()
        let (created, _) = try await merchant.createCheckout(
            .one(quantity: 2), idempotencyKey: nil, requestHash: nil, now: .now)
        _ = try await merchant.plan(for: created.id, now: .now)
        let checkout = try await merchant.checkout(created.id)
        #expect(try await merchant.handle(paid(checkout), delivery: "msg_1", now: .now) == .recorded)
        #expect(try await merchant.handle(paid(checkout), delivery: "msg_1", now: .now) == .duplicate)
        #expect(try await merchant.handle(paid(checkout), delivery: "msg_2", now: .now) == .duplicate)
        #expect(try await merchant.handle(paid(checkout, payment: "pay_2"), delivery: "msg_3", now: .now) == .duplicate)
        let rows = await merchant.ledger(month: Timestamp.now.month)
        #expect(rows.count == 1)
        #expect(rows.first?.amount == 25_800)
        #expect(rows.first?.fee == 129)
        let summary = await merchant.summary(now: .now)
        #expect(summary.usage.paid == 1)
        #expect(summary.usage.fees["USD"] == 129)
        #expect(summary.reserved == 0)
    }

    @Test(
        "a payment that does not match its checkout is a mismatch and produces no order",
        arguments: ["amount", "currency", "plan"])
    func mismatch(kind: String) async throws {
        let harness = try Harness()
        defer { Task { await harness.remove() } }
        let merchant = try await harness.readyMerchant()
        let (created, _) = try await merchant.createCheckout(.one(), idempotencyKey: nil, requestHash: nil, now: .now)
        _ = try await merchant.plan(for: created.id, now: .now)
        let checkout = try await merchant.checkout(created.id)
        let event: WhopEvent
        switch kind {
        case "amount": event = paid(checkout, amount: Money(amount: 1, currency: "USD"))
        case "currency": event = paid(checkout, amount: Money(amount: checkout.total.amount, currency: "EUR"))
        default:
            event = .paymentSucceeded(
                PaymentNotice(
                    paymentID: "pay_x", checkoutID: checkout.id, configurationID: nil, planID: "plan_someone_else",
                    amount: checkout.total))
        }
        #expect(try await merchant.handle(event, delivery: "msg_m", now: .now) == .mismatch)
        #expect(try await merchant.checkout(created.id).status == .amountMismatch)
        #expect(await merchant.pendingOrders.isEmpty)
        #expect(await merchant.summary(now: .now).usage.paid == 0)
    }

    @Test("refunds are capped at what was paid and never counted twice")
    func refunds() async throws {
        let harness = try Harness()
        defer { Task { await harness.remove() } }
        let merchant = try await harness.readyMerchant()
        let (created, _) = try await merchant.createCheckout(.one(), idempotencyKey: nil, requestHash: nil, now: .now)
        _ = try await merchant.plan(for: created.id, now: .now)
        #expect(try await merchant.handle(paid(try await merchant.checkout(created.id)), delivery: "m1", now: .now) == .recorded)
        let partial = WhopEvent.refund(RefundNotice(refundID: "r1", paymentID: "pay_1", amountText: "29.00", succeeded: true))
        #expect(try await merchant.handle(partial, delivery: "m2", now: .now) == .refunded)
        #expect(try await merchant.handle(partial, delivery: "m3", now: .now) == .duplicate)
        #expect(try await merchant.checkout(created.id).status == .partiallyRefunded)
        let pending = WhopEvent.refund(RefundNotice(refundID: "r2", paymentID: "pay_1", amountText: "5.00", succeeded: false))
        #expect(try await merchant.handle(pending, delivery: "m4", now: .now) == .ignored)
        let huge = WhopEvent.refund(RefundNotice(refundID: "r3", paymentID: "pay_1", amountText: "1000.00", succeeded: true))
        #expect(try await merchant.handle(huge, delivery: "m5", now: .now) == .refunded)
        let checkout = try await merchant.checkout(created.id)
        #expect(checkout.status == .refunded)
        #expect(checkout.refundedAmount == checkout.total.amount)
        let rows = await merchant.ledger(month: Timestamp.now.month)
        #expect(rows.filter { $0.kind == .refund }.map(\.amount).reduce(0, +) == 12_900)
        #expect(rows.filter { $0.kind == .refund }.map(\.fee) == [0, 0])
    }

    @Test("a refund that overtakes its payment waits for it, survives restarts and snapshots, and counts once")
    func refundBeforePayment() async throws {
        let harness = try Harness()
        let merchant = try await harness.readyMerchant()
        let (created, _) = try await merchant.createCheckout(.one(), idempotencyKey: nil, requestHash: nil, now: .now)
        _ = try await merchant.plan(for: created.id, now: .now)
        let partial = WhopEvent.refund(RefundNotice(refundID: "r1", paymentID: "pay_1", amountText: "29.00", succeeded: true))
        let rest = WhopEvent.refund(RefundNotice(refundID: "r2", paymentID: "pay_1", amountText: nil, succeeded: true))
        let unreadable = WhopEvent.refund(RefundNotice(refundID: "r3", paymentID: "pay_1", amountText: "2,x", succeeded: true))
        #expect(try await merchant.handle(partial, delivery: "m1", now: .now) == .parked)
        #expect(try await merchant.handle(partial, delivery: "m2", now: .now) == .duplicate)  // Whop's retry
        #expect(try await merchant.handle(unreadable, delivery: "m3", now: .now) == .parked)
        #expect(await merchant.snapshot().parkedRefunds?.map(\.refundID) == ["r1", "r3"])
        #expect(await merchant.ledger(month: Timestamp.now.month).isEmpty)

        // Restart from the journal, then from a snapshot: the parked refunds are still there.
        let reopened = try await harness.reopened()
        let restored = try #require(reopened.registry.merchant(Harness.shop))
        #expect(await restored.snapshot().parkedRefunds?.map(\.refundID) == ["r1", "r3"])
        #expect(try await restored.handle(rest, delivery: "m4", now: .now) == .parked)
        _ = try await reopened.core.keeper.snapshot()
        let third = try await reopened.reopened()
        defer { Task { await third.remove() } }
        let merchant3 = try #require(third.registry.merchant(Harness.shop))
        let before = await merchant3.snapshot()
        #expect(before.parkedRefunds?.map(\.refundID) == ["r1", "r3", "r2"])
        #expect(third.core.restore.replayed == 0)

        // The payment arrives: both readable refunds apply at once (29.00, then the rest), the unreadable one is dropped.
        #expect(try await merchant3.handle(paid(try await merchant3.checkout(created.id)), delivery: "m5", now: .now) == .recorded)
        let checkout = try await merchant3.checkout(created.id)
        #expect(checkout.status == .refunded)
        #expect(checkout.refundedAmount == 12_900)
        let rows = await merchant3.ledger(month: Timestamp.now.month)
        #expect(rows.map(\.kind) == [.payment, .refund, .refund])
        #expect(rows.filter { $0.kind == .refund }.map(\.amount) == [2_900, 10_000])
        #expect(await merchant3.snapshot().parkedRefunds == nil)
        // Late redeliveries of the parked refunds change nothing.
        #expect(try await merchant3.handle(partial, delivery: "m6", now: .now) == .duplicate)
        #expect(try await merchant3.handle(rest, delivery: "m7", now: .now) == .duplicate)
        #expect(await merchant3.ledger(month: Timestamp.now.month).count == 3)
    }

    @Test("parked refunds are bounded in number and age")
    func parkedRefundBounds() {
        var state = MerchantState(
            id: Harness.shop, dataKey: SealedValue(combined: Array(repeating: 0, count: 28)), createdAt: Timestamp(milliseconds: 0))
        let day: Int64 = 24 * 3600 * 1000
        state.apply(.refundParked(refund: ParkedRefund(refundID: "old", paymentID: "p", amountText: nil, delivery: "d", at: Timestamp(milliseconds: 0))))
        for index in 0..<MerchantState.parkedRefundsMax {
            state.apply(
                .refundParked(
                    refund: ParkedRefund(
                        refundID: "r\(index)", paymentID: "p\(index)", amountText: "1.00", delivery: "d\(index)",
                        at: Timestamp(milliseconds: 31 * day + Int64(index)))))
        }
        let parked = state.parkedRefunds ?? []
        #expect(parked.count == MerchantState.parkedRefundsMax)
        #expect(!parked.contains { $0.refundID == "old" })  // older than 30 days when the next one came
        state.apply(
            .refundParked(refund: ParkedRefund(refundID: "new", paymentID: "p", amountText: nil, delivery: "dn", at: Timestamp(milliseconds: 32 * day))))
        #expect(state.parkedRefunds?.count == MerchantState.parkedRefundsMax)
        #expect(state.parkedRefunds?.first?.refundID == "r1")
        #expect(state.parkedRefunds?.last?.refundID == "new")
    }

    @Test("expired idempotency keys are pruned now and then, fresh ones never, and replay prunes the same way")
    func idempotencyPruning() {
        let hour: Int64 = 3600 * 1000
        func keyed(_ number: Int, at milliseconds: Int64) -> MerchantEvent {
            var checkout = CheckoutTableTests.checkout(number)
            checkout.createdAt = Timestamp(milliseconds: milliseconds)
            return .checkoutCreated(checkout: checkout, idempotencyKey: "key-\(number)", requestHash: "hash")
        }
        var state = MerchantState(
            id: Harness.shop, dataKey: SealedValue(combined: Array(repeating: 0, count: 28)), createdAt: Timestamp(milliseconds: 0))
        var events: [MerchantEvent] = []
        // 3,000 keyed checkouts in hour 0, then 6,000 more a day later: the first 3,000 expire.
        for number in 0..<3_000 { events.append(keyed(number, at: Int64(number))) }
        for number in 3_000..<9_000 { events.append(keyed(number, at: 25 * hour + Int64(number))) }
        var largest = 0
        for event in events {
            state.apply(event)
            largest = max(largest, state.idempotency.count)
        }
        // Every fresh key is kept; the expired ones went long before the end (they do not all linger).
        for number in 3_000..<9_000 { #expect(state.idempotency["key-\(number)"] != nil) }
        let lingering = (0..<3_000).filter { state.idempotency["key-\($0)"] != nil }.count
        #expect(lingering == 0)
        #expect(largest < 9_000, "\(largest) keys at most")
        // Pruning depends only on the events (a stable hash of the checkout id, not Hasher's per-process seed).
        var replayed = MerchantState(
            id: Harness.shop, dataKey: SealedValue(combined: Array(repeating: 0, count: 28)), createdAt: Timestamp(milliseconds: 0))
        for event in events { replayed.apply(event) }
        #expect(replayed == state)
        // CRC-32C test vectors.
        #expect(MerchantState.stableHash("") == 0)
        #expect(MerchantState.stableHash("a") == 0xc1d0_4330)
        #expect(MerchantState.stableHash("123456789") == 0xe306_9283)
    }

    @Test("platform tiers change the limit at once; deliveries are deduplicated")
    func tiers() async throws {
        var settings = DomainSettings()
        settings.tiers = ["plan_pro": 500]
        let harness = try Harness(limit: 50, settings: settings)
        defer { Task { await harness.remove() } }
        let merchant = try await harness.readyMerchant()
        #expect(await merchant.summary(now: .now).monthlyLimit == 50)
        #expect(try await merchant.applyMembership(active: true, planID: "plan_pro", delivery: "d1") == .recorded)
        #expect(await merchant.summary(now: .now).monthlyLimit == 500)
        #expect(try await merchant.applyMembership(active: true, planID: "plan_unknown", delivery: "d0") == .ignored)
        #expect(try await merchant.applyMembership(active: false, planID: "plan_pro", delivery: "d2") == .recorded)
        #expect(await merchant.summary(now: .now).monthlyLimit == 50)
        // A replay of the activation is a duplicate, not a second change.
        #expect(try await merchant.applyMembership(active: true, planID: "plan_pro", delivery: "d1") == .duplicate)
        #expect(await merchant.summary(now: .now).monthlyLimit == 50)
    }
}
