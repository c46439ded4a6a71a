import Dispatch
import Foundation
import Logging
import Metrics
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The journal's writer thread: owns the active segment's descriptor and performs every write,
/// fdatasync and segment rotation. State it shares with appenders lives in `JournalShared`.
final class JournalWriter {
    /// What the writer does next.
    private enum Step {
        case item(WriterItem)
        /// Wait (at most until the deadline) for more records to join the tail before writing it.
        case gather(deadline: UInt64)
        /// Poll again shortly instead of sleeping: an append is likely to arrive within microseconds.
        case spin
        case idle
        case exit
    }

    /// Nanoseconds between fdatasyncs under `everysec`.
    private static let everysecInterval: UInt64 = 1_000_000_000
    /// How long the writer keeps polling for the next append after a write before it sleeps on its
    /// semaphore. A caller resumed by the last fdatasync usually appends again within a few
    /// microseconds; catching that append without a futex sleep and wake-up is what lets a single
    /// writer get close to the disk's own one-fdatasync-per-record rate.
    private static let spinNanos: UInt64 = 30_000
    /// Upper bound of the group-commit gather delay under `always` (see `gatherDeadline`).
    private static let gatherMaxNanos: UInt64 = 250_000
    /// The writer gathers only while fdatasyncs typically take at least this long (see
    /// `gatherDeadline`).
    static let gatherMinSyncNanos: UInt64 = 150_000

    private let shared: JournalShared
    private var fd: Int32
    private var segmentFirstLSN: UInt64
    /// Offset in the active segment where the next record goes (the end of the valid records).
    private var dataEnd: Int64
    /// The active segment's size: bytes from `dataEnd` up to here are zeros that the writer wrote
    /// (preallocated), so an fdatasync of records written there changes no file size.
    private var zeroedEnd: Int64
    /// Written but not yet fdatasync'ed data exists (everysec / no).
    private var unsynced = false
    /// When the last fdatasync finished (DispatchTime uptime nanoseconds).
    private var lastSyncNanos: UInt64
    /// How long the last fdatasync took.
    private var lastSyncDuration: UInt64 = 0
    /// A moving average of the fdatasync durations (weight 1/8 for the newest): how fast the disk
    /// flushes, without the occasional slow flush of a fast disk.
    private var typicalSyncDuration: UInt64 = 0
    /// Durability waiters the last write resumed: how many callers are likely to append again now.
    private var resumedLast = 0
    /// When the writer began gathering records for the current tail (nil: not gathering).
    private var gatherStart: UInt64?
    /// When the writer ran out of work (nil: it has work); bounds the spin before sleeping.
    private var spinStart: UInt64?
    /// `JournalShared.appendedLSN` when the writer last found nothing to do: while it spins, a change means an append.
    private var spinSeenLSN: UInt64 = 0
    /// The waiters the current batch satisfies (reused, so that taking them allocates nothing).
    private var satisfied: [DurabilityWaiter] = []
    /// Bytes of records this writer has written to segments, for the preparer's pace.
    private var written: Int64 = 0
    /// The value of `written` at which the preparer is next told how far the writer has got.
    private var nextAdvance: Int64 = 0

    private init(shared: JournalShared, fd: Int32, segmentFirstLSN: UInt64, dataEnd: Int64, fileSize: Int64) {
        self.shared = shared
        self.fd = fd
        self.segmentFirstLSN = segmentFirstLSN
        self.dataEnd = dataEnd
        self.zeroedEnd = max(fileSize, dataEnd)
        self.lastSyncNanos = DispatchTime.now().uptimeNanoseconds
    }

    /// Starts the writer thread for `shared`, writing to `fd`, positioned at `dataEnd` (the end of
    /// the segment's valid records); everything from there to `fileSize` must be zeros.
    static func start(shared: JournalShared, fd: Int32, segmentFirstLSN: UInt64, dataEnd: Int64, fileSize: Int64) {
        let thread = Thread {
            let writer = JournalWriter(
                shared: shared, fd: fd, segmentFirstLSN: segmentFirstLSN, dataEnd: dataEnd, fileSize: fileSize)
            writer.run()
        }
        thread.name = "hygge-journal-writer"
        thread.start()
    }

    /// Creates `journalDirectory/<firstLSN>.wal` with its header, fsyncs it and the directory,
    /// and returns its descriptor positioned after the header.
    static func createSegment(journalDirectory: String, firstLSN: UInt64) throws(SystemError) -> Int32 {
        let path = journalDirectory + "/" + JournalFormat.segmentName(firstLSN: firstLSN)
        let fd = try FileSystem.openFile(path, flags: O_WRONLY | O_CREAT | O_EXCL)
        do {
            try FileSystem.writeAll(fd, JournalFormat.segmentHeader(firstLSN: firstLSN), what: path)
            try FileSystem.fullSync(fd, what: path)
            try FileSystem.fsyncDirectory(journalDirectory)
        } catch {
            FileSystem.closeFile(fd)
            throw error
        }
        return fd
    }

    /// Starts the segment at `firstLSN` and returns its descriptor, positioned after the header, and the file's
    /// size: the prepared file if `preparer` has one ready (the header written over its first zeros and
    /// fdatasync'ed — the size does not change — then renamed to the segment's name and the directory fsynced),
    /// else a new file from `createSegment`.
    static func startSegment(
        journalDirectory: String, firstLSN: UInt64, preparer: SegmentPreparer?
    ) throws(SystemError) -> (fd: Int32, fileSize: Int64) {
        guard let preparer, let prepared = preparer.take() else {
            let fd = try JournalWriter.createSegment(journalDirectory: journalDirectory, firstLSN: firstLSN)
            return (fd, Int64(JournalFormat.segmentHeaderSize))
        }
        let name = JournalFormat.segmentName(firstLSN: firstLSN)
        do {
            try FileSystem.writeAll(prepared.fd, JournalFormat.segmentHeader(firstLSN: firstLSN), what: name)
            try FileSystem.dataSync(prepared.fd, what: name)
            try FileSystem.renameFile(preparer.path, journalDirectory + "/" + name)
            try FileSystem.fsyncDirectory(journalDirectory)
        } catch {
            FileSystem.closeFile(prepared.fd)
            throw error
        }
        return (prepared.fd, prepared.bytes)
    }

    private func run() {
        self.satisfied.reserveCapacity(256)
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            let spinning = self.spinStart.map { now &- $0 < JournalWriter.spinNanos } ?? false
            // Spinning: poll the last appended LSN rather than take the lock, which the appenders need.
            // Rotation and close are noticed when the spin ends.
            if spinning, self.shared.appendedLSN.load(ordering: .acquiring) == self.spinSeenLSN {
                sched_yield()
                continue
            }
            let step = self.shared.state.withLock { state -> Step in
                state.writerIdle = false
                state.gatherTarget = 0
                if state.error != nil {
                    state.queue.removeAll()
                    state.tail = nil
                    if state.closing { return .exit }
                    state.writerIdle = true
                    return .idle
                }
                if !state.queue.isEmpty { return .item(state.queue.removeFirst()) }
                if let tail = state.tail {
                    if !state.closing, let deadline = self.gatherDeadline(for: tail, now: now) {
                        state.gatherTarget = self.resumedLast
                        state.writerIdle = true
                        return .gather(deadline: deadline)
                    }
                    state.tail = nil
                    return .item(.records(tail))
                }
                if state.closing { return .exit }
                if spinning {
                    self.spinSeenLSN = state.nextLSN - 1
                    return .spin
                }
                state.writerIdle = true
                return .idle
            }
            switch consume step {
            case .item(.records(let chunk)):
                self.gatherStart = nil
                self.spinStart = nil
                // `consume`: the chunk's buffer must be uniquely referenced when `write` recycles it.
                self.write(consume chunk)
                self.spinStart = DispatchTime.now().uptimeNanoseconds
            case .item(.newSegment(let firstLSN)):
                self.startSegment(firstLSN: firstLSN)
            case .gather(let deadline):
                _ = self.shared.wakeup.wait(timeout: DispatchTime(uptimeNanoseconds: deadline))
            case .spin:
                continue
            case .idle:
                self.spinStart = nil
                self.waitForWork()
            case .exit:
                self.finish()
                return
            }
        }
    }

    /// Group commit under `always` on a slow disk: when the last fdatasync resumed several
    /// callers, they are likely to append again right away, and a write now would take only the
    /// first of them — the rest would wait a whole extra fdatasync. So the writer waits until as
    /// many records have joined the tail as callers were resumed, but never longer than half the
    /// last fdatasync's duration (capped at `gatherMaxNanos`): at worst that adds half an
    /// fdatasync to the latency, at best it halves the number of fdatasyncs. A single caller never
    /// waits (the way PostgreSQL's `commit_delay` applies only with `commit_siblings` active).
    ///
    /// Only while fdatasyncs typically take `gatherMinSyncNanos` or longer: when a flush takes tens
    /// of microseconds, the callers resumed by one fdatasync append while the next one runs, so
    /// batches form without waiting; a wait would only leave the disk idle, and on the virtual
    /// disk measured (BENCHMARKS-journal.md, 2026-12-07) an idle gap of 70 µs before a flush made
    /// the flush itself about eight times slower. Returns the deadline, or nil to write the tail
    /// now.
    private func gatherDeadline(for tail: PendingChunk, now: UInt64) -> UInt64? {
        guard self.shared.policy == .always, self.typicalSyncDuration >= JournalWriter.gatherMinSyncNanos,
            self.resumedLast >= 4, tail.count < self.resumedLast,
            tail.bytes.count < JournalShared.batchBytesMax / 2
        else { return nil }
        let start = self.gatherStart ?? now
        self.gatherStart = start
        let deadline = start &+ min(JournalWriter.gatherMaxNanos, self.lastSyncDuration / 2)
        return now < deadline ? deadline : nil
    }

    /// Blocks until signalled; under `everysec` with unsynced data, at most until the next
    /// fdatasync is due, and performs it then.
    private func waitForWork() {
        guard self.shared.policy == .everysec, self.unsynced else {
            self.shared.wakeup.wait()
            return
        }
        let deadline = DispatchTime(uptimeNanoseconds: self.lastSyncNanos + JournalWriter.everysecInterval)
        if self.shared.wakeup.wait(timeout: deadline) == .timedOut {
            do {
                try self.sync()
            } catch {
                self.fail(JournalError(error))
            }
        }
    }

    /// Zero-fills the active segment ahead of the records (PostgreSQL does the same with its WAL
    /// files): when the next `bytes` would not leave at least a frame header's worth of zeros before
    /// the end of the file, writes zeros from the current end to `preallocateBytes` past the records
    /// (capped at the segment size limit). The fdatasync that follows commits the new size once;
    /// the fdatasyncs of the next megabyte of records then write data only — on a growing file
    /// every fdatasync also persists the size change (an ext4 journal commit, or on ext4 without a
    /// journal, as on the benchmark VM, a synchronous inode write). The zeros are
    /// written, not `fallocate`d: unwritten extents would make each first write to them a metadata
    /// change again. The reader treats all-zero space after the last record as the end of the log.
    private func preallocate(for bytes: Int) throws(SystemError) {
        let needed = self.dataEnd + Int64(bytes) + Int64(JournalFormat.frameHeaderSize)
        guard self.shared.preallocateBytes > 0, needed > self.zeroedEnd else { return }
        let target = max(needed, min(needed + self.shared.preallocateBytes, self.shared.segmentBytesMax))
        try FileSystem.writeZeros(
            self.fd, at: self.zeroedEnd, count: target - self.zeroedEnd,
            what: JournalFormat.segmentName(firstLSN: self.segmentFirstLSN))
        self.zeroedEnd = target
    }

    /// Cuts the preallocated zeros off the active segment (before it is closed) and fsyncs it, so a
    /// closed segment ends at its last record.
    private func trimAndSync() throws(SystemError) {
        let name = JournalFormat.segmentName(firstLSN: self.segmentFirstLSN)
        if self.zeroedEnd > self.dataEnd {
            try FileSystem.truncate(self.fd, length: self.dataEnd, what: name)
            self.zeroedEnd = self.dataEnd
            try FileSystem.fullSync(self.fd, what: name)
            self.lastSyncNanos = DispatchTime.now().uptimeNanoseconds
            self.unsynced = false
            self.shared.state.withLock { $0.fsyncCount += 1 }
        } else {
            try self.sync()
        }
    }

    /// fdatasyncs the active segment, timing it and counting it.
    private func sync() throws(SystemError) {
        let start = DispatchTime.now().uptimeNanoseconds
        try FileSystem.dataSync(self.fd, what: JournalFormat.segmentName(firstLSN: self.segmentFirstLSN))
        let end = DispatchTime.now().uptimeNanoseconds
        self.shared.fsyncTimer.recordNanoseconds(Int64(end &- start))
        self.lastSyncDuration = end &- start
        self.typicalSyncDuration = (self.typicalSyncDuration * 7 + self.lastSyncDuration) / 8
        self.lastSyncNanos = end
        self.unsynced = false
        self.shared.state.withLock { state in
            state.fsyncCount += 1
            state.fsyncNanoseconds += end &- start
        }
    }

    /// Writes one chunk, makes it durable per the policy, and resumes the waiters it satisfies.
    private func write(_ chunk: consuming PendingChunk) {
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            try self.preallocate(for: chunk.bytes.count)
            try FileSystem.writeAll(
                self.fd, chunk.bytes, what: JournalFormat.segmentName(firstLSN: self.segmentFirstLSN)
            )
            self.dataEnd += Int64(chunk.bytes.count)
            self.unsynced = true
            self.written += Int64(chunk.bytes.count)
            if let preparer = self.shared.preparer, self.written >= self.nextAdvance {
                preparer.advance(written: self.written)
                self.nextAdvance = self.written + SegmentPreparer.pieceBytes / 4
            }
            switch self.shared.policy {
            case .always:
                try self.sync()
            case .everysec:
                if DispatchTime.now().uptimeNanoseconds &- self.lastSyncNanos >= JournalWriter.everysecInterval {
                    try self.sync()
                }
            case .no:
                break
            }
        } catch {
            self.fail(JournalError(error))
            return
        }
        self.shared.batchRecorder.record(chunk.count)
        // Moved out, so that the buffer is emptied in place: while `chunk` still referenced it,
        // `removeAll(keepingCapacity:)` allocated a new buffer of the same capacity (megabytes under
        // load) for every batch.
        var buffer: [UInt8] = []
        swap(&buffer, &chunk.bytes)
        buffer.removeAll(keepingCapacity: true)
        self.shared.state.withLock { state in
            state.writtenLSN = chunk.lastLSN
            if state.spare.capacity < buffer.capacity { swap(&state.spare, &buffer) }
        }
        self.shared.withWaiters { waiting in
            waiting.durableLSN = chunk.lastLSN
            self.shared.publishedDurableLSN.store(chunk.lastLSN, ordering: .releasing)
            waiting.takeSatisfiedWaiters(into: &self.satisfied)
        }
        self.shared.lastBatchRecords.store(chunk.count, ordering: .relaxed)
        let typical = self.shared.typicalBatchNanos.load(ordering: .relaxed)
        let took = DispatchTime.now().uptimeNanoseconds &- start
        self.shared.typicalBatchNanos.store(typical == 0 ? took : (typical * 7 + took) / 8, ordering: .relaxed)
        self.resumedLast = self.satisfied.count
        self.resume()
    }

    /// Resumes the waiters in `satisfied` (`WaiterRelay.resume`) and empties it.
    private func resume() {
        self.shared.relay.resume(self.satisfied)
        self.satisfied.removeAll(keepingCapacity: true)
    }

    /// Finishes the active segment (fdatasync, close) and starts the one at `firstLSN`.
    private func startSegment(firstLSN: UInt64) {
        do {
            try self.trimAndSync()
            FileSystem.closeFile(self.fd)
            self.fd = -1
            self.shared.preparer?.segmentClosed(bytes: self.dataEnd)
            (self.fd, self.zeroedEnd) = try JournalWriter.startSegment(
                journalDirectory: self.shared.journalDirectory, firstLSN: firstLSN, preparer: self.shared.preparer)
            self.segmentFirstLSN = firstLSN
            self.dataEnd = Int64(JournalFormat.segmentHeaderSize)
        } catch {
            self.fail(JournalError(error))
            return
        }
        let ready = self.shared.state.withLock { state -> [RotationWaiter] in
            state.activeSegmentFirstLSN = firstLSN
            let ready = state.rotationWaiters.filter { $0.firstLSN <= firstLSN }
            state.rotationWaiters.removeAll { $0.firstLSN <= firstLSN }
            return ready
        }
        for waiter in ready { waiter.continuation.resume() }
    }

    /// Records a sticky error, drops pending work, and fails every waiter.
    private func fail(_ error: JournalError) {
        self.shared.logger.error("journal writer failed; the journal is now read-only", metadata: ["error": "\(error)"])
        let rotations = self.shared.state.withLock { state -> [RotationWaiter] in
            if state.error == nil { state.error = error }
            state.queue.removeAll()
            state.tail = nil
            defer { state.rotationWaiters = [] }
            return state.rotationWaiters
        }
        let waiters = self.shared.withWaiters { waiting -> [DurabilityWaiter] in
            if waiting.error == nil { waiting.error = error }
            defer { waiting.waiters = [] }
            return waiting.waiters
        }
        for waiter in waiters { waiter.continuation.resume(throwing: error) }
        for rotation in rotations { rotation.continuation.resume() }
    }

    /// Close: final fdatasync (whatever the policy), close the descriptor, release everyone.
    private func finish() {
        self.shared.preparer?.stop()
        let failed = self.shared.state.withLock { $0.error != nil }
        if !failed, self.fd >= 0 {
            do {
                try self.trimAndSync()
            } catch {
                self.fail(JournalError(error))
            }
        }
        if self.fd >= 0 {
            FileSystem.closeFile(self.fd)
            self.fd = -1
        }
        let (waiters, error) = self.shared.withWaiters { waiting -> ([DurabilityWaiter], JournalError) in
            waiting.writerExited = true
            waiting.takeSatisfiedWaiters(into: &self.satisfied)
            defer { waiting.waiters = [] }
            return (waiting.waiters, waiting.error ?? .closed)
        }
        let (rotations, closers) = self.shared.state.withLock {
            state -> ([RotationWaiter], [CheckedContinuation<Void, Never>]) in
            state.writerExited = true
            defer {
                state.rotationWaiters = []
                state.closeWaiters = []
            }
            return (state.rotationWaiters, state.closeWaiters)
        }
        for waiter in self.satisfied { waiter.continuation.resume() }
        self.satisfied.removeAll()
        self.shared.relay.stop()
        for waiter in waiters { waiter.continuation.resume(throwing: error) }
        for rotation in rotations { rotation.continuation.resume() }
        for closer in closers { closer.resume() }
    }
}
