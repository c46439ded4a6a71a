import Foundation

/// The body of a snapshot file (before zlib): every merchant's state and the LSN floor it covers.
///
/// Two encodings, told apart by their first bytes (FORMAT.md, "Snapshot body"):
/// - version 2 (written since the snapshot benchmark, issue 10): binary, starting with `HYGB`
///   (`RegistrySnapshot+Binary.swift`);
/// - version 1: JSON, `{"v":1,"lsn":N,"merchants":[MerchantState…]}` — still read, and written on request.
///
/// Each merchant also carries its own `appliedLSN`; restore replays the journal after `lsn`, skipping records a
/// merchant already reflects.
package struct RegistrySnapshot: Sendable, Codable {
    /// The body encodings.
    package enum BodyFormat: String, Sendable, CaseIterable {
        /// Version 1.
        case json
        /// Version 2.
        case binary

        /// What snapshots are written in.
        package static let current = BodyFormat.binary
    }

    /// Version of the JSON body (the binary body has its own, `BinarySnapshotBody.version`).
    package static let currentVersion = 1
    package var v: Int
    package var lsn: UInt64
    package var merchants: [MerchantState]

    package init(lsn: UInt64, merchants: [MerchantState]) {
        self.v = Self.currentVersion
        self.lsn = lsn
        self.merchants = merchants
    }

    /// Encodes the body bytes in the current format.
    package func encoded() throws -> [UInt8] { try self.encoded(format: .current) }

    /// Encodes the body bytes in `format` (JSON keeps `v`, so tests can write other versions).
    package func encoded(format: BodyFormat) throws -> [UInt8] {
        switch format {
        case .json: Array(try JSONEncoder().encode(self))
        case .binary: BinarySnapshotBody.encode(self)
        }
    }

    /// Decodes body bytes of either format and checks every merchant's invariants.
    ///
    /// - Throws: `DecodingError` for bytes that are not a JSON body, `RestoreError.invalidSnapshot` for a malformed
    ///   binary body or one whose contents could not have been produced by `apply` (an unsupported version, a
    ///   duplicated merchant, a broken invariant).
    package static func decode(_ bytes: [UInt8]) throws -> RegistrySnapshot {
        let snapshot: RegistrySnapshot
        if BinarySnapshotBody.isBinary(bytes) {
            snapshot = try BinarySnapshotBody.decode(bytes)
        } else {
            snapshot = try JSONDecoder().decode(RegistrySnapshot.self, from: Data(bytes))
            guard snapshot.v == Self.currentVersion else {
                throw RestoreError.invalidSnapshot("unsupported snapshot body version \(snapshot.v)")
            }
        }
        var seen: Set<MerchantID> = []
        seen.reserveCapacity(snapshot.merchants.count)
        for state in snapshot.merchants {
            guard seen.insert(state.id).inserted else {
                throw RestoreError.invalidSnapshot("merchant \(state.id) appears twice")
            }
            if let violation = state.invariantViolation() {
                throw RestoreError.invalidSnapshot("merchant \(state.id): \(violation)")
            }
        }
        return snapshot
    }
}

/// Folds a snapshot and the journal records after it into merchant states.
package struct Restorer {
    /// States by merchant so far.
    package private(set) var states: [MerchantID: MerchantState] = [:]
    /// Records applied / skipped (already in the snapshot).
    package private(set) var applied = 0
    package private(set) var skipped = 0
    /// Kept for format 1 payloads: making a `JSONDecoder` per record costs about 13% of a JSON replay.
    private let jsonDecoder = JSONDecoder()

    /// Starts from a snapshot (or nothing).
    package init(snapshot: RegistrySnapshot?) {
        self.states.reserveCapacity(snapshot?.merchants.count ?? 0)
        for state in snapshot?.merchants ?? [] { self.states[state.id] = state }
    }

    /// Highest LSN any state reflects.
    package var maxAppliedLSN: UInt64 { self.states.values.map(\.appliedLSN).max() ?? 0 }

    /// Applies one journal record's payload (payload format 1 or 2, `JournalEntry.init(payload:)`).
    ///
    /// - Throws: `RestoreError.unsupportedRecord` / `.invalidRecord` for a payload that does not decode,
    ///   `.eventBeforeCreation` for a merchant's first record that is not `created`.
    package mutating func apply(lsn: UInt64, payload: [UInt8]) throws {
        let entry: JournalEntry
        do {
            entry = try JournalEntry(payload: payload, jsonDecoder: self.jsonDecoder)
        } catch {
            switch error {
            case .unsupportedVersion(let version): throw RestoreError.unsupportedRecord(lsn: lsn, version: version)
            case .invalid(let reason): throw RestoreError.invalidRecord(lsn: lsn, reason: reason)
            }
        }
        if let index = self.states.index(forKey: entry.m) {
            // Through the values' read and modify accessors, in place: `states[m]?.appliedLSN` copied the whole
            // merchant state (a retain and a release per field) for every record, and a `var state = states[m]`
            // copy would share the merchant's checkout dictionary with the one still stored, so the first mutation
            // would copy all of it — once per replayed record, quadratic in the merchant's size.
            guard lsn > self.states.values[index].appliedLSN else {
                self.skipped += 1
                return
            }
            self.states.values[index].apply(entry.e)
            self.states.values[index].appliedLSN = lsn
        } else {
            guard case .created(let dataKey, let at) = entry.e else {
                throw RestoreError.eventBeforeCreation(merchant: entry.m.rawValue, lsn: lsn)
            }
            var state = MerchantState(id: entry.m, dataKey: dataKey, createdAt: at)
            state.appliedLSN = lsn
            self.states[entry.m] = state
        }
        self.applied += 1
    }
}

/// Restore failures that mean the data directory does not describe a valid history.
package enum RestoreError: Error, CustomStringConvertible {
    case eventBeforeCreation(merchant: String, lsn: UInt64)
    /// A snapshot body that decodes but could not have been written by this service.
    case invalidSnapshot(String)
    /// A journal record whose payload version is not one this service reads.
    case unsupportedRecord(lsn: UInt64, version: Int)
    /// A journal record whose payload passes its checksum but does not decode (`JournalEntry.DecodeError.invalid`).
    case invalidRecord(lsn: UInt64, reason: String)

    package var description: String {
        switch self {
        case .eventBeforeCreation(let merchant, let lsn):
            "journal record \(lsn) changes merchant \(merchant) before it was created"
        case .invalidSnapshot(let reason):
            "snapshot body is invalid: \(reason)"
        case .unsupportedRecord(let lsn, let version):
            "journal record \(lsn) has unsupported payload version \(version)"
        case .invalidRecord(let lsn, let reason):
            "journal record \(lsn) has an invalid payload: \(reason)"
        }
    }
}
