import DequeModule
import NIOConcurrencyHelpers
import NIOCore
import SCTP
import SCTPCore

/// A channel over one SCTP socket that carries messages (`SCTPEnvelope` in and out):
/// one-to-one (a connected association: a client's, or one a server accepted) or
/// one-to-many (many associations on one bound socket).
///
/// Writes wait in the channel until `flush`; a flush hands them to the socket, which queues
/// each in the association's send buffer at once or, when the buffer is full, keeps it
/// waiting for room (in order, per association). Until it is queued a message counts as
/// pending: `isWritable` follows `ChannelOptions.writeBufferWaterMark` over the pending
/// bytes. A write's promise completes once the message is in the send buffer, or fails
/// with the `SCTPError` of `sendmsg`.
///
/// A `ByteBuffer` written instead of an envelope is one message on stream 0 with PPID 0;
/// anything else fails the write (EINVAL).
///
/// Notifications the socket subscribed to (`ChannelOptions.sctp(.events)`) go up as user
/// inbound events (`SCTPNotification`), in order with the messages.
final class SCTPChannel: BaseSCTPChannel, @unchecked Sendable {
    // On the loop.
    private var pendingWrites: Deque<(envelope: SCTPEnvelope, promise: EventLoopPromise<Void>?)> = []
    /// How many of `pendingWrites`, from the front, were flushed.
    private var flushedCount = 0
    /// Bytes written and not yet in the send buffer.
    private var pendingBytes = 0
    /// Messages handed to the socket that are not in the send buffer yet.
    private var inFlight = 0
    private var waterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 32 * 1024, high: 64 * 1024)
    private var outputClosed = false
    /// `close(mode: .output)` waits for the messages in flight before it shuts down.
    private var shutdownWhenSent = false
    private var pendingConnect: EventLoopPromise<Void>?
    private var connectTimeout: TimeAmount?
    private var backlog = 128
    private let writableBox = NIOLockedValueBox(true)

    override var isWritable: Bool { writableBox.withLockedValue { $0 } }

    // MARK: Lifecycle

    override func didBecomeActive() {
        sendFlushed()
    }

    override func didRegister() {
        // An accepted association is connected already.
        if socket.isConnectedOnLoop && pendingConnect == nil {
            becomeActive()
        }
    }

    override func bind(to addresses: [SocketAddress], promise: EventLoopPromise<Void>?) {
        socket.bindOnLoop(addresses).flatMapThrowing { [self] in
            // A one-to-many channel is usable once bound: it takes associations (listen,
            // unless the backlog is 0) and sends to any peer.
            if socket.style == .oneToMany {
                try socket.listenOnLoop(backlog: backlog)
                becomeActive()
            } else {
                updateAddresses()
            }
        }.cascade(to: promise)
    }

    override func connect(to addresses: [SocketAddress], promise: EventLoopPromise<Void>?) {
        if socket.style == .oneToMany {
            // sctp_connectx on a one-to-many socket: one more association of the channel.
            guard isActive else {
                promise?.fail(ChannelError.inappropriateOperationForState)
                return
            }
            socket.connectxOnLoop(addresses).map { _ in }.cascade(to: promise)
            return
        }
        guard !isActive else {
            promise?.fail(ChannelError.inappropriateOperationForState)
            return
        }
        guard pendingConnect == nil else {
            promise?.fail(ChannelError.connectPending)
            return
        }
        let connected = promise ?? eventLoop.makePromise()
        pendingConnect = connected
        let timeout = connectTimeout.map { limit in
            eventLoop.scheduleTask(in: limit) { [self] in
                guard pendingConnect != nil else { return }
                close0(error: ChannelError.connectTimeout(limit), mode: .all, promise: nil)
            }
        }
        socket.connectxOnLoop(addresses).whenComplete { [self] result in
            timeout?.cancel()
            guard let connected = pendingConnect else { return }
            pendingConnect = nil
            switch result {
            case .success:
                becomeActive(promise: connected)
            case .failure(let error):
                // As NIO: a failed connect closes the channel (its pending writes fail too).
                connected.fail(error)
                if isOpen { close0(error: error, mode: .all, promise: nil) }
            }
        }
    }

    override func closeOutput(promise: EventLoopPromise<Void>?) {
        guard socket.style == .oneToOne else {
            promise?.fail(ChannelError.operationUnsupported)
            return
        }
        guard isActive else {
            promise?.fail(ChannelError.inappropriateOperationForState)
            return
        }
        guard !outputClosed else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        outputClosed = true
        // As NIO does: what was not flushed is failed; what was flushed is still delivered.
        failUnflushed(ChannelError.outputClosed)
        if inFlight == 0 {
            shutdownNow()
        } else {
            shutdownWhenSent = true
        }
        promise?.succeed(())
    }

    /// SCTP's graceful shutdown: what was sent is delivered, then the association ends.
    private func shutdownNow() {
        shutdownWhenSent = false
        do {
            try socket.shutdownOnLoop()
        } catch {
            pipeline.syncOperations.fireErrorCaught(error)
        }
    }

    override func failPending(_ error: any Error) {
        if let connect = pendingConnect {
            pendingConnect = nil
            connect.fail(error)
        }
        flushedCount = 0
        failUnflushed(error)
    }

    /// Fails the writes not handed to the socket.
    private func failUnflushed(_ error: any Error) {
        let failed = pendingWrites
        pendingWrites.removeAll()
        flushedCount = 0
        for write in failed {
            pendingBytes -= write.envelope.data.readableBytes
            write.promise?.fail(error)
        }
        updateWritability()
    }

    // MARK: Options

    override func setOption0<Option: ChannelOption>(_ option: Option, value: Option.Value) throws {
        guard isOpen else { throw ChannelError.ioOnClosedChannel }
        switch option {
        case is ChannelOptions.Types.WriteBufferWaterMarkOption:
            let mark = value as! ChannelOptions.Types.WriteBufferWaterMark
            waterMark = mark
            updateWritability()
        case is ChannelOptions.Types.ConnectTimeoutOption:
            connectTimeout = value as? TimeAmount
        case is ChannelOptions.Types.BacklogOption:
            backlog = max(0, Int(value as! ChannelOptions.Types.BacklogOption.Value))
            // A bound one-to-many channel takes it at once (0 stops taking associations).
            if isActive && socket.style == .oneToMany { try socket.listenOnLoop(backlog: backlog) }
        case is ChannelOptions.Types.AllowRemoteHalfClosureOption:
            // The peer's SHUTDOWN ends our sending too: SCTP has no remote half-closure.
            guard !(value as! Bool) else { throw ChannelError.operationUnsupported }
        default:
            try super.setOption0(option, value: value)
        }
    }

    override func getOption0<Option: ChannelOption>(_ option: Option) throws -> Option.Value {
        guard isOpen else { throw ChannelError.ioOnClosedChannel }
        switch option {
        case is ChannelOptions.Types.WriteBufferWaterMarkOption:
            return waterMark as! Option.Value
        case is ChannelOptions.Types.BufferedWritableBytesOption:
            return Int(pendingBytes) as! Option.Value
        case is ChannelOptions.Types.ConnectTimeoutOption:
            return connectTimeout as! Option.Value
        case is ChannelOptions.Types.BacklogOption:
            return ChannelOptions.Types.BacklogOption.Value(clamping: backlog) as! Option.Value
        case is ChannelOptions.Types.AllowRemoteHalfClosureOption:
            return false as! Option.Value
        default:
            return try super.getOption0(option)
        }
    }

    // MARK: Writing

    override func write0(_ data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard isOpen else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        guard !outputClosed else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        let envelope: SCTPEnvelope
        if let written = tryUnwrapData(data, as: SCTPEnvelope.self) {
            envelope = written
        } else if let bytes = tryUnwrapData(data, as: ByteBuffer.self) {
            // Plain bytes: one message on stream 0 with PPID 0 (the socket's defaults are not used).
            envelope = SCTPEnvelope(data: bytes)
        } else {
            promise?.fail(SCTPError(.invalidArgument, "an SCTP channel writes SCTPEnvelope or ByteBuffer, not \(data)"))
            return
        }
        pendingWrites.append((envelope, promise))
        pendingBytes += envelope.data.readableBytes
        updateWritability()
    }

    override func flush0() {
        guard isOpen else { return }
        flushedCount = pendingWrites.count
        // Before the association is up, flushed writes wait for it.
        if isActive { sendFlushed() }
    }

    /// Hands the flushed writes to the socket, in order.
    private func sendFlushed() {
        while isOpen, flushedCount > 0, let write = pendingWrites.popFirst() {
            flushedCount -= 1
            inFlight += 1
            let bytes = write.envelope.data.readableBytes
            let envelope = write.envelope
            // One-to-one sockets take a peer address only to override the path.
            let peer = socket.style == .oneToMany || envelope.flags.contains(.addressOverride) ? envelope.remoteAddress : nil
            socket.sendWaitingOnLoop(envelope.data, info: envelope.sendInfo, to: peer.map { [$0] })
                .whenComplete { [self] result in
                    inFlight -= 1
                    pendingBytes -= bytes
                    write.promise?.completeWith(result)
                    if isOpen { updateWritability() }
                    if shutdownWhenSent && inFlight == 0 && isOpen { shutdownNow() }
                }
        }
    }

    /// `isWritable` goes false above the high water mark and true again below the low one.
    private func updateWritability() {
        let writable = writableBox.withLockedValue { $0 }
        if writable && pendingBytes > waterMark.high {
            writableBox.withLockedValue { $0 = false }
            pipeline.syncOperations.fireChannelWritabilityChanged()
        } else if !writable && pendingBytes < waterMark.low {
            writableBox.withLockedValue { $0 = true }
            pipeline.syncOperations.fireChannelWritabilityChanged()
        }
    }

    // MARK: Reading

    override func readOne() throws -> ReadOutcome {
        switch try socket.receiveNowOnLoop(maxLength: Int.max) {
        case nil:
            return .nothing
        case .some(nil):
            return .endOfFile
        case .some(.notification(let notification))?:
            pipeline.syncOperations.fireUserInboundEventTriggered(notification)
            return .event
        case .some(.message(let message))?:
            let peer = socket.primaryPeerAddressOnLoop(socket.style == .oneToMany ? message.info.associationID : nil)
            let envelope = SCTPEnvelope(message, remoteAddress: peer ?? remoteAddress)
            pipeline.syncOperations.fireChannelRead(NIOAny(envelope))
            return .read
        }
    }
}
