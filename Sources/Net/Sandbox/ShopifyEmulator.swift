import Actors
package import Foundation

/// An in-memory Shopify Admin for the sandbox and tests: shops with products, orders, script tags and webhook
/// subscriptions, answering with Shopify's JSON shapes and error bodies. Not persisted.
package actor ShopifyEmulator {
    package struct Variant: Sendable {
        package var id: Int64
        package var productID: Int64
        package var title: String
        package var price: String
    }

    package struct Product: Sendable {
        package var id: Int64
        package var title: String
        package var variants: [Variant]
    }

    struct Shop {
        var token: String
        var products: [Product] = []
        var orders: [[String: Any]] = []
        var scriptTags: [[String: Any]] = []
        var webhooks: [[String: Any]] = []
        var nextOrderNumber = 1001
    }

    /// One Admin API call the emulator answered, for tests of retry timing and order.
    package struct Call: Sendable, Equatable {
        /// `POST orders.json`, `GET orders.json`, `GET variants`, `GET products.json`.
        package var name: String
        package var shop: String
        package var at: ContinuousClock.Instant
    }

    private var shops: [String: Shop] = [:]
    private var carts: [String: [(variant: Int64, quantity: Int)]] = [:]
    private var codes: [String: (shop: String, token: String)] = [:]
    private var nextID: Int64 = 450_789_469_000
    private var orderFaults: [SandboxFault] = []
    /// The most recent calls, oldest first (at most `callLogMax`).
    package private(set) var calls: [Call] = []
    static let callLogMax = 10_000
    /// `X-Shopify-Shop-Api-Call-Limit` sent on every Admin answer (`used/limit`); nil = `1/40`.
    package private(set) var callLimit: String?
    /// Added before every answer (load tests separate Hygge's own time from upstream time).
    package var latency: Duration = .zero

    package init() {}

    /// Sets the emulated latency.
    package func setLatency(_ latency: Duration) { self.latency = latency }

    /// Queues faults for the next order POSTs (each fault is used by one POST).
    package func injectOrderFaults(_ faults: [SandboxFault]) {
        self.orderFaults.append(contentsOf: faults.prefix(max(0, SandboxFault.queueMax - self.orderFaults.count)))
    }

    /// Drops every queued fault.
    package func clearFaults() { self.orderFaults = [] }

    /// The fault for the order POST arriving now, if any.
    package func takeOrderFault() -> SandboxFault? {
        self.orderFaults.isEmpty ? nil : self.orderFaults.removeFirst()
    }

    /// Sets the call-limit header value (`"39/40"`), or back to the default with nil.
    package func setCallLimit(_ value: String?) { self.callLimit = value }

    /// Records a call in the call log.
    package func record(_ name: String, shop: String) {
        if self.calls.count >= Self.callLogMax { self.calls.removeFirst(Self.callLogMax / 2) }
        self.calls.append(Call(name: name, shop: shop, at: .now))
    }

    /// Adds the bucket header Shopify puts on every Admin REST answer.
    private func stamped(_ answer: Answer) -> Answer {
        var answer = answer
        answer.headers.append(("X-Shopify-Shop-Api-Call-Limit", self.callLimit ?? "1/40"))
        return answer
    }

    /// Adds a shop with an access token and the demo catalogue.
    package func addShop(_ shop: String, token: String, catalogue: [(String, [(String, String)])]) {
        var record = Shop(token: token)
        for (title, variants) in catalogue {
            let productID = self.newID()
            let items = variants.map { Variant(id: self.newID(), productID: productID, title: $0.0, price: $0.1) }
            record.products.append(Product(id: productID, title: title, variants: items))
        }
        self.shops[shop] = record
    }

    /// Whether the shop exists.
    package func hasShop(_ shop: String) -> Bool { self.shops[shop] != nil }

    /// Products of a shop.
    package func products(_ shop: String) -> [Product] { self.shops[shop]?.products ?? [] }

    /// Mints a one-time OAuth code that exchanges for a new token of `shop` (created if needed).
    package func mintCode(shop: String) -> String {
        let code = RandomToken.hex(bytes: 16)
        let token = self.shops[shop]?.token ?? "shpat_" + RandomToken.hex(bytes: 16)
        if self.shops[shop] == nil { self.addShop(shop, token: token, catalogue: Self.demoCatalogue) }
        self.codes[code] = (shop, token)
        return code
    }

    /// Exchanges an OAuth code (single use).
    package func exchange(code: String, shop: String) -> String? {
        guard let entry = self.codes.removeValue(forKey: code), entry.shop == shop else { return nil }
        return entry.token
    }

    private func newID() -> Int64 {
        self.nextID += 1
        return self.nextID
    }

    /// An answer: status and JSON object.
    package struct Answer: Sendable {
        package var status: Int
        package var json: Data
        package var headers: [(String, String)] = []
    }

    static func json(_ object: Any, status: Int = 200) -> Answer {
        Answer(status: status, json: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
    }

    static let unauthorized = json(
        ["errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"], status: 401)
    static let notFound = json(["errors": "Not Found"], status: 404)

    /// Shopify's error body for an injected failure status.
    static func failure(_ status: Int) -> Answer {
        let text =
            switch status {
            case 429: "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
            case 502: "Bad Gateway"
            case 503: "Service Unavailable"
            case 504: "Gateway Timeout"
            default: "Internal Server Error"
            }
        return json(["errors": text], status: status)
    }

    private func authorize(_ shop: String, _ token: String?) -> Answer? {
        guard let record = self.shops[shop] else { return Self.notFound }
        guard let token, token == record.token else { return Self.unauthorized }
        return nil
    }

    /// `GET variants/{id}.json`.
    package func variant(shop: String, token: String?, id: Int64) -> Answer {
        self.record("GET variants", shop: shop)
        if let refusal = self.authorize(shop, token) { return refusal }
        for product in self.shops[shop]?.products ?? [] {
            if let variant = product.variants.first(where: { $0.id == id }) {
                return self.stamped(Self.json(["variant": Self.variantJSON(variant, product: product)]))
            }
        }
        return self.stamped(Self.notFound)
    }

    private static func variantJSON(_ variant: Variant, product: Product) -> [String: Any] {
        [
            "id": variant.id, "product_id": variant.productID,
            "title": variant.title == "Default Title" ? product.title : "\(product.title) — \(variant.title)",
            "price": variant.price, "sku": "HYG-\(variant.id)", "inventory_policy": "deny",
            "inventory_management": "shopify", "requires_shipping": true, "taxable": true,
            "admin_graphql_api_id": "gid://shopify/ProductVariant/\(variant.id)",
        ]
    }

    /// `GET products.json`.
    package func productsJSON(shop: String, token: String?) -> Answer {
        if let refusal = self.authorize(shop, token) { return refusal }
        let products = (self.shops[shop]?.products ?? []).map { product in
            [
                "id": product.id, "title": product.title, "status": "active",
                "variants": product.variants.map { Self.variantJSON($0, product: product) },
            ] as [String: Any]
        }
        return Self.json(["products": products])
    }

    /// `POST orders.json`.
    package func createOrder(shop: String, token: String?, body: Data) -> Answer {
        if let refusal = self.authorize(shop, token) { return refusal }
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
            var order = object["order"] as? [String: Any]
        else {
            return Self.json(["errors": ["order": ["Required parameter missing or invalid"]]], status: 400)
        }
        guard let lines = order["line_items"] as? [[String: Any]], !lines.isEmpty else {
            return Self.json(["errors": ["line_items": ["must have at least one line item"]]], status: 422)
        }
        guard var record = self.shops[shop] else { return Self.notFound }
        let id = self.newID()
        let number = record.nextOrderNumber
        record.nextOrderNumber += 1
        order["id"] = id
        order["name"] = "#\(number)"
        order["order_number"] = number
        order["created_at"] = Timestamp.now.iso8601
        order["admin_graphql_api_id"] = "gid://shopify/Order/\(id)"
        // Shopify computes the totals itself from the line items (no tax or shipping in the emulator).
        let currency = (order["currency"] as? String) ?? "USD"
        let subtotal = lines.reduce(Int64(0)) { sum, line in
            let price = (line["price"] as? String).flatMap { Currency.parseDecimal($0, currency: currency) } ?? 0
            return sum + price * Int64((line["quantity"] as? Int) ?? 1)
        }
        let total = Currency.decimalString(minor: subtotal, currency: currency)
        order["currency"] = currency
        order["subtotal_price"] = total
        order["total_price"] = total
        record.orders.append(order)
        self.shops[shop] = record
        return self.stamped(Self.json(["order": order], status: 201))
    }

    /// `GET orders.json?status=any[&created_at_min=…][&created_at_max=…][&limit=N][&fields=a,b][&page_info=…]`, oldest
    /// first (both bounds inclusive, compared as ISO 8601 strings as the emulator writes them). With `limit`
    /// (1–250) it pages like Shopify: at most `limit` orders and, when more follow, a cursor for the next page, which
    /// the route turns into a `Link: <…&page_info=…>; rel="next"` header (with `page_info`, the other filters are
    /// the cursor's, as on Shopify). Without `limit` it answers every order (a sandbox convenience for tools and
    /// the banner's curl line; real Shopify would answer 50). `fields` keeps only the named fields.
    package func orders(
        shop: String, token: String?, createdAtMin: String?, createdAtMax: String? = nil, limit: String? = nil,
        fields: String? = nil, pageInfo: String? = nil
    ) -> (answer: Answer, nextPageInfo: String?) {
        self.record("GET orders.json", shop: shop)
        if let refusal = self.authorize(shop, token) { return (refusal, nil) }
        var minimum = createdAtMin
        var maximum = createdAtMax
        var offset = 0
        if let pageInfo {
            guard let decoded = Data(base64Encoded: pageInfo).flatMap({ String(data: $0, encoding: .utf8) }),
                let separator = decoded.firstIndex(of: "|"), let start = Int(decoded[..<separator]), start >= 0
            else { return (Self.json(["errors": "Invalid page_info."], status: 400), nil) }
            offset = start
            // The cursor is `offset|min|max` (an empty bound: none).
            let bounds = decoded[decoded.index(after: separator)...].split(separator: "|", omittingEmptySubsequences: false)
            minimum = bounds.first.flatMap { $0.isEmpty ? nil : String($0) }
            maximum = bounds.dropFirst().first.flatMap { $0.isEmpty ? nil : String($0) }
        }
        var pageSize: Int?
        if let limit {
            guard let value = Int(limit), (1...250).contains(value) else {
                return (Self.json(["errors": "limit must be between 1 and 250"], status: 400), nil)
            }
            pageSize = value
        }
        let matching = (self.shops[shop]?.orders ?? []).filter { order in
            guard let created = order["created_at"] as? String else { return true }
            if let minimum, created < minimum { return false }
            if let maximum, created > maximum { return false }
            return true
        }
        var page = Array(matching.dropFirst(offset))
        var next: String?
        if let pageSize, page.count > pageSize {
            page = Array(page.prefix(pageSize))
            next = Data("\(offset + pageSize)|\(minimum ?? "")|\(maximum ?? "")".utf8).base64EncodedString()
        }
        if let fields {
            let keep = Set(fields.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            page = page.map { $0.filter { keep.contains($0.key) } }
        }
        return (self.stamped(Self.json(["orders": page])), next)
    }

    /// An order as the emulator stored it, for tests and the load test's correctness check.
    package struct OrderSummary: Sendable, Equatable {
        package var id: Int64
        package var name: String
        package var sourceIdentifier: String?
        package var tags: String?
        package var financialStatus: String?
        package var transactionAmount: String?
        package var lineItems: [String]
        package var noteAttributes: [String: String]
    }

    /// All orders of a shop.
    package func allOrders(_ shop: String) -> [OrderSummary] {
        (self.shops[shop]?.orders ?? []).map { order in
            let lines = (order["line_items"] as? [[String: Any]] ?? []).map { line in
                "\(line["variant_id"] ?? "")x\(line["quantity"] ?? "")@\(line["price"] ?? "")"
            }
            var notes: [String: String] = [:]
            for note in order["note_attributes"] as? [[String: Any]] ?? [] {
                if let name = note["name"] as? String, let value = note["value"] as? String { notes[name] = value }
            }
            let transaction = (order["transactions"] as? [[String: Any]])?.first
            return OrderSummary(
                id: order["id"] as? Int64 ?? 0, name: order["name"] as? String ?? "",
                sourceIdentifier: order["source_identifier"] as? String, tags: order["tags"] as? String,
                financialStatus: order["financial_status"] as? String,
                transactionAmount: transaction?["amount"] as? String, lineItems: lines, noteAttributes: notes)
        }
    }

    /// `GET/POST/DELETE script_tags`.
    package func scriptTags(shop: String, token: String?, method: String, body: Data?, id: Int64?) -> Answer {
        if let refusal = self.authorize(shop, token) { return refusal }
        guard var record = self.shops[shop] else { return Self.notFound }
        switch method {
        case "POST":
            guard let object = (try? JSONSerialization.jsonObject(with: body ?? Data())) as? [String: Any],
                var tag = object["script_tag"] as? [String: Any], tag["src"] is String
            else { return Self.json(["errors": ["src": ["can't be blank"]]], status: 422) }
            tag["id"] = self.newID()
            tag["display_scope"] = tag["display_scope"] ?? "all"
            tag["event"] = tag["event"] ?? "onload"
            record.scriptTags.append(tag)
            self.shops[shop] = record
            return Self.json(["script_tag": tag], status: 201)
        case "DELETE":
            let before = record.scriptTags.count
            record.scriptTags.removeAll { ($0["id"] as? Int64) == id }
            self.shops[shop] = record
            return before == record.scriptTags.count ? Self.notFound : Self.json([:])
        default:
            return Self.json(["script_tags": record.scriptTags])
        }
    }

    /// `GET/POST webhooks.json`.
    package func webhooks(shop: String, token: String?, method: String, body: Data?) -> Answer {
        if let refusal = self.authorize(shop, token) { return refusal }
        guard var record = self.shops[shop] else { return Self.notFound }
        if method == "POST" {
            guard let object = (try? JSONSerialization.jsonObject(with: body ?? Data())) as? [String: Any],
                var hook = object["webhook"] as? [String: Any], let topic = hook["topic"] as? String,
                let address = hook["address"] as? String
            else { return Self.json(["errors": ["topic": ["can't be blank"]]], status: 422) }
            if record.webhooks.contains(where: { ($0["topic"] as? String) == topic && ($0["address"] as? String) == address })
            {
                return Self.json(["errors": ["address": ["for this topic has already been taken"]]], status: 422)
            }
            hook["id"] = self.newID()
            hook["format"] = "json"
            record.webhooks.append(hook)
            self.shops[shop] = record
            return Self.json(["webhook": hook], status: 201)
        }
        return Self.json(["webhooks": record.webhooks])
    }

    /// The access token of a shop (tests check it never leaks).
    package func token(of shop: String) -> String? { self.shops[shop]?.token }

    /// Adds a script tag directly (tests of the install's tag replacement).
    package func addScriptTag(shop: String, src: String) {
        self.shops[shop]?.scriptTags.append(["id": self.newID(), "src": src, "event": "onload", "display_scope": "all"])
    }

    /// The `src` and `display_scope` of every script tag of a shop.
    package func scriptTagList(of shop: String) -> [(src: String, scope: String)] {
        (self.shops[shop]?.scriptTags ?? []).map { ($0["src"] as? String ?? "", $0["display_scope"] as? String ?? "") }
    }

    /// The topics of a shop's webhook subscriptions.
    package func webhookTopics(of shop: String) -> [String] {
        (self.shops[shop]?.webhooks ?? []).compactMap { $0["topic"] as? String }
    }

    /// Adds a variant to a storefront cart (cart token from the browser's cookie).
    package func addToCart(token: String, variant: Int64, quantity: Int) {
        var lines = self.carts[token] ?? []
        if let index = lines.firstIndex(where: { $0.variant == variant }) {
            lines[index].quantity = min(999, lines[index].quantity + quantity)
        } else if lines.count < 100 {
            lines.append((variant, quantity))
        }
        self.carts[token] = lines
    }

    /// Empties a cart.
    package func clearCart(token: String) { self.carts[token] = nil }

    /// A storefront cart in the shape of Shopify's `/cart.js` (prices in minor units).
    package func cartJSON(shop: String, token: String) -> Data {
        let products = self.shops[shop]?.products ?? []
        var items: [[String: Any]] = []
        var total: Int64 = 0
        for line in self.carts[token] ?? [] {
            guard let product = products.first(where: { $0.variants.contains { $0.id == line.variant } }),
                let variant = product.variants.first(where: { $0.id == line.variant }),
                let price = Currency.parseDecimal(variant.price, currency: "USD")
            else { continue }
            total += price * Int64(line.quantity)
            items.append([
                "id": variant.id, "variant_id": variant.id, "product_id": product.id, "quantity": line.quantity,
                "title": variant.title == "Default Title" ? product.title : "\(product.title) - \(variant.title)",
                "price": price, "line_price": price * Int64(line.quantity), "final_line_price": price * Int64(line.quantity),
            ])
        }
        let cart: [String: Any] = [
            "token": token, "currency": "USD", "items": items, "item_count": items.reduce(0) { $0 + ($1["quantity"] as? Int ?? 0) },
            "total_price": total, "original_total_price": total, "requires_shipping": true,
        ]
        return (try? JSONSerialization.data(withJSONObject: cart, options: [.sortedKeys])) ?? Data()
    }

    /// The demo shop's catalogue: five products in USD.
    package static let demoCatalogue: [(String, [(String, String)])] = [
        ("Wool Throw", [("Oat", "129.00"), ("Moss", "129.00")]),
        ("Ceramic Mug", [("Default Title", "24.50")]),
        ("Beeswax Candle", [("Small", "18.00"), ("Large", "32.00")]),
        ("Linen Cushion", [("Default Title", "45.00")]),
        ("Oak Tray", [("Default Title", "68.99")]),
        ("Wool Socks", [("S", "19.90"), ("M", "19.90"), ("L", "19.90")]),
    ]
}
