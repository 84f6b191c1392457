import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// PR-SCTP (RFC 3758, RFC 7496) on the send side: messages given up by lifetime or
/// retransmission limit, FORWARD TSN, and what the receiver then delivers.
@Suite("PR-SCTP: abandoned messages and FORWARD TSN")
struct PartialReliabilityTests {
    typealias H = AssociationHarness

    static func failedPayloads(_ p: EndpointParticipant) -> [UInt8] {
        p.events.compactMap { if case .sendFailed(_, let failed) = $0.event, case let payload = failed.payload { payload.getInteger(at: payload.readerIndex, as: UInt8.self) } else { nil } }
    }

    /// Sends `count` messages on stream 0 whose first byte is their index, with `policy` for
    /// those in `partial`.
    func send(_ h: H, _ id: AssociationID, count: Int, partial: Set<Int>, policy: PartialReliability, size: Int = 100) throws {
        for index in 0..<count {
            var payload = ByteBuffer(repeating: 0, count: size)
            payload.setInteger(UInt8(index), at: 0)
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, partialReliability: partial.contains(index) ? policy : .reliable,
                                                       payload: payload), on: id, now: h.now)
        }
        h.loop.flushTransmits()
    }

    @Test("a retransmission limit of 0: messages lost once are given up, reported, skipped by FORWARD TSN; the others arrive in order")
    func retransmissionLimit() throws {
        let h = H(seed: 41)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        let (client, _) = h.logTraffic()
        // The link drops everything for a while: every message is lost on its first try.
        let c = h.client.addresses[0], s = h.server.addresses[0]
        h.loop.network.setLinksUp(false, between: c, and: s, at: h.now)
        try send(h, id, count: 6, partial: [1, 3, 4], policy: .maxRetransmissions(0))
        h.loop.network.setLinksUp(true, between: c, and: s, at: h.now + .milliseconds(1500))
        #expect(h.run { H.messages(h.server).count == 3 })
        #expect(H.messages(h.server).map { $0.payload.getInteger(at: 0, as: UInt8.self)! } == [0, 2, 5])
        #expect(Self.failedPayloads(h.client) == [1, 3, 4])
        #expect(client.count(ForwardTSNChunk.chunkType) >= 1)
        // Nothing is left outstanding: the sender runs dry and the association goes on.
        #expect(h.run { h.client.events.contains { if case .senderDry = $0.event { true } else { false } } })
        try send(h, id, count: 1, partial: [], policy: .reliable)
        #expect(h.run { H.messages(h.server).count == 4 })
        #expect(h.client.endpoint.status(of: id)?.state == .established)
    }

    @Test("a lifetime: messages not acknowledged in time are given up, those not yet sent too; fragments of a large message go together")
    func lifetime() throws {
        let h = H(seed: 42)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        let c = h.client.addresses[0], s = h.server.addresses[0]
        h.loop.network.setLinksUp(false, between: c, and: s, at: h.now)
        // Message 1 is large (fragmented), 2 and 3 are small; all three live 500 ms.
        for (index, size) in [(0, 100), (1, 5000), (2, 100), (3, 100), (4, 100)] {
            var payload = ByteBuffer(repeating: 0, count: size)
            payload.setInteger(UInt8(index), at: 0)
            let policy: PartialReliability = (1...3).contains(index) ? .lifetime(.milliseconds(500)) : .reliable
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, partialReliability: policy, payload: payload), on: id, now: h.now)
        }
        h.loop.flushTransmits()
        h.loop.network.setLinksUp(true, between: c, and: s, at: h.now + .seconds(2))
        #expect(h.run { H.messages(h.server).count == 2 })
        #expect(H.messages(h.server).map { $0.payload.getInteger(at: 0, as: UInt8.self)! } == [0, 4])
        #expect(Self.failedPayloads(h.client).sorted() == [1, 2, 3])
        // The abandoned large message is reported whole.
        let sizes = h.client.events.compactMap { if case .sendFailed(_, let failed) = $0.event { failed.payload.readableBytes } else { nil } }
        #expect(sizes.contains(5000))
        #expect(h.run { h.client.endpoint.status(of: id)?.unacknowledgedChunks == 0 })
    }

    @Test("messages an abort leaves behind come back with their context, stream, PPID and unordered flag; wasSent tells which went on the wire")
    func failedMessagesCarryTheirSendInfo() throws {
        let h = H(seed: 44)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        let c = h.client.addresses[0], s = h.server.addresses[0]
        h.loop.network.setLinksUp(false, between: c, and: s, at: h.now)
        // Twelve messages of 1000 bytes: the initial cwnd lets the first few out, the rest wait.
        for index in 0..<12 {
            var payload = ByteBuffer(repeating: 0, count: 1000)
            payload.setInteger(UInt8(index), at: 0)
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: UInt16(index % 3), payloadProtocolIdentifier: 0x6000 + UInt32(index),
                                                       isUnordered: index % 2 == 1, context: 0xC000 + UInt32(index), payload: payload),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        let inFlight = try #require(h.client.endpoint.status(of: id)).unacknowledgedChunks
        #expect(inFlight > 0 && inFlight < 12)
        try h.client.endpoint.abort(id, now: h.now)
        #expect(h.run(for: .seconds(1)) { H.lost(h.client) != nil })
        let failed = h.client.events.compactMap { if case .sendFailed(_, let failed) = $0.event { failed } else { nil } }
        #expect(failed.count == 12)
        for message in failed {
            let index = Int(message.payload.getInteger(at: message.payload.readerIndex, as: UInt8.self)!)
            #expect(message.payload.readableBytes == 1000)
            #expect(message.context == 0xC000 + UInt32(index))
            #expect(message.payloadProtocolIdentifier == 0x6000 + UInt32(index))
            #expect(message.streamIdentifier == UInt16(index % 3))
            #expect(message.isUnordered == (index % 2 == 1))
            #expect(message.wasSent == (index < inFlight), "message \(index)")
        }
    }

    @Test("a peer without PR-SCTP gets every message reliably, whatever the policy")
    func peerWithoutSupport() throws {
        var server = SCTPConfiguration()
        server.partialReliability = false
        let h = H(seed: 43, serverConfiguration: server)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        let c = h.client.addresses[0], s = h.server.addresses[0]
        h.loop.network.setLinksUp(false, between: c, and: s, at: h.now)
        try send(h, id, count: 4, partial: [1, 2], policy: .maxRetransmissions(0))
        h.loop.network.setLinksUp(true, between: c, and: s, at: h.now + .milliseconds(1500))
        #expect(h.run { H.messages(h.server).count == 4 })
        #expect(Self.failedPayloads(h.client).isEmpty)
    }

    @Test("a seeded sweep with loss: each message is delivered at most once, reliable ones always, in order; given-up ones are reported")
    func lossySweep() throws {
        for seed in UInt64(100)..<UInt64(140) {
            let h = H(seed: seed, conditions: LinkConditions(delay: .milliseconds(5), lossProbability: 0.15))
            let id = try h.connect()
            guard h.run(until: { !H.upEvents(h.client).isEmpty }) else {
                Issue.record("seed \(seed): no association")
                continue
            }
            let count = 40
            let partial = Set((0..<count).filter { $0 % 3 == 1 })
            try send(h, id, count: count, partial: partial, policy: .maxRetransmissions(1))
            let done = h.run(for: .seconds(300)) {
                let accounted = Set(H.messages(h.server).map { Int($0.payload.getInteger(at: 0, as: UInt8.self)!) })
                    .union(Self.failedPayloads(h.client).map(Int.init))
                return accounted.count == count && h.client.endpoint.status(of: id)?.unacknowledgedChunks == 0
            }
            #expect(done, "seed \(seed)")
            let delivered = H.messages(h.server).map { Int($0.payload.getInteger(at: 0, as: UInt8.self)!) }
            let failed = Set(Self.failedPayloads(h.client).map(Int.init))
            #expect(delivered == delivered.sorted(), "seed \(seed): out of order")
            #expect(Set(delivered).count == delivered.count, "seed \(seed): duplicates")
            #expect(failed.isSubset(of: partial), "seed \(seed): a reliable message was given up")
            // A message given up after it was sent may still have arrived (its SACK was lost):
            // reported failed and delivered is allowed, neither is not.
            #expect(Set(delivered).union(failed) == Set(0..<count), "seed \(seed): lost without a report")
        }
    }
}
