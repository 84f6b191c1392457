import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore
import SCTPTestSupport
import Testing

/// Path MTU discovery (RFC 8899, HEARTBEAT + PAD probes) over real UDP sockets on loopback,
/// our stack at both ends, through a relay that silently drops datagrams above a size it
/// changes mid-transfer (a black hole for larger packets: no ICMP).
@Suite("path MTU discovery over UDP sockets through a size-limited relay")
struct PathMTUDiscoverySocketTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    func endpoint(sctpPort: UInt16, listens: Bool, peerUDPPort: Int) throws -> (UDPEncapsulationEndpoint, EventLog) {
        var options = UDPEncapsulationEndpoint.Options(sctpPort: sctpPort, localAddresses: ["127.0.0.1"])
        options.udpPort = 0
        options.peerUDPPort = peerUDPPort
        options.acceptsAssociations = listens
        options.configuration.pathMTUDiscovery = PathMTUDiscovery(isEnabled: true, maximumPMTU: 8952, lowerLayerOverhead: 28)
        options.configuration.rtoInitial = .milliseconds(200)
        options.configuration.rtoMin = .milliseconds(100)
        options.configuration.rtoMax = .seconds(2)
        let log = EventLog()
        let endpoint = try wait(UDPEncapsulationEndpoint.start(options: options, on: Self.group.next()) { log.append($0) })
        return (endpoint, log)
    }

    @Test("settles on the relay's 1400-byte limit, recovers after the limit drops to 1300 mid-transfer; every message once, in order")
    func discoverThenBlackHole() throws {
        let (server, serverLog) = try endpoint(sctpPort: 5001, listens: true, peerUDPPort: 9)
        defer { _ = try? wait(server.close()) }
        let relay = try LossyRelay(seed: 3, impairments: LossyRelay.Impairments(), rightPeerUDPPort: server.localUDPPort, group: Self.group)
        defer { relay.close() }
        relay.setMaxDatagramSize(1400)
        let (client, _) = try endpoint(sctpPort: 5002, listens: false, peerUDPPort: relay.leftPort)
        defer { _ = try? wait(client.close()) }

        let id = try wait(client.connect(to: ["127.0.0.1"], port: 5001))
        func path() -> PathStatus? { (try? wait(client.status(of: id)))??.paths.first }
        #expect(eventually(seconds: 30) { path()?.mtuDiscovery.state == .searchComplete && path()?.mtuDiscovery.validating == false })
        #expect(path()?.mtu == 1400, "\(String(describing: path()))")

        let count = 3000
        let messages = (0..<count).map { index in
            OutgoingMessage(streamIdentifier: UInt16(index % 4), payloadProtocolIdentifier: UInt32(index),
                            payload: ByteBuffer(repeating: UInt8(truncatingIfNeeded: index), count: 700 + index % 2500))
        }
        try wait(client.send(Array(messages[..<1000]), on: id))
        #expect(eventually(seconds: 30) { serverLog.messages.count >= 500 })
        // The path now carries at most 1300 bytes: packets of 1400 vanish.
        relay.setMaxDatagramSize(1300)
        try wait(client.send(Array(messages[1000...]), on: id))
        #expect(eventually(seconds: 60) { serverLog.messages.count == count })
        let received = serverLog.messages
        #expect(received.count == count)
        // Per stream in order and unaltered (PPID = index).
        var next = [UInt16: Int]()
        for message in received {
            let index = Int(message.payloadProtocolIdentifier)
            guard index < count else { Issue.record("unknown message \(index)"); break }
            let stream = message.streamIdentifier
            let expected = next[stream] ?? Int(stream)
            if index != expected || message.payload != messages[index].payload {
                Issue.record("stream \(stream): message \(index), expected \(expected)")
                break
            }
            next[stream] = expected + 4
        }
        #expect(eventually(seconds: 30) {
            guard let p = path() else { return false }
            return p.mtuDiscovery.blackHoles >= 1 && p.mtuDiscovery.state == .searchComplete && !p.mtuDiscovery.validating
        }, "\(String(describing: path()))")
        #expect(path()?.mtu == 1300, "\(String(describing: path()))")
        let toServer = relay.counts.toRight
        #expect(toServer.tooBig > 0 && toServer.largestSent <= 1400, "\(toServer)")
        try wait(client.shutdown(id))
    }

    @Test("socket options: SPP_PMTUD_ENABLE for new associations, spinfo_mtu, SPP_PMTUD_DISABLE with a fixed MTU, SCTP_MAXSEG, EINVAL")
    func socketOptions() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, port) = try listening(on: stack, [address("127.0.0.1", 0)])
        let client = try SCTPSocket.forTest(on: stack)
        #expect(try client.getOption(.pathMTUDiscovery) == false)
        try client.enablePathMTUDiscovery(maximumPMTU: 4000)
        #expect(try client.getOption(.pathMTUDiscovery) == true)
        #expect(try client.getOption(.peerAddressParameters).pathMTUDiscovery == true)
        var bad = try client.getOption(.pathMTUDiscoverySettings)
        bad.basePMTU = 300
        #expect(errno { try client.setOption(.pathMTUDiscoverySettings, bad) } == .invalidArgument)
        try client.bind(address("127.0.0.1", 0))
        let id = try client.connectx([address("127.0.0.1", port)])
        let server = try listener.accept()
        // Loopback carries anything: the search ends at the maximum.
        #expect(eventually(seconds: 20) {
            (try? client.peerAddressInfo(address("127.0.0.1", port)))?.mtuDiscovery.state == .searchComplete
        })
        let info = try client.peerAddressInfo(address("127.0.0.1", port))
        #expect(info.mtu == 4000 && info.mtuDiscovery.probesAcknowledged >= 2, "\(info)")
        // Fragments stay within the base PLPMTU's PMDCS (1188 bytes), several per 4000-byte packet.
        #expect(try client.getOption(.status).fragmentationPoint <= 1188 - 16)
        try client.send([UInt8](repeating: 0x42, count: 10_000))
        #expect(try server.nextMessage().data.readableBytes == 10_000)
        // SPP_PMTUD_DISABLE with a fixed MTU.
        var parameters = try client.getOption(.peerAddressParameters, association: id)
        #expect(parameters.pathMTUDiscovery == true && parameters.pathMTU == 4000)
        parameters.pathMTUDiscovery = false
        parameters.pathMTU = 1000
        try client.setOption(.peerAddressParameters, parameters, association: id)
        let fixed = try client.peerAddressInfo(address("127.0.0.1", port))
        #expect(fixed.mtu == 1000 && fixed.mtuDiscovery.state == .disabled)
        #expect(try client.getOption(.pathMTUDiscovery, association: id) == false)
        try client.setOption(.maxSegment, 500)
        try client.send([UInt8](repeating: 0x43, count: 3000))
        #expect(try server.nextMessage().data.readableBytes == 3000)
        // On again: from the base (probed at once on loopback), up to the maximum again.
        let probesBefore = fixed.mtuDiscovery.probesSent
        try client.setOption(.pathMTUDiscovery, true, association: id)
        #expect(try client.peerAddressInfo(address("127.0.0.1", port)).mtuDiscovery.state != .disabled)
        #expect(eventually(seconds: 20) {
            guard let info = try? client.peerAddressInfo(address("127.0.0.1", port)) else { return false }
            return info.mtuDiscovery.state == .searchComplete && info.mtu == 4000
        })
        #expect(try client.peerAddressInfo(address("127.0.0.1", port)).mtuDiscovery.probesSent >= 2, "probes counted afresh: \(probesBefore)")
        try server.close()
        try client.close()
        try listener.close()
    }
}
