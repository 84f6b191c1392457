import CSCTPSystem
import Foundation
import NIOConcurrencyHelpers
import NIOCore
@testable import SCTP
import SCTPCore
import SCTPWire
import Testing

/// A kernel short of buffers (ENOBUFS) on swift-sctp's own event loop: the refused datagrams
/// wait in the socket's backlog and are tried again after a pause, not at every EPOLLOUT
/// (which a socket with room reports at once: the drain would spin).
@Suite("ENOBUFS on the own event loop")
struct BufferShortageTests {
    /// Stands in for the kernel: refuses the first `refusals` writes with ENOBUFS, then
    /// passes everything to `csctp_send_datagrams`.
    final class ShortKernel: @unchecked Sendable {
        let refusals: Int
        let calls = NIOLockedValueBox(0)
        init(refusals: Int) { self.refusals = refusals }

        func send(_ descriptor: CInt, _ list: UnsafeBufferPointer<csctp_datagram>, _ stopped: inout CInt, _ dropped: inout CInt) -> Int {
            let call = calls.withLockedValue { $0 += 1; return $0 }
            if call <= refusals {
                stopped = ENOBUFS
                dropped = 0
                return 0
            }
            return Int(csctp_send_datagrams(descriptor, list.baseAddress, CInt(list.count), &stopped, &dropped))
        }
    }

    @Test("refused writes wait and are retried: the association comes up, every message arrives once, in order")
    func refusedWritesAreRetried() throws {
        let loop = try SCTPEventLoop()
        defer { try? loop.syncShutdownGracefully() }
        let stack = SCTPStack(options: SCTPStack.Options(udpPort: 0, peerUDPPort: 0), group: loop)
        defer { _ = try? stack.close().wait() }
        let kernel = ShortKernel(refusals: 3)
        try wait(loop.submit {
            stack.writer?.sendDatagrams = { kernel.send($0, $1, &$2, &$3) }
        })
        // The INIT is the first write: refused three times, then through.
        let (listener, client, server, _) = try loopbackPair(on: stack)
        defer { try? listener.close() }
        for index in 0..<20 {
            var payload = ByteBuffer()
            payload.writeString("message \(index)")
            try client.sendmsg(payload)
        }
        for index in 0..<20 {
            #expect(String(buffer: try server.nextMessage().data) == "message \(index)")
        }
        let counters = try wait(stack.offloadCounters())
        // Each refusal made the backlog wait once; none went through a spinning EPOLLOUT drain.
        #expect(counters.bufferWaits == 3)
        #expect(counters.deferredWrites >= 1)
        #expect(kernel.calls.withLockedValue { $0 } > 3)
        try client.close()
    }
}

/// The table of peers' UDP ports that a UDP stack learns from what arrives (RFC 6951 §5.4).
@Suite("learned UDP ports")
struct LearnedPortTests {
    @Test("the table is bounded: once full it starts again, and a peer is learned anew from its next packet")
    func learnedPortsAreBounded() throws {
        let loop = try SCTPEventLoop()
        defer { try? loop.syncShutdownGracefully() }
        var options = SCTPStack.Options(udpPort: 0, peerUDPPort: 0)
        options.maximumLearnedPorts = 4
        let stack = SCTPStack(options: options, group: loop)
        defer { _ = try? stack.close().wait() }
        let listener = SCTPSocket(stack: stack)
        try listener.bind([try SocketAddress(ipAddress: "127.0.0.1", port: 0)])
        try listener.listen()
        let stackPort = try #require(stack.udpPort)

        // A plain UDP socket sends 16-byte "packets" whose SCTP source port varies (their
        // checksum is wrong: the stack drops them after learning where they came from).
        let sender = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(sender >= 0)
        defer { close(sender) }
        var destination = sockaddr_in()
        destination.sin_family = sa_family_t(AF_INET)
        destination.sin_port = in_port_t(UInt16(stackPort).bigEndian)
        destination.sin_addr.s_addr = inet_addr("127.0.0.1")
        func send(fromSCTPPort port: UInt16) {
            var bytes = [UInt8](repeating: 0, count: 16)
            bytes[0] = UInt8(port >> 8)
            bytes[1] = UInt8(port & 0xFF)
            bytes[3] = 9
            let sent = bytes.withUnsafeBytes { raw in
                withUnsafePointer(to: &destination) { address in
                    address.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(sender, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            #expect(sent == 16)
        }
        let source = IPAddress.v4(IPv4Address(127, 0, 0, 1))
        func learned(_ port: UInt16) -> Bool {
            (try? wait(loop.submit { stack.udpTransport?.learnedPort(of: source, sctpPort: port) != nil })) ?? false
        }
        func count() throws -> Int {
            try wait(loop.submit { stack.udpTransport?.learnedPortCount ?? -1 })
        }

        for port: UInt16 in 1...4 {
            send(fromSCTPPort: port)
            #expect(eventually { learned(port) })
        }
        #expect(try count() == 4)
        send(fromSCTPPort: 5)
        #expect(eventually { learned(5) })
        #expect(try count() == 1)
        #expect(!learned(1))
        send(fromSCTPPort: 1)
        #expect(eventually { learned(1) })
        #expect(try count() == 2)
    }
}
