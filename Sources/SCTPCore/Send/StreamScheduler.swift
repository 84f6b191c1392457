import DequeModule

/// Decides which stream's message the send queue cuts into chunks next (RFC 8260 §3 calls
/// these stream schedulers). The send queue tells it which streams have messages waiting
/// and asks it for the next one whenever a message is finished; a stream being sent from is
/// not waiting (it is added again when its message ends and more wait).
///
/// Implementations are value types with no allocation per call on the steady path. The
/// send queue holds one concrete scheduler (`SendQueue.Scheduler`); the schedulers of
/// RFC 8260 plug in here.
public protocol StreamScheduler: Sendable {
    /// `stream` has messages and waits for its turn. Never called for a stream already waiting.
    mutating func add(_ stream: UInt16)
    /// Takes the stream whose head message goes next out of the waiting streams; `nil` when
    /// none waits.
    mutating func next() -> UInt16?
    /// The stream `next()` would take now, leaving it waiting.
    var peek: UInt16? { get }
    /// Removes the waiting streams that match (streams that no longer exist).
    mutating func remove(where shouldRemove: (UInt16) -> Bool)
    /// The waiting streams, in the order they would be taken.
    var waiting: [UInt16] { get }
}

/// Round robin per message, first come first served among the streams (RFC 8260 §3.2 with
/// whole messages): each waiting stream sends one message, then goes to the back.
public struct RoundRobinScheduler: StreamScheduler {
    private var order: Deque<UInt16> = []

    /// No stream waiting.
    public init() {}

    public mutating func add(_ stream: UInt16) { order.append(stream) }
    public mutating func next() -> UInt16? { order.popFirst() }
    public var peek: UInt16? { order.first }
    public mutating func remove(where shouldRemove: (UInt16) -> Bool) { order.removeAll(where: shouldRemove) }
    public var waiting: [UInt16] { Array(order) }
}
