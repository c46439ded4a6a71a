import Crypto
package import Foundation

/// Standard Webhooks (as Whop signs): `v1,<base64 HMAC-SHA256(secret, id + "." + timestamp + "." + body)>`.
///
/// The key is the secret's UTF-8 bytes as pasted (including any `ws_` prefix). Signatures are compared in constant
/// time; timestamps outside the tolerance are stale.
package enum StandardWebhooks {
    /// Accepted clock skew either way.
    package static let tolerance: Int64 = 300
    /// Signature header values longer than this are refused before any work.
    package static let headerBytesMax = 4096

    /// Why a delivery was refused (the `reason` label of `hygge_webhook_rejections_total`).
    package enum Rejection: String, Error, Sendable, CaseIterable {
        case missingHeaders = "missing_headers"
        case staleTimestamp = "stale_timestamp"
        case badSignature = "bad_signature"
    }

    /// The signature `v1,…` for a message.
    package static func sign(secret: String, id: String, timestamp: String, body: some DataProtocol) -> String {
        "v1," + Data(Self.mac(secret: secret, id: id, timestamp: timestamp, body: body)).base64EncodedString()
    }

    private static func mac(secret: String, id: String, timestamp: String, body: some DataProtocol) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: Array(secret.utf8)))
        hmac.update(data: Array("\(id).\(timestamp).".utf8))
        hmac.update(data: body)
        return Array(hmac.finalize())
    }

    /// Verifies a delivery.
    ///
    /// - Parameters:
    ///   - signatures: the `webhook-signature` header: space-separated entries; any one valid `v1,` entry is enough.
    ///   - now: current Unix time in seconds.
    /// - Throws: `Rejection`.
    package static func verify(
        secret: String, id: String?, timestamp: String?, signatures: String?, body: some DataProtocol, now: Int64
    ) throws(Rejection) {
        guard let id, let timestamp, let signatures, !id.isEmpty, id.utf8.count <= 256,
            signatures.utf8.count <= Self.headerBytesMax
        else { throw .missingHeaders }
        guard let seconds = Int64(timestamp), Self.isWithin(seconds, of: now, tolerance: Self.tolerance) else {
            throw .staleTimestamp
        }
        let expected = Self.mac(secret: secret, id: id, timestamp: timestamp, body: body)
        var valid = false
        for entry in Self.entries(signatures) {
            guard entry.hasPrefix("v1,"), let given = Data(base64Encoded: String(entry.dropFirst(3))) else { continue }
            if Self.constantTimeEquals(Array(given), expected) { valid = true }
        }
        guard valid else { throw .badSignature }
    }

    /// The space-delimited entries of a `webhook-signature` header, split at the bytes of U+0020. Not at the
    /// `Character` " ": a Unicode "prepend" mark (such as U+0604) before a space joins it into one grapheme cluster,
    /// so a junk entry ending in one swallowed the genuine entry after it (found by fuzzing).
    package static func entries(_ signatures: String) -> [Substring] {
        signatures.utf8.split(separator: UInt8(ascii: " ")).map { Substring($0) }
    }

    /// Whether `seconds` lies within `tolerance` of `now`, for any `Int64` (a hostile `-9223372036854775808` must not
    /// overflow the subtraction).
    package static func isWithin(_ seconds: Int64, of now: Int64, tolerance: Int64) -> Bool {
        let (difference, overflow) = now.subtractingReportingOverflow(seconds)
        return !overflow && difference.magnitude <= tolerance.magnitude
    }

    /// Compares two byte strings in time that depends only on their lengths: every byte of both is read exactly
    /// once and folded into one accumulator, with no branch on the data (only on the lengths, which are public — a
    /// MAC's length is fixed by its algorithm). `SecurityTests` checks that every byte is read wherever the first
    /// difference is.
    package static func constantTimeEquals<A: RandomAccessCollection<UInt8>, B: RandomAccessCollection<UInt8>>(
        _ a: A, _ b: B
    ) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
