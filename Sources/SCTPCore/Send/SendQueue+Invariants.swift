import SCTPWire

extension SendQueue {
    /// Checks the send queue's internal consistency; returns one line per property that does
    /// not hold, an empty list when all do.
    ///
    /// - `queuedBytes` is the user data of the messages waiting in the streams plus the part
    ///   of the message being fragmented not yet cut into chunks; `queuedMessageCount` counts
    ///   those messages, the one being fragmented included.
    /// - The message being fragmented has had at least one chunk cut and not its last one.
    /// - The scheduler's active streams are exactly the streams with unsent data the
    ///   scheduler knows of (waiting messages or the message being fragmented), each once, all
    ///   below the outbound stream count except possibly the stream of the message being
    ///   fragmented (a lower stream count lets it finish); the scheduler's own checks hold
    ///   (first come first served lists every such message; priority entries sorted and
    ///   matching the streams' values; weights matching the values). A stream paused for a
    ///   reset (RFC 6525) offers the scheduler only the messages it may still start.
    /// - Waiting messages are not empty and sit in their own stream's queue.
    /// - Per stream, SSNs are taken in order: the ordered message being fragmented holds the
    ///   SSN just before its stream's next one (unless `resetSequenceNumbers` reset it since).
    ///
    /// Compiled in debug builds and with `-DSCTP_INVARIANTS`; otherwise returns `[]`.
    public func checkInvariants() -> [String] {
        #if DEBUG || SCTP_INVARIANTS
        var violations: [String] = []
        func fail(_ text: @autoclosure () -> String) {
            if violations.count < 16 { violations.append("SendQueue: " + text()) }
        }
        var bytes = 0
        var count = 0
        for (index, id) in streams.ids.enumerated() {
            let stream = streams.values[index]
            if streams[id] == nil { fail("stream \(id) cannot be found in its table") }
            for message in stream.messages {
                bytes += message.payload.readableBytes
                count += 1
                if message.streamIdentifier != id { fail("a message for stream \(message.streamIdentifier) waits on stream \(id)") }
                if message.payload.readableBytes == 0 { fail("an empty message waits on stream \(id)") }
            }
            if let started = stream.inProgress {
                // Interleaving (I-DATA): the stream's head message, partly cut.
                let total = started.message.payload.readableBytes
                if !interleaving { fail("stream \(id) has a message in progress without interleaving") }
                if !(started.offset > 0 && started.offset < total) {
                    fail("the message in progress on stream \(id) has \(started.offset) of \(total) bytes cut")
                }
                if started.fsn == 0 { fail("the message in progress on stream \(id) has cut no fragment") }
                let next = started.message.isUnordered ? stream.nextUnorderedMID : stream.nextOrderedMID
                if started.mid.next != next { fail("stream \(id) sends MID \(started.mid.rawValue) while its next is \(next.rawValue)") }
                bytes += total - started.offset
                count += 1
            }
        }
        if let current {
            let total = current.message.payload.readableBytes
            if !(current.offset > 0 && current.offset < total) {
                fail("the message being fragmented has \(current.offset) of \(total) bytes cut")
            }
            bytes += total - current.offset
            count += 1
            let id = current.message.streamIdentifier
            if !current.message.isUnordered, let stream = streams[id], current.ssn.next != stream.nextSSN {
                fail("stream \(id) sends SSN \(current.ssn.rawValue) while its next SSN is \(stream.nextSSN.rawValue)")
            }
        }
        if queuedBytes != bytes { fail("queuedBytes \(queuedBytes), the messages hold \(bytes)") }
        if queuedMessageCount != count { fail("queuedMessageCount \(queuedMessageCount), messages \(count)") }
        var unsent: [UInt16: Int] = [:]
        for (index, id) in streams.ids.enumerated() where !streams.values[index].messages.isEmpty {
            let registered = registeredMessageCount(id, waiting: streams.values[index].messages.count)
            if registered > 0 { unsent[id] = registered }
        }
        for id in streamsInProgress { unsent[id, default: 0] += 1 }
        if interleaving && current != nil { fail("a DATA message in progress with interleaving") }
        let currentStream = current?.message.streamIdentifier
        if let currentStream { unsent[currentStream, default: 0] += 1 }
        for text in scheduler.checkInvariants(unsentMessages: unsent, value: { schedulerValue(of: $0) }) {
            fail("scheduler \(scheduler.kind): " + text)
        }
        for id in scheduler.active where Int(id) >= outboundStreamCount && id != currentStream {
            fail("active stream \(id) is not below the stream count \(outboundStreamCount)")
        }
        for (id, left) in paused.allowance where left > (streams[id]?.messages.count ?? 0) {
            fail("paused stream \(id) may start \(left) messages, \(streams[id]?.messages.count ?? 0) wait")
        }
        if scheduler.peek == nil && !unsent.isEmpty { fail("the scheduler has nothing to offer while messages wait") }
        return violations
        #else
        return []
        #endif
    }
}
