import SCTPWire

/// The extensions a peer announced in its INIT (or INIT ACK), as far as the association
/// must remember them once it is created from a State Cookie.
public struct PeerFeatures: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// PR-SCTP (RFC 3758): Forward-TSN-Supported parameter, or FORWARD TSN (192) in Supported Extensions.
    public static let forwardTSN = PeerFeatures(rawValue: 1 << 0)
    /// Message interleaving (RFC 8260): I-DATA (64) in Supported Extensions.
    public static let interleaving = PeerFeatures(rawValue: 1 << 1)
    /// Stream reconfiguration (RFC 6525): RE-CONFIG (130) in Supported Extensions.
    public static let reconfiguration = PeerFeatures(rawValue: 1 << 2)
    /// Dynamic address reconfiguration (RFC 5061): ASCONF (0xC1) and ASCONF-ACK (0x80) in Supported Extensions.
    public static let addressReconfiguration = PeerFeatures(rawValue: 1 << 3)
    /// Chunk authentication (RFC 4895): a Random parameter, or AUTH (15) in Supported Extensions.
    public static let authentication = PeerFeatures(rawValue: 1 << 4)
    /// Explicit congestion notification (RFC 9260 Appendix A): the ECN Capable parameter.
    public static let ecn = PeerFeatures(rawValue: 1 << 5)
    /// I-FORWARD-TSN (0xC2, RFC 8260 §2.3) in Supported Extensions.
    public static let interleavedForwardTSN = PeerFeatures(rawValue: 1 << 6)
    /// Non-renegable SACKs: NR-SACK (16) in Supported Extensions.
    public static let nonRenegableSack = PeerFeatures(rawValue: 1 << 7)

    /// The features announced by the parameters of an INIT or INIT ACK (read in place).
    public init(parameters: ParameterList) {
        self = parameters.withParameterBytes { cursor in
            var features: PeerFeatures = []
            while let parameter = cursor.next() { features.note(parameter, in: cursor) }
            return features
        }
    }

    /// Adds what one parameter of an INIT or INIT ACK announces.
    mutating func note(_ parameter: ParameterView, in cursor: ParameterCursor) {
        switch parameter.type {
        case ForwardTSNSupportedParameter.parameterType:
            insert(.forwardTSN)
        case ECNCapableParameter.parameterType:
            insert(.ecn)
        case RandomParameter.parameterType:
            insert(.authentication)
        case SupportedExtensionsParameter.parameterType:
            var sawASCONF = false
            var sawASCONFAck = false
            for type in cursor.rawBytes(parameter.value) {
                switch type {
                case 192: insert(.forwardTSN)
                case 64: insert(.interleaving)
                case 130: insert(.reconfiguration)
                case 15: insert(.authentication)
                case 0xC2: insert(.interleavedForwardTSN)
                case 16: insert(.nonRenegableSack)
                case 0xC1: sawASCONF = true
                case 0x80: sawASCONFAck = true
                default: break
                }
            }
            if sawASCONF && sawASCONFAck { insert(.addressReconfiguration) }
        default:
            break
        }
    }
}

/// What an association needs to come into being from a COOKIE ECHO without the endpoint
/// having kept any state after its INIT ACK (RFC 9260 §5.1.3): the Transmission Control
/// Block in brief, plus the cookie's creation time and lifetime.
///
/// "Local" is the side that made the cookie (the one answering INIT); "peer" is the side
/// that sent INIT and will echo the cookie. `CookieSigner` turns a cookie into
/// authenticated bytes and back.
public struct StateCookie: Hashable, Sendable {
    /// Our Initiate Tag from the INIT ACK: the verification tag the peer puts on its packets.
    public var localTag: UInt32
    /// The peer's Initiate Tag from its INIT: the verification tag we put on our packets.
    public var peerTag: UInt32
    /// Our Initial TSN from the INIT ACK.
    public var localInitialTSN: TSN
    /// The peer's Initial TSN from its INIT.
    public var peerInitialTSN: TSN
    /// The peer's Advertised Receiver Window Credit (a_rwnd) from its INIT.
    public var peerReceiverWindow: UInt32
    /// Negotiated outbound streams: min(our OS, the peer's MIS).
    public var outboundStreams: UInt16
    /// Negotiated inbound streams: min(our MIS, the peer's OS).
    public var inboundStreams: UInt16
    /// Number of Outbound Streams the peer asked for in its INIT.
    public var peerOutboundStreams: UInt16
    /// Number of Inbound Streams (MIS) the peer announced in its INIT.
    public var peerInboundStreams: UInt16
    /// Our SCTP port.
    public var localPort: UInt16
    /// The peer's SCTP port.
    public var peerPort: UInt16
    /// The source address of the INIT (always a peer address, RFC 9260 §5.1.2).
    public var source: IPAddress
    /// The address parameters of the peer's INIT, in order; `CookieSigner` keeps at most
    /// `CookieSigner.Configuration.maximumPeerAddresses` distinct ones.
    public var peerAddresses: [IPAddress]
    /// Our Tie-Tag (§5.2.2): zero unless the INIT arrived for an existing association.
    public var localTieTag: UInt32
    /// The peer's Tie-Tag (§5.2.2): zero unless the INIT arrived for an existing association.
    public var peerTieTag: UInt32
    /// Extensions the peer announced.
    public var peerFeatures: PeerFeatures
    /// The error detection method of the peer's Zero Checksum Acceptable parameter (RFC 9653), if any.
    public var peerZeroChecksumMethod: UInt32?
    /// The code point of the peer's Adaptation Layer Indication parameter (RFC 5061), if any.
    public var peerAdaptationIndication: UInt32?
    /// Both AUTH key vectors (RFC 4895 §6.1) in one array, as the cookie carries them and the
    /// association's AUTH state keeps them: ours as the INIT ACK sent it (the first
    /// `localAuthVectorLength` bytes), then the peer's from its INIT (the rest, empty when the
    /// peer did not announce AUTH); `nil` when we did not announce AUTH.
    var authVectors: [UInt8]? = nil
    /// Where our vector ends in `authVectors`.
    var localAuthVectorLength = 0

    /// Our AUTH key vector as the INIT ACK sent it (RFC 4895 §6.1); `nil` when we did not
    /// announce AUTH. Setting it keeps the peer's vector.
    public var localAuthVector: [UInt8]? {
        get { authVectors.map { Array($0[..<localAuthVectorLength]) } }
        set { setAuthVectors(local: newValue, peer: peerAuthVector) }
    }

    /// The peer's AUTH key vector from its INIT; `nil` when it did not announce AUTH. The
    /// cookie carries it only with ours: set while `localAuthVector` is `nil`, it is not kept.
    public var peerAuthVector: [UInt8]? {
        get {
            guard let authVectors, authVectors.count > localAuthVectorLength else { return nil }
            return Array(authVectors[localAuthVectorLength...])
        }
        set { setAuthVectors(local: localAuthVector, peer: newValue) }
    }

    /// Sets both key vectors at once, in one array (`peer` is dropped without `local`).
    mutating func setAuthVectors(local: [UInt8]?, peer: [UInt8]?) {
        guard let local else {
            authVectors = nil
            localAuthVectorLength = 0
            return
        }
        var both: [UInt8] = []
        both.reserveCapacity(local.count + (peer?.count ?? 0))
        both.append(contentsOf: local)
        if let peer { both.append(contentsOf: peer) }
        authVectors = both
        localAuthVectorLength = local.count
    }
    /// When the cookie was made.
    public var created: SCTPInstant
    /// How long the cookie stays valid after `created` (Valid.Cookie.Life plus any accepted
    /// Cookie Preservative increment).
    public var lifetime: Duration

    /// A cookie with every field given; the extension fields default to "none".
    public init(
        localTag: UInt32, peerTag: UInt32, localInitialTSN: TSN, peerInitialTSN: TSN,
        peerReceiverWindow: UInt32, outboundStreams: UInt16, inboundStreams: UInt16,
        peerOutboundStreams: UInt16, peerInboundStreams: UInt16, localPort: UInt16, peerPort: UInt16,
        source: IPAddress, peerAddresses: [IPAddress], localTieTag: UInt32 = 0, peerTieTag: UInt32 = 0,
        peerFeatures: PeerFeatures = [], peerZeroChecksumMethod: UInt32? = nil,
        peerAdaptationIndication: UInt32? = nil, created: SCTPInstant, lifetime: Duration
    ) {
        self.localTag = localTag
        self.peerTag = peerTag
        self.localInitialTSN = localInitialTSN
        self.peerInitialTSN = peerInitialTSN
        self.peerReceiverWindow = peerReceiverWindow
        self.outboundStreams = outboundStreams
        self.inboundStreams = inboundStreams
        self.peerOutboundStreams = peerOutboundStreams
        self.peerInboundStreams = peerInboundStreams
        self.localPort = localPort
        self.peerPort = peerPort
        self.source = source
        self.peerAddresses = peerAddresses
        self.localTieTag = localTieTag
        self.peerTieTag = peerTieTag
        self.peerFeatures = peerFeatures
        self.peerZeroChecksumMethod = peerZeroChecksumMethod
        self.peerAdaptationIndication = peerAdaptationIndication
        self.created = created
        self.lifetime = lifetime
    }

    /// The last instant at which the cookie is still valid: `created + lifetime`.
    public var expiry: SCTPInstant { created + lifetime }

    /// Whether the peer speaks PR-SCTP.
    public var peerSupportsForwardTSN: Bool { peerFeatures.contains(.forwardTSN) }
    /// Whether the peer announced ECN Capable.
    public var peerSupportsECN: Bool { peerFeatures.contains(.ecn) }

    /// Every address of the peer the association starts with: the INIT's source first, then
    /// the listed addresses that differ from it.
    public var allPeerAddresses: [IPAddress] {
        var result = [source]
        for address in peerAddresses where !result.contains(address) { result.append(address) }
        return result
    }
}
