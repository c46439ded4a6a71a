import Actors
import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// Storefront and buyer API (CONTRACT §2): no auth, CORS for storefront origins.
struct CheckoutRoutes {
    let dependencies: NetDependencies

    /// Lines per cart and quantity per line.
    static let linesMax = 100
    static let quantityMax = 999

    func register(on router: Router<HyggeRequestContext>) {
        router.post("/api/checkout/create-from-cart") { request, context in
            try await self.createFromCart(request, context)
        }
        router.post("/api/checkout/get-plan") { request, context in
            try await self.getPlan(request, context)
        }
        router.get("/api/checkout/{id}") { _, context in
            try await self.status(context)
        }
    }

    struct CartBody: Decodable {
        struct Item: Decodable {
            var variant_id: Int64?
            var quantity: Int?
        }
        struct MoneyBody: Decodable {
            var amount: Int64?
            var currency: String?
        }
        var shop: String?
        var items: [Item]?
        var currency: String?
        var client_total: MoneyBody?
        var email: String?
    }

    struct MoneyDTO: Codable, Equatable {
        var amount: Int64
        var currency: String
        init(_ money: Money) {
            self.amount = money.amount
            self.currency = money.currency
        }
    }

    struct LineDTO: Encodable {
        var variant_id: Int64
        var quantity: Int
        var unit_price: Int64
        var title: String
    }

    struct CreatedDTO: Encodable {
        var checkout_id: String
        var status: String
        var line_items: [LineDTO]
        var total: MoneyDTO
        var expires_at: String
        var client_total_mismatch: Bool
    }

    static func decodeStrict<T: Decodable>(_ type: T.Type, _ body: Data) throws(HyggeError) -> T {
        guard (try? JSONSerialization.jsonObject(with: body)) is [String: Any] else {
            throw .invalidRequest("the body must be a JSON object")
        }
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch {
            throw .invalidRequest("a field has the wrong type")
        }
    }

    static func cartRequest(_ body: CartBody) throws(HyggeError) -> (MerchantID, CartRequest) {
        guard let shop = body.shop, MerchantID.isValidShopDomain(shop) else {
            throw .invalidRequest("shop must be a myshopify.com domain")
        }
        guard let currency = body.currency, Currency.isValidCode(currency) else {
            throw .invalidRequest("currency must be an ISO-4217 code")
        }
        guard let items = body.items, (1...Self.linesMax).contains(items.count) else {
            throw .invalidRequest("items must hold 1 to \(Self.linesMax) lines")
        }
        var lines: [CartRequest.Item] = []
        for item in items {
            guard let variant = item.variant_id, variant > 0 else {
                throw .invalidRequest("every item needs a positive variant_id")
            }
            guard let quantity = item.quantity, (1...Self.quantityMax).contains(quantity) else {
                throw .invalidRequest("quantity must be 1 to \(Self.quantityMax)")
            }
            lines.append(.init(variantID: variant, quantity: quantity))
        }
        var clientTotal: Money?
        if let given = body.client_total {
            guard let amount = given.amount, let code = given.currency, Currency.isValidCode(code) else {
                throw .invalidRequest("client_total must be {amount, currency}")
            }
            clientTotal = Money(amount: amount, currency: code)
        }
        if let email = body.email, email.utf8.count > 254 || !email.contains("@") {
            throw .invalidRequest("email is not an address")
        }
        return (MerchantID(shop), CartRequest(items: lines, currency: currency, clientTotal: clientTotal, email: body.email))
    }

    /// A digest of what the request means (not its bytes), so a retry whose JSON keys or spacing differ is still the
    /// same request for its Idempotency-Key, and any change of shop, lines, currency, client total or email is not.
    static func fingerprint(_ shop: MerchantID, _ cart: CartRequest) -> String {
        var canonical = "v1\n\(shop.rawValue)\n\(cart.currency)\n"
        for item in cart.items { canonical += "\(item.variantID)x\(item.quantity);" }
        canonical += "\n" + (cart.clientTotal.map { "\($0.amount) \($0.currency)" } ?? "-")
        canonical += "\n" + (cart.email ?? "-")
        return SHA256.hash(data: Data(canonical.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func created(_ checkout: Checkout) -> CreatedDTO {
        CreatedDTO(
            checkout_id: checkout.id.rawValue, status: CheckoutStatus.open.rawValue,
            line_items: checkout.lineItems.map {
                LineDTO(variant_id: $0.variantID, quantity: $0.quantity, unit_price: $0.unitPrice, title: $0.title)
            },
            total: MoneyDTO(checkout.total), expires_at: checkout.expiresAt.iso8601,
            client_total_mismatch: checkout.clientTotalMismatch)
    }

    func createFromCart(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let context = context
        let body = try await request.bodyBytes(context: context)
        let (shop, cart) = try Self.cartRequest(try Self.decodeStrict(CartBody.self, body))
        context.merchant = shop.rawValue
        var key: String?
        if let given = request.headers[HTTPField.Name("Idempotency-Key")!] {
            guard !given.isEmpty, given.utf8.count <= 255 else {
                throw HyggeError.invalidRequest("Idempotency-Key must be 1 to 255 characters")
            }
            key = given
        }
        guard let merchant = self.dependencies.registry.merchant(shop) else { throw HyggeError.unknownShop }
        let hash = key.map { _ in Self.fingerprint(shop, cart) }
        let result = try await merchant.createCheckout(cart, idempotencyKey: key, requestHash: hash, now: .now)
        return JSONResponse.make(Self.created(result.checkout), status: .created)
    }

    struct PlanBody: Decodable {
        var checkout_id: String?
    }

    struct PlanDTO: Encodable {
        var checkout_id: String
        var plan_id: String
        var purchase_url: String
        var status: String
    }

    func getPlan(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let context = context
        let body = try Self.decodeStrict(PlanBody.self, try await request.bodyBytes(context: context))
        guard let raw = body.checkout_id, !raw.isEmpty, raw.utf8.count <= 64 else {
            throw HyggeError.invalidRequest("checkout_id is required")
        }
        let id = CheckoutID(raw)
        guard let merchant = self.dependencies.registry.merchant(forCheckout: id) else {
            throw HyggeError.unknownCheckout
        }
        context.merchant = merchant.id.rawValue
        let answer = try await merchant.plan(for: id, now: .now)
        return JSONResponse.make(
            PlanDTO(
                checkout_id: id.rawValue, plan_id: answer.plan.planID, purchase_url: answer.plan.purchaseURL,
                status: answer.status.rawValue))
    }

    struct StatusDTO: Encodable {
        var checkout_id: String
        var status: String
        var total: MoneyDTO
        var plan_id: String?
        var purchase_url: String?
        var payment_id: String?
        var shopify_order_id: Int64?
        var shopify_order_name: String?
        var expires_at: String
        var late_payment: Bool?
    }

    func status(_ context: HyggeRequestContext) async throws -> Response {
        let raw = context.parameters.get("id") ?? ""
        let id = CheckoutID(raw)
        guard raw.utf8.count <= 64, let merchant = self.dependencies.registry.merchant(forCheckout: id) else {
            throw HyggeError.unknownCheckout
        }
        context.merchant = merchant.id.rawValue
        let checkout = try await merchant.checkout(id)
        return JSONResponse.make(
            StatusDTO(
                checkout_id: id.rawValue, status: checkout.status.rawValue, total: MoneyDTO(checkout.total),
                plan_id: checkout.plan?.planID, purchase_url: checkout.plan?.purchaseURL, payment_id: checkout.paymentID,
                shopify_order_id: checkout.orderID, shopify_order_name: checkout.orderName,
                expires_at: checkout.expiresAt.iso8601, late_payment: checkout.latePayment ? true : nil))
    }
}
