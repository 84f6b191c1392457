import NIOCore
import SCTPWire

/// Identifies an association within its endpoint (RFC 6458 `sctp_assoc_t`). Never 0, 1 or
/// 2: those are the sockets API's `SCTP_FUTURE_ASSOC`, `SCTP_CURRENT_ASSOC` and
/// `SCTP_ALL_ASSOC` (RFC 6458 §7.2), `future`, `current` and `all` here.
public struct AssociationID: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public var description: String { "assoc#\(rawValue)" }

    /// `SCTP_FUTURE_ASSOC` (RFC 6458 §7.2): an option for the associations set up later.
    public static let future = AssociationID(0)
    /// `SCTP_CURRENT_ASSOC`: an option for every association that exists now.
    public static let current = AssociationID(1)
    /// `SCTP_ALL_ASSOC`: an option for the associations that exist now and those set up later.
    public static let all = AssociationID(2)

    /// Whether this is `future`, `current` or `all`, never an association's id.
    public var isSelector: Bool { rawValue <= 2 }
}

/// The association states of RFC 9260 §4.
public enum AssociationState: Hashable, Sendable {
    case closed
    case cookieWait
    case cookieEchoed
    case established
    case shutdownPending
    case shutdownSent
    case shutdownReceived
    case shutdownAckSent

    /// Whether user data may still be queued for sending.
    public var acceptsNewData: Bool {
        switch self {
        case .cookieWait, .cookieEchoed, .established: true
        default: false
        }
    }
}

/// Why an association could not be set up (the seed's ECONNREFUSED and ETIMEDOUT).
public enum ConnectFailure: Hashable, Sendable {
    /// The peer answered INIT or COOKIE ECHO with ABORT.
    case refused(causes: [ErrorCause])
    /// Max.Init.Retransmits INIT or COOKIE ECHO retransmissions went unanswered.
    case timedOut
    /// The local user aborted the attempt.
    case cancelled
}

/// Why an established association ended other than by a graceful shutdown.
public enum LossReason: Hashable, Sendable {
    /// The peer sent ABORT.
    case peerAborted(causes: [ErrorCause])
    /// Association.Max.Retrans consecutive retransmissions or heartbeats went unanswered.
    case retransmissionsExhausted
    /// We aborted: the peer violated the protocol.
    case protocolViolation(String)
    /// The local user aborted.
    case userAborted
    /// The shutdown did not finish in time (T5-shutdown-guard or T2 retries).
    case shutdownTimedOut
}

extension LossReason: CustomStringConvertible {
    /// A short explanation, such as "the local user aborted". Written out rather than left
    /// to reflection: sockets build it for every association they report lost.
    public var description: String {
        switch self {
        case .peerAborted(let causes):
            causes.isEmpty ? "the peer aborted"
                : "the peer aborted: " + causes.map { String(describing: $0) }.joined(separator: ", ")
        case .retransmissionsExhausted: "retransmissions exhausted: the peer stopped answering"
        case .protocolViolation(let what): "protocol violation: " + what
        case .userAborted: "the local user aborted"
        case .shutdownTimedOut: "the shutdown timed out"
        }
    }
}

/// Errors of calls into the core; the sockets layer maps them to errno values.
public enum CoreError: Error, Hashable, Sendable {
    /// No such association.
    case unknownAssociation
    /// The association is shutting down or closed: no new data (EPIPE / ESHUTDOWN).
    case associationClosing
    /// The stream does not exist in this association (EINVAL).
    case invalidStream(UInt16)
    /// The send buffer is full (EWOULDBLOCK for non-blocking, wait otherwise).
    case sendBufferFull
    /// The message is larger than allowed (EMSGSIZE).
    case messageTooLarge
    /// An empty message (EINVAL).
    case emptyMessage
    /// The endpoint holds its maximum number of associations (ENOBUFS).
    case tooManyAssociations
    /// An association to this peer exists or is being set up (EALREADY / EISCONN).
    case alreadyConnected(AssociationID)
    /// Bad addresses for connect (EINVAL): none, mixed ports, or ours.
    case invalidAddresses(String)
    /// Stream reconfiguration (RFC 6525) is off here or the peer did not announce it
    /// (EOPNOTSUPP).
    case reconfigurationNotSupported
    /// A reconfiguration request the association cannot make (EINVAL): streams out of
    /// range, too many, nothing to add, or the association is not established.
    case invalidReconfiguration(String)
    /// Too many reconfiguration requests wait already (EALREADY).
    case reconfigurationBusy
    /// Address reconfiguration (RFC 5061, ASCONF) is off here or the peer did not announce
    /// it (EOPNOTSUPP).
    case addressReconfigurationNotSupported
    /// An address change the association cannot make (EINVAL): not established, the
    /// wildcard, or deleting its last address.
    case invalidAddressChange(String)
    /// The address is not one of ours in this association (EADDRNOTAVAIL).
    case addressNotAvailable(IPAddress)
    /// Too many address changes wait already (EAGAIN).
    case addressReconfigurationBusy
    /// An AUTH option the endpoint or association cannot take (EINVAL): an unknown or active
    /// key, a chunk type that may not be authenticated, an HMAC list without SHA-1.
    case invalidAuthentication(String)
}
