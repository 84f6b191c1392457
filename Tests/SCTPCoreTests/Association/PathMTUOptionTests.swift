import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

@Suite("path parameters on a live association")
struct PathMTUOptionTests {
    typealias H = AssociationHarness

    /// Found by the stateful fuzzer's invariant check (each path's congestion controller
    /// counts the PMDCS of the path's MTU): `setPathParameters(mtu:)` changed the path's MTU
    /// but not the PMDCS its congestion controller counts in, so after a T3-rtx expiry cwnd
    /// was one old-size chunk, and growth and the loss floor used the old size too.
    @Test("an MTU set on a live association also sets the PMDCS its congestion control counts in")
    func mtuChangeReachesCongestionControl() throws {
        let h = H(seed: 11)
        let id = try h.connect()
        #expect(h.run { h.client.endpoint.state(of: id) == .established })
        let endpoint = h.client.endpoint
        try endpoint.setPathParameters(heartbeatInterval: .seconds(30), pathMaxRetransmits: 5, mtu: 600, of: id, now: h.now)
        let association = try #require(endpoint.associations[id])
        #expect(association.paths[0].mtu == 600)
        #expect(association.sender.congestion[0].pmdcs == DataSender.pmdcs(mtu: 600))
        #expect(endpoint.checkInvariants() == [])
        // After a timeout cwnd is one chunk of the new size.
        association.sender.congestion[0].onRetransmissionTimeout()
        #expect(endpoint.status(of: id)?.paths[0].congestionWindow == 588)
    }
}
