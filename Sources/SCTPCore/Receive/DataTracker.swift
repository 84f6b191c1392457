import DequeModule
import SCTPWire

/// Which of the peer's TSNs have arrived, and when to tell the peer (RFC 9260 §6.2, §6.7,
/// §6.8; RFC 7053; RFC 3758 §3.6).
///
/// The tracker keeps the cumulative TSN ack point (every TSN up to it has arrived) and
/// the TSNs received above it as a sorted list of disjoint, non-adjacent ranges. It
/// detects duplicates, refuses TSNs too far ahead of the cumulative point or that would
/// need more ranges than allowed, builds SACK chunks, and decides when a SACK is due.
///
/// It holds no payload. Time comes in as `now`; the delayed-SACK deadline goes out as
/// ``sackDeadline`` for the association to fold into its next deadline.
///
/// Use per packet: for each DATA chunk, ``classify(_:)`` (or straight ``observe(_:immediateAck:)``)
/// and then, if the chunk is kept, `observe`; for FORWARD TSN, ``handleForwardTSN(newCumulativeTSN:)``;
/// after the packet, ``packetProcessed(now:)``. Then, when ``isSackDue(at:)``, send
/// ``makeSack(advertisedReceiverWindowCredit:)`` and call ``sackSent()``.
public struct DataTracker: Sendable {
    /// Limits and timing of the tracker.
    public struct Configuration: Hashable, Sendable {
        /// How far ahead of the cumulative TSN ack point a TSN is accepted (TSNs are
        /// dropped, not acknowledged, beyond it). Clamped to `1 ... 2^30`. The default,
        /// 65 535, is the farthest a gap ack block can describe.
        public var maxTSNWindow: UInt32
        /// The most out-of-order ranges held above the cumulative point; a TSN that would
        /// start a new range beyond this is dropped. At least 1.
        public var maxGapRanges: Int
        /// The most gap ack blocks put in one SACK (the lowest first). At least 0.
        public var maxGapAckBlocksPerSack: Int
        /// The most duplicate TSNs remembered for (and reported in) the next SACK.
        public var maxDuplicateTSNs: Int
        /// The delayed-SACK timeout (RFC 9260 §6.2: default 200 ms, at most 500 ms; clamped).
        public var delayedSackTimeout: Duration
        /// A SACK is sent at the latest after this many packets containing DATA (RFC 9260
        /// §6.2: every second packet). At least 1; 1 disables delayed SACK.
        public var packetsPerSack: Int

        /// Settings with RFC 9260's defaults; out-of-range values are clamped as each
        /// property describes.
        public init(maxTSNWindow: UInt32 = 65_535, maxGapRanges: Int = 512, maxGapAckBlocksPerSack: Int = 128,
                    maxDuplicateTSNs: Int = 32, delayedSackTimeout: Duration = .milliseconds(200),
                    packetsPerSack: Int = 2) {
            self.maxTSNWindow = min(max(maxTSNWindow, 1), 1 << 30)
            self.maxGapRanges = max(maxGapRanges, 1)
            self.maxGapAckBlocksPerSack = max(maxGapAckBlocksPerSack, 0)
            self.maxDuplicateTSNs = max(maxDuplicateTSNs, 0)
            self.delayedSackTimeout = min(max(delayedSackTimeout, .zero), .milliseconds(500))
            self.packetsPerSack = max(packetsPerSack, 1)
        }
    }

    /// What a TSN means to the tracker.
    public enum Classification: Hashable, Sendable {
        /// Not seen before and acceptable.
        case new
        /// At or below the cumulative point, or already received.
        case duplicate
        /// Farther ahead of the cumulative point than ``Configuration/maxTSNWindow``: drop it.
        case beyondWindow
        /// Would need a new gap range and ``Configuration/maxGapRanges`` are in use: drop it.
        case tooManyGaps
    }

    /// What a FORWARD TSN did.
    public enum ForwardTSNResult: Hashable, Sendable {
        /// The cumulative point moved forward.
        case advanced
        /// The new cumulative TSN was at or behind ours (out of date); nothing changed.
        case stale
        /// The new cumulative TSN lies more than 2^30 ahead: far more than any peer can have
        /// sent unacknowledged. Ignored (usrsctp 0.9.5 was seen to send a FORWARD TSN with its
        /// pre-reset point after an SSN/TSN reset, RFC 6525, 2^31 ahead; acknowledging it made
        /// usrsctp abort).
        case beyondWindow
    }

    /// A run of received TSNs `first ... last` above the cumulative point.
    struct TSNRange: Hashable, Sendable {
        var first: TSN
        var last: TSN
    }

    /// The limits and timing given at creation (the delayed-SACK timing may change later,
    /// `setDelayedSack`).
    public private(set) var configuration: Configuration
    /// The cumulative TSN ack point: every TSN up to and including it has arrived (or was
    /// skipped by FORWARD TSN). Starts at the peer's initial TSN minus one.
    public private(set) var cumulativeTSN: TSN
    /// Received TSNs above the cumulative point, sorted, disjoint and non-adjacent; the
    /// first never starts at `cumulativeTSN + 1`.
    private(set) var ranges: Deque<TSNRange> = []
    /// Duplicates received since the last SACK, in arrival order.
    private(set) var duplicates: [TSN] = []

    // Readable in the module for `DataTracker+Invariants.swift`.
    private(set) var packetHadData = false
    private(set) var immediateInPacket = false
    private(set) var sackDueNow = false
    private(set) var sackOwed = false
    private(set) var packetsSinceSack = 0
    /// When the delayed SACK is due, if one is pending; `nil` otherwise.
    public private(set) var sackDeadline: SCTPInstant?

    /// A tracker for a peer whose first DATA chunk carries `peerInitialTSN` (the Initial
    /// TSN of its INIT or INIT ACK).
    public init(peerInitialTSN: TSN, configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.cumulativeTSN = peerInitialTSN.previous
    }

    // MARK: - State

    /// The number of out-of-order ranges held above the cumulative point.
    public var gapRangeCount: Int { ranges.count }

    /// The highest TSN received (the cumulative point when nothing is out of order).
    public var highestReceivedTSN: TSN { ranges.last?.last ?? cumulativeTSN }

    /// The duplicate TSNs that the next SACK will report.
    public var pendingDuplicateTSNs: [TSN] { duplicates }

    @inline(__always)
    private func offset(_ tsn: TSN) -> UInt32 { cumulativeTSN.distance(to: tsn) }

    private enum Placement {
        case inside
        case extendsLast(Int)
        case extendsFirst(Int)
        case newRange(Int)
    }

    /// Where a TSN at offset `o` (≥ 2) from the cumulative point falls among the ranges.
    private func place(_ o: UInt32) -> Placement {
        // The first range whose end, extended by one, reaches o.
        var lo = 0
        var hi = ranges.count
        if let last = ranges.last, offset(last.last) &+ 1 < o { lo = hi }
        while lo < hi {
            let mid = (lo &+ hi) >> 1
            if offset(ranges[mid].last) &+ 1 < o { lo = mid &+ 1 } else { hi = mid }
        }
        guard lo < ranges.count else { return .newRange(lo) }
        let first = offset(ranges[lo].first)
        let last = offset(ranges[lo].last)
        if o >= first { return o <= last ? .inside : .extendsLast(lo) }
        if o &+ 1 == first { return .extendsFirst(lo) }
        return .newRange(lo)
    }

    /// What `tsn` would be if observed now, without recording anything.
    public func classify(_ tsn: TSN) -> Classification {
        let o = offset(tsn)
        if o == 0 || o >= 0x8000_0000 { return .duplicate }
        if o > configuration.maxTSNWindow { return .beyondWindow }
        if o == 1 { return .new }
        switch place(o) {
        case .inside: return .duplicate
        case .extendsLast, .extendsFirst: return .new
        case .newRange: return ranges.count >= configuration.maxGapRanges ? .tooManyGaps : .new
        }
    }

    /// The cumulative TSN ack point as it would be once `tsn` is recorded: `tsn` itself or
    /// the end of the range it joins when it fills the point, the current point otherwise.
    /// Does not record anything (the reassembly queue needs it before the chunk is kept).
    public func cumulativeTSN(afterReceiving tsn: TSN) -> TSN {
        guard tsn == cumulativeTSN.next else { return cumulativeTSN }
        if let first = ranges.first, first.first == tsn.next { return first.last }
        return tsn
    }

    // MARK: - Receiving

    /// Records the arrival of a DATA chunk with `tsn` and returns what it was.
    ///
    /// `.new`: recorded (the cumulative point moves, or a range grows or is added).
    /// `.duplicate`: listed for the next SACK (up to ``Configuration/maxDuplicateTSNs``).
    /// `.beyondWindow` / `.tooManyGaps`: nothing recorded; the caller drops the chunk.
    /// Anything but an in-order new TSN makes the SACK for this packet immediate
    /// (§6.2, §6.7): out of order, filling a gap, a duplicate, a drop. `immediateAck` is
    /// the chunk's I bit (RFC 7053), which also asks for an immediate SACK.
    @discardableResult
    public mutating func observe(_ tsn: TSN, immediateAck: Bool = false) -> Classification {
        packetHadData = true
        let o = offset(tsn)
        if o == 0 || o >= 0x8000_0000 { return recordDuplicate(tsn) }
        if o > configuration.maxTSNWindow {
            immediateInPacket = true
            return .beyondWindow
        }
        if immediateAck { immediateInPacket = true }
        if o == 1 {
            // In order: the fast path.
            cumulativeTSN = tsn
            if !ranges.isEmpty {
                // A gap was (partly) filled: tell the peer at once.
                immediateInPacket = true
                if ranges[0].first == tsn.next {
                    cumulativeTSN = ranges[0].last
                    ranges.removeFirst()
                }
            }
            return .new
        }
        switch place(o) {
        case .inside:
            return recordDuplicate(tsn)
        case .extendsLast(let i):
            ranges[i].last = tsn
            if i + 1 < ranges.count, ranges[i + 1].first == tsn.next {
                ranges[i].last = ranges[i + 1].last
                ranges.remove(at: i + 1)
            }
        case .extendsFirst(let i):
            ranges[i].first = tsn
        case .newRange(let i):
            guard ranges.count < configuration.maxGapRanges else {
                immediateInPacket = true
                return .tooManyGaps
            }
            ranges.insert(TSNRange(first: tsn, last: tsn), at: i)
        }
        immediateInPacket = true  // out of order: SACK at once (§6.7)
        return .new
    }

    private mutating func recordDuplicate(_ tsn: TSN) -> Classification {
        if duplicates.count < configuration.maxDuplicateTSNs { duplicates.append(tsn) }
        immediateInPacket = true
        return .duplicate
    }

    /// Applies a FORWARD TSN (or I-FORWARD TSN) (RFC 3758 §3.6): the cumulative point moves
    /// to `newCumulativeTSN`, ranges at or below it are forgotten, and the point advances
    /// further over ranges that now touch it. Either way a SACK is due at once: a FORWARD
    /// TSN skips TSNs we never got (a gap being filled), and a stale one suggests our last
    /// SACK was lost.
    @discardableResult
    public mutating func handleForwardTSN(newCumulativeTSN: TSN) -> ForwardTSNResult {
        packetHadData = true
        immediateInPacket = true
        let o = offset(newCumulativeTSN)
        if o == 0 || o >= 0x8000_0000 { return .stale }
        if o > 1 << 30 { return .beyondWindow }
        cumulativeTSN = newCumulativeTSN
        while let first = ranges.first {
            if first.last <= newCumulativeTSN {
                ranges.removeFirst()
            } else {
                if first.first <= newCumulativeTSN { ranges[0].first = newCumulativeTSN.next }
                break
            }
        }
        if let first = ranges.first, first.first == cumulativeTSN.next {
            cumulativeTSN = first.last
            ranges.removeFirst()
        }
        return .advanced
    }

    // MARK: - When to SACK

    /// Changes the delayed-SACK timing (`SCTP_DELAYED_SACK` on a live association), clamped
    /// as ``Configuration`` describes. A SACK already scheduled keeps its deadline unless the
    /// new timeout or packet count makes it due sooner.
    public mutating func setDelayedSack(timeout: Duration, packetsPerSack: Int, now: SCTPInstant) {
        configuration.delayedSackTimeout = min(max(timeout, .zero), .milliseconds(500))
        configuration.packetsPerSack = max(packetsPerSack, 1)
        guard let deadline = sackDeadline else { return }
        if packetsSinceSack >= configuration.packetsPerSack {
            sackDueNow = true
        } else if now + configuration.delayedSackTimeout < deadline {
            sackDeadline = now + configuration.delayedSackTimeout
        }
    }

    /// Ends the processing of one received packet. Call it after the packet's DATA and
    /// FORWARD TSN chunks (it does nothing if the packet had none). Decides whether the
    /// SACK is due at once (something unusual arrived, or ``Configuration/packetsPerSack``
    /// packets with DATA have arrived since the last SACK) or by the delayed-SACK deadline.
    public mutating func packetProcessed(now: SCTPInstant) {
        guard packetHadData else { return }
        packetHadData = false
        sackOwed = true
        packetsSinceSack += 1
        if immediateInPacket || packetsSinceSack >= configuration.packetsPerSack {
            sackDueNow = true
        } else if sackDeadline == nil {
            sackDeadline = now + configuration.delayedSackTimeout
        }
        immediateInPacket = false
    }

    /// Asks for a SACK at once, e.g. in SHUTDOWN-SENT (§9.2), after dropping a chunk for
    /// lack of buffer space (§6.2), or to announce a reopened window.
    public mutating func requestImmediateSack() {
        sackOwed = true
        sackDueNow = true
    }

    /// Whether a SACK should go out now, without waiting for any deadline.
    public var isImmediateSackDue: Bool { sackDueNow }

    /// Whether a SACK should go out at `now`: an immediate one is due, or the delayed-SACK
    /// deadline has come.
    public func isSackDue(at now: SCTPInstant) -> Bool {
        if sackDueNow { return true }
        if let deadline = sackDeadline { return deadline <= now }
        return false
    }

    /// Whether anything arrived that no SACK has acknowledged yet; a SACK may then be
    /// bundled with outgoing DATA before it is due.
    public var isSackOwed: Bool { sackOwed }

    /// The SACK describing what has arrived: the cumulative TSN ack point, gap ack blocks
    /// for the ranges above it (at most ``Configuration/maxGapAckBlocksPerSack``, the lowest
    /// first, offsets beyond 65 535 left out), the duplicates since the last SACK, and
    /// `advertisedReceiverWindowCredit` as a_rwnd. Does not change state; call
    /// ``sackSent()`` when the SACK is on its way.
    public func makeSack(advertisedReceiverWindowCredit: UInt32) -> SackChunk {
        var blocks: [GapAckBlock] = []
        if !ranges.isEmpty && configuration.maxGapAckBlocksPerSack > 0 {
            blocks.reserveCapacity(min(ranges.count, configuration.maxGapAckBlocksPerSack))
            for range in ranges.prefix(configuration.maxGapAckBlocksPerSack) {
                let start = offset(range.first)
                guard start <= UInt32(UInt16.max) else { break }
                let end = min(offset(range.last), UInt32(UInt16.max))
                blocks.append(GapAckBlock(start: UInt16(start), end: UInt16(end)))
            }
        }
        return SackChunk(cumulativeTSNAck: cumulativeTSN, advertisedReceiverWindowCredit: advertisedReceiverWindowCredit,
                         gapAckBlocks: blocks, duplicateTSNs: duplicates)
    }

    /// A SACK was sent: forget the duplicates, cancel the delayed-SACK deadline and restart
    /// the packet count.
    public mutating func sackSent() {
        duplicates.removeAll(keepingCapacity: true)
        sackDueNow = false
        sackOwed = false
        sackDeadline = nil
        packetsSinceSack = 0
    }

    // MARK: Test hooks (the setters are private to this file)

    #if DEBUG
    /// Test hook: adds a received range without checking it against the others.
    mutating func insertRangeForTesting(first: TSN, last: TSN) {
        ranges.append(TSNRange(first: first, last: last))
    }
    #endif
}
