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

/// A list of parameters (the variable part of INIT, INIT ACK, ASCONF, ASCONF-ACK and
/// RE-CONFIG), with what RFC 9260 §3.2.1 asks of unrecognised ones.
///
/// The list is its bytes. One read from the wire keeps the chunk's bytes, checked once by
/// `init(parsing:)` (every parameter's length, every known parameter's format, exactly as
/// reading them as values would), and makes no value until asked: `parameters` reads them,
/// and the readers that matter per association (`ParameterCursor` through
/// `withParameterBytes`, `addresses`, `firstValue(ofType:)`) look at the bytes in place. One
/// made from values holds the bytes `write(to:)` writes for them. (One stored field: the
/// chunk values holding a list stay as cheap to copy and destroy as the other chunks.)
public struct ParameterList: Hashable, Sendable {
    /// The parameters: as read (up to the end of the last one `parameters` lists: an unknown
    /// parameter whose type says stop ends the list), or as written from values.
    @usableFromInline var storage: ByteBuffer

    /// A list of these parameters (written into the list's bytes now).
    public init(_ parameters: [Parameter]) {
        var buffer = ByteBuffer()
        buffer.writeTLVList(parameters) { parameter, buffer in parameter.write(to: &buffer) }
        storage = buffer
    }

    /// Every parameter, in order, including unknown ones. Reading stopped after an unknown
    /// parameter whose action is `.stop` or `.stopAndReport`; that one is the last. Each call
    /// reads the values anew from the bytes; setting it writes the bytes anew.
    public var parameters: [Parameter] {
        get {
            var reader = TLVReader(storage)
            var result: [Parameter] = []
            result.reserveCapacity(min(storage.readableBytes / 4, 8))
            // Checked when parsed (and written by us when made from values): neither the reader
            // nor a value fails here; should one, the parameter is kept as an unknown one with
            // its bytes, never a trap.
            while let (type, value) = try? reader.next() {
                result.append((try? Parameter(type: type, value: value)) ?? .unknown(UnknownParameter(type: type, value: value)))
            }
            return result
        }
        set { self = ParameterList(newValue) }
    }

    /// Reads the parameters of `buffer` (the variable part of a chunk), checking each as
    /// `Parameter(type:value:)` would, without making the values.
    public init(parsing buffer: ByteBuffer) throws(WireError) {
        let end = try Self.validate(buffer)
        storage = buffer.getSlice(at: buffer.readerIndex, length: end)!
    }

    /// Checks the TLVs of `buffer` and returns the length of the part `parameters` lists (all
    /// of it, or up to the end of the first unknown parameter whose type says stop, its
    /// padding excluded). Throws what reading them as values throws, for the first bad one.
    static func validate(_ buffer: ByteBuffer) throws(WireError) -> Int {
        // Lengths checked in place, one access to the bytes for the whole list; a parameter
        // whose format needs more than its length checked (RE-CONFIG's, ASCONF's) sends the
        // list through the values' own readers.
        let outcome: ValidationOutcome = buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            var end = 0
            while offset < bytes.count {
                let available = bytes.count - offset
                guard available >= 4 else { return .failed(.truncatedParameterHeader(available: available)) }
                let header = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
                let type = UInt16(truncatingIfNeeded: header >> 16)
                let length = Int(header & 0xFFFF)
                guard length >= 4 else { return .failed(.parameterLengthTooSmall(type: type, length: length)) }
                guard length <= available else {
                    return .failed(.parameterLengthExceedsChunk(type: type, length: length, available: available))
                }
                switch Parameter.lengthCheck(type: type, valueLength: length - 4) {
                case .valid: break
                case .invalid: return .failed(.invalidParameterLength(type: type, length: length))
                case .needsValue: return .needsValues
                case .unknown:
                    if !UnrecognizedAction(parameterType: type).continues { return .valid(end: offset + length) }
                }
                end = offset + length
                offset = min(offset + length + paddingLength(length), bytes.count)
            }
            return .valid(end: end)
        }
        switch outcome {
        case .valid(let end): return end
        case .failed(let error): throw error
        case .needsValues:
            var reader = TLVReader(buffer)
            var end = 0
            while true {
                let start = buffer.readableBytes - reader.buffer.readableBytes
                guard let (type, value) = try reader.next() else { break }
                let parameter = try Parameter(type: type, value: value)
                end = start + 4 + value.readableBytes
                if case .unknown(let unknown) = parameter, !unknown.action.continues { break }
            }
            return end
        }
    }

    private enum ValidationOutcome {
        case valid(end: Int)
        case failed(WireError)
        case needsValues
    }

    /// Whether the list has no parameter.
    @inlinable
    public var isEmpty: Bool { storage.readableBytes == 0 }

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

    /// Writes the parameters, padded between each other with zeros, the last one unpadded:
    /// each parameter's header and value as they are, a Padding parameter's value as zeros
    /// (what writing the values writes).
    public func write(to buffer: inout ByteBuffer) {
        let base = buffer.writerIndex
        var reader = TLVReader(storage)
        while let (type, value) = try? reader.next() {
            buffer.writePadding(alignedFrom: base)
            buffer.writeFields(byteCount: 4) {
                $0.put(type)
                $0.put(UInt16(4 + value.readableBytes))
            }
            if type == PaddingParameter.parameterType {
                buffer.writeRepeatingByte(0, count: value.readableBytes)
            } else {
                buffer.writeImmutableBuffer(value)
            }
        }
    }

    /// The parameters' bytes: as they were read (padding between them included) for a list
    /// read from the wire, as `write(to:)` writes them for one made of values.
    @inlinable
    public var bytes: ByteBuffer { storage }

    /// Calls `body` with a cursor over the parameters in place (the same parameters, in the
    /// same order, as `parameters`), and returns what it returns. The cursor's ranges index
    /// `bytes` from its reader index (`slice(_:)` makes a slice of one).
    @inlinable
    public func withParameterBytes<Result>(_ body: (inout ParameterCursor) -> Result) -> Result {
        bytes.withUnsafeReadableBytes { raw in
            var cursor = ParameterCursor(raw)
            return body(&cursor)
        }
    }

    /// The bytes of `range` (a value range given by a `ParameterCursor` over this list), as a
    /// slice; empty when the range is not within the list.
    @inlinable
    public func slice(_ range: Range<Int>) -> ByteBuffer {
        let bytes = bytes
        guard range.lowerBound >= 0, range.upperBound <= bytes.readableBytes else { return ByteBuffer() }
        return bytes.getSlice(at: bytes.readerIndex + range.lowerBound, length: range.count)!
    }

    /// The value of the first parameter of `type`, as a slice of the list's bytes.
    @inlinable
    public func firstValue(ofType type: UInt16) -> ByteBuffer? {
        let range: Range<Int>? = withParameterBytes { cursor in
            while let parameter = cursor.next() {
                if parameter.type == type { return parameter.value }
            }
            return nil
        }
        return range.map(slice)
    }

    /// The addresses of the IPv4 and IPv6 address parameters, in order (no array is
    /// allocated when there are none).
    @inlinable
    public var addresses: [IPAddress] {
        withParameterBytes { cursor in
            var result: [IPAddress] = []
            while let parameter = cursor.next() {
                if let address = cursor.address(parameter) { result.append(address) }
            }
            return result
        }
    }

    public static func == (a: ParameterList, b: ParameterList) -> Bool { a.parameters == b.parameters }

    public func hash(into hasher: inout Hasher) { hasher.combine(parameters) }
}

/// One parameter seen in place by a `ParameterCursor`: its type and where its value lies.
public struct ParameterView: Hashable, Sendable {
    /// The parameter type.
    public var type: UInt16
    /// The value's bytes (after the 4-byte header, without padding), as offsets in the list's bytes.
    public var value: Range<Int>

    /// A parameter of `type` whose value lies at `value`.
    @inlinable
    public init(type: UInt16, value: Range<Int>) {
        self.type = type
        self.value = value
    }

    /// What RFC 9260 §3.2.1 says to do with it when it is not recognised.
    public var action: UnrecognizedAction { UnrecognizedAction(parameterType: type) }
}

/// Walks the parameters of a list in place (`ParameterList.withParameterBytes`): each one's
/// type and value range, with bounded readers for their fields. It stops at a length that
/// does not fit (which a list checked by `ParameterList(parsing:)` does not have) and never
/// reads outside its bytes.
public struct ParameterCursor {
    /// The list's bytes.
    public let bytes: UnsafeRawBufferPointer
    @usableFromInline var offset = 0

    @inlinable
    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// The next parameter, or `nil` at the end.
    @inlinable
    public mutating func next() -> ParameterView? {
        guard bytes.count - offset >= 4 else { return nil }
        let header = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        let length = Int(header & 0xFFFF)
        guard length >= 4, length <= bytes.count - offset else { return nil }
        let view = ParameterView(type: UInt16(truncatingIfNeeded: header >> 16), value: (offset + 4)..<(offset + length))
        offset = min(offset + length + paddingLength(length), bytes.count)
        return view
    }

    /// The 32-bit field at the start of a value, when the value is exactly 4 bytes long.
    @inlinable
    public func uint32(_ parameter: ParameterView) -> UInt32? {
        guard parameter.value.count == 4, parameter.value.upperBound <= bytes.count, parameter.value.lowerBound >= 0 else { return nil }
        return UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: parameter.value.lowerBound, as: UInt32.self))
    }

    /// The address an IPv4 or IPv6 address parameter carries (`nil` for other parameters and
    /// for a value of the wrong length).
    @inlinable
    public func address(_ parameter: ParameterView) -> IPAddress? {
        let value = parameter.value
        guard value.lowerBound >= 0, value.upperBound <= bytes.count else { return nil }
        switch (parameter.type, value.count) {
        case (IPv4AddressParameter.parameterType, 4):
            return .v4(IPv4Address(rawValue: UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: value.lowerBound, as: UInt32.self))))
        case (IPv6AddressParameter.parameterType, 16):
            let high = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: value.lowerBound, as: UInt64.self))
            let low = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: value.lowerBound + 8, as: UInt64.self))
            return .v6(IPv6Address(high: high, low: low))
        default:
            return nil
        }
    }

    /// The bytes of a value (or any range within the list), empty when out of bounds.
    @inlinable
    public func rawBytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        guard range.lowerBound >= 0, range.upperBound <= bytes.count else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: bytes[range])
    }
}

extension Parameter {
    /// Whether `Parameter(type:value:)` reads parameters of `type` as a known kind (and not
    /// as `.unknown`).
    public static func isKnownType(_ type: UInt16) -> Bool { lengthCheck(type: type, valueLength: 0) != .unknown }

    /// How far a parameter's value length alone tells whether `Parameter(type:value:)` reads it.
    enum LengthCheck {
        /// The length is right and nothing else can be wrong.
        case valid
        /// The value would be refused with `invalidParameterLength`.
        case invalid
        /// A known parameter whose format needs its value read.
        case needsValue
        /// A type `Parameter` does not know.
        case unknown
    }

    /// What `Parameter(type:value:)` would make of a value of `valueLength` bytes of `type`,
    /// for the parameters whose format is a length rule (those of INIT and INIT ACK, AUTH's,
    /// HEARTBEAT's); the others answer `needsValue`.
    static func lengthCheck(type: UInt16, valueLength: Int) -> LengthCheck {
        func exactly(_ count: Int) -> LengthCheck { valueLength == count ? .valid : .invalid }
        switch type {
        case HeartbeatInfoParameter.parameterType, PaddingParameter.parameterType,
             SupportedExtensionsParameter.parameterType, ChunkListParameter.parameterType:
            return .valid
        case IPv4AddressParameter.parameterType: return exactly(4)
        case IPv6AddressParameter.parameterType: return exactly(16)
        case StateCookieParameter.parameterType, RandomParameter.parameterType, HostNameAddressParameter.parameterType:
            return valueLength > 0 ? .valid : .invalid
        case UnrecognizedParameter.parameterType: return valueLength >= 4 ? .valid : .invalid
        case CookiePreservativeParameter.parameterType, ZeroChecksumAcceptableParameter.parameterType,
             AdaptationLayerIndicationParameter.parameterType:
            return exactly(4)
        case ECNCapableParameter.parameterType, ForwardTSNSupportedParameter.parameterType: return exactly(0)
        case SupportedAddressTypesParameter.parameterType: return valueLength % 2 == 0 ? .valid : .invalid
        case RequestedHMACAlgorithmParameter.parameterType: return valueLength > 0 && valueLength % 2 == 0 ? .valid : .invalid
        case OutgoingSSNResetRequestParameter.parameterType, IncomingSSNResetRequestParameter.parameterType,
             SSNTSNResetRequestParameter.parameterType, ReconfigurationResponseParameter.parameterType,
             AddOutgoingStreamsParameter.parameterType, AddIncomingStreamsParameter.parameterType,
             AddIPAddressParameter.parameterType, DeleteIPAddressParameter.parameterType,
             ErrorCauseIndicationParameter.parameterType, SetPrimaryAddressParameter.parameterType,
             SuccessIndicationParameter.parameterType:
            return .needsValue
        default:
            return .unknown
        }
    }
}
