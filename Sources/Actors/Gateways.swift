/// What Shopify Admin says about one variant.
package struct VariantInfo: Hashable, Sendable {
    package var id: Int64
    package var productID: Int64?
    /// Price as Shopify's decimal string (converted to minor units with the checkout's currency).
    package var price: String
    package var title: String

    package init(id: Int64, productID: Int64?, price: String, title: String) {
        self.id = id
        self.productID = productID
        self.price = price
        self.title = title
    }
}

/// The paid order Hygge posts to Shopify.
package struct OrderRequest: Hashable, Sendable {
    package var checkoutID: CheckoutID
    package var paymentID: String
    package var lineItems: [LineItem]
    package var total: Money
    package var email: String?

    package init(checkoutID: CheckoutID, paymentID: String, lineItems: [LineItem], total: Money, email: String?) {
        self.checkoutID = checkoutID
        self.paymentID = paymentID
        self.lineItems = lineItems
        self.total = total
        self.email = email
    }
}

/// An order as Shopify answered it.
package struct ShopifyOrder: Hashable, Sendable {
    package var id: Int64
    package var name: String
    package var sourceIdentifier: String?

    package init(id: Int64, name: String, sourceIdentifier: String?) {
        self.id = id
        self.name = name
        self.sourceIdentifier = sourceIdentifier
    }
}

/// What went wrong talking to Shopify or Whop, in terms the caller can act on.
package enum GatewayError: Error, Equatable, Sendable {
    /// Timeout, connection error, 5xx: the request may or may not have taken effect.
    case unavailable(String)
    /// 429: not applied; retry after the given delay if any.
    case rateLimited(retryAfter: Duration?)
    /// 401/403: credentials refused.
    case unauthorized
    /// 404.
    case notFound
    /// Another 4xx, with the upstream's message (never containing our credentials).
    case rejected(status: Int, message: String)

    /// Whether a retry may help.
    package var isRetryable: Bool {
        switch self {
        case .unavailable, .rateLimited: true
        case .unauthorized, .notFound, .rejected: false
        }
    }

    /// Whether the request may have taken effect upstream.
    package var isAmbiguous: Bool {
        if case .unavailable = self { return true }
        return false
    }

    /// Short stable label for logs and the dashboard.
    package var label: String {
        switch self {
        case .unavailable: "unavailable"
        case .rateLimited: "rate_limited"
        case .unauthorized: "unauthorized"
        case .notFound: "not_found"
        case .rejected(let status, _): "rejected_\(status)"
        }
    }
}

/// Shopify Admin REST, as the domain needs it. Implemented in Net over HTTP; the sandbox is reached through the
/// same implementation with another base URL.
package protocol ShopifyAdmin: Sendable {
    /// `GET /admin/api/{v}/variants/{id}.json`; nil when Shopify answers 404.
    func variant(shop: MerchantID, token: String, id: Int64) async throws(GatewayError) -> VariantInfo?
    /// `POST /admin/api/{v}/orders.json` with a paid order.
    func createOrder(shop: MerchantID, token: String, order: OrderRequest) async throws(GatewayError) -> ShopifyOrder
    /// `GET orders.json?status=any&created_at_min=…&created_at_max=…`: an order created in that window whose
    /// `source_identifier` is the checkout id.
    func findOrder(
        shop: MerchantID, token: String, sourceIdentifier: String, createdAtMin: Timestamp, createdAtMax: Timestamp
    ) async throws(GatewayError) -> ShopifyOrder?
}

/// What Hygge asks Whop for a one-shot plan.
package struct PlanRequest: Hashable, Sendable {
    package var checkoutID: CheckoutID
    package var shop: MerchantID
    package var companyID: String
    package var total: Money
    /// At most 30 characters.
    package var title: String
    package var redirectURL: String?

    package init(
        checkoutID: CheckoutID, shop: MerchantID, companyID: String, total: Money, title: String, redirectURL: String?
    ) {
        self.checkoutID = checkoutID
        self.shop = shop
        self.companyID = companyID
        self.total = total
        self.title = title
        self.redirectURL = redirectURL
    }
}

/// Whop's API, as the domain needs it (merchant's company key in every call).
package protocol WhopAPI: Sendable {
    /// `GET /accounts/me`: the company id the key belongs to.
    func companyID(apiKey: String) async throws(GatewayError) -> String
    /// `POST /checkout_configurations` with `Idempotency-Key: <checkout id>`.
    func createPlan(apiKey: String, request: PlanRequest) async throws(GatewayError) -> WhopPlan
    /// `POST /payments/{id}/refund`; nil amount = full refund.
    func refund(apiKey: String, paymentID: String, amount: Money?) async throws(GatewayError)
}

/// What Shopify's OAuth code exchange gives: the offline access token and the scopes granted.
package struct ShopifyAccessGrant: Hashable, Sendable {
    package var token: String
    package var scopes: String

    package init(token: String, scopes: String) {
        self.token = token
        self.scopes = scopes
    }
}

/// A script tag registered in a shop.
package struct ShopifyScriptTag: Hashable, Sendable {
    package var id: Int64
    package var src: String

    package init(id: Int64, src: String) {
        self.id = id
        self.src = src
    }
}

/// A webhook subscription registered in a shop.
package struct ShopifyWebhookSubscription: Hashable, Sendable {
    package var id: Int64
    package var topic: String
    package var address: String

    package init(id: Int64, topic: String, address: String) {
        self.id = id
        self.topic = topic
        self.address = address
    }
}

/// The Shopify app-install calls (OAuth code exchange, script tags, webhook subscriptions), used by the install flow
/// in Net. A separate protocol from `ShopifyAdmin` so fakes of the order path need not implement them.
package protocol ShopifyInstaller: Sendable {
    /// `POST {base}/admin/oauth/access_token` with `client_id`, `client_secret` and the one-time `code`.
    func exchangeCode(shop: MerchantID, clientID: String, clientSecret: String, code: String)
        async throws(GatewayError) -> ShopifyAccessGrant
    /// `GET /admin/api/{v}/script_tags.json`.
    func scriptTags(shop: MerchantID, token: String) async throws(GatewayError) -> [ShopifyScriptTag]
    /// `POST /admin/api/{v}/script_tags.json` with `event: onload`, `display_scope: online_store`.
    func createScriptTag(shop: MerchantID, token: String, src: String) async throws(GatewayError) -> ShopifyScriptTag
    /// `DELETE /admin/api/{v}/script_tags/{id}.json`; a tag already gone is not an error.
    func deleteScriptTag(shop: MerchantID, token: String, id: Int64) async throws(GatewayError)
    /// `GET /admin/api/{v}/webhooks.json`.
    func webhooks(shop: MerchantID, token: String) async throws(GatewayError) -> [ShopifyWebhookSubscription]
    /// `POST /admin/api/{v}/webhooks.json`; Shopify's 422 "has already been taken" counts as success.
    func subscribeWebhook(shop: MerchantID, token: String, topic: String, address: String) async throws(GatewayError)
}
