import Foundation
package import Logging
import Metrics
import Persistence
import ServiceLifecycle

/// Takes snapshots (by time, by record count, on demand and at shutdown), sweeps expired checkouts, and closes the
/// journal last on graceful shutdown.
///
/// A snapshot never stops request handling: it notes the journal's last LSN (the floor), starts a new segment, then
/// asks each merchant actor for an immutable copy of its state (each reflects at least every record up to the
/// floor), waits until everything those copies reflect is durable, and writes the file.
package actor StateKeeper: Service {
    private let registry: MerchantRegistry
    private let directory: String
    private let interval: Duration
    private let recordsMax: UInt64
    private let sweepInterval: Duration
    private let logger: Logger
    private var lastSnapshotLSN: UInt64
    private var snapshotting = false
    /// Callers of `snapshot` waiting for the one in progress, in order.
    private var snapshotQueue: [CheckedContinuation<Void, Never>] = []
    private let merchantsGauge = Gauge(label: "hygge_merchants")
    private let openCheckoutsGauge = Gauge(label: "hygge_open_checkouts")

    /// - Parameters:
    ///   - directory: the data directory (snapshots live at its top level).
    ///   - interval: snapshot at least this often while records arrive (`HYGGE_SNAPSHOT_INTERVAL`).
    ///   - recordsMax: snapshot after this many records (`HYGGE_SNAPSHOT_RECORDS`).
    ///   - lastSnapshotLSN: the LSN of the snapshot restored from.
    package init(
        registry: MerchantRegistry, directory: String, interval: Duration, recordsMax: UInt64,
        lastSnapshotLSN: UInt64, sweepInterval: Duration = .seconds(5), logger: Logger
    ) {
        self.registry = registry
        self.directory = directory
        self.interval = interval
        self.recordsMax = max(1, recordsMax)
        self.lastSnapshotLSN = lastSnapshotLSN
        self.sweepInterval = sweepInterval
        self.logger = logger
        SnapshotStore.registerMetrics()
    }

    private var journal: Journal { self.registry.environment.journal }

    package func run() async throws {
        let clock = ContinuousClock()
        var lastSnapshot = clock.now
        var lastSweep = clock.now
        let tick: Duration = .milliseconds(200)
        // The gauges have values from the start, not only after the first sweep interval.
        await self.sweep()
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                // The tick ends early on graceful shutdown: the final snapshot starts at once, not up to a tick later.
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
                let pending = self.journal.lastAssignedLSN &- self.lastSnapshotLSN
                if pending >= self.recordsMax || (pending > 0 && clock.now - lastSnapshot >= self.interval) {
                    _ = try? await self.snapshot()
                    lastSnapshot = clock.now
                }
                if clock.now - lastSweep >= self.sweepInterval {
                    lastSweep = clock.now
                    await self.sweep()
                }
            }
        } onGracefulShutdown: {}
        do {
            // Nothing is served any more: the final snapshot may use every core at full priority.
            let info = try await self.snapshot(background: false)
            self.logger.info("final snapshot written", metadata: ["snapshot.file": "\(info.file)", "journal.lsn": "\(info.lsn)"])
        } catch {
            self.logger.error("final snapshot failed", metadata: ["error": "\(error)"])
        }
        await self.journal.close()
    }

    /// Expires due checkouts and refreshes the gauges.
    package func sweep() async {
        let now = Timestamp.now
        let live = await self.registry.expireDue(now: now)
        self.merchantsGauge.record(self.registry.count)
        self.openCheckoutsGauge.record(live)
    }

    /// Sets `hygge_merchants` and `hygge_open_checkouts` to their current values (before a `/metrics` scrape).
    package func refreshGauges() async {
        var live = 0
        for merchant in self.registry.all { live += await merchant.liveCheckouts }
        self.merchantsGauge.record(self.registry.count)
        self.openCheckoutsGauge.record(live)
    }

    /// Writes a snapshot now and prunes covered journal segments.
    /// - Returns: the file written.
    /// - Parameter background: while the server serves requests, the snapshot's encoding and compression run on one
    ///   core at a lower priority (nice 10), so that they yield the cores to request handling (on all of them,
    ///   back-to-back snapshots made single requests wait up to half a second, BENCHMARKS.md, eighth session); the
    ///   final snapshot at shutdown uses every core.
    package func snapshot(background: Bool = true) async throws -> SnapshotReport {
        // One snapshot at a time; the next caller waits its turn, suspended (it used to poll with `Task.yield`).
        if self.snapshotting {
            await withCheckedContinuation { self.snapshotQueue.append($0) }
        }
        self.snapshotting = true
        defer {
            // Hands the turn to the next caller, if any (it finds `snapshotting` still set, as its own).
            if self.snapshotQueue.isEmpty { self.snapshotting = false } else { self.snapshotQueue.removeFirst().resume() }
        }
        let floor = self.journal.lastAssignedLSN
        try await self.journal.rotate()
        var states: [MerchantState] = []
        for merchant in self.registry.all { states.append(await merchant.snapshot()) }
        let reflected = max(floor, states.map(\.appliedLSN).max() ?? 0)
        if reflected > 0 { try await self.journal.waitDurable(reflected) }
        // Encoding, compression, the file's writes and fsyncs, and the segment deletions block for as long as the
        // state is large (seconds for a million checkouts): on a thread of their own, not the cooperative pool's.
        let (directory, journal, copies) = (self.directory, self.journal, states)
        let cores = background ? 1 : Int.max
        let (info, deleted) = try await DedicatedThread.run("hygge-snapshot", niceness: background ? 10 : 0) {
            () throws -> (SnapshotInfo, Int) in
            let parts = try RegistrySnapshot(lsn: floor, merchants: copies).encodedParts(cores: cores)
            let info = try SnapshotStore.write(directory: directory, lsn: floor, parts: parts, cores: cores)
            let kept = try SnapshotStore.list(directory: directory)
            return (info, kept.count >= 2 ? try journal.deleteSegments(coveredBy: kept[1].lsn) : 0)
        }
        self.lastSnapshotLSN = floor
        if deleted > 0 { self.logger.debug("journal segments deleted", metadata: ["count": "\(deleted)"]) }
        self.logger.info(
            "snapshot written",
            metadata: ["snapshot.file": "\(info.path)", "journal.lsn": "\(floor)", "snapshot.bytes": "\(info.bytes)"])
        return SnapshotReport(lsn: info.lsn, file: (info.path as NSString).lastPathComponent, bytes: info.bytes)
    }
}

/// What a snapshot wrote (the admin API's answer).
package struct SnapshotReport: Sendable, Equatable {
    package var lsn: UInt64
    /// File name inside the data directory.
    package var file: String
    package var bytes: Int
}
