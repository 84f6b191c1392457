import SCTPWire

extension SendQueue {
    /// Checks the send queue's internal consistency; returns one line per property that does
    /// not hold, an empty list when all do.
    ///
    /// - `queuedBytes` is the user data of the messages waiting in the streams plus the part
    ///   of the message being fragmented not yet cut into chunks; `queuedMessageCount` counts
    ///   those messages, the one being fragmented included.
    /// - The message being fragmented has had at least one chunk cut and not its last one.
    /// - The ready list names each stream with waiting messages once, except the stream of
    ///   the message being fragmented (which rejoins when that message is done), and only
    ///   such streams, all below the outbound stream count; a paused stream (RFC 6525 reset
    ///   waiting for its answer) is never ready.
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
        var nonEmpty = Set<UInt16>()
        for (index, id) in streams.ids.enumerated() {
            let stream = streams.values[index]
            if streams[id] == nil { fail("stream \(id) cannot be found in its table") }
            for message in stream.messages {
                bytes += message.payload.readableBytes
                count += 1
                if message.streamIdentifier != id { fail("a message for stream \(message.streamIdentifier) waits on stream \(id)") }
                if message.payload.readableBytes == 0 { fail("an empty message waits on stream \(id)") }
            }
            if !stream.messages.isEmpty { nonEmpty.insert(id) }
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
        var listed = Set<UInt16>()
        for id in ready.waiting {
            if !listed.insert(id).inserted { fail("stream \(id) is ready twice") }
            if Int(id) >= outboundStreamCount { fail("ready stream \(id) is not below the stream count \(outboundStreamCount)") }
        }
        let currentStream = current?.message.streamIdentifier
        if let currentStream, listed.contains(currentStream) {
            fail("stream \(currentStream) is ready while its message is being fragmented")
        }
        for id in listed where !nonEmpty.contains(id) { fail("stream \(id) is ready with nothing queued") }
        for id in listed where paused.blocks(id) { fail("stream \(id) is ready while paused") }
        for (id, left) in paused.allowance where left > (streams[id]?.messages.count ?? 0) {
            fail("paused stream \(id) may start \(left) messages, \(streams[id]?.messages.count ?? 0) wait")
        }
        for id in nonEmpty where !listed.contains(id) && id != currentStream && !paused.blocks(id) {
            fail("stream \(id) has messages but is not ready")
        }
        return violations
        #else
        return []
        #endif
    }
}
