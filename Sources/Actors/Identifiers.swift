/// A merchant, keyed by its myshopify domain (`s.myshopify.com`).
package struct MerchantID: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// The lower-case myshopify domain.
    package let rawValue: String

    /// Wraps a shop domain as given; callers validate it with `isValidShopDomain` first where it is user input.
    package init(_ rawValue: String) { self.rawValue = rawValue }

    package init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.rawValue)
    }

    package var description: String { self.rawValue }

    package static func < (lhs: MerchantID, rhs: MerchantID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `^[a-z0-9][a-z0-9-]*\.myshopify\.com$`, at most 255 characters.
    package static func isValidShopDomain(_ shop: String) -> Bool {
        let suffix = ".myshopify.com"
        guard shop.utf8.count <= 255, shop.hasSuffix(suffix) else { return false }
        let name = shop.utf8.dropLast(suffix.utf8.count)
        guard let first = name.first, Self.isLowerAlnum(first) else { return false }
        return name.allSatisfy { Self.isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
}

/// A Hygge checkout id, `chk_` followed by 24 lower-case hex characters.
package struct CheckoutID: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// The full id including its `chk_` prefix.
    package let rawValue: String

    /// Wraps an id as given.
    package init(_ rawValue: String) { self.rawValue = rawValue }

    package init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.rawValue)
    }

    package var description: String { self.rawValue }

    package static func < (lhs: CheckoutID, rhs: CheckoutID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// A fresh random id.
    package static func random<G: RandomNumberGenerator>(using generator: inout G) -> CheckoutID {
        CheckoutID("chk_" + RandomToken.hex(bytes: 12, using: &generator))
    }

    /// A fresh id from the system's secure generator.
    package static func random() -> CheckoutID {
        var generator = SystemRandomNumberGenerator()
        return Self.random(using: &generator)
    }
}

/// Random hex tokens for ids.
package enum RandomToken {
    /// `bytes` random bytes as lower-case hex.
    package static func hex<G: RandomNumberGenerator>(bytes: Int, using generator: inout G) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes * 2)
        for _ in 0..<bytes {
            let byte = UInt8.random(in: 0...255, using: &generator)
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `bytes` random bytes as lower-case hex from the system's secure generator.
    package static func hex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return Self.hex(bytes: bytes, using: &generator)
    }
}
