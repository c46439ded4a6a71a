/// Bounded retries with exponential backoff and jitter for upstream calls.
package enum Retry {
    /// Runs `body` until it succeeds, fails with a non-retryable error, or the deadline is reached.
    ///
    /// The deadline bounds the whole call, attempts included: each attempt runs for at most the time that is left
    /// (`min(the client's own per-attempt timeout, remaining budget)`) and is cancelled when that runs out, so a
    /// hanging upstream cannot stretch the call past `deadline` by one client timeout per attempt. `429` waits
    /// honour `Retry-After`; a wait that would end past the deadline is not started.
    ///
    /// - Parameters:
    ///   - deadline: total time budget, waits and attempts included.
    ///   - base: first wait; doubles per attempt.
    ///   - attemptsMax: attempts at most.
    /// - Throws: the last `GatewayError`; `.unavailable("deadline")` when an attempt was cut off by the deadline.
    package static func run<T: Sendable>(
        deadline: Duration, base: Duration = .milliseconds(200), attemptsMax: Int = 5,
        _ body: @escaping @Sendable () async throws(GatewayError) -> T
    ) async throws(GatewayError) -> T {
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: deadline)
        var delay = base
        var attempt = 1
        while true {
            do {
                return try await Self.attempt(until: end, clock: clock, body)
            } catch {
                guard error.isRetryable, attempt < attemptsMax else { throw error }
                var wait = Self.jittered(delay)
                if case .rateLimited(let retryAfter?) = error { wait = max(wait, retryAfter) }
                guard clock.now.advanced(by: wait) < end else { throw error }
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

    /// One attempt, cancelled at `end` if it has not finished by then.
    static func attempt<T: Sendable>(
        until end: ContinuousClock.Instant, clock: ContinuousClock,
        _ body: @escaping @Sendable () async throws(GatewayError) -> T
    ) async throws(GatewayError) -> T {
        guard clock.now < end else { throw .unavailable("deadline") }
        let outcome = await withTaskGroup(of: Result<T, GatewayError>?.self) { group in
            group.addTask {
                do throws(GatewayError) {
                    return .success(try await body())
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                do {
                    try await Task.sleep(until: end, clock: clock)
                } catch {
                    return nil  // cancelled: the attempt finished first
                }
                return .failure(.unavailable("deadline"))
            }
            // The first to finish decides; the other is cancelled (an HTTP attempt cancels its request).
            var first: Result<T, GatewayError>?
            while let next = await group.next() {
                guard let next else { continue }
                first = next
                group.cancelAll()
                break
            }
            return first ?? .failure(.unavailable("cancelled"))
        }
        return try outcome.get()
    }

    /// `delay` scaled by a random factor in [0.5, 1.0).
    package static func jittered(_ delay: Duration) -> Duration {
        delay * Double.random(in: 0.5..<1.0)
    }
}
