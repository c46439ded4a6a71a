import Foundation
import Persistence
import Testing

struct JournalInspectorTests {
    @Test func cleanJournalReport() async throws {
        try await withTemporaryDirectory { directory in
            let written = try await writeRecords(directory, count: 10, segmentBytesMax: 140)
            let report = try JournalInspector.verify(directory: directory.path)
            #expect(report.verdict == .clean)
            #expect(report.segments == 4)
            #expect(report.records == 10)
            #expect(report.firstLSN == 1)
            #expect(report.lastLSN == 10)
            var seen: [JournalRecord] = []
            try JournalInspector.forEachRecord(directory: directory.path) { seen.append($0) }
            #expect(seen == written)
            #expect(try JournalInspector.repair(directory: directory.path).verdict == .clean)
        }
    }

    @Test func emptyAndMissingJournals() async throws {
        try await withTemporaryDirectory { directory in
            #expect(throws: JournalError.self) { try JournalInspector.verify(directory: directory.path) }
            let (journal, _) = try openJournal(directory)
            await journal.close()
            let report = try JournalInspector.verify(directory: directory.path)
            #expect(report.verdict == .clean)
            #expect(report.segments == 1)
            #expect(report.records == 0)
            #expect(report.firstLSN == nil)
            #expect(report.lastLSN == nil)
        }
    }

    @Test func tornTailIsReportedAndRepaired() async throws {
        try await withTemporaryDirectory { directory in
            let written = try await writeRecords(directory, count: 6, segmentBytesMax: 140)
            let segment = directory.journalPath + "/\(padded(4)).wal"
            let bytes = try readBytes(segment)
            let last = try #require(frameRanges(bytes).last)
            var damaged = bytes
            damaged[last.upperBound - 3] ^= 0xFF
            try writeBytes(damaged, to: segment)

            let report = try JournalInspector.verify(directory: directory.path)
            #expect(report.verdict == .tornTail(segment: "\(padded(4)).wal", offset: Int64(last.lowerBound)))
            #expect(report.records == 5)
            #expect(report.lastLSN == 5)
            #expect(try readBytes(segment) == damaged, "verify never modifies files")

            var seen: [JournalRecord] = []
            try JournalInspector.forEachRecord(directory: directory.path) { seen.append($0) }
            #expect(seen == Array(written[..<5]))

            let repaired = try JournalInspector.repair(directory: directory.path)
            #expect(repaired.verdict == .clean)
            #expect(repaired.records == 5)
            #expect(try fileSize(segment) == last.lowerBound)
            #expect(try await replayAll(directory) == Array(written[..<5]))
        }
    }

    @Test func corruptionIsReportedAndRepairRefuses() async throws {
        try await withTemporaryDirectory { directory in
            try await writeRecords(directory, count: 6)
            let segment = directory.journalPath + "/\(padded(1)).wal"
            var bytes = try readBytes(segment)
            let second = frameRanges(bytes)[1]
            bytes[second.lowerBound + 20] ^= 0x10
            try writeBytes(bytes, to: segment)

            let report = try JournalInspector.verify(directory: directory.path)
            guard case .corrupt(let name, let offset, _) = report.verdict else {
                Issue.record("expected corrupt, got \(report.verdict)")
                return
            }
            #expect(name == "\(padded(1)).wal")
            #expect(offset == Int64(second.lowerBound))
            #expect(report.records == 1)

            #expect(throws: JournalError.self) { try JournalInspector.repair(directory: directory.path) }
            #expect(try readBytes(segment) == bytes, "repair must not touch a corrupt journal")
            var seen: [UInt64] = []
            #expect(throws: JournalError.self) {
                try JournalInspector.forEachRecord(directory: directory.path) { seen.append($0.lsn) }
            }
            #expect(seen == [1], "records before the corruption are still dumped")
        }
    }

    @Test func badRecordInClosedSegmentIsCorruptEvenAtItsEnd() async throws {
        try await withTemporaryDirectory { directory in
            try await writeRecords(directory, count: 6, segmentBytesMax: 140)
            let segment = directory.journalPath + "/\(padded(1)).wal"
            let bytes = try readBytes(segment)
            try truncateFile(segment, to: bytes.count - 1)
            guard case .corrupt = try JournalInspector.verify(directory: directory.path).verdict else {
                Issue.record("a torn record in a non-final segment is corruption")
                return
            }
            #expect(throws: JournalError.self) { try openJournal(directory) }
        }
    }

    @Test func gapsCoveredBySnapshotFilesAreAccepted() async throws {
        try await withTemporaryDirectory { directory in
            try await writeRecords(directory, count: 3)
            let (journal, _) = try openJournal(directory, replayAfter: 20, minimumLastLSN: 20)
            _ = try await journal.appendDurably(payload(21))
            await journal.close()
            guard case .corrupt = try JournalInspector.verify(directory: directory.path).verdict else {
                Issue.record("a gap without a snapshot is corruption")
                return
            }
            _ = try SnapshotStore.write(directory: directory.path, lsn: 20, body: [1, 2, 3])
            let report = try JournalInspector.verify(directory: directory.path)
            #expect(report.verdict == .clean)
            #expect(report.records == 4)
            #expect(report.lastLSN == 21)
        }
    }

    /// Truncations and bit flips of a segment never crash the parser and never yield a record
    /// that was not written.
    @Test func framingParserRobustness() async throws {
        try await withTemporaryDirectory { directory in
            let written = try await writeRecords(directory, count: 40, size: 30)
            let byLSN = Dictionary(uniqueKeysWithValues: written.map { ($0.lsn, $0.payload) })
            let segment = directory.journalPath + "/\(padded(1)).wal"
            let original = try readBytes(segment)
            var generator = SplitMix64(seed: 0x5EED)
            var outcomes: [String: Int] = [:]
            for iteration in 0..<200 {
                var damaged = original
                switch iteration % 4 {
                case 0:
                    damaged.removeSubrange(Int.random(in: 0..<damaged.count, using: &generator)...)
                case 1:
                    let position = Int.random(in: 0..<damaged.count, using: &generator)
                    damaged[position] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &generator)
                case 2:
                    for _ in 0..<Int.random(in: 1...8, using: &generator) {
                        damaged[Int.random(in: 0..<damaged.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                    }
                default:
                    let cut = Int.random(in: 16..<damaged.count, using: &generator)
                    damaged = Array(damaged[..<cut]) + generator.bytes(Int.random(in: 1...64, using: &generator))
                }
                try writeBytes(damaged, to: segment)
                var seen: [JournalRecord] = []
                do {
                    try JournalInspector.forEachRecord(directory: directory.path) { seen.append($0) }
                    let verdict = try JournalInspector.verify(directory: directory.path).verdict
                    switch verdict {
                    case .clean: outcomes["clean", default: 0] += 1
                    case .tornTail: outcomes["torn", default: 0] += 1
                    case .corrupt: Issue.record("forEachRecord succeeded on a corrupt journal")
                    }
                } catch is JournalError {
                    outcomes["corrupt", default: 0] += 1
                }
                for record in seen {
                    #expect(byLSN[record.lsn] == record.payload, "iteration \(iteration): unwritten record \(record.lsn)")
                }
                #expect(seen.map(\.lsn) == Array(seen.indices.map { UInt64($0 + 1) }), "iteration \(iteration)")
                // Recovery agrees: it either refuses or replays exactly the valid prefix.
                do {
                    let replayed = try await replayAll(directory)
                    #expect(replayed == seen, "iteration \(iteration)")
                } catch is JournalError {}
                try writeBytes(original, to: segment)
            }
            #expect(outcomes["torn", default: 0] > 0)
            #expect(outcomes["corrupt", default: 0] > 0)
        }
    }
}
