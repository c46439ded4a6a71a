import ArgumentParser
import Foundation
import Logging
import Persistence

#if canImport(Glibc)
import Glibc
#endif

/// `hygge journal bench`: durable appends/s and latency of the journal under each fsync policy and concurrency,
/// next to the raw rate of one `fdatasync` per record measured in the same run on the same disk.
struct JournalBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmark durable journal appends (writes into a temporary directory).")

    @Option(help: "Directory to benchmark in (default: a new temporary directory on the data disk).") var dir: String?
    @Option(help: "Seconds per measurement.") var seconds: Double = 3
    @Option(help: "Record payload bytes.") var bytes: Int = 256
    @Option(help: "Concurrency levels, comma-separated.") var concurrency: String = "1,16,64"
    @Option(help: "Policies, comma-separated.") var policies: String = "always,everysec,no"
    @Option(
        help: """
            Segment preallocation steps in bytes, comma-separated (the journal's `preallocateBytes`; 0 grows the \
            segment with every write, as before preallocation): each policy and concurrency is measured with each.
            """)
    var preallocate: String = "1048576"
    @Option(
        help: """
            Whether the journal prepares its next segment on a thread of its own (`prepareSegments`, as the server \
            does), comma-separated on/off: each policy and concurrency is measured with each.
            """)
    var prepare: String = "on"
    @Option(
        help: """
            Whether a lone waiter polls for durability instead of suspending (`LoneWaiterSpin`, as the server does), \
            comma-separated on/off: each policy and concurrency is measured with each.
            """)
    var loneWaiterSpin: String = "on"
    @Flag(help: "Skip the raw measurements (ratios then read 0; for profiling the journal alone).") var skipRaw = false

    @Option(
        help: """
            Rounds: each measures the raw rates and every policy/concurrency again; the table shows the medians, and \
            each ratio is taken within its round (the disk's speed drifts between rounds on virtual machines).
            """)
    var rounds: Int = 3

    /// One policy × concurrency measurement of one round, with that round's raw rates.
    private struct Sample {
        var rate: Double, p50: Double, p99: Double, recordsPerSync: Double?, raw1: Double, raw64: Double
        /// Mean duration of the journal's fdatasyncs (µs, `always` only) and segments started from a prepared file.
        var syncMicros: Double?, prepared: Int
        /// The share of waits a lone waiter's spin satisfied, and the hand-off floor at this concurrency in the round.
        var spun: Double, floor: Double
    }

    /// Bytes of the zero-filled file the preallocated raw measurements overwrite in place.
    static let preallocatedRawBytes = 64 << 20

    func run() async throws {
        let root = self.dir ?? FileManager.default.temporaryDirectory.appendingPathComponent("hygge-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { if self.dir == nil { try? FileManager.default.removeItem(atPath: root) } }
        let payload = [UInt8](repeating: 0x61, count: self.bytes)
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let steps = self.preallocate.split(separator: ",").compactMap { Int($0) }
        let prepares = Self.onOff(self.prepare)
        let spins = Self.onOff(self.loneWaiterSpin)
        let levels = self.concurrency.split(separator: ",").compactMap { Int($0) }
        let configurations: [(policy: FsyncPolicy, level: Int, preallocate: Int, prepare: Bool, spin: Bool)] = self
            .policies
            .split(separator: ",")
            .flatMap { name in
                FsyncPolicy(rawValue: String(name)).map { policy in
                    levels.flatMap { level in
                        steps.flatMap { step in
                            prepares.flatMap { prepare in spins.map { (policy, level, step, prepare, $0) } }
                        }
                    }
                } ?? []
            }
        var raw1: [Double] = []
        var raw64: [Double] = []
        // Half of 64 records per sync, the better of one write per batch into a growing or the preallocated file (only
        // for the bound on 64 writers, so only when 64 is among the levels).
        var raw32: [Double] = []
        // Per raw method, per round: growing/preallocated × one write per record/per batch (batch 1: the first two).
        var rawByMethod = [[Double]](repeating: [], count: 6)
        let preallocated = try Self.zeroFilledFile(directory: root, bytes: Self.preallocatedRawBytes)
        defer { unlink(preallocated) }
        var samples = [[Sample]](repeating: [], count: configurations.count)
        // Per concurrency level, the hand-off floor of each round.
        var floorRounds: [Int: [Double]] = [:]
        for round in 1...max(1, self.rounds) {
            FileHandle.standardError.write(Data("round \(round)/\(max(1, self.rounds))\n".utf8))
            let raw = { (batch: Int, method: RawMethod) throws -> Double in
                guard !self.skipRaw else { return 0 }
                return try Self.rawFdatasync(method, directory: root, payload: payload, seconds: self.seconds, batch: batch)
            }
            let rates = [
                try raw(1, RawMethod(preallocated: nil, oneWrite: false)),
                try raw(1, RawMethod(preallocated: preallocated, oneWrite: false)),
                try raw(64, RawMethod(preallocated: nil, oneWrite: false)),
                try raw(64, RawMethod(preallocated: preallocated, oneWrite: false)),
                try raw(64, RawMethod(preallocated: nil, oneWrite: true)),
                try raw(64, RawMethod(preallocated: preallocated, oneWrite: true)),
            ]
            for (index, rate) in rates.enumerated() { rawByMethod[index].append(rate) }
            // The disk's rate is the best way of writing it (the journal preallocates and writes a batch at once).
            let r1 = max(rates[0], rates[1])
            let r64 = rates[2...].max() ?? 0
            raw1.append(r1)
            raw64.append(r64)
            if levels.contains(64) {
                raw32.append(
                    max(
                        try raw(32, RawMethod(preallocated: nil, oneWrite: true)),
                        try raw(32, RawMethod(preallocated: preallocated, oneWrite: true))))
            }
            var floors: [Int: Double] = [:]
            for level in levels {
                floors[level] = await HandOffFloor.measure(concurrency: level, seconds: self.seconds)
                floorRounds[level, default: []].append(floors[level] ?? 0)
            }
            for (index, configuration) in configurations.enumerated() {
                let directory = (root as NSString).appendingPathComponent(
                    "\(configuration.policy.rawValue)-\(configuration.level)-\(configuration.preallocate)-\(configuration.prepare)")
                let journal = try Journal(
                    directory: directory, fsync: configuration.policy, preallocateBytes: configuration.preallocate,
                    prepareSegments: configuration.prepare,
                    loneWaiterSpin: configuration.spin ? .standard : .off, logger: logger
                ) { _ in }
                let syncsBefore = journal.fsyncCount
                let syncNanosBefore = journal.fsyncNanoseconds
                let (rate, p50, p99) = try await Self.measure(
                    journal, payload: payload, concurrency: configuration.level, seconds: self.seconds)
                let syncs = journal.fsyncCount - syncsBefore
                let syncNanos = journal.fsyncNanoseconds - syncNanosBefore
                let prepared = journal.preparedSegmentsTaken
                let spun = Double(journal.spunWaits) / max(1, rate * self.seconds)
                await journal.close()
                try? FileManager.default.removeItem(atPath: directory)
                // Per-fdatasync figures only under `always` (the other policies rarely fdatasync).
                let batchSyncs = configuration.policy == .always && syncs > 0 ? Double(syncs) : nil
                samples[index].append(
                    Sample(
                        rate: rate, p50: p50, p99: p99, recordsPerSync: batchSyncs.map { rate * self.seconds / $0 },
                        raw1: r1, raw64: r64, syncMicros: batchSyncs.map { Double(syncNanos) / $0 / 1000 },
                        prepared: prepared, spun: spun, floor: floors[configuration.level] ?? 0))
            }
        }
        print("rounds: \(raw1.count), \(self.seconds) s per measurement, \(self.bytes)-byte records; medians over the rounds")
        let medians = rawByMethod.map { Int(Self.median($0)) }
        print(
            "raw write+fdatasync, 1 record per sync:   \(Int(Self.median(raw1))) records/s "
                + "(growing file \(medians[0]), preallocated \(medians[1]))")
        print(
            "raw write+fdatasync, 64 records per sync: \(Int(Self.median(raw64))) records/s "
                + "(a write per record: growing file \(medians[2]), preallocated \(medians[3]); "
                + "one write per batch: growing file \(medians[4]), preallocated \(medians[5]))")
        print("raw(n) = the best of those in each round; ratios are taken against it within the round")
        print("prepare: next segment prepared on its own thread (segments started from such a file, median per run)")
        print("spin: a lone waiter polls instead of suspending (share of the waits its spin satisfied)")
        let floors = levels.map { "\($0): \(Int(Self.median(floorRounds[$0] ?? [])))/s" }
        print(
            "floor: the hand-off alone (tasks suspended and resumed as the journal's waiters are, no records, no I/O) "
                + "at each concurrency: " + floors.joined(separator: ", "))
        if let floor64 = floorRounds[64], !self.skipRaw {
            // Per round, then the median: each bound is a ratio within its round, as the table's ratios are.
            let twoGroups = zip(raw32, raw64).map { $0 / $1 }
            let oneGroup = zip(floor64, raw64).map { floor, raw in 1 / (1 / raw + 1 / floor) / raw }
            print(
                String(
                    format: "bound at 64 writers, each waiting for its own record: two groups of 32 taking turns "
                        + "<= raw(32) = %.0f/s = %.2fx raw(64); all 64 in each fdatasync <= 1/(1/raw(64) + 1/floor(64)) "
                        + "= %.2fx raw(64)",
                    Self.median(raw32), Self.median(twoGroups), Self.median(oneGroup)))
        }
        print(
            "policy    conc  prealloc  prepare  spin        appends/s   p50 ms   p99 ms   vs raw(1)  vs raw(64)  vs floor"
                + "  records/fdatasync  fdatasync µs")
        for (configuration, runs) in zip(configurations, samples) {
            let perSync = runs.compactMap(\.recordsPerSync)
            let syncMicros = runs.compactMap(\.syncMicros)
            let prepared = configuration.prepare ? "on (\(Int(Self.median(runs.map { Double($0.prepared) }))))" : "off"
            let spin = configuration.spin ? String(format: "on (%.0f%%)", Self.median(runs.map(\.spun)) * 100) : "off"
            print(
                String(
                    format: "%@ %5d %9d %@ %@ %11.0f %8.3f %8.3f %9.2fx %10.2fx %8.2fx %@ %@",
                    Self.padded(configuration.policy.rawValue, 8, left: true), configuration.level,
                    configuration.preallocate, Self.padded(prepared, 8, left: true), Self.padded(spin, 10, left: true),
                    Self.median(runs.map(\.rate)), Self.median(runs.map(\.p50)), Self.median(runs.map(\.p99)),
                    Self.median(runs.map { $0.rate / $0.raw1 }), Self.median(runs.map { $0.rate / $0.raw64 }),
                    Self.median(runs.map { $0.rate / $0.floor }),
                    Self.padded(perSync.isEmpty ? "-" : String(format: "%.1f", Self.median(perSync)), 18),
                    Self.padded(syncMicros.isEmpty ? "-" : String(format: "%.0f", Self.median(syncMicros)), 13)))
        }
    }

    /// `text` padded with spaces to `width` (on the right when `left`-aligned), as an argument for `%@`.
    static func padded(_ text: String, _ width: Int, left: Bool = false) -> NSString {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return (left ? text + fill : fill + text) as NSString
    }

    /// The `on`/`off` values of a comma-separated option, in order (anything else is skipped).
    static func onOff(_ list: String) -> [Bool] {
        list.split(separator: ",").compactMap { ["on": true, "off": false][String($0)] }
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// Appends for `seconds` from `concurrency` tasks, each waiting for durability before its next append.
    static func measure(_ journal: Journal, payload: [UInt8], concurrency: Int, seconds: Double) async throws
        -> (rate: Double, p50: Double, p99: Double)
    {
        let clock = ContinuousClock()
        let end = clock.now + .milliseconds(Int(seconds * 1000))
        let start = clock.now
        // Each task records into its own preallocated array, and the run's time is taken when the last task
        // finishes — before the latencies are merged and sorted, which is bookkeeping, not journal work.
        let perTask = Int(seconds * 1_000_000 / Double(max(1, concurrency))) + 1024
        var finished = clock.now
        let perTaskLatencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var own: [Double] = []
                    own.reserveCapacity(perTask)
                    // One clock read per append: the end of one append is the start of the next.
                    var began = clock.now
                    while began < end {
                        _ = try await journal.appendDurably(payload)
                        let now = clock.now
                        let elapsed = now - began
                        own.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
                        began = now
                    }
                    return own
                }
            }
            var all: [[Double]] = []
            for try await own in group {
                all.append(own)
                finished = clock.now
            }
            return all
        }
        let elapsed = finished - start
        let total = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let latencies = perTaskLatencies.flatMap { $0 }.sorted()
        guard !latencies.isEmpty else { return (0, 0, 0) }
        return (Double(latencies.count) / total, latencies[latencies.count / 2], latencies[latencies.count * 99 / 100])
    }

    /// Creates `directory/raw-preallocated.bin` filled with `bytes` zeros (written, then fsynced).
    static func zeroFilledFile(directory: String, bytes: Int) throws -> String {
        let path = (directory as NSString).appendingPathComponent("raw-preallocated.bin")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<(bytes / zeros.count) {
            let written = zeros.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == zeros.count else { throw POSIXError(.EIO) }
        }
        guard fsync(fd) == 0 else { throw POSIXError(.EIO) }
        return path
    }

    /// How the raw reference writes: into a new file that grows with every batch, or over the zero-filled file at
    /// `preallocated` in place (from its start, wrapping around at its end, so no fdatasync commits a new size); and
    /// one `write` per record, or the batch's records in one `write` (as the journal writes a batch).
    struct RawMethod {
        var preallocated: String?
        var oneWrite: Bool
    }

    /// The disk's own rate: write `batch` records then one `fdatasync`, for `seconds`, single-threaded.
    static func rawFdatasync(
        _ method: RawMethod, directory: String, payload: [UInt8], seconds: Double, batch: Int
    ) throws -> Double {
        let path = method.preallocated ?? (directory as NSString).appendingPathComponent("raw-\(batch).bin")
        let fd = method.preallocated == nil ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600) : open(path, O_WRONLY)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer {
            close(fd)
            if method.preallocated == nil { unlink(path) }
        }
        let chunk = method.oneWrite ? [UInt8]((0..<batch).flatMap { _ in payload }) : payload
        let writes = method.oneWrite ? 1 : batch
        let wrap = method.preallocated == nil ? off_t.max : off_t(Self.preallocatedRawBytes)
        var offset: off_t = 0
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .milliseconds(Int(seconds * 1000))
        var records = 0
        while clock.now < end {
            if offset + off_t(batch * payload.count) > wrap { offset = 0 }
            for _ in 0..<writes {
                let written = chunk.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, offset) }
                guard written == chunk.count else { throw POSIXError(.EIO) }
                offset += off_t(written)
            }
            guard fdatasync(fd) == 0 else { throw POSIXError(.EIO) }
            records += batch
        }
        let elapsed = clock.now - start
        return Double(records) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
