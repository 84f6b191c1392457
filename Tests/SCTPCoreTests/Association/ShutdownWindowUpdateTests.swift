import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Once the peer has sent SHUTDOWN all its data is here and acknowledged: reading it opens
/// the window, but a window-update SACK then is news to nobody, and one that crosses the
/// peer's SHUTDOWN COMPLETE reaches an association that is gone: usrsctp answers it with
/// ABORT (seen in the interop tests: SHUTDOWN, SHUTDOWN ACK, SHUTDOWN COMPLETE, our SACK,
/// usrsctp's ABORT with the T bit).
@Suite("window updates after the peer's SHUTDOWN")
struct ShutdownWindowUpdateTests {
    typealias H = AssociationHarness

    @Test("reading after the peer's SHUTDOWN sends no SACK; the shutdown completes without ABORT")
    func noWindowUpdateAfterPeerShutdown() throws {
        var serverConfiguration = SCTPConfiguration()
        serverConfiguration.receiveBufferSize = 8000
        let h = H(seed: 21, serverConfiguration: serverConfiguration)
        let taps = h.tap()
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let serverID = try #require(H.upEvents(h.server).first)
        // 6000 bytes the server's application does not read yet: its window shrinks to ~2000.
        for index in 0..<5 {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: index, length: 1200)),
                                       on: id, now: h.now)
        }
        try h.client.endpoint.shutdown(id, now: h.now)
        h.loop.flushTransmits()
        let sentShutdownAck = { taps.server.sentCount { if case .shutdownAck = $0 { true } else { false } } > 0 }
        #expect(h.run(until: sentShutdownAck))
        // The application reads everything now, while SHUTDOWN COMPLETE is on its way.
        let unread = H.messages(h.server).reduce(0) { $0 + $1.payload.readableBytes }
        #expect(unread == 6000)
        let before = taps.server.sent.count
        h.server.endpoint.consumed(bytes: unread, on: serverID, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { H.shutdownCompleted(h.client) && H.shutdownCompleted(h.server) })
        h.runToIdle(limit: .seconds(5))

        let after = taps.server.sent.dropFirst(before).flatMap(\.packet.chunks)
        #expect(!after.contains { if case .sack = $0 { true } else { false } }, "a SACK after SHUTDOWN ACK: \(after.map(\.type))")
        for tap in [taps.client, taps.server] {
            #expect(tap.sentCount { if case .abort = $0 { true } else { false } } == 0)
        }
    }
}
