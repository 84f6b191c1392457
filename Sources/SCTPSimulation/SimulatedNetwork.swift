import NIOCore
import SCTPCore
import SCTPWire

/// A datagram handed to its receiver by the simulated network.
public struct Delivery: Hashable, Sendable {
    /// The bytes as they arrive (possibly corrupted).
    public var datagram: ByteBuffer
    /// The sending address.
    public var from: IPAddress
    /// The receiving address.
    public var to: IPAddress
    /// When it arrives.
    public var time: SCTPInstant
    /// When it was sent.
    public var sentAt: SCTPInstant
    /// Whether it carries the ECN CE mark (`LinkConditions.congestionExperiencedProbability`).
    public var congestionExperienced: Bool

    public init(datagram: ByteBuffer, from: IPAddress, to: IPAddress, time: SCTPInstant, sentAt: SCTPInstant,
                congestionExperienced: Bool = false) {
        self.datagram = datagram
        self.from = from
        self.to = to
        self.time = time
        self.sentAt = sentAt
        self.congestionExperienced = congestionExperienced
    }
}

/// A deterministic discrete-event network of one-way links between addresses, for tests
/// of the sans-IO core and of applications built on it.
///
/// Nodes are addresses: a datagram sent from one address to another travels the link
/// added for that ordered pair (`addLink`), or is counted as `unroutable` when there is
/// none. Datagrams are opaque bytes (an SCTP packet, as if UDP-encapsulated). Every random
/// choice comes from one seed: each link draws from its own `SeededRandomSource`, seeded
/// from the network's generator when the link is added, so a run repeats exactly for the
/// same seed and the same sequence of calls, and traffic on one link does not change the
/// fate of datagrams on another.
///
/// Time is whatever the caller says: `send(…at:)` with non-decreasing instants, then
/// `nextDeliveryTime` and `deliverDue(upTo:)`. Datagrams arriving at the same instant come
/// out in the order they were scheduled.
public struct SimulatedNetwork: Sendable {
    /// What `send` did with a datagram.
    public enum SendOutcome: Hashable, Sendable {
        /// On its way (possibly with a duplicate).
        case scheduled
        /// Lost at random.
        case lost
        /// Dropped: the link's queue was full.
        case droppedQueueFull
        /// Dropped: the link was down.
        case droppedLinkDown
        /// No link from the source to the destination.
        case unroutable
    }

    private struct Link: Sendable {
        let id: LinkID
        var conditions: LinkConditions
        var random: SeededRandomSource
        var statistics = LinkStatistics()
        /// When the link finishes serialising what it has accepted.
        var busyUntil = SCTPInstant(nanoseconds: .min)
        /// Datagrams waiting for or in serialisation: when each finishes, and its size.
        var queue: [(finish: SCTPInstant, bytes: Int)] = []
        var queueHead = 0
        var queuedBytes = 0
        /// Up/down changes, sorted by time (stable for equal times).
        var changes: [(at: SCTPInstant, up: Bool)] = []
        var inFlight = 0

        func isUp(at time: SCTPInstant) -> Bool {
            var up = true
            for change in changes {
                if change.at > time { break }
                up = change.up
            }
            return up
        }

        mutating func releaseFinished(at time: SCTPInstant) {
            while queueHead < queue.count, queue[queueHead].finish <= time {
                queuedBytes -= queue[queueHead].bytes
                queueHead += 1
            }
            if queueHead > 64, queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
        }
    }

    private struct Scheduled: Comparable, Sendable {
        var delivery: Delivery
        var sequence: UInt64
        var link: Int

        static func < (lhs: Scheduled, rhs: Scheduled) -> Bool {
            if lhs.delivery.time != rhs.delivery.time { return lhs.delivery.time < rhs.delivery.time }
            return lhs.sequence < rhs.sequence
        }

        static func == (lhs: Scheduled, rhs: Scheduled) -> Bool { lhs.sequence == rhs.sequence }
    }

    private var random: SeededRandomSource
    private var links: [Link] = []
    private var linkIndex: [LinkID: Int] = [:]
    private var pending = PriorityQueue<Scheduled>()
    private var nextSequence: UInt64 = 0

    /// Datagrams sent between addresses with no link.
    public private(set) var unroutable = 0

    /// An empty network whose every random choice derives from `seed`.
    public init(seed: UInt64) {
        random = SeededRandomSource(seed: seed)
    }

    // MARK: Topology

    /// Adds the one-way link `from` → `to`, or changes its conditions if it exists (its
    /// random stream, counters, queue and up/down schedule stay).
    public mutating func addLink(from: IPAddress, to: IPAddress, conditions: LinkConditions = .perfect) {
        let id = LinkID(from: from, to: to)
        if let index = linkIndex[id] {
            links[index].conditions = conditions
            return
        }
        linkIndex[id] = links.count
        links.append(Link(id: id, conditions: conditions, random: SeededRandomSource(seed: random.nextUInt64())))
    }

    /// Adds the links `a` → `b` and `b` → `a` with the same conditions.
    public mutating func addSymmetricLink(between a: IPAddress, and b: IPAddress,
                                          conditions: LinkConditions = .perfect) {
        addLink(from: a, to: b, conditions: conditions)
        addLink(from: b, to: a, conditions: conditions)
    }

    /// Every link, in the order added.
    public var linkIDs: [LinkID] { links.map(\.id) }

    /// The conditions of a link, `nil` if there is none.
    public func conditions(from: IPAddress, to: IPAddress) -> LinkConditions? {
        linkIndex[LinkID(from: from, to: to)].map { links[$0].conditions }
    }

    /// Schedules the link `from` → `to` to go up or down at `time` (and stay so until the
    /// next change). A datagram is dropped if its link is down when it is sent or when it
    /// would arrive. Returns `false` if there is no such link.
    @discardableResult
    public mutating func setLinkUp(_ up: Bool, from: IPAddress, to: IPAddress, at time: SCTPInstant) -> Bool {
        guard let index = linkIndex[LinkID(from: from, to: to)] else { return false }
        var position = links[index].changes.count
        while position > 0, links[index].changes[position - 1].at > time { position -= 1 }
        links[index].changes.insert((time, up), at: position)
        return true
    }

    /// Schedules both directions between `a` and `b` to go up or down at `time`.
    public mutating func setLinksUp(_ up: Bool, between a: IPAddress, and b: IPAddress, at time: SCTPInstant) {
        setLinkUp(up, from: a, to: b, at: time)
        setLinkUp(up, from: b, to: a, at: time)
    }

    /// Whether the link `from` → `to` is up at `time` (`false` if there is no such link).
    public func isLinkUp(from: IPAddress, to: IPAddress, at time: SCTPInstant) -> Bool {
        guard let index = linkIndex[LinkID(from: from, to: to)] else { return false }
        return links[index].isUp(at: time)
    }

    /// The counters of the link `from` → `to`, `nil` if there is none.
    public func statistics(from: IPAddress, to: IPAddress) -> LinkStatistics? {
        linkIndex[LinkID(from: from, to: to)].map { links[$0].statistics }
    }

    /// The counters of every link added together.
    public var totalStatistics: LinkStatistics {
        var total = LinkStatistics()
        for link in links {
            total.sent += link.statistics.sent
            total.delivered += link.statistics.delivered
            total.bytesDelivered += link.statistics.bytesDelivered
            total.lost += link.statistics.lost
            total.droppedQueueFull += link.statistics.droppedQueueFull
            total.droppedLinkDown += link.statistics.droppedLinkDown
            total.droppedTooBig += link.statistics.droppedTooBig
            total.duplicated += link.statistics.duplicated
            total.corrupted += link.statistics.corrupted
            total.congestionMarked += link.statistics.congestionMarked
        }
        return total
    }

    // MARK: Traffic

    /// Sends `datagram` from `from` to `to` at `time`. The outcome is decided now: the
    /// link's up/down state, queue, loss, corruption and duplication; the delivery (or two)
    /// is scheduled for later.
    @discardableResult
    public mutating func send(datagram: ByteBuffer, from: IPAddress, to: IPAddress, at time: SCTPInstant) -> SendOutcome {
        guard let index = linkIndex[LinkID(from: from, to: to)] else {
            unroutable += 1
            return .unroutable
        }
        links[index].statistics.sent += 1
        guard links[index].isUp(at: time) else {
            links[index].statistics.droppedLinkDown += 1
            return .droppedLinkDown
        }
        let conditions = links[index].conditions
        let size = datagram.readableBytes
        if let limit = conditions.maxDatagramSize, size > limit {
            // Before any random draw: a run without the limit draws the same numbers.
            links[index].statistics.droppedTooBig += 1
            return .lost
        }

        // Serialisation and drop-tail queue.
        var departure = time
        if let bandwidth = conditions.bandwidth, bandwidth > 0 {
            links[index].releaseFinished(at: time)
            if let limit = conditions.queueLimit, links[index].queuedBytes + size > limit {
                links[index].statistics.droppedQueueFull += 1
                return .droppedQueueFull
            }
            let bits = Int64(size) * 8
            let (scaled, overflow) = bits.multipliedReportingOverflow(by: 1_000_000_000)
            let nanoseconds = overflow ? Int64.max : (scaled + Int64(bandwidth) - 1) / Int64(bandwidth)
            let start = max(time, links[index].busyUntil)
            departure = start + .nanoseconds(nanoseconds)
            links[index].busyUntil = departure
            links[index].queue.append((departure, size))
            links[index].queuedBytes += size
        }

        if links[index].random.chance(conditions.lossProbability) {
            links[index].statistics.lost += 1
            return .lost
        }

        var bytes = datagram
        if size > 0, links[index].random.chance(conditions.corruptionProbability) {
            let offset = Int(links[index].random.next(below: UInt64(size)))
            let mask = UInt8(links[index].random.next(below: 255) + 1)
            let position = bytes.readerIndex + offset
            if let byte = bytes.getInteger(at: position, as: UInt8.self) {
                bytes.setInteger(byte ^ mask, at: position)
            }
            links[index].statistics.corrupted += 1
        }
        // Drawn only when the probability is set, so that older seeded runs stay the same.
        let marked = links[index].random.chance(conditions.congestionExperiencedProbability)
        if marked { links[index].statistics.congestionMarked += 1 }
        schedule(bytes, link: index, sentAt: time, arrival: departure + transitDelay(link: index), marked: marked)

        if links[index].random.chance(conditions.duplicationProbability) {
            links[index].statistics.duplicated += 1
            schedule(datagram, link: index, sentAt: time, arrival: departure + transitDelay(link: index), marked: marked)
        }
        return .scheduled
    }

    private mutating func transitDelay(link index: Int) -> Duration {
        let conditions = links[index].conditions
        var total = conditions.delay + links[index].random.duration(upTo: conditions.jitter)
        if links[index].random.chance(conditions.reorderProbability) {
            total += links[index].random.duration(upTo: conditions.reorderDelay)
        }
        return total
    }

    private mutating func schedule(_ bytes: ByteBuffer, link index: Int, sentAt: SCTPInstant, arrival: SCTPInstant,
                                   marked: Bool) {
        let id = links[index].id
        pending.insert(Scheduled(
            delivery: Delivery(datagram: bytes, from: id.from, to: id.to, time: arrival, sentAt: sentAt,
                               congestionExperienced: marked),
            sequence: nextSequence, link: index))
        nextSequence &+= 1
        links[index].inFlight += 1
    }

    /// When the next datagram arrives, `nil` if none is in flight.
    public var nextDeliveryTime: SCTPInstant? { pending.min?.delivery.time }

    /// Datagrams in flight on every link.
    public var inFlight: Int { pending.count }

    /// Every datagram arriving at or before `time`, in arrival order (ties in the order they
    /// were scheduled). Datagrams whose link is down at their arrival are dropped instead.
    public mutating func deliverDue(upTo time: SCTPInstant) -> [Delivery] {
        var result: [Delivery] = []
        while let next = pending.min, next.delivery.time <= time {
            _ = pending.popMin()
            links[next.link].inFlight -= 1
            if links[next.link].isUp(at: next.delivery.time) {
                links[next.link].statistics.delivered += 1
                links[next.link].statistics.bytesDelivered += next.delivery.datagram.readableBytes
                result.append(next.delivery)
            } else {
                links[next.link].statistics.droppedLinkDown += 1
            }
        }
        return result
    }

    /// Datagrams in flight on the link `from` → `to`.
    public func inFlight(from: IPAddress, to: IPAddress) -> Int {
        linkIndex[LinkID(from: from, to: to)].map { links[$0].inFlight } ?? 0
    }
}
