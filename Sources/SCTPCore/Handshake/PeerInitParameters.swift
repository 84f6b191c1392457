import NIOCore
import SCTPWire

/// What the core reads of a peer's INIT or INIT ACK parameters, found in one pass over the
/// chunk's bytes (`ParameterList.withParameterBytes`) without making a value per parameter:
/// the features it announces, the fields of the parameters the handshake looks at (the first
/// of each kind), its addresses, its AUTH key vector, and whether anything may have to be
/// reported back. `ParameterList(parsing:)` checked every parameter's format before.
struct PeerInitParameters {
    /// The extensions announced (`PeerFeatures(parameters:)`).
    var features: PeerFeatures = []
    /// The first Zero Checksum Acceptable parameter's method (RFC 9653).
    var zeroChecksumMethod: UInt32?
    /// Whether some Zero Checksum Acceptable parameter names the method asked about.
    var offersZeroChecksumMethod = false
    /// The first Adaptation Layer Indication's code point (RFC 5061).
    var adaptationIndication: UInt32?
    /// The first Cookie Preservative's increment, in milliseconds.
    var lifeSpanIncrement: UInt32?
    /// Where the first Host Name Address parameter's value lies (`ParameterList.slice`).
    var hostName: Range<Int>?
    /// Where the first State Cookie parameter's value lies (INIT ACK).
    var stateCookie: Range<Int>?
    /// The IPv4 and IPv6 address parameters' addresses, in order.
    var addresses: [IPAddress] = []
    /// The peer's AUTH parameters (`.absent` when not asked for).
    var authentication: AuthKeyVector.PeerParameters = .absent
    /// Whether some parameter is unknown, or of an extension `configuration` does not
    /// support, with the report bit set: `SCTPConfiguration.initParametersToReport` then
    /// says which (a second pass, only then).
    var mayNeedReports = false

    private init() {}

    /// Reads `list` once. `zeroChecksumMethod`: the method `offersZeroChecksumMethod` looks
    /// for (`nil`: none); `authentication`: whether to read the AUTH key vector.
    init(_ list: ParameterList, configuration: SCTPConfiguration, authentication readAuthentication: Bool) {
        let wantedMethod = configuration.zeroChecksumMethod
        self = list.withParameterBytes { cursor in
            var summary = PeerInitParameters()
            var random: Range<Int>?, chunks: Range<Int>?, hmacs: Range<Int>?
            while let parameter = cursor.next() {
                switch parameter.type {
                case IPv4AddressParameter.parameterType, IPv6AddressParameter.parameterType:
                    if let address = cursor.address(parameter) { summary.addresses.append(address) }
                case StateCookieParameter.parameterType:
                    if summary.stateCookie == nil { summary.stateCookie = parameter.value }
                case HostNameAddressParameter.parameterType:
                    if summary.hostName == nil { summary.hostName = parameter.value }
                case ZeroChecksumAcceptableParameter.parameterType:
                    let method = cursor.uint32(parameter)
                    if summary.zeroChecksumMethod == nil { summary.zeroChecksumMethod = method }
                    if let wantedMethod, method == wantedMethod { summary.offersZeroChecksumMethod = true }
                case AdaptationLayerIndicationParameter.parameterType:
                    if summary.adaptationIndication == nil { summary.adaptationIndication = cursor.uint32(parameter) }
                case CookiePreservativeParameter.parameterType:
                    if summary.lifeSpanIncrement == nil { summary.lifeSpanIncrement = cursor.uint32(parameter) }
                case RandomParameter.parameterType:
                    if random == nil { random = parameter.value }
                    summary.features.note(parameter, in: cursor)
                case ChunkListParameter.parameterType:
                    if chunks == nil { chunks = parameter.value }
                case RequestedHMACAlgorithmParameter.parameterType:
                    if hmacs == nil { hmacs = parameter.value }
                default:
                    summary.features.note(parameter, in: cursor)
                    if parameter.action.reports
                        && (!Parameter.isKnownType(parameter.type) || configuration.isUnsupportedInitParameter(type: parameter.type)) {
                        summary.mayNeedReports = true
                    }
                }
            }
            if readAuthentication {
                summary.authentication = AuthKeyVector.peer(random: random, chunks: chunks, hmacs: hmacs, in: cursor)
            }
            return summary
        }
    }
}
