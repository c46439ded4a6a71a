import Actors
package import Foundation

/// An in-memory Whop for the sandbox and tests: companies with API keys and webhook secrets, checkout
/// configurations with hidden one-time plans, payments and refunds. Answers with Whop's JSON shapes and error
/// bodies (`{"error":{"type","message"}}`). Not persisted.
package actor WhopEmulator {
    struct Company {
        var id: String
        var title: String
        var webhookSecret: String?
        var webhookURL: String?
    }

    package struct Configuration: Sendable {
        package var id: String
        package var planID: String
        package var companyID: String
        package var currency: String
        /// Price as the decimal text Hygge sent.
        package var price: String
        package var metadata: [String: String]
        package var purchaseURL: String
        package var paymentID: String?
        /// Where Whop sends the buyer after paying (`redirect_url` as Hygge sent it).
        package var redirectURL: String?
    }

    private var keys: [String: String] = [:]
    private var companies: [String: Company] = [:]
    private var configurations: [String: Configuration] = [:]
    private var planToConfiguration: [String: String] = [:]
    private var idempotent: [String: String] = [:]
    private var payments: [String: (configuration: String, refunded: Int64)] = [:]
    /// Money taken per payment id: minor units and upper-case currency (succeeded payments only).
    private var taken: [String: (amount: Int64, currency: String)] = [:]
    private var planFaults: [SandboxFault] = []
    /// `POST /checkout_configurations` requests received (faulted ones included).
    package private(set) var planRequests = 0
    /// Refund calls received (payment id, partial amount text or nil for full).
    package private(set) var refunds: [(String, String?)] = []
    private var pendingRefundDeliveries: [Delivery] = []
    private let publicURL: String
    package var latency: Duration = .zero
    /// Whether purchase pages refuse to be framed (`X-Frame-Options: DENY`), as a real checkout page may.
    package var framingRefused = false

    /// - Parameter publicURL: where purchase pages are served (`{publicURL}/sandbox/whop/checkout/{id}`).
    package init(publicURL: String) { self.publicURL = publicURL }

    /// Statuses the next refund calls answer with instead of refunding (tests of failed refunds), in order.
    private var refundFailures: [Int] = []

    /// Makes the next `count` refund calls fail with `status` (a 5xx leaves it open whether Whop refunded).
    package func failNextRefunds(status: Int, count: Int = 1) {
        self.refundFailures += Array(repeating: status, count: max(0, count))
    }

    /// Sets the emulated latency.
    package func setLatency(_ latency: Duration) { self.latency = latency }

    /// Queues faults for the next plan creations (each fault is used by one request).
    package func injectPlanFaults(_ faults: [SandboxFault]) {
        self.planFaults.append(contentsOf: faults.prefix(max(0, SandboxFault.queueMax - self.planFaults.count)))
    }

    /// Drops every queued fault.
    package func clearFaults() { self.planFaults = [] }

    /// Counts a plan-creation request and returns the fault it meets, if any.
    package func takePlanFault() -> SandboxFault? {
        self.planRequests += 1
        return self.planFaults.isEmpty ? nil : self.planFaults.removeFirst()
    }

    /// What the emulated Whop holds about one payment: what the buyer paid and what was refunded since.
    package struct PaymentRecord: Sendable, Equatable {
        package var paymentID: String
        package var checkoutID: String?
        package var configurationID: String
        package var amount: Int64
        package var currency: String
        package var refunded: Int64
    }

    /// Every succeeded payment of a company, by payment id.
    package func paymentRecords(company: String) -> [PaymentRecord] {
        self.taken.compactMap { id, money in
            guard let payment = self.payments[id], let configuration = self.configurations[payment.configuration],
                configuration.companyID == company
            else { return nil }
            return PaymentRecord(
                paymentID: id, checkoutID: configuration.metadata["hygge_checkout_id"], configurationID: configuration.id,
                amount: money.amount, currency: money.currency, refunded: payment.refunded)
        }.sorted { $0.paymentID < $1.paymentID }
    }

    /// The checkout configurations created for a Hygge checkout (one, whatever the retries).
    package func configurations(forCheckout checkout: String) -> [Configuration] {
        self.configurations.values.filter { $0.metadata["hygge_checkout_id"] == checkout }
    }

    /// Makes purchase pages refuse (or allow) framing.
    package func setFramingRefused(_ refused: Bool) { self.framingRefused = refused }

    /// Adds a company with its company API key and webhook (URL + signing secret).
    package func addCompany(id: String, title: String, apiKey: String, webhookSecret: String?, webhookURL: String?) {
        self.companies[id] = Company(id: id, title: title, webhookSecret: webhookSecret, webhookURL: webhookURL)
        self.keys[apiKey] = id
    }

    /// Sets a company's webhook.
    package func setWebhook(company: String, url: String, secret: String) {
        self.companies[company]?.webhookURL = url
        self.companies[company]?.webhookSecret = secret
    }

    /// A Whop-shaped answer.
    package typealias Answer = ShopifyEmulator.Answer

    static func error(_ status: Int, _ type: String, _ message: String) -> Answer {
        ShopifyEmulator.json(["error": ["type": type, "message": message]], status: status)
    }

    /// Prefix of the emulated company keys the sandbox makes up on first use.
    package static let sandboxKeyPrefix = "apik_sandbox_"

    /// Whop's error body for an injected failure status.
    static func failure(_ status: Int) -> Answer {
        switch status {
        case 429: error(429, "rate_limit_error", "Too many requests")
        case 504: error(504, "api_error", "Gateway timeout")
        default: error(status, "api_error", "Something went wrong on our end")
        }
    }

    private func company(for authorization: String?) -> Company? {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return nil }
        let key = String(authorization.dropFirst(7))
        if self.keys[key] == nil { self.addSandboxCompany(key) }
        guard let id = self.keys[key] else { return nil }
        return self.companies[id]
    }

    /// Any `apik_sandbox_<name>` key (name: 1–40 lower-case letters, digits or `_`) is the company key of an
    /// emulated company `biz_sandbox_<name>` whose webhook, signed with `ws_sandbox_<name>`, points at Hygge: one
    /// Whop company per shop, for trying several shops in the sandbox.
    private func addSandboxCompany(_ key: String) {
        guard key.hasPrefix(Self.sandboxKeyPrefix) else { return }
        let name = key.dropFirst(Self.sandboxKeyPrefix.count)
        let allowed = name.utf8.allSatisfy { $0 == 0x5F || (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) }
        guard (1...40).contains(name.count), allowed else { return }
        self.addCompany(
            id: "biz_sandbox_\(name)", title: "Sandbox \(name)", apiKey: key, webhookSecret: "ws_sandbox_\(name)",
            webhookURL: "\(self.publicURL)/api/webhooks/whop")
    }

    /// `GET /accounts/me`.
    package func me(authorization: String?) -> Answer {
        guard let company = self.company(for: authorization) else {
            return Self.error(401, "unauthorized", "The API Key supplied does not have permission to access this route.")
        }
        return ShopifyEmulator.json(["id": company.id, "title": company.title, "route": company.id])
    }

    /// `POST /checkout_configurations`.
    package func createConfiguration(authorization: String?, idempotencyKey: String?, body: Data) -> Answer {
        guard let company = self.company(for: authorization) else {
            return Self.error(401, "unauthorized", "The API Key supplied does not have permission to access this route.")
        }
        if let idempotencyKey, let existing = self.idempotent[company.id + "/" + idempotencyKey],
            let configuration = self.configurations[existing]
        {
            return ShopifyEmulator.json(Self.configurationJSON(configuration))
        }
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
            let plan = object["plan"] as? [String: Any], let price = plan["initial_price"] as? NSNumber,
            let currency = plan["currency"] as? String
        else { return Self.error(400, "invalid_request_error", "plan.initial_price and plan.currency are required") }
        guard (plan["company_id"] as? String) == company.id else {
            return Self.error(403, "forbidden", "You do not have access to this company.")
        }
        guard let title = plan["title"] as? String, title.count <= 30 else {
            return Self.error(422, "invalid_request_error", "Title is too long (maximum is 30 characters)")
        }
        let id = "ch_" + RandomToken.hex(bytes: 10)
        let configuration = Configuration(
            id: id, planID: "plan_" + RandomToken.hex(bytes: 10), companyID: company.id, currency: currency,
            price: Self.decimalText(body: body) ?? price.stringValue,
            metadata: object["metadata"] as? [String: String] ?? [:],
            purchaseURL: "\(self.publicURL)/sandbox/whop/checkout/\(id)",
            redirectURL: object["redirect_url"] as? String)
        self.configurations[id] = configuration
        self.planToConfiguration[configuration.planID] = id
        if let idempotencyKey { self.idempotent[company.id + "/" + idempotencyKey] = id }
        return ShopifyEmulator.json(Self.configurationJSON(configuration))
    }

    /// The exact decimal text of `plan.initial_price` as sent (JSON numbers lose trailing zeros in NSNumber).
    private static func decimalText(body: Data) -> String? {
        guard let text = String(data: body, encoding: .utf8), let range = text.range(of: "\"initial_price\":") else {
            return nil
        }
        let rest = text[range.upperBound...].drop { $0 == " " }
        let number = rest.prefix { "0123456789.-eE+".contains($0) }
        return number.isEmpty ? nil : String(number)
    }

    private static func configurationJSON(_ configuration: Configuration) -> [String: Any] {
        [
            "id": configuration.id, "purchase_url": configuration.purchaseURL,
            "plan": ["id": configuration.planID], "company_id": configuration.companyID,
            "metadata": configuration.metadata,
        ]
    }

    /// A configuration by id, plan id or purchase URL.
    package func configuration(matching key: String) -> Configuration? {
        if let configuration = self.configurations[key] { return configuration }
        if let id = self.planToConfiguration[key] { return self.configurations[id] }
        if let id = key.split(separator: "/").last.map(String.init), let configuration = self.configurations[id] {
            return configuration
        }
        return nil
    }

    /// What a delivery should carry: event JSON, target and secret.
    package struct Delivery: Sendable {
        package var url: String
        package var secret: String
        package var body: Data
        package var paymentID: String
    }

    /// Records a payment for a configuration and builds its webhook.
    ///
    /// - Parameters:
    ///   - outcome: `succeeded` or `failed`.
    ///   - amountMinor: overrides the paid amount (simulates tampering).
    package func pay(configurationID: String, outcome: String, amountMinor: Int64?) -> Result<Delivery, PayError> {
        guard var configuration = self.configurations[configurationID] else { return .failure(.unknownPlan) }
        guard let company = self.companies[configuration.companyID], let url = company.webhookURL,
            let secret = company.webhookSecret
        else { return .failure(.noWebhook) }
        if let paid = configuration.paymentID, outcome == "succeeded" {
            return .failure(.alreadyPaid(paid))
        }
        let paymentID = "pay_" + RandomToken.hex(bytes: 10)
        if outcome == "succeeded" { configuration.paymentID = paymentID }
        self.configurations[configurationID] = configuration
        self.payments[paymentID] = (configurationID, 0)
        let currency = configuration.currency.uppercased()
        var total = configuration.price
        if let amountMinor { total = Currency.decimalString(minor: amountMinor, currency: currency) }
        let totalNumber = Currency.parseDecimal(total, currency: currency).map {
            Currency.decimalString(minor: $0, currency: currency)
        } ?? total
        let succeeded = outcome == "succeeded"
        if succeeded, let minor = Currency.parseDecimal(total, currency: currency) {
            self.taken[paymentID] = (minor, currency)
        }
        let event = """
            {"id":"msg_\(RandomToken.hex(bytes: 12))","api_version":"v1","timestamp":"\(Timestamp.now.iso8601)",\
            "type":"\(succeeded ? "payment.succeeded" : "payment.failed")","company_id":"\(company.id)",\
            "data":{"id":"\(paymentID)","status":"\(succeeded ? "paid" : "open")",\
            "substatus":"\(succeeded ? "succeeded" : "failed")","total":\(totalNumber),"subtotal":\(totalNumber),\
            "currency":"\(configuration.currency.lowercased())","checkout_configuration_id":"\(configuration.id)",\
            "metadata":\(Self.jsonText(configuration.metadata)),"plan":{"id":"\(configuration.planID)"},\
            "company":{"id":"\(company.id)"},"user":{"email":"buyer@example.com"}}}
            """
        return .success(Delivery(url: url, secret: secret, body: Data(event.utf8), paymentID: paymentID))
    }

    /// Why a pay call failed.
    package enum PayError: Error, Equatable {
        case unknownPlan, noWebhook, alreadyPaid(String)
    }

    private static func jsonText(_ value: [String: String]) -> String {
        String(data: (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) ?? Data("{}".utf8), encoding: .utf8) ?? "{}"
    }

    /// `POST /payments/{id}/refund`.
    package func refund(authorization: String?, paymentID: String, body: Data) -> Answer {
        guard let company = self.company(for: authorization) else {
            return Self.error(401, "unauthorized", "The API Key supplied does not have permission to access this route.")
        }
        if !self.refundFailures.isEmpty {
            let status = self.refundFailures.removeFirst()
            return Self.error(
                status, status >= 500 ? "server_error" : "invalid_request_error", "This payment cannot be refunded now")
        }
        guard let payment = self.payments[paymentID], let configuration = self.configurations[payment.configuration],
            configuration.companyID == company.id
        else { return Self.error(404, "not_found", "Payment not found") }
        let partial = ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any])?["partial_amount"]
        let currency = configuration.currency.uppercased()
        let paid = Currency.parseDecimal(configuration.price, currency: currency) ?? 0
        let asked = partial.flatMap { Currency.parseDecimal("\($0)", currency: currency) } ?? (paid - payment.refunded)
        guard asked > 0, payment.refunded + asked <= paid else {
            return Self.error(422, "invalid_request_error", "The refund amount exceeds the refundable amount")
        }
        self.payments[paymentID]?.refunded += asked
        self.refunds.append((paymentID, partial.map { "\($0)" }))
        let refundID = "rfnd_" + RandomToken.hex(bytes: 10)
        let amount = Currency.decimalString(minor: asked, currency: currency)
        if let company = self.companies[configuration.companyID], let url = company.webhookURL,
            let secret = company.webhookSecret
        {
            let event = """
                {"id":"msg_\(RandomToken.hex(bytes: 12))","api_version":"v1","timestamp":"\(Timestamp.now.iso8601)",\
                "type":"refund.created","company_id":"\(company.id)",\
                "data":{"id":"\(refundID)","payment_id":"\(paymentID)","amount":\(amount),\
                "currency":"\(configuration.currency.lowercased())","status":"succeeded"}}
                """
            self.pendingRefundDeliveries.append(
                Delivery(url: url, secret: secret, body: Data(event.utf8), paymentID: paymentID))
        }
        return ShopifyEmulator.json([
            "id": paymentID, "status": "paid", "refunded_amount": Currency.decimalString(minor: payment.refunded + asked, currency: currency),
        ])
    }

    /// Takes the `refund.created` webhooks that refunds produced (the routes deliver them as Whop would).
    package func takeRefundDeliveries() -> [Delivery] {
        defer { self.pendingRefundDeliveries = [] }
        return self.pendingRefundDeliveries
    }
}
