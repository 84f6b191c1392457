import DequeModule
import NIOCore
import SCTPWire

/// One received DATA chunk held for reassembly or ordering.
struct ReassemblyFragment: Sendable {
    var tsn: TSN
    var ssn: SSN
    var flags: DataFlags
    var ppid: UInt32
    var payload: ByteBuffer

    init(_ chunk: consuming DataChunk) {
        tsn = chunk.tsn
        ssn = chunk.ssn
        flags = chunk.dataFlags
        ppid = chunk.payloadProtocolIdentifier
        payload = chunk.payload
    }

    @inline(__always) var isBeginning: Bool { flags.contains(.beginning) }
    @inline(__always) var isEnd: Bool { flags.contains(.ending) }
    @inline(__always) var size: Int { payload.readableBytes }
}

/// A message being handed out in pieces.
struct PartialDeliveryState: Hashable, Sendable {
    var isUnordered: Bool
    var ssn: SSN
    var ppid: UInt32
    /// The TSN of the next fragment to hand out.
    var nextTSN: TSN
}

/// Where the per-stream machines put their results: the output queue and the byte count
/// shared by all streams, plus the limits they consult.
struct ReassemblySink: Sendable {
    var output: Deque<ReassemblyOutput> = []
    var bufferedBytes = 0
    /// Fragments held (each counted in `bufferedBytes` by its payload only).
    var heldFragments = 0
    /// Payload bytes of the messages in `output`.
    var outputBytes = 0
    let memoryLimit: Int
    let partialDeliveryPoint: Int
    /// What each held fragment counts against `memoryLimit` beyond its payload
    /// (`ReassemblyQueue.Configuration.fragmentOverhead`).
    let fragmentOverhead: Int
    let allocator = ByteBufferAllocator()

    init(memoryLimit: Int, partialDeliveryPoint: Int, fragmentOverhead: Int) {
        self.memoryLimit = memoryLimit
        self.partialDeliveryPoint = partialDeliveryPoint
        self.fragmentOverhead = fragmentOverhead
    }

    /// What the held fragments count against `memoryLimit`: their payload, and
    /// `fragmentOverhead` for each (its slot, its buffer's header), so that a peer sending
    /// tiny fragments cannot make us hold many times the limit.
    var chargedBytes: Int { bufferedBytes + heldFragments * fragmentOverhead }

    var isMemoryExhausted: Bool { chargedBytes >= memoryLimit }

    /// Takes the next output.
    mutating func pop() -> ReassemblyOutput? {
        guard let next = output.popFirst() else { return nil }
        if case .message(let m) = next { outputBytes -= m.payload.readableBytes }
        return next
    }

    /// Hands out a fragment that was never buffered (a whole B+E message): no copy.
    mutating func deliverDirect(_ f: consuming ReassemblyFragment, stream: UInt16, isUnordered: Bool) {
        outputBytes += f.size
        output.append(.message(ReceivedMessage(
            streamIdentifier: stream, payloadProtocolIdentifier: f.ppid, isUnordered: isUnordered, ssn: f.ssn,
            firstTSN: f.tsn, lastTSN: f.tsn, payload: f.payload, isComplete: true)))
    }

    /// Hands out `q[range]` as one message or piece and removes it from `q`; returns the
    /// payload bytes released. One fragment keeps its slice; several are copied once into
    /// a new buffer.
    mutating func deliver(_ q: inout Deque<ReassemblyFragment>, _ range: Range<Int>, stream: UInt16, isUnordered: Bool,
                          ssn: SSN, ppid: UInt32, isComplete: Bool) -> Int {
        let payload: ByteBuffer
        var bytes = 0
        if range.count == 1 {
            payload = q[range.lowerBound].payload
            bytes = payload.readableBytes
        } else {
            for k in range { bytes += q[k].size }
            var buffer = allocator.buffer(capacity: bytes)
            for k in range { buffer.writeImmutableBuffer(q[k].payload) }
            payload = buffer
        }
        outputBytes += bytes
        output.append(.message(ReceivedMessage(
            streamIdentifier: stream, payloadProtocolIdentifier: ppid, isUnordered: isUnordered, ssn: ssn,
            firstTSN: q[range.lowerBound].tsn, lastTSN: q[range.upperBound - 1].tsn, payload: payload,
            isComplete: isComplete)))
        q.removeSubrange(range)
        bufferedBytes -= bytes
        heldFragments -= range.count
        return bytes
    }

    /// Removes `q[range]` without delivering it; returns the payload bytes released.
    mutating func discard(_ q: inout Deque<ReassemblyFragment>, _ range: Range<Int>) -> Int {
        var bytes = 0
        for k in range { bytes += q[k].size }
        q.removeSubrange(range)
        bufferedBytes -= bytes
        heldFragments -= range.count
        return bytes
    }
}

/// The receive side of one stream for DATA chunks (RFC 9260 §6.5, §6.6, §6.9).
///
/// DATA fragments of one message carry consecutive TSNs (§6.9), so a message is a run of
/// consecutive TSNs from a B fragment to an E fragment. Ordered and unordered fragments
/// wait in two deques sorted by TSN. For ordered data the stream's next message is at the
/// front of its deque (a sender assigns TSNs in SSN order within a stream), so in-order
/// delivery only looks at the front; the verified prefix of the head message is cached
/// (`headRunCount`) so that a message arriving in order costs O(1) per fragment.
///
/// At most one message per stream is in partial delivery, and while it is, no other
/// message of the stream is delivered (the RFC 6458 fragment-interleave level 1
/// guarantee; with DATA there is no message identifier to tell two messages of one stream
/// apart). A partial delivery starts only for a message whose first TSN is at or below
/// the cumulative TSN ack point: its next fragment is then always the next TSN the
/// association needs, which is never refused for lack of space, so the messages it holds
/// back can never wait forever.
///
/// The queue keeps one only while its stream holds something (`ReceiveStreamEntry`); a
/// stream that holds nothing is its next SSN alone. For I-DATA (RFC 8260) the sibling
/// `InterleavedStreamReassembler` keyed by MID/FSN takes this one's place.
struct StreamReassembler: ReceiveStreamReassembler {
    let id: UInt16
    var nextSSN = SSN(0)
    var ordered: Deque<ReassemblyFragment> = []
    var unordered: Deque<ReassemblyFragment> = []
    /// How many fragments at the front of `ordered` are known to form the start of the
    /// next message (B, then consecutive TSNs, SSN `nextSSN`, no E yet).
    var headRunCount = 0
    var headRunBytes = 0
    var unorderedBytes = 0
    var partial: PartialDeliveryState?
    /// A FORWARD TSN skipped ordered messages up to this SSN while a partial delivery of
    /// an unordered message held the stream; applied when it ends.
    var pendingSkip: SSN?

    init(id: UInt16) { self.id = id }

    init(id: UInt16, next: UInt32) {
        self.id = id
        nextSSN = SSN(UInt16(truncatingIfNeeded: next))
    }

    var next: UInt32 { UInt32(nextSSN.rawValue) }

    mutating func restartNumbering() { nextSSN = SSN(0) }

    var isIdle: Bool { ordered.isEmpty && unordered.isEmpty && partial == nil && pendingSkip == nil }

    /// Where `tsn` is, or would be inserted, in `q` (sorted by TSN).
    @inline(__always)
    static func position(of tsn: TSN, in q: Deque<ReassemblyFragment>) -> (index: Int, found: Bool) {
        guard let last = q.last else { return (0, false) }
        if last.tsn < tsn { return (q.count, false) }
        var lo = 0
        var hi = q.count
        while lo < hi {
            let mid = (lo &+ hi) >> 1
            if q[mid].tsn < tsn { lo = mid &+ 1 } else { hi = mid }
        }
        return (lo, lo < q.count && q[lo].tsn == tsn)
    }

    // MARK: - Insert

    /// Takes an accepted fragment. `cumulativeTSN` is the cumulative TSN ack point counting
    /// this fragment if it fills it: every TSN at or below it has arrived.
    mutating func insert(_ f: consuming ReassemblyFragment, cumulativeTSN: TSN, sink: inout ReassemblySink) -> ReassemblyQueue.InsertResult {
        f.flags.contains(.unordered)
            ? insertUnordered(f, cumulativeTSN: cumulativeTSN, sink: &sink)
            : insertOrdered(f, cumulativeTSN: cumulativeTSN, sink: &sink)
    }

    private mutating func insertOrdered(_ f: consuming ReassemblyFragment, cumulativeTSN: TSN,
                                        sink: inout ReassemblySink) -> ReassemblyQueue.InsertResult {
        // Fast path: the next whole message, nothing waiting.
        if partial == nil, ordered.isEmpty, pendingSkip == nil, f.ssn == nextSSN, f.isBeginning, f.isEnd {
            sink.deliverDirect(f, stream: id, isUnordered: false)
            nextSSN = nextSSN.next
            return .accepted
        }
        let (index, found) = Self.position(of: f.tsn, in: ordered)
        if found { return .duplicate }
        sink.bufferedBytes += f.size
        sink.heldFragments += 1
        let tsn = f.tsn
        ordered.insert(f, at: index)
        if index < headRunCount {
            headRunCount = 0
            headRunBytes = 0
        }
        if let p = partial {
            if !p.isUnordered && tsn == p.nextTSN { continuePartial(cumulativeTSN: cumulativeTSN, sink: &sink) }
        } else {
            deliverOrdered(cumulativeTSN: cumulativeTSN, sink: &sink)
        }
        return .accepted
    }

    private mutating func insertUnordered(_ f: consuming ReassemblyFragment, cumulativeTSN: TSN,
                                          sink: inout ReassemblySink) -> ReassemblyQueue.InsertResult {
        let (index, found) = Self.position(of: f.tsn, in: unordered)
        if found { return .duplicate }
        if partial == nil, f.isBeginning, f.isEnd {
            // A whole message: out at once, never buffered, no copy.
            sink.deliverDirect(f, stream: id, isUnordered: true)
            return .accepted
        }
        unorderedBytes += f.size
        sink.bufferedBytes += f.size
        sink.heldFragments += 1
        let tsn = f.tsn
        unordered.insert(f, at: index)
        if let p = partial {
            if p.isUnordered && tsn == p.nextTSN { continuePartial(cumulativeTSN: cumulativeTSN, sink: &sink) }
            return .accepted
        }
        completeUnordered(around: index, cumulativeTSN: cumulativeTSN, sink: &sink)
        return .accepted
    }

    // MARK: - Ordered delivery

    /// Delivers the stream's next messages while they are complete; starts a partial
    /// delivery of the head message when it is large enough or memory is exhausted.
    mutating func deliverOrdered(cumulativeTSN: TSN, sink: inout ReassemblySink) {
        guard partial == nil else { return }
        if let skip = pendingSkip {
            pendingSkip = nil
            applySkip(through: skip, sink: &sink)
        }
        while partial == nil {
            var complete = false
            while headRunCount < ordered.count {
                let f = ordered[headRunCount]
                if headRunCount == 0 {
                    guard f.ssn == nextSSN, f.isBeginning else { return }
                } else {
                    guard f.tsn == ordered[headRunCount - 1].tsn.next, f.ssn == nextSSN, !f.isBeginning else { break }
                }
                headRunCount += 1
                headRunBytes += f.size
                if f.isEnd {
                    complete = true
                    break
                }
            }
            guard headRunCount > 0 else { return }
            let head = ordered[0]
            if complete {
                _ = sink.deliver(&ordered, 0..<headRunCount, stream: id, isUnordered: false, ssn: nextSSN,
                                 ppid: head.ppid, isComplete: true)
                headRunCount = 0
                headRunBytes = 0
                nextSSN = nextSSN.next
                continue
            }
            if (headRunBytes >= sink.partialDeliveryPoint || sink.isMemoryExhausted) && head.tsn <= cumulativeTSN {
                let last = ordered[headRunCount - 1]
                partial = PartialDeliveryState(isUnordered: false, ssn: nextSSN, ppid: head.ppid, nextTSN: last.tsn.next)
                _ = sink.deliver(&ordered, 0..<headRunCount, stream: id, isUnordered: false, ssn: nextSSN,
                                 ppid: head.ppid, isComplete: false)
                headRunCount = 0
                headRunBytes = 0
            }
            return
        }
    }

    /// FORWARD TSN skipped ordered messages up to `skip`: deliver the complete ones still
    /// held with SSN ≤ `skip` (stranded behind the skipped ones, RFC 3758 §3.6), drop the
    /// incomplete ones, and expect `skip + 1` next.
    private mutating func applySkip(through skip: SSN, sink: inout ReassemblySink) {
        headRunCount = 0
        headRunBytes = 0
        while let f = ordered.first, f.ssn <= skip {
            var j = 0
            while !ordered[j].isEnd, j + 1 < ordered.count, ordered[j + 1].tsn == ordered[j].tsn.next,
                  ordered[j + 1].ssn == f.ssn, !ordered[j + 1].isBeginning {
                j += 1
            }
            if f.isBeginning && ordered[j].isEnd {
                _ = sink.deliver(&ordered, 0..<(j + 1), stream: id, isUnordered: false, ssn: f.ssn, ppid: f.ppid,
                                 isComplete: true)
            } else {
                _ = sink.discard(&ordered, 0..<(j + 1))
            }
        }
        if nextSSN <= skip { nextSSN = skip.next }
    }

    // MARK: - Unordered delivery

    /// After inserting `unordered[i]`: delivers its message if complete, or starts a
    /// partial delivery of it when it is large enough or memory is exhausted.
    private mutating func completeUnordered(around i: Int, cumulativeTSN: TSN, sink: inout ReassemblySink) {
        var top = i
        while !unordered[top].isEnd, top + 1 < unordered.count, unordered[top + 1].tsn == unordered[top].tsn.next,
              !unordered[top + 1].isBeginning {
            top += 1
        }
        let foundEnd = unordered[top].isEnd
        // Cheap test first: a message cannot hold more bytes than the stream's unordered data.
        let mayDeliverPartially = unorderedBytes >= sink.partialDeliveryPoint || sink.isMemoryExhausted
        guard foundEnd || mayDeliverPartially else { return }
        var bottom = i
        while !unordered[bottom].isBeginning, bottom > 0, unordered[bottom - 1].tsn.next == unordered[bottom].tsn,
              !unordered[bottom - 1].isEnd {
            bottom -= 1
        }
        let first = unordered[bottom]
        guard first.isBeginning else { return }
        if foundEnd {
            unorderedBytes -= sink.deliver(&unordered, bottom..<(top + 1), stream: id, isUnordered: true,
                                           ssn: first.ssn, ppid: first.ppid, isComplete: true)
            return
        }
        guard first.tsn <= cumulativeTSN else { return }
        var bytes = 0
        for k in bottom...top { bytes += unordered[k].size }
        guard bytes >= sink.partialDeliveryPoint || sink.isMemoryExhausted else { return }
        partial = PartialDeliveryState(isUnordered: true, ssn: first.ssn, ppid: first.ppid, nextTSN: unordered[top].tsn.next)
        unorderedBytes -= sink.deliver(&unordered, bottom..<(top + 1), stream: id, isUnordered: true,
                                       ssn: first.ssn, ppid: first.ppid, isComplete: false)
    }

    /// Delivers every complete unordered message held (after a partial delivery that held
    /// them back ends).
    private mutating func deliverCompleteUnordered(sink: inout ReassemblySink) {
        var i = 0
        while i < unordered.count {
            guard unordered[i].isBeginning else {
                i += 1
                continue
            }
            var j = i
            while !unordered[j].isEnd, j + 1 < unordered.count, unordered[j + 1].tsn == unordered[j].tsn.next,
                  !unordered[j + 1].isBeginning {
                j += 1
            }
            if unordered[j].isEnd {
                let first = unordered[i]
                unorderedBytes -= sink.deliver(&unordered, i..<(j + 1), stream: id, isUnordered: true,
                                               ssn: first.ssn, ppid: first.ppid, isComplete: true)
            } else {
                i = j + 1
            }
        }
    }

    // MARK: - Partial delivery

    /// Hands out the fragments that continue the partial delivery, if they are here.
    private mutating func continuePartial(cumulativeTSN: TSN, sink: inout ReassemblySink) {
        guard var p = partial else { return }
        let ended: Bool
        if p.isUnordered {
            let (e, bytes) = Self.continueRun(&unordered, &p, stream: id, sink: &sink)
            unorderedBytes -= bytes
            ended = e
        } else {
            ended = Self.continueRun(&ordered, &p, stream: id, sink: &sink).ended
        }
        if ended {
            partial = nil
            if !p.isUnordered { nextSSN = p.ssn.next }
            partialDeliveryEnded(cumulativeTSN: cumulativeTSN, sink: &sink)
        } else {
            partial = p
        }
    }

    private static func continueRun(_ q: inout Deque<ReassemblyFragment>, _ p: inout PartialDeliveryState, stream: UInt16,
                                    sink: inout ReassemblySink) -> (ended: Bool, bytes: Int) {
        let (start, found) = position(of: p.nextTSN, in: q)
        guard found else { return (false, 0) }
        var end = start
        var ended = false
        while end < q.count {
            let f = q[end]
            guard f.tsn == p.nextTSN.advanced(by: UInt32(end - start)), !f.isBeginning,
                  p.isUnordered || f.ssn == p.ssn else { break }
            end += 1
            if f.isEnd {
                ended = true
                break
            }
        }
        guard end > start else { return (false, 0) }
        let bytes = sink.deliver(&q, start..<end, stream: stream, isUnordered: p.isUnordered, ssn: p.ssn,
                                 ppid: p.ppid, isComplete: ended)
        p.nextTSN = p.nextTSN.advanced(by: UInt32(end - start))
        return (ended, bytes)
    }

    /// Releases what the partial delivery held back.
    private mutating func partialDeliveryEnded(cumulativeTSN: TSN, sink: inout ReassemblySink) {
        headRunCount = 0
        headRunBytes = 0
        deliverCompleteUnordered(sink: &sink)
        deliverOrdered(cumulativeTSN: cumulativeTSN, sink: &sink)
    }

    // MARK: - FORWARD TSN

    /// Applies a FORWARD TSN to this stream (RFC 3758 §3.6): aborts a partial delivery
    /// whose rest was skipped, drops every held message that misses a TSN at or below
    /// `newCumulativeTSN`, skips ordered messages up to `skippedSSN` (delivering complete
    /// ones stranded behind them) and delivers what is then deliverable.
    mutating func forward(to newCumulativeTSN: TSN, skippedSSN: SSN?, sink: inout ReassemblySink) {
        var aborted = false
        if let p = partial {
            var abort = p.nextTSN <= newCumulativeTSN
            if !p.isUnordered, let skip = skippedSSN, p.ssn <= skip { abort = true }
            if abort {
                sink.output.append(.partialDeliveryAborted(
                    PartialDeliveryAbort(streamIdentifier: id, isUnordered: p.isUnordered, ssn: p.ssn)))
                partial = nil
                aborted = true
                if !p.isUnordered {
                    // The message's remaining fragments, if any arrived, sit at the front.
                    var n = 0
                    while n < ordered.count, ordered[n].ssn == p.ssn, !ordered[n].isBeginning { n += 1 }
                    if n > 0 { _ = sink.discard(&ordered, 0..<n) }
                    nextSSN = p.ssn.next
                }
            }
        }
        headRunCount = 0
        headRunBytes = 0
        _ = Self.dropAbandoned(&ordered, through: newCumulativeTSN, sameSSN: true, sink: &sink)
        unorderedBytes -= Self.dropAbandoned(&unordered, through: newCumulativeTSN, sameSSN: false, sink: &sink)
        if let skip = skippedSSN, nextSSN <= skip {
            // Keep the farthest skip if one is already waiting.
            if pendingSkip.map({ $0 < skip }) ?? true { pendingSkip = skip }
        }
        guard partial == nil else { return }
        if aborted { deliverCompleteUnordered(sink: &sink) }
        deliverOrdered(cumulativeTSN: newCumulativeTSN, sink: &sink)
    }

    /// Removes the messages in `q` that start at or below `c` and miss a TSN at or below
    /// `c` (RFC 3758 §3.6: they will never be completed). Complete messages, and messages
    /// missing only TSNs above `c`, stay. Returns the bytes released.
    private static func dropAbandoned(_ q: inout Deque<ReassemblyFragment>, through c: TSN, sameSSN: Bool,
                                      sink: inout ReassemblySink) -> Int {
        guard let first = q.first, first.tsn <= c else { return 0 }
        var drops: [Range<Int>] = []
        var i = 0
        while i < q.count, q[i].tsn <= c {
            var j = i
            while !q[j].isEnd, j + 1 < q.count, q[j + 1].tsn == q[j].tsn.next, !q[j + 1].isBeginning,
                  !sameSSN || q[j + 1].ssn == q[j].ssn {
                j += 1
            }
            let keep = q[i].isBeginning && (q[j].isEnd || c < q[j].tsn.next)
            if !keep { drops.append(i..<(j + 1)) }
            i = j + 1
        }
        var bytes = 0
        for range in drops.reversed() { bytes += sink.discard(&q, range) }
        return bytes
    }
}
