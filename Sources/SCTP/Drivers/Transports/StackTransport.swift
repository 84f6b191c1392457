import Logging
import NIOCore
import SCTPWire

/// How a stack's packets travel: UDP encapsulation, raw IP, or a user-supplied carrier. A
/// transport opens what a local address needs, writes packets, and hands what arrives to
/// its stack with `SCTPStack.received(_:from:to:)`. Used on the stack's event loop only.
protocol StackTransport: AnyObject {
    /// Makes `address` usable as a local address (binds its socket); idempotent.
    func open(_ address: IPAddress) -> EventLoopFuture<Void>
    /// Whether `address` is open.
    func isOpen(_ address: IPAddress) -> Bool
    /// Queues a packet (flushed by `flush`). `remoteUDPPort` is the socket's setting, for UDP.
    func write(_ packet: ByteBuffer, from source: IPAddress, to destination: IPAddress, remoteUDPPort: Int?)
    func flush()
    func close() -> EventLoopFuture<Void>
    /// How packets look on the wire, for pcap records (`nil`: no UDP header).
    func udpPorts(from source: IPAddress, to destination: IPAddress, sctpDestinationPort: UInt16,
                  remoteUDPPort: Int?) -> (source: UInt16, destination: UInt16)?
}

/// A `ChannelInboundHandler` that feeds datagrams from one socket into a stack.
final class DatagramInboundHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let localAddress: IPAddress
    let onRead: (AddressedEnvelope<ByteBuffer>, IPAddress) -> Void
    let onReadComplete: () -> Void

    init(localAddress: IPAddress, onRead: @escaping (AddressedEnvelope<ByteBuffer>, IPAddress) -> Void,
         onReadComplete: @escaping () -> Void) {
        self.localAddress = localAddress
        self.onRead = onRead
        self.onReadComplete = onReadComplete
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onRead(unwrapInboundIn(data), localAddress)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        onReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors (port unreachable) surface here; SCTP's own timers handle lost peers.
    }
}

/// What UDP and raw IP transports share: one NIO datagram socket per local address, batched
/// writes, and reopening a socket NIO closed on an error. Subclasses make the socket
/// (`makeChannel`) and read what arrives (`received`).
class SocketTransport: @unchecked Sendable {
    unowned let stack: SCTPStack
    var eventLoop: any EventLoop { stack.eventLoop }
    private(set) var channels: [IPAddress: any Channel] = [:]
    private var opening: [IPAddress: EventLoopFuture<Void>] = [:]
    private var touched: [ObjectIdentifier: any Channel] = [:]
    private var closing = false
    private var lastReopenWarning: [IPAddress: NIODeadline] = [:]
    private let logger = Logger(label: "swift-sctp.transport")
    /// Whether runs of packets may go out as one UDP GSO write (set by the UDP transport).
    var segmentationOffload = false
    /// GSO writes and GRO runs so far.
    var offloadCounters = SCTPOffloadCounters()
    /// The run of packets being gathered for one GSO write.
    private var batch: Batch?

    /// Packets to one destination gathered for one write: every one as large as the first
    /// (the segment size), but the last, which may be shorter and ends the run.
    private struct Batch {
        let channel: any Channel
        let remote: SocketAddress
        let destination: IPAddress
        let port: Int
        var data: ByteBuffer
        let segmentSize: Int
        var count = 1
        var ended = false
    }

    /// At most this many segments per GSO write (the kernel's UDP_MAX_SEGMENTS is 64 or more).
    private static let maxSegments = min(System.udpMaxSegments ?? 64, 64)
    /// At most this many bytes per GSO write (a UDP datagram's limit, less headers).
    private static let maxBatchBytes = 65_000

    init(stack: SCTPStack) {
        self.stack = stack
    }

    /// A bound socket for `address` whose pipeline holds `handler`.
    func makeChannel(for address: IPAddress, handler: DatagramInboundHandler) -> EventLoopFuture<any Channel> {
        preconditionFailure("a subclass makes its sockets")
    }

    /// A socket for `address` is open.
    func didOpen(_ channel: any Channel, address: IPAddress) {}

    /// A datagram arrived on the socket of `local`.
    func received(_ envelope: AddressedEnvelope<ByteBuffer>, at local: IPAddress) {}

    func isOpen(_ address: IPAddress) -> Bool { channels[address] != nil }

    func open(_ address: IPAddress) -> EventLoopFuture<Void> {
        if channels[address] != nil { return eventLoop.makeSucceededVoidFuture() }
        if let pending = opening[address] { return pending }
        let stack = stack
        let handler = DatagramInboundHandler(localAddress: address,
                                             onRead: { [unowned self] envelope, local in received(envelope, at: local) },
                                             onReadComplete: { stack.readComplete() })
        let future = makeChannel(for: address, handler: handler).map { (channel: any Channel) in
            self.channels[address] = channel
            self.didOpen(channel, address: address)
            self.reopenWhenClosed(channel, address: address)
        }
        opening[address] = future
        future.whenComplete { _ in self.opening[address] = nil }
        return future
    }

    /// Queues a datagram on the socket of `source` (flushed by `flush`). With segmentation
    /// offload, consecutive packets to the same `destination` and `port` that are as large
    /// as the first of their run are gathered into one GSO write.
    func write(_ data: ByteBuffer, from source: IPAddress, to remote: SocketAddress, destination: IPAddress? = nil, port: Int = 0) {
        guard let channel = channels[source] else { return }
        touched[ObjectIdentifier(channel)] = channel
        guard segmentationOffload, let destination else {
            channel.write(AddressedEnvelope(remoteAddress: remote, data: data), promise: nil)
            return
        }
        let size = data.readableBytes
        if var run = batch, !run.ended, run.channel === channel, run.destination == destination, run.port == port,
           size <= run.segmentSize, run.count < Self.maxSegments, run.data.readableBytes + size <= Self.maxBatchBytes {
            batch = nil  // one owner while the run grows: no copy on write
            if run.count == 1 {
                var first = run.data
                run.data = ByteBufferAllocator().buffer(capacity: min(run.segmentSize * Self.maxSegments, Self.maxBatchBytes))
                run.data.writeBuffer(&first)
            }
            var packet = data
            run.data.writeBuffer(&packet)
            run.count += 1
            run.ended = size < run.segmentSize
            batch = run
            return
        }
        writeBatch()
        batch = Batch(channel: channel, remote: remote, destination: destination, port: port, data: data, segmentSize: size)
    }

    /// Writes the gathered run: one GSO write, or a plain one for a single packet.
    private func writeBatch() {
        guard let run = batch else { return }
        batch = nil
        let metadata = run.count > 1
            ? AddressedEnvelope<ByteBuffer>.Metadata(ecnState: .transportNotCapable, packetInfo: nil, segmentSize: run.segmentSize)
            : nil
        if run.count > 1 {
            offloadCounters.segmentationWrites += 1
            offloadCounters.segmentedPackets += run.count
        }
        run.channel.write(AddressedEnvelope(remoteAddress: run.remote, data: run.data, metadata: metadata), promise: nil)
    }

    func flush() {
        writeBatch()
        guard !touched.isEmpty else { return }
        for channel in touched.values { channel.flush() }
        touched.removeAll(keepingCapacity: true)
    }

    /// NIO closes a datagram socket on errors such as ENETUNREACH (a path whose link went
    /// down); the address must stay usable for every association, so it is opened again.
    private func reopenWhenClosed(_ channel: any Channel, address: IPAddress) {
        channel.closeFuture.whenComplete { [self] _ in
            guard !closing, channels[address] === channel else { return }
            channels[address] = nil
            reopen(address, attempt: 0)
        }
    }

    private func reopen(_ address: IPAddress, attempt: Int) {
        guard !closing, channels[address] == nil else { return }
        // A link that is down fails every packet sent over it (each closing the socket):
        // warn once a minute per address, the rest at debug level.
        let now = NIODeadline.now()
        if let last = lastReopenWarning[address], now - last < .seconds(60) {
            logger.debug("socket on \(address) closed by an error; opening it again", metadata: ["attempt": "\(attempt)"])
        } else {
            lastReopenWarning[address] = now
            logger.warning("socket on \(address) closed by an error (such as ENETUNREACH: a link is down); opening it again",
                           metadata: ["attempt": "\(attempt)"])
        }
        open(address).whenFailure { [self] _ in
            // Retried with a growing delay, at most every 5 s, until the stack closes.
            let delay = TimeAmount.milliseconds(Int64(min(100 << min(attempt, 6), 5000)))
            eventLoop.scheduleTask(in: delay) { [self] in reopen(address, attempt: attempt + 1) }
        }
    }

    func close() -> EventLoopFuture<Void> {
        closing = true
        let futures = channels.values.map { $0.close() }
        channels.removeAll()
        return EventLoopFuture.andAllComplete(futures, on: eventLoop)
    }
}

/// What UDP segmentation and receive offload did for a stack (`SCTPStack.offloadCounters()`).
public struct SCTPOffloadCounters: Hashable, Sendable {
    /// UDP GSO writes (each carrying two packets or more).
    public var segmentationWrites = 0
    /// Packets sent in those writes.
    public var segmentedPackets = 0
    /// Reads that returned a GRO run (two packets or more).
    public var receiveOffloadRuns = 0
    /// Packets that came in those runs.
    public var receiveOffloadPackets = 0

    public init() {}
}
