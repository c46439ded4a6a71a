import Actors
import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// `GET /embed/cart.js?shop=S`: the script tag, versioned and cacheable.
struct EmbedRoutes {
    let dependencies: NetDependencies
    static let etag = "\"cart-v\(CartScript.version)-" + SHA256.hash(data: Data(CartScript.source.utf8)).prefix(8)
        .map { String(format: "%02x", $0) }.joined() + "\""

    func register(on router: Router<HyggeRequestContext>) {
        router.get("/embed/cart.js") { request, _ in
            if request.headers[.ifNoneMatch] == Self.etag {
                var headers = HTTPFields()
                headers[.eTag] = Self.etag
                return Response(status: .notModified, headers: headers)
            }
            var response = JSONResponse.raw(CartScript.source, contentType: "text/javascript; charset=utf-8")
            response.headers[.eTag] = Self.etag
            response.headers[.cacheControl] = "public, max-age=300"
            response.headers[.accessControlAllowOrigin] = "*"
            response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
            return response
        }
    }
}
