import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the journal's suspend-and-resume hand-off costs on its own: `concurrency` tasks wait as `waitDurable` callers do,
/// and a thread resumes them as the writer does (a lone waiter directly, several through a `WaiterRelay`) — with no
/// records, no locks of the journal and no I/O, and a thread that polls without ever sleeping. `hygge journal bench`
/// prints it next to the journal's rates: the most durable appends/s the Swift runtime allows the journal's callers on
/// this machine, whatever the disk.
package enum HandOffFloor {
    private final class Shared: Sendable {
        let waiting = Mutex<[DurabilityWaiter]>([])
        let finished = Atomic<Bool>(false)
    }

    /// Waits and resumes per second, measured for `seconds`.
    package static func measure(concurrency: Int, seconds: Double) async -> Double {
        let shared = Shared()
        let relay = WaiterRelay()
        async let resumer: Void = DedicatedThread.run("hygge-handoff-floor") {
            var batch: [DurabilityWaiter] = []
            batch.reserveCapacity(256)
            while true {
                shared.waiting.withLock { swap(&$0, &batch) }
                if batch.isEmpty {
                    if shared.finished.load(ordering: .acquiring) { break }
                    sched_yield()
                    continue
                }
                relay.resume(batch)
                batch.removeAll(keepingCapacity: true)
            }
            relay.stop()
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let end = start + UInt64(seconds * 1e9)
        let total = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<max(1, concurrency) {
                group.addTask {
                    var count = 0
                    while DispatchTime.now().uptimeNanoseconds < end {
                        try? await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                            shared.waiting.withLock { $0.append(DurabilityWaiter(lsn: 0, continuation: continuation)) }
                        }
                        count += 1
                    }
                    return count
                }
            }
            return await group.reduce(0, +)
        }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        shared.finished.store(true, ordering: .releasing)
        _ = try? await resumer
        return Double(total) / (Double(elapsed) / 1e9)
    }
}
