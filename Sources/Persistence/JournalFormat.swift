/// The journal's on-disk framing (see FORMAT.md): segment headers, record frames, and the
/// recovery scanner shared by `Journal` and `JournalInspector`.
enum JournalFormat {
    /// `HYGJ` as read from disk.
    static let segmentMagic = Binary.magic("HYGJ")
    /// The segment format version.
    static let version: UInt32 = 1
    /// Bytes in a segment header: magic, version, first LSN.
    static let segmentHeaderSize = 16
    /// Bytes in a record frame before the payload: length, crc32c, lsn.
    static let frameHeaderSize = 16
    /// Largest payload a record may carry; a larger length field means corruption.
    static let maxPayloadBytes = 16 << 20
    /// The journal's sub-directory of the data directory.
    static let directoryName = "journal"

    /// `<first LSN, 20 digits>.wal`.
    static func segmentName(firstLSN: UInt64) -> String {
        Binary.paddedLSN(firstLSN) + ".wal"
    }

    /// The first LSN encoded in a segment file name, or nil if `name` is not a segment.
    static func parseSegmentName(_ name: String) -> UInt64? {
        Binary.parseLSNName(name, prefix: "", suffix: ".wal")
    }

    /// The journal directory inside a data directory.
    static func journalDirectory(dataDirectory: String) -> String {
        dataDirectory + "/" + JournalFormat.directoryName
    }

    /// The 16-byte header of a segment whose first record has `firstLSN`.
    static func segmentHeader(firstLSN: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(JournalFormat.segmentHeaderSize)
        Binary.appendUInt32(JournalFormat.segmentMagic, to: &bytes)
        Binary.appendUInt32(JournalFormat.version, to: &bytes)
        Binary.appendUInt64(firstLSN, to: &bytes)
        return bytes
    }

    /// Appends the frame `[length][crc32c(lsn ++ payload)][lsn][payload]` to `bytes`.
    static func appendFrame(lsn: UInt64, payload: [UInt8], to bytes: inout [UInt8]) {
        let lsnCRC = withUnsafeBytes(of: lsn.littleEndian) { CRC32C.checksum($0) }
        let crc = payload.withUnsafeBytes { CRC32C.checksum($0, initial: lsnCRC) }
        Binary.appendUInt32(UInt32(payload.count), to: &bytes)
        Binary.appendUInt32(crc, to: &bytes)
        Binary.appendUInt64(lsn, to: &bytes)
        bytes.append(contentsOf: payload)
    }

    // MARK: - Parsing one segment

    /// The outcome of reading a segment header.
    enum HeaderCheck: Equatable {
        /// A well-formed header naming the segment's first LSN.
        case valid(firstLSN: UInt64)
        /// Fewer than 16 bytes: the file was cut while it was being created.
        case incomplete(bytes: Int)
        /// 16 bytes that are not a version-1 `HYGJ` header.
        case invalid(reason: String)
    }

    /// Reads the header at the start of `buffer`.
    static func checkHeader(_ buffer: UnsafeRawBufferPointer) -> HeaderCheck {
        guard buffer.count >= JournalFormat.segmentHeaderSize else { return .incomplete(bytes: buffer.count) }
        let magic = Binary.readUInt32(buffer, at: 0)
        guard magic == JournalFormat.segmentMagic else {
            return .invalid(reason: "bad segment magic 0x\(String(magic, radix: 16)) (expected HYGJ)")
        }
        let version = Binary.readUInt32(buffer, at: 4)
        guard version == JournalFormat.version else {
            return .invalid(reason: "unsupported segment format version \(version)")
        }
        return .valid(firstLSN: Binary.readUInt64(buffer, at: 8))
    }

    /// The outcome of checking one frame.
    enum FrameCheck {
        /// A complete frame whose checksum matches.
        case valid(lsn: UInt64, payloadLength: Int)
        /// Incomplete, oversized, or failing its checksum.
        case bad(reason: String)
    }

    /// Checks the frame starting at `offset`.
    static func checkFrame(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> FrameCheck {
        let remaining = buffer.count - offset
        guard remaining >= JournalFormat.frameHeaderSize else {
            return .bad(reason: "incomplete record header (\(remaining) of 16 bytes)")
        }
        let length = Int(Binary.readUInt32(buffer, at: offset))
        guard length <= JournalFormat.maxPayloadBytes else {
            return .bad(reason: "record length \(length) exceeds the 16 MiB maximum")
        }
        guard remaining - JournalFormat.frameHeaderSize >= length else {
            return .bad(reason: "incomplete record (\(remaining) of \(JournalFormat.frameHeaderSize + length) bytes)")
        }
        let stored = Binary.readUInt32(buffer, at: offset + 4)
        let covered = UnsafeRawBufferPointer(
            rebasing: buffer[(offset + 8)..<(offset + JournalFormat.frameHeaderSize + length)]
        )
        guard CRC32C.checksum(covered) == stored else {
            return .bad(reason: "record checksum mismatch")
        }
        return .valid(lsn: Binary.readUInt64(buffer, at: offset + 8), payloadLength: length)
    }

    /// Looks for a valid frame anywhere after a bad one at `badOffset`, i.e. evidence that the
    /// bad frame is not a torn tail. Only frames whose LSN could follow (`>= expectedLSN`, and
    /// small enough to fit in the remaining bytes) are checksummed, which keeps the search cheap.
    static func findValidFrame(
        _ buffer: UnsafeRawBufferPointer,
        after badOffset: Int,
        expectedLSN: UInt64
    ) -> (offset: Int, lsn: UInt64)? {
        let end = buffer.count
        let maxFollowing = UInt64((end - badOffset) / JournalFormat.frameHeaderSize) + 1
        let (upper, overflow) = expectedLSN.addingReportingOverflow(maxFollowing)
        let maxLSN = overflow ? UInt64.max : upper
        var offset = badOffset + 1
        while end - offset >= JournalFormat.frameHeaderSize {
            let length = Int(Binary.readUInt32(buffer, at: offset))
            let lsn = Binary.readUInt64(buffer, at: offset + 8)
            if length <= JournalFormat.maxPayloadBytes,
                end - offset - JournalFormat.frameHeaderSize >= length,
                lsn >= expectedLSN, lsn <= maxLSN,
                case .valid = JournalFormat.checkFrame(buffer, at: offset)
            {
                return (offset, lsn)
            }
            offset += 1
        }
        return nil
    }

    /// The records of one segment body and, if it does not end cleanly, why.
    struct RecordsParse {
        /// A frame that is not a valid continuation of the segment.
        struct Failure {
            /// Offset of the bad frame in the file.
            var offset: Int
            /// What is wrong with it.
            var reason: String
            /// True when this cannot be a torn tail: valid records follow it, or it is a
            /// checksum-valid record with the wrong LSN.
            var definitelyCorrupt: Bool
        }

        /// Number of valid records.
        var recordCount = 0
        /// LSN of the first valid record.
        var firstLSN: UInt64?
        /// LSN of the last valid record.
        var lastLSN: UInt64?
        /// Offset just past the last valid record (the header size if there are none).
        var validEnd: Int
        /// Why parsing stopped before the end of the buffer, if it did.
        var failure: Failure?
        /// The records end in preallocated space: at least one all-zero frame header, and only
        /// zero bytes from there to the end of the buffer (not a failure).
        var zeroTail = false
    }

    /// Whether the bytes from `offset` to the end are preallocated, never-written space: at least
    /// a whole frame header's worth (16 bytes; no real frame header is all zeros, because LSNs
    /// start at 1) and nothing but zeros. A shorter zero remainder stays an incomplete header
    /// (a torn tail), as it was before segments were preallocated.
    static func isPreallocatedTail(_ buffer: UnsafeRawBufferPointer, from offset: Int) -> Bool {
        guard buffer.count - offset >= JournalFormat.frameHeaderSize else { return false }
        // The frame header first: real data fails here at once.
        guard Binary.readUInt64(buffer, at: offset) == 0, Binary.readUInt64(buffer, at: offset + 8) == 0 else {
            return false
        }
        var position = offset + JournalFormat.frameHeaderSize
        while buffer.count - position >= 8 {
            if buffer.loadUnaligned(fromByteOffset: position, as: UInt64.self) != 0 { return false }
            position += 8
        }
        while position < buffer.count {
            if buffer[position] != 0 { return false }
            position += 1
        }
        return true
    }

    /// Parses the records after the header. The first must have `firstLSN`, and each next one the
    /// following LSN. Calls `onRecord` with each valid record's LSN and payload, in order.
    static func parseRecords(
        _ buffer: UnsafeRawBufferPointer,
        firstLSN: UInt64,
        onRecord: (UInt64, UnsafeRawBufferPointer) throws -> Void
    ) rethrows -> RecordsParse {
        var result = RecordsParse(validEnd: JournalFormat.segmentHeaderSize)
        var offset = JournalFormat.segmentHeaderSize
        var expected = firstLSN
        while offset < buffer.count {
            if JournalFormat.isPreallocatedTail(buffer, from: offset) {
                result.zeroTail = true
                return result
            }
            switch JournalFormat.checkFrame(buffer, at: offset) {
            case .valid(let lsn, let length):
                guard lsn == expected else {
                    result.failure = .init(
                        offset: offset,
                        reason: "non-consecutive LSN: expected \(expected), found \(lsn)",
                        definitelyCorrupt: true
                    )
                    return result
                }
                let start = offset + JournalFormat.frameHeaderSize
                try onRecord(lsn, UnsafeRawBufferPointer(rebasing: buffer[start..<(start + length)]))
                result.recordCount += 1
                if result.firstLSN == nil { result.firstLSN = lsn }
                result.lastLSN = lsn
                offset = start + length
                result.validEnd = offset
                expected = lsn &+ 1
            case .bad(let reason):
                if let next = JournalFormat.findValidFrame(buffer, after: offset, expectedLSN: expected) {
                    result.failure = .init(
                        offset: offset,
                        reason: "\(reason), but a valid record (LSN \(next.lsn)) follows at offset \(next.offset)",
                        definitelyCorrupt: true
                    )
                } else {
                    result.failure = .init(offset: offset, reason: reason, definitelyCorrupt: false)
                }
                return result
            }
        }
        return result
    }

    // MARK: - Scanning a journal directory

    /// A segment file found in the journal directory.
    struct SegmentFile {
        /// File name, e.g. `00000000000000000001.wal`.
        var name: String
        /// Full path.
        var path: String
        /// The first LSN encoded in the name.
        var firstLSN: UInt64
    }

    /// The segment files in `journalDirectory`, in LSN order (other files are ignored).
    static func listSegments(journalDirectory: String) throws(SystemError) -> [SegmentFile] {
        try FileSystem.listDirectory(journalDirectory)
            .compactMap { name in
                JournalFormat.parseSegmentName(name).map {
                    SegmentFile(name: name, path: journalDirectory + "/" + name, firstLSN: $0)
                }
            }
            .sorted { $0.firstLSN < $1.firstLSN }
    }

    /// What a scan learned about one segment.
    struct ScannedSegment {
        /// The file.
        var file: SegmentFile
        /// Its size in bytes.
        var fileSize: Int64
        /// Number of valid records.
        var recordCount: Int
        /// LSN of its last valid record.
        var lastRecordLSN: UInt64?
        /// Offset just past its last valid record.
        var validEnd: Int64

        /// The highest LSN this segment accounts for (its first LSN - 1 when it has no records).
        var lastCoveredLSN: UInt64 {
            self.lastRecordLSN ?? (self.file.firstLSN &- 1)
        }
    }

    /// A torn final record (or a segment header cut during creation) at the end of the last segment.
    struct TornTail {
        /// The segment's file name.
        var segment: String
        /// The segment's path.
        var path: String
        /// Where the valid data ends (the file should be truncated here).
        var offset: Int64
        /// What was found there.
        var reason: String
        /// True when not even the segment header is complete (the file should be removed).
        var headerIncomplete: Bool
    }

    /// The result of scanning a journal directory.
    struct Scan {
        /// Every segment file in the directory.
        var files: [SegmentFile] = []
        /// The segments examined, in order (all of them unless corruption stopped the scan).
        var segments: [ScannedSegment] = []
        /// The torn tail, if the last segment has one.
        var tornTail: TornTail?
        /// The corruption (always `.corrupt`), if any.
        var corruption: JournalError?
        /// Valid records seen.
        var recordCount = 0
        /// LSN of the first valid record.
        var firstLSN: UInt64?
        /// LSN of the last valid record.
        var lastLSN: UInt64?
    }

    /// Scans every segment of `journalDirectory` in LSN order, validating headers, framing and
    /// LSN continuity, and (with `emitRecords`) calls `onRecord` for each valid record as it goes.
    ///
    /// A gap between segments (or before the first segment) is accepted only when all the missing
    /// LSNs are `<= coveredThrough` (they are covered by a snapshot). Corruption is reported in
    /// the result rather than thrown; I/O failures and `onRecord`'s errors are thrown.
    static func scan(
        journalDirectory: String,
        coveredThrough: UInt64,
        emitRecords: Bool = false,
        onRecord: (JournalRecord) throws -> Void = { _ in }
    ) throws -> Scan {
        var scan = Scan()
        do {
            scan.files = try JournalFormat.listSegments(journalDirectory: journalDirectory)
        } catch {
            throw JournalError(error)
        }
        var previousEnd: UInt64 = 0
        for (index, file) in scan.files.enumerated() {
            let isLast = index == scan.files.count - 1
            let bytes: [UInt8]
            do {
                bytes = try FileSystem.readFile(file.path)
            } catch {
                throw JournalError(error)
            }
            let stop: Bool = try bytes.withUnsafeBytes { buffer in
                switch JournalFormat.checkHeader(buffer) {
                case .incomplete(let count):
                    let reason = "incomplete segment header (\(count) of 16 bytes)"
                    if isLast {
                        scan.tornTail = TornTail(
                            segment: file.name, path: file.path, offset: 0, reason: reason, headerIncomplete: true
                        )
                    } else {
                        scan.corruption = .corrupt(segment: file.name, offset: 0, reason: reason)
                    }
                    return true
                case .invalid(let reason):
                    scan.corruption = .corrupt(segment: file.name, offset: 0, reason: reason)
                    return true
                case .valid(let headerLSN):
                    guard headerLSN == file.firstLSN else {
                        scan.corruption = .corrupt(
                            segment: file.name, offset: 8,
                            reason: "header first LSN \(headerLSN) does not match the file name"
                        )
                        return true
                    }
                }
                let expectedFirst = previousEnd &+ 1
                if file.firstLSN < expectedFirst {
                    scan.corruption = .corrupt(
                        segment: file.name, offset: 0,
                        reason: file.firstLSN == 0
                            ? "segment starts at LSN 0 (LSNs start at 1)"
                            : "segment starts at LSN \(file.firstLSN), overlapping the previous segment, which ends at LSN \(previousEnd)"
                    )
                    return true
                }
                if file.firstLSN > expectedFirst, file.firstLSN - 1 > coveredThrough {
                    scan.corruption = .corrupt(
                        segment: file.name, offset: 0,
                        reason: "LSN gap: records \(expectedFirst)...\(file.firstLSN - 1) are missing "
                            + "and not covered by a snapshot (covered through LSN \(coveredThrough))"
                    )
                    return true
                }
                let parse = try JournalFormat.parseRecords(buffer, firstLSN: file.firstLSN) { lsn, payload in
                    if emitRecords {
                        try onRecord(JournalRecord(lsn: lsn, payload: Array(payload)))
                    }
                }
                scan.recordCount += parse.recordCount
                if scan.firstLSN == nil { scan.firstLSN = parse.firstLSN }
                if let last = parse.lastLSN { scan.lastLSN = last }
                let segment = ScannedSegment(
                    file: file, fileSize: Int64(buffer.count), recordCount: parse.recordCount,
                    lastRecordLSN: parse.lastLSN, validEnd: Int64(parse.validEnd)
                )
                scan.segments.append(segment)
                previousEnd = segment.lastCoveredLSN
                guard let failure = parse.failure else { return false }
                if failure.definitelyCorrupt || !isLast {
                    let suffix = isLast ? "" : " (in a closed segment, so it cannot be a torn tail)"
                    scan.corruption = .corrupt(
                        segment: file.name, offset: Int64(failure.offset), reason: failure.reason + suffix
                    )
                } else {
                    scan.tornTail = TornTail(
                        segment: file.name, path: file.path, offset: Int64(failure.offset),
                        reason: failure.reason, headerIncomplete: false
                    )
                }
                return true
            }
            if stop { break }
        }
        return scan
    }

    /// Removes a torn tail found by `scan`: truncates the segment to its valid end (fsynced),
    /// or removes the segment if even its header is incomplete (fsyncing the directory).
    static func repair(_ torn: TornTail, journalDirectory: String) throws(SystemError) {
        if torn.headerIncomplete {
            try FileSystem.removeFile(torn.path)
            try FileSystem.fsyncDirectory(journalDirectory)
        } else {
            try FileSystem.truncateFile(torn.path, length: torn.offset)
        }
    }
}
