import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Stream identifiers are the peer's choice: DATA on any stream below the negotiated inbound
/// count is delivered, on its own stream and in order, however many distinct streams the peer
/// uses; DATA beyond it is acknowledged and answered with an Invalid Stream Identifier error
/// (RFC 9260 §6.5).
@Suite("association: stream identifiers chosen by the peer")
struct PeerStreamIdentifierTests {
    typealias H = AssociationHarness

    @Test("messages on every stream of the negotiated range, in a scrambled order, arrive in order per stream; a stream beyond it gets an Invalid Stream Identifier ERROR")
    func everyStreamThenOneBeyond() throws {
        var clientConfiguration = SCTPConfiguration()
        clientConfiguration.outboundStreams = 500
        var serverConfiguration = SCTPConfiguration()
        serverConfiguration.maxInboundStreams = 400
        let h = H(seed: 341, clientConfiguration: clientConfiguration, serverConfiguration: serverConfiguration)
        let taps = h.tap()
        let (clientID, serverID) = try h.establish()
        #expect(h.server.endpoint.streams(of: serverID)?.inbound == 400)
        #expect(h.client.endpoint.streams(of: clientID)?.outbound == 400)

        // Two messages on each of the 400 streams, the top one (399) first, in a scrambled
        // order of streams, 1,000 bytes each (bundled and fragmented alike at this MTU).
        var order = Array(UInt16(0)..<400)
        var x: UInt32 = 7
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            x = x &* 1_103_515_245 &+ 12_345
            order.swapAt(i, Int((x >> 16) % UInt32(i + 1)))
        }
        order.removeAll { $0 == 399 }
        order.insert(399, at: 0)
        for round in 0..<2 {
            for stream in order {
                var payload = ByteBufferAllocator().buffer(capacity: 1_000)
                payload.writeInteger(stream)
                payload.writeInteger(UInt16(round))
                payload.writeRepeatingByte(UInt8(truncatingIfNeeded: stream), count: 996)
                try h.client.endpoint.send(OutgoingMessage(streamIdentifier: stream, payloadProtocolIdentifier: UInt32(round),
                                                           payload: payload), on: clientID, now: h.now)
            }
        }
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == 800 })
        var rounds: [UInt16: [UInt32]] = [:]
        for m in H.messages(h.server) {
            #expect(m.payload.readableBytes == 1_000)
            #expect(m.payload.getInteger(at: m.payload.readerIndex, as: UInt16.self) == m.streamIdentifier)
            #expect(m.payload.getInteger(at: m.payload.readerIndex + 2, as: UInt16.self) == UInt16(m.payloadProtocolIdentifier))
            rounds[m.streamIdentifier, default: []].append(m.payloadProtocolIdentifier)
        }
        #expect(rounds.count == 400)
        #expect(rounds.values.allSatisfy { $0 == [0, 1] })
        h.advance(by: .seconds(1))

        // A DATA chunk on stream 400, one past the range, with the next TSN.
        let lastTSN = try #require(taps.client.sentChunks.compactMap { entry -> TSN? in
            if case .data(let data) = entry.chunk { data.tsn } else { nil }
        }.max())
        let serverTag = try #require(taps.client.sent.last?.packet.header.verificationTag)
        taps.server.forgetSent()
        let beyond = DataChunk(flags: .complete, tsn: lastTSN.next, streamIdentifier: 400, ssn: SSN(0),
                               payloadProtocolIdentifier: 0, payload: ByteBuffer(bytes: [1, 2, 3, 4]))
        h.inject(SCTPPacket(header: CommonHeader(sourcePort: H.clientPort, destinationPort: H.serverPort, verificationTag: serverTag),
                            chunks: [.data(beyond)]),
                 into: h.server, from: h.client.addresses[0])
        h.advance(by: .seconds(1))
        let errors = taps.server.sentChunks.compactMap { entry -> [ErrorCause]? in
            if case .error(let error) = entry.chunk { error.causes } else { nil }
        }
        #expect(errors == [[.invalidStreamIdentifier(InvalidStreamIdentifierCause(streamIdentifier: 400))]])
        // The TSN is acknowledged all the same, and nothing is delivered for it.
        let acked = taps.server.sentChunks.compactMap { entry -> TSN? in
            switch entry.chunk {
            case .sack(let sack): sack.cumulativeTSNAck
            case .nrSack(let sack): sack.cumulativeTSNAck
            default: nil
            }
        }
        #expect(acked.contains(lastTSN.next))
        // (The real client then sees a SACK for a TSN it never sent and aborts: not this test's matter.)
        #expect(H.messages(h.server).count == 800)
    }
}
