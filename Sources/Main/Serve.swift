import Actors
import ArgumentParser
import Foundation
import Logging
import Metrics
import Net
import Persistence
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `hygge serve`: runs the service (and, in sandbox mode, the embedded emulators and demo merchant).
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the Hygge service.")

    @Flag(help: "Mount the Shopify/Whop emulators and seed a demo merchant (default when SHOPIFY_API_KEY is unset).")
    var sandbox = false
    @Option(help: "Listen host (HYGGE_HOST).") var host: String?
    @Option(help: "Listen port (HYGGE_PORT).") var port: Int?
    @Option(help: "Public URL (HYGGE_PUBLIC_URL).") var publicURL: String?
    @Option(help: "Data directory (HYGGE_DATA_DIR).") var dataDir: String?
    @Option(help: "always | everysec | no (HYGGE_FSYNC).") var fsync: String?
    @Option(help: "Snapshot interval, e.g. 60s (HYGGE_SNAPSHOT_INTERVAL).") var snapshotInterval: String?
    @Option(help: "Snapshot after this many records (HYGGE_SNAPSHOT_RECORDS).") var snapshotRecords: UInt64?
    @Option(help: "Checkout lifetime, e.g. 30m (HYGGE_CHECKOUT_TTL).") var checkoutTTL: String?
    @Option(help: "Base64 of 32 bytes (HYGGE_MASTER_KEY).") var masterKey: String?
    @Option(help: "Shopify app API key (SHOPIFY_API_KEY).") var shopifyAPIKey: String?
    @Option(help: "Shopify app secret (SHOPIFY_API_SECRET).") var shopifyAPISecret: String?
    @Option(help: "OAuth scopes (SHOPIFY_SCOPES).") var shopifyScopes: String?
    @Option(help: "Admin REST version (HYGGE_SHOPIFY_API_VERSION).") var shopifyAPIVersion: String?
    @Option(help: "Shopify base URL template with {shop} (HYGGE_SHOPIFY_BASE_URL).") var shopifyBaseURL: String?
    @Option(help: "Whop API base (HYGGE_WHOP_API_BASE).") var whopAPIBase: String?
    @Option(help: "Api-Version-Date for Whop (HYGGE_WHOP_API_VERSION).") var whopAPIVersion: String?
    @Option(help: "Timeout of one Shopify Admin call, e.g. 10s (HYGGE_SHOPIFY_TIMEOUT).") var shopifyTimeout: String?
    @Option(help: "Timeout of one Whop API call, e.g. 4s (HYGGE_WHOP_TIMEOUT).") var whopTimeout: String?
    @Option(help: "whop_plan_id=monthly_limit,… (HYGGE_TIERS).") var tiers: String?
    @Option(help: "Bearer token for /admin/* (HYGGE_ADMIN_TOKEN).") var adminToken: String?
    @Option(help: "Secret of Hygge's own SaaS subscription webhooks (WHOP_WEBHOOK_SECRET_HYGGE).")
    var whopWebhookSecretHygge: String?
    @Option(help: "Free monthly transactions (HYGGE_FREE_MONTHLY_LIMIT).") var freeMonthlyLimit: Int?
    @Option(help: "Log level (LOG_LEVEL).") var logLevel: String?

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        let sandbox = self.sandbox || (Setting.string(self.shopifyAPIKey, "SHOPIFY_API_KEY") == nil)
        let host = Setting.string(self.host, "HYGGE_HOST", "127.0.0.1")!
        let port = self.port ?? env["HYGGE_PORT"].flatMap(Int.init) ?? 8080
        let publicURL = Setting.string(self.publicURL, "HYGGE_PUBLIC_URL", "http://\(host):\(port)")!
        let dataDir = Setting.string(self.dataDir, "HYGGE_DATA_DIR", "./snapshots")!
        guard let fsync = FsyncPolicy(rawValue: Setting.string(self.fsync, "HYGGE_FSYNC", "always")!) else {
            throw ConfigurationError("HYGGE_FSYNC must be always, everysec or no")
        }
        guard let interval = Setting.duration(Setting.string(self.snapshotInterval, "HYGGE_SNAPSHOT_INTERVAL", "60s")!),
            let ttl = Setting.duration(Setting.string(self.checkoutTTL, "HYGGE_CHECKOUT_TTL", "30m")!),
            let shopifyTimeout = Setting.duration(Setting.string(self.shopifyTimeout, "HYGGE_SHOPIFY_TIMEOUT", "10s")!),
            let whopTimeout = Setting.duration(Setting.string(self.whopTimeout, "HYGGE_WHOP_TIMEOUT", "4s")!)
        else { throw ConfigurationError("durations look like 500ms, 60s or 5m") }
        guard shopifyTimeout > .zero, whopTimeout > .zero else {
            throw ConfigurationError("HYGGE_SHOPIFY_TIMEOUT and HYGGE_WHOP_TIMEOUT must be longer than zero")
        }
        let records = self.snapshotRecords ?? env["HYGGE_SNAPSHOT_RECORDS"].flatMap(UInt64.init) ?? 100_000

        var configuredLogger = Logger(label: "hygge")
        configuredLogger.logLevel = Setting.string(self.logLevel, "LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? .info
        let logger = configuredLogger
        let prometheus = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusSetup.factory(registry: prometheus))

        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let master = try Self.masterKey(Setting.string(self.masterKey, "HYGGE_MASTER_KEY"), sandbox: sandbox, dataDir: dataDir, logger: logger)

        var store = StoreConfiguration(dataDirectory: dataDir)
        store.fsync = fsync
        store.snapshotInterval = interval
        store.snapshotRecords = records
        var configuration = ServerConfiguration(store: store, master: master)
        if Setting.string(self.masterKey, "HYGGE_MASTER_KEY") == nil {
            configuration.masterKeyFile = (dataDir as NSString).appendingPathComponent("sandbox-master.key")
        }
        configuration.host = host
        configuration.port = port
        configuration.publicURL = publicURL
        configuration.sandbox = sandbox
        configuration.settings.checkoutTTL = ttl
        configuration.settings.freeMonthlyLimit = self.freeMonthlyLimit ?? env["HYGGE_FREE_MONTHLY_LIMIT"].flatMap(Int.init) ?? 50
        configuration.settings.tiers = Self.parseTiers(Setting.string(self.tiers, "HYGGE_TIERS") ?? "")
        configuration.shopifyBaseURL = Setting.string(self.shopifyBaseURL, "HYGGE_SHOPIFY_BASE_URL")
        configuration.shopifyAPIKey = Setting.string(self.shopifyAPIKey, "SHOPIFY_API_KEY")
        configuration.shopifyAPISecret = Setting.string(self.shopifyAPISecret, "SHOPIFY_API_SECRET")
        configuration.shopifyScopes = Setting.string(self.shopifyScopes, "SHOPIFY_SCOPES", ShopifyApp.defaultScopes)!
        if !sandbox, configuration.shopifyAPISecret == nil {
            throw ConfigurationError("SHOPIFY_API_SECRET is required with SHOPIFY_API_KEY")
        }
        configuration.whopAPIBase = Setting.string(self.whopAPIBase, "HYGGE_WHOP_API_BASE")
        configuration.shopifyTimeout = shopifyTimeout
        configuration.whopTimeout = whopTimeout
        configuration.shopifyAPIVersion = Setting.string(self.shopifyAPIVersion, "HYGGE_SHOPIFY_API_VERSION", "2026-10")!
        configuration.whopAPIVersion = Setting.string(self.whopAPIVersion, "HYGGE_WHOP_API_VERSION", "2025-01-01")!
        configuration.adminToken = Setting.string(self.adminToken, "HYGGE_ADMIN_TOKEN")
        configuration.platformWebhookSecret = Setting.string(self.whopWebhookSecretHygge, "WHOP_WEBHOOK_SECRET_HYGGE")
        configuration.demo.shopifyToken = env["HYGGE_SANDBOX_SHOPIFY_TOKEN"] ?? configuration.demo.shopifyToken
        configuration.demo.whopKey = env["HYGGE_SANDBOX_WHOP_KEY"] ?? configuration.demo.whopKey
        configuration.demo.webhookSecret = env["HYGGE_SANDBOX_WEBHOOK_SECRET"] ?? configuration.demo.webhookSecret
        configuration.demo.monthlyLimit = env["HYGGE_SANDBOX_MONTHLY_LIMIT"].flatMap(Int.init) ?? configuration.demo.monthlyLimit

        let server = try HyggeServer(configuration: configuration, logger: logger, metricsText: { prometheus.emitToString() })
        try await server.serviceGroup(signals: [.sigterm, .sigint]).run()
        await server.shutdown()
        logger.info("stopped")
    }

    static func parseTiers(_ text: String) -> [String: Int] {
        var tiers: [String: Int] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=")
            if parts.count == 2, let limit = Int(parts[1].trimmingCharacters(in: .whitespaces)) {
                tiers[parts[0].trimmingCharacters(in: .whitespaces)] = limit
            }
        }
        return tiers
    }

    static func masterKey(_ given: String?, sandbox: Bool, dataDir: String, logger: Logger) throws -> MasterKey {
        if let given { return try MasterKey(base64: given) }
        guard sandbox else { throw ConfigurationError("HYGGE_MASTER_KEY is required outside the sandbox") }
        let path = (dataDir as NSString).appendingPathComponent("sandbox-master.key")
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) { return try MasterKey(base64: existing) }
        let key = MasterKey.generate()
        _ = FileManager.default.createFile(atPath: path, contents: Data(key.base64.utf8), attributes: [.posixPermissions: 0o600])
        logger.warning("no HYGGE_MASTER_KEY: generated a sandbox master key", metadata: ["path": "\(path)"])
        return key
    }
}
