import Actors
import Foundation
import Testing

/// Snapshot bodies and journal records that decode but could not have been written by this service are refused
/// with a clean `RestoreError` on restore, instead of crashing later (issue 9).
struct SnapshotValidationTests {
    static let shop = MerchantID("valid.myshopify.com")

    static func state() -> MerchantState {
        var state = MerchantState(
            id: Self.shop, dataKey: SealedValue(combined: [1, 2, 3]), createdAt: Timestamp(milliseconds: 1))
        state.apply(.deliverySeen(delivery: "a"))
        state.apply(.deliverySeen(delivery: "b"))
        return state
    }

    static func body(_ merchants: [MerchantState], version: Int = 1, format: RegistrySnapshot.BodyFormat = .current)
        throws -> [UInt8]
    {
        var snapshot = RegistrySnapshot(lsn: 7, merchants: merchants)
        snapshot.v = version
        return try snapshot.encoded(format: format)
    }

    @Test(arguments: RegistrySnapshot.BodyFormat.allCases)
    func aSnapshotWrittenByApplyDecodes(_ format: RegistrySnapshot.BodyFormat) throws {
        let decoded = try RegistrySnapshot.decode(try Self.body([Self.state()], format: format))
        #expect(decoded.merchants == [Self.state()])
    }

    @Test(arguments: [-1, 3, Int.max], RegistrySnapshot.BodyFormat.allCases)
    func aDeliveryWindowHeadOutsideTheWindowIsRefused(_ head: Int, _ format: RegistrySnapshot.BodyFormat) throws {
        var state = Self.state()
        state.deliveryOrderHead = head
        #expect(state.invariantViolation() != nil)
        #expect(throws: RestoreError.self) { try RegistrySnapshot.decode(try Self.body([state], format: format)) }
    }

    @Test(arguments: RegistrySnapshot.BodyFormat.allCases)
    func anUnknownVersionOrATwiceListedMerchantIsRefused(_ format: RegistrySnapshot.BodyFormat) throws {
        #expect(throws: RestoreError.self) { try RegistrySnapshot.decode(try Self.body([Self.state()], version: 2, format: .json)) }
        #expect(throws: RestoreError.self) {
            try RegistrySnapshot.decode(try Self.body([Self.state(), Self.state()], format: format))
        }
    }

    @Test func aJournalRecordOfAnUnknownPayloadVersionIsRefused() throws {
        var entry = JournalEntry(merchant: Self.shop, event: .deliverySeen(delivery: "x"))
        entry.v = 2
        var restorer = Restorer(snapshot: RegistrySnapshot(lsn: 7, merchants: [Self.state()]))
        #expect(throws: RestoreError.self) {
            try restorer.apply(lsn: 8, payload: Array(try JSONEncoder().encode(entry)))
        }
    }

    @Test func countersSaturateInsteadOfTrapping() {
        var state = Self.state()
        let id = CheckoutID("chk_000000000000000000000001")
        let at = Timestamp(milliseconds: 1_750_000_000_000)
        state.apply(
            .checkoutCreated(
                checkout: Checkout(
                    id: id, lineItems: [], total: Money(amount: .max, currency: "USD"), clientTotalMismatch: false,
                    email: nil, createdAt: at, expiresAt: at),
                idempotencyKey: nil, requestHash: nil))
        for index in 0..<2 {
            state.apply(
                .paymentRecorded(
                    checkout: id, paymentID: "pay_\(index)", amount: Money(amount: .max, currency: "USD"), fee: .max,
                    late: false, delivery: "d\(index)", at: at))
            state.apply(.refundRecorded(checkout: id, refundID: "r\(index)", amount: .max, delivery: "r\(index)", at: at))
        }
        #expect(state.usage[at.month]?.gross["USD"] == .max)
        #expect(state.usage[at.month]?.fees["USD"] == .max)
        #expect(state.checkouts[id]?.refundedAmount == .max)
    }
}
