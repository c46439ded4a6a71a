import Actors
import Testing

/// The start-up check that the master key opens every merchant's data key (after `hygge keys rotate-master`).
struct VaultCheckTests {
    @Test func onlyTheCurrentMasterKeyOpensTheDataKeys() throws {
        let shop = MerchantID("vault-check.myshopify.com")
        let old = MasterKey.generate()
        let new = MasterKey.generate()
        let dataKey = Vault.newDataKey()
        var state = MerchantState(id: shop, dataKey: try Vault.wrap(dataKey, for: shop, master: old), createdAt: Timestamp(milliseconds: 0))
        #expect(Vault.merchantsNotOpening([shop: state], master: old).isEmpty)
        #expect(Vault.merchantsNotOpening([shop: state], master: new) == [shop])
        state.apply(.dataKeyRewrapped(dataKey: try Vault.wrap(dataKey, for: shop, master: new)))
        #expect(Vault.merchantsNotOpening([shop: state], master: new).isEmpty)
        #expect(Vault.merchantsNotOpening([shop: state], master: old) == [shop])
    }
}
