import NIOCore

/// One kind of SCTP parameter (RFC 9260 §3.2.1 and the extensions): its type code,
/// how to read its value and how to write it, side by side.
public protocol ParameterValue: Hashable, Sendable {
    /// The 16-bit parameter type.
    static var parameterType: UInt16 { get }
    /// Reads the value (the bytes after the 4-byte TLV header, without padding).
    init(value: ByteBuffer) throws(WireError)
    /// Writes the value (without the TLV header and without trailing padding).
    func writeValue(to buffer: inout ByteBuffer)
}

extension ParameterValue {
    @inlinable
    static func fields(_ value: ByteBuffer) -> FieldReader {
        FieldReader(value, shortError: .invalidParameterLength(type: parameterType, length: value.readableBytes + 4))
    }

    /// Writes the whole parameter: header and value, without trailing padding.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeTLV(type: Self.parameterType) { writeValue(to: &$0) }
    }
}

/// A parameter whose type we do not know. Its bytes are kept so it can be reported
/// back to the peer (Unrecognized Parameter), and its type's high bits say what to do.
public struct UnknownParameter: Hashable, Sendable {
    public var type: UInt16
    public var value: ByteBuffer

    public init(type: UInt16, value: ByteBuffer) {
        self.type = type
        self.value = value
    }

    /// What RFC 9260 §3.2.1 says to do with it.
    public var action: UnrecognizedAction { UnrecognizedAction(parameterType: type) }

    public func write(to buffer: inout ByteBuffer) {
        buffer.writeTLV(type: type) { $0.writeImmutableBuffer(value) }
    }
}

/// Any SCTP parameter: those of INIT and INIT ACK, HEARTBEAT, ASCONF (RFC 5061),
/// RE-CONFIG (RFC 6525), AUTH (RFC 4895), PAD (RFC 4820), zero checksum (RFC 9653),
/// or an unknown one with its bytes.
public enum Parameter: Hashable, Sendable {
    case heartbeatInfo(HeartbeatInfoParameter)
    case ipv4Address(IPv4AddressParameter)
    case ipv6Address(IPv6AddressParameter)
    case stateCookie(StateCookieParameter)
    case unrecognizedParameter(UnrecognizedParameter)
    case cookiePreservative(CookiePreservativeParameter)
    case hostNameAddress(HostNameAddressParameter)
    case supportedAddressTypes(SupportedAddressTypesParameter)
    case outgoingSSNResetRequest(OutgoingSSNResetRequestParameter)
    case incomingSSNResetRequest(IncomingSSNResetRequestParameter)
    case ssnTSNResetRequest(SSNTSNResetRequestParameter)
    case reconfigurationResponse(ReconfigurationResponseParameter)
    case addOutgoingStreams(AddOutgoingStreamsParameter)
    case addIncomingStreams(AddIncomingStreamsParameter)
    case ecnCapable(ECNCapableParameter)
    case zeroChecksumAcceptable(ZeroChecksumAcceptableParameter)
    case random(RandomParameter)
    case chunkList(ChunkListParameter)
    case requestedHMACAlgorithm(RequestedHMACAlgorithmParameter)
    case padding(PaddingParameter)
    case supportedExtensions(SupportedExtensionsParameter)
    case forwardTSNSupported(ForwardTSNSupportedParameter)
    case addIPAddress(AddIPAddressParameter)
    case deleteIPAddress(DeleteIPAddressParameter)
    case errorCauseIndication(ErrorCauseIndicationParameter)
    case setPrimaryAddress(SetPrimaryAddressParameter)
    case successIndication(SuccessIndicationParameter)
    case adaptationLayerIndication(AdaptationLayerIndicationParameter)
    case unknown(UnknownParameter)

    /// Reads one parameter from its type and value.
    public init(type: UInt16, value: ByteBuffer) throws(WireError) {
        switch type {
        case HeartbeatInfoParameter.parameterType: self = .heartbeatInfo(try .init(value: value))
        case IPv4AddressParameter.parameterType: self = .ipv4Address(try .init(value: value))
        case IPv6AddressParameter.parameterType: self = .ipv6Address(try .init(value: value))
        case StateCookieParameter.parameterType: self = .stateCookie(try .init(value: value))
        case UnrecognizedParameter.parameterType: self = .unrecognizedParameter(try .init(value: value))
        case CookiePreservativeParameter.parameterType: self = .cookiePreservative(try .init(value: value))
        case HostNameAddressParameter.parameterType: self = .hostNameAddress(try .init(value: value))
        case SupportedAddressTypesParameter.parameterType: self = .supportedAddressTypes(try .init(value: value))
        case OutgoingSSNResetRequestParameter.parameterType: self = .outgoingSSNResetRequest(try .init(value: value))
        case IncomingSSNResetRequestParameter.parameterType: self = .incomingSSNResetRequest(try .init(value: value))
        case SSNTSNResetRequestParameter.parameterType: self = .ssnTSNResetRequest(try .init(value: value))
        case ReconfigurationResponseParameter.parameterType: self = .reconfigurationResponse(try .init(value: value))
        case AddOutgoingStreamsParameter.parameterType: self = .addOutgoingStreams(try .init(value: value))
        case AddIncomingStreamsParameter.parameterType: self = .addIncomingStreams(try .init(value: value))
        case ECNCapableParameter.parameterType: self = .ecnCapable(try .init(value: value))
        case ZeroChecksumAcceptableParameter.parameterType: self = .zeroChecksumAcceptable(try .init(value: value))
        case RandomParameter.parameterType: self = .random(try .init(value: value))
        case ChunkListParameter.parameterType: self = .chunkList(try .init(value: value))
        case RequestedHMACAlgorithmParameter.parameterType: self = .requestedHMACAlgorithm(try .init(value: value))
        case PaddingParameter.parameterType: self = .padding(try .init(value: value))
        case SupportedExtensionsParameter.parameterType: self = .supportedExtensions(try .init(value: value))
        case ForwardTSNSupportedParameter.parameterType: self = .forwardTSNSupported(try .init(value: value))
        case AddIPAddressParameter.parameterType: self = .addIPAddress(try .init(value: value))
        case DeleteIPAddressParameter.parameterType: self = .deleteIPAddress(try .init(value: value))
        case ErrorCauseIndicationParameter.parameterType: self = .errorCauseIndication(try .init(value: value))
        case SetPrimaryAddressParameter.parameterType: self = .setPrimaryAddress(try .init(value: value))
        case SuccessIndicationParameter.parameterType: self = .successIndication(try .init(value: value))
        case AdaptationLayerIndicationParameter.parameterType:
            self = .adaptationLayerIndication(try .init(value: value))
        default: self = .unknown(UnknownParameter(type: type, value: value))
        }
    }

    /// The parameter's type code.
    public var type: UInt16 {
        switch self {
        case .heartbeatInfo: HeartbeatInfoParameter.parameterType
        case .ipv4Address: IPv4AddressParameter.parameterType
        case .ipv6Address: IPv6AddressParameter.parameterType
        case .stateCookie: StateCookieParameter.parameterType
        case .unrecognizedParameter: UnrecognizedParameter.parameterType
        case .cookiePreservative: CookiePreservativeParameter.parameterType
        case .hostNameAddress: HostNameAddressParameter.parameterType
        case .supportedAddressTypes: SupportedAddressTypesParameter.parameterType
        case .outgoingSSNResetRequest: OutgoingSSNResetRequestParameter.parameterType
        case .incomingSSNResetRequest: IncomingSSNResetRequestParameter.parameterType
        case .ssnTSNResetRequest: SSNTSNResetRequestParameter.parameterType
        case .reconfigurationResponse: ReconfigurationResponseParameter.parameterType
        case .addOutgoingStreams: AddOutgoingStreamsParameter.parameterType
        case .addIncomingStreams: AddIncomingStreamsParameter.parameterType
        case .ecnCapable: ECNCapableParameter.parameterType
        case .zeroChecksumAcceptable: ZeroChecksumAcceptableParameter.parameterType
        case .random: RandomParameter.parameterType
        case .chunkList: ChunkListParameter.parameterType
        case .requestedHMACAlgorithm: RequestedHMACAlgorithmParameter.parameterType
        case .padding: PaddingParameter.parameterType
        case .supportedExtensions: SupportedExtensionsParameter.parameterType
        case .forwardTSNSupported: ForwardTSNSupportedParameter.parameterType
        case .addIPAddress: AddIPAddressParameter.parameterType
        case .deleteIPAddress: DeleteIPAddressParameter.parameterType
        case .errorCauseIndication: ErrorCauseIndicationParameter.parameterType
        case .setPrimaryAddress: SetPrimaryAddressParameter.parameterType
        case .successIndication: SuccessIndicationParameter.parameterType
        case .adaptationLayerIndication: AdaptationLayerIndicationParameter.parameterType
        case .unknown(let p): p.type
        }
    }

    /// Writes the whole parameter (header and value, no trailing padding).
    public func write(to buffer: inout ByteBuffer) {
        switch self {
        case .heartbeatInfo(let p): p.write(to: &buffer)
        case .ipv4Address(let p): p.write(to: &buffer)
        case .ipv6Address(let p): p.write(to: &buffer)
        case .stateCookie(let p): p.write(to: &buffer)
        case .unrecognizedParameter(let p): p.write(to: &buffer)
        case .cookiePreservative(let p): p.write(to: &buffer)
        case .hostNameAddress(let p): p.write(to: &buffer)
        case .supportedAddressTypes(let p): p.write(to: &buffer)
        case .outgoingSSNResetRequest(let p): p.write(to: &buffer)
        case .incomingSSNResetRequest(let p): p.write(to: &buffer)
        case .ssnTSNResetRequest(let p): p.write(to: &buffer)
        case .reconfigurationResponse(let p): p.write(to: &buffer)
        case .addOutgoingStreams(let p): p.write(to: &buffer)
        case .addIncomingStreams(let p): p.write(to: &buffer)
        case .ecnCapable(let p): p.write(to: &buffer)
        case .zeroChecksumAcceptable(let p): p.write(to: &buffer)
        case .random(let p): p.write(to: &buffer)
        case .chunkList(let p): p.write(to: &buffer)
        case .requestedHMACAlgorithm(let p): p.write(to: &buffer)
        case .padding(let p): p.write(to: &buffer)
        case .supportedExtensions(let p): p.write(to: &buffer)
        case .forwardTSNSupported(let p): p.write(to: &buffer)
        case .addIPAddress(let p): p.write(to: &buffer)
        case .deleteIPAddress(let p): p.write(to: &buffer)
        case .errorCauseIndication(let p): p.write(to: &buffer)
        case .setPrimaryAddress(let p): p.write(to: &buffer)
        case .successIndication(let p): p.write(to: &buffer)
        case .adaptationLayerIndication(let p): p.write(to: &buffer)
        case .unknown(let p): p.write(to: &buffer)
        }
    }
}

/// A parsed list of parameters, with what RFC 9260 §3.2.1 asks of unrecognised ones.
public struct ParameterList: Hashable, Sendable {
    /// Every parameter read, in order, including unknown ones. Reading stops after an
    /// unknown parameter whose action is `.stop` or `.stopAndReport`; that one is the last.
    public var parameters: [Parameter]

    public init(_ parameters: [Parameter]) { self.parameters = parameters }

    /// Reads every parameter of `buffer` (the variable part of a chunk).
    public init(parsing buffer: ByteBuffer) throws(WireError) {
        var reader = TLVReader(buffer)
        var result: [Parameter] = []
        // Room for a typical INIT's parameters at once (each takes at least 4 bytes).
        result.reserveCapacity(min(buffer.readableBytes / 4, 8))
        while let (type, value) = try reader.next() {
            let parameter = try Parameter(type: type, value: value)
            result.append(parameter)
            if case .unknown(let unknown) = parameter, !unknown.action.continues { break }
        }
        parameters = result
    }

    /// Whether reading stopped early at an unknown parameter (the `00`/`01` types).
    public var stoppedAtUnrecognized: Bool {
        if case .unknown(let unknown) = parameters.last { return !unknown.action.continues }
        return false
    }

    /// The unknown parameters the peer must be told about (`01` and `11` types).
    public var unrecognizedToReport: [UnknownParameter] {
        parameters.compactMap {
            if case .unknown(let unknown) = $0, unknown.action.reports { return unknown }
            return nil
        }
    }

    /// Writes the parameters, padded between each other, the last one unpadded.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeTLVList(parameters) { parameter, buffer in parameter.write(to: &buffer) }
    }
}
