import Actors
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics

/// `POST /api/webhooks/whop`: Whop merchant events, verified with that merchant's own secret.
struct WebhookRoutes {
    let dependencies: NetDependencies

    /// Every `reason` of `hygge_webhook_rejections_total`.
    static let rejectionReasons =
        StandardWebhooks.Rejection.allCases.map(\.rawValue) + ["invalid_payload", "unknown_merchant", "no_secret"]

    func register(on router: Router<HyggeRequestContext>) {
        // Created up front so `/metrics` lists every reason at zero.
        for reason in Self.rejectionReasons {
            _ = Counter(label: "hygge_webhook_rejections_total", dimensions: [("reason", reason)])
        }
        router.post("/api/webhooks/whop") { request, context in
            try await self.whop(request, context)
        }
        router.post("/api/webhooks/whop/platform") { request, context in
            try await self.platform(request, context)
        }
    }

    static func reject(_ reason: String) {
        Counter(label: "hygge_webhook_rejections_total", dimensions: [("reason", reason)]).increment()
    }

    /// The three Standard Webhooks headers, or a rejection.
    private func headers(_ request: Request) throws(HyggeError) -> (id: String, timestamp: String, signature: String) {
        guard let id = request.headers[HTTPField.Name("webhook-id")!],
            let timestamp = request.headers[HTTPField.Name("webhook-timestamp")!],
            let signature = request.headers[HTTPField.Name("webhook-signature")!]
        else {
            Self.reject(StandardWebhooks.Rejection.missingHeaders.rawValue)
            throw .invalidSignature
        }
        return (id, timestamp, signature)
    }

    private func verify(
        secret: String, _ headers: (id: String, timestamp: String, signature: String), body: Data
    ) throws(HyggeError) {
        do throws(StandardWebhooks.Rejection) {
            try StandardWebhooks.verify(
                secret: secret, id: headers.id, timestamp: headers.timestamp, signatures: headers.signature, body: body,
                now: Timestamp.now.seconds)
        } catch {
            Self.reject(error.rawValue)
            throw .invalidSignature
        }
    }

    func whop(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let context = context
        let body = try await request.bodyBytes(context: context)
        let headers = try self.headers(request)
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
        try self.verify(secret: secret, headers, body: body)
        let outcome = try await merchant.handle(payload.event, delivery: headers.id, now: .now)
        context.logger.info(
            "whop delivery",
            metadata: [
                "delivery.id": "\(headers.id)", "merchant.id": "\(merchant.id)", "event.type": "\(payload.type)",
                "outcome": "\(outcome.rawValue)",
            ])
        return JSONResponse.make(["status": outcome.rawValue])
    }

    /// `POST /api/webhooks/whop/platform`: Hygge's own SaaS subscription events, signed with
    /// `WHOP_WEBHOOK_SECRET_HYGGE` only (a merchant's secret never verifies here). The signature is checked before
    /// the body is trusted for anything, so an unsigned request learns nothing about which shops exist.
    func platform(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let context = context
        let body = try await request.bodyBytes(context: context)
        let headers = try self.headers(request)
        guard let secret = self.dependencies.platformWebhookSecret else {
            Self.reject("no_secret")
            throw HyggeError.invalidSignature
        }
        try self.verify(secret: secret, headers, body: body)
        guard let payload = WhopPayload.parse(body) else {
            Self.reject("invalid_payload")
            throw HyggeError.invalidPayload
        }
        guard let membership = payload.membership else {
            return JSONResponse.make(["status": DeliveryOutcome.ignored.rawValue])
        }
        guard let shop = membership.shop.map(MerchantID.init), let merchant = self.dependencies.registry.merchant(shop),
            let planID = membership.planID
        else {
            context.logger.warning(
                "platform event for an unknown shop or without a plan: ignored",
                metadata: ["delivery.id": "\(headers.id)", "event.type": "\(payload.type)", "shop": "\(membership.shop ?? "-")"])
            return JSONResponse.make(["status": DeliveryOutcome.ignored.rawValue])
        }
        context.merchant = merchant.id.rawValue
        let outcome = try await merchant.applyMembership(active: membership.active, planID: planID, delivery: headers.id)
        if outcome == .ignored {
            context.logger.warning(
                "platform event for an unmapped plan: ignored",
                metadata: ["delivery.id": "\(headers.id)", "merchant.id": "\(merchant.id)", "plan.id": "\(planID)"])
        } else {
            context.logger.info(
                "platform delivery",
                metadata: [
                    "delivery.id": "\(headers.id)", "merchant.id": "\(merchant.id)", "event.type": "\(payload.type)",
                    "outcome": "\(outcome.rawValue)",
                ])
        }
        return JSONResponse.make(["status": outcome.rawValue])
    }
}
