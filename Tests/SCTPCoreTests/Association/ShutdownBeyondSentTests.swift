import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Found by the stateful fuzz interpreter (the association invariants: T3-rtx off with data
/// in flight, a heartbeat without its deadline, in SHUTDOWN-RECEIVED after the association
/// had ended): a SHUTDOWN whose Cumulative TSN Ack lies beyond every TSN sent aborts the
/// association as a protocol violation (as such a SACK does), but `handleShutdown` went on:
/// it entered SHUTDOWN-RECEIVED, reported `.peerShutdown` after `.communicationLost`, and the
/// closed association came back to life with its timers stopped.
@Suite("SHUTDOWN acknowledging TSNs never sent")
struct ShutdownBeyondSentTests {
    typealias H = AssociationHarness

    @Test("a SHUTDOWN with a Cumulative TSN Ack beyond what was sent aborts, and the association stays closed",
          arguments: [false, true])
    func shutdownBeyondSentAborts(serverShutDownFirst: Bool) throws {
        let h = H(seed: 21)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.server).isEmpty && h.client.endpoint.state(of: id) == .established })
        let server = h.server.endpoint
        let serverID = try #require(H.upEvents(h.server).first)
        try server.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 3, count: 300)), on: serverID, now: h.now)
        #expect(h.run { H.messages(h.client).count == 1 })
        h.run(for: .seconds(1)) { false }
        if serverShutDownFirst {
            try server.shutdown(serverID, now: h.now)  // SHUTDOWN-SENT: the peer's SHUTDOWN would cross it
            #expect(server.state(of: serverID) == .shutdownSent)
        }
        let association = try #require(server.associations[serverID])
        let highestSent = association.sender.outstanding.highestSentTSN
        let shutdown = SCTPPacket(header: CommonHeader(sourcePort: H.clientPort, destinationPort: H.serverPort,
                                                       verificationTag: association.localTag),
                                  chunks: [.shutdown(ShutdownChunk(cumulativeTSNAck: highestSent.advanced(by: 50)))])
        server.handle(datagram: shutdown.serialized(), from: h.client.addresses[0], to: h.server.addresses[0], now: h.now)
        h.server.drainEvents(now: h.now)
        #expect(server.state(of: serverID) == nil || server.state(of: serverID) == .closed)
        #expect(H.lost(h.server) == .protocolViolation("SACK beyond the highest TSN sent"))
        #expect(!h.server.events.contains { if case .peerShutdown = $0.event { true } else { false } })
        #expect(server.checkInvariants() == [])
    }
}
