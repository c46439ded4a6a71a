/// The only error type clients see. Each case has a stable snake_case `code`; codes are API: add new ones,
/// never rename or reuse them. The HTTP mapping lives in `Net/HyggeError+HTTP.swift`.
package enum HyggeError: Error, Equatable, Sendable {
    case invalidRequest(String)
    case invalidShop
    case unknownShop
    case merchantNotReady(String)
    case variantNotFound(Int64)
    case shopifyUnavailable
    case unknownCheckout
    case checkoutExpired
    case monthlyLimitReached
    case whopUnavailable
    case whopKeyInvalid
    case whopRejected(String)
    case invalidSignature
    case unknownMerchant
    case invalidPayload
    case unauthorized
    case forbidden
    case invalidCallback
    case idempotencyKeyReused
    case notFailed
    case notFound
    case payloadTooLarge
    case requestTimeout
    case overloaded
    case journalUnavailable
    case internalError
    /// Another shop already takes payments with this Whop company (webhooks are routed by company id).
    case whopCompanyInUse
    /// The checkout has no failed Shopify-initiated refund to retry.
    case refundNotFailed
    /// A master-key rotation to another key is still running.
    case rotationInProgress

    /// Every code, for tests that pin the list.
    package static let allCodes: [String] = [
        "invalid_request", "invalid_shop", "unknown_shop", "merchant_not_ready", "variant_not_found",
        "shopify_unavailable", "unknown_checkout", "checkout_expired", "monthly_limit_reached", "whop_unavailable",
        "whop_key_invalid", "whop_rejected", "invalid_signature", "unknown_merchant", "invalid_payload", "unauthorized",
        "forbidden", "invalid_callback", "idempotency_key_reused", "not_failed", "not_found", "payload_too_large",
        "request_timeout", "overloaded", "journal_unavailable", "internal", "whop_company_in_use", "refund_not_failed",
        "rotation_in_progress",
    ]

    /// Stable machine code.
    package var code: String {
        switch self {
        case .invalidRequest: "invalid_request"
        case .invalidShop: "invalid_shop"
        case .unknownShop: "unknown_shop"
        case .merchantNotReady: "merchant_not_ready"
        case .variantNotFound: "variant_not_found"
        case .shopifyUnavailable: "shopify_unavailable"
        case .unknownCheckout: "unknown_checkout"
        case .checkoutExpired: "checkout_expired"
        case .monthlyLimitReached: "monthly_limit_reached"
        case .whopUnavailable: "whop_unavailable"
        case .whopKeyInvalid: "whop_key_invalid"
        case .whopRejected: "whop_rejected"
        case .invalidSignature: "invalid_signature"
        case .unknownMerchant: "unknown_merchant"
        case .invalidPayload: "invalid_payload"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .invalidCallback: "invalid_callback"
        case .idempotencyKeyReused: "idempotency_key_reused"
        case .notFailed: "not_failed"
        case .notFound: "not_found"
        case .payloadTooLarge: "payload_too_large"
        case .requestTimeout: "request_timeout"
        case .overloaded: "overloaded"
        case .journalUnavailable: "journal_unavailable"
        case .internalError: "internal"
        case .whopCompanyInUse: "whop_company_in_use"
        case .refundNotFailed: "refund_not_failed"
        case .rotationInProgress: "rotation_in_progress"
        }
    }

    /// Human text; never contains secrets, raw payloads or customer data.
    package var message: String {
        switch self {
        case .invalidRequest(let detail): "Invalid request: \(detail)"
        case .invalidShop: "The shop must be a myshopify.com domain such as example.myshopify.com."
        case .unknownShop: "This shop has not installed Hygge."
        case .merchantNotReady(let reason): "This shop cannot take Hygge payments yet: \(reason)."
        case .variantNotFound(let id): "Variant \(id) does not exist in this shop."
        case .shopifyUnavailable: "Shopify did not answer; please try again."
        case .unknownCheckout: "No such checkout."
        case .checkoutExpired: "This checkout has expired; please start again from the cart."
        case .monthlyLimitReached: "This shop has reached its monthly transaction limit."
        case .whopUnavailable: "Whop did not answer; please try again."
        case .whopKeyInvalid: "This key didn't validate"
        case .whopRejected(let detail): "Whop rejected the request: \(detail)"
        case .invalidSignature: "The webhook signature is missing, invalid or stale."
        case .unknownMerchant: "No merchant matches this event."
        case .invalidPayload: "The body is not valid JSON of the expected shape."
        case .unauthorized: "Missing or invalid credentials."
        case .forbidden: "These credentials do not give access to this resource."
        case .invalidCallback: "The Shopify callback could not be verified."
        case .idempotencyKeyReused: "This Idempotency-Key was already used with a different request body."
        case .notFailed: "This checkout's order is not in order_sync_failed."
        case .notFound: "Not found."
        case .payloadTooLarge: "The request body is too large."
        case .requestTimeout: "The request body did not arrive in time."
        case .overloaded: "The server is overloaded; please retry shortly."
        case .journalUnavailable: "The journal is unavailable; nothing was changed."
        case .internalError: "Internal error."
        case .whopCompanyInUse:
            "This Whop company is already connected to another shop. Each shop needs its own Whop company: Whop "
                + "sends one company's payment events to one shop."
        case .refundNotFailed: "This checkout has no failed refund to retry."
        case .rotationInProgress: "A master-key rotation to another key is still running; retry it with that key."
        }
    }
}
