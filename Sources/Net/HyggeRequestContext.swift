package import Hummingbird
import Logging
package import NIOCore
import Synchronization

/// Per-request data: the request id and the merchant the request was routed to (for the request log line).
package struct HyggeRequestContext: RequestContext {
    package var coreContext: CoreRequestContextStorage
    /// `X-Request-Id`: the client's if it sent a sane one, else generated.
    package var requestID: String
    /// The shop the request concerns, once a handler knows it (a box, because handlers get a copy of the context
    /// and the request log line is written by the outer middleware).
    package let merchantTag = MerchantTag()
    /// The authenticated merchant of `/api/merchant/*` and `/app*` requests (set by `MerchantSessionMiddleware`).
    package var session: MerchantSession?
    /// The connection the request arrived on (the sandbox's fault switches reset it).
    package let channel: any Channel

    /// The shop the request concerns, once known.
    package var merchant: String? {
        get { self.merchantTag.value }
        nonmutating set { self.merchantTag.value = newValue }
    }

    package init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
        self.requestID = ""
    }

    /// Request bodies are capped at 1 MiB.
    package var maxUploadSize: Int { 1 << 20 }
}

/// A per-request, lock-protected slot for the merchant id.
package final class MerchantTag: Sendable {
    private let slot = Mutex<String?>(nil)
    package init() {}
    package var value: String? {
        get { self.slot.withLock { $0 } }
        set { self.slot.withLock { $0 = newValue } }
    }
}
