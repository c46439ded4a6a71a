import Actors
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization

extension LoadTestRunner {
    /// One merchant's ledger totals this month (USD, minor units), from `/admin/merchants`.
    package struct LedgerTotals: Equatable, Sendable {
        var month: String
        var paid: Int
        var gross: Int64
        var fees: Int64
    }

    /// `GET /admin/merchants` → shop → this month's totals; nil without an admin token.
    package func ledger() async throws -> [String: LedgerTotals]? {
        guard let token = self.options.adminToken else { return nil }
        let reply = try await self.send(.GET, "/admin/merchants", headers: [("Authorization", "Bearer \(token)")])
        guard reply.status == 200 else { throw LoadTestError("GET /admin/merchants answered \(reply.status)") }
        struct MoneyRow: Decodable {
            var amount: Int64
            var currency: String
        }
        struct Usage: Decodable {
            var month: String
            var paid: Int
            var gross: [MoneyRow]
            var fees: [MoneyRow]
        }
        struct Row: Decodable {
            var shop: String
            var usage: Usage?
        }
        struct Answer: Decodable { var merchants: [Row] }
        let answer = try JSONDecoder().decode(Answer.self, from: Data(buffer: reply.body))
        var totals: [String: LedgerTotals] = [:]
        for row in answer.merchants {
            guard let usage = row.usage else { continue }
            totals[row.shop] = LedgerTotals(
                month: usage.month, paid: usage.paid,
                gross: usage.gross.filter { $0.currency == "USD" }.reduce(0) { $0 + $1.amount },
                fees: usage.fees.filter { $0.currency == "USD" }.reduce(0) { $0 + $1.amount })
        }
        return totals
    }

    /// Every paid checkout has exactly one Shopify order carrying its total; the ledger grew by exactly the payments.
    package func check(
        paid: [PaidCheckout], targets: [Target], ledgerBefore: [String: LedgerTotals]??
    ) async -> LoadTestResult.Correctness {
        var result = LoadTestResult.Correctness()
        result.paid = paid.count
        let byShop = Dictionary(grouping: paid, by: \.shop)
        let tokens = Dictionary(targets.map { ($0.shop, $0.shopify_token) }, uniquingKeysWith: { first, _ in first })
        // source_identifier → order totals, per shop.
        let found = Locked<(orders: [String: [String]], error: String?)>(([:], nil))
        let shops = Array(byShop.keys)
        let dispenser = Dispenser(limit: shops.count, deadline: nil)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<min(16, max(1, shops.count)) {
                group.addTask {
                    while let index = dispenser.claim() {
                        let shop = shops[index]
                        do throws(Failure) {
                            let reply = try await self.send(
                                .GET, "/sandbox/shopify/\(shop)/admin/api/2026-10/orders.json?status=any",
                                headers: [("X-Shopify-Access-Token", tokens[shop] ?? "")])
                            guard reply.status == 200, let orders = reply.json?["orders"] as? [[String: Any]] else {
                                throw Failure(code: "orders_http_\(reply.status)")
                            }
                            found.withLock { found in
                                for order in orders {
                                    guard let source = order["source_identifier"] as? String else { continue }
                                    found.orders[source, default: []].append(order["total_price"] as? String ?? "")
                                }
                            }
                        } catch {
                            found.withLock { $0.error = "\(shop): \(error.code)" }
                        }
                    }
                }
            }
        }
        let (orders, error) = found.withLock { ($0.orders, $0.error) }
        result.orders_error = error
        for checkout in paid {
            let totals = orders[checkout.checkoutID] ?? []
            if totals.isEmpty {
                result.missing += 1
            } else if totals.count > 1 {
                result.duplicates += 1
            } else if totals[0] != Currency.decimalString(minor: checkout.amount, currency: "USD") {
                result.wrong_amount += 1
            } else {
                result.orders_ok += 1
                continue
            }
            if result.samples.count < 20 { result.samples.append(checkout.checkoutID) }
        }
        result.ledger = await self.checkLedger(byShop: byShop, before: ledgerBefore)
        return result
    }

    private func checkLedger(byShop: [String: [PaidCheckout]], before: [String: LedgerTotals]??) async
        -> LoadTestResult.Ledger
    {
        guard self.options.adminToken != nil else { return LoadTestResult.Ledger() }
        guard let before = before ?? nil else {
            return LoadTestResult.Ledger(checked: true, ok: false, detail: "GET /admin/merchants failed before the run")
        }
        let after: [String: LedgerTotals]
        do {
            guard let read = try await self.ledger() else { return LoadTestResult.Ledger() }
            after = read
        } catch {
            return LoadTestResult.Ledger(checked: true, ok: false, detail: "GET /admin/merchants failed after the run: \(error)")
        }
        var payments = 0
        var gross: Int64 = 0
        var fees: Int64 = 0
        var wrong: [String] = []
        for (shop, checkouts) in byShop.sorted(by: { $0.key < $1.key }) {
            let expectedGross = checkouts.reduce(Int64(0)) { $0 + $1.amount }
            let expectedFees = checkouts.reduce(Int64(0)) { $0 + Currency.platformFee($1.amount) }
            payments += checkouts.count
            gross += expectedGross
            fees += expectedFees
            let old = before[shop]
            guard let new = after[shop] else {
                wrong.append("\(shop): missing after the run")
                continue
            }
            if let old, old.month != new.month {
                return LoadTestResult.Ledger(checked: false, ok: true, detail: "skipped: the month changed during the run")
            }
            let delta = (paid: new.paid - (old?.paid ?? 0), gross: new.gross - (old?.gross ?? 0), fees: new.fees - (old?.fees ?? 0))
            if delta != (checkouts.count, expectedGross, expectedFees) {
                wrong.append(
                    "\(shop): +\(delta.paid) payments / +\(delta.gross) gross / +\(delta.fees) fees, expected +\(checkouts.count) / +\(expectedGross) / +\(expectedFees)"
                )
            }
        }
        let money = { (minor: Int64) in Currency.decimalString(minor: minor, currency: "USD") }
        if wrong.isEmpty {
            return LoadTestResult.Ledger(
                checked: true, ok: true,
                detail: "ok: +\(payments) payments, gross +\(money(gross)) USD, fees +\(money(fees)) USD across \(byShop.count) merchant(s)")
        }
        return LoadTestResult.Ledger(
            checked: true, ok: false,
            detail: "MISMATCH in \(wrong.count) merchant(s) (other traffic on the server?): " + wrong.prefix(3).joined(separator: "; "))
    }
}
