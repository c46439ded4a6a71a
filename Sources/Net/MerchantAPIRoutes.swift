import Actors
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// What the merchant API and the pages share: validating and storing a Whop key, the webhook secret, the ledger.
struct MerchantOperations {
    let dependencies: NetDependencies
    /// Longest key or secret accepted.
    static let secretBytesMax = 512

    func merchant(_ context: HyggeRequestContext) throws(HyggeError) -> MerchantActor {
        guard let shop = context.session?.shop, let merchant = self.dependencies.registry.merchant(shop) else {
            throw .unauthorized
        }
        return merchant
    }

    /// Trims the key, validates it against Whop (`GET /accounts/me` must name a company) and only then stores it.
    /// - Returns: the company id.
    func setWhopKey(_ raw: String, on merchant: MerchantActor) async throws(HyggeError) -> String {
        let key = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !key.isEmpty, key.utf8.count <= Self.secretBytesMax, key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { throw .whopKeyInvalid }
        let whop = self.dependencies.registry.environment.whop
        let company: String
        do {
            company = try await Retry.run(deadline: .seconds(8)) { () async throws(GatewayError) -> String in
                try await whop.companyID(apiKey: key)
            }
        } catch {
            switch error {
            case .unauthorized, .notFound, .rejected: throw .whopKeyInvalid
            case .unavailable, .rateLimited: throw .whopUnavailable
            }
        }
        // A user key answers with a user, not a company (`biz_…`): it cannot create plans for the shop.
        guard company.hasPrefix("biz_") else { throw .whopKeyInvalid }
        let registry = self.dependencies.registry
        try await registry.claimCompany(company, for: merchant)
        do throws(HyggeError) {
            try await merchant.setWhopKey(key, companyID: company, now: .now)
        } catch {
            // Nothing was stored: give the claim back unless the merchant already had this company.
            if await merchant.companyID != company {
                registry.environment.directory.release(company: company, merchant: merchant.id)
            }
            throw error
        }
        return company
    }

    func setWebhookSecret(_ raw: String, on merchant: MerchantActor) async throws(HyggeError) {
        let secret = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !secret.isEmpty, secret.utf8.count <= Self.secretBytesMax,
            secret.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { throw .invalidRequest("secret must be the signing secret Whop shows (no spaces)") }
        try await merchant.setWebhookSecret(secret, now: .now)
    }

    struct Totals {
        var currency: String
        var gross: Int64 = 0
        var refunds: Int64 = 0
        var fees: Int64 = 0
        /// Saturating, like the sums: a month of absurd amounts shows clamped numbers rather than crashing.
        var net: Int64 { self.gross.saturatingSubtract(self.refunds).saturatingSubtract(self.fees) }
    }

    /// Per-currency totals of ledger rows, in order of first appearance.
    static func totals(_ rows: [LedgerRow]) -> [Totals] {
        var order: [String] = []
        var byCurrency: [String: Totals] = [:]
        for row in rows {
            if byCurrency[row.currency] == nil {
                order.append(row.currency)
                byCurrency[row.currency] = Totals(currency: row.currency)
            }
            guard var totals = byCurrency[row.currency] else { continue }
            switch row.kind {
            case .payment: totals.gross = totals.gross.saturatingAdd(row.amount)
            case .refund: totals.refunds = totals.refunds.saturatingAdd(row.amount)
            }
            totals.fees = totals.fees.saturatingAdd(row.fee)
            byCurrency[row.currency] = totals
        }
        return order.compactMap { byCurrency[$0] }
    }
}

/// `/api/merchant/*` (CONTRACT §3), behind `MerchantSessionMiddleware`. Never returns a key or secret.
struct MerchantAPIRoutes {
    let dependencies: NetDependencies
    var operations: MerchantOperations { MerchantOperations(dependencies: self.dependencies) }

    func register(on router: Router<HyggeRequestContext>) {
        let api = router.group("/api/merchant").add(
            middleware: MerchantSessionMiddleware(dependencies: self.dependencies, pages: false))
        api.get { _, context in try await self.summary(context) }
        api.put("whop-key") { request, context in try await self.whopKey(request, context) }
        api.put("whop-webhook-secret") { request, context in try await self.webhookSecret(request, context) }
        api.get("transactions") { request, context in try await self.transactions(request, context) }
        api.post("orders/{checkout_id}/retry-sync") { _, context in try await self.retry(context) }
        api.post("orders/{checkout_id}/retry-refund") { _, context in try await self.retryRefund(context) }
    }

    struct KeyBody: Decodable { var api_key: String? }
    struct SecretBody: Decodable { var secret: String? }

    func whopKey(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let merchant = try self.operations.merchant(context)
        let body = try CheckoutRoutes.decodeStrict(KeyBody.self, try await request.bodyBytes(context: context))
        guard let key = body.api_key else { throw HyggeError.invalidRequest("api_key is required") }
        let company = try await self.operations.setWhopKey(key, on: merchant)
        return JSONResponse.make(["company_id": company])
    }

    func webhookSecret(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let merchant = try self.operations.merchant(context)
        let body = try CheckoutRoutes.decodeStrict(SecretBody.self, try await request.bodyBytes(context: context))
        guard let secret = body.secret else { throw HyggeError.invalidRequest("secret is required") }
        try await self.operations.setWebhookSecret(secret, on: merchant)
        return Response(status: .noContent)
    }

    struct UsageDTO: Encodable {
        var month: String
        var paid: Int
        var reserved: Int
        var gross: CheckoutRoutes.MoneyDTO
        var fees: CheckoutRoutes.MoneyDTO
    }

    struct SummaryDTO: Encodable {
        var shop: String
        var installed: Bool
        var company_id: String?
        var whop_key_fingerprint: String?
        var webhook_secret_set: Bool
        var webhook_received: Bool
        var tier: String?
        var monthly_limit: Int
        var usage: UsageDTO
    }

    static func summaryDTO(_ summary: MerchantSummary) -> SummaryDTO {
        let currency = summary.usage.gross.keys.sorted().first ?? "USD"
        return SummaryDTO(
            shop: summary.shop.rawValue, installed: summary.installed, company_id: summary.companyID,
            whop_key_fingerprint: summary.whopKeyFingerprint, webhook_secret_set: summary.webhookSecretSet,
            webhook_received: summary.webhookReceived, tier: summary.tier, monthly_limit: summary.monthlyLimit,
            usage: UsageDTO(
                month: summary.month, paid: summary.usage.paid, reserved: summary.reserved,
                gross: .init(Money(amount: summary.usage.gross[currency] ?? 0, currency: currency)),
                fees: .init(Money(amount: summary.usage.fees[currency] ?? 0, currency: currency))))
    }

    func summary(_ context: HyggeRequestContext) async throws -> Response {
        let merchant = try self.operations.merchant(context)
        return JSONResponse.make(Self.summaryDTO(await merchant.summary(now: .now)))
    }

    struct RowDTO: Encodable {
        var created_at: String
        var kind: String
        var checkout_id: String
        var payment_id: String
        var currency: String
        var amount: Int64
        var fee: Int64
    }

    /// Totals of one currency in minor units: `net = gross − refunds − fees`.
    struct TotalsDTO: Encodable {
        var currency: String
        var gross: Int64
        var refunds: Int64
        var fees: Int64
        var net: Int64

        init(_ totals: MerchantOperations.Totals) {
            self.currency = totals.currency
            self.gross = totals.gross
            self.refunds = totals.refunds
            self.fees = totals.fees
            self.net = totals.net
        }
    }

    struct LedgerDTO: Encodable {
        var month: String
        var rows: [RowDTO]
        /// The month's totals (of its first currency; `totals_by_currency` has every currency).
        var totals: TotalsDTO
        var totals_by_currency: [TotalsDTO]
    }

    func transactions(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let merchant = try self.operations.merchant(context)
        let month = request.uri.queryParameters.get("month").map({ String($0) }) ?? Timestamp.now.month
        guard Timestamp.isValidMonth(month) else { throw HyggeError.invalidRequest("month must be YYYY-MM") }
        let rows = await merchant.ledger(month: month)
        let dtos = rows.map {
            RowDTO(
                created_at: $0.createdAt.iso8601, kind: $0.kind.rawValue, checkout_id: $0.checkoutID.rawValue,
                payment_id: $0.paymentID, currency: $0.currency, amount: $0.amount, fee: $0.fee)
        }
        if let accept = request.headers[.accept], accept.lowercased().contains("text/csv") {
            var csv = "created_at,kind,checkout_id,payment_id,currency,amount,fee\r\n"
            for row in dtos {
                let fields = [row.created_at, row.kind, row.checkout_id, row.payment_id, row.currency]
                    .map(Self.csvField) + [String(row.amount), String(row.fee)]
                csv += fields.joined(separator: ",") + "\r\n"
            }
            var response = JSONResponse.raw(csv, contentType: "text/csv; charset=utf-8")
            response.headers[.contentDisposition] = "attachment; filename=\"hygge-transactions-\(month).csv\""
            return response
        }
        let totals = MerchantOperations.totals(rows).map(TotalsDTO.init)
        return JSONResponse.make(
            LedgerDTO(
                month: month, rows: dtos, totals: totals.first ?? TotalsDTO(.init(currency: "USD")),
                totals_by_currency: totals))
    }

    /// Quotes a CSV field when needed, and defuses spreadsheet formulas.
    static func csvField(_ text: String) -> String {
        var value = text
        if let first = value.first, "=+-@".contains(first) { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    func retry(_ context: HyggeRequestContext) async throws -> Response {
        let merchant = try self.operations.merchant(context)
        let raw = context.parameters.get("checkout_id") ?? ""
        try await Self.retry(raw, merchant: merchant, registry: self.dependencies.registry)
        return JSONResponse.make(["checkout_id": raw, "status": CheckoutStatus.paid.rawValue], status: .accepted)
    }

    /// Retries a failed order sync of the session's own checkout; another merchant's checkout is `403 forbidden`.
    static func retry(_ raw: String, merchant: MerchantActor, registry: MerchantRegistry) async throws(HyggeError) {
        try await merchant.retryOrderSync(try await Self.ownCheckout(raw, merchant: merchant, registry: registry))
    }

    /// The session's own checkout by raw id; another merchant's is `403 forbidden`, an unknown one `404`.
    static func ownCheckout(_ raw: String, merchant: MerchantActor, registry: MerchantRegistry)
        async throws(HyggeError) -> CheckoutID
    {
        guard raw.utf8.count <= 64, !raw.isEmpty else { throw .unknownCheckout }
        let id = CheckoutID(raw)
        guard await merchant.owns(id) else {
            if registry.merchant(forCheckout: id) != nil { throw .forbidden }
            throw .unknownCheckout
        }
        return id
    }

    /// `POST /api/merchant/orders/{checkout_id}/retry-refund`: retries the checkout's oldest failed Shopify refund
    /// on Whop now. `200 {"checkout_id","status":"refunded"|"failed","error"?}`; `409 refund_not_failed` when none
    /// waits (a second click included).
    func retryRefund(_ context: HyggeRequestContext) async throws -> Response {
        let merchant = try self.operations.merchant(context)
        let raw = context.parameters.get("checkout_id") ?? ""
        let id = try await Self.ownCheckout(raw, merchant: merchant, registry: self.dependencies.registry)
        let outcome = try await merchant.retryRefund(id, now: .now)
        struct RetryDTO: Encodable {
            var checkout_id: String
            var status: String
            var error: String?
        }
        guard outcome == .failed else { return JSONResponse.make(RetryDTO(checkout_id: raw, status: "refunded")) }
        let failure = try await merchant.checkout(id).refundFailures?.last
        return JSONResponse.make(RetryDTO(checkout_id: raw, status: "failed", error: failure?.error))
    }
}
