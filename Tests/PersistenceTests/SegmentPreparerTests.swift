import Foundation
import Logging
import Persistence
import Testing

/// `Journal(prepareSegments: true)`: the next segment is zero-filled on a thread of its own and renamed into place at
/// rotation (`SegmentPreparer`).
struct SegmentPreparerTests {
    static let segmentBytes = 64 << 10

    private func sparePath(_ directory: TemporaryDirectory) -> String { directory.journalPath + "/next-segment.zeros" }

    /// Waits (up to 10 s) until the prepared file exists with the segment size.
    private func waitForSpare(_ directory: TemporaryDirectory) async throws {
        for _ in 0..<1000 {
            if (try? fileSize(self.sparePath(directory))) == Self.segmentBytes { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("no prepared segment appeared")
    }

    private func open(_ directory: TemporaryDirectory, segmentBytesMax: Int = segmentBytes) throws -> (Journal, [JournalRecord]) {
        try openJournal(directory, segmentBytesMax: segmentBytesMax, prepareSegments: true)
    }

    private func append(_ journal: Journal, from first: Int, count: Int, size: Int = 200) async throws -> [JournalRecord] {
        var written: [JournalRecord] = []
        for index in first..<(first + count) {
            let bytes = payload(index, size: size)
            written.append(JournalRecord(lsn: try await journal.appendDurably(bytes), payload: bytes))
        }
        return written
    }

    @Test func rotationTakesThePreparedFileAndEverySegmentReadsBack() async throws {
        try await withTemporaryDirectory { directory in
            let (journal, _) = try self.open(directory)
            var written: [JournalRecord] = []
            // 216-byte frames: about 300 per 64 KiB segment. Before each rotation, wait for the spare, so each
            // rotation after the first has one.
            for round in 0..<4 {
                written += try await self.append(journal, from: written.count + 1, count: 100)
                try await self.waitForSpare(directory)
                written += try await self.append(journal, from: written.count + 1, count: 250)
                #expect(journal.preparedSegmentsTaken >= round, "round \(round)")
            }
            #expect(journal.preparedSegmentsTaken >= 3)
            let segments = try segmentNames(directory)
            #expect(segments.count >= 4)
            await journal.close()

            // Closed segments end at their last record (the prepared zeros are cut at rotation and close), and the
            // records read back in order across all of them.
            for name in segments {
                let image = try readBytes(directory.journalPath + "/" + name)
                #expect(frameRanges(image).last?.upperBound == image.count, "\(name) ends at its last record")
            }
            #expect(try await replayAll(directory) == written)
            #expect(try JournalInspector.verify(directory: directory.path).verdict == .clean)
        }
    }

    @Test func aPreparedFileOutlivesTheProcessAndStartsTheNextSegment() async throws {
        try await withTemporaryDirectory { directory in
            let (journal, _) = try self.open(directory)
            let first = try await self.append(journal, from: 1, count: 50)
            try await self.waitForSpare(directory)
            await journal.close()
            #expect(try fileSize(self.sparePath(directory)) == Self.segmentBytes, "close keeps a finished file")

            // Reopened: the journal continues its segment; the next rotation takes the file left by the last process.
            let (reopened, replayed) = try self.open(directory)
            #expect(replayed == first)
            try await reopened.rotate()
            #expect(reopened.preparedSegmentsTaken == 1)
            let second = try await self.append(reopened, from: 51, count: 10)
            await reopened.close()
            #expect(try await replayAll(directory) == first + second)
        }
    }

    @Test func aPreparedFileThatGotItsHeaderBeforeACrashIsReused() async throws {
        try await withTemporaryDirectory { directory in
            let (journal, _) = try self.open(directory)
            let first = try await self.append(journal, from: 1, count: 50)
            await journal.close()
            // The crash between writing the header into the prepared file and renaming it: a stale header, then zeros.
            try FileManager.default.createDirectory(atPath: directory.journalPath, withIntermediateDirectories: true)
            var image = [UInt8](repeating: 0, count: Self.segmentBytes)
            image.replaceSubrange(0..<4, with: Array("HYGJ".utf8))
            image.replaceSubrange(4..<8, with: littleEndian(UInt32(1)))
            image.replaceSubrange(8..<16, with: littleEndian(UInt64(999)))
            try writeBytes(image, to: self.sparePath(directory))

            let (reopened, _) = try self.open(directory)
            try await reopened.rotate()
            #expect(reopened.preparedSegmentsTaken == 1)
            let second = try await self.append(reopened, from: 51, count: 5)
            await reopened.close()
            #expect(try await replayAll(directory) == first + second)
            #expect(try segmentNames(directory) == ["\(padded(1)).wal", "\(padded(51)).wal"])
        }
    }

    @Test func aPartlyWrittenOrOversizedFileIsDeletedOnOpen() async throws {
        try await withTemporaryDirectory { directory in
            try await writeRecords(directory, count: 3)
            try writeBytes([UInt8](repeating: 0, count: 4096), to: self.sparePath(directory) + ".tmp")
            try writeBytes([UInt8](repeating: 0, count: 2 * Self.segmentBytes), to: self.sparePath(directory))
            let (journal, replayed) = try self.open(directory)
            #expect(replayed.count == 3)
            #expect(!FileManager.default.fileExists(atPath: self.sparePath(directory) + ".tmp"))
            #expect(!FileManager.default.fileExists(atPath: self.sparePath(directory)), "larger than a segment may grow")
            try await journal.rotate()
            #expect(journal.preparedSegmentsTaken == 0, "nothing prepared yet: the writer creates the segment itself")
            await journal.close()
            #expect(try await replayAll(directory).count == 3)
        }
    }

    @Test func aSegmentThatOutgrowsItsPreparedFileIsZeroFilledFurtherByTheWriter() async throws {
        try await withTemporaryDirectory { directory in
            try await writeRecords(directory, count: 3)
            // A finished 4 KiB file (the size follows the last closed segment): the segment starts in it and grows
            // past it.
            try writeBytes([UInt8](repeating: 0, count: 4096), to: self.sparePath(directory))
            let (journal, _) = try self.open(directory)
            try await journal.rotate()
            #expect(journal.preparedSegmentsTaken == 1)
            let written = try await self.append(journal, from: 4, count: 100)
            let segment = directory.journalPath + "/\(padded(4)).wal"
            let image = try readBytes(segment)
            let end = try #require(frameRanges(image).last?.upperBound)
            #expect(end > 4096 && image.count > end, "records past the prepared 4 KiB, zeros after them")
            #expect(image[end...].allSatisfy { $0 == 0 })
            await journal.close()
            #expect(try await replayAll(directory).suffix(100) == written[...])
        }
    }

    @Test func theFileFollowsTheSizeOfTheSegmentsThatSnapshotsClose() async throws {
        try await withTemporaryDirectory { directory in
            // 4 MiB segments that rotate (as at a snapshot) after about 40 KB: the file begun at 4 MiB is cut to
            // one 256 KiB piece once the first segment closes, finishes, and starts the segment after that.
            let (journal, _) = try self.open(directory, segmentBytesMax: 4 << 20)
            var written = try await self.append(journal, from: 1, count: 200)
            try await journal.rotate()
            #expect(journal.preparedSegmentsTaken == 0, "a 4 MiB file is not written after 40 KB of records")
            var size: Int?
            for _ in 0..<1000 where size == nil {
                size = try? fileSize(self.sparePath(directory))
                if size == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            let finished = try #require(size, "the cut file finishes without more records")
            #expect(finished >= 256 << 10 && finished < 4 << 20, "\(finished) bytes")
            written += try await self.append(journal, from: 201, count: 10)
            try await journal.rotate()
            #expect(journal.preparedSegmentsTaken == 1)
            written += try await self.append(journal, from: 211, count: 10)
            await journal.close()
            #expect(try await replayAll(directory) == written)
        }
    }

    @Test func withoutPrepareSegmentsNoFileIsWritten() async throws {
        try await withTemporaryDirectory { directory in
            let (journal, _) = try openJournal(directory, segmentBytesMax: Self.segmentBytes)
            _ = try await self.append(journal, from: 1, count: 600)
            #expect(journal.preparedSegmentsTaken == 0)
            await journal.close()
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.journalPath)
            #expect(names.allSatisfy { $0.hasSuffix(".wal") }, "\(names)")
        }
    }
}
