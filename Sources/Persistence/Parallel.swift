import Dispatch
import Foundation
import Synchronization

/// CPU-bound loops spread over the cores (snapshot encoding and compression, restore's decoding and indexing): one
/// place that decides how many workers a loop gets and hands out its indices.
package enum Parallel {
    /// Cores this process may use.
    package static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Workers for `count` items: one per core (at most `cores`), but none with fewer than `grain` items (small loops
    /// stay on the calling thread), and at least one.
    package static func workers(for count: Int, grain: Int = 1, cores: Int = .max) -> Int {
        max(1, min(Parallel.cores, count / max(1, grain), cores))
    }

    /// `body(index)` for every index in `0..<count`, in order, computed by `workers(for:grain:cores:)` workers that
    /// take the next index as they finish one (uneven items balance out). One worker runs on the calling thread alone.
    package static func map<T>(count: Int, grain: Int = 1, cores: Int = .max, _ body: (Int) -> T) -> [T] {
        let workers = Parallel.workers(for: count, grain: grain, cores: cores)
        if workers == 1 { return (0..<count).map(body) }
        let slots = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
        defer { slots.deallocate() }
        let cursor = WorkCursor()
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let shared = (slots: slots, body: body)
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    let index = cursor.next.add(1, ordering: .relaxed).oldValue
                    guard index < count else { return }
                    (shared.slots.baseAddress! + index).initialize(to: shared.body(index))
                }
            }
        }
        defer { _ = slots.baseAddress!.deinitialize(count: count) }
        return Array(slots)
    }

    /// `body(range)` for contiguous ranges splitting `0..<count`, one per worker of `workers(for:grain:)` (for loops
    /// that keep per-worker state), in order.
    package static func mapRanges<T>(count: Int, grain: Int = 1, _ body: (Range<Int>) -> T) -> [T] {
        let workers = Parallel.workers(for: count, grain: grain)
        let per = (count + workers - 1) / workers
        return Parallel.map(count: workers) { worker in body(min(count, worker * per)..<min(count, (worker + 1) * per)) }
    }
}

/// Next index and a stop flag shared by the workers of a parallel loop.
final class WorkCursor: Sendable {
    let next = Atomic<Int>(0)
    let failed = Atomic<Bool>(false)
}
