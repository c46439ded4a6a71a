package import AsyncHTTPClient
package import Actors
package import Foundation
package import Logging
import NIOCore
import NIOHTTP1

/// Shopify Admin REST over HTTP (`X-Shopify-Access-Token`). The base URL template (`https://{shop}` in production,
/// the embedded emulator in the sandbox) is the only difference between the two.
package struct ShopifyHTTPClient: ShopifyAdmin {
    let upstream: Upstream
    private let baseTemplate: String
    private let apiVersion: String
    /// What Shopify last said about each shop's call bucket (`X-Shopify-Shop-Api-Call-Limit`).
    package let callLimiter = ShopifyCallLimiter()

    /// - Parameters:
    ///   - baseTemplate: `HYGGE_SHOPIFY_BASE_URL`; `{shop}` is replaced by the shop domain.
    ///   - apiVersion: Admin REST version in paths, e.g. `2026-10`.
    package init(http: HTTPClient, baseTemplate: String, apiVersion: String, timeout: Duration = .seconds(10), logger: Logger) {
        self.upstream = Upstream(http: http, timeout: Upstream.timeAmount(timeout), logger: logger)
        self.baseTemplate = baseTemplate
        self.apiVersion = apiVersion
    }

    /// One Admin call: waits first when the shop's call bucket is (nearly) full, and records the bucket reading of
    /// the answer, so that a burst (say, the outbox draining after an outage) slows down instead of earning 429s.
    func send(
        _ shop: MerchantID, _ method: HTTPMethod, _ url: String, headers: [(String, String)], body: Data?,
        provider: String
    ) async throws(GatewayError) -> Upstream.Reply {
        let wait = self.callLimiter.reserve(shop.rawValue)
        if wait > .zero {
            self.upstream.logger.debug(
                "shopify call bucket nearly full; waiting",
                metadata: ["merchant.id": "\(shop)", "wait_ms": "\(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)"])
            do {
                try await Task.sleep(for: wait)
            } catch {
                throw .unavailable("cancelled")
            }
        }
        let reply = try await self.upstream.send(method, url, headers: headers, body: body, provider: provider)
        if let header = reply.headers.first(name: "X-Shopify-Shop-Api-Call-Limit"),
            let reading = ShopifyCallLimit(header: header)
        {
            self.callLimiter.record(shop.rawValue, reading)
        }
        return reply
    }

    /// The shop's base URL (no trailing slash).
    package func base(_ shop: MerchantID) -> String {
        var base = self.baseTemplate.replacingOccurrences(of: "{shop}", with: shop.rawValue)
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    func url(_ shop: MerchantID, _ path: String) -> String {
        "\(self.base(shop))/admin/api/\(self.apiVersion)/\(path)"
    }

    private struct VariantEnvelope: Decodable {
        struct Variant: Decodable {
            var id: Int64
            var product_id: Int64?
            var title: String?
            var price: String
        }
        var variant: Variant
    }

    package func variant(shop: MerchantID, token: String, id: Int64) async throws(GatewayError) -> VariantInfo? {
        let reply = try await self.send(
            shop, .GET, self.url(shop, "variants/\(id).json"), headers: [("X-Shopify-Access-Token", token)], body: nil,
            provider: "shopify")
        if reply.status == 404 { return nil }
        guard (200..<300).contains(reply.status) else {
            throw Upstream.classify(reply, message: UpstreamJSON.errorMessage(reply.body))
        }
        guard let envelope = UpstreamJSON.decode(VariantEnvelope.self, reply.body) else {
            throw .unavailable("unreadable variant")
        }
        let variant = envelope.variant
        return VariantInfo(id: variant.id, productID: variant.product_id, price: variant.price, title: variant.title ?? "Item")
    }

    private struct OrderEnvelope: Decodable {
        var order: Order
    }

    private struct OrdersEnvelope: Decodable {
        var orders: [Order]
    }

    private struct Order: Decodable {
        var id: Int64
        var name: String?
        var source_identifier: String?
    }

    /// The JSON body of a paid order (`POST orders.json`).
    package static func orderBody(_ order: OrderRequest) -> Data {
        let currency = order.total.currency
        var body: [String: Any] = [
            "line_items": order.lineItems.map { line in
                [
                    "variant_id": line.variantID, "quantity": line.quantity,
                    "price": Currency.decimalString(minor: line.unitPrice, currency: currency),
                ] as [String: Any]
            },
            "financial_status": "paid",
            "currency": currency,
            "tags": "hygge-checkout",
            "source_identifier": order.checkoutID.rawValue,
            "source_name": "hygge",
            "inventory_behaviour": "decrement_obeying_policy",
            "note_attributes": [
                ["name": "hygge_checkout_id", "value": order.checkoutID.rawValue],
                ["name": "whop_payment_id", "value": order.paymentID],
            ],
            "transactions": [
                [
                    "kind": "sale", "status": "success", "gateway": "Whop",
                    "amount": Currency.decimalString(minor: order.total.amount, currency: currency),
                    "authorization": order.paymentID,
                ]
            ],
        ]
        if let email = order.email { body["email"] = email }
        return (try? JSONSerialization.data(withJSONObject: ["order": body], options: [.sortedKeys])) ?? Data()
    }

    package func createOrder(shop: MerchantID, token: String, order: OrderRequest) async throws(GatewayError)
        -> ShopifyOrder
    {
        let reply = try await self.send(
            shop, .POST, self.url(shop, "orders.json"), headers: [("X-Shopify-Access-Token", token)],
            body: Self.orderBody(order), provider: "shopify")
        guard (200..<300).contains(reply.status) else {
            throw Upstream.classify(reply, message: UpstreamJSON.errorMessage(reply.body))
        }
        guard let envelope = UpstreamJSON.decode(OrderEnvelope.self, reply.body) else {
            throw .unavailable("unreadable order")
        }
        return ShopifyOrder(
            id: envelope.order.id, name: envelope.order.name ?? "#\(envelope.order.id)",
            sourceIdentifier: envelope.order.source_identifier)
    }

    /// Pages `findOrder` reads at most (250 orders each, so 25,000 orders in the window) before it reports the
    /// lookup as failed.
    static let findOrderPagesMax = 100

    /// Looks for the order carrying `sourceIdentifier` among the orders created from `createdAtMin` to `createdAtMax`
    /// (both inclusive, second precision), following Shopify's cursor pagination (`Link: <…page_info=…>;
    /// rel="next"`): a shop can take more than one page of orders in that window, and an order missed there would be
    /// posted twice. Throws (so nothing is re-posted) when the listing cannot be read to its end.
    package func findOrder(
        shop: MerchantID, token: String, sourceIdentifier: String, createdAtMin: Timestamp, createdAtMax: Timestamp
    ) async throws(GatewayError) -> ShopifyOrder? {
        let since = createdAtMin.iso8601.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let until = createdAtMax.iso8601.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        var url = self.url(
            shop,
            "orders.json?status=any&limit=250&fields=id,name,source_identifier&created_at_min=\(since)&created_at_max=\(until)"
        )
        for _ in 0..<Self.findOrderPagesMax {
            let reply = try await self.send(
                shop, .GET, url, headers: [("X-Shopify-Access-Token", token)], body: nil, provider: "shopify")
            guard (200..<300).contains(reply.status) else {
                throw Upstream.classify(reply, message: UpstreamJSON.errorMessage(reply.body))
            }
            guard let envelope = UpstreamJSON.decode(OrdersEnvelope.self, reply.body) else {
                throw .unavailable("unreadable orders")
            }
            if let order = envelope.orders.first(where: { $0.source_identifier == sourceIdentifier }) {
                return ShopifyOrder(id: order.id, name: order.name ?? "#\(order.id)", sourceIdentifier: order.source_identifier)
            }
            guard let next = Self.nextPageURL(reply.headers.first(name: "Link")) else { return nil }
            url = next
        }
        throw .unavailable("more than \(Self.findOrderPagesMax) pages of orders to search")
    }

    /// The `rel="next"` target of a Link header (`<https://…page_info=…>; rel="next", <…>; rel="previous"`).
    package static func nextPageURL(_ link: String?) -> String? {
        guard let link else { return nil }
        for part in link.split(separator: ",") {
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let target = pieces.first, target.hasPrefix("<"), target.hasSuffix(">"),
                pieces.dropFirst().contains(where: { $0.replacingOccurrences(of: " ", with: "") == "rel=\"next\"" })
            else { continue }
            return String(target.dropFirst().dropLast())
        }
        return nil
    }
}
