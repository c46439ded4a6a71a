import Actors
import Crypto
import Foundation
import Logging
import Persistence
import Testing

/// Online master-key rotation inside the domain: the keyring, each actor's durable re-wrap, and a restart.
struct MasterKeyRotationTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    @Test("the keyring switches once, refuses a second target, and forgets the old key when done")
    func keyring() throws {
        let shop = MerchantID("keyring.myshopify.com")
        let (a, b, c) = (MasterKey.generate(), MasterKey.generate(), MasterKey.generate())
        let dataKey = Vault.newDataKey()
        let underA = try Vault.wrap(dataKey, for: shop, master: a)
        let ring = MasterKeyring(a)
        #expect(ring.begin(a) == .alreadyCurrent)
        #expect(ring.begin(b) == .rotating)
        #expect(ring.current.matches(b))
        // Mid-rotation, a data key still under the old key opens.
        #expect(try ring.unwrap(underA, for: shop) == dataKey)
        #expect(ring.begin(c) == .busy)
        #expect(ring.begin(b) == .rotating)
        ring.finish(b)
        #expect(ring.retiring == nil)
        #expect(throws: VaultError.openFailed) { try ring.unwrap(underA, for: shop) }
        #expect(ring.begin(b) == .alreadyCurrent)
    }

    @Test("every merchant re-wraps durably; secrets still open; after a restart only the new key works")
    func rotateAndRestart() async throws {
        let harness = try Harness()
        let shops = (0..<3).map { MerchantID("rotate-\($0).myshopify.com") }
        for (index, shop) in shops.enumerated() { try await harness.readyMerchant(shop, company: "biz_rotate_\(index)") }
        let new = MasterKey.generate()
        let report = try await MasterKeyRotation.run(
            to: new, registry: harness.registry, keeper: harness.core.keeper, logger: Self.logger)
        #expect(report.merchants == 3 && report.rewrapped == 3 && !report.alreadyCurrent)
        #expect(report.snapshot != nil)
        for merchant in harness.registry.all {
            #expect(await merchant.dataKeyOpens(with: new))
            #expect(!(await merchant.dataKeyOpens(with: harness.master)))
        }
        // With no other traffic, the data directory holds no data key the old master key opens: neither kept
        // snapshot, nor any journal record still on disk.
        var wrapped: [(MerchantID, SealedValue)] = []
        for info in try SnapshotStore.list(directory: harness.directory) {
            let (_, body) = try SnapshotStore.read(path: info.path)
            wrapped += try RegistrySnapshot.decode(body).merchants.map { ($0.id, $0.dataKey) }
        }
        try JournalInspector.forEachRecord(directory: harness.directory) { record in
            let entry = try JournalEntry(payload: record.payload)
            switch entry.e {
            case .created(let dataKey, _), .dataKeyRewrapped(let dataKey): wrapped.append((entry.m, dataKey))
            default: break
            }
        }
        #expect(wrapped.count >= 3)
        for (merchant, key) in wrapped {
            #expect((try? Vault.unwrap(key, for: merchant, master: harness.master)) == nil, "\(merchant)")
        }
        // A merchant created after the rotation is wrapped under the new key.
        let late = try await harness.registry.merchantCreatingIfNeeded(MerchantID("rotate-late.myshopify.com"), now: .now)
        #expect(await late.dataKeyOpens(with: new))
        let again = try await MasterKeyRotation.run(
            to: new, registry: harness.registry, keeper: harness.core.keeper, logger: Self.logger)
        #expect(again.alreadyCurrent && again.rewrapped == 0)

        await harness.registry.environment.journal.close()
        #expect(throws: MasterKeyMismatch.self) { _ = try Harness(directory: harness.directory, master: harness.master) }
        let restarted = try Harness(directory: harness.directory, master: new)
        defer { Task { await restarted.remove() } }
        for shop in shops {
            let merchant = try #require(restarted.registry.merchant(shop))
            #expect(try await merchant.webhookSecret() == "ws_test")
            _ = try await merchant.createCheckout(.one(), idempotencyKey: nil, requestHash: nil, now: .now)
        }
    }
}
