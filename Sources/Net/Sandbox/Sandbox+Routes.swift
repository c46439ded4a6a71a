package import Actors
import Foundation
import HTTPTypes
package import Hummingbird
import NIOCore

extension Sandbox {
    private static func answer(_ answer: ShopifyEmulator.Answer, latency: Duration) async -> Response {
        if latency > .zero { try? await Task.sleep(for: latency) }
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        for (name, value) in answer.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        return Response(
            status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.json)))
    }

    /// Mounts the emulators, the pay endpoint, the purchase page and the demo storefront.
    package func register(on router: Router<HyggeRequestContext>, registry: MerchantRegistry? = nil) {
        let token = HTTPField.Name("X-Shopify-Access-Token")!
        let shopify = router.group("/sandbox/shopify/{shop}/admin")
        shopify.get("api/{version}/variants/{file}") { request, context in
            let shop = context.parameters.get("shop") ?? ""
            let file = context.parameters.get("file") ?? ""
            guard file.hasSuffix(".json"), let id = Int64(file.dropLast(5)) else {
                return await Self.answer(ShopifyEmulator.notFound, latency: .zero)
            }
            return await Self.answer(
                await self.shopify.variant(shop: shop, token: request.headers[token], id: id),
                latency: await self.shopify.latency)
        }
        shopify.get("api/{version}/products.json") { request, context in
            await Self.answer(
                await self.shopify.productsJSON(shop: context.parameters.get("shop") ?? "", token: request.headers[token]),
                latency: .zero)
        }
        shopify.post("api/{version}/orders.json") { request, context in
            let body = try await request.bodyBytes(context: context)
            let shop = context.parameters.get("shop") ?? ""
            let presented = request.headers[token]
            await self.shopify.record("POST orders.json", shop: shop)
            let latency = await self.shopify.latency
            let fault = await self.shopify.takeOrderFault()
            return await (fault ?? SandboxFault()).respond(
                channel: context.channel, error: ShopifyEmulator.failure,
                perform: { await self.shopify.createOrder(shop: shop, token: presented, body: body) },
                render: { await Self.answer($0, latency: latency) })
        }
        shopify.get("api/{version}/orders.json") { request, context in
            let query = request.uri.queryParameters
            var (answer, next) = await self.shopify.orders(
                shop: context.parameters.get("shop") ?? "", token: request.headers[token],
                createdAtMin: query.get("created_at_min"), createdAtMax: query.get("created_at_max"),
                limit: query.get("limit"), fields: query.get("fields"), pageInfo: query.get("page_info"))
            if let next {
                var parameters = ["page_info=\(next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? next)"]
                if let limit = query.get("limit") { parameters.append("limit=\(limit)") }
                if let fields = query.get("fields") {
                    parameters.append("fields=\(fields.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? fields)")
                }
                let host = request.head.authority ?? "localhost"
                answer.headers.append(("Link", "<http://\(host)\(request.uri.path)?\(parameters.joined(separator: "&"))>; rel=\"next\""))
            }
            return await Self.answer(answer, latency: await self.shopify.latency)
        }
        shopify.get("api/{version}/script_tags.json") { request, context in
            await Self.answer(
                await self.shopify.scriptTags(
                    shop: context.parameters.get("shop") ?? "", token: request.headers[token], method: "GET", body: nil,
                    id: nil), latency: .zero)
        }
        shopify.post("api/{version}/script_tags.json") { request, context in
            let body = try await request.bodyBytes(context: context)
            return await Self.answer(
                await self.shopify.scriptTags(
                    shop: context.parameters.get("shop") ?? "", token: request.headers[token], method: "POST",
                    body: body, id: nil), latency: .zero)
        }
        shopify.delete("api/{version}/script_tags/{file}") { request, context in
            let file = context.parameters.get("file") ?? ""
            return await Self.answer(
                await self.shopify.scriptTags(
                    shop: context.parameters.get("shop") ?? "", token: request.headers[token], method: "DELETE",
                    body: nil, id: Int64(file.replacingOccurrences(of: ".json", with: ""))), latency: .zero)
        }
        shopify.get("api/{version}/webhooks.json") { request, context in
            await Self.answer(
                await self.shopify.webhooks(
                    shop: context.parameters.get("shop") ?? "", token: request.headers[token], method: "GET", body: nil),
                latency: .zero)
        }
        shopify.post("api/{version}/webhooks.json") { request, context in
            let body = try await request.bodyBytes(context: context)
            return await Self.answer(
                await self.shopify.webhooks(
                    shop: context.parameters.get("shop") ?? "", token: request.headers[token], method: "POST",
                    body: body), latency: .zero)
        }
        shopify.get("oauth/authorize") { request, context in
            try await self.authorize(request, shop: context.parameters.get("shop") ?? "")
        }
        shopify.post("oauth/access_token") { request, context in
            let body = try await request.bodyBytes(context: context)
            let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
            guard let code = object["code"] as? String,
                let token = await self.shopify.exchange(code: code, shop: context.parameters.get("shop") ?? "")
            else {
                return await Self.answer(
                    ShopifyEmulator.json(
                        ["error": "invalid_request", "error_description": "The authorization code was not found or was already used"],
                        status: 400), latency: .zero)
            }
            return await Self.answer(
                ShopifyEmulator.json(["access_token": token, "scope": "read_products,write_orders,write_script_tags"]),
                latency: .zero)
        }

        let whopAPI = router.group("/sandbox/whop/api/v1")
        whopAPI.get("accounts/me") { request, _ in
            await Self.answer(
                await self.whop.me(authorization: request.headers[.authorization]), latency: await self.whop.latency)
        }
        whopAPI.post("checkout_configurations") { request, context in
            let body = try await request.bodyBytes(context: context)
            let authorization = request.headers[.authorization]
            let idempotencyKey = request.headers[HTTPField.Name("Idempotency-Key")!]
            let latency = await self.whop.latency
            let fault = await self.whop.takePlanFault()
            return await (fault ?? SandboxFault()).respond(
                channel: context.channel, error: WhopEmulator.failure,
                perform: {
                    await self.whop.createConfiguration(
                        authorization: authorization, idempotencyKey: idempotencyKey, body: body)
                },
                render: { await Self.answer($0, latency: latency) })
        }
        whopAPI.post("payments/{id}/refund") { request, context in
            let body = try await request.bodyBytes(context: context)
            let answer = await self.whop.refund(
                authorization: request.headers[.authorization], paymentID: context.parameters.get("id") ?? "",
                body: body)
            // Whop tells the merchant's webhook about the refund after answering the API call.
            let deliveries = await self.whop.takeRefundDeliveries()
            if !deliveries.isEmpty {
                Task {
                    for delivery in deliveries { _ = await self.deliver(delivery) }
                }
            }
            return await Self.answer(answer, latency: await self.whop.latency)
        }
        router.post("/sandbox/whop/pay") { request, context in
            try await self.pay(request, context)
        }
        router.get("/sandbox/whop/checkout/{id}") { _, context in
            try await self.purchasePage(context.parameters.get("id") ?? "")
        }
        router.post("/sandbox/config") { request, context in
            let body = try await request.bodyBytes(context: context)
            let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
            let faults: FaultConfiguration
            do {
                faults = try JSONDecoder().decode(FaultConfiguration.self, from: body)
            } catch {
                throw HyggeError.invalidRequest("faults must be a list of {status, retry_after, reset, stall_ms, create, delay_ms}")
            }
            if let limit = faults.shopify_call_limit, !limit.isEmpty, ShopifyCallLimit(header: limit) == nil {
                throw HyggeError.invalidRequest("shopify_call_limit must be used/limit, e.g. 39/40")
            }
            guard (faults.shopify_order_faults?.count ?? 0) <= SandboxFault.queueMax,
                (faults.whop_plan_faults?.count ?? 0) <= SandboxFault.queueMax
            else { throw HyggeError.invalidRequest("at most \(SandboxFault.queueMax) faults") }
            if let ms = object["shopify_latency_ms"] as? Int { await self.shopify.setLatency(.milliseconds(ms)) }
            if let ms = object["whop_latency_ms"] as? Int { await self.whop.setLatency(.milliseconds(ms)) }
            if let refused = object["whop_frame_deny"] as? Bool { await self.whop.setFramingRefused(refused) }
            if faults.clear_faults == true {
                await self.shopify.clearFaults()
                await self.whop.clearFaults()
            }
            if let queued = faults.shopify_order_faults { await self.shopify.injectOrderFaults(queued) }
            if let queued = faults.whop_plan_faults { await self.whop.injectPlanFaults(queued) }
            if let limit = faults.shopify_call_limit { await self.shopify.setCallLimit(limit.isEmpty ? nil : limit) }
            return JSONResponse.make(["status": "ok"])
        }
        router.post("/sandbox/load-merchants") { request, context in
            struct Body: Decodable { var count: Int? }
            struct Answer: Encodable {
                var demo: LoadMerchant
                var merchants: [LoadMerchant]
            }
            let body = try CheckoutRoutes.decodeStrict(Body.self, try await request.bodyBytes(context: context))
            let count = body.count ?? 0
            guard (0...Self.loadMerchantsMax).contains(count) else {
                throw HyggeError.invalidRequest("count must be 0…\(Self.loadMerchantsMax)")
            }
            guard let registry else { throw HyggeError.notFound }
            let merchants = try await self.seedLoadMerchants(
                count: count, registry: registry, whop: registry.environment.whop)
            return JSONResponse.make(Answer(demo: await self.demoLoadMerchant(), merchants: merchants))
        }
        self.registerStorefront(on: router)
    }

    /// The emulated OAuth authorize page: no consent screen, it redirects straight back to `redirect_uri` with a
    /// fresh code and Shopify's `hmac` (signed with the sandbox app secret), as Shopify does after the merchant
    /// clicks Install. Only redirects to this server's own callback.
    private func authorize(_ request: Request, shop: String) async throws -> Response {
        let query = request.uri.queryParameters
        guard MerchantID.isValidShopDomain(shop) else { throw HyggeError.invalidShop }
        guard query.get("client_id").map({ String($0) }) == self.demo.appAPIKey else {
            return JSONResponse.raw(
                "{\"errors\":\"Invalid client_id\"}", contentType: "application/json", status: .badRequest)
        }
        guard let redirect = query.get("redirect_uri").map({ String($0) }), redirect == "\(self.publicURL)/shopify/callback",
            let state = query.get("state").map({ String($0) })
        else {
            return JSONResponse.raw(
                "{\"errors\":\"The redirect_uri is not whitelisted\"}", contentType: "application/json",
                status: .badRequest)
        }
        let code = await self.shopify.mintCode(shop: shop)
        var pairs: [(String, String)] = [
            ("code", code), ("host", Data("admin.shopify.com/store/\(shop.dropLast(14))".utf8).base64EncodedString()),
            ("shop", shop), ("state", state), ("timestamp", String(Timestamp.now.seconds)),
        ]
        pairs.append(("hmac", ShopifyCallbackSignature.sign(ShopifyCallbackSignature.message(pairs), secret: self.demo.appAPISecret)))
        var headers = HTTPFields()
        headers[.location] = redirect + "?" + ShopifyInstallRoutes.query(pairs)
        return Response(status: .found, headers: headers)
    }

    /// The fault switches of `POST /sandbox/config`.
    struct FaultConfiguration: Decodable {
        var shopify_order_faults: [SandboxFault]?
        var whop_plan_faults: [SandboxFault]?
        /// `used/limit` for `X-Shopify-Shop-Api-Call-Limit`; empty = back to the default.
        var shopify_call_limit: String?
        var clear_faults: Bool?
    }

    struct PayBody: Decodable {
        var purchase_url: String?
        var plan_id: String?
        var outcome: String?
        var amount: Int64?
    }

    private func pay(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let body = try CheckoutRoutes.decodeStrict(PayBody.self, try await request.bodyBytes(context: context))
        guard let key = body.purchase_url ?? body.plan_id,
            let configuration = await self.whop.configuration(matching: key)
        else { throw HyggeError.invalidRequest("purchase_url or plan_id of a Whop plan is required") }
        let outcome = body.outcome ?? "succeeded"
        guard outcome == "succeeded" || outcome == "failed" else {
            throw HyggeError.invalidRequest("outcome must be succeeded or failed")
        }
        switch await self.whop.pay(configurationID: configuration.id, outcome: outcome, amountMinor: body.amount) {
        case .success(let delivery):
            let status = await self.deliver(delivery)
            return JSONResponse.make(PayAnswer(payment_id: delivery.paymentID, webhook_status: status))
        case .failure(.alreadyPaid(let paymentID)):
            return JSONResponse.make(PayAnswer(payment_id: paymentID, webhook_status: 200))
        case .failure:
            throw HyggeError.invalidRequest("the plan's company has no webhook configured")
        }
    }

    struct PayAnswer: Encodable {
        var payment_id: String
        var webhook_status: Int
    }
}
