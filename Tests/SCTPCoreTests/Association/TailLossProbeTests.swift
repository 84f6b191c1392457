import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Drops the datagrams an endpoint sends that carry a SACK or NR-SACK, chosen by their rank
/// (0: the first such datagram; `dropRanks` may change while the simulation runs).
final class SackDropper: ForwardingParticipant {
    let inner: EndpointParticipant
    var dropRanks: Set<Int> = []
    /// Datagrams with a SACK sent so far (dropped ones included).
    private(set) var sacksSent = 0
    private(set) var dropped = 0

    init(_ inner: EndpointParticipant) { self.inner = inner }

    func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? {
        while let outgoing = inner.pollTransmit(now: now) {
            let chunks = (try? SCTPPacket(parsing: outgoing.datagram, checksum: .skipped))?.chunks ?? []
            let carriesSack = chunks.contains { chunk in
                switch chunk {
                case .sack, .nrSack: true
                default: false
                }
            }
            guard carriesSack else { return outgoing }
            let rank = sacksSent
            sacksSent += 1
            guard dropRanks.contains(rank) else { return outgoing }
            dropped += 1
        }
        return nil
    }
}

/// The tail loss probe (`SCTPConfiguration.tailLossProbeMinimum`, a deliberate addition to
/// RFC 9260 after RFC 8985): a sender whose window's last SACKs are lost, or whose last
/// packet's SACK the peer delays because the packet after it was lost, does not wait for
/// T3-rtx (RTO.Min, 1 s) or the delayed-ack timer (200 ms). Seen through a relay dropping 5 %
/// of datagrams each way (Benchmarks/README.md, "goodput under loss, second step"): with
/// 65000-byte messages and cwnd at 4–10 packets, most of a run's time went on these waits.
@Suite("Tail loss probe: lost SACKs and delayed SACKs at the end of a window")
struct TailLossProbeTests {
    typealias H = AssociationHarness

    /// A client and server on a 1 ms link (RTT 2 ms), the client's DATA logged, the server's
    /// SACKs droppable; one warm-up message of two packets is acknowledged (the RTT is measured).
    struct Setup {
        let h: H
        let data: DataPacketDropper
        let sacks: SackDropper
        let id: AssociationID
    }

    static func setUp(seed: UInt64, dropDataRanks: Set<Int> = [], client: SCTPConfiguration = SCTPConfiguration()) throws -> Setup {
        let h = H(seed: seed, conditions: LinkConditions(delay: .milliseconds(1)), clientConfiguration: client)
        h.server.onEvent = { event, now, endpoint in
            if case .message(let id, let m) = event { endpoint.consumed(bytes: m.payload.readableBytes, on: id, now: now) }
        }
        let data = DataPacketDropper(h.client, dropRanks: dropDataRanks)
        let sacks = SackDropper(h.server)
        h.loop.participants = [data, sacks]
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        // Two packets: the second is SACKed at once, which measures the RTT.
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 1, count: 2000)),
                                   on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(5)) { dryEvents(h.client) == 1 })
        return Setup(h: h, data: data, sacks: sacks, id: id)
    }

    static func dryEvents(_ p: EndpointParticipant) -> Int {
        p.events.filter { if case .senderDry = $0.event { true } else { false } }.count
    }

    /// Sends one message of four packets (the whole initial cwnd) and runs until it is acknowledged.
    static func sendWindow(_ s: Setup) throws -> Duration {
        try s.h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 2, count: 4500)),
                                     on: s.id, now: s.h.now)
        s.h.loop.flushTransmits()
        let start = s.h.now
        #expect(s.h.run(for: .seconds(10)) { dryEvents(s.h.client) == 2 })
        #expect(H.messages(s.h.server).count == 2)
        return s.h.now - start
    }

    @Test("both SACKs of the last window lost: a probe 10 ms later, not T3-rtx after 1 s")
    func lostSacks() throws {
        let s = try Self.setUp(seed: 140)
        // The window's two SACKs (after its second and fourth packet).
        s.sacks.dropRanks = [s.sacks.sacksSent, s.sacks.sacksSent + 1]
        let elapsed = try Self.sendWindow(s)
        #expect(s.sacks.dropped == 2)
        #expect(elapsed < .milliseconds(25), "acknowledged after \(elapsed)")
        let statistics = try #require(s.h.client.endpoint.statistics(of: s.id))
        #expect(statistics.retransmissionTimeouts == 0)
        #expect(statistics.tailLossProbes == 1)
        // The probe: the window's highest TSN (rank 5: the warm-up took ranks 0 and 1), again, with the I bit.
        let probes = s.data.sent.filter(\.isRetransmission)
        #expect(probes.count == 1)
        #expect(probes.first?.ranks == [5] && probes.first?.immediate == [5])
    }

    @Test("the window's last packet lost and the SACK before it too: the peer's delayed SACK and T3-rtx are not waited for")
    func delayedSackBehindLostPacket() throws {
        // Ranks 2...5 are the window; 5 is lost; the SACK of 2 and 3 is lost, so 4 waits alone
        // at the peer for its delayed-ack timer.
        let s = try Self.setUp(seed: 141, dropDataRanks: [5])
        s.sacks.dropRanks = [s.sacks.sacksSent]
        let elapsed = try Self.sendWindow(s)
        #expect(elapsed < .milliseconds(50), "acknowledged after \(elapsed)")
        let statistics = try #require(s.h.client.endpoint.statistics(of: s.id))
        #expect(statistics.retransmissionTimeouts == 0)
        #expect(statistics.tailLossProbes == 1)
        let probes = s.data.sent.filter(\.isRetransmission)
        #expect(probes.count == 1 && probes.first?.ranks == [5] && probes.first?.immediate == [5])
    }

    @Test("the first probe's answer lost: a second probe after twice the time")
    func secondProbe() throws {
        let s = try Self.setUp(seed: 146)
        // The window's two SACKs and the answer to the first probe.
        s.sacks.dropRanks = [s.sacks.sacksSent, s.sacks.sacksSent + 1, s.sacks.sacksSent + 2]
        let elapsed = try Self.sendWindow(s)
        // 10 ms, then 20 ms more, and the round trip.
        #expect(elapsed >= .milliseconds(30) && elapsed < .milliseconds(50), "acknowledged after \(elapsed)")
        let statistics = try #require(s.h.client.endpoint.statistics(of: s.id))
        #expect(statistics.retransmissionTimeouts == 0)
        #expect(statistics.tailLossProbes == 2)
    }

    @Test("both probes' answers lost: recovery is T3-rtx's, as without probes")
    func lostProbes() throws {
        let s = try Self.setUp(seed: 142)
        s.sacks.dropRanks = Set(s.sacks.sacksSent..<(s.sacks.sacksSent + 4))
        let elapsed = try Self.sendWindow(s)
        #expect(elapsed >= .seconds(1) && elapsed < .milliseconds(1100), "acknowledged after \(elapsed)")
        let statistics = try #require(s.h.client.endpoint.statistics(of: s.id))
        #expect(statistics.retransmissionTimeouts == 1)
        #expect(statistics.tailLossProbes == 2)
    }

    @Test("a message PR-SCTP may not send again (maxRetransmissions 0, lifetime over) is not probed: it goes once")
    func partialReliabilityRespected() throws {
        for (index, policy) in [PartialReliability.maxRetransmissions(0), .lifetime(.milliseconds(5))].enumerated() {
            let s = try Self.setUp(seed: 148 + UInt64(index))
            s.sacks.dropRanks = [s.sacks.sacksSent, s.sacks.sacksSent + 1]
            try s.h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, partialReliability: policy,
                                                         payload: ByteBuffer(repeating: 2, count: 4500)),
                                         on: s.id, now: s.h.now)
            s.h.loop.flushTransmits()
            #expect(s.h.run(for: .seconds(10)) { Self.dryEvents(s.h.client) == 2 }, "\(policy)")
            let statistics = try #require(s.h.client.endpoint.statistics(of: s.id))
            #expect(statistics.tailLossProbes == 0, "\(policy)")
            #expect(s.data.sent.filter(\.isRetransmission).isEmpty, "\(policy)")
        }
    }

    @Test("probes off (tailLossProbeMinimum nil): lost SACKs wait for T3-rtx, as RFC 9260 has it")
    func switchedOff() throws {
        var configuration = SCTPConfiguration()
        configuration.tailLossProbeMinimum = nil
        let s = try Self.setUp(seed: 143, client: configuration)
        s.sacks.dropRanks = [s.sacks.sacksSent, s.sacks.sacksSent + 1]
        let elapsed = try Self.sendWindow(s)
        #expect(elapsed >= .seconds(1), "acknowledged after \(elapsed)")
        let statistics = try #require(s.h.client.endpoint.statistics(of: s.id))
        #expect(statistics.retransmissionTimeouts == 1)
        #expect(statistics.tailLossProbes == 0)
    }

    @Test("the last hole of a transfer, two misses short of Fast Retransmit: probed without the delayed-ack allowance")
    func lastHole() throws {
        // Rank 3 of the window 2...5 is lost: the SACKs of 4 and 5 give it two misses, and
        // with nothing more to send no third comes. The peer has a gap, so it will SACK the
        // probe at once: no reason to wait 200 ms more as for a lone packet.
        let s = try Self.setUp(seed: 147, dropDataRanks: [3])
        let elapsed = try Self.sendWindow(s)
        #expect(elapsed < .milliseconds(25), "acknowledged after \(elapsed)")
        let statistics = try #require(s.h.client.endpoint.statistics(of: s.id))
        #expect(statistics.retransmissionTimeouts == 0 && statistics.fastRetransmitMarks == 0)
        #expect(statistics.tailLossProbes == 1)
        let probes = s.data.sent.filter(\.isRetransmission)
        #expect(probes.count == 1 && probes.first?.ranks == [3] && probes.first?.immediate == [3])
    }

    @Test("a lone packet whose SACK the peer delays draws no probe (the probe allows for the delayed-ack time)")
    func lonePacket() throws {
        let s = try Self.setUp(seed: 144)
        for index in 0..<5 {
            try s.h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 3, count: 100)),
                                         on: s.id, now: s.h.now)
            s.h.loop.flushTransmits()
            #expect(s.h.run(for: .seconds(5)) { Self.dryEvents(s.h.client) == 2 + index })
        }
        let statistics = try #require(s.h.client.endpoint.statistics(of: s.id))
        #expect(statistics.tailLossProbes == 0 && statistics.dataChunksRetransmitted == 0)
    }

    @Test("a loss-free bulk transfer sends no probe")
    func lossFree() throws {
        let s = try Self.setUp(seed: 145)
        for _ in 0..<50 {
            try s.h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 4, count: 65000)),
                                         on: s.id, now: s.h.now)
        }
        s.h.loop.flushTransmits()
        #expect(s.h.run(for: .seconds(30)) { H.messages(s.h.server).count == 51 })
        let statistics = try #require(s.h.client.endpoint.statistics(of: s.id))
        #expect(statistics.tailLossProbes == 0 && statistics.dataChunksRetransmitted == 0)
    }
}
