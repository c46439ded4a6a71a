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

    var fuzzText: String { String(decoding: self, as: UTF8.self) }
}

/// base64url without padding, as JWTs and Hygge's tokens use it.
func base64url(_ bytes: some Sequence<UInt8>) -> String {
    Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}
