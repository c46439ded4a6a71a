import CRC32CHardware

/// CRC-32C (Castagnoli, the iSCSI polynomial, reflected `0x82F63B78`, init and xorout
/// `0xFFFFFFFF`), computed with the processor's CRC-32C instructions where it has them (x86-64
/// SSE4.2, AArch64 CRC32; the `CRC32CHardware` C target) and with slicing-by-8 tables in pure
/// Swift otherwise.
///
/// The check value of the ASCII bytes `"123456789"` is `0xE3069283`. Checksums compose:
/// `checksum(b, initial: checksum(a)) == checksum(a + b)`.
package enum CRC32C {
    /// The reflected Castagnoli polynomial.
    static let polynomial: UInt32 = 0x82F6_3B78

    /// Eight 256-entry tables laid out contiguously: `tables[k * 256 + i]` is table `k`.
    static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for index in 0..<256 {
            var crc = UInt32(index)
            for _ in 0..<8 {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ CRC32C.polynomial : crc >> 1
            }
            tables[index] = crc
        }
        for slice in 1..<8 {
            for index in 0..<256 {
                let previous = tables[(slice - 1) * 256 + index]
                tables[slice * 256 + index] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }()

    /// Returns the CRC-32C of `bytes`, continuing from `initial` (the checksum of the bytes
    /// that precede them; `0` for a fresh checksum).
    package static func checksum<C: Collection>(_ bytes: C, initial: UInt32 = 0) -> UInt32
    where C.Element == UInt8 {
        if let result = bytes.withContiguousStorageIfAvailable({ buffer in
            CRC32C.checksum(UnsafeRawBufferPointer(buffer), initial: initial)
        }) {
            return result
        }
        return CRC32C.tables.withUnsafeBufferPointer { table in
            var crc = ~initial
            for byte in bytes {
                crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
            }
            return ~crc
        }
    }

    /// Whether `checksum` uses the processor's CRC-32C instructions.
    package static let usesHardware = hygge_crc32c_hardware_available() != 0

    /// Returns the CRC-32C of the bytes in `buffer`, continuing from `initial`.
    package static func checksum(_ buffer: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        guard CRC32C.usesHardware, let base = buffer.baseAddress else {
            return CRC32C.softwareChecksum(buffer, initial: initial)
        }
        return ~hygge_crc32c_hardware_update(~initial, base, buffer.count)
    }

    /// `checksum` with the slicing-by-8 tables, whatever the processor has (the fallback; tests
    /// compare the two).
    package static func softwareChecksum(_ buffer: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        CRC32C.tables.withUnsafeBufferPointer { table in
            var crc = ~initial
            var offset = 0
            let count = buffer.count
            while count - offset >= 8 {
                let low = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) ^ crc
                let high = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
                crc =
                    table[7 * 256 + Int(low & 0xFF)]
                    ^ table[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ table[5 * 256 + Int((low >> 16) & 0xFF)]
                    ^ table[4 * 256 + Int(low >> 24)]
                    ^ table[3 * 256 + Int(high & 0xFF)]
                    ^ table[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ table[1 * 256 + Int((high >> 16) & 0xFF)]
                    ^ table[Int(high >> 24)]
                offset += 8
            }
            while offset < count {
                crc = table[Int((crc ^ UInt32(buffer[offset])) & 0xFF)] ^ (crc >> 8)
                offset += 1
            }
            return ~crc
        }
    }
}
