import Actors
import Foundation
import Persistence
import Testing

/// `StateKeeper.snapshot` called from several tasks at once while checkouts are created.
struct StateKeeperTests {
    @Test("concurrent snapshots take turns: each succeeds, the files are whole, and a restart restores the last state")
    func concurrentSnapshotsTakeTurns() async throws {
        let harness = try Harness()
        defer { Task { await harness.remove() } }
        let merchant = try await harness.readyMerchant()
        let reports = try await withThrowingTaskGroup(of: [SnapshotReport].self) { group in
            group.addTask {
                for _ in 0..<40 {
                    _ = try await merchant.createCheckout(.one(), idempotencyKey: nil, requestHash: nil, now: .now)
                }
                return []
            }
            for _ in 0..<4 {
                group.addTask {
                    var mine: [SnapshotReport] = []
                    for _ in 0..<3 { mine.append(try await harness.core.keeper.snapshot()) }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(reports.count == 12)
        // The newest two are kept, and both verify.
        let kept = try SnapshotStore.list(directory: harness.directory)
        #expect(kept.count == 2)
        #expect(kept.first?.lsn == reports.map(\.lsn).max())
        let final = try await harness.core.keeper.snapshot()
        let before = await merchant.snapshot()
        let reopened = try await harness.reopened()
        defer { Task { await reopened.remove() } }
        #expect(reopened.core.restore.snapshotLSN == final.lsn)
        let restored = try #require(reopened.registry.merchant(Harness.shop))
        #expect(await restored.snapshot() == before)
    }
}
