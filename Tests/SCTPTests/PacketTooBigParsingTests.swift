import NIOCore
import SCTPTestSupport
import SCTPWire
import Testing
@testable import SCTP

/// `RawIPTransport.packetTooBig`: what an ICMP / ICMPv6 raw socket reads, bounded before it
/// is read, and only a Packet Too Big about an SCTP packet taken.
@Suite("raw IP: Packet Too Big parsing")
struct PacketTooBigParsingTests {
    /// The SCTP packet quoted: a common header and a DATA chunk's first bytes.
    static let sctp: [UInt8] = [0x13, 0x89, 0x04, 0xD2, 0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 0, 0x00, 0x03, 0x00, 0x20]

    /// An ICMPv4 message as a raw socket reads it: IP header, ICMP type/code, next-hop MTU,
    /// the quoted IP header (protocol `protocolNumber`) and `quoted`.
    static func icmpv4(type: UInt8 = 3, code: UInt8 = 4, mtu: UInt16 = 1400, protocolNumber: UInt8 = 132,
                       quoted: [UInt8] = sctp) -> [UInt8] {
        let outer: [UInt8] = [0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 198, 18, 1, 2, 198, 18, 1, 1]
        let icmp: [UInt8] = [type, code, 0, 0, 0, 0, UInt8(mtu >> 8), UInt8(mtu & 0xFF)]
        let inner: [UInt8] = [0x45, 0, 0x05, 0xDC, 0, 0, 0x40, 0, 64, protocolNumber, 0, 0, 198, 18, 1, 1, 198, 18, 3, 2]
        return outer + icmp + inner + quoted
    }

    static func icmpv6(type: UInt8 = 2, mtu: UInt32 = 1400, nextHeader: UInt8 = 132) -> [UInt8] {
        let icmp: [UInt8] = [type, 0, 0, 0, UInt8(mtu >> 24), UInt8((mtu >> 16) & 0xFF), UInt8((mtu >> 8) & 0xFF), UInt8(mtu & 0xFF)]
        var inner: [UInt8] = [0x60, 0, 0, 0, 0x05, 0xC8, nextHeader, 64]
        inner += [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1]  // source 2001:db8::1
        inner += [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [2]  // destination 2001:db8::2
        return icmp + inner + sctp
    }

    static func parse(_ bytes: [UInt8], isIPv4: Bool) -> (quoted: ByteBuffer, local: IPAddress, peer: IPAddress, mtu: Int)? {
        RawIPTransport.packetTooBig(ByteBuffer(bytes: bytes), isIPv4: isIPv4)
    }

    @Test("ICMPv4 fragmentation needed: the quoted SCTP packet, our address, the peer's, the MTU less 20")
    func icmpv4() throws {
        let report = try #require(Self.parse(Self.icmpv4(), isIPv4: true))
        #expect(Array(report.quoted.readableBytesView) == Self.sctp)
        #expect(report.local == .v4(IPv4Address(198, 18, 1, 1)) && report.peer == .v4(IPv4Address(198, 18, 3, 2)))
        #expect(report.mtu == 1380)
    }

    @Test("ICMPv6 packet too big: the quoted SCTP packet, the addresses, the MTU less 40")
    func icmpv6() throws {
        let report = try #require(Self.parse(Self.icmpv6(), isIPv4: false))
        #expect(Array(report.quoted.readableBytesView) == Self.sctp)
        #expect(report.local == .v6(IPv6Address(high: 0x2001_0DB8_0000_0000, low: 1))
                && report.peer == .v6(IPv6Address(high: 0x2001_0DB8_0000_0000, low: 2)))
        #expect(report.mtu == 1360)
    }

    @Test("other ICMP messages, other protocols, a next-hop MTU of 0 or an IPv6 MTU under 1280 are ignored")
    func ignored() {
        #expect(Self.parse(Self.icmpv4(type: 3, code: 3), isIPv4: true) == nil)  // port unreachable
        #expect(Self.parse(Self.icmpv4(type: 11, code: 0), isIPv4: true) == nil)  // time exceeded
        #expect(Self.parse(Self.icmpv4(protocolNumber: 17), isIPv4: true) == nil)  // about UDP
        #expect(Self.parse(Self.icmpv4(mtu: 0), isIPv4: true) == nil)
        #expect(Self.parse(Self.icmpv6(type: 1), isIPv4: false) == nil)
        #expect(Self.parse(Self.icmpv6(nextHeader: 6), isIPv4: false) == nil)
        #expect(Self.parse(Self.icmpv6(mtu: 1000), isIPv4: false) == nil)
    }

    @Test("every truncation is refused without reading past the end (down to the SCTP common header)")
    func truncated() {
        let v4 = Self.icmpv4(), v6 = Self.icmpv6()
        for length in 0..<(v4.count - Self.sctp.count + 12) {
            #expect(Self.parse(Array(v4.prefix(length)), isIPv4: true) == nil, "IPv4, \(length) bytes")
        }
        for length in 0..<(v6.count - Self.sctp.count + 12) {
            #expect(Self.parse(Array(v6.prefix(length)), isIPv4: false) == nil, "IPv6, \(length) bytes")
        }
        // Random bytes never crash it.
        var random = SplitMix64(seed: 0x1C3F)
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...120, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            _ = Self.parse(bytes, isIPv4: true)
            _ = Self.parse(bytes, isIPv4: false)
        }
    }
}
