import Foundation
import Logging
import Persistence
import Synchronization

/// Holds one `MerchantActor` per merchant and routes to them.
///
/// Lookups take a short lock with no `await` inside, so get-or-create can never create twin actors, and the
/// requests of different merchants never wait for each other beyond that lookup.
package final class MerchantRegistry: Sendable {
    private let actors: Mutex<[MerchantID: MerchantActor]>
    /// Shared environment of every actor.
    package let environment: MerchantEnvironment

    /// A registry over restored states; registers their checkouts and companies in the directory.
    package init(states: [MerchantID: MerchantState], environment: MerchantEnvironment) {
        var actors: [MerchantID: MerchantActor] = [:]
        actors.reserveCapacity(states.count)
        for (id, state) in states {
            actors[id] = MerchantActor(state: state, environment: environment)
        }
        // A company shared by several shops (state from before one company was limited to one shop) goes to an
        // installed one, deterministically.
        let holders = states.values.filter { $0.companyID != nil }.sorted {
            ($0.installed ? 1 : 0, $0.id) < ($1.installed ? 1 : 0, $1.id)
        }
        for state in holders {
            if let company = state.companyID { environment.directory.register(company: company, merchant: state.id) }
        }
        environment.directory.register(checkoutsOf: Array(states.values))
        self.actors = Mutex(actors)
        self.environment = environment
    }

    /// The merchant for a shop, if it exists.
    package func merchant(_ id: MerchantID) -> MerchantActor? {
        self.actors.withLock { $0[id] }
    }

    /// The merchant whose Whop company this is.
    package func merchant(forCompany company: String) -> MerchantActor? {
        guard let id = self.environment.directory.merchant(forCompany: company) else { return nil }
        return self.merchant(id)
    }

    /// Claims a Whop company for `merchant` before its key is stored. Whop webhooks are routed by company id, so a
    /// company takes payments for one shop only: the claim is refused while another installed shop holds it (a
    /// shop that uninstalled gives it up to the next shop that connects it).
    /// - Throws: `whopCompanyInUse`.
    package func claimCompany(_ company: String, for merchant: MerchantActor) async throws(HyggeError) {
        let directory = self.environment.directory
        for _ in 0..<4 {
            let holder = directory.merchant(forCompany: company)
            if let holder, holder != merchant.id, let other = self.merchant(holder), await other.isInstalled {
                throw .whopCompanyInUse
            }
            if directory.claim(company: company, for: merchant.id, expecting: holder) { return }
        }
        throw .whopCompanyInUse
    }

    /// The merchant holding a checkout.
    package func merchant(forCheckout checkout: CheckoutID) -> MerchantActor? {
        guard let id = self.environment.directory.merchant(for: checkout) else { return nil }
        return self.merchant(id)
    }

    /// Every merchant, sorted by shop.
    package var all: [MerchantActor] {
        self.actors.withLock { $0.values.sorted { $0.id < $1.id } }
    }

    /// Number of merchants.
    package var count: Int { self.actors.withLock { $0.count } }

    /// The LSN of the newest journal record.
    package var lastLSN: UInt64 { self.environment.journal.lastAssignedLSN }

    /// Returns the merchant for `id`, creating it (with a fresh data key, journaled) if needed.
    package func merchantCreatingIfNeeded(_ id: MerchantID, now: Timestamp) async throws(HyggeError) -> MerchantActor {
        let created: Result<(MerchantActor, UInt64?), HyggeError> = self.actors.withLock { actors in
            if let existing = actors[id] { return .success((existing, nil)) }
            do {
                let wrapped = try Vault.wrap(Vault.newDataKey(), for: id, master: self.environment.master)
                let event = MerchantEvent.created(dataKey: wrapped, at: now)
                let payload = JournalEntry(merchant: id, event: event).encoded()
                let lsn = try self.environment.journal.append(payload)
                var state = MerchantState(id: id, dataKey: wrapped, createdAt: now)
                state.appliedLSN = lsn
                let actor = MerchantActor(state: state, environment: self.environment)
                actors[id] = actor
                return .success((actor, lsn))
            } catch {
                return .failure(.journalUnavailable)
            }
        }
        let (actor, lsn) = try created.get()
        if let lsn {
            do {
                try await self.environment.journal.waitDurable(lsn)
            } catch {
                throw .journalUnavailable
            }
        }
        return actor
    }

    /// Queues every pending order sync (after a restore).
    package func requeuePendingOrders() async {
        for merchant in self.all {
            for checkout in await merchant.pendingOrders {
                self.environment.orders.enqueue(merchant.id, checkout)
            }
        }
    }

    /// Expires due checkouts of every merchant; returns the number of live checkouts afterwards.
    package func expireDue(now: Timestamp) async -> Int {
        var live = 0
        for merchant in self.all {
            try? await merchant.expireDue(now: now)
            live += await merchant.liveCheckouts
        }
        return live
    }
}
