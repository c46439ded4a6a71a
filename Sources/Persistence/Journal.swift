import Dispatch
import Foundation
package import Logging
import Metrics
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Group-commit write-ahead journal. One instance serves all writers.
///
/// `append` frames a record into an in-memory pending buffer under a lock and returns its LSN
/// without doing I/O. A dedicated writer thread (never a NIO event loop or the cooperative pool)
/// takes everything pending, writes it with one `write(2)`, makes it durable per the
/// `FsyncPolicy` with one `fdatasync(2)`, and resumes every `waitDurable` caller it covers.
/// See FORMAT.md for the on-disk layout.
package final class Journal: Sendable {
    /// State shared with the writer thread (which holds it, not the `Journal`, so that an
    /// unclosed journal can still be deinitialised and its writer told to stop).
    let shared: JournalShared

    /// Recovers the journal in `directory/journal` (creating it if missing): scans all segments in
    /// LSN order, calls `replay` for every valid record with lsn > `replayAfter` (in order),
    /// truncates a torn final record (an incomplete or checksum-failing record at the very end of
    /// the last segment, with nothing valid after it) and logs its segment and offset at warning
    /// level, and throws `JournalError.corrupt` for corruption anywhere else (a bad record followed
    /// by valid records, a bad segment header, a non-consecutive LSN, or an LSN gap that is not
    /// covered by `max(replayAfter, minimumLastLSN)`). Corruption is detected before any record is
    /// replayed. Then opens for appending: the next LSN is
    /// `max(last record lsn, minimumLastLSN) + 1`; when that does not continue the last segment,
    /// a new segment named by that LSN is started.
    ///
    /// - Parameters:
    ///   - directory: The data directory; segments live in `directory/journal`.
    ///   - fsync: When records become durable.
    ///   - segmentBytesMax: A segment is rotated once appending would take it past this size
    ///     (a segment always holds at least one record).
    ///   - preallocateBytes: How far ahead of its records the writer zero-fills the active segment
    ///     (in one write whenever less than a frame header's worth of zeros is left; capped at
    ///     `segmentBytesMax`), so that fdatasync rarely has to commit a new file size; 0 grows the
    ///     segment with every write instead (see FORMAT.md, "Preallocation").
    ///   - prepareSegments: Keep the next segment ready, zero-filled and fsynced by a thread of its own
    ///     (`SegmentPreparer`, keeping pace with the active segment), so that rotation renames it
    ///     into place and the writer's fdatasyncs carry no zeros. Costs one more `segmentBytesMax`
    ///     file on disk (`journal/next-segment.zeros`).
    ///   - replayAfter: Only records with a greater LSN are passed to `replay` (the snapshot's LSN).
    ///   - minimumLastLSN: The journal continues after at least this LSN (the snapshot's LSN).
    ///   - loneWaiterSpin: When a lone `waitDurable` caller polls instead of suspending (see `LoneWaiterSpin`).
    ///   - logger: Receives the torn-tail warning and writer errors.
    ///   - replay: Called for each recovered record, in LSN order; an error aborts the init.
    package init(
        directory: String,
        fsync: FsyncPolicy,
        segmentBytesMax: Int = 64 << 20,
        preallocateBytes: Int = 1 << 20,
        prepareSegments: Bool = false,
        replayAfter: UInt64 = 0,
        minimumLastLSN: UInt64 = 0,
        loneWaiterSpin: LoneWaiterSpin = .standard,
        logger: Logger,
        replay: (JournalRecord) throws -> Void
    ) throws {
        let journalDirectory = JournalFormat.journalDirectory(dataDirectory: directory)
        do {
            try FileSystem.makeDirectories(journalDirectory)
        } catch {
            throw JournalError(error)
        }
        let covered = max(replayAfter, minimumLastLSN)
        let scan = try JournalFormat.scan(journalDirectory: journalDirectory, coveredThrough: covered)
        if let corruption = scan.corruption { throw corruption }
        var segments = scan.segments
        if let torn = scan.tornTail {
            logger.warning(
                "journal: truncating torn tail",
                metadata: [
                    "segment": "\(torn.segment)", "offset": "\(torn.offset)", "reason": "\(torn.reason)",
                ]
            )
            do {
                try JournalFormat.repair(torn, journalDirectory: journalDirectory)
            } catch {
                throw JournalError(error)
            }
            if torn.headerIncomplete {
                segments.removeAll { $0.file.name == torn.segment }
            } else if let index = segments.lastIndex(where: { $0.file.name == torn.segment }) {
                segments[index].fileSize = torn.offset
            }
        }
        try Journal.replay(segments: segments, after: replayAfter, replay)

        let lastLSN = segments.last?.lastCoveredLSN ?? 0
        let continuedLSN = max(lastLSN, minimumLastLSN)
        // The largest LSN leaves no next one: only a damaged or forged segment or snapshot gets there (fuzzing found it).
        guard continuedLSN < UInt64.max else {
            throw JournalError.corrupt(
                segment: segments.last?.file.name ?? "-", offset: 0,
                reason: "LSN \(UInt64.max) (from \(lastLSN == UInt64.max ? "the journal" : "the snapshot")) leaves no next LSN")
        }
        let nextLSN = continuedLSN + 1
        let segmentBytesMax = Int64(max(segmentBytesMax, JournalFormat.segmentHeaderSize + JournalFormat.frameHeaderSize))
        let preparer =
            prepareSegments
            ? SegmentPreparer(journalDirectory: journalDirectory, bytesMax: segmentBytesMax, logger: logger) : nil
        let fd: Int32
        let segmentFirstLSN: UInt64
        let segmentBytes: Int64
        let segmentRecords: Int
        let segmentFileSize: Int64
        do throws(SystemError) {
            if let last = segments.last, last.file.firstLSN &+ UInt64(last.recordCount) == nextLSN {
                fd = try FileSystem.openFile(last.file.path, flags: O_WRONLY)
                do {
                    try FileSystem.seek(fd, to: last.validEnd, what: last.file.path)
                } catch {
                    FileSystem.closeFile(fd)
                    throw error
                }
                segmentFirstLSN = last.file.firstLSN
                segmentBytes = last.validEnd
                segmentRecords = last.recordCount
                // Zeros preallocated before a crash stay; the writer fills them.
                segmentFileSize = last.fileSize
            } else {
                if let last = segments.last, last.recordCount == 0 {
                    // A record-less segment that the next LSN does not continue holds nothing:
                    // remove it rather than leave an empty segment in front of the gap.
                    try FileSystem.removeFile(last.file.path)
                } else if let last = segments.last, last.fileSize > last.validEnd {
                    // It becomes a closed segment: cut its preallocated zeros, as rotation does.
                    try FileSystem.truncateFile(last.file.path, length: last.validEnd)
                }
                segmentFirstLSN = nextLSN
                segmentBytes = Int64(JournalFormat.segmentHeaderSize)
                segmentRecords = 0
                // From a file the previous process prepared, if it left one.
                (fd, segmentFileSize) = try JournalWriter.startSegment(
                    journalDirectory: journalDirectory, firstLSN: nextLSN, preparer: preparer)
            }
        } catch {
            throw JournalError(error)
        }

        self.shared = JournalShared(
            journalDirectory: journalDirectory,
            policy: fsync,
            segmentBytesMax: segmentBytesMax,
            preallocateBytes: Int64(max(preallocateBytes, 0)),
            preparer: preparer,
            nextLSN: nextLSN,
            segmentFirstLSN: segmentFirstLSN,
            segmentBytes: segmentBytes,
            segmentRecords: segmentRecords,
            loneWaiterSpin: loneWaiterSpin,
            logger: logger
        )
        JournalWriter.start(
            shared: self.shared, fd: fd, segmentFirstLSN: segmentFirstLSN, dataEnd: segmentBytes,
            fileSize: segmentFileSize)
    }

    deinit {
        // Tell the writer to flush what is pending and stop; nobody can await it any more.
        self.shared.requestClose()
    }

    /// Re-reads the segments that hold records after `after` and replays those records.
    private static func replay(
        segments: [JournalFormat.ScannedSegment],
        after: UInt64,
        _ replay: (JournalRecord) throws -> Void
    ) throws {
        for segment in segments {
            guard let last = segment.lastRecordLSN, last > after else { continue }
            let bytes: [UInt8]
            do {
                bytes = try FileSystem.readFile(segment.file.path)
            } catch {
                throw JournalError(error)
            }
            let validEnd = Int(min(segment.validEnd, Int64(bytes.count)))
            _ = try bytes.withUnsafeBytes { buffer in
                try JournalFormat.parseRecords(
                    UnsafeRawBufferPointer(rebasing: buffer[0..<validEnd]),
                    firstLSN: segment.file.firstLSN
                ) { lsn, payload in
                    if lsn > after { try replay(JournalRecord(lsn: lsn, payload: Array(payload))) }
                }
            }
        }
    }

    /// Assigns the next LSN and queues the framed record. Synchronous and never does I/O (it only
    /// copies into an in-memory pending buffer under a lock), so callers inside an actor can call
    /// it without suspending; records are written in LSN order. Throws `.closed` after close, the
    /// writer's sticky I/O error, or `.io(operation: "append", errno: EMSGSIZE)` for a payload
    /// over 16 MiB.
    package func append(_ payload: [UInt8]) throws -> UInt64 {
        try self.shared.append(payload)
    }

    /// Suspends until `lsn` is durable under the policy: `always` → written and fdatasync'ed;
    /// `everysec`/`no` → written (`write(2)` returned). Returns immediately if it already is.
    /// Throws the writer's sticky I/O error, or `.closed` if the journal closed before `lsn` was
    /// durable. Cancellation is ignored: the wait ends when the writer gets there.
    package func waitDurable(_ lsn: UInt64) async throws {
        try await self.shared.waitDurable(lsn)
    }

    /// Convenience: `append` then `waitDurable`; returns the record's LSN.
    package func appendDurably(_ payload: [UInt8]) async throws -> UInt64 {
        let lsn = try self.append(payload)
        try await self.waitDurable(lsn)
        return lsn
    }

    /// The LSN given to the most recent `append` (or recovered from disk).
    package var lastAssignedLSN: UInt64 {
        self.shared.state.withLock { $0.nextLSN - 1 }
    }

    /// The highest LSN that is durable under the policy.
    package var durableLSN: UInt64 {
        self.shared.waiting.withLock { $0.durableLSN }
    }

    /// How many `waitDurable` calls a lone caller's spin satisfied (`LoneWaiterSpin`), rather than a suspension.
    package var spunWaits: Int {
        self.shared.spunWaits.load(ordering: .relaxed)
    }

    /// How many `waitDurable` calls suspended until the writer resumed them (rather than finding the record durable
    /// at once or after a lone caller's spin).
    package var suspendedWaits: Int {
        self.shared.waiting.withLock { $0.suspensions }
    }

    /// How many segments were started from a prepared file (`prepareSegments`).
    package var preparedSegmentsTaken: Int {
        self.shared.preparer?.taken ?? 0
    }

    /// How many `fdatasync(2)` calls the writer has made on segments (batches, rotations, close).
    package var fsyncCount: Int {
        self.shared.state.withLock { $0.fsyncCount }
    }

    /// Nanoseconds the writer has spent in the fdatasyncs of its batches.
    package var fsyncNanoseconds: UInt64 {
        self.shared.state.withLock { $0.fsyncNanoseconds }
    }

    /// Starts a new segment at the next LSN (called before snapshots so older segments become
    /// deletable). Suspends (without blocking a thread) until the writer has written and fdatasync'ed
    /// the old segment and created the new one; does nothing if the active segment has no records yet.
    package func rotate() async throws {
        try await self.shared.rotate()
    }

    /// Deletes every closed segment whose records all have lsn <= `lsn` (never the active
    /// segment) and fsyncs the directory; returns how many were deleted.
    package func deleteSegments(coveredBy lsn: UInt64) throws -> Int {
        try self.shared.deleteSegments(coveredBy: lsn)
    }

    /// Flushes everything pending, fsyncs (regardless of policy), stops the writer thread.
    /// Idempotent; waiters still pending afterwards fail with `.closed`.
    package func close() async {
        await self.shared.close()
    }
}

/// A batch of framed records waiting for the writer.
struct PendingChunk {
    /// The frames, back to back.
    var bytes: [UInt8]
    /// LSN of the last record in `bytes`.
    var lastLSN: UInt64
    /// Number of records in `bytes`.
    var count: Int
}

/// Work for the writer, in order.
enum WriterItem {
    /// Write these records to the active segment.
    case records(PendingChunk)
    /// Close the active segment and start one whose first record has this LSN.
    case newSegment(firstLSN: UInt64)
}

/// A `waitDurable` caller.
struct DurabilityWaiter: Sendable {
    /// The LSN it waits for.
    var lsn: UInt64
    /// Resumed once `lsn` is durable, or with the error that prevents it. Unsafe (not checked):
    /// a checked continuation allocates a box per wait, one heap allocation per record on the
    /// hot path; every waiter is resumed exactly once because it is removed from
    /// `WaiterState.waiters` under the lock before it is resumed.
    var continuation: UnsafeContinuation<Void, any Error>
}

/// A `rotate` caller, suspended until the writer has started the segment at `firstLSN`.
struct RotationWaiter {
    /// The segment it waits for.
    var firstLSN: UInt64
    /// Resumed when that segment is active, or the writer failed or stopped (`rotate` then checks which).
    var continuation: CheckedContinuation<Void, Never>
}

/// What the appenders and the writer share, guarded by one lock (the durability waiters have their own: `WaiterState`).
struct JournalState {
    /// The LSN the next append gets.
    var nextLSN: UInt64
    /// Highest LSN written (write(2) returned).
    var writtenLSN: UInt64
    /// Sealed work, oldest first.
    var queue: [WriterItem] = []
    /// The chunk appends are currently filling (after everything in `queue`).
    var tail: PendingChunk?
    /// A drained chunk buffer handed back by the writer for reuse.
    var spare: [UInt8] = []
    /// First LSN of the segment appends are currently filling.
    var segmentFirstLSN: UInt64
    /// Bytes that segment will hold once everything queued is written.
    var segmentBytes: Int64
    /// Records in that segment, including queued ones.
    var segmentRecords: Int
    /// First LSN of the segment file the writer has open.
    var activeSegmentFirstLSN: UInt64
    /// `rotate` callers not yet satisfied.
    var rotationWaiters: [RotationWaiter] = []
    /// The writer's sticky failure.
    var error: JournalError?
    /// Set by `close`: no more appends; the writer drains and exits.
    var closing = false
    /// Set by the writer thread as it exits.
    var writerExited = false
    /// `close` callers waiting for the writer to exit.
    var closeWaiters: [CheckedContinuation<Void, Never>] = []
    /// True while the writer is about to wait on (or waiting on) its semaphore.
    var writerIdle = false
    /// While the writer gathers a batch (group commit), appends wake it only once the tail holds
    /// this many records; 0: any append wakes it.
    var gatherTarget = 0
    /// fdatasync calls made by the writer.
    var fsyncCount = 0
    /// Nanoseconds spent in those of batches (`JournalWriter.sync`).
    var fsyncNanoseconds: UInt64 = 0

    /// Takes the spare buffer (keeping its capacity) for a new chunk.
    mutating func takeSpare() -> [UInt8] {
        var buffer: [UInt8] = []
        swap(&buffer, &self.spare)
        return buffer
    }

    /// Moves the tail chunk, if any, to the queue.
    mutating func sealTail() {
        if let tail = self.tail {
            self.queue.append(.records(tail))
            self.tail = nil
        }
    }

    /// Frames `payload` as record `lsn` onto the tail chunk.
    mutating func appendToTail(lsn: UInt64, payload: [UInt8]) {
        var chunk = self.tail ?? PendingChunk(bytes: self.takeSpare(), lastLSN: lsn, count: 0)
        self.tail = nil  // keep `chunk.bytes` uniquely referenced while it grows
        JournalFormat.appendFrame(lsn: lsn, payload: payload, to: &chunk.bytes)
        chunk.lastLSN = lsn
        chunk.count += 1
        self.tail = chunk
    }
}

/// What `waitDurable` callers and the writer share, under a lock of its own: appenders never take it, so waits and
/// appends do not contend for one lock.
struct WaiterState {
    /// Highest LSN durable under the policy.
    var durableLSN: UInt64
    /// `waitDurable` callers not yet satisfied.
    var waiters: [DurabilityWaiter] = []
    /// The writer's sticky failure (as in `JournalState`).
    var error: JournalError?
    /// Set by the writer thread as it exits (as in `JournalState`).
    var writerExited = false
    /// `waitDurable` calls that suspended (`Journal.suspendedWaits`).
    var suspensions = 0

    /// Moves the waiters whose LSN is durable now to `satisfied`, keeping the others in order. Allocates
    /// nothing once `satisfied` has the capacity (it runs under the lock, on every batch).
    mutating func takeSatisfiedWaiters(into satisfied: inout [DurabilityWaiter]) {
        var kept = 0
        for index in self.waiters.indices {
            let waiter = self.waiters[index]
            if waiter.lsn <= self.durableLSN {
                satisfied.append(waiter)
            } else {
                self.waiters[kept] = waiter
                kept += 1
            }
        }
        self.waiters.removeLast(self.waiters.count - kept)
    }
}

/// The part of a `Journal` the writer thread holds: configuration, metrics and the locked state.
final class JournalShared: Sendable {
    /// Largest chunk the appenders build before starting another (one `write(2)` each).
    static let batchBytesMax = 8 << 20

    /// The segment directory.
    let journalDirectory: String
    /// When to fdatasync.
    let policy: FsyncPolicy
    /// Rotation threshold.
    let segmentBytesMax: Int64
    /// Zero-fill step of the active segment (0: no preallocation).
    let preallocateBytes: Int64
    /// Prepares the next segment, if the journal was opened with `prepareSegments`.
    let preparer: SegmentPreparer?
    /// Shared state.
    let state: Mutex<JournalState>
    /// The durability waiters (a lock of its own, taken by `waitDurable` and by the writer after each batch).
    let waiting: Mutex<WaiterState>
    /// The last LSN given to an append, stored under the lock: the writer polls it, without taking the
    /// lock, while it waits briefly for the next append (`JournalWriter.spinNanos`).
    let appendedLSN: Atomic<UInt64>
    /// `WaiterState.durableLSN`, also published without the lock, for a lone waiter that spins (`spinUntilDurable`).
    let publishedDurableLSN: Atomic<UInt64>
    /// The writer's typical time from taking a batch to its records being durable (a moving average, nanoseconds;
    /// 0 until the first batch): how long a lone waiter spins, and whether it spins at all.
    let typicalBatchNanos = Atomic<UInt64>(0)
    /// `WaiterState.waiters.count`, published for `spinUntilDurable`: a waiter spins only when no other is suspended.
    let suspendedWaiters = Atomic<Int>(0)
    /// Records in the writer's last batch: a waiter spins only after a batch of one (a lone caller).
    let lastBatchRecords = Atomic<Int>(0)
    /// Set while a waiter spins: at most one does.
    let waiterSpinning = Atomic<Bool>(false)
    /// When a lone waiter spins.
    let loneWaiterSpin: LoneWaiterSpin
    /// Waits a spin satisfied (`Journal.spunWaits`).
    let spunWaits = Atomic<Int>(0)
    /// Resumes the waiters of batches that satisfy several (see `JournalWriter.resume`).
    let relay = WaiterRelay()
    /// Wakes the writer (a counting semaphore, so a signal sent before it waits is not lost).
    let wakeup = DispatchSemaphore(value: 0)
    /// Writer errors go here.
    let logger: Logger
    /// `hygge_journal_fsync_seconds`: each fdatasync's duration.
    let fsyncTimer: Metrics.Timer
    /// `hygge_journal_batch_records`: records per written batch.
    let batchRecorder: Recorder

    /// Creates the shared state for a journal positioned at `nextLSN`.
    init(
        journalDirectory: String,
        policy: FsyncPolicy,
        segmentBytesMax: Int64,
        preallocateBytes: Int64,
        preparer: SegmentPreparer?,
        nextLSN: UInt64,
        segmentFirstLSN: UInt64,
        segmentBytes: Int64,
        segmentRecords: Int,
        loneWaiterSpin: LoneWaiterSpin,
        logger: Logger
    ) {
        self.journalDirectory = journalDirectory
        self.policy = policy
        self.segmentBytesMax = segmentBytesMax
        self.preallocateBytes = preallocateBytes
        self.preparer = preparer
        self.loneWaiterSpin = loneWaiterSpin
        self.logger = logger
        self.appendedLSN = Atomic(nextLSN - 1)
        self.publishedDurableLSN = Atomic(nextLSN - 1)
        self.waiting = Mutex(WaiterState(durableLSN: nextLSN - 1))
        self.fsyncTimer = Metrics.Timer(label: "hygge_journal_fsync_seconds")
        self.batchRecorder = Recorder(label: "hygge_journal_batch_records", aggregate: true)
        self.state = Mutex(
            JournalState(
                nextLSN: nextLSN,
                writtenLSN: nextLSN - 1,
                segmentFirstLSN: segmentFirstLSN,
                segmentBytes: segmentBytes,
                segmentRecords: segmentRecords,
                activeSegmentFirstLSN: segmentFirstLSN
            )
        )
    }

    /// See `Journal.append`.
    func append(_ payload: [UInt8]) throws(JournalError) -> UInt64 {
        guard payload.count <= JournalFormat.maxPayloadBytes else {
            throw JournalError.io(operation: "append", errno: EMSGSIZE)
        }
        let frameBytes = Int64(JournalFormat.frameHeaderSize + payload.count)
        let (lsn, wake) = try self.state.withLock { state throws(JournalError) -> (UInt64, Bool) in
            if let error = state.error { throw error }
            if state.closing { throw JournalError.closed }
            let lsn = state.nextLSN
            state.nextLSN += 1
            self.appendedLSN.store(lsn, ordering: .releasing)
            if state.segmentRecords > 0, state.segmentBytes + frameBytes > self.segmentBytesMax {
                state.sealTail()
                state.queue.append(.newSegment(firstLSN: lsn))
                state.segmentFirstLSN = lsn
                state.segmentBytes = Int64(JournalFormat.segmentHeaderSize)
                state.segmentRecords = 0
            }
            if let tail = state.tail, tail.count > 0,
                tail.bytes.count + Int(frameBytes) > JournalShared.batchBytesMax
            {
                state.sealTail()
            }
            state.appendToTail(lsn: lsn, payload: payload)
            state.segmentBytes += frameBytes
            state.segmentRecords += 1
            guard state.writerIdle,
                state.gatherTarget == 0 || !state.queue.isEmpty || (state.tail?.count ?? 0) >= state.gatherTarget
            else { return (lsn, false) }
            state.writerIdle = false
            return (lsn, true)
        }
        if wake { self.wakeup.signal() }
        return lsn
    }

    /// Runs `body` under the waiters' lock, then publishes how many waiters it left suspended (`suspendedWaiters`):
    /// every change to the waiters goes through here, so the published count follows them.
    func withWaiters<Result: Sendable>(_ body: (inout WaiterState) -> Result) -> Result {
        self.waiting.withLock { waiting in
            defer { self.suspendedWaiters.store(waiting.waiters.count, ordering: .relaxed) }
            return body(&waiting)
        }
    }

    /// See `Journal.waitDurable`. `@concurrent`: the spin below must never run on the caller's actor.
    @concurrent
    func waitDurable(_ lsn: UInt64) async throws {
        if self.spinUntilDurable(lsn) { return }
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            let outcome: Result<Void, JournalError>? = self.withWaiters { state in
                if let error = state.error { return .failure(error) }
                if lsn <= state.durableLSN { return .success(()) }
                if state.writerExited { return .failure(.closed) }
                state.waiters.append(DurabilityWaiter(lsn: lsn, continuation: continuation))
                state.suspensions += 1
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    /// A lone waiter on a fast disk polls for its record to become durable, for about two batches' time, instead of
    /// suspending: resuming a suspended task from the writer thread wakes a sleeping pool thread, which on the
    /// benchmark VM cost about 5 µs of a 45 µs write-and-fdatasync cycle (BENCHMARKS-journal.md, eighth session) — the
    /// gap between one writer and the disk's own one-fdatasync-per-record rate. Only under `always`, and only while
    /// the caller is alone: the last batch held one record, no other waiter is suspended and no record was appended
    /// after its own. Concurrent callers share fdatasyncs and need the pool thread: a spinner among them appended
    /// alone right after each batch and split the next one (3–4 % fewer appends/s at 4 and 16 writers under `always`,
    /// 17 % at 4 under `no`, before the batch and policy conditions). Only one waiter spins at a time, and it runs on
    /// the global pool (`@concurrent`), never on an actor or an event loop. Returns true if `lsn` became durable while
    /// spinning; false to wait by suspending (which also reports errors).
    private func spinUntilDurable(_ lsn: UInt64) -> Bool {
        let typical = self.typicalBatchNanos.load(ordering: .relaxed)
        guard self.policy == .always, typical > 0, typical <= self.loneWaiterSpin.batchNanosMax,
            self.lastBatchRecords.load(ordering: .relaxed) <= 1,
            self.publishedDurableLSN.load(ordering: .acquiring) < lsn,
            self.appendedLSN.load(ordering: .acquiring) == lsn, self.suspendedWaiters.load(ordering: .relaxed) == 0,
            self.waiterSpinning.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return false }
        defer { self.waiterSpinning.store(false, ordering: .releasing) }
        let deadline = DispatchTime.now().uptimeNanoseconds
            &+ self.loneWaiterSpin.spinNanos(typicalBatchNanos: typical)
        while true {
            if self.publishedDurableLSN.load(ordering: .acquiring) >= lsn {
                self.spunWaits.add(1, ordering: .relaxed)
                return true
            }
            if self.appendedLSN.load(ordering: .acquiring) != lsn || self.suspendedWaiters.load(ordering: .relaxed) > 0 {
                return false
            }
            if DispatchTime.now().uptimeNanoseconds >= deadline { return false }
            sched_yield()
        }
    }

    /// See `Journal.rotate`.
    func rotate() async throws(JournalError) {
        // Seals the segment being filled and queues the new one; the target is the segment the writer must reach.
        let target = try self.state.withLock { state throws(JournalError) -> UInt64? in
            if let error = state.error { throw error }
            if state.closing { throw JournalError.closed }
            if state.segmentRecords > 0 {
                let first = state.nextLSN
                state.sealTail()
                state.queue.append(.newSegment(firstLSN: first))
                state.segmentFirstLSN = first
                state.segmentBytes = Int64(JournalFormat.segmentHeaderSize)
                state.segmentRecords = 0
            }
            return state.activeSegmentFirstLSN >= state.segmentFirstLSN ? nil : state.segmentFirstLSN
        }
        guard let target else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let outcome = self.state.withLock { state -> (ready: Bool, wake: Bool) in
                // The writer may have got there, failed or exited since the lock was last released.
                if state.activeSegmentFirstLSN >= target || state.error != nil || state.writerExited {
                    return (true, false)
                }
                state.rotationWaiters.append(RotationWaiter(firstLSN: target, continuation: continuation))
                let wake = state.writerIdle
                state.writerIdle = false
                return (false, wake)
            }
            if outcome.ready { continuation.resume() }
            if outcome.wake { self.wakeup.signal() }
        }
        try self.state.withLock { state throws(JournalError) in
            if let error = state.error { throw error }
            if state.activeSegmentFirstLSN < target { throw JournalError.closed }
        }
    }

    /// See `Journal.deleteSegments(coveredBy:)`.
    func deleteSegments(coveredBy lsn: UInt64) throws(JournalError) -> Int {
        let active = self.state.withLock { $0.activeSegmentFirstLSN }
        do {
            let files = try JournalFormat.listSegments(journalDirectory: self.journalDirectory)
            var deleted = 0
            for (index, file) in files.enumerated() where index + 1 < files.count {
                let next = files[index + 1]
                // Every record in `file` is below the next segment's first LSN.
                guard file.firstLSN < active, next.firstLSN <= active, next.firstLSN - 1 <= lsn else { break }
                try FileSystem.removeFile(file.path)
                deleted += 1
            }
            if deleted > 0 { try FileSystem.fsyncDirectory(self.journalDirectory) }
            return deleted
        } catch {
            throw JournalError(error)
        }
    }

    /// Asks the writer to drain and stop, without waiting.
    func requestClose() {
        let wake = self.state.withLock { state -> Bool in
            if state.writerExited || state.closing { return false }
            state.closing = true
            return true
        }
        if wake { self.wakeup.signal() }
    }

    /// See `Journal.close`.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let exited = self.state.withLock { state -> Bool in
                if state.writerExited { return true }
                state.closing = true
                state.closeWaiters.append(continuation)
                return false
            }
            if exited {
                continuation.resume()
            } else {
                self.wakeup.signal()
            }
        }
    }
}
