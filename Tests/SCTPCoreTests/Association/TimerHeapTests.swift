import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

@Suite("endpoint timers")
struct TimerHeapTests {
    /// The earliest deadline of an endpoint computed the slow way: every association.
    static func bruteForceDeadline(_ endpoint: SCTPEndpoint) -> SCTPInstant? {
        var earliest = endpoint.cookies.nextRotation
        for association in endpoint.associations.values {
            if let deadline = association.nextDeadline, earliest == nil || deadline < earliest! { earliest = deadline }
        }
        return earliest
    }

    @Test("with 40 associations on one endpoint, the timer heap's next deadline is always the earliest of all; 20 s of heartbeats and retransmissions at 5 % loss keep all up")
    func heapMatchesScan() throws {
        let serverAddress = IPAddress.v4(IPv4Address(10, 0, 1, 1))
        var network = SimulatedNetwork(seed: 77)
        var clients: [EndpointParticipant] = []
        var configuration = SCTPConfiguration()
        configuration.heartbeatInterval = .milliseconds(300)
        configuration.rtoMin = .milliseconds(100)
        configuration.rtoInitial = .milliseconds(200)
        for index in 0..<40 {
            let address = IPAddress.v4(IPv4Address(10, 0, 0, UInt8(index + 1)))
            network.addSymmetricLink(between: address, and: serverAddress,
                                     conditions: LinkConditions(delay: .milliseconds(Int64(2 + index % 7)), lossProbability: 0.05))
            clients.append(EndpointParticipant(endpoint: SCTPEndpoint(
                configuration: configuration, localPort: 5002, localAddresses: [address],
                random: SeededRandomSource(seed: UInt64(index) &+ 100), now: .zero)))
        }
        let server = EndpointParticipant(endpoint: SCTPEndpoint(
            configuration: configuration, localPort: 5001, localAddresses: [serverAddress], acceptsAssociations: true,
            random: SeededRandomSource(seed: 1), now: .zero))
        for (index, client) in clients.enumerated() { client.failsTestOnInvariantViolation(name: "client \(index)") }
        server.failsTestOnInvariantViolation(name: "server")
        var loop = SimulationLoop(clock: VirtualClock(), network: network, participants: clients + [server])
        for (index, client) in clients.enumerated() {
            let id = try client.endpoint.connect(to: [serverAddress], port: 5001, now: loop.now)
            // Some associations carry data now and then, so their timers keep moving.
            if index % 3 == 0 {
                try client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 1, count: 3000)), on: id, now: loop.now)
            }
        }
        loop.flushTransmits()
        var mismatches = 0
        var checks = 0
        _ = loop.run(for: .seconds(20), maxSteps: 200_000) { _ in
            checks += 1
            if server.endpoint.nextDeadline != Self.bruteForceDeadline(server.endpoint) { mismatches += 1 }
            return false
        }
        #expect(checks > 1000)
        #expect(mismatches == 0)
        #expect(server.endpoint.associations.count == 40)
        let ups = server.events.filter { if case .communicationUp = $0.event { true } else { false } }.count
        #expect(ups == 40)
        #expect(!server.events.contains { if case .communicationLost = $0.event { true } else { false } })
        #expect(server.endpoint.associationIDs.allSatisfy { server.endpoint.state(of: $0) == .established })
    }

    /// Found by the endpoint's invariant check in the seeded sweep: `send` queues the data
    /// and marks the association's deadline for a refresh; a driver that read `nextDeadline`
    /// (which does the refresh) before polling the transmits then sent the DATA in
    /// `pollTransmit`, which arms T3-rtx, and nothing marked the deadline again. The endpoint
    /// slept until the next heartbeat (or for ever, without heartbeats) instead of
    /// retransmitting after one RTO.
    @Test("T3-rtx armed when pollTransmit sends queued data is in nextDeadline, even if nextDeadline was read after the send")
    func t3ArmedInPollTransmitIsScheduled() throws {
        var configuration = SCTPConfiguration()
        configuration.heartbeatInterval = nil
        configuration.rtoInitial = .milliseconds(300)
        configuration.rtoMin = .milliseconds(300)
        let h = AssociationHarness(seed: 5, clientConfiguration: configuration, serverConfiguration: configuration)
        let id = try h.connect()
        #expect(h.run(for: .seconds(5)) { h.client.endpoint.state(of: id) == .established })
        // Let every SACK and timer settle.
        _ = h.loop.run(for: .seconds(2))
        let client = h.client.endpoint
        let now = h.now
        try client.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 7, count: 100)), on: id, now: now)
        _ = client.nextDeadline  // a driver re-arming its timer right after the call
        var sent = 0
        while client.pollTransmit() != nil { sent += 1 }  // the DATA leaves (and is lost)
        #expect(sent == 1)
        let rto = client.status(of: id)?.paths.first?.rto ?? .seconds(60)
        let deadline = try #require(client.nextDeadline, "T3-rtx runs, so there is a deadline")
        #expect(deadline <= now + rto, "T3-rtx due by \(now + rto), next deadline \(deadline)")
    }
}
