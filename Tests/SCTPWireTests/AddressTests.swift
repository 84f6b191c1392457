import SCTPWire
import Testing

@Suite("Addresses")
struct AddressTests {
    // MARK: IPv4

    @Test func ipv4ParseAndPrint() throws {
        let address = try #require(IPv4Address("192.0.2.1"))
        #expect(address.rawValue == 0xC000_0201)
        #expect(address == IPv4Address(192, 0, 2, 1))
        #expect(address.description == "192.0.2.1")
        #expect(IPv4Address("127.0.0.1")?.rawValue == 0x7F00_0001)
        #expect(IPv4Address("0.0.0.0")?.rawValue == 0)
        #expect(IPv4Address("255.255.255.255")?.rawValue == 0xFFFF_FFFF)
        #expect(IPv4Address(rawValue: 0x0A01_0203).description == "10.1.2.3")
        #expect(IPv4Address(rawValue: 0xFFFF_FFFF).description == "255.255.255.255")
        #expect(IPv4Address(rawValue: 0).description == "0.0.0.0")
        for text in ["1.2.3.4", "10.0.0.255", "172.16.254.1", "198.51.100.7"] {
            #expect(IPv4Address(text)?.description == text)
        }
    }

    @Test(arguments: ["1.2.3", "256.0.0.1", "a.b.c.d", "1.2.3.4.5", "", "1..2.3", "1.2.3.", ".1.2.3", "1.2.3.-1",
                      "1.2.3.1000", " 1.2.3.4", "1.2.3.4 ", "+1.2.3.4", "1.2.3.+4", "-0.0.0.0", "0x1.2.3.4", "1.2.3.4/24",
                      "١.٢.٣.٤", "1:2:3:4", "...", "999.999.999.999"])
    func ipv4Rejects(_ text: String) {
        #expect(IPv4Address(text) == nil)
    }

    // MARK: IPv6

    @Test func ipv6Description() {
        // RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups as "::".
        #expect(IPv6Address.loopback.description == "::1")
        #expect(IPv6Address(high: 0, low: 0).description == "::")
        #expect(IPv6Address(high: 0xFE80_0000_0000_0000, low: 1).description == "fe80::1")
        #expect(IPv6Address(high: 0x2001_0DB8_0000_0000, low: 1).description == "2001:db8::1")
        #expect(IPv6Address(high: 0x2001_0DB8_0000_0000, low: 0).description == "2001:db8::")
        // Two runs of equal length: the first is shortened.
        #expect(IPv6Address(high: 0x2001_0DB8_0000_0000, low: 0x0001_0000_0000_0001).description == "2001:db8::1:0:0:1")
        // The longer run wins even when it comes second.
        #expect(IPv6Address(high: 0x2001_0000_0000_0001, low: 0x0000_0000_0000_0001).description == "2001:0:0:1::1")
        // A single zero group is not shortened.
        #expect(IPv6Address(high: 0x2001_0DB8_0000_0001, low: 0x0001_0001_0001_0001).description == "2001:db8:0:1:1:1:1:1")
        #expect(IPv6Address(high: 0x0000_0001_0002_0003, low: 0x0004_0005_0006_0007).description == "0:1:2:3:4:5:6:7")
        #expect(IPv6Address(high: 0x0001_0002_0003_0004, low: 0x0005_0006_0007_0000).description == "1:2:3:4:5:6:7:0")
        #expect(IPv6Address(high: 0x2001_0DB8_85A3_0000, low: 0x0000_8A2E_0370_7334).description == "2001:db8:85a3::8a2e:370:7334")
        #expect(IPv6Address(high: 0xFFFF_FFFF_FFFF_FFFF, low: 0xFFFF_FFFF_FFFF_FFFF).description
            == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
        #expect(IPv6Address(high: 0x00AB_0000_0000_0000, low: 0x0000_0000_0000_0CD0).description == "ab::cd0")
    }

    @Test func ipv6Bytes() throws {
        let address = IPv6Address(high: 0x2001_0DB8_0102_0304, low: 0x0506_0708_090A_0B0C)
        let bytes: [UInt8] = [0x20, 0x01, 0x0D, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        #expect(address.bytes == bytes)
        #expect(IPv6Address(bytes: bytes) == address)
        #expect(IPv6Address(bytes: bytes.dropFirst()) == nil)
        #expect(IPv6Address(bytes: bytes + [0]) == nil)
        #expect(IPv6Address(bytes: [UInt8]()) == nil)
        #expect(IPv6Address.loopback.bytes == [UInt8](repeating: 0, count: 15) + [1])
    }

    @Test func ipv4Mapped() throws {
        let v4 = IPv4Address(192, 0, 2, 33)
        let mapped = IPv6Address(mapping: v4)
        #expect(mapped.high == 0)
        #expect(mapped.low == 0x0000_FFFF_C000_0221)
        #expect(mapped.bytes == [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF, 192, 0, 2, 33])
        #expect(mapped.mappedIPv4 == v4)
        #expect(mapped.description == "::ffff:192.0.2.33")
        #expect(IPv6Address(mapping: IPv4Address(rawValue: 0)).description == "::ffff:0.0.0.0")
        // Not mapped: loopback, IPv4-compatible, a non-zero high half, ::fffe:...
        #expect(IPv6Address.loopback.mappedIPv4 == nil)
        #expect(IPv6Address(high: 0, low: 0xC000_0221).mappedIPv4 == nil)
        #expect(IPv6Address(high: 1, low: 0x0000_FFFF_C000_0221).mappedIPv4 == nil)
        #expect(IPv6Address(high: 0, low: 0x0000_FFFE_C000_0221).mappedIPv4 == nil)
        #expect(IPv6Address(high: 0, low: 0x0001_FFFF_C000_0221).mappedIPv4 == nil)
    }

    @Test func ipAddressDescription() {
        #expect(IPAddress.v4(IPv4Address(10, 0, 0, 1)).description == "10.0.0.1")
        #expect(IPAddress.v6(IPv6Address.loopback).description == "::1")
        #expect(IPAddress.v4(IPv4Address(10, 0, 0, 1)) != IPAddress.v6(IPv6Address(mapping: IPv4Address(10, 0, 0, 1))))
    }
}
