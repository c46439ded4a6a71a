/// Everything that changes a merchant, as journaled. The journal payload is `JournalEntry` as JSON
/// (`{"v":1,"m":"<shop>","e":{"<case>":{…}}}`); see `Sources/Persistence/FORMAT.md` and the README.
///
/// Events carry every input their `apply` needs (time included), so replay is deterministic.
package enum MerchantEvent: Hashable, Sendable, Codable {
    /// The merchant exists, with its wrapped data key.
    case created(dataKey: SealedValue, at: Timestamp)
    /// The data key re-wrapped under a new master key.
    case dataKeyRewrapped(dataKey: SealedValue)
    /// Shopify app installed (or reinstalled) with a sealed access token.
    case installed(token: SealedValue, scopes: String, at: Timestamp)
    /// App uninstalled: token dropped, checkouts stop; the ledger stays.
    case uninstalled(at: Timestamp)
    /// A validated Whop company key.
    case whopKeySet(key: SealedValue, fingerprint: String, companyID: String, at: Timestamp)
    /// The Whop webhook signing secret.
    case webhookSecretSet(secret: SealedValue, at: Timestamp)
    /// A checkout with Shopify-verified prices; `idempotencyKey`/`requestHash` when the client sent a key.
    case checkoutCreated(checkout: Checkout, idempotencyKey: String?, requestHash: String?)
    /// A one-shot Whop plan for the checkout; reserves one slot of `month`'s limit.
    case planCreated(checkout: CheckoutID, plan: WhopPlan, month: String, at: Timestamp)
    /// A payment matching the checkout was taken.
    case paymentRecorded(
        checkout: CheckoutID, paymentID: String, amount: Money, fee: Int64, late: Bool, delivery: String, at: Timestamp)
    /// A payment whose amount or currency differs from the checkout: recorded, no order.
    case paymentMismatched(checkout: CheckoutID, paymentID: String, amount: Money, delivery: String, at: Timestamp)
    /// The payment failed; the reservation is released.
    case paymentFailed(checkout: CheckoutID, paymentID: String?, delivery: String, at: Timestamp)
    /// A refund taken on Whop for a recorded payment.
    case refundRecorded(checkout: CheckoutID, refundID: String, amount: Int64, delivery: String, at: Timestamp)
    /// A Whop refund whose payment Hygge has not recorded yet (webhooks overtake each other); applied by the
    /// `paymentRecorded` of that payment.
    case refundParked(refund: ParkedRefund)
    /// A delivery that changed nothing but must be deduplicated (ignored event types).
    case deliverySeen(delivery: String)
    /// The checkout expired without payment; its reservation is released.
    case checkoutExpired(checkout: CheckoutID, at: Timestamp)
    /// An order POST is about to start (journaled first so a crash mid-POST is known to be ambiguous).
    case orderAttemptStarted(checkout: CheckoutID, at: Timestamp)
    /// An order attempt ended without an order; `ambiguous` when the order may nevertheless exist.
    case orderAttemptFailed(checkout: CheckoutID, error: String, ambiguous: Bool, giveUp: Bool)
    /// The Shopify order exists.
    case orderSynced(checkout: CheckoutID, orderID: Int64, orderName: String)
    /// A merchant asked to retry a failed order sync.
    case orderRetryRequested(checkout: CheckoutID)
    /// Hygge SaaS tier; nil tier = free.
    case tierChanged(tier: String?, monthlyLimit: Int?)
    /// A Shopify `refunds/create` asked Whop to refund `amount` minor units of the checkout's payment (journaled
    /// before the Whop call, so a redelivery never refunds twice).
    case shopifyRefundRequested(checkout: CheckoutID, shopifyRefundID: Int64, amount: Int64, delivery: String, at: Timestamp)
    /// The Whop refund call of a Shopify refund ended; `error` is a short label when it failed, and `released` the
    /// minor units given back to the refundable amount (a refusal that certainly refunded nothing).
    case shopifyRefundFinished(checkout: CheckoutID, shopifyRefundID: Int64, error: String?, released: Int64)
    /// The Whop refund call of a Shopify refund failed; `ambiguous` when Whop may have refunded anyway (the amount
    /// then stays counted as requested). Waits on the dashboard for a retry.
    case shopifyRefundFailed(
        checkout: CheckoutID, shopifyRefundID: Int64, amount: Int64, error: String, ambiguous: Bool, at: Timestamp)
    /// The merchant retries a failed Shopify refund (journaled before the Whop call, so a second click finds
    /// nothing to retry); the outcome is a `shopifyRefundFinished` or another `shopifyRefundFailed`.
    case shopifyRefundRetried(checkout: CheckoutID, shopifyRefundID: Int64, at: Timestamp)
    /// `customers/redact`: the buyer data of these checkouts is erased.
    case customersRedacted(checkouts: [CheckoutID], delivery: String)
    /// `shop/redact`: every secret and all buyer data of the shop erased (the ledger of amounts stays).
    case shopRedacted(delivery: String, at: Timestamp)
}

/// One journal record's payload: which merchant, which event, and the payload format version.
package struct JournalEntry: Hashable, Sendable, Codable {
    /// Payload format version; bump on incompatible change and keep decoding old versions.
    package static let currentVersion = 1
    package var v: Int
    package var m: MerchantID
    package var e: MerchantEvent

    package init(merchant: MerchantID, event: MerchantEvent) {
        self.v = Self.currentVersion
        self.m = merchant
        self.e = event
    }
}

extension MerchantEvent {
    /// The checkouts this event changes (what an actor's derived counters must re-read around `apply`).
    package var checkoutIDs: [CheckoutID] {
        switch self {
        case .checkoutCreated(let checkout, _, _): [checkout.id]
        case .planCreated(let id, _, _, _), .paymentRecorded(let id, _, _, _, _, _, _),
            .paymentMismatched(let id, _, _, _, _), .paymentFailed(let id, _, _, _), .refundRecorded(let id, _, _, _, _),
            .checkoutExpired(let id, _), .orderAttemptStarted(let id, _), .orderAttemptFailed(let id, _, _, _),
            .orderSynced(let id, _, _), .orderRetryRequested(let id), .shopifyRefundRequested(let id, _, _, _, _),
            .shopifyRefundFinished(let id, _, _, _), .shopifyRefundFailed(let id, _, _, _, _, _),
            .shopifyRefundRetried(let id, _, _):
            [id]
        case .customersRedacted(let ids, _): ids
        case .created, .dataKeyRewrapped, .installed, .uninstalled, .whopKeySet, .webhookSecretSet, .deliverySeen,
            .tierChanged, .shopRedacted, .refundParked:
            []
        }
    }
}
