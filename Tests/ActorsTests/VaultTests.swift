import Actors
import Foundation
import Testing

/// Envelope encryption (CONTRACT §6): per-merchant data keys wrapped by the master key, AD = merchant + field.
struct VaultTests {
    let shopA = MerchantID("vault-a.myshopify.com")
    let shopB = MerchantID("vault-b.myshopify.com")

    @Test func aSealedValueOpensOnlyForItsMerchantAndField() throws {
        let key = Vault.newDataKey()
        let sealed = try Vault.seal("apik_secret_value", merchant: self.shopA, field: .whopAPIKey, dataKey: key)
        #expect(try Vault.open(sealed, merchant: self.shopA, field: .whopAPIKey, dataKey: key) == "apik_secret_value")
        #expect(throws: VaultError.openFailed) {
            try Vault.open(sealed, merchant: self.shopB, field: .whopAPIKey, dataKey: key)
        }
        #expect(throws: VaultError.openFailed) {
            try Vault.open(sealed, merchant: self.shopA, field: .whopWebhookSecret, dataKey: key)
        }
        #expect(throws: VaultError.openFailed) {
            try Vault.open(sealed, merchant: self.shopA, field: .whopAPIKey, dataKey: Vault.newDataKey())
        }
        let json = String(decoding: try JSONEncoder().encode(sealed), as: UTF8.self)
        #expect(!json.contains("apik_secret_value"))
    }

    @Test func rewrappingUnderANewMasterLocksTheOldOneOut() throws {
        let old = MasterKey.generate()
        let new = MasterKey.generate()
        let dataKey = Vault.newDataKey()
        let wrapped = try Vault.wrap(dataKey, for: self.shopA, master: old)
        let sealed = try Vault.seal("shpat_token", merchant: self.shopA, field: .shopifyToken, dataKey: dataKey)
        // Rotation: unwrap with the old master, wrap with the new one; sealed secrets stay as they are.
        let rewrapped = try Vault.wrap(try Vault.unwrap(wrapped, for: self.shopA, master: old), for: self.shopA, master: new)
        let opened = try Vault.unwrap(rewrapped, for: self.shopA, master: new)
        #expect(try Vault.open(sealed, merchant: self.shopA, field: .shopifyToken, dataKey: opened) == "shpat_token")
        #expect(throws: VaultError.openFailed) { try Vault.unwrap(rewrapped, for: self.shopA, master: old) }
        // A wrapped key copied to another merchant does not unwrap.
        #expect(throws: VaultError.openFailed) { try Vault.unwrap(rewrapped, for: self.shopB, master: new) }
        var state = MerchantState(id: self.shopA, dataKey: wrapped, createdAt: Timestamp(milliseconds: 0))
        #expect(Vault.merchantsNotOpening([self.shopA: state], master: new) == [self.shopA])
        state.apply(.dataKeyRewrapped(dataKey: rewrapped))
        #expect(Vault.merchantsNotOpening([self.shopA: state], master: new).isEmpty)
        #expect(Vault.merchantsNotOpening([self.shopA: state], master: old) == [self.shopA])
    }
}
