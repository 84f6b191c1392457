import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Found by the seeded sweep with PR-SCTP messages (seed 23685): in SHUTDOWN-PENDING the
/// SACK that acknowledged the last outstanding chunk found the queue not yet empty (its
/// messages had expired but were only dropped when the queue was next read, right after),
/// so SHUTDOWN waited for a SACK that never came: the association stayed in SHUTDOWN-PENDING.
@Suite("shutdown after the last queued messages expire")
struct ShutdownExpiredQueueTests {
    typealias H = AssociationHarness

    @Test("SHUTDOWN goes out when the queued messages expire instead of being sent")
    func shutdownAfterQueuedMessagesExpire() throws {
        var client = SCTPConfiguration()
        client.maxOutstandingChunks = 1  // the second message waits in the queue
        let h = H(seed: 96, clientConfiguration: client)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let c = h.client.addresses[0], s = h.server.addresses[0]
        h.loop.network.setLinkUp(false, from: c, to: s, at: h.now)
        h.loop.network.setLinkUp(true, from: c, to: s, at: h.now + .milliseconds(1500))
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: 0, length: 100)),
                                   on: id, now: h.now)
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, partialReliability: .lifetime(.milliseconds(500)),
                                                   payload: testPayload(stream: 0, index: 1, length: 100)), on: id, now: h.now)
        try h.client.endpoint.shutdown(id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(30)) { H.shutdownCompleted(h.client) && H.shutdownCompleted(h.server) })
        #expect(H.messages(h.server).count == 1)
        #expect(h.client.events.contains { if case .sendFailed(_, let failed) = $0.event { failed.payload == testPayload(stream: 0, index: 1, length: 100) } else { false } })
        #expect(h.client.endpoint.state(of: id) != .shutdownPending)
    }
}
