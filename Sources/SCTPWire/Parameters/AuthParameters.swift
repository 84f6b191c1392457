import NIOCore

/// Random parameter (type 0x8002, RFC 4895 §3.1): the sender's random number for AUTH keys.
public struct RandomParameter: ParameterValue {
    public static let parameterType: UInt16 = 0x8002
    public var random: ByteBuffer

    public init(random: ByteBuffer) { self.random = random }

    public init(value: ByteBuffer) throws(WireError) {
        guard value.readableBytes > 0 else { throw .invalidParameterLength(type: Self.parameterType, length: 4) }
        random = value
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeImmutableBuffer(random) }
}

/// Chunk List parameter (type 0x8003, RFC 4895 §3.2): chunk types that must arrive authenticated.
public struct ChunkListParameter: ParameterValue {
    public static let parameterType: UInt16 = 0x8003
    public var chunkTypes: [UInt8]

    public init(chunkTypes: [UInt8]) { self.chunkTypes = chunkTypes }
    public init(value: ByteBuffer) throws(WireError) { chunkTypes = value.bytesArray() }
    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeBytes(chunkTypes) }
}

/// Requested HMAC Algorithm parameter (type 0x8004, RFC 4895 §3.3): HMAC identifiers in order of preference.
public struct RequestedHMACAlgorithmParameter: ParameterValue {
    public static let parameterType: UInt16 = 0x8004
    public var hmacIdentifiers: [UInt16]

    /// HMAC-SHA-1 (RFC 4895 §6.1).
    public static let sha1: UInt16 = 1
    /// HMAC-SHA-256 (RFC 4895 §6.1).
    public static let sha256: UInt16 = 3

    public init(hmacIdentifiers: [UInt16]) { self.hmacIdentifiers = hmacIdentifiers }

    public init(value: ByteBuffer) throws(WireError) {
        guard value.readableBytes % 2 == 0, value.readableBytes > 0 else {
            throw .invalidParameterLength(type: Self.parameterType, length: value.readableBytes + 4)
        }
        var fields = Self.fields(value)
        var ids: [UInt16] = []
        while fields.remaining > 0 { ids.append(try fields.read()) }
        hmacIdentifiers = ids
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        for id in hmacIdentifiers { buffer.writeInteger(id) }
    }
}
