package import Actors
import Foundation
import Logging
import HTTPTypes
import Hummingbird

/// Who a merchant request is from.
package struct MerchantSession: Sendable {
    package var shop: MerchantID
    /// The `hygge_session` cookie value when the session came from the cookie (CSRF tokens are bound to it).
    package var cookie: String?
}

/// Authenticates `/api/merchant/*` and `/app*`: the `hygge_session` cookie or a Shopify session token
/// (`Authorization: Bearer <HS256 JWT>`). Missing or invalid credentials, or a shop that is not installed → 401;
/// a `shop` query parameter naming another shop → 403.
struct MerchantSessionMiddleware: RouterMiddleware {
    typealias Context = HyggeRequestContext
    let dependencies: NetDependencies
    /// Pages answer an unauthenticated browser with a redirect to install (when the shop is known) or an HTML page.
    let pages: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let session = await self.authenticate(request, context) else {
            if self.pages { return Self.signInPage(request) }
            throw HyggeError.unauthorized
        }
        if let asked = request.uri.queryParameters.get("shop"), asked != session.shop.rawValue {
            throw HyggeError.forbidden
        }
        var context = context
        context.session = session
        context.merchant = session.shop.rawValue
        return try await next(request, context)
    }

    func authenticate(_ request: Request, _ context: Context) async -> MerchantSession? {
        guard let app = self.dependencies.shopifyApp else { return nil }
        let now = Timestamp.now
        var session: MerchantSession?
        if let header = request.headers[.authorization] {
            guard header.hasPrefix("Bearer ") else { return nil }
            do throws(ShopifySessionToken.Rejection) {
                let shop = try ShopifySessionToken.verify(
                    String(header.dropFirst(7)), apiKey: app.apiKey, secret: app.apiSecret, now: now.seconds)
                session = MerchantSession(shop: shop, cookie: nil)
            } catch {
                context.logger.info("session token refused", metadata: ["reason": "\(error.rawValue)"])
                return nil
            }
        } else if let cookie = request.cookies[SessionCookie.name]?.value,
            let shop = SessionCookie.shop(cookie, now: now, key: app.signingKey)
        {
            session = MerchantSession(shop: shop, cookie: cookie)
        }
        guard let session, let merchant = self.dependencies.registry.merchant(session.shop), await merchant.isInstalled
        else { return nil }
        return session
    }

    static func signInPage(_ request: Request) -> Response {
        if let shop = request.uri.queryParameters.get("shop").map({ String($0) }), MerchantID.isValidShopDomain(shop) {
            var headers = HTTPFields()
            headers[.location] = "/shopify/install?shop=\(shop)"
            return Response(status: .found, headers: headers)
        }
        return AppPages.signedOut()
    }
}

/// `GET /shopify/install` and `GET /shopify/callback` (CONTRACT §3).
struct ShopifyInstallRoutes {
    let dependencies: NetDependencies
    /// Callback timestamps further than this from now are refused.
    static let timestampSkewSeconds: Int64 = 24 * 3600
    /// The webhook topics subscribed on install.
    static let topics = ["app/uninstalled", "refunds/create"]

    func register(on router: Router<HyggeRequestContext>) {
        router.get("/shopify/install") { request, context in
            try self.install(request, context)
        }
        router.get("/shopify/callback") { request, context in
            try await self.callback(request, context)
        }
    }

    private func app() throws(HyggeError) -> ShopifyApp {
        guard let app = self.dependencies.shopifyApp else { throw .notFound }
        return app
    }

    static func query(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return pairs.map {
            "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }.joined(separator: "&")
    }

    func install(_ request: Request, _ context: HyggeRequestContext) throws -> Response {
        let app = try self.app()
        guard let shop = request.uri.queryParameters.get("shop").map({ String($0) }), MerchantID.isValidShopDomain(shop)
        else { throw HyggeError.invalidShop }
        context.merchant = shop
        let id = MerchantID(shop)
        let state = self.dependencies.oauthStates.issue(
            shop: id, now: .now, lifetime: app.stateLifetime, key: app.signingKey)
        let query = Self.query([
            ("client_id", app.apiKey), ("scope", app.scopes),
            ("redirect_uri", "\(self.dependencies.publicURL)/shopify/callback"), ("state", state),
        ])
        var headers = HTTPFields()
        headers[.location] = "\(app.base(id))/admin/oauth/authorize?\(query)"
        headers[.cacheControl] = "no-store"
        return Response(status: .found, headers: headers)
    }

    func callback(_ request: Request, _ context: HyggeRequestContext) async throws -> Response {
        let app = try self.app()
        guard let pairs = ShopifyCallbackSignature.parse(request.uri.query ?? "") else {
            throw HyggeError.invalidRequest("the callback query could not be read")
        }
        let value = { (name: String) in pairs.first { $0.0 == name }?.1 }
        guard let shop = value("shop"), MerchantID.isValidShopDomain(shop) else { throw HyggeError.invalidShop }
        context.merchant = shop
        guard let code = value("code"), !code.isEmpty, code.utf8.count <= 512, let state = value("state"),
            let timestamp = value("timestamp")
        else { throw HyggeError.invalidRequest("code, state and timestamp are required") }
        let now = Timestamp.now
        guard ShopifyCallbackSignature.isValid(pairs, secret: app.apiSecret) else {
            WebhookRoutes.reject("bad_callback_hmac")
            throw HyggeError.invalidCallback
        }
        guard let seconds = Int64(timestamp),
            StandardWebhooks.isWithin(seconds, of: now.seconds, tolerance: Self.timestampSkewSeconds)
        else {
            throw HyggeError.invalidCallback
        }
        let id = MerchantID(shop)
        guard self.dependencies.oauthStates.consume(state, shop: id, now: now, key: app.signingKey) else {
            throw HyggeError.invalidCallback
        }
        let grant: ShopifyAccessGrant
        do {
            grant = try await app.installer.exchangeCode(
                shop: id, clientID: app.apiKey, clientSecret: app.apiSecret, code: code)
        } catch {
            context.logger.warning("oauth code exchange failed", metadata: ["error": "\(error.label)"])
            if case .rejected = error { throw HyggeError.invalidCallback }
            throw HyggeError.shopifyUnavailable
        }
        let merchant = try await self.dependencies.registry.merchantCreatingIfNeeded(id, now: now)
        try await merchant.install(token: grant.token, scopes: grant.scopes, now: now)
        do {
            try await self.registerScriptTag(app, id, token: grant.token)
            try await self.subscribeWebhooks(app, id, token: grant.token)
        } catch {
            context.logger.warning("install registration failed", metadata: ["error": "\(error.label)"])
            throw HyggeError.shopifyUnavailable
        }
        context.logger.info("shop installed", metadata: ["merchant.id": "\(id)"])
        var response = Response(status: .found)
        response.headers[.location] = "/app"
        response.headers[.cacheControl] = "no-store"
        let cookie = SessionCookie.make(shop: id, now: now, lifetime: app.sessionLifetime, key: app.signingKey)
        response.setCookie(
            Cookie(
                name: SessionCookie.name, value: cookie,
                maxAge: Int(app.sessionLifetime.components.seconds), path: "/",
                secure: self.dependencies.publicURL.hasPrefix("https://"), httpOnly: true, sameSite: .lax))
        return response
    }

    /// One Hygge script tag with `src` = `{PUBLIC_URL}/embed/cart.js?shop=S`: older Hygge tags (another src under
    /// `/embed/cart.js`) and duplicates are deleted; the current one is created only when missing.
    func registerScriptTag(_ app: ShopifyApp, _ shop: MerchantID, token: String) async throws(GatewayError) {
        let prefix = "\(self.dependencies.publicURL)/embed/cart.js"
        let src = "\(prefix)?shop=\(shop.rawValue)"
        var kept = false
        for tag in try await app.installer.scriptTags(shop: shop, token: token) where tag.src.hasPrefix(prefix) {
            if tag.src == src, !kept {
                kept = true
                continue
            }
            try await app.installer.deleteScriptTag(shop: shop, token: token, id: tag.id)
        }
        if !kept { _ = try await app.installer.createScriptTag(shop: shop, token: token, src: src) }
    }

    /// `app/uninstalled` and `refunds/create` → `{PUBLIC_URL}/api/webhooks/shopify`, each once.
    func subscribeWebhooks(_ app: ShopifyApp, _ shop: MerchantID, token: String) async throws(GatewayError) {
        let address = "\(self.dependencies.publicURL)/api/webhooks/shopify"
        let existing = try await app.installer.webhooks(shop: shop, token: token)
        for topic in Self.topics where !existing.contains(where: { $0.topic == topic && $0.address == address }) {
            try await app.installer.subscribeWebhook(shop: shop, token: token, topic: topic, address: address)
        }
    }
}
