import CompressNIO
import Dispatch
package import Logging
import Metrics
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A snapshot file, as listed by name.
package struct SnapshotInfo: Sendable, Equatable {
    /// The LSN the snapshot covers (every journal record with lsn <= this is reflected in it).
    package var lsn: UInt64
    /// Full path of the file.
    package var path: String
    /// File size in bytes.
    package var bytes: Int

    /// Creates a description of a snapshot file.
    package init(lsn: UInt64, path: String, bytes: Int) {
        self.lsn = lsn
        self.path = path
        self.bytes = bytes
    }
}

/// Why a snapshot could not be written or read. String payloads name the file (and the detail).
package enum SnapshotError: Error, Equatable {
    /// The file does not start with `HYGS`.
    case badMagic(String)
    /// The header's format version is not 1.
    case unsupportedVersion(UInt32)
    /// The file is shorter than its header says, or than a header.
    case truncated(String)
    /// The body's CRC32C does not match the header, or the file is longer than header + body.
    case checksumMismatch(String)
    /// The body is not a complete zlib stream, or decompresses to more than the limit.
    case decompressionFailed(String)
    /// A system call failed.
    case io(operation: String, errno: Int32)

    /// Converts a failed system call.
    init(_ error: SystemError) {
        self = .io(operation: error.operation, errno: error.errno)
    }
}

/// Seconds spent in each step of reading one snapshot file (the last file tried, when `loadNewestValid` falls back).
package struct SnapshotReadTimings: Sendable, Equatable {
    /// Reading the file into memory.
    package var readSeconds: Double = 0
    /// CRC32C of the compressed body.
    package var checksumSeconds: Double = 0
    /// zlib inflate.
    package var inflateSeconds: Double = 0

    package init() {}
}

/// The outcome of a CRC computed on another thread: set once, read while inflating, awaited at the end.
final class ChecksumVerdict: @unchecked Sendable {  // a Mutex and a semaphore, both thread-safe
    private let state = Mutex<(matches: Bool, seconds: Double)?>(nil)
    private let done = DispatchSemaphore(value: 0)

    func finish(matches: Bool, seconds: Double) {
        self.state.withLock { $0 = (matches, seconds) }
        self.done.signal()
    }

    /// Whether the CRC is known and wrong.
    var failed: Bool { self.state.withLock { $0.map { !$0.matches } ?? false } }

    /// Blocks until the CRC is known.
    func wait() -> (matches: Bool, seconds: Double) {
        self.done.wait()
        return self.state.withLock { $0 } ?? (false, 0)
    }
}

/// Snapshot files: `directory/snapshot-<lsn, 20 digits>.hyg`, a 28-byte header (`HYGS`, version,
/// LSN, body length, CRC32C of the body) followed by a zlib (RFC 1950) stream of the caller's bytes.
package enum SnapshotStore {
    /// `HYGS` as read from disk.
    static let magic = Binary.magic("HYGS")
    /// The snapshot format version.
    static let version: UInt32 = 1
    /// Header bytes: magic 4, version 4, LSN 8, body length 8, CRC32C 4.
    static let headerSize = 28
    /// Default bound on a decompressed body.
    package static let maxDecompressedBytes = 4 << 30
    /// The zlib level snapshots are written with (zlib's default).
    package static let compressionLevel: Int32 = -1
    /// Output window used while inflating.
    static let inflateWindowBytes = 1 << 20
    /// Bodies at least this large have their CRC computed on another thread while they inflate.
    static let parallelChecksumBytes = 1 << 20

    /// Metric labels (CONTRACT §7).
    package static let durationMetric = "hygge_snapshot_duration_seconds"
    package static let bytesMetric = "hygge_snapshot_bytes"

    /// Creates the snapshot metrics, so `/metrics` lists them (at zero) before the first snapshot.
    package static func registerMetrics() {
        _ = Metrics.Timer(label: SnapshotStore.durationMetric)
        _ = Recorder(label: SnapshotStore.bytesMetric)
    }

    /// `snapshot-<lsn>.hyg`.
    static func fileName(lsn: UInt64) -> String {
        "snapshot-" + Binary.paddedLSN(lsn) + ".hyg"
    }

    /// Compresses `body` with zlib, writes `directory/snapshot-<lsn>.hyg` atomically (temp file,
    /// fsync, rename, directory fsync), prunes to the newest `keep` (at least 1) snapshots and
    /// removes stale temp files. Records `Timer("hygge_snapshot_duration_seconds")` and
    /// `Recorder("hygge_snapshot_bytes")` (file size).
    ///
    /// `level` is the zlib level (0–9, -1 = zlib's default 6).
    package static func write(
        directory: String, lsn: UInt64, body: [UInt8], keep: Int = 2, level: Int32 = SnapshotStore.compressionLevel
    ) throws -> SnapshotInfo {
        let start = DispatchTime.now().uptimeNanoseconds
        let compressed = try SnapshotStore.compress(body, level: level)
        var file: [UInt8] = []
        file.reserveCapacity(SnapshotStore.headerSize + compressed.count)
        Binary.appendUInt32(SnapshotStore.magic, to: &file)
        Binary.appendUInt32(SnapshotStore.version, to: &file)
        Binary.appendUInt64(lsn, to: &file)
        Binary.appendUInt64(UInt64(compressed.count), to: &file)
        Binary.appendUInt32(CRC32C.checksum(compressed), to: &file)
        file.append(contentsOf: compressed)

        let name = SnapshotStore.fileName(lsn: lsn)
        let path = directory + "/" + name
        let tempName = ".snapshot-" + Binary.paddedLSN(lsn) + ".tmp"
        let tempPath = directory + "/" + tempName
        do throws(SystemError) {
            try FileSystem.makeDirectories(directory)
            let fd = try FileSystem.openFile(tempPath, flags: O_WRONLY | O_CREAT | O_TRUNC)
            do throws(SystemError) {
                try FileSystem.writeAll(fd, file, what: tempPath)
                try FileSystem.fullSync(fd, what: tempPath)
            } catch {
                FileSystem.closeFile(fd)
                try? FileSystem.removeFile(tempPath)
                throw error
            }
            FileSystem.closeFile(fd)
            try FileSystem.renameFile(tempPath, path)
            try FileSystem.fsyncDirectory(directory)

            var removed = false
            for old in try SnapshotStore.listFiles(directory: directory).dropFirst(max(keep, 1)) where old.path != path {
                try FileSystem.removeFile(old.path)
                removed = true
            }
            for entry in try FileSystem.listDirectory(directory)
            where entry != tempName && entry.hasPrefix(".snapshot-") && entry.hasSuffix(".tmp") {
                try? FileSystem.removeFile(directory + "/" + entry)
                removed = true
            }
            if removed { try FileSystem.fsyncDirectory(directory) }
        } catch {
            throw SnapshotError(error)
        }
        let end = DispatchTime.now().uptimeNanoseconds
        Metrics.Timer(label: SnapshotStore.durationMetric).recordNanoseconds(Int64(end &- start))
        Recorder(label: SnapshotStore.bytesMetric).record(file.count)
        return SnapshotInfo(lsn: lsn, path: path, bytes: file.count)
    }

    /// Snapshots in the directory, newest (highest LSN) first, by file name only (no validation).
    /// Ignores temp files; a missing directory has none.
    package static func list(directory: String) throws -> [SnapshotInfo] {
        do {
            return try SnapshotStore.listFiles(directory: directory)
        } catch {
            throw SnapshotError(error)
        }
    }

    /// `list` with the underlying error type.
    static func listFiles(directory: String) throws(SystemError) -> [SnapshotInfo] {
        let names: [String]
        do {
            names = try FileSystem.listDirectory(directory)
        } catch where error.errno == ENOENT {
            return []
        }
        var snapshots: [SnapshotInfo] = []
        for name in names {
            guard let lsn = Binary.parseLSNName(name, prefix: "snapshot-", suffix: ".hyg") else { continue }
            let path = directory + "/" + name
            let size: Int64
            do {
                size = try FileSystem.fileSize(path)
            } catch where error.errno == ENOENT {
                continue  // removed while listing
            }
            snapshots.append(SnapshotInfo(lsn: lsn, path: path, bytes: Int(size)))
        }
        return snapshots.sorted { $0.lsn > $1.lsn }
    }

    /// Reads, validates (magic, version, length, CRC) and decompresses one file.
    package static func read(path: String) throws -> (lsn: UInt64, body: [UInt8]) {
        try SnapshotStore.read(path: path, maxDecompressedBytes: SnapshotStore.maxDecompressedBytes)
    }

    /// `read(path:)` with an explicit bound on the decompressed size (bodies that would inflate
    /// past it fail with `decompressionFailed`).
    package static func read(path: String, maxDecompressedBytes: Int) throws -> (lsn: UInt64, body: [UInt8]) {
        var timings = SnapshotReadTimings()
        return try SnapshotStore.read(path: path, maxDecompressedBytes: maxDecompressedBytes, timings: &timings)
    }

    /// `read(path:maxDecompressedBytes:)`, recording where the time went.
    package static func read(path: String, maxDecompressedBytes: Int, timings: inout SnapshotReadTimings) throws
        -> (lsn: UInt64, body: [UInt8])
    {
        var mark = DispatchTime.now().uptimeNanoseconds
        func lap() -> Double {
            let now = DispatchTime.now().uptimeNanoseconds
            defer { mark = now }
            return Double(now &- mark) / 1e9
        }
        let file: [UInt8]
        do {
            file = try FileSystem.readFile(path)
        } catch {
            throw SnapshotError(error)
        }
        timings.readSeconds = lap()
        guard file.count >= SnapshotStore.headerSize else {
            throw SnapshotError.truncated("\(path): \(file.count) bytes is shorter than the 28-byte header")
        }
        let header = file.withUnsafeBytes { buffer in
            (
                magic: Binary.readUInt32(buffer, at: 0),
                version: Binary.readUInt32(buffer, at: 4),
                lsn: Binary.readUInt64(buffer, at: 8),
                length: Binary.readUInt64(buffer, at: 16),
                crc: Binary.readUInt32(buffer, at: 24)
            )
        }
        guard header.magic == SnapshotStore.magic else { throw SnapshotError.badMagic(path) }
        guard header.version == SnapshotStore.version else { throw SnapshotError.unsupportedVersion(header.version) }
        let available = UInt64(file.count - SnapshotStore.headerSize)
        guard header.length <= available else {
            throw SnapshotError.truncated("\(path): header says \(header.length) body bytes, file has \(available)")
        }
        guard header.length == available else {
            throw SnapshotError.checksumMismatch(
                "\(path): \(available - header.length) unexpected bytes after the \(header.length)-byte body"
            )
        }
        let body = file[SnapshotStore.headerSize...]
        guard body.count >= SnapshotStore.parallelChecksumBytes else {
            let crc = CRC32C.checksum(body)
            timings.checksumSeconds = lap()
            guard crc == header.crc else { throw SnapshotError.checksumMismatch(path) }
            let decompressed = try SnapshotStore.decompress(body, maxBytes: maxDecompressedBytes, path: path)
            timings.inflateSeconds = lap()
            return (header.lsn, decompressed)
        }
        // A large body: the CRC runs on another core while this one inflates (both read the same immutable bytes);
        // inflating stops early once the CRC is known to be wrong, and a wrong CRC wins over any inflate result.
        let verdict = ChecksumVerdict()
        let expected = header.crc
        DispatchQueue.global().async {
            let start = DispatchTime.now().uptimeNanoseconds
            let crc = file.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[SnapshotStore.headerSize...])) }
            verdict.finish(matches: crc == expected, seconds: Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e9)
        }
        let inflated = Result { () throws(SnapshotError) -> [UInt8] in
            try SnapshotStore.decompress(body, maxBytes: maxDecompressedBytes, path: path) { verdict.failed }
        }
        timings.inflateSeconds = lap()
        let (matches, seconds) = verdict.wait()
        timings.checksumSeconds = seconds
        guard matches else { throw SnapshotError.checksumMismatch(path) }
        return (header.lsn, try inflated.get())
    }

    /// Newest snapshot that validates (its header LSN must also match its name); logs a warning
    /// and falls back to the next older one when the newest is bad; nil if none exist or are valid.
    package static func loadNewestValid(directory: String, logger: Logger) throws -> (info: SnapshotInfo, body: [UInt8])? {
        var timings = SnapshotReadTimings()
        return try SnapshotStore.loadNewestValid(directory: directory, logger: logger, timings: &timings)
    }

    /// `loadNewestValid(directory:logger:)`, recording where the time went.
    package static func loadNewestValid(directory: String, logger: Logger, timings: inout SnapshotReadTimings) throws
        -> (info: SnapshotInfo, body: [UInt8])?
    {
        for info in try SnapshotStore.list(directory: directory) {
            do {
                let (lsn, body) = try SnapshotStore.read(
                    path: info.path, maxDecompressedBytes: SnapshotStore.maxDecompressedBytes, timings: &timings)
                guard lsn == info.lsn else {
                    logger.warning(
                        "snapshot: header LSN does not match the file name; trying an older snapshot",
                        metadata: ["path": "\(info.path)", "headerLSN": "\(lsn)"]
                    )
                    continue
                }
                return (info, body)
            } catch {
                logger.warning(
                    "snapshot: unreadable; trying an older snapshot",
                    metadata: ["path": "\(info.path)", "error": "\(error)"]
                )
            }
        }
        return nil
    }

    // MARK: - zlib

    /// `bytes` as a zlib stream.
    static func compress(_ bytes: [UInt8], level: Int32 = SnapshotStore.compressionLevel) throws(SnapshotError) -> [UInt8] {
        var input = ByteBuffer(bytes: bytes)
        do {
            let configuration = ZlibConfiguration(windowSize: 15, compressionLevel: min(max(level, -1), 9))
            var output = try input.compress(with: ZlibAlgorithm.zlib, configuration: configuration)
            return output.readBytes(length: output.readableBytes) ?? []
        } catch {
            throw SnapshotError.decompressionFailed("zlib compression failed: \(error)")
        }
    }

    /// Inflates a complete zlib stream, refusing output beyond `maxBytes`, truncated streams,
    /// and trailing bytes after the stream. `stop` is polled between output windows; when it
    /// returns true the body is reported as failing its checksum.
    static func decompress(
        _ body: ArraySlice<UInt8>, maxBytes: Int, path: String, stop: () -> Bool = { false }
    ) throws(SnapshotError) -> [UInt8] {
        var input = ByteBufferAllocator().buffer(capacity: body.count + 1)
        input.writeBytes(body)
        // A sentinel byte after the stream: a complete stream stops before it; a truncated one
        // consumes it (or fails on it), so completion is observable through the public API.
        input.writeInteger(UInt8(0))
        let decompressor: ZlibDecompressor
        do {
            decompressor = try ZlibDecompressor(algorithm: .zlib)
        } catch {
            throw SnapshotError.decompressionFailed("\(path): zlib init failed: \(error)")
        }
        var window = ByteBufferAllocator().buffer(capacity: SnapshotStore.inflateWindowBytes)
        var output: [UInt8] = []
        while true {
            var windowFull = false
            do {
                try decompressor.inflate(from: &input, to: &window)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                windowFull = true
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                throw SnapshotError.decompressionFailed("\(path): truncated zlib stream")
            } catch {
                throw SnapshotError.decompressionFailed("\(path): corrupt zlib stream (\(error))")
            }
            guard output.count + window.readableBytes <= maxBytes else {
                throw SnapshotError.decompressionFailed("\(path): body inflates past \(maxBytes) bytes")
            }
            if output.isEmpty { output.reserveCapacity(min(maxBytes, max(body.count * 4, window.readableBytes))) }
            window.withUnsafeReadableBytes { output.append(contentsOf: $0) }
            window.clear()
            if stop() { throw SnapshotError.checksumMismatch(path) }
            if windowFull { continue }
            // inflate returned normally: either the stream ended, or it ran out of input.
            switch input.readableBytes {
            case 1:
                return output
            case 0:
                throw SnapshotError.decompressionFailed("\(path): truncated zlib stream")
            default:
                throw SnapshotError.decompressionFailed("\(path): \(input.readableBytes - 1) bytes after the zlib stream")
            }
        }
    }
}
