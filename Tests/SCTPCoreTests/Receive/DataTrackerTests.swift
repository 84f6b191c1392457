import SCTPWire
import Testing
@testable import SCTPCore

@Suite("receive: data tracker")
struct DataTrackerTests {
    let t0 = SCTPInstant(nanoseconds: 1_000_000_000)

    func blocks(_ pairs: [(UInt16, UInt16)]) -> [GapAckBlock] {
        pairs.map { GapAckBlock(start: $0.0, end: $0.1) }
    }

    func ranges(_ tracker: DataTracker) -> [[UInt32]] {
        tracker.ranges.map { [$0.first.rawValue, $0.last.rawValue] }
    }

    @Test("starts one below the initial TSN with nothing owed")
    func initial() {
        let tracker = DataTracker(peerInitialTSN: TSN(100))
        #expect(tracker.cumulativeTSN == TSN(99))
        #expect(!tracker.isSackOwed)
        #expect(!tracker.isSackDue(at: t0 + .seconds(10)))
        #expect(tracker.sackDeadline == nil)
        #expect(tracker.makeSack(advertisedReceiverWindowCredit: 5) ==
                SackChunk(cumulativeTSNAck: TSN(99), advertisedReceiverWindowCredit: 5))
    }

    @Test("in-order data: the first packet arms the delayed SACK, the second makes it due")
    func delayedSack() {
        var tracker = DataTracker(peerInitialTSN: TSN(100))
        #expect(tracker.observe(TSN(100)) == .new)
        tracker.packetProcessed(now: t0)
        #expect(tracker.cumulativeTSN == TSN(100))
        #expect(tracker.isSackOwed)
        #expect(!tracker.isImmediateSackDue)
        #expect(tracker.sackDeadline == t0 + .milliseconds(200))
        #expect(!tracker.isSackDue(at: t0 + .milliseconds(199)))
        #expect(tracker.isSackDue(at: t0 + .milliseconds(200)))

        #expect(tracker.observe(TSN(101)) == .new)
        tracker.packetProcessed(now: t0 + .milliseconds(10))
        #expect(tracker.isImmediateSackDue)
        #expect(tracker.isSackDue(at: t0 + .milliseconds(10)))
        #expect(tracker.makeSack(advertisedReceiverWindowCredit: 1000) ==
                SackChunk(cumulativeTSNAck: TSN(101), advertisedReceiverWindowCredit: 1000))

        tracker.sackSent()
        #expect(!tracker.isSackOwed)
        #expect(tracker.sackDeadline == nil)
        #expect(!tracker.isSackDue(at: t0 + .seconds(5)))

        // After the SACK the count starts again: one packet is not enough.
        tracker.observe(TSN(102))
        tracker.packetProcessed(now: t0 + .milliseconds(20))
        #expect(!tracker.isImmediateSackDue)
        #expect(tracker.sackDeadline == t0 + .milliseconds(220))
    }

    @Test("several DATA chunks in one packet count as one packet")
    func chunksInOnePacket() {
        var tracker = DataTracker(peerInitialTSN: TSN(1))
        for tsn in 1...5 { tracker.observe(TSN(UInt32(tsn))) }
        tracker.packetProcessed(now: t0)
        #expect(tracker.cumulativeTSN == TSN(5))
        #expect(!tracker.isImmediateSackDue)
        #expect(tracker.sackDeadline == t0 + .milliseconds(200))
    }

    @Test("a later packet does not push the delayed-SACK deadline back")
    func deadlineNotPushed() {
        var tracker = DataTracker(peerInitialTSN: TSN(1), configuration: .init(packetsPerSack: 3))
        tracker.observe(TSN(1))
        tracker.packetProcessed(now: t0)
        tracker.observe(TSN(2))
        tracker.packetProcessed(now: t0 + .milliseconds(150))
        #expect(tracker.sackDeadline == t0 + .milliseconds(200))
        #expect(!tracker.isImmediateSackDue)
        tracker.observe(TSN(3))
        tracker.packetProcessed(now: t0 + .milliseconds(160))
        #expect(tracker.isImmediateSackDue)
    }

    @Test("packetsPerSack 1 acknowledges every packet; the timeout is clamped to 500 ms")
    func configurationBounds() {
        var tracker = DataTracker(peerInitialTSN: TSN(1), configuration: .init(delayedSackTimeout: .seconds(3), packetsPerSack: 1))
        #expect(tracker.configuration.delayedSackTimeout == .milliseconds(500))
        tracker.observe(TSN(1))
        tracker.packetProcessed(now: t0)
        #expect(tracker.isImmediateSackDue)
        let custom = DataTracker.Configuration(maxTSNWindow: 0, maxGapRanges: -3, maxDuplicateTSNs: -1, packetsPerSack: 0)
        #expect(custom.maxTSNWindow == 1 && custom.maxGapRanges == 1 && custom.maxDuplicateTSNs == 0 && custom.packetsPerSack == 1)
        #expect(DataTracker.Configuration(maxTSNWindow: .max).maxTSNWindow == 1 << 30)
    }

    @Test("a packet without DATA changes nothing")
    func emptyPacket() {
        var tracker = DataTracker(peerInitialTSN: TSN(1))
        tracker.packetProcessed(now: t0)
        #expect(!tracker.isSackOwed)
        #expect(tracker.sackDeadline == nil)
    }

    @Test("the I bit makes the SACK immediate (RFC 7053)")
    func immediateBit() {
        var tracker = DataTracker(peerInitialTSN: TSN(1))
        tracker.observe(TSN(1), immediateAck: true)
        tracker.packetProcessed(now: t0)
        #expect(tracker.isImmediateSackDue)
    }

    @Test("out-of-order TSNs become exact gap ack blocks, and a SACK is due at once")
    func gapBlocks() {
        var tracker = DataTracker(peerInitialTSN: TSN(1))
        for tsn: UInt32 in [2, 3, 5, 9, 8, 7] { #expect(tracker.observe(TSN(tsn)) == .new) }
        tracker.packetProcessed(now: t0)
        #expect(tracker.isImmediateSackDue)
        #expect(tracker.cumulativeTSN == TSN(0))
        #expect(tracker.highestReceivedTSN == TSN(9))
        #expect(tracker.makeSack(advertisedReceiverWindowCredit: 7).gapAckBlocks == blocks([(2, 3), (5, 5), (7, 9)]))
        tracker.sackSent()

        // Filling the first hole moves the cumulative point over the first range.
        tracker.observe(TSN(1))
        tracker.packetProcessed(now: t0)
        #expect(tracker.isImmediateSackDue)
        #expect(tracker.cumulativeTSN == TSN(3))
        #expect(tracker.makeSack(advertisedReceiverWindowCredit: 7).gapAckBlocks == blocks([(2, 2), (4, 6)]))
        tracker.sackSent()

        tracker.observe(TSN(4))
        #expect(tracker.cumulativeTSN == TSN(5))
        #expect(tracker.makeSack(advertisedReceiverWindowCredit: 7).gapAckBlocks == blocks([(2, 4)]))

        // The last hole: the packet that fills the gap is acknowledged at once too.
        tracker.sackSent()
        tracker.observe(TSN(6))
        tracker.packetProcessed(now: t0)
        #expect(tracker.isImmediateSackDue)
        #expect(tracker.cumulativeTSN == TSN(9))
        #expect(tracker.gapRangeCount == 0)
        #expect(tracker.makeSack(advertisedReceiverWindowCredit: 7).gapAckBlocks.isEmpty)
    }

    @Test("ranges extend downwards, upwards, and merge when a TSN bridges two")
    func rangeMerging() {
        var tracker = DataTracker(peerInitialTSN: TSN(1))
        tracker.observe(TSN(5))
        tracker.observe(TSN(4))
        #expect(ranges(tracker) == [[4, 5]])
        tracker.observe(TSN(7))
        #expect(ranges(tracker) == [[4, 5], [7, 7]])
        tracker.observe(TSN(6))
        #expect(ranges(tracker) == [[4, 7]])
        tracker.observe(TSN(10))
        tracker.observe(TSN(8))
        #expect(ranges(tracker) == [[4, 8], [10, 10]])
        tracker.observe(TSN(20))
        tracker.observe(TSN(15))
        #expect(ranges(tracker) == [[4, 8], [10, 10], [15, 15], [20, 20]])
    }

    @Test("duplicates: at or below the cumulative point and inside ranges, each receipt listed once, then cleared")
    func duplicates() {
        var tracker = DataTracker(peerInitialTSN: TSN(1))
        for tsn: UInt32 in 1...10 { tracker.observe(TSN(tsn)) }
        tracker.observe(TSN(12))
        tracker.packetProcessed(now: t0)
        tracker.sackSent()

        #expect(tracker.classify(TSN(10)) == .duplicate)
        #expect(tracker.classify(TSN(12)) == .duplicate)
        #expect(tracker.classify(TSN(11)) == .new)
        #expect(tracker.observe(TSN(10)) == .duplicate)
        #expect(tracker.observe(TSN(3)) == .duplicate)
        #expect(tracker.observe(TSN(12)) == .duplicate)
        #expect(tracker.observe(TSN(12)) == .duplicate)
        tracker.packetProcessed(now: t0)
        #expect(tracker.isImmediateSackDue)
        #expect(tracker.cumulativeTSN == TSN(10))
        #expect(tracker.makeSack(advertisedReceiverWindowCredit: 0).duplicateTSNs == [TSN(10), TSN(3), TSN(12), TSN(12)])
        tracker.sackSent()
        #expect(tracker.makeSack(advertisedReceiverWindowCredit: 0).duplicateTSNs.isEmpty)
        #expect(tracker.pendingDuplicateTSNs.isEmpty)
    }

    @Test("a TSN far behind the cumulative point (serially) is a duplicate, not far ahead")
    func ancientDuplicate() {
        var tracker = DataTracker(peerInitialTSN: TSN(0x8000_0010))
        #expect(tracker.observe(TSN(0x10)) == .duplicate)
        #expect(tracker.observe(TSN(0x8000_000F)) == .duplicate)
    }

    @Test("the duplicate list is capped")
    func duplicateCap() {
        var tracker = DataTracker(peerInitialTSN: TSN(1), configuration: .init(maxDuplicateTSNs: 3))
        tracker.observe(TSN(1))
        for _ in 0..<10 { #expect(tracker.observe(TSN(1)) == .duplicate) }
        #expect(tracker.makeSack(advertisedReceiverWindowCredit: 0).duplicateTSNs == [TSN(1), TSN(1), TSN(1)])
    }

    @Test("the gap ack block count per SACK is capped, lowest blocks first")
    func blockCap() {
        var tracker = DataTracker(peerInitialTSN: TSN(1), configuration: .init(maxGapAckBlocksPerSack: 3))
        for tsn: UInt32 in [11, 9, 7, 5, 3] { tracker.observe(TSN(tsn)) }
        #expect(tracker.gapRangeCount == 5)
        #expect(tracker.makeSack(advertisedReceiverWindowCredit: 0).gapAckBlocks == blocks([(3, 3), (5, 5), (7, 7)]))
        let none = DataTracker(peerInitialTSN: TSN(1), configuration: .init(maxGapAckBlocksPerSack: 0))
        #expect(none.makeSack(advertisedReceiverWindowCredit: 0).gapAckBlocks.isEmpty)
    }

    @Test("offsets beyond 65535 are left out of the SACK, a range crossing the limit is cut")
    func offsetLimit() {
        var tracker = DataTracker(peerInitialTSN: TSN(1), configuration: .init(maxTSNWindow: 100_000))
        tracker.observe(TSN(10))
        tracker.observe(TSN(65_534))
        tracker.observe(TSN(65_535))
        tracker.observe(TSN(65_536))
        tracker.observe(TSN(70_000))
        #expect(tracker.makeSack(advertisedReceiverWindowCredit: 0).gapAckBlocks == blocks([(10, 10), (65_534, 65_535)]))
    }

    @Test("a TSN beyond the window is refused and not recorded")
    func window() {
        var tracker = DataTracker(peerInitialTSN: TSN(1), configuration: .init(maxTSNWindow: 100))
        #expect(tracker.classify(TSN(100)) == .new)
        #expect(tracker.classify(TSN(101)) == .beyondWindow)
        #expect(tracker.observe(TSN(101)) == .beyondWindow)
        #expect(tracker.gapRangeCount == 0)
        tracker.packetProcessed(now: t0)
        #expect(tracker.isImmediateSackDue)
        #expect(tracker.observe(TSN(100)) == .new)
        #expect(tracker.gapRangeCount == 1)
        // The window moves with the cumulative point.
        for tsn: UInt32 in 1...50 { tracker.observe(TSN(tsn)) }
        #expect(tracker.classify(TSN(150)) == .new)
        #expect(tracker.classify(TSN(151)) == .beyondWindow)
    }

    @Test("the number of gap ranges is capped; growing a range or filling the cumulative point still works")
    func rangeCap() {
        var tracker = DataTracker(peerInitialTSN: TSN(1), configuration: .init(maxGapRanges: 2))
        #expect(tracker.observe(TSN(3)) == .new)
        #expect(tracker.observe(TSN(6)) == .new)
        #expect(tracker.classify(TSN(9)) == .tooManyGaps)
        #expect(tracker.observe(TSN(9)) == .tooManyGaps)
        #expect(ranges(tracker) == [[3, 3], [6, 6]])
        #expect(tracker.observe(TSN(7)) == .new)
        #expect(tracker.observe(TSN(5)) == .new)
        #expect(tracker.observe(TSN(4)) == .new)  // bridges the two ranges
        #expect(ranges(tracker) == [[3, 7]])
        #expect(tracker.observe(TSN(9)) == .new)
        #expect(tracker.observe(TSN(20)) == .tooManyGaps)
        #expect(tracker.observe(TSN(1)) == .new)
        #expect(tracker.observe(TSN(2)) == .new)
        #expect(tracker.cumulativeTSN == TSN(7))
        #expect(ranges(tracker) == [[9, 9]])
    }

    @Test("TSN wrap-around: the initial TSN near 2^32")
    func wrapAround() {
        var tracker = DataTracker(peerInitialTSN: TSN(0xFFFF_FFFE))
        #expect(tracker.cumulativeTSN == TSN(0xFFFF_FFFD))
        tracker.observe(TSN(0xFFFF_FFFE))
        tracker.observe(TSN(0))
        tracker.observe(TSN(1))
        tracker.observe(TSN(3))
        #expect(tracker.cumulativeTSN == TSN(0xFFFF_FFFE))
        #expect(tracker.makeSack(advertisedReceiverWindowCredit: 0).gapAckBlocks == blocks([(2, 3), (5, 5)]))
        #expect(tracker.observe(TSN(0xFFFF_FFFE)) == .duplicate)
        tracker.observe(TSN(0xFFFF_FFFF))
        #expect(tracker.cumulativeTSN == TSN(1))
        #expect(tracker.makeSack(advertisedReceiverWindowCredit: 0).gapAckBlocks == blocks([(2, 2)]))
        tracker.observe(TSN(2))
        #expect(tracker.cumulativeTSN == TSN(3))
        #expect(tracker.gapRangeCount == 0)
    }

    @Test("a FORWARD TSN more than 2^30 ahead is ignored (usrsctp sent one 2^31 ahead after an SSN/TSN reset)")
    func forwardTSNBeyondWindow() {
        var tracker = DataTracker(peerInitialTSN: TSN(0x20BB_2D66))
        for tsn: UInt32 in 0x20BB_2D66...0x20BB_2D6E { tracker.observe(TSN(tsn)) }
        #expect(tracker.handleForwardTSN(newCumulativeTSN: TSN(0xA0BB_2D65)) == .beyondWindow)
        #expect(tracker.cumulativeTSN == TSN(0x20BB_2D6E))
        // Within the window it moves as usual.
        #expect(tracker.handleForwardTSN(newCumulativeTSN: TSN(0x20BB_2D6E + 100)) == .advanced)
        #expect(tracker.cumulativeTSN == TSN(0x20BB_2D6E + 100))
    }

    @Test("FORWARD TSN moves the cumulative point, forgets ranges below it and merges the next one")
    func forwardTSN() {
        var tracker = DataTracker(peerInitialTSN: TSN(1))
        for tsn: UInt32 in [1, 3, 4, 6, 9, 10, 11] { tracker.observe(TSN(tsn)) }
        tracker.packetProcessed(now: t0)
        tracker.sackSent()

        #expect(tracker.handleForwardTSN(newCumulativeTSN: TSN(2)) == .advanced)
        tracker.packetProcessed(now: t0)
        #expect(tracker.isImmediateSackDue)
        #expect(tracker.cumulativeTSN == TSN(4))  // 2, then over the received 3...4 (RFC 3758 §3.6 example)
        #expect(ranges(tracker) == [[6, 6], [9, 11]])
        tracker.sackSent()

        // A new cumulative TSN inside a range cuts it and then absorbs the rest.
        #expect(tracker.handleForwardTSN(newCumulativeTSN: TSN(9)) == .advanced)
        #expect(tracker.cumulativeTSN == TSN(11))
        #expect(tracker.gapRangeCount == 0)
        tracker.packetProcessed(now: t0)
        tracker.sackSent()

        // Out of date: nothing moves, but the SACK is still due at once.
        #expect(tracker.handleForwardTSN(newCumulativeTSN: TSN(5)) == .stale)
        #expect(tracker.handleForwardTSN(newCumulativeTSN: TSN(11)) == .stale)
        tracker.packetProcessed(now: t0)
        #expect(tracker.isImmediateSackDue)
        #expect(tracker.cumulativeTSN == TSN(11))

        // Skipped TSNs arriving late are duplicates.
        #expect(tracker.handleForwardTSN(newCumulativeTSN: TSN(20)) == .advanced)
        #expect(tracker.observe(TSN(15)) == .duplicate)
        #expect(tracker.observe(TSN(21)) == .new)
        #expect(tracker.cumulativeTSN == TSN(21))
    }

    @Test("FORWARD TSN beyond every range, across the wrap")
    func forwardTSNWrap() {
        var tracker = DataTracker(peerInitialTSN: TSN(0xFFFF_FFF0))
        tracker.observe(TSN(0xFFFF_FFF5))
        tracker.observe(TSN(2))
        #expect(tracker.handleForwardTSN(newCumulativeTSN: TSN(0xFFFF_FFFF)) == .advanced)
        #expect(ranges(tracker) == [[2, 2]])
        #expect(tracker.makeSack(advertisedReceiverWindowCredit: 0).gapAckBlocks == blocks([(3, 3)]))
        #expect(tracker.handleForwardTSN(newCumulativeTSN: TSN(1)) == .advanced)
        #expect(tracker.cumulativeTSN == TSN(2))
    }

    @Test("the cumulative point a TSN would give, without recording it")
    func cumulativePreview() {
        var tracker = DataTracker(peerInitialTSN: TSN(1))
        tracker.observe(TSN(2))
        tracker.observe(TSN(3))
        tracker.observe(TSN(6))
        #expect(tracker.cumulativeTSN(afterReceiving: TSN(1)) == TSN(3))
        #expect(tracker.cumulativeTSN(afterReceiving: TSN(5)) == TSN(0))
        #expect(tracker.cumulativeTSN == TSN(0))
        tracker.observe(TSN(1))
        #expect(tracker.cumulativeTSN(afterReceiving: TSN(4)) == TSN(4))
        #expect(tracker.cumulativeTSN(afterReceiving: TSN(3)) == TSN(3))
    }

    @Test("requestImmediateSack makes a SACK due without a packet")
    func requested() {
        var tracker = DataTracker(peerInitialTSN: TSN(1))
        tracker.requestImmediateSack()
        #expect(tracker.isImmediateSackDue)
        #expect(tracker.isSackOwed)
        tracker.sackSent()
        #expect(!tracker.isImmediateSackDue)
    }

    @Test("random arrivals with duplicates match a set model", arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func randomAgainstModel(seed: UInt64) {
        var rng = SeededRandomSource(seed: seed)
        let initial = seed.isMultiple(of: 2) ? TSN(0xFFFF_FF80) : TSN(UInt32(truncatingIfNeeded: rng.nextUInt64()))
        var tracker = DataTracker(peerInitialTSN: initial, configuration: .init(maxTSNWindow: 400, maxGapRanges: 10_000,
                                                                                maxGapAckBlocksPerSack: 10_000,
                                                                                maxDuplicateTSNs: 10_000))
        var received = Set<UInt32>()  // offsets from initial - 1, 1-based
        var cumulative: UInt32 = 0
        var expectedDuplicates: [TSN] = []
        for step in 0..<2_000 {
            let offset = cumulative + 1 + UInt32(RxSupport.draw(60, &rng))
            let duplicate = RxSupport.chance(0.2, &rng) && cumulative > 0
            let o = duplicate ? UInt32(1 + RxSupport.draw(Int(cumulative), &rng)) : offset
            let tsn = initial.previous.advanced(by: o)
            let wasKnown = o <= cumulative || received.contains(o)
            let result = tracker.observe(tsn)
            #expect(result == (wasKnown ? .duplicate : .new), "step \(step)")
            if wasKnown { expectedDuplicates.append(tsn) } else { received.insert(o) }
            while received.contains(cumulative + 1) {
                received.remove(cumulative + 1)
                cumulative += 1
            }
            if step % 50 == 49 {
                // Compare the SACK with the model.
                var modelBlocks: [GapAckBlock] = []
                for o in received.sorted() {
                    let rel = UInt16(o - cumulative)
                    if let last = modelBlocks.last, last.end &+ 1 == rel {
                        modelBlocks[modelBlocks.count - 1].end = rel
                    } else {
                        modelBlocks.append(GapAckBlock(start: rel, end: rel))
                    }
                }
                let sack = tracker.makeSack(advertisedReceiverWindowCredit: 0)
                #expect(sack.cumulativeTSNAck == initial.previous.advanced(by: cumulative))
                #expect(sack.gapAckBlocks == modelBlocks)
                #expect(sack.duplicateTSNs == expectedDuplicates)
                tracker.sackSent()
                expectedDuplicates.removeAll()
            }
        }
    }
}
