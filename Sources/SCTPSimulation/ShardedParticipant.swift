import NIOCore
import SCTPCore
import SCTPWire

/// A sharded endpoint on the simulated network (docs/SHARDING.md): N `SCTPEndpoint`s on one
/// port and the same addresses, each with its `tagShard`, sharing this object as their
/// `SCTPShardDirectory`. Arriving datagrams are steered as the kernel's reuse-port program
/// steers them on real sockets (`steeredShard`): by verification tag, and an INIT (tag 0)
/// by its SCTP source port. Packets a shard hands over (`forward`) are delivered to their
/// shard after the receiving shard is done, as a hand-over between threads would be.
public final class ShardedParticipant: SimulationParticipant, SCTPShardDirectory {
    /// The shards, index `i` with `TagShard(index: i, count: shards.count)`.
    public let shards: [EndpointParticipant]
    /// Datagrams handed from one shard to another so far.
    public private(set) var forwardedCount = 0

    private struct PeerKey: Hashable {
        var address: IPAddress
        var port: UInt16
    }
    private var owners: [PeerKey: UInt32] = [:]
    private var handovers: [(datagram: ByteBuffer, from: IPAddress, to: IPAddress, congestion: Bool, shard: UInt32)] = []
    private var nextToPoll = 0

    /// Makes `endpoints` the shards of one endpoint (sets their `tagShard` and directory).
    public init(endpoints: [SCTPEndpoint]) {
        precondition(!endpoints.isEmpty && endpoints.count <= 1024)
        shards = endpoints.map { EndpointParticipant(endpoint: $0) }
        for (index, endpoint) in endpoints.enumerated() {
            endpoint.tagShard = TagShard(index: UInt32(index), count: UInt32(endpoints.count))
            endpoint.shardDirectory = self
        }
    }

    /// The shard the kernel's program (`csctp_attach_tag_steering`) picks for a datagram:
    /// tag mod N, or for tag 0 the SCTP source port mod N; 0 for one too short to read.
    public static func steeredShard(of datagram: ByteBuffer, count: Int) -> Int {
        guard let header = try? CommonHeader(peeking: datagram) else { return 0 }
        let key = header.verificationTag != 0 ? UInt32(header.verificationTag) : UInt32(header.sourcePort)
        return Int(key % UInt32(count))
    }

    // MARK: SimulationParticipant

    public var addresses: [IPAddress] { shards[0].addresses }

    public var nextDeadline: SCTPInstant? { shards.compactMap(\.nextDeadline).min() }

    public func handleTimeout(now: SCTPInstant) {
        for shard in shards where (shard.nextDeadline ?? .init(nanoseconds: .max)) <= now { shard.handleTimeout(now: now) }
    }

    public func receive(_ delivery: Delivery, now: SCTPInstant) {
        shards[Self.steeredShard(of: delivery.datagram, count: shards.count)].receive(delivery, now: now)
        // Hand-overs, each at most once more (a forwarded packet is never forwarded again).
        var budget = 64
        while !handovers.isEmpty, budget > 0 {
            budget -= 1
            let next = handovers.removeFirst()
            let shard = shards[Int(next.shard)]
            shard.endpoint.handle(datagram: next.datagram, from: next.from, to: next.to, now: now,
                                  congestionExperienced: next.congestion, forwarded: true)
            shard.drainEvents(now: now)
            shard.checkInvariants(now: now)
        }
    }

    public func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? {
        for offset in 0..<shards.count {
            let index = (nextToPoll + offset) % shards.count
            if let datagram = shards[index].pollTransmit(now: now) {
                nextToPoll = (index + 1) % shards.count
                return datagram
            }
        }
        return nil
    }

    // MARK: SCTPShardDirectory

    public func claim(peer address: IPAddress, port: UInt16, shard: UInt32) {
        owners[PeerKey(address: address, port: port)] = shard
    }

    public func release(peer address: IPAddress, port: UInt16, shard: UInt32) {
        let key = PeerKey(address: address, port: port)
        if owners[key] == shard { owners[key] = nil }
    }

    public func owner(peer address: IPAddress, port: UInt16) -> UInt32? { owners[PeerKey(address: address, port: port)] }

    public func forward(_ datagram: ByteBuffer, from source: IPAddress, to destination: IPAddress,
                        congestionExperienced: Bool, toShard shard: UInt32) {
        forwardedCount += 1
        handovers.append((datagram, source, destination, congestionExperienced, shard))
    }
}
