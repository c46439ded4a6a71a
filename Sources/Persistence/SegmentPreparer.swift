import Dispatch
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Prepares the journal's next segment off the writer's path: a file of `segmentBytesMax` zeros, written and fsynced
/// on its own thread while the active segment fills, that the writer renames into place at the next rotation
/// (PostgreSQL keeps WAL files ready ahead of its writer for the same reason).
///
/// A segment the writer zero-fills itself (`JournalWriter.preallocate`) costs a megabyte of zeros in one of its
/// fdatasyncs every few thousand records, and every caller waiting on that fdatasync waits for the zeros too: with 64
/// writers that cost about a fifth of the rate and most of the p99 (BENCHMARKS-journal.md, 2026-12-07, sixth
/// session). The zeros written here are flushed by this thread's own fdatasyncs, a quarter megabyte at a time, on
/// another file, so the writer's fdatasyncs carry records only.
///
/// Two things keep the zeros from costing the writer anyway:
/// - **Pace.** Zeros written as fast as the disk takes them slowed the writer's fdatasyncs as much as writing them
///   itself did, so the thread writes at most twice as many bytes of zeros as the writer has written records since
///   the file was begun (plus one piece ahead).
/// - **Size.** Segments usually end at a snapshot's rotation, long before `segmentBytesMax`, and zeros past a
///   segment's end are cut off unused. The file is sized to 5/4 of the last segment the writer closed (at most
///   `segmentBytesMax`, at least one piece); a segment that outgrows it is zero-filled further by the writer, as
///   before.
///
/// Files in the journal directory: `next-segment.zeros.tmp` while it is written (deleted on open: a crash may have
/// cut it short), renamed to `next-segment.zeros` once it is complete and durable. Only zeros are ever written to
/// either name before the writer takes the file (it then writes the segment header and renames it to the segment's
/// name), so a `next-segment.zeros` left by a crash can be used as it is if it is no larger than `segmentBytesMax`;
/// a larger one is deleted. Neither name is a segment name, so scans, `journal verify` and segment deletion never see them.
final class SegmentPreparer: Sendable {
    static let fileName = "next-segment.zeros"
    /// Zeros written (and fdatasync'ed) per step: small enough that no single flush of the disk is long.
    static let pieceBytes: Int64 = 256 << 10

    /// The journal directory.
    let journalDirectory: String
    /// `next-segment.zeros`: a complete, durable file of zeros.
    let path: String
    /// Where the file is written before it is complete.
    let temporaryPath: String
    /// The largest file: the journal's `segmentBytesMax`.
    let bytesMax: Int64
    let logger: Logger

    private struct State {
        /// `path` holds a complete file of zeros of this size that nobody has taken.
        var ready: Int64?
        /// The size of the file the thread is writing (or about to start), nil when it is not preparing one.
        var preparing: Int64?
        /// The writer's `written` count when that file was begun.
        var begunAt: Int64 = 0
        /// How far the thread may zero-fill the temporary file now (`advance`).
        var allowed: Int64 = 0
        /// The data size of the last segment the writer closed (`segmentClosed`); the next file's size follows it.
        var lastSegmentBytes: Int64
        /// Preparing failed since the active segment started: not retried until the next one.
        var failed = false
        var threadStarted = false
        var stopping = false
        /// Files taken by the writer (for tests and the benchmark).
        var taken = 0
    }

    private let state: Mutex<State>
    private let wakeup = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)

    /// Cleans up after the previous process: deletes a partly written file and a finished one larger than
    /// `bytesMax`, and keeps a finished one otherwise.
    init(journalDirectory: String, bytesMax: Int64, logger: Logger) {
        self.journalDirectory = journalDirectory
        self.path = journalDirectory + "/" + SegmentPreparer.fileName
        self.temporaryPath = self.path + ".tmp"
        self.bytesMax = bytesMax
        self.logger = logger
        try? FileSystem.removeFile(self.temporaryPath)
        var ready: Int64?
        if let size = try? FileSystem.fileSize(self.path) {
            if size >= Int64(JournalFormat.segmentHeaderSize), size <= bytesMax {
                ready = size
            } else {
                try? FileSystem.removeFile(self.path)
            }
        }
        self.state = Mutex(State(ready: ready, lastSegmentBytes: bytesMax))
    }

    /// How many prepared files the writer has taken.
    var taken: Int { self.state.withLock { $0.taken } }

    /// Called by the writer as it writes: `written` counts every byte it has written so far (in any segment).
    /// Starts preparing a file if none is ready or under way (starting the thread the first time), and lets the
    /// thread zero-fill twice the bytes written since the file was begun, plus a piece. Never blocks on I/O.
    func advance(written: Int64) {
        let (start, wake) = self.state.withLock { state -> (Bool, Bool) in
            guard state.ready == nil, !state.failed, !state.stopping else { return (false, false) }
            let size: Int64
            if let preparing = state.preparing {
                size = preparing
            } else {
                size = self.fileBytes(after: state.lastSegmentBytes)
                state.preparing = size
                state.begunAt = written
                state.allowed = 0
            }
            let allowed = min(size, 2 * (written - state.begunAt) + SegmentPreparer.pieceBytes)
            guard allowed > state.allowed else { return (false, false) }
            state.allowed = allowed
            let start = !state.threadStarted
            state.threadStarted = true
            return (start, true)
        }
        if start {
            let thread = Thread { [self] in self.run() }
            thread.name = "hygge-journal-preparer"
            thread.start()
        }
        if wake { self.wakeup.signal() }
    }

    /// Called by the writer when it closes a segment holding `bytes` (header and records): the next file is sized
    /// after it, and a failure to prepare is retried from here on.
    func segmentClosed(bytes: Int64) {
        let wake = self.state.withLock { state -> Bool in
            state.lastSegmentBytes = bytes
            state.failed = false
            // A file under way that is larger than this segment suggests is cut to the new size (or to what it
            // already holds, if more: the thread then finishes it at once).
            guard let preparing = state.preparing, self.fileBytes(after: bytes) < preparing else { return false }
            state.preparing = self.fileBytes(after: bytes)
            return state.threadStarted
        }
        if wake { self.wakeup.signal() }
    }

    /// The size of a file prepared after a segment of `segmentBytes`: 5/4 of it in whole pieces, at most `bytesMax`.
    func fileBytes(after segmentBytes: Int64) -> Int64 {
        let pieces = (segmentBytes + segmentBytes / 4 + SegmentPreparer.pieceBytes - 1) / SegmentPreparer.pieceBytes
        return min(self.bytesMax, max(1, pieces) * SegmentPreparer.pieceBytes)
    }

    /// The prepared file opened for writing at offset 0, and its size, if one is ready; it is the caller's from then
    /// on (nil: none is ready, or it could not be opened and the caller creates a segment itself).
    func take() -> (fd: Int32, bytes: Int64)? {
        let ready = self.state.withLock { state -> Int64? in
            defer { state.ready = nil }
            return state.ready
        }
        guard let ready else { return nil }
        do {
            let fd = try FileSystem.openFile(self.path, flags: O_WRONLY)
            self.state.withLock { $0.taken += 1 }
            return (fd, ready)
        } catch {
            self.logger.warning("journal: cannot open the prepared segment", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Stops the thread after the piece it is on (a partly written file is deleted) and waits for it to exit.
    func stop() {
        let started = self.state.withLock { state -> Bool in
            state.stopping = true
            return state.threadStarted
        }
        guard started else { return }
        self.wakeup.signal()
        self.exited.wait()
    }

    /// The temporary file being written and how many zeros it holds.
    private struct Progress {
        var fd: Int32
        var zeroed: Int64
    }

    private func run() {
        var progress: Progress?
        while true {
            self.wakeup.wait()
            while true {
                let (stop, size, allowed) = self.state.withLock { state -> (Bool, Int64, Int64) in
                    (state.stopping, state.preparing ?? 0, state.allowed)
                }
                if stop { break }
                let zeroed = progress?.zeroed ?? 0
                guard size > 0, allowed > zeroed || (progress != nil && zeroed >= size) else { break }
                do throws(SystemError) {
                    if progress == nil {
                        progress = Progress(
                            fd: try FileSystem.openFile(self.temporaryPath, flags: O_WRONLY | O_CREAT | O_TRUNC), zeroed: 0)
                    }
                    if let finished = try self.step(&progress!, upTo: allowed, size: size) {
                        progress = nil
                        self.state.withLock { state in
                            state.preparing = nil
                            state.ready = finished
                        }
                    }
                } catch {
                    self.logger.warning("journal: preparing the next segment failed", metadata: ["error": "\(error)"])
                    self.abandon(&progress)
                    // Not retried for this segment: the writer creates the next one itself.
                    self.state.withLock { state in
                        state.preparing = nil
                        state.failed = true
                    }
                    break
                }
            }
            if self.state.withLock({ $0.stopping }) { break }
        }
        self.abandon(&progress)
        self.exited.signal()
    }

    /// Writes and fdatasyncs the next piece of zeros (not past `allowed`); once the file holds `size` (or more: the
    /// size can shrink while the file is written), fsyncs it, renames it to `path` and fsyncs the directory, and
    /// returns the file's size (nil: not finished yet).
    private func step(_ progress: inout Progress, upTo allowed: Int64, size: Int64) throws(SystemError) -> Int64? {
        let name = SegmentPreparer.fileName
        let count = min(SegmentPreparer.pieceBytes, allowed - progress.zeroed, size - progress.zeroed)
        if count > 0 {
            try FileSystem.writeZeros(progress.fd, at: progress.zeroed, count: count, what: name)
            try FileSystem.dataSync(progress.fd, what: name)
            progress.zeroed += count
        }
        guard progress.zeroed >= size else { return nil }
        try FileSystem.fullSync(progress.fd, what: name)
        FileSystem.closeFile(progress.fd)
        progress.fd = -1
        try FileSystem.renameFile(self.temporaryPath, self.path)
        try FileSystem.fsyncDirectory(self.journalDirectory)
        return progress.zeroed
    }

    /// Closes and deletes a partly written file.
    private func abandon(_ progress: inout Progress?) {
        guard let current = progress else { return }
        if current.fd >= 0 { FileSystem.closeFile(current.fd) }
        try? FileSystem.removeFile(self.temporaryPath)
        progress = nil
    }
}
