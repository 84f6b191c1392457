import NIOCore

/// IPv4 Address parameter (type 5, RFC 9260 §3.3.2.1): one of the sender's addresses.
public struct IPv4AddressParameter: ParameterValue {
    public static let parameterType: UInt16 = 5
    public var address: IPv4Address

    public init(address: IPv4Address) { self.address = address }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        address = IPv4Address(rawValue: try fields.read())
        try fields.expectEnd()
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeInteger(address.rawValue) }
}

/// IPv6 Address parameter (type 6, RFC 9260 §3.3.2.1).
public struct IPv6AddressParameter: ParameterValue {
    public static let parameterType: UInt16 = 6
    public var address: IPv6Address

    public init(address: IPv6Address) { self.address = address }

    public init(value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        let high: UInt64 = try fields.read()
        let low: UInt64 = try fields.read()
        address = IPv6Address(high: high, low: low)
        try fields.expectEnd()
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeInteger(address.high)
        buffer.writeInteger(address.low)
    }
}

/// Host Name Address parameter (type 11). RFC 9260 deprecates it: a receiver recognises it
/// and answers with an Unresolvable Address error, which is what `UnresolvableAddressCause` is for.
public struct HostNameAddressParameter: ParameterValue {
    public static let parameterType: UInt16 = 11
    /// The raw name bytes, including the terminating NUL as sent.
    public var hostName: ByteBuffer

    public init(hostName: ByteBuffer) { self.hostName = hostName }

    /// Builds the parameter from text, adding the terminating NUL.
    public init(name: String) {
        var buffer = ByteBuffer()
        buffer.writeString(name)
        buffer.writeInteger(UInt8(0))
        hostName = buffer
    }

    public init(value: ByteBuffer) throws(WireError) {
        guard value.readableBytes > 0 else { throw .invalidParameterLength(type: Self.parameterType, length: 4) }
        hostName = value
    }

    /// The name as text, up to the first NUL.
    public var name: String {
        let bytes = hostName.bytesArray()
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    public func writeValue(to buffer: inout ByteBuffer) { buffer.writeImmutableBuffer(hostName) }
}

/// Supported Address Types parameter (type 12): the address parameter types the sender can use.
public struct SupportedAddressTypesParameter: ParameterValue {
    public static let parameterType: UInt16 = 12
    public var addressTypes: [UInt16]

    public init(addressTypes: [UInt16]) { self.addressTypes = addressTypes }

    public init(value: ByteBuffer) throws(WireError) {
        guard value.readableBytes % 2 == 0 else {
            throw .invalidParameterLength(type: Self.parameterType, length: value.readableBytes + 4)
        }
        var fields = Self.fields(value)
        var types: [UInt16] = []
        types.reserveCapacity(fields.remaining / 2)
        while fields.remaining > 0 { types.append(try fields.read()) }
        addressTypes = types
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        for type in addressTypes { buffer.writeInteger(type) }
    }
}

/// An address parameter (IPv4 or IPv6) inside another structure, such as ASCONF's
/// Address Parameter field or an Add IP Address request.
enum AddressParameterCoding {
    /// Reads an IPv4 or IPv6 address parameter; anything else is `invalidParameterValue` naming
    /// the containing parameter's type, or, at chunk level (`within` nil), the type found.
    static func read(_ fields: inout FieldReader, within type: UInt16?) throws(WireError) -> IPAddress {
        let headerType: UInt16 = try fields.read()
        let length: UInt16 = try fields.read()
        switch (headerType, length) {
        case (IPv4AddressParameter.parameterType, 8):
            return .v4(IPv4Address(rawValue: try fields.read()))
        case (IPv6AddressParameter.parameterType, 20):
            let high: UInt64 = try fields.read()
            let low: UInt64 = try fields.read()
            return .v6(IPv6Address(high: high, low: low))
        default:
            throw .invalidParameterValue(type: type ?? headerType)
        }
    }

    static func write(_ address: IPAddress, to buffer: inout ByteBuffer) {
        switch address {
        case .v4(let a): IPv4AddressParameter(address: a).write(to: &buffer)
        case .v6(let a): IPv6AddressParameter(address: a).write(to: &buffer)
        }
    }
}

extension Parameter {
    /// The address this parameter carries, for IPv4 and IPv6 address parameters.
    public var address: IPAddress? {
        switch self {
        case .ipv4Address(let p): .v4(p.address)
        case .ipv6Address(let p): .v6(p.address)
        default: nil
        }
    }

    /// The address parameter for an address.
    public init(address: IPAddress) {
        switch address {
        case .v4(let a): self = .ipv4Address(IPv4AddressParameter(address: a))
        case .v6(let a): self = .ipv6Address(IPv6AddressParameter(address: a))
        }
    }
}
