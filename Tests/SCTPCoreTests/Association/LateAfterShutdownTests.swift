import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Packets that arrive for an association that has just ended gracefully: for a few seconds
/// answered with SHUTDOWN COMPLETE where §8.4 would answer with an ABORT (a late duplicate
/// must not look like an abort to a peer still waiting for its SHUTDOWN COMPLETE).
@Suite("late packets after a graceful shutdown")
struct LateAfterShutdownTests {
    typealias H = AssociationHarness

    @Test("a late DATA or SHUTDOWN ACK for a tag that ended gracefully gets SHUTDOWN COMPLETE, a late ABORT nothing; unknown tags and expired ones get ABORT")
    func lateDuplicates() throws {
        let h = H(seed: 91)
        let taps = h.tap()
        let (clientID, _) = try h.establish()
        let serverTag = try #require(taps.client.sent.last?.packet.header.verificationTag)
        try h.client.endpoint.shutdown(clientID, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { H.shutdownCompleted(h.client) && H.shutdownCompleted(h.server) })
        // Let the server reap the association (the loop polls it).
        h.advance(by: .milliseconds(10))
        taps.server.forgetSent()

        func late(tag: UInt32, _ chunk: Chunk) -> SCTPPacket {
            SCTPPacket(header: CommonHeader(sourcePort: H.clientPort, destinationPort: H.serverPort, verificationTag: tag), chunks: [chunk])
        }
        let data = Chunk.data(DataChunk(flags: .complete, tsn: TSN(77), streamIdentifier: 0, ssn: SSN(0),
                                        payloadProtocolIdentifier: 0x5001, payload: ByteBuffer(bytes: [1, 2, 3])))
        let complete: [[Chunk]] = [[.shutdownComplete(ShutdownCompleteChunk(tagFlags: .reflectedTag))]]
        h.inject(late(tag: serverTag, data), into: h.server, from: h.client.addresses[0])
        #expect(taps.server.sent.map(\.packet.chunks) == complete)
        #expect(taps.server.sent.first?.packet.header.verificationTag == serverTag)
        taps.server.forgetSent()
        h.inject(late(tag: serverTag, .abort(AbortChunk())), into: h.server, from: h.client.addresses[0])
        #expect(taps.server.sent.isEmpty)

        h.inject(late(tag: serverTag, .shutdownAck(ShutdownAckChunk())), into: h.server, from: h.client.addresses[0])
        #expect(taps.server.sent.map(\.packet.chunks) == complete)
        taps.server.forgetSent()

        h.inject(late(tag: serverTag ^ 0x5A5A_5A5A, data), into: h.server, from: h.client.addresses[0])
        #expect(taps.server.sent.map(\.packet.chunks) == [[.abort(AbortChunk(tagFlags: .reflectedTag))]])
        taps.server.forgetSent()

        h.advance(by: SCTPEndpoint.closedTagLinger + .milliseconds(1))
        h.inject(late(tag: serverTag, data), into: h.server, from: h.client.addresses[0])
        #expect(taps.server.sent.map(\.packet.chunks) == [[.abort(AbortChunk(tagFlags: .reflectedTag))]])
    }

    @Test("an aborted association is not remembered: its peer's late packets get ABORT")
    func abortedNotRemembered() throws {
        let h = H(seed: 92)
        let taps = h.tap()
        let (clientID, _) = try h.establish()
        let serverTag = try #require(taps.client.sent.last?.packet.header.verificationTag)
        try h.client.endpoint.abort(clientID, reason: nil, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { H.lost(h.server) != nil })
        h.advance(by: .milliseconds(10))
        taps.server.forgetSent()
        let packet = SCTPPacket(header: CommonHeader(sourcePort: H.clientPort, destinationPort: H.serverPort, verificationTag: serverTag),
                                chunks: [.heartbeat(HeartbeatChunk(info: HeartbeatInfoParameter(info: ByteBuffer(bytes: [9]))))])
        h.inject(packet, into: h.server, from: h.client.addresses[0])
        #expect(taps.server.sent.map(\.packet.chunks) == [[.abort(AbortChunk(tagFlags: .reflectedTag))]])
        #expect(h.server.endpoint.recentlyClosed.isEmpty)
    }
}
