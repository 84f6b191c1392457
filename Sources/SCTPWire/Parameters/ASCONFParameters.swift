import NIOCore

/// The request parameters of ASCONF (RFC 5061 §4.2.1–§4.2.4) share a correlation id and an address.
public protocol ASCONFAddressRequest: ParameterValue {
    /// Ties the request to its response in ASCONF-ACK.
    var correlationID: UInt32 { get }
    /// The address the request is about.
    var address: IPAddress { get }
    init(correlationID: UInt32, address: IPAddress)
}

extension ASCONFAddressRequest {
    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        let correlationID: UInt32 = try fields.read()
        let address = try AddressParameterCoding.read(&fields, within: Self.parameterType)
        try fields.expectEnd()
        self.init(correlationID: correlationID, address: address)
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeInteger(correlationID)
        AddressParameterCoding.write(address, to: &buffer)
    }
}

/// Add IP Address parameter (type 0xC001, RFC 5061 §4.2.1).
public struct AddIPAddressParameter: ASCONFAddressRequest {
    public static let parameterType: UInt16 = 0xC001
    public var correlationID: UInt32
    public var address: IPAddress
    public init(correlationID: UInt32, address: IPAddress) {
        self.correlationID = correlationID
        self.address = address
    }
}

/// Delete IP Address parameter (type 0xC002, RFC 5061 §4.2.2).
public struct DeleteIPAddressParameter: ASCONFAddressRequest {
    public static let parameterType: UInt16 = 0xC002
    public var correlationID: UInt32
    public var address: IPAddress
    public init(correlationID: UInt32, address: IPAddress) {
        self.correlationID = correlationID
        self.address = address
    }
}

/// Set Primary Address parameter (type 0xC004, RFC 5061 §4.2.4).
public struct SetPrimaryAddressParameter: ASCONFAddressRequest {
    public static let parameterType: UInt16 = 0xC004
    public var correlationID: UInt32
    public var address: IPAddress
    public init(correlationID: UInt32, address: IPAddress) {
        self.correlationID = correlationID
        self.address = address
    }
}

/// Error Cause Indication parameter (type 0xC003, RFC 5061 §4.2.5): an ASCONF request failed.
public struct ErrorCauseIndicationParameter: ParameterValue {
    public static let parameterType: UInt16 = 0xC003
    public var correlationID: UInt32
    public var causes: [ErrorCause]

    public init(correlationID: UInt32, causes: [ErrorCause]) {
        self.correlationID = correlationID
        self.causes = causes
    }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        correlationID = try fields.read()
        causes = try ErrorCause.parseList(fields.readRest())
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeInteger(correlationID)
        ErrorCause.writeList(causes, to: &buffer)
    }
}

/// Success Indication parameter (type 0xC005, RFC 5061 §4.2.6): an ASCONF request succeeded.
public struct SuccessIndicationParameter: ParameterValue {
    public static let parameterType: UInt16 = 0xC005
    public var correlationID: UInt32

    public init(correlationID: UInt32) { self.correlationID = correlationID }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        correlationID = try fields.read()
        try fields.expectEnd()
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeInteger(correlationID) }
}
