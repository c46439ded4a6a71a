import Foundation
import Logging
import Persistence
import Testing

struct SnapshotStoreTests {
    /// A ~5 MB body that compresses somewhat (random bytes mixed with repeated text).
    private func largeBody() -> [UInt8] {
        var generator = SplitMix64(seed: 5)
        var body: [UInt8] = []
        body.reserveCapacity(5_000_000)
        while body.count < 5_000_000 {
            body.append(contentsOf: generator.bytes(200))
            body.append(contentsOf: Array("payment-intent:acct_000123;status=captured;".utf8))
        }
        return body
    }

    /// Builds a snapshot file by hand: header (with a correct CRC) + `body` as the "zlib" bytes.
    private func handMadeSnapshot(lsn: UInt64, body: [UInt8], magic: String = "HYGS", version: UInt32 = 1) -> [UInt8] {
        Array(magic.utf8) + littleEndian(version) + littleEndian(lsn) + littleEndian(UInt64(body.count))
            + littleEndian(CRC32C.checksum(body)) + body
    }

    @Test func roundTrip() async throws {
        try await withTemporaryDirectory { directory in
            for body in [[], [42], Array("hello hygge".utf8), self.largeBody()] {
                let info = try SnapshotStore.write(directory: directory.path, lsn: UInt64(body.count) + 1, body: body, keep: 10)
                #expect(info.path == directory.path + "/snapshot-\(padded(UInt64(body.count) + 1)).hyg")
                #expect(info.bytes == (try fileSize(info.path)))
                let file = try readBytes(info.path)
                #expect(Array(file[0..<4]) == Array("HYGS".utf8))
                #expect(readUInt32(file, at: 4) == 1)
                #expect(readUInt64(file, at: 8) == info.lsn)
                #expect(readUInt64(file, at: 16) == UInt64(file.count - 28))
                #expect(readUInt32(file, at: 24) == CRC32C.checksum(file[28...]))
                #expect(file[28] == 0x78, "a zlib (RFC 1950) stream starts with CMF 0x78")
                let (lsn, decoded) = try SnapshotStore.read(path: info.path)
                #expect(lsn == info.lsn)
                #expect(decoded == body)
            }
            let big = try #require(try SnapshotStore.list(directory: directory.path).first)
            #expect(big.bytes < 5_000_000, "the body is compressed")
        }
    }

    /// Version 2: a chunk table and one zlib stream per part; `read(path:)` joins the parts, `read(path:part:)` hands
    /// each part over separately.
    @Test func chunkedRoundTrip() async throws {
        try await withTemporaryDirectory { directory in
            let big = self.largeBody()
            let parts: [[UInt8]] = [Array(big.prefix(2_000_000)), [], Array("middle".utf8), Array(big.suffix(1_500_000))]
            let info = try SnapshotStore.write(directory: directory.path, lsn: 77, parts: parts)
            let file = try readBytes(info.path)
            #expect(Array(file[0..<4]) == Array("HYGS".utf8))
            #expect(readUInt32(file, at: 4) == 2)
            #expect(readUInt64(file, at: 8) == 77)
            #expect(readUInt64(file, at: 16) == UInt64(file.count - 28))
            #expect(readUInt32(file, at: 28) == 4, "chunk count")
            #expect(readUInt32(file, at: 24) == CRC32C.checksum(file[28..<(28 + 4 + 4 * 20)]), "the header CRC covers the table")
            var offset = 28 + 4 + 4 * 20
            for (index, part) in parts.enumerated() {
                let entry = 28 + 4 + index * 20
                let length = Int(readUInt64(file, at: entry))
                #expect(readUInt64(file, at: entry + 8) == UInt64(part.count))
                #expect(readUInt32(file, at: entry + 16) == CRC32C.checksum(file[offset..<(offset + length)]))
                #expect(file[offset] == 0x78, "each chunk is a zlib stream")
                offset += length
            }
            #expect(offset == file.count)
            let (lsn, body) = try SnapshotStore.read(path: info.path)
            #expect(lsn == 77)
            #expect(body == parts.joined().map { $0 })
            var timings = SnapshotReadTimings()
            let (_, read) = try SnapshotStore.read(path: info.path, timings: &timings) { index, bytes in (index, Array(bytes)) }
            #expect(read.map(\.0) == [0, 1, 2, 3])
            #expect(read.map(\.1) == parts)
            #expect(timings.parts == 4 && timings.inflatedBytes == body.count)
            // A version-1 file is one part.
            let single = try SnapshotStore.write(directory: directory.path, lsn: 78, body: Array("one".utf8))
            let (_, one) = try SnapshotStore.read(path: single.path, timings: &timings) { _, bytes in Array(bytes) }
            #expect(one == [Array("one".utf8)])
            #expect(timings.parts == 1)
        }
    }

    /// One damaged chunk fails the file (naming the chunk), the other parts are not handed over after it, and
    /// `loadNewestValid` falls back to the older (version-1) snapshot.
    @Test func aDamagedChunkIsDetectedAndFallsBackToAnOlderVersion1File() async throws {
        try await withTemporaryDirectory { directory in
            _ = try SnapshotStore.write(directory: directory.path, lsn: 10, body: Array("older, version 1".utf8))
            let parts = (0..<6).map { Array("part \($0) ".utf8) + self.largeBody().prefix(300_000) }
            let newest = try SnapshotStore.write(directory: directory.path, lsn: 20, parts: parts)
            let pristine = try readBytes(newest.path)
            let second = 28 + 4 + 6 * 20 + Int(readUInt64(pristine, at: 28 + 4))
            var damaged = pristine
            damaged[second + 100] ^= 0x20
            try writeBytes(damaged, to: newest.path)
            #expect(throws: SnapshotError.checksumMismatch(newest.path + ": chunk 1 of 6")) {
                try SnapshotStore.read(path: newest.path)
            }
            var timings = SnapshotReadTimings()
            let fallback = try #require(
                try SnapshotStore.loadNewestValid(directory: directory.path, logger: quietLogger, timings: &timings) { _, bytes in
                    Array(bytes)
                })
            #expect(fallback.info.lsn == 10)
            #expect(fallback.parts == [Array("older, version 1".utf8)])
            // A damaged table (its CRC is in the header) is caught before any chunk.
            var table = pristine
            table[28 + 4 + 8] ^= 0x01
            try writeBytes(table, to: newest.path)
            #expect(throws: SnapshotError.checksumMismatch(newest.path)) { try SnapshotStore.read(path: newest.path) }
            // A table that lies about a part's size (checksums recomputed) is refused.
            var lying = pristine
            lying.replaceSubrange((28 + 4 + 8)..<(28 + 4 + 16), with: littleEndian(UInt64(parts[0].count + 1)))
            lying.replaceSubrange(24..<28, with: littleEndian(CRC32C.checksum(lying[28..<(28 + 4 + 6 * 20)])))
            try writeBytes(lying, to: newest.path)
            #expect(throws: SnapshotError.self) { try SnapshotStore.read(path: newest.path) }
            // An error thrown by the part decoder of an intact file is the caller's, not a reason to fall back.
            try writeBytes(pristine, to: newest.path)
            struct Refused: Error {}
            #expect(throws: Refused.self) {
                try SnapshotStore.loadNewestValid(directory: directory.path, logger: quietLogger, timings: &timings) {
                    index, _ in
                    if index == 3 { throw Refused() }
                    return index
                }
            }
            // Every truncation point of the chunked file fails cleanly.
            for length in stride(from: 0, to: pristine.count, by: 9_973) {
                try writeBytes(Array(pristine.prefix(length)), to: newest.path)
                #expect(throws: SnapshotError.self, "length \(length)") { try SnapshotStore.read(path: newest.path) }
            }
        }
    }

    @Test func listIsNewestFirstAndIgnoresOtherFiles() async throws {
        try await withTemporaryDirectory { directory in
            for lsn: UInt64 in [7, 300, 12] {
                _ = try SnapshotStore.write(directory: directory.path, lsn: lsn, body: [UInt8](repeating: 1, count: Int(lsn)), keep: 5)
            }
            try writeBytes([1, 2, 3], to: directory.path + "/.snapshot-\(padded(400)).tmp")
            try writeBytes([1], to: directory.path + "/snapshot-12.hyg")
            try writeBytes([1], to: directory.path + "/notes.txt")
            let listed = try SnapshotStore.list(directory: directory.path)
            #expect(listed.map(\.lsn) == [300, 12, 7])
            #expect(listed.map(\.path) == [300, 12, 7].map { directory.path + "/snapshot-\(padded($0)).hyg" })
            for info in listed { #expect(info.bytes == (try fileSize(info.path))) }
            #expect(try SnapshotStore.list(directory: directory.path + "/missing").isEmpty)
        }
    }

    @Test func keepsNewestTwoAndRemovesStaleTempFiles() async throws {
        try await withTemporaryDirectory { directory in
            let stale = directory.path + "/.snapshot-\(padded(2)).tmp"
            try writeBytes([9, 9], to: stale)
            for lsn: UInt64 in 1...5 {
                _ = try SnapshotStore.write(directory: directory.path, lsn: lsn * 10, body: Array("state \(lsn)".utf8))
            }
            #expect(try SnapshotStore.list(directory: directory.path).map(\.lsn) == [50, 40])
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            #expect(names == ["snapshot-\(padded(40)).hyg", "snapshot-\(padded(50)).hyg"])
        }
    }

    @Test func loadNewestValidFallsBackWhenNewestIsDamaged() async throws {
        try await withTemporaryDirectory { directory in
            #expect(try SnapshotStore.loadNewestValid(directory: directory.path, logger: quietLogger) == nil)
            _ = try SnapshotStore.write(directory: directory.path, lsn: 10, body: Array("older".utf8))
            let newest = try SnapshotStore.write(directory: directory.path, lsn: 20, body: Array("newer".utf8))
            let good = try #require(try SnapshotStore.loadNewestValid(directory: directory.path, logger: quietLogger))
            #expect(good.info == newest)
            #expect(good.body == Array("newer".utf8))

            var bytes = try readBytes(newest.path)
            bytes[bytes.count - 2] ^= 0x01
            try writeBytes(bytes, to: newest.path)
            #expect(throws: SnapshotError.checksumMismatch(newest.path)) { try SnapshotStore.read(path: newest.path) }

            let capture = LogCapture()
            let fallback = try #require(try SnapshotStore.loadNewestValid(directory: directory.path, logger: capture.logger))
            #expect(fallback.info.lsn == 10)
            #expect(fallback.body == Array("older".utf8))
            #expect(capture.messages(at: .warning).count == 1)

            try writeBytes([0, 1, 2], to: fallback.info.path)
            #expect(try SnapshotStore.loadNewestValid(directory: directory.path, logger: quietLogger) == nil)
        }
    }

    @Test func headerLSNMustMatchNameForLoad() async throws {
        try await withTemporaryDirectory { directory in
            let info = try SnapshotStore.write(directory: directory.path, lsn: 10, body: [1])
            try FileManager.default.moveItem(atPath: info.path, toPath: directory.path + "/snapshot-\(padded(11)).hyg")
            #expect(try SnapshotStore.loadNewestValid(directory: directory.path, logger: quietLogger) == nil)
        }
    }

    @Test func truncatedFilesFailCleanly() async throws {
        try await withTemporaryDirectory { directory in
            let info = try SnapshotStore.write(directory: directory.path, lsn: 3, body: self.largeBody().prefix(100_000).map { $0 })
            let original = try readBytes(info.path)
            for length in [0, 1, 4, 27, 28, 29, original.count / 2, original.count - 1] {
                try writeBytes(Array(original[..<length]), to: info.path)
                #expect(throws: SnapshotError.self, "length \(length)") { try SnapshotStore.read(path: info.path) }
            }
            try writeBytes(Array(original[..<20]), to: info.path)
            #expect(throws: SnapshotError.truncated("\(info.path): 20 bytes is shorter than the 28-byte header")) {
                try SnapshotStore.read(path: info.path)
            }
            try writeBytes(original + [0], to: info.path)
            #expect(throws: SnapshotError.self) { try SnapshotStore.read(path: info.path) }
        }
    }

    @Test func badHeadersFailCleanly() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.path + "/snapshot-\(padded(1)).hyg"
            try writeBytes(self.handMadeSnapshot(lsn: 1, body: [1, 2, 3], magic: "HYGJ"), to: path)
            #expect(throws: SnapshotError.badMagic(path)) { try SnapshotStore.read(path: path) }
            try writeBytes(self.handMadeSnapshot(lsn: 1, body: [1, 2, 3], version: 3), to: path)
            #expect(throws: SnapshotError.unsupportedVersion(3)) { try SnapshotStore.read(path: path) }
            #expect(throws: SnapshotError.self) { try SnapshotStore.read(path: directory.path + "/missing.hyg") }
        }
    }

    @Test func corruptZlibStreamsWithValidChecksumsFailCleanly() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.path + "/snapshot-\(padded(1)).hyg"
            let info = try SnapshotStore.write(directory: directory.path, lsn: 2, body: self.largeBody().prefix(50_000).map { $0 })
            let stream = Array(try readBytes(info.path)[28...])
            var generator = SplitMix64(seed: 77)
            var cases: [[UInt8]] = [
                [], [0x78], [0x78, 0x9C], Array(stream[..<(stream.count / 2)]), Array(stream.dropLast()),
                stream + [0], stream + stream,
            ]
            for _ in 0..<40 { cases.append(generator.bytes(Int.random(in: 1...2000, using: &generator))) }
            for _ in 0..<40 {
                var flipped = stream
                flipped[Int.random(in: 0..<flipped.count, using: &generator)] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
                cases.append(flipped)
            }
            var failures = 0
            for body in cases {
                try writeBytes(self.handMadeSnapshot(lsn: 1, body: body), to: path)
                do {
                    _ = try SnapshotStore.read(path: path)
                } catch let error as SnapshotError {
                    failures += 1
                    if case .decompressionFailed = error {} else { Issue.record("unexpected \(error)") }
                }
            }
            // Everything but (rarely) a flip the zlib checks cannot see must be rejected.
            #expect(failures >= cases.count - 5)
            #expect(failures >= 47)
        }
    }

    @Test func decompressionIsBounded() async throws {
        try await withTemporaryDirectory { directory in
            let body = [UInt8](repeating: 0, count: 3 << 20)
            // Compressed as hard as zlib can, as a hostile file would be (the server writes level 1).
            let info = try SnapshotStore.write(directory: directory.path, lsn: 1, body: body, level: 9)
            #expect(info.bytes < 10_000)
            #expect(throws: SnapshotError.self) { try SnapshotStore.read(path: info.path, maxDecompressedBytes: 1 << 20) }
            #expect(try SnapshotStore.read(path: info.path, maxDecompressedBytes: 3 << 20).body == body)
        }
    }

    @Test func randomGarbageFilesFailCleanly() async throws {
        try await withTemporaryDirectory { directory in
            var generator = SplitMix64(seed: 1234)
            let path = directory.path + "/snapshot-\(padded(9)).hyg"
            for _ in 0..<100 {
                var bytes = generator.bytes(Int.random(in: 0...300, using: &generator))
                if bytes.count >= 4, Bool.random(using: &generator) { bytes.replaceSubrange(0..<4, with: Array("HYGS".utf8)) }
                try writeBytes(bytes, to: path)
                #expect(throws: SnapshotError.self) { try SnapshotStore.read(path: path) }
            }
            #expect(try SnapshotStore.loadNewestValid(directory: directory.path, logger: quietLogger) == nil)
        }
    }
}
