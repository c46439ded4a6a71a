import Actors
import Logging
import Persistence

/// Start-up restore: the newest valid snapshot, then the journal records after it.
enum Restore {
    struct Result {
        var journal: Journal
        var states: [MerchantID: MerchantState]
        var snapshotLSN: UInt64
    }

    static func run(dataDir: String, fsync: FsyncPolicy, logger: Logger) throws -> Result {
        let clock = ContinuousClock()
        let start = clock.now
        var snapshot: RegistrySnapshot?
        if let loaded = try SnapshotStore.loadNewestValid(directory: dataDir, logger: logger) {
            snapshot = try RegistrySnapshot.decode(loaded.body)
        }
        var restorer = Restorer(snapshot: snapshot)
        let floor = snapshot?.lsn ?? 0
        let journal = try Journal(
            directory: dataDir, fsync: fsync, replayAfter: floor, minimumLastLSN: max(floor, restorer.maxAppliedLSN),
            logger: logger
        ) { record in
            try restorer.apply(lsn: record.lsn, payload: record.payload)
        }
        logger.info(
            "restore done",
            metadata: [
                "snapshot.lsn": "\(floor)", "journal.replayed": "\(restorer.applied)", "journal.skipped": "\(restorer.skipped)",
                "merchants": "\(restorer.states.count)", "duration": "\(clock.now - start)",
            ])
        return Result(journal: journal, states: restorer.states, snapshotLSN: floor)
    }
}
