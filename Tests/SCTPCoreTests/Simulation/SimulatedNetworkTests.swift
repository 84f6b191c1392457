import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

enum NetFixtures {
    static let a = IPAddress.v4(IPv4Address(10, 0, 0, 1))
    static let b = IPAddress.v4(IPv4Address(10, 0, 0, 2))
    static let c = IPAddress.v6(IPv6Address(high: 0x2001_0DB8_0000_0000, low: 3))

    /// A datagram carrying `index` in its first 4 bytes, `size` bytes long.
    static func datagram(_ index: Int, size: Int = 100) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        buffer.writeInteger(UInt32(index))
        buffer.writeRepeatingByte(UInt8(truncatingIfNeeded: index), count: max(size - 4, 0))
        return buffer
    }

    static func index(_ delivery: Delivery) -> Int {
        Int(delivery.datagram.getInteger(at: delivery.datagram.readerIndex, as: UInt32.self) ?? .max)
    }

    static func ms(_ value: Int64) -> SCTPInstant { SCTPInstant(nanoseconds: value * 1_000_000) }

    /// Sends `count` datagrams a → b, one per millisecond, and returns every delivery.
    static func run(seed: UInt64, conditions: LinkConditions, count: Int,
                    size: Int = 100) -> (deliveries: [Delivery], network: SimulatedNetwork) {
        var network = SimulatedNetwork(seed: seed)
        network.addLink(from: a, to: b, conditions: conditions)
        for i in 0..<count {
            network.send(datagram: datagram(i, size: size), from: a, to: b, at: ms(Int64(i)))
        }
        let deliveries = network.deliverDue(upTo: SCTPInstant(nanoseconds: .max))
        return (deliveries, network)
    }

    static let rough = LinkConditions(delay: .milliseconds(20), jitter: .milliseconds(5), lossProbability: 0.1,
                                      duplicationProbability: 0.05, reorderProbability: 0.1,
                                      reorderDelay: .milliseconds(30), corruptionProbability: 0.05)
}

@Suite("simulated network")
struct SimulatedNetworkTests {
    typealias F = NetFixtures

    @Test("the same seed gives the same deliveries; another seed gives others")
    func determinism() {
        let first = F.run(seed: 7, conditions: F.rough, count: 500).deliveries
        let again = F.run(seed: 7, conditions: F.rough, count: 500).deliveries
        let other = F.run(seed: 8, conditions: F.rough, count: 500).deliveries
        #expect(!first.isEmpty)
        #expect(first == again)
        #expect(first != other)
        #expect(first.map(F.index) != other.map(F.index))
    }

    @Test("adding traffic on one link does not change another link's fate")
    func independentLinks() {
        func trace(extra: Bool) -> [Delivery] {
            var network = SimulatedNetwork(seed: 3)
            network.addLink(from: F.a, to: F.b, conditions: F.rough)
            network.addLink(from: F.b, to: F.a, conditions: F.rough)
            for i in 0..<200 {
                network.send(datagram: F.datagram(i), from: F.a, to: F.b, at: F.ms(Int64(i)))
                if extra { network.send(datagram: F.datagram(i), from: F.b, to: F.a, at: F.ms(Int64(i))) }
            }
            return network.deliverDue(upTo: F.ms(10_000)).filter { $0.to == F.b }
        }
        #expect(trace(extra: false) == trace(extra: true))
    }

    @Test("the loss rate stays within statistical bounds over 10,000 datagrams")
    func lossRate() {
        for (seed, p) in [(1 as UInt64, 0.1), (2, 0.3), (3, 0.01)] {
            let (deliveries, network) = F.run(seed: seed, conditions: LinkConditions(lossProbability: p), count: 10_000)
            let stats = network.statistics(from: F.a, to: F.b)!
            let expected = 10_000 * p
            let sigma = (10_000 * p * (1 - p)).squareRoot()
            #expect(abs(Double(stats.lost) - expected) < 5 * sigma, "p=\(p): lost \(stats.lost)")
            #expect(stats.lost + stats.delivered == 10_000)
            #expect(deliveries.count == stats.delivered)
            #expect(stats.dropped == stats.lost)
        }
        let none = F.run(seed: 1, conditions: LinkConditions(lossProbability: 0), count: 1000).network
        #expect(none.statistics(from: F.a, to: F.b)!.delivered == 1000)
        let all = F.run(seed: 1, conditions: LinkConditions(lossProbability: 1), count: 1000).network
        #expect(all.statistics(from: F.a, to: F.b)!.lost == 1000)
    }

    @Test("without jitter or reordering a link is FIFO with the fixed delay")
    func fifo() {
        var network = SimulatedNetwork(seed: 11)
        network.addLink(from: F.a, to: F.b, conditions: LinkConditions(delay: .milliseconds(10)))
        var sendTimes: [SCTPInstant] = []
        for i in 0..<300 {
            let time = F.ms(Int64(i / 3))  // three datagrams per instant
            sendTimes.append(time)
            network.send(datagram: F.datagram(i), from: F.a, to: F.b, at: time)
        }
        #expect(network.nextDeliveryTime == F.ms(10))
        let early = network.deliverDue(upTo: F.ms(10))
        #expect(early.map(F.index) == [0, 1, 2])
        let rest = network.deliverDue(upTo: F.ms(1000))
        let all = early + rest
        #expect(all.map(F.index) == Array(0..<300))
        #expect(all.map(\.time) == sendTimes.map { $0 + .milliseconds(10) })
        #expect(all.map(\.sentAt) == sendTimes)
        #expect(network.nextDeliveryTime == nil)
    }

    @Test("jitter and reordering let later datagrams overtake earlier ones")
    func reordering() {
        func inversions(_ deliveries: [Delivery]) -> Int {
            zip(deliveries, deliveries.dropFirst()).filter { F.index($0) > F.index($1) }.count
        }
        let reordered = F.run(seed: 5, conditions: LinkConditions(delay: .milliseconds(10), reorderProbability: 0.2,
                                                                 reorderDelay: .milliseconds(20)), count: 1000)
        #expect(inversions(reordered.deliveries) > 50)
        #expect(reordered.deliveries.count == 1000)
        #expect(reordered.deliveries.allSatisfy { $0.time >= $0.sentAt + .milliseconds(10) })
        #expect(reordered.deliveries.allSatisfy { $0.time <= $0.sentAt + .milliseconds(30) })
        let jittered = F.run(seed: 5, conditions: LinkConditions(delay: .milliseconds(10), jitter: .milliseconds(5)),
                             count: 1000)
        #expect(inversions(jittered.deliveries) > 50)
        #expect(jittered.deliveries.allSatisfy { $0.time <= $0.sentAt + .milliseconds(15) })
    }

    @Test("bandwidth adds serialisation delay and a full queue drops the tail")
    func bandwidth() {
        var network = SimulatedNetwork(seed: 1)
        // 1 Mbit/s: a 1250-byte datagram (10,000 bits) takes 10 ms.
        network.addLink(from: F.a, to: F.b, conditions: LinkConditions(delay: .milliseconds(5), bandwidth: 1_000_000,
                                                                      queueLimit: 2500))
        #expect(network.send(datagram: F.datagram(0, size: 1250), from: F.a, to: F.b, at: .zero) == .scheduled)
        #expect(network.send(datagram: F.datagram(1, size: 1250), from: F.a, to: F.b, at: .zero) == .scheduled)
        #expect(network.send(datagram: F.datagram(2, size: 1250), from: F.a, to: F.b, at: .zero) == .droppedQueueFull)
        // At 10 ms the first has left the queue: room again; it starts after the second, at 20 ms.
        #expect(network.send(datagram: F.datagram(3, size: 1250), from: F.a, to: F.b, at: F.ms(10)) == .scheduled)
        // An idle link serialises at once.
        #expect(network.send(datagram: F.datagram(4, size: 125), from: F.a, to: F.b, at: F.ms(100)) == .scheduled)
        let deliveries = network.deliverDue(upTo: F.ms(1000))
        #expect(deliveries.map(F.index) == [0, 1, 3, 4])
        #expect(deliveries.map(\.time) == [F.ms(15), F.ms(25), F.ms(35), F.ms(106)])
        let stats = network.statistics(from: F.a, to: F.b)!
        #expect(stats.droppedQueueFull == 1)
        #expect(stats.dropped == 1)
        #expect(stats.delivered == 4)
        #expect(stats.bytesDelivered == 3 * 1250 + 125)
    }

    @Test("a link that is down drops what is sent on it and what would arrive while it is down")
    func linkDown() {
        var network = SimulatedNetwork(seed: 1)
        network.addSymmetricLink(between: F.a, and: F.b, conditions: LinkConditions(delay: .milliseconds(10)))
        network.setLinkUp(false, from: F.a, to: F.b, at: F.ms(100))
        network.setLinkUp(true, from: F.a, to: F.b, at: F.ms(200))
        #expect(network.isLinkUp(from: F.a, to: F.b, at: F.ms(99)))
        #expect(!network.isLinkUp(from: F.a, to: F.b, at: F.ms(100)))
        #expect(!network.isLinkUp(from: F.a, to: F.b, at: F.ms(199)))
        #expect(network.isLinkUp(from: F.a, to: F.b, at: F.ms(200)))
        #expect(network.isLinkUp(from: F.b, to: F.a, at: F.ms(150)))

        #expect(network.send(datagram: F.datagram(0), from: F.a, to: F.b, at: F.ms(50)) == .scheduled)
        #expect(network.send(datagram: F.datagram(1), from: F.a, to: F.b, at: F.ms(95)) == .scheduled)  // arrives at 105
        #expect(network.send(datagram: F.datagram(2), from: F.a, to: F.b, at: F.ms(150)) == .droppedLinkDown)
        #expect(network.send(datagram: F.datagram(3), from: F.b, to: F.a, at: F.ms(150)) == .scheduled)
        #expect(network.send(datagram: F.datagram(4), from: F.a, to: F.b, at: F.ms(250)) == .scheduled)
        let deliveries = network.deliverDue(upTo: F.ms(1000))
        #expect(deliveries.map(F.index) == [0, 3, 4])
        let stats = network.statistics(from: F.a, to: F.b)!
        #expect(stats.droppedLinkDown == 2)
        #expect(stats.sent == 4)
        #expect(stats.delivered == 2)

        // Both directions at once; scheduling out of order still sorts by time.
        network.setLinksUp(true, between: F.a, and: F.b, at: F.ms(2000))
        network.setLinksUp(false, between: F.a, and: F.b, at: F.ms(1500))
        #expect(!network.isLinkUp(from: F.b, to: F.a, at: F.ms(1700)))
        #expect(network.isLinkUp(from: F.b, to: F.a, at: F.ms(2000)))
        let scheduledOnMissingLink = network.setLinkUp(false, from: F.a, to: F.c, at: .zero)
        #expect(!scheduledOnMissingLink)
    }

    @Test("duplicates and corruption are counted and visible")
    func duplicationAndCorruption() {
        let n = 200
        let duplicated = F.run(seed: 9, conditions: LinkConditions(delay: .milliseconds(1), duplicationProbability: 1),
                               count: n)
        let dupStats = duplicated.network.statistics(from: F.a, to: F.b)!
        #expect(dupStats.duplicated == n)
        #expect(dupStats.delivered == 2 * n)
        #expect(duplicated.deliveries.count == 2 * n)
        #expect(Dictionary(grouping: duplicated.deliveries, by: F.index).values.allSatisfy { $0.count == 2 })

        let corrupted = F.run(seed: 9, conditions: LinkConditions(corruptionProbability: 1), count: n, size: 64)
        #expect(corrupted.network.statistics(from: F.a, to: F.b)!.corrupted == n)
        var positions = Set<Int>()
        for (i, delivery) in corrupted.deliveries.enumerated() {
            let original = Array(F.datagram(i, size: 64).readableBytesView)
            let received = Array(delivery.datagram.readableBytesView)
            #expect(received.count == original.count)
            let differing = zip(original, received).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
            #expect(differing.count == 1)
            positions.formUnion(differing)
        }
        #expect(positions.count > 30)  // the flipped byte moves around

        let some = F.run(seed: 4, conditions: LinkConditions(duplicationProbability: 0.2, corruptionProbability: 0.2),
                         count: 5000).network.statistics(from: F.a, to: F.b)!
        #expect((850...1150).contains(some.duplicated))
        #expect((850...1150).contains(some.corrupted))
        #expect(some.delivered == 5000 + some.duplicated)
    }

    @Test("the counters balance: sent + duplicated = delivered + dropped + in flight")
    func accounting() {
        var network = SimulatedNetwork(seed: 21)
        var conditions = F.rough
        conditions.bandwidth = 10_000_000
        conditions.queueLimit = 3000
        network.addLink(from: F.a, to: F.b, conditions: conditions)
        network.setLinkUp(false, from: F.a, to: F.b, at: F.ms(300))
        network.setLinkUp(true, from: F.a, to: F.b, at: F.ms(400))
        for i in 0..<2000 {
            network.send(datagram: F.datagram(i, size: 500), from: F.a, to: F.b, at: SCTPInstant(nanoseconds: Int64(i) * 300_000))
        }
        var delivered = 0
        var time = SCTPInstant.zero
        while let next = network.nextDeliveryTime {
            time = next
            delivered += network.deliverDue(upTo: time).count
            let s = network.statistics(from: F.a, to: F.b)!
            #expect(s.sent + s.duplicated == s.delivered + s.dropped + network.inFlight(from: F.a, to: F.b))
        }
        let s = network.statistics(from: F.a, to: F.b)!
        #expect(delivered == s.delivered)
        #expect(s.lost > 0 && s.droppedQueueFull > 0 && s.droppedLinkDown > 0 && s.duplicated > 0 && s.corrupted > 0)
        #expect(s.sent + s.duplicated == s.delivered + s.dropped)
        #expect(network.totalStatistics == s)
        #expect(network.inFlight == 0)
    }

    @Test("datagrams arriving at the same instant come out in the order they were sent, across links")
    func tieBreak() {
        var network = SimulatedNetwork(seed: 2)
        network.addLink(from: F.a, to: F.b, conditions: LinkConditions(delay: .milliseconds(10)))
        network.addLink(from: F.c, to: F.b, conditions: LinkConditions(delay: .milliseconds(5)))
        network.addLink(from: F.b, to: F.a, conditions: LinkConditions(delay: .zero))
        for i in 0..<30 {
            switch i % 3 {
            case 0: network.send(datagram: F.datagram(i), from: F.a, to: F.b, at: .zero)
            case 1: network.send(datagram: F.datagram(i), from: F.c, to: F.b, at: F.ms(5))
            default: network.send(datagram: F.datagram(i), from: F.b, to: F.a, at: F.ms(10))
            }
        }
        let deliveries = network.deliverDue(upTo: F.ms(10))
        #expect(deliveries.count == 30)
        #expect(deliveries.allSatisfy { $0.time == F.ms(10) })
        #expect(deliveries.map(F.index) == Array(0..<30))
    }

    @Test("deliveries come only up to the given time; unknown pairs are unroutable")
    func partialDelivery() {
        var network = SimulatedNetwork(seed: 2)
        network.addLink(from: F.a, to: F.b, conditions: LinkConditions(delay: .milliseconds(10)))
        #expect(network.nextDeliveryTime == nil)
        #expect(network.send(datagram: F.datagram(0), from: F.b, to: F.a, at: .zero) == .unroutable)
        #expect(network.unroutable == 1)
        network.send(datagram: F.datagram(1), from: F.a, to: F.b, at: .zero)
        network.send(datagram: F.datagram(2), from: F.a, to: F.b, at: F.ms(5))
        #expect(network.deliverDue(upTo: F.ms(9)).isEmpty)
        #expect(network.deliverDue(upTo: F.ms(14)).map(F.index) == [1])
        #expect(network.nextDeliveryTime == F.ms(15))
        #expect(network.inFlight == 1)
        #expect(network.deliverDue(upTo: F.ms(15)).map(F.index) == [2])
        #expect(network.linkIDs == [LinkID(from: F.a, to: F.b)])
        // Changing conditions keeps the link and its counters.
        network.addLink(from: F.a, to: F.b, conditions: LinkConditions(delay: .milliseconds(1)))
        #expect(network.conditions(from: F.a, to: F.b)?.delay == .milliseconds(1))
        #expect(network.statistics(from: F.a, to: F.b)?.delivered == 2)
    }
}
