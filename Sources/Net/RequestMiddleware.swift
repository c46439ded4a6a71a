import Actors
import Foundation
package import Hummingbird
import Logging
import Metrics

/// Outermost middleware: assigns the request id, turns every error into the JSON error body, writes one structured
/// log line per request and records `http_server_request_duration_seconds{route,method,status}`.
package struct RequestMiddleware: RouterMiddleware {
    package typealias Context = HyggeRequestContext

    package init() {}

    package func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.requestID = Self.requestID(from: request)
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HyggeError {
            response = error.response(requestID: context.requestID)
        } catch let error as any HTTPResponseError {
            let (code, message) = Self.describe(error.status)
            response = ErrorBody.response(
                status: error.status, code: code, message: message, requestID: context.requestID)
        } catch {
            context.logger.error(
                "unhandled error", metadata: ["request.id": "\(context.requestID)", "error": "\(String(describing: type(of: error)))"])
            response = HyggeError.internalError.response(requestID: context.requestID)
        }
        response.headers[.requestID] = context.requestID
        response.headers[.xContentTypeOptions] = "nosniff"
        // Checkout and merchant data must not sit in shared caches or the browser's disk cache.
        if request.uri.path.hasPrefix("/api/"), response.headers[.cacheControl] == nil {
            response.headers[.cacheControl] = "no-store"
        }
        let elapsed = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        Timer(
            label: "http_server_request_duration_seconds",
            dimensions: [("route", route), ("method", request.method.rawValue), ("status", String(response.status.code))]
        ).record(duration: elapsed)
        context.logger.info(
            "request",
            metadata: [
                "request.id": "\(context.requestID)", "merchant.id": "\(context.merchant ?? "-")",
                "http.route": "\(route)", "http.method": "\(request.method.rawValue)",
                "http.status": "\(response.status.code)",
                "duration.ms": "\(Double(elapsed.components.attoseconds / 1_000_000_000_000) / 1000 + Double(elapsed.components.seconds) * 1000)",
            ])
        return response
    }

    private static func requestID(from request: Request) -> String {
        if let given = request.headers[.requestID], given.utf8.count <= 64,
            given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        {
            return given
        }
        return "req_" + RandomToken.hex(bytes: 12)
    }

    private static func describe(_ status: HTTPResponse.Status) -> (String, String) {
        switch status {
        case .notFound: ("not_found", "No such endpoint.")
        case .methodNotAllowed: ("method_not_allowed", "Method not allowed on this endpoint.")
        case .contentTooLarge: ("payload_too_large", "The request body is too large.")
        case .badRequest: ("invalid_request", "The request could not be read.")
        default: (status.code >= 500 ? "internal" : "invalid_request", status.reasonPhrase)
        }
    }
}
