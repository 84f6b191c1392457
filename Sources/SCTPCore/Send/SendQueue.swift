import DequeModule
import NIOCore
import SCTPWire

/// A user message handed to the association for sending (RFC 9260 §6.1, §11.1 SEND).
public struct OutgoingMessage: Sendable {
    /// The outbound stream; must be below the negotiated number of outbound streams.
    public var streamIdentifier: UInt16
    /// The payload protocol identifier carried in every DATA chunk of the message.
    public var payloadProtocolIdentifier: UInt32
    /// Unordered delivery (U bit): no stream sequence number is used up.
    public var isUnordered: Bool
    /// Ask the peer to SACK the last fragment at once (I bit, RFC 9260 §6.1 / RFC 7053).
    public var requestsImmediateAck: Bool
    /// The order in which the send queue took the message (counts per queue, wrapping), for
    /// the first-come-first-served scheduler when the scheduler changes. 32 bits, declared
    /// here, it fills padding: the message is no larger, and copies of it stay cheap.
    var arrival: UInt32 = 0
    /// The user data. Fragments are slices of this buffer; it is never copied.
    public var payload: ByteBuffer
    /// An opaque value of the application (`snd_context`, RFC 6458 §5.3.4), never sent; it
    /// comes back with the message if the message cannot be delivered (`FailedMessage`).
    public var context: UInt32
    /// When the message may be given up (PR-SCTP, RFC 3758 / RFC 7496). Applies only when
    /// the peer supports FORWARD TSN; otherwise the message is sent reliably.
    public var partialReliability: PartialReliability
    /// The instant a message with a lifetime expires, set when the association queues it.
    public internal(set) var expiry: SCTPInstant?
    /// The peer address the message's DATA chunks are first sent to (`SCTP_ADDR_OVER`,
    /// RFC 6458 §5.3.4), instead of the primary path; `nil`: the primary path. It must be
    /// one of the peer's addresses. While that path is not active (failed, potentially
    /// failed, unconfirmed) the message goes to the primary path instead, and
    /// retransmissions follow the usual rules (§6.4), whatever the message asked.
    public var destination: IPAddress?
    /// A message for `streamIdentifier`; ordered, reliable, PPID 0 and no I bit unless asked.
    public init(streamIdentifier: UInt16, payloadProtocolIdentifier: UInt32 = 0, isUnordered: Bool = false,
                requestsImmediateAck: Bool = false, partialReliability: PartialReliability = .reliable,
                destination: IPAddress? = nil, context: UInt32 = 0, payload: ByteBuffer) {
        self.streamIdentifier = streamIdentifier
        self.destination = destination
        self.context = context
        self.payloadProtocolIdentifier = payloadProtocolIdentifier
        self.isUnordered = isUnordered
        self.requestsImmediateAck = requestsImmediateAck
        self.partialReliability = partialReliability
        self.payload = payload
    }

    /// The retransmission limit of the limited-retransmissions policy, if that is the policy.
    var maxRetransmissions: Int? {
        if case .maxRetransmissions(let count) = partialReliability { count } else { nil }
    }
}

/// A PR-SCTP policy (RFC 3758 timed reliability, RFC 7496 limited retransmissions).
public enum PartialReliability: Hashable, Sendable {
    /// Retransmitted until acknowledged (plain SCTP).
    case reliable
    /// Given up once this long has passed since it was queued, if not acknowledged by then
    /// (`SCTP_PR_SCTP_TTL`).
    case lifetime(Duration)
    /// Given up rather than retransmitted more than this many times (`SCTP_PR_SCTP_RTX`;
    /// 0: sent once).
    case maxRetransmissions(Int)
}

/// A DATA chunk cut from a queued message (`SendQueue.nextChunk`), with what its message
/// asks of the retransmission queue.
public struct CutChunk: Sendable {
    /// What a message asks of each of its chunks after it was sent.
    public struct Policy: Sendable {
        /// When the message expires (PR-SCTP lifetime), if it does.
        public var expiry: SCTPInstant?
        /// How often its chunks may be retransmitted (PR-SCTP), if limited.
        public var maxRetransmissions: Int?
        /// The application's context (`OutgoingMessage.context`), for send-failure reports.
        public var context: UInt32
    }

    /// The chunk; its TSN is the one given to `nextChunk`.
    public var chunk: DataChunk
    /// Its message's lifetime, retransmission limit and context.
    public var policy: Policy
    /// With interleaving (I-DATA, RFC 8260): the message's MID and the fragment's FSN.
    public var mid = MID(0)
    public var fsn: UInt32 = 0
}

/// Why `SendQueue.enqueue(_:)` refused a message.
public enum SendQueueError: Error, Hashable, Sendable {
    /// The message has no user data (RFC 9260 §6.2: a DATA chunk without user data must not
    /// be sent). The API maps this to EINVAL.
    case emptyMessage
    /// The stream does not exist: its number is not below the negotiated outbound stream
    /// count. The API maps this to EINVAL.
    case invalidStream(streamIdentifier: UInt16, outboundStreams: Int)
    /// The message is larger than the whole queue could ever hold. The API maps this to EMSGSIZE.
    case messageTooLarge(size: Int, limit: Int)
    /// The queue has no room for the message now; it may have later, when queued data has
    /// been sent. The API maps this to EWOULDBLOCK (non-blocking) or waits, or ENOBUFS.
    case queueFull(queuedBytes: Int, messageSize: Int, limit: Int)
}

/// The outgoing user messages of an association, one FIFO per stream, turned into DATA
/// chunks on demand (RFC 9260 §6.1, §6.6, §6.9).
///
/// - Messages are fragmented lazily: each call to `nextChunk(tsn:maxPayloadSize:)` cuts the
///   next fragment of at most `maxPayloadSize` bytes, a slice of the message's buffer (no copy),
///   with the B and E bits set on the first and last fragment.
/// - The stream sequence number of an ordered message is taken when its first fragment is cut;
///   it counts per stream from 0 and wraps after 65535. Unordered messages carry SSN 0 and
///   the U bit and take no number.
/// - Which stream goes next is the stream scheduler's choice (RFC 8260 §3,
///   `StreamSchedulerKind`, round robin per message by default), made once per message: the
///   fragments of one message go out consecutively, never interleaved with another message
///   (plain DATA cannot interleave). Each stream has a scheduler value (priority or weight,
///   `setSchedulerValue`) that stays when the scheduler changes.
/// - Streams cost nothing until a message is queued on them.
/// - The queue holds at most `configuration.maxQueuedBytes` bytes of user data not yet cut
///   into chunks; sent but unacknowledged data is the retransmission queue's (`OutstandingData`).
public struct SendQueue: Sendable {
    /// Limits and options of a send queue.
    public struct Configuration: Hashable, Sendable {
        /// The most user-data bytes that may wait to be cut into chunks (`SO_SNDBUF`).
        public var maxQueuedBytes: Int
        /// Set the I bit on the last chunk handed out when that chunk empties the queue, so the
        /// peer SACKs at once instead of delaying (RFC 7053 §4: an application-limited sender).
        public var setsImmediateAckWhenDrained: Bool

        /// Limits with the defaults: 4 MiB, no I bit.
        public init(maxQueuedBytes: Int = 4 << 20, setsImmediateAckWhenDrained: Bool = false) {
            precondition(maxQueuedBytes >= 0, "the queue limit is not negative")
            self.maxQueuedBytes = maxQueuedBytes
            self.setsImmediateAckWhenDrained = setsImmediateAckWhenDrained
        }
    }

    /// One outbound stream that has been used.
    struct Stream: Sendable {
        var messages: Deque<OutgoingMessage> = []
        var nextSSN = SSN(0)
        /// `SCTP_STREAM_SCHEDULER_VALUE`: the priority (lower first) or weight of the stream.
        var schedulerValue: UInt16 = 0
        /// With interleaving (I-DATA): the stream's head message partly cut into chunks, and
        /// the MIDs its next ordered and unordered messages get (RFC 8260 §2.1).
        var inProgress: MessageInProgress?
        var nextOrderedMID = MID(0)
        var nextUnorderedMID = MID(0)
    }

    /// The streams used, by id (readable in the module for `SendQueue+Invariants.swift`,
    /// as are `scheduler` and `current`): open addressing on the id (identity hash, linear probing)
    /// over arrays that grow with the streams used only. A `Dictionary` hashed the id with
    /// SipHash several times per message sent; ids are chosen by the local application, so
    /// the identity hash cannot be driven into collisions by a peer.
    struct StreamTable: Sendable {
        private(set) var ids: [UInt16] = []
        private(set) var values: [Stream] = []
        /// Indices into `ids` / `values`, -1 where empty; the count is 0 or a power of two
        /// at least twice the number of streams.
        private var slots: [Int32] = []

        private func index(of id: UInt16) -> Int? {
            guard !slots.isEmpty else { return nil }
            let mask = slots.count - 1
            var slot = Int(id) & mask
            while true {
                let index = Int(slots[slot])
                if index < 0 { return nil }
                if ids[index] == id { return index }
                slot = (slot + 1) & mask
            }
        }

        private mutating func place(_ id: UInt16, at index: Int) {
            let mask = slots.count - 1
            var slot = Int(id) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index)
        }

        private mutating func rebuildSlots(minimumCount: Int) {
            var count = 8
            while count < 2 * minimumCount { count *= 2 }
            slots = Array(repeating: -1, count: count)
            for (index, id) in ids.enumerated() { place(id, at: index) }
        }

        private mutating func insert(_ id: UInt16, _ value: Stream) -> Int {
            if 2 * (ids.count + 1) > slots.count { rebuildSlots(minimumCount: ids.count + 1) }
            ids.append(id)
            values.append(value)
            place(id, at: ids.count - 1)
            return ids.count - 1
        }

        subscript(id: UInt16) -> Stream? {
            guard let index = index(of: id) else { return nil }
            return values[index]
        }

        subscript(id: UInt16, default value: @autoclosure () -> Stream) -> Stream {
            get { self[id] ?? value() }
            _modify {
                let index = index(of: id) ?? insert(id, value())
                yield &values[index]
            }
        }

        var keys: [UInt16] { ids }

        /// Whether the stream has messages waiting (no copy of the stream).
        @inline(__always)
        func hasMessages(_ id: UInt16) -> Bool {
            guard let index = index(of: id) else { return false }
            return !values[index].messages.isEmpty
        }

        /// The payload size of the stream's first waiting message.
        @inline(__always)
        func headBytes(_ id: UInt16) -> Int? {
            guard let index = index(of: id) else { return nil }
            return values[index].messages.first?.payload.readableBytes
        }

        /// The destination of the stream's first waiting message.
        @inline(__always)
        func headDestination(_ id: UInt16) -> IPAddress? {
            guard let index = index(of: id) else { return nil }
            return values[index].messages.first?.destination
        }

        /// The stream's scheduler value, 0 for a stream not in the table.
        func schedulerValue(_ id: UInt16) -> UInt16 {
            guard let index = index(of: id) else { return 0 }
            return values[index].schedulerValue
        }

        mutating func removeValue(forKey id: UInt16) -> Stream? {
            guard let index = index(of: id) else { return nil }
            let removed = values[index]
            ids.remove(at: index)
            values.remove(at: index)
            rebuildSlots(minimumCount: ids.count)
            return removed
        }

        mutating func forEachValue(_ body: (inout Stream) -> Void) {
            for index in values.indices { body(&values[index]) }
        }
    }

    /// The message whose fragments are being handed out.
    struct MessageInProgress: Sendable {
        var message: OutgoingMessage
        /// Payload bytes already cut into chunks.
        var offset: Int
        var ssn: SSN
        /// With interleaving: the message's MID and the FSN of its next fragment.
        var mid = MID(0)
        var fsn: UInt32 = 0
    }

    /// The limits and options; may be changed at any time (a lower limit only stops new messages).
    public var configuration: Configuration
    /// The number of outbound streams; messages on streams at or above it are refused.
    public private(set) var outboundStreamCount: Int
    /// User-data bytes queued and not yet cut into chunks.
    public private(set) var queuedBytes = 0
    /// Messages not yet completely cut into chunks, including the one being fragmented.
    public private(set) var queuedMessageCount = 0

    /// Messages whose lifetime ended before their first chunk was sent (PR-SCTP), for the
    /// association to report; see `takeExpired()`.
    public private(set) var expired: [OutgoingMessage] = []

    private(set) var streams = StreamTable()
    /// Whether a message with a destination was ever queued (until `removeAll`): without one,
    /// `nextMessageDestination` needs no look-up per chunk.
    private(set) var hasDestinations = false
    /// The stream scheduler and its active streams: those with unsent data, the stream of
    /// `current` included. (Readable in the module for `SendQueue+Invariants.swift`.)
    private(set) var scheduler: StreamSchedulerState
    private(set) var current: MessageInProgress?
    /// Streams held back by an outgoing stream reset (RFC 6525 §5.1.2): their messages stay
    /// queued and go once they are released.
    private(set) var paused = PausedStreams()
    /// The `arrival` number of the last message queued.
    private var arrivals: UInt32 = 0

    /// Whether messages of different streams may interleave chunk by chunk (I-DATA, RFC 8260
    /// §2): the scheduler is then asked before every chunk instead of once per message. Always
    /// false until I-DATA is supported.
    public private(set) var interleaving = false

    /// An empty queue for `outboundStreamCount` streams (0 ... 65535 may be used when 65536)
    /// with the stream scheduler `scheduler`.
    public init(outboundStreamCount: Int, configuration: Configuration = Configuration(),
                scheduler: StreamSchedulerKind = .default) {
        precondition((0...65536).contains(outboundStreamCount), "stream count out of range")
        self.outboundStreamCount = outboundStreamCount
        self.configuration = configuration
        self.scheduler = StreamSchedulerState(scheduler, interleaving: false)
    }

    /// The stream scheduler in use.
    public var schedulerKind: StreamSchedulerKind { scheduler.kind }

    /// Switches to another stream scheduler (`SCTP_STREAM_SCHEDULER`). Every queued message
    /// stays, in its stream's order; a message being fragmented is finished first. The new
    /// scheduler learns the queued messages in the order they were queued (so first come,
    /// first served follows the application's order), the one being fragmented first.
    public mutating func setScheduler(_ kind: StreamSchedulerKind) {
        guard kind != scheduler.kind else { return }
        rebuildScheduler(kind)
    }

    /// A new scheduler of `kind` (and the current `interleaving`) that knows every stream with
    /// unsent data.
    private mutating func rebuildScheduler(_ kind: StreamSchedulerKind) {
        var fresh = StreamSchedulerState(kind, interleaving: interleaving)
        // Oldest first: by age, the distance back from the last number given (the numbers wrap).
        var pending: [(age: UInt32, stream: UInt16)] = []
        pending.reserveCapacity(queuedMessageCount)
        for (index, id) in streams.ids.enumerated() {
            // A paused stream's messages queued after the pause are not the scheduler's yet.
            let registered = registeredMessageCount(id, waiting: streams.values[index].messages.count)
            for message in streams.values[index].messages.prefix(registered) {
                pending.append((arrivals &- message.arrival, id))
            }
        }
        pending.sort { $0.age > $1.age }
        var active = Set<UInt16>()
        if let id = current?.message.streamIdentifier {
            fresh.enqueued(stream: id, value: streams[id]?.schedulerValue ?? 0, becomesActive: true)
            active.insert(id)
        }
        for (index, id) in streams.ids.enumerated() where streams.values[index].inProgress != nil {
            fresh.enqueued(stream: id, value: streams.values[index].schedulerValue, becomesActive: active.insert(id).inserted)
        }
        for (_, id) in pending {
            fresh.enqueued(stream: id, value: streams[id]?.schedulerValue ?? 0, becomesActive: active.insert(id).inserted)
        }
        scheduler = fresh
    }

    /// Sets the scheduler value of an outbound stream (`SCTP_STREAM_SCHEDULER_VALUE`): its
    /// priority for `.priority` (lower goes first), its weight for `.weightedFairQueueing`
    /// (0 counts as 1); the other schedulers ignore it. The value stays with the stream when
    /// the scheduler changes, and applies at once to a stream with messages waiting.
    /// Throws `invalidStream` for a stream at or above the outbound stream count.
    public mutating func setSchedulerValue(_ value: UInt16, for stream: UInt16) throws(SendQueueError) {
        guard Int(stream) < outboundStreamCount else {
            throw .invalidStream(streamIdentifier: stream, outboundStreams: outboundStreamCount)
        }
        guard schedulerValue(of: stream) != value else { return }
        streams[stream, default: Stream()].schedulerValue = value
        scheduler.setValue(value, of: stream)
    }

    /// The scheduler value of an outbound stream (0 unless set). Throws `invalidStream` for a
    /// stream at or above the outbound stream count.
    public func schedulerValue(for stream: UInt16) throws(SendQueueError) -> UInt16 {
        guard Int(stream) < outboundStreamCount else {
            throw .invalidStream(streamIdentifier: stream, outboundStreams: outboundStreamCount)
        }
        return schedulerValue(of: stream)
    }

    func schedulerValue(of stream: UInt16) -> UInt16 { streams.schedulerValue(stream) }

    /// The packet being filled is complete; later chunks go into a new one (the per-packet
    /// round robin switches streams there).
    public mutating func packetDidEnd() { scheduler.packetDidEnd() }

    /// Whether nothing is waiting to be sent.
    public var isEmpty: Bool { queuedMessageCount == 0 }

    /// Whether a message has been partly cut into chunks: the next chunk continues it.
    public var isFragmentingMessage: Bool { current != nil }

    /// The unsent bytes of the message the next chunk will come from, or `nil` when empty.
    /// Lets the caller decide whether to start a new packet rather than cut a small fragment.
    @inline(__always)
    public var nextMessageRemainingBytes: Int? {
        if interleaving { return interleavedNextRemainingBytes }
        // Read through `current` in place: `if let current` copied the whole record (and
        // retained its payload), twice per chunk cut.
        if let length = current?.message.payload.readableBytes, let offset = current?.offset { return length - offset }
        guard let id = scheduler.peek else { return nil }
        return streams.headBytes(id)
    }

    /// The destination asked for (`OutgoingMessage.destination`) by the message the next
    /// chunk will come from; `nil` when it asked for none or the queue is empty.
    @inline(__always)
    public var nextMessageDestination: IPAddress? {
        guard hasDestinations else { return nil }
        if interleaving { return interleavedNextDestination }
        if let current { return current.message.destination }
        guard let id = scheduler.peek else { return nil }
        return streams.headDestination(id)
    }

    /// The SSN the next ordered message on `stream` will get.
    public func nextSSN(for stream: UInt16) -> SSN { streams[stream]?.nextSSN ?? SSN(0) }

    /// Queues a message at the end of its stream's queue.
    ///
    /// Throws without changing anything when the message is empty, its stream does not exist,
    /// or the queue has no room.
    public mutating func enqueue(_ message: consuming OutgoingMessage) throws(SendQueueError) {
        let size = message.payload.readableBytes
        guard size > 0 else { throw .emptyMessage }
        let id = message.streamIdentifier
        guard Int(id) < outboundStreamCount else {
            throw .invalidStream(streamIdentifier: id, outboundStreams: outboundStreamCount)
        }
        let limit = configuration.maxQueuedBytes
        guard size <= limit else { throw .messageTooLarge(size: size, limit: limit) }
        guard size <= limit - queuedBytes else {
            throw .queueFull(queuedBytes: queuedBytes, messageSize: size, limit: limit)
        }
        if message.destination != nil { hasDestinations = true }
        arrivals &+= 1
        message.arrival = arrivals
        let (wasEmpty, value) = appendToStream(message)
        // A paused stream's new messages wait unregistered until it is released (RFC 6525).
        if !paused.isPaused(id) {
            scheduler.enqueued(stream: id, value: value, becomesActive: wasEmpty && current?.message.streamIdentifier != id)
        }
        queuedBytes += size
        queuedMessageCount += 1
    }

    /// Appends to the stream's FIFO; whether the FIFO was empty before, and the stream's
    /// scheduler value.
    private mutating func appendToStream(_ message: consuming OutgoingMessage) -> (wasEmpty: Bool, value: UInt16) {
        let id = message.streamIdentifier
        // Moved into the stream's FIFO, not copied (a capture would copy it).
        var moving: OutgoingMessage? = consume message
        return modifyStream(id) { stream in
            let wasEmpty = stream.messages.isEmpty && stream.inProgress == nil
            stream.messages.append(moving.take()!)
            return (wasEmpty, stream.schedulerValue)
        }
    }

    private mutating func modifyStream<R>(_ id: UInt16, _ body: (inout Stream) -> R) -> R {
        body(&streams[id, default: Stream()])
    }

    /// The next DATA chunk to send, carrying `tsn`, with at most `maxPayloadSize` bytes of user
    /// data, and its message's PR-SCTP policy and context; `nil` when the queue is empty (or
    /// `maxPayloadSize` is not positive).
    ///
    /// The caller must send (or at least record as sent) every chunk it takes, with the TSNs
    /// in the order given: fragments are cut once and never again.
    ///
    /// With `now`, messages whose lifetime has ended by then and whose first chunk is not yet
    /// cut are dropped instead (PR-SCTP) and kept in `expired`.
    public mutating func nextChunk(tsn: TSN, maxPayloadSize: Int, now: SCTPInstant? = nil) -> CutChunk? {
        guard maxPayloadSize > 0 else { return nil }
        if interleaving { return nextInterleavedChunk(tsn: tsn, maxPayloadSize: maxPayloadSize, now: now) }
        // A new message that fits in one chunk (the usual small one, and a bulk transfer's
        // message of a packet's size) is cut straight from its stream's FIFO: its payload
        // becomes the chunk's as it is (no slice, and no `MessageInProgress` record in
        // between: each was a copy of the whole message, a `memcpy` and a retain). Both
        // paths build the chunk where this call returns it (tail calls: a result passed on
        // through an enum or an optional was copied, 100-odd bytes, at every step).
        if current == nil { return startNextMessage(now: now, tsn: tsn, maxPayloadSize: maxPayloadSize) }
        return continueCurrentMessage(tsn: tsn, maxPayloadSize: maxPayloadSize)
    }

    /// The next fragment of `current`, the message being fragmented. A message being
    /// fragmented is moved out of `current` and back while fragments remain (each
    /// `current!.field` read copied the whole record and retained its payload).
    private mutating func continueCurrentMessage(tsn: TSN, maxPayloadSize: Int) -> CutChunk? {
        guard var progress = current.take() else { return nil }
        let policy = CutChunk.Policy(expiry: progress.message.expiry, maxRetransmissions: progress.message.maxRetransmissions,
                                     context: progress.message.context)

        let total = progress.message.payload.readableBytes
        let offset = progress.offset
        let length = min(total - offset, maxPayloadSize)
        let slice = progress.message.payload.getSlice(at: progress.message.payload.readerIndex + offset, length: length)!
        let isLast = offset + length == total

        var flags: DataFlags = []
        if offset == 0 { flags.insert(.beginning) }
        if isLast { flags.insert(.ending) }
        if progress.message.isUnordered { flags.insert(.unordered) }
        if isLast && (progress.message.requestsImmediateAck
                      || (configuration.setsImmediateAckWhenDrained && queuedMessageCount == 1)) {
            flags.insert(.immediate)
        }
        let id = progress.message.streamIdentifier
        let chunk = DataChunk(flags: flags, tsn: tsn, streamIdentifier: id,
                              ssn: progress.ssn, payloadProtocolIdentifier: progress.message.payloadProtocolIdentifier,
                              payload: slice)
        queuedBytes -= length
        if isLast {
            queuedMessageCount -= 1
        } else {
            progress.offset = offset + length
            current = consume progress
        }
        scheduler.didSend(stream: id, bytes: length, endsMessage: isLast,
                          streamIsEmpty: isLast && !hasRegisteredMessages(id))
        return CutChunk(chunk: chunk, policy: policy)
    }

    /// Takes the head message of the stream the scheduler chooses, dropping the heads whose
    /// lifetime ended by `now`, and cuts its first chunk, with `tsn`: the whole message when
    /// its payload is at most `maxPayloadSize`, else its first fragment (the message stays
    /// in `current` while fragments of it remain).
    private mutating func startNextMessage(now: SCTPInstant?, tsn: TSN, maxPayloadSize: Int) -> CutChunk? {
        while let id = scheduler.next() {
            if !paused.isEmpty, let left = paused.allowance[id] { paused.allowance[id] = max(left - 1, 0) }
            let (message, ssn) = Self.takeHead(of: &streams[id, default: Stream()], now: now)
            guard let ssn else {
                // Expired before it was sent: it never got an SSN, so the peer misses nothing.
                queuedBytes -= message.payload.readableBytes
                queuedMessageCount -= 1
                expired.append(message)
                scheduler.didSend(stream: id, bytes: 0, endsMessage: true, streamIsEmpty: !hasRegisteredMessages(id))
                continue
            }
            let total = message.payload.readableBytes
            guard total <= maxPayloadSize else {
                current = MessageInProgress(message: message, offset: 0, ssn: ssn)
                return continueCurrentMessage(tsn: tsn, maxPayloadSize: maxPayloadSize)
            }
            var flags: DataFlags = [.beginning, .ending]
            if message.isUnordered { flags.insert(.unordered) }
            // Read before the message leaves the queue and after expired heads left it (as
            // `continueCurrentMessage` reads it for a last fragment): this message drains it.
            if message.requestsImmediateAck || (configuration.setsImmediateAckWhenDrained && queuedMessageCount == 1) {
                flags.insert(.immediate)
            }
            queuedBytes -= total
            queuedMessageCount -= 1
            scheduler.didSend(stream: id, bytes: total, endsMessage: true, streamIsEmpty: !hasRegisteredMessages(id))
            return CutChunk(chunk: DataChunk(flags: flags, tsn: tsn, streamIdentifier: id, ssn: ssn,
                                             payloadProtocolIdentifier: message.payloadProtocolIdentifier, payload: message.payload),
                            policy: CutChunk.Policy(expiry: message.expiry, maxRetransmissions: message.maxRetransmissions,
                                                    context: message.context))
        }
        return nil
    }

    /// Removes a stream's head message; with the SSN it takes (the stream's next one if
    /// ordered, 0 if unordered), or `nil` when its lifetime ended by `now` (it takes none).
    @inline(__always)
    private static func takeHead(of stream: inout Stream, now: SCTPInstant?) -> (message: OutgoingMessage, ssn: SSN?) {
        let message = stream.messages.removeFirst()
        if let now, let expiry = message.expiry, expiry <= now { return (message, nil) }
        var ssn = SSN(0)
        if !message.isUnordered {
            ssn = stream.nextSSN
            stream.nextSSN = ssn.next
        }
        return (message, ssn)
    }

    /// The messages dropped as expired since the last call.
    public mutating func takeExpired() -> [OutgoingMessage] {
        defer { expired.removeAll() }
        return expired
    }

    /// Gives up the message being fragmented (its sent chunks were abandoned, PR-SCTP): its
    /// unsent bytes are dropped. Returns the message and how many of its bytes had been cut
    /// into chunks (the unsent tail starts there).
    @discardableResult
    public mutating func abandonCurrentMessage() -> (message: OutgoingMessage, sentBytes: Int)? {
        guard let abandoned = current else { return nil }
        let id = abandoned.message.streamIdentifier
        queuedBytes -= abandoned.message.payload.readableBytes - abandoned.offset
        queuedMessageCount -= 1
        current = nil
        scheduler.didSend(stream: id, bytes: 0, endsMessage: true, streamIsEmpty: !hasRegisteredMessages(id))
        return (abandoned.message, abandoned.offset)
    }

    /// Changes the number of outbound streams (after the handshake, or when streams are added
    /// by RE-CONFIG). Queued messages on streams that no longer exist are removed and returned,
    /// in stream order, and so are their scheduler values; a message already partly sent is
    /// kept and completed.
    public mutating func setOutboundStreamCount(_ count: Int) -> [OutgoingMessage] {
        precondition((0...65536).contains(count), "stream count out of range")
        outboundStreamCount = count
        var removed: [OutgoingMessage] = []
        let gone = streams.keys.filter { Int($0) >= count }.sorted()
        guard !gone.isEmpty else { return removed }
        for id in gone {
            guard let stream = streams.removeValue(forKey: id) else { continue }
            for message in stream.messages {
                queuedBytes -= message.payload.readableBytes
                queuedMessageCount -= 1
                removed.append(message)
            }
        }
        scheduler.remove { Int($0) >= count }
        if let id = current?.message.streamIdentifier, Int(id) >= count {
            // The message being fragmented is finished; its stream stays active until then.
            scheduler.enqueued(stream: id, value: schedulerValue(of: id), becomesActive: true)
        }
        for id in gone { paused.allowance[id] = nil }
        return removed
    }

    /// Sets the SSN of the given streams back to 0 (an outgoing stream reset, RFC 6525).
    public mutating func resetSequenceNumbers<S: Sequence>(of streamIdentifiers: S) where S.Element == UInt16 {
        for id in streamIdentifiers where streams[id] != nil {
            streams[id, default: Stream()].nextSSN = SSN(0)
            streams[id, default: Stream()].nextOrderedMID = MID(0)
            streams[id, default: Stream()].nextUnorderedMID = MID(0)
        }
    }

    /// Empties the queue (association ended): the message partly sent, if any, and the
    /// messages not yet started, stream by stream in the scheduler's order of the active
    /// streams (the stream of the message partly sent first), then the other streams' (paused
    /// for a stream reset) by id. Scheduler values stay.
    public mutating func removeAll() -> (partlySent: OutgoingMessage?, unsent: [OutgoingMessage]) {
        let partial = current?.message
        var unsent: [OutgoingMessage] = []
        unsent.reserveCapacity(queuedMessageCount)
        let currentStream = current?.message.streamIdentifier
        if let currentStream, let stream = streams[currentStream] {
            unsent.append(contentsOf: stream.messages)
        }
        var taken = Set<UInt16>()
        if let currentStream { taken.insert(currentStream) }
        for id in scheduler.active where id != currentStream {
            taken.insert(id)
            if let stream = streams[id] { unsent.append(contentsOf: stream.messages) }
        }
        // Streams that were not taking turns (paused for a stream reset), by id.
        for id in streams.keys.sorted() where !taken.contains(id) {
            if let stream = streams[id] { unsent.append(contentsOf: stream.messages) }
        }
        streams.forEachValue { $0.messages.removeAll() }
        streams.forEachValue { $0.inProgress = nil }
        scheduler = StreamSchedulerState(scheduler.kind, interleaving: interleaving)
        current = nil
        paused = PausedStreams()
        queuedBytes = 0
        queuedMessageCount = 0
        hasDestinations = false
        return (partial, unsent)
    }

    // MARK: Paused streams (RFC 6525)

    /// Streams held back for an outgoing stream reset: each may still start the messages
    /// that were queued on it when it was paused (they belong before the reset), then no
    /// more until it is released.
    struct PausedStreams: Sendable, Hashable {
        /// Every stream is paused; those not in `allowance` may start no message.
        var all = false
        /// Paused streams and how many more messages each may start.
        var allowance: [UInt16: Int] = [:]

        var isEmpty: Bool { !all && allowance.isEmpty }

        /// Whether the stream may start no message now.
        @inline(__always)
        func blocks(_ id: UInt16) -> Bool {
            if isEmpty { return false }
            if let left = allowance[id] { return left == 0 }
            return all
        }

        func isPaused(_ id: UInt16) -> Bool { all || allowance[id] != nil }
    }

    /// Pauses streams (all when `streamIdentifiers` is empty) for an outgoing reset: the
    /// messages queued on them now still go (with the old numbering), as the scheduler has
    /// them; messages queued later wait, unknown to the scheduler, until
    /// `releaseStreams(keeping:)`. A stream already paused keeps its allowance.
    public mutating func pauseStreams(_ streamIdentifiers: [UInt16]) {
        if streamIdentifiers.isEmpty {
            for id in streams.keys where !paused.isPaused(id) { paused.allowance[id] = streams[id]?.messages.count ?? 0 }
            paused.all = true
        } else {
            for id in streamIdentifiers where !paused.isPaused(id) {
                paused.allowance[id] = streams[id]?.messages.count ?? 0
            }
        }
    }

    /// Releases every paused stream but those in `held` (`nil`: none held; empty: all stay
    /// held): their waiting messages are handed to the scheduler and take turns again.
    public mutating func releaseStreams(keeping held: [UInt16]?) {
        guard !paused.isEmpty else { return }
        let before = paused
        if let held {
            guard !held.isEmpty else { return }
            let keep = Set(held)
            if paused.all {
                for id in keep where paused.allowance[id] == nil { paused.allowance[id] = 0 }
                paused.all = false
            }
            paused.allowance = paused.allowance.filter { keep.contains($0.key) }
        } else {
            paused = PausedStreams()
        }
        for id in streams.keys.sorted() where before.isPaused(id) && !paused.isPaused(id) {
            let waiting = streams[id]?.messages.count ?? 0
            let registered = min(before.allowance[id] ?? 0, waiting)
            let active = registered > 0 || current?.message.streamIdentifier == id || streams[id]?.inProgress != nil
            let value = schedulerValue(of: id)
            for index in 0..<(waiting - registered) {
                scheduler.enqueued(stream: id, value: value, becomesActive: !active && index == 0)
            }
        }
    }

    /// How many of a stream's `waiting` messages the scheduler knows: all of them, or for a
    /// paused stream those it may still start.
    func registeredMessageCount(_ id: UInt16, waiting: Int) -> Int {
        guard !paused.isEmpty, paused.isPaused(id) else { return waiting }
        return min(paused.allowance[id] ?? 0, waiting)
    }

    /// Whether the stream has messages the scheduler knows of.
    @inline(__always)
    private func hasRegisteredMessages(_ id: UInt16) -> Bool {
        guard streams.hasMessages(id) else { return false }
        return paused.isEmpty || !paused.blocks(id)
    }

    /// Whether the streams (all when empty) have sent everything queued before they were
    /// paused: no message of theirs is being cut and none they may still start waits. An
    /// outgoing reset of them is sent then.
    public func hasDrainedPausedStreams(_ streamIdentifiers: [UInt16]) -> Bool {
        if let current, streamIdentifiers.isEmpty || streamIdentifiers.contains(current.message.streamIdentifier) {
            return false
        }
        if interleaving {
            let inProgress = streamsInProgress
            if streamIdentifiers.isEmpty ? !inProgress.isEmpty : inProgress.contains(where: streamIdentifiers.contains) {
                return false
            }
        }
        if streamIdentifiers.isEmpty { return paused.allowance.values.allSatisfy { $0 == 0 } }
        return streamIdentifiers.allSatisfy { (paused.allowance[$0] ?? 0) == 0 }
    }

    /// Sets the SSN of every stream back to 0 (an SSN/TSN reset, RFC 6525 §5.1.4).
    public mutating func resetAllSequenceNumbers() {
        streams.forEachValue { stream in
            stream.nextSSN = SSN(0)
            stream.nextOrderedMID = MID(0)
            stream.nextUnorderedMID = MID(0)
        }
    }

    // MARK: Test hooks (the setters are private to this file)

    #if DEBUG
    /// Test hook: changes the byte count only.
    mutating func corruptQueuedBytesForTesting(by bytes: Int) {
        queuedBytes += bytes
    }

    /// Test hook: changes the scheduler's state only.
    mutating func corruptSchedulerForTesting(_ body: (inout StreamSchedulerState) -> Void) {
        body(&scheduler)
    }
    #endif
}

// MARK: - Interleaving (I-DATA, RFC 8260 §2)

extension SendQueue {
    /// Switches message interleaving on or off (the handshake negotiated I-DATA or not).
    /// With it, the scheduler is asked before every chunk, each stream fragments its own head
    /// message (one in progress per stream), and messages carry MIDs, counted per stream
    /// separately for ordered and unordered messages, instead of SSNs. A message partly cut
    /// as DATA is finished as I-DATA (a restart that changed the peer's features).
    public mutating func setInterleaving(_ on: Bool) {
        guard on != interleaving else { return }
        interleaving = on
        if on, let started = current {
            current = nil
            streams[started.message.streamIdentifier, default: Stream()].inProgress = started
        }
        rebuildScheduler(scheduler.kind)
    }

    private var interleavedNextRemainingBytes: Int? {
        guard let id = scheduler.peek else { return nil }
        return streams.headRemainingBytes(of: id)
    }

    private var interleavedNextDestination: IPAddress? {
        guard let id = scheduler.peek, let stream = streams[id] else { return nil }
        return stream.inProgress?.message.destination ?? stream.messages.first?.destination
    }

    /// `nextChunk` with interleaving: the scheduler picks a stream for this chunk; its head
    /// message (started now, with the stream's next MID, unless it already is) gives the next
    /// fragment.
    private mutating func nextInterleavedChunk(tsn: TSN, maxPayloadSize: Int, now: SCTPInstant?) -> CutChunk? {
        let drained = configuration.setsImmediateAckWhenDrained && queuedMessageCount == 1
        while let id = scheduler.next() {
            // A message started on a paused stream uses up one of its allowance (RFC 6525).
            if !paused.isEmpty, streams[id]?.inProgress == nil, let left = paused.allowance[id] {
                paused.allowance[id] = max(left - 1, 0)
            }
            var dropped: OutgoingMessage?
            var cut: CutChunk?
            var length = 0
            var isLast = false
            var streamIsEmpty = false
            modifyStream(id) { stream in
                if stream.inProgress == nil {
                    guard let message = stream.messages.popFirst() else { return }
                    if let now, let expiry = message.expiry, expiry <= now {
                        dropped = message
                        streamIsEmpty = stream.messages.isEmpty
                        return
                    }
                    let mid: MID
                    if message.isUnordered {
                        mid = stream.nextUnorderedMID
                        stream.nextUnorderedMID = mid.next
                    } else {
                        mid = stream.nextOrderedMID
                        stream.nextOrderedMID = mid.next
                    }
                    stream.inProgress = MessageInProgress(message: message, offset: 0, ssn: SSN(0), mid: mid, fsn: 0)
                }
                let started = stream.inProgress!
                let payload = started.message.payload
                let total = payload.readableBytes
                length = min(total - started.offset, maxPayloadSize)
                isLast = started.offset + length == total
                var flags: DataFlags = []
                if started.offset == 0 { flags.insert(.beginning) }
                if isLast { flags.insert(.ending) }
                if started.message.isUnordered { flags.insert(.unordered) }
                if isLast && (started.message.requestsImmediateAck || (drained && stream.messages.isEmpty)) {
                    flags.insert(.immediate)
                }
                let chunk = DataChunk(flags: flags, tsn: tsn, streamIdentifier: id, ssn: SSN(0),
                                      payloadProtocolIdentifier: started.message.payloadProtocolIdentifier,
                                      payload: payload.getSlice(at: payload.readerIndex + started.offset, length: length)!)
                cut = CutChunk(chunk: chunk, policy: CutChunk.Policy(expiry: started.message.expiry,
                                                                     maxRetransmissions: started.message.maxRetransmissions,
                                                                     context: started.message.context),
                               mid: started.mid, fsn: started.fsn)
                if isLast {
                    stream.inProgress = nil
                    streamIsEmpty = stream.messages.isEmpty
                } else {
                    stream.inProgress!.offset += length
                    stream.inProgress!.fsn &+= 1
                }
            }
            if let dropped {
                // Expired before it was sent: it never got a MID, so the peer misses nothing.
                queuedBytes -= dropped.payload.readableBytes
                queuedMessageCount -= 1
                expired.append(dropped)
                scheduler.didSend(stream: id, bytes: 0, endsMessage: true, streamIsEmpty: streamIsEmpty || !hasRegisteredMessages(id))
                continue
            }
            guard let cut else {
                assertionFailure("the scheduler offered stream \(id) with nothing to send")
                return nil
            }
            queuedBytes -= length
            if isLast { queuedMessageCount -= 1 }
            scheduler.didSend(stream: id, bytes: length, endsMessage: isLast,
                              streamIsEmpty: streamIsEmpty || (isLast && !hasRegisteredMessages(id)))
            return cut
        }
        return nil
    }

    /// Gives up the message in progress on `stream` if it is the one with this U flag and MID
    /// (its sent chunks were abandoned, PR-SCTP): its unsent bytes are dropped. Returns the
    /// message and how many of its bytes had been cut into chunks.
    @discardableResult
    public mutating func abandonMessage(stream id: UInt16, isUnordered: Bool, mid: MID) -> (message: OutgoingMessage, sentBytes: Int)? {
        guard let started = streams[id]?.inProgress, started.mid == mid, started.message.isUnordered == isUnordered else { return nil }
        var streamIsEmpty = false
        modifyStream(id) { stream in
            stream.inProgress = nil
            streamIsEmpty = stream.messages.isEmpty
        }
        queuedBytes -= started.message.payload.readableBytes - started.offset
        queuedMessageCount -= 1
        scheduler.didSend(stream: id, bytes: 0, endsMessage: true, streamIsEmpty: streamIsEmpty || !hasRegisteredMessages(id))
        return (started.message, started.offset)
    }

    /// `removeAll()` with interleaving: the messages partly sent (one per stream at most), and
    /// the messages not yet started, stream by stream in the scheduler's order.
    public mutating func removeAllInterleaved() -> (partlySent: [OutgoingMessage], unsent: [OutgoingMessage]) {
        var partlySent: [OutgoingMessage] = []
        var unsent: [OutgoingMessage] = []
        var taken = Set<UInt16>()
        // The scheduler's streams in its order, then those paused for a stream reset, by id.
        for id in scheduler.active + streams.keys.sorted() where taken.insert(id).inserted {
            guard let stream = streams[id] else { continue }
            if let started = stream.inProgress { partlySent.append(started.message) }
            unsent.append(contentsOf: stream.messages)
        }
        _ = removeAll()
        return (partlySent, unsent)
    }

    /// The MID the next message on `stream` will get (ordered or unordered).
    public func nextMID(for stream: UInt16, unordered: Bool) -> MID {
        unordered ? streams[stream]?.nextUnorderedMID ?? MID(0) : streams[stream]?.nextOrderedMID ?? MID(0)
    }

    /// The streams with a message partly cut into chunks (interleaving), for the invariants.
    var streamsInProgress: [UInt16] {
        streams.ids.indices.compactMap { streams.values[$0].inProgress != nil ? streams.ids[$0] : nil }
    }
}

extension SendQueue.StreamTable {
    /// The unsent bytes of a stream's head message (the one in progress, else the first
    /// waiting), read in place: no copy of the stream's state per chunk.
    func headRemainingBytes(of id: UInt16) -> Int? {
        guard let index = index(of: id) else { return nil }
        if let started = values[index].inProgress { return started.message.payload.readableBytes - started.offset }
        return values[index].messages.first?.payload.readableBytes
    }
}
