import Crypto
import Foundation
import Logging
import Persistence

/// What create-from-cart asks for (already schema-checked by Net).
package struct CartRequest: Hashable, Sendable {
    package struct Item: Hashable, Sendable {
        package var variantID: Int64
        package var quantity: Int
        package init(variantID: Int64, quantity: Int) {
            self.variantID = variantID
            self.quantity = quantity
        }
    }
    package var items: [Item]
    package var currency: String
    package var clientTotal: Money?
    package var email: String?

    package init(items: [Item], currency: String, clientTotal: Money?, email: String?) {
        self.items = items
        self.currency = currency.uppercased()
        self.clientTotal = clientTotal
        self.email = email
    }
}

/// The plan answer of get-plan.
package struct PlanAnswer: Hashable, Sendable {
    package var checkoutID: CheckoutID
    package var plan: WhopPlan
    package var status: CheckoutStatus
}

/// A merchant's public view for the merchant API (never a secret).
package struct MerchantSummary: Hashable, Sendable {
    package var shop: MerchantID
    package var installed: Bool
    package var companyID: String?
    package var whopKeyFingerprint: String?
    package var webhookSecretSet: Bool
    package var webhookReceived: Bool
    /// The merchant's Whop company now takes payments for another shop.
    package var companyConnectedElsewhere: Bool
    package var tier: String?
    package var monthlyLimit: Int
    package var month: String
    package var usage: MonthUsage
    package var reserved: Int
}

/// The in-memory owner of one merchant: its encrypted keys, monthly counters and checkouts.
///
/// Every change goes `validate → journal.append → state.apply` with no suspension in between, so concurrent calls
/// never interleave inside a change; replies wait for the journal to make the change durable. Outbound calls to
/// Shopify and Whop run outside the state changes (the actor only awaits them, then re-checks state), and two callers
/// needing the same upstream result share one in-flight task.
package actor MerchantActor {
    package nonisolated let id: MerchantID
    var state: MerchantState
    let environment: MerchantEnvironment
    private var dataKey: SymmetricKey?
    var secretCache: [SecretField: String] = [:]
    private var priceCache: [Int64: (info: VariantInfo, fetchedAt: Timestamp)] = [:]
    private var priceLoads: [Int64: Task<VariantInfo?, any Error>] = [:]
    private var planLoads: [CheckoutID: Task<WhopPlan, any Error>] = [:]
    private var cartLoads: [String: Task<Checkout, any Error>] = [:]
    /// Live reservations per month, kept in step with `state.reserved` by `commit`. The monthly-limit check runs
    /// on every get-plan, and counting `state.reserved` there costs O(live reservations) — thousands under load.
    private var reservationsByMonth: [String: Int]

    /// Wraps a restored or new state.
    package init(state: MerchantState, environment: MerchantEnvironment) {
        self.id = state.id
        self.state = state
        self.environment = environment
        self.reservationsByMonth = Self.countReservations(state)
    }

    private static func countReservations(_ state: MerchantState) -> [String: Int] {
        var counts: [String: Int] = [:]
        for id in state.reserved {
            if let month = state.checkouts[id]?.reservedMonth { counts[month, default: 0] += 1 }
        }
        return counts
    }

    /// Paid transactions plus live reservations in `month` (`MerchantState.limitUsage`, in O(1)).
    package func limitUsage(in month: String) -> Int {
        (self.state.usage[month]?.paid ?? 0) + self.reservationsByMonth[month, default: 0]
    }

    // MARK: Journal

    /// Appends and applies events without suspending; returns the last LSN.
    private func commit(_ events: [MerchantEvent]) throws(HyggeError) -> UInt64 {
        var lsn = self.state.appliedLSN
        for event in events {
            let payload = JournalEntry(merchant: self.id, event: event).encoded()
            do {
                lsn = try self.environment.journal.append(payload)
            } catch {
                self.environment.logger.error("journal append failed", metadata: ["merchant.id": "\(self.id)"])
                throw .journalUnavailable
            }
            let touched = event.checkoutIDs
            for id in touched { self.adjustReservation(of: id, by: -1) }
            self.state.apply(event)
            for id in touched { self.adjustReservation(of: id, by: +1) }
            self.state.appliedLSN = lsn
        }
        return lsn
    }

    /// Removes (-1, before an event) or adds (+1, after it) the checkout's reservation to `reservationsByMonth`.
    private func adjustReservation(of id: CheckoutID, by delta: Int) {
        guard self.state.reserved.contains(id), let month = self.state.checkouts[id]?.reservedMonth else { return }
        let count = self.reservationsByMonth[month, default: 0] + delta
        self.reservationsByMonth[month] = count == 0 ? nil : count
    }

    /// Waits until everything this merchant has applied is durable, so no reply reveals an unjournaled change.
    func durable(_ lsn: UInt64? = nil) async throws(HyggeError) {
        do {
            try await self.environment.journal.waitDurable(lsn ?? self.state.appliedLSN)
        } catch {
            throw .journalUnavailable
        }
    }

    func commitDurably(_ events: [MerchantEvent]) async throws(HyggeError) {
        let lsn = try self.commit(events)
        try await self.durable(lsn)
    }

    // MARK: Secrets

    private func key() throws(HyggeError) -> SymmetricKey {
        if let dataKey = self.dataKey { return dataKey }
        do {
            let key = try self.environment.keyring.unwrap(self.state.dataKey, for: self.id)
            self.dataKey = key
            return key
        } catch {
            self.environment.logger.error("cannot unwrap data key", metadata: ["merchant.id": "\(self.id)"])
            throw .internalError
        }
    }

    func secret(_ field: SecretField) throws(HyggeError) -> String? {
        if let cached = self.secretCache[field] { return cached }
        let sealed: SealedValue? =
            switch field {
            case .shopifyToken: self.state.shopifyToken
            case .whopAPIKey: self.state.whopKey
            case .whopWebhookSecret: self.state.webhookSecret
            }
        guard let sealed else { return nil }
        do {
            let plain = try Vault.open(sealed, merchant: self.id, field: field, dataKey: try self.key())
            self.secretCache[field] = plain
            return plain
        } catch {
            self.environment.logger.error("cannot open sealed secret", metadata: ["merchant.id": "\(self.id)"])
            throw .internalError
        }
    }

    private func seal(_ value: String, _ field: SecretField) throws(HyggeError) -> SealedValue {
        do {
            return try Vault.seal(value, merchant: self.id, field: field, dataKey: try self.key())
        } catch {
            throw .internalError
        }
    }

    /// Re-wraps this merchant's data key under `master` (an online master-key rotation), journaled and durable
    /// before it returns. The data key itself, and so every sealed secret, stays the same.
    /// - Parameter force: re-wrap (with a fresh nonce) even when the data key already opens with `master`.
    /// - Returns: whether a re-wrap was journaled (false: the data key already opens with `master`).
    package func rewrapDataKey(under master: MasterKey, force: Bool = false) async throws(HyggeError) -> Bool {
        if !force, (try? Vault.unwrap(self.state.dataKey, for: self.id, master: master)) != nil {
            try await self.durable()
            return false
        }
        let wrapped: SealedValue
        do {
            wrapped = try Vault.wrap(try self.key(), for: self.id, master: master)
        } catch {
            throw .internalError
        }
        try await self.commitDurably([.dataKeyRewrapped(dataKey: wrapped)])
        return true
    }

    /// Whether `master` opens this merchant's data key as journaled.
    package func dataKeyOpens(with master: MasterKey) -> Bool {
        (try? Vault.unwrap(self.state.dataKey, for: self.id, master: master)) != nil
    }

    /// The Whop webhook signing secret, for verification in Net; nil when not set.
    package func webhookSecret() throws(HyggeError) -> String? { try self.secret(.whopWebhookSecret) }

    // MARK: Merchant setup

    /// Records an install with its Shopify access token (reinstall overwrites).
    package func install(token: String, scopes: String, now: Timestamp) async throws(HyggeError) {
        let sealed = try self.seal(token, .shopifyToken)
        try await self.commitDurably([.installed(token: sealed, scopes: scopes, at: now)])
        self.secretCache[.shopifyToken] = token
    }

    /// App uninstalled: drops the token, stops new checkouts; the ledger stays.
    package func uninstall(now: Timestamp) async throws(HyggeError) {
        try await self.commitDurably([.uninstalled(at: now)])
        self.secretCache[.shopifyToken] = nil
    }

    /// Stores an already validated Whop key and its company.
    package func setWhopKey(_ key: String, companyID: String, now: Timestamp) async throws(HyggeError) {
        let sealed = try self.seal(key, .whopAPIKey)
        let previous = self.state.companyID
        _ = try self.commit([
            .whopKeySet(key: sealed, fingerprint: Vault.fingerprint(key), companyID: companyID, at: now)
        ])
        self.secretCache[.whopAPIKey] = key
        if let previous, previous != companyID {
            self.environment.directory.release(company: previous, merchant: self.id)
        }
        self.environment.directory.register(company: companyID, merchant: self.id)
        try await self.durable()
    }

    /// Stores the Whop webhook signing secret.
    package func setWebhookSecret(_ secret: String, now: Timestamp) async throws(HyggeError) {
        let sealed = try self.seal(secret, .whopWebhookSecret)
        try await self.commitDurably([.webhookSecretSet(secret: sealed, at: now)])
        self.secretCache[.whopWebhookSecret] = secret
    }

    /// Changes the SaaS tier (nil = free).
    package func setTier(_ tier: String?, monthlyLimit: Int?) async throws(HyggeError) {
        try await self.commitDurably([.tierChanged(tier: tier, monthlyLimit: monthlyLimit)])
    }

    /// Applies one of Hygge's own SaaS subscription events (`/api/webhooks/whop/platform`): `planID` is the Whop
    /// plan the merchant subscribed to, mapped to a monthly limit by `HYGGE_TIERS`; `active == false` returns the
    /// merchant to the free limit. Deduplicated on the delivery id like every webhook; takes effect for the next
    /// get-plan.
    package func applyMembership(active: Bool, planID: String, delivery: String) async throws(HyggeError)
        -> DeliveryOutcome
    {
        if self.state.hasSeen(delivery: delivery) {
            try await self.durable()
            return .duplicate
        }
        if active {
            guard let limit = self.environment.settings.tiers[planID] else {
                try await self.commitDurably([.deliverySeen(delivery: delivery)])
                return .ignored
            }
            try await self.commitDurably([
                .tierChanged(tier: planID, monthlyLimit: limit), .deliverySeen(delivery: delivery),
            ])
            return .recorded
        }
        // A deactivation of a plan the merchant is not on (an old subscription) must not downgrade the current one.
        guard self.state.tier == planID else {
            try await self.commitDurably([.deliverySeen(delivery: delivery)])
            return .ignored
        }
        try await self.commitDurably([.tierChanged(tier: nil, monthlyLimit: nil), .deliverySeen(delivery: delivery)])
        return .recorded
    }

    /// The Whop company this merchant's key belongs to.
    package var companyID: String? { self.state.companyID }

    /// Whether this merchant's Whop company was connected to another shop (while this one was uninstalled): Whop's
    /// events for it now go to that shop, so this one cannot take payments with it.
    package var companyConnectedElsewhere: Bool {
        guard let company = self.state.companyID else { return false }
        guard let holder = self.environment.directory.merchant(forCompany: company) else { return false }
        return holder != self.id
    }

    private var monthlyLimit: Int { self.state.monthlyLimit ?? self.environment.settings.freeMonthlyLimit }

    private func readyCredentials() throws(HyggeError) -> (shopifyToken: String, whopKey: String, companyID: String) {
        guard self.state.installed, let token = try self.secret(.shopifyToken) else {
            throw .merchantNotReady("the Shopify app is not installed")
        }
        guard let whopKey = try self.secret(.whopAPIKey), let companyID = self.state.companyID else {
            throw .merchantNotReady("no validated Whop API key")
        }
        guard !self.companyConnectedElsewhere else {
            throw .merchantNotReady("its Whop company is now connected to another shop")
        }
        guard self.state.webhookSecret != nil else { throw .merchantNotReady("no Whop webhook secret") }
        return (token, whopKey, companyID)
    }

    // MARK: Checkout

    /// Creates a checkout whose every price is re-read from Shopify Admin.
    ///
    /// - Parameters:
    ///   - idempotencyKey: the client's key; with `requestHash`, a retry with the same body replays the first
    ///     checkout and a different body is refused.
    /// - Returns: the checkout as created, and whether it was a replay.
    package func createCheckout(
        _ request: CartRequest, idempotencyKey: String?, requestHash: String?, now: Timestamp
    ) async throws(HyggeError) -> (checkout: Checkout, replayed: Bool) {
        if let idempotencyKey, let requestHash {
            if let replay = try self.replay(idempotencyKey, requestHash, now: now) {
                try await self.durable()
                return (replay, true)
            }
            if let inflight = self.cartLoads[idempotencyKey] {
                let checkout = try await Self.value(of: inflight)
                guard let entry = self.state.idempotency[idempotencyKey], entry.requestHash == requestHash else {
                    throw .idempotencyKeyReused
                }
                return (checkout, true)
            }
            let task = Task { try await self.buildCheckout(request, key: idempotencyKey, hash: requestHash, now: now) }
            self.cartLoads[idempotencyKey] = task
            defer { self.cartLoads[idempotencyKey] = nil }
            let checkout = try await Self.value(of: task)
            return (checkout, false)
        }
        return (try await self.buildCheckout(request, key: nil, hash: nil, now: now), false)
    }

    private func replay(_ key: String, _ hash: String, now: Timestamp) throws(HyggeError) -> Checkout? {
        guard let entry = self.state.idempotency[key],
            entry.createdAt.adding(MerchantState.idempotencyTTL) > now
        else { return nil }
        guard entry.requestHash == hash else { throw .idempotencyKeyReused }
        guard var checkout = self.state.checkouts[entry.checkoutID] else { return nil }
        checkout.status = .open
        return checkout
    }

    private func buildCheckout(_ request: CartRequest, key: String?, hash: String?, now: Timestamp)
        async throws(HyggeError) -> Checkout
    {
        let token = try self.readyCredentials().shopifyToken
        var infos: [Int64: VariantInfo] = [:]
        var missing: [Int64] = []
        for item in request.items where infos[item.variantID] == nil {
            if let cached = self.priceCache[item.variantID],
                cached.fetchedAt.adding(self.environment.settings.priceCacheTTL) > now
            {
                infos[item.variantID] = cached.info
            } else if !missing.contains(item.variantID) {
                missing.append(item.variantID)
            }
        }
        if !missing.isEmpty {
            let tasks = missing.map { ($0, self.loadVariant($0, token: token)) }
            for (variantID, task) in tasks {
                let info: VariantInfo?
                do {
                    info = try await task.value
                    self.priceLoads[variantID] = nil
                } catch {
                    self.priceLoads[variantID] = nil
                    throw (error as? HyggeError) ?? .shopifyUnavailable
                }
                guard let info else { throw .variantNotFound(variantID) }
                infos[variantID] = info
                self.priceCache[variantID] = (info, now)
            }
        }
        var lines: [LineItem] = []
        var total: Int64 = 0
        for item in request.items {
            guard let info = infos[item.variantID],
                let unit = Currency.parseDecimal(info.price, currency: request.currency), unit >= 0
            else { throw .shopifyUnavailable }
            let (lineTotal, overflow1) = unit.multipliedReportingOverflow(by: Int64(item.quantity))
            let (sum, overflow2) = total.addingReportingOverflow(lineTotal)
            guard !overflow1, !overflow2 else { throw .invalidRequest("total overflows") }
            total = sum
            lines.append(LineItem(variantID: item.variantID, quantity: item.quantity, unitPrice: unit, title: info.title))
        }
        let money = Money(amount: total, currency: request.currency)
        let mismatch = request.clientTotal.map { $0 != money } ?? false
        let checkout = Checkout(
            id: .random(), lineItems: lines, total: money, clientTotalMismatch: mismatch, email: request.email,
            createdAt: now, expiresAt: now.adding(self.environment.settings.checkoutTTL))
        // Re-check after the awaits: another call with the same key may have finished first.
        if let key, let hash, let replay = try self.replay(key, hash, now: now) { return replay }
        _ = try self.commit([.checkoutCreated(checkout: checkout, idempotencyKey: key, requestHash: hash)])
        self.environment.directory.register(checkout.id, merchant: self.id)
        try await self.durable()
        return checkout
    }

    private func loadVariant(_ variantID: Int64, token: String) -> Task<VariantInfo?, any Error> {
        if let inflight = self.priceLoads[variantID] { return inflight }
        let shopify = self.environment.shopify
        let shop = self.id
        let task = Task<VariantInfo?, any Error> {
            do {
                return try await shopify.variant(shop: shop, token: token, id: variantID)
            } catch {
                throw HyggeError.shopifyUnavailable
            }
        }
        self.priceLoads[variantID] = task
        return task
    }

    /// A checkout by id.
    package func checkout(_ id: CheckoutID) async throws(HyggeError) -> Checkout {
        guard let checkout = self.state.checkouts[id] else { throw .unknownCheckout }
        try await self.durable()
        return checkout
    }

    /// Whether this merchant holds the checkout (for routing by checkout id).
    package func has(_ id: CheckoutID) -> Bool { self.state.checkouts[id] != nil }

    /// Returns the checkout's one-shot Whop plan, creating it (and reserving a slot of this month's limit) once.
    package func plan(for id: CheckoutID, now: Timestamp) async throws(HyggeError) -> PlanAnswer {
        guard let checkout = self.state.checkouts[id] else { throw .unknownCheckout }
        if let plan = checkout.plan {
            if checkout.status == .awaitingPayment, checkout.expiresAt <= now {
                try await self.commitDurably([.checkoutExpired(checkout: id, at: now)])
                throw .checkoutExpired
            }
            if checkout.status == .expired { throw .checkoutExpired }
            try await self.durable()
            return PlanAnswer(checkoutID: id, plan: plan, status: checkout.status)
        }
        if let inflight = self.planLoads[id] {
            let plan = try await Self.value(of: inflight)
            return PlanAnswer(checkoutID: id, plan: plan, status: self.state.checkouts[id]?.status ?? .awaitingPayment)
        }
        guard checkout.status == .open else {
            throw checkout.status == .expired ? .checkoutExpired : .unknownCheckout
        }
        if checkout.expiresAt <= now {
            try await self.commitDurably([.checkoutExpired(checkout: id, at: now)])
            throw .checkoutExpired
        }
        let credentials = try self.readyCredentials()
        let month = now.month
        if self.limitUsage(in: month) + self.planLoads.count >= self.monthlyLimit {
            try self.expireDue(now: now)
            if self.limitUsage(in: month) + self.planLoads.count >= self.monthlyLimit {
                throw .monthlyLimitReached
            }
        }
        let request = PlanRequest(
            checkoutID: id, shop: self.id, companyID: credentials.companyID, total: checkout.total,
            title: Self.planTitle(checkout),
            redirectURL: self.environment.settings.redirectURLTemplate?.replacingOccurrences(
                of: "{shop}", with: self.id.rawValue))
        let whop = self.environment.whop
        let deadline = self.environment.settings.whopDeadline
        let task = Task<WhopPlan, any Error> {
            try await Retry.run(deadline: deadline) { () async throws(GatewayError) -> WhopPlan in
                try await whop.createPlan(apiKey: credentials.whopKey, request: request)
            }
        }
        self.planLoads[id] = task
        defer { self.planLoads[id] = nil }
        let plan: WhopPlan
        do {
            plan = try await task.value
        } catch let error as GatewayError {
            self.environment.logger.warning(
                "whop plan creation failed", metadata: ["merchant.id": "\(self.id)", "error": "\(error.label)"])
            if case .unauthorized = error { throw .merchantNotReady("the Whop API key was refused") }
            throw .whopUnavailable
        } catch {
            throw .whopUnavailable
        }
        guard let current = self.state.checkouts[id], current.plan == nil, current.status == .open else {
            if let existing = self.state.checkouts[id]?.plan {
                return PlanAnswer(checkoutID: id, plan: existing, status: self.state.checkouts[id]?.status ?? .open)
            }
            throw .checkoutExpired
        }
        try await self.commitDurably([.planCreated(checkout: id, plan: plan, month: month, at: now)])
        return PlanAnswer(checkoutID: id, plan: plan, status: .awaitingPayment)
    }

    private static func planTitle(_ checkout: Checkout) -> String {
        let base = checkout.lineItems.first?.title ?? "Hygge checkout"
        let more = checkout.lineItems.count > 1 ? " +\(checkout.lineItems.count - 1)" : ""
        let room = 30 - more.count
        return String(base.prefix(room)) + more
    }

    private static func value<T: Sendable>(of task: Task<T, any Error>) async throws(HyggeError) -> T {
        do {
            return try await task.value
        } catch let error as HyggeError {
            throw error
        } catch {
            throw .internalError
        }
    }

    /// Expires open and awaiting checkouts past their lifetime, releasing reservations.
    package func expireDue(now: Timestamp) throws(HyggeError) {
        let due = self.state.live.filter { id in
            guard let checkout = self.state.checkouts[id] else { return false }
            return checkout.expiresAt <= now && self.planLoads[id] == nil
        }
        guard !due.isEmpty else { return }
        _ = try self.commit(due.sorted().map { .checkoutExpired(checkout: $0, at: now) })
    }

    /// Number of open or awaiting-payment checkouts.
    package var liveCheckouts: Int { self.state.live.count }

    // MARK: Whop webhooks

    /// Handles a verified Whop delivery exactly once (dedupe on delivery id and payment/refund id).
    package func handle(_ event: WhopEvent, delivery: String, now: Timestamp) async throws(HyggeError)
        -> DeliveryOutcome
    {
        if self.state.hasSeen(delivery: delivery) {
            try await self.durable()
            return .duplicate
        }
        switch event {
        case .paymentSucceeded(let notice):
            if let known = self.state.paymentIndex[notice.paymentID], self.state.checkouts[known]?.status != .awaitingPayment
            {
                try await self.commitDurably([.deliverySeen(delivery: delivery)])
                return .duplicate
            }
            guard let id = self.resolve(notice), let checkout = self.state.checkouts[id] else {
                self.environment.logger.warning(
                    "payment for unknown checkout", metadata: ["merchant.id": "\(self.id)", "payment.id": "\(notice.paymentID)"])
                try await self.commitDurably([.deliverySeen(delivery: delivery)])
                return .ignored
            }
            if checkout.status.isPaid || checkout.status == .amountMismatch {
                self.environment.logger.warning(
                    "second payment for a checkout",
                    metadata: ["merchant.id": "\(self.id)", "checkout.id": "\(id)", "payment.id": "\(notice.paymentID)"])
                try await self.commitDurably([.deliverySeen(delivery: delivery)])
                return .duplicate
            }
            // Every identifier Whop sent must point at this same checkout's plan: a payment whose metadata names one
            // checkout but whose plan belongs to another (or to none of ours) is not trusted with an order.
            guard let amount = notice.amount, amount == checkout.total, Self.identifiersAgree(notice, checkout) else {
                let amount = notice.amount ?? Money(amount: 0, currency: checkout.total.currency)
                try await self.commitDurably([
                    .paymentMismatched(checkout: id, paymentID: notice.paymentID, amount: amount, delivery: delivery, at: now)
                ])
                return .mismatch
            }
            let late = checkout.status == .expired || checkout.expiresAt <= now
            try await self.commitDurably([
                .paymentRecorded(
                    checkout: id, paymentID: notice.paymentID, amount: amount, fee: Currency.platformFee(amount.amount),
                    late: late, delivery: delivery, at: now)
            ])
            self.environment.orders.enqueue(self.id, id)
            return .recorded
        case .paymentFailed(let notice):
            guard let id = self.resolve(notice), let checkout = self.state.checkouts[id], !checkout.status.isPaid else {
                try await self.commitDurably([.deliverySeen(delivery: delivery)])
                return .ignored
            }
            try await self.commitDurably([
                .paymentFailed(checkout: id, paymentID: notice.paymentID, delivery: delivery, at: now)
            ])
            return .failed
        case .refund(let notice):
            guard notice.succeeded, !self.state.hasSeen(delivery: "refund:" + notice.refundID),
                !self.state.isParked(refund: notice.refundID)
            else {
                try await self.commitDurably([.deliverySeen(delivery: delivery)])
                return notice.succeeded ? .duplicate : .ignored
            }
            guard let id = self.state.paymentIndex[notice.paymentID], let checkout = self.state.checkouts[id] else {
                // Whop does not order its webhooks: this refund may have overtaken its payment.succeeded. Acknowledging
                // and dropping it would lose money from the ledger; answering an error would make Whop retry refunds
                // of payments made outside Hygge for days. It waits (bounded) for the payment instead.
                self.environment.logger.info(
                    "refund before its payment, parked",
                    metadata: ["merchant.id": "\(self.id)", "payment.id": "\(notice.paymentID)"])
                try await self.commitDurably([
                    .refundParked(
                        refund: ParkedRefund(
                            refundID: notice.refundID, paymentID: notice.paymentID, amountText: notice.amountText,
                            delivery: delivery, at: now))
                ])
                return .parked
            }
            guard checkout.status.isPaid, let amount = MerchantState.refundAmount(notice.amountText, of: checkout) else {
                try await self.commitDurably([.deliverySeen(delivery: delivery)])
                return checkout.status.isPaid ? .ignored : .duplicate
            }
            guard amount > 0 else {
                try await self.commitDurably([.deliverySeen(delivery: delivery)])
                return .duplicate
            }
            try await self.commitDurably([
                .refundRecorded(checkout: id, refundID: notice.refundID, amount: amount, delivery: delivery, at: now)
            ])
            return .refunded
        case .ignored:
            try await self.commitDurably([.deliverySeen(delivery: delivery)])
            return .ignored
        }
    }

    /// Whether the plan and checkout-configuration ids of a payment (when present) are the checkout's own.
    static func identifiersAgree(_ notice: PaymentNotice, _ checkout: Checkout) -> Bool {
        guard let plan = checkout.plan else { return notice.planID == nil && notice.configurationID == nil }
        if let planID = notice.planID, planID != plan.planID { return false }
        if let configuration = notice.configurationID, let own = plan.checkoutConfigurationID, configuration != own {
            return false
        }
        return true
    }

    private func resolve(_ notice: PaymentNotice) -> CheckoutID? {
        if let id = notice.checkoutID, self.state.checkouts[id] != nil { return id }
        if let configuration = notice.configurationID, let id = self.state.checkout(forWhopID: configuration) {
            return id
        }
        if let plan = notice.planID, let id = self.state.checkout(forWhopID: plan) { return id }
        return nil
    }

    // MARK: Orders (driven by OrderOutbox)

    /// What the outbox needs for the next order attempt; nil when nothing is pending for this checkout.
    package func orderWork(_ id: CheckoutID) throws(HyggeError) -> (
        request: OrderRequest, token: String, sync: OrderSync
    )? {
        guard self.state.pendingOrders.contains(id), let checkout = self.state.checkouts[id],
            let paymentID = checkout.paymentID, let token = try self.secret(.shopifyToken)
        else { return nil }
        let request = OrderRequest(
            checkoutID: id, paymentID: paymentID, lineItems: checkout.lineItems, total: checkout.total,
            email: checkout.email)
        return (request, token, checkout.orderSync ?? OrderSync())
    }

    /// Journals that an order POST is about to start.
    package func orderAttemptStarted(_ id: CheckoutID, now: Timestamp) async throws(HyggeError) {
        try await self.commitDurably([.orderAttemptStarted(checkout: id, at: now)])
    }

    /// Journals a failed order attempt.
    package func orderAttemptFailed(_ id: CheckoutID, error: String, ambiguous: Bool, giveUp: Bool)
        async throws(HyggeError)
    {
        try await self.commitDurably([.orderAttemptFailed(checkout: id, error: error, ambiguous: ambiguous, giveUp: giveUp)])
    }

    /// Journals the Shopify order.
    package func orderSynced(_ id: CheckoutID, order: ShopifyOrder) async throws(HyggeError) {
        guard self.state.pendingOrders.contains(id) else { return }
        try await self.commitDurably([.orderSynced(checkout: id, orderID: order.id, orderName: order.name)])
    }

    /// A merchant's manual retry of a failed order sync.
    package func retryOrderSync(_ id: CheckoutID) async throws(HyggeError) {
        guard let checkout = self.state.checkouts[id] else { throw .unknownCheckout }
        guard checkout.status == .orderSyncFailed else { throw .notFailed }
        try await self.commitDurably([.orderRetryRequested(checkout: id)])
        self.environment.orders.enqueue(self.id, id)
    }

    /// Checkouts whose order still has to be posted (re-queued after a restore).
    package var pendingOrders: [CheckoutID] { self.state.pendingOrders.sorted() }

    // MARK: Views

    /// The merchant's summary for `month`.
    package func summary(now: Timestamp) -> MerchantSummary {
        let month = now.month
        return MerchantSummary(
            shop: self.id, installed: self.state.installed, companyID: self.state.companyID,
            whopKeyFingerprint: self.state.whopKeyFingerprint, webhookSecretSet: self.state.webhookSecret != nil,
            webhookReceived: self.state.webhookReceived, companyConnectedElsewhere: self.companyConnectedElsewhere,
            tier: self.state.tier, monthlyLimit: self.monthlyLimit,
            month: month, usage: self.state.usage[month] ?? MonthUsage(), reserved: self.reservationsByMonth[month, default: 0])
    }

    /// Ledger rows of one `YYYY-MM` month, oldest first.
    package func ledger(month: String) -> [LedgerRow] {
        self.state.ledger.filter { $0.createdAt.month == month }
    }

    /// Most recent checkouts first.
    package func recentCheckouts(limit: Int) -> [Checkout] {
        Array(self.state.checkouts.values.sorted { $0.createdAt > $1.createdAt }.prefix(limit))
    }

    /// An immutable copy of the state with the LSN it reflects, for snapshots.
    package func snapshot() -> MerchantState { self.state }
}
