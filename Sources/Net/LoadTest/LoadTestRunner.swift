import Actors
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization

/// A load test that cannot start or finish (server unreachable, not a sandbox server, …).
package struct LoadTestError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// Drives a sandbox server with `concurrency` virtual buyers (CONTRACT §7) and checks the result.
///
/// Every buyer runs create-from-cart → get-plan → `POST /sandbox/whop/pay` (the emulated Whop creates the payment and
/// delivers the signed `payment.succeeded` webhook, answering once Hygge acked it) → polls `GET /api/checkout/{id}`
/// until `order_synced`. Afterwards each paid checkout must have exactly one order in the Shopify emulator with the
/// checkout's total, and (with an admin token) the merchants' ledger totals must have grown by exactly what was paid.
package final class LoadTestRunner: Sendable {
    /// A merchant to drive, as `POST /sandbox/load-merchants` describes it.
    package struct Target: Sendable, Decodable {
        package var shop: String
        package var shopify_token: String
        package var company_id: String
        package var webhook_secret: String
        package var variant_ids: [Int64]
    }

    /// One request's failure, as an error code for the report.
    struct Failure: Error {
        var code: String
    }

    package let options: LoadTestOptions
    let http: HTTPClient
    let log: @Sendable (String) -> Void
    /// Distinguishes this run's webhook ids from earlier runs' (dedupe would turn them into no-ops).
    let runID = RandomToken.hex(bytes: 6)

    /// - Parameter log: receives progress and status lines (stderr in the CLI).
    package init(options: LoadTestOptions, log: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.log = log
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, options.concurrency + 4))
        configuration.httpVersion = .http1Only
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Releases the HTTP client.
    package func shutdown() async {
        try? await self.http.shutdown()
    }

    // MARK: HTTP

    struct Reply {
        var status: Int
        var body: ByteBuffer
        var json: [String: Any]? {
            try? JSONSerialization.jsonObject(with: Data(buffer: self.body)) as? [String: Any]
        }
        var errorCode: String {
            ((self.json?["error"] as? [String: Any])?["code"] as? String) ?? "http_\(self.status)"
        }
    }

    func send(
        _ method: HTTPMethod, _ path: String, body: String? = nil, headers: [(String, String)] = []
    ) async throws(Failure) -> Reply {
        var request = HTTPClientRequest(url: self.options.url + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let timeout = TimeAmount.nanoseconds(
            self.options.requestTimeout.components.seconds * 1_000_000_000
                + self.options.requestTimeout.components.attoseconds / 1_000_000_000)
        do {
            let response = try await self.http.execute(request, timeout: timeout)
            let bytes = try await response.body.collect(upTo: 64 << 20)
            return Reply(status: Int(response.status.code), body: bytes)
        } catch {
            throw Failure(code: Self.transportCode(error))
        }
    }

    static func transportCode(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout: return "timeout"
            case .connectTimeout, .getConnectionFromPoolTimeout: return "connect_timeout"
            case .remoteConnectionClosed: return "connection_closed"
            case .cancelled: return "cancelled"
            default: return "transport"
            }
        }
        if error is ChannelError || String(describing: type(of: error)).contains("Connection") { return "connect_failed" }
        return "transport"
    }

    // MARK: Run

    /// Runs the whole load test: setup, optional warm-up, the measured run, and the correctness checks.
    package func run() async throws -> LoadTestResult {
        try await self.waitReady()
        let targets = try await self.loadTargets()
        let latencySet = try await self.configureLatency()
        do {
            let result = try await self.measure(targets: targets)
            if latencySet { await self.resetLatency() }
            return result
        } catch {
            if latencySet { await self.resetLatency() }
            throw error
        }
    }

    private func measure(targets: [Target]) async throws -> LoadTestResult {
        var prepared: [PreparedCheckout] = []
        var setupErrors: [String: Int] = [:]
        if self.options.mode == .getPlan {
            (prepared, setupErrors) = await self.prepareCheckouts(targets: targets)
        }
        if let warmup = self.options.warmup, self.options.mode != .getPlan {
            self.log("warm-up: \(warmup)")
            let discard = LoadTestRecorder(primary: self.primary)
            await self.drive(targets: targets, prepared: [], recorder: discard, limit: nil, deadline: .now + warmup, showProgress: false)
        }
        let before = self.options.mode == .flow ? try? await self.ledger() : nil
        let recorder = LoadTestRecorder(primary: self.primary)
        let limit = self.options.mode == .getPlan ? prepared.count : self.options.checkouts
        let deadline = self.options.duration.map { recorder.start + $0 }
        await self.drive(
            targets: targets, prepared: prepared, recorder: recorder, limit: limit, deadline: deadline, showProgress: true)
        let wall = ContinuousClock.now - recorder.start
        var snapshot = recorder.snapshot()
        for (code, count) in setupErrors { snapshot.errors["setup:" + code, default: 0] += count }
        var result = LoadTestResult(options: self.options, merchants: targets.count, wall: wall, snapshot: snapshot)
        if self.options.mode == .flow {
            result.correctness = await self.check(paid: snapshot.paid, targets: targets, ledgerBefore: before)
        }
        return result
    }

    var primary: LoadTestStep { self.options.mode == .flow ? .flow : .request }

    private func waitReady() async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        var last = "no answer"
        while clock.now < deadline {
            do throws(Failure) {
                let reply = try await self.send(.GET, "/readyz")
                if reply.status == 200 { return }
                last = "readyz answered \(reply.status)"
            } catch {
                last = error.code
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw LoadTestError("the server at \(self.options.url) is not ready after 60 s (\(last))")
    }

    package func loadTargets() async throws -> [Target] {
        let extra = max(0, self.options.merchants - 1)
        if extra > 0 { self.log("seeding \(extra) load merchants") }
        let reply: Reply
        do {
            reply = try await self.send(.POST, "/sandbox/load-merchants", body: "{\"count\":\(extra)}")
        } catch {
            throw LoadTestError("POST /sandbox/load-merchants failed: \(error.code)")
        }
        guard reply.status == 200 else {
            if reply.status == 404 {
                throw LoadTestError("\(self.options.url) has no sandbox: start it with `hygge serve --sandbox`")
            }
            throw LoadTestError("POST /sandbox/load-merchants answered \(reply.status): \(String(buffer: reply.body))")
        }
        struct Answer: Decodable {
            var demo: Target
            var merchants: [Target]
        }
        let answer = try JSONDecoder().decode(Answer.self, from: Data(buffer: reply.body))
        let targets = [answer.demo] + answer.merchants
        guard targets.allSatisfy({ !$0.variant_ids.isEmpty }) else {
            throw LoadTestError("a sandbox merchant has no products")
        }
        return targets
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    private func configureLatency() async throws -> Bool {
        var fields: [String] = []
        if let latency = self.options.shopifyLatency { fields.append("\"shopify_latency_ms\":\(Self.milliseconds(latency))") }
        if let latency = self.options.whopLatency { fields.append("\"whop_latency_ms\":\(Self.milliseconds(latency))") }
        guard !fields.isEmpty else { return false }
        do {
            let reply = try await self.send(.POST, "/sandbox/config", body: "{" + fields.joined(separator: ",") + "}")
            guard reply.status == 200 else { throw LoadTestError("POST /sandbox/config answered \(reply.status)") }
        } catch let error as Failure {
            throw LoadTestError("POST /sandbox/config failed: \(error.code)")
        }
        return true
    }

    private func resetLatency() async {
        var fields: [String] = []
        if self.options.shopifyLatency != nil { fields.append("\"shopify_latency_ms\":0") }
        if self.options.whopLatency != nil { fields.append("\"whop_latency_ms\":0") }
        _ = try? await self.send(.POST, "/sandbox/config", body: "{" + fields.joined(separator: ",") + "}")
    }

    // MARK: Driving

    struct PreparedCheckout: Sendable {
        var id: String
    }

    /// Hands out flow indices to the workers until the limit or the deadline.
    final class Dispenser: Sendable {
        private let next = Mutex(0)
        let limit: Int?
        let deadline: ContinuousClock.Instant?
        init(limit: Int?, deadline: ContinuousClock.Instant?) {
            self.limit = limit
            self.deadline = deadline
        }
        func claim() -> Int? {
            if let deadline = self.deadline, ContinuousClock.now >= deadline { return nil }
            return self.next.withLock { next in
                if let limit = self.limit, next >= limit { return nil }
                next += 1
                return next - 1
            }
        }
        var claimed: Int { self.next.withLock { $0 } }
    }

    private func drive(
        targets: [Target], prepared: [PreparedCheckout], recorder: LoadTestRecorder, limit: Int?,
        deadline: ContinuousClock.Instant?, showProgress: Bool
    ) async {
        let dispenser = Dispenser(limit: limit, deadline: deadline)
        let concurrency = max(1, self.options.concurrency)
        await withTaskGroup(of: Void.self) { outer in
            if showProgress, self.options.progress != .none {
                outer.addTask { await self.progressLoop(recorder: recorder, limit: limit, deadline: deadline) }
            }
            await withTaskGroup(of: Void.self) { workers in
                for _ in 0..<concurrency {
                    workers.addTask {
                        while let index = dispenser.claim() {
                            if let rate = self.options.rate, rate > 0 {
                                let due = recorder.start + .nanoseconds(Int64(Double(index) / rate * 1e9))
                                if let deadline, due >= deadline { return }
                                try? await Task.sleep(until: due, clock: .continuous)
                            }
                            await self.one(index, targets: targets, prepared: prepared, recorder: recorder)
                        }
                    }
                }
            }
            outer.cancelAll()
        }
        if showProgress, self.options.progress == .bar { self.log("\u{1B}[2K\r" + self.progressText(recorder, limit, deadline)) }
    }

    private func one(_ index: Int, targets: [Target], prepared: [PreparedCheckout], recorder: LoadTestRecorder) async {
        let target = targets[index % targets.count]
        let clock = ContinuousClock()
        let start = clock.now
        do throws(Failure) {
            switch self.options.mode {
            case .flow:
                try await self.flow(index, target: target, recorder: recorder)
            case .healthz:
                let reply = try await self.send(.GET, "/healthz")
                guard reply.status == 200 else { throw Failure(code: reply.errorCode) }
                recorder.record(.request, clock.now - start)
            case .createFromCart:
                _ = try await self.createCheckout(index, target: target)
                recorder.record(.request, clock.now - start)
            case .getPlan:
                _ = try await self.getPlan(prepared[index].id)
                recorder.record(.request, clock.now - start)
            case .webhook:
                try await self.webhook(index, target: target)
                recorder.record(.request, clock.now - start)
            }
        } catch {
            recorder.fail(error.code)
        }
    }

    private func createCheckout(_ index: Int, target: Target) async throws(Failure) -> (id: String, amount: Int64) {
        let variant = target.variant_ids[index % target.variant_ids.count]
        let quantity = 1 + index % 3
        let body =
            "{\"shop\":\"\(target.shop)\",\"currency\":\"USD\",\"items\":[{\"variant_id\":\(variant),\"quantity\":\(quantity)}]}"
        let reply = try await self.send(.POST, "/api/checkout/create-from-cart", body: body)
        guard reply.status == 201, let json = reply.json, let id = json["checkout_id"] as? String,
            let amount = ((json["total"] as? [String: Any])?["amount"] as? NSNumber)?.int64Value
        else { throw Failure(code: "create_from_cart:" + reply.errorCode) }
        return (id, amount)
    }

    private func getPlan(_ checkout: String) async throws(Failure) -> String {
        let reply = try await self.send(.POST, "/api/checkout/get-plan", body: "{\"checkout_id\":\"\(checkout)\"}")
        guard reply.status == 200, let plan = reply.json?["plan_id"] as? String else {
            throw Failure(code: "get_plan:" + reply.errorCode)
        }
        return plan
    }

    private func flow(_ index: Int, target: Target, recorder: LoadTestRecorder) async throws(Failure) {
        let clock = ContinuousClock()
        let start = clock.now
        let created: (id: String, amount: Int64)
        do {
            created = try await self.createCheckout(index, target: target)
        }
        let t1 = clock.now
        recorder.record(.createFromCart, t1 - start, at: t1)
        let plan: String
        do {
            plan = try await self.getPlan(created.id)
        } catch {
            throw Failure(code: error.code.hasPrefix("get_plan") ? error.code : "get_plan:" + error.code)
        }
        let t2 = clock.now
        recorder.record(.getPlan, t2 - t1, at: t2)
        let pay: Reply
        do {
            pay = try await self.send(.POST, "/sandbox/whop/pay", body: "{\"plan_id\":\"\(plan)\"}")
        } catch {
            throw Failure(code: "pay:" + error.code)
        }
        guard pay.status == 200, let webhook = (pay.json?["webhook_status"] as? NSNumber)?.intValue else {
            throw Failure(code: "pay:" + pay.errorCode)
        }
        guard webhook == 200 else { throw Failure(code: "pay:webhook_\(webhook)") }
        recorder.paid(PaidCheckout(shop: target.shop, checkoutID: created.id, amount: created.amount))
        let t3 = clock.now
        recorder.record(.pay, t3 - t2, at: t3)
        try await self.waitOrder(created.id)
        let t4 = clock.now
        recorder.record(.order, t4 - t3, at: t4)
        recorder.record(.flow, t4 - start, at: t4)
    }

    /// Statuses after which no order will come.
    static let hopeless: Set<String> = ["payment_failed", "amount_mismatch", "expired", "refunded", "partially_refunded"]

    private func waitOrder(_ checkout: String) async throws(Failure) {
        let clock = ContinuousClock()
        let deadline = clock.now + self.options.orderTimeout
        var delay = self.options.pollInterval
        while true {
            let reply: Reply
            do {
                reply = try await self.send(.GET, "/api/checkout/\(checkout)")
            } catch {
                throw Failure(code: "order:" + error.code)
            }
            guard reply.status == 200, let status = reply.json?["status"] as? String else {
                throw Failure(code: "order:" + reply.errorCode)
            }
            if status == "order_synced" { return }
            if Self.hopeless.contains(status) { throw Failure(code: "order:status_" + status) }
            if clock.now + delay > deadline { throw Failure(code: "order:timeout_" + status) }
            try? await Task.sleep(for: delay)
            delay = min(delay * 1.5, self.options.pollIntervalMax)
        }
    }

    private func webhook(_ index: Int, target: Target) async throws(Failure) {
        let id = "msg_lt_\(self.runID)_\(index)"
        let timestamp = String(Timestamp.now.seconds)
        let body =
            "{\"id\":\"\(id)\",\"api_version\":\"v1\",\"timestamp\":\"\(timestamp)\",\"type\":\"loadtest.ping\",\"company_id\":\"\(target.company_id)\",\"data\":{\"id\":\"lt_\(index)\"}}"
        let signature = StandardWebhooks.sign(secret: target.webhook_secret, id: id, timestamp: timestamp, body: Array(body.utf8))
        let reply = try await self.send(
            .POST, "/api/webhooks/whop", body: body,
            headers: [("webhook-id", id), ("webhook-timestamp", timestamp), ("webhook-signature", signature)])
        guard reply.status == 200 else { throw Failure(code: "webhook:" + reply.errorCode) }
    }

    /// get-plan mode: the checkouts to plan, created first (not measured).
    private func prepareCheckouts(targets: [Target]) async -> ([PreparedCheckout], [String: Int]) {
        let count = self.options.checkouts ?? 2000
        self.log("creating \(count) checkouts for get-plan")
        let dispenser = Dispenser(limit: count, deadline: nil)
        let results = Locked<(ids: [Int: String], errors: [String: Int])>(([:], [:]))
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, self.options.concurrency) {
                group.addTask {
                    while let index = dispenser.claim() {
                        do throws(Failure) {
                            let created = try await self.createCheckout(index, target: targets[index % targets.count])
                            results.withLock { $0.ids[index] = created.id }
                        } catch {
                            results.withLock { $0.errors[error.code, default: 0] += 1 }
                        }
                    }
                }
            }
        }
        let (ids, errors) = results.withLock { ($0.ids, $0.errors) }
        return (ids.sorted { $0.key < $1.key }.map { PreparedCheckout(id: $0.value) }, errors)
    }

    // MARK: Progress

    private func progressLoop(recorder: LoadTestRecorder, limit: Int?, deadline: ContinuousClock.Instant?) async {
        let bar = self.options.progress == .bar
        let every: Duration = bar ? .milliseconds(200) : .seconds(2)
        while !Task.isCancelled {
            do { try await Task.sleep(for: every) } catch { return }
            let text = self.progressText(recorder, limit, deadline)
            self.log(bar ? "\u{1B}[2K\r" + text + "\u{1B}[0K" : "progress: " + text)
        }
    }

    private func progressText(_ recorder: LoadTestRecorder, _ limit: Int?, _ deadline: ContinuousClock.Instant?) -> String {
        let (completed, failed) = recorder.counts
        let done = completed + failed
        let now = ContinuousClock.now
        var fraction = 0.0
        if let limit, limit > 0 { fraction = Double(done) / Double(limit) }
        if let deadline, let total = self.options.duration {
            let elapsed = now - recorder.start
            fraction = max(fraction, min(1, Self.seconds(elapsed) / max(0.001, Self.seconds(total))))
            _ = deadline
        }
        fraction = min(1, fraction)
        let (rate, p99) = recorder.recent(now: now)
        let unit = self.options.mode == .flow ? "checkouts" : "requests"
        let count = limit.map { "\(done)/\($0)" } ?? "\(done)"
        let stats = "\(count) \(unit)  \(rate)/s  p99 \(String(format: "%.1f", Double(p99) / 1000)) ms  errors \(failed)"
        guard self.options.progress == .bar else { return stats }
        let width = 30
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        return "[\(bar)] \(String(format: "%3.0f", fraction * 100))%  " + stats
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
