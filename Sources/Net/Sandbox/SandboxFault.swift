import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// One upstream fault for the sandbox emulators to act out (`POST /sandbox/config`, `shopify_order_faults` and
/// `whop_plan_faults`): each queued fault is used by exactly one request, in order.
///
/// - `status`: answer with this HTTP status (with `retry_after`, seconds, as `Retry-After`).
/// - `reset`: close the connection with a TCP reset instead of answering.
/// - `stall_ms`: hold the answer this long (longer than the client's timeout: a timeout), then answer `504`, or the
///   real answer when `create` is set.
/// - `create`: carry the request out (create the order or plan) before failing, as an upstream that committed and
///   then lost the answer would.
/// - `delay_ms`: a slow answer: wait, then go on (with the other fields, or normally).
package struct SandboxFault: Sendable, Equatable, Decodable {
    package var status: Int?
    package var retryAfter: Double?
    package var reset: Bool
    package var stallMilliseconds: Int?
    package var create: Bool
    package var delayMilliseconds: Int?

    enum CodingKeys: String, CodingKey {
        case status, reset, create
        case retryAfter = "retry_after"
        case stallMilliseconds = "stall_ms"
        case delayMilliseconds = "delay_ms"
    }

    package init(
        status: Int? = nil, retryAfter: Double? = nil, reset: Bool = false, stallMilliseconds: Int? = nil,
        create: Bool = false, delayMilliseconds: Int? = nil
    ) {
        self.status = status
        self.retryAfter = retryAfter
        self.reset = reset
        self.stallMilliseconds = stallMilliseconds
        self.create = create
        self.delayMilliseconds = delayMilliseconds
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.status = try container.decodeIfPresent(Int.self, forKey: .status)
        self.retryAfter = try container.decodeIfPresent(Double.self, forKey: .retryAfter)
        self.reset = try container.decodeIfPresent(Bool.self, forKey: .reset) ?? false
        self.stallMilliseconds = try container.decodeIfPresent(Int.self, forKey: .stallMilliseconds)
        self.create = try container.decodeIfPresent(Bool.self, forKey: .create) ?? false
        self.delayMilliseconds = try container.decodeIfPresent(Int.self, forKey: .delayMilliseconds)
        if let status = self.status, !(100...599).contains(status) {
            throw DecodingError.dataCorruptedError(forKey: .status, in: container, debugDescription: "not an HTTP status")
        }
        for value in [self.stallMilliseconds, self.delayMilliseconds].compactMap({ $0 }) where !(0...Self.waitMillisecondsMax).contains(value) {
            throw DecodingError.dataCorruptedError(
                forKey: .stallMilliseconds, in: container, debugDescription: "waits are 0…\(Self.waitMillisecondsMax) ms")
        }
        if let after = self.retryAfter, !(0...3600).contains(after) {
            throw DecodingError.dataCorruptedError(forKey: .retryAfter, in: container, debugDescription: "0…3600 s")
        }
    }

    /// Longest stall or delay (a stalled request holds the server's graceful shutdown at most this long).
    package static let waitMillisecondsMax = 60_000
    /// Queued faults per emulator at most.
    package static let queueMax = 1_000

    /// Whether the request fails (rather than only being slow).
    var fails: Bool { self.status != nil || self.reset || self.stallMilliseconds != nil }
}

extension SandboxFault {
    /// Acts the fault out around `perform` (the emulator's real handling of the request).
    ///
    /// - Parameters:
    ///   - error: the upstream's error body for a `status` fault.
    func respond(
        channel: any Channel, error: (Int) -> ShopifyEmulator.Answer,
        perform: () async -> ShopifyEmulator.Answer, render: (ShopifyEmulator.Answer) async -> Response
    ) async -> Response {
        if let delay = self.delayMilliseconds { await Self.wait(.milliseconds(delay)) }
        let performed: ShopifyEmulator.Answer? = (!self.fails || self.create) ? await perform() : nil
        if self.reset {
            await Self.reset(channel)
            return Response(status: .internalServerError)
        }
        if let stall = self.stallMilliseconds {
            await Self.wait(.milliseconds(stall))
            return await render(performed ?? error(504))
        }
        if let status = self.status {
            var answer = error(status)
            if let after = self.retryAfter { answer.headers.append(("Retry-After", String(after))) }
            return await render(answer)
        }
        return await render(performed ?? error(500))
    }

    /// Sleeps, but no longer than until a graceful shutdown starts.
    static func wait(_ duration: Duration) async {
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
    }

    /// Closes the connection with RST (SO_LINGER 0) without a response, as a crashed upstream or a middlebox would.
    static func reset(_ channel: any Channel) async {
        if let options = channel as? any SocketOptionProvider {
            try? await options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        try? await channel.close().get()
    }
}
