import Actors
import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore

/// The merchant app's server-rendered pages (`/app*`): onboarding wizard, dashboard, Integrations → Whop and
/// settings. Everything is HTML-escaped by the templates; forms carry a CSRF token bound to the session cookie;
/// every page is sent with a strict Content-Security-Policy. No key or secret is ever rendered, only a fingerprint.
struct AppPages {
    let dependencies: NetDependencies
    var operations: MerchantOperations { MerchantOperations(dependencies: self.dependencies) }

    /// No inline script or style, nothing from elsewhere; framed only by Shopify admin.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "form-action 'self'; base-uri 'none'; "
        + "frame-ancestors https://admin.shopify.com https://*.myshopify.com"

    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in [
            ("layout", AppTemplates.layout), ("wizard", AppTemplates.wizard), ("dashboard", AppTemplates.dashboard),
            ("whop", AppTemplates.whop), ("settings", AppTemplates.settings), ("signed-out", AppTemplates.signedOut),
        ] {
            // The templates are constants of this file; one that does not parse is a programmer error.
            do {
                try library.register(text, named: name)
            } catch {
                preconditionFailure("template \(name) does not parse: \(error)")
            }
        }
        return library
    }()

    func register(on router: Router<HyggeRequestContext>) {
        router.get("/assets/hygge.css") { _, _ in
            var response = JSONResponse.raw(AppTemplates.css, contentType: "text/css; charset=utf-8")
            response.headers[.cacheControl] = "public, max-age=300"
            return response
        }
        router.get("/assets/hygge.js") { _, _ in
            var response = JSONResponse.raw(AppTemplates.script, contentType: "text/javascript; charset=utf-8")
            response.headers[.cacheControl] = "public, max-age=300"
            return response
        }
        let pages = router.group("/app").add(
            middleware: MerchantSessionMiddleware(dependencies: self.dependencies, pages: true))
        pages.get { request, context in try await self.home(request, context) }
        pages.get("integrations/whop") { request, context in try await self.whop(request, context, flash: nil) }
        pages.get("settings") { request, context in try await self.settings(request, context) }
        pages.post("whop-key") { request, context in try await self.postWhopKey(request, context) }
        pages.post("webhook-secret") { request, context in try await self.postWebhookSecret(request, context) }
        pages.post("orders/{checkout_id}/retry-sync") { request, context in try await self.postRetry(request, context) }
        pages.post("orders/{checkout_id}/retry-refund") { request, context in
            try await self.postRetryRefund(request, context)
        }
    }

    // MARK: Rendering

    static func page(
        _ template: String, title: String, data: [String: Any], shop: String?, nav: String?,
        status: HTTPResponse.Status = .ok, flash: String? = nil
    ) -> Response {
        let body = Self.library.render(data, withTemplate: template) ?? ""
        var layout: [String: Any] = ["title": title, "body": body]
        if let shop { layout["shop"] = shop }
        if let nav { layout["nav"] = true; layout[nav] = true }
        if let flash { layout["flash"] = flash }
        let html = Self.library.render(layout, withTemplate: "layout") ?? ""
        var response = JSONResponse.raw(html, contentType: "text/html; charset=utf-8", status: status)
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.cacheControl] = "no-store"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        return response
    }

    static func signedOut() -> Response {
        Self.page("signed-out", title: "Sign in", data: [:], shop: nil, nav: nil, status: .unauthorized)
    }

    private func csrf(_ context: HyggeRequestContext) -> String {
        guard let cookie = context.session?.cookie, let app = self.dependencies.shopifyApp else { return "" }
        return SessionCookie.csrf(for: cookie, key: app.signingKey)
    }

    static func money(_ minor: Int64, _ currency: String) -> String {
        "\(Currency.decimalString(minor: minor, currency: currency)) \(currency)"
    }

    // MARK: Pages

    func home(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let merchant = try self.operations.merchant(context)
        let summary = await merchant.summary(now: .now)
        if summary.companyID == nil { return self.wizard(context, summary: summary, failure: nil) }
        return try await self.dashboard(context, merchant: merchant, summary: summary, flash: nil)
    }

    func wizard(_ context: HyggeRequestContext, summary: MerchantSummary, failure: HyggeError?) -> Response {
        var data: [String: Any] = ["csrf": self.csrf(context)]
        if failure == .whopKeyInvalid { data["failed"] = true }
        if failure == .whopUnavailable { data["unavailable"] = true }
        if failure == .whopCompanyInUse { data["inUse"] = true }
        let status: HTTPResponse.Status =
            switch failure {
            case .none: .ok
            case .some(.whopKeyInvalid): .unprocessableContent
            case .some(.whopCompanyInUse): .conflict
            case .some: .badGateway
            }
        return Self.page(
            "wizard", title: "Connect Whop", data: data, shop: summary.shop.rawValue, nav: nil, status: status)
    }

    func dashboard(
        _ context: HyggeRequestContext, merchant: MerchantActor, summary: MerchantSummary, flash: String?
    ) async throws -> Response {
        let currency = summary.usage.gross.keys.sorted().first ?? "USD"
        let csrf = self.csrf(context)
        let checkouts = await merchant.recentCheckouts(limit: 20).map { checkout -> [String: Any] in
            [
                "id": checkout.id.rawValue, "created": checkout.createdAt.iso8601,
                "total": Self.money(checkout.total.amount, checkout.total.currency), "status": checkout.status.rawValue,
                "order": checkout.orderName ?? "",
            ]
        }
        let failed = await merchant.failedOrderSyncs(limit: 50).map { checkout -> [String: Any] in
            [
                "id": checkout.id.rawValue, "total": Self.money(checkout.total.amount, checkout.total.currency),
                "error": checkout.orderSync?.lastError ?? "failed",
            ]
        }
        let refunds = await merchant.failedRefunds(limit: 50).map { row -> [String: Any] in
            [
                "id": row.checkout.id.rawValue, "order": row.checkout.orderName ?? "",
                "amount": Self.money(row.failure.amount, row.checkout.total.currency),
                "reason": Self.refundReason(row.failure.error), "code": row.failure.error,
                "ambiguous": row.failure.ambiguous, "at": row.failure.at.iso8601,
            ]
        }
        let ready: Bool =
            summary.installed && summary.companyID != nil && summary.webhookSecretSet
            && !summary.companyConnectedElsewhere
        let data: [String: Any] = [
            "installed": summary.installed, "fingerprint": summary.whopKeyFingerprint ?? "",
            "companyID": summary.companyID ?? "", "secretSet": summary.webhookSecretSet,
            "elsewhere": summary.companyConnectedElsewhere, "refunds": refunds,
            "ready": ready,
            "month": summary.month, "paid": summary.usage.paid,
            "gross": Self.money(summary.usage.gross[currency] ?? 0, currency),
            "fees": Self.money(summary.usage.fees[currency] ?? 0, currency),
            "used": summary.usage.paid + summary.reserved, "reserved": summary.reserved, "limit": summary.monthlyLimit,
            "checkouts": checkouts, "hasCheckouts": !checkouts.isEmpty, "failed": failed, "csrf": csrf,
        ]
        return Self.page(
            "dashboard", title: "Dashboard", data: data, shop: summary.shop.rawValue, nav: "navDashboard", flash: flash)
    }

    /// What a failed refund's label means, for the merchant.
    static func refundReason(_ label: String) -> String {
        let cause = label.hasPrefix("whop_refund_") ? String(label.dropFirst("whop_refund_".count)) : label
        switch cause {
        case "unavailable": return "Whop did not answer in time; it may have refunded anyway"
        case "rate_limited": return "Whop was rate-limiting requests"
        case "unauthorized": return "Whop refused the API key (replace it in Settings)"
        case "not_found": return "Whop does not know this payment"
        default:
            guard cause.hasPrefix("rejected_") else { return "The Whop refund failed" }
            return "Whop rejected the refund (HTTP \(cause.dropFirst("rejected_".count)))"
        }
    }

    func whop(_ request: Request, _ context: HyggeRequestContext, flash: String?) async throws -> Response {
        let merchant = try self.operations.merchant(context)
        let summary = await merchant.summary(now: .now)
        let data: [String: Any] = [
            "webhookURL": "\(self.dependencies.publicURL)/api/webhooks/whop", "csrf": self.csrf(context),
            "secretSet": summary.webhookSecretSet, "received": summary.webhookReceived,
        ]
        return Self.page(
            "whop", title: "Integrations → Whop", data: data, shop: summary.shop.rawValue, nav: "navWhop", flash: flash)
    }

    func settings(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let merchant = try self.operations.merchant(context)
        let summary = await merchant.summary(now: .now)
        let data: [String: Any] = [
            "shop": summary.shop.rawValue, "companyID": summary.companyID ?? "—",
            "fingerprint": summary.whopKeyFingerprint ?? "—", "tier": summary.tier ?? "Free",
            "limit": summary.monthlyLimit, "csrf": self.csrf(context),
        ]
        return Self.page("settings", title: "Settings", data: data, shop: summary.shop.rawValue, nav: "navSettings")
    }

    // MARK: Forms

    /// The form fields of a POST whose CSRF token matches the session (and whose Origin, when sent, is ours).
    private func form(_ request: Request, _ context: HyggeRequestContext) async throws -> [String: String] {
        if let origin = request.headers[.origin], origin != Self.origin(self.dependencies.publicURL) {
            throw HyggeError.forbidden
        }
        let body = try await request.bodyBytes(context: context)
        guard let pairs = ShopifyCallbackSignature.parse(String(decoding: body, as: UTF8.self)) else {
            throw HyggeError.invalidRequest("the form could not be read")
        }
        var fields: [String: String] = [:]
        for (key, value) in pairs { fields[key] = value }
        // A session from a bearer token is not ambient authority; a cookie session must prove the form is ours.
        if context.session?.cookie != nil {
            let expected = self.csrf(context)
            guard let given = fields["_csrf"], !expected.isEmpty,
                StandardWebhooks.constantTimeEquals(Array(given.utf8), Array(expected.utf8))
            else { throw HyggeError.forbidden }
        }
        return fields
    }

    static func origin(_ url: String) -> String {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, let host = parsed.host else { return url }
        return "\(scheme)://\(host)" + (parsed.port.map { ":\($0)" } ?? "")
    }

    private static func seeOther(_ location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    func postWhopKey(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let merchant = try self.operations.merchant(context)
        let fields = try await self.form(request, context)
        var failure: HyggeError?
        do {
            _ = try await self.operations.setWhopKey(fields["api_key"] ?? "", on: merchant)
        } catch {
            failure = error
        }
        guard let failure else { return Self.seeOther("/app") }
        guard failure == .whopKeyInvalid || failure == .whopUnavailable || failure == .whopCompanyInUse else {
            throw failure
        }
        return self.wizard(context, summary: await merchant.summary(now: .now), failure: failure)
    }

    func postWebhookSecret(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let merchant = try self.operations.merchant(context)
        let fields = try await self.form(request, context)
        try await self.operations.setWebhookSecret(fields["secret"] ?? "", on: merchant)
        return Self.seeOther("/app/integrations/whop")
    }

    func postRetryRefund(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let merchant = try self.operations.merchant(context)
        _ = try await self.form(request, context)
        let id = try await MerchantAPIRoutes.ownCheckout(
            context.parameters.get("checkout_id") ?? "", merchant: merchant, registry: self.dependencies.registry)
        _ = try await merchant.retryRefund(id, now: .now)
        return Self.seeOther("/app")
    }

    func postRetry(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let merchant = try self.operations.merchant(context)
        _ = try await self.form(request, context)
        try await MerchantAPIRoutes.retry(
            context.parameters.get("checkout_id") ?? "", merchant: merchant, registry: self.dependencies.registry)
        return Self.seeOther("/app")
    }
}
