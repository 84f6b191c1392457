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
    /// The peer reported an error in an ERROR chunk (`SCTP_REMOTE_ERROR`).
    case remoteError(AssociationID, [ErrorCause])
    /// A message could not be sent; it is returned (`SCTP_SEND_FAILED_EVENT`).
    case sendFailed(AssociationID, stream: UInt16, payloadProtocolIdentifier: UInt32, payload: ByteBuffer)
    /// A partially delivered message will not be completed (`SCTP_PARTIAL_DELIVERY_EVENT`).
    case partialDeliveryAborted(AssociationID, stream: UInt16)
    /// Everything sent was acknowledged and nothing waits (`SCTP_SENDER_DRY_EVENT`).
    case senderDry(AssociationID)
    /// The peer announced this Adaptation Layer Indication in its INIT or INIT ACK
    /// (`SCTP_ADAPTATION_INDICATION`, RFC 5061 §4.2.5); reported right after the association
    /// comes up (or restarts).
    case adaptationIndication(AssociationID, UInt32)
    /// A message (or, for partial delivery, a piece of one: `isComplete` false) arrived.
    case message(AssociationID, ReceivedMessage)
}
