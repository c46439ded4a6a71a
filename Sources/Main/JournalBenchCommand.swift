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
        let configurations: [(policy: FsyncPolicy, level: Int, preallocate: Int)] = self.policies.split(separator: ",")
            .flatMap { name in
                FsyncPolicy(rawValue: String(name)).map { policy in
                    self.concurrency.split(separator: ",").compactMap { Int($0) }.flatMap { level in
                        steps.map { (policy, level, $0) }
                    }
                } ?? []
            }
        var raw1: [Double] = []
        var raw64: [Double] = []
        var rawGrow1: [Double] = []
        var rawGrow64: [Double] = []
        var rawPre1: [Double] = []
        var rawPre64: [Double] = []
        let preallocated = try Self.zeroFilledFile(directory: root, bytes: Self.preallocatedRawBytes)
        defer { unlink(preallocated) }
        var samples = [[Sample]](repeating: [], count: configurations.count)
        for round in 1...max(1, self.rounds) {
            FileHandle.standardError.write(Data("round \(round)/\(max(1, self.rounds))\n".utf8))
            let raw = { (batch: Int, preallocated: String?) throws -> Double in
                guard !self.skipRaw else { return 0 }
                if let preallocated {
                    return try Self.rawFdatasync(
                        preallocated: preallocated, payload: payload, seconds: self.seconds, batch: batch)
                }
                return try Self.rawFdatasync(directory: root, payload: payload, seconds: self.seconds, batch: batch)
            }
            let g1 = try raw(1, nil)
            let p1 = try raw(1, preallocated)
            let g64 = try raw(64, nil)
            let p64 = try raw(64, preallocated)
            // The disk's rate is the better of the two ways of writing (the journal preallocates).
            let r1 = max(g1, p1)
            let r64 = max(g64, p64)
            rawGrow1.append(g1)
            rawGrow64.append(g64)
            rawPre1.append(p1)
            rawPre64.append(p64)
            raw1.append(r1)
            raw64.append(r64)
            for (index, configuration) in configurations.enumerated() {
                let directory = (root as NSString).appendingPathComponent(
                    "\(configuration.policy.rawValue)-\(configuration.level)-\(configuration.preallocate)")
                let journal = try Journal(
                    directory: directory, fsync: configuration.policy, preallocateBytes: configuration.preallocate,
                    logger: logger
                ) { _ in }
                let syncsBefore = journal.fsyncCount
                let (rate, p50, p99) = try await Self.measure(
                    journal, payload: payload, concurrency: configuration.level, seconds: self.seconds)
                let syncs = journal.fsyncCount - syncsBefore
                await journal.close()
                try? FileManager.default.removeItem(atPath: directory)
                samples[index].append(
                    Sample(
                        rate: rate, p50: p50, p99: p99,
                        recordsPerSync: configuration.policy == .always && syncs > 0
                            ? rate * self.seconds / Double(syncs) : nil, raw1: r1, raw64: r64))
            }
        }
        print("rounds: \(raw1.count), \(self.seconds) s per measurement, \(self.bytes)-byte records; medians over the rounds")
        print(
            "raw write+fdatasync, 1 record per sync:   \(Int(Self.median(raw1))) records/s "
                + "(growing file \(Int(Self.median(rawGrow1))), preallocated \(Int(Self.median(rawPre1))))")
        print(
            "raw write+fdatasync, 64 records per sync: \(Int(Self.median(raw64))) records/s "
                + "(growing file \(Int(Self.median(rawGrow64))), preallocated \(Int(Self.median(rawPre64))))")
        print("raw(n) = the better of the two in each round; ratios are taken against it within the round")
        print("policy    conc  prealloc   appends/s   p50 ms   p99 ms   vs raw(1)  vs raw(64)  records/fdatasync")
        for (configuration, runs) in zip(configurations, samples) {
            let perSync = runs.compactMap(\.recordsPerSync)
            print(
                String(
                    format: "%-8@ %5d %9d %11.0f %8.3f %8.3f %9.2fx %10.2fx %18@",
                    configuration.policy.rawValue as NSString, configuration.level, configuration.preallocate,
                    Self.median(runs.map(\.rate)), Self.median(runs.map(\.p50)),
                    Self.median(runs.map(\.p99)), Self.median(runs.map { $0.rate / $0.raw1 }),
                    Self.median(runs.map { $0.rate / $0.raw64 }),
                    (perSync.isEmpty ? "-" : String(format: "%.1f", Self.median(perSync))) as NSString))
        }
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

    /// The disk's rate without size changes: like `rawFdatasync(directory:…)`, but overwriting the
    /// zero-filled file at `preallocated` in place (from its start, wrapping around at its end), so
    /// no fdatasync has to commit a new file size.
    static func rawFdatasync(preallocated: String, payload: [UInt8], seconds: Double, batch: Int) throws -> Double {
        let fd = open(preallocated, O_WRONLY)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        let size = off_t(Self.preallocatedRawBytes)
        var offset: off_t = 0
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .milliseconds(Int(seconds * 1000))
        var records = 0
        while clock.now < end {
            if offset + off_t(batch * payload.count) > size { offset = 0 }
            for _ in 0..<batch {
                let written = payload.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, offset) }
                guard written == payload.count else { throw POSIXError(.EIO) }
                offset += off_t(written)
            }
            guard fdatasync(fd) == 0 else { throw POSIXError(.EIO) }
            records += batch
        }
        let elapsed = clock.now - start
        return Double(records) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// The disk's own rate: write `batch` records then one `fdatasync`, for `seconds`, single-threaded.
    static func rawFdatasync(directory: String, payload: [UInt8], seconds: Double, batch: Int) throws -> Double {
        let path = (directory as NSString).appendingPathComponent("raw-\(batch).bin")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer {
            close(fd)
            unlink(path)
        }
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .milliseconds(Int(seconds * 1000))
        var records = 0
        while clock.now < end {
            for _ in 0..<batch {
                let written = payload.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                guard written == payload.count else { throw POSIXError(.EIO) }
            }
            guard fdatasync(fd) == 0 else { throw POSIXError(.EIO) }
            records += batch
        }
        let elapsed = clock.now - start
        return Double(records) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
