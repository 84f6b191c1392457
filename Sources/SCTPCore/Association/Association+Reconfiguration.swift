import SCTPWire

/// Stream reconfiguration (RFC 6525): the requests the user makes (reset streams either
/// way, reset the association's TSNs and SSNs, add streams), sent one RE-CONFIG chunk at a
/// time on their own retransmission timer, and the peer's requests, answered by sequence
/// number (a retransmitted request gets the same answer again).
extension Association {
    /// The most streams one reset request lists (its parameter stays well inside a packet).
    static let maxStreamsPerReset = 256
    /// How far an SSN/TSN reset we answer moves the peer's TSNs (RFC 6525 §5.2.4 G1).
    static let associationResetTSNJump: UInt32 = 1 << 20

    // MARK: User requests

    /// Resets outgoing and/or incoming streams (`SCTP_RESET_STREAMS`); empty `streams` means
    /// all. Outgoing: the streams start no new message until the peer answers (queued
    /// messages wait, then go with SSN 0); the request itself waits until no message of
    /// those streams is half sent. Incoming: the peer is asked to reset its outgoing streams.
    func requestStreamReset(_ streams: [UInt16], direction: StreamResetDirection, now: SCTPInstant) throws(CoreError) {
        try checkReconfigurationAllowed()
        guard !direction.isEmpty else { throw .invalidReconfiguration("no direction given") }
        let list = Array(Set(streams)).sorted()
        guard list.count <= Self.maxStreamsPerReset else {
            throw .invalidReconfiguration("at most \(Self.maxStreamsPerReset) streams per reset")
        }
        if direction.contains(.outgoing), let bad = list.first(where: { $0 >= outboundStreams }) {
            throw .invalidReconfiguration("stream \(bad) is not an outbound stream (\(outboundStreams))")
        }
        if direction.contains(.incoming), let bad = list.first(where: { $0 >= inboundStreams }) {
            throw .invalidReconfiguration("stream \(bad) is not an inbound stream (\(inboundStreams))")
        }
        var requests: [ReconfigurationState.Request] = []
        if direction.contains(.outgoing) { requests.append(.outgoingReset(streams: list, respondingTo: nil)) }
        if direction.contains(.incoming) { requests.append(.incomingReset(streams: list)) }
        try enqueueReconfiguration(requests, now: now)
    }

    /// Resets the association's TSNs and every stream's SSN both ways (`SCTP_RESET_ASSOC`,
    /// SSN/TSN Reset). New messages wait; the request goes once everything sent is
    /// acknowledged.
    func requestAssociationReset(now: SCTPInstant) throws(CoreError) {
        try checkReconfigurationAllowed()
        try enqueueReconfiguration([.associationReset], now: now)
    }

    /// Adds outgoing streams and/or asks the peer to add incoming ones (`SCTP_ADD_STREAMS`).
    func requestAddStreams(outgoing: UInt16, incoming: UInt16, now: SCTPInstant) throws(CoreError) {
        try checkReconfigurationAllowed()
        guard outgoing > 0 || incoming > 0 else { throw .invalidReconfiguration("no streams to add") }
        guard Int(outboundStreams) + Int(outgoing) <= Int(UInt16.max) else {
            throw .invalidReconfiguration("more than 65535 outbound streams")
        }
        guard Int(inboundStreams) + Int(incoming) <= Int(UInt16.max) else {
            throw .invalidReconfiguration("more than 65535 inbound streams")
        }
        var requests: [ReconfigurationState.Request] = []
        if outgoing > 0 { requests.append(.addOutgoing(outgoing)) }
        if incoming > 0 { requests.append(.addIncoming(incoming)) }
        try enqueueReconfiguration(requests, now: now)
    }

    /// `SCTP_ENABLE_STREAM_RESET` on a live association.
    func setStreamResetPermissions(_ permissions: StreamResetPermissions) {
        reconfig?.permissions = permissions
    }

    private func checkReconfigurationAllowed() throws(CoreError) {
        guard reconfig != nil else { throw .reconfigurationNotSupported }
        guard state == .established else { throw .invalidReconfiguration("the association is not established") }
    }

    private func enqueueReconfiguration(_ requests: [ReconfigurationState.Request], now: SCTPInstant) throws(CoreError) {
        guard var state = reconfig else { throw .reconfigurationNotSupported }
        guard state.pending.count + requests.count <= ReconfigurationState.maxPendingRequests else {
            throw .reconfigurationBusy
        }
        state.pending += requests
        reconfig = state
        for request in requests { pauseStreams(for: request) }
        // Sent with the next packet (the user's calls of one turn bundle).
        transmitOwed = max(transmitOwed ?? now, now)
    }

    /// Pauses the streams a request of ours resets: what is queued on them now goes first,
    /// what is queued later waits for the answer.
    private func pauseStreams(for request: ReconfigurationState.Request) {
        switch request {
        case .outgoingReset(let streams, _): tx.queue.pauseStreams(streams)
        case .associationReset: tx.queue.pauseStreams([])
        case .incomingReset, .addOutgoing, .addIncoming: break
        }
    }

    /// Releases the streams no request of ours (queued or in flight) holds back any more.
    private func releaseResetStreams() {
        tx.queue.releaseStreams(keeping: reconfig?.streamsHeldBack)
    }

    // MARK: Sending requests

    /// Sends the next queued request(s) in one RE-CONFIG chunk when none is in flight and
    /// the send side allows: an outgoing reset waits until no message of its streams is half
    /// sent, an SSN/TSN reset until nothing is in flight. Two requests share a chunk when
    /// RFC 6525 §3.1 allows (outgoing + incoming reset, add outgoing + add incoming).
    func sendPendingReconfiguration(now: SCTPInstant) {
        guard state == .established else {
            if state == .shutdownPending || state == .shutdownReceived { abandonPendingReconfiguration() }
            return
        }
        guard var rc = reconfig, rc.inFlight.isEmpty, let first = rc.pending.first else { return }
        guard isReadyToSend(first) else { return }
        var batch = [first]
        if rc.pending.count > 1 {
            let second = rc.pending[1]
            switch (first, second) {
            case (.outgoingReset, .incomingReset), (.addOutgoing, .addIncoming):
                if isReadyToSend(second) { batch.append(second) }
            default:
                break
            }
        }
        rc.pending.removeFirst(batch.count)
        var parameters: [Parameter] = []
        for request in batch {
            let sequence = rc.nextSequence
            rc.nextSequence &+= 1
            rc.inFlight.append(.init(sequence: sequence, request: request))
            switch request {
            case .outgoingReset(let streams, let respondingTo):
                let lastAssigned = tx.outstanding.nextTSN.previous
                rc.inFlight[rc.inFlight.count - 1].lastAssignedTSN = lastAssigned
                parameters.append(.outgoingSSNResetRequest(OutgoingSSNResetRequestParameter(
                    requestSequenceNumber: sequence, responseSequenceNumber: respondingTo ?? (rc.peerNextSequence &- 1),
                    sendersLastAssignedTSN: lastAssigned, streams: streams)))
            case .incomingReset(let streams):
                rc.inviteReset(sequence)
                parameters.append(.incomingSSNResetRequest(IncomingSSNResetRequestParameter(
                    requestSequenceNumber: sequence, streams: streams)))
            case .associationReset:
                // The peer's new DATA may overtake its answer: held until the answer sorts it.
                receiver.holdForAssociationReset()
                parameters.append(.ssnTSNResetRequest(SSNTSNResetRequestParameter(requestSequenceNumber: sequence)))
            case .addOutgoing(let count):
                parameters.append(.addOutgoingStreams(AddOutgoingStreamsParameter(requestSequenceNumber: sequence, newStreams: count)))
            case .addIncoming(let count):
                rc.invitedStreams += Int(count)
                parameters.append(.addIncomingStreams(AddIncomingStreamsParameter(requestSequenceNumber: sequence, newStreams: count)))
            }
        }
        let chunk = ReconfigChunk(parameters: ParameterList(parameters))
        rc.inFlightChunk = chunk
        rc.inFlightPath = primaryPath
        reconfig = rc
        queueControl(.reconfig(chunk))
        timers[.reconfiguration] = now + paths[primaryPath].rto.rto
    }

    /// The association shuts down: requests not sent yet are given up (reported as failed)
    /// and the streams they held back go on, so that the queued data can drain.
    private func abandonPendingReconfiguration() {
        guard let pending = reconfig?.pending, !pending.isEmpty else { return }
        reconfig?.pending = []
        for request in pending { reportFailure(of: request, refusal: 0x0008) }
        releaseResetStreams()
    }

    /// The association ends: every request of ours not answered yet (in flight or queued)
    /// is reported as failed.
    func abandonReconfiguration() {
        guard let rc = reconfig, rc.isBusy else { return }
        reconfig?.inFlight = []
        reconfig?.pending = []
        reconfig?.inFlightChunk = nil
        for request in rc.inFlight.map(\.request) + rc.pending { reportFailure(of: request, refusal: 0x0008) }
    }

    /// Reports a request of ours that did not succeed (`refusal`: the denied or failed flag).
    private func reportFailure(of request: ReconfigurationState.Request, refusal: UInt16) {
        switch request {
        case .outgoingReset(let streams, _):
            events.append(.streamReset(id, StreamResetEvent(flags: [.outgoing, StreamResetEvent.Flags(rawValue: refusal)],
                                                            streams: streams)))
        case .incomingReset(let streams):
            events.append(.streamReset(id, StreamResetEvent(flags: [.incoming, StreamResetEvent.Flags(rawValue: refusal)],
                                                            streams: streams)))
        case .associationReset:
            events.append(.associationReset(id, AssociationResetEvent(
                flags: AssociationResetEvent.Flags(rawValue: refusal),
                localTSN: tx.outstanding.nextTSN, remoteTSN: receiver.tracker.cumulativeTSN.next)))
        case .addOutgoing, .addIncoming:
            events.append(.streamChange(id, StreamChangeEvent(flags: StreamChangeEvent.Flags(rawValue: refusal),
                                                              inboundStreams: inboundStreams, outboundStreams: outboundStreams)))
        }
    }

    private func isReadyToSend(_ request: ReconfigurationState.Request) -> Bool {
        switch request {
        case .outgoingReset(let streams, _):
            return tx.queue.hasDrainedPausedStreams(streams)
        case .associationReset:
            // Not while a deferred reset of incoming streams holds DATA (the hold is one).
            return tx.queue.hasDrainedPausedStreams([]) && tx.outstanding.isEmpty && receiver.deferredReset == nil
        case .incomingReset, .addOutgoing, .addIncoming:
            return true
        }
    }

    /// The reconfiguration timer expired: the chunk in flight goes again, to another path if
    /// there is one, with the path's RTO backed off and an error counted (§5.1.1, as T3).
    func reconfigurationTimerExpired(now: SCTPInstant) {
        timers[.reconfiguration] = nil
        guard let rc = reconfig, let chunk = rc.inFlightChunk, paths.indices.contains(rc.inFlightPath) else { return }
        let path = rc.inFlightPath
        if rc.answeredInProgress {
            reconfig?.answeredInProgress = false
            sendControl([.reconfig(chunk)], to: path)
            timers[.reconfiguration] = now + paths[path].rto.rto
            return
        }
        paths[path].rto.backOff()
        recordError(path: path, now: now)
        guard state != .closed else { return }
        let next = alternatePath(to: path)
        reconfig?.inFlightPath = next
        sendControl([.reconfig(chunk)], to: next)
        timers[.reconfiguration] = now + paths[next].rto.rto
    }

    // MARK: Receiving RE-CONFIG

    /// A RE-CONFIG chunk from the peer: its requests are answered in one RE-CONFIG chunk of
    /// responses, its responses complete our requests.
    func handleReconfig(_ chunk: ReconfigChunk, now: SCTPInstant) {
        switch state {
        case .established, .shutdownPending, .shutdownSent, .shutdownReceived: break
        default: return
        }
        var answers: [ReconfigurationResponseParameter] = []
        // §3.1: one or two parameters; more are not a valid RE-CONFIG chunk and are ignored.
        for parameter in chunk.parameters.parameters.prefix(2) {
            switch parameter {
            case .outgoingSSNResetRequest(let request):
                answers.append(answerOutgoingReset(request))
            case .incomingSSNResetRequest(let request):
                answers.append(answer(request.requestSequenceNumber) { () -> ReconfigurationResponseParameter.Result in
                    self.performIncomingReset(request)
                })
            case .ssnTSNResetRequest(let request):
                if let answer = answerAssociationReset(request, now: now) { answers.append(answer) }
            case .addOutgoingStreams(let request):
                answers.append(answer(request.requestSequenceNumber) { self.performAddOutgoing(request.newStreams) })
            case .addIncomingStreams(let request):
                answers.append(answer(request.requestSequenceNumber) { self.performAddIncoming(request.newStreams) })
            case .reconfigurationResponse(let response):
                handleReconfigurationResponse(response, now: now)
            default:
                continue
            }
        }
        if !answers.isEmpty {
            queueControl(.reconfig(ReconfigChunk(parameters: ParameterList(answers.map { .reconfigurationResponse($0) }))))
        }
        // An Incoming SSN Reset or Add Incoming Streams may have queued a request of ours.
        if let rc = reconfig, rc.inFlight.isEmpty, !rc.pending.isEmpty { sendPendingReconfiguration(now: now) }
    }

    /// The answer to a peer request by its sequence number (§5.2.1): the expected one is
    /// performed (`perform` gives the result) and its answer kept; one already answered gets
    /// the same answer again; any other gets "Error: Bad Sequence Number".
    private func answer(_ sequence: UInt32,
                        perform: () -> ReconfigurationResponseParameter.Result) -> ReconfigurationResponseParameter {
        guard let rc = reconfig else {
            return ReconfigurationResponseParameter(responseSequenceNumber: sequence, result: .denied)
        }
        if sequence == rc.peerNextSequence {
            reconfig?.peerNextSequence &+= 1
            let answer = ReconfigurationResponseParameter(responseSequenceNumber: sequence, result: perform())
            reconfig?.remember(answer)
            return answer
        }
        if let kept = rc.answer(for: sequence) { return kept }
        return ReconfigurationResponseParameter(responseSequenceNumber: sequence, result: .errorBadSequenceNumber)
    }

    /// Outgoing SSN Reset Request (§5.2.2): the peer resets its outgoing streams, we our
    /// incoming ones, once every TSN up to its Sender's Last Assigned TSN has arrived
    /// (before: "In progress", and DATA after that point on those streams is held).
    private func answerOutgoingReset(_ request: OutgoingSSNResetRequestParameter) -> ReconfigurationResponseParameter {
        // E1: it answers our Incoming SSN Reset Request with that sequence number: asked for,
        // so performed whatever the permissions.
        completeIncomingResetRequest(answeredBy: request.responseSequenceNumber)
        let invited = reconfig?.invitedResets.contains(request.responseSequenceNumber) ?? false
        return answer(request.requestSequenceNumber) { () -> ReconfigurationResponseParameter.Result in
            guard let rc = self.reconfig, invited || rc.permissions.contains(.resetStreams) else { return .denied }
            let streams = Array(Set(request.streams)).sorted()
            if streams.contains(where: { $0 >= self.inboundStreams }) { return .errorWrongSSN }
            if self.receiver.deferredReset != nil { return .errorRequestAlreadyInProgress }
            if request.sendersLastAssignedTSN > self.receiver.tracker.cumulativeTSN {
                self.receiver.deferReset(after: request.sendersLastAssignedTSN, streams: streams)
                self.reconfig?.deferred = request
                return .inProgress
            }
            self.receiver.resetIncomingStreams(streams, lastTSN: request.sendersLastAssignedTSN)
            self.events.append(.streamReset(self.id, StreamResetEvent(flags: .incoming, streams: streams)))
            return .successPerformed
        }
    }

    /// A deferred reset whose TSNs have all arrived is done (§5.2.2 E3-E5): the held DATA is
    /// delivered after the messages before the reset, the user learns of it, and the peer
    /// gets "Success - Performed" without waiting for its retransmission.
    func completeDeferredResetIfReady() {
        guard receiver.isDeferredResetReady, let request = reconfig?.deferred else { return }
        deliverMessages()
        let streams = receiver.completeDeferredReset()
        reconfig?.deferred = nil
        events.append(.streamReset(id, StreamResetEvent(flags: .incoming, streams: streams)))
        deliverMessages()
        let answer = ReconfigurationResponseParameter(responseSequenceNumber: request.requestSequenceNumber,
                                                      result: .successPerformed)
        reconfig?.remember(answer)
        queueControl(.reconfig(ReconfigChunk(parameters: ParameterList([.reconfigurationResponse(answer)]))))
    }

    /// Incoming SSN Reset Request (§5.2.3): the peer asks us to reset our outgoing streams;
    /// our Outgoing SSN Reset Request follows (once no message of them is half sent).
    private func performIncomingReset(_ request: IncomingSSNResetRequestParameter) -> ReconfigurationResponseParameter.Result {
        guard let rc = reconfig, rc.permissions.contains(.resetStreams) else { return .denied }
        let streams = Array(Set(request.streams)).sorted()
        if streams.contains(where: { $0 >= outboundStreams }) { return .errorWrongSSN }
        // Our answering request lists these streams: it must fit in a packet.
        guard streams.count <= Self.maxStreamsPerReset else { return .denied }
        guard rc.pending.count < ReconfigurationState.maxPendingRequests else { return .errorRequestAlreadyInProgress }
        let reset = ReconfigurationState.Request.outgoingReset(streams: streams, respondingTo: request.requestSequenceNumber)
        reconfig?.pending.append(reset)
        pauseStreams(for: reset)
        return .successPerformed
    }

    /// SSN/TSN Reset Request (§5.2.4). Performed at once when nothing of ours is in flight
    /// or half sent and no request of ours waits; otherwise new messages are held back (what
    /// was queued before still goes) and the answer waits until all of it is acknowledged,
    /// then goes unasked (`completePeerAssociationResetIfReady`). usrsctp 0.9.5 takes an
    /// "In progress" answer to this request as final, so none is sent.
    private func answerAssociationReset(_ request: SSNTSNResetRequestParameter,
                                        now: SCTPInstant) -> ReconfigurationResponseParameter? {
        let sequence = request.requestSequenceNumber
        guard let rc = reconfig else { return ReconfigurationResponseParameter(responseSequenceNumber: sequence, result: .denied) }
        guard sequence == rc.peerNextSequence, rc.permissions.contains(.resetAssociation) else {
            return answer(sequence) { .denied }
        }
        if rc.pendingPeerAssociationReset == sequence { return nil }  // a retransmission: still draining
        reconfig?.pendingPeerAssociationReset = sequence
        tx.queue.pauseStreams([])
        return performPeerAssociationResetIfReady(now: now)
    }

    /// Performs the peer's waiting SSN/TSN Reset Request once our side is quiet, and answers it.
    func completePeerAssociationResetIfReady(now: SCTPInstant) {
        guard let answer = performPeerAssociationResetIfReady(now: now) else { return }
        queueControl(.reconfig(ReconfigChunk(parameters: ParameterList([.reconfigurationResponse(answer)]))))
    }

    private func performPeerAssociationResetIfReady(now: SCTPInstant) -> ReconfigurationResponseParameter? {
        guard let rc = reconfig, let sequence = rc.pendingPeerAssociationReset, rc.inFlight.isEmpty,
              tx.queue.hasDrainedPausedStreams([]), tx.outstanding.isEmpty, receiver.deferredReset == nil else { return nil }
        // G1-G5: the peer's next TSN jumps past what we acknowledged, ours goes on; every SSN
        // both ways restarts at 0. G1 suggests a jump of 2^31; ours is 2^20, far beyond any
        // TSN window (old chunks still in the network stay duplicates), but near enough that
        // usrsctp's PR-SCTP point, which its reset leaves in the old TSN space, stays behind
        // its new TSNs (2^31 ahead it looked newer, and usrsctp sent a FORWARD TSN for it).
        deliverMessages()
        let peerNext = TSN(receiver.tracker.cumulativeTSN.rawValue &+ 1 &+ Self.associationResetTSNJump)
        let ourNext = tx.outstanding.nextTSN
        restartDataTransfer(ourNextTSN: ourNext, peerNextTSN: peerNext, now: now)
        reconfig?.pendingPeerAssociationReset = nil
        reconfig?.peerNextSequence &+= 1
        let answer = ReconfigurationResponseParameter(responseSequenceNumber: sequence, result: .successPerformed,
                                                      sendersNextTSN: ourNext, receiversNextTSN: peerNext)
        reconfig?.remember(answer)
        releaseResetStreams()
        return answer
    }

    /// Both directions start again at the given TSNs with every SSN at 0 (SSN/TSN Reset).
    private func restartDataTransfer(ourNextTSN: TSN, peerNextTSN: TSN, now: SCTPInstant) {
        // A deferred reset of incoming streams is overtaken: every stream restarts.
        if let deferred = reconfig?.deferred {
            reconfig?.deferred = nil
            reconfig?.remember(ReconfigurationResponseParameter(responseSequenceNumber: deferred.requestSequenceNumber,
                                                                result: .successPerformed))
        }
        if tx.outstanding.nextTSN != ourNextTSN && tx.outstanding.isEmpty { tx.restartTSN(at: ourNextTSN) }
        tx.queue.resetAllSequenceNumbers()
        // Chunks our own request held that end the old numbering: delivered before the reset.
        receiver.reassembleHeldChunks(before: peerNextTSN)
        deliverMessages()
        for stream in receiver.restart(peerNextTSN: peerNextTSN, now: now) { events.append(.partialDeliveryAborted(id, stream: stream)) }
        events.append(.associationReset(id, AssociationResetEvent(flags: [], localTSN: ourNextTSN, remoteTSN: peerNextTSN)))
    }

    /// Add Outgoing Streams Request (§5.2.5): the peer sends on more streams, we accept
    /// them up to our maximum of inbound streams.
    private func performAddOutgoing(_ count: UInt16) -> ReconfigurationResponseParameter.Result {
        guard let rc = reconfig else { return .denied }
        // Streams we asked for (Add Incoming Streams) are taken whatever the permissions.
        let invited = count > 0 && Int(count) <= rc.invitedStreams
        guard invited || rc.permissions.contains(.changeStreams) else { return .denied }
        if invited { reconfig?.invitedStreams -= Int(count) }
        if count == 0 { return .successNothingToDo }
        let total = Int(inboundStreams) + Int(count)
        // Our maximum of inbound streams bounds what the peer adds on its own; streams we
        // asked for are taken up to the protocol's limit.
        guard total <= Int(invited ? UInt16.max : configuration.maxInboundStreams) else { return .denied }
        inboundStreams = UInt16(total)
        receiver.setInboundStreamCount(inboundStreams)
        events.append(.streamChange(id, StreamChangeEvent(flags: [], inboundStreams: inboundStreams,
                                                          outboundStreams: outboundStreams)))
        return .successPerformed
    }

    /// Add Incoming Streams Request (§5.2.6): the peer wants to receive on more streams; we
    /// add them with an Add Outgoing Streams Request of our own.
    private func performAddIncoming(_ count: UInt16) -> ReconfigurationResponseParameter.Result {
        guard let rc = reconfig, rc.permissions.contains(.changeStreams) else { return .denied }
        if count == 0 { return .successNothingToDo }
        guard Int(outboundStreams) + Int(count) <= Int(UInt16.max) else { return .denied }
        guard rc.pending.count < ReconfigurationState.maxPendingRequests else { return .errorRequestAlreadyInProgress }
        reconfig?.pending.append(.addOutgoing(count))
        return .successPerformed
    }

    // MARK: Responses to our requests

    /// Our Incoming SSN Reset Request with this sequence number was answered by the peer's
    /// Outgoing SSN Reset Request (§5.2.2 E1).
    private func completeIncomingResetRequest(answeredBy sequence: UInt32) {
        guard let index = reconfig?.inFlight.firstIndex(where: {
            if case .incomingReset = $0.request { $0.sequence == sequence } else { false }
        }) else { return }
        reconfig?.inFlight.remove(at: index)
        finishInFlightIfDone()
    }

    private func finishInFlightIfDone() {
        guard reconfig?.inFlight.isEmpty == true else { return }
        reconfig?.inFlightChunk = nil
        timers[.reconfiguration] = nil
    }

    /// A Re-configuration Response to one of our requests (§5.2.7).
    private func handleReconfigurationResponse(_ response: ReconfigurationResponseParameter, now: SCTPInstant) {
        guard let rc = reconfig,
              let index = rc.inFlight.firstIndex(where: { $0.sequence == response.responseSequenceNumber }) else { return }
        let sent = rc.inFlight[index]
        if response.result == .inProgress {
            // The peer works on it: ask again after an RTO, without counting an error.
            reconfig?.answeredInProgress = true
            timers[.reconfiguration] = now + paths[rc.inFlightPath].rto.rto
            return
        }
        reconfig?.inFlight.remove(at: index)
        reconfig?.answeredInProgress = false
        finishInFlightIfDone()
        associationErrorCount = 0
        let succeeded = response.result == .successPerformed || response.result == .successNothingToDo
        let refusal: UInt16 = response.result == .denied ? 0x0004 : 0x0008
        switch sent.request {
        case .outgoingReset(let streams, _) where succeeded:
            if streams.isEmpty { tx.queue.resetAllSequenceNumbers() } else { tx.queue.resetSequenceNumbers(of: streams) }
            if let tsn = sent.lastAssignedTSN, !tx.outstanding.isEmpty {
                // Chunks before it may still be outstanding (or abandoned): their SSNs are old.
                StreamResetPoint.record(StreamResetPoint(tsn: tsn, streams: streams), in: &tx.resetPoints,
                                        above: tx.outstanding.cumulativeTSNAck)
            }
            events.append(.streamReset(id, StreamResetEvent(flags: .outgoing, streams: streams)))
        case .incomingReset where succeeded, .addIncoming where succeeded:
            // The peer's own request (Outgoing SSN Reset, Add Outgoing Streams) follows and
            // does the change, reported then.
            break
        case .associationReset where response.result == .successPerformed:
            if let sendersNext = response.sendersNextTSN, let receiversNext = response.receiversNextTSN, tx.outstanding.isEmpty {
                deliverMessages()
                restartDataTransfer(ourNextTSN: receiversNext, peerNextTSN: sendersNext, now: now)
                deliverMessages()
            } else {
                reportFailure(of: sent.request, refusal: 0x0008)
            }
        case .addOutgoing(let count) where succeeded:
            if count > 0 {
                outboundStreams = UInt16(min(Int(outboundStreams) + Int(count), Int(UInt16.max)))
                _ = tx.queue.setOutboundStreamCount(Int(outboundStreams))
                events.append(.streamChange(id, StreamChangeEvent(flags: [], inboundStreams: inboundStreams,
                                                                  outboundStreams: outboundStreams)))
            }
        default:
            if case .addIncoming(let count) = sent.request, let invited = reconfig?.invitedStreams {
                reconfig?.invitedStreams = max(0, invited - Int(count))
            }
            reportFailure(of: sent.request, refusal: succeeded ? 0x0008 : refusal)
        }
        if case .associationReset = sent.request, receiver.isHoldingForAssociationReset {
            // Not performed: the numbering goes on, and what arrived meanwhile belongs to it.
            receiver.releaseAssociationResetHold()
            deliverMessages()
        }
        releaseResetStreams()
        transmitOwed = max(transmitOwed ?? now, now)
        // A shutdown that waited for this answer (the DATA it held) goes on.
        progressShutdown(now: now)
    }
}
