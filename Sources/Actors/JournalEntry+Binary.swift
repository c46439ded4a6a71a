/// Journal payload format 2: a compact binary encoding of `JournalEntry` (see `Sources/Persistence/FORMAT.md`,
/// "Journal record payload"). Encoding every record with `JSONEncoder` was about 13% of the CPU of a
/// create-from-cart and half of the journal replay time.
///
/// Layout: format byte `0x02` (a JSON payload starts with `{`), shop `str`, event tag varint (`MerchantEvent.Tag`),
/// then a block as in snapshot body format 2 — its string table, then the event's fields in declaration order. The
/// field vocabulary (`str`, `zz`, `bytes`, id, idx, the checkout and plan encodings) is the snapshot body's
/// (`RegistrySnapshot+Binary.swift`), written and read by the same `MerchantEncoder` / `MerchantDecoder`.
enum BinaryJournalPayload {
    /// The first byte of a format 2 payload.
    static let formatByte: UInt8 = 0x02

    /// Encodes `entry` (whatever its `v`: the bytes are format 2).
    static func encode(_ entry: JournalEntry) -> [UInt8] {
        var fields = MerchantEncoder()
        fields.event(entry.e)
        var out = BodyWriter()
        out.bytes.reserveCapacity(fields.out.bytes.count + entry.m.rawValue.utf8.count + 8)
        out.byte(Self.formatByte)
        out.raw(entry.m.rawValue)
        out.varint(UInt64(entry.e.tag.rawValue))
        fields.appendBlock(to: &out)
        return out.bytes
    }

    /// Decodes a format 2 payload; the entry's `v` is 2.
    ///
    /// - Throws: `BinaryFormatError` for another first byte, an unknown tag, a read past the end, a bad flag, mode or
    ///   index, or bytes left after the event.
    static func decode(_ bytes: [UInt8]) throws -> JournalEntry {
        try bytes.withUnsafeBytes { buffer throws -> JournalEntry in
            var reader = BodyReader(buffer, from: 0, to: buffer.count)
            let format = try reader.byte()
            guard format == Self.formatByte else { throw BinaryFormatError("payload format byte \(format), not 2") }
            let merchant = MerchantID(try reader.raw())
            let tagOffset = reader.offset
            let raw = try reader.varint()
            guard let tag = UInt8(exactly: raw).flatMap(MerchantEvent.Tag.init(rawValue:)) else {
                throw BinaryFormatError("unknown event tag \(raw) at offset \(tagOffset)")
            }
            var decoder = MerchantDecoder(reader: reader)
            try decoder.stringTable()
            let event = try decoder.event(tag)
            guard decoder.reader.remaining == 0 else {
                throw BinaryFormatError(
                    "\(decoder.reader.remaining) bytes after the \(tag) event at offset \(decoder.reader.offset)")
            }
            var entry = JournalEntry(merchant: merchant, event: event)
            entry.v = JournalEntry.Format.binary.rawValue
            return entry
        }
    }
}

extension MerchantEvent {
    /// The stable numeric tag of each case in journal payload format 2 (FORMAT.md, "Journal record payload").
    ///
    /// Tags are on-disk format: never renumber or reuse one; a new case takes the next free number, and a removed
    /// case keeps its number retired.
    package enum Tag: UInt8, CaseIterable, Sendable {
        case created = 1
        case dataKeyRewrapped = 2
        case installed = 3
        case uninstalled = 4
        case whopKeySet = 5
        case webhookSecretSet = 6
        case checkoutCreated = 7
        case planCreated = 8
        case paymentRecorded = 9
        case paymentMismatched = 10
        case paymentFailed = 11
        case refundRecorded = 12
        case deliverySeen = 13
        case checkoutExpired = 14
        case orderAttemptStarted = 15
        case orderAttemptFailed = 16
        case orderSynced = 17
        case orderRetryRequested = 18
        case tierChanged = 19
        case shopifyRefundRequested = 20
        case shopifyRefundFinished = 21
        case shopifyRefundFailed = 22
        case shopifyRefundRetried = 23
        case customersRedacted = 24
        case shopRedacted = 25
        case refundParked = 26
    }

    /// This event's payload tag.
    package var tag: Tag {
        switch self {
        case .created: .created
        case .dataKeyRewrapped: .dataKeyRewrapped
        case .installed: .installed
        case .uninstalled: .uninstalled
        case .whopKeySet: .whopKeySet
        case .webhookSecretSet: .webhookSecretSet
        case .checkoutCreated: .checkoutCreated
        case .planCreated: .planCreated
        case .paymentRecorded: .paymentRecorded
        case .paymentMismatched: .paymentMismatched
        case .paymentFailed: .paymentFailed
        case .refundRecorded: .refundRecorded
        case .deliverySeen: .deliverySeen
        case .checkoutExpired: .checkoutExpired
        case .orderAttemptStarted: .orderAttemptStarted
        case .orderAttemptFailed: .orderAttemptFailed
        case .orderSynced: .orderSynced
        case .orderRetryRequested: .orderRetryRequested
        case .tierChanged: .tierChanged
        case .shopifyRefundRequested: .shopifyRefundRequested
        case .shopifyRefundFinished: .shopifyRefundFinished
        case .shopifyRefundFailed: .shopifyRefundFailed
        case .shopifyRefundRetried: .shopifyRefundRetried
        case .customersRedacted: .customersRedacted
        case .shopRedacted: .shopRedacted
        case .refundParked: .refundParked
        }
    }
}

// MARK: - Event fields

extension MerchantEncoder {
    /// The fields of `event`, in declaration order (the tag is written by the caller).
    mutating func event(_ event: MerchantEvent) {
        switch event {
        case .created(let dataKey, let at):
            self.sealed(dataKey)
            self.out.int(at.milliseconds)
        case .dataKeyRewrapped(let dataKey):
            self.sealed(dataKey)
        case .installed(let token, let scopes, let at):
            self.sealed(token)
            self.out.raw(scopes)
            self.out.int(at.milliseconds)
        case .uninstalled(let at):
            self.out.int(at.milliseconds)
        case .whopKeySet(let key, let fingerprint, let companyID, let at):
            self.sealed(key)
            self.out.raw(fingerprint)
            self.out.raw(companyID)
            self.out.int(at.milliseconds)
        case .webhookSecretSet(let secret, let at):
            self.sealed(secret)
            self.out.int(at.milliseconds)
        case .checkoutCreated(let checkout, let idempotencyKey, let requestHash):
            self.checkout(checkout, key: checkout.id, previous: 0)
            self.optionalID(idempotencyKey)
            self.optionalID(requestHash)
        case .planCreated(let checkout, let plan, let month, let at):
            self.id(checkout.rawValue)
            self.flag(plan.checkoutConfigurationID != nil)
            self.plan(plan)
            self.out.raw(month)
            self.out.int(at.milliseconds)
        case .paymentRecorded(let checkout, let paymentID, let amount, let fee, let late, let delivery, let at):
            self.id(checkout.rawValue)
            self.id(paymentID)
            self.money(amount)
            self.out.int(fee)
            self.flag(late)
            self.id(delivery)
            self.out.int(at.milliseconds)
        case .paymentMismatched(let checkout, let paymentID, let amount, let delivery, let at):
            self.id(checkout.rawValue)
            self.id(paymentID)
            self.money(amount)
            self.id(delivery)
            self.out.int(at.milliseconds)
        case .paymentFailed(let checkout, let paymentID, let delivery, let at):
            self.id(checkout.rawValue)
            self.optionalID(paymentID)
            self.id(delivery)
            self.out.int(at.milliseconds)
        case .refundRecorded(let checkout, let refundID, let amount, let delivery, let at):
            self.id(checkout.rawValue)
            self.id(refundID)
            self.out.int(amount)
            self.id(delivery)
            self.out.int(at.milliseconds)
        case .deliverySeen(let delivery):
            self.id(delivery)
        case .checkoutExpired(let checkout, let at), .orderAttemptStarted(let checkout, let at):
            self.id(checkout.rawValue)
            self.out.int(at.milliseconds)
        case .orderAttemptFailed(let checkout, let error, let ambiguous, let giveUp):
            self.id(checkout.rawValue)
            self.out.raw(error)
            self.flag(ambiguous)
            self.flag(giveUp)
        case .orderSynced(let checkout, let orderID, let orderName):
            self.id(checkout.rawValue)
            self.out.int(orderID)
            self.out.raw(orderName)
        case .orderRetryRequested(let checkout):
            self.id(checkout.rawValue)
        case .tierChanged(let tier, let monthlyLimit):
            self.flag(tier != nil)
            if let tier { self.out.raw(tier) }
            self.flag(monthlyLimit != nil)
            if let monthlyLimit { self.out.int(monthlyLimit) }
        case .shopifyRefundRequested(let checkout, let shopifyRefundID, let amount, let delivery, let at):
            self.id(checkout.rawValue)
            self.out.int(shopifyRefundID)
            self.out.int(amount)
            self.id(delivery)
            self.out.int(at.milliseconds)
        case .shopifyRefundFinished(let checkout, let shopifyRefundID, let error, let released):
            self.id(checkout.rawValue)
            self.out.int(shopifyRefundID)
            self.flag(error != nil)
            if let error { self.out.raw(error) }
            self.out.int(released)
        case .shopifyRefundFailed(let checkout, let shopifyRefundID, let amount, let error, let ambiguous, let at):
            self.id(checkout.rawValue)
            self.out.int(shopifyRefundID)
            self.out.int(amount)
            self.out.raw(error)
            self.flag(ambiguous)
            self.out.int(at.milliseconds)
        case .shopifyRefundRetried(let checkout, let shopifyRefundID, let at):
            self.id(checkout.rawValue)
            self.out.int(shopifyRefundID)
            self.out.int(at.milliseconds)
        case .customersRedacted(let checkouts, let delivery):
            self.out.count(checkouts.count)
            for checkout in checkouts { self.id(checkout.rawValue) }
            self.id(delivery)
        case .shopRedacted(let delivery, let at):
            self.id(delivery)
            self.out.int(at.milliseconds)
        case .refundParked(let refund):
            self.parkedRefund(refund, base: Timestamp(milliseconds: 0))
        }
    }

    /// A boolean or a presence flag: u8 0 or 1.
    mutating func flag(_ value: Bool) { self.out.byte(value ? 1 : 0) }

    /// Presence flag, then the id.
    mutating func optionalID(_ value: String?) {
        self.flag(value != nil)
        if let value { self.id(value) }
    }

    /// Amount zz, then the currency `str` exactly as held.
    mutating func money(_ money: Money) {
        self.out.int(money.amount)
        self.out.raw(money.currency)
    }
}

extension MerchantDecoder {
    /// The fields of a `tag` event written by `MerchantEncoder.event`.
    mutating func event(_ tag: MerchantEvent.Tag) throws -> MerchantEvent {
        switch tag {
        case .created:
            return .created(dataKey: try self.sealed(), at: try self.timestamp())
        case .dataKeyRewrapped:
            return .dataKeyRewrapped(dataKey: try self.sealed())
        case .installed:
            return .installed(token: try self.sealed(), scopes: try self.reader.raw(), at: try self.timestamp())
        case .uninstalled:
            return .uninstalled(at: try self.timestamp())
        case .whopKeySet:
            return .whopKeySet(
                key: try self.sealed(), fingerprint: try self.reader.raw(), companyID: try self.reader.raw(),
                at: try self.timestamp())
        case .webhookSecretSet:
            return .webhookSecretSet(secret: try self.sealed(), at: try self.timestamp())
        case .checkoutCreated:
            let (key, checkout) = try self.checkout(previous: 0)
            guard key == checkout.id else { throw BinaryFormatError("checkout \(checkout.id) under another key \(key)") }
            return .checkoutCreated(checkout: checkout, idempotencyKey: try self.optionalID(), requestHash: try self.optionalID())
        case .planCreated:
            let checkout = try self.checkoutID()
            let plan = try self.plan(hasConfiguration: try self.flag())
            return .planCreated(checkout: checkout, plan: plan, month: try self.reader.raw(), at: try self.timestamp())
        case .paymentRecorded:
            return .paymentRecorded(
                checkout: try self.checkoutID(), paymentID: try self.id(), amount: try self.money(),
                fee: try self.reader.int64(), late: try self.flag(), delivery: try self.id(), at: try self.timestamp())
        case .paymentMismatched:
            return .paymentMismatched(
                checkout: try self.checkoutID(), paymentID: try self.id(), amount: try self.money(), delivery: try self.id(),
                at: try self.timestamp())
        case .paymentFailed:
            return .paymentFailed(
                checkout: try self.checkoutID(), paymentID: try self.optionalID(), delivery: try self.id(),
                at: try self.timestamp())
        case .refundRecorded:
            return .refundRecorded(
                checkout: try self.checkoutID(), refundID: try self.id(), amount: try self.reader.int64(),
                delivery: try self.id(), at: try self.timestamp())
        case .deliverySeen:
            return .deliverySeen(delivery: try self.id())
        case .checkoutExpired:
            return .checkoutExpired(checkout: try self.checkoutID(), at: try self.timestamp())
        case .orderAttemptStarted:
            return .orderAttemptStarted(checkout: try self.checkoutID(), at: try self.timestamp())
        case .orderAttemptFailed:
            return .orderAttemptFailed(
                checkout: try self.checkoutID(), error: try self.reader.raw(), ambiguous: try self.flag(),
                giveUp: try self.flag())
        case .orderSynced:
            return .orderSynced(checkout: try self.checkoutID(), orderID: try self.reader.int64(), orderName: try self.reader.raw())
        case .orderRetryRequested:
            return .orderRetryRequested(checkout: try self.checkoutID())
        case .tierChanged:
            let tier: String? = try self.flag() ? self.reader.raw() : nil
            let monthlyLimit: Int? = try self.flag() ? self.reader.int() : nil
            return .tierChanged(tier: tier, monthlyLimit: monthlyLimit)
        case .shopifyRefundRequested:
            return .shopifyRefundRequested(
                checkout: try self.checkoutID(), shopifyRefundID: try self.reader.int64(), amount: try self.reader.int64(),
                delivery: try self.id(), at: try self.timestamp())
        case .shopifyRefundFinished:
            let checkout = try self.checkoutID()
            let refund = try self.reader.int64()
            let error: String? = try self.flag() ? self.reader.raw() : nil
            return .shopifyRefundFinished(checkout: checkout, shopifyRefundID: refund, error: error, released: try self.reader.int64())
        case .shopifyRefundFailed:
            return .shopifyRefundFailed(
                checkout: try self.checkoutID(), shopifyRefundID: try self.reader.int64(), amount: try self.reader.int64(),
                error: try self.reader.raw(), ambiguous: try self.flag(), at: try self.timestamp())
        case .shopifyRefundRetried:
            return .shopifyRefundRetried(
                checkout: try self.checkoutID(), shopifyRefundID: try self.reader.int64(), at: try self.timestamp())
        case .customersRedacted:
            let count = try self.reader.count()
            var checkouts: [CheckoutID] = []
            checkouts.reserveCapacity(count)
            for _ in 0..<count { checkouts.append(try self.checkoutID()) }
            return .customersRedacted(checkouts: checkouts, delivery: try self.id())
        case .shopRedacted:
            return .shopRedacted(delivery: try self.id(), at: try self.timestamp())
        case .refundParked:
            return .refundParked(refund: try self.parkedRefund(base: 0))
        }
    }

    /// A u8 that must be 0 or 1.
    mutating func flag() throws -> Bool {
        let offset = self.reader.offset
        switch try self.reader.byte() {
        case 0: return false
        case 1: return true
        case let other: throw BinaryFormatError("flag byte \(other) at offset \(offset), not 0 or 1")
        }
    }

    mutating func optionalID() throws -> String? { try self.flag() ? self.id() : nil }

    mutating func checkoutID() throws -> CheckoutID { CheckoutID(try self.id()) }

    mutating func timestamp() throws -> Timestamp { Timestamp(milliseconds: try self.reader.int64()) }

    /// Amount and currency exactly as written (`Money.init` would upper-case the currency).
    mutating func money() throws -> Money {
        var money = Money(amount: try self.reader.int64(), currency: "")
        money.currency = try self.reader.raw()
        return money
    }
}
