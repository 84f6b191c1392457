import NIOCore
import SCTPCore
import SCTPWire

/// An `SCTPEndpoint` on the simulated network: it receives the datagrams addressed to its
/// addresses, runs its timers, and puts what it sends on the network. Events are collected
/// in `events` and passed to `onEvent`, which may call back into the endpoint (to send a
/// reply, shut down, ...).
public final class EndpointParticipant: SimulationParticipant {
    public let endpoint: SCTPEndpoint
    public var addresses: [IPAddress] { endpoint.localAddresses }
    /// Every event the endpoint produced, in order, with the time it was seen.
    public private(set) var events: [(time: SCTPInstant, event: SCTPEvent)] = []
    /// Called for each event as it is polled.
    public var onEvent: ((SCTPEvent, SCTPInstant, SCTPEndpoint) -> Void)?
    /// When set, the endpoint's invariants (`SCTPEndpoint.checkInvariants()`) are checked
    /// after every datagram it receives, every timer run and every transmit round (when
    /// `pollTransmit` has nothing more), and any violations are passed here with the time.
    /// Tests set it to record a failure. The checks only run in debug builds and with
    /// `-Xswiftc -DSCTP_INVARIANTS` (elsewhere `checkInvariants()` finds nothing).
    public var onInvariantViolation: (([String], SCTPInstant) -> Void)?

    public init(endpoint: SCTPEndpoint) { self.endpoint = endpoint }

    public var nextDeadline: SCTPInstant? { endpoint.nextDeadline }

    public func handleTimeout(now: SCTPInstant) {
        endpoint.handleTimeout(now: now)
        drainEvents(now: now)
        checkInvariants(now: now)
    }

    public func receive(_ delivery: Delivery, now: SCTPInstant) {
        endpoint.handle(datagram: delivery.datagram, from: delivery.from, to: delivery.to, now: now,
                        congestionExperienced: delivery.congestionExperienced)
        drainEvents(now: now)
        checkInvariants(now: now)
    }

    public func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? {
        drainEvents(now: now)
        guard let transmit = endpoint.pollTransmit() else {
            checkInvariants(now: now)
            return nil
        }
        let source = transmit.source ?? sourceAddress(for: transmit.destination)
        return OutgoingDatagram(datagram: transmit.datagram, from: source, to: transmit.destination, ecnCapable: transmit.ecnCapable)
    }

    /// Checks the endpoint's invariants if `onInvariantViolation` is set, and reports violations there.
    public func checkInvariants(now: SCTPInstant) {
        guard let report = onInvariantViolation else { return }
        let violations = endpoint.checkInvariants()
        if !violations.isEmpty { report(violations, now) }
    }

    /// Polls every pending event (the handler may produce more).
    public func drainEvents(now: SCTPInstant) {
        var budget = 1_000_000
        while budget > 0, let event = endpoint.pollEvent() {
            budget -= 1
            events.append((now, event))
            onEvent?(event, now, endpoint)
        }
    }

    /// The first local address of the destination's family.
    func sourceAddress(for destination: IPAddress) -> IPAddress {
        func isV4(_ address: IPAddress) -> Bool { if case .v4 = address { true } else { false } }
        return addresses.first { isV4($0) == isV4(destination) } ?? addresses[0]
    }
}

/// A participant that wraps an endpoint and changes only what it sends (tests that drop,
/// rewrite or record outgoing packets): addresses, timers and arrivals go to `inner`, and the
/// wrapper writes `pollTransmit` alone.
public protocol ForwardingParticipant: SimulationParticipant {
    /// The endpoint wrapped.
    var inner: EndpointParticipant { get }
}

extension ForwardingParticipant {
    public var addresses: [IPAddress] { inner.addresses }
    public var nextDeadline: SCTPInstant? { inner.nextDeadline }
    public func handleTimeout(now: SCTPInstant) { inner.handleTimeout(now: now) }
    public func receive(_ delivery: Delivery, now: SCTPInstant) { inner.receive(delivery, now: now) }
}
