import Actors
import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Net
import Persistence
import Testing

/// A Hygge router over a real journal in a temporary directory, talking HTTP to the sandbox emulators served live
/// on a free port (the production Shopify and Whop clients are the ones used).
struct Onboarding: Sendable {
    static let publicURL = "http://hygge.test"
    static let apiKey = ShopifyApp.sandboxAPIKey
    static let apiSecret = ShopifyApp.sandboxAPISecret
    /// Whop company keys known to the emulator.
    static let keyA = "apik_test_company_a"
    static let keyB = "apik_test_company_b"
    static let userKey = "apik_test_user_key"

    let sandbox: Sandbox
    let dependencies: NetDependencies
    let journal: Journal
    let directory: String
    /// The emulators' server.
    let emulator: any TestClientProtocol
    /// Every response body the Hygge router returned (checked for leaked secrets).
    let bodies: BodyLog

    var registry: MerchantRegistry { self.dependencies.registry }

    final class BodyLog: @unchecked Sendable {
        // Only touched from the test's own task, one request at a time.
        var texts: [String] = []
    }

    static let logger: Logger = {
        var logger = Logger(label: "hygge-tests", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        return logger
    }()

    static func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "hygge-net-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    /// A sandbox with three Whop accounts: companies A and B, and a user (not a company).
    static func makeSandbox() async -> Sandbox {
        let sandbox = Sandbox(publicURL: Self.publicURL, demo: .init(), http: .shared, logger: Self.logger)
        await sandbox.whop.addCompany(
            id: "biz_test_a", title: "A", apiKey: Self.keyA, webhookSecret: "ws_test_a",
            webhookURL: "\(Self.publicURL)/api/webhooks/whop")
        await sandbox.whop.addCompany(
            id: "biz_test_b", title: "B", apiKey: Self.keyB, webhookSecret: "ws_test_b",
            webhookURL: "\(Self.publicURL)/api/webhooks/whop")
        await sandbox.whop.addCompany(
            id: "user_test_person", title: "Person", apiKey: Self.userKey, webhookSecret: nil, webhookURL: nil)
        return sandbox
    }

    /// Runs `body` with a fresh Hygge and emulators; `directory` and `sandbox` are reused by restart tests.
    static func run(
        directory: String? = nil, sandbox given: Sandbox? = nil,
        _ body: @escaping @Sendable (Onboarding, any TestClientProtocol) async throws -> Void
    ) async throws {
        let directory = try directory ?? Self.temporaryDirectory()
        let sandbox: Sandbox
        if let given { sandbox = given } else { sandbox = await Self.makeSandbox() }
        let emulatorRouter = Router(context: HyggeRequestContext.self)
        sandbox.register(on: emulatorRouter)
        try await Application(router: emulatorRouter, logger: Self.logger).test(.live) { emulator in
            let port = try #require(emulator.port)
            let shopifyBase = "http://localhost:\(port)/sandbox/shopify/{shop}"
            let shopify = ShopifyHTTPClient(
                http: .shared, baseTemplate: shopifyBase, apiVersion: "2026-10", logger: Self.logger)
            let whop = WhopHTTPClient(
                http: .shared, base: "http://localhost:\(port)/sandbox/whop/api/v1", apiVersion: "2025-01-01",
                logger: Self.logger)
            var restorer = Restorer(snapshot: nil)
            let journal = try Journal(directory: directory, fsync: .no, logger: Self.logger) { record in
                try restorer.apply(lsn: record.lsn, payload: record.payload)
            }
            let environment = MerchantEnvironment(
                journal: journal, shopify: shopify, whop: whop, master: try Self.master(directory),
                settings: DomainSettings(), orders: OrderQueue(), directory: Directory(), logger: Self.logger)
            let registry = MerchantRegistry(states: restorer.states, environment: environment)
            var dependencies = NetDependencies(
                registry: registry, stateKeeper: nil, publicURL: Self.publicURL, adminToken: nil, sandbox: nil,
                readiness: Readiness(ready: true), metricsText: { "" }, logger: Self.logger)
            dependencies.shopifyApp = ShopifyApp(
                apiKey: Self.apiKey, apiSecret: Self.apiSecret, scopes: ShopifyApp.defaultScopes,
                baseTemplate: shopifyBase, installer: shopify)
            let outbox = OrderOutbox(registry: registry, logger: Self.logger)
            let outboxTask = Task { try await outbox.run() }
            let harness = Onboarding(
                sandbox: sandbox, dependencies: dependencies, journal: journal, directory: directory, emulator: emulator,
                bodies: BodyLog())
            do {
                try await Application(router: makeRouter(dependencies), logger: Self.logger).test(.router) { client in
                    try await body(harness, client)
                }
            } catch {
                outboxTask.cancel()
                await journal.close()
                throw error
            }
            outboxTask.cancel()
            await journal.close()
        }
    }

    /// One master key per data directory (a restart must open the same sealed values).
    static func master(_ directory: String) throws -> MasterKey {
        let path = (directory as NSString).appendingPathComponent("test-master.key")
        if let text = try? String(contentsOfFile: path, encoding: .utf8) { return try MasterKey(base64: text) }
        let key = MasterKey.generate()
        try Data(key.base64.utf8).write(to: URL(fileURLWithPath: path))
        return key
    }

    // MARK: Requests

    struct Reply: Sendable {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var text: String
        var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(self.text.utf8))) as? [String: Any]
        }
        var errorCode: String? { (self.json?["error"] as? [String: Any])?["code"] as? String }
    }

    @discardableResult
    func send(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, headers: HTTPFields = [:],
        body: String? = nil
    ) async throws -> Reply {
        let response = try await client.executeRequest(
            uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let reply = Reply(status: response.status, headers: response.headers, text: String(buffer: response.body))
        self.bodies.texts.append(reply.text)
        for value in response.headers[values: .setCookie] { self.bodies.texts.append(value) }
        return reply
    }

    static func cookieHeader(_ cookie: String) -> HTTPFields {
        var headers = HTTPFields()
        headers[.cookie] = "hygge_session=\(cookie)"
        return headers
    }

    static func bearer(_ token: String) -> HTTPFields {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        return headers
    }

    static func json(_ headers: HTTPFields = [:]) -> HTTPFields {
        var headers = headers
        headers[.contentType] = "application/json"
        return headers
    }

    /// The redirect and `state` of a fresh install of `shop`.
    func startInstall(_ client: any TestClientProtocol, shop: String) async throws -> (location: String, state: String) {
        let reply = try await self.send(client, .get, "/shopify/install?shop=\(shop)")
        #expect(reply.status == .found)
        let location = try #require(reply.headers[.location])
        let components = try #require(URLComponents(string: location))
        let state = try #require(components.queryItems?.first { $0.name == "state" }?.value)
        return (location, state)
    }

    /// Installs `shop` through the whole OAuth flow (Hygge → emulated authorize page → callback); returns the
    /// session cookie value.
    func install(_ client: any TestClientProtocol, shop: String) async throws -> String {
        let (location, _) = try await self.startInstall(client, shop: shop)
        let port = try #require(self.emulator.port)
        let prefix = "http://localhost:\(port)"
        #expect(location.hasPrefix(prefix + "/sandbox/shopify/\(shop)/admin/oauth/authorize?"))
        let authorize = try await self.emulator.executeRequest(
            uri: String(location.dropFirst(prefix.count)), method: .get, headers: [:], body: nil)
        #expect(authorize.status == .found)
        let callback = try #require(authorize.headers[.location])
        #expect(callback.hasPrefix(Self.publicURL + "/shopify/callback?"))
        let reply = try await self.send(client, .get, String(callback.dropFirst(Self.publicURL.count)))
        #expect(reply.status == .found, "\(reply.text)")
        #expect(reply.headers[.location] == "/app")
        let setCookie = try #require(reply.headers[.setCookie])
        #expect(setCookie.contains("HttpOnly"))
        #expect(setCookie.contains("SameSite=Lax"))
        let value = try #require(setCookie.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last)
        return String(value)
    }

    /// A shop installed, with a validated Whop key and webhook secret: ready to take payments.
    func ready(_ client: any TestClientProtocol, shop: String, key: String, secret: String) async throws -> String {
        let cookie = try await self.install(client, shop: shop)
        let headers = Self.json(Self.cookieHeader(cookie))
        let keyReply = try await self.send(
            client, .put, "/api/merchant/whop-key", headers: headers, body: #"{"api_key":"\#(key)"}"#)
        #expect(keyReply.status == .ok, "\(keyReply.text)")
        let secretReply = try await self.send(
            client, .put, "/api/merchant/whop-webhook-secret", headers: headers, body: #"{"secret":"\#(secret)"}"#)
        #expect(secretReply.status == .noContent)
        return cookie
    }

    /// Creates a checkout and its plan for the first variant of the shop's catalogue.
    func checkoutWithPlan(_ client: any TestClientProtocol, shop: String, quantity: Int = 2) async throws
        -> (checkout: String, plan: String, total: Int64)
    {
        let variant = try #require(await self.sandbox.shopify.products(shop).first?.variants.first?.id)
        let created = try await self.send(
            client, .post, "/api/checkout/create-from-cart", headers: Self.json(),
            body: #"{"shop":"\#(shop)","currency":"USD","items":[{"variant_id":\#(variant),"quantity":\#(quantity)}]}"#)
        #expect(created.status == .created, "\(created.text)")
        let checkout = try #require(created.json?["checkout_id"] as? String)
        let total = try #require((created.json?["total"] as? [String: Any])?["amount"] as? Int)
        let plan = try await self.send(
            client, .post, "/api/checkout/get-plan", headers: Self.json(), body: #"{"checkout_id":"\#(checkout)"}"#)
        #expect(plan.status == .ok, "\(plan.text)")
        return (checkout, try #require(plan.json?["plan_id"] as? String), Int64(total))
    }

    /// Pays a plan on the emulated Whop and delivers its signed webhook to the router; returns the payment id.
    func pay(_ client: any TestClientProtocol, plan: String) async throws -> String {
        let configuration = try #require(await self.sandbox.whop.configuration(matching: plan))
        let delivery = try await self.sandbox.whop.pay(
            configurationID: configuration.id, outcome: "succeeded", amountMinor: nil
        ).get()
        try await self.deliverWhop(client, delivery)
        return delivery.paymentID
    }

    func deliverWhop(_ client: any TestClientProtocol, _ delivery: WhopEmulator.Delivery) async throws {
        let id = "msg_" + RandomToken.hex(bytes: 8)
        let timestamp = String(Timestamp.now.seconds)
        var headers = Self.json()
        headers[HTTPField.Name("webhook-id")!] = id
        headers[HTTPField.Name("webhook-timestamp")!] = timestamp
        headers[HTTPField.Name("webhook-signature")!] = StandardWebhooks.sign(
            secret: delivery.secret, id: id, timestamp: timestamp, body: delivery.body)
        let reply = try await self.send(
            client, .post, "/api/webhooks/whop", headers: headers, body: String(decoding: delivery.body, as: UTF8.self))
        #expect(reply.status == .ok, "\(reply.text)")
    }

    /// A signed Shopify webhook.
    @discardableResult
    func shopifyWebhook(
        _ client: any TestClientProtocol, topic: String, shop: String, id: String, body: String,
        secret: String = Onboarding.apiSecret
    ) async throws -> Reply {
        var headers = Self.json()
        let mac = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: Array(secret.utf8)))
        headers[HTTPField.Name("X-Shopify-Hmac-Sha256")!] = Data(mac).base64EncodedString()
        headers[HTTPField.Name("X-Shopify-Topic")!] = topic
        headers[HTTPField.Name("X-Shopify-Shop-Domain")!] = shop
        headers[HTTPField.Name("X-Shopify-Webhook-Id")!] = id
        return try await self.send(client, .post, "/api/webhooks/shopify", headers: headers, body: body)
    }

    /// Waits (without sleeping) until `condition` holds or `limit` passes.
    static func eventually(_ limit: Duration = .seconds(10), _ condition: @Sendable () async throws -> Bool)
        async rethrows -> Bool
    {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while clock.now < deadline {
            if try await condition() { return true }
            await Task.yield()
        }
        return try await condition()
    }

    /// A session token for `shop` (claims overridable).
    static func sessionToken(
        shop: String, aud: String = Onboarding.apiKey, exp: Int64? = nil, nbf: Int64? = nil,
        secret: String = Onboarding.apiSecret, iss: String? = nil
    ) -> String {
        let now = Timestamp.now.seconds
        return ShopifySessionToken.sign(
            [
                "iss": iss ?? "https://\(shop)/admin", "dest": "https://\(shop)", "aud": aud, "sub": "42",
                "exp": exp ?? now + 60, "nbf": nbf ?? now - 5, "iat": now - 5, "jti": UUID().uuidString,
                "sid": "s-1",
            ], secret: secret)
    }
}
