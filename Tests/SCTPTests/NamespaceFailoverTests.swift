import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore
import SCTPTestSupport
import SCTPWire
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Two network namespaces joined by two veth pairs: two real paths between 198.18.1.1 ↔
/// 198.18.1.2 and 198.18.2.1 ↔ 198.18.2.2 (the benchmarking range, existing only inside the
/// namespaces), created and removed by the test. Needs root.
struct NamespacePair {
    let a: String
    let b: String
    let ip: String

    static func create() throws -> NamespacePair {
        guard let ip = Tools.find("ip") else { throw SCTPError(.notSupported, "no ip command (iproute2)") }
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let pair = NamespacePair(a: "sctp-a-\(tag)", b: "sctp-b-\(tag)", ip: ip)
        do {
            try pair.run(["netns", "add", pair.a])
            try pair.run(["netns", "add", pair.b])
            for (index, link) in [(1, "1"), (2, "2")] {
                let left = "sa\(link)-\(tag)", right = "sb\(link)-\(tag)"
                try pair.run(["link", "add", left, "netns", pair.a, "type", "veth", "peer", "name", right, "netns", pair.b])
                try pair.run(["-n", pair.a, "addr", "add", "198.18.\(index).1/24", "dev", left])
                try pair.run(["-n", pair.b, "addr", "add", "198.18.\(index).2/24", "dev", right])
                try pair.run(["-n", pair.a, "link", "set", left, "up"])
                try pair.run(["-n", pair.b, "link", "set", right, "up"])
            }
            try pair.run(["-n", pair.a, "link", "set", "lo", "up"])
            try pair.run(["-n", pair.b, "link", "set", "lo", "up"])
        } catch {
            pair.remove()
            throw error
        }
        return pair
    }

    var tag: String { String(a.dropFirst("sctp-a-".count)) }

    func run(_ arguments: [String]) throws {
        let result = try Tools.run(ip, arguments, timeout: .seconds(10))
        guard result.status == 0 else {
            throw SCTPError(.ioError, "ip \(arguments.joined(separator: " ")): \(result.stderr)")
        }
    }

    /// Takes link 1 or 2 down or up (on side A; a veth pair goes down as a whole).
    func setLink(_ link: Int, up: Bool) throws {
        try run(["-n", a, "link", "set", "sa\(link)-\(tag)", up ? "up" : "down"])
    }

    func remove() {
        _ = try? Tools.run(ip, ["netns", "delete", a], timeout: .seconds(10))
        _ = try? Tools.run(ip, ["netns", "delete", b], timeout: .seconds(10))
    }

    /// An event loop group of one thread that lives in namespace `name`: sockets made on it
    /// (the stack's UDP sockets, its route lookups) belong to that namespace.
    static func group(in name: String) throws -> MultiThreadedEventLoopGroup {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let entered = try group.next().submit { () -> Int32 in
            let fd = open("/run/netns/\(name)", O_RDONLY)
            guard fd >= 0 else { return -1 }
            defer { close(fd) }
            // setns(2) is not in Swift's Glibc module: look it up in libc.
            typealias SetNS = @convention(c) (Int32, Int32) -> Int32
            guard let symbol = dlsym(nil, "setns") else { return -1 }  // RTLD_DEFAULT
            return unsafeBitCast(symbol, to: SetNS.self)(fd, 0x4000_0000)  // CLONE_NEWNET
        }.wait()
        guard entered == 0 else {
            try? group.syncShutdownGracefully()
            throw SCTPError(.notPermitted, "cannot enter network namespace \(name)")
        }
        return group
    }
}

@Suite("Multi-homing over real sockets: two namespaces, two veth paths (root)")
struct NamespaceFailoverTests {
    @Test("the primary path is cut mid-transfer: nothing is lost, the transfer ends over the other path; the path comes back as primary")
    func primaryCut() throws {
        guard Tools.isRoot else {
            if Tools.required { Issue.record("this test needs root (CI runs as root)") }
            return
        }
        let namespaces = try NamespacePair.create()
        defer { namespaces.remove() }
        let groupA = try NamespacePair.group(in: namespaces.a)
        let groupB = try NamespacePair.group(in: namespaces.b)
        defer {
            try? groupA.syncShutdownGracefully()
            try? groupB.syncShutdownGracefully()
        }
        let stackA = SCTPStack(options: SCTPStack.Options(udpPort: 9899, peerUDPPort: 9899), group: groupA)
        let stackB = SCTPStack(options: SCTPStack.Options(udpPort: 9899, peerUDPPort: 9899), group: groupB)
        defer {
            _ = try? stackA.close().wait()
            _ = try? stackB.close().wait()
        }
        // Quick failure detection: RTO 100–400 ms, a path fails after 2 unanswered retransmissions.
        let configure: (SCTPSocket) throws -> Void = { socket in
            try socket.setOption(.receiveTimeout, .seconds(20))
            try socket.setOption(.rtoInfo, SCTPRTOInfo(initial: .milliseconds(200), minimum: .milliseconds(100), maximum: .milliseconds(400)))
            try socket.setOption(.peerAddressParameters, SCTPPeerAddressParameters(
                heartbeatInterval: .milliseconds(200), pathMaxRetransmissions: 2, pathMTU: 1200))
            try socket.setOption(.associationInfo, SCTPAssociationParameters(maxRetransmissions: 20, cookieLife: .seconds(60)))
        }
        let listener = SCTPSocket(stack: stackB)
        try configure(listener)
        try listener.bind([address("198.18.1.2", 5001), address("198.18.2.2", 5001)])
        try listener.listen()
        let client = SCTPSocket(stack: stackA)
        try configure(client)
        try client.setOption(.events, [.peerAddressChange])
        try client.bind([address("198.18.1.1", 0), address("198.18.2.1", 0)])
        try client.connectx([address("198.18.1.2", 5001), address("198.18.2.2", 5001)])
        let server = try listener.accept()
        #expect(Set(try client.getpaddrs().compactMap(\.ipAddress)) == ["198.18.1.2", "198.18.2.2"])
        #expect(try client.getOption(.status).primaryAddress?.description == "198.18.1.2")

        let count = 3000
        let sender = Thread {
            for index in 0..<count {
                var payload = ByteBuffer()
                payload.writeInteger(UInt32(index))
                payload.writeRepeatingByte(UInt8(truncatingIfNeeded: index), count: 996)
                do {
                    try client.sendmsg(payload)
                } catch {
                    return
                }
            }
        }
        sender.start()
        var received: [UInt32] = []
        var corrupted = 0
        var cutAt: ContinuousClock.Instant?
        let directory = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = directory.appendingPathComponent("failover.pcap").path
        try stackA.startCapture(to: capture)
        while received.count < count {
            let message: SCTPMessage
            do {
                message = try server.nextMessage()
            } catch {
                Issue.record("stopped after \(received.count) messages: \(error)")
                throw error
            }
            let data = message.data
            guard let index = data.getInteger(at: data.readerIndex, as: UInt32.self), data.readableBytes == 1000,
                  data.readableBytesView.dropFirst(4).allSatisfy({ $0 == UInt8(truncatingIfNeeded: index) }) else {
                corrupted += 1
                continue
            }
            received.append(index)
            if received.count == 300 {
                try namespaces.setLink(1, up: false)
                cutAt = .now
            }
        }
        let afterCut = cutAt.map { ContinuousClock.now - $0 }
        // Every message exactly once, in order (one ordered stream).
        #expect(corrupted == 0)
        #expect(received == (0..<UInt32(count)).map { $0 })
        // Within what the RTO rules allow: a few RTO.max, not Association.Max.Retrans of them.
        #expect(afterCut.map { $0 < .seconds(10) } ?? false, "the transfer took \(String(describing: afterCut)) after the cut")

        // The client learned that 198.18.1.2 became unreachable; bring the link back and it is
        // confirmed available again and used as primary.
        var sawUnreachable = false
        var sawAvailable = false
        try namespaces.setLink(1, up: true)
        var seen: [String] = []
        for _ in 0..<16 where !sawAvailable {
            let notification: SCTPNotification
            do {
                notification = try client.nextNotification()
            } catch {
                Issue.record("notifications seen: \(seen)")
                throw error
            }
            seen.append("\(notification)")
            guard case .peerAddressChange(let changed, let state, _) = notification,
                  changed?.ipAddress == "198.18.1.2" else { continue }
            if state == .unreachable || state == .potentiallyFailed { sawUnreachable = true }
            if state == .available && sawUnreachable { sawAvailable = true }
        }
        #expect(sawUnreachable && sawAvailable)
        #expect(try client.getOption(.status).primaryAddress?.description == "198.18.1.2")
        try client.close()
        try server.close()
        try listener.close()
        stackA.stopCapture()
        if let tshark = Tools.find("tshark") {
            let problems = try Tools.tsharkProblems(tshark, pcap: capture, udpPorts: [9899])
            #expect(problems == [], "\(problems.prefix(5))")
        } else if Tools.required {
            Issue.record("tshark is not installed (scripts/test.sh installs it)")
        }
    }
}
