import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// RFC 9260 §6.10: control chunks go ahead of DATA in a packet. usrsctp 0.9.5 enforces it:
/// a SACK bundled after DATA (what a two-way transfer produced) got the association aborted
/// with "DATA chunk followed by chunk of type 03" (Protocol Violation).
@Suite("Bundling order: control chunks (SACK included) ahead of DATA (§6.10)")
struct BundlingOrderTests {
    typealias H = AssociationHarness

    /// The packets in which a chunk other than DATA follows a DATA chunk.
    static func misordered(_ participant: RoutedParticipant) -> [[UInt8]] {
        participant.sent.compactMap { packet in
            let types = packet.chunks.map(\.type)
            guard let firstData = types.firstIndex(of: ChunkType.data) else { return nil }
            return types[firstData...].contains { $0 != ChunkType.data } ? types : nil
        }
    }

    @Test("an echo in both directions, with loss: SACKs bundled with DATA always come first", arguments: [UInt64(1), 2, 3])
    func echoBothWays(seed: UInt64) throws {
        let h = H(seed: 300 + seed, conditions: LinkConditions(delay: .milliseconds(2), lossProbability: 0.02))
        h.server.onEvent = { event, now, endpoint in
            if case .message(let id, let m) = event {
                endpoint.consumed(bytes: m.payload.readableBytes, on: id, now: now)
                try? endpoint.send(OutgoingMessage(streamIdentifier: m.streamIdentifier, payloadProtocolIdentifier: m.payloadProtocolIdentifier,
                                                   isUnordered: m.isUnordered, payload: m.payload), on: id, now: now)
            }
        }
        h.client.onEvent = { event, now, endpoint in
            if case .message(let id, let m) = event { endpoint.consumed(bytes: m.payload.readableBytes, on: id, now: now) }
        }
        let log = h.logTraffic()
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        let count = 600
        for index in 0..<count {
            let stream = UInt16(index % 3)
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: stream, isUnordered: index % 5 == 0,
                                                       payload: testPayload(stream: stream, index: index, length: 50 + index * 37 % 2500)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(120)) { H.messages(h.client).count >= count })
        #expect(H.messages(h.client).count == count)
        // SACKs did travel with DATA (the case being tested), and never behind it.
        let bundled = (log.client.sent + log.server.sent).filter { packet in
            packet.chunks.contains { $0.type == ChunkType.sack } && packet.chunks.contains { $0.type == ChunkType.data }
        }
        #expect(!bundled.isEmpty)
        #expect(Self.misordered(log.client).isEmpty, "client: \(Self.misordered(log.client).prefix(3))")
        #expect(Self.misordered(log.server).isEmpty, "server: \(Self.misordered(log.server).prefix(3))")
    }
}
