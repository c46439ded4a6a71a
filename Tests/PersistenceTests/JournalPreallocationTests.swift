import Foundation
import Logging
import Persistence
import Testing

/// The writer zero-fills the active segment ahead of its records (FORMAT.md, "Preallocation").
/// A crash leaves those zeros in the last segment; these tests build such crash images by copying
/// the segment while the journal is still open (every record in it acknowledged as durable).
struct JournalPreallocationTests {
    /// Appends `count` records durably and returns the journal (still open) and the records.
    private func openWithRecords(
        _ directory: TemporaryDirectory, count: Int, size: Int = 20, segmentBytesMax: Int = 64 << 20
    ) async throws -> (Journal, [JournalRecord]) {
        let (journal, _) = try openJournal(directory, segmentBytesMax: segmentBytesMax)
        var written: [JournalRecord] = []
        for index in 1...count {
            let bytes = payload(index, size: size)
            written.append(JournalRecord(lsn: try await journal.appendDurably(bytes), payload: bytes))
        }
        return (journal, written)
    }

    /// The segment of a journal that crashed after `count` durable records: the valid records,
    /// then zeros to the preallocated end.
    private func crashImage(_ directory: TemporaryDirectory, count: Int, size: Int = 20) async throws -> (
        image: [UInt8], records: [JournalRecord], dataEnd: Int
    ) {
        let (journal, written) = try await openWithRecords(directory, count: count, size: size)
        let segment = directory.journalPath + "/\(padded(1)).wal"
        let image = try readBytes(segment)
        await journal.close()
        let dataEnd = try #require(frameRanges(image).last).upperBound
        return (image, written, dataEnd)
    }

    @Test func activeSegmentIsPreallocatedWithZerosAndTrimmedOnClose() async throws {
        try await withTemporaryDirectory { directory in
            let (image, written, dataEnd) = try await crashImage(directory, count: 5)
            #expect(frameRanges(image).count == 5)
            #expect(image.count >= dataEnd + 16, "preallocated at least one frame header past the records")
            #expect(image.count > 64 << 10, "preallocated in large steps, not per write")
            #expect(image[dataEnd...].allSatisfy { $0 == 0 })
            // close cuts the zeros: a closed journal ends at its last record, as before.
            let segment = directory.journalPath + "/\(padded(1)).wal"
            #expect(try fileSize(segment) == dataEnd)
            #expect(try await replayAll(directory) == written)
        }
    }

    @Test func preallocatedZeroTailIsTheEndOfTheLogAndAppendsContinueAfterTheRecords() async throws {
        try await withTemporaryDirectory { directory in
            let (image, written, dataEnd) = try await crashImage(directory, count: 5)
            let segment = directory.journalPath + "/\(padded(1)).wal"
            try writeBytes(image, to: segment)

            let report = try JournalInspector.verify(directory: directory.path)
            #expect(report.verdict == .clean, "zeros after the last record are not a torn tail")
            #expect(report.records == 5)
            #expect(report.lastLSN == 5)
            #expect(try JournalInspector.repair(directory: directory.path).verdict == .clean)
            #expect(try readBytes(segment) == image, "verify and repair leave preallocated space alone")

            let capture = LogCapture()
            let (journal, replayed) = try openJournal(directory, logger: capture.logger)
            #expect(replayed == written)
            #expect(capture.messages(at: .warning).isEmpty, "no torn-tail warning for preallocated space")
            #expect(try await journal.appendDurably(Array("sixth".utf8)) == 6)
            // The new record went right after the fifth (over the zeros), not after the zeros.
            let live = try readBytes(segment)
            #expect(live.count == image.count, "the preallocated space is reused, not extended")
            #expect(Array(live[..<dataEnd]) == Array(image[..<dataEnd]))
            #expect(readUInt64(live, at: dataEnd + 8) == 6)
            #expect(Int(readUInt32(live, at: dataEnd)) == 5)
            await journal.close()
            #expect(try fileSize(segment) == dataEnd + 16 + 5)
            #expect(try await replayAll(directory).map(\.lsn) == Array(1...6))
        }
    }

    @Test func tornRecordInsidePreallocatedSpaceIsTruncatedAsBefore() async throws {
        try await withTemporaryDirectory { directory in
            let (image, written, _) = try await crashImage(directory, count: 4)
            let segment = directory.journalPath + "/\(padded(1)).wal"
            let last = try #require(frameRanges(image).last)
            // The last record only partly reached the disk: a prefix of its frame, zeros after it.
            for cut in (last.lowerBound + 1)..<last.upperBound {
                var torn = image
                for index in cut..<torn.count { torn[index] = 0 }
                try writeBytes(torn, to: segment)
                #expect(
                    try JournalInspector.verify(directory: directory.path).verdict
                        == .tornTail(segment: "\(padded(1)).wal", offset: Int64(last.lowerBound)), "cut at \(cut)")
                let capture = LogCapture()
                let (journal, replayed) = try openJournal(directory, logger: capture.logger)
                #expect(replayed == Array(written[..<3]), "cut at \(cut)")
                #expect(try fileSize(segment) == last.lowerBound, "truncated at the torn record, cut at \(cut)")
                let warnings = capture.messages(at: .warning)
                #expect(warnings.count == 1, "cut at \(cut)")
                #expect(warnings.first?.metadata["offset"] == "\(last.lowerBound)", "cut at \(cut)")
                #expect(try await journal.appendDurably(Array("after \(cut)".utf8)) == 4)
                await journal.close()
                let reopened = try await replayAll(directory)
                #expect(reopened.map(\.lsn) == [1, 2, 3, 4], "cut at \(cut)")
                #expect(reopened.last?.payload == Array("after \(cut)".utf8))
            }
        }
    }

    @Test func zeroRunsThatAreNotAPreallocatedTail() async throws {
        try await withTemporaryDirectory { directory in
            let (image, _, dataEnd) = try await crashImage(directory, count: 4)
            let segment = directory.journalPath + "/\(padded(1)).wal"
            let frames = frameRanges(image)

            // Fewer than 16 zero bytes after the records: an incomplete header, a torn tail (as before).
            try writeBytes(Array(image[..<(dataEnd + 5)]), to: segment)
            #expect(
                try JournalInspector.verify(directory: directory.path).verdict
                    == .tornTail(segment: "\(padded(1)).wal", offset: Int64(dataEnd)))

            // A zero frame header followed by non-zero garbage that is no valid frame: torn tail.
            var garbage = image
            garbage[dataEnd + 100] = 0x5A
            try writeBytes(garbage, to: segment)
            #expect(
                try JournalInspector.verify(directory: directory.path).verdict
                    == .tornTail(segment: "\(padded(1)).wal", offset: Int64(dataEnd)))
            let (journal, _) = try openJournal(directory)
            await journal.close()
            #expect(try fileSize(segment) == dataEnd)

            // Zeros where records 3 and 4 were, then a valid record 3 further on: records were lost
            // in the middle, which is corruption (refused), not the end of the log.
            var hole = Array(image[..<frames[2].lowerBound]) + [UInt8](repeating: 0, count: 64)
            hole += Array(image[frames[2]]) + [UInt8](repeating: 0, count: 4096)
            try writeBytes(hole, to: segment)
            guard
                case .corrupt(_, let offset, _) = try JournalInspector.verify(directory: directory.path).verdict
            else {
                Issue.record("a zero run followed by a valid record must be corruption")
                return
            }
            #expect(offset == Int64(frames[2].lowerBound))
            #expect(throws: JournalError.self) { try openJournal(directory) }
            #expect(try readBytes(segment) == hole, "init must not truncate corruption")
        }
    }

    @Test func flippedByteBeforePreallocatedTailIsCorruption() async throws {
        try await withTemporaryDirectory { directory in
            let (image, _, _) = try await crashImage(directory, count: 5)
            let segment = directory.journalPath + "/\(padded(1)).wal"
            let middle = frameRanges(image)[2]
            var damaged = image
            damaged[middle.lowerBound + 20] ^= 0x01
            try writeBytes(damaged, to: segment)
            #expect(throws: JournalError.self) { try openJournal(directory) }
            #expect(try readBytes(segment) == damaged)
        }
    }

    @Test func rotationTrimsClosedSegmentsAndPreallocatesTheActiveOneWithinTheLimit() async throws {
        try await withTemporaryDirectory { directory in
            // 36-byte frames, 4096-byte segments: 113 records per segment.
            let limit = 4096
            let (journal, written) = try await openWithRecords(directory, count: 300, segmentBytesMax: limit)
            let names = try segmentNames(directory)
            #expect(names == [1, 114, 227].map { "\(padded($0)).wal" })
            for name in names.dropLast() {
                let bytes = try readBytes(directory.journalPath + "/" + name)
                #expect(frameRanges(bytes).last?.upperBound == bytes.count, "closed segment \(name) ends at its last record")
                #expect(bytes.count <= limit)
            }
            let active = try readBytes(directory.journalPath + "/" + names[2])
            let activeEnd = try #require(frameRanges(active).last).upperBound
            #expect(frameRanges(active).count == 74)
            #expect(active.count == limit, "preallocation stops at the segment limit")
            #expect(active[activeEnd...].allSatisfy { $0 == 0 })

            // A crash image: closed segments as they are, the active one with its zeros.
            let crash = directory.path + "-crash"
            try FileManager.default.copyItem(atPath: directory.path, toPath: crash)
            defer { try? FileManager.default.removeItem(atPath: crash) }
            await journal.close()
            #expect(try fileSize(directory.journalPath + "/" + names[2]) == activeEnd)

            var replayed: [JournalRecord] = []
            let reopened = try Journal(directory: crash, fsync: .always, segmentBytesMax: limit, logger: quietLogger) {
                replayed.append($0)
            }
            #expect(replayed == written)
            for index in 301...420 { _ = try await reopened.appendDurably(payload(index, size: 20)) }
            await reopened.close()
            let crashNames = try FileManager.default.contentsOfDirectory(atPath: crash + "/journal").sorted()
            #expect(crashNames == [1, 114, 227, 340].map { "\(padded($0)).wal" })
            var all: [JournalRecord] = []
            try JournalInspector.forEachRecord(directory: crash) { all.append($0) }
            #expect(all.map(\.lsn) == Array(1...420))
            #expect(Array(all.prefix(300)) == written)
            for name in crashNames {
                let bytes = try readBytes(crash + "/journal/" + name)
                #expect(frameRanges(bytes).last?.upperBound == bytes.count, "\(name) trimmed")
            }
        }
    }

    @Test func newSegmentAfterMinimumLastLSNTrimsTheZeroTailedOldOne() async throws {
        try await withTemporaryDirectory { directory in
            let (image, written, dataEnd) = try await crashImage(directory, count: 3)
            let segment = directory.journalPath + "/\(padded(1)).wal"
            try writeBytes(image, to: segment)
            let (journal, replayed) = try openJournal(directory, replayAfter: 0, minimumLastLSN: 10)
            #expect(replayed == written)
            #expect(try await journal.appendDurably(payload(11)) == 11)
            await journal.close()
            #expect(try segmentNames(directory) == [1, 11].map { "\(padded($0)).wal" })
            #expect(try fileSize(segment) == dataEnd, "the closed segment lost its zeros")
            #expect(try await replayAll(directory, minimumLastLSN: 10).map(\.lsn) == [1, 2, 3, 11])
        }
    }
}
