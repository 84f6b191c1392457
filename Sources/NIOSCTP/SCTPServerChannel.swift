import NIOCore
import SCTP
import SCTPCore

/// A listening one-to-one SCTP socket as a channel, like NIO's server socket channel: bound
/// (and listening) it is active, and each read is an accepted association as a child
/// channel (`SCTPChannel`, on the same loop), which `SCTPServerBootstrap` sets up and
/// registers. Reads follow demand (`autoRead`, `read()`, `maxMessagesPerRead`): associations
/// not read yet wait in the socket's accept queue, at most `ChannelOptions.backlog` of them
/// (more are aborted).
final class SCTPServerChannel: BaseSCTPChannel, @unchecked Sendable {
    private var backlog = 128

    override func bind(to addresses: [SocketAddress], promise: EventLoopPromise<Void>?) {
        guard !isActive else {
            promise?.fail(ChannelError.inappropriateOperationForState)
            return
        }
        socket.bindOnLoop(addresses).flatMapThrowing { [self] in
            try socket.listenOnLoop(backlog: backlog)
            becomeActive()
        }.cascade(to: promise)
    }

    override func setOption0<Option: ChannelOption>(_ option: Option, value: Option.Value) throws {
        guard isOpen else { throw ChannelError.ioOnClosedChannel }
        switch option {
        case is ChannelOptions.Types.BacklogOption:
            backlog = max(1, Int(value as! ChannelOptions.Types.BacklogOption.Value))
            // A listening socket takes the new backlog at once, as listen() again would.
            if isActive { try socket.listenOnLoop(backlog: backlog) }
        default:
            try super.setOption0(option, value: value)
        }
    }

    override func getOption0<Option: ChannelOption>(_ option: Option) throws -> Option.Value {
        guard isOpen else { throw ChannelError.ioOnClosedChannel }
        switch option {
        case is ChannelOptions.Types.BacklogOption:
            return ChannelOptions.Types.BacklogOption.Value(clamping: backlog) as! Option.Value
        default:
            return try super.getOption0(option)
        }
    }

    override func readOne() throws -> ReadOutcome {
        guard let accepted = try socket.acceptNowOnLoop() else { return .nothing }
        let child = SCTPChannel(socket: accepted, parent: self)
        pipeline.syncOperations.fireChannelRead(NIOAny(child as any Channel))
        return .read
    }
}
