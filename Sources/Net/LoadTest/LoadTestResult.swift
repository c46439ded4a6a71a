import Foundation
package import Histogram

/// What a load test measured and found; `--json` prints it, the text and HTML reports render it.
package struct LoadTestResult: Sendable, Encodable {
    /// Latency percentiles of one step, in milliseconds.
    package struct StepStats: Sendable, Encodable, Equatable {
        package var count: UInt64
        package var mean_ms: Double
        package var p50_ms: Double
        package var p90_ms: Double
        package var p99_ms: Double
        package var p99_9_ms: Double
        package var max_ms: Double
    }

    /// One second of the run (the primary step: flows, or requests).
    package struct Point: Sendable, Encodable {
        package var t: Int
        package var completed: Int
        package var errors: Int
        package var p50_ms: Double
        package var p99_ms: Double
        package var max_ms: Double
    }

    /// The correctness check of a flow run.
    package struct Correctness: Sendable, Encodable {
        /// Checkouts whose payment webhook was acknowledged.
        package var paid = 0
        /// Of those, how many have exactly one Shopify order with the checkout's total.
        package var orders_ok = 0
        package var missing = 0
        package var duplicates = 0
        package var wrong_amount = 0
        /// A few offending checkout ids.
        package var samples: [String] = []
        /// Why the orders could not be listed, if they could not.
        package var orders_error: String?
        package var ledger = Ledger()

        package var ok: Bool { self.orders_error == nil && self.orders_ok == self.paid && (!self.ledger.checked || self.ledger.ok) }
    }

    /// Ledger totals before vs after (`/admin/merchants`, this month).
    package struct Ledger: Sendable, Encodable {
        package var checked = false
        package var ok = false
        package var detail = "skipped: no admin token"
    }

    /// The server `--spawn` started.
    package struct Server: Sendable, Encodable {
        package var spawned: Bool
        package var exit_status: Int32?
        package var stop_seconds: Double?
        package var log: String?
        package init(spawned: Bool) { self.spawned = spawned }
    }

    package var mode: String
    package var url: String
    package var merchants: Int
    package var concurrency: Int
    package var checkouts_requested: Int?
    package var duration_requested_s: Double?
    package var shopify_latency_ms: Double?
    package var whop_latency_ms: Double?
    package var completed: Int
    package var failed: Int
    package var wall_s: Double
    package var throughput_per_s: Double
    package var steps: [String: StepStats]
    package var errors: [String: Int]
    package var timeline: [Point]
    package var correctness: Correctness?
    package var server: Server?
    /// The raw histograms, for the HTML report (not in the JSON).
    package var histograms: [LoadTestStep: Histogram<UInt64>]

    enum CodingKeys: String, CodingKey {
        case mode, url, merchants, concurrency, checkouts_requested, duration_requested_s, shopify_latency_ms
        case whop_latency_ms, completed, failed, wall_s, throughput_per_s, steps, errors, timeline, correctness, server
    }

    package init(options: LoadTestOptions, merchants: Int, wall: Duration, snapshot: LoadTestRecorder.Snapshot) {
        self.mode = options.mode.rawValue
        self.url = options.url
        self.merchants = merchants
        self.concurrency = options.concurrency
        self.checkouts_requested = options.checkouts
        self.duration_requested_s = options.duration.map(LoadTestRunner.seconds)
        self.shopify_latency_ms = options.shopifyLatency.map { LoadTestRunner.seconds($0) * 1000 }
        self.whop_latency_ms = options.whopLatency.map { LoadTestRunner.seconds($0) * 1000 }
        self.completed = snapshot.completed
        self.failed = snapshot.failed
        self.wall_s = LoadTestRunner.seconds(wall)
        self.throughput_per_s = self.wall_s > 0 ? Double(snapshot.completed + snapshot.failed) / self.wall_s : 0
        self.histograms = snapshot.steps
        var steps: [String: StepStats] = [:]
        for (step, histogram) in snapshot.steps { steps[step.rawValue] = Self.stats(histogram) }
        self.steps = steps
        self.errors = snapshot.errors
        let last = snapshot.timeline.keys.max() ?? -1
        self.timeline = (0..<(last + 1)).map { second in
            let slice = snapshot.timeline[second] ?? LoadTestRecorder.Second()
            let has = slice.latency.totalCount > 0
            return Point(
                t: second, completed: slice.completed, errors: slice.errors,
                p50_ms: has ? Double(slice.latency.valueAtPercentile(50)) / 1000 : 0,
                p99_ms: has ? Double(slice.latency.valueAtPercentile(99)) / 1000 : 0,
                max_ms: has ? Double(slice.latency.max) / 1000 : 0)
        }
    }

    static func stats(_ histogram: Histogram<UInt64>) -> StepStats {
        func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }
        return StepStats(
            count: histogram.totalCount, mean_ms: histogram.mean / 1000, p50_ms: ms(histogram.valueAtPercentile(50)),
            p90_ms: ms(histogram.valueAtPercentile(90)), p99_ms: ms(histogram.valueAtPercentile(99)),
            p99_9_ms: ms(histogram.valueAtPercentile(99.9)), max_ms: ms(histogram.max))
    }

    /// Every error, setup errors included.
    package var errorCount: Int { self.errors.values.reduce(0, +) }

    /// No errors, every paid checkout ordered exactly once, ledger consistent, spawned server stopped cleanly.
    package var passed: Bool {
        self.errorCount == 0 && (self.correctness?.ok ?? true) && (self.server?.exit_status ?? 0) == 0
    }

    private var primaryStats: StepStats? { self.steps[self.mode == "flow" ? "flow" : "request"] }

    /// The last line: `loadtest: N checkouts in T s (R/s), p50 X ms, p99 Y ms, orders N/N, errors E`.
    package var summaryLine: String {
        let stats = self.primaryStats
        let n = self.completed + self.failed
        let head = "loadtest: \(n) \(self.mode == "flow" ? "checkouts" : "\(self.mode) requests") in "
            + "\(Self.fixed(self.wall_s, 1)) s (\(Self.fixed(self.throughput_per_s, 1))/s), "
            + "p50 \(Self.ms(stats?.p50_ms ?? 0)) ms, p99 \(Self.ms(stats?.p99_ms ?? 0)) ms, "
        let orders = self.correctness.map { "orders \($0.orders_ok)/\($0.paid), " } ?? ""
        return head + orders + "errors \(self.errorCount)"
    }

    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
    static func ms(_ value: Double) -> String { value < 10 ? Self.fixed(value, 2) : Self.fixed(value, 1) }

    /// The human-readable report; its last line is `summaryLine`.
    package var text: String {
        var lines: [String] = []
        var head = "hygge loadtest: \(self.mode) against \(self.url), \(self.merchants) merchant(s), concurrency \(self.concurrency)"
        if self.shopify_latency_ms != nil || self.whop_latency_ms != nil {
            head += ", emulated latency shopify \(Self.ms(self.shopify_latency_ms ?? 0)) ms / whop \(Self.ms(self.whop_latency_ms ?? 0)) ms"
        }
        lines.append(head)
        lines.append(
            "step".padding(toLength: 18, withPad: " ", startingAt: 0)
                + ["count", "mean", "p50", "p90", "p99", "p99.9", "max"].map { $0.leftPad(9) }.joined() + "   (ms)")
        for step in LoadTestStep.allCases {
            guard let stats = self.steps[step.rawValue] else { continue }
            let cells = [stats.mean_ms, stats.p50_ms, stats.p90_ms, stats.p99_ms, stats.p99_9_ms, stats.max_ms]
                .map { Self.ms($0).leftPad(9) }
            lines.append(step.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0) + "\(stats.count)".leftPad(9) + cells.joined())
        }
        if self.errors.isEmpty {
            lines.append("errors: none")
        } else {
            lines.append("errors by code:")
            for (code, count) in self.errors.sorted(by: { $0.value > $1.value }) { lines.append("  \(code): \(count)") }
        }
        if let check = self.correctness {
            if let error = check.orders_error {
                lines.append("correctness: orders could not be listed: \(error)")
            } else {
                var text = "correctness: \(check.orders_ok)/\(check.paid) paid checkouts have exactly one Shopify order with their total"
                if check.missing + check.duplicates + check.wrong_amount > 0 {
                    text += " (missing \(check.missing), duplicated \(check.duplicates), wrong amount \(check.wrong_amount); e.g. \(check.samples.prefix(5).joined(separator: ", ")))"
                }
                lines.append(text)
            }
            lines.append("ledger: " + check.ledger.detail)
        }
        if let server = self.server, server.spawned {
            lines.append(
                "spawned server: exit status \(server.exit_status.map(String.init) ?? "?") after SIGTERM"
                    + (server.stop_seconds.map { " (\(Self.fixed($0, 2)) s)" } ?? "")
                    + (server.exit_status == 0 ? "" : ", log: \(server.log ?? "-")"))
        }
        lines.append(self.summaryLine)
        return lines.joined(separator: "\n")
    }

    /// `--json`: one JSON object.
    package func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

extension String {
    func leftPad(_ width: Int) -> String {
        self.count >= width ? " " + self : String(repeating: " ", count: width - self.count) + self
    }
}
