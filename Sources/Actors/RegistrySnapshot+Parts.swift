package import Logging
package import Persistence

/// Snapshot bodies split into parts for version-2 snapshot files (`SnapshotStore.write(directory:lsn:parts:)`,
/// FORMAT.md): each part is compressed on its own, and restore inflates and decodes the parts on every core at once.
///
/// A binary body (format 2) is split only between merchant blocks: part 0 holds the body header (`HYGB`, version, LSN,
/// merchant count) and the first blocks, every later part whole blocks, so the parts concatenated are exactly the
/// body `BinarySnapshotBody.encode` writes (what `SnapshotStore.read(path:)` returns and `RegistrySnapshot.decode`
/// reads). A JSON body (format 1) is never split.
package struct SnapshotPart: Sendable {
    fileprivate enum Content: Sendable {
        /// A whole body decoded and checked by `RegistrySnapshot.decode` (JSON, or a binary body given whole).
        case whole(RegistrySnapshot)
        /// The merchants of some blocks of a binary body (each checked); part 0 also carries the body's header.
        case blocks(header: (lsn: UInt64, count: Int)?, merchants: [MerchantState])
    }
    fileprivate var content: Content
}

extension RegistrySnapshot {
    /// The body in the current format as the parts of a version-2 file, each about `targetBytes` before compression
    /// (a JSON body is one part), encoded on every core, or at most `cores`.
    package func encodedParts(
        format: BodyFormat = .current, targetBytes: Int = BinarySnapshotBody.partTargetBytes, cores: Int = .max
    ) throws -> [[UInt8]] {
        switch format {
        case .json: [try self.encoded(format: .json)]
        case .binary: BinarySnapshotBody.encodeParts(self, targetBytes: targetBytes, cores: cores)
        }
    }

    /// Decodes part `index` of a body (the `part` closure of `SnapshotStore.read`/`loadNewestValid`; called for
    /// several parts at once). Part 0 of a body that is not binary is decoded as a whole JSON body.
    package static func decodePart(_ index: Int, _ bytes: UnsafeRawBufferPointer) throws -> SnapshotPart {
        try RegistrySnapshot.decodePart(index, bytes, parallelAbove: BinarySnapshotBody.nestedParallelBytes)
    }

    /// `decodePart`, decoding the blocks of a part larger than `parallelAbove` bytes on every core (a version-1
    /// file's whole body; parts of a version-2 file are already decoded in parallel with each other).
    package static func decodePart(_ index: Int, _ bytes: UnsafeRawBufferPointer, parallelAbove: Int) throws -> SnapshotPart {
        if index == 0, !BinarySnapshotBody.isBinary(bytes) {
            return SnapshotPart(content: .whole(try RegistrySnapshot.decode(Array(bytes))))
        }
        return try BinarySnapshotBody.decodePart(index: index, bytes, parallelAbove: parallelAbove)
    }

    /// Joins decoded parts (in order) into the snapshot, with the checks of `decode(_:)`: the merchant count the
    /// header declares, no merchant twice (every merchant's invariants were checked by `decodePart`).
    package static func assemble(_ parts: [SnapshotPart]) throws -> RegistrySnapshot {
        if parts.count == 1, case .whole(let snapshot) = parts[0].content { return snapshot }
        guard case .blocks(let header?, _) = parts.first?.content else {
            throw BinarySnapshotBody.invalid("the first part does not start with the body header")
        }
        // The header's count is untrusted (up to 2³² − 1): it is compared with what the parts decoded before
        // anything is sized by it.
        var decoded = 0
        for part in parts {
            guard case .blocks(_, let states) = part.content else {
                throw BinarySnapshotBody.invalid("a JSON body split into parts")
            }
            decoded += states.count
        }
        guard decoded == header.count else {
            throw BinarySnapshotBody.invalid("header declares \(header.count) merchants, the parts hold \(decoded)")
        }
        var merchants: [MerchantState] = []
        merchants.reserveCapacity(decoded)
        for part in parts {
            if case .blocks(_, let states) = part.content { merchants.append(contentsOf: states) }
        }
        var seen: Set<MerchantID> = []
        seen.reserveCapacity(merchants.count)
        for state in merchants where !seen.insert(state.id).inserted {
            throw RestoreError.invalidSnapshot("merchant \(state.id) appears twice")
        }
        var snapshot = RegistrySnapshot(lsn: header.lsn, merchants: merchants)
        snapshot.v = Int(BinarySnapshotBody.version)
        return snapshot
    }

    /// Reads, validates and decodes one snapshot file of either file version, parts in parallel.
    package static func load(path: String) throws -> (lsn: UInt64, snapshot: RegistrySnapshot) {
        var timings = SnapshotReadTimings()
        let (lsn, parts) = try SnapshotStore.read(path: path, timings: &timings, part: RegistrySnapshot.decodePart)
        return (lsn, try RegistrySnapshot.assemble(parts))
    }

    /// The newest snapshot file that validates, decoded (`SnapshotStore.loadNewestValid` with `decodePart`): a damaged
    /// file falls back to the older one; a file that is intact but whose body does not decode is an error.
    package static func loadNewestValid(directory: String, logger: Logger, timings: inout SnapshotReadTimings) throws
        -> (info: SnapshotInfo, snapshot: RegistrySnapshot)?
    {
        guard
            let loaded = try SnapshotStore.loadNewestValid(
                directory: directory, logger: logger, timings: &timings, part: RegistrySnapshot.decodePart)
        else { return nil }
        return (loaded.info, try RegistrySnapshot.assemble(loaded.parts))
    }
}

extension BinarySnapshotBody {
    /// Uncompressed bytes per part: a part closes at the first merchant boundary at or past it. Small enough that
    /// a million checkouts make dozens of parts (both cores stay busy to the end), large enough that zlib's ratio
    /// and the per-part overhead do not suffer.
    package static let partTargetBytes = 4 << 20

    /// A part bigger than this (a whole body, from a version-1 file) decodes its blocks on every core itself.
    static let nestedParallelBytes = 32 << 20

    static func isBinary(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes[0] == magic[0] && bytes[1] == magic[1] && bytes[2] == magic[2] && bytes[3] == magic[3]
    }

    /// `encode(snapshot)` split between merchant blocks into parts of about `targetBytes`.
    static func encodeParts(_ snapshot: RegistrySnapshot, targetBytes: Int, cores: Int = .max) -> [[UInt8]] {
        var current = BodyWriter()
        current.bytes.reserveCapacity(targetBytes + (1 << 16))
        current.bytes.append(contentsOf: Self.magic)
        withUnsafeBytes(of: Self.version.littleEndian) { current.bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: snapshot.lsn.littleEndian) { current.bytes.append(contentsOf: $0) }
        current.count(snapshot.merchants.count)
        var parts: [[UInt8]] = []
        for block in Self.encodeBlocks(snapshot.merchants, cores: cores) {
            if current.bytes.count >= targetBytes {
                parts.append(current.bytes)
                current = BodyWriter()
                current.bytes.reserveCapacity(max(targetBytes, block.count) + (1 << 16))
            }
            current.count(block.count)
            current.bytes.append(contentsOf: block)
        }
        parts.append(current.bytes)
        return parts
    }

    /// Decodes one part: the header (part 0 only), then whole merchant blocks up to the part's end.
    static func decodePart(index: Int, _ buffer: UnsafeRawBufferPointer, parallelAbove: Int) throws -> SnapshotPart {
        var reader = BodyReader(buffer, from: 0, to: buffer.count)
        var header: (lsn: UInt64, count: Int)?
        if index == 0 {
            guard buffer.count >= 16, Self.isBinary(buffer) else { throw Self.invalid("shorter than its header") }
            let version = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            guard version == Self.version else {
                throw RestoreError.invalidSnapshot("unsupported snapshot body version \(version)")
            }
            let lsn = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            reader.offset = 16
            // Merchants in the whole body, not this part: bounded by the bytes any body could hold (checked against
            // the decoded merchants in `assemble`).
            let count = try reader.varint()
            guard count <= UInt64(UInt32.max) else { throw Self.invalid("merchant count \(count)") }
            header = (lsn, Int(count))
        }
        var blocks: [Range<Int>] = []
        while reader.offset < reader.end {
            let length = try reader.count()
            blocks.append(reader.offset..<(reader.offset + length))
            reader.offset += length
        }
        let merchants: [MerchantState]
        if buffer.count > parallelAbove {
            merchants = try Self.decodeBlocks(buffer, blocks).map(Self.checked)
        } else {
            merchants = try blocks.map { block in
                var decoder = MerchantDecoder(reader: BodyReader(buffer, from: block.lowerBound, to: block.upperBound))
                return try Self.checked(try decoder.decode())
            }
        }
        return SnapshotPart(content: .blocks(header: header, merchants: merchants))
    }

    /// `state` if its invariants hold.
    static func checked(_ state: MerchantState) throws -> MerchantState {
        if let violation = state.invariantViolation() {
            throw RestoreError.invalidSnapshot("merchant \(state.id): \(violation)")
        }
        return state
    }
}
