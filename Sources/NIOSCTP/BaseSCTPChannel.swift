import NIOConcurrencyHelpers
import NIOCore
import SCTP
import SCTPCore

/// What the SCTP channels share: a socket, the pipeline, the lifecycle (registered, active,
/// closed), the read demand and the options every channel has. Everything but the boxed
/// values runs on the socket's loop (the stack's), as every `ChannelCore` call does.
///
/// Reading never waits in the socket: the channel takes what is there now
/// (`readOne`), and the socket's `activityHandler` tells it when something arrived, so
/// `read()` is demand as in NIO: without it, data stays in the socket and, not being read,
/// closes the peer's window.
class BaseSCTPChannel: Channel, ChannelCore, @unchecked Sendable {
    let socket: SCTPSocket
    let eventLoop: any EventLoop
    let parent: (any Channel)?
    let allocator = ByteBufferAllocator()
    private var _pipeline: ChannelPipeline!
    private let closePromise: EventLoopPromise<Void>

    // On the loop.
    var isOpen = true
    private(set) var isRegistered = false
    var autoRead = true
    var maxMessagesPerRead = 4
    /// `read()` was called and no read has been delivered since.
    var readPending = false
    private var readScheduled = false

    // Read from any thread.
    private let activeBox = NIOLockedValueBox(false)
    private let addressBox = NIOLockedValueBox<(local: SocketAddress?, remote: SocketAddress?)>((nil, nil))

    init(socket: SCTPSocket, parent: (any Channel)?) {
        self.socket = socket
        self.eventLoop = socket.eventLoop
        self.parent = parent
        self.closePromise = socket.eventLoop.makePromise()
        self._pipeline = ChannelPipeline(channel: self)
    }

    // MARK: Channel

    var pipeline: ChannelPipeline { _pipeline }
    var closeFuture: EventLoopFuture<Void> { closePromise.futureResult }
    var _channelCore: any ChannelCore { self }
    var isActive: Bool { activeBox.withLockedValue { $0 } }
    var isWritable: Bool { true }
    var localAddress: SocketAddress? { addressBox.withLockedValue { $0.local } }
    var remoteAddress: SocketAddress? { addressBox.withLockedValue { $0.remote } }

    func setOption<Option: ChannelOption>(_ option: Option, value: Option.Value) -> EventLoopFuture<Void> {
        if eventLoop.inEventLoop {
            do {
                try setOption0(option, value: value)
                return eventLoop.makeSucceededVoidFuture()
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
        }
        return eventLoop.submit { try self.setOption0(option, value: value) }
    }

    func getOption<Option: ChannelOption>(_ option: Option) -> EventLoopFuture<Option.Value> {
        if eventLoop.inEventLoop {
            do {
                return eventLoop.makeSucceededFuture(try getOption0(option))
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
        }
        return eventLoop.submit { try self.getOption0(option) }
    }

    var syncOptions: (any NIOSynchronousChannelOptions)? { SynchronousOptions(channel: self) }

    struct SynchronousOptions: NIOSynchronousChannelOptions {
        let channel: BaseSCTPChannel

        func setOption<Option: ChannelOption>(_ option: Option, value: Option.Value) throws {
            channel.eventLoop.preconditionInEventLoop()
            try channel.setOption0(option, value: value)
        }

        func getOption<Option: ChannelOption>(_ option: Option) throws -> Option.Value {
            channel.eventLoop.preconditionInEventLoop()
            return try channel.getOption0(option)
        }
    }

    // MARK: Options (on the loop)

    /// Sets an option; subclasses add theirs and call this for the rest.
    func setOption0<Option: ChannelOption>(_ option: Option, value: Option.Value) throws {
        guard isOpen else { throw ChannelError.ioOnClosedChannel }
        switch option {
        case is ChannelOptions.Types.AutoReadOption:
            let enabled = value as! Bool
            let wasEnabled = autoRead
            autoRead = enabled
            if enabled && !wasEnabled && isActive { pipeline.syncOperations.read() }
        case is ChannelOptions.Types.MaxMessagesPerReadOption:
            maxMessagesPerRead = max(1, Int(clamping: value as! UInt))
        case let sctp as any SocketOptionAccess:
            try sctp.set(on: socket, value)
        default:
            throw ChannelError.operationUnsupported
        }
    }

    /// Reads an option; subclasses add theirs and call this for the rest.
    func getOption0<Option: ChannelOption>(_ option: Option) throws -> Option.Value {
        guard isOpen else { throw ChannelError.ioOnClosedChannel }
        switch option {
        case is ChannelOptions.Types.AutoReadOption:
            return autoRead as! Option.Value
        case is ChannelOptions.Types.MaxMessagesPerReadOption:
            return UInt(maxMessagesPerRead) as! Option.Value
        case let sctp as any SocketOptionAccess:
            return try sctp.get(from: socket) as! Option.Value
        default:
            throw ChannelError.operationUnsupported
        }
    }

    // MARK: Lifecycle

    func localAddress0() throws -> SocketAddress {
        guard let address = socket.localAddressesOnLoop.first else { throw ChannelError.unknownLocalAddress }
        return address
    }

    func remoteAddress0() throws -> SocketAddress {
        guard let address = socket.primaryPeerAddressOnLoop(nil) else { throw ChannelError.operationUnsupported }
        return address
    }

    /// Refreshes the addresses read from other threads.
    func updateAddresses() {
        let local = socket.localAddressesOnLoop.first
        let remote = socket.style == .oneToOne ? socket.primaryPeerAddressOnLoop(nil) : nil
        addressBox.withLockedValue { $0 = (local ?? $0.local, remote ?? $0.remote) }
    }

    func register0(promise: EventLoopPromise<Void>?) {
        guard isOpen else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        guard !isRegistered else {
            promise?.fail(ChannelError.inappropriateOperationForState)
            return
        }
        isRegistered = true
        socket.activityHandler = { [weak self] in self?.socketActivity() }
        promise?.succeed(())
        pipeline.syncOperations.fireChannelRegistered()
        didRegister()
    }

    func registerAlreadyConfigured0(promise: EventLoopPromise<Void>?) {
        register0(promise: promise)
    }

    /// After registration (a channel over an accepted association becomes active here).
    func didRegister() {}

    /// The channel is bound or connected: active (then `promise` completes, as in NIO),
    /// `channelActive`, and a read if `autoRead`.
    func becomeActive(promise: EventLoopPromise<Void>? = nil) {
        guard isOpen, !isActive else {
            promise?.fail(isOpen ? ChannelError.inappropriateOperationForState : ChannelError.ioOnClosedChannel)
            return
        }
        activeBox.withLockedValue { $0 = true }
        updateAddresses()
        promise?.succeed(())
        pipeline.syncOperations.fireChannelActive()
        if isOpen && autoRead { pipeline.syncOperations.read() }
        socketActivity()
        didBecomeActive()
    }

    /// After activation, whichever path activated the channel (writes flushed before it go now).
    func didBecomeActive() {}

    func close0(error: any Error, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard isOpen else {
            promise?.fail(ChannelError.alreadyClosed)
            return
        }
        switch mode {
        case .all:
            closeAll(error: error, promise: promise)
        case .output:
            closeOutput(promise: promise)
        case .input:
            promise?.fail(ChannelError.operationUnsupported)
        }
    }

    /// `close(mode: .output)`; only one-to-one channels have it.
    func closeOutput(promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    /// Fails what waits on the channel (writes, a connect) with `error`, as it closes.
    func failPending(_ error: any Error) {}

    private func closeAll(error: any Error, promise: EventLoopPromise<Void>?) {
        isOpen = false
        let wasActive = isActive
        activeBox.withLockedValue { $0 = false }
        socket.activityHandler = nil
        // First: closing the socket ends a connect attempt with its own error.
        failPending(error)
        // Associations shut down gracefully in the background (aborted with linger 0).
        socket.closeNowOnLoop()
        promise?.succeed(())
        if wasActive { pipeline.syncOperations.fireChannelInactive() }
        if isRegistered { pipeline.syncOperations.fireChannelUnregistered() }
        eventLoop.execute {
            // Later: handlers may still be walking the pipeline.
            self.removeHandlers(pipeline: self.pipeline)
            self.closePromise.succeed(())
        }
    }

    // MARK: Reading

    func read0() {
        guard isOpen else { return }
        // Demand before activation is kept: `becomeActive` reads it (NIO's semantics).
        readPending = true
        guard isActive else { return }
        // Never synchronously: `read()` is often called from within a read's callbacks.
        if socket.hasInboundOnLoop || socket.isDisconnectedOnLoop { scheduleRead() }
    }

    /// Something arrived or the association ended: read on the next turn of the loop, so
    /// that everything the endpoint delivers in one go is read as one batch.
    private func socketActivity() {
        guard isOpen, isActive else { return }
        if readPending || socket.isDisconnectedOnLoop { scheduleRead() }
    }

    private func scheduleRead() {
        guard !readScheduled else { return }
        readScheduled = true
        eventLoop.execute {
            self.readScheduled = false
            self.readNow()
        }
    }

    /// What one `readOne` found.
    enum ReadOutcome {
        /// A read was delivered (`channelRead`).
        case read
        /// Something else went up (a notification as a user event).
        case event
        /// Nothing there now.
        case nothing
        /// The association has ended and everything was read.
        case endOfFile
    }

    /// Takes one item from the socket and fires it (subclasses).
    func readOne() throws -> ReadOutcome { .nothing }

    /// Delivers up to `maxMessagesPerRead` reads while there is demand, then
    /// `channelReadComplete`; closes at end of file.
    private func readNow() {
        guard isOpen, isActive else { return }
        var reads = 0
        // Without demand nothing is taken: it waits in the socket (and holds the window).
        reading: while readPending && isOpen && reads < maxMessagesPerRead {
            do {
                switch try readOne() {
                case .read: reads += 1
                case .event: continue
                case .nothing, .endOfFile: break reading
                }
            } catch {
                pipeline.syncOperations.fireErrorCaught(error)
                close0(error: error, mode: .all, promise: nil)
                return
            }
        }
        if reads > 0 && isOpen {
            readPending = false
            pipeline.syncOperations.fireChannelReadComplete()
            if isOpen && autoRead { pipeline.syncOperations.read() }
        }
        // The association has ended and everything it brought was read: end of file.
        if isOpen && socket.isDisconnectedOnLoop && !socket.hasInboundOnLoop {
            close0(error: ChannelError.eof, mode: .all, promise: nil)
        }
    }

    // MARK: Defaults of ChannelCore

    func bind0(to address: SocketAddress, promise: EventLoopPromise<Void>?) {
        bind(to: [address], promise: promise)
    }

    /// `bind` to one or more addresses sharing a port (subclasses).
    func bind(to addresses: [SocketAddress], promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    func connect0(to address: SocketAddress, promise: EventLoopPromise<Void>?) {
        connect(to: [address], promise: promise)
    }

    /// `connectx` (subclasses).
    func connect(to addresses: [SocketAddress], promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    func write0(_ data: NIOAny, promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    func flush0() {}

    func triggerUserOutboundEvent0(_ event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case let request as SCTPMultihomingRequest:
            guard isOpen else {
                promise?.fail(ChannelError.ioOnClosedChannel)
                return
            }
            switch request {
            case .bind(let addresses): bind(to: addresses, promise: promise)
            case .connect(let addresses): connect(to: addresses, promise: promise)
            }
        default:
            promise?.fail(ChannelError.operationUnsupported)
        }
    }

    func channelRead0(_ data: NIOAny) {}

    func errorCaught0(error: any Error) {}
}
