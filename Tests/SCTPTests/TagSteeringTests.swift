import CSCTPSystem
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The kernel side of docs/SHARDING.md: a reuse-port group of UDP sockets on 127.0.0.1 with
/// the verification-tag steering program (`csctp_attach_tag_steering`) delivers each SCTP
/// packet to socket (tag mod N), and an INIT (tag 0) to socket (source port mod N).
@Suite("reuse-port steering by verification tag (Linux)")
struct TagSteeringTests {
    /// A UDP socket on 127.0.0.1:`port` with SO_REUSEPORT; its port.
    static func member(port: UInt16) throws -> (CInt, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0)
        try #require(csctp_reuse_port(fd) == 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0, "bind: errno \(errno)")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    /// An SCTP common header (and 4 bytes of chunk) with these ports and tag.
    static func packet(sourcePort: UInt16, tag: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        for value in [UInt32(sourcePort) << 16 | 5001, tag, 0, 0x0100_0004] {
            bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
        return bytes
    }

    /// Which member receives the next datagram (polled, at most 5 s); its tag and source port.
    static func receiver(_ members: [CInt]) -> (index: Int, tag: UInt32, sourcePort: UInt16)? {
        var descriptors = members.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        guard poll(&descriptors, nfds_t(descriptors.count), 5000) > 0,
              let index = descriptors.firstIndex(where: { $0.revents & Int16(POLLIN) != 0 }) else { return nil }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = recv(members[index], &buffer, buffer.count, 0)
        guard count >= 8 else { return nil }
        let tag = UInt32(buffer[4]) << 24 | UInt32(buffer[5]) << 16 | UInt32(buffer[6]) << 8 | UInt32(buffer[7])
        return (index, tag, UInt16(buffer[0]) << 8 | UInt16(buffer[1]))
    }

    @Test("4 sockets on one port: every tag goes to socket tag mod 4, every INIT to its source port mod 4", .enabled(if: isLinux))
    func steering() throws {
        let shards = 4
        var members: [CInt] = []
        defer { for fd in members { close(fd) } }
        let (first, port) = try Self.member(port: 0)
        members.append(first)
        for _ in 1..<shards { members.append(try Self.member(port: port).0) }
        try #require(csctp_attach_tag_steering(members[0], UInt32(shards)) == 0, "the kernel refused the program")
        let sender = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(sender) }
        var destination = sockaddr_in()
        destination.sin_family = sa_family_t(AF_INET)
        destination.sin_port = port.bigEndian
        destination.sin_addr.s_addr = inet_addr("127.0.0.1")
        var cases: [(sourcePort: UInt16, tag: UInt32)] = (0..<40).map { (5002, UInt32.random(in: 1...UInt32.max) &+ UInt32($0)) }
        cases += (0..<12).map { (UInt16(40000 + $0), 0) }  // INITs
        for (sourcePort, tag) in cases where tag != 0 || sourcePort != 0 {
            let bytes = Self.packet(sourcePort: sourcePort, tag: tag)
            let sent = withUnsafePointer(to: &destination) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(sender, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            try #require(sent == bytes.count)
            let got = try #require(Self.receiver(members), "datagram with tag \(tag) never arrived")
            #expect(got.tag == tag && got.sourcePort == sourcePort)
            let expected = tag != 0 ? Int(tag % UInt32(shards)) : Int(sourcePort) % shards
            #expect(got.index == expected, "tag \(tag), source port \(sourcePort): socket \(got.index), expected \(expected)")
        }
    }
}

#if os(Linux)
private let isLinux = true
#else
private let isLinux = false
#endif
