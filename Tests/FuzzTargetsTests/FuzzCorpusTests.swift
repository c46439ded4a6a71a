import Foundation
import FuzzTargets
import Testing

/// The fuzz targets in `swift test`: each target's seeds, the regression inputs checked in under
/// `Fuzz/corpus/<target>/` (inputs libFuzzer once crashed on, kept so the fix stays fixed), and a few hundred
/// seeded mutations of the seeds (truncations, bit flips, inserted and deleted bytes). `scripts/fuzz.sh` runs the
/// same targets under libFuzzer for much longer.
@Suite("fuzz targets")
struct FuzzCorpusTests {
    static var corpusRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/corpus")
    }

    static let names = FuzzTargets.all.map(\.name)

    static func regressionInputs(_ name: String) -> [(String, [UInt8])] {
        let directory = Self.corpusRoot.appendingPathComponent(name)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.sorted().compactMap { file in
            FileManager.default.contents(atPath: directory.appendingPathComponent(file).path).map { (file, Array($0)) }
        }
    }

    @Test("every corpus folder names a target")
    func corpusFolders() throws {
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: Self.corpusRoot.path)) ?? []
        for folder in folders where !folder.hasPrefix(".") {
            #expect(Self.names.contains(folder), "Fuzz/corpus/\(folder) is not a fuzz target")
        }
        #expect(Set(Self.names).count == Self.names.count, "target names repeat")
    }

    @Test("seeds and regression inputs", arguments: Self.names)
    func replay(_ name: String) throws {
        let target = try #require(FuzzTargets.named(name))
        let seeds = target.seeds()
        #expect(!seeds.isEmpty, "\(name) has no seeds")
        for (index, seed) in seeds.enumerated() {
            do { try target.run(seed) } catch { Issue.record("\(name) seed \(index): \(error)") }
        }
        for (file, input) in Self.regressionInputs(name) {
            do { try target.run(input) } catch { Issue.record("\(name) \(file): \(error)") }
        }
    }

    @Test("seeded mutations of the seeds", arguments: Self.names)
    func mutations(_ name: String) throws {
        let target = try #require(FuzzTargets.named(name))
        let seeds = target.seeds()
        var generator = SplitMix64(seed: 0x4879_6767_6546_757A)
        for round in 0..<300 {
            var input = seeds[round % seeds.count]
            for _ in 0...Int(generator.next() % 4) { Self.mutate(&input, &generator) }
            do { try target.run(input) } catch { Issue.record("\(name) mutation \(round): \(error)") }
        }
    }

    static func mutate(_ input: inout [UInt8], _ generator: inout SplitMix64) {
        let position = input.isEmpty ? 0 : Int(generator.next() % UInt64(input.count))
        switch generator.next() % 5 {
        case 0 where !input.isEmpty: input[position] ^= UInt8(1 << (generator.next() % 8))
        case 1: input.removeLast(Int(generator.next() % UInt64(input.count + 1)))
        case 2: input.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
        case 3 where !input.isEmpty: input.remove(at: position)
        default:
            let interesting: [UInt8] = Array("-9223372036854775808".utf8) + [0, 0xFF, 0x22, 0x7B, 0x7D]
            input.insert(interesting[Int(generator.next() % UInt64(interesting.count))], at: position)
        }
    }
}

/// A small deterministic generator, so a failing mutation reproduces.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
