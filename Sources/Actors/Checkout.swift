/// A checkout's lifecycle status, as shown on the buyer API.
package enum CheckoutStatus: String, Sendable, Codable, CaseIterable {
    case open
    case awaitingPayment = "awaiting_payment"
    case paid
    case orderSynced = "order_synced"
    case orderSyncFailed = "order_sync_failed"
    case paymentFailed = "payment_failed"
    case amountMismatch = "amount_mismatch"
    case expired
    case partiallyRefunded = "partially_refunded"
    case refunded

    /// Whether a payment was recorded for the checkout (money was taken).
    package var isPaid: Bool {
        switch self {
        case .paid, .orderSynced, .orderSyncFailed, .partiallyRefunded, .refunded: true
        case .open, .awaitingPayment, .paymentFailed, .amountMismatch, .expired: false
        }
    }
}

/// One cart line whose price came from Shopify Admin, never from the client.
package struct LineItem: Hashable, Sendable, Codable {
    package var variantID: Int64
    package var quantity: Int
    /// Unit price in minor units of the checkout's currency.
    package var unitPrice: Int64
    package var title: String

    package init(variantID: Int64, quantity: Int, unitPrice: Int64, title: String) {
        self.variantID = variantID
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.title = title
    }
}

/// The Whop plan created for a checkout.
package struct WhopPlan: Hashable, Sendable, Codable {
    /// Whop plan id (`plan_…`).
    package var planID: String
    /// Whop checkout configuration id (`ch_…`), when Whop gave one.
    package var checkoutConfigurationID: String?
    /// Where the buyer pays, used exactly as Whop returned it.
    package var purchaseURL: String

    package init(planID: String, checkoutConfigurationID: String?, purchaseURL: String) {
        self.planID = planID
        self.checkoutConfigurationID = checkoutConfigurationID
        self.purchaseURL = purchaseURL
    }
}

/// State of posting the paid order to Shopify.
package struct OrderSync: Hashable, Sendable, Codable {
    /// Attempts started so far (each journaled before its POST).
    package var attempts: Int = 0
    /// When the first POST was started; bounds the duplicate search (`created_at_min`).
    package var firstAttemptAt: Timestamp?
    /// Whether any attempt ended ambiguously (the order may exist), so the next one must search first.
    package var ambiguous: Bool = false
    /// Last error code, for the dashboard.
    package var lastError: String?
    /// Gave up after the bounded number of attempts; waits for a manual retry.
    package var failed: Bool = false

    package init() {}
}

/// A Shopify `refunds/create` whose Whop refund call failed: shown on the dashboard with a retry button.
package struct RefundFailure: Hashable, Sendable, Codable {
    /// The Shopify refund's id.
    package var shopifyRefundID: Int64
    /// Minor units asked of Whop.
    package var amount: Int64
    /// Short stable label, e.g. `whop_refund_rejected_422` or `whop_refund_unavailable`.
    package var error: String
    /// Whop may have refunded anyway (timeout or 5xx): the merchant should check the payment in Whop before a
    /// retry. A certain failure gave `amount` back to the refundable amount.
    package var ambiguous: Bool
    package var at: Timestamp

    package init(shopifyRefundID: Int64, amount: Int64, error: String, ambiguous: Bool, at: Timestamp) {
        self.shopifyRefundID = shopifyRefundID
        self.amount = amount
        self.error = error
        self.ambiguous = ambiguous
        self.at = at
    }
}

/// A buyer's checkout: verified lines, total, and what happened to it.
package struct Checkout: Hashable, Sendable, Codable {
    package var id: CheckoutID
    package var status: CheckoutStatus
    package var lineItems: [LineItem]
    package var total: Money
    package var clientTotalMismatch: Bool
    package var email: String?
    package var createdAt: Timestamp
    package var expiresAt: Timestamp
    package var plan: WhopPlan?
    /// Month (`YYYY-MM`) whose limit a live plan reserves; nil when no slot is held.
    package var reservedMonth: String?
    package var paymentID: String?
    package var paidAt: Timestamp?
    /// A payment arrived after the checkout had expired (still recorded and ordered).
    package var latePayment: Bool = false
    package var refundedAmount: Int64 = 0
    package var orderID: Int64?
    package var orderName: String?
    package var orderSync: OrderSync?
    /// Minor units of refunds asked of Whop because of Shopify `refunds/create` (nil: none).
    package var refundRequested: Int64?
    /// Why the last Shopify-initiated Whop refund failed (for the dashboard); nil when it did not.
    package var refundError: String?
    /// Shopify-initiated refunds whose Whop call failed and that wait for the merchant's retry (nil: none).
    package var refundFailures: [RefundFailure]?

    package init(
        id: CheckoutID, lineItems: [LineItem], total: Money, clientTotalMismatch: Bool, email: String?,
        createdAt: Timestamp, expiresAt: Timestamp
    ) {
        self.id = id
        self.status = .open
        self.lineItems = lineItems
        self.total = total
        self.clientTotalMismatch = clientTotalMismatch
        self.email = email
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// One row of a merchant's monthly ledger.
package struct LedgerRow: Hashable, Sendable, Codable {
    package enum Kind: String, Sendable, Codable { case payment, refund }
    package var createdAt: Timestamp
    package var kind: Kind
    package var checkoutID: CheckoutID
    package var paymentID: String
    package var currency: String
    /// Minor units; positive for payments and refunds alike (the kind says which way).
    package var amount: Int64
    /// Platform fee in minor units (0 for refunds: refunds do not return the fee).
    package var fee: Int64

    package init(
        createdAt: Timestamp, kind: Kind, checkoutID: CheckoutID, paymentID: String, currency: String, amount: Int64,
        fee: Int64
    ) {
        self.createdAt = createdAt
        self.kind = kind
        self.checkoutID = checkoutID
        self.paymentID = paymentID
        self.currency = currency
        self.amount = amount
        self.fee = fee
    }
}
