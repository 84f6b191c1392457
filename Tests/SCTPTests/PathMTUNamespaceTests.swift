import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore
import SCTPTestSupport
import SCTPWire
import Testing

/// Path MTU discovery over a real link with a smaller MTU (root): two network namespaces
/// joined by a veth pair whose MTU is 1400. With `SCTPStack.Options.pathMTUSockets` the UDP
/// sockets never let the kernel fragment and read the errors it queues (IP_RECVERR): each
/// oversize probe comes back at once as a Packet Too Big (a local EMSGSIZE with the link's
/// MTU), which the core checks against the probe in flight. Without the option the kernel
/// fragments oversize probes, and they pass.
@Suite("path MTU discovery on a 1400-byte veth link (root)")
struct PathMTUNamespaceTests {
    /// Runs discovery from `client` (on `clientStack`, at `from`) to a listener on
    /// `serverStack` at `to` port 5001 with `settings`; once the search is complete, checks
    /// that 20,000 bytes pass, and returns what the client's path reports.
    static func discover(_ clientStack: SCTPStack, from: String, _ serverStack: SCTPStack, to: String,
                         settings: PathMTUDiscovery) throws -> PathStatus {
        let listener = SCTPSocket(stack: serverStack)
        try listener.setOption(.receiveTimeout, .seconds(20))
        try listener.bind([address(to, 5001)])
        try listener.listen()
        let client = SCTPSocket(stack: clientStack)
        try client.setOption(.receiveTimeout, .seconds(20))
        try client.setOption(.pathMTUDiscoverySettings, settings)
        try client.bind([address(from, 0)])
        try client.connectx([address(to, 5001)])
        let server = try listener.accept()
        let peer = address(to, 5001)
        #expect(eventually(seconds: 20) { (try? client.peerAddressInfo(peer))?.mtuDiscovery.state == .searchComplete })
        let info = try client.peerAddressInfo(peer)
        // Data flows at the size found.
        try client.send([UInt8](repeating: 0x44, count: 20_000))
        #expect(try server.nextMessage().data.readableBytes == 20_000)
        try server.close()
        try client.close()
        try listener.close()
        return info
    }

    @Test("with pathMTUSockets the search ends at 1372 (1400 less IPv4 and UDP headers), the kernel's reports ending oversize probes at once; without, fragmented probes pass")
    func vethLink() throws {
        guard Tools.isRoot else {
            if Tools.required { Issue.record("this test needs root (CI runs as root)") }
            return
        }
        guard SCTPEventLoop.isSupported else { return }
        let namespaces = try NamespacePair.create()
        defer { namespaces.remove() }
        for side in [NamespacePair.Side.a, .b] {
            try namespaces.run(["-n", namespaces.name(side), "link", "set", namespaces.interface(1, on: side), "mtu", "1400"])
        }
        for pathMTUSockets in [true, false] {
            let loopA = try namespaces.perform(on: .a) { try SCTPEventLoop() }
            let loopB = try namespaces.perform(on: .b) { try SCTPEventLoop() }
            defer {
                try? loopA.syncShutdownGracefully()
                try? loopB.syncShutdownGracefully()
            }
            var options = SCTPStack.Options(udpPort: 9899, peerUDPPort: 9899)
            options.pathMTUSockets = pathMTUSockets
            let stackA = SCTPStack(options: options, group: loopA)
            let stackB = SCTPStack(options: options, group: loopB)
            defer {
                _ = try? stackA.close().wait()
                _ = try? stackB.close().wait()
            }
            let settings = PathMTUDiscovery(isEnabled: true, maximumPMTU: 8952, probeTimeout: .milliseconds(300), lowerLayerOverhead: 28)
            let info = try Self.discover(stackA, from: "198.18.1.1", stackB, to: "198.18.1.2", settings: settings)
            if pathMTUSockets {
                #expect(info.mtu == 1372, "\(info)")
                // Each oversize size failed on its first probe (the report), not after MAX_PROBES.
                let failed = info.mtuDiscovery.probesSent - info.mtuDiscovery.probesAcknowledged
                #expect(failed >= 1 && failed <= 6, "\(info)")
            } else {
                #expect(info.mtu == 8952, "the kernel fragmented the probes: \(info)")
            }
        }
    }

    /// A third namespace C behind B: A (198.18.1.1) — B (198.18.1.2 | 198.18.3.1) — C
    /// (198.18.3.2), B forwarding between its links, the B–C link's MTU 1400. A packet from A
    /// larger than 1400 bytes with DF set reaches B, which cannot forward it and answers with
    /// ICMP "fragmentation needed" (next-hop MTU 1400). Returns C's name; `remove` deletes it.
    static func routerBehind(_ pair: NamespacePair) throws -> String {
        let c = pair.name(.a).replacingOccurrences(of: "sctp-a-", with: "sctp-c-")
        let suffix = pair.interface(1, on: .a).dropFirst(4)  // "sa1-" + tag
        let (left, right) = ("rb-\(suffix)", "rc-\(suffix)")
        try pair.run(["netns", "add", c])
        try pair.run(["link", "add", left, "netns", pair.name(.b), "type", "veth", "peer", "name", right, "netns", c])
        try pair.run(["-n", pair.name(.b), "addr", "add", "198.18.3.1/24", "dev", left])
        try pair.run(["-n", c, "addr", "add", "198.18.3.2/24", "dev", right])
        for (namespace, interface) in [(pair.name(.b), left), (c, right)] {
            try pair.run(["-n", namespace, "link", "set", interface, "mtu", "1400"])
            try pair.run(["-n", namespace, "link", "set", interface, "up"])
        }
        try pair.run(["-n", c, "link", "set", "lo", "up"])
        try pair.run(["-n", pair.name(.a), "route", "add", "198.18.3.0/24", "via", "198.18.1.2"])
        try pair.run(["-n", c, "route", "add", "198.18.1.0/24", "via", "198.18.3.1"])
        let forwarding = pair.command(on: .b, "/bin/sh", ["-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"])
        let result = try Tools.run(forwarding.executable, forwarding.arguments, timeout: .seconds(10))
        guard result.status == 0 else { throw NamespaceError("no forwarding in \(pair.name(.b)): \(result.stderr)") }
        return c
    }

    /// Runs `body` with A — B — C set up (`routerBehind`), then removes them; skips without
    /// root or the ip command.
    static func withRouter(_ body: (NamespacePair, String) throws -> Void) throws {
        guard Tools.isRoot else {
            if Tools.required { Issue.record("this test needs root (CI runs as root)") }
            return
        }
        guard let ip = Tools.find("ip") else {
            if Tools.required { Issue.record("no ip command (iproute2)") }
            return
        }
        let pair = try NamespacePair.create()
        defer { pair.remove() }
        let c = try Self.routerBehind(pair)
        defer { _ = try? Tools.run(ip, ["netns", "delete", c], timeout: .seconds(10)) }
        try body(pair, c)
    }

    @Test("raw IP through a router whose next link has MTU 1400: its ICMP fragmentation-needed ends the search at 1380 (pathMTUSockets); without them the kernel fragments and the search runs past it")
    func rawIPThroughRouter() throws {
        try Self.withRouter { pair, c in
            for pathMTUSockets in [true, false] {
                let groupA = try NamespacePair.group(in: pair.name(.a))
                let groupC = try NamespacePair.group(in: c)
                defer {
                    try? groupA.syncShutdownGracefully()
                    try? groupC.syncShutdownGracefully()
                }
                let stackA = SCTPStack.rawIP(group: groupA, pathMTUSockets: pathMTUSockets)
                let stackC = SCTPStack.rawIP(group: groupC, pathMTUSockets: pathMTUSockets)
                defer {
                    _ = try? stackA.close().wait()
                    _ = try? stackC.close().wait()
                }
                // Raw IPv4: 20 bytes of IP header under each SCTP packet; A's own link allows 1480.
                let settings = PathMTUDiscovery(isEnabled: true, maximumPMTU: 1480, probeTimeout: .milliseconds(300), lowerLayerOverhead: 20)
                let info = try Self.discover(stackA, from: "198.18.1.1", stackC, to: "198.18.3.2", settings: settings)
                if pathMTUSockets {
                    #expect(info.mtu == 1380, "\(info)")
                    #expect(info.mtuDiscovery.packetTooBigReports >= 1, "no ICMP report taken: \(info)")
                } else {
                    #expect(info.mtu == 1480, "the kernel fragmented the probes: \(info)")
                    #expect(info.mtuDiscovery.packetTooBigReports == 0, "\(info)")
                }
            }
        }
    }

    @Test("UDP encapsulation through the same router: the ICMP it sends lands in the UDP socket's error queue (IP_RECVERR), read on EPOLLERR, and ends the search at 1372 (1400 less IPv4 and UDP headers)")
    func udpThroughRouter() throws {
        guard SCTPEventLoop.isSupported else { return }
        try Self.withRouter { pair, c in
            let loopA = try pair.perform(on: .a) { try SCTPEventLoop() }
            let loopC = try NamespacePair.perform(in: c) { try SCTPEventLoop() }
            defer {
                try? loopA.syncShutdownGracefully()
                try? loopC.syncShutdownGracefully()
            }
            var options = SCTPStack.Options(udpPort: 9899, peerUDPPort: 9899)
            options.pathMTUSockets = true
            let stackA = SCTPStack(options: options, group: loopA)
            let stackC = SCTPStack(options: options, group: loopC)
            defer {
                _ = try? stackA.close().wait()
                _ = try? stackC.close().wait()
            }
            // A's own link allows 1500 − 28: the kernel itself refuses nothing below that, so
            // every report about 1380–1472 comes from the router.
            let settings = PathMTUDiscovery(isEnabled: true, maximumPMTU: 1472, probeTimeout: .milliseconds(300), lowerLayerOverhead: 28)
            let info = try Self.discover(stackA, from: "198.18.1.1", stackC, to: "198.18.3.2", settings: settings)
            #expect(info.mtu == 1372, "\(info)")
            #expect(info.mtuDiscovery.packetTooBigReports >= 1, "no ICMP report taken: \(info)")
            // Every oversize size failed on its report, not after MAX_PROBES timeouts.
            let failed = info.mtuDiscovery.probesSent - info.mtuDiscovery.probesAcknowledged
            #expect(failed <= info.mtuDiscovery.packetTooBigReports, "\(info)")
        }
    }
}
