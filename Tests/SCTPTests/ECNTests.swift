import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore
import SCTPTestSupport
import Testing

/// ECN over real UDP sockets (RFC 9260 Appendix A, RFC 3168): a relay between two endpoints
/// reads the ECN field of every datagram and marks some ECN-capable ones Congestion
/// Experienced, as a congested router would.
@Suite("ECN over UDP sockets")
struct ECNTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    func endpoint(sctpPort: UInt16, listens: Bool, peerUDPPort: Int, ecn: Bool) throws -> (UDPEncapsulationEndpoint, EventLog) {
        var options = UDPEncapsulationEndpoint.Options(sctpPort: sctpPort, localAddresses: ["127.0.0.1"])
        options.udpPort = 0
        options.peerUDPPort = peerUDPPort
        options.acceptsAssociations = listens
        options.configuration.ecn = ecn
        let log = EventLog()
        let endpoint = try wait(UDPEncapsulationEndpoint.start(options: options, on: Self.group.next()) { log.append($0) })
        return (endpoint, log)
    }

    @Test("DATA leaves ECT(0), control packets do not; CE marks come back as ECNE and cut the sender's window; every message arrives",
          arguments: [true, false])
    func congestionMarks(ecn: Bool) throws {
        let (server, serverLog) = try endpoint(sctpPort: 5001, listens: true, peerUDPPort: 9, ecn: true)
        defer { _ = try? wait(server.close()) }
        let relay = try LossyRelay(seed: 7, impairments: LossyRelay.Impairments(congestionMark: 0.2),
                                   rightPeerUDPPort: server.localUDPPort, group: Self.group)
        defer { relay.close() }
        let (client, _) = try endpoint(sctpPort: 5002, listens: false, peerUDPPort: relay.leftPort, ecn: ecn)
        defer { _ = try? wait(client.close()) }

        let id = try wait(client.connect(to: ["127.0.0.1"], port: 5001))
        let count = 2000
        let messages = (0..<count).map { index in
            OutgoingMessage(streamIdentifier: 0, payloadProtocolIdentifier: 0x5001,
                            payload: ByteBuffer(repeating: UInt8(truncatingIfNeeded: index), count: 1000))
        }
        try wait(client.send(messages, on: id))
        #expect(eventually(seconds: 30) { serverLog.messages.count == count })
        let received = serverLog.messages
        #expect(received.count == count)
        for (index, message) in received.enumerated() where message.payload != messages[index].payload {
            Issue.record("message \(index) differs")
            break
        }
        let sent = try #require(try wait(client.statistics(of: id)))
        let serverID = try #require(serverLog.all.lazy.compactMap { event -> AssociationID? in
            if case .communicationUp(let id, _, _) = event { id } else { nil }
        }.first)
        let got = try #require(try wait(server.statistics(of: serverID)))
        let toServer = relay.counts.toRight, toClient = relay.counts.toLeft
        // The server's packets carry SACKs and other control chunks only: never ECN-capable.
        #expect(toClient.ecnCapable == 0, "\(toClient)")
        if ecn {
            #expect(toServer.ecnCapable > count / 4, "\(toServer)")
            #expect(toServer.marked > 0, "\(toServer)")
            #expect(got.congestionExperiencedPackets > 0, "server: \(got)")
            #expect(sent.ecnEchoesReceived > 0 && sent.ecnWindowReductions > 0, "client: \(sent)")
        } else {
            // The client did not announce ECN: nothing it sends is ECN-capable, nothing is marked.
            #expect(toServer.ecnCapable == 0 && toServer.marked == 0, "\(toServer)")
            #expect(got.congestionExperiencedPackets == 0 && sent.ecnEchoesReceived == 0)
        }
        try wait(client.shutdown(id))
    }
}
