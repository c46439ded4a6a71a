/// An amount of money in integer minor units of an upper-case ISO-4217 currency.
///
/// Money never passes through floating point: conversion to the decimal strings Shopify uses and the decimal
/// numbers Whop uses happens only at those edges, through `Currency.decimalString` and `Currency.parseDecimal`.
package struct Money: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Amount in minor units (cents for USD, yen for JPY).
    package var amount: Int64
    /// Upper-case ISO-4217 code.
    package var currency: String

    /// Creates an amount; `currency` is upper-cased.
    package init(amount: Int64, currency: String) {
        self.amount = amount
        self.currency = currency.uppercased()
    }

    package var description: String { "\(Currency.decimalString(minor: self.amount, currency: self.currency)) \(self.currency)" }
}

/// Currency facts and exact decimal conversion.
package enum Currency {
    private static let zeroDecimal: Set<String> = [
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
        "XPF",
    ]
    private static let threeDecimal: Set<String> = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]

    /// Number of decimal digits of the currency's minor unit (ISO-4217): 0 for JPY, 3 for KWD, else 2.
    package static func exponent(_ currency: String) -> Int {
        let code = currency.uppercased()
        if Self.zeroDecimal.contains(code) { return 0 }
        if Self.threeDecimal.contains(code) { return 3 }
        return 2
    }

    /// Whether `code` looks like an ISO-4217 code (three ASCII letters).
    package static func isValidCode(_ code: String) -> Bool {
        code.utf8.count == 3 && code.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }
    }

    /// Formats minor units as a decimal string with exactly the currency's digits: 39800 USD → "398.00", 500 JPY → "500".
    package static func decimalString(minor: Int64, currency: String) -> String {
        let digits = Self.exponent(currency)
        let negative = minor < 0
        let magnitude = minor.magnitude
        guard digits > 0 else { return (negative ? "-" : "") + String(magnitude) }
        var scale: UInt64 = 1
        for _ in 0..<digits { scale *= 10 }
        let whole = magnitude / scale
        var fraction = String(magnitude % scale)
        while fraction.count < digits { fraction = "0" + fraction }
        return (negative ? "-" : "") + "\(whole).\(fraction)"
    }

    /// Parses a plain decimal ("398", "398.5", "398.00", "-1.25") into minor units, exactly.
    ///
    /// - Returns: nil for anything that is not a plain decimal, has more significant fraction digits than the
    ///   currency allows (trailing zeros are fine), or overflows.
    package static func parseDecimal(_ text: String, currency: String) -> Int64? {
        let digits = Self.exponent(currency)
        var bytes = Substring(text.trimmingSpaces).utf8[...]
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes = bytes.dropFirst()
        } else if bytes.first == UInt8(ascii: "+") {
            bytes = bytes.dropFirst()
        }
        let parts = bytes.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        guard let wholePart = parts.first, !wholePart.isEmpty || parts.count == 2 else { return nil }
        var fractionPart = parts.count == 2 ? Array(parts[1]) : []
        guard parts.count == 1 || !fractionPart.isEmpty || !wholePart.isEmpty else { return nil }
        while fractionPart.count > digits, fractionPart.last == UInt8(ascii: "0") { fractionPart.removeLast() }
        guard fractionPart.count <= digits else { return nil }
        while fractionPart.count < digits { fractionPart.append(UInt8(ascii: "0")) }
        // The magnitude, up to 2^63 for a negative value (so Int64.min, which `decimalString` writes, parses back).
        let limit: UInt64 = negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)
        var magnitude: UInt64 = 0
        for byte in Array(wholePart) + fractionPart {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2, sum <= limit else { return nil }
            magnitude = sum
        }
        return negative ? Int64(truncatingIfNeeded: 0 &- magnitude) : Int64(magnitude)
    }

    /// Hygge's platform fee: 0.5% of a payment, rounded half up to the minor unit, in integer arithmetic:
    /// `(amount * 5 + 500) / 1000`. Fees are never negative.
    package static func platformFee(_ amount: Int64) -> Int64 {
        guard amount > 0 else { return 0 }
        // `(amount * 5 + 500) / 1000` without the intermediate product, which overflows for amounts past Int64.max / 5:
        // with amount = 1000q + r, that is 5q + (5r + 500) / 1000.
        return amount / 1000 * 5 + (amount % 1000 * 5 + 500) / 1000
    }
}

extension String {
    var trimmingSpaces: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}

extension Int64 {
    /// `self + other`, clamped to `Int64.min...Int64.max` instead of trapping on overflow.
    package func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = self.addingReportingOverflow(other)
        guard overflow else { return sum }
        return other < 0 ? .min : .max
    }

    /// `self - other`, clamped to `Int64.min...Int64.max` instead of trapping on overflow.
    package func saturatingSubtract(_ other: Int64) -> Int64 {
        let (difference, overflow) = self.subtractingReportingOverflow(other)
        guard overflow else { return difference }
        return other < 0 ? .max : .min
    }
}

extension Int {
    /// `self + other`, clamped instead of trapping on overflow.
    package func saturatingAdd(_ other: Int) -> Int {
        let (sum, overflow) = self.addingReportingOverflow(other)
        guard overflow else { return sum }
        return other < 0 ? .min : .max
    }
}
