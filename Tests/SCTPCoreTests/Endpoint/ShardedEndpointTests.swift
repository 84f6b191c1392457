import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// A sharded endpoint over the simulated network (docs/SHARDING.md): N `SCTPEndpoint`s on one
/// port steered by verification tag (`ShardedParticipant`, as the kernel's reuse-port program
/// steers real sockets), sharing a directory of peer addresses. Associations live on the shard
/// their tag names; the packets that cannot name it (a peer's INIT for an association we
/// started, T-bit packets) reach it through the directory.
@Suite("a sharded endpoint: steering by tag, hand-over of INIT and T-bit packets")
struct ShardedEndpointTests {
    static let serverAddress = IPAddress.v4(IPv4Address(10, 0, 1, 1))
    static let serverPort: UInt16 = 5001

    static func endpoint(_ address: IPAddress, port: UInt16, accepts: Bool, seed: UInt64, now: SCTPInstant = .zero) -> SCTPEndpoint {
        SCTPEndpoint(localPort: port, localAddresses: [address], acceptsAssociations: accepts,
                     random: SeededRandomSource(seed: seed), now: now)
    }

    static func events(_ p: EndpointParticipant) -> [SCTPEvent] { p.events.map(\.event) }

    static func run(_ loop: inout SimulationLoop, for limit: Duration = .seconds(30), until condition: @escaping () -> Bool) -> Bool {
        loop.run(for: limit, maxSteps: 2_000_000) { _ in condition() }.reason == .condition
    }

    @Test("accepted associations live on the shard their tag names, with ids of that shard; data flows; nothing is handed over")
    func acceptedAssociations() throws {
        let shardCount = 4
        let server = ShardedParticipant(endpoints: (0..<shardCount).map {
            Self.endpoint(Self.serverAddress, port: Self.serverPort, accepts: true, seed: 100 + UInt64($0))
        })
        for shard in server.shards { shard.failsTestOnInvariantViolation(name: "server shard") }
        var network = SimulatedNetwork(seed: 1)
        var clients: [EndpointParticipant] = []
        for index in 0..<8 {
            let address = IPAddress.v4(IPv4Address(10, 0, 0, UInt8(index + 1)))
            network.addSymmetricLink(between: address, and: Self.serverAddress, conditions: LinkConditions(delay: .milliseconds(2)))
            let client = EndpointParticipant(endpoint: Self.endpoint(address, port: 6000 + UInt16(index), accepts: false, seed: UInt64(index) + 1))
            client.failsTestOnInvariantViolation(name: "client \(index)")
            clients.append(client)
        }
        var loop = SimulationLoop(network: network, participants: clients + [server])
        var ids: [AssociationID] = []
        for client in clients {
            ids.append(try client.endpoint.connect(to: [Self.serverAddress], port: Self.serverPort, now: loop.now))
        }
        loop.flushTransmits()
        let allUp = { server.shards.reduce(0) { $0 + AssociationHarness.upEvents($1).count } == clients.count }
        #expect(Self.run(&loop, until: allUp))

        var shardsUsed = Set<Int>()
        for (index, shard) in server.shards.enumerated() {
            for id in shard.endpoint.associationIDs {
                let association = try #require(shard.endpoint.associations[id])
                #expect(Int(association.localTag % UInt32(shardCount)) == index, "tag \(association.localTag) on shard \(index)")
                #expect(Int(id.rawValue % UInt32(shardCount)) == index, "\(id) on shard \(index)")
                #expect(server.owner(peer: association.paths[0].address, port: association.peerPort) == UInt32(index))
                shardsUsed.insert(index)
            }
        }
        // INITs are spread by source port (6000...6007 mod 4): every shard has some.
        #expect(shardsUsed.count == shardCount)

        for (client, id) in zip(clients, ids) {
            try client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(string: "to \(id)")), on: id, now: loop.now)
        }
        loop.flushTransmits()
        let allDelivered = { server.shards.reduce(0) { $0 + AssociationHarness.messages($1).count } == clients.count }
        #expect(Self.run(&loop, until: allDelivered))
        #expect(server.forwardedCount == 0)
    }

    @Test("a peer's restart INIT arrives at another shard than the association's and is handed over: .restart on the same id")
    func restartHandedOver() throws {
        let clientAddress = IPAddress.v4(IPv4Address(10, 0, 0, 1))
        // Our side sharded in two, the association started on shard 0; the peer's INITs come
        // from port 5001, which the steering sends to shard 1.
        let ours = ShardedParticipant(endpoints: (0..<2).map { Self.endpoint(clientAddress, port: 6000, accepts: true, seed: 7 + UInt64($0)) })
        for shard in ours.shards { shard.failsTestOnInvariantViolation(name: "our shard") }
        let peer = EndpointParticipant(endpoint: Self.endpoint(Self.serverAddress, port: Self.serverPort, accepts: true, seed: 21))
        var network = SimulatedNetwork(seed: 2)
        network.addSymmetricLink(between: clientAddress, and: Self.serverAddress, conditions: LinkConditions(delay: .milliseconds(2)))
        var loop = SimulationLoop(network: network, participants: [ours, peer])
        let id = try ours.shards[0].endpoint.connect(to: [Self.serverAddress], port: Self.serverPort, now: loop.now)
        #expect(id.rawValue % 2 == 0)
        loop.flushTransmits()
        #expect(Self.run(&loop) { !AssociationHarness.upEvents(ours.shards[0]).isEmpty && !AssociationHarness.upEvents(peer).isEmpty })
        #expect(ShardedParticipant.steeredShard(of: ByteBuffer(bytes: [0x13, 0x89, 0x17, 0x70, 0, 0, 0, 0, 0, 0, 0, 0]), count: 2) == 1)
        let oldTag = try #require(ours.shards[0].endpoint.associations[id]?.localTag)

        // The peer reboots: a fresh endpoint on the same address and port sets up again.
        let rebooted = EndpointParticipant(endpoint: Self.endpoint(Self.serverAddress, port: Self.serverPort, accepts: true,
                                                                   seed: 99, now: loop.now))
        loop.participants = [ours, rebooted]
        _ = try rebooted.endpoint.connect(to: [clientAddress], port: 6000, now: loop.now)
        loop.flushTransmits()
        #expect(Self.run(&loop) { !AssociationHarness.upEvents(rebooted).isEmpty })
        #expect(Self.run(&loop) { Self.events(ours.shards[0]).contains { if case .restart(id) = $0 { true } else { false } } })
        #expect(ours.forwardedCount >= 1, "the INIT went to shard 1 and was handed to shard 0")
        #expect(ours.shards[1].endpoint.associationIDs.isEmpty, "no second association on the other shard")
        #expect(ours.shards[0].endpoint.associationIDs == [id])
        let newTag = try #require(ours.shards[0].endpoint.associations[id]?.localTag)
        #expect(newTag != oldTag && newTag % 2 == 0)
    }

    @Test("an ABORT with the T bit (the peer's tag) reaches the association's shard through the directory")
    func reflectedAbortHandedOver() throws {
        let clientAddress = IPAddress.v4(IPv4Address(10, 0, 0, 1))
        let ours = ShardedParticipant(endpoints: (0..<2).map { Self.endpoint(clientAddress, port: 6000, accepts: false, seed: 30 + UInt64($0)) })
        for shard in ours.shards { shard.failsTestOnInvariantViolation(name: "our shard") }
        // The peer's tags are odd: its T-bit packets (which carry its tag) steer to shard 1.
        let peerEndpoint = Self.endpoint(Self.serverAddress, port: Self.serverPort, accepts: true, seed: 41)
        peerEndpoint.tagShard = TagShard(index: 1, count: 2)
        let peer = EndpointParticipant(endpoint: peerEndpoint)
        var network = SimulatedNetwork(seed: 3)
        network.addSymmetricLink(between: clientAddress, and: Self.serverAddress, conditions: LinkConditions(delay: .milliseconds(2)))
        var loop = SimulationLoop(network: network, participants: [ours, peer])
        let id = try ours.shards[0].endpoint.connect(to: [Self.serverAddress], port: Self.serverPort, now: loop.now)
        loop.flushTransmits()
        #expect(Self.run(&loop) { !AssociationHarness.upEvents(ours.shards[0]).isEmpty })
        let peerTag = try #require(ours.shards[0].endpoint.associations[id]?.peerTag)
        #expect(peerTag % 2 == 1)

        // The peer loses its state; our next DATA is out of the blue there, answered with
        // ABORT, T bit set, carrying the peer's old tag.
        let rebooted = EndpointParticipant(endpoint: Self.endpoint(Self.serverAddress, port: Self.serverPort, accepts: true,
                                                                   seed: 42, now: loop.now))
        loop.participants = [ours, rebooted]
        try ours.shards[0].endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(string: "hello?")), on: id, now: loop.now)
        loop.flushTransmits()
        #expect(Self.run(&loop, for: .seconds(5)) { AssociationHarness.lost(ours.shards[0]) != nil })
        #expect(ours.forwardedCount == 1)
        #expect(ours.shards[0].endpoint.associationIDs.isEmpty || ours.shards[0].endpoint.state(of: id) == .closed)
    }

    @Test("ids and tags of shard i of N: id % N == i, never a selector, ids distinct")
    func idsPerShard() throws {
        for (index, count) in [(0, 2), (1, 2), (2, 3), (5, 64), (63, 64)] {
            let endpoint = Self.endpoint(Self.serverAddress, port: 1, accepts: false, seed: UInt64(index * 100 + count))
            endpoint.tagShard = TagShard(index: UInt32(index), count: UInt32(count))
            var seen = Set<UInt32>()
            for _ in 0..<10 {
                let id = endpoint.newAssociationID()
                #expect(!id.isSelector && Int(id.rawValue) % count == index, "\(id) for \(index) of \(count)")
                seen.insert(id.rawValue)
            }
            #expect(seen.count == 10)
        }
    }
}
