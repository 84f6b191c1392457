import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Found by the seeded sweep with PR-SCTP messages (seeds 14295, 14482, 19250): a message
/// given up before its last fragment was sent, every sent fragment of which had arrived,
/// was never skipped by a FORWARD TSN: a SACK acknowledged those fragments before one went
/// out, after which nothing was left to skip. The receiver held the incomplete message, and
/// every later message of its ordered stream behind it, for ever.
@Suite("PR-SCTP: a message given up before its end was sent")
struct AbandonedUnsentTailTests {
    typealias H = AssociationHarness

    @Test("the unsent rest of an abandoned message is skipped by a FORWARD TSN even when everything sent arrived")
    func laterMessagesOnTheStreamArrive() throws {
        var server = SCTPConfiguration()
        server.receiveBufferSize = 6000  // the given-up message cannot be sent whole
        let h = H(seed: 95, conditions: LinkConditions(delay: .milliseconds(5)), serverConfiguration: server)
        h.server.onEvent = { event, now, endpoint in
            if case .message(let id, let m) = event { endpoint.consumed(bytes: m.payload.readableBytes, on: id, now: now) }
        }
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        // R (a packet of its own) is lost once; the SACKs of what follows are lost for 1.5 s, so
        // T3 marks the given-up message's fragments although they all arrived.
        let client = PacketFilterParticipant(h.client, rules: [(DataChunk.chunkType, .drop)])
        h.loop.participants = [client, h.server]
        let c = h.client.addresses[0], s = h.server.addresses[0]
        h.loop.network.setLinkUp(false, from: s, to: c, at: h.now)
        h.loop.network.setLinkUp(true, from: s, to: c, at: h.now + .milliseconds(1500))
        let sends: [(UInt16, Int, PartialReliability)] = [(1, 1100, .reliable), (0, 20_000, .maxRetransmissions(0)), (0, 100, .reliable)]
        for (index, (stream, size, policy)) in sends.enumerated() {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: stream, payloadProtocolIdentifier: UInt32(index),
                                                       partialReliability: policy, payload: testPayload(stream: stream, index: index, length: size)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(30)) { H.messages(h.server).contains { $0.payloadProtocolIdentifier == 2 } })
        #expect(client.applied == 1)
        #expect(h.client.events.contains { if case .sendFailed(_, let failed) = $0.event, failed.payloadProtocolIdentifier == 1 { true } else { false } }, "the PR message was given up")
        let complete = H.messages(h.server).filter(\.isComplete).map(\.payloadProtocolIdentifier)
        #expect(complete.sorted() == [0, 2], "R and the message after the given-up one arrive")
    }
}
