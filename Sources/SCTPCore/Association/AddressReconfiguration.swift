import SCTPWire

/// A change of the association's addresses (RFC 5061), reported as `SCTPEvent.peerAddressReconfigured`
/// (`SCTP_PEER_ADDR_CHANGE` with `SCTP_ADDR_ADDED`, `SCTP_ADDR_REMOVED`, `SCTP_ADDR_MADE_PRIM`).
public enum PeerAddressReconfiguration: Hashable, Sendable {
    /// The peer added this address (Add IP Address): a new path, unconfirmed until a
    /// heartbeat answers.
    case added
    /// The peer deleted this address (Delete IP Address): its path is gone.
    case removed
    /// The peer asked us to send to this address (Set Primary Address).
    case madePrimary
}

/// What an association keeps for dynamic address reconfiguration (RFC 5061), both ways.
///
/// Requester side: our requests wait in `pending` (bounded) while one ASCONF is in flight
/// (§5.1: exactly one outstanding); the next ASCONF takes up to `maxRequestsPerChunk` of
/// them. Responder side: the serial number of the last ASCONF of the peer we processed and
/// our answers to the latest ones, sent again if those ASCONFs come again (§5.2 E2, E4).
struct AddressReconfigurationState {
    /// The most requests waiting to be sent.
    static let maxPendingRequests = 16
    /// The most requests one ASCONF of ours carries.
    static let maxRequestsPerChunk = 8
    /// The most requests of one ASCONF of the peer we process; the one after gets "Operation
    /// Refused Due to Resource Shortage" and the rest no answer (so they count as failed, §5.3).
    static let maxRequestsProcessed = 32
    /// The most answers to the peer's ASCONFs kept for retransmitted ASCONFs (§5.2 E4: each
    /// answer is cached; E2: a retransmitted ASCONF draws the cached answer with its serial
    /// number). A peer may bundle several ASCONFs in one packet (§5.1.1 C2) and send that
    /// packet again when our answers were lost, so the answers of the latest serial numbers
    /// are kept, not only the last one.
    static let maxCachedAnswers = 8

    /// A request of ours about one of our addresses.
    enum Request: Hashable {
        /// Add IP Address: the peer may send to this address of ours.
        case add(IPAddress)
        /// Delete IP Address: the peer must stop sending to it.
        case delete(IPAddress)
        /// Set Primary Address: the peer should send to this address of ours.
        case setPrimary(IPAddress)

        /// The type of the parameter that carries it.
        var parameterType: UInt16 {
            switch self {
            case .add: AddIPAddressParameter.parameterType
            case .delete: DeleteIPAddressParameter.parameterType
            case .setPrimary: SetPrimaryAddressParameter.parameterType
            }
        }
    }

    /// The ASCONF in flight: what it asked, and the path it last went to.
    struct InFlight {
        var serialNumber: UInt32
        var chunk: ASCONFChunk
        var requests: [(correlationID: UInt32, request: Request)]
        var path: Int
    }

    /// The serial number of our next ASCONF (§5.1 A1: starts at our initial TSN).
    var nextSerialNumber: UInt32
    var nextCorrelationID: UInt32 = 1
    var pending: [Request] = []
    var inFlight: InFlight?
    /// The request parameter types the peer answered with "Unrecognized Parameters": they
    /// are never sent again (RFC 5061 §5.3). At most the three request types.
    var unrecognizedRequestTypes: Set<UInt16> = []
    /// The serial number of the last ASCONF of the peer we processed (its initial TSN - 1 before any).
    var peerSerialNumber: UInt32
    /// Our answers to the peer's latest ASCONFs, oldest first (at most `maxCachedAnswers`),
    /// sent again when their ASCONF is retransmitted (§5.2 E2).
    var cachedAnswers: [ASCONFAckChunk] = []
    /// The serial numbers whose cached answer went again for the packet being handled: a
    /// packet of repeated ASCONFs draws each answer once, not once per chunk (§5.2 E6: the
    /// answers of a packet go in one response; a small repeat must not multiply a large
    /// cached answer).
    var answersRepeatedThisPacket: [UInt32] = []

    init(localInitialTSN: TSN, peerInitialTSN: TSN) {
        nextSerialNumber = localInitialTSN.rawValue
        peerSerialNumber = peerInitialTSN.rawValue &- 1
    }

    /// Keeps our answer to the peer's ASCONF, dropping the oldest beyond `maxCachedAnswers`.
    mutating func cache(_ answer: ASCONFAckChunk) {
        cachedAnswers.append(answer)
        if cachedAnswers.count > Self.maxCachedAnswers {
            cachedAnswers.removeFirst(cachedAnswers.count - Self.maxCachedAnswers)
        }
    }

    /// The cached answer to the peer's ASCONF with this serial number, if still kept.
    func cachedAnswer(serialNumber: UInt32) -> ASCONFAckChunk? {
        cachedAnswers.last { $0.serialNumber == serialNumber }
    }

    /// Whether an ASCONF-ACK's serial number is one we have not used yet: at or after
    /// `nextSerialNumber`, in serial number arithmetic (less than 2^31 ahead).
    func isAhead(_ serialNumber: UInt32) -> Bool {
        serialNumber &- nextSerialNumber < 1 << 31
    }

    /// Every request not answered yet, in flight first.
    var unanswered: [Request] { (inFlight?.requests.map(\.request) ?? []) + pending }

    /// Our addresses a request not answered yet deletes.
    var deleting: [IPAddress] {
        unanswered.compactMap { if case .delete(let address) = $0 { address } else { nil } }
    }

    /// Our addresses a request not answered yet adds.
    var adding: [IPAddress] {
        unanswered.compactMap { if case .add(let address) = $0 { address } else { nil } }
    }
}

extension IPAddress {
    /// 0.0.0.0 or :: (RFC 5061 §4.2.1-§4.2.4: "the source address of the packet").
    var isWildcard: Bool {
        switch self {
        case .v4(let address): address.rawValue == 0
        case .v6(let address): address.high == 0 && address.low == 0
        }
    }

    /// Not multicast (224.0.0.0/4, ff00::/8) nor the IPv4 broadcast address.
    var isUnicast: Bool {
        switch self {
        case .v4(let address): address.rawValue >> 28 != 0xE && address.rawValue != 0xFFFF_FFFF
        case .v6(let address): address.high >> 56 != 0xFF
        }
    }

    func isSameFamily(as other: IPAddress) -> Bool {
        switch (self, other) {
        case (.v4, .v4), (.v6, .v6): true
        default: false
        }
    }
}
