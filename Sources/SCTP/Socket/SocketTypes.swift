import NIOCore
import SCTPCore
import SCTPWire

/// Flags of a message to send (`sinfo_flags` / `snd_flags` of RFC 6458 §5.3.4).
public struct SCTPSendFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `SCTP_UNORDERED`: deliver as soon as it is complete, ignoring stream order.
    public static let unordered = SCTPSendFlags(rawValue: 1 << 0)
    /// `SCTP_EOF`: start a graceful shutdown after this message (with no data: shut down now).
    public static let endOfFile = SCTPSendFlags(rawValue: 1 << 1)
    /// `SCTP_ABORT`: abort the association; the data, if any, is the User-Initiated Abort reason.
    public static let abort = SCTPSendFlags(rawValue: 1 << 2)
    /// `SCTP_SENDALL` (one-to-many): send the message on every association of the socket.
    public static let sendAll = SCTPSendFlags(rawValue: 1 << 3)
    /// `SCTP_SACK_IMMEDIATELY`: ask the peer to acknowledge at once (the I bit, RFC 7053).
    public static let sackImmediately = SCTPSendFlags(rawValue: 1 << 4)
    /// `SCTP_ADDR_OVER`: send the message to the peer address given with the send (the first
    /// of `to:`) instead of the primary path. The address must be one of the association's
    /// peer addresses (EINVAL otherwise, and without an address). While that path is not
    /// active the message goes to the primary path; retransmissions follow the usual rules.
    public static let addressOverride = SCTPSendFlags(rawValue: 1 << 5)
    /// `SCTP_EOR` / `MSG_EOR`: this send ends the message being built, while
    /// `SCTPSocketOption.explicitEOR` is on (without the option every send is a whole
    /// message and the flag changes nothing).
    public static let endOfRecord = SCTPSendFlags(rawValue: 1 << 6)
}

/// What to send a message with (`struct sctp_sndinfo`, RFC 6458 §5.3.4).
public struct SCTPSendInfo: Hashable, Sendable {
    /// The outbound stream.
    public var stream: UInt16
    /// The payload protocol identifier (PPID), in host byte order.
    public var payloadProtocolIdentifier: UInt32
    public var flags: SCTPSendFlags
    /// An opaque value returned with a send-failed notification about this message.
    public var context: UInt32
    /// The association (one-to-many sockets); ignored on one-to-one sockets.
    public var associationID: AssociationID?
    /// `SCTP_PRINFO` (RFC 6458 §5.3.7): when the message may be given up, if the peer
    /// supports PR-SCTP (a lifetime, or a retransmission limit).
    public var partialReliability: PartialReliability

    public init(stream: UInt16 = 0, payloadProtocolIdentifier: UInt32 = 0, flags: SCTPSendFlags = [],
                context: UInt32 = 0, associationID: AssociationID? = nil, partialReliability: PartialReliability = .reliable) {
        self.stream = stream
        self.payloadProtocolIdentifier = payloadProtocolIdentifier
        self.flags = flags
        self.context = context
        self.associationID = associationID
        self.partialReliability = partialReliability
    }
}

/// What a message arrived with (`struct sctp_rcvinfo`, RFC 6458 §5.3.5).
public struct SCTPReceiveInfo: Hashable, Sendable {
    public var stream: UInt16
    /// The stream sequence number (meaningless for unordered messages).
    public var streamSequenceNumber: UInt16
    public var isUnordered: Bool
    public var payloadProtocolIdentifier: UInt32
    /// The TSN of the message's first fragment.
    public var tsn: UInt32
    public var associationID: AssociationID
}

/// A message, or part of one, read from a socket (`recvmsg`).
public struct SCTPMessage: Sendable {
    public var data: ByteBuffer
    public var info: SCTPReceiveInfo
    /// `MSG_EOR`: this read ends the message. A message larger than the read length, or one
    /// delivered partially under memory pressure, comes in several reads; the last has it.
    public var isEndOfRecord: Bool
    /// `SCTP_NXTINFO`: what the next read will return, when the socket asks for it
    /// (`SCTPSocketOption.receiveNextInfo`), this read ends its item and something else is
    /// already waiting; `nil` otherwise.
    public var nextInfo: SCTPNextInfo?

    /// A read message.
    public init(data: ByteBuffer, info: SCTPReceiveInfo, isEndOfRecord: Bool, nextInfo: SCTPNextInfo? = nil) {
        self.data = data
        self.info = info
        self.isEndOfRecord = isEndOfRecord
        self.nextInfo = nextInfo
    }
}

/// What the next read of a socket will return (`struct sctp_nxtinfo`, RFC 6458 §5.3.6).
public struct SCTPNextInfo: Hashable, Sendable {
    /// The stream of the next message (0 for a notification).
    public var stream: UInt16
    /// `SCTP_UNORDERED`: the next message was sent unordered.
    public var isUnordered: Bool
    /// `SCTP_COMPLETE`: the whole next message has arrived (`length` is its length).
    public var isComplete: Bool
    /// `SCTP_NOTIFICATION`: the next read returns a notification.
    public var isNotification: Bool
    /// The payload protocol identifier of the next message (0 for a notification).
    public var payloadProtocolIdentifier: UInt32
    /// The bytes of the next message that have arrived and not been read (0 for a notification).
    public var length: Int
    /// The association of the next message or notification, where there is one.
    public var associationID: AssociationID?
}

/// The state change of an association change notification (`sac_state`).
public enum SCTPAssociationChange: Hashable, Sendable {
    /// `SCTP_COMM_UP`
    case communicationUp
    /// `SCTP_COMM_LOST`
    case communicationLost
    /// `SCTP_RESTART`
    case restart
    /// `SCTP_SHUTDOWN_COMP`
    case shutdownComplete
    /// `SCTP_CANT_STR_ASSOC`
    case cannotStartAssociation
}

/// The state of a peer address change notification (`spc_state`).
public enum SCTPPeerAddressState: Hashable, Sendable {
    /// `SCTP_ADDR_AVAILABLE`: reachable (again).
    case available
    /// `SCTP_ADDR_UNREACHABLE`: failed.
    case unreachable
    /// `SCTP_ADDR_POTENTIALLY_FAILED` (RFC 7829).
    case potentiallyFailed
    /// `SCTP_ADDR_CONFIRMED` is not distinguished from available; unconfirmed addresses report this.
    case unconfirmed
    /// `SCTP_ADDR_ADDED`: the peer added this address (RFC 5061 ASCONF).
    case added
    /// `SCTP_ADDR_REMOVED`: the peer deleted this address.
    case removed
    /// `SCTP_ADDR_MADE_PRIM`: the peer asked us to send to this address.
    case madePrimary
}

/// A notification (`MSG_NOTIFICATION`, RFC 6458 §6.1), delivered when its type is subscribed.
public enum SCTPNotification: Sendable {
    /// `SCTP_ASSOC_CHANGE`, with the stream counts for `communicationUp`/`restart` and, for
    /// failures, the errno a blocking call would have reported.
    case associationChange(SCTPAssociationChange, AssociationID, outboundStreams: UInt16, inboundStreams: UInt16, error: SCTPError?)
    /// `SCTP_PEER_ADDR_CHANGE`
    case peerAddressChange(SocketAddress?, SCTPPeerAddressState, AssociationID)
    /// `SCTP_SEND_FAILED_EVENT`: the message (its data and send info: stream, PPID, context,
    /// the unordered flag, association) was not delivered. `wasSent`: `SCTP_DATA_SENT`, some
    /// of it went on the wire and the peer may have received it; otherwise `SCTP_DATA_UNSENT`.
    case sendFailed(ByteBuffer, SCTPSendInfo, wasSent: Bool)
    /// `SCTP_REMOTE_ERROR`: the causes of the peer's ERROR chunk.
    case remoteError([ErrorCause], AssociationID)
    /// `SCTP_SHUTDOWN_EVENT`: the peer sent SHUTDOWN; it accepts no more data.
    case shutdown(AssociationID)
    /// `SCTP_PARTIAL_DELIVERY_EVENT` (aborted): a partly read message will not be completed.
    case partialDeliveryAborted(stream: UInt16, AssociationID)
    /// `SCTP_SENDER_DRY_EVENT`: nothing is queued or unacknowledged.
    case senderDry(AssociationID)
    /// `SCTP_ADAPTATION_INDICATION`: the Adaptation Layer Indication code point the peer
    /// announced (RFC 5061 §4.2.5), delivered right after the association comes up.
    case adaptationIndication(UInt32, AssociationID)
    /// `SCTP_STREAM_RESET_EVENT` (RFC 6525 §6.1.1): streams were reset (flags incoming /
    /// outgoing), or a reset was denied or failed.
    case streamReset(StreamResetEvent, AssociationID)
    /// `SCTP_ASSOC_RESET_EVENT` (RFC 6525 §6.1.2): TSNs and SSNs were reset (SSN/TSN Reset),
    /// or the reset was denied or failed.
    case associationReset(AssociationResetEvent, AssociationID)
    /// `SCTP_STREAM_CHANGE_EVENT` (RFC 6525 §6.1.3): streams were added, or adding was denied
    /// or failed.
    case streamChange(StreamChangeEvent, AssociationID)
    /// `SCTP_AUTHENTICATION_EVENT` (RFC 6458 §6.1.8): the peer used a new key, a key was
    /// freed, or the peer does not support AUTH.
    case authentication(AuthenticationEvent, AssociationID)

    /// The association the notification is about, where it names one.
    public var associationID: AssociationID? {
        switch self {
        case .associationChange(_, let id, _, _, _), .peerAddressChange(_, _, let id), .remoteError(_, let id),
             .shutdown(let id), .partialDeliveryAborted(_, let id), .senderDry(let id), .adaptationIndication(_, let id),
             .streamReset(_, let id), .associationReset(_, let id), .streamChange(_, let id), .authentication(_, let id):
            id
        case .sendFailed(_, let info, _):
            info.associationID
        }
    }

    var type: SCTPEventTypes {
        switch self {
        case .associationChange: .associationChange
        case .peerAddressChange: .peerAddressChange
        case .sendFailed: .sendFailed
        case .remoteError: .remoteError
        case .shutdown: .shutdown
        case .partialDeliveryAborted: .partialDelivery
        case .senderDry: .senderDry
        case .adaptationIndication: .adaptationIndication
        case .streamReset: .streamReset
        case .associationReset: .associationReset
        case .streamChange: .streamChange
        case .authentication: .authentication
        }
    }
}

/// Notification types a socket subscribes to (`SCTP_EVENT`, RFC 6458 §6.2.2).
public struct SCTPEventTypes: OptionSet, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let associationChange = SCTPEventTypes(rawValue: 1 << 0)
    public static let peerAddressChange = SCTPEventTypes(rawValue: 1 << 1)
    public static let sendFailed = SCTPEventTypes(rawValue: 1 << 2)
    public static let remoteError = SCTPEventTypes(rawValue: 1 << 3)
    public static let shutdown = SCTPEventTypes(rawValue: 1 << 4)
    public static let partialDelivery = SCTPEventTypes(rawValue: 1 << 5)
    public static let senderDry = SCTPEventTypes(rawValue: 1 << 6)
    public static let adaptationIndication = SCTPEventTypes(rawValue: 1 << 7)
    /// `SCTP_STREAM_RESET_EVENT` (RFC 6525).
    public static let streamReset = SCTPEventTypes(rawValue: 1 << 8)
    /// `SCTP_ASSOC_RESET_EVENT` (RFC 6525).
    public static let associationReset = SCTPEventTypes(rawValue: 1 << 9)
    /// `SCTP_STREAM_CHANGE_EVENT` (RFC 6525).
    public static let streamChange = SCTPEventTypes(rawValue: 1 << 10)
    /// `SCTP_AUTHENTICATION_EVENT` (RFC 4895).
    public static let authentication = SCTPEventTypes(rawValue: 1 << 11)
    public static let all: SCTPEventTypes = [.associationChange, .peerAddressChange, .sendFailed, .remoteError,
                                             .shutdown, .partialDelivery, .senderDry, .adaptationIndication,
                                             .streamReset, .associationReset, .streamChange, .authentication]
}

/// What `recvmsg` returns: data, or a notification.
public enum SCTPReceived: Sendable {
    case message(SCTPMessage)
    case notification(SCTPNotification)
}

/// `SCTP_INITMSG` (RFC 6458 §8.1.3): what INIT asks for.
public struct SCTPInitMessage: Hashable, Sendable {
    public var outboundStreams: UInt16
    public var maxInboundStreams: UInt16
    public var maxAttempts: Int
    /// The largest INIT retransmission timeout, `nil` for RTO.Max.
    public var maxInitTimeout: Duration?

    public init(outboundStreams: UInt16 = 10, maxInboundStreams: UInt16 = 2048, maxAttempts: Int = 8, maxInitTimeout: Duration? = nil) {
        self.outboundStreams = outboundStreams
        self.maxInboundStreams = maxInboundStreams
        self.maxAttempts = maxAttempts
        self.maxInitTimeout = maxInitTimeout
    }
}

/// `SCTP_RTOINFO` (RFC 6458 §8.1.1).
public struct SCTPRTOInfo: Hashable, Sendable {
    public var initial: Duration
    public var minimum: Duration
    public var maximum: Duration

    public init(initial: Duration, minimum: Duration, maximum: Duration) {
        self.initial = initial
        self.minimum = minimum
        self.maximum = maximum
    }
}

/// `SCTP_ASSOCINFO` (RFC 6458 §8.1.2), the parts that can be set.
public struct SCTPAssociationParameters: Hashable, Sendable {
    /// Association.Max.Retrans.
    public var maxRetransmissions: Int
    /// The cookie lifetime we give.
    public var cookieLife: Duration

    public init(maxRetransmissions: Int, cookieLife: Duration) {
        self.maxRetransmissions = maxRetransmissions
        self.cookieLife = cookieLife
    }
}

/// `SCTP_PEER_ADDR_PARAMS` (RFC 6458 §8.1.9), the socket's defaults for new associations.
public struct SCTPPeerAddressParameters: Hashable, Sendable {
    /// HB.interval; `nil` switches heartbeats off.
    public var heartbeatInterval: Duration?
    /// Path.Max.Retrans.
    public var pathMaxRetransmissions: Int
    /// The path MTU (the SCTP packet, without IP and UDP headers). Written, it is the fixed MTU
    /// of paths without path MTU discovery (RFC 6458: it applies with SPP_PMTUD_DISABLE).
    public var pathMTU: Int
    /// SPP_PMTUD_ENABLE (`true`) / SPP_PMTUD_DISABLE (`false`): path MTU discovery (RFC 8899
    /// PLPMTUD, `SCTPConfiguration.pathMTUDiscovery`). Read, whether it runs; written, `nil`
    /// leaves it as it is.
    public var pathMTUDiscovery: Bool?

    public init(heartbeatInterval: Duration?, pathMaxRetransmissions: Int, pathMTU: Int, pathMTUDiscovery: Bool? = nil) {
        self.heartbeatInterval = heartbeatInterval
        self.pathMaxRetransmissions = pathMaxRetransmissions
        self.pathMTU = pathMTU
        self.pathMTUDiscovery = pathMTUDiscovery
    }
}

extension SCTPNotification {
    /// The notification for a core event, `nil` for data.
    init?(_ event: SCTPEvent, port: UInt16) {
        switch event {
        case .communicationUp(let id, let outbound, let inbound):
            self = .associationChange(.communicationUp, id, outboundStreams: outbound, inboundStreams: inbound, error: nil)
        case .cannotStart(let id, let failure):
            self = .associationChange(.cannotStartAssociation, id, outboundStreams: 0, inboundStreams: 0,
                                      error: EndpointDriver.error(for: failure))
        case .communicationLost(let id, let reason):
            self = .associationChange(.communicationLost, id, outboundStreams: 0, inboundStreams: 0,
                                      error: SCTPError(.connectionReset, "association lost: \(reason)"))
        case .restart(let id):
            self = .associationChange(.restart, id, outboundStreams: 0, inboundStreams: 0, error: nil)
        case .shutdownComplete(let id):
            self = .associationChange(.shutdownComplete, id, outboundStreams: 0, inboundStreams: 0, error: nil)
        case .peerShutdown(let id):
            self = .shutdown(id)
        case .peerAddressChange(let id, let address, let state):
            let mapped: SCTPPeerAddressState = switch state {
            case .active: .available
            case .potentiallyFailed: .potentiallyFailed
            case .inactive: .unreachable
            case .unconfirmed: .unconfirmed
            }
            self = .peerAddressChange(try? address.socketAddress(port: Int(port)), mapped, id)
        case .peerAddressReconfigured(let id, let address, let change):
            let mapped: SCTPPeerAddressState = switch change {
            case .added: .added
            case .removed: .removed
            case .madePrimary: .madePrimary
            }
            self = .peerAddressChange(try? address.socketAddress(port: Int(port)), mapped, id)
        case .remoteError(let id, let causes):
            self = .remoteError(causes, id)
        case .sendFailed(let id, let failed):
            self = .sendFailed(failed.payload, SCTPSendInfo(stream: failed.streamIdentifier,
                                                            payloadProtocolIdentifier: failed.payloadProtocolIdentifier,
                                                            flags: failed.isUnordered ? [.unordered] : [],
                                                            context: failed.context, associationID: id),
                               wasSent: failed.wasSent)
        case .partialDeliveryAborted(let id, let stream):
            self = .partialDeliveryAborted(stream: stream, id)
        case .senderDry(let id):
            self = .senderDry(id)
        case .adaptationIndication(let id, let codePoint):
            self = .adaptationIndication(codePoint, id)
        case .streamReset(let id, let event):
            self = .streamReset(event, id)
        case .associationReset(let id, let event):
            self = .associationReset(event, id)
        case .streamChange(let id, let event):
            self = .streamChange(event, id)
        case .authentication(let id, let event):
            self = .authentication(event, id)
        case .message:
            return nil
        }
    }
}
