import Foundation

/// One fuzz target: a function that must answer every input without crashing, plus the properties it checks.
///
/// The same targets run under libFuzzer (`scripts/fuzz.sh`, the `hygge-fuzz` product built with
/// `-sanitize=fuzzer`) and in `swift test`, which replays their seeds and the checked-in regression inputs of
/// `Fuzz/corpus/<name>/`. A crash (a trap in Swift, e.g. an arithmetic overflow or an index out of range) is a
/// finding; so is a thrown `FuzzViolation`, which means a property of the parser did not hold.
package struct FuzzTarget: Sendable {
    /// The name used by `hygge-fuzz <name>` and the corpus folder.
    package var name: String
    /// What it feeds and to which production code.
    package var summary: String
    /// Runs one input.
    package var run: @Sendable ([UInt8]) throws(FuzzViolation) -> Void
    /// Valid inputs built with the production encoders, so mutations start from something the parser accepts.
    package var seeds: @Sendable () -> [[UInt8]]
}

/// A property of a parser that did not hold for an input.
package struct FuzzViolation: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// Every fuzz target.
package enum FuzzTargets {
    package static let all: [FuzzTarget] = WebTargets.all + StorageTargets.all

    /// The target called `name`.
    package static func named(_ name: String) -> FuzzTarget? { Self.all.first { $0.name == name } }
}

/// Throws a violation unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(FuzzViolation) {
    if !condition { throw FuzzViolation(message()) }
}

extension Array where Element == UInt8 {
    /// Splits at `separator` into at most `parts` pieces (the last keeps any further separators).
    func fuzzParts(_ parts: Int, separator: UInt8 = 0x0A) -> [[UInt8]] {
        self.split(separator: separator, maxSplits: parts - 1, omittingEmptySubsequences: false).map(Array.init)
    }

    /// Journal record payloads (or a snapshot body and payloads): newline-separated (format 1 JSON has no raw
    /// newline), or, after a leading `0x00`, each a u16 little-endian length and that many bytes (binary payloads
    /// contain any byte); a length past the end takes the rest. At most `parts` pieces.
    func fuzzRecords(_ parts: Int) -> [[UInt8]] {
        guard self.first == 0 else { return self.fuzzParts(parts) }
        var records: [[UInt8]] = []
        var offset = 1
        while offset < self.count, records.count < parts {
            guard self.count - offset >= 2 else {
                records.append(Array(self[offset...]))
                break
            }
            let length = Int(self[offset]) | Int(self[offset + 1]) << 8
            let start = offset + 2
            let end = Swift.min(self.count, start + length)
            records.append(Array(self[start..<end]))
            offset = end
        }
        return records
    }

    /// The length-prefixed form `fuzzRecords` reads (`0x00`, then u16 LE length + bytes per record).
    static func fuzzFramed(_ records: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = [0]
        for record in records {
            let length = Swift.min(record.count, Int(UInt16.max))
            bytes += [UInt8(length & 0xFF), UInt8(length >> 8)] + record.prefix(length)
        }
        return bytes
    }

    var fuzzText: String { String(decoding: self, as: UTF8.self) }
}

/// base64url without padding, as JWTs and Hygge's tokens use it.
func base64url(_ bytes: some Sequence<UInt8>) -> String {
    Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}
