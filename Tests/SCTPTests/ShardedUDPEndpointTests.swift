import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
@testable import SCTP
import SCTPCore
import SCTPWire
import Testing

/// `ShardedUDPEndpoint` on loopback (docs/SHARDING.md): shards on loops of their own, one UDP
/// port in a reuse-port group steered by verification tag. Each association lives on one
/// shard; its events come from that shard's loop; data flows on every shard.
@Suite("a sharded endpoint over UDP on loopback (Linux)")
struct ShardedUDPEndpointTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Events, and how many arrived on another loop than the owner's.
    final class ShardLog: @unchecked Sendable {
        let log = EventLog()
        let wrongLoop = NIOLockedValueBox(0)
        let endpoint = NIOLockedValueBox<ShardedUDPEndpoint?>(nil)

        func record(_ event: SCTPEvent) {
            log.append(event)
            if let id = event.associationID, let endpoint = endpoint.withLockedValue({ $0 }),
               !endpoint.shard(of: id).eventLoop.inEventLoop {
                wrongLoop.withLockedValue { $0 += 1 }
            }
        }

        var up: [AssociationID] { log.all.compactMap { if case .communicationUp(let id, _, _) = $0 { id } else { nil } } }
        func messages(on id: AssociationID) -> Int {
            log.all.filter { if case .message(id, _) = $0 { true } else { false } }.count
        }
    }

    static func sharded(_ addresses: [String], sctpPort: UInt16, shards: Int, listens: Bool, udpPort: Int = 0,
                        peerUDPPort: Int = 9899, maxAssociations: Int? = nil,
                        refusesSteering: Bool = false) throws -> (ShardedUDPEndpoint, ShardLog) {
        var options = UDPEncapsulationEndpoint.Options(sctpPort: sctpPort, localAddresses: addresses)
        if let maxAssociations { options.configuration.maxAssociations = maxAssociations }
        options.udpPort = udpPort
        options.peerUDPPort = peerUDPPort
        options.acceptsAssociations = listens
        let log = ShardLog()
        let endpoint = try wait(try ShardedUDPEndpoint.start(options: options, shards: shards, refusesSteering: refusesSteering) {
            log.record($0)
        })
        log.endpoint.withLockedValue { $0 = endpoint }
        return (endpoint, log)
    }

    static func plain(_ addresses: [String], sctpPort: UInt16, listens: Bool, udpPort: Int = 0,
                      peerUDPPort: Int) throws -> (UDPEncapsulationEndpoint, EventLog) {
        var options = UDPEncapsulationEndpoint.Options(sctpPort: sctpPort, localAddresses: addresses)
        options.udpPort = udpPort
        options.peerUDPPort = peerUDPPort
        options.acceptsAssociations = listens
        let log = EventLog()
        return (try wait(UDPEncapsulationEndpoint.start(options: options, on: group.next()) { log.append($0) }), log)
    }

    @Test("a 2-shard server: 6 clients' associations spread over both shards by port, ids name the shard, events on its loop, every message arrives",
          .enabled(if: isLinuxHost))
    func serverShards() throws {
        let (server, serverLog) = try Self.sharded(["127.0.0.1"], sctpPort: 5001, shards: 2, listens: true)
        defer { _ = try? wait(server.close()) }
        #expect(server.shardCount == 2, "the kernel refused the steering program")
        #expect(server.shards.allSatisfy { $0.localUDPPort == server.localUDPPort })
        var clients: [(UDPEncapsulationEndpoint, AssociationID)] = []
        defer { for (client, _) in clients { _ = try? wait(client.close()) } }
        for index in 0..<6 {
            let (client, _) = try Self.plain(["127.0.0.1"], sctpPort: 6000 + UInt16(index), listens: false, peerUDPPort: server.localUDPPort)
            clients.append((client, try wait(client.connect(to: ["127.0.0.1"], port: 5001))))
        }
        #expect(eventually { serverLog.up.count == 6 })
        let serverIDs = serverLog.up
        // INITs from ports 6000...6005 are steered by port: both shards answered some.
        #expect(Set(serverIDs.map { $0.rawValue % 2 }) == [0, 1], "\(serverIDs)")
        for (client, id) in clients {
            let messages = (0..<50).map { OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(string: "message \($0) on \(id)")) }
            try wait(client.send(messages, on: id))
        }
        #expect(eventually { serverIDs.allSatisfy { serverLog.messages(on: $0) == 50 } })
        #expect(serverLog.wrongLoop.withLockedValue { $0 } == 0)
        #expect(server.handedOver == 0)
        // Calls reach the owner: statistics of each association from its shard.
        for id in serverIDs {
            let statistics = try #require(try wait(server.statistics(of: id)))
            #expect(statistics.dataChunksReceived >= 50)
        }
    }

    @Test("a 2-shard client: associations start on the shards in turn, both carry data, and shut down gracefully",
          .enabled(if: isLinuxHost))
    func clientShards() throws {
        let (first, firstLog) = try Self.plain(["127.0.0.1"], sctpPort: 5001, listens: true, peerUDPPort: 9899)
        defer { _ = try? wait(first.close()) }
        // A second server on another address, the same UDP port: the client's one peer UDP port reaches both.
        let (second, secondLog) = try Self.plain(["127.0.0.2"], sctpPort: 5001, listens: true, udpPort: first.localUDPPort,
                                                 peerUDPPort: 9899)
        defer { _ = try? wait(second.close()) }
        let (client, clientLog) = try Self.sharded(["127.0.0.1"], sctpPort: 6000, shards: 2, listens: false,
                                                   peerUDPPort: first.localUDPPort)
        defer { _ = try? wait(client.close()) }
        let a = try wait(client.connect(to: ["127.0.0.1"], port: 5001))
        let b = try wait(client.connect(to: ["127.0.0.2"], port: 5001))
        #expect(Set([a.rawValue % 2, b.rawValue % 2]) == [0, 1], "\(a) \(b)")
        for (id, count) in [(a, 30), (b, 40)] {
            try wait(client.send((0..<count).map { OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(string: "m\($0)")) }, on: id))
        }
        #expect(eventually { firstLog.messages.count == 30 && secondLog.messages.count == 40 })
        try wait(client.shutdown(a))
        try wait(client.shutdown(b))
        #expect(eventually { clientLog.log.all.filter { if case .shutdownComplete = $0 { true } else { false } }.count == 2 })
        #expect(clientLog.wrongLoop.withLockedValue { $0 } == 0)
    }

    @Test("a peer's restart INIT steered to the other shard is handed to the owner, which answers at the UDP port it came from",
          .enabled(if: isLinuxHost))
    func restartHandedOver() throws {
        let (peer, _) = try Self.plain(["127.0.0.2"], sctpPort: 5001, listens: true, peerUDPPort: 9899)
        defer { _ = try? wait(peer.close()) }
        let (ours, log) = try Self.sharded(["127.0.0.1"], sctpPort: 6000, shards: 2, listens: true, peerUDPPort: peer.localUDPPort)
        defer { _ = try? wait(ours.close()) }
        // The first association starts on shard 0; INITs from SCTP port 5001 are steered to shard 1.
        let id = try wait(ours.connect(to: ["127.0.0.2"], port: 5001))
        #expect(id.rawValue % 2 == 0)
        // "The peer restarts": another endpoint on the same address and SCTP port, with a UDP
        // port of its own, sets up an association to us.
        let (rebooted, _) = try Self.plain(["127.0.0.2"], sctpPort: 5001, listens: false, peerUDPPort: ours.localUDPPort)
        defer { _ = try? wait(rebooted.close()) }
        let newID = try wait(rebooted.connect(to: ["127.0.0.1"], port: 6000))
        #expect(eventually { log.log.all.contains { if case .restart(id) = $0 { true } else { false } } })
        #expect(ours.handedOver >= 1)
        #expect(log.up == [id], "no second association")
        // Data flows on the restarted association, to the new peer.
        try wait(rebooted.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(string: "after restart")), on: newID))
        #expect(eventually { log.messages(on: id) == 1 })
        #expect(log.wrongLoop.withLockedValue { $0 } == 0)
    }

    @Test("the association limit is the endpoint's, split among the shards: 2 over 2 shards, a third INIT to a full shard is refused",
          .enabled(if: isLinuxHost))
    func associationLimit() throws {
        let (server, serverLog) = try Self.sharded(["127.0.0.1"], sctpPort: 5001, shards: 2, listens: true, maxAssociations: 2)
        defer { _ = try? wait(server.close()) }
        var clients: [UDPEncapsulationEndpoint] = []
        defer { for client in clients { _ = try? wait(client.close()) } }
        // Ports 6000 and 6002 steer to shard 0, 6001 to shard 1.
        for port: UInt16 in [6000, 6001, 6002] {
            let (client, _) = try Self.plain(["127.0.0.1"], sctpPort: port, listens: false, peerUDPPort: server.localUDPPort)
            clients.append(client)
        }
        _ = try wait(clients[0].connect(to: ["127.0.0.1"], port: 5001))
        _ = try wait(clients[1].connect(to: ["127.0.0.1"], port: 5001))
        #expect { try wait(clients[2].connect(to: ["127.0.0.1"], port: 5001), seconds: 60) } throws: { error in
            error is SCTPError
        }
        #expect(serverLog.up.count == 2)
    }

    @Test("a kernel that refuses the steering program: the endpoint runs one shard, which takes every association and its data",
          .enabled(if: isLinuxHost))
    func fallbackToOneShard() throws {
        let (server, serverLog) = try Self.sharded(["127.0.0.1"], sctpPort: 5001, shards: 2, listens: true, refusesSteering: true)
        var closed = false
        defer { if !closed { _ = try? wait(server.close()) } }
        #expect(server.shardCount == 1)
        var clients: [(UDPEncapsulationEndpoint, AssociationID)] = []
        defer { for (client, _) in clients { _ = try? wait(client.close()) } }
        // Ports 6000 and 6001 would be steered to different shards; here one takes both.
        for port: UInt16 in [6000, 6001] {
            let (client, _) = try Self.plain(["127.0.0.1"], sctpPort: port, listens: false, peerUDPPort: server.localUDPPort)
            clients.append((client, try wait(client.connect(to: ["127.0.0.1"], port: 5001))))
        }
        #expect(eventually { serverLog.up.count == 2 })
        for (client, id) in clients {
            try wait(client.send((0..<20).map { OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(string: "m\($0)")) }, on: id))
        }
        #expect(eventually { serverLog.up.allSatisfy { serverLog.messages(on: $0) == 20 } })
        for id in serverLog.up {
            #expect(server.shard(of: id) === server.shards[0])
            #expect(try wait(server.statistics(of: id)) != nil)
        }
        #expect(serverLog.wrongLoop.withLockedValue { $0 } == 0)
        // Closing stops both loops the endpoint made, the unused one too.
        try wait(server.close())
        closed = true
    }

    @Test("bad arguments: 0 or 65 shards, a loop given twice (EINVAL)")
    func badArguments() throws {
        let options = UDPEncapsulationEndpoint.Options(sctpPort: 5001, localAddresses: ["127.0.0.1"])
        for count in [0, 65] {
            #expect(throws: SCTPError.self) { _ = try ShardedUDPEndpoint.start(options: options, shards: count) { _ in } }
        }
        let loop = Self.group.next()
        #expect { try wait(ShardedUDPEndpoint.start(options: options, on: [loop, loop]) { _ in }) } throws: { error in
            (error as? SCTPError)?.errno == .invalidArgument
        }
    }
}

#if os(Linux)
private let isLinuxHost = true
#else
private let isLinuxHost = false
#endif
