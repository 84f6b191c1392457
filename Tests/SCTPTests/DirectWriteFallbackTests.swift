import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore
import SCTPTestSupport
import Testing

/// Direct writes when the kernel cannot take more: a rate-limited link (tbf qdisc on a veth
/// inside a namespace pair) keeps datagrams queued and charged to a small socket buffer, so
/// sendmmsg stops with EAGAIN and the transport hands the rest to NIO's channel (on
/// SwiftNIO's loop) or to the socket's backlog (on `SCTPEventLoop`, `SCTPEventLoopTests`).
@Suite("Direct writes against a full socket (root, tc)")
struct DirectWriteFallbackTests {
    @Test("a full socket hands the writes to the channel until it drains: every message arrives once, in order")
    func fullSocketFallsBack() throws {
        let counters = try shapedLinkTransfer { namespaces in
            (try NamespacePair.group(in: namespaces.a), try NamespacePair.group(in: namespaces.b))
        }
        guard let counters else { return }
        #expect(counters.directWrites > 0, "\(counters)")
        #expect(counters.channelWrites > 0, "the socket never filled: \(counters)")
    }
}

/// Sends 1500 messages of 1000 bytes from namespace A to B over a rate-limited link (a tbf
/// qdisc of 8 Mbit/s with a deep queue on A's side of link 1: datagrams wait in the qdisc,
/// still charged to A's small socket buffer, so the socket fills), on stacks of the loops
/// `loops` makes (their threads in the namespaces), and checks that every message arrives
/// once, in order and intact. Returns A's stack counters; `nil` (after recording an issue
/// where the tools are required) without root or tc.
func shapedLinkTransfer(loops: (NamespacePair) throws -> (any EventLoopGroup, any EventLoopGroup)) throws -> SCTPOffloadCounters? {
    guard Tools.isRoot else {
        if Tools.required { Issue.record("this test needs root (CI runs as root)") }
        return nil
    }
    guard let tc = Tools.find("tc") else {
        if Tools.required { Issue.record("tc is not installed (apt-get install iproute2)") }
        return nil
    }
    let namespaces = try NamespacePair.create()
    defer { namespaces.remove() }
    let shaping = namespaces.command(on: .a, tc, ["qdisc", "add", "dev", namespaces.interface(1, on: .a), "root", "tbf",
                                                  "rate", "8mbit", "burst", "16kb", "latency", "400ms"])
    let shaped = try Tools.run(shaping.executable, shaping.arguments, timeout: .seconds(10))
    try #require(shaped.status == 0, "tc: \(shaped.stderr)")
    let (groupA, groupB) = try loops(namespaces)
    defer {
        try? groupA.syncShutdownGracefully()
        try? groupB.syncShutdownGracefully()
    }
    var optionsA = SCTPStack.Options(udpPort: 9899, peerUDPPort: 9899)
    optionsA.socketBufferSize = 16 << 10
    optionsA.segmentationOffload = false
    let stackA = SCTPStack(options: optionsA, group: groupA)
    let stackB = SCTPStack(options: SCTPStack.Options(udpPort: 9899, peerUDPPort: 9899), group: groupB)
    defer {
        _ = try? stackA.close().wait()
        _ = try? stackB.close().wait()
    }
    let listener = SCTPSocket(stack: stackB)
    try listener.setOption(.receiveTimeout, .seconds(30))
    try listener.bind([address("198.18.1.2", 5001)])
    try listener.listen()
    let client = SCTPSocket(stack: stackA)
    try client.bind([address("198.18.1.1", 0)])
    try client.connectx([address("198.18.1.2", 5001)])
    let server = try listener.accept()
    try server.setOption(.receiveTimeout, .seconds(30))

    let count = 1500
    let sender = Thread {
        for index in 0..<count {
            var payload = ByteBuffer()
            payload.writeInteger(UInt32(index))
            payload.writeRepeatingByte(UInt8(truncatingIfNeeded: index), count: 996)
            guard (try? client.sendmsg(payload)) != nil else { return }
        }
    }
    sender.start()
    var received: [UInt32] = []
    var corrupted = 0
    while received.count < count {
        let data = try server.nextMessage().data
        guard let index = data.getInteger(at: data.readerIndex, as: UInt32.self), data.readableBytes == 1000,
              data.readableBytesView.dropFirst(4).allSatisfy({ $0 == UInt8(truncatingIfNeeded: index) }) else {
            corrupted += 1
            continue
        }
        received.append(index)
    }
    #expect(corrupted == 0)
    #expect(received == (0..<UInt32(count)).map { $0 })
    return try stackA.offloadCounters().wait()
}
