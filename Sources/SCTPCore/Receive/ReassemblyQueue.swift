import DequeModule
import NIOCore
import SCTPWire

/// Turns accepted DATA chunks into user messages (RFC 9260 §6.5, §6.6, §6.9; RFC 3758
/// §3.6; partial delivery as in RFC 6458 §8.1.21).
///
/// - Fragments of a message (consecutive TSNs from B to E) are joined with one copy; a
///   whole message in one chunk is handed out as the chunk's payload slice, no copy.
/// - Ordered messages leave in SSN order per stream (next expected SSN per stream,
///   wrapping); unordered ones as soon as they are complete.
/// - Buffered payload bytes are counted against ``Configuration/memoryLimit``; a chunk
///   that does not fit is refused (``InsertResult/noSpace``) unless it is the one that
///   fills the cumulative TSN ack point (see ``canAccept(payloadBytes:fillsCumulativeTSN:)``).
/// - Partial delivery: the head of a stream whose buffered bytes reach
///   ``Configuration/partialDeliveryPoint``, or any deliverable head while memory is
///   exhausted, is handed out in pieces (``ReceivedMessage/isComplete`` `false`) until E.
/// - Streams cost nothing until used: per-stream state lives in a `ReceiveStreamTable`
///   keyed by stream identifier (the last stream used found with one comparison). A stream
///   that holds nothing keeps only its next SSN (`ReceiveStreamEntry`, 16 bytes), and none
///   at all while that is 0; its reassembler and queues exist only while it holds something.
///   A peer naming many streams (DATA, FORWARD TSN) makes at most one small entry per
///   inbound stream; everything larger is payload counted against the memory limit.
///
/// Results are polled with ``poll()``, in the order they were produced.
public struct ReassemblyQueue: Sendable {
    /// Memory limits and the partial delivery point.
    public struct Configuration: Hashable, Sendable {
        /// The most payload bytes held for reassembly and ordering.
        public var memoryLimit: Int
        /// How far beyond ``memoryLimit`` a chunk that fills the cumulative TSN ack point
        /// may still be taken. Such a chunk is always deliverable at once (it continues or
        /// starts a deliverable message), so the overshoot is returned immediately with an
        /// honest peer; the allowance only bounds what a misbehaving one can make us hold.
        /// The default covers one chunk of the largest size.
        public var overshootAllowance: Int
        /// When the buffered bytes of a stream's deliverable but incomplete head message
        /// reach this, its fragments are handed out as pieces (SCTP_PARTIAL_DELIVERY_POINT).
        /// Partial delivery also starts, whatever the size, while memory is exhausted.
        public var partialDeliveryPoint: Int
        /// What each held fragment counts against ``memoryLimit`` beyond its payload: what
        /// holding it costs (its queue slot, its buffer's header and allocation), so that a
        /// peer sending 1-byte fragments (or 1-byte ordered messages behind a missing one)
        /// cannot make us hold a hundred times the limit. The advertised window still counts
        /// payload only (RFC 9260 §6.2); a chunk refused for the charge is dropped unacknowledged,
        /// as one refused for its bytes.
        public var fragmentOverhead: Int

        /// Defaults: 4 MiB memory, partial delivery from half of it (as usrsctp does with
        /// its receive buffer), 128 bytes charged per held fragment.
        public init(memoryLimit: Int = 4 << 20, partialDeliveryPoint: Int? = nil, overshootAllowance: Int = 65_536,
                    fragmentOverhead: Int = 128) {
            self.memoryLimit = max(memoryLimit, 1)
            self.partialDeliveryPoint = max(partialDeliveryPoint ?? self.memoryLimit / 2, 1)
            self.overshootAllowance = max(overshootAllowance, 0)
            self.fragmentOverhead = max(fragmentOverhead, 0)
        }
    }

    /// What became of an inserted chunk.
    public enum InsertResult: Hashable, Sendable {
        /// Taken (buffered, or delivered at once).
        case accepted
        /// A fragment with this TSN is already held; nothing changed.
        case duplicate
        /// No room under the memory limit; nothing changed. The association drops the
        /// chunk without acknowledging it (§6.2) and SACKs at once.
        case noSpace
        /// The stream identifier is not below the inbound stream count; nothing changed.
        /// The association acknowledges the TSN and sends an ERROR with Invalid Stream
        /// Identifier (§6.5).
        case invalidStream
    }

    /// The limits given at creation.
    public let configuration: Configuration
    /// The number of inbound streams negotiated (the peer's OS, capped by our MIS).
    public private(set) var inboundStreamCount: UInt16
    var streams = ReceiveStreamTable<ReceiveStreamEntry<StreamReassembler>>()
    /// The streams of an I-DATA association (RFC 8260), `InterleavedReassembler.swift`.
    var interleavedStreams = ReceiveStreamTable<ReceiveStreamEntry<InterleavedStreamReassembler>>()
    /// The storage of the last stream that stopped holding anything, emptied, for the next
    /// one that starts (one allocation less per fragmented message).
    var spareStorage: ReceiveStreamStorage<StreamReassembler>?
    var spareInterleavedStorage: ReceiveStreamStorage<InterleavedStreamReassembler>?
    var sink: ReassemblySink

    /// An empty queue for `inboundStreamCount` streams.
    public init(inboundStreamCount: UInt16, configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.inboundStreamCount = inboundStreamCount
        self.sink = ReassemblySink(memoryLimit: configuration.memoryLimit,
                                 partialDeliveryPoint: configuration.partialDeliveryPoint,
                                 fragmentOverhead: configuration.fragmentOverhead)
    }

    // MARK: - Checks

    /// Whether DATA on `streamIdentifier` is allowed (below the inbound stream count).
    /// When it is not, the association sends an ERROR with Invalid Stream Identifier.
    @inline(__always)
    public func isValidStream(_ streamIdentifier: UInt16) -> Bool { streamIdentifier < inboundStreamCount }

    /// Payload bytes now held (fragments and messages waiting for order), not counting
    /// what was handed out.
    @inline(__always) public var bufferedBytes: Int { sink.bufferedBytes }

    /// Whether a chunk with `payloadBytes` of payload would be taken now.
    ///
    /// Below the memory limit, always. Above it, only the chunk whose TSN fills the
    /// cumulative TSN ack point (`fillsCumulativeTSN`), up to
    /// ``Configuration/overshootAllowance``: RFC 9260 §6.2 would have us renege (drop the
    /// highest out-of-order TSN held) to make room for a lower one; we do not renege,
    /// but this one chunk is always deliverable right away, so accepting it guarantees
    /// progress when the buffer is full of out-of-order data, without unbounded growth.
    /// Each fragment counts ``Configuration/fragmentOverhead`` beyond its payload.
    public func canAccept(payloadBytes: Int, fillsCumulativeTSN: Bool) -> Bool {
        let after = sink.chargedBytes + payloadBytes + configuration.fragmentOverhead
        if after <= configuration.memoryLimit { return true }
        return fillsCumulativeTSN && after <= configuration.memoryLimit + configuration.overshootAllowance
    }

    // MARK: - Input

    /// Takes a DATA chunk the data tracker found new.
    ///
    /// `cumulativeTSN` is the tracker's cumulative TSN ack point as it will be once this
    /// chunk is recorded (``DataTracker/cumulativeTSN(afterReceiving:)``): the chunk fills
    /// the point when its TSN is at or below it (which matters for the memory limit), and
    /// only messages whose first TSN is at or below it may start a partial delivery (so
    /// that their next fragment, always the next TSN the association needs, is never
    /// refused). Record the chunk in the tracker only if this returns `.accepted`.
    @discardableResult
    public mutating func insert(_ chunk: consuming DataChunk, cumulativeTSN: TSN, ignoringMemoryLimit: Bool = false) -> InsertResult {
        let streamIdentifier = chunk.streamIdentifier
        guard isValidStream(streamIdentifier) else { return .invalidStream }
        let fills = chunk.tsn <= cumulativeTSN
        guard ignoringMemoryLimit || canAccept(payloadBytes: chunk.payload.readableBytes, fillsCumulativeTSN: fills) else {
            return .noSpace
        }
        let flags = chunk.dataFlags
        let found = streams.locate(streamIdentifier)
        if flags.contains(.beginning) && flags.contains(.ending) {
            // Fast path: a whole message on a stream that holds nothing goes out at once, no
            // copy, and only an ordered one changes the stream's state (its next SSN).
            if flags.contains(.unordered) {
                if found.map({ streams[position: $0].storage == nil }) ?? true {
                    sink.deliverDirect(ReassemblyFragment(chunk), stream: streamIdentifier, isUnordered: true)
                    return .accepted
                }
            } else if let found {
                if streams.takeInOrder(at: found, UInt32(chunk.ssn.rawValue), mask: 0xFFFF) {
                    sink.deliverDirect(ReassemblyFragment(chunk), stream: streamIdentifier, isUnordered: false)
                    return .accepted
                }
            } else if chunk.ssn == SSN(0) {
                _ = streams.append(streamIdentifier, ReceiveStreamEntry(idleNext: 1, storage: nil))
                sink.deliverDirect(ReassemblyFragment(chunk), stream: streamIdentifier, isUnordered: false)
                return .accepted
            }
        }
        let position = found ?? streams.append(streamIdentifier, ReceiveStreamEntry(idleNext: 0, storage: nil))
        // No reference to the storage outlives the change: `releaseIfIdle` keeps it as the
        // spare only when the entry held the last one.
        let result = streams.uniqueStorage(at: position, id: streamIdentifier, spare: &spareStorage)
            .reassembler.insert(ReassemblyFragment(chunk), cumulativeTSN: cumulativeTSN, sink: &sink)
        streams.releaseIfIdle(at: position, spare: &spareStorage)
        return result
    }

    /// Applies a FORWARD TSN (RFC 3758 §3.6) after the tracker has: drops every held
    /// message that misses a TSN at or below `newCumulativeTSN`; for each listed stream,
    /// hands out complete messages with SSN up to the listed one, drops incomplete ones,
    /// and expects the SSN after it; aborts a partial delivery whose rest was skipped
    /// (``ReassemblyOutput/partialDeliveryAborted(_:)``); then delivers what became
    /// deliverable. Entries for invalid streams are ignored.
    public mutating func handleForwardTSN(newCumulativeTSN: TSN, skippedStreams: [ForwardTSNChunk.SkippedStream]) {
        var listed: [UInt16: SSN] = [:]
        for entry in skippedStreams where isValidStream(entry.streamIdentifier) {
            if let old = listed[entry.streamIdentifier], entry.ssn <= old { continue }
            listed[entry.streamIdentifier] = entry.ssn
        }
        // Streams that hold something, in id order so that what is delivered comes out in the
        // same order on every run.
        var work: [UInt16] = []
        for (id, entry) in streams where entry.storage != nil { work.append(id) }
        work.sort()
        for id in work {
            guard let position = streams.locate(id) else { continue }
            streams.uniqueStorage(at: position, id: id, spare: &spareStorage)
                .reassembler.forward(to: newCumulativeTSN, skippedSSN: listed[id], sink: &sink)
            streams.releaseIfIdle(at: position, spare: &spareStorage)
        }
        // Listed streams that hold nothing: only the next SSN moves (what `forward` does to an
        // idle stream), and no reassembler is made for them.
        for (id, skip) in listed {
            if let position = streams.locate(id), streams[position: position].storage != nil { continue }
            if SSN(UInt16(truncatingIfNeeded: streams.next(of: id))) <= skip {
                streams.setIdleNext(UInt32(skip.next.rawValue), of: id)
            }
        }
    }

    // MARK: - Output

    /// The next message, piece or event, in the order produced.
    public mutating func poll() -> ReassemblyOutput? { sink.pop() }

    /// Takes the outputs waiting to be polled (to carry them over to a new queue).
    mutating func drainOutputs() -> (outputs: [ReassemblyOutput], bytes: Int) {
        let taken = (Array(sink.output), sink.outputBytes)
        sink.output.removeAll()
        sink.outputBytes = 0
        return taken
    }

    /// Puts back outputs taken with `drainOutputs()`, ahead of any new one.
    mutating func restoreOutputs(_ taken: (outputs: [ReassemblyOutput], bytes: Int)) {
        sink.output.insert(contentsOf: taken.outputs, at: 0)
        sink.outputBytes += taken.bytes
    }

    /// How many outputs are waiting to be polled.
    public var pendingOutputCount: Int { sink.output.count }

    /// Payload bytes of the messages waiting to be polled (they still occupy the receive
    /// buffer, so the window counts them).
    @inline(__always) public var pendingOutputBytes: Int { sink.outputBytes }

    // MARK: - Stream changes

    /// The peer added inbound streams (RFC 6525 Add Incoming Streams) or the count was
    /// renegotiated.
    public mutating func setInboundStreamCount(_ count: UInt16) { inboundStreamCount = count }

    /// Resets the next expected SSN of `streamIdentifiers` (all streams when empty) to 0
    /// (RFC 6525 §5.2.2, once the association knows every TSN before the reset has
    /// arrived).
    public mutating func resetStreams(_ streamIdentifiers: [UInt16]) {
        streams.restartNumbering(of: streamIdentifiers, spare: &spareStorage)
        interleavedStreams.restartNumbering(of: streamIdentifiers, spare: &spareInterleavedStorage)
    }

    /// The next SSN expected on an ordered stream (0 for a stream never used).
    public func nextExpectedSSN(onStream streamIdentifier: UInt16) -> SSN {
        SSN(UInt16(truncatingIfNeeded: streams.next(of: streamIdentifier)))
    }

    /// Whether a message of the stream is being delivered in pieces.
    public func isPartialDeliveryInProgress(onStream streamIdentifier: UInt16) -> Bool {
        streams[streamIdentifier]?.storage?.reassembler.partial != nil
    }

    /// How many streams have an entry (DATA and I-DATA): those whose next SSN or MID is not 0
    /// or that hold something. At most the inbound stream count.
    package var streamEntryCount: Int { streams.count + interleavedStreams.count }

    /// How many streams hold something and so have a reassembler with its queues (DATA and
    /// I-DATA); the others keep their next SSN or MID alone.
    package var streamReassemblerCount: Int {
        streams.reduce(0) { $0 + ($1.value.storage == nil ? 0 : 1) }
            + interleavedStreams.reduce(0) { $0 + ($1.value.storage == nil ? 0 : 1) }
    }

    #if DEBUG
    /// Test hook: sets the next SSN expected on a stream that holds nothing.
    mutating func setNextExpectedSSNForTesting(_ ssn: SSN, onStream id: UInt16) {
        streams.setIdleNext(UInt32(ssn.rawValue), of: id)
    }
    #endif
}
