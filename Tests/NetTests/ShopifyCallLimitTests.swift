import Foundation
import Net
import Testing

/// `X-Shopify-Shop-Api-Call-Limit` parsing and the per-shop wait it leads to (no clock: instants are given).
struct ShopifyCallLimitTests {
    @Test(
        "the header is used/limit",
        arguments: [
            ("39/40", ShopifyCallLimit(used: 39, limit: 40)), (" 1 / 80 ", ShopifyCallLimit(used: 1, limit: 80)),
            ("40/40", ShopifyCallLimit(used: 40, limit: 40)), ("39", nil), ("/40", nil), ("39/0", nil), ("a/b", nil),
            ("39/40/1", nil), ("-1/40", nil), ("", nil),
        ])
    func parse(header: String, expected: ShopifyCallLimit?) {
        #expect(ShopifyCallLimit(header: header) == expected)
    }

    @Test("a nearly full bucket makes the next call wait for one slot to drain; concurrent calls queue up")
    func waits() {
        let limiter = ShopifyCallLimiter()
        let start = ContinuousClock.now
        #expect(limiter.reserve("a.myshopify.com", now: start) == .zero, "nothing known yet")
        limiter.record("a.myshopify.com", ShopifyCallLimit(used: 39, limit: 40), now: start)
        // 2 calls/s drain a bucket of 40: one slot takes 0.5 s; the next caller waits behind the first.
        #expect(limiter.reserve("a.myshopify.com", now: start) == .milliseconds(500))
        #expect(limiter.reserve("a.myshopify.com", now: start) == .milliseconds(1000))
        #expect(limiter.reserve("b.myshopify.com", now: start) == .zero, "buckets are per shop")
        // Later the bucket has drained.
        #expect(limiter.reserve("a.myshopify.com", now: start.advanced(by: .seconds(10))) == .zero)
        // Plus's bucket of 80 drains at 4/s.
        limiter.record("p.myshopify.com", ShopifyCallLimit(used: 79, limit: 80), now: start)
        #expect(limiter.reserve("p.myshopify.com", now: start) == .milliseconds(250))
        // With room left nobody waits.
        limiter.record("c.myshopify.com", ShopifyCallLimit(used: 20, limit: 40), now: start)
        #expect(limiter.reserve("c.myshopify.com", now: start) == .zero)
        // An over-full report is capped at the longest wait.
        limiter.record("d.myshopify.com", ShopifyCallLimit(used: 1000, limit: 40), now: start)
        #expect(limiter.reserve("d.myshopify.com", now: start) == ShopifyCallLimiter.waitMax)
    }
}
