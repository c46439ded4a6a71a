package import Actors
import Crypto
package import Foundation

/// The parsers that read bytes from the internet, exactly as the routes call them, each behind one entry point so
/// the fuzz targets (`Sources/FuzzTargets`, `scripts/fuzz.sh`) exercise the production code and nothing else.
///
/// Every function here must answer any input with a value or a clean error, never a crash.
package enum UntrustedInput {
    /// `POST /api/checkout/create-from-cart`: the body's schema and limits, and the Idempotency-Key fingerprint.
    /// - Throws: `HyggeError.invalidRequest`.
    package static func cart(_ body: Data) throws(HyggeError) -> (shop: MerchantID, cart: CartRequest, fingerprint: String) {
        let (shop, cart) = try CheckoutRoutes.cartRequest(try CheckoutRoutes.decodeStrict(CheckoutRoutes.CartBody.self, body))
        return (shop, cart, CheckoutRoutes.fingerprint(shop, cart))
    }

    /// `POST /api/checkout/get-plan`: the checkout id of the body (nil when absent).
    package static func planCheckoutID(_ body: Data) throws(HyggeError) -> String? {
        try CheckoutRoutes.decodeStrict(CheckoutRoutes.PlanBody.self, body).checkout_id
    }

    /// `PUT /api/merchant/whop-key` and `PUT /api/merchant/whop-webhook-secret`: the string fields of the bodies.
    package static func merchantBodies(_ body: Data) -> (apiKey: String?, secret: String?) {
        let key = try? CheckoutRoutes.decodeStrict(MerchantAPIRoutes.KeyBody.self, body)
        let secret = try? CheckoutRoutes.decodeStrict(MerchantAPIRoutes.SecretBody.self, body)
        return (key?.api_key, secret?.secret)
    }

    /// `POST /api/webhooks/shopify`: whether the HMAC header verifies, and the topic's event.
    package static func shopifyWebhook(topic: String, signature: String?, body: Data, secret: String) -> (
        valid: Bool, event: ShopifyEvent?
    ) {
        (
            ShopifyWebhookRoutes.isValid(signature: signature, body: body, secret: secret),
            ShopifyWebhookRoutes.event(topic: topic, body: body)
        )
    }

    /// The payload of a Hygge-signed token (`purpose` `oauth-state`, `session`), as the routes open them.
    package static func signedToken(_ token: String, appSecret: String, purpose: String) -> String? {
        SignedToken.open(token, key: Self.signingKey(appSecret), purpose: purpose)
    }

    /// Signs `payload` as a Hygge token (the fuzz targets use it to reach the payload checks behind the signature).
    package static func makeSignedToken(_ payload: String, appSecret: String, purpose: String) -> String {
        SignedToken.make(payload, key: Self.signingKey(appSecret), purpose: purpose)
    }

    /// The shop of a `hygge_session` cookie value (nil when invalid or expired).
    package static func sessionCookie(_ value: String, appSecret: String, now: Timestamp) -> MerchantID? {
        SessionCookie.shop(value, now: now, key: Self.signingKey(appSecret))
    }

    /// Whether an OAuth `state` is accepted for `shop` (consuming it), against a fresh set of outstanding states.
    package static func oauthState(_ state: String, shop: MerchantID, appSecret: String, now: Timestamp) -> Bool {
        OAuthStates().consume(state, shop: shop, now: now, key: Self.signingKey(appSecret))
    }

    private static func signingKey(_ appSecret: String) -> SymmetricKey {
        ShopifyApp.signingKey(appSecret: appSecret)
    }
}
