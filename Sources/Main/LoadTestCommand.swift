import ArgumentParser
import Foundation
import Net

#if canImport(Glibc)
import Glibc
#endif

/// `hygge loadtest`: drives the full checkout flow against a sandbox server (CONTRACT §7).
struct LoadTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest", abstract: "Drive the full checkout flow against a sandbox server.",
        discussion: """
            Each virtual buyer runs create-from-cart → get-plan → POST /sandbox/whop/pay (which delivers the signed \
            payment.succeeded webhook) → polls GET /api/checkout/{id} until order_synced. At the end every paid \
            checkout must have exactly one order in the Shopify emulator, and (with an admin token) the ledger totals \
            must match. Exit status 0 only if there were no errors and every check passed.
            --mode healthz|create-from-cart|get-plan|webhook hammers one endpoint instead (ratio benchmarks).
            With --json, stdout holds one JSON object and the human report goes to stderr.
            """)

    @Option(help: "Server URL (ignored with --spawn).") var url = "http://127.0.0.1:8080"
    @Flag(help: "Start `hygge serve --sandbox` on a free port with a temporary data directory, stop it with SIGTERM at the end.")
    var spawn = false
    @Option(help: "flow | healthz | create-from-cart | get-plan | webhook.") var mode: String = "flow"
    @Option(help: "Merchants: the demo merchant plus M-1 seeded load merchants.") var merchants = 1
    @Option(help: "Checkouts (or requests) in total; default 200, or unlimited with --duration.") var checkouts: Int?
    @Option(help: "Concurrent virtual buyers.") var concurrency = 16
    @Option(help: "Stop starting new flows after this long, e.g. 30s.") var duration: String?
    @Option(help: "Start at most R flows (or requests) per second, evenly spaced.") var rate: Double?
    @Option(help: "Unrecorded warm-up first, e.g. 5s.") var warmup: String?
    @Option(help: "Emulated Shopify latency, e.g. 80ms.") var shopifyLatency: String?
    @Option(help: "Emulated Whop latency, e.g. 120ms.") var whopLatency: String?
    @Option(help: "Admin token for the ledger check (HYGGE_ADMIN_TOKEN); --spawn makes its own.") var adminToken: String?
    @Option(help: "Write a self-contained HTML report here.") var report: String?
    @Flag(help: "Print the result as one JSON object on stdout.") var json = false
    @Option(help: "Log level of the spawned server (LOG_LEVEL).") var serverLogLevel: String?
    @Flag(help: "Keep the spawned server's data directory and log.") var keep = false

    func run() async throws {
        guard let mode = LoadTestOptions.Mode(rawValue: self.mode) else {
            throw ValidationError("--mode must be one of \(LoadTestOptions.Mode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard self.concurrency >= 1, self.merchants >= 1 else { throw ValidationError("--concurrency and --merchants must be ≥ 1") }
        func duration(_ text: String?, _ name: String) throws -> Duration? {
            guard let text else { return nil }
            guard let value = Setting.duration(text) else { throw ValidationError("\(name): durations look like 500ms, 30s or 5m") }
            return value
        }
        let stderrIsTTY = isatty(STDERR_FILENO) == 1
        let errorLog: @Sendable (String) -> Void = { line in
            FileHandle.standardError.write(Data((line.hasPrefix("\u{1B}") ? line : line + "\n").utf8))
        }

        var server: SpawnedServer?
        var options = LoadTestOptions(url: self.url)
        options.mode = mode
        options.merchants = self.merchants
        options.concurrency = self.concurrency
        options.duration = try duration(self.duration, "--duration")
        options.rate = self.rate
        options.warmup = try duration(self.warmup, "--warmup")
        options.checkouts = self.checkouts ?? (options.duration == nil ? 200 : nil)
        options.shopifyLatency = try duration(self.shopifyLatency, "--shopify-latency")
        options.whopLatency = try duration(self.whopLatency, "--whop-latency")
        options.adminToken = Setting.string(self.adminToken, "HYGGE_ADMIN_TOKEN")
        options.progress = stderrIsTTY ? .bar : .plain
        if self.spawn {
            let spawned = try SpawnedServer.start(logLevel: self.serverLogLevel)
            errorLog("spawned hygge serve --sandbox at \(spawned.url) (pid \(spawned.pid), data \(spawned.dataDir))")
            options = Self.retarget(options, url: spawned.url, adminToken: spawned.adminToken)
            server = spawned
        }
        let runner = LoadTestRunner(options: options, log: errorLog)
        var result: LoadTestResult
        do {
            result = try await runner.run()
        } catch {
            await runner.shutdown()
            if let server { _ = server.stop(keep: true) }
            errorLog("loadtest failed: \(error)" + (server.map { " (server log: \($0.logPath))" } ?? ""))
            throw ExitCode(2)
        }
        await runner.shutdown()
        if let server {
            let stop = server.stop(keep: self.keep)
            var info = LoadTestResult.Server(spawned: true)
            info.exit_status = stop.status
            info.stop_seconds = stop.seconds
            info.log = stop.status == 0 && !self.keep ? nil : server.logPath
            result.server = info
        }
        if let path = self.report {
            try Data(result.html.utf8).write(to: URL(fileURLWithPath: path))
            errorLog("report written to \(path)")
        }
        if self.json {
            print(try result.json())
            errorLog(result.text)
        } else {
            print(result.text)
        }
        if !result.passed { throw ExitCode(1) }
    }

    static func retarget(_ options: LoadTestOptions, url: String, adminToken: String) -> LoadTestOptions {
        var copy = options
        copy.url = url
        copy.adminToken = adminToken
        return copy
    }
}

/// `hygge serve --sandbox` started by `loadtest --spawn`: this same binary, a free port, a temporary data directory.
struct SpawnedServer {
    let process: Process
    let url: String
    let dataDir: String
    let logPath: String
    let adminToken: String
    var pid: Int32 { self.process.processIdentifier }

    static func start(logLevel: String?) throws -> SpawnedServer {
        let port = try LoopbackPort.free()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("hygge-loadtest-\(UUID().uuidString)").path
        let dataDir = base + "/data"
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let logPath = base + "/server.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let token = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executablePath())
        process.arguments = ["serve", "--sandbox", "--host", "127.0.0.1", "--port", "\(port)", "--data-dir", dataDir]
        var environment = ProcessInfo.processInfo.environment
        environment["HYGGE_ADMIN_TOKEN"] = token
        environment["HYGGE_PUBLIC_URL"] = nil
        if let logLevel { environment["LOG_LEVEL"] = logLevel }
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return SpawnedServer(process: process, url: "http://127.0.0.1:\(port)", dataDir: dataDir, logPath: logPath, adminToken: token)
    }

    /// SIGTERM, then wait (SIGKILL after 60 s); removes the temporary directory unless `keep` or a failure.
    func stop(keep: Bool) -> (status: Int32, seconds: Double) {
        let clock = ContinuousClock()
        let start = clock.now
        if self.process.isRunning { kill(self.process.processIdentifier, SIGTERM) }
        let deadline = start + .seconds(60)
        while self.process.isRunning && clock.now < deadline { usleep(20_000) }
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
        }
        let elapsed = clock.now - start
        let status = self.process.terminationReason == .exit ? self.process.terminationStatus : 128 + self.process.terminationStatus
        if !keep && status == 0 {
            try? FileManager.default.removeItem(atPath: (self.dataDir as NSString).deletingLastPathComponent)
        }
        return (status, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// This binary: /proc/self/exe, else argv[0].
    static func executablePath() -> String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return resolved }
        return CommandLine.arguments[0]
    }
}
