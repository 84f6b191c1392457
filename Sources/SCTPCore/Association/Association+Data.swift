import NIOCore
import SCTPWire

extension Association {
    // MARK: User data in

    /// Queues a user message (§6.1). Before the association is up it waits in the queue.
    func send(_ message: consuming OutgoingMessage, now: SCTPInstant) throws(CoreError) {
        guard state.acceptsNewData else { throw .associationClosing }
        guard message.payload.readableBytes <= configuration.maxMessageSize else { throw .messageTooLarge }
        if let destination = message.destination, pathIndex(for: destination) == nil {
            throw .invalidAddresses("\(destination) is not an address of the peer")
        }
        do {
            // Moved into the queue (`consuming`, here and in `SCTPEndpoint.send`): no copy
            // unless the caller keeps its own.
            if case .lifetime(let lifetime) = message.partialReliability { message.expiry = now + lifetime }
            try tx.queue.enqueue(message)
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
    var queuedBytes: Int { dataSlot.pointer?.pointee.tx.queue.queuedBytes ?? 0 }

    /// Sets up both directions of data transfer once the peer's parameters are known: fresh
    /// congestion control on every path (§7.2.1: ssthresh from the peer's a_rwnd), and the
    /// receiver and transmission queue (now if messages were queued before, otherwise when
    /// first used: `makeDataState`).
    func startDataTransfer(peerInitialTSN: TSN) {
        dataTransferStart = peerInitialTSN
        for index in paths.indices { paths[index].resetCongestion(peerReceiverWindow: peerReceiverWindow) }
        reconfig = configuration.streamReconfiguration && peerSupportsReconfiguration
            ? ReconfigurationState(localInitialTSN: nextTSN, peerInitialTSN: peerInitialTSN,
                                   permissions: configuration.streamResetPermissions)
            : nil
        startAddressReconfiguration(peerInitialTSN: peerInitialTSN)
        // An option changed the configuration before data transfer started (in COOKIE-WAIT):
        // the receiver starts with the configuration of now, as it does when the state exists.
        if sharedConfiguration.dataStateBasis != nil && !hasDataState { _ = makeDataState() }
        guard let state = dataSlot.pointer else { return }
        state.pointee.receiver = DataReceiver(peerInitialTSN: peerInitialTSN, inboundStreamCount: inboundStreams,
                                              configuration: .init(configuration))
        let removed = state.pointee.tx.configure(outboundStreams: outboundStreams, peerReceiverWindow: peerReceiverWindow)
        for message in removed {
            events.append(.sendFailed(id, FailedMessage(unsent: message)))
        }
    }

    // MARK: Control chunks waiting for the next packet

    func queueControl(_ chunk: Chunk) { pendingControl.append(chunk) }

    // MARK: Transmission

    /// Sends what is due, bundled (§6.10): queued control chunks, a SACK when one is due
    /// (or owed and a packet goes out anyway), then what the transmission queue puts in:
    /// FORWARD TSN, retransmissions and new DATA as the congestion window, the peer's
    /// receive window and Max.Burst allow. Control chunks, the SACK and FORWARD TSN among
    /// them, go ahead of every DATA chunk (§6.10: usrsctp aborts an association whose packet
    /// has a chunk of another type after DATA). DATA goes to the current primary path (a
    /// message sent with a destination, `SCTP_ADDR_OVER`, to that path while it is active);
    /// a SACK goes where the latest DATA came from (§6.4), in a packet of its own when that
    /// is another path.
    func transmitData(now: SCTPInstant) {
        transmitOwed = nil
        guard state != .closed, !paths.isEmpty else { return }
        if reconfigurationSlot.mayHaveWork, let reconfig {
            if reconfig.pendingPeerAssociationReset != nil { completePeerAssociationResetIfReady(now: now) }
            if !reconfig.pending.isEmpty && reconfig.inFlight.isEmpty { sendPendingReconfiguration(now: now) }
        }
        // One read of the boxed state (each `addressReconfig?.` read copies it).
        if let reconfig = addressReconfig, reconfig.inFlight == nil, !reconfig.pending.isEmpty {
            sendPendingAddressReconfiguration(now: now)
        }
        // Nothing to send at all (no control chunk, and no data state: nothing was ever queued,
        // sent or received): no packet builder is made (the client's COOKIE ACK, for one).
        if pendingControl.isEmpty && dataSlot.pointer == nil {
            if state == .shutdownPending || state == .shutdownReceived { progressShutdown(now: now) }
            return
        }
        let canSendData = state == .established || state == .shutdownPending || state == .shutdownReceived
        let pathIndex = primaryPath
        var storage: [PacketBuilder.Built] = []
        swap(&storage, &spareBuilderStorage)
        var builder = makePacketBuilder(mtu: paths[pathIndex].mtu, destination: paths[pathIndex].address,
                                        packetStorage: consume storage)
        for chunk in pendingControl { builder.add(chunk) }
        let hasControl = !pendingControl.isEmpty
        pendingControl.removeAll()
        // Without a data transfer state nothing was ever queued, sent or received: no SACK is
        // owed and no DATA waits, so the packet holds the control chunks only (and the state
        // is not made for that).
        guard let data = dataSlot.pointer else {
            spareBuilderStorage = finishPackets(&builder)
            if state == .shutdownPending || state == .shutdownReceived { progressShutdown(now: now) }
            return
        }

        // In SHUTDOWN-ACK-SENT no SACK goes out (§9.2): all the peer's data was acknowledged
        // before its SHUTDOWN, and a SACK (a window update after the application read, say)
        // that crosses the peer's SHUTDOWN COMPLETE finds no association there and draws an
        // ABORT, which would end a finished shutdown as an abort. One owed is dropped.
        if state == .shutdownAckSent && (data.pointee.receiver.isSackOwed || data.pointee.receiver.sackDeadline != nil) {
            _ = data.pointee.receiver.takeSack()
        }

        // The SACK goes in before any DATA. One that is owed but not due yet rides along only
        // if the packet goes out anyway: it is prepared first (changing nothing) and kept only
        // then. Whether DATA may go is only guessed here (something waits to be sent).
        let replyPath = sackReplyPath ?? pathIndex
        let sackDue = data.pointee.receiver.isSackDue(at: now)
        let mayCarryData = canSendData && data.pointee.tx.hasDataToSend
        var bundledSack: SackChunk? = nil
        if replyPath == pathIndex && (sackDue || (data.pointee.receiver.isSackOwed && (hasControl || mayCarryData))) {
            let sack = data.pointee.peekSack()
            builder.add(acknowledgement(sack))
            if let tsn = ecnEchoTSN { builder.add(.ecne(ECNEChunk(lowestTSN: tsn))) }
            bundledSack = sack
        }

        var filled = TransmissionQueue.Filled()
        var redirected: [Transmit] = []
        if canSendData {
            let context = transmissionContext
            filled = data.pointee.tx.fill(&builder, path: pathIndex, paths: &paths, now: now, context: context)
            // Messages sent to a chosen peer address go in packets of their own to that path.
            let (packets, newChunks) = data.pointee.tx.fillRedirected(after: pathIndex, paths: &paths, now: now,
                                                                      context: context) { mtu, destination in
                makePacketBuilder(mtu: mtu, destination: destination)
            }
            redirected = packets
            data.pointee.statistics.dataChunksSent += filled.newChunks + newChunks
            data.pointee.statistics.dataChunksRetransmitted += filled.retransmittedChunks
            if filled.sentNewData || newChunks > 0 { lastDataActivity = now }
            reportFailedMessages()
        }
        // The last queued messages may have just expired (PR-SCTP) instead of leaving: a
        // pending shutdown must not wait for a SACK that no longer comes.
        let expiredLast = (state == .shutdownPending || state == .shutdownReceived) && data.pointee.tx.isIdle
        defer { if expiredLast { progressShutdown(now: now) } }
        let packetGoesOut = hasControl || filled.sentData
        if let sack = bundledSack {
            // Not due and alone in the packet: it waits for its timer or the next packet.
            if sackDue || packetGoesOut {
                data.pointee.receiver.sackSent(sack)
                spareBuilderStorage = finishPackets(&builder)
            }
        } else {
            if replyPath != pathIndex && (sackDue || (data.pointee.receiver.isSackOwed && packetGoesOut)) {
                sendControl([acknowledgement(data.pointee.receiver.takeSack())] + ecnEchoChunks, to: replyPath)
            }
            spareBuilderStorage = finishPackets(&builder)
        }
        outbox.append(contentsOf: redirected)
        // New DATA measures the RTT: the path is not idle (§8.3) and needs no heartbeat.
        if filled.sentNewData { paths[pathIndex].lastSent = now }
        if filled.sentData || !redirected.isEmpty { data.pointee.tx.armT3IfNeeded(paths: &paths, primaryPath: primaryPath, now: now) }
        // The tail loss probe restarts with every DATA sent on the path.
        if filled.sentData {
            data.pointee.tx.armProbe(path: pathIndex, paths: &paths, now: now, minimum: configuration.tailLossProbeMinimum)
        }
    }

    /// A packet builder for DATA (and what bundles with it) to a path.
    @inline(__always)
    private func makePacketBuilder(mtu: Int, destination: IPAddress,
                                   packetStorage: consuming [PacketBuilder.Built] = []) -> PacketBuilder {
        var builder = PacketBuilder(header: commonHeader, mtu: mtu, destination: destination, checksum: checksumMode,
                                    packetStorage: packetStorage)
        builder.ecnCapable = ecnNegotiated
        builder.pool = packetBuffers
        if pinnedSourceAddresses != nil { builder.source = sourceAddress(toward: destination) }
        if var authenticator = packetAuthenticator() {
            // Packets of DATA are signed: the builder may finish inside the transmission
            // queue (`fillRedirected`), which has no MAC to supply.
            if authenticator.signsData && authenticator.mac == nil { authenticator.mac = senderMAC() }
            builder.authenticator = authenticator
        }
        return builder
    }

    /// The association's options as the transmission queue applies them now. Nagle-like
    /// bundling (SCTP_NODELAY off) holds small messages while data is unacknowledged, but not
    /// during shutdown, where everything queued must leave.
    private var transmissionContext: TransmissionQueue.Context {
        TransmissionQueue.Context(maxBurst: configuration.maxBurst, maxSegmentSize: configuration.maxSegmentSize,
                                  bundlesSmallMessages: !configuration.noDelay && state != .shutdownPending
                                      && state != .shutdownReceived)
    }

    /// Reports the messages the transmission queue gave up (PR-SCTP) or found expired.
    private func reportFailedMessages() {
        guard !tx.failures.isEmpty else { return }
        for failed in tx.takeFailures() { events.append(.sendFailed(id, failed)) }
    }

    /// The ECN Echo that rides with every SACK while one is owed (RFC 9260 Appendix A).
    private var ecnEchoChunks: [Chunk] {
        ecnEchoTSN.map { [.ecne(ECNEChunk(lowestTSN: $0))] } ?? []
    }

    /// The path a SACK answers on (§6.4): the one the latest DATA came from, unless that
    /// address is unconfirmed (only heartbeats go to those, §5.4).
    private var sackReplyPath: Int? {
        guard let source = dataSlot.pointer?.pointee.lastDataSource, let index = pathIndex(for: source),
              paths[index].state != .unconfirmed else {
            return nil
        }
        return index
    }

    /// Sends a SACK now (delayed-ack timer expiry).
    func sendSack(now: SCTPInstant) {
        transmitData(now: now)
    }

    // MARK: Tail loss probe

    /// The tail loss probe timer of a path expired (`SCTPConfiguration.tailLossProbeMinimum`,
    /// a deliberate addition to RFC 9260, docs/DECISIONS.md): no SACK acknowledged new data
    /// for max(2 × SRTT, the minimum) while DATA is in flight there. The highest TSN in flight
    /// on the path goes again, alone, with the I bit (RFC 7053): the peer SACKs it at once (a
    /// duplicate, or the last chunk of the window), which tells us what arrived. A second
    /// probe follows after twice the time if no SACK acknowledged new data meanwhile (the
    /// probe or its answer was lost); then only T3-rtx. It repairs
    /// the two stalls seen under loss: the last SACKs of a window lost (the sender, its cwnd
    /// full, would wait for T3-rtx: at least RTO.Min, 1 s), and the last packet of a window
    /// reaching the peer alone, its SACK delayed (200 ms) because the packet after it was lost.
    /// cwnd, the RTO, the error counts and T3-rtx are left alone; T3-rtx still recovers if
    /// the probe or its answer is lost too.
    func tailLossProbe(path index: Int, now: SCTPInstant) {
        paths[index].probeDeadline = nil
        guard state != .closed, let entry = tx.outstanding.probeEntry(on: PathID(index), now: now) else { return }
        paths[index].tailProbesSent += 1
        dataStatistics.tailLossProbes += 1
        dataStatistics.dataChunksRetransmitted += 1
        var chunk = entry.chunk
        chunk.dataFlags.insert(.immediate)
        var builder = makePacketBuilder(mtu: paths[index].mtu, destination: paths[index].address)
        if entry.isInterleaved {
            builder.addInterleaved(chunk, mid: entry.mid, fsn: entry.fsn, size: entry.wireSize)
        } else {
            builder.add(chunk, size: chunk.encodedSize)
        }
        finishPackets(&builder)
        paths[index].congestion.onTransmit(now: now)
        // The next probe, if this one or its answer is lost too, after twice the time.
        tx.armProbe(path: index, paths: &paths, now: now, minimum: configuration.tailLossProbeMinimum)
    }

    // MARK: T3-rtx

    /// T3-rtx expired on a path (§6.3.3): back off its RTO, count an error, collapse its
    /// cwnd, mark its chunks for retransmission, and send them on an alternate path
    /// (§6.4.1). New data follows them there until the primary answers again (`markReachable`).
    func t3Expired(path index: Int, now: SCTPInstant) {
        paths[index].t3Deadline = nil
        paths[index].probeDeadline = nil
        paths[index].tailProbesSent = 0  // the retransmission T3 sends may be probed again
        dataStatistics.retransmissionTimeouts += 1
        paths[index].rto.backOff()
        recordError(path: index, now: now)
        guard state != .closed else { return }
        paths[index].congestion.onRetransmissionTimeout()
        pathMTURetransmissionTimeout(path: index, now: now)  // black hole detection (RFC 8899 §4.3)
        tx.outstanding.handleRetransmissionTimeout(on: PathID(index))
        if tx.outstanding.advancedPeerAckPoint != nil { tx.forwardTSNPending = true }
        if index == primaryPath { primaryPath = alternatePath(to: index) }
        transmitData(now: now)
    }

    // MARK: SACK in

    /// SACK from the peer (§6.2.1): acknowledge, adjust congestion control, RTO and timers.
    /// `cumulativeOnly`: a SHUTDOWN's Cumulative TSN Ack, whose lack of Gap Ack Blocks is no renege (§9.2).
    func handleSack(_ sack: SackChunk, from source: IPAddress, now: SCTPInstant, cumulativeOnly: Bool = false,
                    nonRenegableFrom: Int = .max) {
        guard state != .cookieWait && state != .cookieEchoed else { return }
        let outcome: SackOutcome
        let releasedBefore = tx.outstanding.nonRenegablyAckedChunks
        defer { dataStatistics.nonRenegablyAckedChunks += tx.outstanding.nonRenegablyAckedChunks - releasedBefore }
        do {
            outcome = try tx.outstanding.handleSack(sack, now: now, cumulativeOnly: cumulativeOnly,
                                                    nonRenegableFrom: nonRenegableFrom)
        } catch {
            abort(causes: [.protocolViolation(ProtocolViolationCause(information: "SACK acknowledges TSNs never sent"))],
                  reason: .protocolViolation("SACK beyond the highest TSN sent"), now: now)
            return
        }
        if outcome.isStale { return }
        dataStatistics.fastRetransmitMarks += outcome.fastRetransmitTSNs.count
        // §7.2.4 step 3: the next transmission sends a whole packet of them, regardless of cwnd.
        if !outcome.fastRetransmitTSNs.isEmpty { tx.fastRetransmitPending = true }
        tx.lastPeerWindow = sack.advertisedReceiverWindowCredit
        for statistics in outcome.paths where statistics.path.rawValue < paths.count {
            let index = statistics.path.rawValue
            paths[index].congestion.onSack(statistics, of: outcome)
            if statistics.newlyAckedBytes > 0 {
                associationErrorCount = 0
                markReachable(path: index)
            }
        }
        // T3 restarts with the RTO from before this SACK's RTT sample, as it always has.
        tx.updateTimers(after: outcome, cumulativeTSNAck: sack.cumulativeTSNAck, paths: &paths, now: now)
        if let sample = outcome.rttSample, paths.indices.contains(sample.path.rawValue) {
            paths[sample.path.rawValue].rto.addSample(sample.rtt)
        }
        // The tail loss probe: restarted (and allowed again) by a SACK acknowledging new data
        // on the path, off once nothing is in flight there.
        for statistics in outcome.paths where statistics.path.rawValue < paths.count {
            let index = statistics.path.rawValue
            if statistics.newlyAckedBytes > 0 {
                paths[index].tailProbesSent = 0
                tx.armProbe(path: index, paths: &paths, now: now, minimum: configuration.tailLossProbeMinimum)
            } else if tx.outstanding.bytesInFlight(on: statistics.path) == 0 {
                paths[index].probeDeadline = nil
            }
        }
        if tx.isIdle && tx.busy {
            tx.busy = false
            events.append(.senderDry(id))
        }
        progressShutdown(now: now)
    }

    /// SHUTDOWN's Cumulative TSN Ack acknowledges like a SACK, except that its lack of Gap
    /// Ack Blocks is not a renege (§9.2): what was gap-acknowledged stays so.
    func processCumulativeAck(_ tsn: TSN, now: SCTPInstant) {
        guard tsn >= tx.outstanding.cumulativeTSNAck else { return }
        handleSack(SackChunk(cumulativeTSNAck: tsn, advertisedReceiverWindowCredit: tx.lastPeerWindow),
                   from: paths[primaryPath].address, now: now, cumulativeOnly: true)
    }

    // MARK: ECN (RFC 9260 Appendix A)

    /// A packet the driver reported CE-marked carried DATA from `lowestTSN` on: echo it
    /// with every SACK until a CWR covers it (the highest such TSN is kept, as in Linux).
    func congestionExperienced(lowestTSN: TSN) {
        dataStatistics.congestionExperiencedPackets += 1
        if let pending = ecnEchoTSN, pending >= lowestTSN { return }
        ecnEchoTSN = lowestTSN
    }

    /// ECNE from the peer: cwnd of the path that carried the TSN is cut as on a loss, at
    /// most once per window of data (later echoes about TSNs sent before the cut are not
    /// answered again), without retransmitting anything; a CWR goes back either way, with
    /// the highest TSN sent at the cut, which covers the echoed one.
    func handleECNEcho(_ echo: ECNEChunk) {
        guard echo.lowestTSN <= tx.outstanding.highestSentTSN else { return }  // never sent
        dataStatistics.ecnEchoesReceived += 1
        let path = tx.outstanding.chunk(tsn: echo.lowestTSN)?.path.rawValue ?? primaryPath
        guard paths.indices.contains(path) else { return }
        if paths[path].congestion.onECNEcho(lowestTSN: echo.lowestTSN, highestSentTSN: tx.outstanding.highestSentTSN) {
            dataStatistics.ecnWindowReductions += 1
        }
        let point = max(paths[path].congestion.ecnReductionPoint ?? echo.lowestTSN, echo.lowestTSN)
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
        // §6.2 / §9.2: no new data after SHUTDOWN was received.
        guard let data = dataArrives(from: source, now: now) else { return true }
        return conclude(data.pointee.receiver.receive(chunk), streamIdentifier: chunk.streamIdentifier, tsn: chunk.tsn,
                        kind: "DATA", data: data, now: now)
    }

    /// Notes a DATA or I-DATA chunk's arrival; `nil` in the states that take no new data,
    /// else the data transfer state (taken once per chunk).
    @inline(__always)
    func dataArrives(from source: IPAddress?, now: SCTPInstant) -> UnsafeMutablePointer<DataTransferState>? {
        guard state == .established || state == .shutdownPending || state == .shutdownSent else { return nil }
        lastDataActivity = now
        let data = dataState
        if let source { data.pointee.lastDataSource = source }
        data.pointee.statistics.dataChunksReceived += 1
        return data
    }

    /// Acts on the receiver's verdict on a DATA or I-DATA chunk (`kind`) and delivers what
    /// became deliverable; false when the association ended (no user data: ABORT).
    @inline(__always)
    func conclude(_ outcome: DataReceiver.Outcome, streamIdentifier: UInt16, tsn: TSN, kind: String,
                  data: UnsafeMutablePointer<DataTransferState>, now: SCTPInstant) -> Bool {
        switch outcome {
        case .duplicate:
            data.pointee.statistics.duplicateDataChunksReceived += 1
        case .accepted, .dropped:
            break
        case .invalidStream:
            queueControl(.error(ErrorChunk(causes: [
                .invalidStreamIdentifier(InvalidStreamIdentifierCause(streamIdentifier: streamIdentifier)),
            ])))
        case .noUserData:
            abort(causes: [.noUserData(NoUserDataCause(tsn: tsn))],
                  reason: .protocolViolation("\(kind) without user data"), now: now)
            return false
        }
        deliverMessages(from: data)
        return true
    }

    /// Hands every deliverable message to the user as events.
    func deliverMessages() { deliverMessages(from: dataState) }

    @inline(__always)
    private func deliverMessages(from data: UnsafeMutablePointer<DataTransferState>) {
        while let output = data.pointee.receiver.poll() {
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
