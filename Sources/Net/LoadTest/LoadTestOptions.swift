import Foundation

/// What `hygge loadtest` drives (CONTRACT §7).
package struct LoadTestOptions: Sendable {
    /// What each virtual buyer (or sender) does.
    package enum Mode: String, Sendable, CaseIterable, Codable {
        /// create-from-cart → get-plan → pay (signed webhook) → poll until `order_synced`.
        case flow
        /// `GET /healthz`.
        case healthz
        /// `POST /api/checkout/create-from-cart` (warm price cache after the first request per variant).
        case createFromCart = "create-from-cart"
        /// `POST /api/checkout/get-plan`, once per checkout created beforehand (a new Whop plan each).
        case getPlan = "get-plan"
        /// `POST /api/webhooks/whop`: signed deliveries, each a new `webhook-id`, each acked once durable.
        case webhook
    }

    /// Server base URL, no trailing slash.
    package var url: String
    package var mode: Mode = .flow
    /// Merchants: the demo merchant plus `merchants - 1` seeded `hygge-load-N` merchants.
    package var merchants = 1
    /// Flows (or requests) in total; nil = until `duration`.
    package var checkouts: Int? = 200
    package var concurrency = 16
    /// Start at most this many flows (or requests) per second, evenly spaced; nil = as fast as `concurrency` allows.
    package var rate: Double?
    /// Stop starting new flows after this long.
    package var duration: Duration?
    /// Runs the same load for this long first, unrecorded.
    package var warmup: Duration?
    /// Emulated upstream latency set through `POST /sandbox/config` (nil = leave the server's setting).
    package var shopifyLatency: Duration?
    package var whopLatency: Duration?
    /// Bearer token for `/admin/merchants` (the ledger check); nil skips that check.
    package var adminToken: String?
    /// Give up on one checkout's order after this long.
    package var orderTimeout: Duration = .seconds(60)
    /// Per-request timeout.
    package var requestTimeout: Duration = .seconds(30)
    /// First poll delay of `GET /api/checkout/{id}`; grows 1.5× up to `pollIntervalMax`.
    package var pollInterval: Duration = .milliseconds(5)
    package var pollIntervalMax: Duration = .milliseconds(100)
    /// Progress output: a redrawn bar (terminal), plain lines, or nothing.
    package var progress: Progress = .plain

    package enum Progress: Sendable { case bar, plain, none }

    package init(url: String) {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        self.url = url
    }
}
