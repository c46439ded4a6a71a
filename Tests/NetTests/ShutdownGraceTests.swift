import Net
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

/// `Sandbox.abandonedAfterShutdown`: a webhook delivery in flight at shutdown gets a short grace, not its whole timeout.
struct ShutdownGraceTests {
    @Test("outside a service group the operation simply runs")
    func runsWithoutShutdown() async throws {
        let value = try await Sandbox.abandonedAfterShutdown(grace: .milliseconds(1)) {
            try await Task.sleep(for: .milliseconds(50))
            return 7
        }
        #expect(value == 7)
    }

    @Test("an operation that outlasts the grace after graceful shutdown is abandoned (cancelled, nil)")
    func abandonsAfterGrace() async throws {
        try await testGracefulShutdown { trigger in
            async let value = Sandbox.abandonedAfterShutdown(grace: .milliseconds(20)) {
                // Cancellation ends this sleep; without it the result would be 7 after a minute.
                try? await Task.sleep(for: .seconds(60))
                return Task.isCancelled ? -1 : 7
            }
            try await Task.sleep(for: .milliseconds(20))
            trigger.triggerGracefulShutdown()
            #expect(try await value == nil)
        }
    }

    @Test("an operation that finishes within the grace after graceful shutdown keeps its result")
    func keepsResultWithinGrace() async throws {
        try await testGracefulShutdown { trigger in
            trigger.triggerGracefulShutdown()
            let value = try await Sandbox.abandonedAfterShutdown(grace: .seconds(60)) {
                try await Task.sleep(for: .milliseconds(30))
                return 7
            }
            #expect(value == 7)
        }
    }
}
