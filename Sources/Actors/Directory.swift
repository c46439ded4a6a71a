import Synchronization

/// Process-wide lookup tables from upstream ids to merchants: checkout id → shop and Whop company → shop.
///
/// Reads and writes take one of `shardCount` small locks (never across an `await`), so lookups on the hot path do
/// not serialise on one global lock.
package final class Directory: Sendable {
    private static let shardCount = 64
    private final class Shard: Sendable {
        let map = Mutex<[CheckoutID: MerchantID]>([:])
    }
    private let checkoutShards: [Shard]
    private let companies = Mutex<[String: MerchantID]>([:])

    /// An empty directory.
    package init() {
        self.checkoutShards = (0..<Self.shardCount).map { _ in Shard() }
    }

    private func shard(_ id: CheckoutID) -> Shard {
        var hasher = Hasher()
        hasher.combine(id)
        return self.checkoutShards[Int(UInt(bitPattern: hasher.finalize()) % UInt(Self.shardCount))]
    }

    /// Records which merchant holds a checkout.
    package func register(_ checkout: CheckoutID, merchant: MerchantID) {
        self.shard(checkout).map.withLock { $0[checkout] = merchant }
    }

    /// The merchant holding a checkout.
    package func merchant(for checkout: CheckoutID) -> MerchantID? {
        self.shard(checkout).map.withLock { $0[checkout] }
    }

    /// Records that a Whop company belongs to a merchant (a company maps to one shop; the latest wins).
    package func register(company: String, merchant: MerchantID) {
        self.companies.withLock { $0[company] = merchant }
    }

    /// The merchant a Whop company belongs to.
    package func merchant(forCompany company: String) -> MerchantID? {
        self.companies.withLock { $0[company] }
    }
}
