package import Logging

/// What an online master-key rotation did.
package struct MasterKeyRotationReport: Sendable, Equatable {
    /// Merchants whose data key now opens with the new master key.
    package var merchants: Int
    /// Data keys re-wrapped by this call (0 when the new key was already in use).
    package var rewrapped: Int
    /// The key asked for was already the one in use: nothing changed.
    package var alreadyCurrent: Bool
    /// The newer of the two snapshots written afterwards (nil without a state keeper).
    package var snapshot: SnapshotReport?
}

/// Online `hygge keys rotate-master`: re-wraps every merchant's data key under a new master key while the service
/// keeps serving.
///
/// The keyring switches to the new key first, so merchants created meanwhile are wrapped under it and merchants not
/// yet re-wrapped still open their secrets with the retiring key. Then each merchant actor, one after the other,
/// journals its re-wrapped data key and waits until that record is durable; a merchant's own requests queue only
/// behind that one short change, and other merchants never wait. Once every data key opens with the new key, the
/// retiring key is forgotten and two snapshots (at different LSNs) are written, so the newest two snapshots hold only
/// re-wrapped keys and the journal segments still holding old-wrapped ones are deleted: after that, the old master
/// key opens nothing in the data directory and a start with it is refused.
///
/// Idempotent: rotating to the key already in use changes nothing, and a retry of a rotation that failed halfway
/// (same new key) finishes it. A crash halfway leaves some data keys under each key; the service then refuses to
/// start with either, and the offline `hygge keys rotate-master --master-key OLD --new-key NEW` finishes the job.
package enum MasterKeyRotation {
    /// How many passes over the merchants at most (a pass after the first only finds merchants created with the
    /// retiring key just before the switch, which the lock order rules out; it is the verification).
    static let passesMax = 3

    /// Rotates to `new`.
    /// - Throws: `rotationInProgress` while a rotation to another key runs; `journalUnavailable` if a re-wrap or
    ///   snapshot could not be written (retry with the same key).
    package static func run(
        to new: MasterKey, registry: MerchantRegistry, keeper: StateKeeper?, logger: Logger
    ) async throws(HyggeError) -> MasterKeyRotationReport {
        let keyring = registry.environment.keyring
        switch keyring.begin(new) {
        case .busy:
            throw .rotationInProgress
        case .alreadyCurrent:
            return MasterKeyRotationReport(
                merchants: registry.count, rewrapped: 0, alreadyCurrent: true, snapshot: nil)
        case .rotating:
            break
        }
        logger.info("master key rotation started", metadata: ["merchants": "\(registry.count)"])
        var rewrapped = 0
        for _ in 0..<Self.passesMax {
            var changed = 0
            for merchant in registry.all {
                if try await merchant.rewrapDataKey(under: new) { changed += 1 }
            }
            rewrapped += changed
            if changed == 0 { break }
        }
        var locked: [MerchantID] = []
        for merchant in registry.all {
            if !(await merchant.dataKeyOpens(with: new)) { locked.append(merchant.id) }
        }
        guard locked.isEmpty else {
            logger.error("master key rotation incomplete", metadata: ["merchants": "\(locked.count)"])
            throw .internalError
        }
        keyring.finish(new)
        var snapshot: SnapshotReport?
        if let keeper {
            do {
                let first = try await keeper.snapshot()
                // The second snapshot must be at a later LSN than the first, or it would replace it and leave the
                // pre-rotation snapshot as the kept fallback: with no traffic, one more (fresh) re-wrap makes a record.
                if registry.lastLSN <= first.lsn, let merchant = registry.all.first {
                    _ = try await merchant.rewrapDataKey(under: new, force: true)
                }
                snapshot = try await keeper.snapshot()
            } catch {
                logger.error("snapshot after master key rotation failed", metadata: ["error": "\(error)"])
                throw .journalUnavailable
            }
        }
        logger.info(
            "master key rotated",
            metadata: [
                "merchants": "\(registry.count)", "rewrapped": "\(rewrapped)",
                "snapshot.lsn": "\(snapshot.map { String($0.lsn) } ?? "-")",
            ])
        return MasterKeyRotationReport(
            merchants: registry.count, rewrapped: rewrapped, alreadyCurrent: false, snapshot: snapshot)
    }
}
