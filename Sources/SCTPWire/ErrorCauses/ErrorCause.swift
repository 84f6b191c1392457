import NIOCore

/// One kind of error cause (RFC 9260 §3.3.10 and the extensions), carried by ABORT,
/// ERROR and ASCONF's Error Cause Indication: its code, how to read it and write it.
public protocol ErrorCauseValue: Hashable, Sendable {
    /// The 16-bit cause code.
    static var causeCode: UInt16 { get }
    /// Reads the cause-specific information (the bytes after the 4-byte header, without padding).
    init(value: ByteBuffer) throws(WireError)
    /// Writes the cause-specific information (no header, no trailing padding).
    func writeValue(to buffer: inout ByteBuffer)
}

extension ErrorCauseValue {
    @inlinable
    static func fields(_ value: ByteBuffer) -> FieldReader {
        FieldReader(value, shortError: .invalidErrorCauseLength(code: causeCode, length: value.readableBytes + 4))
    }

    /// Writes the whole cause: header and value, without trailing padding.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeTLV(type: Self.causeCode) { writeValue(to: &$0) }
    }
}

/// A cause whose information is a run of bytes kept as received (a chunk, parameters, text).
public protocol OpaqueErrorCause: ErrorCauseValue {
    var bytes: ByteBuffer { get }
    init(bytes: ByteBuffer)
}

extension OpaqueErrorCause {
    public init(value: ByteBuffer) throws(WireError) { self.init(bytes: value) }
    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeImmutableBuffer(bytes) }
}

/// A cause with no information beyond its code.
public protocol EmptyErrorCause: ErrorCauseValue {
    init()
}

extension EmptyErrorCause {
    public init(value: ByteBuffer) throws(WireError) {
        try Self.fields(value).expectEnd()
        self.init()
    }

    public func writeValue(to buffer: inout ByteBuffer) {}
}

/// A cause code we do not know, kept with its bytes.
public struct UnknownErrorCause: Hashable, Sendable {
    public var code: UInt16
    public var value: ByteBuffer

    public init(code: UInt16, value: ByteBuffer) {
        self.code = code
        self.value = value
    }

    public func write(to buffer: inout ByteBuffer) {
        buffer.writeTLV(type: code) { $0.writeImmutableBuffer(value) }
    }
}

/// Any error cause.
public enum ErrorCause: Hashable, Sendable {
    case invalidStreamIdentifier(InvalidStreamIdentifierCause)
    case missingMandatoryParameter(MissingMandatoryParameterCause)
    case staleCookie(StaleCookieCause)
    case outOfResource(OutOfResourceCause)
    case unresolvableAddress(UnresolvableAddressCause)
    case unrecognizedChunkType(UnrecognizedChunkTypeCause)
    case invalidMandatoryParameter(InvalidMandatoryParameterCause)
    case unrecognizedParameters(UnrecognizedParametersCause)
    case noUserData(NoUserDataCause)
    case cookieReceivedWhileShuttingDown(CookieReceivedWhileShuttingDownCause)
    case restartWithNewAddresses(RestartWithNewAddressesCause)
    case userInitiatedAbort(UserInitiatedAbortCause)
    case protocolViolation(ProtocolViolationCause)
    case deleteLastRemainingAddress(DeleteLastRemainingAddressCause)
    case resourceShortage(ResourceShortageCause)
    case deleteSourceAddress(DeleteSourceAddressCause)
    case illegalASCONFAck(IllegalASCONFAckCause)
    case noAuthorization(NoAuthorizationCause)
    case unsupportedHMACIdentifier(UnsupportedHMACIdentifierCause)
    case unknown(UnknownErrorCause)

    /// Reads one cause from its code and value.
    public init(code: UInt16, value: ByteBuffer) throws(WireError) {
        switch code {
        case InvalidStreamIdentifierCause.causeCode: self = .invalidStreamIdentifier(try .init(value: value))
        case MissingMandatoryParameterCause.causeCode: self = .missingMandatoryParameter(try .init(value: value))
        case StaleCookieCause.causeCode: self = .staleCookie(try .init(value: value))
        case OutOfResourceCause.causeCode: self = .outOfResource(try .init(value: value))
        case UnresolvableAddressCause.causeCode: self = .unresolvableAddress(try .init(value: value))
        case UnrecognizedChunkTypeCause.causeCode: self = .unrecognizedChunkType(try .init(value: value))
        case InvalidMandatoryParameterCause.causeCode: self = .invalidMandatoryParameter(try .init(value: value))
        case UnrecognizedParametersCause.causeCode: self = .unrecognizedParameters(try .init(value: value))
        case NoUserDataCause.causeCode: self = .noUserData(try .init(value: value))
        case CookieReceivedWhileShuttingDownCause.causeCode:
            self = .cookieReceivedWhileShuttingDown(try .init(value: value))
        case RestartWithNewAddressesCause.causeCode: self = .restartWithNewAddresses(try .init(value: value))
        case UserInitiatedAbortCause.causeCode: self = .userInitiatedAbort(try .init(value: value))
        case ProtocolViolationCause.causeCode: self = .protocolViolation(try .init(value: value))
        case DeleteLastRemainingAddressCause.causeCode: self = .deleteLastRemainingAddress(try .init(value: value))
        case ResourceShortageCause.causeCode: self = .resourceShortage(try .init(value: value))
        case DeleteSourceAddressCause.causeCode: self = .deleteSourceAddress(try .init(value: value))
        case IllegalASCONFAckCause.causeCode: self = .illegalASCONFAck(try .init(value: value))
        case NoAuthorizationCause.causeCode: self = .noAuthorization(try .init(value: value))
        case UnsupportedHMACIdentifierCause.causeCode: self = .unsupportedHMACIdentifier(try .init(value: value))
        default: self = .unknown(UnknownErrorCause(code: code, value: value))
        }
    }

    /// The cause code.
    public var code: UInt16 {
        switch self {
        case .invalidStreamIdentifier: InvalidStreamIdentifierCause.causeCode
        case .missingMandatoryParameter: MissingMandatoryParameterCause.causeCode
        case .staleCookie: StaleCookieCause.causeCode
        case .outOfResource: OutOfResourceCause.causeCode
        case .unresolvableAddress: UnresolvableAddressCause.causeCode
        case .unrecognizedChunkType: UnrecognizedChunkTypeCause.causeCode
        case .invalidMandatoryParameter: InvalidMandatoryParameterCause.causeCode
        case .unrecognizedParameters: UnrecognizedParametersCause.causeCode
        case .noUserData: NoUserDataCause.causeCode
        case .cookieReceivedWhileShuttingDown: CookieReceivedWhileShuttingDownCause.causeCode
        case .restartWithNewAddresses: RestartWithNewAddressesCause.causeCode
        case .userInitiatedAbort: UserInitiatedAbortCause.causeCode
        case .protocolViolation: ProtocolViolationCause.causeCode
        case .deleteLastRemainingAddress: DeleteLastRemainingAddressCause.causeCode
        case .resourceShortage: ResourceShortageCause.causeCode
        case .deleteSourceAddress: DeleteSourceAddressCause.causeCode
        case .illegalASCONFAck: IllegalASCONFAckCause.causeCode
        case .noAuthorization: NoAuthorizationCause.causeCode
        case .unsupportedHMACIdentifier: UnsupportedHMACIdentifierCause.causeCode
        case .unknown(let cause): cause.code
        }
    }

    /// Writes the whole cause (header and value, no trailing padding).
    public func write(to buffer: inout ByteBuffer) {
        switch self {
        case .invalidStreamIdentifier(let c): c.write(to: &buffer)
        case .missingMandatoryParameter(let c): c.write(to: &buffer)
        case .staleCookie(let c): c.write(to: &buffer)
        case .outOfResource(let c): c.write(to: &buffer)
        case .unresolvableAddress(let c): c.write(to: &buffer)
        case .unrecognizedChunkType(let c): c.write(to: &buffer)
        case .invalidMandatoryParameter(let c): c.write(to: &buffer)
        case .unrecognizedParameters(let c): c.write(to: &buffer)
        case .noUserData(let c): c.write(to: &buffer)
        case .cookieReceivedWhileShuttingDown(let c): c.write(to: &buffer)
        case .restartWithNewAddresses(let c): c.write(to: &buffer)
        case .userInitiatedAbort(let c): c.write(to: &buffer)
        case .protocolViolation(let c): c.write(to: &buffer)
        case .deleteLastRemainingAddress(let c): c.write(to: &buffer)
        case .resourceShortage(let c): c.write(to: &buffer)
        case .deleteSourceAddress(let c): c.write(to: &buffer)
        case .illegalASCONFAck(let c): c.write(to: &buffer)
        case .noAuthorization(let c): c.write(to: &buffer)
        case .unsupportedHMACIdentifier(let c): c.write(to: &buffer)
        case .unknown(let c): c.write(to: &buffer)
        }
    }

    /// Reads a run of causes, such as the body of ABORT or ERROR.
    public static func parseList(_ buffer: ByteBuffer) throws(WireError) -> [ErrorCause] {
        var reader = TLVReader(buffer)
        var causes: [ErrorCause] = []
        while let (code, value) = try reader.next() {
            causes.append(try ErrorCause(code: code, value: value))
        }
        return causes
    }

    /// Writes a run of causes, padded between each other, the last one unpadded.
    public static func writeList(_ causes: [ErrorCause], to buffer: inout ByteBuffer) {
        buffer.writeTLVList(causes) { cause, buffer in cause.write(to: &buffer) }
    }
}
