import NIOCore
import SCTPCore
import SCTPWire

/// A datagram a participant wants to put on the simulated network.
public struct OutgoingDatagram: Hashable, Sendable {
    /// The bytes.
    public var datagram: ByteBuffer
    /// The sending address (one of the participant's).
    public var from: IPAddress
    /// The destination address.
    public var to: IPAddress
    /// Whether the sender marked it ECN-capable (`Transmit.ecnCapable`).
    public var ecnCapable: Bool

    public init(datagram: ByteBuffer, from: IPAddress, to: IPAddress, ecnCapable: Bool = false) {
        self.datagram = datagram
        self.from = from
        self.to = to
        self.ecnCapable = ecnCapable
    }
}

/// Something a `SimulationLoop` drives: a sans-IO protocol engine (an endpoint, an
/// association wrapper, a scripted peer) that owns some addresses, receives datagrams,
/// has timers, and produces datagrams to send.
public protocol SimulationParticipant: AnyObject {
    /// The addresses datagrams are delivered to this participant at.
    var addresses: [IPAddress] { get }
    /// The earliest instant `handleTimeout(now:)` must be called at, `nil` if none.
    var nextDeadline: SCTPInstant? { get }
    /// Runs the timers due at `now`.
    func handleTimeout(now: SCTPInstant)
    /// A datagram arrived for one of `addresses`.
    func receive(_ delivery: Delivery, now: SCTPInstant)
    /// The next datagram to send, `nil` when there is none for now.
    func pollTransmit(now: SCTPInstant) -> OutgoingDatagram?
}

/// Runs participants and a `SimulatedNetwork` on a `VirtualClock`: each step moves time to
/// the earliest network delivery or participant deadline, hands over the datagrams due,
/// runs the timers due, and puts what the participants want to send on the network.
/// Runs end when nothing is scheduled, at a simulated time limit, after a step limit (so a
/// participant that never stops asking for the current instant cannot loop forever), or
/// when a condition holds.
public struct SimulationLoop {
    /// Why `run` returned.
    public enum StopReason: Hashable, Sendable {
        /// No delivery and no deadline is left.
        case idle
        /// The next event lies beyond the time limit; the clock stands at the limit.
        case timeLimit
        /// The step limit was reached.
        case stepLimit
        /// The `until` condition held.
        case condition
    }

    /// The result of a `run`.
    public struct Outcome: Hashable, Sendable {
        /// Why the run ended.
        public var reason: StopReason
        /// Steps taken in this run.
        public var steps: Int
        /// The virtual time at the end.
        public var now: SCTPInstant
    }

    /// The simulated time.
    public private(set) var clock: VirtualClock
    /// The network; tests may add links, change conditions or inject datagrams at any time.
    public var network: SimulatedNetwork
    /// The participants, in the order they are served each step.
    public var participants: [any SimulationParticipant] {
        didSet { rebuildRoutes() }
    }
    /// Steps taken since the loop was made.
    public private(set) var totalSteps = 0
    /// Datagrams delivered to an address no participant owns.
    public private(set) var undeliverable = 0
    /// The most datagrams taken from one participant in one poll round; more is a runaway.
    public var maximumTransmitsPerPoll = 100_000

    private var routes: [IPAddress: Int] = [:]

    /// A loop over `network` and `participants` starting at `clock`'s time.
    public init(clock: VirtualClock = VirtualClock(), network: SimulatedNetwork,
                participants: [any SimulationParticipant] = []) {
        self.clock = clock
        self.network = network
        self.participants = participants
        rebuildRoutes()
    }

    /// The current virtual time.
    public var now: SCTPInstant { clock.now }

    /// The earliest network delivery or participant deadline, `nil` if there is none.
    public var nextEventTime: SCTPInstant? {
        var earliest = network.nextDeliveryTime
        for participant in participants {
            if let deadline = participant.nextDeadline, earliest.map({ deadline < $0 }) ?? true {
                earliest = deadline
            }
        }
        return earliest
    }

    /// Runs for at most `duration` of simulated time and `maxSteps` steps, or until
    /// `condition` (checked before the first step and after each) holds.
    public mutating func run(for duration: Duration, maxSteps: Int = 1_000_000,
                             until condition: ((SCTPInstant) -> Bool)? = nil) -> Outcome {
        run(until: clock.now + duration, maxSteps: maxSteps, until: condition)
    }

    /// Runs until simulated time `limit` at the latest, at most `maxSteps` steps, or until
    /// `condition` (checked before the first step and after each) holds.
    public mutating func run(until limit: SCTPInstant, maxSteps: Int = 1_000_000,
                             until condition: ((SCTPInstant) -> Bool)? = nil) -> Outcome {
        var steps = 0
        flushTransmits()
        while true {
            if let condition, condition(clock.now) {
                return Outcome(reason: .condition, steps: steps, now: clock.now)
            }
            if steps >= maxSteps { return Outcome(reason: .stepLimit, steps: steps, now: clock.now) }
            guard let next = nextEventTime else { return Outcome(reason: .idle, steps: steps, now: clock.now) }
            if next > limit {
                clock.advance(to: limit)
                return Outcome(reason: .timeLimit, steps: steps, now: clock.now)
            }
            step(to: next)
            steps += 1
        }
    }

    /// One step: time moves to `time` (never backwards), due datagrams are delivered, due
    /// timers run, and what the participants send goes onto the network.
    private mutating func step(to time: SCTPInstant) {
        clock.advance(to: time)
        totalSteps += 1
        let now = clock.now
        for delivery in network.deliverDue(upTo: now) {
            if let index = route(delivery.to) {
                participants[index].receive(delivery, now: now)
            } else {
                undeliverable += 1
            }
        }
        for participant in participants {
            if let deadline = participant.nextDeadline, deadline <= now {
                participant.handleTimeout(now: now)
            }
        }
        flushTransmits()
    }

    /// Puts every datagram the participants have ready onto the network at the current time.
    public mutating func flushTransmits() {
        let now = clock.now
        for participant in participants {
            var taken = 0
            while taken < maximumTransmitsPerPoll, let outgoing = participant.pollTransmit(now: now) {
                network.send(datagram: outgoing.datagram, from: outgoing.from, to: outgoing.to, at: now)
                taken += 1
            }
        }
    }

    private func route(_ address: IPAddress) -> Int? {
        if let index = routes[address], participants.indices.contains(index),
           participants[index].addresses.contains(address) {
            return index
        }
        // Addresses may have changed since the table was built.
        return participants.firstIndex { $0.addresses.contains(address) }
    }

    private mutating func rebuildRoutes() {
        routes = [:]
        for (index, participant) in participants.enumerated() {
            for address in participant.addresses where routes[address] == nil { routes[address] = index }
        }
    }
}
