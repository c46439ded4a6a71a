/// Offline verification (CLI `hygge journal verify|dump [--repair]`). Every function takes the
/// data directory (segments are in `directory/journal`). LSN gaps are accepted where a snapshot
/// file in `directory` (judged by its name) covers them, as `Journal.init` does with its
/// `replayAfter`/`minimumLastLSN`.
package enum JournalInspector {
    /// The state of a journal.
    package enum Verdict: Equatable, Sendable {
        /// Every segment parses to its end.
        case clean
        /// The last segment ends in a torn record (or an incomplete header) at `offset`;
        /// `repair` truncates it there.
        case tornTail(segment: String, offset: Int64)
        /// Damage that is not a torn tail; `repair` refuses it.
        case corrupt(segment: String, offset: Int64, reason: String)
    }

    /// What `verify` found.
    package struct Report: Sendable {
        /// The verdict.
        package var verdict: Verdict
        /// Segment files in the journal directory.
        package var segments: Int
        /// Valid records (up to the torn tail or the corruption).
        package var records: Int
        /// LSN of the first valid record.
        package var firstLSN: UInt64?
        /// LSN of the last valid record.
        package var lastLSN: UInt64?

        /// Creates a report.
        package init(verdict: Verdict, segments: Int, records: Int, firstLSN: UInt64?, lastLSN: UInt64?) {
            self.verdict = verdict
            self.segments = segments
            self.records = records
            self.firstLSN = firstLSN
            self.lastLSN = lastLSN
        }
    }

    /// Checks every segment. Never modifies files. Throws `JournalError.io` if the journal
    /// directory cannot be read (including when it does not exist).
    package static func verify(directory: String) throws -> Report {
        let scan = try JournalInspector.scan(directory: directory, emitRecords: false) { _ in }
        return JournalInspector.report(scan)
    }

    /// Iterates every valid record in order (stops at a torn tail; throws `JournalError.corrupt`
    /// on corruption, after the records before it).
    package static func forEachRecord(directory: String, _ body: (JournalRecord) throws -> Void) throws {
        let scan = try JournalInspector.scan(directory: directory, emitRecords: true, onRecord: body)
        if let corruption = scan.corruption { throw corruption }
    }

    /// Truncates a torn tail only (returns the report after repair); refuses (throws `.corrupt`)
    /// if there is corruption before the tail.
    package static func repair(directory: String) throws -> Report {
        let scan = try JournalInspector.scan(directory: directory, emitRecords: false) { _ in }
        if let corruption = scan.corruption { throw corruption }
        guard let torn = scan.tornTail else { return JournalInspector.report(scan) }
        do {
            try JournalFormat.repair(torn, journalDirectory: JournalFormat.journalDirectory(dataDirectory: directory))
        } catch {
            throw JournalError(error)
        }
        return try JournalInspector.verify(directory: directory)
    }

    /// Scans with the newest snapshot's LSN (by name) as the coverage for LSN gaps.
    private static func scan(
        directory: String,
        emitRecords: Bool,
        onRecord: (JournalRecord) throws -> Void
    ) throws -> JournalFormat.Scan {
        let covered = (try? SnapshotStore.list(directory: directory).first?.lsn) ?? 0
        return try JournalFormat.scan(
            journalDirectory: JournalFormat.journalDirectory(dataDirectory: directory),
            coveredThrough: covered,
            emitRecords: emitRecords,
            onRecord: onRecord
        )
    }

    private static func report(_ scan: JournalFormat.Scan) -> Report {
        let verdict: Verdict
        if case .corrupt(let segment, let offset, let reason) = scan.corruption {
            verdict = .corrupt(segment: segment, offset: offset, reason: reason)
        } else if let torn = scan.tornTail {
            verdict = .tornTail(segment: torn.segment, offset: torn.offset)
        } else {
            verdict = .clean
        }
        return Report(
            verdict: verdict, segments: scan.files.count, records: scan.recordCount,
            firstLSN: scan.firstLSN, lastLSN: scan.lastLSN
        )
    }
}
