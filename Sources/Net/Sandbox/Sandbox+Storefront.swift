import Actors
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension Sandbox {
    private static let cartCookie = "sandbox_cart"

    /// Demo pages with inline scripts: no script-src restriction, but no plugins and no `<base>` hijack.
    static let contentSecurityPolicy = "object-src 'none'; base-uri 'none'; form-action 'self'"

    /// An HTML page of the sandbox. Storefront pages may be framed only by the same origin; the emulated Whop
    /// purchase page (`framable`) is framed by the storefront's drawer, as Whop's own checkout is, so it sets no
    /// framing restriction unless the emulator is told to refuse framing.
    static func html(_ text: String, status: HTTPResponse.Status = .ok, framable: Bool = false) -> Response {
        var response = JSONResponse.raw(text, contentType: "text/html; charset=utf-8", status: status)
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        if framable {
            response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        } else {
            response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy + "; frame-ancestors 'self'"
            response.headers[HTTPField.Name("X-Frame-Options")!] = "SAMEORIGIN"
        }
        return response
    }

    /// Escapes text for HTML.
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    private func cartToken(_ request: Request) -> String? {
        guard let token = request.cookies[Self.cartCookie]?.value, token.utf8.count == 32,
            token.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
        else { return nil }
        return token
    }

    /// The demo storefront: products, cart, Checkout button; loads the real script tag.
    func registerStorefront(on router: Router<HyggeRequestContext>) {
        router.get("/sandbox/store") { request, _ in
            try await self.storePage(request)
        }
        router.get("/sandbox/store/cart.js") { request, _ in
            let token = self.cartToken(request) ?? ""
            let data = await self.shopify.cartJSON(shop: self.demo.shop.rawValue, token: token)
            var response = JSONResponse.raw(String(decoding: data, as: UTF8.self), contentType: "application/json")
            response.headers[.cacheControl] = "no-store"
            return response
        }
        router.post("/sandbox/store/cart/add") { request, context in
            let body = String(decoding: try await request.bodyBytes(context: context), as: UTF8.self)
            var fields: [String: String] = [:]
            for pair in body.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
                if parts.count == 2 { fields[parts[0]] = parts[1] }
            }
            let token = self.cartToken(request) ?? RandomToken.hex(bytes: 16)
            if let variant = fields["id"].flatMap(Int64.init) {
                let quantity = min(999, max(1, fields["quantity"].flatMap(Int.init) ?? 1))
                await self.shopify.addToCart(token: token, variant: variant, quantity: quantity)
            }
            var response = Response(status: .seeOther)
            response.headers[.location] = "/sandbox/store#cart"
            response.setCookie(.init(name: Self.cartCookie, value: token, path: "/sandbox/store", httpOnly: true, sameSite: .lax))
            return response
        }
        router.post("/sandbox/store/cart/clear") { request, _ in
            if let token = self.cartToken(request) { await self.shopify.clearCart(token: token) }
            var response = Response(status: .seeOther)
            response.headers[.location] = "/sandbox/store"
            return response
        }
        router.post("/sandbox/store/cart/clear.js") { request, _ in
            let token = self.cartToken(request) ?? ""
            if !token.isEmpty { await self.shopify.clearCart(token: token) }
            let data = await self.shopify.cartJSON(shop: self.demo.shop.rawValue, token: token)
            var response = JSONResponse.raw(String(decoding: data, as: UTF8.self), contentType: "application/json")
            response.headers[.cacheControl] = "no-store"
            return response
        }
        router.post("/sandbox/store/checkout") { _, _ in
            Self.html(
                "<!doctype html><title>Shopify checkout</title><h1>Shopify checkout</h1><p>This is where Shopify's own checkout would open.</p><a href=\"/sandbox/store\">Back</a>")
        }
    }

    private func storePage(_ request: Request) async throws -> Response {
        let products = await self.shopify.products(self.demo.shop.rawValue)
        let token = self.cartToken(request) ?? ""
        let cart = (try? JSONSerialization.jsonObject(with: await self.shopify.cartJSON(shop: self.demo.shop.rawValue, token: token)))
            as? [String: Any] ?? [:]
        var cards = ""
        for product in products {
            for variant in product.variants {
                let title = variant.title == "Default Title" ? product.title : "\(product.title) — \(variant.title)"
                cards += """
                    <li class="card"><h3>\(Self.escape(title))</h3><p class="price">\(Self.escape(variant.price)) USD</p>
                    <form method="post" action="/sandbox/store/cart/add" accept-charset="UTF-8">
                    <input type="hidden" name="id" value="\(variant.id)"><input type="hidden" name="quantity" value="1">
                    <button type="submit" name="add" data-variant="\(variant.id)">Add to cart</button></form></li>
                    """
            }
        }
        var lines = ""
        for item in cart["items"] as? [[String: Any]] ?? [] {
            let minor = item["line_price"] as? Int64 ?? Int64(item["line_price"] as? Int ?? 0)
            lines += "<li>\(item["quantity"] ?? 0) × \(Self.escape(item["title"] as? String ?? "")) — \(Currency.decimalString(minor: minor, currency: "USD")) USD</li>"
        }
        let totalMinor = cart["total_price"] as? Int64 ?? Int64(cart["total_price"] as? Int ?? 0)
        let page = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
            <title>Hygge Demo Shop</title>
            <style>body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#222;background:#faf8f4}header{padding:18px 28px;background:#2f3e36;color:#fff}
            main{display:grid;grid-template-columns:1fr 320px;gap:24px;padding:24px 28px}ul.grid{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:16px}
            .card{background:#fff;border-radius:10px;padding:14px;box-shadow:0 1px 3px rgba(0,0,0,.08)}.card h3{margin:0 0 6px;font-size:16px}.price{color:#555}
            button{font:inherit;padding:8px 12px;border-radius:6px;border:1px solid #2f3e36;background:#2f3e36;color:#fff;cursor:pointer}
            aside{background:#fff;border-radius:10px;padding:16px;height:fit-content}@media(max-width:700px){main{grid-template-columns:1fr}}</style>
            <script>window.Shopify={shop:"\(self.demo.shop.rawValue)",currency:{active:"USD"},routes:{root:"/sandbox/store/"}};</script>
            <script src="\(self.publicURL)/embed/cart.js?shop=\(self.demo.shop.rawValue)" async></script>
            </head><body><header><strong>Hygge Demo Shop</strong> — a sandbox storefront (\(Self.escape(self.demo.shop.rawValue)))</header>
            <main><section><h2>Products</h2><ul class="grid">\(cards)</ul></section>
            <aside id="cart" aria-label="Cart"><h2>Cart</h2><ul id="cart-lines">\(lines.isEmpty ? "<li>Your cart is empty.</li>" : lines)</ul>
            <p>Subtotal: <strong id="cart-total">\(Currency.decimalString(minor: totalMinor, currency: "USD")) USD</strong></p>
            <form action="/sandbox/store/checkout" method="post"><button type="submit" name="checkout">Checkout</button></form>
            <form action="/sandbox/store/cart/clear" method="post"><button type="submit" style="background:#fff;color:#2f3e36;margin-top:8px">Clear cart</button></form>
            </aside></main></body></html>
            """
        return Self.html(page)
    }

    /// The emulated Whop purchase page with a Pay button; refuses framing when the emulator is told to.
    func purchasePage(_ id: String) async throws -> Response {
        guard let configuration = await self.whop.configuration(matching: id) else {
            return Self.html("<!doctype html><title>Not found</title><p>No such plan.</p>", status: .notFound)
        }
        let paid = configuration.paymentID != nil
        let currency = configuration.currency.uppercased()
        let amount = Currency.parseDecimal(configuration.price, currency: currency).map {
            Currency.decimalString(minor: $0, currency: currency)
        } ?? configuration.price
        let back = configuration.redirectURL.map {
            "<p id=\"back\" hidden><a href=\"\(Self.escape($0))\" target=\"_top\">Return to the store</a></p>"
        } ?? ""
        let page = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
            <title>Whop — Pay</title><style>body{font:15px/1.5 system-ui,sans-serif;margin:0;padding:16px;background:#fff7f2;color:#222}
            .box{background:#fff;border-radius:10px;padding:18px;box-shadow:0 1px 4px rgba(0,0,0,.1)}
            button{font:inherit;padding:10px 18px;border:0;border-radius:8px;background:#ff6243;color:#fff;cursor:pointer;min-width:120px}
            button:disabled{background:#b9b2ae;cursor:default}.brand{font-weight:700;color:#ff6243}.card{border:1px solid #ddd;border-radius:8px;padding:10px;margin:10px 0;color:#555}
            </style></head><body><div class="box"><p><span class="brand">Whop</span> checkout (sandbox)</p>
            <p>Amount: <strong id="amount">\(Self.escape(amount)) \(Self.escape(currency))</strong></p>
            <div class="card">Card •••• 4242 (sandbox test card)</div>
            <button id="pay" type="button" \(paid ? "disabled" : "")>\(paid ? "Paid" : "Pay")</button>
            <p id="result" role="status">\(paid ? "This plan is already paid." : "")</p>\(back)</div>
            <script>document.getElementById("pay").addEventListener("click",function(){var b=this;b.disabled=true;b.textContent="Paying…";
            fetch("/sandbox/whop/pay",{method:"POST",headers:{"Content-Type":"application/json"},body:JSON.stringify({purchase_url:location.href.split("?")[0]})})
            .then(function(r){return r.json()}).then(function(j){b.textContent=j.payment_id?"Paid":"Pay";
            document.getElementById("result").textContent=j.payment_id?"Payment complete ("+j.payment_id+")"+(window.top===window?". You can close this tab.":""):"Payment failed";
            var back=document.getElementById("back");if(back&&window.top===window)back.hidden=false;})
            .catch(function(){b.disabled=false;b.textContent="Pay";});});</script></body></html>
            """
        var response = Self.html(page, framable: true)
        if await self.whop.framingRefused {
            response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
            response.headers[HTTPField.Name("Content-Security-Policy")!] = "frame-ancestors 'none'"
        }
        return response
    }
}
