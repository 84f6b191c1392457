import SCTPWire

/// The size a DATA chunk with this much user data takes in a packet: header, payload and
/// padding to 4 bytes (the size RFC 9260 §7.2 counts in cwnd and flight sizes).
@inline(__always)
public func dataChunkWireSize(payloadBytes: Int) -> Int { (DataChunk.headerSize + payloadBytes + 3) & ~3 }

/// A DATA chunk that was sent and is not yet cumulatively acknowledged.
public struct OutstandingChunk: Sendable {
    /// Where the chunk stands.
    enum State: UInt8, Sendable {
        /// Sent and not acknowledged: counted in its path's flight size.
        case inFlight
        /// Acknowledged by a Gap Ack Block (advisory, §7.1): not in flight.
        case gapAcked
        /// Lost (T3-rtx or Fast Retransmit): waits to be sent again, not in flight (§1.3).
        case markedForRetransmission
        /// Given up (PR-SCTP, RFC 3758): never sent again, not in flight; the peer is told to
        /// skip it with FORWARD TSN.
        case abandoned
    }

    /// The chunk as sent (its payload is a slice of the user's message).
    public internal(set) var chunk: DataChunk
    /// The path it was last sent on.
    public internal(set) var path: PathID
    /// When it was last sent.
    public internal(set) var sentAt: SCTPInstant
    var transmissions: UInt16
    var misses: UInt8
    /// It was fast retransmitted at least once (it may be again when that retransmission
    /// is missed in turn: `OutstandingData.handleSack`).
    public internal(set) var wasFastRetransmitted = false
    var state: State = .inFlight
    /// Acknowledged by a non-renegable Gap Ack Block (NR-SACK): the peer keeps it for good,
    /// so it is never taken back into flight.
    public internal(set) var isNonRenegable = false
    /// Its payload was released: every chunk of its message still held is non-renegable.
    public internal(set) var isPayloadReleased = false
    /// The number of the SACK that last acknowledged it (renege detection).
    var ackStamp: UInt32 = 0
    /// PR-SCTP: when its message's lifetime ends, and how often it may be retransmitted.
    var expiry: SCTPInstant?
    var maxRetransmissions: Int?
    /// The highest TSN sent when it was last sent: its own TSN for the original
    /// transmission, the highest TSN sent so far for a retransmission. Only a SACK newly
    /// acknowledging a TSN above it, that is, one sent after this chunk, counts a miss against
    /// it: §7.2.4's HTNA rule applied in sending order (FreeBSD's stack, and so usrsctp,
    /// does the same for fast retransmissions with `fast_retran_tsn`). A retransmission
    /// overtaken by SACKs for newer TSNs that left before it is not missing.
    var strikeFloor: TSN
    /// The message's context (`OutgoingMessage.context`), for send-failed reports.
    var context: UInt32
    /// The chunk goes out as I-DATA (RFC 8260) with this MID and FSN (`chunk.ssn` unused).
    public internal(set) var isInterleaved = false
    public internal(set) var mid = MID(0)
    public internal(set) var fsn: UInt32 = 0

    init(chunk: consuming DataChunk, path: PathID, sentAt: SCTPInstant, expiry: SCTPInstant? = nil, maxRetransmissions: Int? = nil,
         context: UInt32 = 0) {
        strikeFloor = chunk.tsn
        self.chunk = chunk
        self.path = path
        self.sentAt = sentAt
        self.expiry = expiry
        self.maxRetransmissions = maxRetransmissions
        self.context = context
        transmissions = 1
        misses = 0
    }

    /// Whether PR-SCTP gives it up rather than send it again at `now`.
    func isAbandonable(now: SCTPInstant) -> Bool {
        if let expiry, expiry <= now { return true }
        if let maxRetransmissions, Int(transmissions) > maxRetransmissions { return true }
        return false
    }

    /// Given up (PR-SCTP).
    public var isAbandoned: Bool { state == .abandoned }

    /// Its TSN.
    public var tsn: TSN { chunk.tsn }
    /// How many times it was sent: 1 for the original transmission only.
    public var transmissionCount: Int { Int(transmissions) }
    /// Miss indications counted towards Fast Retransmit (§7.2.4).
    public var missIndications: Int { Int(misses) }
    /// Acknowledged by a Gap Ack Block of the latest SACK.
    public var isGapAcked: Bool { state == .gapAcked }
    /// Waiting to be retransmitted.
    public var isMarkedForRetransmission: Bool { state == .markedForRetransmission }
    /// Counted in its path's flight size.
    public var isInFlight: Bool { state == .inFlight }
    /// Its size with header and padding.
    public var wireSize: Int {
        dataChunkWireSize(payloadBytes: chunk.payload.readableBytes) &+ (isInterleaved ? IDataChunk.headerSize - DataChunk.headerSize : 0)
    }
}
