import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs long blocking work (a snapshot's encoding, compression, file writes and fsyncs) on a thread of its own, so that
/// it never occupies a thread of Swift's cooperative pool, which has one per core and serves every request.
package enum DedicatedThread {
    /// Runs `body` on a new thread named `name` and returns (or throws) what it does; the caller suspends meanwhile.
    /// A positive `niceness` lowers the thread's scheduling priority (Linux `setpriority` on this thread only), so that
    /// the work yields the cores to request handling.
    package static func run<T: Sendable>(
        _ name: String, niceness: Int32 = 0, _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let thread = Thread {
                #if os(Linux)
                // On Linux the nice value is a per-thread attribute, and `who` 0 is the calling thread.
                if niceness != 0 { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness) }
                #endif
                continuation.resume(with: Result { try body() })
            }
            thread.name = name
            thread.start()
        }
    }
}
