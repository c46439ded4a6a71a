import Synchronization

/// Resumes the durability waiters of a batch on the cooperative pool, from one long-lived task, so that the writer
/// thread does not resume them itself (see `JournalWriter.resume`).
///
/// The writer hands a batch over with one lock and, when the relay task is parked, one continuation resume. Before,
/// it created a task per batch: at 64 concurrent writers, the task's allocation, scheduling and teardown cost about
/// 6 % of the CPU (perf, BENCHMARKS-journal.md).
final class WaiterRelay: Sendable {
    private struct State {
        /// Waiters handed over and not yet taken by the relay task, in hand-over order.
        var pending: [DurabilityWaiter] = []
        /// The relay task, while it waits for work.
        var parked: UnsafeContinuation<Void, Never>?
        /// Set by `stop`: the relay task resumes what is pending and ends.
        var stopped = false
    }

    private let state = Mutex(State())

    /// Starts the relay task.
    init() {
        self.state.withLock { $0.pending.reserveCapacity(256) }
        Task.detached { await self.run() }
    }

    /// Resumes `waiters` (all durable) as the writer does after a batch: a lone one directly, from the calling thread;
    /// several handed to the relay task, which resumes them on the cooperative pool. Each resume from the writer
    /// thread woke a pool thread, which Linux ran on the writer's core, preempting it (seen with `perf sched`), so the
    /// writer got to its next write only after every resumed caller had run. Handed over with one wake-up, it writes
    /// the records that arrive meanwhile and starts the next fdatasync while the callers run (BENCHMARKS-journal.md,
    /// 2026-12-07). `HandOffFloor` measures this hand-off alone.
    func resume(_ waiters: [DurabilityWaiter]) {
        if waiters.count == 1 {
            waiters[0].continuation.resume()
        } else if waiters.count > 1 {
            self.hand(waiters)
        }
    }

    /// Queues `waiters` (all durable) to be resumed, and wakes the relay task if it is parked.
    private func hand(_ waiters: [DurabilityWaiter]) {
        let parked = self.state.withLock { state -> UnsafeContinuation<Void, Never>? in
            state.pending.append(contentsOf: waiters)
            defer { state.parked = nil }
            return state.parked
        }
        parked?.resume()
    }

    /// Ends the relay task once it has resumed everything handed over. Called by the writer as it exits.
    func stop() {
        let parked = self.state.withLock { state -> UnsafeContinuation<Void, Never>? in
            state.stopped = true
            defer { state.parked = nil }
            return state.parked
        }
        parked?.resume()
    }

    private enum Next { case resume, park, end }

    private func run() async {
        var batch: [DurabilityWaiter] = []
        batch.reserveCapacity(256)
        while true {
            // The pending buffer and `batch` trade places, so neither side allocates once both have grown.
            let next = self.state.withLock { state -> Next in
                if !state.pending.isEmpty {
                    swap(&state.pending, &batch)
                    return .resume
                }
                return state.stopped ? .end : .park
            }
            switch next {
            case .resume:
                for waiter in batch { waiter.continuation.resume() }
                batch.removeAll(keepingCapacity: true)
            case .park:
                await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                    let ready = self.state.withLock { state -> Bool in
                        if !state.pending.isEmpty || state.stopped { return true }
                        state.parked = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            case .end:
                return
            }
        }
    }
}
