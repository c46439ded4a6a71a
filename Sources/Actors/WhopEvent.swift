/// A verified Whop webhook, reduced to what the domain acts on (parsing lives in Net).
package enum WhopEvent: Hashable, Sendable {
    case paymentSucceeded(PaymentNotice)
    case paymentFailed(PaymentNotice)
    case refund(RefundNotice)
    case ignored(type: String)
}

/// A payment event's facts.
package struct PaymentNotice: Hashable, Sendable {
    package var paymentID: String
    /// `data.metadata.hygge_checkout_id`.
    package var checkoutID: CheckoutID?
    /// `data.checkout_configuration_id`.
    package var configurationID: String?
    /// `data.plan.id` / `data.plan_id`.
    package var planID: String?
    /// The paid amount in minor units, nil if Whop's amount could not be read exactly.
    package var amount: Money?

    package init(paymentID: String, checkoutID: CheckoutID?, configurationID: String?, planID: String?, amount: Money?) {
        self.paymentID = paymentID
        self.checkoutID = checkoutID
        self.configurationID = configurationID
        self.planID = planID
        self.amount = amount
    }
}

/// A refund event's facts.
package struct RefundNotice: Hashable, Sendable {
    package var refundID: String
    package var paymentID: String
    /// Decimal amount in major units of the payment's currency; nil = the whole remaining amount.
    package var amountText: String?
    /// Only succeeded refunds (or ones without a status) count.
    package var succeeded: Bool

    package init(refundID: String, paymentID: String, amountText: String?, succeeded: Bool) {
        self.refundID = refundID
        self.paymentID = paymentID
        self.amountText = amountText
        self.succeeded = succeeded
    }
}

/// What handling a delivery did (for logs and tests).
package enum DeliveryOutcome: String, Hashable, Sendable {
    case recorded, duplicate, mismatch, ignored, failed, refunded
    /// A refund for a payment not recorded yet: kept, and applied when the payment arrives.
    case parked
}
