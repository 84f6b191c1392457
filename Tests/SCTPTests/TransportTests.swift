import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SCTP
import SCTPCore
import SCTPTestSupport
import SCTPWire
import SystemPackage
import Testing

/// Connects a client socket to a listening one on `stack` (or on `clientStack`), exchanges
/// `count` messages each way, and checks every byte.
func exchange(on stack: SCTPStack, clientStack: SCTPStack? = nil, local: String = "127.0.0.1", remote: String = "127.0.0.1",
              count: Int = 20) throws {
    let listener = try SCTPSocket.forTest(on: stack)
    try listener.bind(address(local, 0))
    try listener.listen()
    let port = try #require(listener.localPort)
    let client = try SCTPSocket.forTest(on: clientStack ?? stack)
    try client.bind(address(remote, 0))
    try client.connectx([address(local, port)])
    let server = try listener.accept()
    for index in 0..<count {
        let bytes = (0..<(100 + index * 97)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
        // PPIDs without a Wireshark dissector (1..5 are M3UA and friends: tshark would decode our bytes as those).
        try client.send(bytes, info: SCTPSendInfo(stream: UInt16(index % 3), payloadProtocolIdentifier: UInt32(0x5000 + index)))
        let message = try server.nextMessage()
        #expect(Array(message.data.readableBytesView) == bytes)
        #expect(message.info.stream == UInt16(index % 3) && message.info.payloadProtocolIdentifier == UInt32(0x5000 + index))
        try server.send(bytes.reversed())
        #expect(Array(try client.nextMessage().data.readableBytesView) == bytes.reversed())
    }
    try client.shutdown()
    #expect(try server.recvmsg() == nil)
    try server.close()
    try client.close()
    try listener.close()
}

@Suite("Transports: pcap, raw IP, carrier")
struct TransportTests {
    @Test("a stack's pcap of a whole association decodes cleanly in tshark, with every DATA chunk")
    func pcapDecodes() throws {
        let directory = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("stack.pcap").path
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        try stack.startCapture(to: path)
        try exchange(on: stack, count: 20)
        stack.stopCapture()
        #expect(errno { try stack.startCapture(to: directory.appendingPathComponent("no/such/dir.pcap").path) } == .noSuchFileOrDirectory)

        guard let tshark = Tools.find("tshark") else {
            if Tools.required { Issue.record("tshark is not installed (scripts/test.sh installs it)") }
            return
        }
        let port = try #require(stack.udpPort)
        let problems = try Tools.tsharkProblems(tshark, pcap: path, udpPorts: [port])
        #expect(problems == [], "\(problems.prefix(5))")
        let types = try Tools.run(tshark, ["-n", "-r", path, "-o", "sctp.checksum:CRC-32C", "-d", "udp.port==\(port),sctp",
                                           "-T", "fields", "-e", "sctp.chunk_type"])
        let chunkTypes = types.stdout.split(whereSeparator: { $0 == "\n" || $0 == "," }).map(String.init)
        // 20 messages each way, each seen sent and received: at least 80 DATA chunks (the
        // larger messages take two).
        #expect(chunkTypes.filter { $0 == "0" }.count >= 80)
        for type in ["1", "2", "10", "11", "7", "8", "14"] {  // INIT, INIT ACK, COOKIE ECHO/ACK, SHUTDOWN, ACK, COMPLETE
            #expect(chunkTypes.contains(type), "no chunk of type \(type) in the capture")
        }
    }

    /// As root the stack runs in a network namespace of the test's own: a raw socket sees
    /// every SCTP packet of its address, and a usrsctp peer of an interop test running at the
    /// same time (its own raw socket, answering out-of-the-blue packets with ABORT in the
    /// tests about that) would otherwise refuse this association.
    @Test("SCTP over raw IP between two sockets on loopback (root); EPERM without CAP_NET_RAW")
    func rawIP() throws {
        guard Tools.isRoot else {
            let stack = SCTPStack.rawIP()
            defer { _ = try? stack.close().wait() }
            let socket = SCTPSocket(stack: stack)
            #expect(errno { try socket.bind(address("127.0.0.1", 0)) } == .notPermitted)
            return
        }
        let pair = try NamespacePair.create()
        defer { pair.remove() }
        let group = try pair.group(on: .a)
        defer { try? group.syncShutdownGracefully() }
        let stack = SCTPStack.rawIP(group: group)
        defer { _ = try? stack.close().wait() }
        let directory = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("raw.pcap").path
        try stack.startCapture(to: path)
        try exchange(on: stack, count: 10)
        stack.stopCapture()
        if let tshark = Tools.find("tshark") {
            let problems = try Tools.tsharkProblems(tshark, pcap: path, udpPorts: [])
            #expect(problems == [], "\(problems.prefix(5))")
            let protocols = try Tools.run(tshark, ["-n", "-r", path, "-T", "fields", "-e", "ip.proto"])
            #expect(Set(protocols.stdout.split(separator: "\n")) == ["132"])
        } else if Tools.required {
            Issue.record("tshark is not installed (scripts/test.sh installs it)")
        }
    }

    @Test("a user-supplied carrier: two stacks joined by closures that lose every fifth packet")
    func carrier() throws {
        // Each stack's output goes into the other one; the wire drops every fifth packet.
        let stacks = NIOLockedValueBox<[SCTPStack]>([])
        let counter = NIOLockedValueBox(0)
        func wire(to index: Int) -> @Sendable (SCTPCarrierPacket) -> Void {
            { packet in
                let dropped = counter.withLockedValue { count -> Bool in
                    count += 1
                    return count % 5 == 0
                }
                guard !dropped else { return }
                stacks.withLockedValue { $0 }[index].receive(packet)
            }
        }
        let a = SCTPStack(carrier: wire(to: 1))
        let b = SCTPStack(carrier: wire(to: 0))
        stacks.withLockedValue { $0 = [a, b] }
        defer {
            _ = try? a.close().wait()
            _ = try? b.close().wait()
        }
        // Addresses are labels the two ends agree on; nothing is bound on the machine.
        let listener = try SCTPSocket.forTest(on: b)
        try listener.setOption(.rtoInfo, SCTPRTOInfo(initial: .milliseconds(100), minimum: .milliseconds(50), maximum: .milliseconds(400)))
        try listener.bind(address("10.9.0.2", 5000))
        try listener.listen()
        let client = try SCTPSocket.forTest(on: a)
        try client.setOption(.rtoInfo, SCTPRTOInfo(initial: .milliseconds(100), minimum: .milliseconds(50), maximum: .milliseconds(400)))
        try client.bind(address("10.9.0.1", 5000))
        try client.connectx([address("10.9.0.2", 5000)])
        let server = try listener.accept()
        #expect(try server.getpaddrs().map(\.ipAddress) == ["10.9.0.1"])
        for index in 0..<30 {
            try client.send(Array("message \(index)".utf8), info: SCTPSendInfo(stream: UInt16(index % 2)))
        }
        var received: [String] = []
        while received.count < 30 {
            received.append(String(buffer: try server.nextMessage().data))
        }
        // Per stream, in order; nothing lost or duplicated.
        for stream in 0..<2 {
            let expected = stride(from: stream, to: 30, by: 2).map { "message \($0)" }
            #expect(received.filter { expected.contains($0) } == expected)
        }
        #expect(Set(received).count == 30)
        try client.close()
        try server.close()
        try listener.close()
    }
}

@Suite("UDP segmentation and receive offload")
struct OffloadTests {
    @Test("a bulk transfer goes out in GSO writes and comes in as GRO runs where the kernel has them; every message intact; off means none; writes go straight to the socket or through the channel as asked",
          arguments: [(true, true, false), (true, false, false), (false, true, false), (false, false, false),
                      (true, true, true), (false, true, true)])
    func bulkTransferUsesOffload(enabled: Bool, direct: Bool, ownLoop: Bool) throws {
        do {
            var options = SCTPStack.Options(udpPort: 0, peerUDPPort: 0)
            options.segmentationOffload = enabled
            options.receiveOffload = enabled
            options.directWrites = direct
            // SwiftNIO's loop (its channels read; writes direct or through them), or our own
            // (which reads the sockets itself and always writes directly).
            let group: any EventLoopGroup = ownLoop ? try #require(SCTPEventLoop.singleton) : MultiThreadedEventLoopGroup.singleton
            let stack = SCTPStack(options: options, group: group)
            defer { _ = try? stack.close().wait() }
            let (listener, port) = try listening(on: stack, [address("127.0.0.1", 0)])
            defer { try? listener.close() }
            let client = try SCTPSocket.forTest(on: stack)
            defer { try? client.close() }
            try client.bind(address("127.0.0.1", 0))
            try client.connectx([address("127.0.0.1", port)])
            let server = try listener.accept()
            defer { try? server.close() }
            // 400 messages of 3000 bytes: each fills two packets and part of a third, so runs of
            // full packets to one peer form.
            let count = 400
            let sender = Thread {
                for index in 0..<count {
                    _ = try? client.sendmsg(ByteBuffer(repeating: UInt8(truncatingIfNeeded: index), count: 3000))
                }
            }
            sender.start()
            for index in 0..<count {
                let message = try server.nextMessage()
                #expect(message.data == ByteBuffer(repeating: UInt8(truncatingIfNeeded: index), count: 3000), "message \(index)")
            }
            let counters = try stack.offloadCounters().wait()
            if enabled && System.supportsUDPSegmentationOffload {
                #expect(counters.segmentationWrites > 0 && counters.segmentedPackets >= 2 * counters.segmentationWrites, "\(counters)")
            } else {
                #expect(counters.segmentationWrites == 0, "\(counters)")
            }
            // On loopback the socket never fills: with direct writes on, none goes through the channel.
            if direct {
                #expect(counters.directWrites > 0 && counters.channelWrites == 0, "\(counters)")
            } else {
                #expect(counters.directWrites == 0 && counters.channelWrites > 0, "\(counters)")
            }
            if enabled && System.supportsUDPSegmentationOffload && System.supportsUDPReceiveOffload {
                #expect(counters.receiveOffloadRuns > 0 && counters.receiveOffloadPackets >= 2 * counters.receiveOffloadRuns, "\(counters)")
            } else {
                #expect(counters.receiveOffloadRuns == 0, "\(counters)")
            }
        }
    }
}
