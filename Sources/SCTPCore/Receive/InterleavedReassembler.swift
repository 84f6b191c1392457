import NIOCore
import SCTPWire

/// One received I-DATA fragment held for reassembly.
struct InterleavedFragment: Sendable {
    var tsn: TSN
    var fsn: UInt32
    var payload: ByteBuffer
    @inline(__always) var size: Int { payload.readableBytes }
}

/// The fragments of one I-DATA message (stream, U flag, MID) received so far, sorted by FSN,
/// without those already handed out by a partial delivery.
struct InterleavedMessage: Sendable {
    var ppid: UInt32 = 0
    /// The first fragment (B bit, FSN 0) arrived.
    var hasBeginning = false
    /// The FSN of the last fragment (E bit), once it arrived.
    var endFSN: UInt32?
    /// The FSN the next fragment to hand out must have (0 until a partial delivery started).
    var nextFSN: UInt32 = 0
    /// Fragments not handed out, sorted by FSN, each FSN once, all at or above `nextFSN`.
    var fragments: [InterleavedFragment] = []
    /// Payload bytes in `fragments`.
    var bytes = 0

    /// A message whose first fragment just arrived out of turn: room for a few more at once.
    init() { fragments.reserveCapacity(8) }

    /// Nothing held and nothing handed out: a message only created by a dropped fragment.
    var isEmpty: Bool { fragments.isEmpty && nextFSN == 0 }

    /// Every fragment from `nextFSN` to the end is here.
    var isComplete: Bool {
        guard hasBeginning, let endFSN else { return false }
        return UInt64(fragments.count) == UInt64(endFSN) - UInt64(nextFSN) + 1
    }

    /// How many fragments at the front continue from `nextFSN` without a gap, and their bytes.
    var run: (count: Int, bytes: Int) {
        var count = 0
        var bytes = 0
        while count < fragments.count && UInt64(fragments[count].fsn) == UInt64(nextFSN) + UInt64(count) {
            bytes += fragments[count].size
            count += 1
        }
        return (count, bytes)
    }

    /// Where a fragment with `fsn` is, or goes, in `fragments`.
    func position(of fsn: UInt32) -> (index: Int, found: Bool) {
        if let last = fragments.last, last.fsn < fsn { return (fragments.count, false) }
        var lo = 0
        var hi = fragments.count
        while lo < hi {
            let mid = (lo &+ hi) >> 1
            if fragments[mid].fsn < fsn { lo = mid &+ 1 } else { hi = mid }
        }
        return (lo, lo < fragments.count && fragments[lo].fsn == fsn)
    }
}

/// A message of an I-DATA stream being handed out in pieces.
struct InterleavedPartialDelivery: Hashable, Sendable {
    var isUnordered: Bool
    var mid: MID
}

/// The receive side of one stream for I-DATA chunks (RFC 8260 §2.1): messages are named by
/// (U flag, MID) and their fragments by FSN, so fragments of different messages may arrive
/// interleaved on any TSNs. Ordered messages leave in MID order (the next expected MID per
/// stream, 32-bit serial arithmetic), unordered ones as soon as they are complete.
///
/// Partial delivery as for DATA (`StreamReassembler`): a deliverable message whose first
/// fragments reach the partial delivery point, or any while memory is exhausted, is handed
/// out in pieces, one message per stream at a time; while it is, the stream's other messages
/// wait. Streams of the same association may be in partial delivery at the same time.
///
/// As for DATA, the queue keeps one only while its stream holds something (`ReceiveStreamEntry`).
struct InterleavedStreamReassembler: ReceiveStreamReassembler {
    let id: UInt16
    var nextMID = MID(0)
    var ordered: [UInt32: InterleavedMessage] = [:]
    var unordered: [UInt32: InterleavedMessage] = [:]
    var partial: InterleavedPartialDelivery?

    init(id: UInt16) { self.id = id }

    init(id: UInt16, next: UInt32) {
        self.id = id
        nextMID = MID(next)
    }

    var next: UInt32 { nextMID.rawValue }

    mutating func restartNumbering() { nextMID = MID(0) }

    var isIdle: Bool { ordered.isEmpty && unordered.isEmpty && partial == nil }

    /// Payload bytes held.
    var heldBytes: Int {
        ordered.values.reduce(0) { $0 + $1.bytes } + unordered.values.reduce(0) { $0 + $1.bytes }
    }

    /// Fragments held.
    var heldFragmentCount: Int {
        ordered.values.reduce(0) { $0 + $1.fragments.count } + unordered.values.reduce(0) { $0 + $1.fragments.count }
    }

    // MARK: - Insert

    /// Takes a fragment the data tracker found new (its TSN was never seen). A fragment that
    /// can no longer be used (its ordered message was delivered or skipped, its FSN handed
    /// out or held already, past the message's end) is dropped, but still `.accepted`: its
    /// TSN is acknowledged like any other.
    mutating func insert(_ chunk: IDataChunk, cumulativeTSN: TSN, sink: inout ReassemblySink) -> ReassemblyQueue.InsertResult {
        let isUnordered = chunk.dataFlags.contains(.unordered)
        let isBeginning = chunk.dataFlags.contains(.beginning)
        let isEnd = chunk.dataFlags.contains(.ending)
        let mid = chunk.mid
        if !isUnordered && mid < nextMID { return .accepted }
        // Fast path: a whole message that may leave at once, never buffered, no copy.
        if isBeginning && isEnd && partial == nil {
            if isUnordered, unordered[mid.rawValue] == nil {
                deliverDirect(chunk, isUnordered: true, sink: &sink)
                return .accepted
            }
            if !isUnordered, mid == nextMID, ordered[mid.rawValue] == nil {
                deliverDirect(chunk, isUnordered: false, sink: &sink)
                nextMID = nextMID.next
                deliverOrdered(cumulativeTSN: cumulativeTSN, sink: &sink)
                return .accepted
            }
        }
        let fsn: UInt32 = isBeginning ? 0 : chunk.ppidOrFSN
        let stored = isUnordered
            ? Self.add(chunk, fsn: fsn, to: &unordered[mid.rawValue, default: InterleavedMessage()], sink: &sink)
            : Self.add(chunk, fsn: fsn, to: &ordered[mid.rawValue, default: InterleavedMessage()], sink: &sink)
        guard stored else {
            // Nothing was added: do not leave an empty message behind.
            if isUnordered {
                if unordered[mid.rawValue]?.isEmpty == true { unordered[mid.rawValue] = nil }
            } else if ordered[mid.rawValue]?.isEmpty == true {
                ordered[mid.rawValue] = nil
            }
            return .accepted
        }
        if let p = partial {
            // The stream's other messages wait for the end of its partial delivery.
            if p.isUnordered == isUnordered && p.mid == mid { continuePartial(cumulativeTSN: cumulativeTSN, sink: &sink) }
            return .accepted
        }
        if isUnordered {
            completeUnordered(mid: mid, cumulativeTSN: cumulativeTSN, sink: &sink)
        } else {
            deliverOrdered(cumulativeTSN: cumulativeTSN, sink: &sink)
        }
        if partial == nil && sink.isMemoryExhausted {
            // Make room: hand out what can be handed out of this stream.
            if isUnordered { startPartialDelivery(isUnordered: true, mid: mid, force: true, cumulativeTSN: cumulativeTSN, sink: &sink) }
        }
        return .accepted
    }

    /// Adds a fragment to its message; false when it was dropped.
    private static func add(_ chunk: IDataChunk, fsn: UInt32, to message: inout InterleavedMessage, sink: inout ReassemblySink) -> Bool {
        guard fsn >= message.nextFSN else { return false }
        if let end = message.endFSN, fsn > end { return false }
        if chunk.dataFlags.contains(.ending) {
            guard message.endFSN == nil, message.fragments.last.map({ $0.fsn <= fsn }) ?? true else { return false }
        }
        let (index, found) = message.position(of: fsn)
        guard !found else { return false }
        if chunk.dataFlags.contains(.beginning) {
            message.hasBeginning = true
            message.ppid = chunk.ppidOrFSN
        }
        if chunk.dataFlags.contains(.ending) { message.endFSN = fsn }
        var payload = chunk.payload
        DataReceiver.compact(&payload)
        message.fragments.insert(InterleavedFragment(tsn: chunk.tsn, fsn: fsn, payload: payload), at: index)
        message.bytes += payload.readableBytes
        sink.bufferedBytes += payload.readableBytes
        sink.heldFragments += 1
        return true
    }

    private func deliverDirect(_ chunk: IDataChunk, isUnordered: Bool, sink: inout ReassemblySink) {
        Self.deliverDirect(chunk, stream: id, isUnordered: isUnordered, sink: &sink)
    }

    /// Hands out a whole message that was never buffered: no copy.
    @inline(__always)
    static func deliverDirect(_ chunk: IDataChunk, stream id: UInt16, isUnordered: Bool, sink: inout ReassemblySink) {
        sink.outputBytes += chunk.payload.readableBytes
        sink.output.append(.message(ReceivedMessage(
            streamIdentifier: id, payloadProtocolIdentifier: chunk.ppidOrFSN, isUnordered: isUnordered,
            ssn: SSN(UInt16(truncatingIfNeeded: chunk.mid.rawValue)), firstTSN: chunk.tsn, lastTSN: chunk.tsn,
            payload: chunk.payload, isComplete: true)))
    }

    /// Hands out the first `count` fragments of `message` as one message or piece; returns
    /// the bytes released.
    private func hand(_ message: inout InterleavedMessage, count: Int, mid: MID, isUnordered: Bool, isComplete: Bool,
                      sink: inout ReassemblySink) -> Int {
        let payload: ByteBuffer
        var bytes = 0
        if count == 1 {
            payload = message.fragments[0].payload
            bytes = payload.readableBytes
        } else {
            for k in 0..<count { bytes += message.fragments[k].size }
            var buffer = sink.allocator.buffer(capacity: bytes)
            for k in 0..<count { buffer.writeImmutableBuffer(message.fragments[k].payload) }
            payload = buffer
        }
        sink.outputBytes += bytes
        sink.output.append(.message(ReceivedMessage(
            streamIdentifier: id, payloadProtocolIdentifier: message.ppid, isUnordered: isUnordered,
            ssn: SSN(UInt16(truncatingIfNeeded: mid.rawValue)), firstTSN: message.fragments[0].tsn,
            lastTSN: message.fragments[count - 1].tsn, payload: payload, isComplete: isComplete)))
        message.fragments.removeFirst(count)
        message.nextFSN &+= UInt32(count)
        message.bytes -= bytes
        sink.bufferedBytes -= bytes
        sink.heldFragments -= count
        return bytes
    }

    // MARK: - Delivery

    /// Delivers the stream's next ordered messages while they are complete; starts a partial
    /// delivery of the next one when it is large enough or memory is exhausted.
    mutating func deliverOrdered(cumulativeTSN: TSN, sink: inout ReassemblySink) {
        while partial == nil, let (complete, bytes) = ordered[nextMID.rawValue].map({ ($0.isComplete, $0.bytes) }) {
            if complete {
                // Taken out of the table first, so that handing it out copies no fragment list.
                var message = ordered.removeValue(forKey: nextMID.rawValue)!
                _ = hand(&message, count: message.fragments.count, mid: nextMID, isUnordered: false, isComplete: true, sink: &sink)
                nextMID = nextMID.next
                continue
            }
            if bytes < sink.partialDeliveryPoint && !sink.isMemoryExhausted { return }
            startPartialDelivery(isUnordered: false, mid: nextMID, force: false, cumulativeTSN: cumulativeTSN, sink: &sink)
            return
        }
    }

    /// Delivers the unordered message `mid` if it is complete, or starts its partial delivery.
    private mutating func completeUnordered(mid: MID, cumulativeTSN: TSN, sink: inout ReassemblySink) {
        guard partial == nil, let complete = unordered[mid.rawValue]?.isComplete else { return }
        if complete {
            var message = unordered.removeValue(forKey: mid.rawValue)!
            _ = hand(&message, count: message.fragments.count, mid: mid, isUnordered: true, isComplete: true, sink: &sink)
            return
        }
        startPartialDelivery(isUnordered: true, mid: mid, force: false, cumulativeTSN: cumulativeTSN, sink: &sink)
    }

    /// Starts handing out message `mid` in pieces when its first fragments (from FSN 0) hold
    /// at least the partial delivery point, or memory is exhausted (`force`: it is).
    ///
    /// As for DATA, only a message whose first fragment's TSN is at or below the cumulative
    /// TSN ack point may start: every earlier message of the stream (lower TSNs) has then
    /// arrived whole and left, so a partial delivery never holds back an older message.
    private mutating func startPartialDelivery(isUnordered: Bool, mid: MID, force: Bool, cumulativeTSN: TSN,
                                               sink: inout ReassemblySink) {
        guard partial == nil else { return }
        let key = mid.rawValue
        guard let held = isUnordered ? unordered[key] : ordered[key], held.hasBeginning, held.nextFSN == 0 else { return }
        let (count, bytes) = held.run
        guard count > 0, held.fragments[0].tsn <= cumulativeTSN,
              force || bytes >= sink.partialDeliveryPoint || sink.isMemoryExhausted else { return }
        var message = (isUnordered ? unordered.removeValue(forKey: key) : ordered.removeValue(forKey: key))!
        let ends = message.endFSN.map { UInt64($0) + 1 == UInt64(count) } ?? false
        _ = hand(&message, count: count, mid: mid, isUnordered: isUnordered, isComplete: ends, sink: &sink)
        if ends {
            // Not expected (a complete message is delivered whole), but keep it consistent.
            if !isUnordered { nextMID = nextMID.next }
            return
        }
        if isUnordered { unordered[key] = message } else { ordered[key] = message }
        partial = InterleavedPartialDelivery(isUnordered: isUnordered, mid: mid)
    }

    /// Hands out the fragments that continue the partial delivery, if they are here.
    private mutating func continuePartial(cumulativeTSN: TSN, sink: inout ReassemblySink) {
        guard let p = partial else { return }
        let key = p.mid.rawValue
        guard let held = p.isUnordered ? unordered[key] : ordered[key] else {
            partial = nil
            return
        }
        guard held.run.count > 0 else { return }
        var message = (p.isUnordered ? unordered.removeValue(forKey: key) : ordered.removeValue(forKey: key))!
        let count = message.run.count
        let ends = message.endFSN.map { UInt64($0) + 1 == UInt64(message.nextFSN) + UInt64(count) } ?? false
        _ = hand(&message, count: count, mid: p.mid, isUnordered: p.isUnordered, isComplete: ends, sink: &sink)
        if !ends {
            if p.isUnordered { unordered[key] = message } else { ordered[key] = message }
            return
        }
        if !p.isUnordered { nextMID = p.mid.next }
        partial = nil
        partialDeliveryEnded(cumulativeTSN: cumulativeTSN, sink: &sink)
    }

    /// Releases what a partial delivery held back: complete unordered messages, then the
    /// ordered ones in turn.
    private mutating func partialDeliveryEnded(cumulativeTSN: TSN, sink: inout ReassemblySink) {
        deliverCompleteUnordered(sink: &sink)
        deliverOrdered(cumulativeTSN: cumulativeTSN, sink: &sink)
    }

    /// Delivers every complete unordered message held, lowest MID first.
    private mutating func deliverCompleteUnordered(sink: inout ReassemblySink) {
        guard partial == nil else { return }
        let complete = unordered.filter { $0.value.isComplete }.keys.sorted { MID($0) < MID($1) }
        for key in complete {
            guard var message = unordered.removeValue(forKey: key) else { continue }
            _ = hand(&message, count: message.fragments.count, mid: MID(key), isUnordered: true, isComplete: true, sink: &sink)
        }
    }

    // MARK: - I-FORWARD-TSN

    /// Applies the I-FORWARD-TSN entries of this stream (RFC 8260 §2.3.2): `orderedSkip` and
    /// `unorderedSkip` are the highest MIDs skipped. A partial delivery of a skipped message
    /// is aborted; incomplete messages up to the MID are dropped, complete ones stranded
    /// behind them delivered; ordered delivery resumes after the skipped MID.
    mutating func forward(orderedSkip: MID?, unorderedSkip: MID?, cumulativeTSN: TSN, sink: inout ReassemblySink) {
        var aborted = false
        if let p = partial {
            let skip = p.isUnordered ? unorderedSkip : orderedSkip
            if let skip, p.mid <= skip {
                sink.output.append(.partialDeliveryAborted(PartialDeliveryAbort(
                    streamIdentifier: id, isUnordered: p.isUnordered, ssn: SSN(UInt16(truncatingIfNeeded: p.mid.rawValue)))))
                partial = nil
                aborted = true
                let key = p.mid.rawValue
                if let message = p.isUnordered ? unordered.removeValue(forKey: key) : ordered.removeValue(forKey: key) {
                    sink.bufferedBytes -= message.bytes
                    sink.heldFragments -= message.fragments.count
                }
            }
        }
        if let skip = unorderedSkip {
            for key in Array(unordered.keys) where MID(key) <= skip && partial.map({ !$0.isUnordered || $0.mid.rawValue != key }) ?? true {
                if let message = unordered[key], !message.isComplete {
                    sink.bufferedBytes -= message.bytes
                    sink.heldFragments -= message.fragments.count
                    unordered[key] = nil
                }
            }
        }
        if let skip = orderedSkip, nextMID <= skip {
            let keys = ordered.keys.filter { MID($0) <= skip }.sorted { MID($0) < MID($1) }
            for key in keys {
                guard var message = ordered.removeValue(forKey: key) else { continue }
                if message.isComplete && partial == nil && message.nextFSN == 0 {
                    _ = hand(&message, count: message.fragments.count, mid: MID(key), isUnordered: false, isComplete: true, sink: &sink)
                } else {
                    sink.bufferedBytes -= message.bytes
                    sink.heldFragments -= message.fragments.count
                }
            }
            nextMID = skip.next
        }
        guard partial == nil else { return }
        if aborted { deliverCompleteUnordered(sink: &sink) }
        deliverOrdered(cumulativeTSN: cumulativeTSN, sink: &sink)
    }

    // MARK: - Invariants

    /// The stream's own checks: fragments sorted by FSN, each once, at or above the
    /// message's next FSN and at most its end; byte counts; partial delivery state.
    func checkInvariants() -> [String] {
        var violations: [String] = []
        func check(_ messages: [UInt32: InterleavedMessage], unordered: Bool) {
            for (key, message) in messages {
                let name = "stream \(id) \(unordered ? "U" : "O") MID \(key)"
                var bytes = 0
                var previous: UInt32?
                for fragment in message.fragments {
                    bytes += fragment.size
                    if let previous, fragment.fsn <= previous { violations.append("\(name): FSN \(fragment.fsn) after \(previous)") }
                    if fragment.fsn < message.nextFSN { violations.append("\(name): FSN \(fragment.fsn) below the next \(message.nextFSN)") }
                    if let end = message.endFSN, fragment.fsn > end { violations.append("\(name): FSN \(fragment.fsn) past the end \(end)") }
                    previous = fragment.fsn
                }
                if bytes != message.bytes { violations.append("\(name): counts \(message.bytes) bytes, holds \(bytes)") }
                if message.isEmpty { violations.append("\(name): empty") }
                if message.nextFSN > 0 && partial != InterleavedPartialDelivery(isUnordered: unordered, mid: MID(key)) {
                    violations.append("\(name): partly handed out but not in partial delivery")
                }
                if !unordered && MID(key) < nextMID { violations.append("\(name): held below the next MID \(nextMID.rawValue)") }
                if unordered && message.isComplete && partial == nil { violations.append("\(name): complete but held") }
            }
        }
        check(ordered, unordered: false)
        check(unordered, unordered: true)
        if let partial {
            let held = partial.isUnordered ? unordered[partial.mid.rawValue] : ordered[partial.mid.rawValue]
            if held == nil { violations.append("stream \(id): partial delivery of MID \(partial.mid.rawValue) holds nothing") }
            if !partial.isUnordered && partial.mid != nextMID {
                violations.append("stream \(id): partial delivery of MID \(partial.mid.rawValue) while the next MID is \(nextMID.rawValue)")
            }
        } else if let head = ordered[nextMID.rawValue], head.isComplete {
            violations.append("stream \(id): the next ordered message is complete but held")
        }
        return violations
    }
}

extension ReassemblyQueue {
    /// Takes an I-DATA chunk the data tracker found new (see `insert(_:cumulativeTSN:)` for
    /// DATA: the same memory rule).
    @discardableResult
    public mutating func insert(_ chunk: IDataChunk, cumulativeTSN: TSN, ignoringMemoryLimit: Bool = false) -> InsertResult {
        let streamIdentifier = chunk.streamIdentifier
        guard isValidStream(streamIdentifier) else { return .invalidStream }
        let fills = chunk.tsn <= cumulativeTSN
        guard ignoringMemoryLimit || canAccept(payloadBytes: chunk.payload.readableBytes, fillsCumulativeTSN: fills) else {
            return .noSpace
        }
        let flags = chunk.dataFlags
        let found = interleavedStreams.locate(streamIdentifier)
        if flags.contains(.beginning) && flags.contains(.ending) {
            // Fast path, as for DATA: a whole message on a stream that holds nothing.
            if flags.contains(.unordered) {
                if found.map({ interleavedStreams[position: $0].storage == nil }) ?? true {
                    InterleavedStreamReassembler.deliverDirect(chunk, stream: streamIdentifier, isUnordered: true, sink: &sink)
                    return .accepted
                }
            } else if let found {
                if interleavedStreams.takeInOrder(at: found, chunk.mid.rawValue, mask: 0xFFFF_FFFF) {
                    InterleavedStreamReassembler.deliverDirect(chunk, stream: streamIdentifier, isUnordered: false, sink: &sink)
                    return .accepted
                }
            } else if chunk.mid == MID(0) {
                _ = interleavedStreams.append(streamIdentifier, ReceiveStreamEntry(idleNext: 1, storage: nil))
                InterleavedStreamReassembler.deliverDirect(chunk, stream: streamIdentifier, isUnordered: false, sink: &sink)
                return .accepted
            }
        }
        let position = found ?? interleavedStreams.append(streamIdentifier, ReceiveStreamEntry(idleNext: 0, storage: nil))
        let result = interleavedStreams.uniqueStorage(at: position, id: streamIdentifier, spare: &spareInterleavedStorage)
            .reassembler.insert(chunk, cumulativeTSN: cumulativeTSN, sink: &sink)
        interleavedStreams.releaseIfIdle(at: position, spare: &spareInterleavedStorage)
        if sink.isMemoryExhausted { makeInterleavedProgress(cumulativeTSN: cumulativeTSN) }
        return result
    }

    /// Memory is exhausted: every stream's next ordered message that may start a partial
    /// delivery does, so that what is held drains (another stream's chunk may have moved the
    /// cumulative point past its first fragment).
    private mutating func makeInterleavedProgress(cumulativeTSN: TSN) {
        var holding: [UInt16] = []
        for (id, entry) in interleavedStreams where entry.storage.map({ $0.reassembler.partial == nil }) ?? false {
            holding.append(id)
        }
        for id in holding {
            guard let position = interleavedStreams.locate(id) else { continue }
            interleavedStreams.uniqueStorage(at: position, id: id, spare: &spareInterleavedStorage)
                .reassembler.deliverOrdered(cumulativeTSN: cumulativeTSN, sink: &sink)
            interleavedStreams.releaseIfIdle(at: position, spare: &spareInterleavedStorage)
        }
    }

    /// Applies an I-FORWARD-TSN (RFC 8260 §2.3.2) after the tracker has: per listed stream,
    /// the highest MID skipped, ordered and unordered apart. Entries for invalid streams are
    /// ignored.
    public mutating func handleIForwardTSN(newCumulativeTSN: TSN, skippedMessages: [IForwardTSNChunk.SkippedMessage]) {
        var ordered: [UInt16: MID] = [:]
        var unordered: [UInt16: MID] = [:]
        for entry in skippedMessages where isValidStream(entry.streamIdentifier) {
            if entry.unordered {
                if let old = unordered[entry.streamIdentifier], entry.mid <= old { continue }
                unordered[entry.streamIdentifier] = entry.mid
            } else {
                if let old = ordered[entry.streamIdentifier], entry.mid <= old { continue }
                ordered[entry.streamIdentifier] = entry.mid
            }
        }
        let ids = Set(ordered.keys).union(unordered.keys).sorted()
        for id in ids {
            if let position = interleavedStreams.locate(id), interleavedStreams[position: position].storage != nil {
                interleavedStreams.uniqueStorage(at: position, id: id, spare: &spareInterleavedStorage)
                    .reassembler.forward(orderedSkip: ordered[id], unorderedSkip: unordered[id],
                                         cumulativeTSN: newCumulativeTSN, sink: &sink)
                interleavedStreams.releaseIfIdle(at: position, spare: &spareInterleavedStorage)
            } else if let skip = ordered[id], MID(interleavedStreams.next(of: id)) <= skip {
                // Nothing held: only the next MID moves (what `forward` does to an idle stream;
                // an unordered skip changes nothing), and no reassembler is made.
                interleavedStreams.setIdleNext(skip.next.rawValue, of: id)
            }
        }
    }

    /// The next MID expected on an ordered stream of an I-DATA association (0 for a stream
    /// never used).
    public func nextExpectedMID(onStream streamIdentifier: UInt16) -> MID {
        MID(interleavedStreams.next(of: streamIdentifier))
    }

}
