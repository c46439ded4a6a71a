import Logging

/// Shopify webhooks: uninstall, refunds and the mandatory compliance topics.
extension MerchantActor {
    /// Handles a verified Shopify delivery once (dedupe on `X-Shopify-Webhook-Id`, journaled, so it survives a
    /// restart).
    package func handleShopify(_ event: ShopifyEvent, delivery rawDelivery: String, now: Timestamp)
        async throws(HyggeError) -> DeliveryOutcome
    {
        let delivery = "shopify:" + rawDelivery
        if self.state.hasSeen(delivery: delivery) {
            try await self.durable()
            return .duplicate
        }
        switch event {
        case .appUninstalled:
            try await self.commitDurably([.uninstalled(at: now), .deliverySeen(delivery: delivery)])
            self.secretCache[.shopifyToken] = nil
            return .recorded
        case .refundCreated(let notice):
            return try await self.refundFromShopify(notice, delivery: delivery, now: now)
        case .customersDataRequest(let orderIDs):
            // Hygge holds, per checkout, the buyer's e-mail and the lines; the merchant already has both in Shopify.
            // The request is acknowledged and logged without the customer's data.
            let matches = self.state.checkouts.values.filter { $0.orderID.map(orderIDs.contains) ?? false }.count
            self.environment.logger.info(
                "customers/data_request", metadata: ["merchant.id": "\(self.id)", "checkouts": "\(matches)"])
            try await self.commitDurably([.deliverySeen(delivery: delivery)])
            return .recorded
        case .customersRedact(let email, let orderIDs):
            let target = email?.lowercased()
            let ids = self.state.checkouts.values.filter { checkout in
                if let orderID = checkout.orderID, orderIDs.contains(orderID) { return true }
                if let target, let own = checkout.email?.lowercased(), own == target { return true }
                return false
            }.map(\.id).sorted()
            try await self.commitDurably([.customersRedacted(checkouts: ids, delivery: delivery)])
            return .recorded
        case .shopRedact:
            try await self.commitDurably([.shopRedacted(delivery: delivery, at: now)])
            self.secretCache = [:]
            return .recorded
        case .ignored:
            try await self.commitDurably([.deliverySeen(delivery: delivery)])
            return .ignored
        }
    }

    /// A Shopify refund becomes one Whop refund of the matching payment: never more than is left of what was paid,
    /// journaled before the call so that a redelivered or replayed webhook never refunds twice. An ambiguous Whop
    /// failure (timeout, 5xx) is not retried automatically (the refund may have happened); it shows on the
    /// dashboard. The ledger row comes from Whop's own `refund.created` event.
    private func refundFromShopify(_ notice: ShopifyRefundNotice, delivery: String, now: Timestamp)
        async throws(HyggeError) -> DeliveryOutcome
    {
        let refundKey = "shopify-refund:\(notice.refundID)"
        guard !self.state.hasSeen(delivery: refundKey),
            let checkout = self.state.checkouts.values.first(where: { $0.orderID == notice.orderID }),
            checkout.status.isPaid, let paymentID = checkout.paymentID
        else {
            try await self.commitDurably([.deliverySeen(delivery: delivery)])
            return .ignored
        }
        var asked: Int64 = 0
        for text in notice.amounts {
            guard let minor = Currency.parseDecimal(text, currency: checkout.total.currency), minor > 0 else { continue }
            asked = asked.saturatingAdd(minor)
        }
        let refunded = max(checkout.refundedAmount, checkout.refundRequested ?? 0)
        let amount = min(asked, checkout.total.amount.saturatingSubtract(refunded))
        guard amount > 0 else {
            try await self.commitDurably([.deliverySeen(delivery: delivery)])
            return asked > 0 ? .duplicate : .ignored
        }
        guard let key = try self.secret(.whopAPIKey) else {
            try await self.commitDurably([.deliverySeen(delivery: delivery)])
            return .ignored
        }
        try await self.commitDurably([
            .shopifyRefundRequested(
                checkout: checkout.id, shopifyRefundID: notice.refundID, amount: amount, delivery: delivery, at: now)
        ])
        let full = refunded == 0 && amount == checkout.total.amount
        let money = full ? nil : Money(amount: amount, currency: checkout.total.currency)
        return try await self.refundOnWhop(
            checkout.id, shopifyRefundID: notice.refundID, paymentID: paymentID, key: key, amount: amount,
            money: money, now: now)
    }

    /// Calls Whop's refund (a 429 is retried; a 5xx or timeout is not, as it may have refunded) and journals the
    /// outcome: finished, or a failure that waits on the dashboard.
    private func refundOnWhop(
        _ id: CheckoutID, shopifyRefundID: Int64, paymentID: String, key: String, amount: Int64, money: Money?,
        now: Timestamp
    ) async throws(HyggeError) -> DeliveryOutcome {
        let whop = self.environment.whop
        var failure: String?
        do throws(GatewayError) {
            try await Retry.run(deadline: .seconds(8)) { () async throws(GatewayError) in
                do throws(GatewayError) {
                    try await whop.refund(apiKey: key, paymentID: paymentID, amount: money)
                } catch {
                    // Only a 429 (certainly not applied) is retried: a 5xx or timeout may have refunded already.
                    guard case .rateLimited = error else { throw .rejected(status: 0, message: error.label) }
                    throw error
                }
            }
        } catch {
            failure = if case .rejected(0, let inner) = error { inner } else { error.label }
        }
        guard let failure else {
            try await self.commitDurably([
                .shopifyRefundFinished(checkout: id, shopifyRefundID: shopifyRefundID, error: nil, released: 0)
            ])
            return .refunded
        }
        self.environment.logger.warning(
            "whop refund for a shopify refund failed",
            metadata: ["merchant.id": "\(self.id)", "checkout.id": "\(id)", "error": "\(failure)"])
        try await self.commitDurably([
            .shopifyRefundFailed(
                checkout: id, shopifyRefundID: shopifyRefundID, amount: amount, error: "whop_refund_\(failure)",
                ambiguous: failure == "unavailable", at: now)
        ])
        return .failed
    }

    /// The merchant's retry of the oldest failed Shopify refund of a checkout: journaled before the Whop call, so a
    /// second click (or a concurrent one) finds nothing to retry; never more than is left of the payment.
    /// - Returns: `.refunded`, or `.failed` when Whop failed again (the failure is back on the dashboard).
    /// - Throws: `unknownCheckout`; `refundNotFailed` when no refund of this checkout waits for a retry.
    package func retryRefund(_ id: CheckoutID, now: Timestamp) async throws(HyggeError) -> DeliveryOutcome {
        guard let checkout = self.state.checkouts[id] else { throw .unknownCheckout }
        guard let failure = checkout.refundFailures?.first, let paymentID = checkout.paymentID else {
            throw .refundNotFailed
        }
        guard let key = try self.secret(.whopAPIKey) else { throw .merchantNotReady("no validated Whop API key") }
        let others = max(checkout.refundedAmount, checkout.refundRequested ?? 0)
            .saturatingSubtract(failure.ambiguous ? failure.amount : 0)
        let amount = min(failure.amount, checkout.total.amount.saturatingSubtract(max(0, others)))
        try await self.commitDurably([
            .shopifyRefundRetried(checkout: id, shopifyRefundID: failure.shopifyRefundID, at: now)
        ])
        guard amount > 0 else {
            // Whop already refunded everything (its refund events arrived): nothing is left to ask for.
            try await self.commitDurably([
                .shopifyRefundFinished(
                    checkout: id, shopifyRefundID: failure.shopifyRefundID, error: nil, released: 0)
            ])
            return .duplicate
        }
        let full = others <= 0 && amount == checkout.total.amount
        return try await self.refundOnWhop(
            id, shopifyRefundID: failure.shopifyRefundID, paymentID: paymentID, key: key, amount: amount,
            money: full ? nil : Money(amount: amount, currency: checkout.total.currency), now: now)
    }

    /// Failed Shopify-initiated refunds (for the dashboard's retry list), newest checkout first.
    package func failedRefunds(limit: Int) -> [(checkout: Checkout, failure: RefundFailure)] {
        var rows: [(checkout: Checkout, failure: RefundFailure)] = []
        for checkout in self.state.checkouts.values.sorted(by: { $0.createdAt > $1.createdAt }) {
            for failure in checkout.refundFailures ?? [] { rows.append((checkout, failure)) }
            if rows.count >= limit { break }
        }
        return Array(rows.prefix(limit))
    }

    /// Checkouts whose order sync gave up (for the dashboard's retry list), newest first.
    package func failedOrderSyncs(limit: Int) -> [Checkout] {
        Array(
            self.state.checkouts.values.filter { $0.status == .orderSyncFailed }.sorted { $0.createdAt > $1.createdAt }
                .prefix(limit))
    }

    /// Which merchant a checkout belongs to is this one.
    package func owns(_ id: CheckoutID) -> Bool { self.state.checkouts[id] != nil }
}

extension MerchantActor {
    /// Whether the Shopify app is installed (sessions of an uninstalled shop are refused).
    package var isInstalled: Bool { self.state.installed }
}
