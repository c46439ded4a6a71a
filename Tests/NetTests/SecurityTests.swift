import Actors
import Foundation
import HTTPTypes
import Net
import Testing

/// Hostile-input security properties (issue 9 §5) not covered by the webhook, onboarding and merchant API tests.
struct SecurityTests {
    /// A byte string that records which of its bytes were read.
    final class CountingBytes: RandomAccessCollection, @unchecked Sendable {
        // One test's own instance, read on one thread.
        let bytes: [UInt8]
        var reads: [Int]

        init(_ bytes: [UInt8]) {
            self.bytes = bytes
            self.reads = Array(repeating: 0, count: bytes.count)
        }

        var startIndex: Int { 0 }
        var endIndex: Int { self.bytes.count }
        subscript(position: Int) -> UInt8 {
            self.reads[position] += 1
            return self.bytes[position]
        }
    }

    /// A statistical timing test would be flaky on a shared machine, so this checks the structure that makes the
    /// comparison constant-time instead: wherever the first difference is (first byte, middle, last, everywhere, or
    /// none), every byte of both inputs is read exactly once, so the work done does not depend on where a forged
    /// MAC goes wrong. The loop accumulates `a[i] ^ b[i]` with `|=` and branches only on the lengths (which are
    /// public: a MAC's length is fixed by its algorithm).
    @Test("signature comparison reads every byte whatever the position of the mismatch", arguments: [0, 1, 15, 31, -1])
    func constantTimeComparisonTouchesAllBytes(_ mismatch: Int) {
        let expected = (0..<32).map { UInt8($0 * 7 & 0xFF) }
        var given = expected
        if mismatch >= 0 {
            given[mismatch] ^= 0x01
        } else {
            for index in given.indices { given[index] ^= 0xFF }
        }
        let a = CountingBytes(given)
        let b = CountingBytes(expected)
        #expect(StandardWebhooks.constantTimeEquals(a, b) == false)
        #expect(a.reads == Array(repeating: 1, count: 32), "reads of the given MAC: \(a.reads)")
        #expect(b.reads == Array(repeating: 1, count: 32), "reads of the expected MAC: \(b.reads)")

        let same = CountingBytes(expected)
        let other = CountingBytes(expected)
        #expect(StandardWebhooks.constantTimeEquals(same, other))
        #expect(same.reads == Array(repeating: 1, count: 32))
        // Different lengths are refused before any byte is read (length is not secret).
        let short = CountingBytes(Array(expected.prefix(31)))
        #expect(StandardWebhooks.constantTimeEquals(short, CountingBytes(expected)) == false)
        #expect(short.reads.allSatisfy { $0 == 0 })
    }

    @Test("every secret comparison goes through the constant-time routine")
    func secretComparisonsAreConstantTime() throws {
        // The call sites that compare a MAC, token or secret: each must use constantTimeEquals, never `==`.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/Net")
        let sites: [(file: String, marker: String)] = [
            ("StandardWebhooks.swift", "Self.constantTimeEquals(Array(given), expected)"),
            ("ShopifyApp.swift", "StandardWebhooks.constantTimeEquals(Array(given.utf8), Array(expected.utf8))"),
            ("ShopifyApp.swift", "StandardWebhooks.constantTimeEquals(given, Self.mac("),
            ("ShopifyApp.swift", "StandardWebhooks.constantTimeEquals(signature, Array(expected))"),
            ("ShopifyWebhookRoutes.swift", "StandardWebhooks.constantTimeEquals(Array(given), Array(expected))"),
            ("AppPages.swift", "StandardWebhooks.constantTimeEquals(Array(given.utf8), Array(expected.utf8))"),
            ("OpsRoutes.swift", "StandardWebhooks.constantTimeEquals("),
        ]
        for site in sites {
            let text = try String(contentsOf: root.appendingPathComponent(site.file), encoding: .utf8)
            #expect(text.contains(site.marker), "\(site.file) no longer compares with constantTimeEquals: \(site.marker)")
        }
    }

    @Test("a merchant sees only its own checkouts, ledger, usage and pages")
    func noEndpointReturnsAnotherMerchantsData() async throws {
        try await Onboarding.run { harness, client in
            let shopA = "iso-a.myshopify.com"
            let shopB = "iso-b.myshopify.com"
            let cookieA = try await harness.ready(client, shop: shopA, key: Onboarding.keyA, secret: "ws_test_a")
            let cookieB = try await harness.ready(client, shop: shopB, key: Onboarding.keyB, secret: "ws_test_b")
            let (checkoutB, planB, _) = try await harness.checkoutWithPlan(client, shop: shopB)
            let paymentB = try await harness.pay(client, plan: planB)
            let month = Timestamp.now.month

            // B sees its payment (so the A-side checks below are meaningful).
            let ledgerB = try await harness.send(
                client, .get, "/api/merchant/transactions?month=\(month)", headers: Onboarding.cookieHeader(cookieB))
            #expect((ledgerB.json?["rows"] as? [Any])?.count == 1)

            let tokenA = Onboarding.sessionToken(shop: shopA)
            for credentials in [Onboarding.cookieHeader(cookieA), Onboarding.bearer(tokenA)] {
                let ledger = try await harness.send(
                    client, .get, "/api/merchant/transactions?month=\(month)", headers: credentials)
                #expect(ledger.status == .ok)
                #expect((ledger.json?["rows"] as? [Any])?.isEmpty == true)
                var csvHeaders = credentials
                csvHeaders[.accept] = "text/csv"
                let csv = try await harness.send(
                    client, .get, "/api/merchant/transactions?month=\(month)", headers: csvHeaders)
                #expect(csv.text.split(separator: "\r\n").count == 1, "A's CSV: \(csv.text)")
                let summary = try await harness.send(client, .get, "/api/merchant", headers: credentials)
                #expect(summary.json?["shop"] as? String == shopA)
                #expect((summary.json?["usage"] as? [String: Any])?["paid"] as? Int == 0)
                for path in ["/api/merchant?shop=\(shopB)", "/api/merchant/transactions?shop=\(shopB)", "/app?shop=\(shopB)"] {
                    let asked = try await harness.send(client, .get, path, headers: credentials)
                    #expect(asked.status == .forbidden, "\(path)")
                }
                let retry = try await harness.send(
                    client, .post, "/api/merchant/orders/\(checkoutB)/retry-sync", headers: credentials)
                #expect(retry.status == .forbidden)
                for page in ["/app", "/app/integrations/whop", "/app/settings"] {
                    let html = try await harness.send(client, .get, page, headers: credentials)
                    #expect(html.status == .ok, "\(page)")
                    for foreign in [shopB, checkoutB, paymentB, "biz_test_b", "ws_test_b", Onboarding.keyB] {
                        #expect(!html.text.contains(foreign), "\(page) shows \(foreign)")
                    }
                }
            }
            // The form route of the dashboard refuses B's checkout too (bearer sessions need no CSRF token).
            var form = Onboarding.bearer(tokenA)
            form[.contentType] = "application/x-www-form-urlencoded"
            let formRetry = try await harness.send(client, .post, "/app/orders/\(checkoutB)/retry-sync", headers: form, body: "")
            #expect(formRetry.status == .forbidden)
            // A token signed for B does not become A's session, nor the other way round.
            let tokenB = Onboarding.sessionToken(shop: shopB)
            let asB = try await harness.send(client, .get, "/api/merchant?shop=\(shopA)", headers: Onboarding.bearer(tokenB))
            #expect(asB.status == .forbidden)
            // A replacing its webhook secret leaves B's alone: B's deliveries still verify.
            _ = try await harness.send(
                client, .put, "/api/merchant/whop-webhook-secret", headers: Onboarding.json(Onboarding.cookieHeader(cookieA)),
                body: #"{"secret":"ws_replaced_a"}"#)
            let (_, planB2, _) = try await harness.checkoutWithPlan(client, shop: shopB)
            _ = try await harness.pay(client, plan: planB2)
        }
    }

    static func expectSecurityHeaders(
        _ headers: HTTPFields, _ page: String, frameAncestors: String?, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(headers[.contentType]?.hasPrefix("text/html") == true, "\(page)", sourceLocation: sourceLocation)
        let csp = headers[.contentSecurityPolicy] ?? ""
        if let frameAncestors {
            #expect(csp.contains("frame-ancestors \(frameAncestors)"), "\(page) CSP: \(csp)", sourceLocation: sourceLocation)
        }
        #expect(csp.contains("base-uri 'none'"), "\(page) CSP: \(csp)", sourceLocation: sourceLocation)
        #expect(csp.contains("object-src 'none'") || csp.contains("default-src 'none'"), "\(page) CSP: \(csp)",
            sourceLocation: sourceLocation)
        #expect(headers[.xContentTypeOptions] == "nosniff", "\(page)", sourceLocation: sourceLocation)
        #expect(headers[HTTPField.Name("Referrer-Policy")!] != nil, "\(page)", sourceLocation: sourceLocation)
    }

    @Test("every merchant-app HTML page carries CSP (frame-ancestors Shopify admin), nosniff and Referrer-Policy")
    func appPagesCarrySecurityHeaders() async throws {
        try await Onboarding.run { harness, client in
            let shop = "headers-a.myshopify.com"
            let signedOut = try await harness.send(client, .get, "/app")
            #expect(signedOut.status == .unauthorized)
            let admin = "https://admin.shopify.com https://*.myshopify.com"
            Self.expectSecurityHeaders(signedOut.headers, "signed-out page", frameAncestors: admin)
            let cookie = try await harness.install(client, shop: shop)
            let wizard = try await harness.send(client, .get, "/app", headers: Onboarding.cookieHeader(cookie))
            Self.expectSecurityHeaders(wizard.headers, "wizard", frameAncestors: admin)
            var form = Onboarding.bearer(Onboarding.sessionToken(shop: shop))
            form[.contentType] = "application/x-www-form-urlencoded"
            let failed = try await harness.send(client, .post, "/app/whop-key", headers: form, body: "api_key=apik_wrong")
            #expect(failed.status == .unprocessableContent)
            Self.expectSecurityHeaders(failed.headers, "wizard (key refused)", frameAncestors: admin)
            _ = try await harness.ready(client, shop: shop, key: Onboarding.keyA, secret: "ws_test_a")
            for page in ["/app", "/app/integrations/whop", "/app/settings"] {
                let reply = try await harness.send(client, .get, page, headers: Onboarding.cookieHeader(cookie))
                #expect(reply.status == .ok, "\(page)")
                Self.expectSecurityHeaders(reply.headers, page, frameAncestors: admin)
            }
        }
    }

    /// The storefront pages may be framed only by their own origin; the emulated Whop purchase page is framed by
    /// the drawer (as Whop's checkout is embedded in a storefront), so it restricts everything but framing.
    @Test("every sandbox storefront and emulated Whop page carries CSP, nosniff and Referrer-Policy")
    func sandboxPagesCarrySecurityHeaders() async throws {
        try await LiveServer.with { live in
            let (_, plan) = try await live.planned()
            let configuration = try #require(await live.server.sandbox?.whop.configuration(matching: plan))
            let pages: [(String, String, framable: Bool)] = [
                ("GET", "/sandbox/store", false), ("POST", "/sandbox/store/checkout", false),
                ("GET", "/sandbox/whop/checkout/\(configuration.id)", true), ("GET", "/sandbox/whop/checkout/ch_missing", false),
            ]
            for (method, path, framable) in pages {
                let reply = try await live.request(method, path)
                #expect(reply.status < 500, "\(method) \(path)")
                var fields = HTTPFields()
                for header in reply.headers {
                    if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
                }
                Self.expectSecurityHeaders(fields, "\(method) \(path)", frameAncestors: framable ? nil : "'self'")
                #expect(fields[HTTPField.Name("X-Frame-Options")!] == (framable ? nil : "SAMEORIGIN"), "\(method) \(path)")
            }
        }
    }

    /// Inputs the fuzz targets crashed on before they were fixed (docs/SECURITY-TESTING.md), at the unit level.
    @Test("hostile integers: extreme timestamps, amounts and token claims answer cleanly")
    func hostileIntegers() throws {
        #expect(throws: StandardWebhooks.Rejection.staleTimestamp) {
            try StandardWebhooks.verify(
                secret: "s", id: "msg_1", timestamp: "-9223372036854775808", signatures: "v1,AAAA", body: [UInt8](),
                now: 1_750_000_000)
        }
        #expect(!StandardWebhooks.isWithin(.min, of: .max, tolerance: 300))
        #expect(StandardWebhooks.isWithin(.max, of: .max - 300, tolerance: 300))
        #expect(Currency.platformFee(.max) == 46_116_860_184_273_879)
        #expect(Currency.parseDecimal("-92233720368547758.08", currency: "USD") == .min)
        #expect(Currency.parseDecimal("92233720368547758.08", currency: "USD") == nil)
        #expect(Timestamp(milliseconds: .min).seconds == -9_223_372_036_854_776)
        #expect(Timestamp(milliseconds: -1).seconds == -1)
        #expect(Timestamp(milliseconds: -1000).seconds == -1)
        #expect(Timestamp(milliseconds: -1001).seconds == -2)
        #expect(Timestamp(milliseconds: .max).adding(.seconds(60)).milliseconds == .max)
        #expect(Timestamp(milliseconds: .min).adding(.zero - .seconds(60)).milliseconds == .min)
        _ = Timestamp(milliseconds: .min).month
        let shop = "edge.myshopify.com"
        let token = ShopifySessionToken.sign(
            ["iss": "https://\(shop)/admin", "dest": "https://\(shop)", "aud": "key", "exp": Int64.max, "nbf": Int64.min],
            secret: "secret")
        #expect(try ShopifySessionToken.verify(token, apiKey: "key", secret: "secret", now: 1_750_000_000).rawValue == shop)
    }

    @Test("a webhook timestamp of Int64.min is a 401, and the server keeps serving")
    func extremeWebhookTimestamp() async throws {
        try await LiveServer.with { live in
            let body = Data(#"{"type":"payment.succeeded","company_id":"biz_sandbox_demo","data":{"id":"pay_x"}}"#.utf8)
            let reply = try await live.webhook(body: body, secret: live.demo.webhookSecret, timestamp: .min)
            #expect(reply.status == 401)
            #expect(reply.errorCode == "invalid_signature")
            #expect(try await live.request("GET", "/healthz").status == 200)
        }
    }
}
