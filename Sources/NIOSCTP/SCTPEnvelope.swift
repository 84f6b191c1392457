import NIOCore
import SCTP
import SCTPCore

/// One SCTP message through a channel: what `channelRead` gives an SCTP channel's handlers
/// and what they write to it (the channel's `InboundIn` and `OutboundOut`).
///
/// Inbound, every field describes the message as it arrived (`recvmsg` with its receive
/// info). Outbound, the fields are the send info of `sendmsg`: the stream, the PPID, the
/// flags (`SCTPSendFlags`: unordered, SACK immediately, end of file, abort, send to all,
/// address override), partial reliability, the context a send-failed notification carries,
/// and, on a one-to-many channel, the association it goes to (`associationID`) or the peer
/// address that names it (`remoteAddress`; a new association is set up to an address with
/// none, as `sendmsg` does).
public struct SCTPEnvelope: Sendable {
    /// The message's bytes.
    public var data: ByteBuffer
    /// The stream it travels on.
    public var stream: UInt16
    /// The payload protocol identifier (PPID), in host byte order.
    public var payloadProtocolIdentifier: UInt32
    /// Inbound: `.unordered` when it was sent unordered. Outbound: the send flags.
    public var flags: SCTPSendFlags
    /// The association: inbound, the one the message came on; outbound, on a one-to-many
    /// channel, the one to send on (ignored on one-to-one channels).
    public var associationID: AssociationID?
    /// Inbound: the peer address the association sends to (its primary path), with the
    /// peer's port. Outbound: on a one-to-many channel without `associationID`, the peer
    /// the message goes to; with `.addressOverride`, the peer address to send it to.
    public var remoteAddress: SocketAddress?
    /// Inbound: this read ends the message (`MSG_EOR`). A message is delivered whole unless
    /// the stack had to hand over part of it early (partial delivery of a message larger
    /// than the receive window); the pieces then arrive in order, the last one complete.
    /// Outbound: ignored (every write is a whole message).
    public var isComplete: Bool
    /// Outbound: `SCTP_PRINFO`, when the message may be given up (PR-SCTP).
    public var partialReliability: PartialReliability
    /// Outbound: the value a send-failed notification about this message carries.
    public var context: UInt32
    /// Inbound: the stream sequence number (meaningless for unordered messages).
    public var streamSequenceNumber: UInt16
    /// Inbound: the TSN of the message's first fragment.
    public var tsn: UInt32

    /// A message to send, or one that arrived.
    public init(data: ByteBuffer, stream: UInt16 = 0, payloadProtocolIdentifier: UInt32 = 0, flags: SCTPSendFlags = [],
                associationID: AssociationID? = nil, remoteAddress: SocketAddress? = nil, isComplete: Bool = true,
                partialReliability: PartialReliability = .reliable, context: UInt32 = 0,
                streamSequenceNumber: UInt16 = 0, tsn: UInt32 = 0) {
        self.data = data
        self.stream = stream
        self.payloadProtocolIdentifier = payloadProtocolIdentifier
        self.flags = flags
        self.associationID = associationID
        self.remoteAddress = remoteAddress
        self.isComplete = isComplete
        self.partialReliability = partialReliability
        self.context = context
        self.streamSequenceNumber = streamSequenceNumber
        self.tsn = tsn
    }

    /// An envelope for a message read from a socket.
    init(_ message: SCTPMessage, remoteAddress: SocketAddress?) {
        self.init(data: message.data, stream: message.info.stream, payloadProtocolIdentifier: message.info.payloadProtocolIdentifier,
                  flags: message.info.isUnordered ? .unordered : [], associationID: message.info.associationID,
                  remoteAddress: remoteAddress, isComplete: message.isEndOfRecord,
                  streamSequenceNumber: message.info.streamSequenceNumber, tsn: message.info.tsn)
    }

    /// The send info `sendmsg` takes for this message.
    var sendInfo: SCTPSendInfo {
        SCTPSendInfo(stream: stream, payloadProtocolIdentifier: payloadProtocolIdentifier, flags: flags, context: context,
                     associationID: associationID, partialReliability: partialReliability)
    }
}

/// An outbound user event for `bind` and `connect` with several addresses, which NIO's
/// `bind(to:)` and `connect(to:)` cannot express: `.bind` binds all of them (they share one
/// port, as with `sctp_bindx`), `.connect` sets up an association with `sctp_connectx`
/// semantics (INIT to the first, then round robin over them). The bootstraps send it when
/// given more than one address; `channel.triggerUserOutboundEvent(_:)` sends it directly.
public enum SCTPMultihomingRequest: Sendable {
    /// Binds to these local addresses (one port; 0 picks a free one).
    case bind([SocketAddress])
    /// Connects to a peer reachable at these addresses (one port).
    case connect([SocketAddress])
}
