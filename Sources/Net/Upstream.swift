import AsyncHTTPClient
import Actors
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// Shared plumbing of the Shopify and Whop clients: one HTTP exchange, classified into `GatewayError`s.
struct Upstream: Sendable {
    let http: HTTPClient
    let timeout: TimeAmount
    let logger: Logger
    /// Response bodies larger than this are refused.
    static let bodyBytesMax = 4 << 20

    /// `duration` as NIO's `TimeAmount`, exactly (sub-second parts included).
    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue + attoseconds / 1_000_000_000)
    }

    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
    }

    func send(
        _ method: HTTPMethod, _ url: String, headers: [(String, String)], body: Data?, provider: String
    ) async throws(GatewayError) -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "hygge/1")
        do {
            let response = try await self.http.execute(request, timeout: self.timeout)
            let buffer = try await response.body.collect(upTo: Self.bodyBytesMax)
            return Reply(status: Int(response.status.code), headers: response.headers, body: Data(buffer: buffer))
        } catch {
            self.logger.warning(
                "upstream request failed",
                metadata: ["provider": "\(provider)", "http.method": "\(method.rawValue)", "error": "\(type(of: error))"])
            throw .unavailable(String(describing: type(of: error)))
        }
    }

    /// Maps a non-2xx reply to a `GatewayError` (`message` is the upstream's own text, logged, never our secret).
    static func classify(_ reply: Reply, message: String?) -> GatewayError {
        switch reply.status {
        case 401, 403: return .unauthorized
        case 404: return .notFound
        case 429:
            let after = reply.headers.first(name: "Retry-After").flatMap(Double.init).map { Duration.milliseconds(Int64($0 * 1000)) }
            return .rateLimited(retryAfter: after)
        case 500...: return .unavailable("http \(reply.status)")
        default: return .rejected(status: reply.status, message: String((message ?? "").prefix(300)))
        }
    }
}

/// Decodes upstream JSON leniently (unknown fields ignored).
enum UpstreamJSON {
    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) -> T? {
        try? JSONDecoder().decode(type, from: data)
    }

    /// Whop's `{"error":{"message":…}}` or Shopify's `{"errors":…}`, as text for logs.
    static func errorMessage(_ data: Data) -> String? {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        if let error = object["error"] as? [String: Any], let message = error["message"] as? String { return message }
        if let errors = object["errors"] { return String(describing: errors) }
        return nil
    }
}
