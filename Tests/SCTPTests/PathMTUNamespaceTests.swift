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
            let listener = SCTPSocket(stack: stackB)
            try listener.setOption(.receiveTimeout, .seconds(20))
            try listener.bind([address("198.18.1.2", 5001)])
            try listener.listen()
            let client = SCTPSocket(stack: stackA)
            try client.setOption(.receiveTimeout, .seconds(20))
            try client.setOption(.pathMTUDiscoverySettings, settings)
            try client.bind([address("198.18.1.1", 0)])
            try client.connectx([address("198.18.1.2", 5001)])
            let server = try listener.accept()
            let peer = address("198.18.1.2", 5001)
            #expect(eventually(seconds: 20) { (try? client.peerAddressInfo(peer))?.mtuDiscovery.state == .searchComplete })
            let info = try client.peerAddressInfo(peer)
            if pathMTUSockets {
                #expect(info.mtu == 1372, "\(info)")
                // Each oversize size failed on its first probe (the report), not after MAX_PROBES.
                let failed = info.mtuDiscovery.probesSent - info.mtuDiscovery.probesAcknowledged
                #expect(failed >= 1 && failed <= 6, "\(info)")
            } else {
                #expect(info.mtu == 8952, "the kernel fragmented the probes: \(info)")
            }
            // Data flows at the size found.
            try client.send([UInt8](repeating: 0x44, count: 20_000))
            #expect(try server.nextMessage().data.readableBytes == 20_000)
            try server.close()
            try client.close()
            try listener.close()
        }
    }
}
