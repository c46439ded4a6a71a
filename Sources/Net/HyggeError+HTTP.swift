package import Actors
import Foundation
package import HTTPTypes
package import Hummingbird

/// The one place a `HyggeError` becomes an HTTP answer: `{"error":{"code","message","request_id"}}`.
extension HyggeError {
    /// HTTP status of each error (no `default`: a new case forces a decision).
    package var status: HTTPResponse.Status {
        switch self {
        case .invalidRequest, .invalidShop, .invalidPayload: .badRequest
        case .unknownShop, .unknownCheckout, .unknownMerchant, .notFound: .notFound
        case .merchantNotReady, .idempotencyKeyReused, .notFailed, .whopCompanyInUse, .refundNotFailed,
            .rotationInProgress:
            .conflict
        case .variantNotFound, .whopKeyInvalid, .whopRejected: .unprocessableContent
        case .shopifyUnavailable, .whopUnavailable: .badGateway
        case .checkoutExpired: .gone
        case .monthlyLimitReached: .tooManyRequests
        case .invalidSignature, .unauthorized, .invalidCallback: .unauthorized
        case .forbidden: .forbidden
        case .payloadTooLarge: .contentTooLarge
        case .requestTimeout: .requestTimeout
        case .overloaded, .journalUnavailable: .serviceUnavailable
        case .internalError: .internalServerError
        }
    }

    /// The JSON error response.
    package func response(requestID: String) -> Response {
        ErrorBody.response(status: self.status, code: self.code, message: self.message, requestID: requestID)
    }
}

/// Builds error bodies for HyggeError and for router-level errors (404 route, 405, 413).
package enum ErrorBody {
    private struct Envelope: Encodable {
        struct Inner: Encodable {
            var code: String
            var message: String
            var request_id: String
        }
        var error: Inner
    }

    /// A JSON error response with `X-Request-Id`.
    package static func response(status: HTTPResponse.Status, code: String, message: String, requestID: String)
        -> Response
    {
        // Field order is stable (code, message, request_id) so logs and clients see the same bytes every time.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(Envelope(error: .init(code: code, message: message, request_id: requestID))))
            ?? Data()
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.requestID] = requestID
        if status == .serviceUnavailable { headers[.retryAfter] = "1" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension HTTPField.Name {
    /// `X-Request-Id`.
    package static var requestID: Self { Self("X-Request-Id")! }
}
