import NIOCore

/// AUTH chunk (type 15, RFC 4895 §4.1).
public struct AuthChunk: ChunkValue {
    public static let chunkType: UInt8 = 15
    public var sharedKeyIdentifier: UInt16
    public var hmacIdentifier: UInt16
    public var hmac: ByteBuffer

    public init(sharedKeyIdentifier: UInt16, hmacIdentifier: UInt16, hmac: ByteBuffer) {
        self.sharedKeyIdentifier = sharedKeyIdentifier
        self.hmacIdentifier = hmacIdentifier
        self.hmac = hmac
    }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        sharedKeyIdentifier = try fields.read()
        hmacIdentifier = try fields.read()
        hmac = fields.readRest()
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(sharedKeyIdentifier, hmacIdentifier)
        buffer.writeImmutableBuffer(hmac)
    }
}

/// ASCONF chunk (type 0xC1, RFC 5061 §5.1.1).
public struct ASCONFChunk: ChunkValue {
    public static let chunkType: UInt8 = 0xC1
    public var serialNumber: UInt32
    /// An address of the sender, used to find the association.
    public var address: IPAddress
    /// The requests: Add IP Address, Delete IP Address, Set Primary Address, Adaptation Layer Indication.
    public var parameters: ParameterList

    public init(serialNumber: UInt32, address: IPAddress, parameters: ParameterList) {
        self.serialNumber = serialNumber
        self.address = address
        self.parameters = parameters
    }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        serialNumber = try fields.read()
        guard fields.remaining >= 4 else {
            throw .missingMandatoryParameter(chunkType: Self.chunkType, parameterType: IPv4AddressParameter.parameterType)
        }
        address = try AddressParameterCoding.read(&fields, within: nil)
        parameters = try ParameterList(parsing: fields.readRest())
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeInteger(serialNumber)
        AddressParameterCoding.write(address, to: &buffer)
        parameters.write(to: &buffer)
    }
}

/// ASCONF-ACK chunk (type 0x80, RFC 5061 §5.1.2).
public struct ASCONFAckChunk: ChunkValue {
    public static let chunkType: UInt8 = 0x80
    public var serialNumber: UInt32
    /// The responses: Success Indication and Error Cause Indication.
    public var parameters: ParameterList

    public init(serialNumber: UInt32, parameters: ParameterList) {
        self.serialNumber = serialNumber
        self.parameters = parameters
    }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        serialNumber = try fields.read()
        parameters = try ParameterList(parsing: fields.readRest())
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeInteger(serialNumber)
        parameters.write(to: &buffer)
    }
}

/// RE-CONFIG chunk (type 0x82, RFC 6525 §3.1): one or two reconfiguration parameters.
public struct ReconfigChunk: ChunkValue {
    public static let chunkType: UInt8 = 0x82
    public var parameters: ParameterList

    public init(parameters: ParameterList) { self.parameters = parameters }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        parameters = try ParameterList(parsing: value)
        guard !parameters.isEmpty else {
            throw .invalidChunkLength(type: Self.chunkType, length: value.readableBytes + 4)
        }
    }

    public func writeValue(to buffer: inout ByteBuffer) { parameters.write(to: &buffer) }
}

/// PAD chunk (type 0x84, RFC 4820 §3): filler for path MTU probing; contents ignored.
public struct PadChunk: ChunkValue {
    public static let chunkType: UInt8 = 0x84
    public var paddingLength: Int

    public init(paddingLength: Int) {
        precondition(paddingLength >= 0 && paddingLength <= Int(UInt16.max) - 4)
        self.paddingLength = paddingLength
    }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) { paddingLength = value.readableBytes }
    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeRepeatingByte(0, count: paddingLength) }
}

/// FORWARD TSN chunk (type 0xC0, RFC 3758 §3.2).
public struct ForwardTSNChunk: ChunkValue {
    public static let chunkType: UInt8 = 0xC0

    /// A stream and the last SSN skipped in it.
    public struct SkippedStream: Hashable, Sendable {
        public var streamIdentifier: UInt16
        public var ssn: SSN
        public init(streamIdentifier: UInt16, ssn: SSN) {
            self.streamIdentifier = streamIdentifier
            self.ssn = ssn
        }
    }

    public var newCumulativeTSN: TSN
    public var skippedStreams: [SkippedStream]

    public init(newCumulativeTSN: TSN, skippedStreams: [SkippedStream] = []) {
        self.newCumulativeTSN = newCumulativeTSN
        self.skippedStreams = skippedStreams
    }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        newCumulativeTSN = TSN(try fields.read())
        guard fields.remaining % 4 == 0 else { throw Self.fields(value).shortError }
        var streams: [SkippedStream] = []
        streams.reserveCapacity(fields.remaining / 4)
        while fields.remaining > 0 {
            let stream: UInt16 = try fields.read()
            let ssn: UInt16 = try fields.read()
            streams.append(SkippedStream(streamIdentifier: stream, ssn: SSN(ssn)))
        }
        skippedStreams = streams
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeInteger(newCumulativeTSN.rawValue)
        for s in skippedStreams { buffer.writeMultipleIntegers(s.streamIdentifier, s.ssn.rawValue) }
    }
}

/// I-FORWARD-TSN chunk (type 0xC2, RFC 8260 §2.3.1).
public struct IForwardTSNChunk: ChunkValue {
    public static let chunkType: UInt8 = 0xC2

    /// A stream, whether the skipped message was unordered, and its message identifier.
    public struct SkippedMessage: Hashable, Sendable {
        public var streamIdentifier: UInt16
        public var unordered: Bool
        public var mid: MID
        public init(streamIdentifier: UInt16, unordered: Bool, mid: MID) {
            self.streamIdentifier = streamIdentifier
            self.unordered = unordered
            self.mid = mid
        }
    }

    public var newCumulativeTSN: TSN
    public var skippedMessages: [SkippedMessage]

    public init(newCumulativeTSN: TSN, skippedMessages: [SkippedMessage] = []) {
        self.newCumulativeTSN = newCumulativeTSN
        self.skippedMessages = skippedMessages
    }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        newCumulativeTSN = TSN(try fields.read())
        guard fields.remaining % 8 == 0 else { throw Self.fields(value).shortError }
        var messages: [SkippedMessage] = []
        messages.reserveCapacity(fields.remaining / 8)
        while fields.remaining > 0 {
            let stream: UInt16 = try fields.read()
            let reservedAndU: UInt16 = try fields.read()
            let mid: UInt32 = try fields.read()
            messages.append(SkippedMessage(streamIdentifier: stream, unordered: reservedAndU & 1 == 1, mid: MID(mid)))
        }
        skippedMessages = messages
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeInteger(newCumulativeTSN.rawValue)
        for m in skippedMessages {
            buffer.writeMultipleIntegers(m.streamIdentifier, UInt16(m.unordered ? 1 : 0), m.mid.rawValue)
        }
    }
}
