import NIOCore
import SCTP
import SCTPCore

/// What sets up a channel, as in NIO's bootstraps.
public typealias SCTPChannelInitializer = @Sendable (any Channel) -> EventLoopFuture<Void>

/// Makes client channels: one-to-one SCTP sockets connected with `sctp_connectx` semantics,
/// like NIO's `ClientBootstrap`.
///
/// ```swift
/// let channel = try await SCTPClientBootstrap(stack: stack)
///     .channelOption(ChannelOptions.sctp(.noDelay), value: true)
///     .channelInitializer { channel in channel.pipeline.addHandler(MyHandler()) }
///     .connect(to: [try SocketAddress(ipAddress: "127.0.0.1", port: 5001),
///                   try SocketAddress(ipAddress: "127.0.0.2", port: 5001)]).get()
/// try await channel.writeAndFlush(SCTPEnvelope(data: ByteBuffer(string: "hello"), stream: 1)).get()
/// ```
///
/// The channel's `InboundIn` and `OutboundOut` are `SCTPEnvelope`; it runs on the stack's
/// event loop. A failed connect fails the future with the `SCTPError` `connectx` throws
/// (ECONNREFUSED, ETIMEDOUT, ...) and closes the channel.
public struct SCTPClientBootstrap: Sendable {
    private let stack: SCTPStack
    private var options = ChannelOptions.Storage()
    private var initializer: SCTPChannelInitializer?
    private var localAddresses: [SocketAddress]?

    /// A bootstrap for channels on `stack` (their event loop is the stack's).
    public init(stack: SCTPStack = .shared) {
        self.stack = stack
    }

    /// Sets up each channel's pipeline before it connects.
    public func channelInitializer(_ initializer: @escaping SCTPChannelInitializer) -> Self {
        var copy = self
        copy.initializer = initializer
        return copy
    }

    /// An option applied to each channel before the initializer runs: NIO's (`autoRead`,
    /// `writeBufferWaterMark`, `maxMessagesPerRead`, `connectTimeout`) or an SCTP one
    /// (`ChannelOptions.sctp(_:)`).
    public func channelOption<Option: ChannelOption>(_ option: Option, value: Option.Value) -> Self {
        var copy = self
        copy.options.append(key: option, value: value)
        return copy
    }

    /// Gives up connecting after `timeout` (the channel closes, the future fails with
    /// `ChannelError.connectTimeout`); without it, INIT retransmissions decide (ETIMEDOUT).
    public func connectTimeout(_ timeout: TimeAmount) -> Self {
        channelOption(ChannelOptions.connectTimeout, value: timeout)
    }

    /// Binds each channel to these local addresses (sharing one port; 0 picks one) before it
    /// connects; without it the socket binds as `connectx` does.
    public func bind(to addresses: [SocketAddress]) -> Self {
        var copy = self
        copy.localAddresses = addresses
        return copy
    }

    /// Connects to a peer reachable at `addresses` (one port): INIT to the first, then round
    /// robin over them. The future gives the active channel.
    public func connect(to addresses: [SocketAddress]) -> EventLoopFuture<any Channel> {
        let socket = SCTPSocket(family: family(of: addresses + (localAddresses ?? [])), style: .oneToOne, stack: stack)
        let channel = SCTPChannel(socket: socket, parent: nil)
        let loop = stack.eventLoop
        let (options, initializer, local) = (options, initializer, localAddresses)
        return loop.flatSubmit {
            options.applyAllChannelOptions(to: channel)
                .flatMap { initializer?(channel) ?? loop.makeSucceededVoidFuture() }
                .flatMap { channel.register() }
                .flatMap { local.map { channel.bind(toAll: $0) } ?? loop.makeSucceededVoidFuture() }
                .flatMap { channel.connect(toAll: addresses) }
                .map { channel as any Channel }
                .flatMapError { error in
                    channel.close(promise: nil)
                    return loop.makeFailedFuture(error)
                }
        }
    }

    /// Connects to a peer at one address.
    public func connect(to address: SocketAddress) -> EventLoopFuture<any Channel> {
        connect(to: [address])
    }
}

/// Makes server channels, like NIO's `ServerBootstrap`: a listening one-to-one SCTP socket
/// whose reads are its accepted associations, each a child channel (on the same loop) set
/// up with the child options and initializer.
///
/// ```swift
/// let server = try await SCTPServerBootstrap(stack: stack)
///     .childChannelInitializer { channel in channel.pipeline.addHandler(EchoHandler()) }
///     .bind(to: [try SocketAddress(ipAddress: "127.0.0.1", port: 5001)]).get()
/// ```
///
/// Options for the associations themselves (`.initMessage`, `.events`, buffer sizes) take
/// effect on the listening socket: give them with `serverChannelOption`; accepted sockets
/// inherit them. `childChannelOption` sets options of each accepted channel.
public struct SCTPServerBootstrap: Sendable {
    private let stack: SCTPStack
    private var serverOptions = ChannelOptions.Storage()
    private var childOptions = ChannelOptions.Storage()
    private var serverInitializer: SCTPChannelInitializer?
    private var childInitializer: SCTPChannelInitializer?

    /// A bootstrap for servers on `stack`.
    public init(stack: SCTPStack = .shared) {
        self.stack = stack
    }

    /// Sets up the server channel's pipeline (the accepting handler is added after it).
    public func serverChannelInitializer(_ initializer: @escaping SCTPChannelInitializer) -> Self {
        var copy = self
        copy.serverInitializer = initializer
        return copy
    }

    /// Sets up each accepted channel's pipeline.
    public func childChannelInitializer(_ initializer: @escaping SCTPChannelInitializer) -> Self {
        var copy = self
        copy.childInitializer = initializer
        return copy
    }

    /// An option of the server channel (`backlog`, `autoRead`, `maxMessagesPerRead`, SCTP ones).
    public func serverChannelOption<Option: ChannelOption>(_ option: Option, value: Option.Value) -> Self {
        var copy = self
        copy.serverOptions.append(key: option, value: value)
        return copy
    }

    /// An option of each accepted channel, applied before the child initializer runs.
    public func childChannelOption<Option: ChannelOption>(_ option: Option, value: Option.Value) -> Self {
        var copy = self
        copy.childOptions.append(key: option, value: value)
        return copy
    }

    /// Binds to `addresses` (one port; 0 picks a free one) and listens. The future gives the
    /// active server channel; its `localAddress` has the port.
    public func bind(to addresses: [SocketAddress]) -> EventLoopFuture<any Channel> {
        let socket = SCTPSocket(family: family(of: addresses), style: .oneToOne, stack: stack)
        let server = SCTPServerChannel(socket: socket, parent: nil)
        let loop = stack.eventLoop
        let (serverOptions, childOptions) = (serverOptions, childOptions)
        let (serverInitializer, childInitializer) = (serverInitializer, childInitializer)
        return loop.flatSubmit {
            serverOptions.applyAllChannelOptions(to: server)
                .flatMap { serverInitializer?(server) ?? loop.makeSucceededVoidFuture() }
                .flatMapThrowing {
                    try server.pipeline.syncOperations.addHandler(
                        AcceptHandler(childOptions: childOptions, childInitializer: childInitializer))
                }
                .flatMap { server.register() }
                .flatMap { server.bind(toAll: addresses) }
                .map { server as any Channel }
                .flatMapError { error in
                    server.close(promise: nil)
                    return loop.makeFailedFuture(error)
                }
        }
    }

    /// Binds to one address and listens.
    public func bind(to address: SocketAddress) -> EventLoopFuture<any Channel> {
        bind(to: [address])
    }
}

/// Makes one-to-many channels: one SCTP socket, many associations. Bound, the channel is
/// active: it takes associations from any peer (unless `ChannelOptions.backlog` is 0), its
/// reads carry the association id and peer address of each message, and a write goes to
/// the association its envelope names, or to the peer address it names (setting up an
/// association when there is none, as `sendmsg` does).
///
/// ```swift
/// let channel = try await SCTPOneToManyBootstrap(stack: stack)
///     .channelInitializer { channel in channel.pipeline.addHandler(EchoHandler()) }
///     .bind(to: [try SocketAddress(ipAddress: "127.0.0.1", port: 5001)]).get()
/// ```
public struct SCTPOneToManyBootstrap: Sendable {
    private let stack: SCTPStack
    private var options = ChannelOptions.Storage()
    private var initializer: SCTPChannelInitializer?

    /// A bootstrap for one-to-many channels on `stack`.
    public init(stack: SCTPStack = .shared) {
        self.stack = stack
    }

    /// Sets up the channel's pipeline before it binds.
    public func channelInitializer(_ initializer: @escaping SCTPChannelInitializer) -> Self {
        var copy = self
        copy.initializer = initializer
        return copy
    }

    /// An option applied before the initializer runs (`backlog`, `autoRead`, SCTP ones, ...).
    public func channelOption<Option: ChannelOption>(_ option: Option, value: Option.Value) -> Self {
        var copy = self
        copy.options.append(key: option, value: value)
        return copy
    }

    /// Binds to `addresses` (one port; 0 picks a free one). The future gives the active channel.
    public func bind(to addresses: [SocketAddress]) -> EventLoopFuture<any Channel> {
        let socket = SCTPSocket(family: family(of: addresses), style: .oneToMany, stack: stack)
        let channel = SCTPChannel(socket: socket, parent: nil)
        let loop = stack.eventLoop
        let (options, initializer) = (options, initializer)
        return loop.flatSubmit {
            options.applyAllChannelOptions(to: channel)
                .flatMap { initializer?(channel) ?? loop.makeSucceededVoidFuture() }
                .flatMap { channel.register() }
                .flatMap { channel.bind(toAll: addresses) }
                .map { channel as any Channel }
                .flatMapError { error in
                    channel.close(promise: nil)
                    return loop.makeFailedFuture(error)
                }
        }
    }

    /// Binds to one address.
    public func bind(to address: SocketAddress) -> EventLoopFuture<any Channel> {
        bind(to: [address])
    }
}

/// Sets up accepted channels on the server channel: options, initializer, registration.
private final class AcceptHandler: ChannelInboundHandler {
    typealias InboundIn = any Channel

    private let childOptions: ChannelOptions.Storage
    private let childInitializer: SCTPChannelInitializer?

    init(childOptions: ChannelOptions.Storage, childInitializer: SCTPChannelInitializer?) {
        self.childOptions = childOptions
        self.childInitializer = childInitializer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        let loop = context.eventLoop
        let server = NIOLoopBound(context, eventLoop: loop)
        let initializer = childInitializer
        childOptions.applyAllChannelOptions(to: child)
            .flatMap { initializer?(child) ?? loop.makeSucceededVoidFuture() }
            .flatMap { child.register() }
            .whenFailure { error in
                child.close(promise: nil)
                server.value.fireErrorCaught(error)
            }
    }
}

extension Channel {
    /// `bind`, through the pipeline; several addresses as an `SCTPMultihomingRequest`.
    func bind(toAll addresses: [SocketAddress]) -> EventLoopFuture<Void> {
        if addresses.count == 1 { return bind(to: addresses[0]) }
        return triggerUserOutboundEvent(SCTPMultihomingRequest.bind(addresses))
    }

    /// `connect`, through the pipeline; several addresses as an `SCTPMultihomingRequest`.
    func connect(toAll addresses: [SocketAddress]) -> EventLoopFuture<Void> {
        if addresses.count == 1 { return connect(to: addresses[0]) }
        return triggerUserOutboundEvent(SCTPMultihomingRequest.connect(addresses))
    }
}

/// IPv6 sockets when any address is IPv6 (they take IPv4 too).
private func family(of addresses: [SocketAddress]) -> SCTPSocket.Family {
    addresses.contains { if case .v6 = $0 { true } else { false } } ? .ipv6 : .ipv4
}
