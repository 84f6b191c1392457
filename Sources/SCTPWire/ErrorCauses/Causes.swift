import NIOCore

/// Invalid Stream Identifier (cause 1): DATA arrived for a stream that does not exist.
public struct InvalidStreamIdentifierCause: ErrorCauseValue {
    public static let causeCode: UInt16 = 1
    public var streamIdentifier: UInt16

    public init(streamIdentifier: UInt16) { self.streamIdentifier = streamIdentifier }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        streamIdentifier = try fields.read()
        let _: UInt16 = try fields.read()  // reserved
        try fields.expectEnd()
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeInteger(streamIdentifier)
        buffer.writeInteger(UInt16(0))
    }
}

/// Missing Mandatory Parameter (cause 2): the parameter types a chunk lacked.
public struct MissingMandatoryParameterCause: ErrorCauseValue {
    public static let causeCode: UInt16 = 2
    public var missingParameterTypes: [UInt16]

    public init(missingParameterTypes: [UInt16]) { self.missingParameterTypes = missingParameterTypes }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        let count: UInt32 = try fields.read()
        // Bound the count by the bytes present before trusting it.
        guard UInt64(count) * 2 == UInt64(fields.remaining) else {
            throw .invalidErrorCauseLength(code: Self.causeCode, length: value.readableBytes + 4)
        }
        var types: [UInt16] = []
        types.reserveCapacity(Int(count))
        for _ in 0..<count { types.append(try fields.read()) }
        missingParameterTypes = types
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(missingParameterTypes.count))
        for type in missingParameterTypes { buffer.writeInteger(type) }
    }
}

/// Stale Cookie Error (cause 3): the cookie had expired by this many microseconds.
public struct StaleCookieCause: ErrorCauseValue {
    public static let causeCode: UInt16 = 3
    /// Measure of staleness, in microseconds.
    public var staleness: UInt32

    public init(staleness: UInt32) { self.staleness = staleness }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        staleness = try fields.read()
        try fields.expectEnd()
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeInteger(staleness) }
}

/// Out of Resource (cause 4).
public struct OutOfResourceCause: EmptyErrorCause {
    public static let causeCode: UInt16 = 4
    public init() {}
}

/// Unresolvable Address (cause 5): carries the address parameter (TLV) we could not use,
/// such as a Host Name Address.
public struct UnresolvableAddressCause: OpaqueErrorCause {
    public static let causeCode: UInt16 = 5
    /// The unresolvable address parameter, header included.
    public var bytes: ByteBuffer
    public init(bytes: ByteBuffer) { self.bytes = bytes }

    /// The cause for a parameter.
    public init(parameter: Parameter) {
        var buffer = ByteBuffer()
        parameter.write(to: &buffer)
        bytes = buffer
    }
}

/// Unrecognized Chunk Type (cause 6): carries the unrecognised chunk (its header and value).
public struct UnrecognizedChunkTypeCause: OpaqueErrorCause {
    public static let causeCode: UInt16 = 6
    public var bytes: ByteBuffer
    public init(bytes: ByteBuffer) { self.bytes = bytes }

    /// The cause reporting an unknown chunk.
    public init(chunk: UnknownChunk) {
        var buffer = ByteBuffer()
        Chunk.unknown(chunk).writeUnpadded(to: &buffer)
        bytes = buffer
    }
}

/// Invalid Mandatory Parameter (cause 7).
public struct InvalidMandatoryParameterCause: EmptyErrorCause {
    public static let causeCode: UInt16 = 7
    public init() {}
}

/// Unrecognized Parameters (cause 8): the unrecognised parameters, headers included.
public struct UnrecognizedParametersCause: OpaqueErrorCause {
    public static let causeCode: UInt16 = 8
    public var bytes: ByteBuffer
    public init(bytes: ByteBuffer) { self.bytes = bytes }

    /// The cause reporting some unknown parameters.
    public init(parameters: [UnknownParameter]) {
        var buffer = ByteBuffer()
        buffer.writeTLVList(parameters) { p, b in p.write(to: &b) }
        bytes = buffer
    }
}

/// No User Data (cause 9): a DATA chunk with no payload.
public struct NoUserDataCause: ErrorCauseValue {
    public static let causeCode: UInt16 = 9
    public var tsn: TSN

    public init(tsn: TSN) { self.tsn = tsn }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        tsn = TSN(try fields.read())
        try fields.expectEnd()
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeInteger(tsn.rawValue) }
}

/// Cookie Received While Shutting Down (cause 10).
public struct CookieReceivedWhileShuttingDownCause: EmptyErrorCause {
    public static let causeCode: UInt16 = 10
    public init() {}
}

/// Restart of an Association with New Addresses (cause 11): the new addresses' parameters.
public struct RestartWithNewAddressesCause: OpaqueErrorCause {
    public static let causeCode: UInt16 = 11
    public var bytes: ByteBuffer
    public init(bytes: ByteBuffer) { self.bytes = bytes }

    /// The cause listing these addresses.
    public init(addresses: [IPAddress]) {
        var buffer = ByteBuffer()
        ParameterList(addresses.map(Parameter.init(address:))).write(to: &buffer)
        bytes = buffer
    }

    /// The addresses listed, read from the carried address parameters.
    public func addresses() throws(WireError) -> [IPAddress] {
        try ParameterList(parsing: bytes).parameters.compactMap(\.address)
    }
}

/// User-Initiated Abort (cause 12): the application's reason, as given.
public struct UserInitiatedAbortCause: OpaqueErrorCause {
    public static let causeCode: UInt16 = 12
    public var bytes: ByteBuffer
    public init(bytes: ByteBuffer) { self.bytes = bytes }
}

/// Protocol Violation (cause 13): free-form information about the violation.
public struct ProtocolViolationCause: OpaqueErrorCause {
    public static let causeCode: UInt16 = 13
    public var bytes: ByteBuffer
    public init(bytes: ByteBuffer) { self.bytes = bytes }

    /// The cause with a text explanation.
    public init(information: String) {
        var buffer = ByteBuffer()
        buffer.writeString(information)
        bytes = buffer
    }
}

/// Request to Delete Last Remaining IP Address (cause 0x00A0, RFC 5061 §5.4):
/// carries the ASCONF request parameter that was refused.
public struct DeleteLastRemainingAddressCause: OpaqueErrorCause {
    public static let causeCode: UInt16 = 0x00A0
    public var bytes: ByteBuffer
    public init(bytes: ByteBuffer) { self.bytes = bytes }
}

/// Operation Refused Due to Resource Shortage (cause 0x00A1, RFC 5061 §5.4):
/// carries the ASCONF request parameter that was refused.
public struct ResourceShortageCause: OpaqueErrorCause {
    public static let causeCode: UInt16 = 0x00A1
    public var bytes: ByteBuffer
    public init(bytes: ByteBuffer) { self.bytes = bytes }
}

/// Request to Delete Source IP Address (cause 0x00A2, RFC 5061 §5.4).
public struct DeleteSourceAddressCause: OpaqueErrorCause {
    public static let causeCode: UInt16 = 0x00A2
    public var bytes: ByteBuffer
    public init(bytes: ByteBuffer) { self.bytes = bytes }
}

/// Association Aborted Due to Illegal ASCONF-ACK (cause 0x00A3, RFC 5061 §5.4).
public struct IllegalASCONFAckCause: EmptyErrorCause {
    public static let causeCode: UInt16 = 0x00A3
    public init() {}
}

/// Request Refused - No Authorization (cause 0x00A4, RFC 5061 §5.4).
public struct NoAuthorizationCause: OpaqueErrorCause {
    public static let causeCode: UInt16 = 0x00A4
    public var bytes: ByteBuffer
    public init(bytes: ByteBuffer) { self.bytes = bytes }
}

/// Unsupported HMAC Identifier (cause 0x0105, RFC 4895 §4.1).
public struct UnsupportedHMACIdentifierCause: ErrorCauseValue {
    public static let causeCode: UInt16 = 0x0105
    public var hmacIdentifier: UInt16

    public init(hmacIdentifier: UInt16) { self.hmacIdentifier = hmacIdentifier }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        hmacIdentifier = try fields.read()
        // RFC 4895 pads the 2-byte identifier; accept it with or without that padding.
        if fields.remaining == 2 { let _: UInt16 = try fields.read() }
        try fields.expectEnd()
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeInteger(hmacIdentifier) }
}
