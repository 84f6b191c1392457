import NIOCore

/// Outgoing SSN Reset Request parameter (type 13, RFC 6525 §4.1).
public struct OutgoingSSNResetRequestParameter: ParameterValue {
    public static let parameterType: UInt16 = 13
    public var requestSequenceNumber: UInt32
    /// The request this one answers (when it is sent in reply to an incoming reset request).
    public var responseSequenceNumber: UInt32
    public var sendersLastAssignedTSN: TSN
    /// Streams to reset; empty means all of them.
    public var streams: [UInt16]

    public init(requestSequenceNumber: UInt32, responseSequenceNumber: UInt32, sendersLastAssignedTSN: TSN, streams: [UInt16]) {
        self.requestSequenceNumber = requestSequenceNumber
        self.responseSequenceNumber = responseSequenceNumber
        self.sendersLastAssignedTSN = sendersLastAssignedTSN
        self.streams = streams
    }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        requestSequenceNumber = try fields.read()
        responseSequenceNumber = try fields.read()
        sendersLastAssignedTSN = TSN(try fields.read())
        streams = try readStreamList(&fields)
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeInteger(requestSequenceNumber)
        buffer.writeInteger(responseSequenceNumber)
        buffer.writeInteger(sendersLastAssignedTSN.rawValue)
        for stream in streams { buffer.writeInteger(stream) }
    }
}

/// Incoming SSN Reset Request parameter (type 14, RFC 6525 §4.2).
public struct IncomingSSNResetRequestParameter: ParameterValue {
    public static let parameterType: UInt16 = 14
    public var requestSequenceNumber: UInt32
    /// Streams to reset; empty means all of them.
    public var streams: [UInt16]

    public init(requestSequenceNumber: UInt32, streams: [UInt16]) {
        self.requestSequenceNumber = requestSequenceNumber
        self.streams = streams
    }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        requestSequenceNumber = try fields.read()
        streams = try readStreamList(&fields)
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeInteger(requestSequenceNumber)
        for stream in streams { buffer.writeInteger(stream) }
    }
}

private func readStreamList(_ fields: inout FieldReader) throws(WireError) -> [UInt16] {
    var streams: [UInt16] = []
    streams.reserveCapacity(fields.remaining / 2)
    while fields.remaining > 0 { streams.append(try fields.read()) }
    return streams
}

/// SSN/TSN Reset Request parameter (type 15, RFC 6525 §4.3).
public struct SSNTSNResetRequestParameter: ParameterValue {
    public static let parameterType: UInt16 = 15
    public var requestSequenceNumber: UInt32

    public init(requestSequenceNumber: UInt32) { self.requestSequenceNumber = requestSequenceNumber }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        requestSequenceNumber = try fields.read()
        try fields.expectEnd()
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeInteger(requestSequenceNumber) }
}

/// Re-configuration Response parameter (type 16, RFC 6525 §4.4).
public struct ReconfigurationResponseParameter: ParameterValue {
    public static let parameterType: UInt16 = 16

    /// The result codes of RFC 6525 §4.4.
    public struct Result: RawRepresentable, Hashable, Sendable {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let successNothingToDo = Result(rawValue: 0)
        public static let successPerformed = Result(rawValue: 1)
        public static let denied = Result(rawValue: 2)
        public static let errorWrongSSN = Result(rawValue: 3)
        public static let errorRequestAlreadyInProgress = Result(rawValue: 4)
        public static let errorBadSequenceNumber = Result(rawValue: 5)
        public static let inProgress = Result(rawValue: 6)
    }

    public var responseSequenceNumber: UInt32
    public var result: Result
    /// Present only in answers to an SSN/TSN reset request, together with `receiversNextTSN`.
    public var sendersNextTSN: TSN?
    public var receiversNextTSN: TSN?

    public init(responseSequenceNumber: UInt32, result: Result, sendersNextTSN: TSN? = nil, receiversNextTSN: TSN? = nil) {
        precondition((sendersNextTSN == nil) == (receiversNextTSN == nil), "both next TSNs or neither")
        self.responseSequenceNumber = responseSequenceNumber
        self.result = result
        self.sendersNextTSN = sendersNextTSN
        self.receiversNextTSN = receiversNextTSN
    }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        responseSequenceNumber = try fields.read()
        result = Result(rawValue: try fields.read())
        switch fields.remaining {
        case 0:
            sendersNextTSN = nil
            receiversNextTSN = nil
        case 8:
            sendersNextTSN = TSN(try fields.read())
            receiversNextTSN = TSN(try fields.read())
        default:
            throw .invalidParameterLength(type: Self.parameterType, length: value.readableBytes + 4)
        }
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeInteger(responseSequenceNumber)
        buffer.writeInteger(result.rawValue)
        if let sendersNextTSN, let receiversNextTSN {
            buffer.writeInteger(sendersNextTSN.rawValue)
            buffer.writeInteger(receiversNextTSN.rawValue)
        }
    }
}

/// The two add-streams requests (RFC 6525 §4.5, §4.6) share one layout.
public protocol AddStreamsRequest: ParameterValue {
    var requestSequenceNumber: UInt32 { get }
    var newStreams: UInt16 { get }
    init(requestSequenceNumber: UInt32, newStreams: UInt16)
}

extension AddStreamsRequest {
    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        let sequence: UInt32 = try fields.read()
        let count: UInt16 = try fields.read()
        let _: UInt16 = try fields.read()  // reserved
        try fields.expectEnd()
        self.init(requestSequenceNumber: sequence, newStreams: count)
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeInteger(requestSequenceNumber)
        buffer.writeInteger(newStreams)
        buffer.writeInteger(UInt16(0))
    }
}

/// Add Outgoing Streams Request parameter (type 17, RFC 6525 §4.5).
public struct AddOutgoingStreamsParameter: AddStreamsRequest {
    public static let parameterType: UInt16 = 17
    public var requestSequenceNumber: UInt32
    public var newStreams: UInt16
    public init(requestSequenceNumber: UInt32, newStreams: UInt16) {
        self.requestSequenceNumber = requestSequenceNumber
        self.newStreams = newStreams
    }
}

/// Add Incoming Streams Request parameter (type 18, RFC 6525 §4.6).
public struct AddIncomingStreamsParameter: AddStreamsRequest {
    public static let parameterType: UInt16 = 18
    public var requestSequenceNumber: UInt32
    public var newStreams: UInt16
    public init(requestSequenceNumber: UInt32, newStreams: UInt16) {
        self.requestSequenceNumber = requestSequenceNumber
        self.newStreams = newStreams
    }
}
