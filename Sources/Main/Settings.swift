import Foundation

/// Reads a setting: the flag wins, then the environment variable, then the default.
enum Setting {
    static func string(_ flag: String?, _ variable: String, _ fallback: String? = nil) -> String? {
        if let flag { return flag }
        if let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty { return value }
        return fallback
    }

    /// Parses `500ms`, `60s`, `5m`, `1h` (a bare number is seconds).
    static func duration(_ text: String) -> Duration? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            if suffix == "s", number.hasSuffix("m") { continue }
            guard let value = Int64(number), value >= 0 else { return nil }
            let (milliseconds, overflow) = value.multipliedReportingOverflow(by: factor)
            return overflow ? nil : .milliseconds(milliseconds)
        }
        guard let seconds = Int64(text), seconds >= 0 else { return nil }
        let (milliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        return overflow ? nil : .milliseconds(milliseconds)
    }
}

struct ConfigurationError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
