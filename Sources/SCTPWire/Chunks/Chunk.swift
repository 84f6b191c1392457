import NIOCore

/// One kind of SCTP chunk: its type code, flags, and how to read and write its value,
/// side by side (RFC 9260 §3.2 and the extensions).
public protocol ChunkValue: Hashable, Sendable {
    /// The 8-bit chunk type.
    static var chunkType: UInt8 { get }
    /// Reads the chunk from its flags and value (the bytes after the 4-byte chunk header,
    /// without padding). Never reads past `value`.
    init(flags: UInt8, value: ByteBuffer) throws(WireError)
    /// The flags byte to send.
    var flags: UInt8 { get }
    /// Writes the value (no chunk header, no trailing padding).
    func writeValue(to buffer: inout ByteBuffer)
}

extension ChunkValue {
    public var flags: UInt8 { 0 }

    @inlinable
    static func fields(_ value: ByteBuffer) -> FieldReader {
        FieldReader(value, shortError: .invalidChunkLength(type: chunkType, length: value.readableBytes + 4))
    }

    /// Writes header and value, without trailing padding.
    public func writeUnpadded(to buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        buffer.writeFields(byteCount: 4) {
            $0.put(Self.chunkType)
            $0.put(flags)
            $0.put(UInt16(0))
        }
        writeValue(to: &buffer)
        let length = buffer.writerIndex - start
        precondition(length <= Int(UInt16.max), "chunk longer than 65535 bytes")
        buffer.storeInteger(UInt16(length), at: start + 2)
    }

    /// Writes the whole chunk: header, value and padding to a multiple of 4 bytes.
    public func write(to buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        writeUnpadded(to: &buffer)
        buffer.writePadding(alignedFrom: start)
    }
}

/// The T bit of ABORT and SHUTDOWN COMPLETE (RFC 9260 §3.3.7, §3.3.13).
public struct TagFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The verification tag is the receiver's own tag, reflected back, not the peer's.
    public static let reflectedTag = TagFlags(rawValue: 0x01)
}

/// A chunk of a type we do not know, with its bytes, so it can be reported
/// (Unrecognized Chunk Type) as its type's two high bits ask.
public struct UnknownChunk: Hashable, Sendable {
    public var type: UInt8
    public var flags: UInt8
    public var value: ByteBuffer

    public init(type: UInt8, flags: UInt8, value: ByteBuffer) {
        self.type = type
        self.flags = flags
        self.value = value
    }

    /// What RFC 9260 §3.2 says to do with it.
    public var action: UnrecognizedAction { UnrecognizedAction(chunkType: type) }
}

/// Chunk type codes (IANA "Chunk Types" registry).
public enum ChunkType {
    public static let data: UInt8 = 0
    public static let initiation: UInt8 = 1
    public static let initiationAck: UInt8 = 2
    public static let sack: UInt8 = 3
    public static let heartbeat: UInt8 = 4
    public static let heartbeatAck: UInt8 = 5
    public static let abort: UInt8 = 6
    public static let shutdown: UInt8 = 7
    public static let shutdownAck: UInt8 = 8
    public static let error: UInt8 = 9
    public static let cookieEcho: UInt8 = 10
    public static let cookieAck: UInt8 = 11
    public static let ecne: UInt8 = 12
    public static let cwr: UInt8 = 13
    public static let shutdownComplete: UInt8 = 14
    public static let auth: UInt8 = 15
    public static let iData: UInt8 = 64
    public static let nrSack: UInt8 = 16
    public static let asconfAck: UInt8 = 0x80
    public static let reconfig: UInt8 = 0x82
    public static let pad: UInt8 = 0x84
    public static let forwardTSN: UInt8 = 0xC0
    public static let asconf: UInt8 = 0xC1
    public static let iForwardTSN: UInt8 = 0xC2
}

/// Any SCTP chunk.
public enum Chunk: Hashable, Sendable {
    case data(DataChunk)
    case initiation(InitChunk)
    case initiationAck(InitAckChunk)
    case sack(SackChunk)
    case nrSack(NRSackChunk)
    case heartbeat(HeartbeatChunk)
    case heartbeatAck(HeartbeatAckChunk)
    case abort(AbortChunk)
    case shutdown(ShutdownChunk)
    case shutdownAck(ShutdownAckChunk)
    case error(ErrorChunk)
    case cookieEcho(CookieEchoChunk)
    case cookieAck(CookieAckChunk)
    case ecne(ECNEChunk)
    case cwr(CWRChunk)
    case shutdownComplete(ShutdownCompleteChunk)
    case auth(AuthChunk)
    case iData(IDataChunk)
    case asconf(ASCONFChunk)
    case asconfAck(ASCONFAckChunk)
    case reconfig(ReconfigChunk)
    case pad(PadChunk)
    case forwardTSN(ForwardTSNChunk)
    case iForwardTSN(IForwardTSNChunk)
    case unknown(UnknownChunk)

    /// Reads one chunk from its header fields and value.
    public init(type: UInt8, flags: UInt8, value: ByteBuffer) throws(WireError) {
        switch type {
        case DataChunk.chunkType: self = .data(try .init(flags: flags, value: value))
        case InitChunk.chunkType: self = .initiation(try .init(flags: flags, value: value))
        case InitAckChunk.chunkType: self = .initiationAck(try .init(flags: flags, value: value))
        case SackChunk.chunkType: self = .sack(try .init(flags: flags, value: value))
        case NRSackChunk.chunkType: self = .nrSack(try .init(flags: flags, value: value))
        case HeartbeatChunk.chunkType: self = .heartbeat(try .init(flags: flags, value: value))
        case HeartbeatAckChunk.chunkType: self = .heartbeatAck(try .init(flags: flags, value: value))
        case AbortChunk.chunkType: self = .abort(try .init(flags: flags, value: value))
        case ShutdownChunk.chunkType: self = .shutdown(try .init(flags: flags, value: value))
        case ShutdownAckChunk.chunkType: self = .shutdownAck(try .init(flags: flags, value: value))
        case ErrorChunk.chunkType: self = .error(try .init(flags: flags, value: value))
        case CookieEchoChunk.chunkType: self = .cookieEcho(try .init(flags: flags, value: value))
        case CookieAckChunk.chunkType: self = .cookieAck(try .init(flags: flags, value: value))
        case ECNEChunk.chunkType: self = .ecne(try .init(flags: flags, value: value))
        case CWRChunk.chunkType: self = .cwr(try .init(flags: flags, value: value))
        case ShutdownCompleteChunk.chunkType: self = .shutdownComplete(try .init(flags: flags, value: value))
        case AuthChunk.chunkType: self = .auth(try .init(flags: flags, value: value))
        case IDataChunk.chunkType: self = .iData(try .init(flags: flags, value: value))
        case ASCONFChunk.chunkType: self = .asconf(try .init(flags: flags, value: value))
        case ASCONFAckChunk.chunkType: self = .asconfAck(try .init(flags: flags, value: value))
        case ReconfigChunk.chunkType: self = .reconfig(try .init(flags: flags, value: value))
        case PadChunk.chunkType: self = .pad(try .init(flags: flags, value: value))
        case ForwardTSNChunk.chunkType: self = .forwardTSN(try .init(flags: flags, value: value))
        case IForwardTSNChunk.chunkType: self = .iForwardTSN(try .init(flags: flags, value: value))
        default: self = .unknown(UnknownChunk(type: type, flags: flags, value: value))
        }
    }

    /// The chunk type code.
    public var type: UInt8 {
        switch self {
        case .data: DataChunk.chunkType
        case .initiation: InitChunk.chunkType
        case .initiationAck: InitAckChunk.chunkType
        case .sack: SackChunk.chunkType
        case .nrSack: NRSackChunk.chunkType
        case .heartbeat: HeartbeatChunk.chunkType
        case .heartbeatAck: HeartbeatAckChunk.chunkType
        case .abort: AbortChunk.chunkType
        case .shutdown: ShutdownChunk.chunkType
        case .shutdownAck: ShutdownAckChunk.chunkType
        case .error: ErrorChunk.chunkType
        case .cookieEcho: CookieEchoChunk.chunkType
        case .cookieAck: CookieAckChunk.chunkType
        case .ecne: ECNEChunk.chunkType
        case .cwr: CWRChunk.chunkType
        case .shutdownComplete: ShutdownCompleteChunk.chunkType
        case .auth: AuthChunk.chunkType
        case .iData: IDataChunk.chunkType
        case .asconf: ASCONFChunk.chunkType
        case .asconfAck: ASCONFAckChunk.chunkType
        case .reconfig: ReconfigChunk.chunkType
        case .pad: PadChunk.chunkType
        case .forwardTSN: ForwardTSNChunk.chunkType
        case .iForwardTSN: IForwardTSNChunk.chunkType
        case .unknown(let c): c.type
        }
    }

    /// Writes header and value, without trailing padding.
    public func writeUnpadded(to buffer: inout ByteBuffer) {
        switch self {
        case .data(let c): c.writeUnpadded(to: &buffer)
        case .initiation(let c): c.writeUnpadded(to: &buffer)
        case .initiationAck(let c): c.writeUnpadded(to: &buffer)
        case .sack(let c): c.writeUnpadded(to: &buffer)
        case .nrSack(let c): c.writeUnpadded(to: &buffer)
        case .heartbeat(let c): c.writeUnpadded(to: &buffer)
        case .heartbeatAck(let c): c.writeUnpadded(to: &buffer)
        case .abort(let c): c.writeUnpadded(to: &buffer)
        case .shutdown(let c): c.writeUnpadded(to: &buffer)
        case .shutdownAck(let c): c.writeUnpadded(to: &buffer)
        case .error(let c): c.writeUnpadded(to: &buffer)
        case .cookieEcho(let c): c.writeUnpadded(to: &buffer)
        case .cookieAck(let c): c.writeUnpadded(to: &buffer)
        case .ecne(let c): c.writeUnpadded(to: &buffer)
        case .cwr(let c): c.writeUnpadded(to: &buffer)
        case .shutdownComplete(let c): c.writeUnpadded(to: &buffer)
        case .auth(let c): c.writeUnpadded(to: &buffer)
        case .iData(let c): c.writeUnpadded(to: &buffer)
        case .asconf(let c): c.writeUnpadded(to: &buffer)
        case .asconfAck(let c): c.writeUnpadded(to: &buffer)
        case .reconfig(let c): c.writeUnpadded(to: &buffer)
        case .pad(let c): c.writeUnpadded(to: &buffer)
        case .forwardTSN(let c): c.writeUnpadded(to: &buffer)
        case .iForwardTSN(let c): c.writeUnpadded(to: &buffer)
        case .unknown(let c):
            buffer.writeFields(byteCount: 4) {
                $0.put(c.type)
                $0.put(c.flags)
                $0.put(UInt16(4 + c.value.readableBytes))
            }
            buffer.writeImmutableBuffer(c.value)
        }
    }

    /// Writes the whole chunk: header, value and padding to a multiple of 4 bytes.
    public func write(to buffer: inout ByteBuffer) {
        if case .data(let data) = self {
            data.writeChunk(to: &buffer)
            return
        }
        let start = buffer.writerIndex
        writeUnpadded(to: &buffer)
        buffer.writePadding(alignedFrom: start)
    }

    /// Whether RFC 9260 §6.10 forbids bundling this chunk with any other (INIT, INIT ACK,
    /// SHUTDOWN COMPLETE).
    public var mustStandAlone: Bool {
        switch self {
        case .initiation, .initiationAck, .shutdownComplete: true
        default: false
        }
    }
}
