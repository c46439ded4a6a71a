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
    /// How long a client may take to send a request body once its head has arrived. A slow client trickling bytes
    /// gets `408 request_timeout` instead of holding a connection and a task for ever.
    static let bodyDeadline: Duration = .seconds(30)

    /// Collects the body up to the context's limit: a larger body is `payload_too_large`, one that does not arrive
    /// within `bodyDeadline` is `request_timeout`.
    func bodyBytes(context: some RequestContext) async throws -> Data {
        let body = self.body
        let limit = context.maxUploadSize
        return try await withThrowingTaskGroup(of: Data?.self) { group in
            group.addTask {
                do {
                    return Data(buffer: try await body.collect(upTo: limit))
                } catch is NIOTooManyBytesError {
                    throw HyggeError.payloadTooLarge
                } catch is CancellationError {
                    return nil
                } catch {
                    throw HyggeError.invalidRequest("the request body could not be read")
                }
            }
            group.addTask {
                try? await Task.sleep(for: Self.bodyDeadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let data = first else { throw HyggeError.requestTimeout }
            return data
        }
    }
}
