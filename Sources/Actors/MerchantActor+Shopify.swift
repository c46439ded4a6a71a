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
                .shopifyRefundFinished(checkout: checkout.id, shopifyRefundID: notice.refundID, error: nil, released: 0)
            ])
            return .refunded
        }
        let certain = failure != "unavailable"
        self.environment.logger.warning(
            "whop refund for a shopify refund failed",
            metadata: ["merchant.id": "\(self.id)", "checkout.id": "\(checkout.id)", "error": "\(failure)"])
        try await self.commitDurably([
            .shopifyRefundFinished(
                checkout: checkout.id, shopifyRefundID: notice.refundID, error: "whop_refund_\(failure)",
                released: certain ? amount : 0)
        ])
        return .failed
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
