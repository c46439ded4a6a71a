import Foundation
import Histogram

extension LoadTestResult {
    private static let colors: [LoadTestStep: String] = [
        .createFromCart: "#1f77b4", .getPlan: "#ff7f0e", .pay: "#2ca02c", .order: "#9467bd", .flow: "#d62728",
        .request: "#d62728",
    ]

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    private static func number(_ value: Double) -> String { String(format: "%.1f", value) }

    /// A "nice" axis maximum at or above `value`.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        let magnitude = pow(10, floor(log10(value)))
        for step in [1.0, 2.0, 2.5, 5.0, 10.0] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }

    private struct Frame {
        var width = 880.0
        var height = 300.0
        var left = 64.0
        var right = 44.0
        var top = 16.0
        var bottom = 40.0
        var plotWidth: Double { self.width - self.left - self.right }
        var plotHeight: Double { self.height - self.top - self.bottom }
    }

    /// Axes, grid and labels; `xTicks`/`yTicks` are (value in plot units 0…1, label).
    private static func axes(_ frame: Frame, xTicks: [(Double, String)], yTicks: [(Double, String)], xLabel: String, yLabel: String)
        -> String
    {
        var svg = ""
        for (position, label) in yTicks {
            let y = frame.top + frame.plotHeight * (1 - position)
            svg += "<line x1=\"\(number(frame.left))\" y1=\"\(number(y))\" x2=\"\(number(frame.width - frame.right))\" y2=\"\(number(y))\" stroke=\"#e4e4e4\"/>"
            svg += "<text x=\"\(number(frame.left - 6))\" y=\"\(number(y + 4))\" text-anchor=\"end\">\(escape(label))</text>"
        }
        for (position, label) in xTicks {
            let x = frame.left + frame.plotWidth * position
            svg += "<line x1=\"\(number(x))\" y1=\"\(number(frame.top))\" x2=\"\(number(x))\" y2=\"\(number(frame.top + frame.plotHeight))\" stroke=\"#f0f0f0\"/>"
            svg += "<text x=\"\(number(x))\" y=\"\(number(frame.height - frame.bottom + 16))\" text-anchor=\"middle\">\(escape(label))</text>"
        }
        svg += "<rect x=\"\(number(frame.left))\" y=\"\(number(frame.top))\" width=\"\(number(frame.plotWidth))\" height=\"\(number(frame.plotHeight))\" fill=\"none\" stroke=\"#999\"/>"
        svg += "<text x=\"\(number(frame.left + frame.plotWidth / 2))\" y=\"\(number(frame.height - 6))\" text-anchor=\"middle\">\(escape(xLabel))</text>"
        svg += "<text transform=\"translate(14,\(number(frame.top + frame.plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>"
        return svg
    }

    private static func linearTicks(max: Double, count: Int = 5, format: (Double) -> String) -> [(Double, String)] {
        (0...count).map { index in
            let value = max * Double(index) / Double(count)
            return (Double(index) / Double(count), format(value))
        }
    }

    private static func polyline(_ points: [(Double, Double)], color: String, width: Double = 1.8, dash: Bool = false) -> String {
        guard !points.isEmpty else { return "" }
        let list = points.map { "\(number($0.0)),\(number($0.1))" }.joined(separator: " ")
        return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(width)\"\(dash ? " stroke-dasharray=\"5,3\"" : "") points=\"\(list)\"/>"
    }

    private static func legend(_ entries: [(String, String, Bool)], frame: Frame) -> String {
        var svg = ""
        var x = frame.left + 10
        for (label, color, dash) in entries {
            svg += "<line x1=\"\(number(x))\" y1=\"\(number(frame.top + 14))\" x2=\"\(number(x + 22))\" y2=\"\(number(frame.top + 14))\" stroke=\"\(color)\" stroke-width=\"2.5\"\(dash ? " stroke-dasharray=\"5,3\"" : "")/>"
            svg += "<text x=\"\(number(x + 27))\" y=\"\(number(frame.top + 18))\">\(escape(label))</text>"
            x += 40 + Double(label.count) * 7
        }
        return svg
    }

    private func wrap(_ body: String, _ frame: Frame, title: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"\(Self.escape(title))\" viewBox=\"0 0 \(Self.number(frame.width)) \(Self.number(frame.height))\" width=\"\(Self.number(frame.width))\" height=\"\(Self.number(frame.height))\" font-family=\"system-ui, sans-serif\" font-size=\"11\">\(body)</svg>"
    }

    /// Completed per second (bars) over the run.
    private func throughputSVG() -> String {
        let frame = Frame(height: 220)
        let seconds = max(1, self.timeline.count)
        let peak = Self.niceCeiling(Double(self.timeline.map { $0.completed + $0.errors }.max() ?? 1))
        let xMax = Self.niceCeiling(Double(seconds))
        var body = Self.axes(
            frame, xTicks: Self.linearTicks(max: xMax) { String(format: "%.0f", $0) },
            yTicks: Self.linearTicks(max: peak) { String(format: "%.0f", $0) }, xLabel: "seconds since start",
            yLabel: "per second")
        let barWidth = max(1, frame.plotWidth / xMax - 1)
        for point in self.timeline {
            let x = frame.left + frame.plotWidth * Double(point.t) / xMax
            let okHeight = frame.plotHeight * Double(point.completed) / peak
            let errorHeight = frame.plotHeight * Double(point.errors) / peak
            let base = frame.top + frame.plotHeight
            body += "<rect x=\"\(Self.number(x))\" y=\"\(Self.number(base - okHeight))\" width=\"\(Self.number(barWidth))\" height=\"\(Self.number(okHeight))\" fill=\"#4c9be8\"><title>t=\(point.t)s: \(point.completed) ok, \(point.errors) errors</title></rect>"
            if point.errors > 0 {
                body += "<rect x=\"\(Self.number(x))\" y=\"\(Self.number(base - okHeight - errorHeight))\" width=\"\(Self.number(barWidth))\" height=\"\(Self.number(errorHeight))\" fill=\"#d62728\"/>"
            }
        }
        body += Self.legend([("completed", "#4c9be8", false), ("errors", "#d62728", false)], frame: frame)
        return self.wrap(body, frame, title: "throughput over time")
    }

    /// p50 / p99 / max of the primary step per second.
    private func latencyOverTimeSVG() -> String {
        let frame = Frame()
        let xMax = Self.niceCeiling(Double(max(1, self.timeline.count)))
        let yMax = Self.niceCeiling(self.timeline.map(\.max_ms).max() ?? 1)
        var body = Self.axes(
            frame, xTicks: Self.linearTicks(max: xMax) { String(format: "%.0f", $0) },
            yTicks: Self.linearTicks(max: yMax) { Self.ms($0) }, xLabel: "seconds since start", yLabel: "latency (ms)")
        let active = self.timeline.filter { $0.completed > 0 }
        func points(_ value: (Point) -> Double) -> [(Double, Double)] {
            active.map { point in
                (
                    frame.left + frame.plotWidth * (Double(point.t) + 0.5) / xMax,
                    frame.top + frame.plotHeight * (1 - min(1, value(point) / yMax))
                )
            }
        }
        body += Self.polyline(points(\.p50_ms), color: "#1f77b4")
        body += Self.polyline(points(\.p99_ms), color: "#d62728")
        for (x, y) in points(\.max_ms) {
            body += "<circle cx=\"\(Self.number(x))\" cy=\"\(Self.number(y))\" r=\"1.6\" fill=\"#888\"/>"
        }
        body += Self.legend([("p50", "#1f77b4", false), ("p99", "#d62728", false), ("max", "#888", true)], frame: frame)
        return self.wrap(body, frame, title: "latency over time")
    }

    /// Latency by percentile for every step, on HdrHistogram's usual 1/(1−p) axis.
    private func percentileSVG() -> String {
        let frame = Frame(height: 340)
        let steps = LoadTestStep.allCases.filter { self.histograms[$0] != nil }
        let decadesMax = 5.0  // 99.999 %
        let yMax = Self.niceCeiling(steps.compactMap { self.histograms[$0].map { Double($0.max) / 1000 } }.max() ?? 1)
        let xTicks: [(Double, String)] = [(0, "0%"), (1, "90%"), (2, "99%"), (3, "99.9%"), (4, "99.99%"), (5, "99.999%")]
            .map { ($0.0 / decadesMax, $0.1) }
        var body = Self.axes(
            frame, xTicks: xTicks, yTicks: Self.linearTicks(max: yMax) { Self.ms($0) }, xLabel: "percentile",
            yLabel: "latency (ms)")
        var legend: [(String, String, Bool)] = []
        for step in steps {
            guard let histogram = self.histograms[step], histogram.totalCount > 0 else { continue }
            var points: [(Double, Double)] = []
            for value in histogram.percentiles(ticksPerHalfDistance: 5) {
                let percentile = min(value.percentile, 99.9999)
                let decades = min(decadesMax, log10(100 / max(1e-9, 100 - percentile)))
                points.append(
                    (
                        frame.left + frame.plotWidth * decades / decadesMax,
                        frame.top + frame.plotHeight * (1 - min(1, Double(value.value) / 1000 / yMax))
                    ))
                if value.percentile >= 100 { break }
            }
            let color = Self.colors[step] ?? "#333"
            body += Self.polyline(points, color: color, width: step == .flow || step == .request ? 2.6 : 1.8)
            legend.append((step.rawValue, color, false))
        }
        body += Self.legend(legend, frame: frame)
        return self.wrap(body, frame, title: "latency by percentile")
    }

    /// A self-contained HTML page: summary, tables, and inline SVG plots (no scripts, no external resources).
    package var html: String {
        var rows = ""
        for step in LoadTestStep.allCases {
            guard let stats = self.steps[step.rawValue] else { continue }
            rows += "<tr><td>\(step.rawValue)</td><td>\(stats.count)</td>"
                + [stats.mean_ms, stats.p50_ms, stats.p90_ms, stats.p99_ms, stats.p99_9_ms, stats.max_ms]
                .map { "<td>\(Self.ms($0))</td>" }.joined() + "</tr>"
        }
        let errors =
            self.errors.isEmpty
            ? "<p>No errors.</p>"
            : "<table><tr><th>code</th><th>count</th></tr>"
                + self.errors.sorted { $0.value > $1.value }.map { "<tr><td>\(Self.escape($0.key))</td><td>\($0.value)</td></tr>" }
                .joined() + "</table>"
        var correctness = ""
        if let check = self.correctness {
            let ok = check.ok
            correctness =
                "<h2>Correctness</h2><p class=\"\(ok ? "ok" : "bad")\">\(check.orders_ok)/\(check.paid) paid checkouts have exactly one Shopify order with their total"
                + (check.orders_error.map { " — orders could not be listed: \(Self.escape($0))" } ?? "")
                + (check.missing + check.duplicates + check.wrong_amount > 0
                    ? " (missing \(check.missing), duplicated \(check.duplicates), wrong amount \(check.wrong_amount))" : "")
                + ".</p><p>Ledger: \(Self.escape(check.ledger.detail))</p>"
        }
        let latency =
            (self.shopify_latency_ms != nil || self.whop_latency_ms != nil)
            ? "emulated upstream latency: Shopify \(Self.ms(self.shopify_latency_ms ?? 0)) ms, Whop \(Self.ms(self.whop_latency_ms ?? 0)) ms"
            : "no emulated upstream latency"
        let primary = self.mode == "flow" ? "checkout flow" : "\(self.mode) request"
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>hygge loadtest — \(Self.escape(self.mode))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:24px auto;max-width:920px;color:#222}
            h1{font-size:20px} h2{font-size:16px;margin-top:28px}
            table{border-collapse:collapse;font-variant-numeric:tabular-nums}
            td,th{border:1px solid #ddd;padding:3px 9px;text-align:right} td:first-child,th:first-child{text-align:left}
            th{background:#f5f5f5} .ok{color:#17702a} .bad{color:#b00020;font-weight:bold}
            code{background:#f3f3f3;padding:1px 4px} figure{margin:8px 0 0 0} figcaption{color:#555;font-size:13px}
            </style></head><body>
            <h1>hygge loadtest: \(Self.escape(self.mode)) against <code>\(Self.escape(self.url))</code></h1>
            <p>\(self.merchants) merchant(s), concurrency \(self.concurrency), \(latency).
            \(self.completed + self.failed) \(primary)s in \(Self.fixed(self.wall_s, 1)) s
            (\(Self.fixed(self.throughput_per_s, 1))/s).</p>
            <p><code>\(Self.escape(self.summaryLine))</code></p>
            <h2>Latency per step (ms, HdrHistogram)</h2>
            <table><tr><th>step</th><th>count</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>\(rows)</table>
            <h2>Latency by percentile</h2>
            <figure>\(self.percentileSVG())<figcaption>Each step's latency at each percentile (x: 1/(1−p), log scale).</figcaption></figure>
            <h2>Latency over time (\(primary))</h2>
            <figure>\(self.latencyOverTimeSVG())<figcaption>p50 and p99 of the \(primary)s that finished in each second; grey dots: the second's maximum.</figcaption></figure>
            <h2>Throughput over time</h2>
            <figure>\(self.throughputSVG())<figcaption>\(primary)s finished per second (red: failed).</figcaption></figure>
            <h2>Errors by code</h2>
            \(errors)
            \(correctness)
            </body></html>

            """
    }
}
