import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Two endpoints on a simulated network, driven on virtual time.
final class AssociationHarness {
    var loop: SimulationLoop
    let client: EndpointParticipant
    let server: EndpointParticipant
    static let clientPort: UInt16 = 5002
    static let serverPort: UInt16 = 5001

    init(seed: UInt64, clientAddresses: [IPAddress] = [.v4(IPv4Address(10, 0, 0, 1))],
         serverAddresses: [IPAddress] = [.v4(IPv4Address(10, 0, 1, 1))],
         conditions: LinkConditions = LinkConditions(delay: .milliseconds(5)),
         clientConfiguration: SCTPConfiguration = SCTPConfiguration(),
         serverConfiguration: SCTPConfiguration = SCTPConfiguration(),
         serverListens: Bool = true) {
        var network = SimulatedNetwork(seed: seed)
        for a in clientAddresses {
            for b in serverAddresses { network.addSymmetricLink(between: a, and: b, conditions: conditions) }
        }
        client = EndpointParticipant(endpoint: SCTPEndpoint(
            configuration: clientConfiguration, localPort: Self.clientPort, localAddresses: clientAddresses,
            random: SeededRandomSource(seed: seed &* 31 &+ 1), now: .zero))
        server = EndpointParticipant(endpoint: SCTPEndpoint(
            configuration: serverConfiguration, localPort: Self.serverPort, localAddresses: serverAddresses,
            acceptsAssociations: serverListens, random: SeededRandomSource(seed: seed &* 31 &+ 2), now: .zero))
        loop = SimulationLoop(clock: VirtualClock(), network: network, participants: [client, server])
        client.failsTestOnInvariantViolation(name: "client")
        server.failsTestOnInvariantViolation(name: "server")
    }

    var now: SCTPInstant { loop.now }

    /// Runs until `condition` holds or `limit` of simulated time passed; returns whether it held.
    @discardableResult
    func run(for limit: Duration = .seconds(120), until condition: @escaping () -> Bool) -> Bool {
        let outcome = loop.run(for: limit, maxSteps: 2_000_000) { _ in condition() }
        return outcome.reason == .condition
    }

    /// Runs until nothing is left to do or `limit` passed.
    func runToIdle(limit: Duration = .seconds(600)) {
        _ = loop.run(for: limit, maxSteps: 2_000_000)
    }

    func connect(to addresses: [IPAddress]? = nil) throws -> AssociationID {
        let id = try client.endpoint.connect(to: addresses ?? server.addresses, port: Self.serverPort, now: now)
        loop.flushTransmits()
        return id
    }

    // Event queries.

    static func upEvents(_ p: EndpointParticipant) -> [AssociationID] {
        p.events.compactMap { if case .communicationUp(let id, _, _) = $0.event { id } else { nil } }
    }

    static func messages(_ p: EndpointParticipant) -> [ReceivedMessage] {
        p.events.compactMap { if case .message(_, let m) = $0.event { m } else { nil } }
    }

    static func shutdownCompleted(_ p: EndpointParticipant) -> Bool {
        p.events.contains { if case .shutdownComplete = $0.event { true } else { false } }
    }

    static func cannotStart(_ p: EndpointParticipant) -> ConnectFailure? {
        p.events.lazy.compactMap { if case .cannotStart(_, let f) = $0.event { f } else { nil } }.first
    }

    static func lost(_ p: EndpointParticipant) -> LossReason? {
        p.events.lazy.compactMap { if case .communicationLost(_, let r) = $0.event { r } else { nil } }.first
    }
}

extension EndpointParticipant {
    /// Checks the endpoint's invariants after every call into it (debug builds) and records
    /// a test failure for each violation, with the time and the endpoint's name.
    func failsTestOnInvariantViolation(name: String) {
        onInvariantViolation = { violations, now in
            let lines = violations.joined(separator: "\n  ")
            Issue.record("invariant violated on the \(name) at \(now):\n  \(lines)")
        }
    }
}

/// A message payload whose bytes encode its stream and sequence, so receivers can check content.
func testPayload(stream: UInt16, index: Int, length: Int) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger(stream)
    buffer.writeInteger(UInt32(index))
    for i in 0..<max(length - 6, 0) { buffer.writeInteger(UInt8(truncatingIfNeeded: i &+ index &* 7 &+ Int(stream))) }
    return buffer
}

/// An `EndpointParticipant` whose datagrams leave from the local address a route table
/// names for their destination, as on a host with one interface per network (the core
/// leaves the source address to the driver; `EndpointParticipant` alone always picks the
/// first address). It logs every packet it sends, decoded.
final class RoutedParticipant: ForwardingParticipant {
    /// A packet put on the network.
    struct Sent {
        var time: SCTPInstant
        var from: IPAddress
        var to: IPAddress
        var chunks: [Chunk]
        /// Marked ECN-capable (`Transmit.ecnCapable`).
        var ecnCapable = false
        /// The SCTP packet's size in bytes.
        var size = 0
    }

    let inner: EndpointParticipant
    /// Destination → source. Destinations not listed use the inner participant's choice.
    var routes: [IPAddress: IPAddress]
    private(set) var sent: [Sent] = []

    init(_ inner: EndpointParticipant, routes: [IPAddress: IPAddress]) {
        self.inner = inner
        self.routes = routes
    }

    func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? {
        guard var outgoing = inner.pollTransmit(now: now) else { return nil }
        if let source = routes[outgoing.to] { outgoing.from = source }
        let chunks = (try? SCTPPacket(parsing: outgoing.datagram, checksum: .skipped))?.chunks ?? []
        sent.append(Sent(time: now, from: outgoing.from, to: outgoing.to, chunks: chunks, ecnCapable: outgoing.ecnCapable,
                         size: outgoing.datagram.readableBytes))
        return outgoing
    }

    /// Chunks of a type sent to `destination` (every destination when `nil`) within `times`.
    func count(_ type: UInt8, to destination: IPAddress? = nil,
               in times: ClosedRange<SCTPInstant> = SCTPInstant(nanoseconds: .min)...SCTPInstant(nanoseconds: .max)) -> Int {
        sent.reduce(0) { total, packet in
            guard destination.map({ $0 == packet.to }) ?? true, times.contains(packet.time) else { return total }
            return total + packet.chunks.filter { $0.type == type }.count
        }
    }

    /// SACK and NR-SACK chunks (either acknowledges DATA) sent to `destination` within `times`.
    func countAcknowledgements(to destination: IPAddress? = nil,
                               in times: ClosedRange<SCTPInstant> = SCTPInstant(nanoseconds: .min)...SCTPInstant(nanoseconds: .max)) -> Int {
        count(SackChunk.chunkType, to: destination, in: times) + count(NRSackChunk.chunkType, to: destination, in: times)
    }

    /// When chunks of a type were sent to `destination`, in order (one entry per packet).
    func times(of type: UInt8, to destination: IPAddress? = nil) -> [SCTPInstant] {
        sent.filter { packet in
            (destination.map { $0 == packet.to } ?? true) && packet.chunks.contains { $0.type == type }
        }.map(\.time)
    }
}

extension AssociationHarness {
    /// Routes both sides by interface: a packet to the peer's i-th address leaves from the
    /// local i-th address (the last one when there are fewer), so each pair of addresses of
    /// the same rank forms one network path. Returns the logging wrappers now in the loop.
    @discardableResult
    func routeByInterface() -> (client: RoutedParticipant, server: RoutedParticipant) {
        func routes(from local: [IPAddress], to remote: [IPAddress]) -> [IPAddress: IPAddress] {
            var table: [IPAddress: IPAddress] = [:]
            for (rank, address) in remote.enumerated() { table[address] = local[min(rank, local.count - 1)] }
            return table
        }
        let routedClient = RoutedParticipant(client, routes: routes(from: client.addresses, to: server.addresses))
        let routedServer = RoutedParticipant(server, routes: routes(from: server.addresses, to: client.addresses))
        loop.participants = [routedClient, routedServer]
        return (routedClient, routedServer)
    }

    /// Logs both sides' traffic without changing how they pick source addresses (the first
    /// local address of the family). Returns the logging wrappers now in the loop.
    @discardableResult
    func logTraffic() -> (client: RoutedParticipant, server: RoutedParticipant) {
        let loggedClient = RoutedParticipant(client, routes: [:])
        let loggedServer = RoutedParticipant(server, routes: [:])
        loop.participants = [loggedClient, loggedServer]
        return (loggedClient, loggedServer)
    }

    /// The peer address changes an endpoint reported, in order, with their times.
    static func addressChanges(_ p: EndpointParticipant) -> [(time: SCTPInstant, address: IPAddress, state: PathState)] {
        p.events.compactMap {
            if case .peerAddressChange(_, let address, let state) = $0.event { ($0.time, address, state) } else { nil }
        }
    }

    /// When an endpoint first reported `address` in `state`.
    static func firstChange(_ p: EndpointParticipant, _ address: IPAddress, to state: PathState,
                            after time: SCTPInstant = .zero) -> SCTPInstant? {
        addressChanges(p).first { $0.address == address && $0.state == state && $0.time >= time }?.time
    }
}

/// Whether a chunk type acknowledges DATA: SACK, or NR-SACK where both ends negotiated it.
func isAcknowledgement(_ type: UInt8) -> Bool { type == SackChunk.chunkType || type == NRSackChunk.chunkType }
