import NIOCore

/// The fields INIT and INIT ACK share (RFC 9260 §3.3.2, §3.3.3).
public protocol InitLikeChunk: ChunkValue {
    var initiateTag: UInt32 { get }
    var advertisedReceiverWindowCredit: UInt32 { get }
    var outboundStreams: UInt16 { get }
    var inboundStreams: UInt16 { get }
    var initialTSN: TSN { get }
    var parameters: ParameterList { get }
    init(initiateTag: UInt32, advertisedReceiverWindowCredit: UInt32, outboundStreams: UInt16,
         inboundStreams: UInt16, initialTSN: TSN, parameters: ParameterList) throws(WireError)
}

extension InitLikeChunk {
    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        let tag: UInt32 = try fields.read()
        let window: UInt32 = try fields.read()
        let outbound: UInt16 = try fields.read()
        let inbound: UInt16 = try fields.read()
        let tsn: UInt32 = try fields.read()
        let parameters = try ParameterList(parsing: fields.readRest())
        try self.init(initiateTag: tag, advertisedReceiverWindowCredit: window, outboundStreams: outbound,
                      inboundStreams: inbound, initialTSN: TSN(tsn), parameters: parameters)
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeFields(byteCount: 16) {
            $0.put(initiateTag)
            $0.put(advertisedReceiverWindowCredit)
            $0.put(outboundStreams)
            $0.put(inboundStreams)
            $0.put(initialTSN.rawValue)
        }
        parameters.write(to: &buffer)
    }

    /// The peer's addresses listed in the chunk (read in place from a parsed chunk).
    public var addresses: [IPAddress] { parameters.addresses }

    /// The first parameter of a given kind, if present.
    public func first<P>(_ extract: (Parameter) -> P?) -> P? {
        for parameter in parameters.parameters {
            if let value = extract(parameter) { return value }
        }
        return nil
    }
}

/// INIT chunk (type 1, RFC 9260 §3.3.2). Must stand alone in its packet.
public struct InitChunk: InitLikeChunk {
    public static let chunkType: UInt8 = 1
    public var initiateTag: UInt32
    public var advertisedReceiverWindowCredit: UInt32
    public var outboundStreams: UInt16
    public var inboundStreams: UInt16
    public var initialTSN: TSN
    public var parameters: ParameterList

    public init(initiateTag: UInt32, advertisedReceiverWindowCredit: UInt32, outboundStreams: UInt16,
                inboundStreams: UInt16, initialTSN: TSN, parameters: ParameterList) {
        self.initiateTag = initiateTag
        self.advertisedReceiverWindowCredit = advertisedReceiverWindowCredit
        self.outboundStreams = outboundStreams
        self.inboundStreams = inboundStreams
        self.initialTSN = initialTSN
        self.parameters = parameters
    }
}

/// INIT ACK chunk (type 2, RFC 9260 §3.3.3). Must stand alone and must carry a State Cookie.
public struct InitAckChunk: InitLikeChunk {
    public static let chunkType: UInt8 = 2
    public var initiateTag: UInt32
    public var advertisedReceiverWindowCredit: UInt32
    public var outboundStreams: UInt16
    public var inboundStreams: UInt16
    public var initialTSN: TSN
    public var parameters: ParameterList

    /// Throws `missingMandatoryParameter` when no State Cookie is among the parameters.
    public init(initiateTag: UInt32, advertisedReceiverWindowCredit: UInt32, outboundStreams: UInt16,
                inboundStreams: UInt16, initialTSN: TSN, parameters: ParameterList) throws(WireError) {
        self.initiateTag = initiateTag
        self.advertisedReceiverWindowCredit = advertisedReceiverWindowCredit
        self.outboundStreams = outboundStreams
        self.inboundStreams = inboundStreams
        self.initialTSN = initialTSN
        self.parameters = parameters
        guard stateCookie != nil else {
            throw .missingMandatoryParameter(chunkType: Self.chunkType, parameterType: StateCookieParameter.parameterType)
        }
    }

    /// The state cookie to echo.
    public var stateCookie: ByteBuffer? { parameters.firstValue(ofType: StateCookieParameter.parameterType) }
}
