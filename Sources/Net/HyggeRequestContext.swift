package import Hummingbird
import Logging
import NIOCore

/// Per-request data: the request id and the merchant the request was routed to (for the request log line).
package struct HyggeRequestContext: RequestContext {
    package var coreContext: CoreRequestContextStorage
    /// `X-Request-Id`: the client's if it sent a sane one, else generated.
    package var requestID: String
    /// The shop the request concerns, once known.
    package var merchant: String?

    package init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = ""
        self.merchant = nil
    }

    /// Request bodies are capped at 1 MiB.
    package var maxUploadSize: Int { 1 << 20 }
}
