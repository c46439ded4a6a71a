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

    func run() async throws {
        let root = self.dir ?? FileManager.default.temporaryDirectory.appendingPathComponent("hygge-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { if self.dir == nil { try? FileManager.default.removeItem(atPath: root) } }
        let payload = [UInt8](repeating: 0x61, count: self.bytes)
        let raw = try Self.rawFdatasync(directory: root, payload: payload, seconds: self.seconds, batch: 1)
        let raw64 = try Self.rawFdatasync(directory: root, payload: payload, seconds: self.seconds, batch: 64)
        print("raw write+fdatasync, 1 record per sync:   \(Int(raw)) records/s")
        print("raw write+fdatasync, 64 records per sync: \(Int(raw64)) records/s")
        print("policy    conc   appends/s   p50 ms   p99 ms   vs raw(1)  vs raw(64)")
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        for policyName in self.policies.split(separator: ",") {
            guard let policy = FsyncPolicy(rawValue: String(policyName)) else { continue }
            for level in self.concurrency.split(separator: ",").compactMap({ Int($0) }) {
                let directory = (root as NSString).appendingPathComponent("\(policyName)-\(level)")
                let journal = try Journal(directory: directory, fsync: policy, logger: logger) { _ in }
                let (rate, p50, p99) = try await Self.measure(journal, payload: payload, concurrency: level, seconds: self.seconds)
                await journal.close()
                try? FileManager.default.removeItem(atPath: directory)
                print(
                    String(
                        format: "%-8@ %5d %11.0f %8.3f %8.3f %9.2fx %10.2fx", policyName.description as NSString, level, rate,
                        p50, p99, rate / raw, rate / raw64))
            }
        }
    }

    /// Appends for `seconds` from `concurrency` tasks, each waiting for durability before its next append.
    static func measure(_ journal: Journal, payload: [UInt8], concurrency: Int, seconds: Double) async throws
        -> (rate: Double, p50: Double, p99: Double)
    {
        let clock = ContinuousClock()
        let end = clock.now + .milliseconds(Int(seconds * 1000))
        let start = clock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var own: [Double] = []
                    while clock.now < end {
                        let began = clock.now
                        _ = try await journal.appendDurably(payload)
                        let elapsed = clock.now - began
                        own.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
                    }
                    return own
                }
            }
            return try await group.reduce(into: [Double]()) { $0.append(contentsOf: $1) }.sorted()
        }
        let elapsed = clock.now - start
        let total = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        guard !latencies.isEmpty else { return (0, 0, 0) }
        return (Double(latencies.count) / total, latencies[latencies.count / 2], latencies[latencies.count * 99 / 100])
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
