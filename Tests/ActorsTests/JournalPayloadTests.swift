import Actors
import Foundation
import Logging
import Persistence
import Testing

/// Journal payload format 2 (binary, issue 10): every event case round-trips, tags are pinned, format 1 (JSON)
/// payloads still decode and restore, malformed payloads fail cleanly, and `hygge journal dump` prints the same JSON
/// for either format.
@Suite("Journal payload formats")
struct JournalPayloadTests {
    static let shop = MerchantID("payload.myshopify.com")
    static let at = Timestamp(milliseconds: 1_750_000_000_123)
    static let checkoutID = CheckoutID("chk_0123456789abcdef01234567")
    static let sealed = SealedValue(combined: Array(0..<44))

    /// A checkout with every optional field set (and odd values: a lower-case currency, unicode, extremes).
    static let fullCheckout: Checkout = {
        var checkout = Checkout(
            id: Self.checkoutID,
            lineItems: [
                LineItem(variantID: 44_000_000_000_001, quantity: 3, unitPrice: 1_990, title: "Organic Cotton Tee - M"),
                LineItem(variantID: -1, quantity: Int.max, unitPrice: .min, title: "Ünïcødé ☕️"),
            ],
            total: Money(amount: 5_970, currency: "USD"), clientTotalMismatch: true, email: "buyer@example.com",
            createdAt: Self.at, expiresAt: Self.at.adding(.seconds(1800)))
        checkout.total.currency = "usd"
        checkout.status = .partiallyRefunded
        checkout.plan = WhopPlan(
            planID: "plan_0123456789abcdef", checkoutConfigurationID: "ch_fedcba9876543210",
            purchaseURL: "https://whop.com/checkout/ch_fedcba9876543210")
        checkout.reservedMonth = "2025-06"
        checkout.paymentID = "pay_00112233445566778899"
        checkout.paidAt = Self.at.adding(.seconds(60))
        checkout.latePayment = true
        checkout.refundedAmount = 100
        checkout.orderID = 5_000_000_001
        checkout.orderName = "#1001"
        var sync = OrderSync()
        sync.attempts = 2
        sync.firstAttemptAt = Self.at.adding(.seconds(61))
        sync.lastAttemptAt = Self.at.adding(.seconds(95))
        sync.ambiguous = true
        sync.lastError = "shopify_unavailable"
        sync.failed = true
        checkout.orderSync = sync
        checkout.refundRequested = 50
        checkout.refundError = "whop_refund_rejected_422"
        checkout.refundFailures = [
            RefundFailure(shopifyRefundID: 7, amount: 25, error: "whop_refund_unavailable", ambiguous: true, at: Self.at)
        ]
        return checkout
    }()

    /// A checkout with no optional field set.
    static let bareCheckout = Checkout(
        id: CheckoutID("odd id"), lineItems: [], total: Money(amount: 0, currency: ""), clientTotalMismatch: false,
        email: nil, createdAt: Timestamp(milliseconds: .min), expiresAt: Timestamp(milliseconds: .max))

    /// At least one event of every case (both sides of every optional), with edge values.
    static let samples: [MerchantEvent] = [
        .created(dataKey: Self.sealed, at: Self.at),
        .created(dataKey: SealedValue(combined: []), at: Timestamp(milliseconds: .min)),
        .dataKeyRewrapped(dataKey: Self.sealed),
        .installed(token: Self.sealed, scopes: "read_products,write_orders", at: Self.at),
        .uninstalled(at: Timestamp(milliseconds: .max)),
        .whopKeySet(key: Self.sealed, fingerprint: "…demo", companyID: "biz_0123456789", at: Self.at),
        .webhookSecretSet(secret: Self.sealed, at: Self.at),
        .checkoutCreated(checkout: Self.fullCheckout, idempotencyKey: "client key ✓", requestHash: String(repeating: "ab", count: 32)),
        .checkoutCreated(checkout: Self.bareCheckout, idempotencyKey: nil, requestHash: nil),
        .planCreated(
            checkout: Self.checkoutID,
            plan: WhopPlan(planID: "plan_0123456789abcdef", checkoutConfigurationID: "ch_1", purchaseURL: "https://w/ch_1"),
            month: "2025-06", at: Self.at),
        .planCreated(
            checkout: Self.checkoutID, plan: WhopPlan(planID: "plan_x", checkoutConfigurationID: nil, purchaseURL: "https://w/plan_x"),
            month: "2025-07", at: Self.at),
        .planCreated(
            checkout: Self.checkoutID, plan: WhopPlan(planID: "plan_y", checkoutConfigurationID: nil, purchaseURL: "elsewhere"),
            month: "", at: Self.at),
        .paymentRecorded(
            checkout: Self.checkoutID, paymentID: "pay_00112233445566778899", amount: Money(amount: .max, currency: "USD"),
            fee: .max, late: false, delivery: "msg_00112233445566778899aabb", at: Self.at),
        .paymentRecorded(
            checkout: Self.checkoutID, paymentID: "p", amount: Money(amount: 1, currency: "JPY"), fee: 0, late: true,
            delivery: "d", at: Self.at),
        .paymentMismatched(
            checkout: Self.checkoutID, paymentID: "pay_2", amount: Money(amount: -5, currency: "EUR"), delivery: "msg_3",
            at: Self.at),
        .paymentFailed(checkout: Self.checkoutID, paymentID: nil, delivery: "msg_4", at: Self.at),
        .paymentFailed(checkout: Self.checkoutID, paymentID: "pay_3", delivery: "msg_5", at: Self.at),
        .refundRecorded(checkout: Self.checkoutID, refundID: "r_1", amount: 100, delivery: "msg_6", at: Self.at),
        .deliverySeen(delivery: "0f8fad5b-d9cb-469f-a165-70867728950e"),
        .checkoutExpired(checkout: Self.checkoutID, at: Self.at),
        .orderAttemptStarted(checkout: Self.checkoutID, at: Self.at),
        .orderAttemptFailed(checkout: Self.checkoutID, error: "shopify_unavailable", ambiguous: true, giveUp: false),
        .orderAttemptFailed(checkout: Self.checkoutID, error: "", ambiguous: false, giveUp: true),
        .orderSynced(checkout: Self.checkoutID, orderID: 5_000_000_001, orderName: "#1001"),
        .orderRetryRequested(checkout: Self.checkoutID),
        .tierChanged(tier: "pro", monthlyLimit: 5000),
        .tierChanged(tier: nil, monthlyLimit: nil),
        .tierChanged(tier: "x", monthlyLimit: .min),
        .shopifyRefundRequested(
            checkout: Self.checkoutID, shopifyRefundID: 7, amount: 50, delivery: "sh_1", at: Self.at),
        .shopifyRefundFinished(checkout: Self.checkoutID, shopifyRefundID: 7, error: nil, released: 0),
        .shopifyRefundFinished(checkout: Self.checkoutID, shopifyRefundID: .max, error: "whop_refund_rejected_422", released: 50),
        .shopifyRefundFailed(
            checkout: Self.checkoutID, shopifyRefundID: 8, amount: 25, error: "whop_refund_unavailable", ambiguous: true,
            at: Self.at),
        .shopifyRefundRetried(checkout: Self.checkoutID, shopifyRefundID: 8, at: Self.at),
        .customersRedacted(checkouts: [Self.checkoutID, CheckoutID("chk_1")], delivery: "sh_2"),
        .customersRedacted(checkouts: [], delivery: "sh_3"),
        .shopRedacted(delivery: "sh_4", at: Self.at),
        .refundParked(
            refund: ParkedRefund(refundID: "r_0011223344", paymentID: "pay_1", amountText: "1.00", delivery: "msg_0", at: Self.at)),
        .refundParked(
            refund: ParkedRefund(refundID: "", paymentID: "", amountText: nil, delivery: "", at: Timestamp(milliseconds: .min))),
    ]

    /// The on-disk tag numbers. Never change a number here: add new ones.
    static let pinnedTags: [String: UInt8] = [
        "created": 1, "dataKeyRewrapped": 2, "installed": 3, "uninstalled": 4, "whopKeySet": 5, "webhookSecretSet": 6,
        "checkoutCreated": 7, "planCreated": 8, "paymentRecorded": 9, "paymentMismatched": 10, "paymentFailed": 11,
        "refundRecorded": 12, "deliverySeen": 13, "checkoutExpired": 14, "orderAttemptStarted": 15,
        "orderAttemptFailed": 16, "orderSynced": 17, "orderRetryRequested": 18, "tierChanged": 19,
        "shopifyRefundRequested": 20, "shopifyRefundFinished": 21, "shopifyRefundFailed": 22, "shopifyRefundRetried": 23,
        "customersRedacted": 24, "shopRedacted": 25, "refundParked": 26,
    ]

    static func entry(_ event: MerchantEvent) -> JournalEntry { JournalEntry(merchant: Self.shop, event: event) }

    // MARK: Coverage and pinning

    @Test("the samples cover every event tag")
    func samplesCoverEveryTag() {
        let covered = Set(Self.samples.map(\.tag))
        for tag in MerchantEvent.Tag.allCases {
            #expect(covered.contains(tag), "no sample for \(tag): add one to JournalPayloadTests.samples")
        }
    }

    @Test("tag numbers are pinned and every tag is named after its case")
    func tagsArePinned() {
        #expect(MerchantEvent.Tag.allCases.count == Self.pinnedTags.count, "a tag was added: pin it in pinnedTags")
        for tag in MerchantEvent.Tag.allCases {
            #expect(Self.pinnedTags["\(tag)"] == tag.rawValue, "\(tag) is \(tag.rawValue)")
        }
        for event in Self.samples {
            let name = String(describing: event).prefix { $0 != "(" }
            #expect("\(event.tag)" == name, "\(name) has tag \(event.tag)")
        }
    }

    @Test("golden bytes of format 2")
    func goldenBytes() {
        let shop = Array(Self.shop.rawValue.utf8)
        #expect(
            Self.entry(.deliverySeen(delivery: "msg_1")).encoded()
                == [0x02, UInt8(shop.count)] + shop + [13, 0] + [0, 5] + Array("msg_1".utf8))
        // A hex id: its prefix goes to the string table, the hex run is stored as bytes.
        #expect(
            Self.entry(.deliverySeen(delivery: "msg_0123456789abcdef")).encoded()
                == [0x02, UInt8(shop.count)] + shop + [13, 1, 4] + Array("msg_".utf8)
                + [1, 8, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF])
        // zz(1_750_000_000_123 ms) after the sealed bytes.
        var created = [0x02, UInt8(shop.count)] + shop + [1, 0, 3, 9, 8, 7]
        var zigzag = UInt64(1_750_000_000_123) << 1
        while zigzag >= 0x80 {
            created.append(UInt8(truncatingIfNeeded: zigzag) | 0x80)
            zigzag >>= 7
        }
        created.append(UInt8(zigzag))
        #expect(Self.entry(.created(dataKey: SealedValue(combined: [9, 8, 7]), at: Self.at)).encoded() == created)
    }

    // MARK: Round trips

    @Test("every sample round-trips through format 2 and format 1")
    func roundTrip() throws {
        for event in Self.samples {
            let entry = Self.entry(event)
            let binary = entry.encoded()
            #expect(binary.first == 0x02)
            let decoded = try JournalEntry(payload: binary)
            #expect(decoded == entry, "\(event.tag)")
            #expect(decoded.v == 2)

            let json = try entry.encoded(format: .json)
            #expect(json.first == UInt8(ascii: "{"))
            var expected = entry
            expected.v = 1
            #expect(try JournalEntry(payload: json) == expected, "\(event.tag)")
            #expect(binary.count < json.count, "\(event.tag): \(binary.count) B binary, \(json.count) B JSON")
        }
    }

    @Test("a format 1 payload as MerchantActor wrote it still decodes")
    func formatOneLiterals() throws {
        let delivery = #"{"e":{"deliverySeen":{"delivery":"msg_1"}},"m":"payload.myshopify.com","v":1}"#
        var expected = Self.entry(.deliverySeen(delivery: "msg_1"))
        expected.v = 1
        #expect(try JournalEntry(payload: Array(delivery.utf8)) == expected)

        let payment = #"{"e":{"paymentRecorded":{"amount":{"amount":1990,"currency":"USD"},"at":1750000000123,"checkout":"chk_0123456789abcdef01234567","delivery":"msg_2","fee":10,"late":false,"paymentID":"pay_1"}},"m":"payload.myshopify.com","v":1}"#
        expected.e = .paymentRecorded(
            checkout: Self.checkoutID, paymentID: "pay_1", amount: Money(amount: 1990, currency: "USD"), fee: 10, late: false,
            delivery: "msg_2", at: Self.at)
        #expect(try JournalEntry(payload: Array(payment.utf8)) == expected)

        let tier = #"{"e":{"tierChanged":{}},"m":"payload.myshopify.com","v":1}"#
        expected.e = .tierChanged(tier: nil, monthlyLimit: nil)
        #expect(try JournalEntry(payload: Array(tier.utf8)) == expected)
    }

    // MARK: Malformed payloads

    @Test("format 2 truncated at every byte, or with a byte after the event, fails cleanly")
    func truncation() {
        for event in Self.samples {
            let payload = Self.entry(event).encoded()
            for length in 0..<payload.count {
                #expect(throws: JournalEntry.DecodeError.self, "\(event.tag) cut at \(length)") {
                    try JournalEntry(payload: Array(payload.prefix(length)))
                }
            }
            for extra: UInt8 in [0, 1, 0xFF] {
                #expect(throws: JournalEntry.DecodeError.self, "\(event.tag) + \(extra)") {
                    try JournalEntry(payload: payload + [extra])
                }
            }
        }
    }

    @Test("unknown tags, bad flags, other format bytes and bad JSON are refused")
    func refusals() throws {
        let shop = Array(Self.shop.rawValue.utf8)
        let head: [UInt8] = [0x02, UInt8(shop.count)] + shop
        for tag: [UInt8] in [[0], [200], [0x80, 0x01], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]] {
            #expect(throws: JournalEntry.DecodeError.self) { try JournalEntry(payload: head + tag + [0, 0, 1, 0x61]) }
        }
        // orderAttemptFailed with `ambiguous` = 2.
        #expect(throws: JournalEntry.DecodeError.self) {
            try JournalEntry(payload: head + [16, 0, 0, 1, 0x63, 0, 2, 0])
        }
        #expect(throws: JournalEntry.DecodeError.unsupportedVersion(3)) { try JournalEntry(payload: [3] + head.dropFirst()) }
        #expect(throws: JournalEntry.DecodeError.unsupportedVersion(0)) { try JournalEntry(payload: [0]) }
        #expect(throws: JournalEntry.DecodeError.self) { try JournalEntry(payload: []) }
        #expect(throws: JournalEntry.DecodeError.self) { try JournalEntry(payload: Array("{\"v\":1".utf8)) }
        var future = Self.entry(.deliverySeen(delivery: "x"))
        future.v = 2
        let json = try JSONEncoder().encode(future)
        #expect(throws: JournalEntry.DecodeError.unsupportedVersion(2)) { try JournalEntry(payload: Array(json)) }

        var restorer = Restorer(snapshot: nil)
        #expect {
            try restorer.apply(lsn: 9, payload: Array(Self.entry(.uninstalled(at: Self.at)).encoded().dropLast()))
        } throws: { error in
            guard case .invalidRecord(9, let reason)? = error as? RestoreError else { return false }
            return reason.contains("truncated")
        }
        #expect {
            try restorer.apply(lsn: 10, payload: [7, 1, 2])
        } throws: { error in
            guard case .unsupportedRecord(10, 7)? = error as? RestoreError else { return false }
            return true
        }
    }

    // MARK: Restore and dump

    /// A history for one merchant: `created`, then every sample (apply is total, so any order replays).
    static func history() -> [JournalEntry] {
        [Self.entry(.created(dataKey: Self.sealed, at: Self.at))] + Self.samples.map(Self.entry)
    }

    static func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hygge-payload-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// Writes `payloads` as a journal in a new data directory.
    static func journal(_ payloads: [[UInt8]]) async throws -> String {
        let directory = try Self.scratch()
        let journal = try Journal(directory: directory, fsync: .no, logger: Self.logger) { _ in }
        var last: UInt64 = 0
        for payload in payloads { last = try journal.append(payload) }
        try await journal.waitDurable(last)
        await journal.close()
        return directory
    }

    static func restore(_ directory: String) async throws -> [MerchantID: MerchantState] {
        var store = StoreConfiguration(dataDirectory: directory)
        store.fsync = .no
        let restored = try Restore.run(store: store, logger: Self.logger)
        await restored.journal.close()
        return restored.states
    }

    @Test("a journal mixing format 1 and format 2 records restores the same state as either format alone")
    func mixedJournal() async throws {
        let history = Self.history()
        let json = try history.map { try $0.encoded(format: .json) }
        let binary = history.map { $0.encoded() }
        let mixed = history.indices.map { $0 % 2 == 0 ? json[$0] : binary[$0] }
        var directories: [String] = []
        defer { for directory in directories { try? FileManager.default.removeItem(atPath: directory) } }
        var results: [[MerchantID: MerchantState]] = []
        for payloads in [json, binary, mixed] {
            let directory = try await Self.journal(payloads)
            directories.append(directory)
            results.append(try await Self.restore(directory))
        }
        let state = try #require(results[0][Self.shop])
        #expect(state.appliedLSN == UInt64(history.count))
        #expect(!state.checkouts.isEmpty && !state.deliveries.isEmpty)
        #expect(results[1] == results[0])
        #expect(results[2] == results[0])

        // The offline checks see both formats.
        let report = try JournalPayloadCheck.run(directory: directories[2])
        #expect(report.json == (history.count + 1) / 2 && report.binary == history.count / 2 && report.undecodable == 0)
        #expect(report.firstFailure == nil)
    }

    @Test("journal dump prints the same entry JSON for a format 2 record as for its format 1 record")
    func dumpLines() throws {
        for (index, entry) in Self.history().enumerated() {
            let lsn = UInt64(index + 1)
            let json = try entry.encoded(format: .json)
            let binary = entry.encoded()
            let fromJSON = JournalPayloadCheck.dumpLine(JournalRecord(lsn: lsn, payload: json))
            let fromBinary = JournalPayloadCheck.dumpLine(JournalRecord(lsn: lsn, payload: binary))
            #expect(fromJSON.decoded && fromBinary.decoded)
            // Format 1 records print exactly as before: the payload itself.
            #expect(fromJSON.text == "{\"lsn\":\(lsn),\"bytes\":\(json.count),\"entry\":\(String(decoding: json, as: UTF8.self))}")
            let prefix = "{\"lsn\":\(lsn),\"bytes\":\(binary.count),\"entry\":"
            #expect(fromBinary.text.hasPrefix(prefix))
            let printed = String(fromBinary.text.dropFirst(prefix.count).dropLast())
            #expect(printed == String(decoding: json, as: UTF8.self).replacingOccurrences(of: "\"v\":1}", with: "\"v\":2}"))
            let object = try JSONSerialization.jsonObject(with: Data(fromBinary.text.utf8))
            #expect(object is [String: Any])
        }
        let bad = JournalPayloadCheck.dumpLine(JournalRecord(lsn: 3, payload: [0x02, 1]))
        #expect(!bad.decoded && bad.text.hasPrefix("{\"lsn\":3,\"bytes\":2,\"error\":\"invalid payload: "))
        #expect((try? JSONSerialization.jsonObject(with: Data(bad.text.utf8))) != nil)
    }

    @Test("the payload check reports the first undecodable record")
    func payloadCheckFindsBadRecords() async throws {
        let good = Self.entry(.created(dataKey: Self.sealed, at: Self.at)).encoded()
        let directory = try await Self.journal([good, [0x02, 0xFF], Array("{}".utf8), good])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let report = try JournalPayloadCheck.run(directory: directory)
        #expect(report.binary == 2 && report.json == 0 && report.undecodable == 2)
        #expect(report.firstFailure?.lsn == 2)
        await #expect(throws: RestoreError.self) { _ = try await Self.restore(directory) }
    }

    // MARK: A journal written before format 2

    static var fixture: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/journal-v1").path
    }

    /// A copy of the fixture data directory (restore may write into it).
    static func fixtureCopy() throws -> String {
        let directory = try Self.scratch()
        try FileManager.default.createDirectory(atPath: directory + "/journal", withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.fixture) where name.hasSuffix(".hyg") {
            try FileManager.default.copyItem(atPath: Self.fixture + "/" + name, toPath: directory + "/" + name)
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.fixture + "/journal") {
            try FileManager.default.copyItem(atPath: Self.fixture + "/journal/" + name, toPath: directory + "/journal/" + name)
        }
        return directory
    }

    @Test("a format 1 journal from before format 2 restores, dumps exactly as before, and takes format 2 records")
    func formatOneFixture() async throws {
        let directory = try Self.fixtureCopy()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var store = StoreConfiguration(dataDirectory: directory)
        store.fsync = .no
        let restored = try Restore.run(store: store, logger: Self.logger)
        #expect(restored.report.snapshotLSN == 67 && restored.report.replayed == 40 && restored.report.merchants == 3)
        let before = restored.states
        await restored.journal.close()

        // `journal dump` prints the lines the format 1 binary printed; `verify` sees 40 JSON payloads.
        let expected = try String(contentsOfFile: Self.fixture + "/dump.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
        var lines: [String] = []
        var records: [JournalRecord] = []
        try JournalInspector.forEachRecord(directory: directory) { record in
            lines.append(JournalPayloadCheck.dumpLine(record).text)
            records.append(record)
        }
        #expect(lines == expected)
        var report = JournalPayloadCheck.Report()
        report.json = 40
        #expect(try JournalPayloadCheck.run(directory: directory) == report)

        // The same records re-encoded as format 2 restore to the same states.
        let binary = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: binary) }
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".hyg") {
            try FileManager.default.copyItem(atPath: directory + "/" + name, toPath: binary + "/" + name)
        }
        let journal = try Journal(directory: binary, fsync: .no, replayAfter: 67, minimumLastLSN: 67, logger: Self.logger) { _ in }
        for record in records {
            #expect(try journal.append(try JournalEntry(payload: record.payload).encoded()) == record.lsn)
        }
        try await journal.waitDurable(107)
        await journal.close()
        #expect(try await Self.restore(binary) == before)

        // The upgraded service appends format 2 records to the old journal: restore replays both formats.
        let shop = try #require(before.keys.min())
        let events: [MerchantEvent] = [
            .deliverySeen(delivery: "msg_after_upgrade"), .tierChanged(tier: "pro", monthlyLimit: 5000),
            .checkoutCreated(checkout: Self.fullCheckout, idempotencyKey: nil, requestHash: nil),
        ]
        let reopened = try Restore.run(store: store, logger: Self.logger)
        var after = reopened.states
        for event in events {
            let lsn = try reopened.journal.append(JournalEntry(merchant: shop, event: event).encoded())
            after[shop]?.apply(event)
            after[shop]?.appliedLSN = lsn
        }
        try await reopened.journal.waitDurable(reopened.journal.lastAssignedLSN)
        await reopened.journal.close()
        #expect(after != before)
        #expect(try await Self.restore(directory) == after)
        report.binary = 3
        #expect(try JournalPayloadCheck.run(directory: directory) == report)
    }
}
