package import Logging
package import Persistence

/// Limits and policies of the domain, from configuration.
package struct DomainSettings: Sendable {
    /// Checkout lifetime from creation (`HYGGE_CHECKOUT_TTL`).
    package var checkoutTTL: Duration = .seconds(30 * 60)
    /// Transactions per month without a paid tier (`HYGGE_FREE_MONTHLY_LIMIT`).
    package var freeMonthlyLimit = 50
    /// How long a variant's price is reused.
    package var priceCacheTTL: Duration = .seconds(60)
    /// Whop must answer get-plan within this, retries included.
    package var whopDeadline: Duration = .seconds(10)
    /// Order sync attempts before `order_sync_failed`.
    package var orderAttemptsMax = 8
    /// First order retry delay; doubles per attempt up to `orderBackoffMax`, with jitter.
    package var orderBackoffBase: Duration = .milliseconds(500)
    package var orderBackoffMax: Duration = .seconds(60)
    /// Where buyers come back to after paying; `{shop}` is replaced.
    package var redirectURLTemplate: String? = "https://{shop}/"
    /// `HYGGE_TIERS`: Whop plan id → monthly limit.
    package var tiers: [String: Int] = [:]

    package init() {}
}

/// A merchant id and checkout id to post an order for.
package struct OrderJob: Hashable, Sendable {
    package var merchant: MerchantID
    package var checkout: CheckoutID

    package init(merchant: MerchantID, checkout: CheckoutID) {
        self.merchant = merchant
        self.checkout = checkout
    }
}

/// The queue of order syncs feeding the `OrderOutbox`; enqueueing never blocks.
package struct OrderQueue: Sendable {
    let continuation: AsyncStream<OrderJob>.Continuation
    let stream: AsyncStream<OrderJob>

    /// A new unbounded queue (its length is bounded by the number of paid, unsynced checkouts in memory).
    package init() {
        (self.stream, self.continuation) = AsyncStream.makeStream(of: OrderJob.self)
    }

    /// Schedules an order sync.
    package func enqueue(_ merchant: MerchantID, _ checkout: CheckoutID) {
        self.continuation.yield(OrderJob(merchant: merchant, checkout: checkout))
    }
}

/// What every merchant actor shares: the journal, the upstream gateways, the master key and settings.
package struct MerchantEnvironment: Sendable {
    package var journal: Journal
    package var shopify: any ShopifyAdmin
    package var whop: any WhopAPI
    /// The master key(s): shared by every actor, replaced by an online master-key rotation.
    package var keyring: MasterKeyring
    /// The current master key.
    package var master: MasterKey { self.keyring.current }
    package var settings: DomainSettings
    package var orders: OrderQueue
    package var directory: Directory
    package var logger: Logger

    package init(
        journal: Journal, shopify: any ShopifyAdmin, whop: any WhopAPI, master: MasterKey, settings: DomainSettings,
        orders: OrderQueue, directory: Directory, logger: Logger
    ) {
        self.journal = journal
        self.shopify = shopify
        self.whop = whop
        self.keyring = MasterKeyring(master)
        self.settings = settings
        self.orders = orders
        self.directory = directory
        self.logger = logger
    }
}
