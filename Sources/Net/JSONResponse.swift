import Actors
import Foundation
import HTTPTypes
package import Hummingbird
import NIOCore
import NIOFoundationCompat

/// JSON responses with stable field order.
package enum JSONResponse {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Encodes `value` as the body.
    package static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? Self.encoder.encode(value)) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A raw body with a content type.
    package static func raw(_ text: String, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

extension Request {
    /// Collects the body up to the context's limit; a larger body is `payload_too_large`.
    func bodyBytes(context: some RequestContext) async throws -> Data {
        do {
            let buffer = try await self.body.collect(upTo: context.maxUploadSize)
            return Data(buffer: buffer)
        } catch {
            throw HyggeError.payloadTooLarge
        }
    }
}

