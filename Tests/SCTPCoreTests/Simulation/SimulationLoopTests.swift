import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Sends numbered pings to a peer every `interval` until `count` were sent; retransmits
/// nothing. Records the round-trip time of every answered ping.
final class Pinger: SimulationParticipant {
    let address: IPAddress
    let peer: IPAddress
    let interval: Duration
    let count: Int
    var sent = 0
    var nextPing: SCTPInstant?
    var outbox: [OutgoingDatagram] = []
    var sentAt: [Int: SCTPInstant] = [:]
    var roundTrips: [(index: Int, rtt: Duration)] = []
    var timeouts: [SCTPInstant] = []

    init(address: IPAddress, peer: IPAddress, interval: Duration, count: Int, start: SCTPInstant = .zero) {
        self.address = address
        self.peer = peer
        self.interval = interval
        self.count = count
        nextPing = count > 0 ? start : nil
    }

    var addresses: [IPAddress] { [address] }
    var nextDeadline: SCTPInstant? { nextPing }

    func handleTimeout(now: SCTPInstant) {
        timeouts.append(now)
        guard let due = nextPing, due <= now else { return }
        outbox.append(OutgoingDatagram(datagram: NetFixtures.datagram(sent), from: address, to: peer))
        sentAt[sent] = now
        sent += 1
        nextPing = sent < count ? due + interval : nil
    }

    func receive(_ delivery: Delivery, now: SCTPInstant) {
        let index = NetFixtures.index(delivery)
        if let start = sentAt[index] { roundTrips.append((index, now - start)) }
    }

    func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? {
        outbox.isEmpty ? nil : outbox.removeFirst()
    }
}

/// Answers every datagram with the same bytes, back to the sender.
final class Echo: SimulationParticipant {
    let address: IPAddress
    var outbox: [OutgoingDatagram] = []
    var received: [(index: Int, time: SCTPInstant)] = []

    init(address: IPAddress) { self.address = address }

    var addresses: [IPAddress] { [address] }
    var nextDeadline: SCTPInstant? { nil }
    func handleTimeout(now: SCTPInstant) {}

    func receive(_ delivery: Delivery, now: SCTPInstant) {
        received.append((NetFixtures.index(delivery), now))
        outbox.append(OutgoingDatagram(datagram: delivery.datagram, from: address, to: delivery.from))
    }

    func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? {
        outbox.isEmpty ? nil : outbox.removeFirst()
    }
}

/// A broken participant whose deadline never moves past now.
final class Stuck: SimulationParticipant {
    var calls = 0
    var addresses: [IPAddress] { [] }
    var nextDeadline: SCTPInstant? { .zero }
    func handleTimeout(now: SCTPInstant) { calls += 1 }
    func receive(_ delivery: Delivery, now: SCTPInstant) {}
    func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? { nil }
}

/// A timer that fires every second forever.
final class Ticker: SimulationParticipant {
    var next = SCTPInstant.zero + .seconds(1)
    var fired: [SCTPInstant] = []
    var addresses: [IPAddress] { [] }
    var nextDeadline: SCTPInstant? { next }
    func handleTimeout(now: SCTPInstant) {
        fired.append(now)
        next = now + .seconds(1)
    }
    func receive(_ delivery: Delivery, now: SCTPInstant) {}
    func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? { nil }
}

@Suite("simulation loop")
struct SimulationLoopTests {
    typealias F = NetFixtures

    @Test("pings and echoes over a delayed link take two one-way delays, then the loop goes idle")
    func pingPong() {
        var network = SimulatedNetwork(seed: 1)
        network.addSymmetricLink(between: F.a, and: F.b, conditions: LinkConditions(delay: .milliseconds(25)))
        let pinger = Pinger(address: F.a, peer: F.b, interval: .milliseconds(100), count: 5)
        let echo = Echo(address: F.b)
        var loop = SimulationLoop(network: network, participants: [pinger, echo])
        let outcome = loop.run(for: .seconds(10))
        #expect(outcome.reason == .idle)
        #expect(pinger.roundTrips.map(\.index) == [0, 1, 2, 3, 4])
        #expect(pinger.roundTrips.allSatisfy { $0.rtt == .milliseconds(50) })
        #expect(echo.received.map(\.time) == [25, 125, 225, 325, 425].map { F.ms($0) })
        // The last event is the fifth echo arriving back at 450 ms.
        #expect(loop.now == F.ms(450))
        #expect(outcome.now == F.ms(450))
        #expect(loop.network.statistics(from: F.a, to: F.b)?.delivered == 5)
    }

    @Test("a lossy run repeats exactly for a seed")
    func deterministicRun() {
        func trace(seed: UInt64) -> [Int] {
            var network = SimulatedNetwork(seed: seed)
            network.addSymmetricLink(between: F.a, and: F.b, conditions: F.rough)
            let pinger = Pinger(address: F.a, peer: F.b, interval: .milliseconds(3), count: 300)
            let echo = Echo(address: F.b)
            var loop = SimulationLoop(network: network, participants: [pinger, echo])
            _ = loop.run(for: .seconds(60))
            return pinger.roundTrips.map { $0.index * 1_000_000 + Int($0.rtt.nanosecondsClamped / 1000) }
        }
        let first = trace(seed: 42)
        #expect(first.count > 150 && first.count < 400)
        #expect(first == trace(seed: 42))
        #expect(first != trace(seed: 43))
    }

    @Test("a participant that never advances its deadline stops at the step limit")
    func stepLimit() {
        let stuck = Stuck()
        var loop = SimulationLoop(network: SimulatedNetwork(seed: 1), participants: [stuck])
        let outcome = loop.run(for: .seconds(1), maxSteps: 1000)
        #expect(outcome.reason == .stepLimit)
        #expect(outcome.steps == 1000)
        #expect(stuck.calls == 1000)
        #expect(loop.now == .zero)
        #expect(loop.totalSteps == 1000)
    }

    @Test("a run ends at the time limit with the clock on the limit")
    func timeLimit() {
        let ticker = Ticker()
        var loop = SimulationLoop(network: SimulatedNetwork(seed: 1), participants: [ticker])
        let outcome = loop.run(for: .milliseconds(10_500))
        #expect(outcome.reason == .timeLimit)
        #expect(ticker.fired == (1...10).map { SCTPInstant.zero + .seconds($0) })
        #expect(loop.now == F.ms(10_500))
        // Running on continues from there.
        let more = loop.run(for: .seconds(1))
        #expect(more.reason == .timeLimit)
        #expect(ticker.fired.count == 11)
        #expect(loop.now == F.ms(11_500))
    }

    @Test("a run ends when its condition holds")
    func condition() {
        var network = SimulatedNetwork(seed: 1)
        network.addSymmetricLink(between: F.a, and: F.b, conditions: LinkConditions(delay: .milliseconds(10)))
        let pinger = Pinger(address: F.a, peer: F.b, interval: .milliseconds(100), count: 100)
        var loop = SimulationLoop(network: network, participants: [pinger, Echo(address: F.b)])
        let outcome = loop.run(for: .seconds(100)) { _ in pinger.roundTrips.count >= 3 }
        #expect(outcome.reason == .condition)
        #expect(pinger.roundTrips.count == 3)
        #expect(loop.now == F.ms(220))
        #expect(loop.run(for: .seconds(100)) { now in now >= F.ms(220) }.reason == .condition)
        #expect(loop.run(for: .seconds(1), maxSteps: 0).reason == .stepLimit)
    }

    @Test("datagrams for addresses nobody owns are counted, and injected datagrams are delivered")
    func routing() {
        var network = SimulatedNetwork(seed: 1)
        network.addSymmetricLink(between: F.a, and: F.b, conditions: LinkConditions(delay: .milliseconds(1)))
        network.addLink(from: F.a, to: F.c, conditions: LinkConditions(delay: .milliseconds(1)))
        let echo = Echo(address: F.b)
        var loop = SimulationLoop(network: network, participants: [echo])
        loop.network.send(datagram: F.datagram(1), from: F.a, to: F.b, at: loop.now)
        loop.network.send(datagram: F.datagram(2), from: F.a, to: F.c, at: loop.now)
        let outcome = loop.run(for: .seconds(1))
        #expect(outcome.reason == .idle)
        #expect(echo.received.map(\.index) == [1])
        // c is nobody's; the echo's answer to a is nobody's too.
        #expect(loop.undeliverable == 2)
        #expect(loop.nextEventTime == nil)
    }
}
