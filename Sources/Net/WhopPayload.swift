package import Actors
package import Foundation

/// Parses Whop webhook envelopes of both shapes (older: `company_id`, numbers in major units, nested `plan{id}`;
/// newer: `account_id`, Money objects `{"amount":"398.00","currency":"usd"}`, flat `plan_id`).
package struct WhopPayload: Sendable {
    /// Event type with `_` read as `.` (`payment_succeeded` → `payment.succeeded`).
    package var type: String
    /// Envelope id (`msg_…`), if any.
    package var id: String?
    /// Whose event: `company_id`, else `account_id`, else `data.company.id`.
    package var company: String?
    package var data: DataObject?

    /// A Whop amount: a JSON number in major units, a decimal string, or a Money object.
    package struct Amount: Decodable, Sendable {
        package var text: String
        package var currency: String?

        package init(from decoder: any Decoder) throws {
            if let container = try? decoder.container(keyedBy: MoneyKeys.self),
                container.contains(.amount)
            {
                self.text = try Self.decimalText(try container.superDecoder(forKey: .amount))
                self.currency = try container.decodeIfPresent(String.self, forKey: .currency)
            } else {
                self.text = try Self.decimalText(decoder)
                self.currency = nil
            }
        }

        private enum MoneyKeys: String, CodingKey { case amount, currency }

        private static func decimalText(_ decoder: any Decoder) throws -> String {
            let single = try decoder.singleValueContainer()
            if let text = try? single.decode(String.self) { return text }
            return "\(try single.decode(Decimal.self))"
        }
    }

    package struct DataObject: Decodable, Sendable {
        struct Reference: Decodable, Sendable { var id: String? }
        var id: String?
        var status: String?
        var total: Amount?
        var amount: Amount?
        var currency: String?
        var checkout_configuration_id: String?
        var plan: Reference?
        var plan_id: String?
        var company: Reference?
        var payment_id: String?
        var payment: Reference?
        var metadata: StringMap?
    }

    /// Whop metadata: a JSON object whose string values we read; other values (numbers, nulls) are skipped rather
    /// than failing the whole envelope.
    package struct StringMap: Decodable, Sendable {
        package var values: [String: String]

        private struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            var values: [String: String] = [:]
            for key in container.allKeys {
                if let text = try? container.decode(String.self, forKey: key) { values[key.stringValue] = text }
            }
            self.values = values
        }

        package subscript(_ key: String) -> String? { self.values[key] }
    }

    private struct Envelope: Decodable {
        var id: String?
        var type: String?
        var event: String?
        var company_id: String?
        var account_id: String?
        var data: DataObject?
    }

    /// Parses the raw body; nil when it is not a JSON object of the envelope shape.
    package static func parse(_ body: Data) -> WhopPayload? {
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: body) else { return nil }
        let type = (envelope.type ?? envelope.event ?? "").replacingOccurrences(of: "_", with: ".")
        return WhopPayload(
            type: type, id: envelope.id,
            company: envelope.company_id ?? envelope.account_id ?? envelope.data?.company?.id, data: envelope.data)
    }

    /// A membership event of Hygge's own SaaS plans (`/api/webhooks/whop/platform`), or nil for other events.
    /// `membership.went_valid`/`went_invalid` are Whop's older names for activated/deactivated.
    package var membership: (active: Bool, planID: String?, shop: String?)? {
        let active: Bool
        switch self.type {
        case "membership.activated", "membership.went.valid": active = true
        case "membership.deactivated", "membership.went.invalid": active = false
        default: return nil
        }
        return (active, self.data?.plan?.id ?? self.data?.plan_id, self.data?.metadata?["shop"])
    }

    /// The event as the domain sees it.
    package var event: WhopEvent {
        guard let data else { return .ignored(type: self.type) }
        switch self.type {
        case "payment.succeeded", "payment.failed":
            let currency = (data.currency ?? data.total?.currency)?.uppercased()
            let amount: Money? = {
                guard let total = data.total, let currency, Currency.isValidCode(currency),
                    let minor = Currency.parseDecimal(total.text, currency: currency)
                else { return nil }
                return Money(amount: minor, currency: currency)
            }()
            let notice = PaymentNotice(
                paymentID: data.id ?? "", checkoutID: data.metadata?["hygge_checkout_id"].map(CheckoutID.init),
                configurationID: data.checkout_configuration_id, planID: data.plan?.id ?? data.plan_id, amount: amount)
            guard !notice.paymentID.isEmpty else { return .ignored(type: self.type) }
            return self.type == "payment.succeeded" ? .paymentSucceeded(notice) : .paymentFailed(notice)
        case "refund.created", "refund.updated":
            guard let paymentID = data.payment_id ?? data.payment?.id else { return .ignored(type: self.type) }
            let status = data.status?.lowercased()
            return .refund(
                RefundNotice(
                    refundID: data.id ?? paymentID, paymentID: paymentID, amountText: data.amount?.text,
                    succeeded: status == nil || status == "succeeded"))
        default:
            return .ignored(type: self.type)
        }
    }
}
