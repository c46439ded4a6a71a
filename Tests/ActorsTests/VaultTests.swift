import Actors
import Crypto
import Foundation
import Testing

@Suite("Secrets sealed at rest")
struct VaultTests {
    let alice = MerchantID("alice.myshopify.com")
    let bob = MerchantID("bob.myshopify.com")

    @Test("a sealed secret opens only for its own merchant and field")
    func associatedData() throws {
        let key = Vault.newDataKey()
        let sealed = try Vault.seal("apik_secret_value", merchant: self.alice, field: .whopAPIKey, dataKey: key)
        #expect(try Vault.open(sealed, merchant: self.alice, field: .whopAPIKey, dataKey: key) == "apik_secret_value")
        #expect(throws: VaultError.openFailed) {
            try Vault.open(sealed, merchant: self.bob, field: .whopAPIKey, dataKey: key)
        }
        #expect(throws: VaultError.openFailed) {
            try Vault.open(sealed, merchant: self.alice, field: .whopWebhookSecret, dataKey: key)
        }
        #expect(throws: VaultError.openFailed) {
            try Vault.open(sealed, merchant: self.alice, field: .whopAPIKey, dataKey: Vault.newDataKey())
        }
    }

    @Test("sealing is randomised and never contains the plaintext")
    func noPlaintext() throws {
        let key = Vault.newDataKey()
        let a = try Vault.seal("ws_plaintext_secret", merchant: self.alice, field: .whopWebhookSecret, dataKey: key)
        let b = try Vault.seal("ws_plaintext_secret", merchant: self.alice, field: .whopWebhookSecret, dataKey: key)
        #expect(a != b)
        #expect(!Data(a.combined).contains(Data("plaintext".utf8)))
        #expect(a.description == "sealed(\(a.combined.count) bytes)")
        let json = String(decoding: try JSONEncoder().encode(a), as: UTF8.self)
        #expect(!json.contains("plaintext"))
    }

    @Test("a flipped bit fails to open")
    func tamper() throws {
        let key = Vault.newDataKey()
        var sealed = try Vault.seal("shpat_token", merchant: self.alice, field: .shopifyToken, dataKey: key)
        sealed.combined[sealed.combined.count / 2] ^= 0x01
        #expect(throws: VaultError.openFailed) {
            try Vault.open(sealed, merchant: self.alice, field: .shopifyToken, dataKey: key)
        }
    }

    @Test("data keys are wrapped per merchant by the master key")
    func wrapping() throws {
        let master = MasterKey.generate()
        let dataKey = Vault.newDataKey()
        let wrapped = try Vault.wrap(dataKey, for: self.alice, master: master)
        let unwrapped = try Vault.unwrap(wrapped, for: self.alice, master: master)
        #expect(unwrapped == dataKey)
        #expect(throws: VaultError.openFailed) { try Vault.unwrap(wrapped, for: self.bob, master: master) }
        #expect(throws: VaultError.openFailed) { try Vault.unwrap(wrapped, for: self.alice, master: .generate()) }
        // A re-wrap under a new master opens with it, and the old master no longer opens the new wrapping.
        let newMaster = MasterKey.generate()
        let rewrapped = try Vault.wrap(unwrapped, for: self.alice, master: newMaster)
        #expect(try Vault.unwrap(rewrapped, for: self.alice, master: newMaster) == dataKey)
        #expect(throws: VaultError.openFailed) { try Vault.unwrap(rewrapped, for: self.alice, master: master) }
    }

    @Test("master keys are base64 of exactly 32 bytes")
    func masterKeyParsing() throws {
        let key = MasterKey.generate()
        #expect(try MasterKey(base64: key.base64 + "\n").base64 == key.base64)
        #expect(throws: VaultError.badMasterKey) { try MasterKey(base64: Data(count: 16).base64EncodedString()) }
        #expect(throws: VaultError.badMasterKey) { try MasterKey(base64: "not base64!") }
    }

    @Test("only the last four characters are ever shown")
    func fingerprint() {
        #expect(Vault.fingerprint("apik_abcdefgh1234") == "…1234")
    }
}
