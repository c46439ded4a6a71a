package import Actors
import Foundation
import NIOHTTP1

/// The app-install calls of Shopify Admin: OAuth code exchange, script tags and webhook subscriptions.
extension ShopifyHTTPClient: ShopifyInstaller {
    private struct Grant: Decodable {
        var access_token: String
        var scope: String?
    }

    package func exchangeCode(shop: MerchantID, clientID: String, clientSecret: String, code: String)
        async throws(GatewayError) -> ShopifyAccessGrant
    {
        let body = (try? JSONSerialization.data(
            withJSONObject: ["client_id": clientID, "client_secret": clientSecret, "code": code], options: [.sortedKeys]))
            ?? Data()
        let reply = try await self.send(
            shop, .POST, "\(self.base(shop))/admin/oauth/access_token", headers: [], body: body, provider: "shopify")
        guard (200..<300).contains(reply.status) else {
            // Shopify answers a bad or used code with 400 {"error":"invalid_request",…}: not retryable.
            if reply.status == 400 { throw .rejected(status: 400, message: "authorization code refused") }
            throw Upstream.classify(reply, message: UpstreamJSON.errorMessage(reply.body))
        }
        guard let grant = UpstreamJSON.decode(Grant.self, reply.body), !grant.access_token.isEmpty else {
            throw .unavailable("unreadable access token answer")
        }
        return ShopifyAccessGrant(token: grant.access_token, scopes: grant.scope ?? "")
    }

    private struct ScriptTagsEnvelope: Decodable {
        var script_tags: [Tag]
    }

    private struct ScriptTagEnvelope: Decodable {
        var script_tag: Tag
    }

    private struct Tag: Decodable {
        var id: Int64
        var src: String?
    }

    package func scriptTags(shop: MerchantID, token: String) async throws(GatewayError) -> [ShopifyScriptTag] {
        let reply = try await self.send(
            shop, .GET, self.url(shop, "script_tags.json?limit=250"), headers: [("X-Shopify-Access-Token", token)], body: nil,
            provider: "shopify")
        guard (200..<300).contains(reply.status) else {
            throw Upstream.classify(reply, message: UpstreamJSON.errorMessage(reply.body))
        }
        guard let envelope = UpstreamJSON.decode(ScriptTagsEnvelope.self, reply.body) else {
            throw .unavailable("unreadable script tags")
        }
        return envelope.script_tags.map { ShopifyScriptTag(id: $0.id, src: $0.src ?? "") }
    }

    package func createScriptTag(shop: MerchantID, token: String, src: String) async throws(GatewayError)
        -> ShopifyScriptTag
    {
        let body = (try? JSONSerialization.data(
            withJSONObject: ["script_tag": ["event": "onload", "src": src, "display_scope": "online_store"]],
            options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        let reply = try await self.send(
            shop, .POST, self.url(shop, "script_tags.json"), headers: [("X-Shopify-Access-Token", token)], body: body,
            provider: "shopify")
        guard (200..<300).contains(reply.status) else {
            throw Upstream.classify(reply, message: UpstreamJSON.errorMessage(reply.body))
        }
        guard let envelope = UpstreamJSON.decode(ScriptTagEnvelope.self, reply.body) else {
            throw .unavailable("unreadable script tag")
        }
        return ShopifyScriptTag(id: envelope.script_tag.id, src: envelope.script_tag.src ?? src)
    }

    package func deleteScriptTag(shop: MerchantID, token: String, id: Int64) async throws(GatewayError) {
        let reply = try await self.send(
            shop, .DELETE, self.url(shop, "script_tags/\(id).json"), headers: [("X-Shopify-Access-Token", token)], body: nil,
            provider: "shopify")
        guard (200..<300).contains(reply.status) || reply.status == 404 else {
            throw Upstream.classify(reply, message: UpstreamJSON.errorMessage(reply.body))
        }
    }

    private struct WebhooksEnvelope: Decodable {
        struct Hook: Decodable {
            var id: Int64
            var topic: String?
            var address: String?
        }
        var webhooks: [Hook]
    }

    package func webhooks(shop: MerchantID, token: String) async throws(GatewayError) -> [ShopifyWebhookSubscription] {
        let reply = try await self.send(
            shop, .GET, self.url(shop, "webhooks.json?limit=250"), headers: [("X-Shopify-Access-Token", token)], body: nil,
            provider: "shopify")
        guard (200..<300).contains(reply.status) else {
            throw Upstream.classify(reply, message: UpstreamJSON.errorMessage(reply.body))
        }
        guard let envelope = UpstreamJSON.decode(WebhooksEnvelope.self, reply.body) else {
            throw .unavailable("unreadable webhooks")
        }
        return envelope.webhooks.map {
            ShopifyWebhookSubscription(id: $0.id, topic: $0.topic ?? "", address: $0.address ?? "")
        }
    }

    package func subscribeWebhook(shop: MerchantID, token: String, topic: String, address: String)
        async throws(GatewayError)
    {
        let body = (try? JSONSerialization.data(
            withJSONObject: ["webhook": ["topic": topic, "address": address, "format": "json"]],
            options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        let reply = try await self.send(
            shop, .POST, self.url(shop, "webhooks.json"), headers: [("X-Shopify-Access-Token", token)], body: body,
            provider: "shopify")
        if (200..<300).contains(reply.status) { return }
        let message = UpstreamJSON.errorMessage(reply.body) ?? ""
        // A subscription that already exists: Shopify says 422 "… has already been taken". Not an error.
        if reply.status == 422, message.contains("already been taken") { return }
        throw Upstream.classify(reply, message: message)
    }
}
