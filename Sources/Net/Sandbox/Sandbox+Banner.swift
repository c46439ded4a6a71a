import Foundation

/// The sandbox's start-up banner: the demo merchant's made-up credentials and copy-paste curl lines.
enum Banner {
    static func print(publicURL: String, demo: Sandbox.Demo, products: [ShopifyEmulator.Product]) {
        let variant = products.first?.variants.first?.id ?? 0
        let lines = """

            ┌─ Hygge sandbox ───────────────────────────────────────────────────────────
            │ Demo shop         \(demo.shop)   (made-up credentials, sandbox only)
            │ Shopify token     \(demo.shopifyToken)
            │ Whop API key      \(demo.whopKey)  (company \(demo.companyID))
            │ Webhook secret    \(demo.webhookSecret)
            │ Storefront        \(publicURL)/sandbox/store
            │ Shopify app       key \(demo.appAPIKey), secret \(demo.appAPISecret)
            │ Install a shop    \(publicURL)/shopify/install?shop=my-shop.myshopify.com  (then /app)
            └───────────────────────────────────────────────────────────────────────────
            Try the flow:
              curl -s -X POST \(publicURL)/api/checkout/create-from-cart -H 'Content-Type: application/json' \\
                -d '{"shop":"\(demo.shop)","currency":"USD","items":[{"variant_id":\(variant),"quantity":2}]}'
              curl -s -X POST \(publicURL)/api/checkout/get-plan -H 'Content-Type: application/json' -d '{"checkout_id":"chk_…"}'
              curl -s -X POST \(publicURL)/sandbox/whop/pay -H 'Content-Type: application/json' -d '{"plan_id":"plan_…"}'
              curl -s \(publicURL)/api/checkout/chk_…
              curl -s '\(publicURL)/sandbox/shopify/\(demo.shop)/admin/api/2026-10/orders.json?status=any' -H 'X-Shopify-Access-Token: \(demo.shopifyToken)'

            """
        // Written straight to fd 1 so the banner is visible at once even when stdout is a pipe.
        FileHandle.standardOutput.write(Data((lines + "\n").utf8))
    }
}
