import DequeModule
import NIOCore
import SCTPWire

/// Every DATA chunk sent and not yet cumulatively acknowledged, in TSN order: the
/// retransmission queue of RFC 9260 §6.1–§6.3 with the SACK processing of §6.2.1 and the
/// loss detection of §7.2.4.
///
/// Chunks are kept in a `Deque` indexed by their distance from the Cumulative TSN Ack
/// Point, so appending, removing acknowledged chunks from the front and finding a TSN of a
/// Gap Ack Block are O(1). A SACK walks only the chunks it acknowledges and the gap range
/// between the Cumulative TSN Ack and the highest TSN gap-acknowledged; nothing is ever
/// sorted or rescanned as a whole, except on a T3-rtx expiry.
///
/// Bytes are counted as §7.2 asks: the flight size of a path is the sum of the wire sizes
/// (header and padding included) of its chunks in flight; the peer's window (§6.2.1) is
/// kept in user-data bytes.
public struct OutstandingData: Sendable {
    /// Limits and thresholds.
    public struct Configuration: Hashable, Sendable {
        /// The most chunks held; `canSendNewChunk` turns false at this count (memory bound,
        /// and far below the 2^31 TSN window of §6.1).
        public var maxOutstandingChunks: Int
        /// Gap Ack Blocks processed per SACK; further blocks are ignored.
        public var maxGapBlocksProcessed: Int
        /// Duplicate TSNs looked at per SACK (for partial_bytes_acked, §7.2.2).
        public var maxDuplicateTSNsProcessed: Int
        /// Miss indications that trigger Fast Retransmit (3 in §7.2.4).
        public var fastRetransmitThreshold: Int

        /// The defaults: 65536 chunks, 256 gap blocks, 32 duplicates, threshold 3.
        public init(maxOutstandingChunks: Int = 65536, maxGapBlocksProcessed: Int = 256,
                    maxDuplicateTSNsProcessed: Int = 32, fastRetransmitThreshold: Int = 3) {
            precondition(maxOutstandingChunks > 0 && maxOutstandingChunks < 1 << 30, "outstanding limit out of range")
            precondition(maxGapBlocksProcessed >= 0 && maxDuplicateTSNsProcessed >= 0)
            precondition((1...255).contains(fastRetransmitThreshold), "threshold out of range")
            self.maxOutstandingChunks = maxOutstandingChunks
            self.maxGapBlocksProcessed = maxGapBlocksProcessed
            self.maxDuplicateTSNsProcessed = maxDuplicateTSNsProcessed
            self.fastRetransmitThreshold = fastRetransmitThreshold
        }
    }

    /// Per-SACK working values of one path.
    private struct PathScratch: Sendable {
        var lowestNewlyAcked: TSN?
        var earlierStillOutstanding = false
    }

    /// The limits; may be changed at any time.
    public var configuration: Configuration
    /// The Cumulative TSN Ack Point: every TSN up to it is acknowledged (§1.3).
    public private(set) var cumulativeTSNAck: TSN
    /// Chunk `i` has TSN `cumulativeTSNAck + 1 + i`. (Readable in the module for the
    /// invariant checks, `OutstandingData+Invariants.swift`, as are the fields below.)
    private(set) var chunks: Deque<OutstandingChunk> = []
    /// Bytes in flight per path, indexed by path id.
    private(set) var flight: [Int] = []
    /// The per-path results of the latest SACK (kept to reuse its storage).
    private(set) var statistics: [PathSackStatistics] = []
    private var scratch: [PathScratch] = []
    /// Bytes in flight over all paths.
    public private(set) var bytesInFlight = 0
    /// Chunks sent and not yet cumulatively acknowledged (gap-acked ones included).
    public var unacknowledgedCount: Int { chunks.count }
    /// User-data bytes of the chunks in flight (the peer's window is reduced by these).
    public private(set) var outstandingPayloadBytes = 0
    /// User-data bytes the peer acknowledged for good so far: cumulatively, or non-renegably
    /// (NR-SACK) when the data was released early. Abandoned chunks (PR-SCTP) do not count.
    public private(set) var acknowledgedPayloadBytes = 0
    /// The peer's receive window as the sender tracks it (§6.2.1): the last a_rwnd less the
    /// user data outstanding and sent since; never negative.
    public var peerReceiverWindow: Int { max(0, windowCredit) }
    /// The same without the floor at 0: what was sent beyond the window (a probe, a
    /// retransmission) is owed, so that giving its bytes back when it is marked for
    /// retransmission cannot lift the window above what the peer offered.
    private(set) var windowCredit: Int
    #if DEBUG || SCTP_INVARIANTS
    /// The a_rwnd `windowCredit` was last computed from (the INIT's, or the latest SACK's),
    /// and the user data of chunks in flight given up (PR-SCTP) since then, which stays
    /// counted against the window: kept for `checkInvariants()` only.
    private(set) var windowBasis: Int
    private(set) var abandonedInFlightPayload = 0
    #endif
    /// The Fast Recovery exit point while in Fast Recovery (§7.2.4 step 6).
    public private(set) var fastRecoveryExitPoint: TSN?
    /// The highest TSN acknowledged by a Gap Ack Block and not yet cumulatively acknowledged.
    public private(set) var highestGapAckedTSN: TSN?
    /// Chunks waiting to be retransmitted.
    public private(set) var markedForRetransmissionCount = 0
    /// Chunks freed early by non-renegable Gap Ack Blocks (NR-SACK) so far.
    public private(set) var nonRenegablyAckedChunks = 0
    /// The highest TSN acknowledged non-renegably and not yet cumulatively: it stays
    /// gap-acknowledged whatever later SACKs say, so `highestGapAckedTSN` never drops below it.
    private var highestNonRenegableTSN: TSN?
    /// No marked chunk has a TSN below this one.
    private(set) var retransmitScanStart: TSN
    /// The highest TSN sent when a chunk was last retransmitted: only chunks above it are
    /// used for RTT measurements (§6.3.1 C5, second paragraph).
    private(set) var rttBarrier: TSN
    private var sackStamp: UInt32 = 0

    /// An empty queue whose first chunk will carry `initialTSN`; the peer's window starts at
    /// the a_rwnd of its INIT or INIT ACK.
    public init(initialTSN: TSN, peerReceiverWindow: UInt32, configuration: Configuration = Configuration()) {
        self.configuration = configuration
        cumulativeTSNAck = initialTSN.previous
        retransmitScanStart = initialTSN
        rttBarrier = initialTSN.previous
        windowCredit = Int(peerReceiverWindow)
        #if DEBUG || SCTP_INVARIANTS
        windowBasis = Int(peerReceiverWindow)
        #endif
    }

    // MARK: State

    /// The TSN the next new chunk must carry.
    public var nextTSN: TSN { cumulativeTSNAck.advanced(by: UInt32(chunks.count)).next }
    /// The highest TSN sent (the Cumulative TSN Ack Point when nothing is outstanding).
    public var highestSentTSN: TSN { cumulativeTSNAck.advanced(by: UInt32(chunks.count)) }
    /// The number of chunks held (in flight, gap-acknowledged or marked for retransmission).
    public var count: Int { chunks.count }
    /// Whether every chunk sent is cumulatively acknowledged.
    public var isEmpty: Bool { chunks.isEmpty }
    /// Whether another new chunk may be sent without passing `maxOutstandingChunks`.
    public var canSendNewChunk: Bool { chunks.count < configuration.maxOutstandingChunks }
    /// Whether chunks wait to be retransmitted (they go before new data, §6.1 C).
    public var hasChunksToRetransmit: Bool { markedForRetransmissionCount > 0 }
    /// Whether the association is in Fast Recovery (§7.2.4).
    public var isInFastRecovery: Bool { fastRecoveryExitPoint != nil }

    /// Bytes in flight on a path.
    public func bytesInFlight(on path: PathID) -> Int {
        path.rawValue < flight.count ? flight[path.rawValue] : 0
    }

    /// The chunk with this TSN, if it is held.
    public func chunk(tsn: TSN) -> OutstandingChunk? {
        guard let index = index(of: tsn) else { return nil }
        return chunks[index]
    }

    /// The lowest TSN in flight on a path (for the T3-rtx rule of §6.1: restart the timer when
    /// the earliest outstanding chunk of the path is retransmitted). Scans from the front.
    public func lowestInFlightTSN(on path: PathID) -> TSN? {
        guard bytesInFlight(on: path) > 0 else { return nil }
        for entry in chunks where entry.state == .inFlight && entry.path == path { return entry.tsn }
        return nil
    }

    private func index(of tsn: TSN) -> Int? {
        let distance = cumulativeTSNAck.distance(to: tsn)
        guard distance >= 1 && UInt64(distance) <= UInt64(chunks.count) else { return nil }
        return Int(distance) - 1
    }

    private mutating func ensurePath(_ path: PathID) {
        while flight.count <= path.rawValue {
            flight.append(0)
            statistics.append(PathSackStatistics(path: PathID(statistics.count)))
            scratch.append(PathScratch())
        }
    }

    @inline(__always)
    private mutating func addToFlight(_ entry: OutstandingChunk) {
        let size = entry.wireSize
        flight[entry.path.rawValue] += size
        bytesInFlight += size
        outstandingPayloadBytes += entry.chunk.payload.readableBytes
    }

    @inline(__always)
    private mutating func removeFromFlight(_ entry: OutstandingChunk) {
        let size = entry.wireSize
        flight[entry.path.rawValue] -= size
        bytesInFlight -= size
        outstandingPayloadBytes -= entry.chunk.payload.readableBytes
    }

    // MARK: Sending

    /// Records a new chunk as sent on `path` at `now`. Its TSN must be `nextTSN`.
    ///
    /// The peer's window shrinks by its user data (§6.2.1 B). The caller checks
    /// `canSendNewChunk`, the peer's window and the path's cwnd before sending.
    /// `mid`: the chunk goes out as I-DATA with this MID and FSN `fsn` (RFC 8260).
    public mutating func append(_ chunk: consuming DataChunk, path: PathID, now: SCTPInstant,
                                expiry: SCTPInstant? = nil, maxRetransmissions: Int? = nil, context: UInt32 = 0,
                                mid: MID? = nil, fsn: UInt32 = 0) {
        precondition(chunk.tsn == nextTSN, "chunks must be appended with consecutive TSNs")
        ensurePath(path)
        windowCredit -= chunk.payload.readableBytes
        var entry = OutstandingChunk(chunk: chunk, path: path, sentAt: now, expiry: expiry, maxRetransmissions: maxRetransmissions,
                                     context: context)
        if let mid {
            entry.isInterleaved = true
            entry.mid = mid
            entry.fsn = fsn
        }
        addToFlight(entry)
        chunks.append(entry)
    }

    /// `append(_:path:now:expiry:maxRetransmissions:context:mid:fsn:)` for a chunk cut from
    /// the send queue, moved in whole (its fields taken apart here, not copied out by the
    /// caller): its message's policy applies when `partiallyReliable` (the peer supports
    /// FORWARD TSN), its MID and FSN when `interleaved`.
    mutating func append(_ cut: consuming CutChunk, path: PathID, now: SCTPInstant, partiallyReliable: Bool, interleaved: Bool) {
        precondition(cut.chunk.tsn == nextTSN, "chunks must be appended with consecutive TSNs")
        ensurePath(path)
        windowCredit -= cut.chunk.payload.readableBytes
        let policy = cut.policy
        let (mid, fsn) = (cut.mid, cut.fsn)
        var entry = OutstandingChunk(chunk: cut.chunk, path: path, sentAt: now,
                                     expiry: partiallyReliable ? policy.expiry : nil,
                                     maxRetransmissions: partiallyReliable ? policy.maxRetransmissions : nil,
                                     context: policy.context)
        if interleaved {
            entry.isInterleaved = true
            entry.mid = mid
            entry.fsn = fsn
        }
        addToFlight(entry)
        chunks.append(consume entry)
    }

    /// The lowest-TSN chunk marked for retransmission, if its wire size is at most `maxSize`,
    /// recorded as sent again on `path` at `now` (its transmission count grows, its miss
    /// indications restart). `nil` when nothing is marked or the lowest marked chunk does
    /// not fit: chunks of a packet go in increasing TSN order (§6.10).
    public mutating func nextRetransmission(maxSize: Int, path: PathID, now: SCTPInstant) -> DataChunk? {
        nextRetransmissionEntry(maxSize: maxSize, path: path, now: now)?.chunk
    }

    /// `nextRetransmission(maxSize:path:now:)` with the whole entry (an I-DATA chunk needs
    /// its MID and FSN).
    public mutating func nextRetransmissionEntry(maxSize: Int, path: PathID, now: SCTPInstant) -> OutstandingChunk? {
        guard markedForRetransmissionCount > 0 else { return nil }
        var index = self.index(of: retransmitScanStart) ?? 0
        while index < chunks.count && chunks[index].state != .markedForRetransmission { index += 1 }
        if index == chunks.count {
            // Not expected (no marked chunk lies below the scan start); look again from the front.
            index = 0
            while index < chunks.count && chunks[index].state != .markedForRetransmission { index += 1 }
            guard index < chunks.count else {
                assertionFailure("marked-for-retransmission count out of step")
                markedForRetransmissionCount = 0
                return nil
            }
        }
        retransmitScanStart = chunks[index].tsn
        guard chunks[index].wireSize <= maxSize else { return nil }
        ensurePath(path)
        chunks[index].state = .inFlight
        chunks[index].path = path
        chunks[index].sentAt = now
        chunks[index].transmissions &+= chunks[index].transmissions == .max ? 0 : 1
        chunks[index].misses = 0
        chunks[index].strikeFloor = highestSentTSN
        markedForRetransmissionCount -= 1
        addToFlight(chunks[index])
        let chunk = chunks[index].chunk
        windowCredit -= chunk.payload.readableBytes
        rttBarrier = highestSentTSN
        retransmitScanStart = chunk.tsn.next
        return chunks[index]
    }

    /// The highest-TSN chunk in flight on `path`, recorded as sent once more for a tail loss
    /// probe (`SCTPConfiguration.tailLossProbeMinimum`): it stays in flight (the flight size
    /// and the peer's window do not change, the copy replaces nothing), but counts as a
    /// retransmission: its transmission count grows (no RTT sample from it, §6.3.1 C5, nor from
    /// any chunk sent before it), and its miss indications restart, counted only from TSNs sent
    /// after it, as for any retransmission. `nil` when nothing is in flight on the path, or
    /// when PR-SCTP forbids sending that chunk again at `now` (its lifetime is over or its
    /// retransmissions are used up, RFC 3758 / RFC 7496): T3-rtx then abandons it as usual.
    public mutating func probeEntry(on path: PathID, now: SCTPInstant) -> OutstandingChunk? {
        guard bytesInFlight(on: path) > 0 else { return nil }
        var index = chunks.count - 1
        while index >= 0 && !(chunks[index].state == .inFlight && chunks[index].path == path) { index -= 1 }
        guard index >= 0, !chunks[index].isPayloadReleased, !chunks[index].isAbandonable(now: now) else { return nil }
        chunks[index].transmissions &+= chunks[index].transmissions == .max ? 0 : 1
        chunks[index].misses = 0
        chunks[index].strikeFloor = highestSentTSN
        rttBarrier = highestSentTSN
        return chunks[index]
    }

    /// Marks a chunk in flight for retransmission: out of the flight size, its user data
    /// back into the peer's window (§6.2.1 C).
    private mutating func markForRetransmission(at index: Int) {
        removeFromFlight(chunks[index])
        chunks[index].state = .markedForRetransmission
        markedForRetransmissionCount += 1
        windowCredit += chunks[index].chunk.payload.readableBytes
        let tsn = chunks[index].tsn
        if tsn < retransmitScanStart { retransmitScanStart = tsn }
    }

    // MARK: PR-SCTP (RFC 3758)

    /// Gives up every message with a chunk waiting for retransmission whose lifetime ended or
    /// whose retransmission limit is reached (RFC 3758 §3.5 A), with all its chunks.
    public mutating func abandonMessages(now: SCTPInstant) -> [AbandonedMessage] {
        guard markedForRetransmissionCount > 0 else { return [] }
        var abandoned: [AbandonedMessage] = []
        var index = 0
        while index < chunks.count {
            if chunks[index].state == .markedForRetransmission && chunks[index].isAbandonable(now: now) {
                let (message, last) = abandonMessage(containing: index)
                abandoned.append(message)
                index = last + 1
            } else {
                index += 1
            }
        }
        return abandoned
    }

    /// Gives the unsent rest of a message abandoned part way (PR-SCTP) a TSN of its own, never
    /// sent: an abandoned chunk with the E bit, right after the message's last sent chunk
    /// (which must be the highest TSN sent). The FORWARD TSN then has to reach past it, so the
    /// peer learns the message will not be completed even when every fragment that was sent
    /// arrived and was acknowledged (without it the Cumulative TSN Ack passes them, no FORWARD
    /// TSN goes out, and the peer's ordered stream waits forever for the rest). usrsctp does
    /// the same.
    /// `mid`: the message went out as I-DATA with this MID.
    public mutating func appendAbandonedTail(streamIdentifier: UInt16, ssn: SSN, payloadProtocolIdentifier: UInt32,
                                             isUnordered: Bool, now: SCTPInstant, mid: MID? = nil) {
        var flags: DataFlags = .ending
        if isUnordered { flags.insert(.unordered) }
        let chunk = DataChunk(flags: flags, tsn: nextTSN, streamIdentifier: streamIdentifier, ssn: ssn,
                              payloadProtocolIdentifier: payloadProtocolIdentifier, payload: ByteBuffer())
        var entry = OutstandingChunk(chunk: chunk, path: chunks.last?.path ?? PathID(0), sentAt: now)
        entry.state = .abandoned
        if let mid {
            entry.isInterleaved = true
            entry.mid = mid
        }
        chunks.append(entry)
    }

    /// Abandons the chunks of the message that holds chunk `index` (its fragments have
    /// consecutive TSNs, from the B bit to the E bit); returns it and its last index held.
    private mutating func abandonMessage(containing index: Int) -> (AbandonedMessage, Int) {
        if chunks[index].isInterleaved { return (abandonInterleavedMessage(containing: index), index) }
        var first = index
        while first > 0 && !chunks[first].chunk.dataFlags.contains(.beginning) { first -= 1 }
        var last = index
        while last + 1 < chunks.count && !chunks[last].chunk.dataFlags.contains(.ending) { last += 1 }
        var payload = ByteBuffer()
        for position in first...last {
            var data = chunks[position].chunk.payload
            payload.writeBuffer(&data)
            switch chunks[position].state {
            case .inFlight:
                removeFromFlight(chunks[position])
                #if DEBUG || SCTP_INVARIANTS
                abandonedInFlightPayload += chunks[position].chunk.payload.readableBytes
                #endif
            case .markedForRetransmission:
                markedForRetransmissionCount -= 1
            case .gapAcked, .abandoned:
                break
            }
            chunks[position].state = .abandoned
        }
        let head = chunks[first].chunk
        var message = AbandonedMessage(streamIdentifier: head.streamIdentifier, payloadProtocolIdentifier: head.payloadProtocolIdentifier,
                                       isUnordered: head.dataFlags.contains(.unordered), ssn: head.ssn,
                                       context: chunks[first].context, payload: payload,
                                       lastChunkSent: chunks[last].chunk.dataFlags.contains(.ending))
        message.hadLifetime = chunks[index].expiry != nil
        return (message, last)
    }

    /// Abandons the chunks of the I-DATA message that holds chunk `index`: every chunk held
    /// with its stream, U flag and MID (they need not be on consecutive TSNs).
    private mutating func abandonInterleavedMessage(containing index: Int) -> AbandonedMessage {
        let key = chunks[index]
        let stream = key.chunk.streamIdentifier
        let unordered = key.chunk.dataFlags.contains(.unordered)
        var payload = ByteBuffer()
        var ppid = key.chunk.payloadProtocolIdentifier
        var context = key.context
        var lastChunkSent = false
        for position in chunks.indices {
            let entry = chunks[position]
            guard entry.isInterleaved, entry.mid == key.mid, entry.chunk.streamIdentifier == stream,
                  entry.chunk.dataFlags.contains(.unordered) == unordered else { continue }
            if entry.chunk.dataFlags.contains(.beginning) {
                ppid = entry.chunk.payloadProtocolIdentifier
                context = entry.context
            }
            if entry.chunk.dataFlags.contains(.ending) { lastChunkSent = true }
            guard entry.state != .abandoned else { continue }
            var data = entry.chunk.payload
            payload.writeBuffer(&data)
            switch entry.state {
            case .inFlight:
                removeFromFlight(entry)
                #if DEBUG || SCTP_INVARIANTS
                abandonedInFlightPayload += entry.chunk.payload.readableBytes
                #endif
            case .markedForRetransmission:
                markedForRetransmissionCount -= 1
            case .gapAcked, .abandoned:
                break
            }
            chunks[position].state = .abandoned
        }
        var message = AbandonedMessage(streamIdentifier: stream, payloadProtocolIdentifier: ppid, isUnordered: unordered,
                                       ssn: SSN(0), context: context, payload: payload, lastChunkSent: lastChunkSent)
        message.mid = key.mid
        message.hadLifetime = key.expiry != nil
        return message
    }

    /// A chunk acknowledged for good (NR-SACK).
    private mutating func markNonRenegable(at index: Int) {
        guard !chunks[index].isNonRenegable else { return }
        chunks[index].isNonRenegable = true
        nonRenegablyAckedChunks += 1
        if highestNonRenegableTSN.map({ chunks[index].tsn > $0 }) ?? true { highestNonRenegableTSN = chunks[index].tsn }
    }

    /// Releases the payload of the messages in `range` (indices an NR-SACK's non-renegable
    /// blocks covered) whose every chunk still held is non-renegable and whose last chunk was
    /// sent: the user's message storage is freed once no slice of it is held. A message
    /// keeps all its data or none, so a send-failed report is either whole or says the data
    /// was released. DATA fragments sit on consecutive TSNs, so the walk is linear; an I-DATA
    /// message's fragments are spread among other messages' chunks (`releaseInterleavedMessage`).
    private mutating func releaseWhollyKeptMessages(around range: Range<Int>) {
        guard !range.isEmpty, range.upperBound <= chunks.count else { return }
        if chunks[range.lowerBound].isInterleaved {
            for index in range where chunks[index].isNonRenegable && !chunks[index].isPayloadReleased
                && chunks[index].chunk.dataFlags.contains(.ending) {
                releaseInterleavedMessage(endingAt: index)
            }
            return
        }
        // From the start of the message holding the range's first chunk (or the front of the
        // queue: fragments before it were acknowledged cumulatively).
        var index = range.lowerBound
        while index > 0 && !chunks[index].chunk.dataFlags.contains(.beginning) { index -= 1 }
        while index < range.upperBound {
            var end = index
            var kept = chunks[index].isNonRenegable
            while !chunks[end].chunk.dataFlags.contains(.ending) && end + 1 < chunks.count {
                end += 1
                kept = kept && chunks[end].isNonRenegable
            }
            if kept && chunks[end].chunk.dataFlags.contains(.ending) && !chunks[index].isPayloadReleased {
                for position in index...end { releasePayload(at: position) }
            }
            index = end + 1
        }
    }

    /// How far back (in chunks held) the fragments of an I-DATA message are looked for.
    static let interleavedReleaseScan = 1024

    /// Releases the I-DATA message whose last fragment, non-renegable, is chunk `last`, when
    /// its other fragments still held are non-renegable too. They are found walking back
    /// (same stream, MID and U bit) to the first fragment, or to the front of the queue (the
    /// ones before were acknowledged cumulatively); a message spread over more than
    /// `interleavedReleaseScan` chunks is left to the Cumulative TSN Ack.
    private mutating func releaseInterleavedMessage(endingAt last: Int) {
        let key = chunks[last]
        let unordered = key.chunk.dataFlags.contains(.unordered)
        func isFragment(_ entry: OutstandingChunk) -> Bool {
            entry.isInterleaved && entry.mid == key.mid && entry.chunk.streamIdentifier == key.chunk.streamIdentifier
                && entry.chunk.dataFlags.contains(.unordered) == unordered
        }
        var first = last
        var index = last
        while index > 0 && !chunks[first].chunk.dataFlags.contains(.beginning) {
            guard last - index < Self.interleavedReleaseScan else { return }
            index -= 1
            guard isFragment(chunks[index]) else { continue }
            guard chunks[index].isNonRenegable else { return }
            first = index
        }
        for position in first...last where isFragment(chunks[position]) { releasePayload(at: position) }
    }

    private mutating func releasePayload(at index: Int) {
        if chunks[index].state != .abandoned { acknowledgedPayloadBytes &+= chunks[index].chunk.payload.readableBytes }
        chunks[index].isPayloadReleased = true
        chunks[index].chunk.payload = ByteBuffer()
    }

    // MARK: Timer expiry

    /// The T3-rtx timer of `path` expired (§6.3.3): every chunk in flight on it is marked for
    /// retransmission (E3 sends the lowest of them at once; the rest follow as cwnd allows).
    /// Fast Recovery ends, as the timeout restarts slow start (the cwnd collapse is the
    /// path's `CongestionController.onRetransmissionTimeout()`). Returns how many chunks were marked.
    @discardableResult
    public mutating func handleRetransmissionTimeout(on path: PathID) -> Int {
        fastRecoveryExitPoint = nil
        guard bytesInFlight(on: path) > 0 else { return 0 }
        var marked = 0
        for index in chunks.indices where chunks[index].state == .inFlight && chunks[index].path == path {
            markForRetransmission(at: index)
            marked += 1
        }
        return marked
    }

    /// The path `path` is gone (RFC 5061: the peer deleted its address): its chunks in flight
    /// are marked for retransmission (they go on another path), every chunk on it is counted
    /// on path 0 from now on, and the paths after it move down by one, as the association's
    /// path table does. Fast Recovery is left as it is (no loss was seen).
    public mutating func removePath(_ path: PathID) {
        let removed = path.rawValue
        if bytesInFlight(on: path) > 0 {
            for index in chunks.indices where chunks[index].state == .inFlight && chunks[index].path == path {
                markForRetransmission(at: index)
            }
        }
        for index in chunks.indices {
            let current = chunks[index].path.rawValue
            if current == removed { chunks[index].path = PathID(0) }
            else if current > removed { chunks[index].path = PathID(current - 1) }
        }
        if removed < flight.count {
            flight.remove(at: removed)
            statistics.remove(at: removed)
            scratch.remove(at: removed)
            for index in statistics.indices { statistics[index] = PathSackStatistics(path: PathID(index)) }
        }
        if !chunks.isEmpty { ensurePath(PathID(0)) }
    }

    // MARK: SACK

    /// Processes a SACK (§6.2.1, §6.7, §7.2.4).
    ///
    /// - A SACK whose Cumulative TSN Ack is behind the current point is stale and ignored.
    /// - Chunks up to the Cumulative TSN Ack are removed; chunks in the Gap Ack Blocks (at
    ///   most `maxGapBlocksProcessed`; malformed blocks are skipped) are marked gap-acknowledged;
    ///   chunks gap-acknowledged before but missing now (renege) go back in flight with one
    ///   miss indication (§6.2.1 D iii).
    /// - Miss indications follow HTNA: only missing TSNs below the highest TSN newly
    ///   acknowledged by this SACK count, except in Fast Recovery when the Cumulative TSN Ack
    ///   advances, when every TSN reported missing counts (§7.2.4). A retransmitted chunk
    ///   counts a miss only when that TSN was sent after its retransmission
    ///   (`OutstandingChunk.strikeFloor`). A chunk reaching the
    ///   threshold is marked for Fast Retransmit, again if its fast retransmission is missed
    ///   in turn (unlike §7.2.4 step 5; as FreeBSD and usrsctp do); the first such chunk
    ///   outside Fast Recovery enters it, with the highest TSN sent as exit point.
    ///
    /// `cumulativeOnly`: the acknowledgement is a SHUTDOWN's Cumulative TSN Ack (§9.2), not
    /// a SACK: it carries no Gap Ack Blocks, and their absence "MUST NOT" be taken for a
    /// renege, so chunks gap-acknowledged before stay so, and no miss indications are counted.
    ///
    /// `nonRenegableFrom`: the index of the first non-renegable Gap Ack Block (an NR-SACK's
    /// blocks follow its renegable ones, `NRSackChunk.combined`). Chunks those blocks
    /// acknowledge are never reneged: a later SACK that leaves them out does not take them
    /// back into flight, and once every chunk of a message still held is so acknowledged,
    /// the message's payload is released (what NR-SACK is for: the user's buffer goes
    /// before the Cumulative TSN Ack reaches it).
    ///
    /// Throws, changing nothing, when the SACK acknowledges TSNs never sent.
    public mutating func handleSack(_ sack: SackChunk, now: SCTPInstant, cumulativeOnly: Bool = false,
                                    nonRenegableFrom: Int = .max) throws(SackError) -> SackOutcome {
        let newCumulative = sack.cumulativeTSNAck
        guard newCumulative >= cumulativeTSNAck else {
            var outcome = SackOutcome(cumulativeTSNAck: cumulativeTSNAck)
            outcome.isStale = true
            outcome.isInFastRecovery = isInFastRecovery
            outcome.peerReceiverWindow = peerReceiverWindow
            outcome.bytesInFlight = bytesInFlight
            return outcome
        }
        let highestSent = highestSentTSN
        let acknowledgeable = cumulativeTSNAck.distance(to: highestSent)
        guard cumulativeTSNAck.distance(to: newCumulative) <= acknowledgeable else {
            throw .cumulativeAckBeyondSent(cumulativeTSNAck: newCumulative, highestSentTSN: highestSent)
        }
        let remainingAfterCumulative = newCumulative.distance(to: highestSent)
        let blockCount = min(sack.gapAckBlocks.count, configuration.maxGapBlocksProcessed)
        for blockIndex in 0..<blockCount {
            let block = sack.gapAckBlocks[blockIndex]
            if block.start != 0 && block.start <= block.end && UInt32(block.end) > remainingAfterCumulative {
                throw .gapAckBeyondSent(block: block, highestSentTSN: highestSent)
            }
        }

        var outcome = SackOutcome(cumulativeTSNAck: newCumulative)
        outcome.cumulativeAckAdvanced = newCumulative > cumulativeTSNAck
        sackStamp &+= 1
        if sackStamp == 0 { sackStamp = 1 }
        let stamp = sackStamp
        for index in statistics.indices {
            statistics[index].newlyAckedBytes = 0
            statistics[index].duplicateBytes = 0
            statistics[index].flightSizeBeforeSack = flight[index]
            statistics[index].flightSizeAfterSack = 0
            statistics[index].ackedEarliestOutstanding = false
            statistics[index].reneged = false
            statistics[index].needsCongestionReduction = false
            scratch[index] = PathScratch()
        }
        let previousHighestGapAcked = highestGapAckedTSN

        // §6.2.1 D iv: leave Fast Recovery once the exit point is acknowledged.
        if let exit = fastRecoveryExitPoint, newCumulative >= exit {
            fastRecoveryExitPoint = nil
            outcome.exitedFastRecovery = true
        }
        let inFastRecovery = isInFastRecovery

        var highestNewlyAcked: TSN?
        var sample: RTTSample?

        // Cumulative acknowledgement: remove from the front.
        for _ in 0..<Int(cumulativeTSNAck.distance(to: newCumulative)) {
            let entry = chunks.removeFirst()
            // A released chunk's bytes were counted when it was released.
            if entry.state != .abandoned { acknowledgedPayloadBytes &+= entry.chunk.payload.readableBytes }
            switch entry.state {
            case .inFlight:
                acknowledgeInFlight(entry, highestNewlyAcked: &highestNewlyAcked, sample: &sample, now: now)
            case .markedForRetransmission:
                markedForRetransmissionCount -= 1
                highestNewlyAcked = entry.tsn
            case .gapAcked, .abandoned:
                break
            }
        }
        cumulativeTSNAck = newCumulative
        if retransmitScanStart <= newCumulative { retransmitScanStart = newCumulative.next }

        // Gap Ack Blocks.
        var highestAckedInSack: TSN?
        var processedBlocks = 0
        var nonRenegableRange: Range<Int>?
        for blockIndex in 0..<blockCount {
            let block = sack.gapAckBlocks[blockIndex]
            guard block.start != 0 && block.start <= block.end else { continue }
            processedBlocks += 1
            let blockEnd = newCumulative.advanced(by: UInt32(block.end))
            if highestAckedInSack.map({ blockEnd > $0 }) ?? true { highestAckedInSack = blockEnd }
            let range = (Int(block.start) - 1)..<Int(block.end)
            let nonRenegable = blockIndex >= nonRenegableFrom
            for index in range {
                chunks[index].ackStamp = stamp
                switch chunks[index].state {
                case .abandoned:
                    continue
                case .gapAcked:
                    break
                case .inFlight:
                    let entry = chunks[index]
                    acknowledgeInFlight(entry, highestNewlyAcked: &highestNewlyAcked, sample: &sample, now: now)
                    chunks[index].state = .gapAcked
                case .markedForRetransmission:
                    markedForRetransmissionCount -= 1
                    if highestNewlyAcked.map({ chunks[index].tsn > $0 }) ?? true { highestNewlyAcked = chunks[index].tsn }
                    chunks[index].state = .gapAcked
                }
                if nonRenegable { markNonRenegable(at: index) }
            }
            if nonRenegable {
                nonRenegableRange = nonRenegableRange.map { min($0.lowerBound, range.lowerBound)..<max($0.upperBound, range.upperBound) } ?? range
            }
        }
        if let nonRenegableRange { releaseWhollyKeptMessages(around: nonRenegableRange) }
        outcome.ignoredGapBlocks = sack.gapAckBlocks.count - processedBlocks
        let truncated = sack.gapAckBlocks.count > blockCount

        // The gap range: renege detection, miss indications, the earliest-outstanding check.
        // It reaches the highest TSN this SACK acknowledges, and the highest TSN gap-acknowledged
        // before (anything there not acknowledged now was reneged), except that when blocks
        // were left unread, only what the read blocks span can be judged.
        var scanEnd = highestAckedInSack
        if cumulativeOnly {
            scanEnd = nil
        } else if let previous = previousHighestGapAcked, previous > newCumulative {
            let limit = truncated ? min(previous, highestAckedInSack ?? newCumulative) : previous
            if limit > (scanEnd ?? newCumulative) { scanEnd = limit }
        }
        // Missing TSNs below this one get a miss indication (§7.2.4).
        let missLimit: TSN? = inFastRecovery && outcome.cumulativeAckAdvanced ? highestAckedInSack : highestNewlyAcked
        let threshold = UInt8(configuration.fastRetransmitThreshold)
        if let scanEnd, scanEnd > newCumulative {
            let end = Int(newCumulative.distance(to: scanEnd))
            for index in 0..<end {
                let path = chunks[index].path.rawValue
                switch chunks[index].state {
                case .markedForRetransmission, .abandoned:
                    continue
                case .gapAcked:
                    guard chunks[index].ackStamp != stamp && !chunks[index].isNonRenegable else { continue }
                    // Reneged: back in flight, one miss indication (§6.2.1 D iii).
                    chunks[index].state = .inFlight
                    addToFlight(chunks[index])
                    statistics[path].reneged = true
                    chunks[index].misses &+= chunks[index].misses == .max ? 0 : 1
                case .inFlight:
                    if let lowest = scratch[path].lowestNewlyAcked, chunks[index].tsn < lowest {
                        scratch[path].earlierStillOutstanding = true
                    }
                    guard let missLimit, chunks[index].strikeFloor < missLimit else { continue }
                    chunks[index].misses &+= chunks[index].misses == .max ? 0 : 1
                }
                // A fast retransmission that is lost in turn is fast retransmitted again, like
                // FreeBSD's stack and usrsctp (`fast_retran_tsn`), rather than left to T3 as
                // §7.2.4 step 5 has it: its misses count only from TSNs sent after it
                // (`strikeFloor`), so only a retransmission that newer data overtook is
                // taken as lost. Without it each lost retransmission stalled the association
                // for an RTO (at least RTO.Min, 1 s) once the peer's window filled behind the hole.
                if chunks[index].misses >= threshold {
                    chunks[index].wasFastRetransmitted = true
                    chunks[index].misses = 0
                    markForRetransmission(at: index)
                    outcome.fastRetransmitTSNs.append(chunks[index].tsn)
                    if !inFastRecovery { statistics[path].needsCongestionReduction = true }
                }
            }
        }
        if (truncated || cumulativeOnly), let previous = previousHighestGapAcked, previous > (highestAckedInSack ?? newCumulative) {
            highestGapAckedTSN = previous  // unread blocks (or no blocks at all) may still cover it
        } else {
            highestGapAckedTSN = highestAckedInSack
        }
        if let kept = highestNonRenegableTSN {
            if kept <= newCumulative {
                highestNonRenegableTSN = nil
            } else if highestGapAckedTSN.map({ kept > $0 }) ?? true {
                highestGapAckedTSN = kept
            }
        }

        // §7.2.4 step 6: enter Fast Recovery.
        outcome.isInFastRecovery = inFastRecovery
        if !outcome.fastRetransmitTSNs.isEmpty && !inFastRecovery {
            fastRecoveryExitPoint = highestSent
            outcome.enteredFastRecovery = true
        }

        // Duplicates still held count towards partial_bytes_acked (§7.2.2).
        for duplicate in sack.duplicateTSNs.prefix(configuration.maxDuplicateTSNsProcessed) {
            guard let index = index(of: duplicate) else { continue }
            statistics[chunks[index].path.rawValue].duplicateBytes += chunks[index].wireSize
        }

        // §6.2.1 D ii.
        windowCredit = Int(sack.advertisedReceiverWindowCredit) - outstandingPayloadBytes
        #if DEBUG || SCTP_INVARIANTS
        windowBasis = Int(sack.advertisedReceiverWindowCredit)
        abandonedInFlightPayload = 0
        #endif

        var total = 0
        for index in statistics.indices {
            statistics[index].flightSizeAfterSack = flight[index]
            statistics[index].ackedEarliestOutstanding =
                scratch[index].lowestNewlyAcked != nil && !scratch[index].earlierStillOutstanding
            total += statistics[index].newlyAckedBytes
        }
        outcome.newlyAckedBytes = total
        outcome.rttSample = sample
        outcome.paths = statistics
        outcome.peerReceiverWindow = peerReceiverWindow
        outcome.bytesInFlight = bytesInFlight
        return outcome
    }

    /// Counts a chunk in flight that this SACK newly acknowledges (cumulatively or by a gap block).
    @inline(__always)
    private mutating func acknowledgeInFlight(_ entry: OutstandingChunk, highestNewlyAcked: inout TSN?,
                                              sample: inout RTTSample?, now: SCTPInstant) {
        removeFromFlight(entry)
        let path = entry.path.rawValue
        let tsn = entry.tsn
        statistics[path].newlyAckedBytes += entry.wireSize
        if scratch[path].lowestNewlyAcked.map({ tsn < $0 }) ?? true { scratch[path].lowestNewlyAcked = tsn }
        if highestNewlyAcked.map({ tsn > $0 }) ?? true { highestNewlyAcked = tsn }
        // Karn: only a chunk sent once, and sent after the latest retransmission.
        if entry.transmissions == 1 && tsn > rttBarrier && now >= entry.sentAt
            && (sample.map { tsn > $0.tsn } ?? true) {
            sample = RTTSample(path: entry.path, tsn: tsn, rtt: now - entry.sentAt)
        }
    }

    // MARK: Test hooks (the setters are private to this file)

    #if DEBUG
    /// Test hook: adds `bytes` to a path's flight counter only, breaking the flight sum.
    mutating func corruptFlightForTesting(path: PathID, bytes: Int) {
        flight[path.rawValue] += bytes
    }

    /// Test hook: changes the window credit only.
    mutating func corruptWindowCreditForTesting(by bytes: Int) {
        windowCredit += bytes
    }
    #endif
}
