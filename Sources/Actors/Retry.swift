/// Bounded retries with exponential backoff and jitter for upstream calls.
package enum Retry {
    /// Runs `body` until it succeeds, fails with a non-retryable error, or the next wait would pass `deadline`.
    /// `429` waits honour `Retry-After`.
    ///
    /// - Parameters:
    ///   - deadline: total time budget, waits included.
    ///   - base: first wait; doubles per attempt.
    /// - Throws: the last `GatewayError`.
    package static func run<T: Sendable>(
        deadline: Duration, base: Duration = .milliseconds(200), attemptsMax: Int = 5,
        _ body: () async throws(GatewayError) -> T
    ) async throws(GatewayError) -> T {
        let clock = ContinuousClock()
        let start = clock.now
        var delay = base
        var attempt = 1
        while true {
            do {
                return try await body()
            } catch {
                guard error.isRetryable, attempt < attemptsMax else { throw error }
                var wait = Self.jittered(delay)
                if case .rateLimited(let retryAfter?) = error { wait = max(wait, retryAfter) }
                guard clock.now - start + wait < deadline else { throw error }
                do {
                    try await Task.sleep(for: wait)
                } catch {
                    throw .unavailable("cancelled")
                }
                delay *= 2
                attempt += 1
            }
        }
    }

    /// `delay` scaled by a random factor in [0.5, 1.0).
    package static func jittered(_ delay: Duration) -> Duration {
        delay * Double.random(in: 0.5..<1.0)
    }
}
