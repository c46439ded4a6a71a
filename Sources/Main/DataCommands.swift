import Actors
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Persistence

/// `hygge journal verify|dump [--repair]`.
struct JournalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal", abstract: "Check or print the write-ahead journal (offline).",
        subcommands: [Verify.self, Dump.self, JournalBench.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every record and decode its payload. Exit 0 clean, 1 torn tail (repairable), 2 corruption.")
        @Option(help: "Data directory (HYGGE_DATA_DIR).") var dataDir: String?
        @Flag(help: "Truncate a torn tail (never anything else).") var repair = false

        func run() throws {
            let dir = Setting.string(self.dataDir, "HYGGE_DATA_DIR", "./snapshots")!
            var report = try JournalInspector.verify(directory: dir)
            if self.repair, case .tornTail = report.verdict {
                report = try JournalInspector.repair(directory: dir)
                print("repaired: torn tail truncated")
            }
            print(JournalCommand.describe(report))
            if case .corrupt = report.verdict { throw ExitCode(2) }
            let payloads = try JournalPayloadCheck.run(directory: dir)
            print("payloads: \(payloads.binary) binary (format 2), \(payloads.json) JSON (format 1), \(payloads.undecodable) undecodable")
            if let failure = payloads.firstFailure {
                print("journal CORRUPT: record \(failure.lsn) does not decode: \(failure.reason)")
                throw ExitCode(2)
            }
            if case .tornTail = report.verdict { throw ExitCode(1) }
        }
    }

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One JSON line per record, payloads of either format decoded (secrets appear only sealed).")
        @Option(help: "Data directory (HYGGE_DATA_DIR).") var dataDir: String?
        @Flag(help: "Truncate a torn tail first.") var repair = false

        func run() throws {
            let dir = Setting.string(self.dataDir, "HYGGE_DATA_DIR", "./snapshots")!
            if self.repair { _ = try JournalInspector.repair(directory: dir) }
            var undecodable = 0
            try JournalInspector.forEachRecord(directory: dir) { record in
                let line = JournalPayloadCheck.dumpLine(record)
                if !line.decoded { undecodable += 1 }
                print(line.text)
            }
            if undecodable > 0 { throw ExitCode(2) }
        }
    }

    static func describe(_ report: JournalInspector.Report) -> String {
        let range = report.firstLSN.map { "\($0)…\(report.lastLSN ?? $0)" } ?? "empty"
        switch report.verdict {
        case .clean:
            return "journal clean: \(report.segments) segments, \(report.records) records, LSN \(range)"
        case .tornTail(let segment, let offset):
            return "journal torn tail in \(segment) at offset \(offset) (\(report.records) good records, LSN \(range)); run `hygge journal verify --repair`"
        case .corrupt(let segment, let offset, let reason):
            return "journal CORRUPT in \(segment) at offset \(offset): \(reason)"
        }
    }
}

/// `hygge snapshot create|verify|inspect`.
struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot", abstract: "Take, check or describe snapshots.",
        subcommands: [Create.self, Verify.self, Inspect.self, SnapshotBench.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask a running server to snapshot now.")
        @Option(help: "Server URL.") var url = "http://127.0.0.1:8080"
        @Option(help: "Admin token (HYGGE_ADMIN_TOKEN).") var adminToken: String?

        func run() async throws {
            guard let token = Setting.string(self.adminToken, "HYGGE_ADMIN_TOKEN") else {
                throw ConfigurationError("an admin token is required (--admin-token or HYGGE_ADMIN_TOKEN)")
            }
            var request = HTTPClientRequest(url: self.url + "/admin/snapshot")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
            let body = try await response.body.collect(upTo: 1 << 20)
            print(String(buffer: body))
            if response.status.code != 200 { throw ExitCode(1) }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate every snapshot file (exit 2 if any is bad).")
        @Option(help: "Data directory (HYGGE_DATA_DIR).") var dataDir: String?

        func run() throws {
            let dir = Setting.string(self.dataDir, "HYGGE_DATA_DIR", "./snapshots")!
            var bad = 0
            for info in try SnapshotStore.list(directory: dir) {
                do {
                    let (lsn, snapshot) = try RegistrySnapshot.load(path: info.path)
                    print("ok   \(info.path) lsn=\(lsn) bytes=\(info.bytes) merchants=\(snapshot.merchants.count)")
                } catch {
                    bad += 1
                    print("BAD  \(info.path): \(error)")
                }
            }
            if bad > 0 { throw ExitCode(2) }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Summarise the newest valid snapshot as JSON.")
        @Option(help: "Data directory (HYGGE_DATA_DIR).") var dataDir: String?

        func run() throws {
            let dir = Setting.string(self.dataDir, "HYGGE_DATA_DIR", "./snapshots")!
            var timings = SnapshotReadTimings()
            guard let loaded = try RegistrySnapshot.loadNewestValid(directory: dir, logger: Logger(label: "hygge"), timings: &timings) else {
                print("no valid snapshot in \(dir)")
                throw ExitCode(1)
            }
            let snapshot = loaded.snapshot
            var merchants: [[String: Any]] = []
            for state in snapshot.merchants {
                merchants.append([
                    "shop": state.id.rawValue, "applied_lsn": state.appliedLSN, "installed": state.installed,
                    "checkouts": state.checkouts.count, "live": state.live.count,
                    "pending_orders": state.pendingOrders.count, "ledger_rows": state.ledger.count,
                    "secrets": ["shopify_token": state.shopifyToken != nil, "whop_key": state.whopKey != nil,
                                "webhook_secret": state.webhookSecret != nil],
                ])
            }
            let summary: [String: Any] = [
                "file": loaded.info.path, "lsn": snapshot.lsn, "bytes": loaded.info.bytes,
                "body_bytes": timings.inflatedBytes, "parts": timings.parts, "format_version": snapshot.v, "merchants": merchants,
            ]
            let data = try JSONSerialization.data(withJSONObject: summary, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}

/// `hygge keys rotate-master --new-key K`: offline on a data directory, or online (`--url`) via the admin API.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Key management.", subcommands: [RotateMaster.self])

    struct RotateMaster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-master",
            abstract: "Re-wrap every merchant data key under a new master key.",
            discussion: """
                Offline (default): the server must be stopped; reads --data-dir with the current --master-key. It also \
                finishes a rotation that was interrupted halfway (data keys already under the new key are kept).
                Online: with --url, asks the running server (POST /admin/keys/rotate-master, bearer admin token) to \
                re-wrap every data key while it keeps serving; restart it with the new HYGGE_MASTER_KEY afterwards.
                """)
        @Option(help: "Data directory (HYGGE_DATA_DIR), offline.") var dataDir: String?
        @Option(help: "Current master key (HYGGE_MASTER_KEY), offline.") var masterKey: String?
        @Option(help: "New master key, base64 of 32 bytes (HYGGE_NEW_MASTER_KEY).") var newKey: String?
        @Option(help: "URL of a running server: rotate online through its admin API.") var url: String?
        @Option(help: "Admin token (HYGGE_ADMIN_TOKEN), online.") var adminToken: String?

        func run() async throws {
            guard let newText = Setting.string(self.newKey, "HYGGE_NEW_MASTER_KEY") else {
                throw ConfigurationError("the new master key is required (--new-key or HYGGE_NEW_MASTER_KEY)")
            }
            let new = try MasterKey(base64: newText)
            if let url = self.url {
                try await Self.online(url: url, token: Setting.string(self.adminToken, "HYGGE_ADMIN_TOKEN"), new: new)
            } else {
                try await self.offline(new: new)
            }
        }

        static func online(url: String, token: String?, new: MasterKey) async throws {
            guard let token else {
                throw ConfigurationError("an admin token is required (--admin-token or HYGGE_ADMIN_TOKEN)")
            }
            var base = url
            while base.hasSuffix("/") { base.removeLast() }
            var request = HTTPClientRequest(url: base + "/admin/keys/rotate-master")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "application/json")
            let body = try JSONSerialization.data(withJSONObject: ["new_key": new.base64])
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(600))
            let answer = try await response.body.collect(upTo: 1 << 20)
            print(String(buffer: answer))
            guard response.status.code == 200 else { throw ExitCode(1) }
            print("rotated online; restart the server with the new HYGGE_MASTER_KEY")
        }

        func offline(new: MasterKey) async throws {
            let dir = Setting.string(self.dataDir, "HYGGE_DATA_DIR", "./snapshots")!
            let logger = Logger(label: "hygge")
            let sandboxKeyPath = (dir as NSString).appendingPathComponent("sandbox-master.key")
            guard let oldText = Setting.string(self.masterKey, "HYGGE_MASTER_KEY")
                ?? (try? String(contentsOfFile: sandboxKeyPath, encoding: .utf8))
            else { throw ConfigurationError("the current master key is required (--master-key or HYGGE_MASTER_KEY)") }
            let old = try MasterKey(base64: oldText)
            let restored = try Restore.run(store: StoreConfiguration(dataDirectory: dir), logger: logger)
            var states = restored.states
            var rewrapped = 0
            for (id, state) in states.sorted(by: { $0.key < $1.key }) {
                // Already under the new key: an online rotation got this far before it was interrupted.
                if (try? Vault.unwrap(state.dataKey, for: id, master: new)) != nil { continue }
                guard let dataKey = try? Vault.unwrap(state.dataKey, for: id, master: old) else {
                    throw ConfigurationError("the current master key does not open the data key of \(id)")
                }
                let event = MerchantEvent.dataKeyRewrapped(dataKey: try Vault.wrap(dataKey, for: id, master: new))
                let lsn = try restored.journal.append(JournalEntry(merchant: id, event: event).encoded())
                states[id]?.apply(event)
                states[id]?.appliedLSN = lsn
                rewrapped += 1
            }
            let floor = restored.journal.lastAssignedLSN
            try await restored.journal.waitDurable(floor)
            await restored.journal.close()
            let parts = try RegistrySnapshot(lsn: floor, merchants: states.values.sorted { $0.id < $1.id }).encodedParts()
            _ = try SnapshotStore.write(directory: dir, lsn: floor, parts: parts)
            _ = try SnapshotStore.write(directory: dir, lsn: floor, parts: parts)
            if FileManager.default.fileExists(atPath: sandboxKeyPath) {
                try Data(new.base64.utf8).write(to: URL(fileURLWithPath: sandboxKeyPath))
            }
            print(
                "re-wrapped \(rewrapped) of \(states.count) data keys; snapshot at LSN \(floor); "
                    + "start the server with the new HYGGE_MASTER_KEY")
        }
    }
}
