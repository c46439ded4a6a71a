import Actors
import Foundation
import Logging
import Persistence
import Synchronization
import Testing

@Suite("Order outbox and restore")
struct OutboxAndRestoreTests {
    static var fast: DomainSettings {
        var settings = DomainSettings()
        settings.orderBackoffBase = .milliseconds(1)
        settings.orderBackoffMax = .milliseconds(4)
        settings.orderAttemptsMax = 4
        return settings
    }

    /// A paid checkout whose order is pending.
    static func paidCheckout(_ merchant: MerchantActor, payment: String = "pay_1") async throws -> CheckoutID {
        let (created, _) = try await merchant.createCheckout(.one(), idempotencyKey: nil, requestHash: nil, now: .now)
        _ = try await merchant.plan(for: created.id, now: .now)
        let checkout = try await merchant.checkout(created.id)
        #expect(try await merchant.handle(paid(checkout, payment: payment), delivery: "msg_" + payment, now: .now) == .recorded)
        return created.id
    }

    @Test("an order is posted once, tagged with its checkout")
    func once() async throws {
        let harness = try Harness(settings: Self.fast)
        defer { Task { await harness.remove() } }
        let merchant = try await harness.readyMerchant()
        let id = try await Self.paidCheckout(merchant)
        await harness.core.outbox.sync(OrderJob(merchant: merchant.id, checkout: id))
        await harness.core.outbox.sync(OrderJob(merchant: merchant.id, checkout: id))
        let checkout = try await merchant.checkout(id)
        #expect(checkout.status == .orderSynced)
        #expect(checkout.orderName == "#1001")
        #expect(harness.shopify.book.withLock { $0.orders.map(\.sourceIdentifier) } == [id.rawValue])
    }

    @Test("after an ambiguous failure that created the order anyway, the outbox finds it instead of posting again")
    func ambiguousFailure() async throws {
        let harness = try Harness(settings: Self.fast)
        defer { Task { await harness.remove() } }
        harness.shopify.book.withLock {
            $0.orderFaults = [(.unavailable("timeout"), true)]
        }
        let merchant = try await harness.readyMerchant()
        let id = try await Self.paidCheckout(merchant)
        await harness.core.outbox.sync(OrderJob(merchant: merchant.id, checkout: id))
        #expect(try await merchant.checkout(id).status == .orderSynced)
        let book = harness.shopify.book.withLock { ($0.orders.count, $0.orderPosts) }
        #expect(book.0 == 1)
        #expect(book.1 == 1)
    }

    @Test("retryable failures back off and succeed; a bounded number of failures gives up until a manual retry")
    func giveUpAndRetry() async throws {
        let harness = try Harness(settings: Self.fast)
        defer { Task { await harness.remove() } }
        harness.shopify.book.withLock {
            $0.orderFaults = [(.rateLimited(retryAfter: .milliseconds(2)), false), (.unavailable("502"), false)]
        }
        let merchant = try await harness.readyMerchant()
        let first = try await Self.paidCheckout(merchant)
        await harness.core.outbox.sync(OrderJob(merchant: merchant.id, checkout: first))
        #expect(try await merchant.checkout(first).status == .orderSynced)

        harness.shopify.book.withLock {
            $0.orderFaults = Array(repeating: (.unavailable("503"), false), count: 4)
        }
        let second = try await Self.paidCheckout(merchant, payment: "pay_2")
        await harness.core.outbox.sync(OrderJob(merchant: merchant.id, checkout: second))
        #expect(try await merchant.checkout(second).status == .orderSyncFailed)
        await #expect(throws: HyggeError.notFailed) { try await merchant.retryOrderSync(first) }
        try await merchant.retryOrderSync(second)
        await harness.core.outbox.sync(OrderJob(merchant: merchant.id, checkout: second))
        #expect(try await merchant.checkout(second).status == .orderSynced)
        #expect(harness.shopify.book.withLock { $0.orders.count } == 2)
    }

    @Test("a lookup that keeps failing after an ambiguous failure ends in order_sync_failed, never in a blind re-POST")
    func failingLookupGivesUp() async throws {
        let harness = try Harness(settings: Self.fast)
        defer { Task { await harness.remove() } }
        harness.shopify.book.withLock {
            $0.orderFaults = [(.unavailable("timeout"), false)]
            $0.lookupFaults = Array(repeating: .unavailable("unreadable orders"), count: 10)
        }
        let merchant = try await harness.readyMerchant()
        let id = try await Self.paidCheckout(merchant)
        await harness.core.outbox.sync(OrderJob(merchant: merchant.id, checkout: id))
        let checkout = try await merchant.checkout(id)
        #expect(checkout.status == .orderSyncFailed)
        #expect(checkout.orderSync?.attempts == Self.fast.orderAttemptsMax)
        let book = harness.shopify.book.withLock { (posts: $0.orderPosts, lookups: $0.lookups, windows: $0.lookupWindows) }
        #expect(book.posts == 1)
        #expect(book.lookups == Self.fast.orderAttemptsMax - 1)
        // Every lookup searches from the first attempt − 60 s to the latest earlier attempt + 300 s: the window's start
        // stays put, its end follows the attempts (each made after the previous one).
        let first = try #require(checkout.orderSync?.firstAttemptAt)
        #expect(book.windows.allSatisfy { $0.min == first.adding(.seconds(-60)) })
        #expect(book.windows.first.map { $0.max >= first.adding(.seconds(300)) } == true)
        #expect(zip(book.windows, book.windows.dropFirst()).allSatisfy { $0.max <= $1.max })
        #expect(book.windows.allSatisfy { $0.max <= Timestamp.now.adding(.seconds(300)) })
    }

    @Test("the latest attempt is journaled: after a restart the lookup still ends 300 s after it, not after the restart")
    func lookupWindowAfterRestart() async throws {
        var once = Self.fast
        once.orderAttemptsMax = 1
        let harness = try Harness(settings: once)
        harness.shopify.book.withLock { $0.orderFaults = [(.unavailable("timeout"), false)] }
        let merchant = try await harness.readyMerchant()
        let id = try await Self.paidCheckout(merchant)
        await harness.core.outbox.sync(OrderJob(merchant: merchant.id, checkout: id))
        let sync = try #require(try await merchant.checkout(id).orderSync)
        #expect(sync.attempts == 1 && sync.ambiguous)
        let last = try #require(sync.lastAttemptAt)
        #expect(sync.firstAttemptAt == last)

        // A snapshot carries it (restored state equals the state before), and so does the journal alone.
        _ = try await harness.core.keeper.snapshot()
        let before = await merchant.snapshot()
        try await Task.sleep(for: .milliseconds(20))  // the restarted outbox starts measurably later
        let reopened = try await harness.reopened(settings: Self.fast)
        defer { Task { await reopened.remove() } }
        let restored = try #require(reopened.registry.merchant(Harness.shop))
        #expect(await restored.snapshot() == before)
        #expect(try await restored.checkout(id).orderSync?.lastAttemptAt == last)

        try await restored.retryOrderSync(id)
        await reopened.core.outbox.sync(OrderJob(merchant: restored.id, checkout: id))
        #expect(try await restored.checkout(id).status == .orderSynced)
        let windows = harness.shopify.book.withLock { $0.lookupWindows }
        #expect(windows.count == 1)
        #expect(windows.first?.min == last.adding(.seconds(-60)))
        #expect(windows.first?.max == last.adding(.seconds(300)), "the journaled attempt, not the restart, bounds it")
        let after = try #require(try await restored.checkout(id).orderSync)
        // The manual retry restarted the count; the first attempt stays the first.
        #expect(after.attempts == 1 && after.firstAttemptAt == last && (after.lastAttemptAt ?? last) > last)
    }

    @Test("a manual retry after an ambiguous failure that did create the order adopts it instead of posting again")
    func manualRetryAfterAmbiguousFailure() async throws {
        var once = Self.fast
        once.orderAttemptsMax = 1
        let harness = try Harness(settings: once)
        defer { Task { await harness.remove() } }
        // The POST times out, but Shopify created the order.
        harness.shopify.book.withLock { $0.orderFaults = [(.unavailable("timeout"), true)] }
        let merchant = try await harness.readyMerchant()
        let id = try await Self.paidCheckout(merchant)
        await harness.core.outbox.sync(OrderJob(merchant: merchant.id, checkout: id))
        #expect(try await merchant.checkout(id).status == .orderSyncFailed)

        try await merchant.retryOrderSync(id)
        await harness.core.outbox.sync(OrderJob(merchant: merchant.id, checkout: id))
        let checkout = try await merchant.checkout(id)
        #expect(checkout.status == .orderSynced)
        let book = harness.shopify.book.withLock { (orders: $0.orders, posts: $0.orderPosts, lookups: $0.lookups) }
        #expect(book.orders.count == 1, "one Shopify order, not a duplicate")
        #expect(book.posts == 1 && book.lookups == 1)
        #expect(checkout.orderID == book.orders.first?.id)
    }

    @Test("a 4xx rejection is not retried")
    func rejection() async throws {
        let harness = try Harness(settings: Self.fast)
        defer { Task { await harness.remove() } }
        harness.shopify.book.withLock { $0.orderFaults = [(.rejected(status: 422, message: "bad"), false)] }
        let merchant = try await harness.readyMerchant()
        let id = try await Self.paidCheckout(merchant)
        await harness.core.outbox.sync(OrderJob(merchant: merchant.id, checkout: id))
        #expect(try await merchant.checkout(id).status == .orderSyncFailed)
        #expect(harness.shopify.book.withLock { $0.orderPosts } == 1)
    }

    @Test("a restart restores identical state from the journal alone, and from snapshot + journal tail")
    func restore() async throws {
        let harness = try Harness(settings: Self.fast)
        let merchant = try await harness.readyMerchant()
        let synced = try await Self.paidCheckout(merchant, payment: "pay_a")
        await harness.core.outbox.sync(OrderJob(merchant: merchant.id, checkout: synced))
        _ = try await Self.paidCheckout(merchant, payment: "pay_b")  // order still pending
        _ = try await merchant.createCheckout(.one(), idempotencyKey: "key", requestHash: "h", now: .now)
        let before = await merchant.snapshot()

        let reopened = try await harness.reopened(settings: Self.fast)
        let restored = try #require(reopened.registry.merchant(Harness.shop))
        #expect(await restored.snapshot() == before)
        #expect(reopened.core.restore.replayed > 0)
        #expect(await restored.pendingOrders.count == 1)
        // Secrets still open after the restart: the pending order posts with the restored token.
        let pending = try #require(await restored.pendingOrders.first)
        await reopened.core.outbox.sync(OrderJob(merchant: restored.id, checkout: pending))
        #expect(try await restored.checkout(pending).status == .orderSynced)
        let afterSync = await restored.snapshot()

        // Snapshot, then one more change: the next restart loads the snapshot and replays only the tail.
        let report = try await reopened.core.keeper.snapshot()
        #expect(report.bytes > 0)
        let (tail, _) = try await restored.createCheckout(.one(quantity: 3), idempotencyKey: nil, requestHash: nil, now: .now)
        let expected = await restored.snapshot()
        #expect(expected != afterSync)
        let third = try await reopened.reopened(settings: Self.fast)
        defer { Task { await third.remove() } }
        let again = try #require(third.registry.merchant(Harness.shop))
        #expect(await again.snapshot() == expected)
        #expect(third.core.restore.snapshotLSN == report.lsn)
        #expect(third.core.restore.replayed == 1)
        #expect(try await again.checkout(tail.id).total.amount == 3 * 12_900)
        #expect(harness.shopify.book.withLock { $0.orders.count } == 2)
    }

    @Test("a wrong master key refuses to open the restored state")
    func wrongMasterKey() async throws {
        let harness = try Harness()
        try await harness.readyMerchant()
        await harness.registry.environment.journal.close()
        // Refused at start (not on the first secret needed), naming the merchants it cannot open.
        #expect(throws: MasterKeyMismatch.self) {
            _ = try Harness(directory: harness.directory, master: .generate())
        }
        await harness.remove()
    }

    @Test("no plaintext secret reaches any byte of the data directory")
    func noPlaintextOnDisk() async throws {
        let harness = try Harness()
        defer { Task { await harness.remove() } }
        let merchant = try await harness.registry.merchantCreatingIfNeeded(Harness.shop, now: .now)
        try await merchant.install(token: "shpat_PLAINTEXT_TOKEN_1", scopes: "x", now: .now)
        try await merchant.setWhopKey("apik_PLAINTEXT_KEY_2", companyID: "biz_good", now: .now)
        try await merchant.setWebhookSecret("ws_PLAINTEXT_SECRET_3", now: .now)
        _ = try await harness.core.keeper.snapshot()
        try await merchant.setWebhookSecret("ws_PLAINTEXT_SECRET_4", now: .now)
        await harness.registry.environment.journal.close()
        var files = 0
        let enumerator = try #require(FileManager.default.enumerator(atPath: harness.directory))
        for case let path as String in enumerator {
            let full = harness.directory + "/" + path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue else {
                continue
            }
            files += 1
            let bytes = try Data(contentsOf: URL(fileURLWithPath: full))
            for needle in ["PLAINTEXT", "shpat_", "apik_", "ws_PLAIN"] {
                #expect(!bytes.contains(Data(needle.utf8)), "\(needle) found in \(path)")
            }
        }
        #expect(files >= 2)
    }
}
