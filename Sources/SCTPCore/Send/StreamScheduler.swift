import DequeModule

/// The stream schedulers of RFC 8260 §3: which outbound stream's data the send queue cuts
/// into chunks next. The numbers are those of `SCTP_STREAM_SCHEDULER` (RFC 8260 §4.3.2) as
/// usrsctp defines them (`SCTP_SS_*` in usrsctp.h), so that an application and our usrsctp
/// interop peer use the same values; weighted fair queueing, which usrsctp lacks, is 6.
public enum StreamSchedulerKind: UInt32, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// Round robin per message (RFC 8260 §3.2), the default: each stream with data sends
    /// one message, then waits behind the others.
    case roundRobin = 1
    /// Round robin per packet (RFC 8260 §3.3): the streams switch only where a new packet
    /// starts; a stream fills the packets it starts (another stream fills the rest of a
    /// packet only when it runs out of data). With plain DATA a message started in one packet
    /// is finished first, so the stream that finishes it at the start of a packet owns that
    /// packet.
    case roundRobinPerPacket = 2
    /// Strict priority (RFC 8260 §3.4): the stream with the lowest value
    /// (`SCTP_STREAM_SCHEDULER_VALUE`) goes first; streams of equal priority take turns per
    /// message. Lower-priority streams wait while a higher one has data.
    case priority = 3
    /// Fair capacity (RFC 8260 §3.5): the stream that has sent the fewest bytes since it
    /// last had data waiting goes next, so streams with large messages do not crowd out
    /// those with small ones.
    case fairCapacity = 4
    /// First come, first served (RFC 8260 §3.1): messages leave in the order the
    /// application queued them, whatever their stream.
    case firstComeFirstServed = 5
    /// Weighted fair queueing (RFC 8260 §3.6): like fair capacity, with the bytes each stream
    /// sent divided by its weight (`SCTP_STREAM_SCHEDULER_VALUE`; 0, the default, counts as
    /// 1): a stream of weight n gets n times the capacity of a stream of weight 1.
    case weightedFairQueueing = 6

    /// The scheduler of new associations unless configured otherwise (`SCTP_SS_DEFAULT`).
    public static let `default` = StreamSchedulerKind.roundRobin

    /// The scheduler an `SCTP_STREAM_SCHEDULER` value names: 0 (`SCTP_SS_DEFAULT`) is the
    /// default, 1 to 6 as the cases; `nil` for any other value.
    public init?(optionValue: UInt32) {
        if optionValue == 0 { self = .default } else if let kind = Self(rawValue: optionValue) { self = kind } else { return nil }
    }

    /// The short name `sctp-perf --scheduler` takes: `rr`, `rr-packet`, `priority`, `fc`,
    /// `fcfs`, `wfq`.
    public var name: String {
        switch self {
        case .roundRobin: "rr"
        case .roundRobinPerPacket: "rr-packet"
        case .priority: "priority"
        case .fairCapacity: "fc"
        case .firstComeFirstServed: "fcfs"
        case .weightedFairQueueing: "wfq"
        }
    }

    /// The scheduler with this short name (`name`), if any.
    public init?(name: String) {
        guard let kind = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = kind
    }

    public var description: String { name }
}

/// What a stream scheduler must do (RFC 8260 §3). The send queue keeps each stream's
/// messages in a FIFO; the scheduler only decides which stream goes next and learns what was
/// sent. Implementations are value types with no allocation per chunk on the steady path;
/// the send queue holds them in a concrete enum (`StreamSchedulerState`), never as an
/// existential.
///
/// A stream is *active* from the moment a message is queued on it while it had no unsent data
/// until the chunk that leaves it with none (its last message's last chunk, or a message
/// dropped unsent). The send queue asks `next()` only at a *decision point*:
/// - plain DATA (`interleaving` false): when no message is being fragmented, i.e. once per
///   message; the stream then sends that message's chunks consecutively;
/// - I-DATA (`interleaving` true, RFC 8260 §2): before every chunk; a stream with a
///   partly sent message stays active and may be chosen again later.
///
/// Every chunk cut is reported with `didSend`, and `packetDidEnd()` tells where one packet's
/// new data ends and the next one's begins; per-packet and per-byte schedulers decide with
/// these.
public protocol StreamScheduler: Sendable {
    /// An empty scheduler; `interleaving`: decisions per chunk (I-DATA) rather than per message.
    init(interleaving: Bool)
    /// A message was queued on `stream`, whose scheduler value (priority or weight) is
    /// `value`. `becomesActive`: the stream had no unsent data before.
    mutating func enqueued(stream: UInt16, value: UInt16, becomesActive: Bool)
    /// At a decision point: the stream whose data goes next, `nil` when none is active. May
    /// commit a pending switch (per packet), hence mutating; it does not remove the stream.
    mutating func next() -> UInt16?
    /// What `next()` would answer now, changing nothing.
    var peek: UInt16? { get }
    /// A chunk of `bytes` bytes of user data of `stream` was cut (0 bytes: a message was
    /// dropped unsent or given up). `endsMessage`: the chunk ended its message (or the message
    /// was dropped). `streamIsEmpty`: the stream has no unsent data left and stops being active.
    mutating func didSend(stream: UInt16, bytes: Int, endsMessage: Bool, streamIsEmpty: Bool)
    /// The packet being filled is complete: later chunks go into a new packet.
    mutating func packetDidEnd()
    /// The scheduler value of `stream` changed (the send queue keeps the values).
    mutating func setValue(_ value: UInt16, of stream: UInt16)
    /// Removes the active streams that match (streams that no longer exist).
    mutating func remove(where shouldRemove: (UInt16) -> Bool)
    /// The active streams, each once, roughly in the order they would be served.
    var active: [UInt16] { get }
    /// Checks the scheduler's state against the send queue's: `unsentMessages` counts, per
    /// active stream, the messages with unsent bytes (the one being fragmented included);
    /// `value` gives a stream's scheduler value. One line per violation.
    func checkInvariants(unsentMessages: [UInt16: Int], value: (UInt16) -> UInt16) -> [String]
}

extension StreamScheduler {
    /// The common check: the active streams are exactly those with unsent messages, each once.
    func checkActiveStreams(_ unsentMessages: [UInt16: Int]) -> [String] {
        var violations: [String] = []
        var seen = Set<UInt16>()
        for stream in active where !seen.insert(stream).inserted { violations.append("stream \(stream) is active twice") }
        for stream in seen where unsentMessages[stream] == nil { violations.append("stream \(stream) is active with nothing to send") }
        for stream in unsentMessages.keys where !seen.contains(stream) {
            violations.append("stream \(stream) has messages but is not active")
        }
        return violations
    }
}

// MARK: - Round robin per message (RFC 8260 §3.2)

/// Round robin per message: each active stream sends one message (with I-DATA: one chunk),
/// then goes behind the others.
public struct RoundRobinScheduler: StreamScheduler {
    private var order: Deque<UInt16> = []
    private let interleaving: Bool

    public init(interleaving: Bool = false) { self.interleaving = interleaving }

    public mutating func enqueued(stream: UInt16, value: UInt16, becomesActive: Bool) {
        if becomesActive { order.append(stream) }
    }

    public mutating func next() -> UInt16? { order.first }
    public var peek: UInt16? { order.first }

    @inline(__always)
    public mutating func didSend(stream: UInt16, bytes: Int, endsMessage: Bool, streamIsEmpty: Bool) {
        guard streamIsEmpty || endsMessage || interleaving else { return }
        turnEnded(stream: stream, streamIsEmpty: streamIsEmpty)
    }

    private mutating func turnEnded(stream: UInt16, streamIsEmpty: Bool) {
        // The only active stream, still active: it stays where it is (taking it off the
        // front and putting it back was two deque operations per message sent, the usual
        // single-stream case).
        if !streamIsEmpty && order.count == 1 && order.first == stream { return }
        // The stream served is the first one, unless the order changed under it.
        if order.first == stream { order.removeFirst() } else { order.removeAll { $0 == stream } }
        if !streamIsEmpty { order.append(stream) }
    }

    public mutating func packetDidEnd() {}
    public mutating func setValue(_ value: UInt16, of stream: UInt16) {}
    public mutating func remove(where shouldRemove: (UInt16) -> Bool) { order.removeAll(where: shouldRemove) }
    public var active: [UInt16] { Array(order) }

    public func checkInvariants(unsentMessages: [UInt16: Int], value: (UInt16) -> UInt16) -> [String] {
        checkActiveStreams(unsentMessages)
    }
}

// MARK: - Round robin per packet (RFC 8260 §3.3)

/// Round robin per packet: the stream that puts the first new chunk into a packet keeps
/// sending until the packet ends (or it runs dry); at the first decision point after that,
/// it goes behind the others.
public struct RoundRobinPerPacketScheduler: StreamScheduler {
    private var order: Deque<UInt16> = []
    /// A packet ended since the last chunk: the stream that filled it yields at the next
    /// decision point.
    private var packetEnded = false
    /// The stream of the last chunk cut.
    private var lastServed: UInt16?

    public init(interleaving: Bool = false) {}

    public mutating func enqueued(stream: UInt16, value: UInt16, becomesActive: Bool) {
        if becomesActive { order.append(stream) }
    }

    /// Whether the first stream must yield to the second now.
    private var switchesNow: Bool { packetEnded && order.count > 1 && order.first == lastServed }

    public mutating func next() -> UInt16? {
        if switchesNow { order.append(order.removeFirst()) }
        packetEnded = false
        return order.first
    }

    public var peek: UInt16? { switchesNow ? order[order.index(after: order.startIndex)] : order.first }

    public mutating func didSend(stream: UInt16, bytes: Int, endsMessage: Bool, streamIsEmpty: Bool) {
        // The first chunk of a packet decides whose packet it is (with plain DATA, the
        // continuation of a message started in the previous packet).
        if bytes > 0 {
            packetEnded = false
            lastServed = stream
        }
        if streamIsEmpty {
            if order.first == stream { order.removeFirst() } else { order.removeAll { $0 == stream } }
        }
    }

    public mutating func packetDidEnd() { packetEnded = true }
    public mutating func setValue(_ value: UInt16, of stream: UInt16) {}
    public mutating func remove(where shouldRemove: (UInt16) -> Bool) { order.removeAll(where: shouldRemove) }
    public var active: [UInt16] { Array(order) }

    public func checkInvariants(unsentMessages: [UInt16: Int], value: (UInt16) -> UInt16) -> [String] {
        checkActiveStreams(unsentMessages)
    }
}

// MARK: - First come, first served (RFC 8260 §3.1)

/// First come, first served: one entry per unsent message, in the order the messages were
/// queued; the oldest message goes first, whatever its stream, and is finished before the
/// next starts (also with I-DATA).
public struct FirstComeFirstServedScheduler: StreamScheduler {
    /// The stream of every message with unsent bytes, oldest first.
    private var messages: Deque<UInt16> = []

    public init(interleaving: Bool = false) {}

    public mutating func enqueued(stream: UInt16, value: UInt16, becomesActive: Bool) { messages.append(stream) }
    public mutating func next() -> UInt16? { messages.first }
    public var peek: UInt16? { messages.first }

    public mutating func didSend(stream: UInt16, bytes: Int, endsMessage: Bool, streamIsEmpty: Bool) {
        guard endsMessage else { return }
        if messages.first == stream {
            messages.removeFirst()
        } else if let index = messages.firstIndex(of: stream) {
            messages.remove(at: index)
        }
    }

    public mutating func packetDidEnd() {}
    public mutating func setValue(_ value: UInt16, of stream: UInt16) {}
    public mutating func remove(where shouldRemove: (UInt16) -> Bool) { messages.removeAll(where: shouldRemove) }

    public var active: [UInt16] {
        var seen = Set<UInt16>()
        return messages.filter { seen.insert($0).inserted }
    }

    public func checkInvariants(unsentMessages: [UInt16: Int], value: (UInt16) -> UInt16) -> [String] {
        var violations = checkActiveStreams(unsentMessages)
        var counts: [UInt16: Int] = [:]
        for stream in messages { counts[stream, default: 0] += 1 }
        for (stream, count) in unsentMessages where counts[stream, default: 0] != count {
            violations.append("FCFS lists \(counts[stream, default: 0]) messages of stream \(stream), which has \(count)")
        }
        return violations
    }
}

// MARK: - Priority (RFC 8260 §3.4)

/// Strict priority: the active streams sorted by value, lowest (highest priority) first;
/// within one value, round robin per message (with I-DATA: per chunk).
public struct PriorityScheduler: StreamScheduler {
    struct Entry: Hashable, Sendable {
        var stream: UInt16
        var priority: UInt16
    }

    /// Sorted by priority; within a priority, in turn order.
    private var entries: [Entry] = []
    private let interleaving: Bool

    public init(interleaving: Bool = false) { self.interleaving = interleaving }

    /// Inserts behind the active streams of the same or a higher priority.
    private mutating func insert(_ entry: Entry) {
        let index = entries.firstIndex { $0.priority > entry.priority } ?? entries.endIndex
        entries.insert(entry, at: index)
    }

    private mutating func take(_ stream: UInt16) -> Entry? {
        if entries.first?.stream == stream { return entries.removeFirst() }
        guard let index = entries.firstIndex(where: { $0.stream == stream }) else { return nil }
        return entries.remove(at: index)
    }

    public mutating func enqueued(stream: UInt16, value: UInt16, becomesActive: Bool) {
        if becomesActive { insert(Entry(stream: stream, priority: value)) }
    }

    public mutating func next() -> UInt16? { entries.first?.stream }
    public var peek: UInt16? { entries.first?.stream }

    public mutating func didSend(stream: UInt16, bytes: Int, endsMessage: Bool, streamIsEmpty: Bool) {
        guard streamIsEmpty || endsMessage || interleaving, let entry = take(stream) else { return }
        if !streamIsEmpty { insert(entry) }
    }

    public mutating func packetDidEnd() {}

    public mutating func setValue(_ value: UInt16, of stream: UInt16) {
        guard var entry = take(stream) else { return }
        entry.priority = value
        insert(entry)
    }

    public mutating func remove(where shouldRemove: (UInt16) -> Bool) { entries.removeAll { shouldRemove($0.stream) } }
    public var active: [UInt16] { entries.map(\.stream) }

    public func checkInvariants(unsentMessages: [UInt16: Int], value: (UInt16) -> UInt16) -> [String] {
        var violations = checkActiveStreams(unsentMessages)
        for (previous, entry) in zip(entries, entries.dropFirst()) where previous.priority > entry.priority {
            violations.append("priority order broken: stream \(previous.stream) (\(previous.priority)) before \(entry.stream) (\(entry.priority))")
        }
        for entry in entries where entry.priority != value(entry.stream) {
            violations.append("stream \(entry.stream) is scheduled at priority \(entry.priority), its value is \(value(entry.stream))")
        }
        return violations
    }
}

// MARK: - Fair capacity and weighted fair queueing (RFC 8260 §3.5, §3.6)

/// Fair capacity (all weights 1) or weighted fair queueing: each active stream has a virtual
/// time, the bytes it sent divided by its weight (scaled by 2^16, in integers); the stream
/// with the smallest goes next, ties to the one served longest ago. A stream that becomes
/// active starts at the virtual time of the last decision, so an idle stream saves up no
/// credit. With plain DATA a decision covers a whole message, so the fairness is per message
/// size; with I-DATA it is per chunk.
public struct FairQueueingScheduler: StreamScheduler {
    struct Entry: Hashable, Sendable {
        var stream: UInt16
        var weight: UInt64
        var virtualTime: UInt64
        /// When the stream was last served (or became active): ties go to the smallest.
        var lastServed: UInt64
    }

    /// Whether stream values are weights (WFQ) rather than ignored (fair capacity).
    public let weighted: Bool
    private var entries: [Entry] = []
    /// The virtual time of the last decision.
    private var virtualNow: UInt64 = 0
    /// Counts chunks served, for ties.
    private var tick: UInt64 = 0

    public init(interleaving: Bool = false) { self.init(weighted: false) }

    /// Weighted fair queueing when `weighted`, else fair capacity.
    public init(weighted: Bool) { self.weighted = weighted }

    private func weight(_ value: UInt16) -> UInt64 { weighted ? UInt64(max(value, 1)) : 1 }

    private var nextIndex: Int? {
        guard var best = entries.indices.first else { return nil }
        for index in entries.indices.dropFirst() {
            let entry = entries[index], current = entries[best]
            if entry.virtualTime < current.virtualTime
                || (entry.virtualTime == current.virtualTime && entry.lastServed < current.lastServed) {
                best = index
            }
        }
        return best
    }

    public mutating func enqueued(stream: UInt16, value: UInt16, becomesActive: Bool) {
        guard becomesActive else { return }
        tick &+= 1
        entries.append(Entry(stream: stream, weight: weight(value), virtualTime: virtualNow, lastServed: tick))
    }

    public mutating func next() -> UInt16? {
        guard let index = nextIndex else { return nil }
        virtualNow = max(virtualNow, entries[index].virtualTime)
        return entries[index].stream
    }

    public var peek: UInt16? { nextIndex.map { entries[$0].stream } }

    public mutating func didSend(stream: UInt16, bytes: Int, endsMessage: Bool, streamIsEmpty: Bool) {
        guard let index = entries.firstIndex(where: { $0.stream == stream }) else { return }
        if streamIsEmpty {
            entries.remove(at: index)
            return
        }
        tick &+= 1
        entries[index].virtualTime &+= (UInt64(bytes) << 16) / entries[index].weight
        entries[index].lastServed = tick
    }

    public mutating func packetDidEnd() {}

    public mutating func setValue(_ value: UInt16, of stream: UInt16) {
        guard let index = entries.firstIndex(where: { $0.stream == stream }) else { return }
        entries[index].weight = weight(value)
    }

    public mutating func remove(where shouldRemove: (UInt16) -> Bool) { entries.removeAll { shouldRemove($0.stream) } }
    public var active: [UInt16] { entries.map(\.stream) }

    public func checkInvariants(unsentMessages: [UInt16: Int], value: (UInt16) -> UInt16) -> [String] {
        var violations = checkActiveStreams(unsentMessages)
        for entry in entries where entry.weight != weight(value(entry.stream)) {
            violations.append("stream \(entry.stream) has weight \(entry.weight), its value is \(value(entry.stream))")
        }
        return violations
    }
}

// MARK: - The send queue's scheduler

/// The scheduler a send queue runs, chosen per association at run time: the six schedulers
/// of RFC 8260 §3 as concrete types behind a `switch` on `kind` (no existential on the
/// packet path). It is a struct holding each implementation's (empty until used) storage
/// side by side rather than an enum with payloads: mutating an enum's payload means moving it
/// out and back (`switch consume self`), two `memcpy` calls of the largest payload per call,
/// which cost about 3 % of the core's instructions per packet in `CoreBenchmark`; here every
/// call mutates its stored scheduler in place. Unused schedulers hold empty collections
/// (no allocation).
public struct StreamSchedulerState: StreamScheduler {
    /// Which scheduler runs.
    public let kind: StreamSchedulerKind
    private var roundRobin: RoundRobinScheduler
    private var roundRobinPerPacket: RoundRobinPerPacketScheduler
    private var priority: PriorityScheduler
    /// Fair capacity or weighted fair queueing.
    private var fairQueueing: FairQueueingScheduler
    private var firstComeFirstServed: FirstComeFirstServedScheduler

    /// An empty scheduler of `kind`.
    public init(_ kind: StreamSchedulerKind, interleaving: Bool = false) {
        self.kind = kind
        roundRobin = RoundRobinScheduler(interleaving: interleaving)
        roundRobinPerPacket = RoundRobinPerPacketScheduler(interleaving: interleaving)
        priority = PriorityScheduler(interleaving: interleaving)
        fairQueueing = FairQueueingScheduler(weighted: kind == .weightedFairQueueing)
        firstComeFirstServed = FirstComeFirstServedScheduler(interleaving: interleaving)
    }

    /// An empty scheduler of the default kind (round robin per message).
    public init(interleaving: Bool) { self.init(.default, interleaving: interleaving) }

    @inline(__always)
    public mutating func enqueued(stream: UInt16, value: UInt16, becomesActive: Bool) {
        switch kind {
        case .roundRobin: roundRobin.enqueued(stream: stream, value: value, becomesActive: becomesActive)
        case .roundRobinPerPacket: roundRobinPerPacket.enqueued(stream: stream, value: value, becomesActive: becomesActive)
        case .priority: priority.enqueued(stream: stream, value: value, becomesActive: becomesActive)
        case .fairCapacity, .weightedFairQueueing: fairQueueing.enqueued(stream: stream, value: value, becomesActive: becomesActive)
        case .firstComeFirstServed: firstComeFirstServed.enqueued(stream: stream, value: value, becomesActive: becomesActive)
        }
    }

    @inline(__always)
    public mutating func next() -> UInt16? {
        switch kind {
        case .roundRobin: roundRobin.next()
        case .roundRobinPerPacket: roundRobinPerPacket.next()
        case .priority: priority.next()
        case .fairCapacity, .weightedFairQueueing: fairQueueing.next()
        case .firstComeFirstServed: firstComeFirstServed.next()
        }
    }

    @inline(__always)
    public var peek: UInt16? {
        switch kind {
        case .roundRobin: roundRobin.peek
        case .roundRobinPerPacket: roundRobinPerPacket.peek
        case .priority: priority.peek
        case .fairCapacity, .weightedFairQueueing: fairQueueing.peek
        case .firstComeFirstServed: firstComeFirstServed.peek
        }
    }

    @inline(__always)
    public mutating func didSend(stream: UInt16, bytes: Int, endsMessage: Bool, streamIsEmpty: Bool) {
        switch kind {
        case .roundRobin: roundRobin.didSend(stream: stream, bytes: bytes, endsMessage: endsMessage, streamIsEmpty: streamIsEmpty)
        case .roundRobinPerPacket:
            roundRobinPerPacket.didSend(stream: stream, bytes: bytes, endsMessage: endsMessage, streamIsEmpty: streamIsEmpty)
        case .priority: priority.didSend(stream: stream, bytes: bytes, endsMessage: endsMessage, streamIsEmpty: streamIsEmpty)
        case .fairCapacity, .weightedFairQueueing:
            fairQueueing.didSend(stream: stream, bytes: bytes, endsMessage: endsMessage, streamIsEmpty: streamIsEmpty)
        case .firstComeFirstServed:
            firstComeFirstServed.didSend(stream: stream, bytes: bytes, endsMessage: endsMessage, streamIsEmpty: streamIsEmpty)
        }
    }

    @inline(__always)
    public mutating func packetDidEnd() {
        // Only the per-packet scheduler cares.
        if kind == .roundRobinPerPacket { roundRobinPerPacket.packetDidEnd() }
    }

    public mutating func setValue(_ value: UInt16, of stream: UInt16) {
        switch kind {
        case .priority: priority.setValue(value, of: stream)
        case .fairCapacity, .weightedFairQueueing: fairQueueing.setValue(value, of: stream)
        case .roundRobin, .roundRobinPerPacket, .firstComeFirstServed: break
        }
    }

    public mutating func remove(where shouldRemove: (UInt16) -> Bool) {
        switch kind {
        case .roundRobin: roundRobin.remove(where: shouldRemove)
        case .roundRobinPerPacket: roundRobinPerPacket.remove(where: shouldRemove)
        case .priority: priority.remove(where: shouldRemove)
        case .fairCapacity, .weightedFairQueueing: fairQueueing.remove(where: shouldRemove)
        case .firstComeFirstServed: firstComeFirstServed.remove(where: shouldRemove)
        }
    }

    public var active: [UInt16] {
        switch kind {
        case .roundRobin: roundRobin.active
        case .roundRobinPerPacket: roundRobinPerPacket.active
        case .priority: priority.active
        case .fairCapacity, .weightedFairQueueing: fairQueueing.active
        case .firstComeFirstServed: firstComeFirstServed.active
        }
    }

    public func checkInvariants(unsentMessages: [UInt16: Int], value: (UInt16) -> UInt16) -> [String] {
        var violations: [String] = []
        switch kind {
        case .roundRobin: violations = roundRobin.checkInvariants(unsentMessages: unsentMessages, value: value)
        case .roundRobinPerPacket: violations = roundRobinPerPacket.checkInvariants(unsentMessages: unsentMessages, value: value)
        case .priority: violations = priority.checkInvariants(unsentMessages: unsentMessages, value: value)
        case .fairCapacity, .weightedFairQueueing:
            violations = fairQueueing.checkInvariants(unsentMessages: unsentMessages, value: value)
        case .firstComeFirstServed: violations = firstComeFirstServed.checkInvariants(unsentMessages: unsentMessages, value: value)
        }
        // The schedulers not running hold nothing.
        if kind != .roundRobin && !roundRobin.active.isEmpty { violations.append("the idle round robin holds streams") }
        if kind != .roundRobinPerPacket && !roundRobinPerPacket.active.isEmpty { violations.append("the idle per-packet round robin holds streams") }
        if kind != .priority && !priority.active.isEmpty { violations.append("the idle priority scheduler holds streams") }
        if kind != .fairCapacity && kind != .weightedFairQueueing && !fairQueueing.active.isEmpty {
            violations.append("the idle fair queueing holds streams")
        }
        if kind != .firstComeFirstServed && !firstComeFirstServed.active.isEmpty { violations.append("the idle FCFS holds messages") }
        return violations
    }
}
