import Foundation
package import Logging
import Persistence

#if canImport(Glibc)
import Glibc
#endif

/// `hygge snapshot bench`: builds realistic merchant state through the production event path (`MerchantEvent`s
/// applied by `MerchantState.apply`, or encoded as journal payloads and folded by `Restorer`), writes it with the
/// real `SnapshotStore`, restores it with the real `Restore.run` (from the snapshot alone and from the snapshot plus a
/// journal tail) and checks that the restored state equals the original.
package enum SnapshotBenchmark {
    /// What to build and measure.
    package struct Options: Sendable {
        package var merchants = 10_000
        package var checkouts = 1_000_000
        /// Journal records written after the snapshot and replayed by the second restore.
        package var tailRecords = 100_000
        /// Seed of the deterministic generator (ids, amounts, outcomes).
        package var seed: UInt64 = 42
        /// Route every generated event through its journal payload (`JournalEntry.encoded()`, as `MerchantActor` writes it)
        /// and `Restorer.apply`, instead of applying it directly. Slower; exercises the journal codec end to end.
        package var throughJournalCodec = false
        /// The journal payload format of the tail (and of `throughJournalCodec`): JSON (format 1) to compare.
        package var payloadFormat: JournalEntry.Format = .current
        /// The snapshot body encoding to write.
        package var bodyFormat: RegistrySnapshot.BodyFormat = .current
        /// zlib level of the snapshot file.
        package var zlibLevel: Int32 = SnapshotStore.compressionLevel
        /// Snapshot file version: 2 (parts compressed, inflated and decoded in parallel; what the server writes) or 1
        /// (one zlib stream, for comparison).
        package var fileVersion = 2
        /// Cores the snapshot's encoding and compression may use (file version 2): `StateKeeper` gives a snapshot taken
        /// while serving one (at nice 10), the final one at shutdown every core.
        package var snapshotCores = Int.max

        package init() {}
    }

    /// One measured run. Durations in seconds, sizes in bytes, peak RSS in bytes (`VmHWM`; 0 when unavailable).
    package struct Result: Sendable, Codable {
        package var merchants: Int
        package var checkouts: Int
        package var paidCheckouts: Int
        package var pendingOrders: Int
        package var ledgerRows: Int
        package var buildEvents: Int
        package var buildSeconds: Double
        package var bodyFormat: String
        package var zlibLevel: Int
        package var fileVersion: Int
        /// Cores the encoding and compression used (`Options.snapshotCores`, capped at the machine's).
        package var snapshotCores: Int
        package var snapshotParts: Int
        package var snapshotRecords: Int
        package var snapshotEncodeSeconds: Double
        package var snapshotWriteSeconds: Double
        package var snapshotCompressedBytes: Int
        package var snapshotUncompressedBytes: Int
        /// `Restore.run` with only the snapshot in the data directory.
        package var restoreSeconds: Double
        /// CPU time (user + system, all threads) of that restore: on a busy machine a steadier measure than wall time.
        package var restoreCPUSeconds: Double
        package var restorePhases: RestoreTimings
        /// `Vault.merchantsNotOpening` and the `MerchantRegistry` over the restored states (the rest of start-up).
        package var vaultCheckSeconds: Double
        package var registrySeconds: Double
        package var tailRecords: Int
        package var tailWriteSeconds: Double
        /// Journal payload format of the tail: `json` (1) or `binary` (2).
        package var payloadFormat: String
        /// Bytes of the tail's journal segments (headers and frames included).
        package var tailJournalBytes: Int
        /// `Restore.run` with the snapshot and `tailRecords` journal records after it.
        package var restoreWithTailSeconds: Double
        package var restoreWithTailCPUSeconds: Double
        package var restoreWithTailPhases: RestoreTimings
        /// Tail records replayed per second (journal phase of the second restore).
        package var replayRecordsPerSecond: Double
        package var peakRSSBytes: Int
        package var peakRSSRestoreBytes: Int
        /// The restored states equal the originals (snapshot alone) and the originals plus the tail (with the tail).
        package var verified: Bool
        package var verifiedWithTail: Bool
    }

    /// Builds the state, measures, and removes nothing under `directory` (the caller owns it).
    package static func run(_ options: Options, directory: String, logger: Logger) async throws -> Result {
        let master = MasterKey.generate()
        let clock = ContinuousClock()
        PeakRSS.reset()

        // 1. State through the event path.
        let buildStart = clock.now
        let built = try Self.build(options, master: master)
        let buildSeconds = (clock.now - buildStart).seconds
        let states = built.states
        let floor = built.lastLSN

        // 2. Snapshot, as StateKeeper.snapshot writes it (merchants sorted by shop).
        let snapshotDirectory = directory + "/snapshot-only"
        let (info, uncompressed, parts, encodeSeconds, writeSeconds) = try Self.writeSnapshot(
            states, lsn: floor, format: options.bodyFormat, level: options.zlibLevel, fileVersion: options.fileVersion,
            cores: options.snapshotCores, directory: snapshotDirectory)

        // 3. Restore from the snapshot alone.
        PeakRSS.reset()
        let restoreStart = clock.now
        let restoreCPU = CPUTime.now()
        let restored = try Restore.run(store: StoreConfiguration(dataDirectory: snapshotDirectory), logger: logger)
        let restoreCPUSeconds = CPUTime.now() - restoreCPU
        let restoreSeconds = (clock.now - restoreStart).seconds
        let peakRestore = PeakRSS.current()
        await restored.journal.close()
        let verified = restored.states == states && restored.report.replayed == 0
        let vaultStart = clock.now
        let locked = Vault.merchantsNotOpening(restored.states, master: master)
        let vaultSeconds = (clock.now - vaultStart).seconds
        let registryStart = clock.now
        let registryJournal = try Journal(directory: directory + "/registry", fsync: .no, logger: logger) { _ in }
        let environment = MerchantEnvironment(
            journal: registryJournal, shopify: OfflineGateway(), whop: OfflineGateway(), master: master,
            settings: DomainSettings(), orders: OrderQueue(), directory: Directory(), logger: logger)
        let registry = MerchantRegistry(states: restored.states, environment: environment)
        let registrySeconds = (clock.now - registryStart).seconds
        let registryCount = registry.count
        await registryJournal.close()
        let restoredPhases = restored.timings

        // 4. A journal tail after the snapshot, then restore from both.
        let tailDirectory = directory + "/snapshot-and-tail"
        try FileManager.default.createDirectory(atPath: tailDirectory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: info.path, toPath: tailDirectory + "/" + (info.path as NSString).lastPathComponent)
        let tailStart = clock.now
        var expected = states
        let tail = try await Self.writeTail(options, into: tailDirectory, after: floor, states: &expected, logger: logger)
        let tailSeconds = (clock.now - tailStart).seconds
        let tailJournalBytes = Self.directoryBytes(tailDirectory + "/journal")
        let tailRestoreStart = clock.now
        let tailCPU = CPUTime.now()
        let withTail = try Restore.run(store: StoreConfiguration(dataDirectory: tailDirectory), logger: logger)
        let tailCPUSeconds = CPUTime.now() - tailCPU
        let tailRestoreSeconds = (clock.now - tailRestoreStart).seconds
        await withTail.journal.close()
        let verifiedWithTail = withTail.states == expected && withTail.report.replayed == tail
        let journalSeconds = withTail.timings.journalSeconds

        var paid = 0
        var pending = 0
        var ledger = 0
        for state in states.values {
            paid += state.checkouts.values.reduce(0) { $0 + ($1.status.isPaid ? 1 : 0) }
            pending += state.pendingOrders.count
            ledger += state.ledger.count
        }
        return Result(
            merchants: states.count, checkouts: states.values.reduce(0) { $0 + $1.checkouts.count },
            paidCheckouts: paid, pendingOrders: pending, ledgerRows: ledger, buildEvents: built.events,
            buildSeconds: buildSeconds, bodyFormat: options.bodyFormat.rawValue, zlibLevel: Int(options.zlibLevel),
            fileVersion: options.fileVersion, snapshotCores: min(options.snapshotCores, Parallel.cores), snapshotParts: parts, snapshotRecords: states.count,
            snapshotEncodeSeconds: encodeSeconds, snapshotWriteSeconds: writeSeconds,
            snapshotCompressedBytes: info.bytes, snapshotUncompressedBytes: uncompressed,
            restoreSeconds: restoreSeconds, restoreCPUSeconds: restoreCPUSeconds, restorePhases: restoredPhases,
            vaultCheckSeconds: locked.isEmpty ? vaultSeconds : -1,
            registrySeconds: registryCount == states.count ? registrySeconds : -1,
            tailRecords: tail, tailWriteSeconds: tailSeconds, payloadFormat: options.payloadFormat.name,
            tailJournalBytes: tailJournalBytes, restoreWithTailSeconds: tailRestoreSeconds,
            restoreWithTailCPUSeconds: tailCPUSeconds,
            restoreWithTailPhases: withTail.timings,
            replayRecordsPerSecond: journalSeconds > 0 ? Double(tail) / journalSeconds : 0,
            peakRSSBytes: PeakRSS.current(), peakRSSRestoreBytes: peakRestore, verified: verified,
            verifiedWithTail: verifiedWithTail)
    }

    /// What `restoreOnly` measured: one `Restore.run` of an existing data directory in this (fresh) process.
    package struct RestoreOnlyResult: Sendable, Codable {
        package var merchants: Int
        package var checkouts: Int
        package var replayed: Int
        package var restoreSeconds: Double
        package var restoreCPUSeconds: Double
        package var phases: RestoreTimings
        /// `MerchantRegistry` over the restored states (actors and the checkout directory).
        package var registrySeconds: Double
        /// Peak RSS of the restore and the registry.
        package var peakRSSBytes: Int
        /// `MemoryLayout<Checkout>.stride`: the in-memory size of one checkout before its heap parts.
        package var checkoutStride: Int
    }

    /// Restores `directory` as `hygge serve` does at start (newest valid snapshot plus the journal after it), in a
    /// process that has built nothing else, so the heap is as fresh as a restarted server's.
    package static func restoreOnly(directory: String, logger: Logger) async throws -> RestoreOnlyResult {
        PeakRSS.reset()
        let clock = ContinuousClock()
        let start = clock.now
        let cpu = CPUTime.now()
        let restored = try Restore.run(store: StoreConfiguration(dataDirectory: directory), logger: logger)
        let cpuSeconds = CPUTime.now() - cpu
        let seconds = (clock.now - start).seconds
        // The rest of `hygge serve`'s start-up before /readyz: the actors and the checkout directory (the vault check
        // needs the master key the data was sealed with, so it is not repeated here; it took ~30 ms in `bench`).
        let registryStart = clock.now
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("hygge-restore-only-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let registryJournal = try Journal(directory: scratch, fsync: .no, logger: logger) { _ in }
        let environment = MerchantEnvironment(
            journal: registryJournal, shopify: OfflineGateway(), whop: OfflineGateway(), master: MasterKey.generate(),
            settings: DomainSettings(), orders: OrderQueue(), directory: Directory(), logger: logger)
        let registry = MerchantRegistry(states: restored.states, environment: environment)
        let registrySeconds = (clock.now - registryStart).seconds
        let peak = PeakRSS.current()
        await registryJournal.close()
        await restored.journal.close()
        return RestoreOnlyResult(
            merchants: registry.count, checkouts: restored.states.values.reduce(0) { $0 + $1.checkouts.count },
            replayed: restored.report.replayed, restoreSeconds: seconds, restoreCPUSeconds: cpuSeconds,
            phases: restored.timings, registrySeconds: registrySeconds, peakRSSBytes: peak,
            checkoutStride: MemoryLayout<Checkout>.stride)
    }

    /// Total size of the regular files in `path` (0 when it cannot be listed).
    static func directoryBytes(_ path: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.reduce(0) { total, name in
            let size = (try? FileManager.default.attributesOfItem(atPath: path + "/" + name))?[.size] as? Int
            return total + (size ?? 0)
        }
    }

    /// Encodes and writes the snapshot as `StateKeeper.snapshot` does (merchants sorted by shop); the body is freed
    /// before the restores run.
    static func writeSnapshot(
        _ states: [MerchantID: MerchantState], lsn: UInt64, format: RegistrySnapshot.BodyFormat, level: Int32,
        fileVersion: Int = 2, cores: Int = .max, directory: String
    ) throws -> (info: SnapshotInfo, uncompressed: Int, parts: Int, encodeSeconds: Double, writeSeconds: Double) {
        let clock = ContinuousClock()
        let encodeStart = clock.now
        let snapshot = RegistrySnapshot(lsn: lsn, merchants: states.values.sorted { $0.id < $1.id })
        if fileVersion == 1 {
            let body = try snapshot.encoded(format: format)
            let encodeSeconds = (clock.now - encodeStart).seconds
            let writeStart = clock.now
            let info = try SnapshotStore.write(directory: directory, lsn: lsn, body: body, level: level)
            return (info, body.count, 1, encodeSeconds, (clock.now - writeStart).seconds)
        }
        let parts = try snapshot.encodedParts(format: format, cores: cores)
        let encodeSeconds = (clock.now - encodeStart).seconds
        let writeStart = clock.now
        let info = try SnapshotStore.write(directory: directory, lsn: lsn, parts: parts, level: level, cores: cores)
        return (info, parts.reduce(0) { $0 + $1.count }, parts.count, encodeSeconds, (clock.now - writeStart).seconds)
    }

    // MARK: - Building state

    /// Generated state: every merchant, the LSN of the last event and the number of events.
    package struct Built {
        package var states: [MerchantID: MerchantState]
        package var lastLSN: UInt64
        package var events: Int
    }

    /// Folds events either straight into states (`MerchantState.apply`, as `MerchantActor.commit` does), or through
    /// their journal payloads (`JournalEntry.encoded()`, decoded and applied by `Restorer`), or only
    /// collects them.
    struct Sink {
        enum Mode { case apply, codec, collect }
        let mode: Mode
        var payloadFormat: JournalEntry.Format = .current
        var states: [MerchantID: MerchantState] = [:]
        var restorer = Restorer(snapshot: nil)
        var lsn: UInt64 = 0
        var events = 0
        var collected: [MerchantEvent] = []

        init(mode: Mode) { self.mode = mode }

        mutating func emit(_ merchant: MerchantID, _ event: MerchantEvent) throws {
            self.events += 1
            switch self.mode {
            case .collect:
                self.collected.append(event)
                return
            case .codec:
                self.lsn += 1
                try self.restorer.apply(lsn: self.lsn, payload: try SnapshotBenchmark.payload(merchant, event, format: self.payloadFormat))
            case .apply:
                self.lsn += 1
                if case .created(let dataKey, let at) = event, self.states[merchant] == nil {
                    var state = MerchantState(id: merchant, dataKey: dataKey, createdAt: at)
                    state.appliedLSN = self.lsn
                    self.states[merchant] = state
                    return
                }
                self.states[merchant]?.apply(event)
                self.states[merchant]?.appliedLSN = self.lsn
            }
        }

        var result: [MerchantID: MerchantState] { self.mode == .codec ? self.restorer.states : self.states }
    }

    /// The journal payload `MerchantActor.commit` writes for `event` (`.current`), or its format 1 JSON.
    static func payload(_ merchant: MerchantID, _ event: MerchantEvent, format: JournalEntry.Format) throws -> [UInt8] {
        let entry = JournalEntry(merchant: merchant, event: event)
        return format == .current ? entry.encoded() : try entry.encoded(format: format)
    }

    /// A deterministic generator (SplitMix64): the same seed builds the same ids, amounts and outcomes.
    package struct SeededRandom: RandomNumberGenerator {
        var state: UInt64
        package init(seed: UInt64) { self.state = seed }
        package mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let products = [
        "Organic Cotton Tee - M", "Organic Cotton Tee - L", "Wool Beanie", "Canvas Tote Bag", "Ceramic Mug 350 ml",
        "Linen Apron", "Scented Candle - Cedar", "Notebook A5 Dotted", "Leather Card Holder", "Hoodie - Forest Green",
        "Socks 3-Pack", "Enamel Pin", "Poster 50x70", "Phone Case", "Water Bottle 750 ml", "Gift Card",
    ]
    static let currencies = ["USD", "USD", "USD", "USD", "EUR", "GBP", "CAD", "JPY"]
    /// 2026-10-01T00:00:00Z: checkouts spread over the two months after it.
    static let epoch: Int64 = 1_790_812_800_000
    static let spanMilliseconds: Int64 = 61 * 86_400_000

    /// The shop domain of merchant `index`.
    package static func shop(_ index: Int) -> MerchantID {
        MerchantID("bench-" + String(index) + ".myshopify.com")
    }

    /// Builds `options.merchants` merchants holding `options.checkouts` checkouts between them.
    package static func build(_ options: Options, master: MasterKey) throws -> Built {
        var random = SeededRandom(seed: options.seed)
        var sink = Sink(mode: options.throughJournalCodec ? .codec : .apply)
        sink.payloadFormat = options.payloadFormat
        let merchants = max(1, options.merchants)
        for index in 0..<merchants {
            let shop = Self.shop(index)
            let share = options.checkouts / merchants + (index < options.checkouts % merchants ? 1 : 0)
            try Self.merchant(shop, checkouts: share, sink: &sink, random: &random, master: master)
        }
        return Built(states: sink.result, lastLSN: sink.lsn, events: sink.events)
    }

    /// One merchant's set-up (data key, install, Whop key, webhook secret, sometimes a tier) and checkouts.
    static func merchant(
        _ shop: MerchantID, checkouts: Int, sink: inout Sink, random: inout SeededRandom, master: MasterKey
    ) throws {
        let key = Vault.newDataKey()
        let wrapped = try Vault.wrap(key, for: shop, master: master)
        let start = Timestamp(milliseconds: Self.epoch - 30 * 86_400_000 + Int64.random(in: 0..<86_400_000, using: &random))
        try sink.emit(shop, .created(dataKey: wrapped, at: start))
        let token = "shpat_" + RandomToken.hex(bytes: 16, using: &random)
        try sink.emit(
            shop,
            .installed(
                token: try Vault.seal(token, merchant: shop, field: .shopifyToken, dataKey: key),
                scopes: "read_products,write_orders,write_script_tags", at: start.adding(.seconds(5))))
        let whopKey = "whop_sk_" + RandomToken.hex(bytes: 20, using: &random)
        try sink.emit(
            shop,
            .whopKeySet(
                key: try Vault.seal(whopKey, merchant: shop, field: .whopAPIKey, dataKey: key),
                fingerprint: Vault.fingerprint(whopKey), companyID: "biz_" + RandomToken.hex(bytes: 7, using: &random),
                at: start.adding(.seconds(60))))
        let secret = "ws_" + RandomToken.hex(bytes: 24, using: &random)
        try sink.emit(
            shop,
            .webhookSecretSet(
                secret: try Vault.seal(secret, merchant: shop, field: .whopWebhookSecret, dataKey: key),
                at: start.adding(.seconds(90))))
        if random.next() % 10 == 0 {
            try sink.emit(shop, .tierChanged(tier: "plan_" + RandomToken.hex(bytes: 7, using: &random), monthlyLimit: 5_000))
        }
        let catalogue = (0..<6).map { _ in
            (
                variant: Int64(44_000_000_000_000) + Int64(random.next() % 1_000_000_000),
                title: Self.products[Int(random.next() % UInt64(Self.products.count))],
                price: Int64(500 + random.next() % 19_500)
            )
        }
        let currency = Self.currencies[Int(random.next() % UInt64(Self.currencies.count))]
        let step = checkouts > 0 ? Self.spanMilliseconds / Int64(checkouts) : 0
        for number in 0..<checkouts {
            let at = Timestamp(milliseconds: Self.epoch + step * Int64(number) + Int64(random.next() % UInt64(max(step, 1))))
            try Self.checkout(
                shop, number: number, at: at, catalogue: catalogue, currency: currency, sink: &sink, random: &random)
        }
    }

    /// One checkout's life: created, then (by a seeded roll) left open, expired, awaiting payment, failed, or paid and
    /// then ordered, left in the outbox, retried after an ambiguous failure, or partly refunded.
    static func checkout(
        _ shop: MerchantID, number: Int, at: Timestamp, catalogue: [(variant: Int64, title: String, price: Int64)],
        currency: String, sink: inout Sink, random: inout SeededRandom
    ) throws {
        var lines: [LineItem] = []
        var total: Int64 = 0
        for _ in 0..<(1 + Int(random.next() % 3)) {
            let product = catalogue[Int(random.next() % UInt64(catalogue.count))]
            let quantity = 1 + Int(random.next() % 2)
            lines.append(LineItem(variantID: product.variant, quantity: quantity, unitPrice: product.price, title: product.title))
            total += product.price * Int64(quantity)
        }
        let email = random.next() % 10 < 7 ? "buyer\(random.next() % 1_000_000)@example.com" : nil
        let checkout = Checkout(
            id: .random(using: &random), lineItems: lines, total: Money(amount: total, currency: currency),
            clientTotalMismatch: false, email: email, createdAt: at, expiresAt: at.adding(.seconds(30 * 60)))
        let keyed = random.next() % 10 < 3
        try sink.emit(
            shop,
            .checkoutCreated(
                checkout: checkout, idempotencyKey: keyed ? "idem-" + RandomToken.hex(bytes: 16, using: &random) : nil,
                requestHash: keyed ? RandomToken.hex(bytes: 32, using: &random) : nil))
        let id = checkout.id
        let roll = random.next() % 100
        if roll < 4 { return }  // open
        if roll < 8 {
            try sink.emit(shop, .checkoutExpired(checkout: id, at: at.adding(.seconds(1800))))
            return
        }
        let configuration = "ch_" + RandomToken.hex(bytes: 10, using: &random)
        let plan = WhopPlan(
            planID: "plan_" + RandomToken.hex(bytes: 10, using: &random), checkoutConfigurationID: configuration,
            purchaseURL: "https://whop.com/checkout/" + configuration)
        try sink.emit(shop, .planCreated(checkout: id, plan: plan, month: at.month, at: at.adding(.seconds(2))))
        if roll < 16 { return }  // awaiting payment
        if roll < 21 {
            try sink.emit(shop, .checkoutExpired(checkout: id, at: at.adding(.seconds(1800))))
            return
        }
        let payment = "pay_" + RandomToken.hex(bytes: 10, using: &random)
        let delivery = "msg_" + RandomToken.hex(bytes: 12, using: &random)
        let paidAt = at.adding(.seconds(60 + Int64(random.next() % 600)))
        if roll < 24 {
            try sink.emit(shop, .paymentFailed(checkout: id, paymentID: payment, delivery: delivery, at: paidAt))
            return
        }
        try sink.emit(
            shop,
            .paymentRecorded(
                checkout: id, paymentID: payment, amount: checkout.total, fee: Currency.platformFee(total), late: false,
                delivery: delivery, at: paidAt))
        try sink.emit(shop, .orderAttemptStarted(checkout: id, at: paidAt.adding(.milliseconds(40))))
        if roll < 28 { return }  // in the outbox
        if roll < 30 {
            try sink.emit(
                shop, .orderAttemptFailed(checkout: id, error: "shopify_unavailable", ambiguous: true, giveUp: false))
            return
        }
        try sink.emit(
            shop,
            .orderSynced(
                checkout: id, orderID: 5_000_000_000_000 + Int64(random.next() % 1_000_000_000),
                orderName: "#" + String(1001 + number)))
        if roll < 33 {
            try sink.emit(
                shop,
                .refundRecorded(
                    checkout: id, refundID: "ref_" + RandomToken.hex(bytes: 10, using: &random), amount: max(1, total / 2),
                    delivery: "msg_" + RandomToken.hex(bytes: 12, using: &random), at: paidAt.adding(.seconds(86_400))))
        }
    }

    /// Appends `options.tailRecords` journal records after `lsn` (new checkouts of random merchants, one event per
    /// record, encoded as `MerchantActor` encodes them), and applies the same events to `states`.
    /// - Returns: the number of records written.
    static func writeTail(
        _ options: Options, into directory: String, after lsn: UInt64, states: inout [MerchantID: MerchantState],
        logger: Logger
    ) async throws -> Int {
        guard options.tailRecords > 0, !states.isEmpty else { return 0 }
        var random = SeededRandom(seed: options.seed ^ 0x7A11)
        let journal = try Journal(
            directory: directory, fsync: .no, replayAfter: lsn, minimumLastLSN: lsn, logger: logger) { _ in }
        let shops = states.keys.sorted()
        let catalogue = [(variant: Int64(44_000_000_000_001), title: "Tail Product", price: Int64(1_990))]
        var expectedLSN = lsn
        do {
            while expectedLSN - lsn < UInt64(options.tailRecords) {
                let shop = shops[Int(random.next() % UInt64(shops.count))]
                guard var state = states[shop] else { continue }
                var collector = Sink(mode: .collect)
                try Self.checkout(
                    shop, number: state.checkouts.count, at: Timestamp(milliseconds: Self.epoch + Self.spanMilliseconds),
                    catalogue: catalogue, currency: "USD", sink: &collector, random: &random)
                for event in collector.collected.prefix(options.tailRecords - Int(expectedLSN - lsn)) {
                    let assigned = try journal.append(try Self.payload(shop, event, format: options.payloadFormat))
                    expectedLSN += 1
                    guard assigned == expectedLSN else {
                        throw RestoreError.invalidSnapshot("tail record got LSN \(assigned), expected \(expectedLSN)")
                    }
                    state.apply(event)
                    state.appliedLSN = assigned
                }
                states[shop] = state
            }
            try await journal.waitDurable(expectedLSN)
        } catch {
            await journal.close()
            throw error
        }
        await journal.close()
        return Int(expectedLSN - lsn)
    }
}

/// Peak resident set size of this process (`VmHWM` in `/proc/self/status`), resettable through `/proc/self/clear_refs`.
package enum PeakRSS {
    /// Bytes, or 0 where `/proc` is not available.
    package static func current() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kilobytes * 1024
        }
        return 0
    }

    /// Resets the peak to the current RSS (Linux 4.0+; ignored where not permitted).
    package static func reset() {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return }
        try? handle.write(contentsOf: Data("5".utf8))
        try? handle.close()
    }
}

/// Process CPU time (user + system, every thread) in seconds, from `getrusage`.
enum CPUTime {
    static func now() -> Double {
        #if canImport(Glibc)
        var usage = rusage()
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
        #else
        return 0
        #endif
    }
}

/// Gateways for a registry that never calls out (the benchmark only builds it).
struct OfflineGateway: ShopifyAdmin, WhopAPI {
    func variant(shop: MerchantID, token: String, id: Int64) async throws(GatewayError) -> VariantInfo? { nil }
    func createOrder(shop: MerchantID, token: String, order: OrderRequest) async throws(GatewayError) -> ShopifyOrder {
        throw .unavailable("offline")
    }
    func findOrder(
        shop: MerchantID, token: String, sourceIdentifier: String, createdAtMin: Timestamp, createdAtMax: Timestamp
    )
        async throws(GatewayError) -> ShopifyOrder?
    { nil }
    func companyID(apiKey: String) async throws(GatewayError) -> String { throw .unavailable("offline") }
    func createPlan(apiKey: String, request: PlanRequest) async throws(GatewayError) -> WhopPlan { throw .unavailable("offline") }
    func refund(apiKey: String, paymentID: String, amount: Money?) async throws(GatewayError) { throw .unavailable("offline") }
}

extension Duration {
    /// Seconds as a `Double`.
    var seconds: Double {
        Double(self.components.seconds) + Double(self.components.attoseconds) / 1e18
    }
}
