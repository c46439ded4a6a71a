import Foundation
package import Logging
package import Persistence

/// Where and how the service keeps its state: the data directory, the journal's fsync policy, snapshot triggers.
package struct StoreConfiguration: Sendable {
    /// `HYGGE_DATA_DIR`: journal segments and snapshot files.
    package var dataDirectory: String
    /// `HYGGE_FSYNC`.
    package var fsync: FsyncPolicy = .always
    /// `HYGGE_SNAPSHOT_INTERVAL`.
    package var snapshotInterval: Duration = .seconds(60)
    /// `HYGGE_SNAPSHOT_RECORDS`.
    package var snapshotRecords: UInt64 = 100_000
    /// How often expired checkouts are swept.
    package var sweepInterval: Duration = .seconds(5)

    package init(dataDirectory: String) { self.dataDirectory = dataDirectory }
}

/// What a restore found: the snapshot it started from and how many journal records it replayed after it.
package struct RestoreReport: Sendable, Equatable {
    package var snapshotLSN: UInt64
    package var replayed: Int
    package var skipped: Int
    package var merchants: Int
}

/// Time spent in each step of `Restore.run`, in seconds.
package struct RestoreTimings: Sendable, Codable, Equatable {
    /// Reading the snapshot file.
    package var readSeconds: Double = 0
    /// CRC32C of the compressed body.
    package var checksumSeconds: Double = 0
    /// zlib inflate.
    package var inflateSeconds: Double = 0
    /// Decoding the body into merchant states (and checking their invariants).
    package var decodeSeconds: Double = 0
    /// Finding, reading, checking, inflating and decoding the snapshot, wall time (the four above overlap when
    /// `summedOverThreads`).
    package var snapshotSeconds: Double = 0
    /// Independently compressed parts of the snapshot file (1 for a version-1 file).
    package var parts = 0
    /// Whether checksum, inflate and decode are thread-seconds summed over parts processed in parallel.
    package var summedOverThreads = false
    /// Opening the journal and replaying the records after the snapshot.
    package var journalSeconds: Double = 0

    package init() {}
}

/// The domain core of a running service: the restored merchant registry and its two background services.
package struct ServiceCore: Sendable {
    package let registry: MerchantRegistry
    /// Snapshots, expiry sweeps, and the journal's final flush on shutdown.
    package let keeper: StateKeeper
    /// Posts paid orders to Shopify.
    package let outbox: OrderOutbox
    package let restore: RestoreReport

    /// The LSN of the newest journal record.
    package var lastLSN: UInt64 { self.registry.environment.journal.lastAssignedLSN }

    /// Restores the newest valid snapshot plus the journal records after it, and builds the registry over them.
    package static func open(
        store: StoreConfiguration, settings: DomainSettings, master: MasterKey, shopify: any ShopifyAdmin,
        whop: any WhopAPI, logger: Logger
    ) throws -> ServiceCore {
        let restored = try Restore.run(store: store, logger: logger)
        let locked = Vault.merchantsNotOpening(restored.states, master: master)
        guard locked.isEmpty else { throw MasterKeyMismatch(merchants: locked) }
        let floor = restored.report.snapshotLSN
        let journal = restored.journal
        let environment = MerchantEnvironment(
            journal: journal, shopify: shopify, whop: whop, master: master, settings: settings, orders: OrderQueue(),
            directory: Directory(), logger: logger)
        let registry = MerchantRegistry(states: restored.states, environment: environment)
        let keeper = StateKeeper(
            registry: registry, directory: store.dataDirectory, interval: store.snapshotInterval,
            recordsMax: store.snapshotRecords, lastSnapshotLSN: floor, sweepInterval: store.sweepInterval, logger: logger)
        return ServiceCore(
            registry: registry, keeper: keeper, outbox: OrderOutbox(registry: registry, logger: logger), restore: restored.report)
    }
}

/// Start-up restore: the newest valid snapshot, then the journal records after it.
package enum Restore {
    package struct Result {
        package var journal: Journal
        package var states: [MerchantID: MerchantState]
        package var report: RestoreReport
        /// Where the time went.
        package var timings: RestoreTimings
    }

    /// Opens the journal of `store`, replaying every record after the newest valid snapshot into merchant states.
    package static func run(store: StoreConfiguration, logger: Logger) throws -> Result {
        try FileManager.default.createDirectory(atPath: store.dataDirectory, withIntermediateDirectories: true)
        let clock = ContinuousClock()
        let start = clock.now
        var timings = RestoreTimings()
        var snapshot: RegistrySnapshot?
        var read = SnapshotReadTimings()
        // Version-2 files inflate and decode their parts on every core; the parts are joined and checked here.
        let snapshotStart = clock.now
        snapshot = try RegistrySnapshot.loadNewestValid(directory: store.dataDirectory, logger: logger, timings: &read)?.snapshot
        timings.snapshotSeconds = (clock.now - snapshotStart).seconds
        timings.readSeconds = read.readSeconds
        timings.checksumSeconds = read.checksumSeconds
        timings.inflateSeconds = read.inflateSeconds
        timings.decodeSeconds = read.decodeSeconds
        timings.parts = read.parts
        timings.summedOverThreads = read.summedOverThreads
        let journalStart = clock.now
        let floor = snapshot?.lsn ?? 0
        var restorer = Restorer(snapshot: snapshot)
        // The restorer's states must be the only references to the decoded merchants: otherwise the first replayed
        // record of each merchant copies its whole checkout dictionary (copy-on-write).
        snapshot = nil
        let journal = try Journal(
            directory: store.dataDirectory, fsync: store.fsync, prepareSegments: true, replayAfter: floor,
            minimumLastLSN: max(floor, restorer.maxAppliedLSN), logger: logger
        ) { record in
            try restorer.apply(lsn: record.lsn, payload: record.payload)
        }
        timings.journalSeconds = (clock.now - journalStart).seconds
        let report = RestoreReport(
            snapshotLSN: floor, replayed: restorer.applied, skipped: restorer.skipped, merchants: restorer.states.count)
        logger.info(
            "restore done",
            metadata: [
                "snapshot.lsn": "\(floor)", "journal.replayed": "\(report.replayed)", "journal.skipped": "\(report.skipped)",
                "merchants": "\(report.merchants)", "duration": "\(clock.now - start)",
            ])
        return Result(journal: journal, states: restorer.states, report: report, timings: timings)
    }
}

/// The master key does not unwrap the data keys of some merchants: a wrong `HYGGE_MASTER_KEY`, or the old one after
/// `hygge keys rotate-master`. The server refuses to start rather than fail on the first secret it needs.
package struct MasterKeyMismatch: Error, CustomStringConvertible {
    package var merchants: [MerchantID]

    package var description: String {
        "HYGGE_MASTER_KEY does not open the data keys of \(self.merchants.count) merchant(s) (first: "
            + "\(self.merchants.first.map(\.rawValue) ?? "-")); after `hygge keys rotate-master` start with the new key "
            + "(a rotation interrupted halfway is finished offline by `hygge keys rotate-master --master-key OLD "
            + "--new-key NEW`)"
    }
}
