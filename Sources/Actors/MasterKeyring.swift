package import Crypto
import Synchronization

/// The master key a running service wraps data keys with, shared by every merchant actor, and changeable while the
/// service runs (online `hygge keys rotate-master`).
///
/// During a rotation it holds the new key as `current` (every data key wrapped from then on uses it) and the old one
/// as `retiring`, so a merchant whose data key is not yet re-wrapped still opens its secrets. Reads and writes take
/// one small lock, never across an `await`.
package final class MasterKeyring: Sendable {
    private struct Keys {
        var current: MasterKey
        var retiring: MasterKey?
    }
    private let keys: Mutex<Keys>

    /// A keyring holding `master` only.
    package init(_ master: MasterKey) { self.keys = Mutex(Keys(current: master, retiring: nil)) }

    /// The key new data keys are wrapped with.
    package var current: MasterKey { self.keys.withLock { $0.current } }

    /// The key being rotated away from, while a rotation runs.
    package var retiring: MasterKey? { self.keys.withLock { $0.retiring } }

    /// Unwraps a merchant's data key with the current key, else (mid-rotation) with the retiring one.
    package func unwrap(_ wrapped: SealedValue, for merchant: MerchantID) throws -> SymmetricKey {
        let (current, retiring) = self.keys.withLock { ($0.current, $0.retiring) }
        if let key = try? Vault.unwrap(wrapped, for: merchant, master: current) { return key }
        guard let retiring else { throw VaultError.openFailed }
        return try Vault.unwrap(wrapped, for: merchant, master: retiring)
    }

    /// What `begin` found.
    package enum Start: Equatable, Sendable {
        /// `new` is already the key in use and no rotation is running: nothing to do.
        case alreadyCurrent
        /// A rotation to `new` starts (or one already running to the same key continues).
        case rotating
        /// A rotation to another key is running.
        case busy
    }

    /// Makes `new` the current key, keeping the old one as retiring until `finish(new)`.
    package func begin(_ new: MasterKey) -> Start {
        self.keys.withLock { keys in
            if keys.current.matches(new) { return keys.retiring == nil ? .alreadyCurrent : .rotating }
            guard keys.retiring == nil else { return .busy }
            keys.retiring = keys.current
            keys.current = new
            return .rotating
        }
    }

    /// Forgets the retiring key once every data key is wrapped under `new`.
    package func finish(_ new: MasterKey) {
        self.keys.withLock { keys in
            if keys.current.matches(new) { keys.retiring = nil }
        }
    }
}
