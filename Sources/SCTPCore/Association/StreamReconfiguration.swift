import SCTPWire

// MARK: Public types (RFC 6525 §6)

/// Which stream reconfiguration requests of the peer are performed rather than denied
/// (`SCTP_ENABLE_STREAM_RESET`, RFC 6525 §6.3.1; the raw values are the RFC's).
public struct StreamResetPermissions: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `SCTP_ENABLE_RESET_STREAM_REQ`: Outgoing and Incoming SSN Reset Requests.
    public static let resetStreams = StreamResetPermissions(rawValue: 0x01)
    /// `SCTP_ENABLE_RESET_ASSOC_REQ`: SSN/TSN Reset Requests.
    public static let resetAssociation = StreamResetPermissions(rawValue: 0x02)
    /// `SCTP_ENABLE_CHANGE_ASSOC_REQ`: Add Outgoing and Add Incoming Streams Requests.
    public static let changeStreams = StreamResetPermissions(rawValue: 0x04)
}

/// The directions of a stream reset (`struct sctp_reset_streams` srs_flags, RFC 6525 §6.3.2).
public struct StreamResetDirection: OptionSet, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `SCTP_STREAM_RESET_INCOMING`: ask the peer to reset its outgoing streams (our incoming).
    public static let incoming = StreamResetDirection(rawValue: 0x01)
    /// `SCTP_STREAM_RESET_OUTGOING`: reset our outgoing streams.
    public static let outgoing = StreamResetDirection(rawValue: 0x02)
}

/// `SCTP_STREAM_RESET_EVENT` (RFC 6525 §6.1.1): streams were reset, or a reset was refused.
public struct StreamResetEvent: Hashable, Sendable {
    /// The `strreset_flags`.
    public struct Flags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// `SCTP_STREAM_RESET_INCOMING_SSN`: our incoming streams were (or were to be) reset.
        public static let incoming = Flags(rawValue: 0x0001)
        /// `SCTP_STREAM_RESET_OUTGOING_SSN`: our outgoing streams were (or were to be) reset.
        public static let outgoing = Flags(rawValue: 0x0002)
        /// `SCTP_STREAM_RESET_DENIED`: the peer denied the request.
        public static let denied = Flags(rawValue: 0x0004)
        /// `SCTP_STREAM_RESET_FAILED`: the request failed (error answer, or given up).
        public static let failed = Flags(rawValue: 0x0008)
    }

    public var flags: Flags
    /// The streams; empty means all streams.
    public var streams: [UInt16]

    public init(flags: Flags, streams: [UInt16]) {
        self.flags = flags
        self.streams = streams
    }
}

/// The flags of `SCTP_ASSOC_RESET_EVENT` and `SCTP_STREAM_CHANGE_EVENT` (RFC 6525 §6.1.2,
/// §6.1.3): the request was denied or failed; none when it was performed.
public struct ReconfigurationRefusal: OptionSet, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// `SCTP_ASSOC_RESET_DENIED`, `SCTP_STREAM_CHANGE_DENIED`: the peer denied it.
    public static let denied = ReconfigurationRefusal(rawValue: 0x0004)
    /// `SCTP_ASSOC_RESET_FAILED`, `SCTP_STREAM_CHANGE_FAILED`: it failed (an error answer,
    /// or given up when the association ended).
    public static let failed = ReconfigurationRefusal(rawValue: 0x0008)
}

/// `SCTP_ASSOC_RESET_EVENT` (RFC 6525 §6.1.2): the association's TSNs and SSNs were reset
/// (SSN/TSN Reset), or the reset was refused.
public struct AssociationResetEvent: Hashable, Sendable {
    /// The `assocreset_flags`.
    /// (`SCTP_ASSOC_RESET_DENIED`, `SCTP_ASSOC_RESET_FAILED`.)
    public typealias Flags = ReconfigurationRefusal

    public var flags: Flags
    /// The TSN our next DATA chunk carries (`assocreset_local_tsn`).
    public var localTSN: TSN
    /// The TSN the peer's next DATA chunk carries (`assocreset_remote_tsn`).
    public var remoteTSN: TSN

    public init(flags: Flags, localTSN: TSN, remoteTSN: TSN) {
        self.flags = flags
        self.localTSN = localTSN
        self.remoteTSN = remoteTSN
    }
}

/// `SCTP_STREAM_CHANGE_EVENT` (RFC 6525 §6.1.3): the number of streams changed, or a request
/// to add streams was refused.
public struct StreamChangeEvent: Hashable, Sendable {
    /// The `strchange_flags`.
    /// (`SCTP_STREAM_CHANGE_DENIED`, `SCTP_STREAM_CHANGE_FAILED`.)
    public typealias Flags = ReconfigurationRefusal

    public var flags: Flags
    /// The inbound stream count now (`strchange_instrms`).
    public var inboundStreams: UInt16
    /// The outbound stream count now (`strchange_outstrms`).
    public var outboundStreams: UInt16

    public init(flags: Flags, inboundStreams: UInt16, outboundStreams: UInt16) {
        self.flags = flags
        self.inboundStreams = inboundStreams
        self.outboundStreams = outboundStreams
    }
}

/// Where a performed stream reset (RFC 6525) restarted streams' numbering: chunks on those
/// streams (all when empty) at or below `tsn` carry the old sequence numbers.
struct StreamResetPoint: Hashable, Sendable {
    var tsn: TSN
    var streams: [UInt16]

    func covers(_ stream: UInt16) -> Bool { streams.isEmpty || streams.contains(stream) }

    /// Keeps the latest `limit` points (above `floor`, when given) after adding `point`.
    static func record(_ point: StreamResetPoint, in points: inout [StreamResetPoint], above floor: TSN? = nil,
                       limit: Int = 16) {
        if let floor { points.removeAll { $0.tsn <= floor } }
        points.append(point)
        if points.count > limit { points.removeFirst(points.count - limit) }
    }
}

// MARK: The association's reconfiguration state (RFC 6525 §5)

/// Both sides of stream reconfiguration for one association: our requests (queued, then
/// one RE-CONFIG chunk in flight at a time with its retransmission timer) and what we
/// answered to the peer's (for its retransmissions), plus a deferred reset of incoming
/// streams that waits for the peer's data (§5.2.2 E2).
struct ReconfigurationState {
    /// A request of ours, before it gets a sequence number.
    enum Request: Hashable {
        /// Outgoing SSN Reset of these streams (empty: all). `respondingTo`: the peer's
        /// Incoming SSN Reset Request this answers (§4.1).
        case outgoingReset(streams: [UInt16], respondingTo: UInt32?)
        /// Incoming SSN Reset Request: the peer is asked to reset these (empty: all).
        case incomingReset(streams: [UInt16])
        /// SSN/TSN Reset Request.
        case associationReset
        /// Add Outgoing Streams Request.
        case addOutgoing(UInt16)
        /// Add Incoming Streams Request.
        case addIncoming(UInt16)

        /// Whether this request needs the association's send side to be quiet first.
        var isOutgoingReset: Bool { if case .outgoingReset = self { true } else { false } }
    }

    /// A request sent and not yet answered.
    struct Sent: Hashable {
        var sequence: UInt32
        var request: Request
        /// An outgoing reset's Sender's Last Assigned TSN.
        var lastAssignedTSN: TSN? = nil
    }



    /// Requests waiting for the one in flight (or for the send side) to finish.
    static let maxPendingRequests = 16

    /// Our next Re-configuration Request Sequence Number (starts at our initial TSN, §3.1).
    var nextSequence: UInt32
    /// The peer's Re-configuration Request Sequence Number we expect next.
    var peerNextSequence: UInt32
    /// What the user may have the peer do (`SCTP_ENABLE_STREAM_RESET`).
    var permissions: StreamResetPermissions
    /// Requests not sent yet, in order.
    var pending: [Request] = []
    /// The requests of the RE-CONFIG chunk in flight (one or two).
    var inFlight: [Sent] = []
    /// That chunk, retransmitted as it is when the timer expires.
    var inFlightChunk: ReconfigChunk?
    /// The path it went to last.
    var inFlightPath = 0
    /// The peer answered "In progress": the next expiry asks again without counting an error.
    var answeredInProgress = false
    /// Our latest Incoming SSN Reset Requests (at most four): the peer's Outgoing SSN Reset
    /// Request answering one is performed whatever `permissions` say.
    var invitedResets: [UInt32] = []
    /// Streams we asked the peer to add (Add Incoming Streams) and it has not yet added.
    var invitedStreams = 0
    /// The peer's SSN/TSN Reset Request waiting for our side to be quiet (§5.2.4).
    var pendingPeerAssociationReset: UInt32?
    /// Our answers to the peer's latest requests (at most two), repeated when it retransmits.
    var answers: [ReconfigurationResponseParameter] = []
    /// The peer's Outgoing SSN Reset Request we answered "In progress": performed once every
    /// TSN up to its Sender's Last Assigned TSN has arrived (§5.2.2 E2).
    var deferred: OutgoingSSNResetRequestParameter?

    init(localInitialTSN: TSN, peerInitialTSN: TSN, permissions: StreamResetPermissions) {
        nextSequence = localInitialTSN.rawValue
        peerNextSequence = peerInitialTSN.rawValue
        self.permissions = permissions
    }

    /// Whether any request of ours waits or is in flight.
    var isBusy: Bool { !pending.isEmpty || !inFlight.isEmpty }

    /// Whether nothing but the sequence numbers and permissions differs from a new state:
    /// no request, answer, invitation or deferred reset kept (`ReconfigurationSlot.fresh`).
    var isFresh: Bool {
        pending.isEmpty && inFlight.isEmpty && inFlightChunk == nil && inFlightPath == 0 && !answeredInProgress
            && invitedResets.isEmpty && invitedStreams == 0 && pendingPeerAssociationReset == nil && answers.isEmpty
            && deferred == nil
    }

    /// The streams our outgoing resets (pending or in flight) hold back; `nil` when none,
    /// an empty array for all streams (an SSN/TSN reset holds back every stream).
    var streamsHeldBack: [UInt16]? {
        if pendingPeerAssociationReset != nil { return [] }
        var held: Set<UInt16> = []
        var any = false
        for request in pending + inFlight.map(\.request) {
            switch request {
            case .outgoingReset(let streams, _):
                if streams.isEmpty { return [] }
                any = true
                held.formUnion(streams)
            case .associationReset:
                return []
            case .incomingReset, .addOutgoing, .addIncoming:
                continue
            }
        }
        return any ? held.sorted() : nil
    }

    /// The answer kept for a retransmitted request, if `sequence` is one we answered.
    func answer(for sequence: UInt32) -> ReconfigurationResponseParameter? {
        answers.last { $0.responseSequenceNumber == sequence }
    }

    mutating func inviteReset(_ sequence: UInt32) {
        invitedResets.append(sequence)
        if invitedResets.count > 4 { invitedResets.removeFirst() }
    }

    /// Keeps an answer for retransmissions (the latest two).
    mutating func remember(_ answer: ReconfigurationResponseParameter) {
        answers.removeAll { $0.responseSequenceNumber == answer.responseSequenceNumber }
        answers.append(answer)
        if answers.count > 2 { answers.removeFirst(answers.count - 2) }
    }
}

/// Where an association keeps its `ReconfigurationState`: most associations never reconfigure
/// a stream, so while the state is fresh (`isFresh`) only its sequence numbers and permissions
/// are kept (16 bytes instead of about 110); once used, the whole state, boxed.
enum ReconfigurationSlot {
    case absent
    case fresh(nextSequence: UInt32, peerNextSequence: UInt32, permissions: StreamResetPermissions)
    case used(ValueBox<ReconfigurationState>)

    var state: ReconfigurationState? {
        get {
            switch self {
            case .absent: nil
            case .fresh(let next, let peerNext, let permissions):
                ReconfigurationState(localInitialTSN: TSN(next), peerInitialTSN: TSN(peerNext), permissions: permissions)
            case .used(let box): box.value
            }
        }
        set {
            guard let newValue else {
                self = .absent
                return
            }
            if newValue.isFresh {
                self = .fresh(nextSequence: newValue.nextSequence, peerNextSequence: newValue.peerNextSequence,
                              permissions: newValue.permissions)
            } else {
                self = .used(ValueBox(newValue))
            }
        }
    }

    /// Whether the transmit path has anything to do for it (a request waiting to be sent, the
    /// peer's association reset waiting): never while fresh.
    var mayHaveWork: Bool { if case .used = self { true } else { false } }
}
