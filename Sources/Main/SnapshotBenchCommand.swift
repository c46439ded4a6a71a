import Actors
import ArgumentParser
import Foundation
import Logging
import Persistence

/// `hygge snapshot bench`: snapshot write time and size, and restore time, for a generated registry (issue 10).
struct SnapshotBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark snapshot write and restore on generated merchants (writes into a temporary directory).",
        discussion: """
            Builds the state through the production event path (MerchantEvent → MerchantState.apply, sealed secrets per \
            merchant), writes it with SnapshotStore, restores it with Restore.run from the snapshot alone and from the \
            snapshot plus a journal tail, and checks the restored state equals the original. Exit 1 if it does not.
            """)

    @Option(help: "Merchants.") var merchants = 10_000
    @Option(help: "Checkouts in total (spread evenly over the merchants).") var checkouts = 1_000_000
    @Option(help: "Journal records after the snapshot for the second restore.") var tailRecords = 100_000
    @Option(help: "Directory to benchmark in (default: a new temporary directory, removed afterwards).") var dir: String?
    @Option(help: "Snapshot body format: binary (current) or json (format 1, for comparison).") var bodyFormat = "binary"
    @Option(help: "zlib level of the snapshot file (0-9, -1 = zlib's default 6; the server writes \(SnapshotStore.compressionLevel)).") var zlibLevel: Int32 = SnapshotStore.compressionLevel
    @Option(help: "Snapshot file version: 2 (parallel parts, what the server writes) or 1 (one zlib stream).") var fileVersion = 2
    @Option(help: "Journal payload format of the tail: binary (format 2, current) or json (format 1, for comparison).")
    var payloadFormat = "binary"
    @Option(help: "Seed of the generator.") var seed: UInt64 = 42
    @Flag(help: "Build the state through journal payloads (JournalEntry payloads + Restorer) instead of apply; slower.")
    var throughJournalCodec = false
    @Flag(help: "Print one JSON object instead of the table.") var json = false
    @Option(
        help: """
            Only restore this data directory (for example the snapshot-only directory a --dir run left), in this fresh \
            process, and print the restore's phases: the start-up of a restarted server without the benchmark's own heap.
            """)
    var restoreOnly: String?
    @Option(
        help: """
            Cores the snapshot's encoding and compression may use (0: every core, as the final snapshot at shutdown; \
            1: as a snapshot taken while serving, which the server also runs at nice 10; this command does not renice).
            """)
    var snapshotCores = 0

    func run() async throws {
        if let directory = self.restoreOnly {
            let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
            let result = try await SnapshotBenchmark.restoreOnly(directory: directory, logger: logger)
            if self.json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            } else {
                print(Self.table(result))
            }
            return
        }
        guard let format = RegistrySnapshot.BodyFormat(rawValue: self.bodyFormat) else {
            throw ValidationError("--body-format must be binary or json")
        }
        let root = self.dir ?? FileManager.default.temporaryDirectory.appendingPathComponent("hygge-snapbench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { if self.dir == nil { try? FileManager.default.removeItem(atPath: root) } }
        guard let payloadFormat = JournalEntry.Format.allCases.first(where: { $0.name == self.payloadFormat }) else {
            throw ValidationError("--payload-format must be binary or json")
        }
        var options = SnapshotBenchmark.Options()
        options.payloadFormat = payloadFormat
        options.merchants = self.merchants
        options.checkouts = self.checkouts
        options.tailRecords = self.tailRecords
        options.seed = self.seed
        options.throughJournalCodec = self.throughJournalCodec
        options.bodyFormat = format
        options.zlibLevel = self.zlibLevel
        guard self.fileVersion == 1 || self.fileVersion == 2 else { throw ValidationError("--file-version must be 1 or 2") }
        options.fileVersion = self.fileVersion
        guard self.snapshotCores >= 0 else { throw ValidationError("--snapshot-cores must be 0 (every core) or more") }
        options.snapshotCores = self.snapshotCores == 0 ? .max : self.snapshotCores
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let result = try await SnapshotBenchmark.run(options, directory: root, logger: logger)
        if self.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(Self.table(result))
        }
        if !result.verified || !result.verifiedWithTail { throw ExitCode(1) }
    }

    static func ms(_ seconds: Double) -> String { String(format: "%9.1f ms", seconds * 1000) }
    static func mib(_ bytes: Int) -> String { String(format: "%9.1f MiB", Double(bytes) / 1_048_576) }

    static func aligned(_ lines: [(String, String)]) -> String {
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    static func table(_ r: SnapshotBenchmark.RestoreOnlyResult) -> String {
        let p = r.phases
        let summed = p.summedOverThreads ? " (thread-s, \(p.parts) parts)" : ""
        return Self.aligned([
            ("restored", "\(r.merchants) merchants, \(r.checkouts) checkouts, \(r.replayed) journal records replayed"),
            ("RESTORE (Restore.run, fresh process)", ms(r.restoreSeconds) + " wall," + ms(r.restoreCPUSeconds) + " CPU"),
            ("  snapshot (find, read, check, inflate, decode)", ms(p.snapshotSeconds) + " wall"),
            ("  read file", ms(p.readSeconds)),
            ("  CRC32C" + summed, ms(p.checksumSeconds)),
            ("  inflate" + summed, ms(p.inflateSeconds)),
            ("  decode + invariants" + summed, ms(p.decodeSeconds)),
            ("  journal scan + replay", ms(p.journalSeconds)),
            ("then registry (actors + directory)", ms(r.registrySeconds)),
            ("restore + registry (start-up before /readyz)", ms(r.restoreSeconds + r.registrySeconds)),
            ("peak RSS (restore and registry)", mib(r.peakRSSBytes)),
            ("in-memory checkout stride", "\(r.checkoutStride) B"),
        ])
    }

    static func table(_ r: SnapshotBenchmark.Result) -> String {
        let p = r.restorePhases
        let t = r.restoreWithTailPhases
        let summed = p.summedOverThreads ? " (thread-s, \(p.parts) parts)" : ""
        let lines: [(String, String)] = [
            ("state", "\(r.merchants) merchants, \(r.checkouts) checkouts (\(r.paidCheckouts) paid, \(r.pendingOrders) pending orders, \(r.ledgerRows) ledger rows)"),
            ("build (\(r.buildEvents) events)", ms(r.buildSeconds)),
            ("snapshot body format, zlib level", "\(r.bodyFormat), \(r.zlibLevel)"),
            ("snapshot file version, parts, cores", "\(r.fileVersion), \(r.snapshotParts), \(r.snapshotCores)"),
            ("snapshot encode", ms(r.snapshotEncodeSeconds)),
            ("snapshot write (zlib+CRC+fsync)", ms(r.snapshotWriteSeconds)),
            ("snapshot size compressed", mib(r.snapshotCompressedBytes) + " (\(r.snapshotCompressedBytes) B)"),
            ("snapshot size uncompressed", mib(r.snapshotUncompressedBytes) + " (\(r.snapshotUncompressedBytes) B)"),
            ("snapshot merchant records", "\(r.snapshotRecords)"),
            ("RESTORE snapshot only (Restore.run)", ms(r.restoreSeconds) + " wall," + ms(r.restoreCPUSeconds) + " CPU"),
            ("  snapshot (find, read, check, inflate, decode)", ms(p.snapshotSeconds) + " wall"),
            ("  read file", ms(p.readSeconds)),
            ("  CRC32C" + summed, ms(p.checksumSeconds)),
            ("  inflate" + summed, ms(p.inflateSeconds)),
            ("  decode + invariants" + summed, ms(p.decodeSeconds)),
            ("  journal open", ms(p.journalSeconds)),
            ("then vault check (all data keys)", ms(r.vaultCheckSeconds)),
            ("then registry (actors + directory)", ms(r.registrySeconds)),
            ("journal tail written", "\(r.tailRecords) records in" + ms(r.tailWriteSeconds)),
            ("journal tail payload format, size", "\(r.payloadFormat), " + mib(r.tailJournalBytes) + " (\(r.tailJournalBytes) B)"),
            ("RESTORE snapshot + tail (Restore.run)", ms(r.restoreWithTailSeconds) + " wall," + ms(r.restoreWithTailCPUSeconds) + " CPU"),
            ("  snapshot (read+CRC+inflate+decode)", ms(t.snapshotSeconds) + " wall"),
            ("  journal scan + replay", ms(t.journalSeconds) + String(format: " (%.0f records/s)", r.replayRecordsPerSecond)),
            ("peak RSS (whole run)", mib(r.peakRSSBytes)),
            ("peak RSS (during restore)", mib(r.peakRSSRestoreBytes)),
            ("restored == original", r.verified ? "yes" : "NO"),
            ("restored+tail == original+tail", r.verifiedWithTail ? "yes" : "NO"),
        ]
        return Self.aligned(lines)
    }
}
