import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Found by the seeded sweep (seeds 79 and 174): heartbeats sent while a shutdown was
/// finishing reached a peer that had already closed, which answered with ABORT, so a
/// graceful shutdown ended as a lost association on one side.
@Suite("shutdown and heartbeats")
struct ShutdownHeartbeatTests {
    typealias H = AssociationHarness

    @Test("no heartbeat in SHUTDOWN-ACK-SENT: a lost SHUTDOWN COMPLETE still ends the shutdown gracefully")
    func noHeartbeatWhileShutdownAckSent() throws {
        var server = SCTPConfiguration()
        server.heartbeatInterval = .seconds(1)
        server.rtoMax = .seconds(2)
        let h = H(seed: 91, serverConfiguration: server)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        h.run(for: .seconds(3)) { false }  // idle: heartbeats run
        let (_, loggedServer) = h.logTraffic()
        let c = h.client.addresses[0], s = h.server.addresses[0]
        let start = h.now
        // The SHUTDOWN reaches the server (5 ms); everything the client sends after it, its
        // SHUTDOWN COMPLETE and its answers to the retransmitted SHUTDOWN ACKs, is lost for 8 s.
        h.loop.network.setLinkUp(false, from: c, to: s, at: start + .milliseconds(7))
        h.loop.network.setLinkUp(true, from: c, to: s, at: start + .seconds(8))
        try h.client.endpoint.shutdown(id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(30)) { H.shutdownCompleted(h.server) || H.lost(h.server) != nil })
        #expect(H.shutdownCompleted(h.client))
        #expect(H.shutdownCompleted(h.server), "the server's shutdown completes")
        #expect(H.lost(h.server) == nil)
        #expect(loggedServer.count(ShutdownAckChunk.chunkType) >= 3, "T2 retransmitted SHUTDOWN ACK while the link was down")
        #expect(loggedServer.count(HeartbeatChunk.chunkType) == 0, "no heartbeat once the shutdown is under way")
    }
}
