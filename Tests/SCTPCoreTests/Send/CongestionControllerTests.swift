import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

@Suite("congestion control")
struct CongestionControllerTests {
    typealias S = SendTestSupport

    /// A controller with PMDCS 1000 whose cwnd starts at 4000.
    private func controller(ssthresh: Int? = nil, requireAdvance: Bool = false) -> CongestionController {
        CongestionController(pmdcs: 1000, peerReceiverWindow: 100_000,
                             configuration: .init(initialSsthresh: ssthresh, slowStartRequiresCumulativeAdvance: requireAdvance))
    }

    /// Slow start SACKs with a full window until cwnd reaches `target` (a multiple of 1000).
    private func grow(_ cc: inout CongestionController, to target: Int) {
        while cc.cwnd < target {
            cc.onSack(ackedBytes: 1000, flightSizeBeforeSack: cc.cwnd, flightSizeAfterSack: 1,
                      cumulativeAckAdvanced: true, inFastRecovery: false)
        }
    }

    @Test("the initial cwnd is min(4 PMDCS, max(2 PMDCS, 4404)), 4344 for IPv6; ssthresh the peer's window")
    func initialValues() {
        #expect(CongestionController.initialWindow(pmdcs: 1188, isIPv6: false) == 4404)
        #expect(CongestionController.initialWindow(pmdcs: 1188, isIPv6: true) == 4344)
        #expect(CongestionController.initialWindow(pmdcs: 500, isIPv6: false) == 2000)
        #expect(CongestionController.initialWindow(pmdcs: 3000, isIPv6: false) == 6000)
        let cc = CongestionController(pmdcs: 1452, peerReceiverWindow: 65_536)
        #expect(cc.cwnd == 4404 && cc.ssthresh == 65_536 && cc.partialBytesAcked == 0 && cc.isInSlowStart)
        let v6 = CongestionController(pmdcs: 1188, peerReceiverWindow: 1, isIPv6: true,
                                      configuration: .init(initialSsthresh: 1 << 30))
        #expect(v6.cwnd == 4344 && v6.ssthresh == 1 << 30)
    }

    @Test("slow start grows by min(acked, PMDCS), only when the window was fully used")
    func slowStart() {
        var cc = controller()
        #expect(cc.cwnd == 4000)
        cc.onSack(ackedBytes: 2000, flightSizeBeforeSack: 3999, flightSizeAfterSack: 1999,
                  cumulativeAckAdvanced: true, inFastRecovery: false)
        #expect(cc.cwnd == 4000)
        cc.onSack(ackedBytes: 2000, flightSizeBeforeSack: 4000, flightSizeAfterSack: 2000,
                  cumulativeAckAdvanced: true, inFastRecovery: false)
        #expect(cc.cwnd == 5000)
        cc.onSack(ackedBytes: 500, flightSizeBeforeSack: 5200, flightSizeAfterSack: 4700,
                  cumulativeAckAdvanced: true, inFastRecovery: false)
        #expect(cc.cwnd == 5500)
        // Not in Fast Recovery.
        cc.onSack(ackedBytes: 1000, flightSizeBeforeSack: 6000, flightSizeAfterSack: 5000,
                  cumulativeAckAdvanced: true, inFastRecovery: true)
        #expect(cc.cwnd == 5500)
        // RFC 9260 grows on gap acknowledgements too.
        cc.onSack(ackedBytes: 1000, flightSizeBeforeSack: 6000, flightSizeAfterSack: 5000,
                  cumulativeAckAdvanced: false, inFastRecovery: false)
        #expect(cc.cwnd == 6500 && cc.partialBytesAcked == 0)

        var strict = controller(requireAdvance: true)
        strict.onSack(ackedBytes: 1000, flightSizeBeforeSack: 4000, flightSizeAfterSack: 3000,
                      cumulativeAckAdvanced: false, inFastRecovery: false)
        #expect(strict.cwnd == 4000)
        strict.onSack(ackedBytes: 1000, flightSizeBeforeSack: 4000, flightSizeAfterSack: 3000,
                      cumulativeAckAdvanced: true, inFastRecovery: false)
        #expect(strict.cwnd == 5000)
    }

    @Test("slow start with L = 2 grows by up to two PMDCS")
    func slowStartLimit() {
        var cc = CongestionController(pmdcs: 1000, peerReceiverWindow: 100_000,
                                      configuration: .init(slowStartIncreaseLimit: 2))
        cc.onSack(ackedBytes: 5000, flightSizeBeforeSack: 4000, flightSizeAfterSack: 0,
                  cumulativeAckAdvanced: true, inFastRecovery: false)
        #expect(cc.cwnd == 6000)
    }

    @Test("congestion avoidance: one PMDCS per cwnd of acknowledged bytes, with partial_bytes_acked")
    func congestionAvoidance() {
        var cc = controller(ssthresh: 3000)
        #expect(cc.cwnd == 4000 && !cc.isInSlowStart)
        cc.onSack(ackedBytes: 1000, flightSizeBeforeSack: 4000, flightSizeAfterSack: 3000,
                  cumulativeAckAdvanced: true, inFastRecovery: false)
        #expect(cc.cwnd == 4000 && cc.partialBytesAcked == 1000)
        cc.onSack(ackedBytes: 2000, duplicateBytes: 500, flightSizeBeforeSack: 4000, flightSizeAfterSack: 2000,
                  cumulativeAckAdvanced: true, inFastRecovery: false)
        #expect(cc.cwnd == 4000 && cc.partialBytesAcked == 3500)
        cc.onSack(ackedBytes: 1000, flightSizeBeforeSack: 4000, flightSizeAfterSack: 3000,
                  cumulativeAckAdvanced: true, inFastRecovery: false)
        #expect(cc.cwnd == 5000 && cc.partialBytesAcked == 500)
        // Not fully utilised: partial_bytes_acked is held at cwnd, cwnd does not grow.
        cc.onSack(ackedBytes: 6000, flightSizeBeforeSack: 4999, flightSizeAfterSack: 1000,
                  cumulativeAckAdvanced: true, inFastRecovery: false)
        #expect(cc.cwnd == 5000 && cc.partialBytesAcked == 5000)
        // Never more than one PMDCS per SACK.
        cc.onSack(ackedBytes: 20_000, flightSizeBeforeSack: 5000, flightSizeAfterSack: 1000,
                  cumulativeAckAdvanced: true, inFastRecovery: false)
        #expect(cc.cwnd == 6000 && cc.partialBytesAcked == 20_000)
        // Nothing grows in Fast Recovery.
        cc.onSack(ackedBytes: 20_000, flightSizeBeforeSack: 9000, flightSizeAfterSack: 1000,
                  cumulativeAckAdvanced: true, inFastRecovery: true)
        #expect(cc.cwnd == 6000)
        // Everything acknowledged: partial_bytes_acked restarts.
        cc.onSack(ackedBytes: 1000, flightSizeBeforeSack: 1000, flightSizeAfterSack: 0,
                  cumulativeAckAdvanced: true, inFastRecovery: false)
        #expect(cc.partialBytesAcked == 0 && cc.cwnd == 6000)
    }

    @Test("fast retransmit halves cwnd to no less than 4 PMDCS; T3 collapses it to one PMDCS")
    func reductions() {
        var cc = controller()
        grow(&cc, to: 12_000)
        cc.onFastRetransmit()
        #expect(cc.ssthresh == 6000 && cc.cwnd == 6000 && cc.partialBytesAcked == 0)
        cc.onFastRetransmit()
        #expect(cc.ssthresh == 4000 && cc.cwnd == 4000)

        var timeout = controller(ssthresh: 3000)
        grow(&timeout, to: 12_000)
        timeout.onSack(ackedBytes: 1000, flightSizeBeforeSack: 1000, flightSizeAfterSack: 1,
                       cumulativeAckAdvanced: true, inFastRecovery: false)
        #expect(timeout.partialBytesAcked > 0)
        timeout.onRetransmissionTimeout()
        #expect(timeout.ssthresh == 6000 && timeout.cwnd == 1000 && timeout.partialBytesAcked == 0)
        // One packet in flight until something is acknowledged.
        #expect(timeout.canSend(flightSize: 0) && !timeout.canSend(flightSize: 1000))
        timeout.onRetransmissionTimeout()
        #expect(timeout.ssthresh == 4000 && timeout.cwnd == 1000)
        // Slow start again up to ssthresh.
        timeout.onSack(ackedBytes: 1000, flightSizeBeforeSack: 1000, flightSizeAfterSack: 0,
                       cumulativeAckAdvanced: true, inFastRecovery: false)
        #expect(timeout.cwnd == 2000 && timeout.isInSlowStart)
    }

    @Test("an idle path's cwnd halves once per RTO down to 4 PMDCS, ssthresh taking cwnd first")
    func idleDecay() {
        var cc = controller()
        grow(&cc, to: 16_000)
        let rto = Duration.seconds(1)
        cc.applyIdleDecay(now: S.ms(5000), rto: rto)
        #expect(cc.cwnd == 16_000)  // nothing sent yet: nothing to decay from
        cc.onTransmit(now: S.ms(0))
        cc.onTransmit(now: S.ms(900))
        cc.applyIdleDecay(now: S.ms(1500), rto: rto)
        #expect(cc.cwnd == 16_000 && cc.ssthresh == 100_000)
        cc.applyIdleDecay(now: S.ms(1900), rto: rto)
        #expect(cc.cwnd == 8000 && cc.ssthresh == 16_000)
        cc.applyIdleDecay(now: S.ms(1900), rto: rto)
        #expect(cc.cwnd == 8000)
        cc.applyIdleDecay(now: S.ms(2899), rto: rto)
        #expect(cc.cwnd == 8000)
        cc.applyIdleDecay(now: S.ms(2900), rto: rto)
        #expect(cc.cwnd == 4000 && cc.ssthresh == 16_000)
        cc.applyIdleDecay(now: S.ms(60_000), rto: rto)
        #expect(cc.cwnd == 4000)

        // Several RTOs at once.
        var long = controller()
        grow(&long, to: 32_000)
        long.onTransmit(now: S.ms(0))
        long.applyIdleDecay(now: S.ms(2500), rto: rto)
        #expect(long.cwnd == 8000 && long.ssthresh == 32_000)
        // Sending ends the idle period; the next one sets ssthresh again.
        long.onTransmit(now: S.ms(3000))
        long.applyIdleDecay(now: S.ms(3999), rto: rto)
        #expect(long.cwnd == 8000)
        long.applyIdleDecay(now: S.ms(4000), rto: rto)
        #expect(long.cwnd == 4000 && long.ssthresh == 8000)
    }

    @Test("an ECN Echo cuts cwnd once per window of data")
    func ecn() {
        var cc = controller()
        grow(&cc, to: 12_000)
        let check173 = cc.onECNEcho(lowestTSN: TSN(10), highestSentTSN: TSN(20))
        #expect(check173)
        #expect(cc.cwnd == 6000 && cc.ssthresh == 6000)
        let check175 = !cc.onECNEcho(lowestTSN: TSN(15), highestSentTSN: TSN(25))
        #expect(check175)
        let check176 = !cc.onECNEcho(lowestTSN: TSN(20), highestSentTSN: TSN(25))
        #expect(check176)
        #expect(cc.cwnd == 6000)
        let check178 = cc.onECNEcho(lowestTSN: TSN(21), highestSentTSN: TSN(30))
        #expect(check178)
        #expect(cc.cwnd == 4000)

        var wrap = controller()
        let check182 = wrap.onECNEcho(lowestTSN: TSN(0xFFFF_FFF0), highestSentTSN: TSN(0xFFFF_FFFF))
        #expect(check182)
        let check183 = !wrap.onECNEcho(lowestTSN: TSN(0xFFFF_FFFE), highestSentTSN: TSN(3))
        #expect(check183)
        let check184 = wrap.onECNEcho(lowestTSN: TSN(1), highestSentTSN: TSN(3))
        #expect(check184)
    }

    @Test("Max.Burst: the send window is at most flight + Max.Burst × PMDCS; 0 switches the limit off")
    func maxBurst() {
        var cc = controller()
        grow(&cc, to: 12_000)
        #expect(cc.sendWindow(flightSize: 2000, maxBurst: 4) == 6000)
        #expect(cc.sendWindow(flightSize: 9000, maxBurst: 4) == 12_000)
        // With an AUTH chunk in every DATA packet, the burst is that much smaller per packet.
        #expect(cc.sendWindow(flightSize: 2000, maxBurst: 4, chunkOverhead: 28) == 2000 + 4 * (cc.pmdcs - 28))
        // SCTP_MAX_BURST 0 (RFC 6458 §8.1.24): no burst mitigation, cwnd alone limits.
        #expect(cc.sendWindow(flightSize: 2000, maxBurst: 0) == 12_000)
        #expect(cc.cwnd == 12_000)
    }

    @Test("reset restores the initial values; a new PMDCS changes the unit")
    func resetAndMTU() {
        var cc = controller()
        grow(&cc, to: 9000)
        cc.onFastRetransmit()
        cc.reset()
        #expect(cc.cwnd == 4000 && cc.ssthresh == 100_000 && cc.partialBytesAcked == 0)
        cc.pmdcs = 1400
        cc.onRetransmissionTimeout()
        #expect(cc.cwnd == 1400 && cc.ssthresh == 5600)
    }

    @Test("with the send queue and outstanding data: a full initial window grows cwnd by one PMDCS")
    func endToEndSlowStart() throws {
        let pmdcs = 1188
        var queue = SendQueue(outboundStreamCount: 1)
        var data = OutstandingData(initialTSN: TSN(1000), peerReceiverWindow: 1 << 20)
        var cc = CongestionController(pmdcs: pmdcs, peerReceiverWindow: 1 << 20)
        try queue.enqueue(S.message(stream: 0, size: 10_000))
        let path = PathID(0)
        while cc.canSend(flightSize: data.bytesInFlight(on: path)),
              let chunk = queue.nextChunk(tsn: data.nextTSN, maxPayloadSize: pmdcs - DataChunk.headerSize)?.chunk {
            data.append(chunk, path: path, now: S.ms(0))
            cc.onTransmit(now: S.ms(0))
        }
        #expect(data.count == 4 && data.bytesInFlight(on: path) == 4 * pmdcs)
        let outcome = try data.handleSack(S.sack(1003, rwnd: 1 << 20), now: S.ms(50))
        let stats = try #require(outcome.statistics(for: path))
        cc.onSack(stats, of: outcome)
        #expect(cc.cwnd == 4404 + pmdcs)
        #expect(outcome.rttSample?.rtt == .milliseconds(50))
    }

    @Test("with outstanding data: cwnd is cut once on entering Fast Recovery and grows again after it")
    func endToEndFastRecovery() throws {
        var data = OutstandingData(initialTSN: TSN(1), peerReceiverWindow: 1 << 20)
        var cc = CongestionController(pmdcs: 1000, peerReceiverWindow: 1 << 20)
        grow(&cc, to: 20_000)
        // 20 chunks of 984 bytes of user data: 1000 bytes each on the wire.
        S.send(&data, count: 20, payload: 984)
        #expect(data.bytesInFlight == 20_000)
        func apply(_ sack: SackChunk) throws -> SackOutcome {
            let outcome = try data.handleSack(sack, now: S.ms(1))
            cc.onSack(outcome.paths[0], of: outcome)
            return outcome
        }
        _ = try apply(S.sack(0, [(2, 2)]))
        #expect(cc.cwnd == 21_000)  // full window, slow start
        _ = try apply(S.sack(0, [(2, 3)]))
        let third = try apply(S.sack(0, [(2, 4)]))
        #expect(third.enteredFastRecovery)
        let cut = cc.cwnd
        #expect(cc.ssthresh == cut && cut == 21_000 / 2)
        // More losses inside Fast Recovery: no further cut, no growth.
        _ = try apply(S.sack(0, [(2, 5), (7, 7)]))
        _ = try apply(S.sack(0, [(2, 5), (7, 8)]))
        let again = try apply(S.sack(0, [(2, 5), (7, 9)]))
        #expect(again.fastRetransmitTSNs == [TSN(6)] && !again.enteredFastRecovery)
        #expect(cc.cwnd == cut)
        // The exit point (20) acknowledged: out of Fast Recovery, growth resumes (flight was full).
        _ = data.nextRetransmission(maxSize: 1000, path: PathID(0), now: S.ms(2))
        _ = data.nextRetransmission(maxSize: 1000, path: PathID(0), now: S.ms(2))
        let exit = try apply(S.sack(20))
        #expect(exit.exitedFastRecovery && !exit.isInFastRecovery)
        #expect(cc.cwnd == cut + 1000)
        #expect(cc.partialBytesAcked == 0)  // flight emptied
    }
}
