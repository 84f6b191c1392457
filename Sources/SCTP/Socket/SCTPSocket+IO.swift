import NIOConcurrencyHelpers
import NIOCore
import SCTPCore
import SCTPWire

extension SCTPSocket {
    // MARK: Sending

    /// Sends one message (`sctp_sendv` / `sendmsg` with send info). `info` defaults to the
    /// socket's `SCTP_DEFAULT_SNDINFO`. On a one-to-many socket the association comes from
    /// `info.associationID`, or from `to`: the association with that peer, or a new one set
    /// up with those addresses (an implicit connectx). With `.addressOverride`
    /// (`SCTP_ADDR_OVER`) the first address of `to` is the peer address the message goes to,
    /// on either socket style. Blocks while the send buffer is full
    /// (EWOULDBLOCK in non-blocking mode). With `.endOfFile` a graceful shutdown follows the
    /// message; with `.abort` the association is aborted and `data` is the reason (on a
    /// one-to-many socket, naming an association by id, the call returns once the abort is
    /// handed to the stack's loop, without waiting for it: it cannot fail). With
    /// `SCTPSocketOption.explicitEOR` on, each send is a piece of a message that the send with
    /// `.endOfRecord` completes.
    public func sendmsg(_ data: ByteBuffer, info: SCTPSendInfo? = nil, to addresses: [SocketAddress]? = nil) throws(SCTPError) {
        if addresses == nil, let info, abortsWithoutWaiting(info, reason: data) {
            eventLoop.execute { [self] in carryOutClaimedAbort(info) }
            return
        }
        let peers: ([IPAddress], UInt16)? = try addresses.map { addresses throws(SCTPError) in
            try ipAddresses(addresses, allowPortZero: false)
        }
        let tag = UInt64.random(in: 1...UInt64.max)
        try onLoopInterruptible(.cancel { [self] in
            driver?.cancelBlockedSends(tag: tag, error: SCTPError(.interrupted, "the send was interrupted"))
        }) { [self] in sendOnLoop(data, info: info, to: peers, tag: tag) }
    }

    /// Whether a send is the abort of one association of this (open) one-to-many socket,
    /// named by id, claimed (`SocketAssociations.claimAbort`): it cannot fail then, so the
    /// caller need not wait for the loop. Calls the thread makes next reach the loop after
    /// its task, so they see the association aborted; a peeloff or close from another thread
    /// that reaches the loop first finds it aborting (peeloff: EINVAL; close: aborts it).
    /// On the loop itself the send runs as it is.
    private func abortsWithoutWaiting(_ info: SCTPSendInfo, reason: ByteBuffer) -> Bool {
        guard style == .oneToMany, info.flags.contains(.abort),
              info.flags.isDisjoint(with: [.sendAll, .addressOverride]),
              let id = info.associationID, !eventLoop.inEventLoop else { return false }
        return associations.claimAbort(id, reason: reason)
    }

    /// The loop's side of a claimed abort: carries it out unless a close did already (or
    /// the association ended meanwhile, which an abort a moment earlier would have found).
    private func carryOutClaimedAbort(_ info: SCTPSendInfo) {
        guard let id = info.associationID, let reason = associations.takeAbort(id) else { return }
        _ = sendOnLoop(reason, info: info, to: nil)
    }

    /// `sctp_sendv`: the buffers form one message (one piece of it under `explicitEOR`).
    public func sendv(_ buffers: [ByteBuffer], info: SCTPSendInfo? = nil, to addresses: [SocketAddress]? = nil) throws(SCTPError) {
        var message = ByteBuffer()
        message.reserveCapacity(buffers.reduce(0) { $0 + $1.readableBytes })
        for var buffer in buffers { message.writeBuffer(&buffer) }
        try sendmsg(message, info: info, to: addresses)
    }

    /// Sends bytes as one message with the default send info (or `info`).
    public func send(_ bytes: some Sequence<UInt8>, info: SCTPSendInfo? = nil) throws(SCTPError) {
        try sendmsg(ByteBuffer(bytes: Array(bytes)), info: info)
    }

    func sendOnLoop(_ data: ByteBuffer, info requested: SCTPSendInfo?, to peers: ([IPAddress], UInt16)?,
                    tag: UInt64? = nil) -> EventLoopFuture<Void> {
        let info = requested ?? defaultSendInfo
        let targets: [AssociationID]
        let driver: EndpointDriver
        do {
            (driver, targets) = try sendTargets(info: info, peers: peers)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        var destination: IPAddress? = nil
        if info.flags.contains(.addressOverride) {
            guard let address = peers?.0.first else {
                return eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "SCTP_ADDR_OVER needs the peer address to send to"))
            }
            destination = address
        }
        if destination != nil, let port = peers?.1, targets.contains(where: { driver.peerPort(of: $0) != port }) {
            return eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "SCTP_ADDR_OVER to a port that is not the peer's"))
        }
        if info.flags.contains(.abort) {
            for id in targets {
                if explicitEOR { partialRecords[id] = nil }
                try? driver.abort(id, reason: data.readableBytes > 0 ? data : nil)
            }
            return eventLoop.makeSucceededVoidFuture()
        }
        if explicitEOR {
            return sendPieceOnLoop(data, info: info, driver: driver, targets: targets, destination: destination, tag: tag)
        }
        return queueOnLoop(data, info: info, driver: driver, targets: targets, destination: destination, tag: tag)
    }

    /// Queues `data` as one message on each of `targets` (on the loop), then shuts them down
    /// with `.endOfFile`.
    func queueOnLoop(_ data: ByteBuffer, info: SCTPSendInfo, driver: EndpointDriver, targets: [AssociationID],
                     destination: IPAddress?, tag: UInt64?) -> EventLoopFuture<Void> {
        if disableFragments, data.readableBytes > 0,
           let id = targets.first(where: { data.readableBytes > driver.fragmentationPoint(of: $0) ?? Int.max }) {
            return eventLoop.makeFailedFuture(SCTPError(.messageTooLong,
                "SCTP_DISABLE_FRAGMENTS: \(data.readableBytes) bytes exceed the fragmentation point \(driver.fragmentationPoint(of: id) ?? 0)"))
        }
        var sends: [EventLoopFuture<Void>] = []
        if data.readableBytes > 0 {
            for id in targets {
                let message = OutgoingMessage(streamIdentifier: info.stream, payloadProtocolIdentifier: info.payloadProtocolIdentifier,
                                              isUnordered: info.flags.contains(.unordered),
                                              requestsImmediateAck: info.flags.contains(.sackImmediately),
                                              partialReliability: info.partialReliability, destination: destination,
                                              context: info.context != 0 ? info.context : context(of: id), payload: data)
                if nonBlocking {
                    do {
                        try driver.trySend(message, on: id)
                    } catch {
                        return eventLoop.makeFailedFuture(error)
                    }
                } else {
                    sends.append(driver.send(message, on: id, tag: tag))
                }
            }
        } else if !info.flags.contains(.endOfFile) {
            return eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "an empty message"))
        }
        let queued = EventLoopFuture.andAllSucceed(sends, on: eventLoop)
        guard info.flags.contains(.endOfFile) else { return queued }
        return queued.map {
            for id in targets { _ = driver.shutdown(id) }
        }
    }

    /// The associations a send goes to (on the loop).
    private func sendTargets(info: SCTPSendInfo, peers: ([IPAddress], UInt16)?) throws(SCTPError) -> (EndpointDriver, [AssociationID]) {
        guard phase != .closed else { throw SCTPError(.badFileDescriptor, "the socket is closed") }
        switch style {
        case .oneToOne:
            switch phase {
            case .connecting, .connected:
                let (driver, id) = try resolve(nil)
                return (driver, [id])
            case .disconnected:
                // The first send after an abort reports it (ECONNRESET), later ones EPIPE,
                // as a socket's pending error does (Linux SCTP, usrsctp, TCP).
                if let error = lostError {
                    lostError = nil
                    throw error
                }
                throw SCTPError(.brokenPipe, "the association has ended")
            default:
                throw SCTPError(.socketNotConnected, "the socket is not connected")
            }
        case .oneToMany:
            guard let driver else { throw SCTPError(.socketNotConnected, "the socket has no association") }
            if info.flags.contains(.sendAll) {
                return (driver, associations.sorted)
            }
            if let id = info.associationID {
                guard associations.contains(id) else { throw SCTPError(.invalidArgument, "no such association: \(id)") }
                return (driver, [id])
            }
            guard let (addresses, port) = peers else {
                throw SCTPError(.addressRequired, "a one-to-many send needs an association id or a peer address")
            }
            let existing = associations.first { id in
                driver.peerPort(of: id) == port && driver.peerAddresses(of: id).contains { addresses.contains($0.address) }
            }
            if let existing { return (driver, [existing]) }
            // An implicit association setup (RFC 6458 §3.1.5): data waits for COOKIE ECHO.
            driver.configuration = configuration
            let (id, _) = try driver.connect(to: addresses, port: port)
            associations.insert(id)
            return (driver, [id])
        }
    }

    // MARK: Receiving

    /// Reads the next message (or the next `maxLength` bytes of it) or notification
    /// (`recvmsg` / `sctp_recvv`). Blocks until there is one (EWOULDBLOCK in non-blocking
    /// mode or when the receive timeout passes). Returns `nil` on a one-to-one socket whose
    /// association has ended and whose data has all been read (end of file).
    public func recvmsg(maxLength: Int = 1 << 16) throws(SCTPError) -> SCTPReceived? {
        guard maxLength > 0 else { throw SCTPError(.invalidArgument, "maxLength must be positive") }
        let tag = UInt64.random(in: 1...UInt64.max)
        return try onLoopInterruptible(.cancel { [self] in cancelReceive(tag: tag, "the receive was interrupted") }) { [self] in
            receiveOnLoop(maxLength: maxLength, tag: tag)
        }
    }

    /// `recvmsg` for a task: suspends instead of blocking; cancelling the task makes it
    /// throw EINTR (nothing is lost: what was not returned stays queued).
    public func recvmsg(maxLength: Int = 1 << 16) async throws(SCTPError) -> SCTPReceived? {
        guard maxLength > 0 else { throw SCTPError(.invalidArgument, "maxLength must be positive") }
        let tag = UInt64.random(in: 1...UInt64.max)
        let cancelled = NIOLockedValueBox(false)
        do {
            return try await withTaskCancellationHandler {
                try await eventLoop.flatSubmit { [self] () -> EventLoopFuture<SCTPReceived?> in
                    // Cancelled before the read was even registered.
                    if cancelled.withLockedValue({ $0 }) {
                        return eventLoop.makeFailedFuture(SCTPError(.interrupted, "the receive was cancelled"))
                    }
                    return receiveOnLoop(maxLength: maxLength, tag: tag)
                }.get()
            } onCancel: {
                cancelled.withLockedValue { $0 = true }
                eventLoop.execute { [self] in cancelReceive(tag: tag, "the receive was cancelled") }
            }
        } catch {
            throw EndpointDriver.map(error)
        }
    }

    /// Takes back the waiting receive with `tag` (on the loop): it fails with EINTR.
    func cancelReceive(tag: UInt64, _ text: String) {
        receiveWaiters.removeAll { waiter in
            guard waiter.tag == tag else { return false }
            waiter.promise.fail(SCTPError(.interrupted, text))
            return true
        }
    }

    /// Sends one message from a task: suspends while the send buffer is full; cancelling the
    /// task while it waits takes the message back and throws EINTR.
    public func sendmsg(_ data: ByteBuffer, info: SCTPSendInfo? = nil, to addresses: [SocketAddress]? = nil) async throws(SCTPError) {
        if addresses == nil, let info, abortsWithoutWaiting(info, reason: data) {
            eventLoop.execute { [self] in carryOutClaimedAbort(info) }
            return
        }
        let peers: ([IPAddress], UInt16)? = try addresses.map { addresses throws(SCTPError) in
            try ipAddresses(addresses, allowPortZero: false)
        }
        let tag = UInt64.random(in: 1...UInt64.max)
        let cancelled = NIOLockedValueBox(false)
        do {
            try await withTaskCancellationHandler {
                try await eventLoop.flatSubmit { [self] () -> EventLoopFuture<Void> in
                    if cancelled.withLockedValue({ $0 }) {
                        return eventLoop.makeFailedFuture(SCTPError(.interrupted, "the send was cancelled"))
                    }
                    return sendOnLoop(data, info: info, to: peers, tag: tag)
                }.get()
            } onCancel: {
                cancelled.withLockedValue { $0 = true }
                eventLoop.execute { [self] in
                    driver?.cancelBlockedSends(tag: tag, error: SCTPError(.interrupted, "the send was cancelled"))
                }
            }
        } catch {
            throw EndpointDriver.map(error)
        }
    }

    /// Starts a read; a waiting read carries `tag`, so that a cancelled task can take it back.
    func receiveOnLoop(maxLength: Int, tag: UInt64? = nil) -> EventLoopFuture<SCTPReceived?> {
        guard phase != .closed else { return eventLoop.makeFailedFuture(SCTPError(.badFileDescriptor, "the socket is closed")) }
        if receiveWaiters.isEmpty, let item = takeInbound(maxLength: maxLength) {
            return eventLoop.makeSucceededFuture(item)
        }
        if style == .oneToOne {
            switch phase {
            case .disconnected:
                return eventLoop.makeSucceededFuture(nil)
            case .open, .bound, .listening:
                return eventLoop.makeFailedFuture(SCTPError(.socketNotConnected, "the socket is not connected"))
            default:
                break
            }
        }
        if nonBlocking { return eventLoop.makeFailedFuture(SCTPError(.wouldBlock, "nothing to read")) }
        let promise = eventLoop.makePromise(of: SCTPReceived?.self)
        receiveWaiters.append((maxLength, promise, tag))
        if let timeout = receiveTimeout {
            eventLoop.scheduleTask(in: .nanoseconds(timeout.nanosecondsClamped)) { [self] in
                let before = receiveWaiters.count
                receiveWaiters.removeAll { $0.promise.futureResult === promise.futureResult }
                if receiveWaiters.count < before { promise.fail(SCTPError(.wouldBlock, "the receive timeout passed")) }
            }
        }
        return promise.futureResult
    }

    /// The next item of the inbox, cut to `maxLength` bytes (on the loop).
    func takeInbound(maxLength: Int) -> SCTPReceived?? {
        guard let first = inbox.first else { return nil }
        switch first {
        case .notification(let notification):
            inbox.removeFirst()
            return .some(.notification(notification))
        case .message(let message, let id, let offset):
            let remaining = message.payload.readableBytes - offset
            let count = min(remaining, maxLength)
            let data = message.payload.getSlice(at: message.payload.readerIndex + offset, length: count) ?? ByteBuffer()
            let finished = count == remaining
            if finished {
                inbox.removeFirst()
            } else {
                inbox[inbox.startIndex] = .message(message, id: id, offset: offset + count)
            }
            if phase != .closed, let driver { driver.consumed(bytes: count, on: id) }
            let info = SCTPReceiveInfo(stream: message.streamIdentifier, streamSequenceNumber: message.ssn.rawValue,
                                       isUnordered: message.isUnordered,
                                       payloadProtocolIdentifier: message.payloadProtocolIdentifier,
                                       tsn: message.firstTSN.rawValue, associationID: id)
            let next = finished && receiveNextInfo ? nextInfo() : nil
            return .some(.message(SCTPMessage(data: data, info: info, isEndOfRecord: finished && message.isComplete, nextInfo: next)))
        }
    }

    /// `SCTP_NXTINFO` for the first item of the inbox, if there is one (on the loop).
    private func nextInfo() -> SCTPNextInfo? {
        guard let next = inbox.first else { return nil }
        switch next {
        case .notification(let notification):
            return SCTPNextInfo(stream: 0, isUnordered: false, isComplete: true, isNotification: true,
                                payloadProtocolIdentifier: 0, length: 0, associationID: notification.associationID)
        case .message(let message, let id, let offset):
            return SCTPNextInfo(stream: message.streamIdentifier, isUnordered: message.isUnordered,
                                isComplete: message.isComplete, isNotification: false,
                                payloadProtocolIdentifier: message.payloadProtocolIdentifier,
                                length: message.payload.readableBytes - offset, associationID: id)
        }
    }

    /// Hands inbox items to waiting readers, and tells them about end of file (on the loop).
    func serveReceivers() {
        while let waiter = receiveWaiters.first {
            if let item = takeInbound(maxLength: waiter.maxLength) {
                receiveWaiters.removeFirst()
                waiter.promise.succeed(item)
            } else if style == .oneToOne && phase == .disconnected {
                receiveWaiters.removeFirst()
                waiter.promise.succeed(nil)
            } else {
                return
            }
        }
    }
}

// MARK: Events of the endpoint

extension SCTPSocket: EndpointEventSink {
    func endpointDriver(_ driver: EndpointDriver, deliver event: SCTPEvent) {
        guard phase != .closed else {
            // A socket closed with its association still shutting down: data is dropped but read.
            if case .message(let id, let message) = event { driver.consumed(bytes: message.payload.readableBytes, on: id) }
            return
        }
        // After the socket is up to date: a channel over it reads or accepts now.
        defer { activityHandler?() }
        if style == .oneToOne && phase == .listening {
            listenerDeliver(event, driver: driver)
            return
        }
        switch event {
        case .message(let id, let message):
            inbox.append(.message(message, id: id, offset: 0))
        case .communicationUp(let id, _, _):
            if style == .oneToOne {
                if id == association { phase = .connected }
            } else if backlog > 0 || associations.contains(id) {
                associations.insert(id)
            } else {
                try? driver.abort(id)
                return
            }
        case .cannotStart(let id, _):
            if style == .oneToOne, id == association {
                // A failed attempt leaves the socket as it was before connectx.
                association = nil
                phase = .bound
            }
            associations.remove(id)
            associationContexts[id] = nil
            partialRecords[id] = nil
        case .communicationLost(let id, let reason):
            if style == .oneToOne, id == association {
                phase = .disconnected
                if reason != .userAborted { lostError = SCTPError(.connectionReset, "association lost: \(reason)") }
            }
            associations.remove(id)
            if style == .oneToMany { associationContexts[id] = nil }
            partialRecords[id] = nil
        case .shutdownComplete(let id):
            if style == .oneToOne, id == association { phase = .disconnected }
            associations.remove(id)
            if style == .oneToMany { associationContexts[id] = nil }
            partialRecords[id] = nil
        default:
            break
        }
        if let notification = SCTPNotification(event, port: driver.peerPort(of: event.associationID ?? AssociationID(0)) ?? 0),
           subscriptions.contains(notification.type) {
            inbox.append(.notification(notification))
        }
        serveReceivers()
    }

    /// A listening one-to-one socket: every new association becomes a socket to accept.
    private func listenerDeliver(_ event: SCTPEvent, driver: EndpointDriver) {
        switch event {
        case .communicationUp(let id, _, _):
            guard acceptQueue.count < backlog else {
                try? driver.abort(id)
                return
            }
            let child = SCTPSocket(child: id, of: self)
            child.endpointDriver(driver, deliver: event)
            if let waiter = acceptWaiters.popFirst() {
                waiter.succeed(child)
            } else {
                acceptQueue.append(child)
            }
        case .message(let id, let message):
            // Not routed to a child: the association is being torn down; count it read.
            driver.consumed(bytes: message.payload.readableBytes, on: id)
        default:
            break
        }
    }
}
