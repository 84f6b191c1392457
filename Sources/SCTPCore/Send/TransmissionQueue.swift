import NIOCore
import SCTPWire

/// The send side of an association: what waits to be sent (`queue`: per-stream queues in
/// the order of a `StreamScheduler`) and what is in flight (`outstanding`: the retransmission
/// queue). The per-path table (`Association.paths`: one `PeerPath` per peer address with its
/// congestion control, RTO, MTU, heartbeat and error state) is the association's, since an
/// idle association keeps its paths but no transmission queue (`DataTransferState`, made on
/// first use); the calls that need it take it as an argument.
///
/// `fill(_:path:paths:now:context:)` is the one entry point that puts DATA into packets: for one
/// path at a time it adds what is due, in the order RFC 9260 wants it (FORWARD TSN, then
/// retransmissions, then new DATA under cwnd, the peer's window and Max.Burst). The
/// association adds control chunks and the SACK ahead of it and decides when to send.
struct TransmissionQueue {
    /// Messages not yet cut into chunks.
    var queue: SendQueue
    /// Chunks sent and not yet acknowledged.
    var outstanding: OutstandingData
    /// The a_rwnd the peer last advertised (for SHUTDOWN's implicit SACK).
    var lastPeerWindow: UInt32 = 0
    /// Whether data was sent since the queue and the flight last ran dry (sender-dry event).
    var busy = false
    /// The peer announced FORWARD-TSN-Supported and PR-SCTP is on: messages may be given up.
    var peerSupportsForwardTSN = false
    /// A FORWARD TSN must go out with the next packet (PR-SCTP, RFC 3758 §3.5).
    var forwardTSNPending = false
    /// Messages go out as I-DATA (RFC 8260 §2), interleaved chunk by chunk; PR-SCTP then
    /// uses I-FORWARD-TSN. Set by `setInterleaving(_:)` once the handshake negotiated it.
    private(set) var interleaving = false
    /// A SACK marked chunks for Fast Retransmit: the next transmission sends one packet of
    /// the earliest marked chunks whatever cwnd says (§7.2.4 step 3).
    var fastRetransmitPending = false
    /// Messages given up (PR-SCTP) or expired before they were sent, since the association
    /// last took them (`takeFailures()`), to report as `.sendFailed`.
    private(set) var failures: [FailedMessage] = []
    /// The messages PR-SCTP gave up so far, per policy and stream (RFC 7496).
    public private(set) var abandonedStatistics = AbandonedMessageStatistics()
    /// Outgoing stream resets (RFC 6525) the peer performed while chunks before them were
    /// outstanding: a FORWARD TSN names no skipped SSN of a stream from before its reset (the
    /// peer restarted the stream; the old SSN would skip its new messages).
    var resetPoints: [StreamResetPoint] = []

    init(configuration: SCTPConfiguration, initialTSN: TSN) {
        queue = SendQueue(outboundStreamCount: Int(configuration.outboundStreams),
                          configuration: SendQueue.Configuration(maxQueuedBytes: configuration.sendBufferSize),
                          scheduler: configuration.streamScheduler)
        outstanding = OutstandingData(initialTSN: initialTSN, peerReceiverWindow: 0, configuration:
            OutstandingData.Configuration(maxOutstandingChunks: configuration.maxOutstandingChunks,
                                          maxGapBlocksProcessed: configuration.maxGapBlocksProcessed))
    }

    /// The largest DATA chunk (header included) a packet of `mtu` bytes can carry.
    static func pmdcs(mtu: Int) -> Int { max(mtu - CommonHeader.size, DataChunk.headerSize + 4) & ~3 }

    /// Applies what the handshake negotiated: the stream count and the peer's window (the
    /// association restarts every path's congestion control, §7.2.1). Returns the messages
    /// queued for streams that do not exist.
    mutating func configure(outboundStreams: UInt16, peerReceiverWindow: UInt32) -> [OutgoingMessage] {
        let removed = queue.setOutboundStreamCount(Int(outboundStreams))
        lastPeerWindow = peerReceiverWindow
        outstanding = OutstandingData(initialTSN: outstanding.nextTSN, peerReceiverWindow: peerReceiverWindow,
                                      configuration: outstanding.configuration)
        return removed
    }

    /// An SSN/TSN reset (RFC 6525): our next DATA chunk carries `nextTSN`. Only with nothing
    /// in flight.
    mutating func restartTSN(at nextTSN: TSN) {
        precondition(outstanding.isEmpty, "TSNs restart only with nothing in flight")
        resetPoints = []
        outstanding = OutstandingData(initialTSN: nextTSN, peerReceiverWindow: UInt32(clamping: outstanding.peerReceiverWindow),
                                      configuration: outstanding.configuration)
    }

    /// Nothing queued and nothing in flight.
    var isIdle: Bool { queue.isEmpty && outstanding.isEmpty }

    /// Whether something waits to go out as DATA or FORWARD TSN.
    var hasDataToSend: Bool { outstanding.hasChunksToRetransmit || forwardTSNPending || !queue.isEmpty }

    /// Takes the messages to report as failed.
    mutating func takeFailures() -> [FailedMessage] {
        defer { failures.removeAll() }
        return failures
    }

    // MARK: Filling packets

    /// What a call to `fill` needs from the association besides the queues.
    struct Context {
        /// Max.Burst (§6.1 D).
        var maxBurst: Int
        /// `SCTP_MAXSEG`: fragments no larger than this, when set.
        var maxSegmentSize: Int?
        /// Small messages wait while data is unacknowledged (`SCTP_NODELAY` off, not shutting down).
        var bundlesSmallMessages: Bool
    }

    /// What a call to `fill` put into the packets.
    struct Filled {
        /// DATA or FORWARD TSN went in.
        var sentData = false
        /// New DATA went in (it measures the RTT: the path is not idle, §8.3).
        var sentNewData = false
        /// DATA chunks sent for the first time.
        var newChunks = 0
        /// DATA chunks sent again.
        var retransmittedChunks = 0
    }

    /// Adds to `builder` (whose destination is `paths[path]`, the current primary) what is
    /// due: messages past their PR-SCTP policy are given up first, then a FORWARD TSN when
    /// one is pending, retransmissions, and new DATA. Expired and given-up messages are kept
    /// for `takeFailures()`.
    mutating func fill(_ builder: inout PacketBuilder, path: Int, paths: inout [PeerPath], now: SCTPInstant,
                       context: Context) -> Filled {
        var filled = Filled()
        abandonMessages(now: now)
        if forwardTSNPending {
            if interleaving {
                if let forward = outstanding.iForwardTSN(resetPoints: resetPoints) {
                    builder.add(.iForwardTSN(forward))
                    filled.sentData = true
                }
            } else if let forward = outstanding.forwardTSN(resetPoints: resetPoints) {
                builder.add(.forwardTSN(forward))
                filled.sentData = true
            }
        }
        forwardTSNPending = false
        filled.retransmittedChunks = sendRetransmissions(&builder, path: path, paths: &paths, now: now)
        filled.newChunks = sendNewData(&builder, path: path, primaryPath: path, paths: &paths, now: now, context: context)
        filled.sentNewData = filled.newChunks > 0
        filled.sentData = filled.sentData || filled.sentNewData || filled.retransmittedChunks > 0
        collectExpiredMessages()
        return filled
    }

    /// New DATA for the paths messages asked for (`OutgoingMessage.destination`), after the
    /// packet for `first` stopped at a message that goes elsewhere: a packet series per path
    /// switch, as long as each switch sends something (a path whose cwnd is full holds its
    /// messages and those queued after them until a SACK opens it), at most a few switches
    /// per call (the rest waits for the next SACK). `makeBuilder` starts a packet to a path.
    /// `first` is the current primary path.
    mutating func fillRedirected(after first: Int, paths: inout [PeerPath], now: SCTPInstant, context: Context,
                                 makeBuilder: (_ mtu: Int, _ destination: IPAddress) -> PacketBuilder) -> (packets: [Transmit], newChunks: Int) {
        var packets: [Transmit] = []
        var newChunks = 0
        var current = first
        for _ in 0..<(2 * paths.count + 2) where !queue.isEmpty {
            let next = nextDataPath(primaryPath: first, paths: paths)
            guard next != current else { break }
            var builder = makeBuilder(paths[next].mtu, paths[next].address)
            let sent = sendNewData(&builder, path: next, primaryPath: first, paths: &paths, now: now, context: context)
            guard sent > 0 else { break }
            newChunks += sent
            packets.append(contentsOf: builder.finish())
            paths[next].lastSent = now
            current = next
        }
        collectExpiredMessages()
        return (packets, newChunks)
    }

    /// The path the next new DATA chunk goes on: the one its message asked for
    /// (`OutgoingMessage.destination`) while that path is active, otherwise the primary.
    private func nextDataPath(primaryPath: Int, paths: [PeerPath]) -> Int {
        // `hasDestinations` first: a stored field, read in place (calling the computed
        // property copied the whole send queue, per chunk).
        guard queue.hasDestinations, let destination = queue.nextMessageDestination,
              let index = paths.firstIndex(where: { $0.address == destination }),
              paths[index].isUsable else { return primaryPath }
        return index
    }

    /// Retransmissions (T3 or fast retransmit) go on the primary path, or an alternate one
    /// when the primary is failing (§6.4.1). cwnd limits them, except that the first chunk
    /// always goes (§6.3.3 E3: after a T3 expiry cwnd is one PMDCS and nothing is in flight),
    /// and that after a Fast Retransmit the earliest marked chunks go in one packet, as many as
    /// fit, whatever cwnd says (§7.2.4 step 3); the others follow as cwnd allows.
    /// Returns the number of chunks sent.
    private mutating func sendRetransmissions(_ builder: inout PacketBuilder, path index: Int, paths: inout [PeerPath],
                                              now: SCTPInstant) -> Int {
        guard outstanding.hasChunksToRetransmit else { return 0 }
        let path = PathID(index)
        let fastRetransmitPacket = fastRetransmitPending
        fastRetransmitPending = false
        var sent = 0
        /// The packet (index among the builder's finished packets) the first retransmission went in.
        var firstPacket = -1
        let fullPacket = Self.pmdcs(mtu: paths[index].mtu) - builder.dataAuthOverhead
        while outstanding.hasChunksToRetransmit {
            let first = sent == 0
            let flight = outstanding.bytesInFlight(on: path)
            let withinCwnd = paths[index].congestion.canSend(flightSize: flight)
            let fillingFastRetransmitPacket = fastRetransmitPacket && !first && builder.packets.count == firstPacket
            guard first || withinCwnd || fillingFastRetransmitPacket else { break }
            // Beyond cwnd, only what still fits in the Fast Retransmit packet. Within cwnd a
            // chunk that does not fit the packet starts the next one: stopping there would let
            // new DATA overtake the retransmissions (§6.1 C wants them first), and SACKs for
            // that new DATA would then count misses against the retransmissions. The first
            // retransmission goes whatever the packet holds already (the bundled SACK, control
            // chunks), in a packet of its own when it does not fit: skipping it would leave
            // nothing in flight and T3 off.
            // A chunk cut before a fixed MTU was lowered below its size (`setPathParameters`;
            // with path MTU discovery chunks fit the base PLPMTU and never outgrow a path) goes
            // first and alone, larger than the MTU: the IP layer may fragment it, and skipping
            // it would stall the association.
            let maxSize = first ? Int.max : withinCwnd ? max(builder.remaining, fullPacket) : builder.remaining
            guard let entry = outstanding.nextRetransmissionEntry(maxSize: maxSize, path: path, now: now) else { break }
            if entry.isInterleaved {
                builder.addInterleaved(entry.chunk, mid: entry.mid, fsn: entry.fsn, size: entry.wireSize)
            } else {
                builder.add(entry.chunk, size: entry.chunk.encodedSize)
            }
            if first { firstPacket = builder.packets.count }
            sent += 1
        }
        if sent > 0 { paths[index].congestion.onTransmit(now: now) }
        return sent
    }

    /// New DATA on `path` within cwnd, the peer's window and Max.Burst (§6.1). Returns the
    /// number of chunks sent.
    private mutating func sendNewData(_ builder: inout PacketBuilder, path index: Int, primaryPath: Int,
                                      paths: inout [PeerPath], now: SCTPInstant, context: Context) -> Int {
        let path = PathID(index)
        var flight = outstanding.bytesInFlight(on: path)
        // §7.2.1: a path that sent nothing for an RTO or more has its cwnd decayed first.
        if flight == 0 { paths[index].congestion.applyIdleDecay(now: now, rto: paths[index].rto.rto) }
        // I-DATA's header is 4 bytes longer than DATA's.
        let headerSize = interleaving ? IDataChunk.headerSize : DataChunk.headerSize
        let pathPayload = paths[index].fragmentChunkSize - headerSize - builder.dataAuthOverhead
        // SCTP_MAXSEG: fragments no larger than asked, never larger than the path allows.
        let maxPayload = context.maxSegmentSize.map { min(max($0, 4), pathPayload) } ?? pathPayload
        let window = paths[index].congestion.sendWindow(flightSize: flight, maxBurst: context.maxBurst,
                                                        chunkOverhead: builder.dataAuthOverhead)
        var sent = 0
        // Nagle-like bundling (SCTP_NODELAY off): while data is unacknowledged, a chunk that
        // would not be full waits for the SACK, so that small messages go out bundled.
        if context.bundlesSmallMessages && outstanding.bytesInFlight > 0 && queue.queuedBytes < maxPayload { return 0 }
        let policyNow = peerSupportsForwardTSN ? now : nil
        /// The packet (index among the builder's) the last new chunk went into.
        var lastPacket = -1
        // `nextDataPath` only where a message asked for a destination: the call per chunk
        // costs a copy of the paths array's reference (and used to copy the whole queue).
        while !queue.isEmpty, outstanding.canSendNewChunk, flight < window,
              (queue.hasDestinations ? nextDataPath(primaryPath: primaryPath, paths: paths) : primaryPath) == index {
            let peerWindow = outstanding.peerReceiverWindow
            // The stream scheduler learns where packets end (round robin per packet switches
            // streams there): before the first new chunk of every packet.
            if builder.isEmpty || builder.packets.count != lastPacket { queue.packetDidEnd() }
            var messageRemaining = queue.nextMessageRemainingBytes ?? maxPayload
            // A message that does not fit in what is left of the current packet is cut to
            // fill it (when that is a sizeable piece), rather than leaving the packet part
            // empty: bulk transfers then send full packets only (one packet per 1200-byte
            // message at an MTU of 1200, not a full one and a nearly empty one).
            var limit = maxPayload
            if !builder.isEmpty && messageRemaining > builder.remaining - headerSize {
                let room = (builder.remaining - headerSize) & ~3
                if room >= max(maxPayload / 4, 64) && room < maxPayload { limit = room }
            }
            var nextSize = min(messageRemaining, limit)
            if !builder.isEmpty && PacketBuilder.chunkSize(valueLength: headerSize - 4 + nextSize) > builder.remaining {
                // The chunk starts the next packet (adding it would): end this one here, so
                // that the scheduler decides for the new packet.
                builder.finishPacket()
                queue.packetDidEnd()
                messageRemaining = queue.nextMessageRemainingBytes ?? maxPayload
                limit = maxPayload
                nextSize = min(messageRemaining, limit)
            }
            // §6.1 A/B: respect the peer's window, but one chunk may probe a closed window
            // when nothing is in flight.
            if peerWindow < nextSize && outstanding.bytesInFlight > 0 { break }
            guard var cutting = queue.nextChunk(tsn: outstanding.nextTSN, maxPayloadSize: limit, now: policyNow) else { break }
            // RFC 7053 §4.1: a chunk that fills the peer's window asks for an immediate SACK.
            // Nothing more can go until that SACK comes, and a receiver delaying it (it
            // waits for a second packet) would stall the association for its delayed-ack time.
            if let following = queue.nextMessageRemainingBytes,
               peerWindow - cutting.chunk.payload.readableBytes < min(following, maxPayload) {
                cutting.chunk.dataFlags.insert(.immediate)
            }
            // From here on a `let`: written in place (a `var`'s chunk was copied out to be
            // written), then moved whole into the retransmission queue.
            let cut = consume cutting
            var size = cut.chunk.encodedSize
            if interleaving {
                size += IDataChunk.headerSize - DataChunk.headerSize
                builder.addInterleaved(cut.chunk, mid: cut.mid, fsn: cut.fsn, size: size)
            } else {
                builder.add(cut.chunk, size: size)
            }
            // Without FORWARD TSN support every message goes reliably.
            outstanding.append(cut, path: path, now: now, partiallyReliable: peerSupportsForwardTSN, interleaved: interleaving)
            lastPacket = builder.packets.count
            flight += size
            sent += 1
        }
        if sent > 0 {
            paths[index].congestion.onTransmit(now: now)
            busy = true
        }
        return sent
    }

    /// Starts T3-rtx on every path with data in flight and no timer running (§6.3.2 R1), and
    /// on the primary path while a FORWARD TSN waits to be acknowledged (RFC 3758 §3.5 C5:
    /// it is sent again when T3-rtx expires).
    mutating func armT3IfNeeded(paths: inout [PeerPath], primaryPath: Int, now: SCTPInstant) {
        for index in paths.indices where paths[index].t3Deadline == nil {
            if outstanding.bytesInFlight(on: PathID(index)) > 0 {
                paths[index].t3Deadline = now + paths[index].rto.rto
            }
        }
        if paths[primaryPath].t3Deadline == nil && outstanding.advancedPeerAckPoint != nil {
            paths[primaryPath].t3Deadline = now + paths[primaryPath].rto.rto
        }
    }

    /// (Re)starts the tail loss probe timer of a path (`SCTPConfiguration.tailLossProbeMinimum`,
    /// given as `minimum`; `nil`: probes are off): due max(2 × SRTT, `minimum`) from `now`,
    /// doubled for each probe already sent, while data is in flight on the path, its RTT has
    /// been measured and fewer than `maxTailProbes` probes have been sent since the last SACK
    /// that acknowledged new data (or T3-rtx expiry); off otherwise, and off when T3-rtx
    /// would expire first (it resends then anyway). When at most one packet is in flight,
    /// nothing more waits to be sent (the application's last message, a request) and no
    /// chunk is gap-acknowledged (the peer has no gap, which it would SACK at once), the peer
    /// may rightly delay its SACK: the probe then waits `peerDelayedAckAllowanceNanoseconds` (200 ms) longer (as
    /// RFC 8985 §7.2 adds WCDelAckT), so that it does not double every lone packet.
    mutating func armProbe(path index: Int, paths: inout [PeerPath], now: SCTPInstant, minimum: Duration?) {
        let inFlight = outstanding.bytesInFlight(on: PathID(index))
        let sent = paths[index].tailProbesSent
        guard let minimum, sent < Self.maxTailProbes, inFlight > 0, let srtt = paths[index].rto.srttNanosecondsIfMeasured else {
            paths[index].probeDeadline = nil
            return
        }
        // In whole nanoseconds (this runs for every packet of DATA sent and every SACK):
        // SRTT is within 2^40 and the minimum clamped alike, so nothing here overflows.
        let floor = min(max(minimum.nanosecondsClamped, 0), 1 << 40)
        var timeout = max(srtt * 2, floor) << Int64(sent)
        if inFlight <= paths[index].congestion.pmdcs && !hasDataToSend && outstanding.highestGapAckedTSN == nil {
            timeout += Self.peerDelayedAckAllowanceNanoseconds
        }
        let (sum, overflow) = now.nanoseconds.addingReportingOverflow(timeout)
        let deadline = SCTPInstant(nanoseconds: overflow ? .max : sum)
        if let t3 = paths[index].t3Deadline, deadline >= t3 {
            paths[index].probeDeadline = nil
        } else {
            paths[index].probeDeadline = deadline
        }
    }

    /// Tail loss probes per stall: the second covers the loss of the first or of its answer.
    static let maxTailProbes: UInt8 = 2

    /// What a tail loss probe adds for a lone packet: RFC 9260's default delayed-SACK timeout
    /// (RFC 8985's WCDelAckT).
    static let peerDelayedAckAllowanceNanoseconds: Int64 = 200_000_000

    /// The retransmission timers after a SACK (its `outcome`, with the Cumulative TSN Ack it
    /// carried): on each path it reported, T3-rtx stops when nothing is in flight and
    /// restarts when the earliest outstanding chunk was acknowledged (§6.3.2 R2/R3); data in
    /// flight always has T3 running (R1), also chunks a renege put back in flight (§6.2.1 D
    /// iii) after T3 had stopped because every chunk of the path was gap-acknowledged. Then
    /// PR-SCTP (RFC 3758 §3.5 C3): while the peer has not skipped what was given up, a FORWARD
    /// TSN goes again; once nothing waits to be skipped, T3 kept for one stops on every path
    /// with nothing in flight (also a path that was primary when it was armed and has carried
    /// no DATA since, which is not among the SACK's per-path results).
    mutating func updateTimers(after outcome: SackOutcome, cumulativeTSNAck: TSN, paths: inout [PeerPath], now: SCTPInstant) {
        for statistics in outcome.paths where statistics.path.rawValue < paths.count {
            let index = statistics.path.rawValue
            if outstanding.bytesInFlight(on: statistics.path) == 0 {
                paths[index].t3Deadline = nil
            } else if statistics.ackedEarliestOutstanding || paths[index].t3Deadline == nil {
                paths[index].t3Deadline = now + paths[index].rto.rto
            }
        }
        if let point = outstanding.advancedPeerAckPoint {
            if point > cumulativeTSNAck { forwardTSNPending = true }
        } else {
            for index in paths.indices where paths[index].t3Deadline != nil && outstanding.bytesInFlight(on: PathID(index)) == 0 {
                paths[index].t3Deadline = nil
            }
        }
    }

    // MARK: PR-SCTP (RFC 3758)

    /// Gives up the messages whose chunks wait for retransmission past their lifetime or
    /// retransmission limit (only when the peer supports FORWARD TSN), keeps them for
    /// `takeFailures()`, and has a FORWARD TSN sent.
    private mutating func abandonMessages(now: SCTPInstant) {
        guard peerSupportsForwardTSN, outstanding.hasChunksToRetransmit else { return }
        let abandoned = outstanding.abandonMessages(now: now)
        guard !abandoned.isEmpty else { return }
        for message in abandoned {
            var payload = message.payload
            if !message.lastChunkSent, let (rest, sentBytes) = interleaving
                ? queue.abandonMessage(stream: message.streamIdentifier, isUnordered: message.isUnordered, mid: message.mid)
                : queue.abandonCurrentMessage() {
                // The unsent rest takes a TSN the FORWARD TSN must cover.
                outstanding.appendAbandonedTail(streamIdentifier: message.streamIdentifier, ssn: message.ssn,
                                                payloadProtocolIdentifier: message.payloadProtocolIdentifier,
                                                isUnordered: message.isUnordered, now: now,
                                                mid: interleaving ? message.mid : nil)
                // The unsent tail of the message goes with it. It starts after everything cut
                // into chunks, not after the chunks still outstanding: the first ones may have
                // been acknowledged and are not in `payload`.
                if var tail = rest.payload.getSlice(at: rest.payload.readerIndex + sentBytes, length: rest.payload.readableBytes - sentBytes) {
                    payload.writeBuffer(&tail)
                }
            }
            abandonedStatistics.count(stream: message.streamIdentifier, lifetime: message.hadLifetime, sent: true)
            failures.append(FailedMessage(sent: message, payload: payload))
        }
        forwardTSNPending = true
    }

    /// Keeps the messages whose lifetime ended before they were sent, for `takeFailures()`.
    private mutating func collectExpiredMessages() {
        guard !queue.expired.isEmpty else { return }
        for message in queue.takeExpired() {
            // Only a lifetime expires a message before it is sent.
            abandonedStatistics.count(stream: message.streamIdentifier, lifetime: true, sent: false)
            failures.append(FailedMessage(unsent: message))
        }
    }

    // MARK: The end

    /// Empties both queues (the association ended): every message not known to be
    /// delivered, as it is to be reported (RFC 6458 SCTP_SEND_FAILED_EVENT), oldest first:
    /// those sent and not acknowledged, the one partly sent, then those never sent.
    mutating func removeAll() -> [FailedMessage] {
        if interleaving { return removeAllInterleaved() }
        var unacknowledged = outstanding.unacknowledgedMessages()
        let (partlySent, unsent) = queue.removeAll()
        if partlySent != nil, let last = unacknowledged.last, !last.lastChunkSent {
            // Its sent chunks are reported with the whole message below.
            unacknowledged.removeLast()
        }
        var failed = unacknowledged.map { FailedMessage(sent: $0, payload: $0.payload) }
        if let partlySent {
            var message = FailedMessage(unsent: partlySent)
            message.wasSent = true
            failed.append(message)
        }
        for message in unsent { failed.append(FailedMessage(unsent: message)) }
        return failed
    }

    // MARK: Interleaving (I-DATA, RFC 8260)

    /// Switches I-DATA on or off for what is sent from now on (before any data was sent).
    mutating func setInterleaving(_ on: Bool) {
        interleaving = on
        queue.setInterleaving(on)
    }

    /// `removeAll()` with I-DATA: messages partly sent may be several (one per stream).
    private mutating func removeAllInterleaved() -> [FailedMessage] {
        let unacknowledged = outstanding.unacknowledgedMessages()
        let (partlySent, unsent) = queue.removeAllInterleaved()
        // A message partly sent is reported whole below, its sent chunks with it.
        var failed = unacknowledged.filter(\.lastChunkSent).map { FailedMessage(sent: $0, payload: $0.payload) }
        for message in partlySent {
            var report = FailedMessage(unsent: message)
            report.wasSent = true
            failed.append(report)
        }
        for message in unsent { failed.append(FailedMessage(unsent: message)) }
        return failed
    }
}
