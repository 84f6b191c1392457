import NIOCore
import SCTPWire

extension Association {
    // MARK: User data in

    /// Queues a user message (§6.1). Before the association is up it waits in the queue.
    func send(_ message: OutgoingMessage, now: SCTPInstant) throws(CoreError) {
        guard state.acceptsNewData else { throw .associationClosing }
        guard message.payload.readableBytes <= configuration.maxMessageSize else { throw .messageTooLarge }
        if let destination = message.destination, pathIndex(for: destination) == nil {
            throw .invalidAddresses("\(destination) is not an address of the peer")
        }
        var message = message
        if case .lifetime(let lifetime) = message.partialReliability { message.expiry = now + lifetime }
        do {
            try sender.queue.enqueue(message)
        } catch {
            switch error {
            case .emptyMessage: throw .emptyMessage
            case .invalidStream(let stream, _): throw .invalidStream(stream)
            case .messageTooLarge: throw .messageTooLarge
            case .queueFull: throw .sendBufferFull
            }
        }
        // Sent at the next poll, not here: the messages of a batch of calls (or of one turn
        // of the driver's loop) go out bundled in full packets instead of one small packet
        // each while the window has room.
        if state == .established { transmitOwed = max(transmitOwed ?? now, now) }
    }

    /// Bytes of user data waiting to be sent (not yet cut into chunks).
    var queuedBytes: Int { sender.queue.queuedBytes }

    /// Sets up both directions of data transfer once the peer's parameters are known.
    func startDataTransfer(peerInitialTSN: TSN) {
        receiver = DataReceiver(peerInitialTSN: peerInitialTSN, inboundStreamCount: inboundStreams,
                                configuration: .init(configuration))
        let removed = sender.configure(outboundStreams: outboundStreams, peerReceiverWindow: peerReceiverWindow, paths: paths)
        for message in removed {
            events.append(.sendFailed(id, FailedMessage(unsent: message)))
        }
    }

    // MARK: Control chunks waiting for the next packet

    func queueControl(_ chunk: Chunk) { pendingControl.append(chunk) }

    // MARK: Transmission

    /// Sends what is due, bundled (§6.10): queued control chunks, a SACK when one is due
    /// (or owed and a packet goes out anyway), retransmissions, then new DATA as the
    /// congestion window, the peer's receive window and Max.Burst allow. Control chunks, the
    /// SACK and FORWARD TSN among them, go ahead of every DATA chunk (§6.10: usrsctp aborts
    /// an association whose packet has a chunk of another type after DATA). DATA goes to
    /// the current primary path (a message sent with a destination, `SCTP_ADDR_OVER`, to
    /// that path while it is active); a SACK goes where the latest DATA came from (§6.4), in
    /// a packet of its own when that is another path.
    func transmitData(now: SCTPInstant) {
        transmitOwed = nil
        guard state != .closed, !paths.isEmpty else { return }
        let canSendData = state == .established || state == .shutdownPending || state == .shutdownReceived
        let pathIndex = primaryPath
        var storage: [PacketBuilder.Built] = []
        swap(&storage, &spareBuilderStorage)
        var builder = PacketBuilder(header: commonHeader, mtu: paths[pathIndex].mtu,
                                    destination: paths[pathIndex].address, checksum: checksumMode, packetStorage: consume storage)
        builder.ecnCapable = ecnNegotiated
        for chunk in pendingControl { builder.add(chunk) }
        let hasControl = !pendingControl.isEmpty
        pendingControl.removeAll()

        // In SHUTDOWN-ACK-SENT no SACK goes out (§9.2): all the peer's data was acknowledged
        // before its SHUTDOWN, and a SACK (a window update after the application read, say)
        // that crosses the peer's SHUTDOWN COMPLETE finds no association there and draws an
        // ABORT, which would end a finished shutdown as an abort. One owed is dropped.
        if state == .shutdownAckSent && (receiver.isSackOwed || receiver.sackDeadline != nil) {
            _ = receiver.takeSack()
        }

        // The SACK goes in before any DATA. One that is owed but not due yet rides along only
        // if the packet goes out anyway: it is prepared first (changing nothing) and kept only
        // then. Whether DATA may go is only guessed here (something waits to be sent).
        let replyPath = sackReplyPath ?? pathIndex
        let sackDue = receiver.isSackDue(at: now)
        let mayCarryData = canSendData
            && (sender.outstanding.hasChunksToRetransmit || forwardTSNPending || !sender.queue.isEmpty)
        var bundledSack: SackChunk? = nil
        if replyPath == pathIndex && (sackDue || (receiver.isSackOwed && (hasControl || mayCarryData))) {
            let sack = receiver.peekSack()
            let sackChunk = Chunk.sack(sack)
            builder.add(sackChunk)
            if let tsn = ecnEchoTSN {
                let echo = Chunk.ecne(ECNEChunk(lowestTSN: tsn))
                builder.add(echo)
            }
            bundledSack = sack
        }

        var sentData = false
        var sentNewData = false
        if canSendData {
            abandonMessages(now: now)
            if forwardTSNPending, let forward = sender.outstanding.forwardTSN() {
                let chunk = Chunk.forwardTSN(forward)
                builder.add(chunk)
                sentData = true
            }
            forwardTSNPending = false
            sentData = sendRetransmissions(&builder, now: now) || sentData
            sentNewData = sendNewData(&builder, path: pathIndex, now: now)
            sentData = sentNewData || sentData
            reportExpiredMessages()
        }
        // The last queued messages may have just expired (PR-SCTP) instead of leaving: a
        // pending shutdown must not wait for a SACK that no longer comes.
        let expiredLast = (state == .shutdownPending || state == .shutdownReceived) && sender.isIdle
        defer { if expiredLast { progressShutdown(now: now) } }
        let packetGoesOut = hasControl || sentData
        // Messages sent to a chosen peer address go in packets of their own to that path.
        let redirected = canSendData ? sendRedirectedData(after: pathIndex, now: now) : []
        if let sack = bundledSack {
            // Not due and alone in the packet: it waits for its timer or the next packet.
            if sackDue || packetGoesOut {
                receiver.sackSent(sack)
                spareBuilderStorage = builder.finish(into: &outbox)
            }
        } else {
            if replyPath != pathIndex && (sackDue || (receiver.isSackOwed && packetGoesOut)) {
                sendControl([.sack(receiver.takeSack())] + ecnEchoChunks, to: replyPath)
            }
            spareBuilderStorage = builder.finish(into: &outbox)
        }
        outbox.append(contentsOf: redirected)
        // New DATA measures the RTT: the path is not idle (§8.3) and needs no heartbeat.
        if sentNewData { paths[pathIndex].lastSent = now }
        if sentData || !redirected.isEmpty { armT3IfNeeded(now: now) }
    }

    /// The path the next new DATA chunk goes on: the one its message asked for
    /// (`OutgoingMessage.destination`) while that path is active, otherwise the primary.
    private var nextDataPath: Int {
        guard let destination = sender.queue.nextMessageDestination, let index = pathIndex(for: destination),
              paths[index].isUsable else { return primaryPath }
        return index
    }

    /// New DATA for the paths messages asked for, after the packet for `first` stopped at a
    /// message that goes elsewhere: a packet series per path switch, as long as each switch
    /// sends something (a path whose cwnd is full holds its messages and those queued after
    /// them until a SACK opens it), at most a few switches per call (the rest waits for the
    /// next SACK).
    private func sendRedirectedData(after first: Int, now: SCTPInstant) -> [Transmit] {
        var packets: [Transmit] = []
        var current = first
        for _ in 0..<(2 * paths.count + 2) where !sender.queue.isEmpty {
            let next = nextDataPath
            guard next != current else { break }
            var builder = PacketBuilder(header: commonHeader, mtu: paths[next].mtu,
                                        destination: paths[next].address, checksum: checksumMode)
            builder.ecnCapable = ecnNegotiated
            guard sendNewData(&builder, path: next, now: now) else { break }
            packets.append(contentsOf: builder.finish())
            paths[next].lastSent = now
            current = next
        }
        return packets
    }

    /// The ECN Echo that rides with every SACK while one is owed (RFC 9260 Appendix A).
    private var ecnEchoChunks: [Chunk] {
        ecnEchoTSN.map { [.ecne(ECNEChunk(lowestTSN: $0))] } ?? []
    }

    /// The path a SACK answers on (§6.4): the one the latest DATA came from, unless that
    /// address is unconfirmed (only heartbeats go to those, §5.4).
    private var sackReplyPath: Int? {
        guard let source = lastDataSource, let index = pathIndex(for: source), paths[index].state != .unconfirmed else {
            return nil
        }
        return index
    }

    /// Retransmissions (T3 or fast retransmit) go on the primary path, or an alternate one
    /// when the primary is failing (§6.4.1). cwnd limits them, except that the first chunk
    /// always goes (§6.3.3 E3: after a T3 expiry cwnd is one PMDCS and nothing is in flight),
    /// and that after a Fast Retransmit the earliest marked chunks go in one packet, as many as
    /// fit, whatever cwnd says (§7.2.4 step 3); the others follow as cwnd allows.
    private func sendRetransmissions(_ builder: inout PacketBuilder, now: SCTPInstant) -> Bool {
        guard sender.outstanding.hasChunksToRetransmit else { return false }
        let path = PathID(primaryPath)
        let fastRetransmitPacket = fastRetransmitPending
        fastRetransmitPending = false
        var sent = false
        var first = true
        /// The packet (index among the builder's finished packets) the first retransmission went in.
        var firstPacket = -1
        while sender.outstanding.hasChunksToRetransmit {
            let flight = sender.outstanding.bytesInFlight(on: path)
            let withinCwnd = sender.congestion[primaryPath].canSend(flightSize: flight)
            let fillingFastRetransmitPacket = fastRetransmitPacket && !first && builder.packets.count == firstPacket
            guard first || withinCwnd || fillingFastRetransmitPacket else { break }
            let fullPacket = DataSender.pmdcs(mtu: paths[primaryPath].mtu)
            // Beyond cwnd, only what still fits in the Fast Retransmit packet. Within cwnd a
            // chunk that does not fit the packet starts the next one: stopping there would let
            // new DATA overtake the retransmissions (§6.1 C wants them first), and SACKs for
            // that new DATA would then count misses against the retransmissions. The first
            // retransmission goes whatever the packet holds already (the bundled SACK, control
            // chunks), in a packet of its own when it does not fit: skipping it would leave
            // nothing in flight and T3 off.
            let maxSize = first || withinCwnd ? max(builder.remaining, fullPacket) : builder.remaining
            guard let chunk = sender.outstanding.nextRetransmission(maxSize: maxSize, path: path, now: now) else { break }
            builder.add(chunk, size: chunk.encodedSize)
            statistics.dataChunksRetransmitted += 1
            if first { firstPacket = builder.packets.count }
            sent = true
            first = false
        }
        return sent
    }

    /// New DATA on `path` within cwnd, the peer's window and Max.Burst (§6.1).
    private func sendNewData(_ builder: inout PacketBuilder, path index: Int, now: SCTPInstant) -> Bool {
        let path = PathID(index)
        let controller = sender.congestion[index]
        let pathPayload = DataSender.pmdcs(mtu: paths[index].mtu) - DataChunk.headerSize
        // SCTP_MAXSEG: fragments no larger than asked, never larger than the path allows.
        let maxPayload = configuration.maxSegmentSize.map { min(max($0, 4), pathPayload) } ?? pathPayload
        var flight = sender.outstanding.bytesInFlight(on: path)
        let window = controller.sendWindow(flightSize: flight, maxBurst: configuration.maxBurst)
        var sent = false
        // Nagle-like bundling (SCTP_NODELAY off): while data is unacknowledged, a chunk that
        // would not be full waits for the SACK, so that small messages go out bundled. Not
        // during shutdown, where everything queued must leave.
        let bundlesSmallMessages = !configuration.noDelay && state != .shutdownPending && state != .shutdownReceived
        if bundlesSmallMessages && sender.outstanding.bytesInFlight > 0 && sender.queue.queuedBytes < maxPayload { return false }
        while !sender.queue.isEmpty, sender.outstanding.canSendNewChunk, flight < window, nextDataPath == index {
            let peerWindow = sender.outstanding.peerReceiverWindow
            let messageRemaining = sender.queue.nextMessageRemainingBytes ?? maxPayload
            // A message that does not fit in what is left of the current packet is cut to
            // fill it (when that is a sizeable piece), rather than leaving the packet part
            // empty: bulk transfers then send full packets only (one packet per 1200-byte
            // message at an MTU of 1200, not a full one and a nearly empty one).
            var limit = maxPayload
            if !builder.isEmpty && messageRemaining > builder.remaining - DataChunk.headerSize {
                let room = (builder.remaining - DataChunk.headerSize) & ~3
                if room >= max(maxPayload / 4, 64) && room < maxPayload { limit = room }
            }
            let nextSize = min(messageRemaining, limit)
            // §6.1 A/B: respect the peer's window, but one chunk may probe a closed window
            // when nothing is in flight.
            if peerWindow < nextSize && sender.outstanding.bytesInFlight > 0 { break }
            guard var chunk = sender.queue.nextChunk(tsn: sender.outstanding.nextTSN, maxPayloadSize: limit,
                                                     now: peerSupportsForwardTSN ? now : nil) else { break }
            let policy: (expiry: SCTPInstant?, maxRetransmissions: Int?) = peerSupportsForwardTSN ? sender.queue.lastChunkPolicy : (nil, nil)
            // RFC 7053 §4.1: a chunk that fills the peer's window asks for an immediate SACK.
            // Nothing more can go until that SACK comes, and a receiver delaying it (it
            // waits for a second packet) would stall the association for its delayed-ack time.
            if let following = sender.queue.nextMessageRemainingBytes,
               peerWindow - chunk.payload.readableBytes < min(following, maxPayload) {
                chunk.dataFlags.insert(.immediate)
            }
            sender.outstanding.append(chunk, path: path, now: now, expiry: policy.expiry, maxRetransmissions: policy.maxRetransmissions,
                                      context: sender.queue.lastChunkContext)
            builder.add(chunk, size: chunk.encodedSize)
            statistics.dataChunksSent += 1
            flight += chunk.encodedSize
            sent = true
            sender.busy = true
        }
        if sent {
            sender.congestion[index].onTransmit(now: now)
            lastDataActivity = now
        }
        return sent
    }

    /// Starts T3-rtx on every path with data in flight and no timer running (§6.3.2 R1), and
    /// on the primary path while a FORWARD TSN waits to be acknowledged (RFC 3758 §3.5 C5:
    /// it is sent again when T3-rtx expires).
    private func armT3IfNeeded(now: SCTPInstant) {
        for index in paths.indices where paths[index].t3Deadline == nil {
            if sender.outstanding.bytesInFlight(on: PathID(index)) > 0 {
                paths[index].t3Deadline = now + paths[index].rto.rto
            }
        }
        if paths[primaryPath].t3Deadline == nil && sender.outstanding.advancedPeerAckPoint != nil {
            paths[primaryPath].t3Deadline = now + paths[primaryPath].rto.rto
        }
    }

    // MARK: PR-SCTP (RFC 3758)

    /// Gives up the messages whose chunks wait for retransmission past their lifetime or
    /// retransmission limit (only when the peer supports FORWARD TSN), reports them as not
    /// sent, and has a FORWARD TSN sent.
    private func abandonMessages(now: SCTPInstant) {
        guard peerSupportsForwardTSN, sender.outstanding.hasChunksToRetransmit else { return }
        let abandoned = sender.outstanding.abandonMessages(now: now)
        guard !abandoned.isEmpty else { return }
        for message in abandoned {
            var payload = message.payload
            if !message.lastChunkSent, let (rest, sentBytes) = sender.queue.abandonCurrentMessage() {
                // The unsent rest takes a TSN the FORWARD TSN must cover.
                sender.outstanding.appendAbandonedTail(streamIdentifier: message.streamIdentifier, ssn: message.ssn,
                                                       payloadProtocolIdentifier: message.payloadProtocolIdentifier,
                                                       isUnordered: message.isUnordered, now: now)
                // The unsent tail of the message goes with it. It starts after everything cut
                // into chunks, not after the chunks still outstanding: the first ones may have
                // been acknowledged and are not in `payload`.
                if var tail = rest.payload.getSlice(at: rest.payload.readerIndex + sentBytes, length: rest.payload.readableBytes - sentBytes) {
                    payload.writeBuffer(&tail)
                }
            }
            events.append(.sendFailed(id, FailedMessage(sent: message, payload: payload)))
        }
        forwardTSNPending = true
    }

    /// Reports the messages whose lifetime ended before they were sent.
    private func reportExpiredMessages() {
        guard !sender.queue.expired.isEmpty else { return }
        for message in sender.queue.takeExpired() {
            events.append(.sendFailed(id, FailedMessage(unsent: message)))
        }
    }

    /// Sends a SACK now (delayed-ack timer expiry).
    func sendSack(now: SCTPInstant) {
        transmitData(now: now)
    }

    // MARK: T3-rtx

    /// T3-rtx expired on a path (§6.3.3): back off its RTO, count an error, collapse its
    /// cwnd, mark its chunks for retransmission, and send them on an alternate path
    /// (§6.4.1). New data follows them there until the primary answers again (`markReachable`).
    func t3Expired(path index: Int, now: SCTPInstant) {
        paths[index].t3Deadline = nil
        statistics.retransmissionTimeouts += 1
        paths[index].rto.backOff()
        recordError(path: index, now: now)
        guard state != .closed else { return }
        sender.congestion[index].onRetransmissionTimeout()
        sender.outstanding.handleRetransmissionTimeout(on: PathID(index))
        if sender.outstanding.advancedPeerAckPoint != nil { forwardTSNPending = true }
        if index == primaryPath { primaryPath = alternatePath(to: index) }
        transmitData(now: now)
    }

    // MARK: SACK in

    /// SACK from the peer (§6.2.1): acknowledge, adjust congestion control, RTO and timers.
    /// `cumulativeOnly`: a SHUTDOWN's Cumulative TSN Ack, whose lack of Gap Ack Blocks is no renege (§9.2).
    func handleSack(_ sack: SackChunk, from source: IPAddress, now: SCTPInstant, cumulativeOnly: Bool = false) {
        guard state != .cookieWait && state != .cookieEchoed else { return }
        let outcome: SackOutcome
        do {
            outcome = try sender.outstanding.handleSack(sack, now: now, cumulativeOnly: cumulativeOnly)
        } catch {
            abort(causes: [.protocolViolation(ProtocolViolationCause(information: "SACK acknowledges TSNs never sent"))],
                  reason: .protocolViolation("SACK beyond the highest TSN sent"), now: now)
            return
        }
        if outcome.isStale { return }
        statistics.fastRetransmitMarks += outcome.fastRetransmitTSNs.count
        // §7.2.4 step 3: the next transmission sends a whole packet of them, regardless of cwnd.
        if !outcome.fastRetransmitTSNs.isEmpty { fastRetransmitPending = true }
        sender.lastPeerWindow = sack.advertisedReceiverWindowCredit
        for statistics in outcome.paths where statistics.path.rawValue < sender.congestion.count {
            let index = statistics.path.rawValue
            sender.congestion[index].onSack(statistics, of: outcome)
            if statistics.newlyAckedBytes > 0 {
                associationErrorCount = 0
                markReachable(path: index)
            }
            // §6.3.2 R2/R3: stop T3 when nothing is in flight, restart it when the earliest
            // outstanding chunk was acknowledged. R1: data in flight always has T3 running,
            // also chunks a renege put back in flight (§6.2.1 D iii) after T3 had stopped
            // because every chunk of the path was gap-acknowledged.
            if sender.outstanding.bytesInFlight(on: statistics.path) == 0 {
                paths[index].t3Deadline = nil
            } else if statistics.ackedEarliestOutstanding || paths[index].t3Deadline == nil {
                paths[index].t3Deadline = now + paths[index].rto.rto
            }
        }
        if let sample = outcome.rttSample, paths.indices.contains(sample.path.rawValue) {
            paths[sample.path.rawValue].rto.addSample(sample.rtt)
        }
        // RFC 3758 §3.5 C3: the peer has not yet skipped what was abandoned: tell it again.
        if let point = sender.outstanding.advancedPeerAckPoint, point > sack.cumulativeTSNAck {
            forwardTSNPending = true
        } else if sender.outstanding.advancedPeerAckPoint == nil {
            // Nothing given up waits to be skipped: T3-rtx kept for a FORWARD TSN stops, also
            // on a path that was primary when it was armed and has carried no DATA since (a
            // path without data in flight is not among the SACK's per-path results).
            for index in paths.indices where paths[index].t3Deadline != nil && sender.outstanding.bytesInFlight(on: PathID(index)) == 0 {
                paths[index].t3Deadline = nil
            }
        }
        if sender.isIdle && sender.busy {
            sender.busy = false
            events.append(.senderDry(id))
        }
        progressShutdown(now: now)
    }

    /// SHUTDOWN's Cumulative TSN Ack acknowledges like a SACK, except that its lack of Gap
    /// Ack Blocks is not a renege (§9.2): what was gap-acknowledged stays so.
    func processCumulativeAck(_ tsn: TSN, now: SCTPInstant) {
        guard tsn >= sender.outstanding.cumulativeTSNAck else { return }
        handleSack(SackChunk(cumulativeTSNAck: tsn, advertisedReceiverWindowCredit: sender.lastPeerWindow),
                   from: paths[primaryPath].address, now: now, cumulativeOnly: true)
    }

    // MARK: ECN (RFC 9260 Appendix A)

    /// A packet the driver reported CE-marked carried DATA from `lowestTSN` on: echo it
    /// with every SACK until a CWR covers it (the highest such TSN is kept, as in Linux).
    func congestionExperienced(lowestTSN: TSN) {
        statistics.congestionExperiencedPackets += 1
        if let pending = ecnEchoTSN, pending >= lowestTSN { return }
        ecnEchoTSN = lowestTSN
    }

    /// ECNE from the peer: cwnd of the path that carried the TSN is cut as on a loss, at
    /// most once per window of data (later echoes about TSNs sent before the cut are not
    /// answered again), without retransmitting anything; a CWR goes back either way, with
    /// the highest TSN sent at the cut, which covers the echoed one.
    func handleECNEcho(_ echo: ECNEChunk) {
        guard echo.lowestTSN <= sender.outstanding.highestSentTSN else { return }  // never sent
        statistics.ecnEchoesReceived += 1
        let path = sender.outstanding.chunk(tsn: echo.lowestTSN)?.path.rawValue ?? primaryPath
        guard sender.congestion.indices.contains(path) else { return }
        if sender.congestion[path].onECNEcho(lowestTSN: echo.lowestTSN, highestSentTSN: sender.outstanding.highestSentTSN) {
            statistics.ecnWindowReductions += 1
        }
        let point = max(sender.congestion[path].ecnReductionPoint ?? echo.lowestTSN, echo.lowestTSN)
        pendingControl.removeAll { if case .cwr = $0 { true } else { false } }
        queueControl(.cwr(CWRChunk(lowestTSN: point)))
    }

    /// CWR from the peer: the echo it answers (and any before it) need not be sent again.
    func handleCWR(_ cwr: CWRChunk) {
        if let pending = ecnEchoTSN, cwr.lowestTSN >= pending { ecnEchoTSN = nil }
    }

    // MARK: DATA in

    /// One DATA chunk (§6.2) from `source`; false when the association ended and the packet's
    /// other chunks must be dropped.
    func handleData(_ chunk: DataChunk, from source: IPAddress? = nil, now: SCTPInstant) -> Bool {
        guard state == .established || state == .shutdownPending || state == .shutdownSent else {
            // §6.2 / §9.2: no new data after SHUTDOWN was received.
            return true
        }
        if let source { lastDataSource = source }
        lastDataActivity = now
        statistics.dataChunksReceived += 1
        switch receiver.receive(chunk) {
        case .duplicate:
            statistics.duplicateDataChunksReceived += 1
        case .accepted, .dropped:
            break
        case .invalidStream:
            queueControl(.error(ErrorChunk(causes: [
                .invalidStreamIdentifier(InvalidStreamIdentifierCause(streamIdentifier: chunk.streamIdentifier)),
            ])))
        case .noUserData:
            abort(causes: [.noUserData(NoUserDataCause(tsn: chunk.tsn))],
                  reason: .protocolViolation("DATA without user data"), now: now)
            return false
        }
        deliverMessages()
        return true
    }

    /// Hands every deliverable message to the user as events.
    func deliverMessages() {
        while let output = receiver.poll() {
            switch output {
            case .message(let message):
                events.append(.message(id, message))
            case .partialDeliveryAborted(let abort):
                events.append(.partialDeliveryAborted(id, stream: abort.streamIdentifier))
            }
        }
    }

    /// FORWARD TSN (RFC 3758 §3.6).
    func handleForwardTSN(_ chunk: ForwardTSNChunk, now: SCTPInstant) {
        receiver.receive(chunk)
        deliverMessages()
    }

    /// The application read `bytes` of delivered data: the receive window reopens.
    func consumed(bytes: Int, now: SCTPInstant) {
        receiver.consumed(bytes: bytes)
        // After the peer's SHUTDOWN all its data is here and acknowledged (§9.2): a window
        // update tells it nothing, and one crossing its SHUTDOWN COMPLETE finds no association
        // there and draws an ABORT (usrsctp's, or ours) that can end the shutdown as an abort.
        guard state != .shutdownReceived && state != .shutdownAckSent else { return }
        if receiver.isSackDue(at: now) { transmitData(now: now) }
    }
}
