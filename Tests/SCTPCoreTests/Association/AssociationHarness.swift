import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire

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

    static func messages(_ p: EndpointParticipant) -> [InboundMessage] {
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

/// A message payload whose bytes encode its stream and sequence, so receivers can check content.
func testPayload(stream: UInt16, index: Int, length: Int) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger(stream)
    buffer.writeInteger(UInt32(index))
    for i in 0..<max(length - 6, 0) { buffer.writeInteger(UInt8(truncatingIfNeeded: i &+ index &* 7 &+ Int(stream))) }
    return buffer
}
