import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SCTPCore
import SCTPWire

/// One SCTP endpoint over UDP encapsulation (RFC 6951) spread over several event loops, one
/// shard per loop, so that its associations use several cores (docs/SHARDING.md).
///
/// Every shard is a `UDPEncapsulationEndpoint` with its own loop, its own UDP socket per local
/// address and its own core, all on one UDP port and one SCTP port. The sockets form a
/// reuse-port group (`SO_REUSEPORT`) with a kernel program that hands each datagram to socket
/// (verification tag mod N); every association chooses its own tag in its shard's class, so
/// all its packets reach that shard straight from the kernel, on every path. INITs (tag 0) are
/// spread by the peer's SCTP port; whichever shard answers one owns the association it makes.
/// The rare packets that cannot name their shard (a peer's INIT for an association we started,
/// T-bit ABORT and SHUTDOWN COMPLETE) are handed over through a directory of peer addresses
/// the shards share.
///
/// Association ids name their shard (`id % shardCount`), so every call goes straight to the
/// owner's loop. `onEvent` runs on the loop of the shard that owns the association: events of
/// one association come from one thread, in order; those of different associations may come
/// from different threads at the same time.
///
/// Limits stay the endpoint's: `configuration.maxAssociations` is split among the shards
/// (each takes its part, rounded up), so the whole endpoint holds about as many as one would.
///
/// Linux only (the steering program). Where the kernel refuses the program, the endpoint runs
/// with one shard, and says so in the log.
public final class ShardedUDPEndpoint: @unchecked Sendable {
    /// The shards, index `i` owning the associations with `id % shards.count == i`.
    public let shards: [UDPEncapsulationEndpoint]
    /// The UDP port every shard's sockets are bound to.
    public var localUDPPort: Int { shards[0].localUDPPort }
    /// The local addresses, as the core knows them.
    public var localAddresses: [IPAddress] { shards[0].localAddresses }

    private let directory: ShardDirectory
    private let ownedLoops: [SCTPEventLoop]
    private let ownedGroup: MultiThreadedEventLoopGroup?
    private let nextShard = NIOLockedValueBox(0)
    private static let logger = Logger(label: "swift-sctp.sharded")

    private init(shards: [UDPEncapsulationEndpoint], directory: ShardDirectory, ownedLoops: [SCTPEventLoop],
                 ownedGroup: MultiThreadedEventLoopGroup?) {
        self.shards = shards
        self.directory = directory
        self.ownedLoops = ownedLoops
        self.ownedGroup = ownedGroup
    }

    /// Starts an endpoint with one shard on each of `loops` (distinct loops; at most 1024).
    /// `options.udpPort` 0 picks a free port for the first shard, which the others then join.
    /// Fails with EINVAL for no loops or a loop given twice, and with what
    /// `UDPEncapsulationEndpoint.start` fails with.
    public static func start(options: UDPEncapsulationEndpoint.Options, on loops: [any EventLoop],
                             onEvent: @escaping @Sendable (SCTPEvent) -> Void) -> EventLoopFuture<ShardedUDPEndpoint> {
        start(options: options, loops: loops, owned: [], group: nil, onEvent: onEvent)
    }

    /// Starts an endpoint with `shards` shards (1...64) on loops of its own: swift-sctp's
    /// `SCTPEventLoop` where supported, else a SwiftNIO group; `close()` stops them.
    public static func start(options: UDPEncapsulationEndpoint.Options, shards count: Int,
                             onEvent: @escaping @Sendable (SCTPEvent) -> Void) throws(SCTPError) -> EventLoopFuture<ShardedUDPEndpoint> {
        try start(options: options, shards: count, refusesSteering: false, onEvent: onEvent)
    }

    /// `start(options:shards:onEvent:)`; `refusesSteering` makes it act as on a kernel that
    /// refuses the steering program (tests of the fallback to one shard).
    static func start(options: UDPEncapsulationEndpoint.Options, shards count: Int, refusesSteering: Bool,
                      onEvent: @escaping @Sendable (SCTPEvent) -> Void) throws(SCTPError) -> EventLoopFuture<ShardedUDPEndpoint> {
        guard (1...64).contains(count) else { throw SCTPError(.invalidArgument, "shards must be 1...64, not \(count)") }
        if SCTPEventLoop.isSupported {
            var loops: [SCTPEventLoop] = []
            for _ in 0..<count {
                do {
                    loops.append(try SCTPEventLoop())
                } catch {
                    for loop in loops { loop.shutdownGracefully { _ in } }
                    throw error
                }
            }
            return start(options: options, loops: loops, owned: loops, group: nil, refusesSteering: refusesSteering, onEvent: onEvent)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: count)
        return start(options: options, loops: Array(group.makeIterator()), owned: [], group: group,
                     refusesSteering: refusesSteering, onEvent: onEvent)
    }

    private static func start(options: UDPEncapsulationEndpoint.Options, loops: [any EventLoop], owned: [SCTPEventLoop],
                              group: MultiThreadedEventLoopGroup?, refusesSteering: Bool = false,
                              onEvent: @escaping @Sendable (SCTPEvent) -> Void) -> EventLoopFuture<ShardedUDPEndpoint> {
        let stopOwned: @Sendable () -> Void = {
            for loop in owned { loop.shutdownGracefully { _ in } }
            group?.shutdownGracefully { _ in }
        }
        guard let first = loops.first, loops.count <= 1024 else {
            stopOwned()
            return (loops.first ?? MultiThreadedEventLoopGroup.singleton.next())
                .makeFailedFuture(SCTPError(.invalidArgument, "a sharded endpoint needs 1...1024 loops"))
        }
        for (index, loop) in loops.enumerated() where loops[..<index].contains(where: { $0 === loop }) {
            stopOwned()
            return first.makeFailedFuture(SCTPError(.invalidArgument, "loop \(index) is given twice"))
        }
        let directory = ShardDirectory(count: loops.count)
        let count = UInt32(loops.count)
        // The shards bind one after another: the kernel numbers a reuse-port group's sockets in
        // the order they join, and the program's answer is that number.
        // The shards started so far, closed again should a later one fail.
        let startedSoFar = NIOLockedValueBox<[UDPEncapsulationEndpoint]>([])
        var chain: EventLoopFuture<[UDPEncapsulationEndpoint]> = first.makeSucceededFuture([])
        for (index, loop) in loops.enumerated() {
            chain = chain.flatMap { started in
                var shardOptions = options
                if let port = started.first?.localUDPPort { shardOptions.udpPort = port }
                // The endpoint's association limit is shared: each shard takes its part.
                let limit = options.configuration.maxAssociations
                shardOptions.configuration.maxAssociations = max(1, (limit + Int(count) - 1) / Int(count))
                let shard = count > 1 ? (TagShard(index: UInt32(index), count: count)!, directory as any SCTPShardDirectory) : nil
                return UDPEncapsulationEndpoint.start(options: shardOptions, on: loop, shard: shard,
                                                      refusesSteering: refusesSteering, onEvent: onEvent)
                    .map { endpoint in
                        startedSoFar.withLockedValue { $0.append(endpoint) }
                        return started + [endpoint]
                    }
                    .hop(to: first)
            }
        }
        chain = chain.flatMapError { error in
            let started = startedSoFar.withLockedValue { $0 }
            return EventLoopFuture.andAllComplete(started.map { $0.close() }, on: first).flatMapThrowing { throw error }
        }
        return chain.flatMapError { error -> EventLoopFuture<[UDPEncapsulationEndpoint]> in
            // A kernel without the steering program: one shard, on the first loop.
            guard count > 1, let refusal = error as? SCTPError, refusal.errno == .notSupported else {
                return first.makeFailedFuture(error)
            }
            logger.warning("reuse-port steering refused by the kernel: running one shard", metadata: ["error": "\(refusal)"])
            return UDPEncapsulationEndpoint.start(options: options, on: first, onEvent: onEvent).map { [$0] }
        }.map { started in
            let endpoint = ShardedUDPEndpoint(shards: started, directory: directory, ownedLoops: owned, ownedGroup: group)
            directory.shards = started
            return endpoint
        }.flatMapErrorThrowing { error in
            stopOwned()
            throw error
        }
    }

    /// How many shards run (1 where the kernel refused the steering program).
    public var shardCount: Int { shards.count }

    /// The shard that owns association `id`.
    public func shard(of id: AssociationID) -> UDPEncapsulationEndpoint { shards[Int(id.rawValue % UInt32(shards.count))] }

    /// Sets up an association (the seed's `sctp_connectx`) from the next shard in turn; its
    /// id names that shard. Fails as `UDPEncapsulationEndpoint.connect` does.
    public func connect(to addresses: [String], port: UInt16) -> EventLoopFuture<AssociationID> {
        let index = nextShard.withLockedValue { next in
            defer { next = (next + 1) % shards.count }
            return next
        }
        return shards[index].connect(to: addresses, port: port)
    }

    /// Queues a message on association `id` (its shard's `send`).
    public func send(_ message: OutgoingMessage, on id: AssociationID) -> EventLoopFuture<Void> { shard(of: id).send(message, on: id) }

    /// Queues several messages with one hop to the owner's loop.
    public func send(_ messages: [OutgoingMessage], on id: AssociationID) -> EventLoopFuture<Void> { shard(of: id).send(messages, on: id) }

    /// Graceful shutdown of association `id`.
    public func shutdown(_ id: AssociationID) -> EventLoopFuture<Void> { shard(of: id).shutdown(id) }

    /// Aborts association `id` (ABORT, RFC 9260 §9.1).
    public func abort(_ id: AssociationID, reason: ByteBuffer? = nil) -> EventLoopFuture<Void> { shard(of: id).abort(id, reason: reason) }

    /// The peer's addresses of association `id`.
    public func peerAddresses(of id: AssociationID) -> EventLoopFuture<[IPAddress]> { shard(of: id).peerAddresses(of: id) }

    /// The data transfer counters of association `id`, `nil` once it is gone.
    public func statistics(of id: AssociationID) -> EventLoopFuture<AssociationStatistics?> { shard(of: id).statistics(of: id) }

    /// Datagrams one shard handed to another so far (INITs and T-bit packets of associations
    /// another shard owns).
    public var handedOver: Int { directory.handedOver }

    /// Closes every shard (aborting live associations), then stops the loops it made itself.
    public func close() -> EventLoopFuture<Void> {
        let first = shards[0].eventLoop
        let closed = EventLoopFuture.andAllComplete(shards.map { $0.close() }, on: first)
        return closed.flatMap { [self] in
            directory.shards = []
            guard !ownedLoops.isEmpty || ownedGroup != nil else { return first.makeSucceededVoidFuture() }
            // The loops are ours to stop; the future completes on a loop that outlives them.
            let promise = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
            let remaining = NIOLockedValueBox(ownedLoops.count + (ownedGroup == nil ? 0 : 1))
            let oneStopped: @Sendable ((any Error)?) -> Void = { _ in
                if remaining.withLockedValue({ $0 -= 1; return $0 }) == 0 { promise.succeed() }
            }
            for loop in ownedLoops { loop.shutdownGracefully(queue: .global(), oneStopped) }
            ownedGroup?.shutdownGracefully(queue: .global(), oneStopped)
            return promise.futureResult
        }
    }
}

/// The directory the shards of a `ShardedUDPEndpoint` share: the owner of each peer transport
/// address, behind a lock (written once per association start, end and address change; read
/// only for packets that no association of the receiving shard takes), and the hand-over of a
/// datagram to another shard's loop.
final class ShardDirectory: SCTPShardDirectory, @unchecked Sendable {
    private struct PeerKey: Hashable {
        var address: IPAddress
        var port: UInt16
    }
    private let owners = NIOLockedValueBox<[PeerKey: UInt32]>([:])
    private let shardsBox = NIOLockedValueBox<[UDPEncapsulationEndpoint]>([])
    private let handedOverBox = NIOLockedValueBox(0)
    let count: Int

    init(count: Int) { self.count = count }

    /// The shards, set once all have started (and emptied on close).
    var shards: [UDPEncapsulationEndpoint] {
        get { shardsBox.withLockedValue { $0 } }
        set { shardsBox.withLockedValue { $0 = newValue } }
    }

    var handedOver: Int { handedOverBox.withLockedValue { $0 } }

    func claim(peer address: IPAddress, port: UInt16, shard: UInt32) {
        owners.withLockedValue { $0[PeerKey(address: address, port: port)] = shard }
    }

    func release(peer address: IPAddress, port: UInt16, shard: UInt32) {
        owners.withLockedValue { owners in
            let key = PeerKey(address: address, port: port)
            if owners[key] == shard { owners[key] = nil }
        }
    }

    func owner(peer address: IPAddress, port: UInt16) -> UInt32? {
        owners.withLockedValue { $0[PeerKey(address: address, port: port)] }
    }

    func forward(_ datagram: ByteBuffer, from source: IPAddress, to destination: IPAddress,
                 congestionExperienced: Bool, toShard shard: UInt32) {
        let shards = self.shards
        guard Int(shard) < shards.count else { return }
        handedOverBox.withLockedValue { $0 += 1 }
        let target = shards[Int(shard)]
        // The UDP port it came from, which the receiving shard (this thread's) has just learned:
        // the owner answers there (a restarted peer may use a new one).
        var udpPort: Int?
        if let receiving = shards.first(where: { $0.eventLoop.inEventLoop }),
           let sctpPort = datagram.getInteger(at: datagram.readerIndex, as: UInt16.self) {
            udpPort = receiving.learnedUDPPort(of: source, sctpPort: sctpPort)
        }
        target.eventLoop.execute {
            target.receiveHandedOver(datagram, from: source, udpPort: udpPort, to: destination,
                                     congestionExperienced: congestionExperienced)
        }
    }
}
