import NIOCore
import SCTPWire

/// A user message (or one piece of a partially delivered message) ready for the
/// application, produced by ``ReassemblyQueue``.
///
/// A message that arrived in one DATA chunk (B and E bits) carries the chunk's payload
/// slice itself, without a copy; a message assembled from several fragments carries one
/// freshly allocated buffer holding the fragments' bytes in order.
///
/// Partial delivery (RFC 6458 §8.1.21): a message too large to hold until it is complete
/// is handed out in pieces, each with `isComplete == false` except the last, which has
/// `isComplete == true` (like `MSG_EOR`). Pieces of one message are never interleaved with
/// other messages *of the same stream*; pieces of different streams may interleave.
public struct ReceivedMessage: Hashable, Sendable {
    /// The stream the message arrived on.
    public var streamIdentifier: UInt16
    /// The payload protocol identifier of the message's first fragment.
    public var payloadProtocolIdentifier: UInt32
    /// Whether the message was sent unordered (U bit).
    public var isUnordered: Bool
    /// The stream sequence number (meaningless for unordered messages, reported as received).
    public var ssn: SSN
    /// The TSN of the first fragment in `payload`.
    public var firstTSN: TSN
    /// The TSN of the last fragment in `payload`.
    public var lastTSN: TSN
    /// The user data.
    public var payload: ByteBuffer
    /// `true` when this value ends its message: a whole message, or the last piece of a
    /// partial delivery. `false` for the earlier pieces of a partial delivery.
    public var isComplete: Bool

    /// A message or piece with every field given.
    public init(streamIdentifier: UInt16, payloadProtocolIdentifier: UInt32, isUnordered: Bool,
                ssn: SSN, firstTSN: TSN, lastTSN: TSN, payload: ByteBuffer, isComplete: Bool = true) {
        self.streamIdentifier = streamIdentifier
        self.payloadProtocolIdentifier = payloadProtocolIdentifier
        self.isUnordered = isUnordered
        self.ssn = ssn
        self.firstTSN = firstTSN
        self.lastTSN = lastTSN
        self.payload = payload
        self.isComplete = isComplete
    }
}

/// The partial delivery of a message was abandoned: the peer's FORWARD TSN skipped the
/// rest of it (RFC 3758 §3.6), so the pieces already handed out never get an end.
/// The API layer reports this as `SCTP_PARTIAL_DELIVERY_ABORTED` (RFC 6458 §6.1.7).
public struct PartialDeliveryAbort: Hashable, Sendable {
    /// The stream of the abandoned message.
    public var streamIdentifier: UInt16
    /// Whether the abandoned message was unordered.
    public var isUnordered: Bool
    /// Its stream sequence number (as received, for an unordered one).
    public var ssn: SSN

    /// The abort of the partial delivery of one message.
    public init(streamIdentifier: UInt16, isUnordered: Bool, ssn: SSN) {
        self.streamIdentifier = streamIdentifier
        self.isUnordered = isUnordered
        self.ssn = ssn
    }
}

/// What the reassembly queue hands out, in order.
public enum ReassemblyOutput: Hashable, Sendable {
    /// A message, or a piece of one (see ``ReceivedMessage/isComplete``).
    case message(ReceivedMessage)
    /// A partial delivery ended without its last piece.
    case partialDeliveryAborted(PartialDeliveryAbort)
}
