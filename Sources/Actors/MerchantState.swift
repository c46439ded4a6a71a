import Persistence

/// A month's usage counters, kept in step with the ledger.
package struct MonthUsage: Hashable, Sendable, Codable {
    package var paid: Int = 0
    /// Gross, refunds and fees per currency, minor units.
    package var gross: [String: Int64] = [:]
    package var refunds: [String: Int64] = [:]
    package var fees: [String: Int64] = [:]
    package init() {}
}

/// A stored idempotent create-from-cart: the request's hash and the checkout it created.
package struct IdempotencyEntry: Hashable, Sendable, Codable {
    package var requestHash: String
    package var checkoutID: CheckoutID
    package var createdAt: Timestamp
}

/// A Whop refund that arrived before Hygge recorded its payment. Whop does not order its webhooks, so a
/// `refund.created` can overtake the `payment.succeeded` it refunds; it waits here and is applied when the payment is
/// recorded.
package struct ParkedRefund: Hashable, Sendable, Codable {
    package var refundID: String
    package var paymentID: String
    /// Decimal major units as Whop sent them; nil = everything still refundable.
    package var amountText: String?
    /// The delivery that brought it (already deduplicated).
    package var delivery: String
    package var at: Timestamp

    package init(refundID: String, paymentID: String, amountText: String?, delivery: String, at: Timestamp) {
        self.refundID = refundID
        self.paymentID = paymentID
        self.amountText = amountText
        self.delivery = delivery
        self.at = at
    }
}

/// Everything Hygge knows about one merchant. A value type: `apply` is pure and deterministic, so the journal can be
/// replayed into exactly this state, and a snapshot is just this value encoded.
package struct MerchantState: Hashable, Sendable, Codable {
    /// How many delivery ids the dedupe window keeps.
    package static let dedupeWindowMax = 50_000
    /// How long an Idempotency-Key is kept.
    package static let idempotencyTTL: Duration = .seconds(24 * 3600)
    /// How many refunds may wait for their payment, and for how long. A refund of a payment that never reaches Hygge
    /// (the company sold something outside Hygge) must not grow the state forever.
    package static let parkedRefundsMax = 1_000
    package static let parkedRefundTTL: Duration = .seconds(30 * 24 * 3600)

    package var id: MerchantID
    /// Highest journal LSN reflected in this state (replay skips records at or below it).
    package var appliedLSN: UInt64 = 0
    package var createdAt: Timestamp
    package var dataKey: SealedValue
    package var installed = false
    package var scopes: String?
    package var shopifyToken: SealedValue?
    package var whopKey: SealedValue?
    package var whopKeyFingerprint: String?
    package var companyID: String?
    package var webhookSecret: SealedValue?
    /// Whether a correctly signed Whop event has been received (shown on Integrations → Whop).
    package var webhookReceived = false
    package var tier: String?
    /// Paid tier's monthly limit; nil = the free limit from configuration.
    package var monthlyLimit: Int?
    package var checkouts = CheckoutTable()
    /// Whop plan and checkout-configuration ids → checkout.
    package var planIndex: [String: CheckoutID] = [:]
    /// Whop payment id → checkout.
    package var paymentIndex: [String: CheckoutID] = [:]
    /// Checkouts holding a reservation (awaiting payment).
    package var reserved: Set<CheckoutID> = []
    /// Checkouts not yet finished: open or awaiting payment (the expiry sweep scans only these).
    package var live: Set<CheckoutID> = []
    /// Paid checkouts whose order is not yet in Shopify and not given up.
    package var pendingOrders: Set<CheckoutID> = []
    package var usage: [String: MonthUsage] = [:]
    package var ledger: [LedgerRow] = []
    package var idempotency: [String: IdempotencyEntry] = [:]
    /// Dedupe window of delivery ids (Whop `webhook-id`, Shopify `X-Shopify-Webhook-Id`), oldest first.
    package var deliveries: Set<String> = []
    package var deliveryOrder: [String] = []
    package var deliveryOrderHead = 0
    /// Refunds received before their payment, oldest first; nil when there are none.
    package var parkedRefunds: [ParkedRefund]?

    /// A new merchant with its wrapped data key.
    package init(id: MerchantID, dataKey: SealedValue, createdAt: Timestamp) {
        self.id = id
        self.dataKey = dataKey
        self.createdAt = createdAt
    }

    /// Live reservations in `month`.
    package func reservations(in month: String) -> Int {
        self.reserved.reduce(0) { $0 + (self.checkouts[$1]?.reservedMonth == month ? 1 : 0) }
    }

    /// Paid transactions plus live reservations in `month`: what the monthly limit is checked against.
    package func limitUsage(in month: String) -> Int {
        (self.usage[month]?.paid ?? 0) + self.reservations(in: month)
    }

    /// Whether a delivery id was already processed.
    package func hasSeen(delivery: String) -> Bool { self.deliveries.contains(delivery) }

    /// The checkout a Whop id (plan or checkout configuration) belongs to.
    package func checkout(forWhopID id: String) -> CheckoutID? { self.planIndex[id] }

    /// Applies one event. Deterministic: no clock, no randomness, no I/O. Total: counters and sums saturate instead
    /// of trapping, so no event read back from a journal can crash a restore.
    package mutating func apply(_ event: MerchantEvent) {
        switch event {
        case .created(let dataKey, let at):
            self.dataKey = dataKey
            self.createdAt = at
        case .dataKeyRewrapped(let dataKey):
            self.dataKey = dataKey
        case .installed(let token, let scopes, _):
            self.installed = true
            self.shopifyToken = token
            self.scopes = scopes
        case .uninstalled:
            self.installed = false
            self.shopifyToken = nil
        case .whopKeySet(let key, let fingerprint, let companyID, _):
            self.whopKey = key
            self.whopKeyFingerprint = fingerprint
            self.companyID = companyID
        case .webhookSecretSet(let secret, _):
            self.webhookSecret = secret
        case .checkoutCreated(let checkout, let key, let hash):
            self.checkouts[checkout.id] = checkout
            self.live.insert(checkout.id)
            if let key, let hash {
                self.idempotency[key] = IdempotencyEntry(
                    requestHash: hash, checkoutID: checkout.id, createdAt: checkout.createdAt)
                self.pruneIdempotency(now: checkout.createdAt, sample: checkout.id)
            }
        case .planCreated(let id, let plan, let month, _):
            self.update(id) { checkout in
                checkout.plan = plan
                checkout.reservedMonth = month
                if checkout.status == .open { checkout.status = .awaitingPayment }
            }
            self.planIndex[plan.planID] = id
            if let configuration = plan.checkoutConfigurationID { self.planIndex[configuration] = id }
            self.reserved.insert(id)
        case .paymentRecorded(let id, let paymentID, let amount, let fee, let late, let delivery, let at):
            self.remember(delivery: delivery)
            self.webhookReceived = true
            self.paymentIndex[paymentID] = id
            self.release(id)
            self.live.remove(id)
            self.update(id) { checkout in
                checkout.status = .paid
                checkout.paymentID = paymentID
                checkout.paidAt = at
                checkout.latePayment = late
                checkout.orderSync = OrderSync()
            }
            self.pendingOrders.insert(id)
            var month = self.usage[at.month] ?? MonthUsage()
            month.paid = month.paid.saturatingAdd(1)
            month.gross[amount.currency, default: 0] = month.gross[amount.currency, default: 0].saturatingAdd(amount.amount)
            month.fees[amount.currency, default: 0] = month.fees[amount.currency, default: 0].saturatingAdd(fee)
            self.usage[at.month] = month
            self.ledger.append(
                LedgerRow(
                    createdAt: at, kind: .payment, checkoutID: id, paymentID: paymentID, currency: amount.currency,
                    amount: amount.amount, fee: fee))
            self.settleParkedRefunds(of: paymentID, checkout: id, at: at)
        case .paymentMismatched(let id, let paymentID, _, let delivery, _):
            // No payment row for a mismatch, so no refund row either: its parked refunds are done with.
            self.unpark { $0.paymentID == paymentID }
            self.remember(delivery: delivery)
            self.webhookReceived = true
            self.paymentIndex[paymentID] = id
            self.release(id)
            self.live.remove(id)
            self.update(id) { checkout in
                checkout.status = .amountMismatch
                checkout.paymentID = paymentID
            }
        case .paymentFailed(let id, _, let delivery, _):
            self.remember(delivery: delivery)
            self.webhookReceived = true
            self.release(id)
            self.live.remove(id)
            self.update(id) { $0.status = .paymentFailed }
        case .refundRecorded(let id, let refundID, let amount, let delivery, let at):
            self.remember(delivery: delivery)
            self.remember(delivery: "refund:" + refundID)
            self.unpark { $0.refundID == refundID }
            guard var checkout = self.checkouts[id], let paymentID = checkout.paymentID else { return }
            checkout.refundedAmount = checkout.refundedAmount.saturatingAdd(amount)
            // Whop's own refund event shows that ambiguous failures did refund after all: nothing left to retry.
            if let failures = checkout.refundFailures, checkout.refundedAmount >= (checkout.refundRequested ?? 0) {
                let rest = failures.filter { !$0.ambiguous }
                checkout.refundFailures = rest.isEmpty ? nil : rest
                if rest.isEmpty { checkout.refundError = nil }
            }
            if checkout.status.isPaid {
                checkout.status = checkout.refundedAmount >= checkout.total.amount ? .refunded : .partiallyRefunded
            }
            self.checkouts[id] = checkout
            var month = self.usage[at.month] ?? MonthUsage()
            month.refunds[checkout.total.currency, default: 0] =
                month.refunds[checkout.total.currency, default: 0].saturatingAdd(amount)
            self.usage[at.month] = month
            self.ledger.append(
                LedgerRow(
                    createdAt: at, kind: .refund, checkoutID: id, paymentID: paymentID,
                    currency: checkout.total.currency, amount: amount, fee: 0))
        case .refundParked(let refund):
            self.remember(delivery: refund.delivery)
            let cutoff = refund.at.adding(.zero - Self.parkedRefundTTL)
            var parked = (self.parkedRefunds ?? []).filter { $0.refundID != refund.refundID && $0.at >= cutoff }
            parked.append(refund)
            if parked.count > Self.parkedRefundsMax { parked.removeFirst(parked.count - Self.parkedRefundsMax) }
            self.parkedRefunds = parked
        case .deliverySeen(let delivery):
            self.remember(delivery: delivery)
        case .checkoutExpired(let id, _):
            self.release(id)
            self.live.remove(id)
            self.update(id) { checkout in
                if checkout.status == .open || checkout.status == .awaitingPayment { checkout.status = .expired }
            }
        case .orderAttemptStarted(let id, let at):
            self.update(id) { checkout in
                var sync = checkout.orderSync ?? OrderSync()
                sync.attempts = sync.attempts.saturatingAdd(1)
                if sync.firstAttemptAt == nil { sync.firstAttemptAt = at }
                sync.lastAttemptAt = at
                checkout.orderSync = sync
            }
        case .orderAttemptFailed(let id, let error, let ambiguous, let giveUp):
            self.update(id) { checkout in
                var sync = checkout.orderSync ?? OrderSync()
                sync.lastError = error
                sync.ambiguous = sync.ambiguous || ambiguous
                sync.failed = giveUp
                checkout.orderSync = sync
                if giveUp, checkout.status == .paid { checkout.status = .orderSyncFailed }
            }
            if giveUp { self.pendingOrders.remove(id) }
        case .orderSynced(let id, let orderID, let orderName):
            self.pendingOrders.remove(id)
            self.update(id) { checkout in
                checkout.orderID = orderID
                checkout.orderName = orderName
                checkout.orderSync?.failed = false
                checkout.orderSync?.lastError = nil
                if checkout.status == .paid || checkout.status == .orderSyncFailed { checkout.status = .orderSynced }
            }
        case .orderRetryRequested(let id):
            self.update(id) { checkout in
                checkout.orderSync?.failed = false
                checkout.orderSync?.attempts = 0
                if checkout.status == .orderSyncFailed { checkout.status = .paid }
            }
            self.pendingOrders.insert(id)
        case .tierChanged(let tier, let limit):
            self.tier = tier
            self.monthlyLimit = limit
        case .shopifyRefundRequested(let id, let refundID, let amount, let delivery, _):
            self.remember(delivery: delivery)
            self.remember(delivery: "shopify-refund:\(refundID)")
            self.update(id) { checkout in
                checkout.refundRequested = (checkout.refundRequested ?? 0).saturatingAdd(amount)
                checkout.refundError = nil
            }
        case .shopifyRefundFinished(let id, _, let error, let released):
            self.update(id) { checkout in
                checkout.refundError = error
                if released > 0 {
                    checkout.refundRequested = max(0, (checkout.refundRequested ?? 0).saturatingSubtract(released))
                }
            }
        case .shopifyRefundFailed(let id, let refundID, let amount, let error, let ambiguous, let at):
            self.update(id) { checkout in
                checkout.refundError = error
                if !ambiguous {
                    checkout.refundRequested = max(0, (checkout.refundRequested ?? 0).saturatingSubtract(amount))
                }
                var failures = (checkout.refundFailures ?? []).filter { $0.shopifyRefundID != refundID }
                failures.append(
                    RefundFailure(
                        shopifyRefundID: refundID, amount: amount, error: error, ambiguous: ambiguous, at: at))
                checkout.refundFailures = failures
            }
        case .shopifyRefundRetried(let id, let refundID, _):
            self.update(id) { checkout in
                guard let failure = checkout.refundFailures?.first(where: { $0.shopifyRefundID == refundID }) else {
                    return
                }
                if !failure.ambiguous {
                    checkout.refundRequested = (checkout.refundRequested ?? 0).saturatingAdd(failure.amount)
                }
                let rest = (checkout.refundFailures ?? []).filter { $0.shopifyRefundID != refundID }
                checkout.refundFailures = rest.isEmpty ? nil : rest
                checkout.refundError = rest.last?.error
            }
        case .customersRedacted(let ids, let delivery):
            self.remember(delivery: delivery)
            for id in ids { self.update(id) { $0.email = nil } }
        case .shopRedacted(let delivery, _):
            self.remember(delivery: delivery)
            self.installed = false
            self.shopifyToken = nil
            self.whopKey = nil
            self.whopKeyFingerprint = nil
            self.webhookSecret = nil
            self.scopes = nil
            for id in Array(self.checkouts.keys) { self.update(id) { $0.email = nil } }
        }
    }

    /// Why a decoded state cannot be used: what a snapshot or a replay would otherwise crash on later.
    ///
    /// Checked on every snapshot restore (`RegistrySnapshot.decode`); states built by `apply` always pass.
    package func invariantViolation() -> String? {
        guard (0...self.deliveryOrder.count).contains(self.deliveryOrderHead) else {
            return "delivery window head \(self.deliveryOrderHead) outside 0...\(self.deliveryOrder.count)"
        }
        for (id, checkout) in self.checkouts where checkout.id != id {
            return "checkout \(checkout.id) stored under \(id)"
        }
        return nil
    }

    /// Whether a refund waits for its payment.
    package func isParked(refund id: String) -> Bool { self.parkedRefunds?.contains { $0.refundID == id } ?? false }

    /// How much of `checkout` a Whop refund of `amountText` (nil = all) refunds: capped at what is still refundable;
    /// nil when the amount cannot be read exactly.
    package static func refundAmount(_ amountText: String?, of checkout: Checkout) -> Int64? {
        let remaining = checkout.total.amount.saturatingSubtract(checkout.refundedAmount)
        guard let amountText else { return remaining }
        return Currency.parseDecimal(amountText, currency: checkout.total.currency).map { min($0, remaining) }
    }

    /// Applies the refunds that waited for the payment just recorded (part of the same event, so replay does too).
    private mutating func settleParkedRefunds(of paymentID: String, checkout id: CheckoutID, at: Timestamp) {
        guard let parked = self.parkedRefunds, parked.contains(where: { $0.paymentID == paymentID }) else { return }
        // One pass: this payment's refunds to apply, the others stay parked.
        var waiting: [ParkedRefund] = []
        var others: [ParkedRefund] = []
        for refund in parked {
            if refund.paymentID == paymentID { waiting.append(refund) } else { others.append(refund) }
        }
        self.parkedRefunds = others.isEmpty ? nil : others
        for refund in waiting {
            guard let checkout = self.checkouts[id], checkout.status.isPaid,
                let amount = Self.refundAmount(refund.amountText, of: checkout), amount > 0
            else { continue }
            self.apply(.refundRecorded(checkout: id, refundID: refund.refundID, amount: amount, delivery: refund.delivery, at: at))
        }
    }

    private mutating func unpark(where matches: (ParkedRefund) -> Bool) {
        guard var parked = self.parkedRefunds else { return }
        parked.removeAll(where: matches)
        self.parkedRefunds = parked.isEmpty ? nil : parked
    }

    private mutating func update(_ id: CheckoutID, _ body: (inout Checkout) -> Void) {
        // In place through CheckoutTable's `_modify`: no copy of the checkout, no retains of its strings.
        guard self.checkouts[id] != nil else { return }
        body(&self.checkouts[id]!)
    }

    private mutating func release(_ id: CheckoutID) {
        self.reserved.remove(id)
        self.update(id) { $0.reservedMonth = nil }
    }

    private mutating func remember(delivery: String) {
        guard !delivery.isEmpty, self.deliveries.insert(delivery).inserted else { return }
        self.deliveryOrder.append(delivery)
        if self.deliveryOrder.count - self.deliveryOrderHead > Self.dedupeWindowMax {
            self.deliveries.remove(self.deliveryOrder[self.deliveryOrderHead])
            self.deliveryOrderHead += 1
            if self.deliveryOrderHead > Self.dedupeWindowMax {
                self.deliveryOrder.removeFirst(self.deliveryOrderHead)
                self.deliveryOrderHead = 0
            }
        }
    }

    /// Idempotency keys kept before expired ones are pruned.
    static let idempotencyPruneFloor = 1024
    /// One keyed checkout in this many (by a stable hash of its id) prunes the expired keys.
    static let idempotencyPruneEvery: UInt32 = 256

    /// Drops the keys older than `idempotencyTTL` (reads check the TTL too, so an expired key that is still here is
    /// never replayed). Pruning reads every key, so it runs only for one keyed checkout in `idempotencyPruneEvery`,
    /// chosen by a hash of its id that is the same in every process (replay reaches the same state): when it ran
    /// for every keyed checkout past the floor, a merchant with 100k keyed checkouts a day spent milliseconds per
    /// checkout inside its actor. Expired keys linger for about that many keyed checkouts at most.
    private mutating func pruneIdempotency(now: Timestamp, sample: CheckoutID) {
        guard self.idempotency.count > Self.idempotencyPruneFloor,
            Self.stableHash(sample.rawValue) % Self.idempotencyPruneEvery == 0
        else { return }
        let cutoff = now.adding(.zero - Self.idempotencyTTL)
        self.idempotency = self.idempotency.filter { $0.value.createdAt >= cutoff }
    }

    /// The CRC-32C of the UTF-8 bytes (the journal's checksum): unlike `Hasher`, the same in every process.
    package static func stableHash(_ text: String) -> UInt32 {
        CRC32C.checksum(text.utf8)
    }
}
