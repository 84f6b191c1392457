/// An IPv4 address as carried in SCTP parameters (network byte order on the wire).
public struct IPv4Address: Hashable, Sendable, CustomStringConvertible {
    /// The address as a host-order integer: 127.0.0.1 is `0x7F00_0001`.
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text (`"127.0.0.1"`); `nil` for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0 >= "0" && $0 <= "9" }), let byte = UInt8(part) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        rawValue = value
    }

    public var description: String {
        "\(rawValue >> 24).\(rawValue >> 16 & 0xFF).\(rawValue >> 8 & 0xFF).\(rawValue & 0xFF)"
    }
}

/// An IPv6 address as carried in SCTP parameters.
public struct IPv6Address: Hashable, Sendable, CustomStringConvertible {
    /// The high 64 bits (first 8 bytes on the wire).
    public var high: UInt64
    /// The low 64 bits (last 8 bytes on the wire).
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The loopback address `::1`.
    public static let loopback = IPv6Address(high: 0, low: 1)

    /// The IPv4-mapped form `::ffff:a.b.c.d` of an IPv4 address.
    public init(mapping v4: IPv4Address) {
        high = 0
        low = 0xFFFF_0000_0000 | UInt64(v4.rawValue)
    }

    /// The IPv4 address this one maps, if it is of the form `::ffff:a.b.c.d`.
    public var mappedIPv4: IPv4Address? {
        guard high == 0, low >> 32 == 0xFFFF else { return nil }
        return IPv4Address(rawValue: UInt32(truncatingIfNeeded: low))
    }

    /// The 16 bytes in network order.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }

    /// Builds an address from 16 bytes in network order; `nil` for another count.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var h: UInt64 = 0
        var l: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
        }
        high = h
        low = l
    }

    /// Text form with the longest run of zero groups shortened to `::` (RFC 5952).
    public var description: String {
        if let v4 = mappedIPv4 { return "::ffff:\(v4)" }
        let groups = (0..<8).map { i -> UInt16 in
            let word = i < 4 ? high : low
            return UInt16(truncatingIfNeeded: word >> (48 - 16 * UInt64(i % 4)))
        }
        var bestStart = -1, bestLength = 0, runStart = -1
        for i in 0...8 {
            if i < 8, groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength, i - runStart > 1 { bestStart = runStart; bestLength = i - runStart }
                runStart = -1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}

/// An IPv4 or IPv6 address, as the address parameters of RFC 9260 §3.3.2.1 carry.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }
}
