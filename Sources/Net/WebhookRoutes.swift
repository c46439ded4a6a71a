import Actors
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics

/// `POST /api/webhooks/whop`: Whop merchant events, verified with that merchant's own secret.
struct WebhookRoutes {
    let dependencies: NetDependencies

    func register(on router: Router<HyggeRequestContext>) {
        router.post("/api/webhooks/whop") { request, context in
            try await self.whop(request, context)
        }
    }

    static func reject(_ reason: String) {
        Counter(label: "hygge_webhook_rejections_total", dimensions: [("reason", reason)]).increment()
    }

    func whop(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let context = context
        let body = try await request.bodyBytes(context: context)
        let id = request.headers[HTTPField.Name("webhook-id")!]
        let timestamp = request.headers[HTTPField.Name("webhook-timestamp")!]
        let signature = request.headers[HTTPField.Name("webhook-signature")!]
        guard id != nil, timestamp != nil, signature != nil else {
            Self.reject(StandardWebhooks.Rejection.missingHeaders.rawValue)
            throw HyggeError.invalidSignature
        }
        guard let payload = WhopPayload.parse(body) else {
            Self.reject("invalid_payload")
            throw HyggeError.invalidPayload
        }
        guard let company = payload.company, let merchant = self.dependencies.registry.merchant(forCompany: company)
        else {
            Self.reject("unknown_merchant")
            throw HyggeError.unknownMerchant
        }
        context.merchant = merchant.id.rawValue
        guard let secret = try await merchant.webhookSecret() else {
            Self.reject("no_secret")
            throw HyggeError.invalidSignature
        }
        do throws(StandardWebhooks.Rejection) {
            try StandardWebhooks.verify(
                secret: secret, id: id, timestamp: timestamp, signatures: signature, body: body,
                now: Timestamp.now.seconds)
        } catch {
            Self.reject(error.rawValue)
            throw HyggeError.invalidSignature
        }
        let outcome = try await merchant.handle(payload.event, delivery: id ?? "", now: .now)
        context.logger.info(
            "whop delivery",
            metadata: [
                "delivery.id": "\(id ?? "")", "merchant.id": "\(merchant.id)", "event.type": "\(payload.type)",
                "outcome": "\(outcome.rawValue)",
            ])
        return JSONResponse.make(["status": outcome.rawValue])
    }
}
