import Actors
import Foundation
import NIOHTTP1
import Net
import Testing

/// The outbox's look-before-re-POST (issue 6): the lookup must read every page of orders Shopify lists, because an
/// order missed on a later page would be posted a second time.
@Suite("Order lookup over Shopify's paginated order list")
struct OrderLookupTests {
    @Test("the Link header's rel=\"next\" target is found among several relations")
    func linkHeader() {
        let link = #"<https://s.myshopify.com/admin/api/2026-10/orders.json?page_info=abc&limit=250>; rel="previous", "#
            + #"<https://s.myshopify.com/admin/api/2026-10/orders.json?page_info=def&limit=250>; rel="next""#
        #expect(
            ShopifyHTTPClient.nextPageURL(link)
                == "https://s.myshopify.com/admin/api/2026-10/orders.json?page_info=def&limit=250")
        #expect(ShopifyHTTPClient.nextPageURL(#"<https://x/orders.json?page_info=abc>; rel="previous""#) == nil)
        #expect(ShopifyHTTPClient.nextPageURL(nil) == nil)
        #expect(ShopifyHTTPClient.nextPageURL("garbage") == nil)
    }

    @Test("findOrder follows the cursor pages of the emulator to an order on the third page, and reports absence")
    func pagedLookup() async throws {
        try await LiveServer.with { live in
            let shopify = try #require(live.server.sandbox?.shopify)
            let merchant = live.demo.shop
            let shop = merchant.rawValue
            let token = live.demo.shopifyToken
            let since = Timestamp.now.adding(.seconds(-60))
            for index in 0..<620 {
                let body = try JSONSerialization.data(withJSONObject: [
                    "order": [
                        "source_identifier": "chk_lookup_\(index)",
                        "line_items": [["variant_id": 1, "quantity": 1, "price": "1.00"]],
                    ]
                ])
                let answer = await shopify.createOrder(shop: shop, token: token, body: body)
                #expect(answer.status == 201)
            }
            // One page of the emulator is at most 250 orders, and only the asked-for fields.
            let page = try await live.request(
                "GET", "/sandbox/shopify/\(shop)/admin/api/2026-10/orders.json?status=any&limit=250&fields=id,source_identifier",
                headers: [("X-Shopify-Access-Token", token)])
            let orders = try #require(page.json?["orders"] as? [[String: Any]])
            #expect(orders.count == 250)
            #expect(Set(orders.flatMap(\.keys)) == ["id", "source_identifier"])
            #expect(page.headers.first(name: "Link")?.contains(#"rel="next""#) == true)

            let client = live.server.shopify
            let found = try await client.findOrder(
                shop: merchant, token: token, sourceIdentifier: "chk_lookup_601", createdAtMin: since,
                createdAtMax: Timestamp.now.adding(.seconds(60)))
            #expect(found?.sourceIdentifier == "chk_lookup_601")
            let missing = try await client.findOrder(
                shop: merchant, token: token, sourceIdentifier: "chk_not_there", createdAtMin: since,
                createdAtMax: Timestamp.now.adding(.seconds(60)))
            #expect(missing == nil)
            // The window's end is honoured, across pages too: orders created after it are not searched.
            let beforeThem = try await client.findOrder(
                shop: merchant, token: token, sourceIdentifier: "chk_lookup_601", createdAtMin: since.adding(.seconds(-60)),
                createdAtMax: since)
            #expect(beforeThem == nil)
        }
    }
}
