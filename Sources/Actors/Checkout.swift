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
///
/// The purchase URL is kept as the head Whop put before the configuration (or plan) id, when it ends with one: a
/// million plans share a handful of heads instead of holding a million URLs (about 96 bytes each on the heap).
package struct WhopPlan: Hashable, Sendable {
    /// Whop plan id (`plan_…`).
    package let planID: String
    /// Whop checkout configuration id (`ch_…`), when Whop gave one.
    package let checkoutConfigurationID: String?
    /// What follows `purchaseURLHead` in the purchase URL.
    package enum URLTail: UInt8, Sendable, Hashable {
        /// Nothing: the head is the whole URL.
        case none
        /// The checkout configuration id.
        case configuration
        /// The plan id.
        case plan
    }
    /// The purchase URL up to its tail.
    package let purchaseURLHead: String
    package let purchaseURLTail: URLTail

    /// Where the buyer pays, exactly as Whop returned it.
    package var purchaseURL: String {
        switch self.purchaseURLTail {
        case .none: self.purchaseURLHead
        case .configuration: self.purchaseURLHead + (self.checkoutConfigurationID ?? "")
        case .plan: self.purchaseURLHead + self.planID
        }
    }

    package init(planID: String, checkoutConfigurationID: String?, purchaseURL: String) {
        self.planID = planID
        self.checkoutConfigurationID = checkoutConfigurationID
        if let configuration = checkoutConfigurationID, let head = Self.head(of: purchaseURL, before: configuration) {
            (self.purchaseURLHead, self.purchaseURLTail) = (head, .configuration)
        } else if let head = Self.head(of: purchaseURL, before: planID) {
            (self.purchaseURLHead, self.purchaseURLTail) = (head, .plan)
        } else {
            (self.purchaseURLHead, self.purchaseURLTail) = (purchaseURL, .none)
        }
    }

    /// A plan whose URL is `head` + the configuration id, as the snapshot decoder reads it (`head` shared from the
    /// block's string table). Nil unless that is the form `init(planID:checkoutConfigurationID:purchaseURL:)` gives,
    /// so equal plans always compare equal.
    package init?(planID: String, checkoutConfigurationID: String, configurationURLHead head: String) {
        guard !head.isEmpty, !checkoutConfigurationID.isEmpty else { return nil }
        self.planID = planID
        self.checkoutConfigurationID = checkoutConfigurationID
        self.purchaseURLHead = head
        self.purchaseURLTail = .configuration
    }

    /// Whop's own checkout URLs: the head most plans share, used as is so that it is never allocated per plan.
    static let whopCheckoutHead = "https://whop.com/checkout/"

    /// `text` minus `suffix` when `text` is a non-empty head followed by exactly the bytes of `suffix`.
    package static func head(of text: String, before suffix: String) -> String? {
        let count = suffix.utf8.count
        let headCount = text.utf8.count - count
        guard count > 0, headCount > 0, text.utf8.suffix(count).elementsEqual(suffix.utf8) else { return nil }
        let known = Self.whopCheckoutHead
        if headCount == known.utf8.count, text.utf8.starts(with: known.utf8) { return known }
        return String(decoding: text.utf8.prefix(headCount), as: UTF8.self)
    }
}

extension WhopPlan: Codable {
    private enum CodingKeys: String, CodingKey { case planID, checkoutConfigurationID, purchaseURL }

    /// The JSON of the plain three-field struct this replaced (journal and snapshot format 1).
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            planID: try container.decode(String.self, forKey: .planID),
            checkoutConfigurationID: try container.decodeIfPresent(String.self, forKey: .checkoutConfigurationID),
            purchaseURL: try container.decode(String.self, forKey: .purchaseURL))
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.planID, forKey: .planID)
        try container.encodeIfPresent(self.checkoutConfigurationID, forKey: .checkoutConfigurationID)
        try container.encode(self.purchaseURL, forKey: .purchaseURL)
    }
}

/// State of posting the paid order to Shopify.
package struct OrderSync: Hashable, Sendable, Codable {
    /// Attempts started so far (each journaled before its POST).
    package var attempts: Int = 0
    /// When the first POST was started; bounds the duplicate search (`created_at_min`).
    package var firstAttemptAt: Timestamp?
    /// When the latest attempt was started; bounds the duplicate search of the next one (`created_at_max`). Nil in
    /// state restored from a snapshot written before the field existed (the outbox then assumes the attempt was
    /// made just before it started).
    package var lastAttemptAt: Timestamp?
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
