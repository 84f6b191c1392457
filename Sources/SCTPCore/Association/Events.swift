import NIOCore
import SCTPWire

/// The reachability state of a peer address (RFC 9260 §8.2, RFC 7829).
public enum PathState: Hashable, Sendable {
    /// Reachable; used for data.
    case active
    /// Errors reached Path.PF.Max.Retrans (RFC 7829): avoided for data, still probed.
    case potentiallyFailed
    /// Errors exceeded Path.Max.Retrans: not used until a heartbeat is answered.
    case inactive
    /// Not confirmed yet (an address the peer listed that we have not reached).
    case unconfirmed
}

/// Something the user of the core must learn about (RFC 6458 §6.1 notifications, and data).
public enum SCTPEvent: Sendable {
    /// The association is up (`SCTP_COMM_UP`), with the negotiated stream counts.
    case communicationUp(AssociationID, outboundStreams: UInt16, inboundStreams: UInt16)
    /// The association could not be set up (`SCTP_CANT_STR_ASSOC`).
    case cannotStart(AssociationID, ConnectFailure)
    /// The association was lost (`SCTP_COMM_LOST`).
    case communicationLost(AssociationID, LossReason)
    /// The peer restarted the association (`SCTP_RESTART`).
    case restart(AssociationID)
    /// A graceful shutdown finished (`SCTP_SHUTDOWN_COMP`).
    case shutdownComplete(AssociationID)
    /// The peer started a graceful shutdown (`SCTP_SHUTDOWN_EVENT`).
    case peerShutdown(AssociationID)
    /// A peer address changed state (`SCTP_PEER_ADDR_CHANGE`).
    case peerAddressChange(AssociationID, IPAddress, PathState)
    /// The peer added or deleted one of its addresses, or asked us to make one our primary
    /// (RFC 5061; `SCTP_PEER_ADDR_CHANGE` with `SCTP_ADDR_ADDED`, `SCTP_ADDR_REMOVED`,
    /// `SCTP_ADDR_MADE_PRIM`).
    case peerAddressReconfigured(AssociationID, IPAddress, PeerAddressReconfiguration)
    /// The peer reported an error in an ERROR chunk (`SCTP_REMOTE_ERROR`).
    case remoteError(AssociationID, [ErrorCause])
    /// A message could not be sent; it is returned (`SCTP_SEND_FAILED_EVENT`).
    case sendFailed(AssociationID, FailedMessage)
    /// A partially delivered message will not be completed (`SCTP_PARTIAL_DELIVERY_EVENT`).
    case partialDeliveryAborted(AssociationID, stream: UInt16)
    /// Everything sent was acknowledged and nothing waits (`SCTP_SENDER_DRY_EVENT`).
    case senderDry(AssociationID)
    /// The peer announced this Adaptation Layer Indication in its INIT or INIT ACK
    /// (`SCTP_ADAPTATION_INDICATION`, RFC 5061 §4.2.5); reported right after the association
    /// comes up (or restarts).
    case adaptationIndication(AssociationID, UInt32)
    /// Streams were reset, or a reset was denied or failed (`SCTP_STREAM_RESET_EVENT`, RFC 6525).
    case streamReset(AssociationID, StreamResetEvent)
    /// The association's TSNs and SSNs were reset, or that was refused (`SCTP_ASSOC_RESET_EVENT`).
    case associationReset(AssociationID, AssociationResetEvent)
    /// Streams were added, or adding was refused (`SCTP_STREAM_CHANGE_EVENT`).
    case streamChange(AssociationID, StreamChangeEvent)
    /// An AUTH key event (`SCTP_AUTHENTICATION_EVENT`, RFC 6458 §6.1.8).
    case authentication(AssociationID, AuthenticationEvent)
    /// A message (or, for partial delivery, a piece of one: `isComplete` false) arrived.
    case message(AssociationID, ReceivedMessage)
}

/// A message the association gave up (`SCTPEvent.sendFailed`): what the application sent,
/// returned to it (RFC 6458 §6.1.11, `struct sctp_send_failed_event`).
public struct FailedMessage: Sendable {
    public var streamIdentifier: UInt16
    public var payloadProtocolIdentifier: UInt32
    public var isUnordered: Bool
    /// The application's context (`OutgoingMessage.context`).
    public var context: UInt32
    /// `SCTP_DATA_SENT`: some of it was put on the wire (the peer may have received it);
    /// `false`: `SCTP_DATA_UNSENT`, none of it was.
    public var wasSent: Bool
    /// The user data not known to be delivered: the whole message, or for a message whose
    /// first chunks were acknowledged before the association ended, the rest.
    public var payload: ByteBuffer
    /// The peer had acknowledged the whole message non-renegably (NR-SACK), so its data was
    /// released before the association ended and `payload` is empty. The peer held it, but an
    /// ordered message waiting behind a lost one was never delivered.
    public var dataReleased = false

    public init(streamIdentifier: UInt16, payloadProtocolIdentifier: UInt32, isUnordered: Bool, context: UInt32,
                wasSent: Bool, payload: ByteBuffer) {
        self.streamIdentifier = streamIdentifier
        self.payloadProtocolIdentifier = payloadProtocolIdentifier
        self.isUnordered = isUnordered
        self.context = context
        self.wasSent = wasSent
        self.payload = payload
    }

    /// A message none of which was sent.
    init(unsent message: OutgoingMessage) {
        self.init(streamIdentifier: message.streamIdentifier, payloadProtocolIdentifier: message.payloadProtocolIdentifier,
                  isUnordered: message.isUnordered, context: message.context, wasSent: false, payload: message.payload)
    }

    /// A message some of which was sent (PR-SCTP gave it up, or the association ended).
    init(sent message: OutstandingData.AbandonedMessage, payload: ByteBuffer) {
        self.init(streamIdentifier: message.streamIdentifier, payloadProtocolIdentifier: message.payloadProtocolIdentifier,
                  isUnordered: message.isUnordered, context: message.context, wasSent: true, payload: payload)
        dataReleased = message.dataReleased
    }
}
