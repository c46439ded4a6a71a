import Foundation

/// Everything that changes a merchant, as journaled. The journal payload is `JournalEntry` in payload format 2
/// (binary, `JournalEntry+Binary.swift`; each case has a stable `Tag`), and journals written before it hold format 1
/// (JSON, `{"v":1,"m":"<shop>","e":{"<case>":{…}}}`), still read; see `Sources/Persistence/FORMAT.md`, "Journal record
/// payload". A new case needs a new `Tag`, its fields in both switches of `JournalEntry+Binary.swift` and FORMAT.md,
/// and a sample in `JournalPayloadTests`.
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
///
/// `encoded()` writes format 2 (binary); `init(payload:)` reads format 2 and format 1 (JSON). The synthesized
/// `Codable` conformance is format 1, and what `hygge journal dump` prints for records of either format.
package struct JournalEntry: Hashable, Sendable, Codable {
    /// The payload formats, told apart by the first byte (FORMAT.md, "Journal record payload").
    package enum Format: Int, Sendable, CaseIterable {
        /// Format 1: JSON starting with `{` (`v` is 1). Read only; `encoded(format: .json)` still writes it.
        case json = 1
        /// Format 2: binary, starting with the byte `0x02`. Written since issue 10's profiling.
        case binary = 2

        /// What `MerchantActor`, `MerchantRegistry` and the CLI write.
        package static let current = Format.binary

        /// `json` or `binary` (CLI options, benchmark reports).
        package var name: String {
            switch self {
            case .json: "json"
            case .binary: "binary"
            }
        }
    }

    /// Payload format version of entries made here (`Format.current`); a decoded entry keeps its payload's.
    package static let currentVersion = Format.current.rawValue
    package var v: Int
    package var m: MerchantID
    package var e: MerchantEvent

    package init(merchant: MerchantID, event: MerchantEvent) {
        self.v = Self.currentVersion
        self.m = merchant
        self.e = event
    }

    /// Why a payload does not decode (`Restorer.apply` reports it with the record's LSN).
    package enum DecodeError: Error, Equatable, CustomStringConvertible {
        /// A binary payload whose first byte (`0x00`–`0x08`) is a format this version does not read, or JSON whose
        /// `v` is not 1.
        case unsupportedVersion(Int)
        /// Malformed: not JSON of a `JournalEntry`, or a format 2 payload that is truncated, has an unknown tag,
        /// a bad flag, mode or index, or bytes after the event.
        case invalid(String)

        package var description: String {
            switch self {
            case .unsupportedVersion(let version): "unsupported payload version \(version)"
            case .invalid(let reason): "invalid payload: \(reason)"
            }
        }
    }

    /// The record payload in the current format (binary, format 2). The one place that decides what is written.
    package func encoded() -> [UInt8] { BinaryJournalPayload.encode(self) }

    /// The record payload in `format`; JSON (format 1, sorted keys) always says `"v":1`.
    package func encoded(format: Format) throws -> [UInt8] {
        switch format {
        case .binary:
            return BinaryJournalPayload.encode(self)
        case .json:
            var entry = self
            entry.v = Format.json.rawValue
            return Array(try Self.jsonEncoder.encode(entry))
        }
    }

    /// Decodes a record payload of either format.
    ///
    /// A first byte `0x00`–`0x08` (never the start of JSON) is a binary format version; `0x02` is format 2.
    /// Anything else is read as format 1 JSON.
    /// - Throws: `JournalEntry.DecodeError`.
    package init(payload: [UInt8]) throws(DecodeError) {
        try self.init(payload: payload, jsonDecoder: JSONDecoder())
    }

    /// `init(payload:)` with a decoder for format 1 kept by the caller (replaying many records).
    init(payload: [UInt8], jsonDecoder: JSONDecoder) throws(DecodeError) {
        if let first = payload.first, first <= 0x08 {
            guard first == BinaryJournalPayload.formatByte else { throw .unsupportedVersion(Int(first)) }
            do { self = try BinaryJournalPayload.decode(payload) } catch { throw .invalid("\(error)") }
            return
        }
        do {
            self = try jsonDecoder.decode(JournalEntry.self, from: Data(payload))
        } catch {
            throw .invalid("not a JSON journal entry: \(error)")
        }
        guard self.v == Format.json.rawValue else { throw .unsupportedVersion(self.v) }
    }

    /// One line of JSON (format 1's shape with this entry's `v`, sorted keys) for `hygge journal dump`; sealed
    /// values appear as base64 of the sealed box, never opened.
    package func displayJSON() throws -> String {
        String(decoding: try Self.jsonEncoder.encode(self), as: UTF8.self)
    }

    /// Sorted keys, as `MerchantActor` wrote format 1.
    private static var jsonEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
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
