import Actors
import Foundation
import NIOHTTP1
import Net
import Testing

@Suite("The script tag, CORS and the demo storefront", .serialized)
struct EmbedAndStorefrontTests {
    private func script(_ live: LiveServer, query: String, headers: [(String, String)] = []) async throws -> LiveServer.Reply {
        try await live.request("GET", "/embed/cart.js?\(query)", headers: headers)
    }

    @Test("cart.js is JavaScript with a strong ETag, cacheable, and carries no wildcard CORS")
    func scriptHeaders() async throws {
        try await LiveServer.with { live in
            let reply = try await self.script(live, query: "shop=\(live.demo.shop)")
            #expect(reply.status == 200)
            #expect(reply.headers.first(name: "Content-Type") == "text/javascript; charset=utf-8")
            let etag = try #require(reply.headers.first(name: "ETag"))
            #expect(etag.hasPrefix("\"cart-v") && etag.hasSuffix("\""))
            #expect(reply.headers.first(name: "Cache-Control")?.contains("max-age=300") == true)
            #expect(reply.headers.first(name: "Access-Control-Allow-Origin") == nil)
            #expect(reply.headers.first(name: "X-Content-Type-Options") == "nosniff")
            for marker in ["role: \"dialog\"", "aria-labelledby", "/api/checkout/create-from-cart", "/api/checkout/get-plan",
                "cart.js", "name=\"checkout\"", "Escape", "iframe", "Continue to regular checkout"] {
                #expect(reply.text.contains(marker), "script lacks \(marker)")
            }
        }
    }

    @Test(
        "If-None-Match: the ETag itself, in a list, weak, or * → 304 with the cache headers; another tag → 200",
        arguments: [("SAME", 304), ("\"x\", SAME", 304), ("W/SAME", 304), ("*", 304), ("\"cart-v0-0\"", 200)])
    func conditional(_ header: String, _ status: Int) async throws {
        try await LiveServer.with { live in
            let etag = try #require(try await self.script(live, query: "shop=\(live.demo.shop)").headers.first(name: "ETag"))
            let reply = try await self.script(
                live, query: "shop=\(live.demo.shop)", headers: [("If-None-Match", header.replacingOccurrences(of: "SAME", with: etag))])
            #expect(reply.status == status)
            if status == 304 {
                #expect(reply.body.isEmpty)
                #expect(reply.headers.first(name: "ETag") == etag)
                #expect(reply.headers.first(name: "Cache-Control") != nil)
            }
        }
    }

    @Test("?v= of the current version is immutable; another version is not")
    func versioned() async throws {
        try await LiveServer.with { live in
            let current = try await self.script(live, query: "shop=\(live.demo.shop)&v=2")
            #expect(current.headers.first(name: "Cache-Control")?.contains("immutable") == true)
            #expect(current.text.contains("version: \"2\""))
            let old = try await self.script(live, query: "shop=\(live.demo.shop)&v=1")
            #expect(old.headers.first(name: "Cache-Control")?.contains("immutable") == false)
        }
    }

    @Test("a shop that is unknown, not set up or uninstalled gets the inert script, and its origin no CORS")
    func notReady() async throws {
        try await LiveServer.with { live in
            let active = try await self.script(live, query: "shop=\(live.demo.shop)")
            let unknown = try await self.script(live, query: "shop=nobody.myshopify.com")
            #expect(unknown.status == 200)
            #expect(!unknown.text.contains("dialog"))
            #expect(unknown.headers.first(name: "ETag") != active.headers.first(name: "ETag"))
            #expect(unknown.headers.first(name: "Content-Type") == "text/javascript; charset=utf-8")

            let shop = MerchantID("half-done.myshopify.com")
            let merchant = try await live.server.registry.merchantCreatingIfNeeded(shop, now: .now)
            try await merchant.install(token: "shpat_half", scopes: "read_products", now: .now)
            let halfDone = try await self.script(live, query: "shop=\(shop)")
            #expect(!halfDone.text.contains("dialog"), "no Whop key yet: Checkout must stay Shopify's")
            let installed = try await live.request(
                "OPTIONS", "/api/checkout/create-from-cart",
                headers: [("Origin", "https://\(shop)"), ("Access-Control-Request-Method", "POST")])
            #expect(installed.headers.first(name: "Access-Control-Allow-Origin") == "https://\(shop)")

            try await merchant.uninstall(now: .now)
            let gone = try await live.request(
                "OPTIONS", "/api/checkout/create-from-cart",
                headers: [("Origin", "https://\(shop)"), ("Access-Control-Request-Method", "POST")])
            #expect(gone.headers.first(name: "Access-Control-Allow-Origin") == nil)
            #expect(gone.headers.first(name: "Vary") == "Origin")
        }
    }

    @Test("CORS: the sandbox storefront under its loopback alias is allowed; every checkout answer varies on Origin")
    func corsAlias() async throws {
        try await LiveServer.with { live in
            let alias = live.base.replacingOccurrences(of: "127.0.0.1", with: "localhost")
            let preflight = try await live.request(
                "OPTIONS", "/api/checkout/get-plan",
                headers: [("Origin", alias), ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "content-type")])
            #expect(preflight.status == 204)
            #expect(preflight.headers.first(name: "Access-Control-Allow-Origin") == alias)
            #expect(preflight.headers.first(name: "Access-Control-Allow-Headers")?.lowercased().contains("content-type") == true)
            let plain = try await live.request("GET", "/api/checkout/chk_000000000000000000000000")
            #expect(plain.status == 404)
            #expect(plain.headers.first(name: "Vary") == "Origin")
            let foreign = try await live.request(
                "GET", "/api/checkout/chk_000000000000000000000000", headers: [("Origin", "http://127.0.0.1:1")])
            #expect(foreign.headers.first(name: "Access-Control-Allow-Origin") == nil)
            let http = try await live.request(
                "GET", "/api/checkout/chk_000000000000000000000000", headers: [("Origin", "http://\(live.demo.shop)")])
            #expect(http.headers.first(name: "Access-Control-Allow-Origin") == nil, "only https storefronts")
        }
    }

    @Test("the demo storefront: add forms, a Checkout button in a /checkout form, the real script tag, cart.js")
    func storefront() async throws {
        try await LiveServer.with { live in
            let page = try await live.request("GET", "/sandbox/store")
            #expect(page.status == 200)
            #expect(page.headers.first(name: "Content-Type")?.hasPrefix("text/html") == true)
            #expect(page.text.contains("action=\"/sandbox/store/cart/add\""))
            #expect(page.text.contains("name=\"add\""))
            #expect(page.text.contains("<form action=\"/sandbox/store/checkout\" method=\"post\"><button type=\"submit\" name=\"checkout\">"))
            #expect(page.text.contains("src=\"\(live.base)/embed/cart.js?shop=\(live.demo.shop)\""))

            // The client follows the 303 back to the store page, so the test brings its own cart cookie.
            let cookie = "sandbox_cart=0123456789abcdef0123456789abcdef"
            let add = try await live.request(
                "POST", "/sandbox/store/cart/add",
                headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", cookie)],
                body: Data("id=\(live.firstVariant)&quantity=2".utf8))
            #expect(add.status == 200)
            #expect(add.text.contains("258.00 USD"), "the store page after adding shows the cart")
            let cart = try await live.request("GET", "/sandbox/store/cart.js", headers: [("Cookie", cookie)])
            #expect(cart.json?["total_price"] as? Int == 25_800)
            #expect((cart.json?["items"] as? [[String: Any]])?.first?["variant_id"] as? Int == Int(live.firstVariant))
            let cleared = try await live.request("POST", "/sandbox/store/cart/clear.js", headers: [("Cookie", cookie)])
            #expect(cleared.status == 200)
            #expect((cleared.json?["items"] as? [Any])?.isEmpty == true)
            let after = try await live.request("GET", "/sandbox/store/cart.js", headers: [("Cookie", cookie)])
            #expect(after.json?["total_price"] as? Int == 0)
        }
    }

    @Test("the Whop purchase page shows two decimals, has a Pay button, and refuses framing only when told to")
    func purchasePage() async throws {
        try await LiveServer.with { live in
            let (id, _) = try await live.planned(quantity: 2)
            let plan = try await live.post("/api/checkout/get-plan", json: ["checkout_id": id])
            let url = try #require(plan.json?["purchase_url"] as? String)
            let path = String(url.dropFirst(live.base.count))
            let framed = try await live.request("GET", path)
            #expect(framed.status == 200)
            #expect(framed.text.contains("258.00 USD"))
            #expect(framed.text.contains("id=\"pay\""))
            #expect(framed.headers.first(name: "X-Frame-Options") == nil)
            _ = try await live.post("/sandbox/config", json: ["whop_frame_deny": true])
            let refused = try await live.request("GET", path)
            #expect(refused.headers.first(name: "X-Frame-Options") == "DENY")
            #expect(refused.headers.first(name: "Content-Security-Policy") == "frame-ancestors 'none'")
            _ = try await live.post("/sandbox/config", json: ["whop_frame_deny": false])
        }
    }
}
