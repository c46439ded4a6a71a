import Foundation
package import Histogram
import Synchronization

/// One timed step of the load test.
package enum LoadTestStep: String, Sendable, CaseIterable, Codable {
    /// `POST /api/checkout/create-from-cart`.
    case createFromCart = "create_from_cart"
    /// `POST /api/checkout/get-plan`.
    case getPlan = "get_plan"
    /// `POST /sandbox/whop/pay`: the emulated Whop payment plus the signed webhook's durable ack.
    case pay
    /// From the pay answer until `GET /api/checkout/{id}` says `order_synced` (polled).
    case order
    /// The whole flow of one virtual buyer.
    case flow
    /// One request of a single-endpoint mode.
    case request
}

/// A checkout whose payment the webhook acknowledged: it must have exactly one Shopify order.
package struct PaidCheckout: Sendable, Hashable, Codable {
    package var shop: String
    package var checkoutID: String
    /// Minor units, USD.
    package var amount: Int64

    package init(shop: String, checkoutID: String, amount: Int64) {
        self.shop = shop
        self.checkoutID = checkoutID
        self.amount = amount
    }
}

/// Collects latencies (HdrHistogram, microseconds), errors by code and a per-second timeline.
///
/// Shared by every virtual buyer; one short lock per record. Histograms track 1 µs … 10 min at three significant
/// digits (the timeline's per-second histograms at two).
package final class LoadTestRecorder: Sendable {
    /// Per-second slice of the primary step (the flow, or the request in single-endpoint modes).
    package struct Second: Sendable {
        package var completed = 0
        package var errors = 0
        package var latency = Histogram<UInt64>(
            lowestDiscernibleValue: 1, highestTrackableValue: LoadTestRecorder.highestMicros,
            numberOfSignificantValueDigits: .two)
    }

    struct State {
        var steps: [LoadTestStep: Histogram<UInt64>] = [:]
        var errors: [String: Int] = [:]
        var completed = 0
        var failed = 0
        var timeline: [Int: Second] = [:]
        var paid: [PaidCheckout] = []
    }

    /// Ten minutes in microseconds: longer samples are clamped to it.
    static let highestMicros: UInt64 = 600_000_000

    private let state = Mutex(State())
    package let start: ContinuousClock.Instant
    /// The step whose completions count as "done" (flow, or request).
    package let primary: LoadTestStep

    package init(primary: LoadTestStep, start: ContinuousClock.Instant = .now) {
        self.primary = primary
        self.start = start
    }

    static func micros(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        let value = max(0, seconds) * 1_000_000 + max(0, attoseconds) / 1_000_000_000_000
        return UInt64(min(max(1, value), Int64(Self.highestMicros)))
    }

    private func second(_ at: ContinuousClock.Instant) -> Int {
        max(0, Int((at - self.start).components.seconds))
    }

    /// Records one successful step.
    package func record(_ step: LoadTestStep, _ duration: Duration, at end: ContinuousClock.Instant = .now) {
        let micros = Self.micros(duration)
        let second = self.second(end)
        let primary = self.primary
        self.state.withLock { state in
            if state.steps[step] == nil {
                state.steps[step] = Histogram<UInt64>(
                    lowestDiscernibleValue: 1, highestTrackableValue: Self.highestMicros, numberOfSignificantValueDigits: .three)
            }
            _ = state.steps[step]?.record(micros)
            if step == primary {
                state.completed += 1
                state.timeline[second, default: Second()].completed += 1
                _ = state.timeline[second, default: Second()].latency.record(micros)
            }
        }
    }

    /// Records a failed flow (or request) with its error code.
    package func fail(_ code: String, at end: ContinuousClock.Instant = .now) {
        let second = self.second(end)
        self.state.withLock { state in
            state.failed += 1
            state.errors[code, default: 0] += 1
            state.timeline[second, default: Second()].errors += 1
        }
    }

    /// Notes a checkout whose payment was acknowledged.
    package func paid(_ checkout: PaidCheckout) {
        self.state.withLock { $0.paid.append(checkout) }
    }

    /// Finished flows so far: (succeeded, failed).
    package var counts: (completed: Int, failed: Int) {
        self.state.withLock { ($0.completed, $0.failed) }
    }

    /// The p99 of the primary step in the last complete second, in microseconds (progress display).
    package func recent(now: ContinuousClock.Instant = .now) -> (perSecond: Int, p99Micros: UInt64) {
        let second = self.second(now) - 1
        return self.state.withLock { state in
            guard let slice = state.timeline[second] else { return (0, 0) }
            return (slice.completed, slice.latency.totalCount > 0 ? slice.latency.valueAtPercentile(99) : 0)
        }
    }

    /// A copy of everything recorded.
    package func snapshot() -> Snapshot {
        self.state.withLock { state in
            Snapshot(
                steps: state.steps, errors: state.errors, completed: state.completed, failed: state.failed,
                timeline: state.timeline, paid: state.paid)
        }
    }

    /// An immutable copy of the recorder's data.
    package struct Snapshot: Sendable {
        package var steps: [LoadTestStep: Histogram<UInt64>]
        package var errors: [String: Int]
        package var completed: Int
        package var failed: Int
        package var timeline: [Int: Second]
        package var paid: [PaidCheckout]
    }
}

/// A lock-protected value that concurrent tasks can share (a `Mutex` in a class, so closures capture a reference).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { self.mutex = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { self.mutex.withLock { body(&$0) } }
}
