import Dispatch
import Foundation
import Persistence

/// Snapshot body format 2: a compact binary encoding of `RegistrySnapshot` (see `Sources/Persistence/FORMAT.md`,
/// "Snapshot body"). Restoring a million checkouts from JSON spent most of its time in `JSONDecoder`; this format
/// decodes each merchant from a length-prefixed block (blocks in parallel), shares one string instance between a
/// checkout and every index entry pointing at it, stores hex ids as bytes, and interns repeated strings per merchant.
///
/// Every stored field of `MerchantState` and what it holds must be encoded here (and in FORMAT.md): the fuzz targets'
/// "a snapshot does not round-trip" check and `SnapshotBenchmarkTests` fail for a field this codec drops.
///
/// Layout: `"HYGB"`, u32 LE version (2), u64 LE snapshot LSN, varint merchant count, then per merchant a varint block
/// length and the block. Integers inside blocks are LEB128 varints (signed ones zigzag-encoded).
enum BinarySnapshotBody {
    static let magic: [UInt8] = Array("HYGB".utf8)
    static let version: UInt32 = 2

    /// Whether `bytes` start like a binary body (a JSON body starts with `{`).
    static func isBinary(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == magic[0] && bytes[1] == magic[1] && bytes[2] == magic[2] && bytes[3] == magic[3]
    }

    // MARK: Encoding

    static func encode(_ snapshot: RegistrySnapshot) -> [UInt8] {
        var out = BodyWriter()
        out.bytes.append(contentsOf: Self.magic)
        withUnsafeBytes(of: Self.version.littleEndian) { out.bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: snapshot.lsn.littleEndian) { out.bytes.append(contentsOf: $0) }
        out.count(snapshot.merchants.count)
        let blocks = Self.encodeBlocks(snapshot.merchants)
        out.bytes.reserveCapacity(out.bytes.count + blocks.reduce(0) { $0 + $1.count + 5 })
        for block in blocks {
            out.count(block.count)
            out.bytes.append(contentsOf: block)
        }
        return out.bytes
    }

    /// Encodes merchant blocks on every core (at most `cores`).
    static func encodeBlocks(_ merchants: [MerchantState], cores: Int = .max) -> [[UInt8]] {
        Parallel.map(count: merchants.count, grain: 64, cores: cores) { MerchantEncoder.encode(merchants[$0]) }
    }

    // MARK: Decoding

    /// - Throws: `RestoreError.invalidSnapshot` (`binary body: …`) for any malformed body.
    static func decode(_ bytes: [UInt8]) throws -> RegistrySnapshot {
        do {
            return try Self.decodeUnwrapped(bytes)
        } catch let error as BinaryFormatError {
            throw Self.invalid(error.reason)
        }
    }

    private static func decodeUnwrapped(_ bytes: [UInt8]) throws -> RegistrySnapshot {
        try bytes.withUnsafeBytes { buffer throws -> RegistrySnapshot in
            guard buffer.count >= 16, Self.isBinary(bytes) else { throw Self.invalid("shorter than its header") }
            let version = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            guard version == Self.version else {
                throw RestoreError.invalidSnapshot("unsupported snapshot body version \(version)")
            }
            let lsn = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            var reader = BodyReader(buffer, from: 16, to: buffer.count)
            let count = try reader.count()
            var blocks: [Range<Int>] = []
            blocks.reserveCapacity(count)
            for _ in 0..<count {
                let length = try reader.count()
                blocks.append(reader.offset..<(reader.offset + length))
                reader.offset += length
            }
            guard reader.offset == buffer.count else { throw Self.invalid("\(buffer.count - reader.offset) bytes after the last merchant") }
            let merchants = try Self.decodeBlocks(buffer, blocks)
            var snapshot = RegistrySnapshot(lsn: lsn, merchants: merchants)
            snapshot.v = Int(Self.version)
            return snapshot
        }
    }

    /// Decodes merchant blocks on every core (each block is independent).
    static func decodeBlocks(_ buffer: UnsafeRawBufferPointer, _ blocks: [Range<Int>]) throws -> [MerchantState] {
        let decoded = Parallel.map(count: blocks.count, grain: 64) { index in
            Result {
                var decoder = MerchantDecoder(reader: BodyReader(buffer, from: blocks[index].lowerBound, to: blocks[index].upperBound))
                return try decoder.decode()
            }
        }
        return try decoded.map { try $0.get() }
    }

    static func invalid(_ reason: String) -> RestoreError {
        RestoreError.invalidSnapshot("binary body: " + reason)
    }
}

// MARK: - Primitive writer and reader

/// A malformed binary snapshot block or journal payload: what `BodyReader` and the block codecs throw. The snapshot
/// body decoder reports it as `RestoreError.invalidSnapshot`, the journal payload decoder as
/// `RestoreError.invalidRecord`.
struct BinaryFormatError: Error, CustomStringConvertible {
    /// What is wrong, and where (a byte offset).
    var reason: String

    init(_ reason: String) { self.reason = reason }

    var description: String { self.reason }
}

struct BodyWriter {
    var bytes: [UInt8] = []

    mutating func byte(_ value: UInt8) { self.bytes.append(value) }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            self.bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        self.bytes.append(UInt8(value))
    }

    /// Zigzag-encoded signed integer.
    mutating func int(_ value: Int64) { self.varint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }
    mutating func int(_ value: Int) { self.int(Int64(value)) }
    mutating func count(_ value: Int) { self.varint(UInt64(value)) }

    /// Length-prefixed UTF-8.
    mutating func raw(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            self.count(utf8.count)
            self.bytes.append(contentsOf: utf8)
        }
    }

    mutating func data(_ bytes: [UInt8]) {
        self.count(bytes.count)
        self.bytes.append(contentsOf: bytes)
    }
}

struct BodyReader {
    let buffer: UnsafeRawBufferPointer
    var offset: Int
    let end: Int

    init(_ buffer: UnsafeRawBufferPointer, from: Int, to: Int) {
        self.buffer = buffer
        self.offset = from
        self.end = to
    }

    var remaining: Int { self.end - self.offset }

    func truncated() -> BinaryFormatError { BinaryFormatError("truncated at offset \(self.offset)") }

    mutating func byte() throws -> UInt8 {
        guard self.offset < self.end else { throw self.truncated() }
        let value = self.buffer[self.offset]
        self.offset += 1
        return value
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard self.offset < self.end else { throw self.truncated() }
            let byte = self.buffer[self.offset]
            self.offset += 1
            if shift == 63, byte > 1 { throw BinaryFormatError("varint overflow at offset \(self.offset)") }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    mutating func int64() throws -> Int64 {
        let raw = try self.varint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    mutating func int() throws -> Int { Int(truncatingIfNeeded: try self.int64()) }

    /// A count or length: at most the bytes left (every element takes at least one byte).
    mutating func count() throws -> Int {
        let value = try self.varint()
        guard value <= UInt64(self.remaining) else {
            throw BinaryFormatError("count \(value) exceeds the \(self.remaining) bytes left at offset \(self.offset)")
        }
        return Int(value)
    }

    /// How many of `count` elements to reserve room for up front: no more than the bytes left could encode, at
    /// `minimumBytesEach` (a lower bound of an element's encoding). The count itself is untrusted until its elements
    /// decode; an estimate too low only costs the collection a regrowth.
    func reservation(_ count: Int, minimumBytesEach: Int) -> Int {
        min(count, self.remaining / minimumBytesEach)
    }

    mutating func take(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count <= self.remaining else { throw self.truncated() }
        let slice = UnsafeRawBufferPointer(rebasing: self.buffer[self.offset..<(self.offset + count)])
        self.offset += count
        return slice
    }

    mutating func raw() throws -> String {
        let bytes = try self.take(try self.count())
        return String(unsafeUninitializedCapacity: bytes.count) { target in
            UnsafeMutableRawBufferPointer(target).copyMemory(from: bytes)
            return bytes.count
        }
    }

    mutating func data() throws -> [UInt8] { Array(try self.take(try self.count())) }
}

// MARK: - Merchants

/// Checkout flags.
private enum CheckoutBit {
    static let clientTotalMismatch: UInt64 = 1 << 0
    static let latePayment: UInt64 = 1 << 1
    static let email: UInt64 = 1 << 2
    static let plan: UInt64 = 1 << 3
    static let configuration: UInt64 = 1 << 4
    static let reservedMonth: UInt64 = 1 << 5
    static let paymentID: UInt64 = 1 << 6
    static let paidAt: UInt64 = 1 << 7
    static let orderID: UInt64 = 1 << 8
    static let orderName: UInt64 = 1 << 9
    static let orderSync: UInt64 = 1 << 10
    static let refundRequested: UInt64 = 1 << 11
    static let refundError: UInt64 = 1 << 12
    static let refunded: UInt64 = 1 << 13
    static let otherKey: UInt64 = 1 << 14
    static let refundFailures: UInt64 = 1 << 15
    static let all: UInt64 = (1 << 16) - 1
}

/// Merchant flags.
private enum MerchantBit {
    static let installed: UInt64 = 1 << 0
    static let webhookReceived: UInt64 = 1 << 1
    static let scopes: UInt64 = 1 << 2
    static let shopifyToken: UInt64 = 1 << 3
    static let whopKey: UInt64 = 1 << 4
    static let fingerprint: UInt64 = 1 << 5
    static let companyID: UInt64 = 1 << 6
    static let webhookSecret: UInt64 = 1 << 7
    static let tier: UInt64 = 1 << 8
    static let monthlyLimit: UInt64 = 1 << 9
    static let all: UInt64 = (1 << 10) - 1
}

private let statuses = CheckoutStatus.allCases
private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

/// Encodes one merchant block: the string table, then the state.
struct MerchantEncoder {
    var out = BodyWriter()
    var table: [String: Int] = [:]
    var strings: [String] = []
    /// Checkout id → position in the block's checkout list.
    var positions: [CheckoutID: Int] = [:]

    static func encode(_ state: MerchantState) -> [UInt8] {
        var encoder = MerchantEncoder()
        encoder.state(state)
        var block = BodyWriter()
        encoder.appendBlock(to: &block)
        return block.bytes
    }

    mutating func intern(_ text: String) {
        if let index = self.table[text] {
            self.out.count(index)
            return
        }
        let index = self.strings.count
        self.table[text] = index
        self.strings.append(text)
        self.out.count(index)
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66)
    }

    private static func nibble(_ byte: UInt8) -> UInt8 { byte <= 0x39 ? byte - 0x30 : byte - 0x61 + 10 }

    /// An id: `0` and the raw string, or `1 + prefix index`, a byte count and the bytes of a trailing run of
    /// lower-case hex digits (even length, at least 8).
    mutating func id(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            var start = utf8.count
            while start > 0, Self.isHex(utf8[start - 1]) { start -= 1 }
            if (utf8.count - start) % 2 == 1 { start += 1 }
            let run = utf8.count - start
            guard run >= 8 else {
                self.out.varint(0)
                self.out.count(utf8.count)
                self.out.bytes.append(contentsOf: utf8)
                return
            }
            let prefix = String(decoding: UnsafeBufferPointer(rebasing: utf8[0..<start]), as: UTF8.self)
            let index: Int
            if let known = self.table[prefix] {
                index = known
            } else {
                index = self.strings.count
                self.table[prefix] = index
                self.strings.append(prefix)
            }
            self.out.count(index + 1)
            self.out.count(run / 2)
            var position = start
            while position < utf8.count {
                self.out.bytes.append(Self.nibble(utf8[position]) << 4 | Self.nibble(utf8[position + 1]))
                position += 2
            }
        }
    }

    /// A reference to a checkout: `1 + position`, or `0` and the id of a checkout this merchant does not hold.
    mutating func ref(_ id: CheckoutID) {
        if let position = self.positions[id] {
            self.out.count(position + 1)
        } else {
            self.out.varint(0)
            self.id(id.rawValue)
        }
    }

    mutating func refs(_ ids: Set<CheckoutID>) {
        self.out.count(ids.count)
        for entry in self.byPosition(ids.map { ($0, $0) }) { self.ref(entry.value) }
    }

    /// `entries` ordered by the position of the checkout each refers to, then by key (checkouts this merchant does not
    /// hold last). Each position is looked up once, not in every comparison; the keys are compared only between
    /// entries of one position, and the entries moved while sorting are small.
    func byPosition<Key: Comparable>(_ entries: [(key: Key, value: CheckoutID)]) -> [(key: Key, value: CheckoutID)] {
        var decorated: [(position: Int, entry: (key: Key, value: CheckoutID))] = []
        decorated.reserveCapacity(entries.count)
        for entry in entries { decorated.append((self.positions[entry.value] ?? .max, entry)) }
        decorated.sort { $0.position != $1.position ? $0.position < $1.position : $0.entry.key < $1.entry.key }
        return decorated.map(\.entry)
    }

    mutating func sealed(_ value: SealedValue) { self.out.data(value.combined) }

    mutating func state(_ state: MerchantState) {
        self.out.raw(state.id.rawValue)
        self.out.varint(state.appliedLSN)
        self.out.int(state.createdAt.milliseconds)
        self.sealed(state.dataKey)
        var flags: UInt64 = 0
        if state.installed { flags |= MerchantBit.installed }
        if state.webhookReceived { flags |= MerchantBit.webhookReceived }
        if state.scopes != nil { flags |= MerchantBit.scopes }
        if state.shopifyToken != nil { flags |= MerchantBit.shopifyToken }
        if state.whopKey != nil { flags |= MerchantBit.whopKey }
        if state.whopKeyFingerprint != nil { flags |= MerchantBit.fingerprint }
        if state.companyID != nil { flags |= MerchantBit.companyID }
        if state.webhookSecret != nil { flags |= MerchantBit.webhookSecret }
        if state.tier != nil { flags |= MerchantBit.tier }
        if state.monthlyLimit != nil { flags |= MerchantBit.monthlyLimit }
        self.out.varint(flags)
        if let scopes = state.scopes { self.out.raw(scopes) }
        if let token = state.shopifyToken { self.sealed(token) }
        if let key = state.whopKey { self.sealed(key) }
        if let fingerprint = state.whopKeyFingerprint { self.out.raw(fingerprint) }
        if let company = state.companyID { self.out.raw(company) }
        if let secret = state.webhookSecret { self.sealed(secret) }
        if let tier = state.tier { self.out.raw(tier) }
        if let limit = state.monthlyLimit { self.out.int(limit) }

        // Checkouts, oldest first (creation times then encode as small deltas).
        // Sorted as (time, id, slot) triples: a `Checkout` is large, and moving whole ones while sorting copied
        // (retained and released) every field.
        let keys = state.checkouts.keys
        let values = state.checkouts.values
        var order: [(createdAt: Int64, key: CheckoutID, slot: Int)] = []
        order.reserveCapacity(keys.count)
        for slot in keys.indices { order.append((values[slot].createdAt.milliseconds, keys[slot], slot)) }
        order.sort { $0.createdAt != $1.createdAt ? $0.createdAt < $1.createdAt : $0.key < $1.key }
        self.positions.reserveCapacity(order.count)
        for (position, entry) in order.enumerated() { self.positions[entry.key] = position }
        self.out.count(order.count)
        var previous = state.createdAt.milliseconds
        for entry in order {
            let checkout = values[entry.slot]
            self.checkout(checkout, key: entry.key, previous: previous)
            previous = checkout.createdAt.milliseconds
        }

        // Indexes: keys usually repeat the checkout's own plan / payment ids, then only a mode is stored.
        self.out.count(state.planIndex.count)
        for (key, id) in self.byPosition(Array(state.planIndex)) {
            self.ref(id)
            let plan = self.positions[id] != nil ? state.checkouts[id]?.plan : nil
            if let plan, plan.planID == key {
                self.out.byte(1)
            } else if let plan, plan.checkoutConfigurationID == key {
                self.out.byte(2)
            } else {
                self.out.byte(0)
                self.id(key)
            }
        }
        self.out.count(state.paymentIndex.count)
        for (key, id) in self.byPosition(Array(state.paymentIndex)) {
            self.ref(id)
            if self.positions[id] != nil, state.checkouts[id]?.paymentID == key {
                self.out.byte(1)
            } else {
                self.out.byte(0)
                self.id(key)
            }
        }
        self.refs(state.reserved)
        self.refs(state.live)
        self.refs(state.pendingOrders)

        self.out.count(state.usage.count)
        for (month, usage) in state.usage {
            self.intern(month)
            self.out.int(usage.paid)
            for sums in [usage.gross, usage.refunds, usage.fees] {
                self.out.count(sums.count)
                for (currency, amount) in sums {
                    self.intern(currency)
                    self.out.int(amount)
                }
            }
        }

        self.out.count(state.ledger.count)
        var previousRow = state.createdAt.milliseconds
        for row in state.ledger {
            self.out.int(row.createdAt.milliseconds &- previousRow)
            previousRow = row.createdAt.milliseconds
            self.out.byte(row.kind == .payment ? 0 : 1)
            self.ref(row.checkoutID)
            if self.positions[row.checkoutID] != nil, state.checkouts[row.checkoutID]?.paymentID == row.paymentID {
                self.out.byte(1)
            } else {
                self.out.byte(0)
                self.id(row.paymentID)
            }
            self.intern(row.currency)
            self.out.int(row.amount)
            self.out.int(row.fee)
        }

        self.out.count(state.idempotency.count)
        for (key, entry) in state.idempotency {
            self.id(key)
            self.id(entry.requestHash)
            self.ref(entry.checkoutID)
            self.out.int(entry.createdAt.milliseconds &- state.createdAt.milliseconds)
        }

        self.out.count(state.deliveryOrder.count)
        for delivery in state.deliveryOrder { self.id(delivery) }
        self.out.int(state.deliveryOrderHead)
        let window: Set<String>? =
            state.deliveryOrderHead >= 0 && state.deliveryOrderHead <= state.deliveryOrder.count
            ? Set(state.deliveryOrder[state.deliveryOrderHead...]) : nil
        if let window, window == state.deliveries {
            self.out.byte(0)
        } else {
            self.out.byte(1)
            self.out.count(state.deliveries.count)
            for delivery in state.deliveries { self.id(delivery) }
        }

        // Optional trailing sections, each a tag byte: readers of blocks without them see none.
        if let parked = state.parkedRefunds {
            self.out.byte(1)
            self.out.count(parked.count)
            for refund in parked { self.parkedRefund(refund, base: state.createdAt) }
        }
    }

    mutating func checkout(_ checkout: Checkout, key: CheckoutID, previous: Int64) {
        var flags: UInt64 = 0
        if checkout.clientTotalMismatch { flags |= CheckoutBit.clientTotalMismatch }
        if checkout.latePayment { flags |= CheckoutBit.latePayment }
        if checkout.email != nil { flags |= CheckoutBit.email }
        if let plan = checkout.plan {
            flags |= CheckoutBit.plan
            if plan.checkoutConfigurationID != nil { flags |= CheckoutBit.configuration }
        }
        if checkout.reservedMonth != nil { flags |= CheckoutBit.reservedMonth }
        if checkout.paymentID != nil { flags |= CheckoutBit.paymentID }
        if checkout.paidAt != nil { flags |= CheckoutBit.paidAt }
        if checkout.orderID != nil { flags |= CheckoutBit.orderID }
        if checkout.orderName != nil { flags |= CheckoutBit.orderName }
        if checkout.orderSync != nil { flags |= CheckoutBit.orderSync }
        if checkout.refundRequested != nil { flags |= CheckoutBit.refundRequested }
        if checkout.refundError != nil { flags |= CheckoutBit.refundError }
        if checkout.refundedAmount != 0 { flags |= CheckoutBit.refunded }
        if key != checkout.id { flags |= CheckoutBit.otherKey }
        if checkout.refundFailures != nil { flags |= CheckoutBit.refundFailures }
        self.out.varint(flags)
        self.id(checkout.id.rawValue)
        if key != checkout.id { self.id(key.rawValue) }
        self.out.byte(UInt8(statuses.firstIndex(of: checkout.status) ?? 0))
        let created = checkout.createdAt.milliseconds
        self.out.int(created &- previous)
        self.out.int(checkout.expiresAt.milliseconds &- created)
        self.out.count(checkout.lineItems.count)
        for line in checkout.lineItems {
            self.out.int(line.variantID)
            self.out.int(line.quantity)
            self.out.int(line.unitPrice)
            self.intern(line.title)
        }
        self.out.int(checkout.total.amount)
        self.intern(checkout.total.currency)
        if let email = checkout.email { self.out.raw(email) }
        if let plan = checkout.plan { self.plan(plan) }
        if let month = checkout.reservedMonth { self.intern(month) }
        if let payment = checkout.paymentID { self.id(payment) }
        if let paidAt = checkout.paidAt { self.out.int(paidAt.milliseconds &- created) }
        if checkout.refundedAmount != 0 { self.out.int(checkout.refundedAmount) }
        if let order = checkout.orderID { self.out.int(order) }
        if let name = checkout.orderName { self.out.raw(name) }
        if let sync = checkout.orderSync {
            var syncFlags: UInt8 = 0
            if sync.firstAttemptAt != nil { syncFlags |= 1 }
            if sync.ambiguous { syncFlags |= 2 }
            if sync.lastError != nil { syncFlags |= 4 }
            if sync.failed { syncFlags |= 8 }
            if sync.lastAttemptAt != nil { syncFlags |= 16 }
            self.out.byte(syncFlags)
            self.out.int(sync.attempts)
            if let first = sync.firstAttemptAt { self.out.int(first.milliseconds &- created) }
            if let last = sync.lastAttemptAt { self.out.int(last.milliseconds &- created) }
            if let error = sync.lastError { self.intern(error) }
        }
        if let requested = checkout.refundRequested { self.out.int(requested) }
        if let error = checkout.refundError { self.intern(error) }
        if let failures = checkout.refundFailures {
            self.out.count(failures.count)
            for failure in failures {
                self.out.int(failure.shopifyRefundID)
                self.out.int(failure.amount)
                self.intern(failure.error)
                self.out.byte(failure.ambiguous ? 1 : 0)
                self.out.int(failure.at.milliseconds &- created)
            }
        }
    }

    /// A plan: planID id, [configuration id] (the caller records whether it is present), purchase URL mode u8 and
    /// the URL (0 `str` / 1 idx prefix + configuration id / 2 idx prefix + planID).
    mutating func plan(_ plan: WhopPlan) {
        self.id(plan.planID)
        if let configuration = plan.checkoutConfigurationID { self.id(configuration) }
        // The purchase URL usually ends with the configuration (or plan) id: store the head only (`WhopPlan` keeps
        // it split the same way).
        switch plan.purchaseURLTail {
        case .configuration:
            self.out.byte(1)
            self.intern(plan.purchaseURLHead)
        case .plan:
            self.out.byte(2)
            self.intern(plan.purchaseURLHead)
        case .none:
            self.out.byte(0)
            self.out.raw(plan.purchaseURLHead)
        }
    }

    /// A parked refund: refundID id, paymentID id, amount mode u8 (0 none / 1 `str`), delivery id, at zz delta from
    /// `base`.
    mutating func parkedRefund(_ refund: ParkedRefund, base: Timestamp) {
        self.id(refund.refundID)
        self.id(refund.paymentID)
        if let amount = refund.amountText {
            self.out.byte(1)
            self.out.raw(amount)
        } else {
            self.out.byte(0)
        }
        self.id(refund.delivery)
        self.out.int(refund.at.milliseconds &- base.milliseconds)
    }

    /// Appends the string table and then the fields written so far (a block: what `MerchantDecoder` reads).
    func appendBlock(to writer: inout BodyWriter) {
        writer.count(self.strings.count)
        for string in self.strings { writer.raw(string) }
        writer.bytes.append(contentsOf: self.out.bytes)
    }
}

/// Decodes one merchant block written by `MerchantEncoder`.
struct MerchantDecoder {
    var reader: BodyReader
    var strings: [String] = []
    var ids: [CheckoutID] = []
    var plans: [WhopPlan?] = []
    var payments: [String?] = []

    mutating func interned() throws -> String {
        let index = try self.reader.varint()
        guard index < UInt64(self.strings.count) else {
            throw BinaryFormatError("string index \(index) outside the table of \(self.strings.count)")
        }
        return self.strings[Int(index)]
    }

    mutating func id() throws -> String {
        let head = try self.reader.varint()
        if head == 0 { return try self.reader.raw() }
        guard head <= UInt64(self.strings.count) else {
            throw BinaryFormatError("id prefix \(head - 1) outside the table of \(self.strings.count)")
        }
        let prefix = self.strings[Int(head - 1)]
        let bytes = try self.reader.take(try self.reader.count())
        let prefixCount = prefix.utf8.count
        return String(unsafeUninitializedCapacity: prefixCount + 2 * bytes.count) { target in
            var position = 0
            for byte in prefix.utf8 {
                target[position] = byte
                position += 1
            }
            hexDigits.withUnsafeBufferPointer { digits in
                for byte in bytes {
                    target[position] = digits[Int(byte >> 4)]
                    target[position + 1] = digits[Int(byte & 0x0F)]
                    position += 2
                }
            }
            return position
        }
    }

    mutating func ref() throws -> CheckoutID {
        let position = try self.reader.varint()
        if position == 0 { return CheckoutID(try self.id()) }
        guard position <= UInt64(self.ids.count) else {
            throw BinaryFormatError("checkout reference \(position - 1) outside the \(self.ids.count) checkouts")
        }
        return self.ids[Int(position - 1)]
    }

    /// A reference and the position it names (nil for an explicit id).
    mutating func positionedRef() throws -> (CheckoutID, Int?) {
        let position = try self.reader.varint()
        if position == 0 { return (CheckoutID(try self.id()), nil) }
        guard position <= UInt64(self.ids.count) else {
            throw BinaryFormatError("checkout reference \(position - 1) outside the \(self.ids.count) checkouts")
        }
        return (self.ids[Int(position - 1)], Int(position - 1))
    }

    mutating func refs() throws -> Set<CheckoutID> {
        let count = try self.reader.count()
        var set = Set<CheckoutID>(minimumCapacity: count)
        for _ in 0..<count { set.insert(try self.ref()) }
        return set
    }

    mutating func sealed() throws -> SealedValue { SealedValue(combined: try self.reader.data()) }

    /// Reads the block's string table (what `MerchantEncoder.appendBlock` writes first).
    mutating func stringTable() throws {
        let tableCount = try self.reader.count()
        self.strings.reserveCapacity(tableCount)
        for _ in 0..<tableCount { self.strings.append(try self.reader.raw()) }
    }

    /// A plan written by `MerchantEncoder.plan`.
    mutating func plan(hasConfiguration: Bool) throws -> WhopPlan {
        let planID = try self.id()
        let configuration: String? = try hasConfiguration ? self.id() : nil
        let url: String
        switch (try self.reader.byte(), configuration) {
        case (0, _): url = try self.reader.raw()
        case (1, let configuration?):
            let head = try self.interned()
            // The common case keeps the table's head string instead of building the URL.
            if let plan = WhopPlan(planID: planID, checkoutConfigurationID: configuration, configurationURLHead: head) {
                return plan
            }
            url = head + configuration
        case (2, _): url = try self.interned() + planID
        case (let mode, _): throw BinaryFormatError("bad purchase URL mode \(mode)")
        }
        return WhopPlan(planID: planID, checkoutConfigurationID: configuration, purchaseURL: url)
    }

    /// A parked refund written by `MerchantEncoder.parkedRefund` with the same `base`.
    mutating func parkedRefund(base: Int64) throws -> ParkedRefund {
        let refund = try self.id()
        let payment = try self.id()
        let amount: String?
        switch try self.reader.byte() {
        case 0: amount = nil
        case 1: amount = try self.reader.raw()
        case let other: throw BinaryFormatError("bad parked-refund amount mode \(other)")
        }
        let delivery = try self.id()
        let at = try base &+ self.reader.int64()
        return ParkedRefund(
            refundID: refund, paymentID: payment, amountText: amount, delivery: delivery, at: Timestamp(milliseconds: at))
    }

    mutating func decode() throws -> MerchantState {
        try self.stringTable()

        let id = MerchantID(try self.reader.raw())
        let appliedLSN = try self.reader.varint()
        let createdAt = try self.reader.int64()
        var state = MerchantState(id: id, dataKey: try self.sealed(), createdAt: Timestamp(milliseconds: createdAt))
        state.appliedLSN = appliedLSN
        let flags = try self.reader.varint()
        guard flags & ~MerchantBit.all == 0 else { throw BinaryFormatError("unknown merchant flags \(flags)") }
        state.installed = flags & MerchantBit.installed != 0
        state.webhookReceived = flags & MerchantBit.webhookReceived != 0
        if flags & MerchantBit.scopes != 0 { state.scopes = try self.reader.raw() }
        if flags & MerchantBit.shopifyToken != 0 { state.shopifyToken = try self.sealed() }
        if flags & MerchantBit.whopKey != 0 { state.whopKey = try self.sealed() }
        if flags & MerchantBit.fingerprint != 0 { state.whopKeyFingerprint = try self.reader.raw() }
        if flags & MerchantBit.companyID != 0 { state.companyID = try self.reader.raw() }
        if flags & MerchantBit.webhookSecret != 0 { state.webhookSecret = try self.sealed() }
        if flags & MerchantBit.tier != 0 { state.tier = try self.reader.raw() }
        if flags & MerchantBit.monthlyLimit != 0 { state.monthlyLimit = try self.reader.int() }

        let checkoutCount = try self.reader.count()
        // A checkout takes at least 8 bytes: flags, id, status, two times, line count, amount, currency.
        let expected = self.reader.reservation(checkoutCount, minimumBytesEach: 8)
        self.ids.reserveCapacity(expected)
        self.plans.reserveCapacity(expected)
        self.payments.reserveCapacity(expected)
        // With room for the merchant's next checkouts: at exactly its size, the first checkout after a restart (or
        // of a replayed journal tail) copied the whole table into a new one twice the size.
        var checkouts = CheckoutTable(minimumCapacity: expected + expected / 8 + 8)
        var previous = createdAt
        for _ in 0..<checkoutCount {
            let (key, checkout) = try self.checkout(previous: previous)
            previous = checkout.createdAt.milliseconds
            self.ids.append(key)
            self.plans.append(checkout.plan)
            self.payments.append(checkout.paymentID)
            guard checkouts.insertNew(checkout, key: key) else { throw BinaryFormatError("checkout \(key) twice in one block") }
        }
        state.checkouts = checkouts

        let planCount = try self.reader.count()
        var planIndex: [String: CheckoutID] = [:]
        planIndex.reserveCapacity(planCount)
        for _ in 0..<planCount {
            let (checkout, position) = try self.positionedRef()
            let mode = try self.reader.byte()
            let key: String
            switch (mode, position.flatMap { self.plans[$0] }) {
            case (0, _): key = try self.id()
            case (1, let plan?): key = plan.planID
            case (2, let plan?):
                guard let configuration = plan.checkoutConfigurationID else { throw BinaryFormatError("plan key mode 2 without a configuration") }
                key = configuration
            default: throw BinaryFormatError("bad plan index mode \(mode)")
            }
            planIndex[key] = checkout
        }
        state.planIndex = planIndex

        let paymentCount = try self.reader.count()
        var paymentIndex: [String: CheckoutID] = [:]
        paymentIndex.reserveCapacity(paymentCount)
        for _ in 0..<paymentCount {
            let (checkout, position) = try self.positionedRef()
            paymentIndex[try self.paymentKey(position)] = checkout
        }
        state.paymentIndex = paymentIndex
        state.reserved = try self.refs()
        state.live = try self.refs()
        state.pendingOrders = try self.refs()

        let months = try self.reader.count()
        for _ in 0..<months {
            let month = try self.interned()
            var usage = MonthUsage()
            usage.paid = try self.reader.int()
            usage.gross = try self.sums()
            usage.refunds = try self.sums()
            usage.fees = try self.sums()
            state.usage[month] = usage
        }

        let rows = try self.reader.count()
        state.ledger.reserveCapacity(rows)
        var previousRow = createdAt
        for _ in 0..<rows {
            let at = try previousRow &+ self.reader.int64()
            previousRow = at
            let kind: LedgerRow.Kind
            switch try self.reader.byte() {
            case 0: kind = .payment
            case 1: kind = .refund
            case let other: throw BinaryFormatError("bad ledger kind \(other)")
            }
            let (checkout, position) = try self.positionedRef()
            let payment = try self.paymentKey(position)
            let currency = try self.interned()
            let amount = try self.reader.int64()
            let fee = try self.reader.int64()
            state.ledger.append(
                LedgerRow(
                    createdAt: Timestamp(milliseconds: at), kind: kind, checkoutID: checkout, paymentID: payment,
                    currency: currency, amount: amount, fee: fee))
        }

        let keys = try self.reader.count()
        state.idempotency.reserveCapacity(keys)
        for _ in 0..<keys {
            let key = try self.id()
            let hash = try self.id()
            let checkout = try self.ref()
            let at = try createdAt &+ self.reader.int64()
            state.idempotency[key] = IdempotencyEntry(requestHash: hash, checkoutID: checkout, createdAt: Timestamp(milliseconds: at))
        }

        let deliveries = try self.reader.count()
        state.deliveryOrder.reserveCapacity(deliveries)
        for _ in 0..<deliveries { state.deliveryOrder.append(try self.id()) }
        state.deliveryOrderHead = try self.reader.int()
        switch try self.reader.byte() {
        case 0:
            guard (0...state.deliveryOrder.count).contains(state.deliveryOrderHead) else {
                throw BinaryFormatError("delivery window head \(state.deliveryOrderHead) outside the window")
            }
            state.deliveries = Set(state.deliveryOrder[state.deliveryOrderHead...])
        case 1:
            let count = try self.reader.count()
            state.deliveries.reserveCapacity(count)
            for _ in 0..<count { state.deliveries.insert(try self.id()) }
        case let other:
            throw BinaryFormatError("bad delivery set mode \(other)")
        }
        while self.reader.remaining > 0 {
            switch try self.reader.byte() {
            case 1 where state.parkedRefunds == nil:
                let count = try self.reader.count()
                guard count > 0 else { throw BinaryFormatError("an empty parked-refund section") }
                var parked: [ParkedRefund] = []
                parked.reserveCapacity(min(count, MerchantState.parkedRefundsMax))
                for _ in 0..<count { parked.append(try self.parkedRefund(base: createdAt)) }
                state.parkedRefunds = parked
            case let tag:
                throw BinaryFormatError("bad or repeated section \(tag) in the block of \(id)")
            }
        }
        return state
    }

    /// A payment id: mode 1 = the referenced checkout's own payment id, mode 0 = an explicit id.
    mutating func paymentKey(_ position: Int?) throws -> String {
        switch (try self.reader.byte(), position.flatMap { self.payments[$0] }) {
        case (0, _): return try self.id()
        case (1, let payment?): return payment
        case (let mode, _): throw BinaryFormatError("bad payment id mode \(mode)")
        }
    }

    mutating func sums() throws -> [String: Int64] {
        let count = try self.reader.count()
        var sums: [String: Int64] = [:]
        sums.reserveCapacity(count)
        for _ in 0..<count { sums[try self.interned()] = try self.reader.int64() }
        return sums
    }

    mutating func checkout(previous: Int64) throws -> (CheckoutID, Checkout) {
        let flags = try self.reader.varint()
        guard flags & ~CheckoutBit.all == 0 else { throw BinaryFormatError("unknown checkout flags \(flags)") }
        let id = CheckoutID(try self.id())
        let key = try flags & CheckoutBit.otherKey != 0 ? CheckoutID(self.id()) : id
        let statusIndex = Int(try self.reader.byte())
        guard statusIndex < statuses.count else { throw BinaryFormatError("bad checkout status \(statusIndex)") }
        let created = try previous &+ self.reader.int64()
        let expires = try created &+ self.reader.int64()
        let lineCount = try self.reader.count()
        var lines: [LineItem] = []
        lines.reserveCapacity(self.reader.reservation(lineCount, minimumBytesEach: 4))
        for _ in 0..<lineCount {
            let variant = try self.reader.int64()
            let quantity = try self.reader.int()
            let price = try self.reader.int64()
            lines.append(LineItem(variantID: variant, quantity: quantity, unitPrice: price, title: try self.interned()))
        }
        let amount = try self.reader.int64()
        var total = Money(amount: amount, currency: "")
        total.currency = try self.interned()
        let email: String? = try flags & CheckoutBit.email != 0 ? self.reader.raw() : nil
        var checkout = Checkout(
            id: id, lineItems: lines, total: total, clientTotalMismatch: flags & CheckoutBit.clientTotalMismatch != 0,
            email: email, createdAt: Timestamp(milliseconds: created), expiresAt: Timestamp(milliseconds: expires))
        checkout.status = statuses[statusIndex]
        checkout.latePayment = flags & CheckoutBit.latePayment != 0
        if flags & CheckoutBit.plan != 0 {
            checkout.plan = try self.plan(hasConfiguration: flags & CheckoutBit.configuration != 0)
        } else if flags & CheckoutBit.configuration != 0 {
            throw BinaryFormatError("checkout configuration without a plan")
        }
        if flags & CheckoutBit.reservedMonth != 0 { checkout.reservedMonth = try self.interned() }
        if flags & CheckoutBit.paymentID != 0 { checkout.paymentID = try self.id() }
        if flags & CheckoutBit.paidAt != 0 { checkout.paidAt = Timestamp(milliseconds: try created &+ self.reader.int64()) }
        if flags & CheckoutBit.refunded != 0 { checkout.refundedAmount = try self.reader.int64() }
        if flags & CheckoutBit.orderID != 0 { checkout.orderID = try self.reader.int64() }
        if flags & CheckoutBit.orderName != 0 { checkout.orderName = try self.reader.raw() }
        if flags & CheckoutBit.orderSync != 0 {
            let syncFlags = try self.reader.byte()
            guard syncFlags & ~0x1F == 0 else { throw BinaryFormatError("unknown order sync flags \(syncFlags)") }
            var sync = OrderSync()
            sync.attempts = try self.reader.int()
            if syncFlags & 1 != 0 { sync.firstAttemptAt = Timestamp(milliseconds: try created &+ self.reader.int64()) }
            if syncFlags & 16 != 0 { sync.lastAttemptAt = Timestamp(milliseconds: try created &+ self.reader.int64()) }
            sync.ambiguous = syncFlags & 2 != 0
            if syncFlags & 4 != 0 { sync.lastError = try self.interned() }
            sync.failed = syncFlags & 8 != 0
            checkout.orderSync = sync
        }
        if flags & CheckoutBit.refundRequested != 0 { checkout.refundRequested = try self.reader.int64() }
        if flags & CheckoutBit.refundError != 0 { checkout.refundError = try self.interned() }
        if flags & CheckoutBit.refundFailures != 0 {
            let count = try self.reader.count()
            var failures: [RefundFailure] = []
            failures.reserveCapacity(count)
            for _ in 0..<count {
                let refund = try self.reader.int64()
                let amount = try self.reader.int64()
                let error = try self.interned()
                let ambiguous: Bool
                switch try self.reader.byte() {
                case 0: ambiguous = false
                case 1: ambiguous = true
                case let other: throw BinaryFormatError("bad refund failure flag \(other)")
                }
                let at = try created &+ self.reader.int64()
                failures.append(
                    RefundFailure(shopifyRefundID: refund, amount: amount, error: error, ambiguous: ambiguous, at: Timestamp(milliseconds: at)))
            }
            checkout.refundFailures = failures
        }
        return (key, checkout)
    }
}
