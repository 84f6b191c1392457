import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SCTPWire

extension IPAddress {
    /// The IP address of a socket address; `nil` for Unix-domain addresses.
    init?(_ address: SocketAddress) {
        switch address {
        case .v4(let v4):
            self = .v4(IPv4Address(rawValue: UInt32(bigEndian: v4.address.sin_addr.s_addr)))
        case .v6(let v6):
            var storage = v6.address.sin6_addr
            let bytes = withUnsafeBytes(of: &storage) { Array($0) }
            guard let address = IPv6Address(bytes: bytes) else { return nil }
            self = address.mappedIPv4.map { .v4($0) } ?? .v6(address)
        default:
            return nil
        }
    }

    /// A socket address for this IP address and a port, for the user (its `host` is the
    /// address's text). Throws for a port outside 0...65535.
    public func socketAddress(port: Int) throws -> SocketAddress {
        let address = try destinationAddress(port: port)
        return switch address {
        case .v4(let v4): SocketAddress(v4.address, host: description)
        case .v6(let v6): SocketAddress(v6.address, host: description)
        default: address
        }
    }

    /// A socket address for this IP address and a port to send to, built from the bits with
    /// no text in between (this runs for every packet sent; its `host` is empty). Throws for
    /// a port outside 0...65535.
    func destinationAddress(port: Int) throws -> SocketAddress {
        guard let port = UInt16(exactly: port) else { throw SocketAddressError.unsupported }
        switch self {
        case .v4(let v4):
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = v4.rawValue.bigEndian
            return SocketAddress(address, host: "")
        case .v6(let v6):
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &address.sin6_addr) { raw in
                raw.storeBytes(of: v6.high.bigEndian, toByteOffset: 0, as: UInt64.self)
                raw.storeBytes(of: v6.low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            return SocketAddress(address, host: "")
        }
    }

    var isIPv4: Bool { if case .v4 = self { true } else { false } }
}

extension IPAddress {
    /// 127.0.0.0/8 or ::1.
    var isLoopback: Bool {
        switch self {
        case .v4(let v4): v4.rawValue >> 24 == 127
        case .v6(let v6): v6 == .loopback
        }
    }

    /// 0.0.0.0 or ::, the wildcard.
    var isUnspecified: Bool {
        switch self {
        case .v4(let v4): v4.rawValue == 0
        case .v6(let v6): v6.high == 0 && v6.low == 0
        }
    }
}

extension IPAddress {
    /// How many leading bits this address shares with `other` (0 across families).
    func commonPrefixLength(with other: IPAddress) -> Int {
        switch (self, other) {
        case (.v4(let a), .v4(let b)):
            return (a.rawValue ^ b.rawValue).leadingZeroBitCount
        case (.v6(let a), .v6(let b)):
            let high = (a.high ^ b.high).leadingZeroBitCount
            return high < 64 ? high : 64 + (a.low ^ b.low).leadingZeroBitCount
        default:
            return 0
        }
    }
}
