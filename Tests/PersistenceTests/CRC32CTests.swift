import Persistence
import Testing

/// Bit-at-a-time reference CRC-32C, independent of the library's tables.
private func referenceCRC32C(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 {
            crc = (crc & 1) == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1
        }
    }
    return ~crc
}

struct CRC32CTests {
    @Test func checkValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(referenceCRC32C(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func knownVectors() {
        // RFC 3720 B.4 test vectors.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test func matchesBitwiseReferenceOnRandomData() {
        var generator = SplitMix64(seed: 0xC0FFEE)
        for length in Array(0...70) + [255, 256, 1000, 4093, 65_536] {
            let bytes = generator.bytes(length)
            #expect(CRC32C.checksum(bytes) == referenceCRC32C(bytes), "length \(length)")
        }
    }

    @Test func unalignedSlicesAndNonContiguousCollections() {
        var generator = SplitMix64(seed: 42)
        let bytes = generator.bytes(300)
        for start in 0..<9 {
            let slice = bytes[start..<(bytes.count - start)]
            #expect(CRC32C.checksum(slice) == referenceCRC32C(Array(slice)))
        }
        // A collection without contiguous storage takes the bytewise path.
        let lazy = bytes.lazy.map { $0 }
        #expect(CRC32C.checksum(lazy) == referenceCRC32C(bytes))
    }

    @Test func rawBufferOverloadMatches() {
        var generator = SplitMix64(seed: 7)
        let bytes = generator.bytes(1234)
        let viaBuffer = bytes.withUnsafeBytes { CRC32C.checksum($0) }
        #expect(viaBuffer == referenceCRC32C(bytes))
    }

    @Test func incrementalEqualsOneShot() {
        var generator = SplitMix64(seed: 99)
        let bytes = generator.bytes(2000)
        for split in [0, 1, 7, 8, 9, 1000, 1999, 2000] {
            let first = CRC32C.checksum(bytes[..<split])
            let combined = CRC32C.checksum(bytes[split...], initial: first)
            #expect(combined == CRC32C.checksum(bytes), "split \(split)")
        }
        var running: UInt32 = 0
        for chunk in stride(from: 0, to: bytes.count, by: 13) {
            running = CRC32C.checksum(bytes[chunk..<min(chunk + 13, bytes.count)], initial: running)
        }
        #expect(running == referenceCRC32C(bytes))
    }

    @Test func hardwareAndTablePathsAgree() {
        // `checksum` takes the processor's instructions where it has them; the tables must give the same values
        // (every length around the 8-byte steps, unaligned starts, and a running checksum).
        var generator = SplitMix64(seed: 0x5EED)
        let bytes = generator.bytes(600)
        bytes.withUnsafeBytes { all in
            for start in 0..<9 {
                for length in Array(0...40) + [255, 256, 272, 591 - start] {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    let software = CRC32C.softwareChecksum(slice, initial: 0x1234_5678)
                    #expect(CRC32C.checksum(slice, initial: 0x1234_5678) == software, "start \(start) length \(length)")
                    #expect(CRC32C.softwareChecksum(slice) == referenceCRC32C(Array(slice)))
                }
            }
        }
    }
}
