#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call: the operation (with its path) and `errno`.
struct SystemError: Error {
    /// The call and its subject, e.g. `open /data/journal/00000000000000000001.wal`.
    var operation: String
    /// The `errno` the call set.
    var errno: Int32
}

/// Thin wrappers over the POSIX calls the journal and the snapshot store use directly.
/// Every call retries on `EINTR`; failures throw `SystemError`.
enum FileSystem {
    /// Reads `errno` (a function so call sites don't shadow the global).
    static func lastErrno() -> Int32 {
        errno
    }

    /// `open(2)`; returns the descriptor.
    static func openFile(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(SystemError) -> Int32 {
        while true {
            let fd = path.withCString { open($0, flags | O_CLOEXEC, mode) }
            if fd >= 0 { return fd }
            let code = FileSystem.lastErrno()
            if code != EINTR { throw SystemError(operation: "open \(path)", errno: code) }
        }
    }

    /// `close(2)`; errors are ignored (the descriptor is gone either way on Linux).
    static func closeFile(_ fd: Int32) {
        _ = close(fd)
    }

    /// Writes all of `buffer`, looping on partial writes and `EINTR`.
    static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, what: String) throws(SystemError) {
        guard var base = buffer.baseAddress else { return }
        var remaining = buffer.count
        while remaining > 0 {
            let written = write(fd, base, remaining)
            if written < 0 {
                let code = FileSystem.lastErrno()
                if code == EINTR { continue }
                throw SystemError(operation: "write \(what)", errno: code)
            }
            if written == 0 { throw SystemError(operation: "write \(what)", errno: EIO) }
            remaining -= written
            base += written
        }
    }

    /// Writes all of `bytes`.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], what: String) throws(SystemError) {
        let result: Result<Void, SystemError> = bytes.withUnsafeBytes { buffer in
            do throws(SystemError) {
                try FileSystem.writeAll(fd, buffer, what: what)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    /// Writes `count` zero bytes at `offset` with `pwrite(2)` (the file position does not move),
    /// looping on partial writes and `EINTR`.
    static func writeZeros(_ fd: Int32, at offset: Int64, count: Int64, what: String) throws(SystemError) {
        var position = offset
        let end = offset + count
        while position < end {
            let chunk = Int(min(end - position, Int64(FileSystem.zeros.count)))
            let written = FileSystem.zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, chunk, off_t(position)) }
            if written < 0 {
                let code = FileSystem.lastErrno()
                if code == EINTR { continue }
                throw SystemError(operation: "pwrite \(what)", errno: code)
            }
            if written == 0 { throw SystemError(operation: "pwrite \(what)", errno: EIO) }
            position += Int64(written)
        }
    }

    /// The source buffer of `writeZeros`.
    private static let zeros = [UInt8](repeating: 0, count: 1 << 16)

    /// `fdatasync(2)`.
    static func dataSync(_ fd: Int32, what: String) throws(SystemError) {
        while true {
            #if canImport(Glibc)
            let result = fdatasync(fd)
            #else
            let result = fsync(fd)
            #endif
            if result == 0 { return }
            let code = FileSystem.lastErrno()
            if code != EINTR { throw SystemError(operation: "fdatasync \(what)", errno: code) }
        }
    }

    /// `fsync(2)`.
    static func fullSync(_ fd: Int32, what: String) throws(SystemError) {
        while true {
            if fsync(fd) == 0 { return }
            let code = FileSystem.lastErrno()
            if code != EINTR { throw SystemError(operation: "fsync \(what)", errno: code) }
        }
    }

    /// Opens `path` (a directory) and fsyncs it, making entries created, renamed or removed in it durable.
    static func fsyncDirectory(_ path: String) throws(SystemError) {
        let fd = try FileSystem.openFile(path, flags: O_RDONLY | O_DIRECTORY)
        defer { FileSystem.closeFile(fd) }
        try FileSystem.fullSync(fd, what: path)
    }

    /// `ftruncate(2)`.
    static func truncate(_ fd: Int32, length: Int64, what: String) throws(SystemError) {
        while true {
            if ftruncate(fd, off_t(length)) == 0 { return }
            let code = FileSystem.lastErrno()
            if code != EINTR { throw SystemError(operation: "ftruncate \(what)", errno: code) }
        }
    }

    /// Truncates the file at `path` to `length` and fsyncs it.
    static func truncateFile(_ path: String, length: Int64) throws(SystemError) {
        let fd = try FileSystem.openFile(path, flags: O_WRONLY)
        defer { FileSystem.closeFile(fd) }
        try FileSystem.truncate(fd, length: length, what: path)
        try FileSystem.fullSync(fd, what: path)
    }

    /// `lseek(2)` to an absolute offset.
    static func seek(_ fd: Int32, to offset: Int64, what: String) throws(SystemError) {
        if lseek(fd, off_t(offset), SEEK_SET) < 0 {
            throw SystemError(operation: "lseek \(what)", errno: FileSystem.lastErrno())
        }
    }

    /// `rename(2)`.
    static func renameFile(_ from: String, _ to: String) throws(SystemError) {
        let result = from.withCString { source in to.withCString { rename(source, $0) } }
        if result != 0 { throw SystemError(operation: "rename \(from) -> \(to)", errno: FileSystem.lastErrno()) }
    }

    /// `unlink(2)`.
    static func removeFile(_ path: String) throws(SystemError) {
        if path.withCString({ unlink($0) }) != 0 {
            throw SystemError(operation: "unlink \(path)", errno: FileSystem.lastErrno())
        }
    }

    /// The size of the file at `path` (`stat(2)`).
    static func fileSize(_ path: String) throws(SystemError) -> Int64 {
        var info = stat()
        if path.withCString({ stat($0, &info) }) != 0 {
            throw SystemError(operation: "stat \(path)", errno: FileSystem.lastErrno())
        }
        return Int64(info.st_size)
    }

    /// Whether `path` names an existing directory.
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        guard path.withCString({ stat($0, &info) }) == 0 else { return false }
        return (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates `path` and any missing parents (like `mkdir -p`), fsyncing each parent whose
    /// entries changed.
    static func makeDirectories(_ path: String) throws(SystemError) {
        if FileSystem.isDirectory(path) { return }
        let parent = FileSystem.parentDirectory(of: path)
        if parent != path { try FileSystem.makeDirectories(parent) }
        if path.withCString({ mkdir($0, 0o755) }) != 0 {
            let code = FileSystem.lastErrno()
            if code != EEXIST { throw SystemError(operation: "mkdir \(path)", errno: code) }
            return
        }
        try FileSystem.fsyncDirectory(parent)
    }

    /// The parent directory of `path` (`.` for a bare name, `/` for the root).
    static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        if slash == trimmed.startIndex { return "/" }
        return String(trimmed[trimmed.startIndex..<slash])
    }

    /// The names in directory `path` (without `.` and `..`).
    static func listDirectory(_ path: String) throws(SystemError) -> [String] {
        guard let directory = path.withCString({ opendir($0) }) else {
            throw SystemError(operation: "opendir \(path)", errno: FileSystem.lastErrno())
        }
        defer { _ = closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Reads the whole file at `path`.
    static func readFile(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = try FileSystem.openFile(path, flags: O_RDONLY)
        defer { FileSystem.closeFile(fd) }
        var info = stat()
        if fstat(fd, &info) != 0 {
            throw SystemError(operation: "fstat \(path)", errno: FileSystem.lastErrno())
        }
        // One allocation of the size fstat gave (plus one byte, to see the end without another read) that `read`
        // fills directly: no zero-filled buffer first, no copy. A file that grew meanwhile is read on in chunks.
        let expected = max(Int(info.st_size), 0) + 1
        var bytes = try Self.readChunk(fd, path: path, upTo: expected)
        guard bytes.count == expected else { return bytes }
        while true {
            let more = try Self.readChunk(fd, path: path, upTo: 1 << 16)
            if more.isEmpty { return bytes }
            bytes += more
        }
    }

    /// Up to `count` bytes from `fd`'s current offset (fewer only at the end of the file).
    private static func readChunk(_ fd: Int32, path: String, upTo count: Int) throws(SystemError) -> [UInt8] {
        var failure: SystemError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = 0
            while initialized < count, let base = buffer.baseAddress {
                let got = read(fd, base + initialized, count - initialized)
                if got < 0 {
                    let code = FileSystem.lastErrno()
                    if code == EINTR { continue }
                    failure = SystemError(operation: "read \(path)", errno: code)
                    return
                }
                if got == 0 { return }
                initialized += got
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// `strerror(3)` text for `code`.
    static func describe(errno code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}
