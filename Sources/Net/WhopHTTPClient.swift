package import AsyncHTTPClient
package import Actors
package import Foundation
package import Logging
import NIOCore
import NIOHTTP1

/// Whop's REST API over HTTP with the merchant's company key. Parses both of Whop's response shapes.
package struct WhopHTTPClient: WhopAPI {
    private let upstream: Upstream
    private let base: String
    private let apiVersion: String
    private let logger: Logger

    /// - Parameters:
    ///   - base: `HYGGE_WHOP_API_BASE`, e.g. `https://api.whop.com/api/v1`.
    ///   - apiVersion: sent as `Api-Version-Date`.
    package init(http: HTTPClient, base: String, apiVersion: String, timeout: Duration = .seconds(4), logger: Logger) {
        self.upstream = Upstream(http: http, timeout: Upstream.timeAmount(timeout), logger: logger)
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
        self.apiVersion = apiVersion
        self.logger = logger
    }

    private func headers(_ key: String) -> [(String, String)] {
        [("Authorization", "Bearer \(key)"), ("Api-Version-Date", self.apiVersion)]
    }

    private func failure(_ reply: Upstream.Reply, _ operation: String) -> GatewayError {
        let message = UpstreamJSON.errorMessage(reply.body)
        self.logger.warning(
            "whop refused a request",
            metadata: ["whop.operation": "\(operation)", "http.status": "\(reply.status)", "whop.message": "\(message ?? "")"])
        return Upstream.classify(reply, message: message)
    }

    private struct Account: Decodable {
        var id: String
    }

    package func companyID(apiKey: String) async throws(GatewayError) -> String {
        let reply = try await self.upstream.send(
            .GET, "\(self.base)/accounts/me", headers: self.headers(apiKey), body: nil, provider: "whop")
        guard (200..<300).contains(reply.status) else { throw self.failure(reply, "accounts.me") }
        guard let account = UpstreamJSON.decode(Account.self, reply.body), !account.id.isEmpty else {
            throw .unavailable("unreadable account")
        }
        return account.id
    }

    private struct CheckoutConfiguration: Decodable {
        struct Plan: Decodable { var id: String }
        var id: String
        var purchase_url: String
        var plan: Plan?
        var plan_id: String?
    }

    private struct PlanBody: Encodable {
        struct Plan: Encodable {
            struct Product: Encodable {
                var external_identifier: String
                var title: String
            }
            var company_id: String
            var currency: String
            var initial_price: Decimal
            var plan_type: String
            var visibility: String
            var title: String
            var force_create_new_plan: Bool
            var product: Product
        }
        var plan: Plan
        var metadata: [String: String]
        var redirect_url: String?
    }

    /// The JSON body of a one-shot plan request (money as an exact JSON decimal number in major units).
    package static func planBody(_ request: PlanRequest) -> Data {
        let exponent = Currency.exponent(request.total.currency)
        let price = Decimal(sign: request.total.amount < 0 ? .minus : .plus, exponent: -exponent, significand: Decimal(request.total.amount.magnitude))
        let body = PlanBody(
            plan: .init(
                company_id: request.companyID, currency: request.total.currency.lowercased(), initial_price: price,
                plan_type: "one_time", visibility: "hidden", title: String(request.title.prefix(30)),
                force_create_new_plan: true,
                product: .init(external_identifier: "hygge-checkout", title: "Hygge checkout")),
            metadata: ["hygge_checkout_id": request.checkoutID.rawValue, "shop": request.shop.rawValue],
            redirect_url: request.redirectURL)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(body)) ?? Data()
    }

    package func createPlan(apiKey: String, request: PlanRequest) async throws(GatewayError) -> WhopPlan {
        var headers = self.headers(apiKey)
        headers.append(("Idempotency-Key", request.checkoutID.rawValue))
        let reply = try await self.upstream.send(
            .POST, "\(self.base)/checkout_configurations", headers: headers, body: Self.planBody(request),
            provider: "whop")
        guard (200..<300).contains(reply.status) else { throw self.failure(reply, "checkout_configurations.create") }
        guard let configuration = UpstreamJSON.decode(CheckoutConfiguration.self, reply.body),
            let planID = configuration.plan?.id ?? configuration.plan_id
        else { throw .unavailable("unreadable checkout configuration") }
        return WhopPlan(planID: planID, checkoutConfigurationID: configuration.id, purchaseURL: configuration.purchase_url)
    }

    package func refund(apiKey: String, paymentID: String, amount: Money?) async throws(GatewayError) {
        var body = Data("{}".utf8)
        if let amount {
            let exponent = Currency.exponent(amount.currency)
            let value = Decimal(sign: .plus, exponent: -exponent, significand: Decimal(amount.amount.magnitude))
            body = (try? JSONEncoder().encode(["partial_amount": value])) ?? body
        }
        let escaped = paymentID.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(["_", "-"])) ?? paymentID
        let reply = try await self.upstream.send(
            .POST, "\(self.base)/payments/\(escaped)/refund", headers: self.headers(apiKey), body: body, provider: "whop")
        guard (200..<300).contains(reply.status) else { throw self.failure(reply, "payments.refund") }
    }
}
