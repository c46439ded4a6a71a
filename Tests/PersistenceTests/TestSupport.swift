import Foundation
import Logging
import Persistence
import Synchronization

/// A small seeded generator (SplitMix64) so the randomised tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}

/// A unique directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("hygge-persistence-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        self.path = url.path
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: self.path)
    }

    var journalPath: String { self.path + "/journal" }
}

/// Runs `body` with a fresh temporary directory and removes it afterwards.
func withTemporaryDirectory<T>(_ body: (TemporaryDirectory) async throws -> T) async throws -> T {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    return try await body(directory)
}

/// Log events captured by `CapturingLogHandler`.
final class LogCapture: Sendable {
    let events = Mutex<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])

    var logger: Logger {
        Logger(label: "persistence-tests") { _ in CapturingLogHandler(capture: self) }
    }

    func messages(at level: Logger.Level) -> [(message: String, metadata: Logger.Metadata)] {
        self.events.withLock { events in
            events.filter { $0.level == level }.map { ($0.message, $0.metadata) }
        }
    }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        self.capture.events.withLock { $0.append((event.level, event.message.description, merged)) }
    }
}

/// A logger that drops everything.
let quietLogger = Logger(label: "persistence-tests") { _ in SwiftLogNoOpLogHandler() }

func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func fileSize(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.size] as? NSNumber)?.intValue ?? -1
}

func truncateFile(_ path: String, to length: Int) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.truncate(atOffset: UInt64(length))
}

/// `.wal` file names in the journal directory, sorted.
func segmentNames(_ directory: TemporaryDirectory) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory.journalPath)
        .filter { $0.hasSuffix(".wal") }
        .sorted()
}

func padded<T: BinaryInteger>(_ lsn: T) -> String {
    let digits = String(lsn)
    return String(repeating: "0", count: 20 - digits.count) + digits
}

func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    bytes[offset..<(offset + 4)].reversed().reduce(0) { $0 << 8 | UInt32($1) }
}

func readUInt64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
    bytes[offset..<(offset + 8)].reversed().reduce(0) { $0 << 8 | UInt64($1) }
}

/// Byte ranges of each record frame in a segment file (parsed independently of the library; stops at
/// a frame with LSN 0, i.e. at preallocated zeros).
func frameRanges(_ bytes: [UInt8]) -> [Range<Int>] {
    var ranges: [Range<Int>] = []
    var offset = 16
    while offset + 16 <= bytes.count {
        let length = Int(readUInt32(bytes, at: offset))
        // LSN 0 never occurs: an all-zero header is preallocated space after the last record.
        guard readUInt64(bytes, at: offset + 8) != 0, offset + 16 + length <= bytes.count else { break }
        ranges.append(offset..<(offset + 16 + length))
        offset += 16 + length
    }
    return ranges
}

func payload(_ index: Int, size: Int = 24) -> [UInt8] {
    var generator = SplitMix64(seed: UInt64(index) &* 7919 &+ 17)
    return Array((Array("record-\(index)-".utf8) + generator.bytes(size)).prefix(size))
}

/// Opens a journal and returns it with the records it replayed.
func openJournal(
    _ directory: TemporaryDirectory,
    fsync: FsyncPolicy = .always,
    segmentBytesMax: Int = 64 << 20,
    prepareSegments: Bool = false,
    replayAfter: UInt64 = 0,
    minimumLastLSN: UInt64 = 0,
    loneWaiterSpin: LoneWaiterSpin = .standard,
    logger: Logger = quietLogger
) throws -> (Journal, [JournalRecord]) {
    var records: [JournalRecord] = []
    let journal = try Journal(
        directory: directory.path, fsync: fsync, segmentBytesMax: segmentBytesMax, prepareSegments: prepareSegments,
        replayAfter: replayAfter, minimumLastLSN: minimumLastLSN, loneWaiterSpin: loneWaiterSpin, logger: logger
    ) { records.append($0) }
    return (journal, records)
}

/// Replays the whole journal (opening and closing it).
func replayAll(
    _ directory: TemporaryDirectory,
    replayAfter: UInt64 = 0,
    minimumLastLSN: UInt64 = 0
) async throws -> [JournalRecord] {
    let (journal, records) = try openJournal(directory, replayAfter: replayAfter, minimumLastLSN: minimumLastLSN)
    await journal.close()
    return records
}

/// Writes `count` records (payload(i) for i in 1...count) durably and closes the journal.
@discardableResult
func writeRecords(
    _ directory: TemporaryDirectory,
    count: Int,
    size: Int = 24,
    segmentBytesMax: Int = 64 << 20
) async throws -> [JournalRecord] {
    let (journal, existing) = try openJournal(directory, segmentBytesMax: segmentBytesMax)
    var written: [JournalRecord] = []
    for index in 1...count {
        let bytes = payload(existing.count + index, size: size)
        let lsn = try await journal.appendDurably(bytes)
        written.append(JournalRecord(lsn: lsn, payload: bytes))
    }
    await journal.close()
    return written
}
