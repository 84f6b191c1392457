import SCTPWire

extension ReassemblyQueue {
    /// Checks the reassembly queue's internal consistency; returns one line per property that
    /// does not hold, an empty list when all do.
    ///
    /// - `bufferedBytes` is the payload of every fragment held, over all streams, and stays
    ///   within the memory limit plus its overshoot allowance; `pendingOutputBytes` is the
    ///   payload of the messages waiting to be polled; `heldFragments` is the number of
    ///   fragments held (each charged `fragmentOverhead` against the limit).
    /// - Per stream (`StreamReassembler.checkInvariants`): fragments sorted by TSN with no
    ///   TSN twice, the unordered byte count, the cached head run, partial delivery state.
    /// - Streams are filed under their own id, and only valid streams hold anything.
    /// - A stream keeps a reassembler only while it holds something, and an entry only while
    ///   it holds something or its next SSN/MID is not 0; at most one entry per inbound stream.
    ///
    /// Compiled in debug builds and with `-DSCTP_INVARIANTS`; otherwise returns `[]`.
    public func checkInvariants() -> [String] {
        #if DEBUG || SCTP_INVARIANTS
        var violations: [String] = []
        func fail(_ text: @autoclosure () -> String) {
            if violations.count < 16 { violations.append("ReassemblyQueue: " + text()) }
        }
        var held = 0
        var fragments = 0
        for (id, entry) in streams {
            guard let stream = entry.storage?.reassembler else {
                if entry.idleNext == 0 { fail("stream \(id) keeps an entry at SSN 0 with nothing held") }
                continue
            }
            if stream.id != id { fail("stream \(stream.id) filed under \(id)") }
            if stream.isIdle { fail("stream \(id) keeps its reassembler with nothing held") }
            if !stream.isIdle && !isValidStream(id) { fail("invalid stream \(id) holds data") }
            for fragment in stream.ordered { held += fragment.size }
            for fragment in stream.unordered { held += fragment.size }
            fragments += stream.ordered.count + stream.unordered.count
            for line in stream.checkInvariants() where violations.count < 16 { violations.append("ReassemblyQueue: " + line) }
        }
        for (id, entry) in interleavedStreams {
            guard let stream = entry.storage?.reassembler else {
                if entry.idleNext == 0 { fail("I-DATA stream \(id) keeps an entry at MID 0 with nothing held") }
                continue
            }
            if stream.id != id { fail("I-DATA stream \(stream.id) filed under \(id)") }
            if stream.isIdle { fail("I-DATA stream \(id) keeps its reassembler with nothing held") }
            if !stream.isIdle && !isValidStream(id) { fail("invalid I-DATA stream \(id) holds data") }
            held += stream.heldBytes
            fragments += stream.heldFragmentCount
            for line in stream.checkInvariants() where violations.count < 16 { violations.append("ReassemblyQueue: " + line) }
        }
        if streams.count > Int(inboundStreamCount) || interleavedStreams.count > Int(inboundStreamCount) {
            fail("\(streams.count) + \(interleavedStreams.count) stream entries for \(inboundStreamCount) inbound streams")
        }
        if sink.bufferedBytes != held { fail("bufferedBytes \(sink.bufferedBytes), fragments held \(held)") }
        if sink.heldFragments != fragments { fail("heldFragments \(sink.heldFragments), fragments held \(fragments)") }
        let limit = configuration.memoryLimit + configuration.overshootAllowance
        if sink.bufferedBytes > limit { fail("\(sink.bufferedBytes) bytes held, limit \(limit)") }
        var waiting = 0
        for output in sink.output {
            if case .message(let message) = output { waiting += message.payload.readableBytes }
        }
        if sink.outputBytes != waiting { fail("outputBytes \(sink.outputBytes), messages waiting \(waiting)") }
        return violations
        #else
        return []
        #endif
    }

    /// Every TSN held for reassembly or ordering, over all streams (for cross-checks with the
    /// data tracker).
    var heldTSNs: [TSN] {
        var tsns: [TSN] = []
        for entry in streams.values {
            guard let stream = entry.storage?.reassembler else { continue }
            for fragment in stream.ordered { tsns.append(fragment.tsn) }
            for fragment in stream.unordered { tsns.append(fragment.tsn) }
        }
        for entry in interleavedStreams.values {
            guard let stream = entry.storage?.reassembler else { continue }
            for message in stream.ordered.values { for fragment in message.fragments { tsns.append(fragment.tsn) } }
            for message in stream.unordered.values { for fragment in message.fragments { tsns.append(fragment.tsn) } }
        }
        return tsns
    }
}

extension StreamReassembler {
    /// The stream's consistency: both deques strictly sorted by TSN; `unorderedBytes` the sum
    /// of the unordered fragments; the cached head run (`headRunCount`, `headRunBytes`) the
    /// start of the next ordered message (B, consecutive TSNs, SSN `nextSSN`, no E yet); an
    /// ordered partial delivery is that of the stream's next SSN.
    func checkInvariants() -> [String] {
        var violations: [String] = []
        func fail(_ text: @autoclosure () -> String) {
            if violations.count < 8 { violations.append("stream \(id): " + text()) }
        }
        for (name, queue) in [("ordered", ordered), ("unordered", unordered)] {
            for index in queue.indices.dropFirst() where !(queue[index - 1].tsn < queue[index].tsn) {
                fail("\(name) fragments out of TSN order: \(queue[index - 1].tsn.rawValue) before \(queue[index].tsn.rawValue)")
            }
        }
        let bytes = unordered.reduce(0) { $0 + $1.size }
        if unorderedBytes != bytes { fail("unorderedBytes \(unorderedBytes), fragments \(bytes)") }
        if headRunCount < 0 || headRunCount > ordered.count {
            fail("head run of \(headRunCount) fragments, \(ordered.count) held")
        } else {
            var runBytes = 0
            for index in 0..<headRunCount {
                let fragment = ordered[index]
                runBytes += fragment.size
                let continues = index == 0 ? fragment.isBeginning : (!fragment.isBeginning && fragment.tsn == ordered[index - 1].tsn.next)
                if !continues || fragment.ssn != nextSSN || fragment.isEnd {
                    fail("fragment \(index) (TSN \(fragment.tsn.rawValue)) does not belong to the head run of SSN \(nextSSN.rawValue)")
                }
            }
            if runBytes != headRunBytes { fail("headRunBytes \(headRunBytes), its fragments \(runBytes)") }
        }
        if let partial, !partial.isUnordered, partial.ssn != nextSSN {
            fail("partial delivery of SSN \(partial.ssn.rawValue) while the next SSN is \(nextSSN.rawValue)")
        }
        return violations
    }
}
