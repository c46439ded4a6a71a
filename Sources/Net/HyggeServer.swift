package import Actors
package import AsyncHTTPClient
import Foundation
package import Hummingbird
import Synchronization
package import Logging
package import ServiceLifecycle
package import UnixSignals

/// Everything `hygge serve` is configured with (CONTRACT §1), already parsed.
package struct ServerConfiguration: Sendable {
    package var host = "127.0.0.1"
    package var port = 8080
    /// Absolute URL Shopify, Whop and browsers reach us on; defaults to `http://host:port`.
    package var publicURL: String?
    package var store: StoreConfiguration
    package var settings = DomainSettings()
    package var master: MasterKey
    /// The file the master key was read from (the sandbox's generated `sandbox-master.key`); an online rotation
    /// writes the new key there, so the next start uses it.
    package var masterKeyFile: String?
    /// Mounts the embedded emulators and seeds the demo merchant.
    package var sandbox = true
    package var demo = Sandbox.Demo()
    /// `HYGGE_SHOPIFY_BASE_URL` (with `{shop}`); nil = real Shopify, or the emulator in sandbox mode.
    package var shopifyBaseURL: String?
    /// `HYGGE_WHOP_API_BASE`; nil = real Whop, or the emulator in sandbox mode.
    package var whopAPIBase: String?
    /// One Shopify Admin request's timeout (the outbox retries after it).
    package var shopifyTimeout: Duration = .seconds(10)
    /// One Whop request's timeout; get-plan's retries together are bounded by `settings.whopDeadline`.
    package var whopTimeout: Duration = .seconds(4)
    package var shopifyAPIVersion = "2026-10"
    package var whopAPIVersion = "2025-01-01"
    package var adminToken: String?
    /// `WHOP_WEBHOOK_SECRET_HYGGE`.
    package var platformWebhookSecret: String?
    /// Prints the sandbox banner once seeded.
    package var printBanner = true
    /// `SHOPIFY_API_KEY` / `SHOPIFY_API_SECRET`; in sandbox mode nil means the made-up
    /// `ShopifyApp.sandboxAPIKey` / `sandboxAPISecret`. Outside the sandbox both are needed for the merchant app.
    package var shopifyAPIKey: String?
    package var shopifyAPISecret: String?
    /// `SHOPIFY_SCOPES`.
    package var shopifyScopes = ShopifyApp.defaultScopes

    package init(store: StoreConfiguration, master: MasterKey) {
        self.store = store
        self.master = master
    }

    /// The public URL without a trailing slash.
    package var resolvedPublicURL: String {
        var url = self.publicURL ?? "http://\(self.host):\(self.port)"
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}

/// A composed Hygge service: restored state, upstream clients, emulators (sandbox) and the HTTP application.
///
/// `hygge serve` and the tests build it the same way; `serviceGroup` runs it.
package final class HyggeServer: Sendable {
    package let configuration: ServerConfiguration
    package let core: ServiceCore
    package let sandbox: Sandbox?
    package let http: HTTPClient
    package let whop: WhopHTTPClient
    package let shopify: ShopifyHTTPClient
    /// The resolved `HYGGE_SHOPIFY_BASE_URL` (`{shop}` not yet replaced) that browsers are sent to (the OAuth
    /// authorize page); in the sandbox the public URL's `/sandbox/shopify/{shop}`.
    package let shopifyBaseTemplate: String
    /// Sandbox: the loopback port on which the emulators are also served for Hygge's own outbound calls (see
    /// `emulatorApplication`); nil outside the sandbox.
    package let emulatorPort: Int?
    /// Opened once the emulators' own listener accepts connections.
    private let emulatorsListening = Latch()
    package let readiness = Readiness()
    let logger: Logger
    let metricsText: @Sendable () -> String

    /// The outbound client's pool. AsyncHTTPClient's default of 8 HTTP/1.1 connections per host caps
    /// every merchant's Whop calls together (one host, api.whop.com — or the sandbox's own address)
    /// at 8 in flight: at 120 ms per call that is ~66 plans/s for the whole node, and checkouts
    /// queue behind each other for seconds (BENCHMARKS.md, "flow at half peak"). Upstream latency,
    /// not CPU, bounds these calls, so allow many more; HTTP/2 upstreams multiplex anyway.
    static var upstreamClientConfiguration: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 512)
        return configuration
    }

    /// Restores state from the data directory and builds the clients; does not listen yet.
    package init(
        configuration: ServerConfiguration, logger: Logger, metricsText: @escaping @Sendable () -> String = { "" }
    ) throws {
        var configuration = configuration
        let publicURL = configuration.resolvedPublicURL
        if configuration.sandbox {
            // The emulated OAuth page signs with whichever app secret Hygge verifies with.
            configuration.shopifyAPIKey = configuration.shopifyAPIKey ?? configuration.demo.appAPIKey
            configuration.shopifyAPISecret = configuration.shopifyAPISecret ?? configuration.demo.appAPISecret
            configuration.demo.appAPIKey = configuration.shopifyAPIKey ?? ShopifyApp.sandboxAPIKey
            configuration.demo.appAPISecret = configuration.shopifyAPISecret ?? ShopifyApp.sandboxAPISecret
        }
        if configuration.sandbox && configuration.settings.redirectURLTemplate == DomainSettings().redirectURLTemplate {
            configuration.settings.redirectURLTemplate = "\(publicURL)/sandbox/store"
        }
        self.configuration = configuration
        self.logger = logger
        self.metricsText = metricsText
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.upstreamClientConfiguration)
        self.http = http
        let sandbox = configuration.sandbox
        // Hygge's own calls to the emulators go to their loopback listener, which outlives the public one at
        // shutdown; browsers are sent to the public URL.
        let emulatorPort: Int?
        do {
            emulatorPort = sandbox ? try LoopbackPort.free() : nil
        } catch {
            try? http.syncShutdown()
            throw error
        }
        self.emulatorPort = emulatorPort
        let emulators = emulatorPort.map { "http://127.0.0.1:\($0)" } ?? publicURL
        let shopifyBase = { (origin: String) in
            configuration.shopifyBaseURL ?? (sandbox ? "\(origin)/sandbox/shopify/{shop}" : "https://{shop}")
        }
        self.shopifyBaseTemplate = shopifyBase(publicURL)
        self.shopify = ShopifyHTTPClient(
            http: http, baseTemplate: shopifyBase(emulators), apiVersion: configuration.shopifyAPIVersion,
            timeout: configuration.shopifyTimeout, logger: logger)
        self.whop = WhopHTTPClient(
            http: http,
            base: configuration.whopAPIBase ?? (sandbox ? "\(emulators)/sandbox/whop/api/v1" : "https://api.whop.com/api/v1"),
            apiVersion: configuration.whopAPIVersion, timeout: configuration.whopTimeout, logger: logger)
        do {
            self.core = try ServiceCore.open(
                store: configuration.store, settings: configuration.settings, master: configuration.master,
                shopify: self.shopify, whop: self.whop, logger: logger)
        } catch {
            try? http.syncShutdown()
            throw error
        }
        self.sandbox = sandbox ? Sandbox(publicURL: publicURL, demo: configuration.demo, http: http, logger: logger) : nil
    }

    package var registry: MerchantRegistry { self.core.registry }

    /// What the router is built from.
    package var dependencies: NetDependencies {
        let publicURL = self.configuration.resolvedPublicURL
        var dependencies = NetDependencies(
            registry: self.core.registry, stateKeeper: self.core.keeper, publicURL: publicURL,
            extraOrigins: self.sandbox != nil ? Self.sandboxOrigins(publicURL) : [],
            adminToken: self.configuration.adminToken, sandbox: self.sandbox, readiness: self.readiness,
            metricsText: self.metricsText, logger: self.logger)
        dependencies.platformWebhookSecret = self.configuration.platformWebhookSecret
        if let key = self.configuration.shopifyAPIKey, let secret = self.configuration.shopifyAPISecret {
            dependencies.shopifyApp = ShopifyApp(
                apiKey: key, apiSecret: secret, scopes: self.configuration.shopifyScopes,
                baseTemplate: self.shopifyBaseTemplate, installer: self.shopify)
        }
        dependencies.restore = self.core.restore
        if let path = self.configuration.masterKeyFile {
            dependencies.masterKeyRotated = { key in try Self.writeKeyFile(key, to: path) }
        }
        return dependencies
    }

    /// The HTTP application; once listening it seeds the sandbox (over HTTP, through the production clients) and
    /// then turns `/readyz` green.
    package func application() -> some ApplicationProtocol {
        let configuration = self.configuration
        return Application(
            router: makeRouter(self.dependencies),
            server: .http1(configuration: SlowClientGuard.http1Configuration()),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "hygge"),
            onServerRunning: { _ in
                // Seeding talks HTTP to this same server, so it must not block the server's start-up callback.
                Task { await self.becomeReady() }
            },
            logger: self.logger)
    }

    /// Sandbox: the emulators alone on `127.0.0.1:emulatorPort`, for Hygge's own calls to them (the public listener
    /// serves them too, for browsers). Being a service of its own, started before and stopped after the public
    /// listener and the outbox, it keeps answering while those drain at shutdown: when the emulators were reachable
    /// only through the public listener, which stops accepting connections first, the get-plans in flight at SIGTERM
    /// retried a closed port until their 10 s budget ran out.
    func emulatorApplication(_ sandbox: Sandbox, port: Int) -> some ApplicationProtocol {
        let router = Router(context: HyggeRequestContext.self)
        router.add(middleware: RequestMiddleware())
        sandbox.register(on: router, registry: self.core.registry)
        return Application(
            router: router,
            server: .http1(configuration: SlowClientGuard.http1Configuration()),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "hygge-sandbox"),
            onServerRunning: { _ in
                self.logger.info(
                    "sandbox emulators listening for Hygge's own calls", metadata: ["address": "127.0.0.1:\(port)"])
                self.emulatorsListening.open()
            },
            logger: self.logger)
    }

    private func becomeReady() async {
        if let sandbox = self.sandbox {
            // Seeding calls the emulators through their own listener, which may still be starting.
            await self.emulatorsListening.wait()
            await sandbox.seedEmulators()
            do {
                try await sandbox.seedMerchant(registry: self.core.registry, whop: self.whop)
                if self.configuration.printBanner {
                    Banner.print(
                        publicURL: self.configuration.resolvedPublicURL, demo: sandbox.demo,
                        products: await sandbox.shopify.products(sandbox.demo.shop.rawValue))
                }
            } catch {
                self.logger.error("sandbox seeding failed", metadata: ["error": "\(error)"])
            }
        }
        self.readiness.markReady()
        self.logger.info(
            "ready",
            metadata: [
                "url": "\(self.configuration.resolvedPublicURL)", "sandbox": "\(self.sandbox != nil)",
                "journal.lsn": "\(self.core.lastLSN)",
            ])
    }

    /// The services in start order; graceful shutdown runs in reverse: HTTP stops accepting and drains first,
    /// then the outbox, then (sandbox) the emulators' own listener, and the state keeper writes the final snapshot
    /// and closes the journal last.
    ///
    /// Shutdown is bounded: after `shutdownDurationMax` the remaining services are cancelled, and after a further
    /// `cancellationDurationMax` the group gives up on them (the journal holds every acknowledged change either way;
    /// only the final snapshot, which saves the next start a replay, may then be missing).
    package func serviceGroup(signals: [UnixSignal]) -> ServiceGroup {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: self.core.keeper)]
        if let sandbox = self.sandbox, let port = self.emulatorPort {
            services.append(.init(service: self.emulatorApplication(sandbox, port: port)))
        }
        services += [.init(service: self.core.outbox), .init(service: self.application())]
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: signals, logger: self.logger)
        configuration.maximumGracefulShutdownDuration = Self.shutdownDurationMax
        configuration.maximumCancellationDuration = Self.cancellationDurationMax
        return ServiceGroup(configuration: configuration)
    }

    /// Drain in-flight requests, stop the outbox, write the final snapshot: at most this long after SIGTERM.
    package static let shutdownDurationMax: Duration = .seconds(25)
    /// After the graceful phase, cancelled services get this long.
    package static let cancellationDurationMax: Duration = .seconds(5)

    /// Replaces a key file atomically (temporary file, then rename), readable by the owner only.
    static func writeKeyFile(_ key: MasterKey, to path: String) throws {
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(
            atPath: temporary, contents: Data(key.base64.utf8), attributes: [.posixPermissions: 0o600])
        else { throw HyggeError.internalError }
        guard rename(temporary, path) == 0 else { throw HyggeError.internalError }
    }

    /// Releases the outbound HTTP client; call after the service group returned.
    package func shutdown() async {
        try? await self.http.shutdown()
    }

    /// The demo storefront's origins: the public URL's, and on loopback its other name too (`localhost` ↔
    /// `127.0.0.1`), so the storefront can be opened on an origin other than the API's and CORS is exercised.
    static func sandboxOrigins(_ url: String) -> Set<String> {
        let own = Self.origin(url)
        guard let parsed = URL(string: url), let scheme = parsed.scheme, let host = parsed.host else { return [own] }
        let port = parsed.port.map { ":\($0)" } ?? ""
        switch host {
        case "127.0.0.1": return [own, "\(scheme)://localhost\(port)"]
        case "localhost": return [own, "\(scheme)://127.0.0.1\(port)"]
        default: return [own]
        }
    }

    static func origin(_ url: String) -> String {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, let host = parsed.host else { return url }
        return "\(scheme)://\(host)" + (parsed.port.map { ":\($0)" } ?? "")
    }
}

/// A one-shot gate: `wait` returns once `open` has been called.
private final class Latch: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let open = self.state.withLock { state -> Bool in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }
}
