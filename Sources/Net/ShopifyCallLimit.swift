import Foundation
import Synchronization

/// Shopify's REST leaky bucket as the `X-Shopify-Shop-Api-Call-Limit: used/limit` header reports it.
package struct ShopifyCallLimit: Hashable, Sendable {
    package var used: Int
    package var limit: Int

    package init(used: Int, limit: Int) {
        self.used = used
        self.limit = limit
    }

    /// Parses `39/40`; nil for anything else.
    package init?(header: String) {
        let parts = header.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2,
            let used = Int(parts[0].trimmingCharacters(in: .whitespaces)),
            let limit = Int(parts[1].trimmingCharacters(in: .whitespaces)),
            (0...100_000).contains(used), (1...100_000).contains(limit)
        else { return nil }
        self.used = used
        self.limit = limit
    }

    /// Calls drain at `limit / 20` per second: 2/s for the standard bucket of 40, 4/s for Plus's 80.
    package var leakPerSecond: Double { Double(self.limit) / 20 }
}

/// Per-shop bucket readings, so that a call to a shop whose bucket is (nearly) full waits for it to drain instead
/// of earning a 429. Each permitted call reserves its slot, so concurrent callers queue behind one another.
///
/// Isolation: a `Mutex` around a small dictionary, never held across an `await`.
package final class ShopifyCallLimiter: Sendable {
    /// Slots left free after our call: the bucket is shared with the merchant's other apps.
    package static let headroom = 1
    /// Longest wait for one call (a full bucket of 40 drains in 20 s).
    package static let waitMax: Duration = .seconds(20)
    /// Shops remembered at most; drained readings are dropped first.
    static let shopsMax = 10_000

    private struct Reading {
        var used: Double
        var limit: Int
        var at: ContinuousClock.Instant
    }
    private let readings = Mutex<[String: Reading]>([:])

    package init() {}

    /// Records what Shopify answered for `shop`.
    package func record(_ shop: String, _ limit: ShopifyCallLimit, now: ContinuousClock.Instant = .now) {
        self.readings.withLock { readings in
            if readings.count >= Self.shopsMax, readings[shop] == nil {
                readings = readings.filter { Self.estimate($0.value, now: now) > 0 }
                if readings.count >= Self.shopsMax { readings = [:] }
            }
            readings[shop] = Reading(used: Double(limit.used), limit: limit.limit, at: now)
        }
    }

    /// Reserves a slot for one call to `shop`; returns how long to wait before sending it (zero when the bucket has
    /// room, or nothing is known about it).
    package func reserve(_ shop: String, now: ContinuousClock.Instant = .now) -> Duration {
        self.readings.withLock { readings in
            guard let reading = readings[shop] else { return .zero }
            let leak = Double(reading.limit) / 20
            let allowed = Double(reading.limit - Self.headroom - 1)
            let used = Self.estimate(reading, now: now)
            let seconds = max(0, (used - allowed) / leak)
            let wait = min(Duration.milliseconds(Int64((seconds * 1000).rounded(.up))), Self.waitMax)
            // When the call goes out the bucket holds min(used, allowed) (it waited for the drain if it was
            // fuller); the call adds one.
            readings[shop] = Reading(used: min(used, allowed) + 1, limit: reading.limit, at: now.advanced(by: wait))
            return wait
        }
    }

    /// The bucket's fill `now`, by the leak since the reading (in the future for reserved calls).
    private static func estimate(_ reading: Reading, now: ContinuousClock.Instant) -> Double {
        let elapsed = now - reading.at
        let (seconds, attoseconds) = elapsed.components
        let elapsedSeconds = Double(seconds) + Double(attoseconds) / 1e18
        return max(0, reading.used - elapsedSeconds * Double(reading.limit) / 20)
    }
}
