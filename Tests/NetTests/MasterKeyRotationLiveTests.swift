import Actors
import Foundation
import Net
import Persistence
import Synchronization
import Testing

/// `POST /admin/keys/rotate-master` against a real server: no downtime, durable, idempotent, and afterwards only the
/// new master key starts the service.
struct MasterKeyRotationLiveTests {
    struct Outcome: Sendable {
        var failures: [String] = []
        var checkouts: [String] = []
    }

    /// create-from-cart → get-plan for `count` carts spread over `shops`.
    static func buyers(_ live: LiveServer, shops: [(String, Int64)], offset: Int, count: Int) async throws -> Outcome {
        var outcome = Outcome()
        for index in 0..<count {
            let (shop, variant) = shops[(offset + index) % shops.count]
            let created = try await live.createCheckout(variant: variant, shop: shop)
            guard created.status == 201, let id = created.json?["checkout_id"] as? String else {
                outcome.failures.append("create-from-cart \(created.status) \(created.text)")
                continue
            }
            outcome.checkouts.append(id)
            let plan = try await live.post("/api/checkout/get-plan", json: ["checkout_id": id])
            if plan.status != 200 { outcome.failures.append("get-plan \(plan.status) \(plan.text)") }
        }
        return outcome
    }

    /// Every data key written anywhere in the data directory (snapshots and journal records).
    static func wrappedDataKeys(in directory: String) throws -> [(MerchantID, SealedValue)] {
        var keys: [(MerchantID, SealedValue)] = []
        for info in try SnapshotStore.list(directory: directory) {
            let (_, body) = try SnapshotStore.read(path: info.path)
            let snapshot = try RegistrySnapshot.decode(body)
            keys += snapshot.merchants.map { ($0.id, $0.dataKey) }
        }
        try JournalInspector.forEachRecord(directory: directory) { record in
            let entry = try JournalEntry(payload: record.payload)
            switch entry.e {
            case .created(let dataKey, _), .dataKeyRewrapped(let dataKey): keys.append((entry.m, dataKey))
            default: break
            }
        }
        return keys
    }

    @Test func rotatingWhileCheckoutsAreCreatedFailsNoneAndOnlyTheNewKeyStartsAfterwards() async throws {
        let directory = LiveServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let old = LiveServer.master(for: directory)
        let new = MasterKey.generate()
        let admin = [("Authorization", "Bearer admin-test-token")]
        let checkouts = Mutex<[String]>([])
        try await LiveServer.run(directory: directory, master: old) { live in
            let seeded = try await live.post("/sandbox/load-merchants", json: ["count": 6])
            let merchants = try #require(seeded.json?["merchants"] as? [[String: Any]])
            var shops: [(String, Int64)] = [(live.demo.shop.rawValue, live.firstVariant)]
            for merchant in merchants {
                let shop = try #require(merchant["shop"] as? String)
                let variant = try #require((merchant["variant_ids"] as? [Any])?.first as? Int)
                shops.append((shop, Int64(variant)))
            }
            let total = live.server.registry.count
            #expect(total == 7)

            // The admin token is required, and the key must be 32 bytes.
            #expect(try await live.post("/admin/keys/rotate-master", json: ["new_key": new.base64]).status == 401)
            let short = try await live.post("/admin/keys/rotate-master", json: ["new_key": "c2hvcnQ="], headers: admin)
            #expect(short.status == 400)
            #expect(short.errorCode == "invalid_request")

            let fixedShops = shops
            let (outcomes, rotation) = try await withThrowingTaskGroup(
                of: (Outcome?, LiveServer.Reply?).self, returning: ([Outcome], LiveServer.Reply?).self
            ) { group in
                for worker in 0..<4 {
                    group.addTask { (try await Self.buyers(live, shops: fixedShops, offset: worker, count: 12), nil) }
                }
                group.addTask {
                    // Start once buyers are under way, so the re-wraps interleave with their requests.
                    _ = try await Self.buyers(live, shops: fixedShops, offset: 5, count: 1)
                    return (nil, try await live.post("/admin/keys/rotate-master", json: ["new_key": new.base64], headers: admin))
                }
                var outcomes: [Outcome] = []
                var rotation: LiveServer.Reply?
                for try await (outcome, reply) in group {
                    if let outcome { outcomes.append(outcome) }
                    if let reply { rotation = reply }
                }
                return (outcomes, rotation)
            }
            let failures = outcomes.flatMap(\.failures)
            #expect(failures.isEmpty, "\(failures.prefix(3))")
            #expect(outcomes.flatMap(\.checkouts).count == 48)
            checkouts.withLock { $0 = outcomes.flatMap(\.checkouts) }
            let reply = try #require(rotation)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json?["merchants"] as? Int == total)
            #expect(reply.json?["rewrapped"] as? Int == total)
            #expect(reply.json?["already_current"] as? Bool == false)
            #expect((reply.json?["snapshot"] as? [String: Any])?["file"] is String)
            #expect(!reply.text.contains(new.base64) && !reply.text.contains(old.base64))

            // A retry (same key) is a no-op success; every merchant keeps serving.
            let again = try await live.post("/admin/keys/rotate-master", json: ["new_key": new.base64], headers: admin)
            #expect(again.status == 200)
            #expect(again.json?["already_current"] as? Bool == true)
            #expect(again.json?["rewrapped"] as? Int == 0)
            let after = try await Self.buyers(live, shops: fixedShops, offset: 0, count: fixedShops.count)
            #expect(after.failures.isEmpty, "\(after.failures.prefix(3))")
        }

        // Nothing in the data directory opens with the old master key any more.
        let wrapped = try Self.wrappedDataKeys(in: directory)
        #expect(!wrapped.isEmpty)
        for (merchant, key) in wrapped {
            #expect((try? Vault.unwrap(key, for: merchant, master: old)) == nil, "\(merchant) still opens with the old key")
            #expect((try? Vault.unwrap(key, for: merchant, master: new)) != nil)
        }

        // The old key refuses to start, with the message that says what to do.
        do {
            try await LiveServer.run(directory: directory, master: old) { _ in
                Issue.record("the old master key started the server")
            }
            Issue.record("the old master key started the server")
        } catch let error as MasterKeyMismatch {
            #expect(error.description.contains("does not open the data keys of 7 merchant(s)"))
        }

        // The new key restores everything: the checkouts, and the secrets (a new checkout needs the Shopify token,
        // its plan the Whop key).
        let known = checkouts.withLock { $0 }
        try await LiveServer.run(directory: directory, master: new) { live in
            for id in known {
                let reply = try await live.request("GET", "/api/checkout/\(id)")
                #expect(reply.status == 200)
                #expect(reply.json?["status"] as? String == "awaiting_payment")
            }
            _ = try await live.planned()
            #expect(live.server.registry.count == 7)
        }
    }
}
