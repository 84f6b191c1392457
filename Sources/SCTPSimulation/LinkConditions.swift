import SCTPCore
import SCTPWire

/// How a one-way link treats the datagrams sent over it. Probabilities are per datagram,
/// in 0…1; durations are non-negative.
///
/// A datagram first waits for the link to be free and is serialised at `bandwidth` (if set);
/// it may then be lost, and otherwise arrives after `delay`, plus a uniform random jitter in
/// [0, `jitter`], plus, for a `reorderProbability` fraction of datagrams, a further uniform
/// random delay in [0, `reorderDelay`]. Jitter and that extra delay let later datagrams
/// overtake earlier ones; without them a link is FIFO.
public struct LinkConditions: Hashable, Sendable {
    /// Fixed one-way propagation delay.
    public var delay: Duration
    /// Upper bound of the uniform random delay added to every datagram.
    public var jitter: Duration
    /// Probability that a datagram is lost.
    public var lossProbability: Double
    /// Probability that a datagram arrives twice: the copy is uncorrupted and draws its own
    /// jitter and reordering delay, but is not serialised again.
    public var duplicationProbability: Double
    /// Fraction of datagrams delayed by an extra uniform random time in [0, `reorderDelay`].
    public var reorderProbability: Double
    /// Upper bound of the extra delay of reordered datagrams.
    public var reorderDelay: Duration
    /// Probability that one byte of a datagram is flipped (XOR with a random non-zero byte).
    public var corruptionProbability: Double
    /// Probability that a delivered datagram carries the ECN CE mark (a congested router's
    /// mark, RFC 3168), handed to the receiver as `Delivery.congestionExperienced`.
    public var congestionExperiencedProbability: Double = 0
    /// Serialisation rate in bits per second; `nil` for an infinitely fast link.
    public var bandwidth: Int?
    /// Bytes that may wait for or be in serialisation (only with `bandwidth`); a datagram
    /// that would exceed it is dropped (drop tail). `nil` for an unbounded queue.
    public var queueLimit: Int?
    /// The largest datagram the link carries; larger ones are dropped silently, as a path
    /// with a smaller MTU that sends no ICMP does (a black hole for them, RFC 8899 §4.3).
    /// Change it mid-run with `SimulatedNetwork.addLink` (the conditions of an existing link).
    /// `nil`: no limit.
    public var maxDatagramSize: Int? = nil

    /// A link with the given behaviour; by default perfect and instantaneous.
    public init(delay: Duration = .zero, jitter: Duration = .zero, lossProbability: Double = 0,
                duplicationProbability: Double = 0, reorderProbability: Double = 0,
                reorderDelay: Duration = .zero, corruptionProbability: Double = 0,
                bandwidth: Int? = nil, queueLimit: Int? = nil, congestionExperiencedProbability: Double = 0) {
        self.delay = delay
        self.jitter = jitter
        self.lossProbability = lossProbability
        self.duplicationProbability = duplicationProbability
        self.reorderProbability = reorderProbability
        self.reorderDelay = reorderDelay
        self.corruptionProbability = corruptionProbability
        self.bandwidth = bandwidth
        self.queueLimit = queueLimit
        self.congestionExperiencedProbability = congestionExperiencedProbability
    }

    /// No delay, no loss, no limit.
    public static let perfect = LinkConditions()
}

/// A one-way link, named by its source and destination address.
public struct LinkID: Hashable, Sendable, CustomStringConvertible {
    /// The sending address.
    public var from: IPAddress
    /// The receiving address.
    public var to: IPAddress

    public init(from: IPAddress, to: IPAddress) {
        self.from = from
        self.to = to
    }

    public var description: String { "\(from)→\(to)" }
}

/// What happened to the datagrams of one link so far.
///
/// `sent + duplicated == delivered + dropped + in flight` at every moment.
public struct LinkStatistics: Hashable, Sendable {
    /// Datagrams handed to the link.
    public var sent = 0
    /// Datagrams (copies included) handed to their receiver.
    public var delivered = 0
    /// Bytes handed to the receiver.
    public var bytesDelivered = 0
    /// Datagrams that never arrive: `lost + droppedQueueFull + droppedLinkDown + droppedTooBig`.
    public var dropped: Int { lost + droppedQueueFull + droppedLinkDown + droppedTooBig }
    /// Lost at random (`lossProbability`).
    public var lost = 0
    /// Dropped because the queue was full.
    public var droppedQueueFull = 0
    /// Dropped because the link was down when they were sent or when they would have arrived.
    public var droppedLinkDown = 0
    /// Dropped because they were larger than `LinkConditions.maxDatagramSize`.
    public var droppedTooBig = 0
    /// Extra copies made (`duplicationProbability`).
    public var duplicated = 0
    /// Datagrams with a flipped byte (`corruptionProbability`).
    public var corrupted = 0
    /// Datagrams marked CE (`congestionExperiencedProbability`).
    public var congestionMarked = 0

    public init() {}
}
