import CSCTPSystem
import Logging
import NIOCore
import SCTPWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a stack's packets travel: UDP encapsulation, raw IP, or a user-supplied carrier. A
/// transport opens what a local address needs, writes packets, and hands what arrives to
/// its stack with `SCTPStack.received(_:from:to:)`. Used on the stack's event loop only.
protocol StackTransport: AnyObject {
    /// Makes `address` usable as a local address (binds its socket); idempotent.
    func open(_ address: IPAddress) -> EventLoopFuture<Void>
    /// Whether `address` is open.
    func isOpen(_ address: IPAddress) -> Bool
    /// Queues a packet (flushed by `flush`). `remoteUDPPort` is the socket's setting, for UDP;
    /// `ecnCapable` marks it ECT(0) where the transport can (UDP and raw IP sockets).
    func write(_ packet: ByteBuffer, from source: IPAddress, to destination: IPAddress, remoteUDPPort: Int?, ecnCapable: Bool)
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
///
/// Writes: a subclass that made the socket itself (`OpenSocket.descriptor`) has its
/// datagrams written straight to the descriptor at `flush`, with sendmmsg and UDP GSO, not
/// through the channel's pipeline (which costs an envelope, a socket address object and a
/// pipeline walk per datagram). When the kernel cannot take more (EAGAIN, ENOBUFS), the rest
/// go through the channel, which waits for the socket to become writable; later datagrams
/// of that socket follow them there until the channel has written them all, so that
/// nothing is reordered.
///
/// On swift-sctp's own event loop (`SCTPEventLoop`) there is no channel: a subclass makes
/// the socket (`makeOwnSocket`), the loop says when it is readable and the subclass reads it
/// (`readable`); datagrams the kernel cannot take yet wait in the socket's backlog, in order,
/// until the loop says it is writable again.
class SocketTransport: @unchecked Sendable {
    unowned let stack: SCTPStack
    var eventLoop: any EventLoop { stack.eventLoop }
    #if DEBUG
    private(set) var channels: [IPAddress: OpenSocket] = [:] {
        didSet { lastSocket = nil }
    }
    #else
    @exclusivity(unchecked) private(set) var channels: [IPAddress: OpenSocket] = [:] {
        didSet { lastSocket = nil }
    }
    #endif
    /// The socket `socket(of:)` found last, and its address: most packets leave from the
    /// same address, and hashing an `IPAddress` costs more than comparing one.
    #if DEBUG
    private var lastSocket: (address: IPAddress, socket: OpenSocket)?
    #else
    @exclusivity(unchecked) private var lastSocket: (address: IPAddress, socket: OpenSocket)?
    #endif
    private var opening: [IPAddress: EventLoopFuture<Void>] = [:]
    private var closing = false
    private var lastReopenWarning: [IPAddress: NIODeadline] = [:]
    let logger = Logger(label: "swift-sctp.transport")
    /// Whether runs of packets may go out as one UDP GSO write (set by the UDP transport).
    var segmentationOffload = false
    /// GSO writes and GRO runs so far.
    #if DEBUG
    var offloadCounters = SCTPOffloadCounters()
    #else
    @exclusivity(unchecked) var offloadCounters = SCTPOffloadCounters()
    #endif
    /// The run of packets being gathered for one GSO write.
    #if DEBUG
    private var batch: Outgoing?
    #else
    @exclusivity(unchecked) private var batch: Outgoing?
    #endif
    /// Datagrams waiting for the flush, in order.
    #if DEBUG
    private var queue: [Outgoing] = []
    #else
    @exclusivity(unchecked) private var queue: [Outgoing] = []
    #endif
    /// Sockets written through their channel since the last flush (those need a flush).
    #if DEBUG
    private var touched: [ObjectIdentifier: any Channel] = [:]
    #else
    @exclusivity(unchecked) private var touched: [ObjectIdentifier: any Channel] = [:]
    #endif
    /// What `csctp_send_datagrams` is given, reused from flush to flush.
    #if DEBUG
    private var datagrams: [csctp_datagram] = []
    #else
    @exclusivity(unchecked) private var datagrams: [csctp_datagram] = []
    #endif
    #if DEBUG
    private var addressSpace = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: 64)
    #else
    @exclusivity(unchecked) private var addressSpace = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: 64)
    #endif
    #if DEBUG
    private var addressCapacity = 64
    #else
    @exclusivity(unchecked) private var addressCapacity = 64
    #endif
    /// The gathered parts of GSO runs (`iovec`s), reused from flush to flush.
    #if DEBUG
    private var parts = UnsafeMutablePointer<iovec>.allocate(capacity: 64)
    #else
    @exclusivity(unchecked) private var parts = UnsafeMutablePointer<iovec>.allocate(capacity: 64)
    #endif
    #if DEBUG
    private var partCapacity = 64
    #else
    @exclusivity(unchecked) private var partCapacity = 64
    #endif

    /// A socket of one local address; used on the event loop only.
    final class OpenSocket: @unchecked Sendable {
        /// The SwiftNIO channel; `nil` on swift-sctp's own event loop.
        let channel: (any Channel)?
        /// The descriptor, when the transport made the socket and writes to it itself.
        let descriptor: CInt?
        /// Datagrams handed to the channel and not yet written by it: while there are any,
        /// new ones go the same way.
        #if DEBUG
        var channelWrites = 0
        #else
        @exclusivity(unchecked) var channelWrites = 0
        #endif
        /// Own event loop: datagrams waiting for the socket to take more, in order, and their bytes.
        #if DEBUG
        fileprivate var backlog: [Outgoing] = []
        #else
        @exclusivity(unchecked) fileprivate var backlog: [Outgoing] = []
        #endif
        #if DEBUG
        fileprivate var backlogBytes = 0
        #else
        @exclusivity(unchecked) fileprivate var backlogBytes = 0
        #endif
        /// Own event loop: a retry of the backlog is scheduled (the kernel was out of buffers).
        fileprivate var retryScheduled = false
        /// Own event loop: the socket was closed; its descriptor number may belong to another.
        fileprivate var closed = false

        init(channel: (any Channel)?, descriptor: CInt?) {
            self.channel = channel
            self.descriptor = descriptor
        }
    }

    /// At most this many datagrams, and bytes, wait in a socket's backlog; more are dropped
    /// (SCTP retransmits what is lost, and a link that cannot keep up is not given memory
    /// without bound).
    static let maximumBacklog = 1024
    static let maximumBacklogBytes = 4 << 20

    /// One datagram, or a run of equal-sized packets for one GSO write (`segmentSize` > 0;
    /// every packet as large as the first, but the last, which may be shorter and ends the run).
    fileprivate struct Outgoing {
        let socket: OpenSocket
        let destination: IPAddress
        let port: Int
        /// The IP header's ECN field: 0, or 2 for ECT(0).
        let ecn: UInt8
        /// The first packet (the only one of a single datagram).
        var data: ByteBuffer
        /// The packets after the first of a GSO run, written gathered (no copy).
        var more: [ByteBuffer] = []
        let firstSize: Int
        var count = 1
        var totalBytes: Int
        var ended = false

        /// The GSO segment size, 0 for a single packet.
        var segmentSize: Int { count > 1 ? firstSize : 0 }
    }

    /// At most this many segments per GSO write (the kernel's UDP_MAX_SEGMENTS is 64 or more).
    private static let maxSegments = min(System.udpMaxSegments ?? 64, 64)
    /// At most this many bytes per GSO write (a UDP datagram's limit, less headers).
    private static let maxBatchBytes = 65_000

    init(stack: SCTPStack) {
        self.stack = stack
    }

    /// Hands datagrams to the kernel: `csctp_send_datagrams` (returns how many it consumed;
    /// sets the errno that stopped it, and how many it dropped). Tests stand in for the
    /// kernel here, to refuse writes as a kernel short of buffers does.
    var sendDatagrams: (CInt, UnsafeBufferPointer<csctp_datagram>, inout CInt, inout CInt) -> Int = { descriptor, list, stopped, dropped in
        Int(csctp_send_datagrams(descriptor, list.baseAddress, CInt(list.count), &stopped, &dropped))
    }

    /// How long a socket whose writes failed with ENOBUFS waits before its backlog is tried again.
    static let bufferRetryDelay = TimeAmount.milliseconds(1)

    deinit {
        addressSpace.deallocate()
        parts.deallocate()
    }

    /// A bound socket for `address` whose pipeline holds `handler`, and its descriptor if
    /// the transport may write to it directly.
    func makeChannel(for address: IPAddress, handler: DatagramInboundHandler) -> EventLoopFuture<(any Channel, CInt?)> {
        preconditionFailure("a subclass makes its sockets")
    }

    /// Own event loop: a bound, non-blocking socket for `address`, ready to be read.
    func makeOwnSocket(for address: IPAddress) throws -> CInt {
        throw SCTPError(.notSupported, "this transport's sockets run on SwiftNIO's loops only: give its stack a SwiftNIO group")
    }

    /// Own event loop: `descriptor`, the socket of `local`, is readable.
    func readable(_ descriptor: CInt, at local: IPAddress) {}

    /// A socket for `address` is open.
    func didOpen(_ channel: any Channel, address: IPAddress) {}

    /// Own event loop: the socket `descriptor` for `address` is open.
    func didOpen(descriptor: CInt, address: IPAddress) {}

    /// A datagram arrived on the socket of `local`.
    func received(_ envelope: AddressedEnvelope<ByteBuffer>, at local: IPAddress) {}

    func isOpen(_ address: IPAddress) -> Bool { socket(of: address) != nil }

    /// The socket of a local address, if it is open.
    private func socket(of address: IPAddress) -> OpenSocket? {
        if let last = lastSocket, last.address == address { return last.socket }
        guard let socket = channels[address] else { return nil }
        lastSocket = (address, socket)
        return socket
    }

    func open(_ address: IPAddress) -> EventLoopFuture<Void> {
        if channels[address] != nil { return eventLoop.makeSucceededVoidFuture() }
        if let pending = opening[address] { return pending }
        if let loop = stack.ownLoop { return openOwn(address, on: loop) }
        let stack = stack
        let handler = DatagramInboundHandler(localAddress: address,
                                             onRead: { [unowned self] envelope, local in received(envelope, at: local) },
                                             onReadComplete: { stack.readComplete() })
        let future = makeChannel(for: address, handler: handler).map { (channel: any Channel, descriptor: CInt?) in
            self.channels[address] = OpenSocket(channel: channel, descriptor: descriptor)
            self.didOpen(channel, address: address)
            self.reopenWhenClosed(channel, address: address)
        }
        opening[address] = future
        future.whenComplete { _ in self.opening[address] = nil }
        return future
    }

    /// Opens the socket of `address` on swift-sctp's own loop.
    private func openOwn(_ address: IPAddress, on loop: SCTPEventLoop) -> EventLoopFuture<Void> {
        let descriptor: CInt
        do {
            descriptor = try makeOwnSocket(for: address)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let socket = OpenSocket(channel: nil, descriptor: descriptor)
        do {
            // A stack released without `close()` leaves its sockets registered: the first
            // event then closes the socket instead of reaching a transport that is gone.
            try loop.register(descriptor, onReadable: { [weak self] in
                guard let self else { return Self.abandon(descriptor, on: loop) }
                readable(descriptor, at: address)
            }, onWritable: { [weak self] in
                guard let self else { return Self.abandon(descriptor, on: loop) }
                drainBacklog(socket, loop: loop)
            })
        } catch {
            Self.closeDescriptor(descriptor)
            return eventLoop.makeFailedFuture(error)
        }
        channels[address] = socket
        didOpen(descriptor: descriptor, address: address)
        return eventLoop.makeSucceededVoidFuture()
    }

    /// Own event loop: stops watching and closes the socket of a transport that is gone.
    private static func abandon(_ descriptor: CInt, on loop: SCTPEventLoop) {
        loop.deregister(descriptor)
        closeDescriptor(descriptor)
    }

    /// Own event loop: the socket can take more; writes its backlog, as much as it takes.
    private func drainBacklog(_ socket: OpenSocket, loop: SCTPEventLoop) {
        guard let descriptor = socket.descriptor, !socket.closed else { return }
        while !socket.backlog.isEmpty {
            let (consumed, stopped) = sendDirectly(socket.backlog, 0..<min(socket.backlog.count, 64), descriptor: descriptor)
            offloadCounters.directWrites += consumed
            for entry in socket.backlog[0..<consumed] { socket.backlogBytes -= entry.totalBytes }
            socket.backlog.removeFirst(consumed)
            if stopped == ENOBUFS {
                retryLater(socket, descriptor: descriptor, loop: loop)
                return
            }
            if stopped != 0 { return }  // EAGAIN: EPOLLOUT comes back when there is room
        }
        loop.setWritable(descriptor, false)
    }

    /// Own event loop, ENOBUFS: the kernel is short of buffers, not the socket of room, so
    /// EPOLLOUT would report it writable at once and the drain would spin. The backlog is
    /// tried again after `bufferRetryDelay` instead.
    private func retryLater(_ socket: OpenSocket, descriptor: CInt, loop: SCTPEventLoop) {
        loop.setWritable(descriptor, false)
        offloadCounters.bufferWaits += 1
        guard !socket.retryScheduled else { return }
        socket.retryScheduled = true
        loop.scheduleTask(in: Self.bufferRetryDelay) { [weak self] in
            socket.retryScheduled = false
            guard let self, !socket.closed else { return }
            drainBacklog(socket, loop: loop)
        }
    }

    /// Queues a datagram on the socket of `source` for `destination` and `port` (flushed by
    /// `flush`), ECT(0) when `ecnCapable`. With segmentation offload, consecutive packets to
    /// the same destination and port with the same ECN field that are as large as the first
    /// of their run are gathered into one GSO write.
    func write(_ data: ByteBuffer, from source: IPAddress, to destination: IPAddress, port: Int, ecnCapable: Bool = false) {
        guard let socket = socket(of: source) else { return }
        let size = data.readableBytes
        let ecn: UInt8 = ecnCapable ? 0x02 : 0
        if segmentationOffload, var run = batch, !run.ended, run.socket === socket, run.destination == destination,
           run.port == port, run.ecn == ecn, size <= run.firstSize, run.count < Self.maxSegments,
           run.totalBytes + size <= Self.maxBatchBytes {
            batch = nil  // one owner while the run grows: no copy on write
            if run.more.isEmpty { run.more.reserveCapacity(Self.maxSegments - 1) }
            run.more.append(data)
            run.totalBytes += size
            run.count += 1
            run.ended = size < run.firstSize
            batch = run
            return
        }
        if let run = batch { queue.append(run) }
        batch = Outgoing(socket: socket, destination: destination, port: port, ecn: ecn, data: data, firstSize: size,
                         totalBytes: size)
    }

    func flush() {
        if let run = batch {
            queue.append(run)
            batch = nil
        }
        var start = 0
        while start < queue.count {
            // A run of datagrams for one socket.
            let socket = queue[start].socket
            var end = start + 1
            while end < queue.count && queue[end].socket === socket { end += 1 }
            send(start..<end, on: socket)
            start = end
        }
        queue.removeAll(keepingCapacity: true)
        guard !touched.isEmpty else { return }
        for channel in touched.values { channel.flush() }
        touched.removeAll(keepingCapacity: true)
    }

    /// Writes `queue[range]`, all for `socket`: to its descriptor while the kernel takes them
    /// and the channel has nothing pending, the rest through the channel.
    private func send(_ range: Range<Int>, on socket: OpenSocket) {
        for index in range where queue[index].count > 1 {
            offloadCounters.segmentationWrites += 1
            offloadCounters.segmentedPackets += queue[index].count
        }
        var next = range.lowerBound
        guard let channel = socket.channel else {
            // Own event loop: straight to the socket unless a backlog waits; the rest waits.
            guard let descriptor = socket.descriptor else { return }
            var stopped: CInt = 0
            if socket.backlog.isEmpty {
                let consumed: Int
                (consumed, stopped) = sendDirectly(queue, range, descriptor: descriptor)
                offloadCounters.directWrites += consumed
                next += consumed
            }
            guard next < range.upperBound else { return }
            var dropped = 0
            for index in next..<range.upperBound {
                let entry = queue[index]
                guard socket.backlog.count < Self.maximumBacklog,
                      socket.backlogBytes + entry.totalBytes <= Self.maximumBacklogBytes else {
                    dropped += 1
                    continue
                }
                socket.backlog.append(entry)
                socket.backlogBytes += entry.totalBytes
                offloadCounters.deferredWrites += 1
            }
            if dropped > 0 {
                logger.debug("socket backlog full: datagrams dropped", metadata: ["count": "\(dropped)"])
            }
            guard let loop = stack.ownLoop else { return }
            if stopped == ENOBUFS {
                retryLater(socket, descriptor: descriptor, loop: loop)
            } else if !socket.retryScheduled {
                loop.setWritable(descriptor, true)
            }
            return
        }
        if let descriptor = socket.descriptor, socket.channelWrites == 0, channel.isActive {
            let consumed = sendDirectly(queue, range, descriptor: descriptor).consumed
            offloadCounters.directWrites += consumed
            next += consumed
        }
        offloadCounters.channelWrites += range.upperBound - next
        for index in next..<range.upperBound { sendThroughChannel(queue[index], on: socket) }
    }

    /// Writes as many of `queue[range]` as the kernel takes now to `descriptor`; returns how
    /// many it consumed (sent, or refused one by one and dropped) and the errno that stopped
    /// it early (EAGAIN or ENOBUFS), 0 when it took them all.
    private func sendDirectly(_ queue: [Outgoing], _ range: Range<Int>, descriptor: CInt) -> (consumed: Int, stopped: CInt) {
        if range.count > addressCapacity {
            addressSpace.deallocate()
            addressCapacity = max(range.count, addressCapacity * 2)
            addressSpace = .allocate(capacity: addressCapacity)
        }
        datagrams.removeAll(keepingCapacity: true)
        var partsNeeded = 0
        for index in range where !queue[index].more.isEmpty { partsNeeded += queue[index].count }
        if partsNeeded > partCapacity {
            parts.deallocate()
            partCapacity = max(partsNeeded, partCapacity * 2)
            parts = .allocate(capacity: partCapacity)
        }
        var partsUsed = 0
        for (slot, index) in range.enumerated() {
            let entry = queue[index]
            let length = Self.fill(addressSpace + slot, with: entry.destination, port: entry.port)
            // The pointers stay valid after the closures: `queue` holds the buffers, unchanged,
            // until the system call below is done.
            let bytes = entry.data.withUnsafeReadableBytes { $0 }
            var gathered: UnsafeMutablePointer<iovec>?
            if !entry.more.isEmpty {
                gathered = parts + partsUsed
                parts[partsUsed] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
                partsUsed += 1
                for packet in entry.more {
                    let more = packet.withUnsafeReadableBytes { $0 }
                    parts[partsUsed] = iovec(iov_base: UnsafeMutableRawPointer(mutating: more.baseAddress), iov_len: more.count)
                    partsUsed += 1
                }
            }
            addressSpace.advanced(by: slot).withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                datagrams.append(csctp_datagram(data: bytes.baseAddress, length: bytes.count, parts: gathered,
                                                part_count: gathered == nil ? 0 : CInt(entry.count), address: address,
                                                address_length: length, segment_size: UInt16(truncatingIfNeeded: entry.segmentSize),
                                                ecn: entry.ecn))
            }
        }
        var stopped: CInt = 0
        var dropped: CInt = 0
        let consumed = withExtendedLifetime(queue) {
            datagrams.withUnsafeBufferPointer { list in sendDatagrams(descriptor, list, &stopped, &dropped) }
        }
        if dropped > 0 {
            logger.debug("datagrams refused by the kernel and dropped", metadata: ["count": "\(dropped)"])
        }
        return (consumed, stopped)
    }

    /// Hands a datagram to the socket's channel (NIO queues it until the socket is writable).
    private func sendThroughChannel(_ entry: Outgoing, on socket: OpenSocket) {
        guard let remote = try? entry.destination.destinationAddress(port: entry.port) else { return }
        var entry = entry
        if !entry.more.isEmpty {
            // The channel writes one buffer: the run's packets are joined (the rare path).
            var joined = ByteBufferAllocator().buffer(capacity: entry.totalBytes)
            joined.writeImmutableBuffer(entry.data)
            for packet in entry.more { joined.writeImmutableBuffer(packet) }
            entry.data = joined
            entry.more = []
        }
        let ecnState: NIOExplicitCongestionNotificationState = entry.ecn == 0 ? .transportNotCapable : .transportCapableFlag0
        let metadata = entry.count > 1 || entry.ecn != 0
            ? AddressedEnvelope<ByteBuffer>.Metadata(ecnState: ecnState, packetInfo: nil,
                                                     segmentSize: entry.count > 1 ? entry.segmentSize : nil)
            : nil
        guard let channel = socket.channel else { return }
        touched[ObjectIdentifier(channel)] = channel
        guard socket.descriptor != nil else {
            channel.write(AddressedEnvelope(remoteAddress: remote, data: entry.data, metadata: metadata), promise: nil)
            return
        }
        socket.channelWrites += 1
        let promise = eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in socket.channelWrites -= 1 }
        channel.write(AddressedEnvelope(remoteAddress: remote, data: entry.data, metadata: metadata), promise: promise)
    }

    static func closeDescriptor(_ descriptor: CInt) {
        #if canImport(Glibc)
        _ = Glibc.close(descriptor)
        #else
        _ = Darwin.close(descriptor)
        #endif
    }

    /// Writes a sockaddr_in or sockaddr_in6 for `address` and `port`; returns its length.
    private static func fill(_ storage: UnsafeMutablePointer<sockaddr_storage>, with address: IPAddress, port: Int) -> socklen_t {
        let port = UInt16(truncatingIfNeeded: port)
        switch address {
        case .v4(let v4):
            return storage.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                pointer.pointee = sockaddr_in()
                pointer.pointee.sin_family = sa_family_t(AF_INET)
                pointer.pointee.sin_port = port.bigEndian
                pointer.pointee.sin_addr.s_addr = v4.rawValue.bigEndian
                return socklen_t(MemoryLayout<sockaddr_in>.size)
            }
        case .v6(let v6):
            return storage.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                pointer.pointee = sockaddr_in6()
                pointer.pointee.sin6_family = sa_family_t(AF_INET6)
                pointer.pointee.sin6_port = port.bigEndian
                withUnsafeMutableBytes(of: &pointer.pointee.sin6_addr) { raw in
                    raw.storeBytes(of: v6.high.bigEndian, toByteOffset: 0, as: UInt64.self)
                    raw.storeBytes(of: v6.low.bigEndian, toByteOffset: 8, as: UInt64.self)
                }
                return socklen_t(MemoryLayout<sockaddr_in6>.size)
            }
        }
    }

    /// NIO closes a datagram socket on errors such as ENETUNREACH (a path whose link went
    /// down); the address must stay usable for every association, so it is opened again.
    private func reopenWhenClosed(_ channel: any Channel, address: IPAddress) {
        channel.closeFuture.whenComplete { [self] _ in
            guard !closing, let current = channels[address]?.channel, current === channel else { return }
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
        // What is written so far (the ABORTs of a closing stack) leaves first.
        flush()
        closing = true
        let futures = channels.values.compactMap { $0.channel?.close() }
        let loop = stack.ownLoop
        for socket in channels.values where socket.channel == nil {
            socket.closed = true
            socket.backlog.removeAll()
            socket.backlogBytes = 0
            guard let descriptor = socket.descriptor else { continue }
            loop?.deregister(descriptor)
            Self.closeDescriptor(descriptor)
        }
        channels.removeAll()
        queue.removeAll()
        batch = nil
        return EventLoopFuture.andAllComplete(futures, on: eventLoop)
    }
}

/// What UDP segmentation and receive offload did for a stack, and how its writes went
/// (`SCTPStack.offloadCounters()`).
public struct SCTPOffloadCounters: Hashable, Sendable {
    /// UDP GSO writes (each carrying two packets or more).
    public var segmentationWrites = 0
    /// Packets sent in those writes.
    public var segmentedPackets = 0
    /// Reads that returned a GRO run (two packets or more).
    public var receiveOffloadRuns = 0
    /// Packets that came in those runs.
    public var receiveOffloadPackets = 0
    /// Writes (a datagram or a GSO run) made straight to a socket (`SCTPStack.Options.directWrites`).
    public var directWrites = 0
    /// Writes handed to SwiftNIO's channel (direct writes off, raw IP, or a full socket).
    public var channelWrites = 0
    /// Writes that waited for a full socket to take more (on `SCTPEventLoop`; once written,
    /// they count as direct writes too).
    public var deferredWrites = 0
    /// Times the kernel refused writes for want of buffers (ENOBUFS) and a socket's backlog
    /// waited `bufferRetryDelay` before it was tried again (on `SCTPEventLoop`).
    public var bufferWaits = 0

    public init() {}
}
