import Foundation
import Synchronization
package import Logging
import Metrics
import ServiceLifecycle

/// Posts paid orders to Shopify from the journaled outbox, exactly once per checkout.
///
/// Each attempt is journaled before its POST. Any attempt after the first (including after a crash) first lists
/// Shopify's orders created while the earlier attempts could have created one and matches `source_identifier`,
/// because Shopify's order endpoint has no idempotency key: an ambiguous failure (timeout, reset, 5xx) may have
/// created the order. The window runs from the first attempt − `lookupMarginBefore` to the latest earlier attempt +
/// `lookupMarginAfter`; both are journaled (`OrderSync.firstAttemptAt`, `.lastAttemptAt`), so the window is as tight
/// after a restart as before it. Bounding both ends keeps the listing short for a busy shop (the lookup reads at
/// most `ShopifyHTTPClient.findOrderPagesMax` pages) and for a retry made long after the attempts.
package final class OrderOutbox: Service {
    private let registry: MerchantRegistry
    private let concurrencyMax: Int
    private let logger: Logger
    private let depth = Gauge(label: "hygge_outbox_depth")
    private let retries = Counter(label: "hygge_outbox_retries_total")
    private let inFlight = ManagedAtomicCounter()
    /// When this outbox started: every attempt made before a restart started before it (the latest attempt of
    /// state restored from a snapshot written before `OrderSync.lastAttemptAt` existed).
    private let startedAt: Timestamp

    /// How far before the first attempt the lookup looks: the clock difference between this host and Shopify it
    /// tolerates (the host's clock is expected to be NTP-synchronised).
    static let lookupMarginBefore: Duration = .seconds(60)
    /// How far after the latest earlier attempt's start the lookup looks: that attempt's request timeout, Shopify's
    /// processing, and the clock difference.
    static let lookupMarginAfter: Duration = .seconds(300)

    /// - Parameter concurrencyMax: order syncs running at once.
    package init(registry: MerchantRegistry, concurrencyMax: Int = 32, logger: Logger) {
        self.registry = registry
        self.concurrencyMax = concurrencyMax
        self.logger = logger
        self.startedAt = .now
    }

    /// The `created_at` window in which the earlier attempts recorded in `sync` may have created the order (nil: no
    /// attempt yet).
    func lookupWindow(_ sync: OrderSync) -> (min: Timestamp, max: Timestamp)? {
        guard let first = sync.firstAttemptAt else { return nil }
        let latest = sync.lastAttemptAt ?? self.startedAt
        return (first.adding(.zero - Self.lookupMarginBefore), latest.adding(Self.lookupMarginAfter))
    }

    package func run() async throws {
        await self.registry.requeuePendingOrders()
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await job in self.registry.environment.orders.stream.cancelOnGracefulShutdown() {
                if running >= self.concurrencyMax {
                    await group.next()
                    running -= 1
                }
                running += 1
                self.depth.record(self.inFlight.add(1))
                group.addTask {
                    await self.sync(job)
                    self.depth.record(self.inFlight.add(-1))
                }
            }
            group.cancelAll()
        }
    }

    /// Runs one checkout's order sync to an order, a give-up, or cancellation.
    package func sync(_ job: OrderJob) async {
        guard let merchant = self.registry.merchant(job.merchant) else { return }
        let settings = self.registry.environment.settings
        let shopify = self.registry.environment.shopify
        var delay = settings.orderBackoffBase
        while !Task.isCancelled {
            guard let work = try? await merchant.orderWork(job.checkout) else { return }
            do {
                // Every pass is one attempt, the lookup included: a lookup that keeps failing (Shopify down, an
                // unreadable listing) must end in order_sync_failed too, never re-POST blindly and never loop.
                let window = self.lookupWindow(work.sync)
                try await merchant.orderAttemptStarted(job.checkout, now: .now)
                let order: ShopifyOrder
                // An earlier attempt may have created the order: one of this round (a timeout or a crash leaves no
                // certain outcome), or an ambiguous one before a manual retry (which restarts the count).
                if work.sync.attempts > 0 || work.sync.ambiguous, let window,
                    let existing = try await shopify.findOrder(
                        shop: job.merchant, token: work.token, sourceIdentifier: job.checkout.rawValue,
                        createdAtMin: window.min, createdAtMax: window.max)
                {
                    order = existing
                } else {
                    order = try await shopify.createOrder(shop: job.merchant, token: work.token, order: work.request)
                }
                try? await merchant.orderSynced(job.checkout, order: order)
                return
            } catch let error as GatewayError {
                let giveUp = !error.isRetryable || work.sync.attempts + 1 >= settings.orderAttemptsMax
                self.retries.increment()
                self.logger.warning(
                    "order sync attempt failed",
                    metadata: [
                        "merchant.id": "\(job.merchant)", "checkout.id": "\(job.checkout)", "error": "\(error.label)",
                        "attempt": "\(work.sync.attempts + 1)", "give_up": "\(giveUp)",
                    ])
                try? await merchant.orderAttemptFailed(
                    job.checkout, error: error.label, ambiguous: error.isAmbiguous, giveUp: giveUp)
                if giveUp { return }
                var wait = Retry.jittered(delay)
                if case .rateLimited(let retryAfter?) = error { wait = max(wait, retryAfter) }
                delay = min(delay * 2, settings.orderBackoffMax)
                try? await Task.sleep(for: wait)
            } catch {
                // Journal unavailable: stop; the sync stays pending and is requeued on restart.
                self.logger.error(
                    "order sync stopped", metadata: ["checkout.id": "\(job.checkout)", "error": "\(error)"])
                return
            }
        }
    }
}

/// A tiny lock-protected counter for the outbox depth gauge.
final class ManagedAtomicCounter: Sendable {
    private let value = Mutex(0)
    func add(_ delta: Int) -> Int { self.value.withLock { $0 += delta; return $0 } }
}

extension Timestamp {
    /// The wall clock now; only the edges (Net, services) read it, never `MerchantState`.
    package static var now: Timestamp {
        Timestamp(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }
}
