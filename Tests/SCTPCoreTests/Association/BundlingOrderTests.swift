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
            packet.chunks.contains { isAcknowledgement($0.type) } && packet.chunks.contains { $0.type == ChunkType.data }
        }
        #expect(!bundled.isEmpty)
        #expect(Self.misordered(log.client).isEmpty, "client: \(Self.misordered(log.client).prefix(3))")
        #expect(Self.misordered(log.server).isEmpty, "server: \(Self.misordered(log.server).prefix(3))")
    }

    /// With the SACK bundled first, a full-size chunk marked for retransmission no longer fits
    /// the packet. The first retransmission must go anyway, in a packet of its own (§6.3.3
    /// E3): none went, nothing was in flight so T3 stayed off, and the association sat until
    /// a heartbeat (30 s) woke it. Found through the lossy relay against usrsctp (InteropTests):
    /// a 20 s stall with every TSN acknowledged but one full-size fragment.
    @Test("a full-size retransmission goes when a SACK takes part of the packet")
    func retransmissionAfterBundledSack() throws {
        var configuration = SCTPConfiguration()
        configuration.rtoInitial = .seconds(1)
        configuration.rtoMin = .seconds(1)
        configuration.rtoMax = .seconds(4)
        let h = H(seed: 11, clientConfiguration: configuration, serverConfiguration: configuration)
        let log = h.logTraffic()
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let serverID = try #require(H.upEvents(h.server).first)
        let clientAddress = h.client.addresses[0]
        let serverAddress = h.server.addresses[0]
        // DATA from the client is lost for a while: the T3 retransmission of a full-size chunk
        // comes due while the client owes the server a SACK for DATA that just arrived.
        _ = h.loop.network.setLinkUp(false, from: clientAddress, to: serverAddress, at: h.now)
        let fragment = try #require(h.client.endpoint.status(of: id)).fragmentationPoint
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: 0, length: fragment)),
                                   on: id, now: h.now)
        h.loop.flushTransmits()
        _ = h.loop.run(for: .milliseconds(900), maxSteps: 100_000)
        try h.server.endpoint.send(OutgoingMessage(streamIdentifier: 1, payload: testPayload(stream: 1, index: 1, length: 20)),
                                   on: serverID, now: h.now)
        h.loop.flushTransmits()
        _ = h.loop.run(for: .milliseconds(50), maxSteps: 100_000)
        _ = h.loop.network.setLinkUp(true, from: clientAddress, to: serverAddress, at: h.now)
        let before = log.client.sent.count

        #expect(h.run(for: .seconds(10)) { H.messages(h.server).count == 1 }, "the message was never retransmitted")
        let after = log.client.sent.dropFirst(before)
        #expect(after.contains { $0.chunks.contains { $0.type == ChunkType.data } })
        #expect(Self.misordered(log.client).isEmpty)
    }
}
