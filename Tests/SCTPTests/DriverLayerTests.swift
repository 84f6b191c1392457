import CSCTPSystem
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
@testable import SCTP
import SCTPCore
import SCTPWire
import Testing

/// The batching writer's grouping of packets into UDP GSO writes, seen through a fake kernel.
@Suite("datagram writer: GSO runs and sendmmsg batches")
struct DatagramWriterTests {
    /// One datagram as the fake kernel got it.
    struct Sent: Equatable {
        var descriptor: CInt
        var port: UInt16
        var segmentSize: Int
        /// Packet sizes: one for a single datagram, each gathered part for a GSO run.
        var packets: [Int]
        var ecn: UInt8
    }

    /// Stands in for the kernel: takes every datagram and records it.
    final class FakeKernel: @unchecked Sendable {
        var calls: [[Sent]] = []
        var sent: [Sent] { calls.flatMap { $0 } }

        func send(_ descriptor: CInt, _ list: UnsafeBufferPointer<csctp_datagram>, _ stopped: inout CInt, _ dropped: inout CInt) -> Int {
            var batch: [Sent] = []
            for datagram in list {
                let port = datagram.address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
                let packets = datagram.part_count > 0
                    ? (0..<Int(datagram.part_count)).map { datagram.parts[$0].iov_len }
                    : [datagram.length]
                batch.append(Sent(descriptor: descriptor, port: port, segmentSize: Int(datagram.segment_size), packets: packets,
                                  ecn: datagram.ecn))
            }
            calls.append(batch)
            stopped = 0
            dropped = 0
            return list.count
        }
    }

    let peer = IPAddress.v4(IPv4Address(127, 0, 0, 2))
    let other = IPAddress.v4(IPv4Address(127, 0, 0, 3))

    func makeWriter(gso: Bool = true) -> (DatagramWriter, FakeKernel) {
        let writer = DatagramWriter(eventLoop: MultiThreadedEventLoopGroup.singleton.next(), segmentationOffload: gso)
        let kernel = FakeKernel()
        writer.sendDatagrams = { kernel.send($0, $1, &$2, &$3) }
        return (writer, kernel)
    }

    func packet(_ size: Int) -> ByteBuffer { ByteBuffer(repeating: 0xAB, count: size) }

    @Test("equal packets to one peer go as one GSO write; a shorter packet ends the run")
    func runs() {
        let (writer, kernel) = makeWriter()
        let socket = OpenSocket(.ownLoop(descriptor: 7))
        for size in [1200, 1200, 1200, 800, 1200, 1200] {
            writer.write(packet(size), on: socket, to: peer, port: 9899, ecnCapable: false)
        }
        writer.flush()
        #expect(kernel.calls.count == 1)
        #expect(kernel.sent == [
            Sent(descriptor: 7, port: 9899, segmentSize: 1200, packets: [1200, 1200, 1200, 800], ecn: 0),
            Sent(descriptor: 7, port: 9899, segmentSize: 1200, packets: [1200, 1200], ecn: 0),
        ])
        #expect(writer.counters.segmentationWrites == 2)
        #expect(writer.counters.segmentedPackets == 6)
        #expect(writer.counters.directWrites == 2)
    }

    @Test("a larger packet, another destination, port or ECN field starts a new datagram")
    func splits() {
        let (writer, kernel) = makeWriter()
        let socket = OpenSocket(.ownLoop(descriptor: 7))
        writer.write(packet(800), on: socket, to: peer, port: 9899, ecnCapable: false)
        writer.write(packet(1200), on: socket, to: peer, port: 9899, ecnCapable: false)    // larger
        writer.write(packet(1200), on: socket, to: other, port: 9899, ecnCapable: false)   // destination
        writer.write(packet(1200), on: socket, to: other, port: 9900, ecnCapable: false)   // port
        writer.write(packet(1200), on: socket, to: other, port: 9900, ecnCapable: true)    // ECN
        writer.write(packet(1200), on: socket, to: other, port: 9900, ecnCapable: true)
        writer.flush()
        #expect(kernel.sent.map(\.packets) == [[800], [1200], [1200], [1200], [1200, 1200]])
        #expect(kernel.sent.map(\.segmentSize) == [0, 0, 0, 0, 1200])
        #expect(kernel.sent.map(\.ecn) == [0, 0, 0, 0, 2])
        #expect(kernel.sent.map(\.port) == [9899, 9899, 9899, 9900, 9900])
    }

    @Test("a run holds at most 65,000 bytes and the kernel's segment limit")
    func limits() {
        let (writer, kernel) = makeWriter()
        let socket = OpenSocket(.ownLoop(descriptor: 7))
        for _ in 0..<60 { writer.write(packet(1200), on: socket, to: peer, port: 9899, ecnCapable: false) }
        for _ in 0..<100 { writer.write(packet(100), on: socket, to: other, port: 9899, ecnCapable: false) }
        writer.flush()
        let counts = kernel.sent.map(\.packets.count)
        let maxSegments = DatagramWriter.maxSegments
        #expect(counts == [54, 6] + [maxSegments, 100 - maxSegments])
        #expect(kernel.sent.allSatisfy { $0.packets.reduce(0, +) <= DatagramWriter.maxBatchBytes })
    }

    @Test("without segmentation offload every packet is its own datagram, in one sendmmsg")
    func noOffload() {
        let (writer, kernel) = makeWriter(gso: false)
        let socket = OpenSocket(.ownLoop(descriptor: 7))
        for _ in 0..<5 { writer.write(packet(1200), on: socket, to: peer, port: 9899, ecnCapable: false) }
        writer.flush()
        #expect(kernel.calls.count == 1)
        #expect(kernel.sent.map(\.packets) == Array(repeating: [1200], count: 5))
        #expect(writer.counters.segmentationWrites == 0)
    }

    @Test("datagrams of two sockets go in one call per run of a socket, in order; a flush with nothing queued sends nothing")
    func sockets() {
        let (writer, kernel) = makeWriter()
        let first = OpenSocket(.ownLoop(descriptor: 7)), second = OpenSocket(.ownLoop(descriptor: 8))
        writer.write(packet(1200), on: first, to: peer, port: 9899, ecnCapable: false)
        writer.write(packet(1200), on: first, to: peer, port: 9899, ecnCapable: false)
        writer.write(packet(1200), on: second, to: peer, port: 9899, ecnCapable: false)
        writer.write(packet(500), on: first, to: peer, port: 9899, ecnCapable: false)
        writer.flush()
        #expect(kernel.calls.map { $0.map(\.descriptor) } == [[7], [8], [7]])
        #expect(kernel.sent.map(\.packets) == [[1200, 1200], [1200], [500]])
        writer.flush()
        #expect(kernel.calls.count == 3)
    }
}

/// Which local address a packet leaves from.
@Suite("source address selection")
struct SourceAddressSelectionTests {
    let a1 = IPAddress.v4(IPv4Address(10, 0, 0, 1))
    let a2 = IPAddress.v4(IPv4Address(192, 168, 1, 1))
    let a3 = IPAddress.v4(IPv4Address(127, 0, 0, 1))
    let v6 = IPAddress.v6(.loopback)

    final class Routes: @unchecked Sendable {
        var table: [IPAddress: IPAddress] = [:]
        var lookups = 0
        func lookUp(_ destination: IPAddress) -> IPAddress? {
            lookups += 1
            return table[destination]
        }
    }

    @Test("the core's choice when open; the only candidate of the family; none of another family")
    func simple() {
        let routes = Routes()
        var selection = SourceAddressSelection(usesKernelRoutes: true, lookUpRoute: routes.lookUp)
        let destination = IPAddress.v4(IPv4Address(192, 168, 1, 77))
        #expect(selection.source(toward: destination, chosen: a2, among: [a1, a2], isOpen: { _ in true }) == a2)
        // A closed choice falls back to the open addresses: here only one is open.
        #expect(selection.source(toward: destination, chosen: a2, among: [a1, a2], isOpen: { $0 == a1 }) == a1)
        #expect(selection.source(toward: destination, chosen: nil, among: [a1, v6], isOpen: { _ in true }) == a1)
        #expect(selection.source(toward: .v6(.loopback), chosen: nil, among: [a1, a2], isOpen: { _ in true }) == nil)
        #expect(selection.source(toward: destination, chosen: nil, among: [a1, a2], isOpen: { _ in false }) == nil)
        // One candidate: no route lookup.
        #expect(routes.lookups == 0)
    }

    @Test("several candidates: the routing table's, looked up once per destination; else the longest prefix")
    func routed() {
        let routes = Routes()
        let near = IPAddress.v4(IPv4Address(192, 168, 1, 77)), far = IPAddress.v4(IPv4Address(10, 9, 9, 9))
        routes.table[near] = a1  // the routing table says 10.0.0.1, though 192.168.1.1 shares more bits
        var selection = SourceAddressSelection(usesKernelRoutes: true, lookUpRoute: routes.lookUp)
        #expect(selection.source(toward: near, chosen: nil, among: [a1, a2, a3], isOpen: { _ in true }) == a1)
        #expect(selection.source(toward: near, chosen: nil, among: [a1, a2, a3], isOpen: { _ in true }) == a1)
        #expect(routes.lookups == 1)
        // The routed address closed: the longest prefix among the open ones.
        #expect(selection.source(toward: near, chosen: nil, among: [a1, a2, a3], isOpen: { $0 != a1 }) == a2)
        // No route known: the longest prefix.
        #expect(selection.source(toward: far, chosen: nil, among: [a1, a2, a3], isOpen: { _ in true }) == a1)
        #expect(routes.lookups == 2)
        #expect(selection.cachedRoutes == 2)
    }

    @Test("a carrier's addresses are labels: no route lookup, the longest prefix")
    func carrier() {
        let routes = Routes()
        let near = IPAddress.v4(IPv4Address(192, 168, 1, 77))
        routes.table[near] = a1
        var selection = SourceAddressSelection(usesKernelRoutes: false, lookUpRoute: routes.lookUp)
        #expect(selection.source(toward: near, chosen: nil, among: [a1, a2], isOpen: { _ in true }) == a2)
        #expect(routes.lookups == 0)
    }

    @Test("the route cache is bounded")
    func bounded() {
        let routes = Routes()
        var selection = SourceAddressSelection(usesKernelRoutes: true, lookUpRoute: routes.lookUp)
        for index in 0..<(SourceAddressSelection.routeCacheLimit + 10) {
            let destination = IPAddress.v4(IPv4Address(rawValue: 0x0B00_0000 | UInt32(index)))
            _ = selection.source(toward: destination, chosen: nil, among: [a1, a2], isOpen: { _ in true })
            #expect(selection.cachedRoutes <= SourceAddressSelection.routeCacheLimit)
        }
        #expect(routes.lookups == SourceAddressSelection.routeCacheLimit + 10)
    }
}

/// Which endpoint of a stack an arriving packet goes to, and which ports are taken.
@Suite("endpoint table")
struct EndpointTableTests {
    @Test("by port and local address, else the port's first endpoint; a port taken on a shared address is refused")
    func lookups() throws {
        let loop = try SCTPEventLoop()
        defer { try? loop.syncShutdownGracefully() }
        let stack = SCTPStack(options: SCTPStack.Options(udpPort: 0, peerUDPPort: 0), group: loop)
        defer { _ = try? stack.close().wait() }
        let one = IPAddress.v4(IPv4Address(127, 0, 0, 1)), two = IPAddress.v4(IPv4Address(127, 0, 0, 2))
        // A DATA chunk's common header and chunk header: only the ports and tag are read.
        let packet: ByteBuffer = {
            var packet = ByteBuffer()
            packet.writeInteger(UInt16(6000))
            packet.writeInteger(UInt16(5000))
            packet.writeInteger(UInt32(1234))
            packet.writeInteger(UInt32(0))
            packet.writeInteger(UInt32(0x0000_0004))
            return packet
        }()
        try wait(loop.submit {
            var table = EndpointTable()
            let first = EndpointDriver(stack: stack, configuration: SCTPConfiguration(), port: 5000, addresses: [one],
                                       acceptsAssociations: true)
            let second = EndpointDriver(stack: stack, configuration: SCTPConfiguration(), port: 5000, addresses: [two],
                                        acceptsAssociations: true)
            let clash = EndpointDriver(stack: stack, configuration: SCTPConfiguration(), port: 5000, addresses: [two, one],
                                       acceptsAssociations: true)
            try table.insert(first)
            try table.insert(second)
            #expect(throws: SCTPError.self) { try table.insert(clash) }
            #expect(table.conflict(port: 5000, addresses: [two]) == two)
            #expect(table.conflict(port: 5001, addresses: [one, two]) == nil)
            #expect(table.driver(port: 5000, local: two, datagram: packet, source: one) === second)
            #expect(table.driver(port: 5000, local: one, datagram: packet, source: one) === first)
            #expect(table.driver(port: 5000, local: .v4(IPv4Address(127, 0, 0, 9)), datagram: packet, source: one) === first)
            #expect(table.driver(port: 5001, local: one, datagram: packet, source: one) == nil)
            let port = try table.ephemeralPort(for: [one])
            #expect((49152...65535).contains(port))
            table.remove(first)
            #expect(table.driver(port: 5000, local: one, datagram: packet, source: one) === second)
            #expect(table.removeAll().count == 1)
            #expect(table.driver(port: 5000, local: two, datagram: packet, source: one) == nil)
        })
    }

    @Test("SCTP_REUSE_PORT: endpoints share a port on an address only when all set it; INITs to the listeners in turn")
    func reusePort() throws {
        let loop = try SCTPEventLoop()
        defer { try? loop.syncShutdownGracefully() }
        let stack = SCTPStack(options: SCTPStack.Options(udpPort: 0, peerUDPPort: 0), group: loop)
        defer { _ = try? stack.close().wait() }
        let one = IPAddress.v4(IPv4Address(127, 0, 0, 1)), two = IPAddress.v4(IPv4Address(127, 0, 0, 2))
        @Sendable func packet(tag: UInt32, chunkType: UInt8) -> ByteBuffer {
            var packet = ByteBuffer()
            packet.writeInteger(UInt16(6000))
            packet.writeInteger(UInt16(5000))
            packet.writeInteger(tag)
            packet.writeInteger(UInt32(0))
            packet.writeInteger(UInt32(chunkType) << 24 | 4)
            return packet
        }
        try wait(loop.submit {
            var table = EndpointTable()
            func driver(_ addresses: [IPAddress], reuse: Bool, listening: Bool = true) -> EndpointDriver {
                EndpointDriver(stack: stack, configuration: SCTPConfiguration(), port: 5000, addresses: addresses,
                               acceptsAssociations: listening, reusesPort: reuse)
            }
            let first = driver([one], reuse: true), second = driver([one], reuse: true)
            let client = driver([one], reuse: true, listening: false)
            try table.insert(first)
            try table.insert(client)
            try table.insert(second)
            #expect(throws: SCTPError.self) { try table.insert(driver([one], reuse: false)) }
            #expect(table.conflict(port: 5000, addresses: [one]) == one)
            #expect(table.conflict(port: 5000, addresses: [one], reusing: true) == nil)
            // One that does not reuse keeps its address to itself.
            try table.insert(driver([two], reuse: false))
            #expect(throws: SCTPError.self) { try table.insert(driver([two], reuse: true)) }
            #expect(table.conflict(port: 5000, addresses: [two], reusing: true) == two)
            // New associations' INITs alternate between the listening endpoints, never the client.
            let initiation = packet(tag: 0, chunkType: ChunkType.initiation)
            let chosen = (0..<4).map { _ in table.driver(port: 5000, local: one, datagram: initiation, source: two) }
            #expect(chosen[0] === first && chosen[1] === second && chosen[2] === first && chosen[3] === second)
            // A packet for no association goes to a listener, which answers it (out of the blue).
            let data = packet(tag: 1234, chunkType: ChunkType.data)
            #expect(table.driver(port: 5000, local: one, datagram: data, source: two) === first)
            table.remove(first)
            #expect(table.driver(port: 5000, local: one, datagram: initiation, source: two) === second)
            #expect(table.driver(port: 5000, local: one, datagram: initiation, source: two) === second)
        })
    }
}

/// `EndpointDriver.flush`: one loop drains the core; what sinks do meanwhile joins it.
@Suite("endpoint driver flush")
struct EndpointDriverFlushTests {
    /// Records the events of one endpoint (on its loop) and may react to them.
    final class Sink: EndpointEventSink, @unchecked Sendable {
        var events: [SCTPEvent] = []
        let react: (EndpointDriver, SCTPEvent) -> Void
        init(react: @escaping (EndpointDriver, SCTPEvent) -> Void = { _, _ in }) { self.react = react }
        func endpointDriver(_ driver: EndpointDriver, deliver event: SCTPEvent) {
            events.append(event)
            react(driver, event)
        }
    }

    @Test("an endpoint closed by its sink while a flush dispatches still sends its ABORT")
    func closedDuringFlush() throws {
        // Two carrier stacks joined by closures.
        let stacks = NIOLockedValueBox<[SCTPStack]>([])
        func wire(to index: Int) -> @Sendable (SCTPCarrierPacket) -> Void {
            { packet in stacks.withLockedValue { $0 }[index].receive(packet) }
        }
        let a = SCTPStack(carrier: wire(to: 1)), b = SCTPStack(carrier: wire(to: 0))
        stacks.withLockedValue { $0 = [a, b] }
        defer {
            _ = try? a.close().wait()
            _ = try? b.close().wait()
        }
        let server = Sink()
        // The client's sink closes its endpoint as soon as the association is up: from inside
        // the flush that dispatches the event.
        let client = Sink { driver, event in
            if case .communicationUp = event { driver.close() }
        }
        let serverAddress = IPAddress.v4(IPv4Address(10, 9, 0, 2)), clientAddress = IPAddress.v4(IPv4Address(10, 9, 0, 1))
        try wait(b.eventLoop.submit {
            let driver = EndpointDriver(stack: b, configuration: SCTPConfiguration(), port: 5000, addresses: [serverAddress],
                                        acceptsAssociations: true)
            try b.register(driver)
            driver.defaultSink = server
        })
        let connected = try wait(a.eventLoop.submit { () -> EventLoopFuture<AssociationID> in
            let driver = EndpointDriver(stack: a, configuration: SCTPConfiguration(), port: 5001, addresses: [clientAddress],
                                        acceptsAssociations: false)
            try a.register(driver)
            driver.defaultSink = client
            return try driver.connect(to: [serverAddress], port: 5000).1
        })
        // The connect call fails (the endpoint closed under it); the server sees the ABORT at
        // once, not after its retransmission timers give up.
        #expect(throws: SCTPError.self) { try wait(connected, seconds: 5) }
        #expect(eventually(seconds: 5) {
            (try? wait(b.eventLoop.submit {
                server.events.contains { if case .communicationLost = $0 { true } else { false } }
            })) ?? false
        })
        let clientEvents = try wait(a.eventLoop.submit { client.events.count })
        #expect(clientEvents >= 1)
    }
}
