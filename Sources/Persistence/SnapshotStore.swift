import CompressNIO
import Dispatch
package import Logging
import Metrics
import NIOCore

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
    /// Output window used while inflating.
    static let inflateWindowBytes = 1 << 20

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
    package static func write(directory: String, lsn: UInt64, body: [UInt8], keep: Int = 2) throws -> SnapshotInfo {
        let start = DispatchTime.now().uptimeNanoseconds
        let compressed = try SnapshotStore.compress(body)
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
        let file: [UInt8]
        do {
            file = try FileSystem.readFile(path)
        } catch {
            throw SnapshotError(error)
        }
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
        guard CRC32C.checksum(body) == header.crc else { throw SnapshotError.checksumMismatch(path) }
        let decompressed = try SnapshotStore.decompress(body, maxBytes: maxDecompressedBytes, path: path)
        return (header.lsn, decompressed)
    }

    /// Newest snapshot that validates (its header LSN must also match its name); logs a warning
    /// and falls back to the next older one when the newest is bad; nil if none exist or are valid.
    package static func loadNewestValid(directory: String, logger: Logger) throws -> (info: SnapshotInfo, body: [UInt8])? {
        for info in try SnapshotStore.list(directory: directory) {
            do {
                let (lsn, body) = try SnapshotStore.read(path: info.path)
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
    static func compress(_ bytes: [UInt8]) throws(SnapshotError) -> [UInt8] {
        var input = ByteBuffer(bytes: bytes)
        do {
            var output = try input.compress(with: ZlibAlgorithm.zlib)
            return output.readBytes(length: output.readableBytes) ?? []
        } catch {
            throw SnapshotError.decompressionFailed("zlib compression failed: \(error)")
        }
    }

    /// Inflates a complete zlib stream, refusing output beyond `maxBytes`, truncated streams,
    /// and trailing bytes after the stream.
    static func decompress(_ body: ArraySlice<UInt8>, maxBytes: Int, path: String) throws(SnapshotError) -> [UInt8] {
        var input = ByteBuffer(bytes: body)
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
            window.withUnsafeReadableBytes { output.append(contentsOf: $0) }
            window.clear()
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
