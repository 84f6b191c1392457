import NIOCore
import NIOPosix

/// A UDP relay between two SCTP-over-UDP peers on loopback that drops, delays, duplicates,
/// reorders, corrupts and marks (ECN CE) datagrams. Each behaviour has a probability; the decisions come from
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
public final class LossyRelay: @unchecked Sendable {
    public struct Impairments: Sendable, CustomStringConvertible {
        /// Probability a datagram is dropped.
        public var loss = 0.0
        /// Probability a datagram is sent twice.
        public var duplicate = 0.0
        /// Probability a datagram is held back until the next one of its direction has gone
        /// (or `reorderHold` has passed).
        public var reorder = 0.0
        /// Probability a datagram is delayed by `delayTime` (later ones overtake it).
        public var delay = 0.0
        /// Probability one byte of a datagram is inverted (the SCTP checksum must catch it).
        public var corrupt = 0.0
        /// Probability a datagram that arrived ECN-capable (ECT(0) or ECT(1)) leaves marked
        /// Congestion Experienced, as a congested router would (RFC 3168). Other datagrams
        /// keep the ECN field they came with.
        public var congestionMark = 0.0
        public var delayTime: Duration = .milliseconds(15)
        public var reorderHold: Duration = .milliseconds(10)
        /// Datagrams larger than this are dropped silently from the start (`nil`: no limit);
        /// `setMaxDatagramSize` changes it while the relay runs.
        public var maxDatagramSize: Int? = nil

        public init(loss: Double = 0, duplicate: Double = 0, reorder: Double = 0, delay: Double = 0, corrupt: Double = 0,
                    congestionMark: Double = 0, delayTime: Duration = .milliseconds(15),
                    reorderHold: Duration = .milliseconds(10)) {
            self.delayTime = delayTime
            self.reorderHold = reorderHold
            self.loss = loss
            self.duplicate = duplicate
            self.reorder = reorder
            self.delay = delay
            self.corrupt = corrupt
            self.congestionMark = congestionMark
        }

        public var description: String {
            "loss \(loss), duplicate \(duplicate), reorder \(reorder), delay \(delay) (\(delayTime)), corrupt \(corrupt), "
                + "congestion mark \(congestionMark)" + (maxDatagramSize.map { ", max datagram \($0)" } ?? "")
        }
    }

    /// What the relay did, per direction.
    public struct Counters: Sendable, CustomStringConvertible {
        public var received = 0
        public var dropped = 0
        public var duplicated = 0
        public var reordered = 0
        public var delayed = 0
        public var corrupted = 0
        public var unroutable = 0
        /// Datagrams that arrived ECN-capable (ECT(0) or ECT(1)).
        public var ecnCapable = 0
        /// Datagrams that arrived marked Congestion Experienced.
        public var congestionExperienced = 0
        /// Datagrams this relay marked Congestion Experienced.
        public var marked = 0
        /// Datagrams written (copies included).
        public var sent = 0
        /// Datagrams dropped for being larger than the relay's maximum datagram size.
        public var tooBig = 0
        /// The largest datagram forwarded.
        public var largestSent = 0

        public var description: String {
            "received \(received), sent \(sent), dropped \(dropped), duplicated \(duplicated), reordered \(reordered), "
                + "delayed \(delayed), corrupted \(corrupted), unroutable \(unroutable), ECN-capable \(ecnCapable), "
                + "arrived CE \(congestionExperienced), marked CE \(marked), too big \(tooBig), largest sent \(largestSent)"
        }
    }

    public enum Side: Int, Sendable { case left = 0, right = 1 }

    public let impairments: Impairments
    public let eventLoop: any EventLoop
    /// The UDP port our stack sends to.
    public private(set) var leftPort = 0
    /// The UDP port the right peer (usrsctp) sends to.
    public private(set) var rightPort = 0

    // Confined to `eventLoop`:
    private var channels: [any Channel] = []
    private var peers: [SocketAddress?] = [nil, nil]
    private var fixedPeers: [Bool] = [false, false]
    private var random: [SplitMix64]
    private var held: [Forwarded?] = [nil, nil]
    private var heldGeneration = [0, 0]
    private var counters = [Counters(), Counters()]
    private var closed = false
    /// Datagrams larger than this are dropped silently (`setMaxDatagramSize`).
    private var maxDatagramSize: Int?

    /// A relay on 127.0.0.1 with two sockets on free ports. `rightPeerUDPPort` / `leftPeerUDPPort`
    /// fix where the peers are (on 127.0.0.1); otherwise they are learned.
    public init(seed: UInt64, impairments: Impairments, rightPeerUDPPort: Int? = nil, leftPeerUDPPort: Int? = nil,
         group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.impairments = impairments
        maxDatagramSize = impairments.maxDatagramSize
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
                .channelOption(ChannelOptions.explicitCongestionNotification, value: true)
                // Whole datagrams up to the largest UDP payload (the default reads 2048 bytes).
                .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
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
    public var counts: (toRight: Counters, toLeft: Counters) {
        (try? eventLoop.submit { [self] in (counters[0], counters[1]) }.wait()) ?? (Counters(), Counters())
    }

    /// Drops datagrams (UDP payloads) larger than `size` from now on, both ways, silently (no
    /// ICMP), as a path with a smaller MTU that is a black hole for larger packets; `nil`: no
    /// limit. Changeable while the relay runs.
    public func setMaxDatagramSize(_ size: Int?) {
        try? eventLoop.submit { [self] in maxDatagramSize = size }.wait()
    }

    public func close() {
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
        // Drawn only when marking is asked for, so that the other draws stay as they were.
        let markDraw = impairments.congestionMark > 0 ? random[from].unit() : 1
        guard lossDraw >= impairments.loss else {
            counters[from].dropped += 1
            return
        }
        if let limit = maxDatagramSize, envelope.data.readableBytes > limit {
            counters[from].tooBig += 1
            return
        }
        var datagram = envelope.data
        var ecn = envelope.metadata?.ecnState ?? .transportNotCapable
        switch ecn {
        case .transportCapableFlag0, .transportCapableFlag1:
            counters[from].ecnCapable += 1
            if markDraw < impairments.congestionMark {
                ecn = .congestionExperienced
                counters[from].marked += 1
            }
        case .congestionExperienced:
            counters[from].congestionExperienced += 1
        case .transportNotCapable:
            break
        }
        if corruptDraw < impairments.corrupt, datagram.readableBytes > 0 {
            let index = datagram.readerIndex + Int(position % UInt64(datagram.readableBytes))
            let byte = datagram.getInteger(at: index, as: UInt8.self) ?? 0
            datagram.setInteger(~byte, at: index)
            counters[from].corrupted += 1
        }
        let first = Forwarded(data: datagram, ecn: ecn)
        if delayDraw < impairments.delay {
            counters[from].delayed += 1
            eventLoop.scheduleTask(in: Self.timeAmount(impairments.delayTime)) { [self] in
                write(first, to: to, from: from)
            }
        } else if reorderDraw < impairments.reorder && held[from] == nil {
            counters[from].reordered += 1
            held[from] = first
            heldGeneration[from] += 1
            let generation = heldGeneration[from]
            eventLoop.scheduleTask(in: Self.timeAmount(impairments.reorderHold)) { [self] in
                if heldGeneration[from] == generation { releaseHeld(from) }
            }
        } else {
            write(first, to: to, from: from)
            releaseHeld(from)
        }
        if duplicateDraw < impairments.duplicate {
            counters[from].duplicated += 1
            write(Forwarded(data: envelope.data, ecn: ecn), to: to, from: from)
        }
    }

    private func releaseHeld(_ from: Int) {
        guard let datagram = held[from] else { return }
        held[from] = nil
        write(datagram, to: 1 - from, from: from)
    }

    private static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    /// A datagram on its way, with the ECN field it leaves with.
    private struct Forwarded {
        var data: ByteBuffer
        var ecn: NIOExplicitCongestionNotificationState
    }

    /// Writes out of the socket of side `to` towards that side's peer.
    private func write(_ datagram: Forwarded, to: Int, from: Int) {
        guard !closed else { return }
        guard let peer = peers[to] else {
            counters[from].unroutable += 1
            return
        }
        counters[from].sent += 1
        counters[from].largestSent = max(counters[from].largestSent, datagram.data.readableBytes)
        let metadata = AddressedEnvelope<ByteBuffer>.Metadata(ecnState: datagram.ecn)
        channels[to].writeAndFlush(AddressedEnvelope(remoteAddress: peer, data: datagram.data, metadata: metadata), promise: nil)
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
