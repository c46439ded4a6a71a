import Actors
import Foundation
import InMemoryLogging
import Logging
import NIOHTTP1
import Net
import Testing

@Suite("Request logs: one structured line per request, the request id echoed, no secrets", .serialized)
struct RequestLogTests {
    static func requestLines(_ handler: InMemoryLogHandler, id: String) -> [InMemoryLogHandler.Entry] {
        handler.entries.filter { $0.message.description == "request" && $0.metadata["request.id"]?.description == id }
    }

    @Test("each request: exactly one line with request id, merchant, route template, status and duration")
    func oneLinePerRequest() async throws {
        let handler = InMemoryLogHandler()
        try await LiveServer.with(logger: Logger(label: "hygge", factory: { _ in handler })) { live in
            let (checkout, _) = try await live.planned()
            let status = try await live.request("GET", "/api/checkout/\(checkout)", headers: [("X-Request-Id", "req-trace-42")])
            #expect(status.status == 200)
            #expect(status.headers.first(name: "X-Request-Id") == "req-trace-42")
            let lines = Self.requestLines(handler, id: "req-trace-42")
            try #require(lines.count == 1)
            let line = lines[0]
            #expect(line.level == .info)
            #expect(line.metadata["http.route"]?.description == "/api/checkout/{id}")
            #expect(line.metadata["http.method"]?.description == "GET")
            #expect(line.metadata["http.status"]?.description == "200")
            #expect(line.metadata["merchant.id"]?.description == live.demo.shop.rawValue)
            let duration = try #require(line.metadata["duration.ms"].flatMap { Double($0.description) })
            #expect(duration >= 0 && duration < 30_000)

            let missing = try await live.request("GET", "/api/checkout/chk_nope", headers: [("X-Request-Id", "req-trace-43")])
            #expect(missing.status == 404)
            #expect(missing.errorCode == "unknown_checkout")
            let missingLines = Self.requestLines(handler, id: "req-trace-43")
            #expect(missingLines.count == 1)
            #expect(missingLines.first?.metadata["http.status"]?.description == "404")
            #expect(missingLines.first?.metadata["merchant.id"]?.description == "-")

            // A generated id when the client sends none (or an unusable one), echoed and logged once.
            let generated = try await live.request("GET", "/healthz", headers: [("X-Request-Id", "bad id with spaces")])
            let id = try #require(generated.headers.first(name: "X-Request-Id"))
            #expect(id.hasPrefix("req_"))
            #expect(Self.requestLines(handler, id: id).count == 1)
            #expect(Self.requestLines(handler, id: id).first?.metadata["http.route"]?.description == "/healthz")
        }
    }

    @Test("no secret reaches the logs: tokens, keys, webhook secrets and signatures")
    func noSecrets() async throws {
        var handler = InMemoryLogHandler()
        handler.logLevel = .trace
        let captured = handler
        var logger = Logger(label: "hygge", factory: { _ in captured })
        logger.logLevel = .trace
        try await LiveServer.with(logger: logger) { live in
            let (checkout, plan) = try await live.planned()
            _ = try await live.post("/sandbox/whop/pay", json: ["plan_id": plan])
            _ = try await live.waitStatus(checkout) { $0 == "order_synced" }
            _ = try await live.request("GET", "/admin/merchants", headers: [("Authorization", "Bearer admin-test-token")])
            _ = try await live.request("GET", "/admin/merchants", headers: [("Authorization", "Bearer wrong-admin-guess")])
            let body = Data(#"{"type":"payment.succeeded","company_id":"biz_sandbox_demo","data":{"id":"pay_x"}}"#.utf8)
            let forged = "v1," + Data(repeating: 7, count: 32).base64EncodedString()
            _ = try await live.webhook(body: body, secret: "ws_guess", signature: forged)
            _ = try await live.webhook(body: body, secret: live.demo.webhookSecret, id: "msg_log_test")
            let secrets = [
                "admin-test-token", "wrong-admin-guess", live.demo.whopKey, live.demo.webhookSecret,
                live.demo.shopifyToken, forged,
            ]
            let entries = handler.entries
            #expect(entries.count > 10)
            for entry in entries {
                let text = "\(entry.message) \(entry.metadata)"
                for secret in secrets {
                    #expect(!text.contains(secret), "a log line contains a secret: \(entry.message)")
                }
            }
        }
    }
}
