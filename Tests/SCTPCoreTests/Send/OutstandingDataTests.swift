import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

@Suite("outstanding data and SACK processing")
struct OutstandingDataTests {
    typealias S = SendTestSupport
    let p0 = PathID(0)
    let p1 = PathID(1)

    private func makeData(initialTSN: UInt32 = 1, rwnd: UInt32 = 100_000,
                          _ configuration: OutstandingData.Configuration = .init()) -> OutstandingData {
        OutstandingData(initialTSN: TSN(initialTSN), peerReceiverWindow: rwnd, configuration: configuration)
    }

    @Test("sending records chunks in TSN order and counts the flight and the peer's window")
    func append() {
        var data = makeData(rwnd: 1000)
        #expect(data.cumulativeTSNAck == TSN(0) && data.nextTSN == TSN(1) && data.isEmpty)
        S.send(&data, count: 3, path: 0)
        S.send(&data, count: 2, path: 1)
        #expect(data.count == 5 && data.highestSentTSN == TSN(5) && data.nextTSN == TSN(6))
        #expect(data.bytesInFlight(on: p0) == 3 * S.size100 && data.bytesInFlight(on: p1) == 2 * S.size100)
        #expect(data.bytesInFlight == 5 * S.size100 && data.outstandingPayloadBytes == 500)
        #expect(data.peerReceiverWindow == 500)
        S.send(&data, count: 6)
        #expect(data.peerReceiverWindow == 0)
        #expect(dataChunkWireSize(payloadBytes: 1) == 20 && dataChunkWireSize(payloadBytes: 4) == 20)
    }

    @Test("the cumulative ack removes chunks from the front and reports what it acknowledged")
    func cumulativeAck() throws {
        var data = makeData()
        S.send(&data, count: 10, at: S.ms(0))
        let outcome = try data.handleSack(S.sack(4, rwnd: 50_000), now: S.ms(100))
        #expect(!outcome.isStale && outcome.cumulativeAckAdvanced)
        #expect(outcome.cumulativeTSNAck == TSN(4) && data.cumulativeTSNAck == TSN(4))
        #expect(data.count == 6 && data.chunk(tsn: TSN(4)) == nil && data.chunk(tsn: TSN(5)) != nil)
        #expect(outcome.newlyAckedBytes == 4 * S.size100)
        let path = try #require(outcome.statistics(for: p0))
        #expect(path.newlyAckedBytes == 4 * S.size100)
        #expect(path.flightSizeBeforeSack == 10 * S.size100 && path.flightSizeAfterSack == 6 * S.size100)
        #expect(path.ackedEarliestOutstanding)
        #expect(outcome.peerReceiverWindow == 50_000 - 600 && data.peerReceiverWindow == 50_000 - 600)
        #expect(outcome.rttSample == RTTSample(path: p0, tsn: TSN(4), rtt: .milliseconds(100)))

        // A SACK that repeats the point acknowledges nothing new but updates the window.
        let again = try data.handleSack(S.sack(4, rwnd: 70_000), now: S.ms(110))
        #expect(!again.isStale && !again.cumulativeAckAdvanced && again.newlyAckedBytes == 0)
        #expect(again.peerReceiverWindow == 70_000 - 600 && again.rttSample == nil)
        #expect(again.statistics(for: p0)?.ackedEarliestOutstanding == false)

        let all = try data.handleSack(S.sack(10), now: S.ms(120))
        #expect(data.isEmpty && data.bytesInFlight == 0 && all.statistics(for: p0)?.flightSizeAfterSack == 0)
    }

    @Test("gap blocks mark chunks acknowledged, out of the flight, and give lower holes a miss indication")
    func gapBlocks() throws {
        var data = makeData(rwnd: 10_000)
        S.send(&data, count: 10)
        let outcome = try data.handleSack(S.sack(2, [(2, 3), (6, 6)], rwnd: 10_000), now: S.ms(10))
        // TSNs 1, 2 cumulatively; 4, 5 and 8 by gap blocks.
        #expect(outcome.newlyAckedBytes == 5 * S.size100)
        #expect(data.count == 8)
        #expect(data.chunk(tsn: TSN(4))?.isGapAcked == true && data.chunk(tsn: TSN(5))?.isGapAcked == true)
        #expect(data.chunk(tsn: TSN(8))?.isGapAcked == true)
        #expect(data.highestGapAckedTSN == TSN(8))
        #expect(data.bytesInFlight == 5 * S.size100)
        #expect(outcome.peerReceiverWindow == 10_000 - 500)
        // Holes below the highest newly acknowledged TSN (8) are missing once; 9 and 10 are not.
        #expect([3, 6, 7, 9, 10].map { data.chunk(tsn: TSN($0))?.missIndications } == [1, 1, 1, 0, 0])
        #expect(outcome.fastRetransmitTSNs.isEmpty && !outcome.enteredFastRecovery)
        // The chunk with the lowest TSN of the path (1) was acknowledged.
        #expect(outcome.statistics(for: p0)?.ackedEarliestOutstanding == true)
    }

    @Test("a SACK behind the current cumulative ack is stale and changes nothing")
    func staleSack() throws {
        var data = makeData(rwnd: 10_000)
        S.send(&data, count: 6)
        _ = try data.handleSack(S.sack(3, rwnd: 5_000), now: S.ms(1))
        let before = (data.count, data.bytesInFlight, data.peerReceiverWindow)
        let stale = try data.handleSack(S.sack(2, [(2, 4)], rwnd: 9_000), now: S.ms(2))
        #expect(stale.isStale && !stale.cumulativeAckAdvanced && stale.newlyAckedBytes == 0)
        #expect(stale.cumulativeTSNAck == TSN(3))
        #expect((data.count, data.bytesInFlight, data.peerReceiverWindow) == before)
        #expect(data.chunk(tsn: TSN(5))?.isGapAcked == false)
        #expect(data.chunk(tsn: TSN(4))?.missIndications == 0)
    }

    @Test("a chunk gap-acknowledged before and missing now is reneged: back in flight with one miss")
    func renege() throws {
        var data = makeData()
        S.send(&data, count: 6)
        _ = try data.handleSack(S.sack(0, [(2, 3)]), now: S.ms(1))
        #expect(data.bytesInFlight == 4 * S.size100)
        #expect(data.chunk(tsn: TSN(1))?.missIndications == 1)

        let outcome = try data.handleSack(S.sack(0, [(3, 3)]), now: S.ms(2))
        let reneged = try #require(data.chunk(tsn: TSN(2)))
        #expect(!reneged.isGapAcked && reneged.isInFlight && reneged.missIndications == 1)
        #expect(data.chunk(tsn: TSN(3))?.isGapAcked == true)
        let path = try #require(outcome.statistics(for: p0))
        #expect(path.reneged)
        #expect(path.flightSizeBeforeSack == 4 * S.size100 && path.flightSizeAfterSack == 5 * S.size100)
        #expect(outcome.newlyAckedBytes == 0)
        // Nothing newly acknowledged: no miss indication for TSN 1 (HTNA).
        #expect(data.chunk(tsn: TSN(1))?.missIndications == 1)
        #expect(data.highestGapAckedTSN == TSN(3))

        // Dropping every gap block reneges the rest.
        let none = try data.handleSack(S.sack(0), now: S.ms(3))
        #expect(none.statistics(for: p0)?.reneged == true)
        #expect(data.bytesInFlight == 6 * S.size100 && data.highestGapAckedTSN == nil)
    }

    @Test("NR-SACK: chunks in non-renegable blocks release their payload and are never reneged; renegable blocks still may be")
    func nonRenegableBlocks() throws {
        var data = makeData()
        S.send(&data, count: 8)
        // Blocks: 2-3 renegable (TSNs 3, 4), 5-6 non-renegable (TSNs 6, 7); TSNs 1, 2, 5, 8 missing.
        let nr = NRSackChunk(cumulativeTSNAck: TSN(0), advertisedReceiverWindowCredit: 100_000,
                             gapAckBlocks: [GapAckBlock(start: 3, end: 4)],
                             nonRenegableGapAckBlocks: [GapAckBlock(start: 6, end: 7)])
        let outcome = try data.handleSack(nr.combined, now: S.ms(1), nonRenegableFrom: nr.gapAckBlocks.count)
        #expect(outcome.newlyAckedBytes == 4 * S.size100)
        #expect(data.bytesInFlight == 4 * S.size100)
        for tsn in [6, 7] as [UInt32] {
            let chunk = try #require(data.chunk(tsn: TSN(tsn)))
            #expect(chunk.isGapAcked && chunk.isNonRenegable && chunk.chunk.payload.readableBytes == 0)
        }
        for tsn in [3, 4] as [UInt32] {
            let chunk = try #require(data.chunk(tsn: TSN(tsn)))
            #expect(chunk.isGapAcked && !chunk.isNonRenegable && chunk.chunk.payload.readableBytes > 0)
        }
        #expect(data.nonRenegablyAckedChunks == 2)
        // A SACK without any block: the renegable ones come back into flight, the others stay.
        let none = try data.handleSack(S.sack(0), now: S.ms(2))
        #expect(none.statistics(for: p0)?.reneged == true)
        #expect(data.chunk(tsn: TSN(3))?.isInFlight == true && data.chunk(tsn: TSN(4))?.isInFlight == true)
        #expect(data.chunk(tsn: TSN(6))?.isGapAcked == true && data.chunk(tsn: TSN(7))?.isGapAcked == true)
        #expect(data.bytesInFlight == 6 * S.size100)
        // A T3 expiry marks what is in flight, not the chunks the peer keeps for good.
        #expect(data.handleRetransmissionTimeout(on: p0) == 6)
        #expect(data.chunk(tsn: TSN(6))?.isMarkedForRetransmission == false)
        // The cumulative ack removes them like any other.
        _ = try data.handleSack(S.sack(8), now: S.ms(3))
        #expect(data.isEmpty)
        #expect(data.checkInvariants(resetPoints: []).isEmpty)
    }

    /// Appends a fragment of 100 bytes with `flags` (on `stream`; as I-DATA with `mid` when given).
    private func fragment(_ data: inout OutstandingData, _ flags: DataFlags, stream: UInt16 = 0, mid: UInt32? = nil,
                          fsn: UInt32 = 0, maxRetransmissions: Int? = nil) {
        let chunk = DataChunk(flags: flags, tsn: data.nextTSN, streamIdentifier: stream, ssn: SSN(0),
                              payloadProtocolIdentifier: 0, payload: S.bytes(100))
        data.append(chunk, path: p0, now: .zero, maxRetransmissions: maxRetransmissions, mid: mid.map { MID($0) }, fsn: fsn)
    }

    /// An NR-SACK with `blocks` non-renegable, handled as the association does.
    @discardableResult
    private func nrSack(_ data: inout OutstandingData, _ cumulative: UInt32, _ blocks: [(UInt16, UInt16)]) throws -> SackOutcome {
        let nr = NRSackChunk(cumulativeTSNAck: TSN(cumulative), advertisedReceiverWindowCredit: 100_000,
                             nonRenegableGapAckBlocks: blocks.map { GapAckBlock(start: $0.0, end: $0.1) })
        return try data.handleSack(nr.combined, now: S.ms(1), nonRenegableFrom: nr.gapAckBlocks.count)
    }

    private func released(_ data: OutstandingData, _ tsns: [UInt32]) -> [Bool] {
        tsns.map { data.chunk(tsn: TSN($0))?.chunk.payload.readableBytes == 0 }
    }

    @Test("NR-SACK and fragmented DATA: a message's payload goes only when every fragment still held is non-renegable and its last one was sent")
    func nonRenegableFragments() throws {
        var data = makeData()
        fragment(&data, .beginning)  // A: TSNs 1-3
        fragment(&data, [])
        fragment(&data, .ending)
        fragment(&data, .complete)   // B: TSN 4
        fragment(&data, .beginning)  // C: TSNs 5, 6 sent, its end not yet
        fragment(&data, [])
        try nrSack(&data, 0, [(2, 6)])  // TSNs 2-6 kept for good; 1 missing
        #expect(released(data, [1, 2, 3, 4, 5, 6]) == [false, false, false, true, false, false])
        // B's 100 bytes are acknowledged for good once released.
        #expect(data.acknowledgedPayloadBytes == 100)
        // A send failure now reports A whole (none of it was released).
        let unacknowledged = data.unacknowledgedMessages()
        #expect(unacknowledged.first?.payload.readableBytes == 300)
        fragment(&data, .ending)     // C's last fragment, TSN 7
        // TSN 1 acknowledged cumulatively, 2-7 kept: A (its rest) and C go.
        try nrSack(&data, 1, [(1, 6)])
        #expect(released(data, [2, 3, 4, 5, 6, 7]) == [true, true, true, true, true, true])
        #expect(data.nonRenegablyAckedChunks == 6)
        #expect(data.checkInvariants(resetPoints: []).isEmpty)
        _ = try data.handleSack(S.sack(7), now: S.ms(2))
        #expect(data.isEmpty)
        // Every byte of the seven fragments counted once: released ones when released, TSN 1
        // when cumulatively acknowledged.
        #expect(data.acknowledgedPayloadBytes == 700)
    }

    @Test("NR-SACK and I-DATA: a message whose fragments are spread among others' goes once all of them still held are non-renegable")
    func nonRenegableInterleavedFragments() throws {
        var data = makeData()
        fragment(&data, .beginning, stream: 0, mid: 0, fsn: 0)  // M1: TSNs 1, 3, 5
        fragment(&data, .complete, stream: 1, mid: 0)             // M2: TSN 2
        fragment(&data, [], stream: 0, mid: 0, fsn: 1)
        fragment(&data, .beginning, stream: 1, mid: 1, fsn: 0)  // M3: TSNs 4, 6
        fragment(&data, .ending, stream: 0, mid: 0, fsn: 2)
        fragment(&data, .ending, stream: 1, mid: 1, fsn: 1)
        try nrSack(&data, 0, [(2, 6)])  // TSNs 2-6 kept; M1's first fragment missing
        #expect(released(data, [1, 2, 3, 4, 5, 6]) == [false, true, false, true, false, true])
        try nrSack(&data, 1, [(1, 5)])
        #expect(released(data, [2, 3, 4, 5, 6]) == [true, true, true, true, true])
        #expect(data.checkInvariants(resetPoints: []).isEmpty)
    }

    @Test("NR-SACK and PR-SCTP: a message abandoned with some fragments kept for good is reported whole; an abandoned chunk in a later NR block stays abandoned")
    func nonRenegableAbandoned() throws {
        var data = makeData()
        for flags in [DataFlags.beginning, [], .ending] { fragment(&data, flags, maxRetransmissions: 0) }
        try nrSack(&data, 0, [(2, 3)])  // TSNs 2, 3 kept, 1 lost
        #expect(released(data, [1, 2, 3]) == [false, false, false])
        #expect(data.handleRetransmissionTimeout(on: p0) == 1)
        let abandoned = data.abandonMessages(now: S.ms(2))
        #expect(abandoned.count == 1 && abandoned.first?.payload.readableBytes == 300 && abandoned.first?.lastChunkSent == true)
        // The peer later reports TSN 1 too (it arrived after all): nothing changes state.
        let outcome = try nrSack(&data, 0, [(1, 3)])
        #expect(outcome.newlyAckedBytes == 0)
        #expect(data.chunk(tsn: TSN(1))?.isAbandoned == true && data.chunk(tsn: TSN(1))?.isNonRenegable == false)
        #expect(data.nonRenegablyAckedChunks == 2 && data.bytesInFlight == 0)
        #expect(data.checkInvariants(resetPoints: []).isEmpty)
    }

    @Test("Karn: no RTT sample from a retransmitted chunk or one sent before a retransmission")
    func karn() throws {
        var data = makeData()
        S.send(&data, count: 2, at: S.ms(0))
        let check121 = data.handleRetransmissionTimeout(on: p0) == 2
        #expect(check121)
        _ = data.nextRetransmission(maxSize: 1500, path: p0, now: S.ms(1000))
        S.send(&data, count: 1, at: S.ms(1100))  // TSN 3, sent after the retransmission of 1
        let first = try data.handleSack(S.sack(1), now: S.ms(1200))
        #expect(first.rttSample == nil)  // TSN 1 was sent twice

        _ = data.nextRetransmission(maxSize: 1500, path: p0, now: S.ms(1300))  // TSN 2, after TSN 3 was sent
        let second = try data.handleSack(S.sack(3), now: S.ms(1400))
        #expect(second.rttSample == nil)  // 2 retransmitted; 3 sent before that retransmission (C5)

        S.send(&data, count: 1, at: S.ms(1500))
        let third = try data.handleSack(S.sack(4), now: S.ms(1550))
        #expect(third.rttSample == RTTSample(path: p0, tsn: TSN(4), rtt: .milliseconds(50)))

        // From several newly acknowledged chunks, the most recently sent one.
        S.send(&data, count: 1, path: 1, at: S.ms(1600))
        S.send(&data, count: 1, path: 1, at: S.ms(1610))
        let fourth = try data.handleSack(S.sack(6), now: S.ms(1700))
        #expect(fourth.rttSample == RTTSample(path: p1, tsn: TSN(6), rtt: .milliseconds(90)))

        // A gap acknowledgement gives a sample too.
        S.send(&data, count: 2, at: S.ms(2000))
        let gap = try data.handleSack(S.sack(6, [(2, 2)]), now: S.ms(2030))
        #expect(gap.rttSample == RTTSample(path: p0, tsn: TSN(8), rtt: .milliseconds(30)))
    }

    @Test("three miss indications mark a chunk for Fast Retransmit; its retransmission counts misses only from TSNs sent after it")
    func fastRetransmitOnce() throws {
        var data = makeData(rwnd: 10_000)
        S.send(&data, count: 10)
        var outcomes: [SackOutcome] = []
        for end: UInt16 in [2, 3, 4] {
            outcomes.append(try data.handleSack(S.sack(0, [(2, end)], rwnd: 10_000), now: S.ms(Int64(end))))
        }
        #expect(outcomes[0].fastRetransmitTSNs.isEmpty && outcomes[1].fastRetransmitTSNs.isEmpty)
        let third = outcomes[2]
        #expect(third.fastRetransmitTSNs == [TSN(1)])
        #expect(third.enteredFastRecovery && !third.isInFastRecovery)
        #expect(third.statistics(for: p0)?.needsCongestionReduction == true)
        #expect(data.isInFastRecovery && data.fastRecoveryExitPoint == TSN(10))
        let lost = try #require(data.chunk(tsn: TSN(1)))
        #expect(lost.isMarkedForRetransmission && lost.wasFastRetransmitted && lost.missIndications == 0)
        #expect(data.hasChunksToRetransmit && data.markedForRetransmissionCount == 1)
        // Lost data is not in flight and returns to the peer's window.
        #expect(data.bytesInFlight == 6 * S.size100)
        #expect(third.peerReceiverWindow == 10_000 - 600)

        let takenRetransmitted = data.nextRetransmission(maxSize: 1500, path: p0, now: S.ms(10))

        let retransmitted = try #require(takenRetransmitted)
        #expect(retransmitted.tsn == TSN(1) && data.chunk(tsn: TSN(1))?.transmissionCount == 2)
        let check172 = !data.hasChunksToRetransmit && data.nextRetransmission(maxSize: 1500, path: p0, now: S.ms(10)) == nil
        #expect(check172)

        // SACKs that acknowledge only TSNs sent before the retransmission count nothing.
        for end: UInt16 in [5, 6, 7] {
            let outcome = try data.handleSack(S.sack(0, [(2, end)], rwnd: 10_000), now: S.ms(12))
            #expect(outcome.fastRetransmitTSNs.isEmpty)
        }
        #expect(data.chunk(tsn: TSN(1))?.missIndications == 0)
    }

    /// Unlike §7.2.4 step 5, as FreeBSD's stack and usrsctp (`fast_retran_tsn`) do: a lost
    /// fast retransmission is fast retransmitted again instead of waiting for T3 (an RTO, at
    /// least 1 s, during which the peer's window fills behind the hole).
    @Test("a fast retransmission missed in turn by three SACKs for TSNs sent after it is fast retransmitted again")
    func fastRetransmitAgain() throws {
        var data = makeData(rwnd: 10_000)
        S.send(&data, count: 10)
        for end: UInt16 in [2, 3, 4] { _ = try data.handleSack(S.sack(0, [(2, end)], rwnd: 10_000), now: S.ms(Int64(end))) }
        #expect(data.isInFastRecovery && data.fastRecoveryExitPoint == TSN(10))
        #expect(data.nextRetransmission(maxSize: 1500, path: p0, now: S.ms(10))?.tsn == TSN(1))
        // The retransmission is lost: three SACKs newly acknowledge TSNs sent after it.
        S.send(&data, count: 4, at: S.ms(15))  // TSNs 11 ... 14
        var outcomes: [SackOutcome] = []
        for end: UInt16 in [11, 12, 13, 14] {
            outcomes.append(try data.handleSack(S.sack(0, [(2, end)], rwnd: 10_000), now: S.ms(20)))
        }
        #expect(outcomes[0].fastRetransmitTSNs.isEmpty && outcomes[1].fastRetransmitTSNs.isEmpty)
        #expect(outcomes[2].fastRetransmitTSNs == [TSN(1)])
        // Still the same Fast Recovery: no second congestion reduction.
        #expect(outcomes.allSatisfy { $0.statistics(for: p0)?.needsCongestionReduction == false && !$0.enteredFastRecovery })
        let chunk = try #require(data.chunk(tsn: TSN(1)))
        #expect(chunk.isMarkedForRetransmission && chunk.wasFastRetransmitted)
        // The fourth SACK counted one miss against the mark, which a marked chunk ignores.
        #expect(outcomes[3].fastRetransmitTSNs.isEmpty)
        #expect(data.nextRetransmission(maxSize: 1500, path: p0, now: S.ms(21))?.tsn == TSN(1))
        #expect(data.chunk(tsn: TSN(1))?.transmissionCount == 3)
    }

    /// Seen against usrsctp after a failover (T3 on the cut path, new DATA on the alternate
    /// path before the retransmissions): SACKs for the new DATA counted misses against
    /// retransmissions that left after it, which were fast retransmitted a second time although
    /// they were arriving.
    @Test("a retransmitted chunk counts misses only from TSNs sent after its retransmission")
    func missesInSendingOrder() throws {
        var data = makeData(rwnd: 100_000)
        S.send(&data, count: 4, at: S.ms(0))  // TSNs 1 ... 4 on path 0
        #expect(data.handleRetransmissionTimeout(on: p0) == 4)
        S.send(&data, count: 4, path: 1, at: S.ms(100))  // TSNs 5 ... 8, new data first
        let resent = data.nextRetransmission(maxSize: 1500, path: PathID(1), now: S.ms(101))
        #expect(resent?.tsn == TSN(1))
        // TSNs 5, 6, 7 arrive first (they left first): TSN 1 is not missing.
        for end: UInt16 in [5, 6, 7] {
            let outcome = try data.handleSack(S.sack(0, [(5, end)]), now: S.ms(102))
            #expect(outcome.fastRetransmitTSNs.isEmpty)
        }
        #expect(data.chunk(tsn: TSN(1))?.missIndications == 0)
        #expect(data.chunk(tsn: TSN(1))?.isInFlight == true)
        // A TSN sent after the retransmission is acknowledged while TSN 1 is not: that counts.
        S.send(&data, count: 1, path: 1, at: S.ms(103))  // TSN 9
        _ = try data.handleSack(S.sack(0, [(5, 7), (9, 9)]), now: S.ms(104))
        #expect(data.chunk(tsn: TSN(1))?.missIndications == 1)
        // Chunks sent once keep plain HTNA: TSN 8 (sent before TSN 9) is missing below it.
        #expect(data.chunk(tsn: TSN(8))?.missIndications == 1)
    }

    @Test("HTNA: a SACK counts misses only below the highest TSN it newly acknowledges")
    func highestNewlyAcked() throws {
        var data = makeData()
        S.send(&data, count: 10)
        _ = try data.handleSack(S.sack(0, [(5, 5)]), now: S.ms(1))
        #expect([1, 2, 3, 4].map { data.chunk(tsn: TSN($0))?.missIndications } == [1, 1, 1, 1])
        // Newly acknowledges only TSN 2: only TSN 1 lies below it.
        _ = try data.handleSack(S.sack(0, [(2, 2), (5, 5)]), now: S.ms(2))
        #expect([1, 3, 4].map { data.chunk(tsn: TSN($0))?.missIndications } == [2, 1, 1])
        // The same SACK again acknowledges nothing new and counts nothing.
        _ = try data.handleSack(S.sack(0, [(2, 2), (5, 5)]), now: S.ms(3))
        #expect([1, 3, 4].map { data.chunk(tsn: TSN($0))?.missIndications } == [2, 1, 1])
        // TSNs above the highest acknowledged one are not missing.
        #expect(data.chunk(tsn: TSN(6))?.missIndications == 0)
    }

    @Test("in Fast Recovery a SACK that advances the cumulative ack counts every TSN reported missing")
    func fastRecoveryMisses() throws {
        var data = makeData()
        S.send(&data, count: 10)
        for end: UInt16 in [2, 3, 4] { _ = try data.handleSack(S.sack(0, [(2, end)]), now: S.ms(1)) }
        #expect(data.isInFastRecovery)
        _ = data.nextRetransmission(maxSize: 1500, path: p0, now: S.ms(2))
        _ = try data.handleSack(S.sack(0, [(2, 4), (8, 8)]), now: S.ms(3))
        #expect([5, 6, 7].map { data.chunk(tsn: TSN($0))?.missIndications } == [1, 1, 1])
        // Newly acknowledges only TSN 1 (via the cumulative ack); 5, 6 and 7 are above it but
        // reported missing below TSN 8.
        let advance = try data.handleSack(S.sack(4, [(4, 4)]), now: S.ms(4))
        #expect(advance.cumulativeAckAdvanced && advance.isInFastRecovery)
        #expect([5, 6, 7].map { data.chunk(tsn: TSN($0))?.missIndications } == [2, 2, 2])

        // The same situation outside Fast Recovery counts nothing.
        var plain = makeData()
        S.send(&plain, count: 10)
        _ = try plain.handleSack(S.sack(0, [(2, 4), (8, 8)]), now: S.ms(1))
        _ = try plain.handleSack(S.sack(4, [(4, 4)]), now: S.ms(2))
        #expect(!plain.isInFastRecovery)
        #expect([5, 6, 7].map { plain.chunk(tsn: TSN($0))?.missIndications } == [1, 1, 1])
    }

    @Test("no further cwnd reduction inside Fast Recovery; it ends when the exit point is acknowledged")
    func fastRecoveryExit() throws {
        var data = makeData()
        S.send(&data, count: 10)
        for end: UInt16 in [2, 3, 4] { _ = try data.handleSack(S.sack(0, [(2, end)]), now: S.ms(1)) }
        _ = data.nextRetransmission(maxSize: 1500, path: p0, now: S.ms(2))
        _ = try data.handleSack(S.sack(0, [(2, 4), (8, 8)]), now: S.ms(3))
        _ = try data.handleSack(S.sack(4, [(4, 4)]), now: S.ms(4))
        // 5, 6 and 7 reach three misses inside Fast Recovery.
        let second = try data.handleSack(S.sack(4, [(4, 5)]), now: S.ms(5))
        #expect(second.fastRetransmitTSNs == [TSN(5), TSN(6), TSN(7)])
        #expect(!second.enteredFastRecovery && second.isInFastRecovery)
        #expect(second.statistics(for: p0)?.needsCongestionReduction == false)
        #expect(data.fastRecoveryExitPoint == TSN(10))

        // Up to 9 acknowledged: still in Fast Recovery.
        let partial = try data.handleSack(S.sack(9), now: S.ms(6))
        #expect(partial.isInFastRecovery && !partial.exitedFastRecovery && data.isInFastRecovery)
        // Marked chunks acknowledged by the original transmission were not outstanding.
        #expect(partial.newlyAckedBytes == 0 && data.markedForRetransmissionCount == 0)
        let exit = try data.handleSack(S.sack(10), now: S.ms(7))
        #expect(exit.exitedFastRecovery && !exit.isInFastRecovery && !data.isInFastRecovery)
        #expect(exit.newlyAckedBytes == S.size100)
    }

    @Test("a T3-rtx expiry marks the path's chunks in flight, not gap-acknowledged ones nor other paths'")
    func t3Marking() throws {
        var data = makeData(rwnd: 10_000)
        S.send(&data, count: 2, path: 0)
        S.send(&data, count: 1, path: 1)
        S.send(&data, count: 2, path: 0)
        _ = try data.handleSack(S.sack(0, [(4, 4)], rwnd: 10_000), now: S.ms(1))
        #expect(data.peerReceiverWindow == 10_000 - 400)
        let check257 = data.handleRetransmissionTimeout(on: p0) == 3
        #expect(check257)
        #expect(data.bytesInFlight(on: p0) == 0 && data.bytesInFlight(on: p1) == S.size100)
        #expect(data.peerReceiverWindow == 10_000 - 100)
        #expect([1, 2, 5].allSatisfy { data.chunk(tsn: TSN($0))?.isMarkedForRetransmission == true })
        #expect(data.chunk(tsn: TSN(4))?.isGapAcked == true && data.chunk(tsn: TSN(3))?.isInFlight == true)
        let check262 = data.handleRetransmissionTimeout(on: p0) == 0
        #expect(check262)

        // Retransmissions come lowest TSN first, only when they fit, on the path asked for.
        let check265 = data.nextRetransmission(maxSize: S.size100 - 1, path: p1, now: S.ms(2)) == nil
        #expect(check265)
        var order: [TSN] = []
        while let chunk = data.nextRetransmission(maxSize: S.size100, path: p1, now: S.ms(3)) { order.append(chunk.tsn) }
        #expect(order == [TSN(1), TSN(2), TSN(5)])
        let resent = try #require(data.chunk(tsn: TSN(5)))
        #expect(resent.path == p1 && resent.sentAt == S.ms(3) && resent.transmissionCount == 2 && resent.isInFlight)
        #expect(data.bytesInFlight(on: p1) == 4 * S.size100 && data.bytesInFlight(on: p0) == 0)
        #expect(data.peerReceiverWindow == 10_000 - 400)
        #expect(data.lowestInFlightTSN(on: p1) == TSN(1) && data.lowestInFlightTSN(on: p0) == nil)
    }

    @Test("a chunk marked later with a lower TSN is retransmitted first")
    func retransmissionOrder() throws {
        var data = makeData()
        S.send(&data, count: 4, path: 1)
        S.send(&data, count: 4, path: 0)
        data.handleRetransmissionTimeout(on: p0)
        let check282 = data.nextRetransmission(maxSize: 1500, path: p0, now: S.ms(1))?.tsn == TSN(5)
        #expect(check282)
        for end: UInt16 in [2, 3, 4] { _ = try data.handleSack(S.sack(0, [(2, end)]), now: S.ms(2)) }
        #expect(data.chunk(tsn: TSN(1))?.isMarkedForRetransmission == true)
        var order: [TSN] = []
        while let chunk = data.nextRetransmission(maxSize: 1500, path: p0, now: S.ms(3)) { order.append(chunk.tsn) }
        #expect(order == [TSN(1), TSN(6), TSN(7), TSN(8)])
    }

    @Test("the peer's window is a_rwnd less the user data still outstanding, and never negative")
    func peerWindow() throws {
        var data = makeData(rwnd: 300)
        S.send(&data, count: 5)
        #expect(data.peerReceiverWindow == 0)
        let outcome = try data.handleSack(S.sack(1, [(2, 2)], rwnd: 1000), now: S.ms(1))
        // Outstanding after the SACK: TSNs 2, 4, 5.
        #expect(outcome.peerReceiverWindow == 700)
        let small = try data.handleSack(S.sack(1, [(2, 2)], rwnd: 100), now: S.ms(2))
        #expect(small.peerReceiverWindow == 0)
    }

    @Test("a SACK acknowledging TSNs never sent is a protocol violation and changes nothing")
    func protocolViolation() throws {
        var data = makeData()
        S.send(&data, count: 3)
        #expect(throws: SackError.cumulativeAckBeyondSent(cumulativeTSNAck: TSN(4), highestSentTSN: TSN(3))) {
            _ = try data.handleSack(S.sack(4), now: S.ms(1))
        }
        #expect(throws: SackError.gapAckBeyondSent(block: GapAckBlock(start: 2, end: 4), highestSentTSN: TSN(3))) {
            _ = try data.handleSack(S.sack(0, [(2, 4)]), now: S.ms(1))
        }
        #expect(throws: SackError.gapAckBeyondSent(block: GapAckBlock(start: 1, end: 3), highestSentTSN: TSN(3))) {
            _ = try data.handleSack(S.sack(1, [(1, 3)]), now: S.ms(1))
        }
        #expect(data.count == 3 && data.cumulativeTSNAck == TSN(0) && data.bytesInFlight == 3 * S.size100)
        // Nothing sent at all: any advance is a violation.
        var empty = makeData(initialTSN: 100)
        #expect(throws: SackError.self) { _ = try empty.handleSack(S.sack(100), now: S.ms(1)) }
        let check319 = try empty.handleSack(S.sack(99), now: S.ms(1)).cumulativeAckAdvanced == false
        #expect(check319)
    }

    @Test("gap blocks beyond the limit, and malformed ones, are ignored without faking a renege")
    func gapBlockLimit() throws {
        var data = makeData(.init(maxGapBlocksProcessed: 2))
        S.send(&data, count: 8)
        _ = try data.handleSack(S.sack(0, [(2, 2), (4, 4)]), now: S.ms(1))
        #expect(data.highestGapAckedTSN == TSN(4))

        data.configuration.maxGapBlocksProcessed = 1
        let truncated = try data.handleSack(S.sack(0, [(2, 2), (4, 4), (6, 6)]), now: S.ms(2))
        #expect(truncated.ignoredGapBlocks == 2)
        #expect(truncated.statistics(for: p0)?.reneged == false)
        #expect(data.chunk(tsn: TSN(4))?.isGapAcked == true && data.chunk(tsn: TSN(6))?.isInFlight == true)
        #expect(data.highestGapAckedTSN == TSN(4))

        data.configuration.maxGapBlocksProcessed = 8
        let malformed = try data.handleSack(S.sack(0, [(2, 2), (5, 3), (0, 1), (4, 4)]), now: S.ms(3))
        #expect(malformed.ignoredGapBlocks == 2 && malformed.statistics(for: p0)?.reneged == false)
        #expect(data.chunk(tsn: TSN(1))?.isInFlight == true)

        // A complete SACK without TSN 4 is a renege.
        let complete = try data.handleSack(S.sack(0, [(2, 2)]), now: S.ms(4))
        #expect(complete.statistics(for: p0)?.reneged == true && data.chunk(tsn: TSN(4))?.isInFlight == true)
    }

    @Test("TSNs wrap around 0xFFFFFFFF")
    func tsnWrap() throws {
        var data = makeData(initialTSN: 0xFFFF_FFFE)
        #expect(data.cumulativeTSNAck == TSN(0xFFFF_FFFD))
        S.send(&data, count: 6)  // 0xFFFFFFFE, 0xFFFFFFFF, 0, 1, 2, 3
        #expect(data.highestSentTSN == TSN(3) && data.nextTSN == TSN(4))
        let first = try data.handleSack(S.sack(0xFFFF_FFFF, [(2, 2)]), now: S.ms(1))
        #expect(first.cumulativeAckAdvanced && data.count == 4)
        #expect(data.chunk(tsn: TSN(1))?.isGapAcked == true && data.chunk(tsn: TSN(0))?.missIndications == 1)
        #expect(data.highestGapAckedTSN == TSN(1))
        for end: UInt16 in [3, 4] {
            _ = try data.handleSack(S.sack(0xFFFF_FFFF, [(2, end)]), now: S.ms(2))
        }
        #expect(data.chunk(tsn: TSN(0))?.isMarkedForRetransmission == true)
        #expect(data.fastRecoveryExitPoint == TSN(3))
        let check361 = data.nextRetransmission(maxSize: 1500, path: p0, now: S.ms(3))?.tsn == TSN(0)
        #expect(check361)
        let last = try data.handleSack(S.sack(3), now: S.ms(4))
        #expect(last.exitedFastRecovery && data.isEmpty && data.cumulativeTSNAck == TSN(3))
        #expect(throws: SackError.self) { _ = try data.handleSack(S.sack(4), now: S.ms(5)) }
        // A SACK half the number space away reads as old, not as new.
        let check366 = try data.handleSack(S.sack(0x8000_0004), now: S.ms(6)).isStale
        #expect(check366)
    }

    @Test("the outstanding chunk limit stops new data")
    func outstandingLimit() throws {
        var data = makeData(.init(maxOutstandingChunks: 3))
        S.send(&data, count: 2)
        #expect(data.canSendNewChunk)
        S.send(&data, count: 1)
        #expect(!data.canSendNewChunk)
        // Gap-acknowledged chunks are still held.
        _ = try data.handleSack(S.sack(0, [(1, 2)]), now: S.ms(1))
        #expect(!data.canSendNewChunk)
        _ = try data.handleSack(S.sack(1, [(1, 1)]), now: S.ms(2))
        #expect(data.canSendNewChunk)
    }

    @Test("per path: acknowledged bytes, flight sizes and whether the earliest outstanding chunk was acknowledged")
    func perPath() throws {
        var data = makeData()
        for tsn in 1...4 { S.send(&data, count: 1, path: tsn % 2 == 1 ? 0 : 1) }  // 1, 3 on p0; 2, 4 on p1
        let first = try data.handleSack(S.sack(0, [(2, 2)]), now: S.ms(1))
        #expect(first.statistics(for: p1)?.ackedEarliestOutstanding == true)
        #expect(first.statistics(for: p1)?.newlyAckedBytes == S.size100)
        #expect(first.statistics(for: p0)?.ackedEarliestOutstanding == false)
        #expect(first.statistics(for: p0)?.newlyAckedBytes == 0)

        let second = try data.handleSack(S.sack(0, [(2, 4)]), now: S.ms(2))
        // TSN 3 (p0) and 4 (p1) newly acknowledged; TSN 1 of p0 is still outstanding before them.
        #expect(second.statistics(for: p0)?.ackedEarliestOutstanding == false)
        #expect(second.statistics(for: p1)?.ackedEarliestOutstanding == true)
        #expect(second.statistics(for: p0)?.flightSizeAfterSack == S.size100)
        #expect(second.statistics(for: p1)?.flightSizeAfterSack == 0)
        #expect(second.paths.count == 2 && second.statistics(for: PathID(5)) == nil)
    }

    @Test("duplicate TSNs still held count their bytes for partial_bytes_acked")
    func duplicates() throws {
        var data = makeData()
        S.send(&data, count: 4)
        _ = try data.handleSack(S.sack(1, [(2, 2)]), now: S.ms(1))
        let outcome = try data.handleSack(S.sack(1, [(2, 2)], duplicates: [3, 1, 9]), now: S.ms(2))
        #expect(outcome.statistics(for: p0)?.duplicateBytes == S.size100)
    }

    @Test("a SACK only moving the cumulative point touches no chunk above it")
    func cumulativeOnlyIsLocal() throws {
        var data = makeData()
        S.send(&data, count: 1000)
        let outcome = try data.handleSack(S.sack(10), now: S.ms(1))
        #expect(outcome.newlyAckedBytes == 10 * S.size100)
        #expect((11...1000).allSatisfy { data.chunk(tsn: TSN(UInt32($0)))?.missIndications == 0 })
        #expect(data.highestGapAckedTSN == nil)
    }
}
