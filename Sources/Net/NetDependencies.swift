package import Actors
import Foundation
package import Logging
import Synchronization

/// Everything the router needs; Main builds it, tests build it the same way.
package struct NetDependencies: Sendable {
    package var registry: MerchantRegistry
    package var stateKeeper: StateKeeper?
    /// Absolute URL Shopify, Whop and browsers reach us on, no trailing slash.
    package var publicURL: String
    /// Extra origins allowed by CORS (the sandbox's demo storefront).
    package var extraOrigins: Set<String>
    /// Bearer token for `/admin/*`; nil turns the admin API off.
    package var adminToken: String?
    /// The sandbox's emulators, mounted under `/sandbox/` when present.
    package var sandbox: Sandbox?
    /// Readiness (`/readyz`): set once restore is done.
    package var readiness: Readiness
    /// Prometheus text for `/metrics`.
    package var metricsText: @Sendable () -> String
    package var logger: Logger
    /// `WHOP_WEBHOOK_SECRET_HYGGE`: verifies Hygge's own SaaS subscription webhooks; nil rejects them all.
    package var platformWebhookSecret: String?
    /// The Shopify app (OAuth install, session tokens, Shopify webhooks); nil turns the merchant app off.
    package var shopifyApp: ShopifyApp?
    /// Outstanding install `state` values.
    package let oauthStates = OAuthStates()
    /// What the start-up restore did (`GET /admin/status`).
    package var restore: RestoreReport?
    /// Called after an online master-key rotation to a new key (the sandbox rewrites its generated key file).
    package var masterKeyRotated: (@Sendable (MasterKey) throws -> Void)?

    package init(
        registry: MerchantRegistry, stateKeeper: StateKeeper?, publicURL: String, extraOrigins: Set<String> = [],
        adminToken: String?, sandbox: Sandbox?, readiness: Readiness, metricsText: @escaping @Sendable () -> String,
        logger: Logger
    ) {
        self.registry = registry
        self.stateKeeper = stateKeeper
        var url = publicURL
        while url.hasSuffix("/") { url.removeLast() }
        self.publicURL = url
        self.extraOrigins = extraOrigins
        self.adminToken = adminToken
        self.sandbox = sandbox
        self.readiness = readiness
        self.metricsText = metricsText
        self.logger = logger
    }
}

/// A flag that turns true once, when the service is ready.
package final class Readiness: Sendable {
    private let ready = Mutex(false)
    package init(ready: Bool = false) { self.ready.withLock { $0 = ready } }
    package func markReady() { self.ready.withLock { $0 = true } }
    package var isReady: Bool { self.ready.withLock { $0 } }
}
