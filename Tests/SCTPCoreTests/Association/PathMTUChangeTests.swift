import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// The path table keeps each path's congestion control with its MTU: a new MTU
/// (`SCTP_PEER_ADDR_PARAMS` spp_pathmtu) changes the PMDCS that cwnd is counted in.
@Suite("a path's MTU change reaches its congestion control")
struct PathMTUChangeTests {
    typealias H = AssociationHarness

    @Test("after the MTU drops to 600, a T3 expiry leaves cwnd at the new PMDCS (588), and DATA fits the new MTU")
    func t3AfterMTUChange() throws {
        let h = H(seed: 97, conditions: .init(delay: .milliseconds(10)))
        let (logged, _) = h.logTraffic()
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        try h.client.endpoint.setPathParameters(heartbeatInterval: nil, pathMaxRetransmits: 5, mtu: 600, of: id, now: h.now)
        #expect(h.client.endpoint.status(of: id)?.paths.first?.mtu == 600)
        // Everything to the server is lost from now on: the first DATA times out.
        h.loop.network.addLink(from: h.client.addresses[0], to: h.server.addresses[0],
                               conditions: .init(delay: .milliseconds(10), lossProbability: 1))
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 7, count: 2000)),
                                   on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(10)) { (h.client.endpoint.statistics(of: id)?.retransmissionTimeouts ?? 0) >= 1 })
        let window = try #require(h.client.endpoint.status(of: id)?.paths.first?.congestionWindow)
        #expect(window == 588, "cwnd after T3 is one PMDCS of the new MTU")
        let largest = logged.sent.filter { $0.chunks.contains { if case .data = $0 { true } else { false } } }
            .map(\.size).max() ?? 0
        #expect(largest > 0 && largest <= 600)
    }
}
