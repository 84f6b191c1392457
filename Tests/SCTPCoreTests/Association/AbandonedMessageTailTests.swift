import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Found by the seeded sweep with PR-SCTP messages (seeds 753, 3237, 3987, ...): a message
/// given up while partly sent, whose first chunks had been acknowledged, came back in
/// `.sendFailed` with the wrong unsent tail: it was cut from the message at the size of the
/// chunks still outstanding instead of after everything sent, repeating sent bytes.
@Suite("PR-SCTP: the payload of a message given up part way")
struct AbandonedMessageTailTests {
    typealias H = AssociationHarness

    @Test("a message abandoned after its first chunks were acknowledged comes back as its exact unacknowledged tail")
    func abandonedTailIsTheMessageSuffix() throws {
        var server = SCTPConfiguration()
        server.receiveBufferSize = 6000  // the sender cannot send the whole message at once
        let h = H(seed: 94, serverConfiguration: server)
        h.server.onEvent = { event, now, endpoint in
            if case .message(let id, let m) = event { endpoint.consumed(bytes: m.payload.readableBytes, on: id, now: now) }
        }
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        // The first DATA packet arrives (and is acknowledged), the second is lost; with a
        // retransmission limit of 0 the message is given up at its first retransmission.
        let client = PacketFilterParticipant(h.client, rules: [(DataChunk.chunkType, .pass), (DataChunk.chunkType, .drop)])
        h.loop.participants = [client, h.server]
        let message = testPayload(stream: 0, index: 1, length: 20_000)
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, partialReliability: .maxRetransmissions(0), payload: message),
                                   on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(30)) { h.client.events.contains { if case .sendFailed = $0.event { true } else { false } } })
        #expect(client.applied == 2)
        let failed = try #require(h.client.events.lazy.compactMap { if case .sendFailed(_, let failed) = $0.event { failed.payload } else { nil } }.first)
        #expect(failed.readableBytes < message.readableBytes, "the acknowledged start is not returned")
        #expect(failed.readableBytes > 0)
        let suffix = message.getSlice(at: message.readerIndex + message.readableBytes - failed.readableBytes, length: failed.readableBytes)
        #expect(failed == suffix, "exactly the bytes after the acknowledged ones")
    }
}
