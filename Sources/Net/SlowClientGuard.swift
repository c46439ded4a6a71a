package import HummingbirdCore
package import NIOCore
package import NIOHTTPTypes

/// Closes connections that do not deliver a complete request head in time (slowloris-style clients trickling header
/// bytes). The deadline runs from the connection's start and again from the end of each response, so a keep-alive
/// connection that sits idle is closed after the same time. Request bodies have their own deadline in
/// `Request.bodyBytes`, which answers `408 request_timeout`; a head that never completes has no request to answer,
/// so the connection is simply closed.
package final class SlowClientGuard: ChannelDuplexHandler, RemovableChannelHandler {
    package typealias InboundIn = HTTPRequestPart
    package typealias InboundOut = HTTPRequestPart
    package typealias OutboundIn = HTTPResponsePart
    package typealias OutboundOut = HTTPResponsePart

    private let headDeadline: TimeAmount
    private var timer: Scheduled<Void>?

    package init(headDeadline: TimeAmount) {
        self.headDeadline = headDeadline
    }

    /// The server's HTTP/1 channel: header limits, idle timeout and this guard.
    package static func http1Configuration(headDeadline: TimeAmount = .seconds(20)) -> HTTP1Channel.Configuration {
        HTTP1Channel.Configuration(
            additionalChannelHandlers: [SlowClientGuard(headDeadline: headDeadline)],
            idleTimeout: .seconds(75),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 32 * 1024, maxHeaderFieldCount: 100))
    }

    package func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.arm(context) }
    }

    package func channelActive(context: ChannelHandlerContext) {
        self.arm(context)
        context.fireChannelActive()
    }

    package func handlerRemoved(context: ChannelHandlerContext) {
        self.disarm()
    }

    package func channelInactive(context: ChannelHandlerContext) {
        self.disarm()
        context.fireChannelInactive()
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = self.unwrapInboundIn(data) { self.disarm() }
        context.fireChannelRead(data)
    }

    package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = self.unwrapOutboundIn(data) { self.arm(context) }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext) {
        self.disarm()
        let channel = context.channel
        self.timer = context.eventLoop.scheduleTask(in: self.headDeadline) {
            channel.close(promise: nil)
        }
    }

    private func disarm() {
        self.timer?.cancel()
        self.timer = nil
    }
}
