import Actors
import CompressNIO
import Foundation
import Logging
import NIOCore
import Persistence
import Synchronization

/// Targets for what a restart reads back: journal segments, journal record payloads, snapshot files and bodies, and
/// the whole start-up restore. Corrupted input must end in a thrown error, never a crash.
enum StorageTargets {
    static let all: [FuzzTarget] = [
        FuzzTarget(
            name: "journal-segment",
            summary: "a journal segment file, raw or with repaired header/CRCs (JournalInspector verify/repair/forEachRecord)",
            run: Self.journalSegment, seeds: Self.segmentSeeds),
        FuzzTarget(
            name: "journal-record",
            summary: "journal record payloads, JSON (format 1) and binary (format 2), replayed onto a merchant (JournalEntry(payload:), Restorer.apply)",
            run: Self.journalRecords, seeds: Self.recordSeeds),
        FuzzTarget(
            name: "snapshot-file",
            summary: "a snapshot file, raw or with repaired header/CRC (SnapshotStore.read, zlib, RegistrySnapshot.decode)",
            run: Self.snapshotFile, seeds: Self.snapshotFileSeeds),
        FuzzTarget(
            name: "snapshot-body",
            summary: "a decompressed snapshot body (RegistrySnapshot.decode, Restorer(snapshot:), then replay)",
            run: Self.snapshotBody, seeds: Self.snapshotBodySeeds),
        FuzzTarget(
            name: "restore",
            summary: "a data directory (valid snapshot file + journal around fuzzed bodies, optional bit flip) → Restore.run",
            run: Self.restore, seeds: Self.restoreSeeds),
    ]

    static let shop = MerchantID("fuzz.myshopify.com")
    static let master: MasterKey = {
        // 32 fixed bytes: the fuzz runs need no secrecy, only a key that opens the seeds' data keys.
        do { return try MasterKey(base64: Data(repeating: 7, count: 32).base64EncodedString()) } catch {
            preconditionFailure("a 32-byte key is a valid master key")
        }
    }()
    static let logger = Logger(label: "hygge-fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

    // MARK: Scratch files

    /// One scratch directory per process and target (targets may run in parallel in `swift test`).
    static func scratch(_ name: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "hygge-fuzz-\(getpid())-\(name)-\(Self.counter.add(1, ordering: .relaxed).newValue)"
        ).path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let counter = Atomic<Int>(0)

    static func write(_ bytes: [UInt8], to path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    static func lsnName(_ lsn: UInt64) -> String {
        let digits = String(lsn)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    // MARK: Encoding helpers (the on-disk formats of FORMAT.md, written independently of the production writer)

    static func appendUInt32(_ value: UInt32, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    static func appendUInt64(_ value: UInt64, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    static func segmentHeader(firstLSN: UInt64) -> [UInt8] {
        var bytes = Array("HYGJ".utf8)
        Self.appendUInt32(1, to: &bytes)
        Self.appendUInt64(firstLSN, to: &bytes)
        return bytes
    }

    static func frame(lsn: UInt64, payload: [UInt8]) -> [UInt8] {
        var covered: [UInt8] = []
        Self.appendUInt64(lsn, to: &covered)
        covered += payload
        var bytes: [UInt8] = []
        Self.appendUInt32(UInt32(payload.count), to: &bytes)
        Self.appendUInt32(CRC32C.checksum(covered), to: &bytes)
        return bytes + covered
    }

    static func segment(firstLSN: UInt64, payloads: [[UInt8]]) -> [UInt8] {
        var bytes = Self.segmentHeader(firstLSN: firstLSN)
        for (index, payload) in payloads.enumerated() { bytes += Self.frame(lsn: firstLSN + UInt64(index), payload: payload) }
        return bytes
    }

    static func snapshotFile(lsn: UInt64, compressed: [UInt8]) -> [UInt8] {
        var bytes = Array("HYGS".utf8)
        Self.appendUInt32(1, to: &bytes)
        Self.appendUInt64(lsn, to: &bytes)
        Self.appendUInt64(UInt64(compressed.count), to: &bytes)
        Self.appendUInt32(CRC32C.checksum(compressed), to: &bytes)
        return bytes + compressed
    }

    /// A zlib stream of `body` (as the snapshot writer makes it, without its file and fsync).
    static func compressed(_ body: [UInt8]) -> [UInt8]? {
        var input = ByteBuffer(bytes: body)
        guard var output = try? input.compress(with: ZlibAlgorithm.zlib) else { return nil }
        return output.readBytes(length: output.readableBytes)
    }

    // MARK: States and their checks

    /// A merchant with a data key, an installed token, a paid checkout and some deliveries: what records apply to.
    static let baseState: MerchantState = {
        var restorer = Restorer(snapshot: nil)
        for (index, payload) in Self.baseEntries().enumerated() {
            do { try restorer.apply(lsn: UInt64(index + 1), payload: payload) } catch {
                preconditionFailure("the fuzz seed history does not apply: \(error)")
            }
        }
        guard let state = restorer.states[Self.shop] else { preconditionFailure("the fuzz seed history has no merchant") }
        return state
    }()

    static let checkoutID = CheckoutID("chk_0123456789abcdef01234567")

    static func events() -> [MerchantEvent] {
        let at = Timestamp(milliseconds: 1_750_000_000_000)
        let dataKey = (try? Vault.wrap(Vault.newDataKey(), for: Self.shop, master: Self.master)) ?? SealedValue(combined: [])
        let sealed = SealedValue(combined: Array(repeating: 1, count: 40))
        let checkout = Checkout(
            id: Self.checkoutID,
            lineItems: [LineItem(variantID: 1, quantity: 2, unitPrice: 19_900, title: "Fuzz")],
            total: Money(amount: 39_800, currency: "USD"), clientTotalMismatch: false, email: "b@e.com", createdAt: at,
            expiresAt: at.adding(.seconds(1800)))
        let plan = WhopPlan(planID: "plan_1", checkoutConfigurationID: "ch_1", purchaseURL: "https://whop/p")
        return [
            .created(dataKey: dataKey, at: at),
            .installed(token: sealed, scopes: "read_products", at: at),
            .whopKeySet(key: sealed, fingerprint: "…demo", companyID: "biz_1", at: at),
            .webhookSecretSet(secret: sealed, at: at),
            .checkoutCreated(checkout: checkout, idempotencyKey: "key-1", requestHash: "hash"),
            .planCreated(checkout: Self.checkoutID, plan: plan, month: "2025-06", at: at),
            .paymentRecorded(
                checkout: Self.checkoutID, paymentID: "pay_1", amount: Money(amount: 39_800, currency: "USD"), fee: 199,
                late: false, delivery: "msg_1", at: at),
            .orderAttemptStarted(checkout: Self.checkoutID, at: at),
            .orderAttemptFailed(checkout: Self.checkoutID, error: "shopify_unavailable", ambiguous: true, giveUp: true),
            .orderRetryRequested(checkout: Self.checkoutID),
            .orderSynced(checkout: Self.checkoutID, orderID: 1001, orderName: "#1001"),
            .refundParked(
                refund: ParkedRefund(refundID: "r_0", paymentID: "pay_1", amountText: "1.00", delivery: "msg_0", at: at)),
            .refundParked(refund: ParkedRefund(refundID: "r_9", paymentID: "pay_9", amountText: nil, delivery: "msg_9", at: at)),
            .refundRecorded(checkout: Self.checkoutID, refundID: "r_1", amount: 100, delivery: "msg_2", at: at),
            .shopifyRefundRequested(checkout: Self.checkoutID, shopifyRefundID: 7, amount: 50, delivery: "sh_1", at: at),
            .shopifyRefundFinished(checkout: Self.checkoutID, shopifyRefundID: 7, error: nil, released: 0),
            .paymentMismatched(
                checkout: Self.checkoutID, paymentID: "pay_2", amount: Money(amount: 1, currency: "USD"), delivery: "msg_3",
                at: at),
            .paymentFailed(checkout: Self.checkoutID, paymentID: nil, delivery: "msg_4", at: at),
            .deliverySeen(delivery: "msg_5"),
            .checkoutExpired(checkout: Self.checkoutID, at: at),
            .tierChanged(tier: "pro", monthlyLimit: 5000),
            .customersRedacted(checkouts: [Self.checkoutID], delivery: "sh_2"),
            .dataKeyRewrapped(dataKey: dataKey),
            .uninstalled(at: at),
            .shopRedacted(delivery: "sh_3", at: at),
            .shopifyRefundFailed(
                checkout: Self.checkoutID, shopifyRefundID: 8, amount: 25, error: "whop_refund_rejected_422",
                ambiguous: false, at: at),
            .shopifyRefundRetried(checkout: Self.checkoutID, shopifyRefundID: 8, at: at),
        ]
    }

    /// The payload the service writes for `event` (format 2).
    static func entry(_ event: MerchantEvent) -> [UInt8] { JournalEntry(merchant: Self.shop, event: event).encoded() }

    /// The format 1 (JSON) payload older journals hold for `event`.
    static func jsonEntry(_ event: MerchantEvent) -> [UInt8] {
        (try? JournalEntry(merchant: Self.shop, event: event).encoded(format: .json)) ?? []
    }

    static func baseEntries() -> [[UInt8]] { Self.events().prefix(12).map(Self.entry) }

    /// What must hold for any state a restore produced: it survives more events, a snapshot of it decodes back to
    /// the same state, and the derived numbers can be computed.
    static func check(_ states: [MerchantID: MerchantState], lsn: UInt64) throws(FuzzViolation) {
        for (id, state) in states {
            try require(state.id == id, "state of \(state.id) stored under \(id)")
            var next = state
            for (index, event) in Self.followUps(for: state).enumerated() {
                next.apply(event)
                next.appliedLSN = state.appliedLSN &+ UInt64(index + 1)
            }
            for month in Set(next.checkouts.values.compactMap(\.reservedMonth)).prefix(4) {
                _ = next.limitUsage(in: month)
            }
            for checkout in next.checkouts.values.prefix(16) {
                _ = checkout.createdAt.iso8601
                _ = checkout.expiresAt.month
                _ = Currency.decimalString(minor: checkout.total.amount, currency: checkout.total.currency)
            }
        }
        let snapshot = RegistrySnapshot(lsn: lsn, merchants: states.values.sorted { $0.id < $1.id })
        let encoded: [UInt8]
        do { encoded = try snapshot.encoded() } catch { throw FuzzViolation("a restored state does not encode: \(error)") }
        let decoded: RegistrySnapshot
        do { decoded = try RegistrySnapshot.decode(encoded) } catch {
            throw FuzzViolation("a snapshot of a restored state does not decode: \(error)")
        }
        try require(decoded.merchants == snapshot.merchants, "a snapshot does not round-trip")
        _ = Vault.merchantsNotOpening(states, master: Self.master)
    }

    /// Events the running service could apply next: deliveries (the dedupe window), a payment, a refund, an expiry.
    static func followUps(for state: MerchantState) -> [MerchantEvent] {
        let at = Timestamp(milliseconds: 1_750_000_000_000)
        let checkout = state.checkouts.keys.min() ?? Self.checkoutID
        return [
            .deliverySeen(delivery: "follow-1"), .deliverySeen(delivery: "follow-2"),
            .paymentRecorded(
                checkout: checkout, paymentID: "pay_follow", amount: Money(amount: 100, currency: "USD"), fee: 1,
                late: false, delivery: "follow-3", at: at),
            .refundRecorded(checkout: checkout, refundID: "r_follow", amount: 10, delivery: "follow-4", at: at),
            .orderAttemptStarted(checkout: checkout, at: at),
            .shopifyRefundRequested(checkout: checkout, shopifyRefundID: 1, amount: 5, delivery: "follow-5", at: at),
            .checkoutExpired(checkout: checkout, at: at),
        ]
    }

    // MARK: Targets

    /// Input: a mode byte (bit 0: fix the segment header; bit 1: fix every frame's CRC; bit 2: renumber LSNs), then
    /// the segment file.
    static func journalSegment(_ bytes: [UInt8]) throws(FuzzViolation) {
        let mode = bytes.first ?? 0
        var file = Array(bytes.dropFirst())
        if mode & 1 != 0 {
            let header = Self.segmentHeader(firstLSN: 1)
            if file.count < header.count { file += [UInt8](repeating: 0, count: header.count - file.count) }
            file.replaceSubrange(0..<header.count, with: header)
        }
        if mode & 6 != 0, file.count >= 16 {
            var offset = 16
            var lsn: UInt64 = 1
            while file.count - offset >= 16 {
                let length = Int(Self.readUInt32(file, at: offset))
                guard length <= file.count - offset - 16 else { break }
                if mode & 4 != 0 {
                    var encoded: [UInt8] = []
                    Self.appendUInt64(lsn, to: &encoded)
                    file.replaceSubrange((offset + 8)..<(offset + 16), with: encoded)
                }
                if mode & 2 != 0 {
                    var crc: [UInt8] = []
                    Self.appendUInt32(CRC32C.checksum(file[(offset + 8)..<(offset + 16 + length)]), to: &crc)
                    file.replaceSubrange((offset + 4)..<(offset + 8), with: crc)
                }
                offset += 16 + length
                lsn += 1
            }
        }
        let directory = Self.scratch("journal-segment")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try? FileManager.default.createDirectory(atPath: directory + "/journal", withIntermediateDirectories: true)
        Self.write(file, to: directory + "/journal/" + Self.lsnName(1) + ".wal")
        guard let report = try? JournalInspector.verify(directory: directory) else { return }
        var restorer = Restorer(snapshot: nil)
        var count = 0
        do {
            try JournalInspector.forEachRecord(directory: directory) { record in
                count += 1
                try restorer.apply(lsn: record.lsn, payload: record.payload)
            }
        } catch {
            // A corrupt journal or a record that does not apply: the clean refusal restore gives.
        }
        if case .clean = report.verdict {
            try require(count <= report.records, "forEachRecord saw \(count) records, verify \(report.records)")
        }
        try Self.check(restorer.states, lsn: UInt64(count))
        if case .tornTail = report.verdict {
            guard let repaired = try? JournalInspector.repair(directory: directory) else {
                throw FuzzViolation("a torn tail could not be repaired")
            }
            try require(repaired.verdict == .clean, "after repair: \(repaired.verdict)")
            try require(repaired.records == report.records, "repair lost records")
        }
    }

    static func segmentSeeds() -> [[UInt8]] {
        let entries = Self.events().map(Self.entry)
        let segment = Self.segment(firstLSN: 1, payloads: entries)
        return [[0] + segment, [1] + segment, [6] + Array(segment.dropLast(3)), [0] + Self.segmentHeader(firstLSN: 1)]
    }

    /// Input: record payloads (`fuzzRecords`: newline-separated, or length-prefixed after a leading `0x00`), replayed
    /// after the base merchant's history. A payload that decodes must encode back to a payload that decodes to the
    /// same entry, in both formats.
    static func journalRecords(_ bytes: [UInt8]) throws(FuzzViolation) {
        var restorer = Restorer(snapshot: RegistrySnapshot(lsn: 12, merchants: [Self.baseState]))
        for (index, payload) in bytes.fuzzRecords(32).enumerated() {
            if let entry = try? JournalEntry(payload: payload) {
                let binary = entry.encoded()
                var again = try? JournalEntry(payload: binary)
                again?.v = entry.v
                try require(again == entry, "a decoded \(entry.e.tag) entry does not round-trip through format 2")
                var fromJSON = (try? entry.encoded(format: .json)).flatMap { try? JournalEntry(payload: $0) }
                fromJSON?.v = entry.v
                try require(fromJSON == entry, "a decoded \(entry.e.tag) entry does not round-trip through format 1")
            }
            try? restorer.apply(lsn: 13 + UInt64(index), payload: payload)
        }
        try Self.check(restorer.states, lsn: 12)
    }

    static func recordSeeds() -> [[UInt8]] {
        let entries = Self.events().map(Self.entry)
        let json = Self.events().map(Self.jsonEntry)
        var seeds = entries + json
        seeds.append(Array(json.joined(separator: [0x0A])))
        seeds.append([UInt8].fuzzFramed(entries))
        seeds.append([UInt8].fuzzFramed(zip(entries, json).enumerated().map { $0.offset % 2 == 0 ? $0.element.0 : $0.element.1 }))
        seeds.append(
            Array(#"{"v":1,"m":"fuzz.myshopify.com","e":{"paymentRecorded":{"checkout":"chk_0123456789abcdef01234567","paymentID":"p","amount":{"amount":9223372036854775807,"currency":"USD"},"fee":9223372036854775807,"late":false,"delivery":"d","at":-9223372036854775808}}}"#.utf8))
        seeds.append(Array(#"{"v":1,"m":"other.myshopify.com","e":{"deliverySeen":{"delivery":"x"}}}"#.utf8))
        return seeds
    }

    /// A version-2 snapshot file (chunk table, one zlib stream per part) with correct lengths and checksums.
    static func chunkedSnapshotFile(lsn: UInt64, parts: [[UInt8]]) -> [UInt8]? {
        var table: [UInt8] = []
        Self.appendUInt32(UInt32(parts.count), to: &table)
        var chunks: [UInt8] = []
        for part in parts {
            guard let compressed = Self.compressed(part) else { return nil }
            Self.appendUInt64(UInt64(compressed.count), to: &table)
            Self.appendUInt64(UInt64(part.count), to: &table)
            Self.appendUInt32(CRC32C.checksum(compressed), to: &table)
            chunks += compressed
        }
        var bytes = Array("HYGS".utf8)
        Self.appendUInt32(2, to: &bytes)
        Self.appendUInt64(lsn, to: &bytes)
        Self.appendUInt64(UInt64(table.count + chunks.count), to: &bytes)
        Self.appendUInt32(CRC32C.checksum(table), to: &bytes)
        return bytes + table + chunks
    }

    /// Input: a mode byte (bit 0: fix magic/version; bit 1: fix length and CRC; bit 2: the rest is a body to
    /// compress; bit 3: the rest is a part count `k`, `k` u16 LE part lengths and a body cut into those parts (the
    /// remainder last), written as a version-2 file), then the file (or body).
    ///
    /// Whatever the file, reading it part by part (as restore does) and reading it whole must agree: a snapshot the
    /// parts decoder accepts decodes whole to the same merchants.
    static func snapshotFile(_ bytes: [UInt8]) throws(FuzzViolation) {
        let mode = bytes.first ?? 0
        var file = Array(bytes.dropFirst())
        if mode & 8 != 0 {
            let count = Int(file.first ?? 0) % 9
            var rest = file.dropFirst()
            var lengths: [Int] = []
            for _ in 0..<count where rest.count >= 2 {
                lengths.append(Int(rest[rest.startIndex]) | Int(rest[rest.startIndex + 1]) << 8)
                rest = rest.dropFirst(2)
            }
            var parts: [[UInt8]] = []
            for length in lengths {
                parts.append(Array(rest.prefix(length)))
                rest = rest.dropFirst(length)
            }
            parts.append(Array(rest))
            guard let chunked = Self.chunkedSnapshotFile(lsn: 1, parts: parts) else { return }
            file = chunked
        } else if mode & 4 != 0 {
            guard let compressed = Self.compressed(file) else { return }
            file = Self.snapshotFile(lsn: 1, compressed: compressed)
        } else {
            if file.count < 28 { file += [UInt8](repeating: 0, count: 28 - file.count) }
            if mode & 1 != 0 {
                var header = Array("HYGS".utf8)
                Self.appendUInt32(1, to: &header)
                Self.appendUInt64(1, to: &header)
                file.replaceSubrange(0..<16, with: header)
            }
            if mode & 2 != 0 {
                let body = Array(file[28...])
                var fields: [UInt8] = []
                Self.appendUInt64(UInt64(body.count), to: &fields)
                Self.appendUInt32(CRC32C.checksum(body), to: &fields)
                file.replaceSubrange(16..<28, with: fields)
            }
        }
        let directory = Self.scratch("snapshot-file")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/snapshot-" + Self.lsnName(1) + ".hyg"
        Self.write(file, to: path)
        var timings = SnapshotReadTimings()
        if let (_, parts) = try? SnapshotStore.read(
            path: path, maxDecompressedBytes: 1 << 22, timings: &timings, part: RegistrySnapshot.decodePart),
            let byParts = try? RegistrySnapshot.assemble(parts)
        {
            guard let (_, body) = try? SnapshotStore.read(path: path, maxDecompressedBytes: 1 << 22),
                let whole = try? RegistrySnapshot.decode(body)
            else { throw FuzzViolation("a snapshot read part by part does not decode whole") }
            try require(whole.merchants == byParts.merchants && whole.lsn == byParts.lsn, "parts and whole body disagree")
        }
        guard let (_, body) = try? SnapshotStore.read(path: path, maxDecompressedBytes: 1 << 22) else { return }
        guard let snapshot = try? RegistrySnapshot.decode(body) else { return }
        let restorer = Restorer(snapshot: snapshot)
        try Self.check(restorer.states, lsn: snapshot.lsn)
    }

    static func snapshotFileSeeds() -> [[UInt8]] {
        let body = Self.snapshotBodySeeds()[0]
        guard let compressed = Self.compressed(body) else { return [] }
        let file = Self.snapshotFile(lsn: 1, compressed: compressed)
        // Version 2: the body cut after its header (as `encodedParts` cuts between merchant blocks), and cut at
        // 40 bytes (inside the merchant block: the parts decoder refuses it, the whole body still decodes).
        var chunkedSeeds: [[UInt8]] = []
        if let parts = try? RegistrySnapshot(lsn: 12, merchants: [Self.baseState]).encodedParts(targetBytes: 1),
            let chunked = Self.chunkedSnapshotFile(lsn: 1, parts: parts)
        {
            let first = parts[0].count
            chunkedSeeds = [
                [0] + chunked, [8, 1, UInt8(first & 0xFF), UInt8(first >> 8)] + body, [8, 1, 40, 0] + body,
                [8, 0] + body,
            ]
        }
        return [[0] + file, [3] + file, [4] + body, [2] + Array(file.dropLast(5))] + chunkedSeeds
    }

    /// Input: the decompressed body of a snapshot.
    static func snapshotBody(_ bytes: [UInt8]) throws(FuzzViolation) {
        guard let snapshot = try? RegistrySnapshot.decode(bytes) else { return }
        var restorer = Restorer(snapshot: snapshot)
        for (index, payload) in Self.events().prefix(8).map(Self.entry).enumerated() {
            try? restorer.apply(lsn: snapshot.lsn &+ UInt64(index + 1), payload: payload)
        }
        try Self.check(restorer.states, lsn: snapshot.lsn)
    }

    static func snapshotBodySeeds() -> [[UInt8]] {
        var second = Self.baseState
        second.deliveryOrderHead = 1
        let encoded = (try? RegistrySnapshot(lsn: 12, merchants: [Self.baseState]).encoded()) ?? []
        let other = (try? RegistrySnapshot(lsn: 12, merchants: [second]).encoded()) ?? []
        return [encoded, other, Array(#"{"v":1,"lsn":0,"merchants":[]}"#.utf8)]
    }

    /// Input: a mode byte (bits 1–7: offset of one flipped byte when bit 0 is set), then the snapshot body and the
    /// journal payloads (`fuzzRecords`: newline-separated, or length-prefixed after a `0x00`). The files around them are valid, so the bodies reach the decoders.
    static func restore(_ bytes: [UInt8]) throws(FuzzViolation) {
        let mode = bytes.first ?? 0
        let parts = Array(bytes.dropFirst()).fuzzRecords(16)
        let directory = Self.scratch("restore")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var snapshotLSN: UInt64 = 0
        if let body = parts.first, !body.isEmpty, let compressed = Self.compressed(body) {
            snapshotLSN = 12
            Self.write(Self.snapshotFile(lsn: 12, compressed: compressed), to: directory + "/snapshot-" + Self.lsnName(12) + ".hyg")
        }
        var segment = Self.segment(firstLSN: snapshotLSN + 1, payloads: Array(parts.dropFirst()))
        if mode & 1 != 0, !segment.isEmpty {
            let offset = Int(mode >> 1) % segment.count
            segment[offset] ^= 0x5A
        }
        try? FileManager.default.createDirectory(atPath: directory + "/journal", withIntermediateDirectories: true)
        Self.write(segment, to: directory + "/journal/" + Self.lsnName(snapshotLSN + 1) + ".wal")
        var store = StoreConfiguration(dataDirectory: directory)
        store.fsync = .no
        guard let restored = try? Restore.run(store: store, logger: Self.logger) else { return }
        // Dropping the journal tells its writer thread to stop.
        try Self.check(restored.states, lsn: restored.report.snapshotLSN)
    }

    static func restoreSeeds() -> [[UInt8]] {
        let body = Self.snapshotBodySeeds()[0]
        let records = Self.events().dropFirst(12).map(Self.entry)
        let json = Self.events().dropFirst(12).map(Self.jsonEntry)
        return [
            [0] + [UInt8].fuzzFramed([body] + records),
            [0] + [UInt8].fuzzFramed([[]] + Self.events().map(Self.entry)),
            [9] + [UInt8].fuzzFramed([body] + records.prefix(1)),
            [0] + body + [0x0A] + Array(json.joined(separator: [0x0A])),
        ]
    }
}
