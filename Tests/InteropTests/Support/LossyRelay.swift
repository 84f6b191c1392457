import NIOCore
import NIOPosix

/// A UDP relay between two SCTP-over-UDP peers on loopback that drops, delays, duplicates,
/// reorders and corrupts datagrams. Each behaviour has a probability; the decisions come from
/// a splitmix64 PRNG per direction seeded from `seed`, drawn in a fixed order per datagram, so
/// that they are deterministic given the seed and the order the datagrams arrive in.
///
/// ```
///  our stack ──► left socket ══ relay ══ right socket ──► usrsctp
///  (sends to leftPort)                   (usrsctp sends to rightPort)
/// ```
///
/// Datagrams arriving on the left socket go out of the right one to the right peer, and back
/// the other way. A peer's UDP address is fixed when given, otherwise learned from the last
/// datagram it sent to the relay (datagrams for a peer not known yet are dropped).
final class LossyRelay: @unchecked Sendable {
    struct Impairments: Sendable, CustomStringConvertible {
        /// Probability a datagram is dropped.
        var loss = 0.0
        /// Probability a datagram is sent twice.
        var duplicate = 0.0
        /// Probability a datagram is held back until the next one of its direction has gone
        /// (or `reorderHold` has passed).
        var reorder = 0.0
        /// Probability a datagram is delayed by `delayTime` (later ones overtake it).
        var delay = 0.0
        /// Probability one byte of a datagram is inverted (the SCTP checksum must catch it).
        var corrupt = 0.0
        var delayTime: Duration = .milliseconds(15)
        var reorderHold: Duration = .milliseconds(10)

        var description: String {
            "loss \(loss), duplicate \(duplicate), reorder \(reorder), delay \(delay) (\(delayTime)), corrupt \(corrupt)"
        }
    }

    /// What the relay did, per direction.
    struct Counters: Sendable, CustomStringConvertible {
        var received = 0
        var dropped = 0
        var duplicated = 0
        var reordered = 0
        var delayed = 0
        var corrupted = 0
        var unroutable = 0
        /// Datagrams written (copies included).
        var sent = 0

        var description: String {
            "received \(received), sent \(sent), dropped \(dropped), duplicated \(duplicated), reordered \(reordered), "
                + "delayed \(delayed), corrupted \(corrupted), unroutable \(unroutable)"
        }
    }

    enum Side: Int { case left = 0, right = 1 }

    let impairments: Impairments
    let eventLoop: any EventLoop
    /// The UDP port our stack sends to.
    private(set) var leftPort = 0
    /// The UDP port the right peer (usrsctp) sends to.
    private(set) var rightPort = 0

    // Confined to `eventLoop`:
    private var channels: [any Channel] = []
    private var peers: [SocketAddress?] = [nil, nil]
    private var fixedPeers: [Bool] = [false, false]
    private var random: [SplitMix64]
    private var held: [ByteBuffer?] = [nil, nil]
    private var heldGeneration = [0, 0]
    private var counters = [Counters(), Counters()]
    private var closed = false

    /// A relay on 127.0.0.1 with two sockets on free ports. `rightPeerUDPPort` / `leftPeerUDPPort`
    /// fix where the peers are (on 127.0.0.1); otherwise they are learned.
    init(seed: UInt64, impairments: Impairments, rightPeerUDPPort: Int? = nil, leftPeerUDPPort: Int? = nil,
         group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.impairments = impairments
        eventLoop = group.next()
        random = [SplitMix64(seed: seed ^ 0x1EF7_1EF7), SplitMix64(seed: seed ^ 0x7216_4700)]
        for (index, port) in [leftPeerUDPPort, rightPeerUDPPort].enumerated() {
            if let port {
                peers[index] = try SocketAddress(ipAddress: "127.0.0.1", port: port)
                fixedPeers[index] = true
            }
        }
        for side in [Side.left, .right] {
            let channel = try DatagramBootstrap(group: eventLoop)
                .channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: SocketOptionValue(4 << 20))
                .channelOption(ChannelOptions.socketOption(.so_sndbuf), value: SocketOptionValue(4 << 20))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RelayHandler(relay: self, side: side))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).wait()
            channels.append(channel)
        }
        leftPort = channels[0].localAddress?.port ?? 0
        rightPort = channels[1].localAddress?.port ?? 0
    }

    /// The counters of both directions: left → right (our packets), right → left (theirs).
    var counts: (toRight: Counters, toLeft: Counters) {
        (try? eventLoop.submit { [self] in (counters[0], counters[1]) }.wait()) ?? (Counters(), Counters())
    }

    func close() {
        _ = try? eventLoop.flatSubmit { [self] () -> EventLoopFuture<Void> in
            closed = true
            return EventLoopFuture.andAllComplete(channels.map { $0.close() }, on: eventLoop)
        }.wait()
    }

    // MARK: On the loop

    fileprivate func received(_ envelope: AddressedEnvelope<ByteBuffer>, on side: Side) {
        guard !closed else { return }
        let from = side.rawValue
        let to = 1 - from
        if !fixedPeers[from] { peers[from] = envelope.remoteAddress }
        counters[from].received += 1
        // Every datagram takes the same draws, in this order, whatever happens to it.
        let lossDraw = random[from].unit()
        let duplicateDraw = random[from].unit()
        let reorderDraw = random[from].unit()
        let delayDraw = random[from].unit()
        let corruptDraw = random[from].unit()
        let position = random[from].next()
        guard lossDraw >= impairments.loss else {
            counters[from].dropped += 1
            return
        }
        var datagram = envelope.data
        if corruptDraw < impairments.corrupt, datagram.readableBytes > 0 {
            let index = datagram.readerIndex + Int(position % UInt64(datagram.readableBytes))
            let byte = datagram.getInteger(at: index, as: UInt8.self) ?? 0
            datagram.setInteger(~byte, at: index)
            counters[from].corrupted += 1
        }
        let first = datagram
        if delayDraw < impairments.delay {
            counters[from].delayed += 1
            eventLoop.scheduleTask(in: .nanoseconds(Int64(impairments.delayTime.seconds * 1e9))) { [self] in
                write(first, to: to, from: from)
            }
        } else if reorderDraw < impairments.reorder && held[from] == nil {
            counters[from].reordered += 1
            held[from] = first
            heldGeneration[from] += 1
            let generation = heldGeneration[from]
            eventLoop.scheduleTask(in: .nanoseconds(Int64(impairments.reorderHold.seconds * 1e9))) { [self] in
                if heldGeneration[from] == generation { releaseHeld(from) }
            }
        } else {
            write(first, to: to, from: from)
            releaseHeld(from)
        }
        if duplicateDraw < impairments.duplicate {
            counters[from].duplicated += 1
            write(envelope.data, to: to, from: from)
        }
    }

    private func releaseHeld(_ from: Int) {
        guard let datagram = held[from] else { return }
        held[from] = nil
        write(datagram, to: 1 - from, from: from)
    }

    /// Writes out of the socket of side `to` towards that side's peer.
    private func write(_ datagram: ByteBuffer, to: Int, from: Int) {
        guard !closed else { return }
        guard let peer = peers[to] else {
            counters[from].unroutable += 1
            return
        }
        counters[from].sent += 1
        channels[to].writeAndFlush(AddressedEnvelope(remoteAddress: peer, data: datagram), promise: nil)
    }
}

private final class RelayHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let relay: LossyRelay
    let side: LossyRelay.Side

    init(relay: LossyRelay, side: LossyRelay.Side) {
        self.relay = relay
        self.side = side
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        relay.received(unwrapInboundIn(data), on: side)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable after a peer has gone: nothing to do.
    }
}
