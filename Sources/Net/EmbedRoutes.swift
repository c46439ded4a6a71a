import Actors
import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// `GET /embed/cart.js?shop=S`: the script tag (CONTRACT §2), versioned and cacheable.
///
/// A shop that cannot take Hygge payments (unknown here, uninstalled, or onboarding not finished: no Whop key or no
/// webhook secret) gets an inert script, so the storefront's own checkout keeps working until the merchant is ready.
/// Both variants carry a strong ETag over their bytes; `?v=<CartScript.version>` of the active script is immutable.
struct EmbedRoutes {
    let dependencies: NetDependencies

    /// The inert variant: sets a marker and leaves Checkout alone.
    static let inertSource = """
        /* Hygge cart.js v\(CartScript.version): this shop does not take Hygge payments yet; Checkout is left alone. */
        window.Hygge = window.Hygge || { active: false };

        """

    static let etag = Self.tag("cart", CartScript.source)
    static let inertETag = Self.tag("inert", Self.inertSource)
    /// Browsers and CDNs revalidate the unversioned URL every few minutes, so a new script reaches shops quickly.
    static let cacheControl = "public, max-age=300, stale-while-revalidate=3600"
    static let inertCacheControl = "public, max-age=60"
    static let immutableCacheControl = "public, max-age=31536000, immutable"

    private static func tag(_ kind: String, _ text: String) -> String {
        let digest = SHA256.hash(data: Data(text.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        return "\"\(kind)-v\(CartScript.version)-\(digest)\""
    }

    /// Whether an `If-None-Match` value matches `etag` (a list, weak tags and `*` included, RFC 9110 §13.1.2).
    static func matches(_ ifNoneMatch: String?, _ etag: String) -> Bool {
        guard let ifNoneMatch else { return false }
        for candidate in ifNoneMatch.split(separator: ",") {
            var value = candidate.trimmingCharacters(in: .whitespaces)
            if value == "*" { return true }
            if value.hasPrefix("W/") { value.removeFirst(2) }
            if value == etag { return true }
        }
        return false
    }

    /// Whether the shop named by the script tag takes Hygge payments; nil when the request names no valid shop.
    private func active(_ shop: String?) async -> Bool {
        guard let shop, MerchantID.isValidShopDomain(shop) else { return true }
        guard let merchant = self.dependencies.registry.merchant(MerchantID(shop)) else { return false }
        let summary = await merchant.summary(now: .now)
        return summary.installed && summary.companyID != nil && summary.webhookSecretSet
    }

    func register(on router: Router<HyggeRequestContext>) {
        router.get("/embed/cart.js") { request, _ in
            let query = request.uri.queryParameters
            let active = await self.active(query.get("shop"))
            let etag = active ? Self.etag : Self.inertETag
            let cacheControl =
                !active ? Self.inertCacheControl
                : query.get("v") == CartScript.version ? Self.immutableCacheControl : Self.cacheControl
            var headers = HTTPFields()
            headers[.eTag] = etag
            headers[.cacheControl] = cacheControl
            // A storefront with Cross-Origin-Embedder-Policy may still load the script.
            headers[HTTPField.Name("Cross-Origin-Resource-Policy")!] = "cross-origin"
            if Self.matches(request.headers[.ifNoneMatch], etag) {
                return Response(status: .notModified, headers: headers)
            }
            var response = JSONResponse.raw(
                active ? CartScript.source : Self.inertSource, contentType: "text/javascript; charset=utf-8")
            for field in headers { response.headers[field.name] = field.value }
            return response
        }
    }
}
