/// A verified Shopify webhook, reduced to what the domain acts on (parsing lives in Net).
package enum ShopifyEvent: Hashable, Sendable {
    /// `app/uninstalled`.
    case appUninstalled
    /// `refunds/create`.
    case refundCreated(ShopifyRefundNotice)
    /// `customers/data_request`: the ids of the orders asked about.
    case customersDataRequest(orderIDs: [Int64])
    /// `customers/redact`: erase the buyer with this e-mail and these orders.
    case customersRedact(email: String?, orderIDs: [Int64])
    /// `shop/redact`: erase the shop's data.
    case shopRedact
    /// Any other topic.
    case ignored(topic: String)
}

/// The money facts of a Shopify refund.
package struct ShopifyRefundNotice: Hashable, Sendable {
    /// Shopify's refund id.
    package var refundID: Int64
    /// The Shopify order refunded (Hygge's `shopify_order_id`).
    package var orderID: Int64
    /// The decimal amounts of the refund's successful `refund` transactions, in the order's currency.
    package var amounts: [String]

    package init(refundID: Int64, orderID: Int64, amounts: [String]) {
        self.refundID = refundID
        self.orderID = orderID
        self.amounts = amounts
    }
}
