import Actors
import Foundation
import HTTPTypes
import Net
import Testing

/// `/api/merchant/*`: the Whop key wizard's rules, the ledger and retry-sync (CONTRACT §3).
struct MerchantAPITests {
    @Test func aRejectedKeyIsNeverStoredAndAValidOneOverwrites() async throws {
        try await Onboarding.run { harness, client in
            let shop = "keys-a.myshopify.com"
            let cookie = try await harness.install(client, shop: shop)
            let headers = Onboarding.json(Onboarding.cookieHeader(cookie))
            for bad in ["apik_typo", Onboarding.userKey, "   ", "apik_test company_a"] {
                let reply = try await harness.send(
                    client, .put, "/api/merchant/whop-key", headers: headers, body: #"{"api_key":"\#(bad)"}"#)
                #expect(reply.status == .unprocessableContent, "\(bad)")
                #expect(reply.errorCode == "whop_key_invalid")
                #expect((reply.json?["error"] as? [String: Any])?["message"] as? String == "This key didn't validate")
            }
            var summary = try await harness.send(client, .get, "/api/merchant", headers: headers)
            #expect(summary.json?["whop_key_fingerprint"] is NSNull || summary.json?["whop_key_fingerprint"] == nil)
            #expect(summary.json?["company_id"] == nil || summary.json?["company_id"] is NSNull)
            // Surrounding whitespace is trimmed.
            let good = try await harness.send(
                client, .put, "/api/merchant/whop-key", headers: headers,
                body: #"{"api_key":"  \#(Onboarding.keyA)\n"}"#)
            #expect(good.status == .ok)
            #expect(good.json?["company_id"] as? String == "biz_test_a")
            summary = try await harness.send(client, .get, "/api/merchant", headers: headers)
            #expect(summary.json?["whop_key_fingerprint"] as? String == "…" + String(Onboarding.keyA.suffix(4)))
            // A rejected key later leaves the good one in place.
            _ = try await harness.send(
                client, .put, "/api/merchant/whop-key", headers: headers, body: #"{"api_key":"apik_wrong"}"#)
            summary = try await harness.send(client, .get, "/api/merchant", headers: headers)
            #expect(summary.json?["company_id"] as? String == "biz_test_a")
            // A new valid key overwrites.
            let replaced = try await harness.send(
                client, .put, "/api/merchant/whop-key", headers: headers, body: #"{"api_key":"\#(Onboarding.keyB)"}"#)
            #expect(replaced.json?["company_id"] as? String == "biz_test_b")
            summary = try await harness.send(client, .get, "/api/merchant", headers: headers)
            #expect(summary.json?["whop_key_fingerprint"] as? String == "…" + String(Onboarding.keyB.suffix(4)))
            #expect(summary.json?["webhook_secret_set"] as? Bool == false)
            let secret = try await harness.send(
                client, .put, "/api/merchant/whop-webhook-secret", headers: headers, body: #"{"secret":"ws_test_b"}"#)
            #expect(secret.status == .noContent)
            summary = try await harness.send(client, .get, "/api/merchant", headers: headers)
            #expect(summary.json?["webhook_secret_set"] as? Bool == true)
            // Schema errors.
            let missing = try await harness.send(client, .put, "/api/merchant/whop-key", headers: headers, body: "{}")
            #expect(missing.status == .badRequest)
            for text in harness.bodies.texts {
                #expect(!text.contains(Onboarding.keyA) && !text.contains(Onboarding.keyB) && !text.contains("ws_test_b"))
            }
        }
    }

    @Test func theLedgerReconcilesInJSONAndCSV() async throws {
        try await Onboarding.run { harness, client in
            let shop = "ledger-a.myshopify.com"
            let cookie = try await harness.ready(client, shop: shop, key: Onboarding.keyA, secret: "ws_test_a")
            var paid: Int64 = 0
            for quantity in [1, 3] {
                let (_, plan, total) = try await harness.checkoutWithPlan(client, shop: shop, quantity: quantity)
                _ = try await harness.pay(client, plan: plan)
                paid += total
            }
            let month = Timestamp.now.month
            let reply = try await harness.send(
                client, .get, "/api/merchant/transactions?month=\(month)", headers: Onboarding.cookieHeader(cookie))
            #expect(reply.status == .ok)
            let rows = try #require(reply.json?["rows"] as? [[String: Any]])
            #expect(rows.count == 2)
            var gross: Int64 = 0
            var fees: Int64 = 0
            for row in rows {
                let amount = Int64(try #require(row["amount"] as? Int))
                let fee = Int64(try #require(row["fee"] as? Int))
                #expect(fee == (amount * 5 + 500) / 1000)
                gross += amount
                fees += fee
            }
            #expect(gross == paid)
            let totals = try #require(reply.json?["totals"] as? [String: Any])
            #expect(totals["currency"] as? String == "USD")
            #expect(totals["gross"] as? Int == Int(gross))
            #expect(totals["fees"] as? Int == Int(fees))
            #expect(totals["refunds"] as? Int == 0)
            #expect(totals["net"] as? Int == Int(gross - fees))
            var csvHeaders = Onboarding.cookieHeader(cookie)
            csvHeaders[.accept] = "text/csv"
            let csv = try await harness.send(
                client, .get, "/api/merchant/transactions?month=\(month)", headers: csvHeaders)
            #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true)
            let lines = csv.text.split(separator: "\r\n").map(String.init)
            #expect(lines.first == "created_at,kind,checkout_id,payment_id,currency,amount,fee")
            #expect(lines.count == 3)
            let csvGross = lines.dropFirst().compactMap { Int64($0.split(separator: ",")[5]) }.reduce(0, +)
            #expect(csvGross == gross)
            // The summary agrees.
            let summary = try await harness.send(client, .get, "/api/merchant", headers: Onboarding.cookieHeader(cookie))
            let usage = try #require(summary.json?["usage"] as? [String: Any])
            #expect(usage["paid"] as? Int == 2)
            #expect((usage["fees"] as? [String: Any])?["amount"] as? Int == Int(fees))
            let bad = try await harness.send(
                client, .get, "/api/merchant/transactions?month=2026-13", headers: Onboarding.cookieHeader(cookie))
            #expect(bad.status == .badRequest)
            let empty = try await harness.send(
                client, .get, "/api/merchant/transactions?month=2001-01", headers: Onboarding.cookieHeader(cookie))
            #expect((empty.json?["rows"] as? [Any])?.isEmpty == true)
        }
    }
}
