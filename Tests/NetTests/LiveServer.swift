import Actors
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Net
import Persistence
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real `hygge serve` (sandbox mode) on a free loopback port with a temporary data directory, built exactly as
/// `Sources/Main` builds it, and an HTTP client to talk to it.
struct LiveServer {
    let base: String
    let server: HyggeServer
    /// The server's service group (for a test that shuts it down itself; `run` shuts it down at the end anyway).
    let group: ServiceGroup
    let client: HTTPClient
    let demo = Sandbox.Demo()

    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: self.body) as? [String: Any] }
        var text: String { String(decoding: self.body, as: UTF8.self) }
        var errorCode: String? { (self.json?["error"] as? [String: Any])?["code"] as? String }
    }

    /// Runs `body` against a fresh server, then shuts it down gracefully and removes its data.
    static func with(
        directory: String? = nil, logger: Logger? = nil, configure: (inout ServerConfiguration) -> Void = { _ in },
        _ body: (LiveServer) async throws -> Void
    ) async throws {
        let directory = directory ?? Self.temporaryDirectory()
        let ownsDirectory = directory.hasPrefix(FileManager.default.temporaryDirectory.path)
        defer { if ownsDirectory { try? FileManager.default.removeItem(atPath: directory) } }
        try await Self.run(directory: directory, logger: logger, configure: configure, body)
    }

    static func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("hygge-net-tests-\(UUID().uuidString)").path
    }

    /// Like `with`, but leaves the data directory for a restart.
    static func run(
        directory: String, master: MasterKey? = nil, logger: Logger? = nil,
        configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: (LiveServer) async throws -> Void
    ) async throws {
        let port = try LoopbackPort.free()
        var store = StoreConfiguration(dataDirectory: directory)
        store.fsync = .no
        var configuration = ServerConfiguration(store: store, master: master ?? Self.master(for: directory))
        configuration.port = port
        configuration.printBanner = false
        configuration.adminToken = "admin-test-token"
        configure(&configuration)
        var quiet = Logger(label: "hygge-test")
        quiet.logLevel = .critical
        let logger = logger ?? quiet
        let server = try HyggeServer(configuration: configuration, logger: logger)
        let group = server.serviceGroup(signals: [])
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let live = LiveServer(base: "http://127.0.0.1:\(port)", server: server, group: group, client: client)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await live.waitReady()
                try await body(live)
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                try? await client.shutdown()
                await server.shutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        try await client.shutdown()
        await server.shutdown()
    }

    /// One master key per data directory, so a restart in a test opens the same secrets.
    private static let masters = MastersBox()
    static func master(for directory: String) -> MasterKey { Self.masters.key(for: directory) }

    func waitReady() async throws {
        for _ in 0..<400 {
            if let reply = try? await self.request("GET", "/readyz"), reply.status == 200 { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw POSIXError(.ETIMEDOUT)
    }

    func request(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: Data? = nil
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: self.base + path)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.body = .bytes(ByteBuffer(data: body))
            if !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
                request.headers.add(name: "Content-Type", value: "application/json")
            }
        }
        let response = try await self.client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 8 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Data(buffer: bytes))
    }

    func post(_ path: String, json: Any, headers: [(String, String)] = []) async throws -> Reply {
        try await self.request("POST", path, headers: headers, body: try JSONSerialization.data(withJSONObject: json))
    }

    // MARK: The flow

    var firstVariant: Int64 { 450_789_469_002 }

    func createCheckout(quantity: Int = 1, variant: Int64? = nil, shop: String? = nil) async throws -> Reply {
        try await self.post(
            "/api/checkout/create-from-cart",
            json: [
                "shop": shop ?? self.demo.shop.rawValue, "currency": "USD",
                "items": [["variant_id": variant ?? self.firstVariant, "quantity": quantity]],
            ])
    }

    /// create-from-cart → get-plan; returns (checkout id, plan id).
    func planned(quantity: Int = 1) async throws -> (checkout: String, plan: String) {
        let created = try await self.createCheckout(quantity: quantity)
        guard created.status == 201, let id = created.json?["checkout_id"] as? String else {
            throw Failure("create-from-cart answered \(created.status) \(created.text)")
        }
        let plan = try await self.post("/api/checkout/get-plan", json: ["checkout_id": id])
        guard plan.status == 200, let planID = plan.json?["plan_id"] as? String else {
            throw Failure("get-plan answered \(plan.status) \(plan.text)")
        }
        return (id, planID)
    }

    /// Polls the checkout until `predicate` holds for its status.
    func waitStatus(_ id: String, _ predicate: (String) -> Bool) async throws -> [String: Any] {
        try await self.waitCheckout(id) { json in (json["status"] as? String).map(predicate) ?? false }
    }

    /// Polls the checkout until `predicate` holds for its JSON.
    func waitCheckout(_ id: String, _ predicate: ([String: Any]) -> Bool) async throws -> [String: Any] {
        for _ in 0..<400 {
            let reply = try await self.request("GET", "/api/checkout/\(id)")
            if let json = reply.json, predicate(json) { return json }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw Failure("checkout \(id) never reached the expected status")
    }

    func orders() async throws -> [[String: Any]] {
        let reply = try await self.request(
            "GET", "/sandbox/shopify/\(self.demo.shop)/admin/api/2026-10/orders.json?status=any",
            headers: [("X-Shopify-Access-Token", self.demo.shopifyToken)])
        return reply.json?["orders"] as? [[String: Any]] ?? []
    }

    /// A Standard-Webhooks-signed delivery to `path`.
    func webhook(
        _ path: String = "/api/webhooks/whop", body: Data, secret: String, id: String = "msg_" + UUID().uuidString,
        timestamp: Int64 = Timestamp.now.seconds, signature: String? = nil
    ) async throws -> Reply {
        let stamp = String(timestamp)
        return try await self.request(
            "POST", path,
            headers: [
                ("Content-Type", "application/json"), ("webhook-id", id), ("webhook-timestamp", stamp),
                ("webhook-signature", signature ?? StandardWebhooks.sign(secret: secret, id: id, timestamp: stamp, body: body)),
            ],
            body: body)
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

final class MastersBox: Sendable {
    private let keys = Mutex<[String: MasterKey]>([:])
    func key(for directory: String) -> MasterKey {
        self.keys.withLock { keys in
            if let key = keys[directory] { return key }
            let key = MasterKey.generate()
            keys[directory] = key
            return key
        }
    }
}
