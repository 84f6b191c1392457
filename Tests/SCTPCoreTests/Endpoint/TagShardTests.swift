import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// `SCTPEndpoint.tagShard` (docs/SHARDING.md): every local verification tag an endpoint draws
/// maps to its shard, on both sides of the handshake, and the association works as always.
@Suite("verification tags per shard")
struct TagShardTests {
    @Test("TagShard takes an index below a count of 1...1024")
    func validation() {
        #expect(TagShard(index: 0, count: 1) != nil && TagShard(index: 63, count: 64) != nil)
        #expect(TagShard(index: 2, count: 2) == nil && TagShard(index: 0, count: 0) == nil && TagShard(index: 0, count: 1025) == nil)
        #expect(TagShard(index: 3, count: 5)!.owns(8) && !TagShard(index: 3, count: 5)!.owns(9))
    }

    @Test("tags of initiated and accepted associations map to the endpoint's shard (count 2, 5 and 64); data flows",
          arguments: [(UInt32(1), UInt32(2)), (3, 5), (63, 64)])
    func tagsPerShard(index: UInt32, count: UInt32) throws {
        for seed in UInt64(1)...20 {
            let h = AssociationHarness(seed: seed &* 7 &+ UInt64(count))
            let clientShard = try #require(TagShard(index: (index + 1) % count, count: count))
            let serverShard = try #require(TagShard(index: index, count: count))
            h.client.endpoint.tagShard = clientShard
            h.server.endpoint.tagShard = serverShard
            let id = try h.connect()
            #expect(h.run(for: .seconds(10)) { !AssociationHarness.upEvents(h.server).isEmpty })
            let serverID = try #require(AssociationHarness.upEvents(h.server).first)
            let clientTag = try #require(h.client.endpoint.associations[id]?.localTag)
            let serverTag = try #require(h.server.endpoint.associations[serverID]?.localTag)
            #expect(clientShard.owns(clientTag) && clientTag != 0, "client tag \(clientTag)")
            #expect(serverShard.owns(serverTag) && serverTag != 0, "server tag \(serverTag)")
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payloadProtocolIdentifier: 0,
                                                       payload: ByteBuffer(string: "shard \(seed)")), on: id, now: h.now)
            h.loop.flushTransmits()
            #expect(h.run(for: .seconds(10)) { AssociationHarness.messages(h.server).count == 1 })
        }
    }
}
