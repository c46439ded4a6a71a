import Actors
import Foundation
import Testing

@Suite("A merchant's checkout table")
struct CheckoutTableTests {
    static func checkout(_ number: Int) -> Checkout {
        Checkout(
            id: CheckoutID("chk_\(number)"),
            lineItems: [LineItem(variantID: Int64(number), quantity: 1, unitPrice: Int64(100 * number), title: "T\(number)")],
            total: Money(amount: Int64(100 * number), currency: "USD"), clientTotalMismatch: false, email: nil,
            createdAt: Timestamp(milliseconds: Int64(number)), expiresAt: Timestamp(milliseconds: Int64(number) + 1_800_000))
    }

    /// Applies the same random inserts, in-place edits, nil assignments and removals to a table and to a dictionary,
    /// and compares them after every step.
    @Test("behaves as a [CheckoutID: Checkout] under random inserts, edits and removals")
    func modelled() {
        var generator = SystemRandomNumberGenerator()
        var table = CheckoutTable()
        var model: [CheckoutID: Checkout] = [:]
        for step in 0..<4_000 {
            let number = Int.random(in: 0..<200, using: &generator)
            let id = CheckoutID("chk_\(number)")
            switch Int.random(in: 0..<5, using: &generator) {
            case 0:
                table[id] = Self.checkout(number)
                model[id] = Self.checkout(number)
            case 1:
                table[id]?.refundedAmount += 1
                model[id]?.refundedAmount += 1
            case 2:
                table[id] = nil
                model[id] = nil
            case 3:
                let removed = table.removeValue(forKey: id)
                #expect(removed == model.removeValue(forKey: id))
            default:
                // An in-place edit that ends in nil removes the entry.
                if Bool.random(using: &generator) {
                    table[id]?.status = .paid
                    model[id]?.status = .paid
                }
                modify(&table[id])
                modify(&model[id])
            }
            #expect(table.count == model.count, "step \(step)")
            #expect(Dictionary(uniqueKeysWithValues: table.map { ($0.key, $0.value) }) == model, "step \(step)")
            #expect(Set(table.keys) == Set(model.keys))
            #expect(table.values.count == table.count)
        }
        func modify(_ value: inout Checkout?) {
            if value?.status == .paid { value = nil } else { value?.email = "x@example.com" }
        }
    }

    @Test("equality and hashing ignore the order of insertion")
    func orderFree() {
        var first = CheckoutTable()
        var second = CheckoutTable()
        for number in 0..<50 { first[CheckoutID("chk_\(number)")] = Self.checkout(number) }
        for number in (0..<50).reversed() { second[CheckoutID("chk_\(number)")] = Self.checkout(number) }
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        second[CheckoutID("chk_7")]?.status = .expired
        #expect(first != second)
        second[CheckoutID("chk_7")] = Self.checkout(7)
        #expect(first == second)
        // A checkout under another key is a different table.
        second.removeValue(forKey: CheckoutID("chk_7"))
        second[CheckoutID("chk_other")] = Self.checkout(7)
        #expect(first != second)
    }

    @Test("encodes to exactly the JSON of the dictionary it replaced")
    func json() throws {
        var table = CheckoutTable()
        var dictionary: [CheckoutID: Checkout] = [:]
        for number in 0..<20 {
            table[CheckoutID("chk_\(number)")] = Self.checkout(number)
            dictionary[CheckoutID("chk_\(number)")] = Self.checkout(number)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let fromTable = try JSONDecoder().decode([CheckoutID: Checkout].self, from: encoder.encode(table))
        #expect(fromTable == dictionary)
        let fromDictionary = try JSONDecoder().decode(CheckoutTable.self, from: encoder.encode(dictionary))
        #expect(fromDictionary == table)
    }

    @Test("insertNew refuses a key it already holds")
    func insertNewOnce() {
        var table = CheckoutTable(minimumCapacity: 2)
        let first = table.insertNew(Self.checkout(1), key: CheckoutID("chk_1"))
        let second = table.insertNew(Self.checkout(2), key: CheckoutID("chk_1"))
        #expect(first && !second)
        #expect(table.count == 1)
        #expect(table[CheckoutID("chk_1")]?.total.amount == 100)
    }
}

@Suite("A Whop plan's purchase URL")
struct WhopPlanURLTests {
    @Test("is kept as a head plus the id it ends with, and reads back exactly", arguments: [
        ("https://whop.com/checkout/ch_1", "ch_1", WhopPlan.URLTail.configuration),
        ("https://sandbox.test/sandbox/whop/checkout/ch_1", "ch_1", .configuration),
        ("https://whop.com/checkout/plan_1", "ch_1", .plan),
        ("https://whop.com/checkout/plan_1?x=ch_1", "ch_1", .configuration),
        ("ch_1", "ch_1", .none),
        ("plan_1", nil, .none),
        ("https://elsewhere.test/pay", "ch_1", .none),
        ("", nil, .none),
    ] as [(String, String?, WhopPlan.URLTail)])
    func split(url: String, configuration: String?, tail: WhopPlan.URLTail) throws {
        let plan = WhopPlan(planID: "plan_1", checkoutConfigurationID: configuration, purchaseURL: url)
        #expect(plan.purchaseURL == url)
        #expect(plan.purchaseURLTail == tail)
        let json = try JSONEncoder().encode(plan)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: String])
        #expect(object["purchaseURL"] == url)
        #expect(object["checkoutConfigurationID"] == configuration)
        #expect(try JSONDecoder().decode(WhopPlan.self, from: json) == plan)
    }

    @Test("the decoder's shared-head form equals the same plan built from its URL")
    func sharedHead() throws {
        let head = "https://whop.com/" + "checkout/"
        let shared = try #require(WhopPlan(planID: "plan_9", checkoutConfigurationID: "ch_9", configurationURLHead: head))
        #expect(shared == WhopPlan(planID: "plan_9", checkoutConfigurationID: "ch_9", purchaseURL: head + "ch_9"))
        #expect(shared.hashValue == WhopPlan(planID: "plan_9", checkoutConfigurationID: "ch_9", purchaseURL: head + "ch_9").hashValue)
        // Forms the URL initialiser would not give are refused.
        #expect(WhopPlan(planID: "plan_9", checkoutConfigurationID: "ch_9", configurationURLHead: "") == nil)
        #expect(WhopPlan(planID: "plan_9", checkoutConfigurationID: "", configurationURLHead: head) == nil)
    }
}
