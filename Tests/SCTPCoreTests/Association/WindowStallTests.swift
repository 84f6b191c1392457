import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// A sender stopped by the peer's window must not wait for the peer's delayed-ack timer.
/// Seen over UDP on loopback with 3 MB messages and a 1 MiB receive window: every message
/// filled the window before it could be partially delivered, and the SACK of the last
/// chunk that fit waited 200 ms for a second packet that could not come.
@Suite("Window-limited sending does not stall on delayed SACKs (RFC 7053 I bit)")
struct WindowStallTests {
    typealias H = AssociationHarness

    @Test("messages three times the receive window: no delayed-ack stall per message; the window-filling chunk carries the I bit")
    func largeMessages() throws {
        var clientConfiguration = SCTPConfiguration()
        clientConfiguration.sendBufferSize = 64 << 20
        var serverConfiguration = SCTPConfiguration()
        serverConfiguration.receiveBufferSize = 1 << 20
        let h = H(seed: 96, conditions: LinkConditions(delay: .microseconds(50)),
                  clientConfiguration: clientConfiguration, serverConfiguration: serverConfiguration)
        h.server.onEvent = { event, now, endpoint in
            if case .message(let id, let m) = event { endpoint.consumed(bytes: m.payload.readableBytes, on: id, now: now) }
        }
        let log = DataPacketDropper(h.client, dropRanks: [])
        h.loop.participants = [log, h.server]
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        let count = 6, length = 3_000_000
        for _ in 0..<count {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 3, count: length)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        let start = h.now
        #expect(h.run(for: .seconds(60)) { H.messages(h.server).filter(\.isComplete).count >= count })
        let received = H.messages(h.server).reduce(0) { $0 + $1.payload.readableBytes }
        #expect(received == count * length)
        // 18 MB through a 1 MiB window with a 100 µs round trip: a few milliseconds of
        // round trips; each delayed-ack stall would add 200 ms.
        #expect(h.now - start < .milliseconds(100))
        #expect(log.sent.contains { !$0.immediate.isEmpty }, "the chunk that fills the window asks for an immediate SACK")
        let statistics = try #require(h.client.endpoint.statistics(of: id))
        #expect(statistics.retransmissionTimeouts == 0 && statistics.dataChunksRetransmitted == 0)
    }

    @Test("a sender the window never limits sets no I bit")
    func noImmediateWhenOpen() throws {
        let h = H(seed: 97, conditions: LinkConditions(delay: .microseconds(50)))
        h.server.onEvent = { event, now, endpoint in
            if case .message(let id, let m) = event { endpoint.consumed(bytes: m.payload.readableBytes, on: id, now: now) }
        }
        let log = DataPacketDropper(h.client, dropRanks: [])
        h.loop.participants = [log, h.server]
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        for _ in 0..<200 {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 3, count: 1000)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(10)) { H.messages(h.server).count >= 200 })
        #expect(log.sent.allSatisfy { $0.immediate.isEmpty })
    }
}
