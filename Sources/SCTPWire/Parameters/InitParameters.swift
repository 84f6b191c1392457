import NIOCore

/// Heartbeat Info parameter (type 1, RFC 9260 §3.3.5): opaque sender data echoed back by HEARTBEAT ACK.
public struct HeartbeatInfoParameter: ParameterValue {
    public static let parameterType: UInt16 = 1
    public var info: ByteBuffer

    public init(info: ByteBuffer) { self.info = info }
    public init(value: ByteBuffer) throws(WireError) { info = value }
    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeImmutableBuffer(info) }
}

/// State Cookie parameter (type 7, RFC 9260 §3.3.3): the opaque cookie of INIT ACK.
public struct StateCookieParameter: ParameterValue {
    public static let parameterType: UInt16 = 7
    public var cookie: ByteBuffer

    public init(cookie: ByteBuffer) { self.cookie = cookie }

    public init(value: ByteBuffer) throws(WireError) {
        guard value.readableBytes > 0 else { throw .invalidParameterLength(type: Self.parameterType, length: 4) }
        cookie = value
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeImmutableBuffer(cookie) }
}

/// Unrecognized Parameter parameter (type 8, RFC 9260 §3.3.3): carried in INIT ACK, it
/// returns to the peer one parameter of its INIT that we did not recognise, header and all.
public struct UnrecognizedParameter: ParameterValue {
    public static let parameterType: UInt16 = 8
    /// The unrecognised parameter as it was received (its TLV header included).
    public var parameter: ByteBuffer

    public init(parameter: ByteBuffer) { self.parameter = parameter }

    /// Wraps an unknown parameter for reporting.
    public init(reporting unknown: UnknownParameter) {
        var buffer = ByteBuffer()
        unknown.write(to: &buffer)
        parameter = buffer
    }

    public init(value: ByteBuffer) throws(WireError) {
        guard value.readableBytes >= 4 else {
            throw .invalidParameterLength(type: Self.parameterType, length: value.readableBytes + 4)
        }
        parameter = value
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeImmutableBuffer(parameter) }
}

/// Cookie Preservative parameter (type 9, RFC 9260 §3.3.2.1): asks for a longer cookie life after a stale cookie.
public struct CookiePreservativeParameter: ParameterValue {
    public static let parameterType: UInt16 = 9
    /// Suggested cookie life-span increment in milliseconds.
    public var lifeSpanIncrement: UInt32

    public init(lifeSpanIncrement: UInt32) { self.lifeSpanIncrement = lifeSpanIncrement }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        lifeSpanIncrement = try fields.read()
        try fields.expectEnd()
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeInteger(lifeSpanIncrement) }
}

/// ECN Capable parameter (type 0x8000, RFC 9260 Appendix A): the sender supports ECN.
public struct ECNCapableParameter: ParameterValue {
    public static let parameterType: UInt16 = 0x8000
    public init() {}
    public init(value: ByteBuffer) throws(WireError) { try Self.fields(value).expectEnd() }
    public func writeValue(to buffer: inout ByteBuffer) {}
}

/// Zero Checksum Acceptable parameter (type 0x8001, RFC 9653): the sender accepts packets
/// with a zero checksum when they are protected by the named error detection method.
public struct ZeroChecksumAcceptableParameter: ParameterValue {
    public static let parameterType: UInt16 = 0x8001
    /// Error Detection Method Identifier; 1 is "SCTP over DTLS" (RFC 9653 §7).
    public var errorDetectionMethod: UInt32

    /// The identifier RFC 9653 assigns to SCTP over DTLS.
    public static let dtls: UInt32 = 1

    public init(errorDetectionMethod: UInt32) { self.errorDetectionMethod = errorDetectionMethod }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        errorDetectionMethod = try fields.read()
        try fields.expectEnd()
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeInteger(errorDetectionMethod) }
}

/// Padding parameter (type 0x8005, RFC 4820): makes an INIT larger, for path MTU probing.
/// The contents are ignored on receipt; only their length matters.
public struct PaddingParameter: ParameterValue {
    public static let parameterType: UInt16 = 0x8005
    /// Number of padding bytes after the header.
    public var paddingLength: Int

    public init(paddingLength: Int) {
        precondition(paddingLength >= 0 && paddingLength <= Int(UInt16.max) - 4)
        self.paddingLength = paddingLength
    }

    public init(value: ByteBuffer) throws(WireError) { paddingLength = value.readableBytes }
    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeRepeatingByte(0, count: paddingLength) }
}

/// Supported Extensions parameter (type 0x8008, RFC 5061 §4.2.7): the chunk types the sender supports.
public struct SupportedExtensionsParameter: ParameterValue {
    public static let parameterType: UInt16 = 0x8008
    public var chunkTypes: [UInt8]

    public init(chunkTypes: [UInt8]) { self.chunkTypes = chunkTypes }
    public init(value: ByteBuffer) throws(WireError) { chunkTypes = value.bytesArray() }
    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeBytes(chunkTypes) }
}

/// Forward-TSN-Supported parameter (type 0xC000, RFC 3758 §3.1): the sender speaks PR-SCTP.
public struct ForwardTSNSupportedParameter: ParameterValue {
    public static let parameterType: UInt16 = 0xC000
    public init() {}
    public init(value: ByteBuffer) throws(WireError) { try Self.fields(value).expectEnd() }
    public func writeValue(to buffer: inout ByteBuffer) {}
}

/// Adaptation Layer Indication parameter (type 0xC006, RFC 5061 §4.2.6).
public struct AdaptationLayerIndicationParameter: ParameterValue {
    public static let parameterType: UInt16 = 0xC006
    public var adaptationCodePoint: UInt32

    public init(adaptationCodePoint: UInt32) { self.adaptationCodePoint = adaptationCodePoint }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        adaptationCodePoint = try fields.read()
        try fields.expectEnd()
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeInteger(adaptationCodePoint) }
}
