import Actors
import Foundation
import HTTPTypes
package import Hummingbird

/// `/healthz`, `/readyz`, `/metrics`, and the bearer-token `/admin/*` API (CONTRACT §7).
struct OpsRoutes {
    let dependencies: NetDependencies

    func register(on router: Router<HyggeRequestContext>) {
        router.get("/healthz") { _, _ in
            JSONResponse.raw("{\"status\":\"ok\"}", contentType: "application/json")
        }
        router.get("/readyz") { _, context in
            guard self.dependencies.readiness.isReady else {
                return ErrorBody.response(
                    status: .serviceUnavailable, code: "not_ready", message: "Restore is still running.",
                    requestID: context.requestID)
            }
            return JSONResponse.raw("{\"status\":\"ready\"}", contentType: "application/json")
        }
        router.get("/openapi.yaml") { _, _ in
            JSONResponse.raw(OpenAPIDocument.yaml, contentType: "application/yaml; charset=utf-8")
        }
        router.get("/metrics") { _, _ in
            await self.dependencies.stateKeeper?.refreshGauges()
            return JSONResponse.raw(self.dependencies.metricsText(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.post("/admin/snapshot") { request, _ in
            try self.authorize(request)
            guard let keeper = self.dependencies.stateKeeper else { throw HyggeError.notFound }
            let info = try await keeper.snapshot()
            struct SnapshotDTO: Encodable {
                var lsn: UInt64
                var file: String
                var bytes: Int
            }
            return JSONResponse.make(SnapshotDTO(lsn: info.lsn, file: info.file, bytes: info.bytes))
        }
        router.post("/admin/keys/rotate-master") { request, context in
            try self.authorize(request)
            return try await self.rotateMaster(request, context)
        }
        router.get("/admin/status") { request, _ in
            try self.authorize(request)
            struct RestoreDTO: Encodable {
                var snapshot_lsn: UInt64
                var replayed: Int
                var skipped: Int
                var merchants: Int
            }
            struct StatusDTO: Encodable {
                var ready: Bool
                var lsn: UInt64
                var merchants: Int
                var restore: RestoreDTO?
            }
            let restore = self.dependencies.restore.map {
                RestoreDTO(snapshot_lsn: $0.snapshotLSN, replayed: $0.replayed, skipped: $0.skipped, merchants: $0.merchants)
            }
            return JSONResponse.make(
                StatusDTO(
                    ready: self.dependencies.readiness.isReady, lsn: self.dependencies.registry.lastLSN,
                    merchants: self.dependencies.registry.count, restore: restore))
        }
        router.get("/admin/merchants") { request, _ in
            try self.authorize(request)
            struct MerchantDTO: Encodable {
                var shop: String
                var installed: Bool
                var company_id: String?
                var webhook_secret_set: Bool
                var tier: String?
                var monthly_limit: Int
                var live_checkouts: Int
                var usage: UsageDTO
                var pending_orders: Int
            }
            /// This month's ledger totals (minor units per currency), as `GET /api/merchant` shows the merchant.
            struct UsageDTO: Encodable {
                var month: String
                var paid: Int
                var reserved: Int
                var gross: [CheckoutRoutes.MoneyDTO]
                var refunds: [CheckoutRoutes.MoneyDTO]
                var fees: [CheckoutRoutes.MoneyDTO]
            }
            func money(_ amounts: [String: Int64]) -> [CheckoutRoutes.MoneyDTO] {
                amounts.sorted { $0.key < $1.key }.map {
                    CheckoutRoutes.MoneyDTO(Money(amount: $0.value, currency: $0.key))
                }
            }
            var rows: [MerchantDTO] = []
            for merchant in self.dependencies.registry.all {
                let summary = await merchant.summary(now: .now)
                rows.append(
                    MerchantDTO(
                        shop: summary.shop.rawValue, installed: summary.installed, company_id: summary.companyID,
                        webhook_secret_set: summary.webhookSecretSet, tier: summary.tier,
                        monthly_limit: summary.monthlyLimit, live_checkouts: await merchant.liveCheckouts,
                        usage: UsageDTO(
                            month: summary.month, paid: summary.usage.paid, reserved: summary.reserved,
                            gross: money(summary.usage.gross), refunds: money(summary.usage.refunds),
                            fees: money(summary.usage.fees)),
                        pending_orders: await merchant.pendingOrders.count))
            }
            return JSONResponse.make(["merchants": rows])
        }
    }

    struct RotateBody: Decodable { var new_key: String? }

    /// `POST /admin/keys/rotate-master {"new_key":"<base64 of 32 bytes>"}`: the online master-key rotation. Answers
    /// once every data key is re-wrapped durably and the snapshots are written; the key is never echoed or logged.
    func rotateMaster(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let body = try CheckoutRoutes.decodeStrict(RotateBody.self, try await request.bodyBytes(context: context))
        guard let text = body.new_key, let new = try? MasterKey(base64: text) else {
            throw HyggeError.invalidRequest("new_key must be base64 of 32 bytes")
        }
        let report = try await MasterKeyRotation.run(
            to: new, registry: self.dependencies.registry, keeper: self.dependencies.stateKeeper,
            logger: context.logger)
        // Also after a no-op: a retry then repairs a key file the first call could not write.
        try self.dependencies.masterKeyRotated?(new)
        struct SnapshotDTO: Encodable {
            var lsn: UInt64
            var file: String
        }
        struct RotationDTO: Encodable {
            var merchants: Int
            var rewrapped: Int
            var already_current: Bool
            var snapshot: SnapshotDTO?
        }
        return JSONResponse.make(
            RotationDTO(
                merchants: report.merchants, rewrapped: report.rewrapped, already_current: report.alreadyCurrent,
                snapshot: report.snapshot.map { SnapshotDTO(lsn: $0.lsn, file: $0.file) }))
    }

    private func authorize(_ request: Request) throws {
        guard let token = self.dependencies.adminToken else { throw HyggeError.notFound }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            StandardWebhooks.constantTimeEquals(Array(header.dropFirst(7).utf8), Array(token.utf8))
        else { throw HyggeError.unauthorized }
    }
}

/// CORS for the buyer API (CONTRACT §2): echoes the origin of an installed merchant's storefront (`https://{shop}`,
/// or an extra origin such as the sandbox's demo storefront); other origins get no CORS headers, preflights included.
/// Every answer says `Vary: Origin`, so no cache hands one origin's answer to another.
struct CORSMiddleware: RouterMiddleware {
    typealias Context = HyggeRequestContext
    let dependencies: NetDependencies

    func allowed(_ origin: String) async -> Bool {
        if self.dependencies.extraOrigins.contains(origin) { return true }
        guard origin.hasPrefix("https://") else { return false }
        let host = String(origin.dropFirst(8))
        guard MerchantID.isValidShopDomain(host), let merchant = self.dependencies.registry.merchant(MerchantID(host))
        else { return false }
        return await merchant.summary(now: .now).installed
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard request.uri.path.hasPrefix("/api/checkout/") else { return try await next(request, context) }
        let origin = request.headers[.origin]
        var ok = false
        if let origin { ok = await self.allowed(origin) }
        if let origin, request.method == .options {
            var headers = HTTPFields()
            headers[.vary] = "Origin"
            if ok {
                headers[.accessControlAllowOrigin] = origin
                headers[.accessControlAllowMethods] = "GET, POST, OPTIONS"
                headers[.accessControlAllowHeaders] = "Content-Type, Idempotency-Key"
                headers[.accessControlMaxAge] = "600"
            }
            return Response(status: .noContent, headers: headers)
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HyggeError {
            response = error.response(requestID: context.requestID)
        }
        response.headers[.vary] = "Origin"
        if ok, let origin { response.headers[.accessControlAllowOrigin] = origin }
        return response
    }
}

/// Builds the router: every route of the service (and the sandbox's when configured), behind the request middleware.
package func makeRouter(_ dependencies: NetDependencies) -> Router<HyggeRequestContext> {
    let router = Router(context: HyggeRequestContext.self)
    router.add(middleware: RequestMiddleware())
    router.add(middleware: CORSMiddleware(dependencies: dependencies))
    OpsRoutes(dependencies: dependencies).register(on: router)
    CheckoutRoutes(dependencies: dependencies).register(on: router)
    WebhookRoutes(dependencies: dependencies).register(on: router)
    EmbedRoutes(dependencies: dependencies).register(on: router)
    ShopifyInstallRoutes(dependencies: dependencies).register(on: router)
    ShopifyWebhookRoutes(dependencies: dependencies).register(on: router)
    MerchantAPIRoutes(dependencies: dependencies).register(on: router)
    AppPages(dependencies: dependencies).register(on: router)
    dependencies.sandbox?.register(on: router, registry: dependencies.registry)
    return router
}
