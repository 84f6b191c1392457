import NIOCore
import SCTPWire

/// The whole receive side of an association: a ``DataTracker`` and a ``ReassemblyQueue``
/// composed in the order RFC 9260 asks for, plus the receive window.
///
/// Per received packet the association calls `receive(_:)` for each DATA chunk and for
/// a FORWARD TSN, then ``packetProcessed(now:)``; when ``isSackDue(at:)`` it sends ``takeSack()``, and it
/// folds ``sackDeadline`` into its next deadline. Messages come out of ``poll()``; the
/// API layer reports bytes the application has read with ``consumed(bytes:)``, which
/// reopens the window (and asks for a window-update SACK when it grew enough).
public struct DataReceiver: Sendable {
    /// The receive buffer and the parts' settings.
    public struct Configuration: Hashable, Sendable {
        /// `SO_RCVBUF`: the a_rwnd advertised when nothing is held.
        public var receiveBufferSize: Int
        /// TSN window, gap and duplicate limits, delayed-SACK timing.
        public var tracker: DataTracker.Configuration
        /// Reassembly memory limit and partial delivery point.
        public var reassembly: ReassemblyQueue.Configuration
        /// Reading that reopens the window by at least this much since the last SACK
        /// triggers a window-update SACK (receiver-side silly window avoidance, RFC 1122
        /// §4.2.3.3, as RFC 9260 §6.2 suggests).
        public var windowUpdateThreshold: Int
        /// When the last SACK advertised less than `windowUpdateThreshold` (the sender is
        /// probably stalled on the window), reopening it by this much (one MTU) is enough:
        /// otherwise a reader waiting for the rest of a message and a sender waiting for
        /// window would both wait for the delayed-SACK timer.
        public var windowUpdateMinimum: Int
        /// When a DATA chunk leaves less window than this (or than twice the largest chunk
        /// received, when that is more), the SACK goes at once instead of being delayed: the
        /// peer is held back by our window and can send little or nothing until it hears
        /// from us, so a delayed SACK would stall it for the delayed-ack time. (A sender that
        /// sets the I bit on the chunk that fills the window, RFC 7053, asks for the same;
        /// usrsctp does not.)
        public var smallWindowThreshold: Int

        /// Defaults: the reassembly memory limit is the receive buffer, the partial
        /// delivery point half of it, the window-update threshold a sixteenth of the buffer
        /// but at least one MTU (`windowUpdateMinimum`, 1200) and at most half the buffer,
        /// the small-window threshold two packets of 1200 bytes.
        public init(receiveBufferSize: Int = 4 << 20, tracker: DataTracker.Configuration = DataTracker.Configuration(),
                    reassembly: ReassemblyQueue.Configuration? = nil, windowUpdateThreshold: Int? = nil,
                    windowUpdateMinimum: Int = 1200, smallWindowThreshold: Int = 2400) {
            self.receiveBufferSize = max(receiveBufferSize, 0)
            self.tracker = tracker
            self.reassembly = reassembly ?? ReassemblyQueue.Configuration(memoryLimit: max(receiveBufferSize, 1))
            let threshold = max(windowUpdateThreshold ?? min(max(receiveBufferSize / 16, windowUpdateMinimum), receiveBufferSize / 2), 1)
            self.windowUpdateThreshold = threshold
            self.windowUpdateMinimum = max(min(windowUpdateMinimum, threshold), 1)
            self.smallWindowThreshold = max(smallWindowThreshold, 0)
        }

        /// The receive-side settings of an endpoint configuration.
        public init(_ configuration: SCTPConfiguration) {
            self.init(
                receiveBufferSize: configuration.receiveBufferSize,
                tracker: DataTracker.Configuration(
                    maxGapAckBlocksPerSack: configuration.maxGapBlocksReported,
                    delayedSackTimeout: configuration.delayedAckTimeout,
                    packetsPerSack: configuration.delayedAckFrequency),
                reassembly: ReassemblyQueue.Configuration(
                    memoryLimit: max(configuration.receiveBufferSize, 1),
                    partialDeliveryPoint: min(configuration.partialDeliveryPoint, max(configuration.receiveBufferSize / 2, 1))),
                windowUpdateMinimum: configuration.pathMTU,
                smallWindowThreshold: 2 * configuration.pathMTU)
        }
    }

    /// Why a DATA chunk was dropped without being acknowledged.
    public enum DropReason: Hashable, Sendable {
        /// Too far ahead of the cumulative TSN ack point.
        case beyondWindow
        /// Would need more out-of-order ranges than allowed.
        case tooManyGaps
        /// The window is closed (a_rwnd 0 and the TSN is above every TSN received, §6.2)
        /// or the reassembly memory is full.
        case noBufferSpace
    }

    /// What became of a DATA chunk.
    public enum Outcome: Hashable, Sendable {
        /// Recorded and taken for delivery.
        case accepted
        /// Seen before; reported in the next SACK.
        case duplicate
        /// The stream identifier is not below the inbound stream count: the TSN is
        /// acknowledged, the data discarded; the association sends an ERROR with Invalid
        /// Stream Identifier (§6.5).
        case invalidStream
        /// The chunk has no user data: the association aborts with No User Data (§6.2).
        case noUserData
        /// Not acknowledged; the peer will retransmit. A SACK is due at once.
        case dropped(DropReason)
    }

    /// The settings given at creation.
    public let configuration: Configuration
    /// Which TSNs arrived; SACK timing and contents.
    public private(set) var tracker: DataTracker
    /// Fragments and messages waiting for delivery.
    public private(set) var reassembly: ReassemblyQueue
    /// Bytes handed out by ``poll()`` that the application has not read yet.
    public private(set) var deliveredUnreadBytes = 0
    /// The largest DATA chunk payload taken so far (the peer's fragment size, roughly).
    private var largestPayload = 0
    /// The a_rwnd of the last SACK taken.
    public private(set) var lastAdvertisedWindow: UInt32
    /// A reset of incoming streams waiting for every TSN up to `lastTSN` (RFC 6525 §5.2.2
    /// E2): DATA above it on those streams (all when empty) is held, not reassembled.
    public private(set) var deferredReset: (lastTSN: TSN, streams: [UInt16])?
    /// The deferred reset is the hold of an SSN/TSN Reset Request of ours (RFC 6525 §5.1.4):
    /// every chunk waits until the answer says which TSN starts the peer's new numbering.
    public private(set) var isHoldingForAssociationReset = false
    /// The chunks held during a deferred reset (acknowledged, counted in the window).
    private var heldChunks: [DataChunk] = []
    /// The same for I-DATA.
    private var heldIDataChunks: [IDataChunk] = []
    /// Their payload bytes.
    public private(set) var heldBytes = 0
    /// Incoming stream resets performed (their Sender's Last Assigned TSN and streams): a
    /// FORWARD TSN that ends at or before one names SSNs from before that reset, which no
    /// longer apply to those streams.
    private var resetPoints: [StreamResetPoint] = []
    /// The held chunks, for `checkInvariants()`.
    var heldChunksForInvariants: [DataChunk] { heldChunks }
    var heldIDataChunksForInvariants: [IDataChunk] { heldIDataChunks }
    /// The association uses I-DATA (RFC 8260): set once the handshake negotiated it.
    public internal(set) var interleaving = false

    /// A receiver for a peer whose first TSN is `peerInitialTSN`, with
    /// `inboundStreamCount` negotiated inbound streams.
    public init(peerInitialTSN: TSN, inboundStreamCount: UInt16, configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.tracker = DataTracker(peerInitialTSN: peerInitialTSN, configuration: configuration.tracker)
        self.reassembly = ReassemblyQueue(inboundStreamCount: inboundStreamCount, configuration: configuration.reassembly)
        self.lastAdvertisedWindow = UInt32(clamping: configuration.receiveBufferSize)
    }

    /// The a_rwnd to advertise now: the receive buffer minus the bytes held for
    /// reassembly, waiting in ``poll()`` and delivered but unread.
    @inline(__always) public var advertisedWindow: UInt32 {
        ReceiveWindow.advertisedWindow(receiveBufferSize: configuration.receiveBufferSize,
                                       bufferedBytes: reassembly.bufferedBytes + reassembly.pendingOutputBytes + heldBytes,
                                       deliveredUnreadBytes: deliveredUnreadBytes)
    }

    // MARK: - Input

    /// Handles one DATA chunk of a packet.
    ///
    /// Order of checks: no user data; tracker (duplicate, beyond the TSN window, too many
    /// gaps); stream identifier; closed window (a_rwnd 0 and TSN above the highest
    /// received, §6.2, except the TSN that stuck reassembly data waits for); reassembly
    /// memory. Only a chunk taken by the reassembly queue (or
    /// one on an invalid stream) is recorded in the tracker, so a dropped chunk is never
    /// acknowledged.
    /// A payload that is a small part of a large buffer (drivers read datagrams into shared
    /// buffers: 288 KiB for 32 datagrams, 1 MiB with UDP GRO) is copied into a buffer of its
    /// own before it is kept: a slice keeps its whole buffer alive while it waits to be read,
    /// and a peer sending one small message per read could otherwise pin far more memory than
    /// the receive window it was given.
    static func compact(_ payload: inout ByteBuffer) {
        guard payload.storageCapacity > 2 * payload.readableBytes + 4096 else { return }
        var copy = ByteBufferAllocator().buffer(capacity: payload.readableBytes)
        copy.writeImmutableBuffer(payload)
        payload = copy
    }

    public mutating func receive(_ chunk: consuming DataChunk) -> Outcome {
        // `consuming`: the chunk moves on into the reassembly queue, no copy (the fields
        // needed afterwards are read first).
        let immediate = chunk.dataFlags.contains(.immediate)
        let tsn = chunk.tsn
        let payloadBytes = chunk.payload.readableBytes
        if let early = admit(tsn: tsn, streamIdentifier: chunk.streamIdentifier,
                             payloadBytes: payloadBytes, immediate: immediate) { return early }
        Self.compact(&chunk.payload)
        if holdsForDeferredReset(tsn: tsn, streamIdentifier: chunk.streamIdentifier) {
            // After the reset point on a stream being reset: kept aside until the reset is done.
            guard hold(tsn: tsn, payloadBytes: payloadBytes, immediate: immediate) else {
                return .dropped(.noBufferSpace)
            }
            heldChunks.append(chunk)
            return .accepted
        }
        let result = reassembly.insert(chunk, cumulativeTSN: tracker.cumulativeTSN(afterReceiving: tsn))
        return recordInsertion(result, tsn: tsn, payloadBytes: payloadBytes, immediate: immediate)
    }

    /// The checks before reassembly, common to DATA and I-DATA, in order: no user data;
    /// tracker (duplicate, beyond the TSN window, too many gaps); stream identifier; closed
    /// window. Returns the outcome when the chunk goes no further, `nil` to go on.
    @inline(__always)
    private mutating func admit(tsn: TSN, streamIdentifier: UInt16, payloadBytes: Int, immediate: Bool) -> Outcome? {
        guard payloadBytes > 0 else { return .noUserData }
        switch tracker.classify(tsn) {
        case .duplicate:
            tracker.observe(tsn)
            return .duplicate
        case .beyondWindow:
            tracker.observe(tsn)
            return .dropped(.beyondWindow)
        case .tooManyGaps:
            tracker.observe(tsn)
            return .dropped(.tooManyGaps)
        case .new:
            break
        }
        guard reassembly.isValidStream(streamIdentifier) else {
            tracker.observe(tsn, immediateAck: immediate)
            return .invalidStream
        }
        if advertisedWindow == 0 && tsn > tracker.highestReceivedTSN && !isUnblocking(tsn) {
            tracker.requestImmediateSack()
            return .dropped(.noBufferSpace)
        }
        return nil
    }

    /// Whether a chunk belongs to the held-back part of a deferred stream reset (RFC 6525
    /// §5.2.2 E2): above its point, on a stream it resets.
    @inline(__always)
    private func holdsForDeferredReset(tsn: TSN, streamIdentifier: UInt16) -> Bool {
        guard let deferred = deferredReset, tsn > deferred.lastTSN else { return false }
        return deferred.streams.isEmpty || deferred.streams.contains(streamIdentifier)
    }

    /// Counts a held chunk and records its TSN; false (and a SACK at once) when the held
    /// chunks would exceed the receive buffer.
    private mutating func hold(tsn: TSN, payloadBytes: Int, immediate: Bool) -> Bool {
        guard heldBytes + payloadBytes <= configuration.receiveBufferSize else {
            tracker.requestImmediateSack()
            return false
        }
        heldBytes += payloadBytes
        tracker.observe(tsn, immediateAck: immediate)
        return true
    }

    /// What the reassembly queue's answer means for the tracker and the caller: only a chunk
    /// taken is recorded (a small window asks for an immediate SACK).
    @inline(__always)
    private mutating func recordInsertion(_ result: ReassemblyQueue.InsertResult, tsn: TSN, payloadBytes: Int,
                                          immediate: Bool) -> Outcome {
        switch result {
        case .accepted:
            largestPayload = max(largestPayload, payloadBytes)
            let small = Int(advertisedWindow) < max(configuration.smallWindowThreshold, 2 * largestPayload)
            tracker.observe(tsn, immediateAck: immediate || small)
            return .accepted
        case .noSpace:
            tracker.requestImmediateSack()
            return .dropped(.noBufferSpace)
        case .duplicate:
            return .duplicate
        case .invalidStream:
            return .invalidStream
        }
    }

    /// Whether `tsn`, arriving while the window is closed and above every TSN received,
    /// is the one that data stuck in reassembly waits for.
    ///
    /// A deliberate exception to §6.2's "drop any new DATA above the highest TSN when the
    /// window is 0": with no gaps, everything held for reassembly sits at or below the
    /// cumulative point and waits for exactly `cumulativeTSN + 1` (the rest of a message,
    /// or the fragment that makes a large head message eligible for partial delivery). If
    /// those bytes are what closes the window, refusing that TSN would deadlock the
    /// association. The exception holds only while the application's unread data alone
    /// leaves room in the buffer, and the reassembly memory limit (with its overshoot
    /// allowance) still applies, so memory stays bounded.
    private func isUnblocking(_ tsn: TSN) -> Bool {
        tsn == tracker.cumulativeTSN.next && reassembly.bufferedBytes > 0
            && deliveredUnreadBytes + reassembly.pendingOutputBytes < configuration.receiveBufferSize
    }

    /// Handles a FORWARD TSN (RFC 3758 §3.6): moves the cumulative point, then lets the
    /// reassembly queue drop what was skipped and deliver what it released. A SACK is due
    /// at once either way.
    ///
    /// The stream part applies even when the cumulative point does not move: when every
    /// abandoned chunk had arrived (the first fragment of a message given up before its
    /// others were sent, say) the point already stands at the new cumulative TSN, or past
    /// it, and only the skipped SSN tells the ordered stream to stop waiting for the rest.
    /// That part only ever moves streams forward, so an old FORWARD TSN changes nothing.
    @discardableResult
    public mutating func receive(_ chunk: ForwardTSNChunk) -> DataTracker.ForwardTSNResult {
        let result = tracker.handleForwardTSN(newCumulativeTSN: chunk.newCumulativeTSN)
        if result == .beyondWindow { return result }
        var skipped = chunk.skippedStreams
        if !resetPoints.isEmpty {
            // An old FORWARD TSN, from before a stream reset, skips nothing on the reset streams.
            skipped.removeAll { entry in
                resetPoints.contains { chunk.newCumulativeTSN <= $0.tsn && $0.covers(entry.streamIdentifier) }
            }
        }
        if result == .advanced || !skipped.isEmpty {
            reassembly.handleForwardTSN(newCumulativeTSN: tracker.cumulativeTSN, skippedStreams: skipped)
        }
        return result
    }

    // MARK: - Stream reconfiguration (RFC 6525)

    /// Resets the next expected SSN of incoming streams (all when empty) to 0: every TSN up
    /// to the peer's Sender's Last Assigned TSN has arrived (§5.2.2 E3).
    public mutating func resetIncomingStreams(_ streams: [UInt16], lastTSN: TSN) {
        reassembly.resetStreams(streams)
        StreamResetPoint.record(StreamResetPoint(tsn: lastTSN, streams: streams), in: &resetPoints)
    }

    /// Enters deferred reset processing (§5.2.2 E2): until the cumulative TSN reaches
    /// `lastTSN`, DATA above it on `streams` (all when empty) is held.
    public mutating func deferReset(after lastTSN: TSN, streams: [UInt16]) {
        deferredReset = (lastTSN, streams)
    }

    /// Whether the deferred reset can be done: every TSN up to its last TSN arrived.
    public var isDeferredResetReady: Bool {
        guard let deferred = deferredReset, !isHoldingForAssociationReset else { return false }
        return tracker.cumulativeTSN >= deferred.lastTSN
    }

    /// Performs the deferred reset (§5.2.2 E3, E4): resets the streams, then reassembles the
    /// held chunks in TSN order. Returns the streams reset (empty: all).
    @discardableResult
    public mutating func completeDeferredReset() -> [UInt16] {
        guard let deferred = deferredReset, !isHoldingForAssociationReset else { return [] }
        deferredReset = nil
        resetIncomingStreams(deferred.streams, lastTSN: deferred.lastTSN)
        let (held, heldIData) = takeHeldChunks()
        reassembleHeld(held, heldIData) { _ in true }
        return deferred.streams
    }

    /// Our SSN/TSN Reset Request goes out (RFC 6525 §5.1.4): from now on every DATA and
    /// I-DATA chunk is held (acknowledged, counted in the window) until the answer. The peer
    /// keeps its TSNs going and restarts its SSNs when it performs the reset, so its first
    /// new message may overtake the answer with a TSN that fits the old numbering as well;
    /// only the answer's Sender's Next TSN tells the two apart (``restart(peerNextTSN:now:)``).
    /// Not while a deferred reset of incoming streams waits.
    public mutating func holdForAssociationReset() {
        precondition(deferredReset == nil, "an SSN/TSN reset hold during a deferred reset")
        deferredReset = (tracker.cumulativeTSN, [])
        isHoldingForAssociationReset = true
    }

    /// Our SSN/TSN Reset Request failed or was denied: the held chunks belong to the numbering
    /// that goes on and are reassembled in TSN order.
    public mutating func releaseAssociationResetHold() {
        guard isHoldingForAssociationReset else { return }
        deferredReset = nil
        isHoldingForAssociationReset = false
        let (held, heldIData) = takeHeldChunks()
        reassembleHeld(held, heldIData) { _ in true }
    }

    /// The answer to our SSN/TSN Reset Request names `peerNextTSN`: the held chunks below
    /// it end the old numbering and are reassembled now, before ``restart(peerNextTSN:now:)``.
    public mutating func reassembleHeldChunks(before peerNextTSN: TSN) {
        let (held, heldIData) = takeHeldChunks()
        reassembleHeld(held, heldIData) { $0 < peerNextTSN }
        heldChunks = held.filter { $0.tsn >= peerNextTSN }
        heldIDataChunks = heldIData.filter { $0.tsn >= peerNextTSN }
        heldBytes = heldChunks.reduce(0) { $0 + $1.payload.readableBytes }
            + heldIDataChunks.reduce(0) { $0 + $1.payload.readableBytes }
    }

    /// The held chunks in TSN order; the hold is emptied.
    private mutating func takeHeldChunks() -> ([DataChunk], [IDataChunk]) {
        let held = (heldChunks.sorted { $0.tsn < $1.tsn }, heldIDataChunks.sorted { $0.tsn < $1.tsn })
        heldChunks = []
        heldIDataChunks = []
        heldBytes = 0
        return held
    }

    /// Reassembles the held chunks `including` accepts. Already acknowledged: taken whatever
    /// the memory limit (the window counted them).
    private mutating func reassembleHeld(_ held: [DataChunk], _ heldIData: [IDataChunk], including: (TSN) -> Bool) {
        for chunk in held where including(chunk.tsn) {
            _ = reassembly.insert(chunk, cumulativeTSN: tracker.cumulativeTSN, ignoringMemoryLimit: true)
        }
        for chunk in heldIData where including(chunk.tsn) {
            _ = reassembly.insert(chunk, cumulativeTSN: tracker.cumulativeTSN, ignoringMemoryLimit: true)
        }
    }

    /// The peer added streams (RFC 6525 Add Outgoing Streams).
    public mutating func setInboundStreamCount(_ count: UInt16) {
        reassembly.setInboundStreamCount(count)
    }

    /// An SSN/TSN reset (RFC 6525 §5.2.4 G4, G5, or the requester's side): the peer's next
    /// DATA carries `peerNextTSN`; everything held for reassembly is dropped and every stream
    /// expects SSN 0. Messages already handed out stay counted until read. Returns the
    /// streams whose partial delivery was cut short.
    ///
    /// Chunks held for our own request (``holdForAssociationReset()``) are sorted by the
    /// answer: those below `peerNextTSN` end the old numbering (reassembled before the
    /// restart; ``reassembleHeldChunks(before:)`` lets their messages be delivered first),
    /// the others start the new one (recorded and reassembled after it; `now` ends that
    /// recording as a packet's would).
    public mutating func restart(peerNextTSN: TSN, now: SCTPInstant) -> [UInt16] {
        reassembleHeldChunks(before: peerNextTSN)
        let (held, heldIData) = takeHeldChunks()
        var aborted: [UInt16] = []
        for id in (0..<reassembly.inboundStreamCount) where reassembly.isPartialDeliveryInProgress(onStream: id) {
            aborted.append(id)
        }
        let pending = reassembly.drainOutputs()
        tracker = DataTracker(peerInitialTSN: peerNextTSN, configuration: configuration.tracker)
        reassembly = ReassemblyQueue(inboundStreamCount: reassembly.inboundStreamCount, configuration: configuration.reassembly)
        reassembly.restoreOutputs(pending)
        deferredReset = nil
        isHoldingForAssociationReset = false
        resetPoints = []
        var recorded: Set<TSN> = []
        for tsn in (held.map(\.tsn) + heldIData.map(\.tsn)) where tsn >= peerNextTSN && tracker.classify(tsn) == .new {
            tracker.observe(tsn)
            recorded.insert(tsn)
        }
        reassembleHeld(held, heldIData) { recorded.contains($0) }
        if !recorded.isEmpty { tracker.packetProcessed(now: now) }
        return aborted
    }

    /// Ends the processing of one received packet (see ``DataTracker/packetProcessed(now:)``).
    public mutating func packetProcessed(now: SCTPInstant) { tracker.packetProcessed(now: now) }

    // MARK: - SACK

    /// Whether a SACK should be sent at `now`.
    public func isSackDue(at now: SCTPInstant) -> Bool { tracker.isSackDue(at: now) }

    /// The delayed-SACK deadline, if a SACK is pending but not yet due.
    public var sackDeadline: SCTPInstant? { tracker.sackDeadline }

    /// Whether something arrived that no SACK has acknowledged (a SACK may be bundled).
    public var isSackOwed: Bool { tracker.isSackOwed }

    /// Asks for a SACK at once (SHUTDOWN-SENT, §9.2).
    public mutating func requestImmediateSack() { tracker.requestImmediateSack() }

    /// The SACK ``takeSack()`` would return now, changing nothing: for a SACK that must be
    /// placed ahead of DATA before it is known whether the packet goes out at all. Record it
    /// with ``sackSent(_:)`` if it does.
    public func peekSack() -> SackChunk {
        tracker.makeSack(advertisedReceiverWindowCredit: advertisedWindow)
    }

    /// Records that `sack`, from ``peekSack()`` with no input since, went out.
    public mutating func sackSent(_ sack: SackChunk) {
        lastAdvertisedWindow = sack.advertisedReceiverWindowCredit
        tracker.sackSent()
    }

    /// The SACK to send now, with the current a_rwnd; resets the SACK state as
    /// ``DataTracker/sackSent()`` does. Call it when the SACK goes into a packet.
    public mutating func takeSack() -> SackChunk {
        let window = advertisedWindow
        lastAdvertisedWindow = window
        let sack = tracker.makeSack(advertisedReceiverWindowCredit: window)
        tracker.sackSent()
        return sack
    }

    // MARK: - Output

    /// The next message, piece or event for the application. The bytes of a message
    /// count as delivered-but-unread until ``consumed(bytes:)``.
    public mutating func poll() -> ReassemblyOutput? {
        guard let output = reassembly.poll() else { return nil }
        if case .message(let message) = output { deliveredUnreadBytes += message.payload.readableBytes }
        return output
    }

    /// Changes the delayed-SACK timing (`SCTP_DELAYED_SACK` on a live association; see
    /// `DataTracker.setDelayedSack`).
    public mutating func setDelayedSack(timeout: Duration, packetsPerSack: Int, now: SCTPInstant) {
        tracker.setDelayedSack(timeout: timeout, packetsPerSack: packetsPerSack, now: now)
    }

    /// The application read `bytes` of delivered data. When the window has grown by
    /// ``Configuration/windowUpdateThreshold`` since the last SACK, a SACK is due at once
    /// to tell the peer.
    public mutating func consumed(bytes: Int) {
        deliveredUnreadBytes = max(0, deliveredUnreadBytes - max(bytes, 0))
        let window = advertisedWindow
        guard window > lastAdvertisedWindow else { return }
        let increase = Int(window - lastAdvertisedWindow)
        let stalled = Int(lastAdvertisedWindow) < configuration.windowUpdateThreshold
        if increase >= configuration.windowUpdateThreshold || (stalled && increase >= configuration.windowUpdateMinimum) {
            tracker.requestImmediateSack()
        }
    }

    // MARK: Test hooks (the setters are private to this file)

    #if DEBUG
    /// Test hook: hands a chunk to the reassembly queue without recording its TSN in the
    /// tracker.
    mutating func insertUntrackedForTesting(_ chunk: DataChunk) {
        reassembly.insert(chunk, cumulativeTSN: tracker.cumulativeTSN)
    }
    #endif
}

// MARK: - I-DATA (RFC 8260 §2)

extension DataReceiver {
    /// Handles one I-DATA chunk of a packet: the same checks, in the same order, as for DATA
    /// (`receive(_:)`), with reassembly by (stream, U flag, MID) and FSN.
    public mutating func receive(_ chunk: IDataChunk) -> Outcome {
        let immediate = chunk.dataFlags.contains(.immediate)
        if let early = admit(tsn: chunk.tsn, streamIdentifier: chunk.streamIdentifier,
                             payloadBytes: chunk.payload.readableBytes, immediate: immediate) { return early }
        if holdsForDeferredReset(tsn: chunk.tsn, streamIdentifier: chunk.streamIdentifier) {
            // After the reset point on a stream being reset (RFC 6525 §5.2.2 E2): kept aside.
            var kept = chunk
            Self.compact(&kept.payload)
            guard hold(tsn: kept.tsn, payloadBytes: kept.payload.readableBytes, immediate: immediate) else {
                return .dropped(.noBufferSpace)
            }
            heldIDataChunks.append(kept)
            return .accepted
        }
        let result = reassembly.insert(chunk, cumulativeTSN: tracker.cumulativeTSN(afterReceiving: chunk.tsn))
        return recordInsertion(result, tsn: chunk.tsn, payloadBytes: chunk.payload.readableBytes, immediate: immediate)
    }

    /// Handles an I-FORWARD-TSN (RFC 8260 §2.3.2): moves the cumulative point, then drops the
    /// skipped messages and delivers what they held back. A SACK is due at once either way.
    @discardableResult
    public mutating func receive(_ chunk: IForwardTSNChunk) -> DataTracker.ForwardTSNResult {
        let result = tracker.handleForwardTSN(newCumulativeTSN: chunk.newCumulativeTSN)
        if result == .beyondWindow { return result }
        var skipped = chunk.skippedMessages
        if !resetPoints.isEmpty {
            // An old I-FORWARD-TSN, from before a stream reset, skips nothing on the reset streams.
            skipped.removeAll { entry in
                resetPoints.contains { chunk.newCumulativeTSN <= $0.tsn && $0.covers(entry.streamIdentifier) }
            }
        }
        if !skipped.isEmpty {
            reassembly.handleIForwardTSN(newCumulativeTSN: tracker.cumulativeTSN, skippedMessages: skipped)
        }
        return result
    }
}
