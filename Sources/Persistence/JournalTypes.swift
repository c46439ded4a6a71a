/// When the journal writer makes appended records durable with `fdatasync(2)`.
package enum FsyncPolicy: String, Sendable, CaseIterable {
    /// Every batch is written and fdatasync'ed before its records are acknowledged (group commit).
    case always
    /// Records are acknowledged once written; the writer fdatasyncs at most once a second.
    case everysec
    /// Records are acknowledged once written; fdatasync only on rotation and close.
    case no
}

/// When a lone `waitDurable` caller polls for its record to become durable instead of suspending
/// (`JournalShared.spinUntilDurable`).
package struct LoneWaiterSpin: Sendable {
    /// Only while the writer's batches typically take at most this long (write and, under `always`, fdatasync):
    /// on a slower disk a suspension's wake-up is a small part of the wait.
    package var batchNanosMax: UInt64
    /// One wait spins for two typical batches plus this slack…
    package var slackNanos: UInt64
    /// …but never longer than this.
    package var spinNanosMax: UInt64

    /// Creates a setting.
    package init(batchNanosMax: UInt64, slackNanos: UInt64 = 20_000, spinNanosMax: UInt64) {
        self.batchNanosMax = batchNanosMax
        self.slackNanos = slackNanos
        self.spinNanosMax = spinNanosMax
    }

    /// The server's: batches of up to 100 µs, spins of two batches + 20 µs, at most 200 µs.
    package static let standard = LoneWaiterSpin(batchNanosMax: 100_000, spinNanosMax: 200_000)
    /// Never spin.
    package static let off = LoneWaiterSpin(batchNanosMax: 0, spinNanosMax: 0)

    /// How long a wait spins when the writer's batches typically take `typicalBatchNanos`.
    func spinNanos(typicalBatchNanos: UInt64) -> UInt64 {
        min(2 &* typicalBatchNanos &+ self.slackNanos, self.spinNanosMax)
    }
}

/// One journal record: its log sequence number and the caller's payload.
package struct JournalRecord: Sendable, Equatable {
    /// The record's log sequence number (LSNs start at 1 and are consecutive).
    package var lsn: UInt64
    /// The caller's bytes.
    package var payload: [UInt8]

    /// Creates a record.
    package init(lsn: UInt64, payload: [UInt8]) {
        self.lsn = lsn
        self.payload = payload
    }
}

/// Errors thrown by `Journal` and `JournalInspector`.
package enum JournalError: Error, Equatable, CustomStringConvertible {
    /// The journal is damaged somewhere other than a torn final record: a bad record followed
    /// by valid data, a bad segment header, an LSN gap or a non-consecutive LSN.
    case corrupt(segment: String, offset: Int64, reason: String)
    /// A system call failed (`operation` names the call and its file).
    case io(operation: String, errno: Int32)
    /// The journal was closed.
    case closed

    /// A human-readable explanation, with the operator's next step for corruption.
    package var description: String {
        switch self {
        case .corrupt(let segment, let offset, let reason):
            return "journal corrupt in segment \(segment) at offset \(offset): \(reason). "
                + "Inspect it with `hygge journal verify`; `hygge journal verify --repair` truncates a torn "
                + "final record but refuses corruption before the tail, which needs a restore from a snapshot or backup."
        case .io(let operation, let errno):
            return "journal I/O error in \(operation): \(FileSystem.describe(errno: errno)) (errno \(errno))"
        case .closed:
            return "journal is closed"
        }
    }

    /// Converts a failed system call.
    init(_ error: SystemError) {
        self = .io(operation: error.operation, errno: error.errno)
    }
}
