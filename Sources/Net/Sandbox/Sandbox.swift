package import Actors
package import AsyncHTTPClient
import Foundation
import Hummingbird
package import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// The embedded Shopify and Whop emulators and the demo storefront, mounted under `/sandbox/` (CONTRACT §9).
package final class Sandbox: Sendable {
    /// The demo merchant's made-up credentials.
    package struct Demo: Sendable {
        package var shop = MerchantID("hygge-demo.myshopify.com")
        package var shopifyToken = "shpat_sandbox_demo"
        package var whopKey = "apik_sandbox_demo"
        package var companyID = "biz_sandbox_demo"
        package var webhookSecret = "ws_sandbox_demo"
        package var monthlyLimit = 1_000_000
        /// The sandbox Shopify app's made-up credentials: the emulated OAuth authorize page signs its callback with
        /// this secret, so the whole install runs offline.
        package var appAPIKey = ShopifyApp.sandboxAPIKey
        package var appAPISecret = ShopifyApp.sandboxAPISecret
        package init() {}
    }

    package let shopify: ShopifyEmulator
    package let whop: WhopEmulator
    package let demo: Demo
    let publicURL: String
    let http: HTTPClient
    let logger: Logger

    package init(publicURL: String, demo: Demo, http: HTTPClient, logger: Logger) {
        var url = publicURL
        while url.hasSuffix("/") { url.removeLast() }
        self.publicURL = url
        self.demo = demo
        self.http = http
        self.logger = logger
        self.shopify = ShopifyEmulator()
        self.whop = WhopEmulator(publicURL: url)
    }

    /// Seeds the emulators with the demo shop and company.
    package func seedEmulators() async {
        await self.shopify.addShop(
            self.demo.shop.rawValue, token: self.demo.shopifyToken, catalogue: ShopifyEmulator.demoCatalogue)
        await self.whop.addCompany(
            id: self.demo.companyID, title: "Hygge Demo Co.", apiKey: self.demo.whopKey,
            webhookSecret: self.demo.webhookSecret, webhookURL: "\(self.publicURL)/api/webhooks/whop")
    }

    /// Seeds the demo merchant in Hygge itself, through the same actor calls the install flow and wizard use.
    package func seedMerchant(registry: MerchantRegistry, whop: any WhopAPI) async throws {
        let merchant = try await registry.merchantCreatingIfNeeded(self.demo.shop, now: .now)
        let summary = await merchant.summary(now: .now)
        if !summary.installed {
            try await merchant.install(token: self.demo.shopifyToken, scopes: "read_products,write_orders,write_script_tags", now: .now)
        }
        if summary.companyID == nil {
            let company = try await whop.companyID(apiKey: self.demo.whopKey)
            try await merchant.setWhopKey(self.demo.whopKey, companyID: company, now: .now)
        }
        if !summary.webhookSecretSet { try await merchant.setWebhookSecret(self.demo.webhookSecret, now: .now) }
        if summary.monthlyLimit != self.demo.monthlyLimit {
            try await merchant.setTier("sandbox", monthlyLimit: self.demo.monthlyLimit)
        }
    }

    /// A sandbox merchant's made-up credentials and catalogue, for load tests (CONTRACT §9: sandbox only).
    package struct LoadMerchant: Sendable, Encodable {
        package var shop: String
        package var shopify_token: String
        package var company_id: String
        package var webhook_secret: String
        package var variant_ids: [Int64]
    }

    /// Load merchants seeded at once (each is four durable journal records).
    static let loadSeedConcurrency = 32
    /// Upper bound of `seedLoadMerchants(count:)`.
    package static let loadMerchantsMax = 100_000

    /// Adds `count` extra sandbox merchants (`hygge-load-N.myshopify.com`, N = 0..<count) for load tests, through
    /// the same actor calls as the install flow and wizard; idempotent. Returns them in order.
    package func seedLoadMerchants(count: Int, registry: MerchantRegistry, whop: any WhopAPI) async throws
        -> [LoadMerchant]
    {
        let count = min(max(0, count), Self.loadMerchantsMax)
        var seeded = [LoadMerchant?](repeating: nil, count: count)
        try await withThrowingTaskGroup(of: (Int, LoadMerchant).self) { group in
            var next = 0
            func addNext() {
                let index = next
                next += 1
                group.addTask { (index, try await self.seedLoadMerchant(index, registry: registry, whop: whop)) }
            }
            while next < min(count, Self.loadSeedConcurrency) { addNext() }
            while let (index, merchant) = try await group.next() {
                seeded[index] = merchant
                if next < count { addNext() }
            }
        }
        return seeded.compactMap { $0 }
    }

    private func seedLoadMerchant(_ index: Int, registry: MerchantRegistry, whop: any WhopAPI) async throws
        -> LoadMerchant
    {
        let shop = "hygge-load-\(index).myshopify.com"
        let token = "shpat_sandbox_load_\(index)"
        let key = "apik_sandbox_load_\(index)"
        let company = "biz_sandbox_load_\(index)"
        let secret = "ws_sandbox_load_\(index)"
        if await !self.shopify.hasShop(shop) {
            await self.shopify.addShop(shop, token: token, catalogue: ShopifyEmulator.demoCatalogue)
            await self.whop.addCompany(
                id: company, title: "Load \(index)", apiKey: key, webhookSecret: secret,
                webhookURL: "\(self.publicURL)/api/webhooks/whop")
        }
        let merchant = try await registry.merchantCreatingIfNeeded(MerchantID(shop), now: .now)
        let summary = await merchant.summary(now: .now)
        if !summary.installed { try await merchant.install(token: token, scopes: "sandbox", now: .now) }
        if summary.companyID == nil {
            try await merchant.setWhopKey(key, companyID: try await whop.companyID(apiKey: key), now: .now)
        }
        if !summary.webhookSecretSet { try await merchant.setWebhookSecret(secret, now: .now) }
        if summary.monthlyLimit != self.demo.monthlyLimit {
            try await merchant.setTier("sandbox", monthlyLimit: self.demo.monthlyLimit)
        }
        return LoadMerchant(
            shop: shop, shopify_token: token, company_id: company, webhook_secret: secret,
            variant_ids: await self.variantIDs(shop))
    }

    /// The demo merchant as a load-test target.
    package func demoLoadMerchant() async -> LoadMerchant {
        LoadMerchant(
            shop: self.demo.shop.rawValue, shopify_token: self.demo.shopifyToken, company_id: self.demo.companyID,
            webhook_secret: self.demo.webhookSecret, variant_ids: await self.variantIDs(self.demo.shop.rawValue))
    }

    private func variantIDs(_ shop: String) async -> [Int64] {
        await self.shopify.products(shop).flatMap { $0.variants.map(\.id) }
    }

    /// One webhook delivery attempt's timeout (Hygge acks a durable webhook in milliseconds).
    static let deliveryTimeout: TimeAmount = .seconds(3)

    /// Delivers a signed webhook as Whop would (Standard Webhooks), retrying a few times; returns the last status.
    package func deliver(_ delivery: WhopEmulator.Delivery) async -> Int {
        let id = "msg_" + RandomToken.hex(bytes: 12)
        var status = 0
        for attempt in 0..<4 {
            // While the server drains for shutdown it accepts no new connections: a delivery to ourselves cannot
            // succeed, so do not hold the in-flight pay request (and with it the shutdown) on retries.
            if attempt > 0 {
                if Task.isShuttingDownGracefully { break }
                try? await Task.sleep(for: .milliseconds(200 << attempt))
            }
            let timestamp = String(Timestamp.now.seconds)
            var request = HTTPClientRequest(url: delivery.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "webhook-id", value: id)
            request.headers.add(name: "webhook-timestamp", value: timestamp)
            request.headers.add(
                name: "webhook-signature",
                value: StandardWebhooks.sign(secret: delivery.secret, id: id, timestamp: timestamp, body: delivery.body))
            request.body = .bytes(ByteBuffer(bytes: delivery.body))
            do {
                let (http, request) = (self.http, request)
                let answered = try await Self.abandonedAfterShutdown(grace: Self.shutdownGrace) {
                    let response = try await http.execute(request, timeout: Self.deliveryTimeout)
                    _ = try? await response.body.collect(upTo: 1 << 16)
                    return Int(response.status.code)
                }
                guard let answered else { return 0 }
                status = answered
                if (200..<300).contains(status) || (400..<500).contains(status) { return status }
            } catch {
                status = 0
            }
        }
        return status
    }

    /// How long a delivery in flight may still take once graceful shutdown has begun. Hygge answers a webhook in
    /// milliseconds, but a delivery sent while its public listener drains can go unanswered: without this bound the
    /// pay request waited for the whole `deliveryTimeout`, and the shutdown with it (3 s, `scripts/sigterm-test.py`).
    static let shutdownGrace: Duration = .milliseconds(250)

    /// Runs `operation`; nil if graceful shutdown has been under way for `grace` before it finished (it is then
    /// cancelled). Outside a service group `gracefulShutdown()` waits until cancelled, so `operation` simply runs.
    package static func abandonedAfterShutdown<T: Sendable>(
        grace: Duration, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await gracefulShutdown()
                try await Task.sleep(for: grace)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }
}
