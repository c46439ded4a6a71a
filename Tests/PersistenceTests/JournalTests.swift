import Foundation
import Logging
import Persistence
import Testing

struct JournalTests {
    @Test func appendAssignsConsecutiveLSNsAndReplays() async throws {
        try await withTemporaryDirectory { directory in
            let (journal, replayed) = try openJournal(directory)
            #expect(replayed.isEmpty)
            #expect(journal.lastAssignedLSN == 0)
            #expect(journal.durableLSN == 0)
            let first = try journal.append(payload(1))
            let second = try journal.append(payload(2))
            #expect(first == 1)
            #expect(second == 2)
            #expect(journal.lastAssignedLSN == 2)
            try await journal.waitDurable(second)
            #expect(journal.durableLSN >= 2)
            try await journal.waitDurable(1)  // already durable: returns at once
            await journal.close()
            #expect(try segmentNames(directory) == ["\(padded(1)).wal"])

            let records = try await replayAll(directory)
            #expect(records == [JournalRecord(lsn: 1, payload: payload(1)), JournalRecord(lsn: 2, payload: payload(2))])
        }
    }

    @Test(arguments: FsyncPolicy.allCases)
    func concurrentAppendersGroupCommit(policy: FsyncPolicy) async throws {
        try await withTemporaryDirectory { directory in
            let (journal, _) = try openJournal(directory, fsync: policy)
            let tasks = 200
            let perTask = 10
            let written = try await withThrowingTaskGroup(of: [(UInt64, [UInt8])].self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        var mine: [(UInt64, [UInt8])] = []
                        for index in 0..<perTask {
                            let bytes = Array("task \(task) record \(index)".utf8)
                            mine.append((try await journal.appendDurably(bytes), bytes))
                        }
                        return mine
                    }
                }
                var all: [(UInt64, [UInt8])] = []
                for try await mine in group { all.append(contentsOf: mine) }
                return all
            }
            let total = tasks * perTask
            #expect(journal.lastAssignedLSN == UInt64(total))
            #expect(journal.durableLSN == UInt64(total))
            let fsyncs = journal.fsyncCount
            await journal.close()

            switch policy {
            case .always:
                // Group commit: one fdatasync covers many records.
                #expect(fsyncs > 0)
                #expect(fsyncs * 4 < total, "\(fsyncs) fdatasyncs for \(total) records")
            case .everysec, .no:
                #expect(fsyncs < total)
            }

            let byLSN = Dictionary(uniqueKeysWithValues: written)
            #expect(byLSN.count == total)
            let records = try await replayAll(directory)
            #expect(records.map(\.lsn) == Array(1...UInt64(total)))
            for record in records {
                #expect(byLSN[record.lsn] == record.payload)
            }
        }
    }

    /// Waiters registered in any LSN order, some before and some after their record is durable, are each resumed
    /// once, and only when their record is durable (the writer takes the satisfied ones out in place).
    @Test func waitersInAnyLSNOrderAreAllResumed() async throws {
        try await withTemporaryDirectory { directory in
            let (journal, _) = try openJournal(directory, fsync: .always)
            var lsns: [UInt64] = []
            for index in 0..<300 { lsns.append(try journal.append(payload(index))) }
            let resumed = try await withThrowingTaskGroup(of: (UInt64, UInt64).self) { group in
                for lsn in lsns.shuffled() {
                    group.addTask {
                        try await journal.waitDurable(lsn)
                        return (lsn, journal.durableLSN)
                    }
                    group.addTask {
                        let own = try await journal.appendDurably(payload(Int(lsn)))
                        return (own, journal.durableLSN)
                    }
                }
                var all: [(UInt64, UInt64)] = []
                for try await pair in group { all.append(pair) }
                return all
            }
            #expect(resumed.count == 600)
            #expect(resumed.allSatisfy { $0.0 <= $0.1 })
            #expect(Set(resumed.map(\.0)).count == 600)
            await journal.close()
        }
    }

    /// A lone caller's wait is satisfied by polling (with bounds generous enough for any disk), and it returns only
    /// once the record is durable; with the spin off, no wait spins.
    @Test(arguments: [true, false])
    func loneWaiterSpinsOnlyUntilDurable(spin: Bool) async throws {
        try await withTemporaryDirectory { directory in
            let minute: UInt64 = 60_000_000_000
            let generous = LoneWaiterSpin(batchNanosMax: minute, slackNanos: minute, spinNanosMax: minute)
            let (journal, _) = try openJournal(directory, loneWaiterSpin: spin ? generous : .off)
            let count = 200
            for index in 0..<count {
                let lsn = try journal.append(payload(index))
                try await journal.waitDurable(lsn)
                #expect(journal.durableLSN >= lsn)
            }
            if spin {
                // Only the first wait, with no batch duration to go by yet, may suspend. (How many spun depends on the
                // scheduler: a caller descheduled between append and wait finds its record durable already.)
                #expect(journal.suspendedWaits <= 1)
                #expect(journal.spunWaits > 0)
            } else {
                #expect(journal.spunWaits == 0)
                #expect(journal.suspendedWaits > 0)
            }
            await journal.close()
            #expect(try await replayAll(directory).map(\.payload) == (0..<count).map { payload($0) })
        }
    }

    @Test func reopenContinuesLSNs() async throws {
        try await withTemporaryDirectory { directory in
            let first = try await writeRecords(directory, count: 5)
            let (journal, replayed) = try openJournal(directory)
            #expect(replayed == first)
            #expect(journal.lastAssignedLSN == 5)
            #expect(try await journal.appendDurably(payload(6)) == 6)
            await journal.close()
            #expect(try segmentNames(directory) == ["\(padded(1)).wal"])
            #expect(try await replayAll(directory).map(\.lsn) == Array(1...6))
        }
    }

    @Test func rotationBySizeAcrossSegments() async throws {
        try await withTemporaryDirectory { directory in
            // 16-byte header + 40-byte frames: three records per 140-byte segment.
            let written = try await writeRecords(directory, count: 10, size: 24, segmentBytesMax: 140)
            let names = try segmentNames(directory)
            #expect(names == [1, 4, 7, 10].map { "\(padded($0)).wal" })
            for name in names {
                let bytes = try readBytes(directory.journalPath + "/" + name)
                let first = try #require(UInt64(name.prefix(20)))
                #expect(Array(bytes[0..<4]) == Array("HYGJ".utf8))
                #expect(readUInt32(bytes, at: 4) == 1)
                #expect(readUInt64(bytes, at: 8) == first)
                #expect(readUInt64(bytes, at: 16 + 8) == first, "first record of \(name)")
                #expect(bytes.count <= 140)
            }
            let (journal, replayed) = try openJournal(directory, segmentBytesMax: 140)
            #expect(replayed == written)
            // Appending continues in the last segment, then rotates again.
            for index in 11...13 { _ = try await journal.appendDurably(payload(index)) }
            await journal.close()
            #expect(try segmentNames(directory) == [1, 4, 7, 10, 13].map { "\(padded($0)).wal" })
            #expect(try await replayAll(directory).map(\.lsn) == Array(1...13))
        }
    }

    @Test func oversizedRecordGetsItsOwnSegment() async throws {
        try await withTemporaryDirectory { directory in
            let (journal, _) = try openJournal(directory, segmentBytesMax: 100)
            _ = try await journal.appendDurably(payload(1, size: 10))
            _ = try await journal.appendDurably(payload(2, size: 500))
            _ = try await journal.appendDurably(payload(3, size: 10))
            await journal.close()
            #expect(try segmentNames(directory) == [1, 2, 3].map { "\(padded($0)).wal" })
            #expect(try await replayAll(directory).map(\.payload) == [payload(1, size: 10), payload(2, size: 500), payload(3, size: 10)])
        }
    }

    @Test func explicitRotateStartsSegmentAtNextLSN() async throws {
        try await withTemporaryDirectory { directory in
            let (journal, _) = try openJournal(directory)
            _ = try await journal.appendDurably(payload(1))
            _ = try journal.append(payload(2))  // still pending when rotate is called
            try await journal.rotate()
            #expect(try segmentNames(directory) == [1, 3].map { "\(padded($0)).wal" })
            try await journal.rotate()  // nothing in the new segment yet: no-op
            #expect(try segmentNames(directory).count == 2)
            #expect(try await journal.appendDurably(payload(3)) == 3)
            await journal.close()
            let segment3 = try readBytes(directory.journalPath + "/\(padded(3)).wal")
            #expect(frameRanges(segment3).count == 1)
            #expect(try await replayAll(directory).map(\.lsn) == [1, 2, 3])
        }
    }

    /// Rotations from several tasks while others append: each returns once the writer has started a segment at or
    /// after the next LSN it saw, nothing is lost or reordered, and every segment starts where the previous one ended.
    @Test func concurrentRotationsWhileAppending() async throws {
        try await withTemporaryDirectory { directory in
            let (journal, _) = try openJournal(directory)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<4 {
                    group.addTask {
                        for index in 0..<100 { _ = try await journal.appendDurably(payload(task * 1000 + index)) }
                    }
                }
                for _ in 0..<3 {
                    group.addTask {
                        for _ in 0..<20 {
                            let next = journal.lastAssignedLSN + 1
                            try await journal.rotate()
                            let newest = try #require(try segmentNames(directory).last.flatMap { UInt64($0.prefix(20)) })
                            #expect(newest >= next)
                        }
                    }
                }
                try await group.waitForAll()
            }
            await journal.close()
            #expect(try segmentNames(directory).count > 1)
            let records = try await replayAll(directory)
            #expect(records.map(\.lsn) == Array(1...400))
            #expect(Set(records.map(\.payload)).count == 400)
        }
    }

    @Test func replayAfterSkipsEarlierRecords() async throws {
        try await withTemporaryDirectory { directory in
            let written = try await writeRecords(directory, count: 10, segmentBytesMax: 140)
            let records = try await replayAll(directory, replayAfter: 6)
            #expect(records == Array(written[6...]))
            #expect(try await replayAll(directory, replayAfter: 10).isEmpty)
            #expect(try await replayAll(directory, replayAfter: 50, minimumLastLSN: 50).isEmpty)
        }
    }

    @Test func minimumLastLSNAheadStartsNewSegment() async throws {
        try await withTemporaryDirectory { directory in
            try await writeRecords(directory, count: 5)
            let (journal, replayed) = try openJournal(directory, replayAfter: 100, minimumLastLSN: 100)
            #expect(replayed.isEmpty)
            #expect(journal.lastAssignedLSN == 100)
            #expect(try await journal.appendDurably(payload(101)) == 101)
            await journal.close()
            #expect(try segmentNames(directory) == [1, 101].map { "\(padded($0)).wal" })

            // The gap 6...100 is covered by the snapshot the caller names.
            let (reopened, records) = try openJournal(directory, replayAfter: 100, minimumLastLSN: 100)
            #expect(records == [JournalRecord(lsn: 101, payload: payload(101))])
            #expect(reopened.lastAssignedLSN == 101)
            await reopened.close()

            // Without that snapshot the gap is lost data: refuse.
            #expect(throws: JournalError.self) { try openJournal(directory) }
            do {
                _ = try openJournal(directory, replayAfter: 50)
                Issue.record("expected an LSN gap error")
            } catch let error as JournalError {
                guard case .corrupt(let segment, _, let reason) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(segment == "\(padded(101)).wal")
                #expect(reason.contains("gap"))
                #expect(error.description.contains("hygge journal verify --repair"))
            }
        }
    }

    @Test func tornTailAtEveryOffsetOfLastRecord() async throws {
        try await withTemporaryDirectory { directory in
            let written = try await writeRecords(directory, count: 4, size: 20)
            let segment = directory.journalPath + "/\(padded(1)).wal"
            let original = try readBytes(segment)
            let ranges = frameRanges(original)
            #expect(ranges.count == 4)
            let last = try #require(ranges.last)
            #expect(last.upperBound == original.count)
            for cut in last {
                try writeBytes(Array(original[..<cut]), to: segment)
                let capture = LogCapture()
                let (journal, replayed) = try openJournal(directory, logger: capture.logger)
                #expect(replayed == Array(written[..<3]), "cut at \(cut)")
                #expect(try fileSize(segment) == last.lowerBound, "cut at \(cut)")
                if cut > last.lowerBound {
                    let warnings = capture.messages(at: .warning)
                    #expect(warnings.count == 1, "cut at \(cut)")
                    #expect(warnings.first?.metadata["segment"] == "\(padded(1)).wal")
                    #expect(warnings.first?.metadata["offset"] == "\(last.lowerBound)")
                }
                #expect(try await journal.appendDurably(Array("after \(cut)".utf8)) == 4)
                await journal.close()
                let reopened = try await replayAll(directory)
                #expect(reopened.map(\.lsn) == [1, 2, 3, 4], "cut at \(cut)")
                #expect(reopened.last?.payload == Array("after \(cut)".utf8))
            }
        }
    }

    @Test func flippedByteInLastRecordIsTornTail() async throws {
        try await withTemporaryDirectory { directory in
            let written = try await writeRecords(directory, count: 3)
            let segment = directory.journalPath + "/\(padded(1)).wal"
            var bytes = try readBytes(segment)
            let last = try #require(frameRanges(bytes).last)
            for position in [last.lowerBound, last.lowerBound + 5, last.lowerBound + 9, last.upperBound - 1] {
                var damaged = bytes
                damaged[position] ^= 0x40
                try writeBytes(damaged, to: segment)
                let (journal, replayed) = try openJournal(directory)
                #expect(replayed == Array(written[..<2]), "flip at \(position)")
                await journal.close()
                #expect(try fileSize(segment) == last.lowerBound)
                try writeBytes(bytes, to: segment)
            }
            bytes = try readBytes(segment)
            #expect(frameRanges(bytes).count == 3)
        }
    }

    @Test func flippedByteInMiddleRecordIsCorruption() async throws {
        try await withTemporaryDirectory { directory in
            try await writeRecords(directory, count: 5)
            let segment = directory.journalPath + "/\(padded(1)).wal"
            let bytes = try readBytes(segment)
            let middle = frameRanges(bytes)[2]
            for position in [middle.lowerBound, middle.lowerBound + 2, middle.lowerBound + 4, middle.lowerBound + 8, middle.upperBound - 1] {
                var damaged = bytes
                damaged[position] ^= 0x01
                try writeBytes(damaged, to: segment)
                var replayed: [JournalRecord] = []
                #expect(throws: JournalError.self, "flip at \(position)") {
                    _ = try Journal(directory: directory.path, fsync: .always, logger: quietLogger) { replayed.append($0) }
                }
                #expect(replayed.isEmpty, "corruption is detected before replay")
                do {
                    _ = try openJournal(directory)
                } catch let error as JournalError {
                    guard case .corrupt(let name, let offset, _) = error else {
                        Issue.record("unexpected \(error)")
                        continue
                    }
                    #expect(name == "\(padded(1)).wal")
                    #expect(offset == Int64(middle.lowerBound))
                }
                #expect(try readBytes(segment) == damaged, "init must not truncate corruption")
            }
        }
    }

    @Test func badSegmentMagicIsCorruption() async throws {
        try await withTemporaryDirectory { directory in
            try await writeRecords(directory, count: 9, segmentBytesMax: 140)
            for name in [padded(1), padded(7)] {
                let path = directory.journalPath + "/\(name).wal"
                let original = try readBytes(path)
                var damaged = original
                damaged[0] = UInt8(ascii: "X")
                try writeBytes(damaged, to: path)
                #expect(throws: JournalError.self) { try openJournal(directory) }
                try writeBytes(original, to: path)
            }
            #expect(try await replayAll(directory).count == 9)
        }
    }

    @Test func headerLSNMustMatchFileName() async throws {
        try await withTemporaryDirectory { directory in
            try await writeRecords(directory, count: 2)
            let from = directory.journalPath + "/\(padded(1)).wal"
            try FileManager.default.moveItem(atPath: from, toPath: directory.journalPath + "/\(padded(5)).wal")
            #expect(throws: JournalError.self) { try openJournal(directory, replayAfter: 10, minimumLastLSN: 10) }
        }
    }

    @Test func incompleteHeaderOfLastSegmentIsRemoved() async throws {
        try await withTemporaryDirectory { directory in
            try await writeRecords(directory, count: 3)
            let stray = directory.journalPath + "/\(padded(4)).wal"
            try writeBytes(Array("HYGJ\u{1}".utf8), to: stray)
            let (journal, replayed) = try openJournal(directory)
            #expect(replayed.count == 3)
            #expect(try await journal.appendDurably(payload(4)) == 4)
            await journal.close()
            #expect(try await replayAll(directory).map(\.lsn) == [1, 2, 3, 4])
        }
    }

    @Test func deleteSegmentsRemovesOnlyCoveredClosedSegments() async throws {
        try await withTemporaryDirectory { directory in
            let (journal, _) = try openJournal(directory, segmentBytesMax: 140)
            for index in 1...10 { _ = try await journal.appendDurably(payload(index)) }
            #expect(try segmentNames(directory) == [1, 4, 7, 10].map { "\(padded($0)).wal" })
            #expect(try journal.deleteSegments(coveredBy: 2) == 0)  // segment 1 also holds 3
            #expect(try journal.deleteSegments(coveredBy: 7) == 2)  // 1...3 and 4...6
            #expect(try segmentNames(directory) == [7, 10].map { "\(padded($0)).wal" })
            #expect(try journal.deleteSegments(coveredBy: 1000) == 1)  // never the active one
            #expect(try segmentNames(directory) == ["\(padded(10)).wal"])
            await journal.close()
            let records = try await replayAll(directory, replayAfter: 9, minimumLastLSN: 9)
            #expect(records.map(\.lsn) == [10])
        }
    }

    @Test func rotateThenDeleteFreesEverySegmentBeforeTheSnapshot() async throws {
        try await withTemporaryDirectory { directory in
            let (journal, _) = try openJournal(directory)
            for index in 1...5 { _ = try journal.append(payload(index)) }
            let snapshotLSN = journal.lastAssignedLSN
            try await journal.rotate()
            #expect(try journal.deleteSegments(coveredBy: snapshotLSN) == 1)
            #expect(try segmentNames(directory) == ["\(padded(6)).wal"])
            #expect(try await journal.appendDurably(payload(6)) == 6)
            await journal.close()
            let records = try await replayAll(directory, replayAfter: snapshotLSN, minimumLastLSN: snapshotLSN)
            #expect(records == [JournalRecord(lsn: 6, payload: payload(6))])
        }
    }

    @Test func closeIsIdempotentAndRejectsLaterUse() async throws {
        try await withTemporaryDirectory { directory in
            let (journal, _) = try openJournal(directory, fsync: .no)
            let lsn = try journal.append(payload(1))
            await journal.close()
            await journal.close()
            #expect(journal.durableLSN == lsn)
            #expect(throws: JournalError.closed) { try journal.append(payload(2)) }
            await #expect(throws: JournalError.closed) { try await journal.rotate() }
            try await journal.waitDurable(lsn)  // durable before close
            await #expect(throws: JournalError.closed) { try await journal.waitDurable(lsn + 1) }
            #expect(try await replayAll(directory).count == 1)
        }
    }

    @Test func closeFlushesPendingRecordsUnderEveryPolicy() async throws {
        for policy in FsyncPolicy.allCases {
            try await withTemporaryDirectory { directory in
                let (journal, _) = try openJournal(directory, fsync: policy)
                for index in 1...50 { _ = try journal.append(payload(index)) }
                let before = journal.fsyncCount
                await journal.close()
                #expect(journal.fsyncCount > before, "close fsyncs under \(policy)")
                #expect(try await replayAll(directory).count == 50)
            }
        }
    }

    @Test func oversizedPayloadIsRejectedWithoutBreakingTheJournal() async throws {
        try await withTemporaryDirectory { directory in
            let (journal, _) = try openJournal(directory)
            #expect(throws: JournalError.self) { try journal.append([UInt8](repeating: 0, count: (16 << 20) + 1)) }
            #expect(try await journal.appendDurably(payload(1)) == 1)
            await journal.close()
        }
    }

    @Test func emptyPayloadsRoundTrip() async throws {
        try await withTemporaryDirectory { directory in
            let (journal, _) = try openJournal(directory)
            _ = try await journal.appendDurably([])
            _ = try await journal.appendDurably([0])
            await journal.close()
            #expect(try await replayAll(directory).map(\.payload) == [[], [0]])
        }
    }

    @Test func replayErrorAbortsInit() async throws {
        struct Stop: Error {}
        try await withTemporaryDirectory { directory in
            try await writeRecords(directory, count: 3)
            #expect(throws: Stop.self) {
                _ = try Journal(directory: directory.path, fsync: .always, logger: quietLogger) { _ in throw Stop() }
            }
        }
    }

    @Test func errorDescriptionNamesTheRepairCommand() {
        let error = JournalError.corrupt(segment: "x.wal", offset: 3, reason: "bad")
        #expect(error.description.contains("hygge journal verify --repair"))
        #expect(error.description.contains("x.wal"))
        #expect(JournalError.io(operation: "write", errno: 5).description.contains("write"))
    }
}
