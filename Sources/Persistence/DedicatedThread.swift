import Foundation

/// Runs long blocking work (a snapshot's encoding, compression, file writes and fsyncs) on a thread of its own, so that
/// it never occupies a thread of Swift's cooperative pool, which has one per core and serves every request.
package enum DedicatedThread {
    /// Runs `body` on a new thread named `name` and returns (or throws) what it does; the caller suspends meanwhile.
    package static func run<T: Sendable>(
        _ name: String, _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = name
            thread.start()
        }
    }
}
