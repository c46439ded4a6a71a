package import Crypto
import Foundation

/// Which secret a sealed value holds; part of the associated data, so a value sealed for one field never opens
/// as another.
package enum SecretField: String, Sendable, Codable, CaseIterable {
    case shopifyToken = "shopify_access_token"
    case whopAPIKey = "whop_api_key"
    case whopWebhookSecret = "whop_webhook_secret"
}

/// An AES-256-GCM sealed box (nonce ‖ ciphertext ‖ tag), base64 in JSON. Never holds plaintext.
package struct SealedValue: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The combined sealed box.
    package var combined: [UInt8]

    /// Wraps a combined AES-GCM box.
    package init(combined: [UInt8]) { self.combined = combined }

    package init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let data = Data(base64Encoded: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad base64"))
        }
        self.combined = Array(data)
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Data(self.combined).base64EncodedString())
    }

    package var description: String { "sealed(\(self.combined.count) bytes)" }
}

/// Errors of the vault; never shown to clients.
package enum VaultError: Error, Equatable {
    case badMasterKey
    case openFailed
}

/// The master key (`HYGGE_MASTER_KEY`): wraps each merchant's data key. Held only in memory.
package struct MasterKey: Sendable {
    let key: SymmetricKey

    /// Parses base64 of exactly 32 bytes.
    package init(base64: String) throws {
        guard let data = Data(base64Encoded: base64.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32
        else { throw VaultError.badMasterKey }
        self.key = SymmetricKey(data: data)
    }

    /// A fresh random master key.
    package static func generate() -> MasterKey { MasterKey(key: SymmetricKey(size: .bits256)) }

    private init(key: SymmetricKey) { self.key = key }

    /// Whether both are the same key (constant-time comparison).
    package func matches(_ other: MasterKey) -> Bool { self.key == other.key }

    /// Base64 of the key bytes (only for writing the sandbox's generated key file).
    package var base64: String { self.key.withUnsafeBytes { Data($0).base64EncodedString() } }
}

/// Envelope encryption: a per-merchant 256-bit AES-GCM data key wrapped by the master key; every secret sealed with
/// associated data `hygge:v1:<merchant id>:<field>`.
package enum Vault {
    /// A fresh data key.
    package static func newDataKey() -> SymmetricKey { SymmetricKey(size: .bits256) }

    /// Wraps a data key under the master key, bound to the merchant.
    package static func wrap(_ dataKey: SymmetricKey, for merchant: MerchantID, master: MasterKey) throws -> SealedValue {
        let raw = dataKey.withUnsafeBytes { Array($0) }
        let box = try AES.GCM.seal(raw, using: master.key, authenticating: Array("hygge:v1:\(merchant):data_key".utf8))
        guard let combined = box.combined else { throw VaultError.openFailed }
        return SealedValue(combined: Array(combined))
    }

    /// Unwraps a data key; fails for another master key or merchant.
    package static func unwrap(_ wrapped: SealedValue, for merchant: MerchantID, master: MasterKey) throws -> SymmetricKey {
        do {
            let box = try AES.GCM.SealedBox(combined: wrapped.combined)
            let raw = try AES.GCM.open(box, using: master.key, authenticating: Array("hygge:v1:\(merchant):data_key".utf8))
            return SymmetricKey(data: raw)
        } catch {
            throw VaultError.openFailed
        }
    }

    /// Seals a secret for one merchant and field.
    package static func seal(_ plaintext: String, merchant: MerchantID, field: SecretField, dataKey: SymmetricKey) throws
        -> SealedValue
    {
        let box = try AES.GCM.seal(Array(plaintext.utf8), using: dataKey, authenticating: Self.aad(merchant, field))
        guard let combined = box.combined else { throw VaultError.openFailed }
        return SealedValue(combined: Array(combined))
    }

    /// Opens a sealed secret; fails if it was sealed for another merchant, field or key.
    package static func open(_ sealed: SealedValue, merchant: MerchantID, field: SecretField, dataKey: SymmetricKey) throws
        -> String
    {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.combined)
            let raw = try AES.GCM.open(box, using: dataKey, authenticating: Self.aad(merchant, field))
            return String(decoding: raw, as: UTF8.self)
        } catch {
            throw VaultError.openFailed
        }
    }

    /// A non-secret fingerprint for display: the last four characters, e.g. `…demo`.
    package static func fingerprint(_ secret: String) -> String {
        "…" + String(secret.suffix(4))
    }

    private static func aad(_ merchant: MerchantID, _ field: SecretField) -> [UInt8] {
        Array("hygge:v1:\(merchant):\(field.rawValue)".utf8)
    }
}
