import CSCTPChecksum
import NIOCore

/// The HEARTBEAT and HEARTBEAT ACK chunks carry one Heartbeat Info parameter.
public protocol HeartbeatLikeChunk: ChunkValue {
    var info: HeartbeatInfoParameter { get }
    init(info: HeartbeatInfoParameter)
}

extension HeartbeatLikeChunk {
    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        var reader = TLVReader(value)
        guard let (type, body) = try reader.next(), type == HeartbeatInfoParameter.parameterType else {
            throw .missingMandatoryParameter(chunkType: Self.chunkType, parameterType: HeartbeatInfoParameter.parameterType)
        }
        self.init(info: try HeartbeatInfoParameter(value: body))
    }

    public func writeValue(to buffer: inout ByteBuffer) { info.write(to: &buffer) }
}

/// HEARTBEAT chunk (type 4, RFC 9260 §3.3.5).
public struct HeartbeatChunk: HeartbeatLikeChunk {
    public static let chunkType: UInt8 = 4
    public var info: HeartbeatInfoParameter
    public init(info: HeartbeatInfoParameter) { self.info = info }
}

/// HEARTBEAT ACK chunk (type 5, RFC 9260 §3.3.6): echoes the HEARTBEAT's info.
public struct HeartbeatAckChunk: HeartbeatLikeChunk {
    public static let chunkType: UInt8 = 5
    public var info: HeartbeatInfoParameter
    public init(info: HeartbeatInfoParameter) { self.info = info }
}

/// ABORT and ERROR carry a list of error causes; ABORT also the T bit.
public protocol CauseCarryingChunk: ChunkValue {
    var causes: [ErrorCause] { get }
}

/// ABORT chunk (type 6, RFC 9260 §3.3.7).
public struct AbortChunk: CauseCarryingChunk {
    public static let chunkType: UInt8 = 6
    public var tagFlags: TagFlags
    public var causes: [ErrorCause]

    public init(tagFlags: TagFlags = [], causes: [ErrorCause] = []) {
        self.tagFlags = tagFlags
        self.causes = causes
    }

    public var flags: UInt8 { tagFlags.rawValue }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        tagFlags = TagFlags(rawValue: flags & TagFlags.reflectedTag.rawValue)
        causes = try ErrorCause.parseList(value)
    }

    public func writeValue(to buffer: inout ByteBuffer) { ErrorCause.writeList(causes, to: &buffer) }
}

/// ERROR chunk (type 9, RFC 9260 §3.3.10).
public struct ErrorChunk: CauseCarryingChunk {
    public static let chunkType: UInt8 = 9
    public var causes: [ErrorCause]

    public init(causes: [ErrorCause]) { self.causes = causes }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        causes = try ErrorCause.parseList(value)
    }

    public func writeValue(to buffer: inout ByteBuffer) { ErrorCause.writeList(causes, to: &buffer) }
}

/// SHUTDOWN chunk (type 7, RFC 9260 §3.3.8).
public struct ShutdownChunk: ChunkValue {
    public static let chunkType: UInt8 = 7
    public var cumulativeTSNAck: TSN

    public init(cumulativeTSNAck: TSN) { self.cumulativeTSNAck = cumulativeTSNAck }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        cumulativeTSNAck = TSN(try fields.read())
        try fields.expectEnd()
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeInteger(cumulativeTSNAck.rawValue) }
}

/// A chunk with no value: its length must be exactly 4.
public protocol EmptyChunk: ChunkValue {
    init()
}

extension EmptyChunk {
    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        try Self.fields(value).expectEnd()
        self.init()
    }

    public func writeValue(to buffer: inout ByteBuffer) {}
}

/// SHUTDOWN ACK chunk (type 8, RFC 9260 §3.3.9).
public struct ShutdownAckChunk: EmptyChunk {
    public static let chunkType: UInt8 = 8
    public init() {}
}

/// COOKIE ACK chunk (type 11, RFC 9260 §3.3.12).
public struct CookieAckChunk: EmptyChunk {
    public static let chunkType: UInt8 = 11
    public init() {}

    /// A packet of one COOKIE ACK, written straight into its 16-byte datagram with its
    /// checksum as `mode` says: the bytes `SCTPPacket(header:chunks:[.cookieAck(...)])
    /// .serialized(checksum: mode)` makes.
    public static func packet(header: CommonHeader, checksum mode: ChecksumMode) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: CommonHeader.size + 4)
        buffer.writeHeadersOfOneChunkPacket(header, chunkType: chunkType, chunkLength: 4)
        if mode == .crc32c {
            let crc = buffer.withUnsafeReadableBytes { csctp_sctp_packet_crc32c($0.baseAddress!, $0.count) }
            buffer.storeInteger(crc, at: buffer.readerIndex + 8, endianness: .little)
        }
        return buffer
    }
}

/// SHUTDOWN COMPLETE chunk (type 14, RFC 9260 §3.3.13). Must stand alone in its packet.
public struct ShutdownCompleteChunk: ChunkValue {
    public static let chunkType: UInt8 = 14
    public var tagFlags: TagFlags

    public init(tagFlags: TagFlags = []) { self.tagFlags = tagFlags }

    public var flags: UInt8 { tagFlags.rawValue }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        try Self.fields(value).expectEnd()
        tagFlags = TagFlags(rawValue: flags & TagFlags.reflectedTag.rawValue)
    }

    public func writeValue(to buffer: inout ByteBuffer) {}
}

/// COOKIE ECHO chunk (type 10, RFC 9260 §3.3.11): the state cookie, returned as received.
public struct CookieEchoChunk: ChunkValue {
    public static let chunkType: UInt8 = 10
    public var cookie: ByteBuffer

    public init(cookie: ByteBuffer) { self.cookie = cookie }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        guard value.readableBytes > 0 else { throw .invalidChunkLength(type: Self.chunkType, length: 4) }
        cookie = value
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeImmutableBuffer(cookie) }

    /// A packet of one COOKIE ECHO carrying `cookie`, written straight into its datagram with
    /// its CRC32c: the bytes `SCTPPacket(header:chunks:[.cookieEcho(...)]).serialized()` makes,
    /// without the chunk values and the general writer. `cookie` is at most 65,531 bytes (a
    /// State Cookie parameter's value always is).
    public static func packet(header: CommonHeader, cookie: ByteBuffer) -> ByteBuffer {
        let chunkLength = 4 + cookie.readableBytes
        precondition(chunkLength <= Int(UInt16.max), "COOKIE ECHO longer than 65535 bytes")
        let padding = paddingLength(chunkLength)
        let total = CommonHeader.size + chunkLength + padding
        var buffer = ByteBufferAllocator().buffer(capacity: total)
        buffer.writeHeadersOfOneChunkPacket(header, chunkType: chunkType, chunkLength: chunkLength)
        buffer.writeImmutableBuffer(cookie)
        if padding > 0 { buffer.writeRepeatingByte(0, count: padding) }
        let crc = buffer.withUnsafeReadableBytes { csctp_sctp_packet_crc32c($0.baseAddress!, $0.count) }
        buffer.storeInteger(crc, at: buffer.readerIndex + 8, endianness: .little)
        return buffer
    }
}

/// ECN Echo chunk (type 12, RFC 9260 Appendix A): congestion was seen at this TSN.
public struct ECNEChunk: ChunkValue {
    public static let chunkType: UInt8 = 12
    public var lowestTSN: TSN
    /// The number of CE-marked packets seen, in the 8-byte form some stacks send; `nil` in the
    /// 4-byte form of RFC 9260.
    public var numberOfPacketsSeen: UInt32?

    public init(lowestTSN: TSN, numberOfPacketsSeen: UInt32? = nil) {
        self.lowestTSN = lowestTSN
        self.numberOfPacketsSeen = numberOfPacketsSeen
    }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        lowestTSN = TSN(try fields.read())
        numberOfPacketsSeen = fields.remaining == 4 ? try fields.read() as UInt32 : nil
        try fields.expectEnd()
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeInteger(lowestTSN.rawValue)
        if let numberOfPacketsSeen { buffer.writeInteger(numberOfPacketsSeen) }
    }
}

/// Congestion Window Reduced chunk (type 13, RFC 9260 Appendix A).
public struct CWRChunk: ChunkValue {
    public static let chunkType: UInt8 = 13
    public var lowestTSN: TSN

    public init(lowestTSN: TSN) { self.lowestTSN = lowestTSN }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        lowestTSN = TSN(try fields.read())
        try fields.expectEnd()
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeInteger(lowestTSN.rawValue) }
}

extension ByteBuffer {
    /// Writes the common header (checksum zero, filled in later) and the header of the
    /// packet's one chunk (flags zero), for the packets written straight into their datagram.
    /// `chunkLength` is at most 65,535.
    @inline(__always)
    mutating func writeHeadersOfOneChunkPacket(_ header: CommonHeader, chunkType: UInt8, chunkLength: Int) {
        writeFields(byteCount: CommonHeader.size + 4) {
            $0.put(header.sourcePort)
            $0.put(header.destinationPort)
            $0.put(header.verificationTag)
            $0.put(UInt32(0))
            $0.put(chunkType)
            $0.put(UInt8(0))
            $0.put(UInt16(chunkLength))
        }
    }
}
