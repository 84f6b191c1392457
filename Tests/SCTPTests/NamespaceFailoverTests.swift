import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore
import SCTPTestSupport
import SCTPWire
import Testing

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
        // confirmed available again and used as primary. The path may fail again on the way
        // (packets queued while the link was down arrive in a burst; the socket NIO closed on
        // ENETUNREACH is reopened), so this waits for an `available` that leaves it primary.
        var sawUnreachable = false
        var sawAvailable = false
        var primaryBack = false
        try namespaces.setLink(1, up: true)
        var seen: [String] = []
        for _ in 0..<32 where !(sawAvailable && primaryBack) {
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
            if state == .unreachable || state == .potentiallyFailed {
                sawUnreachable = true
                primaryBack = false
            }
            if state == .available && sawUnreachable {
                sawAvailable = true
                primaryBack = try client.getOption(.status).primaryAddress?.description == "198.18.1.2"
            }
        }
        #expect(sawUnreachable && sawAvailable, "notifications: \(seen)")
        let primary = try client.getOption(.status).primaryAddress?.description
        #expect(primary == "198.18.1.2", "notifications: \(seen); later: \(pendingNotifications(client))")
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

/// The notifications already queued on a socket (for failure messages; no waiting).
private func pendingNotifications(_ socket: SCTPSocket) -> [String] {
    var result: [String] = []
    try? socket.setOption(.receiveTimeout, .milliseconds(1))
    for _ in 0..<16 {
        guard let notification = try? socket.nextNotification() else { break }
        result.append("\(notification)")
    }
    return result
}
