import NIOCore
@testable import SCTP
import SCTPCore
import SCTPWire
import Testing

/// Small parts of the drivers that every packet or association goes through.
@Suite("driver parts: random source, socket addresses")
struct DriverPartsTests {
    @Test("system random source: draws from the pool never repeat, copies never share bytes, big fills work")
    func randomSource() {
        var source = SystemRandomSource()
        var copy = source
        var seen = Set<UInt64>()
        for index in 0..<2000 {
            var word: UInt64 = 0
            withUnsafeMutableBytes(of: &word) { buffer in
                if index.isMultiple(of: 2) { source.fill(buffer) } else { copy.fill(buffer) }
            }
            seen.insert(word)
        }
        // 2000 draws of 64 bits: a repeat means bytes were handed out twice.
        #expect(seen.count == 2000)
        var big = [UInt8](repeating: 0, count: 1000)
        var second = big
        big.withUnsafeMutableBytes { source.fill($0) }
        second.withUnsafeMutableBytes { source.fill($0) }
        #expect(big != second)
        #expect(Set(big).count > 100)
        var empty: [UInt8] = []
        empty.withUnsafeMutableBytes { source.fill($0) }
    }

    @Test("socket addresses built from the bits equal what NIO parses from text",
          arguments: ["127.0.0.1", "127.0.0.2", "198.18.1.2", "::1", "2001:db8::1:2", "fe80::1234:5678:9abc:def0"])
    func socketAddress(text: String) throws {
        let address = try #require(IPAddress(try SocketAddress(ipAddress: text, port: 0)))
        for port in [0, 9899, 65535] {
            let parsed = try SocketAddress(ipAddress: text, port: port)
            #expect(try address.destinationAddress(port: port) == parsed)
            #expect(try address.socketAddress(port: port) == parsed)
            #expect(try address.socketAddress(port: port).ipAddress == parsed.ipAddress)
            #expect(try address.destinationAddress(port: port).port == port)
        }
        #expect(throws: (any Error).self) { try address.destinationAddress(port: 65536) }
        #expect(throws: (any Error).self) { try address.destinationAddress(port: -1) }
    }
}
