import Actors
import Foundation
import Logging
import Persistence
import Synchronization

/// A fake Shopify Admin: a price list, an order book, and injectable order failures.
final class FakeShopify: ShopifyAdmin {
    struct Book {
        var prices: [Int64: String] = [:]
        var orders: [ShopifyOrder] = []
        var variantCalls = 0
        var orderPosts = 0
        /// Errors thrown by the next order POSTs, in order; `createdAnyway` ones still create the order.
        var orderFaults: [(error: GatewayError, createdAnyway: Bool)] = []
        /// Errors thrown by the next order lookups (`findOrder`), in order.
        var lookupFaults: [GatewayError] = []
        var lookups = 0
        /// The `created_at` window of every lookup, in order.
        var lookupWindows: [(min: Timestamp, max: Timestamp)] = []
    }
    let book = Mutex(Book())

    init(prices: [Int64: String]) { self.book.withLock { $0.prices = prices } }

    func variant(shop: MerchantID, token: String, id: Int64) async throws(GatewayError) -> VariantInfo? {
        self.book.withLock { book in
            book.variantCalls += 1
            return book.prices[id].map { VariantInfo(id: id, productID: 1, price: $0, title: "Variant \(id)") }
        }
    }

    func createOrder(shop: MerchantID, token: String, order: OrderRequest) async throws(GatewayError) -> ShopifyOrder {
        let result: Result<ShopifyOrder, GatewayError> = self.book.withLock { book in
            book.orderPosts += 1
            let created = ShopifyOrder(
                id: Int64(1000 + book.orders.count), name: "#\(1001 + book.orders.count)",
                sourceIdentifier: order.checkoutID.rawValue)
            if !book.orderFaults.isEmpty {
                let fault = book.orderFaults.removeFirst()
                if fault.createdAnyway { book.orders.append(created) }
                return .failure(fault.error)
            }
            book.orders.append(created)
            return .success(created)
        }
        return try result.get()
    }

    func findOrder(
        shop: MerchantID, token: String, sourceIdentifier: String, createdAtMin: Timestamp, createdAtMax: Timestamp
    )
        async throws(GatewayError) -> ShopifyOrder?
    {
        let result: Result<ShopifyOrder?, GatewayError> = self.book.withLock { book in
            book.lookups += 1
            book.lookupWindows.append((createdAtMin, createdAtMax))
            if !book.lookupFaults.isEmpty { return .failure(book.lookupFaults.removeFirst()) }
            return .success(book.orders.first { $0.sourceIdentifier == sourceIdentifier })
        }
        return try result.get()
    }
}

/// A fake Whop: valid keys, plan creation (optionally slow, to widen race windows) and refunds.
final class FakeWhop: WhopAPI {
    struct Book {
        var keys: [String: String] = [:]
        var plans: [CheckoutID: WhopPlan] = [:]
        var planCalls = 0
        var refunds: [(payment: String, amount: Money?)] = []
        var failPlans = false
        /// Plan creation hangs (until cancelled) instead of answering.
        var hangPlans = false
    }
    let book = Mutex(Book())
    let planDelay: Duration

    init(keys: [String: String], planDelay: Duration = .zero) {
        self.planDelay = planDelay
        self.book.withLock { $0.keys = keys }
    }

    func companyID(apiKey: String) async throws(GatewayError) -> String {
        guard let company = self.book.withLock({ $0.keys[apiKey] }) else { throw .unauthorized }
        return company
    }

    func createPlan(apiKey: String, request: PlanRequest) async throws(GatewayError) -> WhopPlan {
        if self.planDelay > .zero { try? await Task.sleep(for: self.planDelay) }
        if self.book.withLock({ $0.hangPlans }) {
            // A Whop that never answers: only cancellation (the caller's deadline) ends the wait.
            try? await Task.sleep(for: .seconds(3600))
            throw .unavailable("cancelled")
        }
        let result: Result<WhopPlan, GatewayError> = self.book.withLock { book in
            book.planCalls += 1
            if book.failPlans { return .failure(.rejected(status: 400, message: "nope")) }
            guard book.keys[apiKey] != nil else { return .failure(.unauthorized) }
            let n = book.plans.count + 1
            let plan = WhopPlan(
                planID: "plan_\(n)", checkoutConfigurationID: "ch_\(n)", purchaseURL: "https://whop.test/checkout/ch_\(n)")
            book.plans[request.checkoutID] = plan
            return .success(plan)
        }
        return try result.get()
    }

    func refund(apiKey: String, paymentID: String, amount: Money?) async throws(GatewayError) {
        self.book.withLock { $0.refunds.append((paymentID, amount)) }
    }
}

/// A registry over a journal in a fresh temporary directory, with fake upstreams and one ready merchant.
struct Harness {
    static let shop = MerchantID("test-shop.myshopify.com")
    static let variant: Int64 = 111
    static let cheap: Int64 = 222
    static let yen: Int64 = 333

    let directory: String
    let core: ServiceCore
    var registry: MerchantRegistry { self.core.registry }
    let shopify: FakeShopify
    let whop: FakeWhop
    let master: MasterKey

    init(
        limit: Int = 50, planDelay: Duration = .zero, settings: DomainSettings = DomainSettings(),
        directory: String? = nil, master: MasterKey = .generate(), shopify: FakeShopify? = nil, whop: FakeWhop? = nil
    ) throws {
        let directory = directory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("hygge-actors-tests-\(UUID().uuidString)").path
        self.directory = directory
        self.master = master
        self.shopify = shopify ?? FakeShopify(prices: [Self.variant: "129.00", Self.cheap: "0.99", Self.yen: "1500"])
        self.whop = whop ?? FakeWhop(keys: ["apik_good": "biz_good"], planDelay: planDelay)
        var settings = settings
        settings.freeMonthlyLimit = limit
        var store = StoreConfiguration(dataDirectory: directory)
        store.fsync = .no
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let core = try ServiceCore.open(
            store: store, settings: settings, master: master, shopify: self.shopify, whop: self.whop, logger: logger)
        self.core = core
    }

    /// A harness over the same directory, fakes and master key: a restart.
    func reopened(settings: DomainSettings = DomainSettings()) async throws -> Harness {
        await self.registry.environment.journal.close()
        return try Harness(
            limit: settings.freeMonthlyLimit, settings: settings, directory: self.directory, master: self.master,
            shopify: self.shopify, whop: self.whop)
    }

    /// Creates the merchant, installs it, validates its Whop key and sets its webhook secret.
    @discardableResult
    func readyMerchant(_ id: MerchantID = Harness.shop, company: String = "biz_good", now: Timestamp = .now)
        async throws -> MerchantActor
    {
        let merchant = try await self.registry.merchantCreatingIfNeeded(id, now: now)
        try await merchant.install(token: "shpat_test", scopes: "read_products", now: now)
        try await merchant.setWhopKey("apik_good", companyID: company, now: now)
        try await merchant.setWebhookSecret("ws_test", now: now)
        return merchant
    }

    func remove() async {
        await self.registry.environment.journal.close()
        try? FileManager.default.removeItem(atPath: self.directory)
    }
}

extension CartRequest {
    static func one(_ variant: Int64 = Harness.variant, quantity: Int = 1, currency: String = "USD", client: Int64? = nil)
        -> CartRequest
    {
        CartRequest(
            items: [.init(variantID: variant, quantity: quantity)], currency: currency,
            clientTotal: client.map { Money(amount: $0, currency: currency) }, email: "buyer@example.com")
    }
}

/// A payment notice Whop would send for `checkout`'s plan.
func paid(_ checkout: Checkout, payment: String = "pay_1", amount: Money? = nil) -> WhopEvent {
    .paymentSucceeded(
        PaymentNotice(
            paymentID: payment, checkoutID: checkout.id, configurationID: checkout.plan?.checkoutConfigurationID,
            planID: checkout.plan?.planID, amount: amount ?? checkout.total))
}
