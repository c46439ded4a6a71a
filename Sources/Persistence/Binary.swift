/// Little-endian encoding helpers and the 20-digit LSN file-name encoding shared by the journal
/// and the snapshot store.
enum Binary {
    /// Appends `value` as 4 little-endian bytes.
    static func appendUInt32(_ value: UInt32, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends `value` as 8 little-endian bytes.
    static func appendUInt64(_ value: UInt64, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Reads a little-endian `UInt32` at `offset`; the caller guarantees the bounds.
    static func readUInt32(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Reads a little-endian `UInt64` at `offset`; the caller guarantees the bounds.
    static func readUInt64(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// `lsn` as a 20-digit zero-padded decimal (`UInt64.max` has 20 digits).
    static func paddedLSN(_ lsn: UInt64) -> String {
        let digits = String(lsn)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// Parses `prefix` + 20 decimal digits + `suffix`; nil for any other name.
    static func parseLSNName(_ name: String, prefix: String, suffix: String) -> UInt64? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let utf8 = Array(name.utf8)
        let prefixCount = prefix.utf8.count
        let suffixCount = suffix.utf8.count
        guard utf8.count == prefixCount + 20 + suffixCount else { return nil }
        let digits = utf8[prefixCount..<(prefixCount + 20)]
        guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return UInt64(String(decoding: digits, as: UTF8.self))
    }

    /// The ASCII bytes of a 4-character magic, as the little-endian `UInt32` read from disk.
    static func magic(_ text: StaticString) -> UInt32 {
        precondition(text.utf8CodeUnitCount == 4, "a magic is 4 ASCII bytes")
        return text.withUTF8Buffer { UnsafeRawBufferPointer($0).loadUnaligned(as: UInt32.self) }
            .littleEndian
    }
}
