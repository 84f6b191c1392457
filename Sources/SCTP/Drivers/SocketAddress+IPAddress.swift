import NIOCore
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

    /// A socket address for this IP address and a port.
    func socketAddress(port: Int) throws -> SocketAddress {
        try SocketAddress(ipAddress: description, port: port)
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
