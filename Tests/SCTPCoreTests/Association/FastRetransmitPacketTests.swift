import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Drops the first transmission of the packets that carry chosen DATA chunks (by rank: 0 is
/// the association's first TSN), and logs the DATA packets its endpoint sends.
final class DataPacketDropper: ForwardingParticipant {
    struct SentData {
        var time: SCTPInstant
        /// Ranks of the TSNs in the packet.
        var ranks: [Int]
        var dropped: Bool
        var isRetransmission: Bool
        /// Ranks of the chunks with the I bit (RFC 7053).
        var immediate: [Int] = []
    }

    let inner: EndpointParticipant
    let dropRanks: Set<Int>
    private var firstTSN: TSN?
    private var seen: Set<UInt32> = []
    private(set) var sent: [SentData] = []

    init(_ inner: EndpointParticipant, dropRanks: Set<Int>) {
        self.inner = inner
        self.dropRanks = dropRanks
    }

    func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? {
        while let outgoing = inner.pollTransmit(now: now) {
            guard let packet = try? SCTPPacket(parsing: outgoing.datagram, checksum: .skipped) else { return outgoing }
            let tsns = packet.chunks.compactMap { if case .data(let d) = $0 { d.tsn } else { nil } }
            guard let lowest = tsns.first else { return outgoing }
            if firstTSN == nil { firstTSN = lowest }
            let ranks = tsns.map { Int(firstTSN!.distance(to: $0)) }
            let isRetransmission = tsns.contains { seen.contains($0.rawValue) }
            for tsn in tsns { seen.insert(tsn.rawValue) }
            let drop = !isRetransmission && ranks.contains { dropRanks.contains($0) }
            let immediate = packet.chunks.compactMap { chunk -> Int? in
                guard case .data(let d) = chunk, d.dataFlags.contains(.immediate) else { return nil }
                return Int(firstTSN!.distance(to: d.tsn))
            }
            sent.append(SentData(time: now, ranks: ranks, dropped: drop, isRetransmission: isRetransmission, immediate: immediate))
            if !drop { return outgoing }
        }
        return nil
    }
}

@Suite("Fast Retransmit sends a packet of the earliest marked chunks (RFC 9260 §7.2.4 step 3)")
struct FastRetransmitPacketTests {
    typealias H = AssociationHarness

    @Test("a lost packet of ten small chunks is fast-retransmitted in one packet, not one chunk per SACK")
    func onePacket() throws {
        let h = H(seed: 95, conditions: LinkConditions(delay: .microseconds(50)))
        h.server.onEvent = { event, now, endpoint in
            if case .message(let id, let m) = event { endpoint.consumed(bytes: m.payload.readableBytes, on: id, now: now) }
        }
        let dropper = DataPacketDropper(h.client, dropRanks: [2000])
        h.loop.participants = [dropper, h.server]
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        // 100-byte messages, all queued at once: packets of ten chunks.
        let total = 4000
        for _ in 0..<total {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 7, count: 100)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(30)) { H.messages(h.server).count >= total })
        #expect(H.messages(h.server).count == total)

        let lost = try #require(dropper.sent.first { $0.dropped })
        #expect(lost.ranks.count == 10, "the dropped packet was a full one")
        let retransmissions = dropper.sent.filter(\.isRetransmission)
        // All ten go again in the first retransmission packet.
        #expect(retransmissions.first?.ranks == lost.ranks)
        #expect(retransmissions.count == 1)
        // Fast Retransmit, not T3: within a few round trips of the loss.
        #expect(try #require(retransmissions.first).time - lost.time < .milliseconds(5))
        let statistics = try #require(h.client.endpoint.statistics(of: id))
        #expect(statistics.fastRetransmitMarks == 10)
        #expect(statistics.dataChunksRetransmitted == 10)
        #expect(statistics.retransmissionTimeouts == 0)
    }
}
