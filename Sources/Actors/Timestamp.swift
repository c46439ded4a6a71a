/// A point in time in whole milliseconds since the Unix epoch (UTC).
///
/// Domain code never reads the clock: time arrives inside commands as a `Timestamp`, so applying events is
/// deterministic and replay gives the same state.
package struct Timestamp: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    package var milliseconds: Int64

    /// Wraps milliseconds since the epoch.
    package init(milliseconds: Int64) { self.milliseconds = milliseconds }

    package init(from decoder: any Decoder) throws {
        self.milliseconds = try decoder.singleValueContainer().decode(Int64.self)
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.milliseconds)
    }

    package static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }

    /// Whole seconds since the epoch (floor).
    package var seconds: Int64 { self.milliseconds >= 0 ? self.milliseconds / 1000 : (self.milliseconds + 1) / 1000 - 1 }

    /// This instant moved by `duration`, saturating at the ends of the range (a timestamp read back from a damaged
    /// journal may be anything; arithmetic on it must not trap).
    package func adding(_ duration: Duration) -> Timestamp {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow1) = seconds.multipliedReportingOverflow(by: 1000)
        let delta = overflow1 ? (seconds < 0 ? Int64.min : Int64.max) : scaled.saturatingAdd(attoseconds / 1_000_000_000_000_000)
        return Timestamp(milliseconds: self.milliseconds.saturatingAdd(delta))
    }

    /// ISO-8601 in UTC with second precision, e.g. `2026-12-02T18:39:42Z`.
    package var iso8601: String {
        let civil = Self.civil(fromDays: Self.floorDiv(self.seconds, 86_400))
        let secondOfDay = self.seconds - Self.floorDiv(self.seconds, 86_400) * 86_400
        return "\(Self.pad(civil.year, 4))-\(Self.pad(civil.month, 2))-\(Self.pad(civil.day, 2))T"
            + "\(Self.pad(secondOfDay / 3600, 2)):\(Self.pad(secondOfDay / 60 % 60, 2)):\(Self.pad(secondOfDay % 60, 2))Z"
    }

    /// The UTC calendar month, `YYYY-MM`.
    package var month: String {
        let civil = Self.civil(fromDays: Self.floorDiv(self.seconds, 86_400))
        return "\(Self.pad(civil.year, 4))-\(Self.pad(civil.month, 2))"
    }

    package var description: String { self.iso8601 }

    /// Whether `text` is a `YYYY-MM` month with a month from 01 to 12.
    package static func isValidMonth(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 7, bytes[4] == UInt8(ascii: "-") else { return false }
        let digits = bytes[0..<4] + bytes[5..<7]
        guard digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return false }
        let month = Int(bytes[5] - 48) * 10 + Int(bytes[6] - 48)
        return (1...12).contains(month)
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : (a - b + 1) / b }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        var text = String(value)
        while text.count < width { text = "0" + text }
        return text
    }

    /// Howard Hinnant's days-from-civil inverse.
    private static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
