import Actors
import Foundation
import Net
import Testing

/// The money invariants of issue 6, checked after every fault and webhook scenario against what Hygge's own API
/// says (`GET /api/merchant/transactions`, `GET /api/merchant`, `GET /api/checkout/{id}`) and what the emulated
/// upstreams hold (Whop's payments and refunds, Shopify's orders):
///
/// 1. Σ ledger = Σ payments − Σ refunds: the ledger's payment rows add up to what Whop took, its refund rows to what
///    Whop refunded, and the totals reconcile with the rows (fee = `(amount*5 + 500) / 1000`, none on refunds,
///    net = gross − refunds − fees).
/// 2. Exactly one Shopify order per paid checkout (counted by `source_identifier`), none for anything else, each
///    for the checkout's total and named on the checkout.
/// 3. The monthly counter = paid transactions + live reservations (checkouts awaiting payment).
///
/// First waits for the outbox to drain: no checkout stays `paid` (or `order_sync_failed`) without its order.
enum Invariants {
    struct Report {
        var paid: Int
        var reserved: Int
        var orders: Int
        var gross: Int64
        var refunds: Int64
    }

    @discardableResult
    static func check(
        _ live: LiveServer, checkouts: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Report {
        let sandbox = try #require(live.server.sandbox, sourceLocation: sourceLocation)
        let shop = live.demo.shop.rawValue
        let auth = [("Authorization", "Bearer " + Onboarding.sessionToken(shop: shop))]

        // Drain: every checkout that was paid has its order (or the scenario is stuck, which fails here).
        var statuses: [String: [String: Any]] = [:]
        for id in checkouts {
            statuses[id] = try await live.waitStatus(id) { !["paid", "order_sync_failed"].contains($0) }
        }

        // 1. The ledger against Whop's own records.
        let month = Timestamp.now.month
        let ledger = try await live.request("GET", "/api/merchant/transactions?month=\(month)", headers: auth)
        #expect(ledger.status == 200, "transactions: \(ledger.text)", sourceLocation: sourceLocation)
        let rows = try #require(ledger.json?["rows"] as? [[String: Any]], sourceLocation: sourceLocation)
        var gross: Int64 = 0
        var refunds: Int64 = 0
        var fees: Int64 = 0
        var paidRows: [String: Int64] = [:]
        for row in rows {
            let amount = Int64(try #require(row["amount"] as? Int, sourceLocation: sourceLocation))
            let fee = Int64(try #require(row["fee"] as? Int, sourceLocation: sourceLocation))
            let checkout = try #require(row["checkout_id"] as? String, sourceLocation: sourceLocation)
            fees += fee
            switch row["kind"] as? String {
            case "payment":
                gross += amount
                #expect(fee == (amount * 5 + 500) / 1000, sourceLocation: sourceLocation)
                #expect(paidRows[checkout] == nil, "two payment rows for \(checkout)", sourceLocation: sourceLocation)
                paidRows[checkout] = amount
            case "refund":
                refunds += amount
                #expect(fee == 0, sourceLocation: sourceLocation)
            default:
                Issue.record("unknown ledger row kind \(row["kind"] ?? "nil")", sourceLocation: sourceLocation)
            }
        }
        let totals = try #require(ledger.json?["totals"] as? [String: Any], sourceLocation: sourceLocation)
        if !rows.isEmpty {
            #expect(totals["gross"] as? Int == Int(gross), sourceLocation: sourceLocation)
            #expect(totals["refunds"] as? Int == Int(refunds), sourceLocation: sourceLocation)
            #expect(totals["fees"] as? Int == Int(fees), sourceLocation: sourceLocation)
            #expect(totals["net"] as? Int == Int(gross - refunds - fees), sourceLocation: sourceLocation)
        }
        let whop = await sandbox.whop.paymentRecords(company: live.demo.companyID)
        let taken = whop.map(\.amount).reduce(0, +)
        let returned = whop.map(\.refunded).reduce(0, +)
        #expect(gross == taken, "ledger gross \(gross) vs Whop payments \(taken)", sourceLocation: sourceLocation)
        #expect(refunds == returned, "ledger refunds \(refunds) vs Whop refunds \(returned)", sourceLocation: sourceLocation)
        #expect(gross - refunds == taken - returned, sourceLocation: sourceLocation)
        for record in whop {
            #expect(record.refunded <= record.amount, sourceLocation: sourceLocation)
            if let checkout = record.checkoutID {
                #expect(paidRows[checkout] == record.amount, "\(checkout)", sourceLocation: sourceLocation)
            }
        }

        // 2. One order per paid checkout.
        let orders = await sandbox.shopify.allOrders(shop)
        let bySource = Dictionary(grouping: orders, by: { $0.sourceIdentifier ?? "" })
        #expect(Set(bySource.keys) == Set(paidRows.keys), "orders vs paid checkouts", sourceLocation: sourceLocation)
        for (checkout, amount) in paidRows {
            let mine = bySource[checkout] ?? []
            #expect(mine.count == 1, "\(mine.count) orders for \(checkout)", sourceLocation: sourceLocation)
            guard let order = mine.first else { continue }
            #expect(
                order.transactionAmount.flatMap { Currency.parseDecimal($0, currency: "USD") } == amount,
                sourceLocation: sourceLocation)
            #expect(order.noteAttributes["hygge_checkout_id"] == checkout, sourceLocation: sourceLocation)
            if let status = statuses[checkout] {
                #expect(status["shopify_order_name"] as? String == order.name, sourceLocation: sourceLocation)
            }
        }

        // 3. Counter = paid + live reservations.
        let summary = try await live.request("GET", "/api/merchant", headers: auth)
        let usage = try #require(summary.json?["usage"] as? [String: Any], sourceLocation: sourceLocation)
        let awaiting = statuses.values.filter { $0["status"] as? String == "awaiting_payment" }.count
        #expect(usage["paid"] as? Int == paidRows.count, sourceLocation: sourceLocation)
        #expect(usage["reserved"] as? Int == awaiting, sourceLocation: sourceLocation)
        #expect((usage["gross"] as? [String: Any])?["amount"] as? Int == Int(gross), sourceLocation: sourceLocation)
        return Report(paid: paidRows.count, reserved: awaiting, orders: orders.count, gross: gross, refunds: refunds)
    }
}
