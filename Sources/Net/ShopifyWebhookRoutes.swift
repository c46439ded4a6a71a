import Actors
import Crypto
import Foundation
import Logging
import HTTPTypes
import Hummingbird

/// `POST /api/webhooks/shopify` (CONTRACT §4): `X-Shopify-Hmac-Sha256` = base64 HMAC-SHA256 (app secret) of the raw
/// body, verified in constant time before anything in the body is read; deduplicated on `X-Shopify-Webhook-Id`.
struct ShopifyWebhookRoutes {
    let dependencies: NetDependencies

    func register(on router: Router<HyggeRequestContext>) {
        router.post("/api/webhooks/shopify") { request, context in
            try await self.receive(request, context)
        }
    }

    /// Whether `signature` (base64) is the body's HMAC under `secret`.
    static func isValid(signature: String?, body: Data, secret: String) -> Bool {
        guard let signature, signature.utf8.count <= 256, let given = Data(base64Encoded: signature) else { return false }
        let expected = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return StandardWebhooks.constantTimeEquals(Array(given), Array(expected))
    }

    /// Reads the body of a topic into a domain event; nil when it is not the JSON Shopify documents.
    static func event(topic: String, body: Data) -> ShopifyEvent? {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else { return nil }
        func int64(_ value: Any?) -> Int64? {
            if let number = value as? NSNumber { return number.int64Value }
            if let text = value as? String { return Int64(text) }
            return nil
        }
        switch topic {
        case "app/uninstalled":
            return .appUninstalled
        case "refunds/create":
            guard let id = int64(object["id"]), let order = int64(object["order_id"]) else { return nil }
            let transactions = object["transactions"] as? [[String: Any]] ?? []
            let amounts = transactions.compactMap { transaction -> String? in
                guard (transaction["kind"] as? String ?? "refund") == "refund",
                    (transaction["status"] as? String ?? "success") == "success"
                else { return nil }
                if let text = transaction["amount"] as? String { return text }
                return (transaction["amount"] as? NSNumber)?.stringValue
            }
            return .refundCreated(ShopifyRefundNotice(refundID: id, orderID: order, amounts: amounts))
        case "customers/data_request":
            return .customersDataRequest(orderIDs: (object["orders_requested"] as? [Any] ?? []).compactMap(int64))
        case "customers/redact":
            let customer = object["customer"] as? [String: Any]
            return .customersRedact(
                email: customer?["email"] as? String,
                orderIDs: (object["orders_to_redact"] as? [Any] ?? []).compactMap(int64))
        case "shop/redact":
            return .shopRedact
        default:
            return .ignored(topic: topic)
        }
    }

    func receive(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let context = context
        let body = try await request.bodyBytes(context: context)
        guard let app = self.dependencies.shopifyApp,
            Self.isValid(
                signature: request.headers[HTTPField.Name("X-Shopify-Hmac-Sha256")!], body: body, secret: app.apiSecret)
        else {
            WebhookRoutes.reject("bad_shopify_hmac")
            throw HyggeError.invalidSignature
        }
        guard let topic = request.headers[HTTPField.Name("X-Shopify-Topic")!],
            let shop = request.headers[HTTPField.Name("X-Shopify-Shop-Domain")!], MerchantID.isValidShopDomain(shop)
        else { throw HyggeError.invalidRequest("X-Shopify-Topic and X-Shopify-Shop-Domain are required") }
        context.merchant = shop
        guard let event = Self.event(topic: topic, body: body) else {
            WebhookRoutes.reject("invalid_payload")
            throw HyggeError.invalidPayload
        }
        let compliance = ["customers/data_request", "customers/redact", "shop/redact"].contains(topic)
        guard let merchant = self.dependencies.registry.merchant(MerchantID(shop)) else {
            // Nothing is held about a shop Hygge never saw: a compliance request is answered as done.
            if compliance { return JSONResponse.make(["status": DeliveryOutcome.ignored.rawValue]) }
            throw HyggeError.unknownShop
        }
        let delivery =
            request.headers[HTTPField.Name("X-Shopify-Webhook-Id")!]
            ?? request.headers[HTTPField.Name("X-Shopify-Event-Id")!]
            ?? "\(topic):" + SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
        guard delivery.utf8.count <= 256 else { throw HyggeError.invalidRequest("webhook id too long") }
        let outcome = try await merchant.handleShopify(event, delivery: delivery, now: .now)
        context.logger.info(
            "shopify delivery",
            metadata: [
                "delivery.id": "\(delivery)", "merchant.id": "\(shop)", "event.type": "\(topic)",
                "outcome": "\(outcome.rawValue)",
            ])
        return JSONResponse.make(["status": outcome.rawValue])
    }
}
