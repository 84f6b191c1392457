import SCTPWire
import Testing

/// The compact table keyed by transport address (IPv4 keys packed into 64 bits).
@Suite("transport address map")
struct TransportAddressMapTests {
    @Test("entries are found by address and port, IPv4 and IPv6 apart, and removed by assigning nil")
    func storesAndRemoves() {
        var map = TransportAddressMap()
        let a: IPAddress = .v4(IPv4Address(127, 0, 0, 1))
        let b: IPAddress = .v4(IPv4Address(255, 255, 255, 255))
        let c: IPAddress = .v6(IPv6Address(high: 0, low: 1))
        // An IPv6 address whose low bits equal a's packed form must not meet a's entry.
        let d: IPAddress = .v6(IPv6Address(high: 0, low: 0x7F00_0001))
        map[a, 1] = 10
        map[a, 65535] = 11
        map[b, 0] = 12
        map[c, 1] = 13
        #expect(map.count == 4 && !map.isEmpty)
        #expect(map[a, 1] == 10 && map[a, 65535] == 11 && map[b, 0] == 12 && map[c, 1] == 13)
        #expect(map[a, 2] == nil && map[b, 1] == nil && map[d, 1] == nil && map[c, 2] == nil)
        map[a, 1] = 20
        #expect(map[a, 1] == 20 && map.count == 4)
        map[a, 1] = nil
        #expect(map[a, 1] == nil && map[a, 65535] == 11 && map.count == 3)
        let entries = map.entries
        #expect(entries.count == 3)
        #expect(entries.contains { $0.address == b && $0.port == 0 && $0.value == 12 })
        #expect(entries.contains { $0.address == a && $0.port == 65535 && $0.value == 11 })
        #expect(entries.contains { $0.address == c && $0.port == 1 && $0.value == 13 })
        map.removeAll()
        #expect(map.isEmpty && map.count == 0 && map[b, 0] == nil)
    }

    @Test("many IPv4 peers: every entry round-trips through the packed key")
    func manyEntries() {
        var map = TransportAddressMap()
        for i in 0..<5000 {
            map[.v4(IPv4Address(rawValue: 0x0A00_0000 | UInt32(i * 7919 % 65536))), UInt16(i % 65536)] = UInt32(i)
        }
        #expect(map.count == 5000)
        for i in stride(from: 0, to: 5000, by: 97) {
            #expect(map[.v4(IPv4Address(rawValue: 0x0A00_0000 | UInt32(i * 7919 % 65536))), UInt16(i % 65536)] == UInt32(i))
        }
        #expect(Set(map.entries.map(\.value)) == Set((0..<5000).map(UInt32.init)))
    }
}
