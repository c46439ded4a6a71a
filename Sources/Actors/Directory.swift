import Dispatch
import Foundation
import Persistence
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

    private func shard(_ id: CheckoutID) -> Shard { self.checkoutShards[Self.shardIndex(id)] }

    private static func shardIndex(_ id: CheckoutID) -> Int {
        var hasher = Hasher()
        hasher.combine(id)
        return Int(UInt(bitPattern: hasher.finalize()) % UInt(Self.shardCount))
    }

    /// Records the checkouts of many merchants (a restore's million) on every core: each worker sorts the checkouts of
    /// its share of the merchants into per-shard batches, then each shard is filled under one lock with its table
    /// sized once, the shards spread over the cores too.
    package func register(checkoutsOf states: [MerchantState]) {
        guard !states.isEmpty else { return }
        let batches = Parallel.mapRanges(count: states.count, grain: 64) { range in
            var total = 0
            for index in range { total += states[index].checkouts.count }
            var mine = [[(CheckoutID, MerchantID)]](repeating: [], count: Self.shardCount)
            let expected = total / Self.shardCount + total / (4 * Self.shardCount) + 16
            for shard in 0..<Self.shardCount { mine[shard].reserveCapacity(expected) }
            for index in range {
                let merchant = states[index].id
                for checkout in states[index].checkouts.keys { mine[Self.shardIndex(checkout)].append((checkout, merchant)) }
            }
            return mine
        }
        let shards = self.checkoutShards
        DispatchQueue.concurrentPerform(iterations: Self.shardCount) { index in
            var count = 0
            for batch in batches { count += batch[index].count }
            guard count > 0 else { return }
            shards[index].map.withLock { map in
                map.reserveCapacity(map.count + count)
                for batch in batches {
                    for (checkout, merchant) in batch[index] { map[checkout] = merchant }
                }
            }
        }
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

    /// Makes `merchant` the company's holder if the holder is still `expected` (compare-and-set, so two shops
    /// claiming one company at once cannot both win).
    /// - Returns: whether the claim took.
    package func claim(company: String, for merchant: MerchantID, expecting expected: MerchantID?) -> Bool {
        self.companies.withLock { companies in
            let holder = companies[company]
            guard holder == expected || holder == merchant else { return false }
            companies[company] = merchant
            return true
        }
    }

    /// Forgets that `merchant` holds the company (it switched to another one); another holder is left alone.
    package func release(company: String, merchant: MerchantID) {
        self.companies.withLock { companies in
            if companies[company] == merchant { companies[company] = nil }
        }
    }

    /// The merchant a Whop company belongs to.
    package func merchant(forCompany company: String) -> MerchantID? {
        self.companies.withLock { $0[company] }
    }
}
