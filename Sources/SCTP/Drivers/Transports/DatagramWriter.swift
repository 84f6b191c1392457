import CSCTPSystem
import Logging
import NIOCore
import SCTPWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The batching writer of a stack's datagram sockets (UDP and raw IP): packets are queued
/// (`write`) and handed to the kernel together (`flush`).
///
/// - **GSO runs.** With segmentation offload, consecutive packets to one destination and
///   port, with one ECN field, that are as large as the first of their run (the last may be
///   shorter and ends it) become one UDP GSO write, gathered from the packets' own buffers
///   (one `iovec` each, no copy): at most 64 segments and 65,000 bytes.
/// - **sendmmsg.** A flush writes each socket's datagrams with `csctp_send_datagrams`
///   (sendmmsg), straight to the descriptor, when the transport made the socket.
/// - **A full socket.** On swift-sctp's own loop, what the kernel cannot take (EAGAIN) waits
///   in the socket's backlog, in order, until the loop reports the socket writable
///   (`drainBacklog`); when the kernel is short of buffers (ENOBUFS) the backlog is tried
///   again after `bufferRetryDelay`, so that the drain never spins. On SwiftNIO's loops the
///   rest goes through the channel, and later datagrams follow it there until the channel
///   has written them all.
///
/// Used on the stack's event loop only.
final class DatagramWriter: @unchecked Sendable {
    /// One datagram, or a run of equal-sized packets for one GSO write (`segmentSize` > 0;
    /// every packet as large as the first, but the last, which may be shorter and ends the run).
    struct Outgoing {
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

    /// At most this many datagrams, and bytes, wait in a socket's backlog; more are dropped
    /// (SCTP retransmits what is lost, and a link that cannot keep up is not given memory
    /// without bound).
    static let maximumBacklog = 1024
    static let maximumBacklogBytes = 4 << 20
    /// At most this many segments per GSO write (the kernel's UDP_MAX_SEGMENTS is 64 or more).
    static let maxSegments = min(System.udpMaxSegments ?? 64, 64)
    /// At most this many bytes per GSO write (a UDP datagram's limit, less headers).
    static let maxBatchBytes = 65_000
    /// How long a socket whose writes failed with ENOBUFS waits before its backlog is tried again.
    static let bufferRetryDelay = TimeAmount.milliseconds(1)

    /// Whether runs of packets may go out as one UDP GSO write.
    let segmentationOffload: Bool
    private let eventLoop: any EventLoop
    /// swift-sctp's own loop, when the stack runs on one (backlogs wait for its EPOLLOUT).
    private let ownLoop: SCTPEventLoop?
    private let logger = Logger(label: "swift-sctp.transport")

    /// Loop-confined state, in one property: release builds skip its exclusivity checks.
    private struct State {
        /// The run of packets being gathered for one GSO write.
        var batch: Outgoing?
        /// Datagrams waiting for the flush, in order.
        var queue: [Outgoing] = []
        /// Sockets written through their channel since the last flush (those need a flush).
        var touched: [ObjectIdentifier: any Channel] = [:]
        /// What `csctp_send_datagrams` is given, reused from flush to flush.
        var datagrams: [csctp_datagram] = []
        var addressSpace = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: 64)
        var addressCapacity = 64
        /// The gathered parts of GSO runs (`iovec`s), reused from flush to flush.
        var parts = UnsafeMutablePointer<iovec>.allocate(capacity: 64)
        var partCapacity = 64
    }

    #if DEBUG
    private var state = State()
    /// GSO writes, direct, channel and deferred writes so far (GRO runs are the readers').
    var counters = SCTPOffloadCounters()
    #else
    @exclusivity(unchecked) private var state = State()
    @exclusivity(unchecked) var counters = SCTPOffloadCounters()
    #endif

    /// Hands datagrams to the kernel: `csctp_send_datagrams` (returns how many it consumed;
    /// sets the errno that stopped it, and how many it dropped). Tests stand in for the
    /// kernel here.
    var sendDatagrams: (CInt, UnsafeBufferPointer<csctp_datagram>, inout CInt, inout CInt) -> Int = { descriptor, list, stopped, dropped in
        Int(csctp_send_datagrams(descriptor, list.baseAddress, CInt(list.count), &stopped, &dropped))
    }

    init(eventLoop: any EventLoop, segmentationOffload: Bool) {
        self.eventLoop = eventLoop
        ownLoop = eventLoop as? SCTPEventLoop
        self.segmentationOffload = segmentationOffload
    }

    deinit {
        state.addressSpace.deallocate()
        state.parts.deallocate()
    }

    /// Queues a datagram on `socket` for `destination` and `port` (sent by `flush`), ECT(0)
    /// when `ecnCapable`; joins the GSO run being gathered where it can.
    func write(_ data: ByteBuffer, on socket: OpenSocket, to destination: IPAddress, port: Int, ecnCapable: Bool) {
        let size = data.readableBytes
        let ecn: UInt8 = ecnCapable ? 0x02 : 0
        if segmentationOffload, var run = state.batch, !run.ended, run.socket === socket, run.destination == destination,
           run.port == port, run.ecn == ecn, size <= run.firstSize, run.count < Self.maxSegments,
           run.totalBytes + size <= Self.maxBatchBytes {
            state.batch = nil  // one owner while the run grows: no copy on write
            if run.more.isEmpty { run.more.reserveCapacity(Self.maxSegments - 1) }
            run.more.append(data)
            run.totalBytes += size
            run.count += 1
            run.ended = size < run.firstSize
            state.batch = run
            return
        }
        if let run = state.batch { state.queue.append(run) }
        state.batch = Outgoing(socket: socket, destination: destination, port: port, ecn: ecn, data: data, firstSize: size,
                               totalBytes: size)
    }

    /// Hands everything queued to the kernel (or to a backlog or channel), socket by socket.
    func flush() {
        if let run = state.batch {
            state.queue.append(run)
            state.batch = nil
        }
        var start = 0
        while start < state.queue.count {
            // A run of datagrams for one socket.
            let socket = state.queue[start].socket
            var end = start + 1
            while end < state.queue.count && state.queue[end].socket === socket { end += 1 }
            send(start..<end, on: socket)
            start = end
        }
        state.queue.removeAll(keepingCapacity: true)
        guard !state.touched.isEmpty else { return }
        for channel in state.touched.values { channel.flush() }
        state.touched.removeAll(keepingCapacity: true)
    }

    /// Drops what is queued and not flushed (the stack is closing).
    func discardQueued() {
        state.queue.removeAll()
        state.batch = nil
    }

    /// Writes `state.queue[range]`, all for `socket`, as its mode says.
    private func send(_ range: Range<Int>, on socket: OpenSocket) {
        for index in range where state.queue[index].count > 1 {
            counters.segmentationWrites += 1
            counters.segmentedPackets += state.queue[index].count
        }
        switch socket.mode {
        case .ownLoop(let descriptor):
            sendOnOwnLoop(range, on: socket, descriptor: descriptor)
        case .channelWithDirectWrites(let channel, let descriptor):
            var next = range.lowerBound
            if socket.writes.channelWrites == 0, channel.isActive {
                let consumed = sendDirectly(state.queue, range, descriptor: descriptor).consumed
                counters.directWrites += consumed
                next += consumed
            }
            counters.channelWrites += range.upperBound - next
            for index in next..<range.upperBound { sendThroughChannel(state.queue[index], on: socket, channel: channel) }
        case .channel(let channel):
            counters.channelWrites += range.count
            for index in range { sendThroughChannel(state.queue[index], on: socket, channel: channel) }
        }
    }

    /// Own event loop: straight to the socket unless a backlog waits; the rest waits.
    private func sendOnOwnLoop(_ range: Range<Int>, on socket: OpenSocket, descriptor: CInt) {
        var next = range.lowerBound
        var stopped: CInt = 0
        if socket.writes.backlog.isEmpty {
            let consumed: Int
            (consumed, stopped) = sendDirectly(state.queue, range, descriptor: descriptor)
            counters.directWrites += consumed
            next += consumed
        }
        guard next < range.upperBound else { return }
        var dropped = 0
        for index in next..<range.upperBound {
            let entry = state.queue[index]
            guard socket.writes.backlog.count < Self.maximumBacklog,
                  socket.writes.backlogBytes + entry.totalBytes <= Self.maximumBacklogBytes else {
                dropped += 1
                continue
            }
            socket.writes.backlog.append(entry)
            socket.writes.backlogBytes += entry.totalBytes
            counters.deferredWrites += 1
        }
        if dropped > 0 {
            logger.debug("socket backlog full: datagrams dropped", metadata: ["count": "\(dropped)"])
        }
        guard let loop = ownLoop else { return }
        if stopped == ENOBUFS {
            retryLater(socket, descriptor: descriptor, loop: loop)
        } else if !socket.writes.retryScheduled {
            loop.setWritable(descriptor, true)
        }
    }

    /// Own event loop: the socket can take more; writes its backlog, as much as it takes.
    func drainBacklog(_ socket: OpenSocket) {
        guard case .ownLoop(let descriptor) = socket.mode, !socket.writes.closed, let loop = ownLoop else { return }
        while !socket.writes.backlog.isEmpty {
            let (consumed, stopped) = sendDirectly(socket.writes.backlog, 0..<min(socket.writes.backlog.count, 64),
                                                   descriptor: descriptor)
            counters.directWrites += consumed
            for entry in socket.writes.backlog[0..<consumed] { socket.writes.backlogBytes -= entry.totalBytes }
            socket.writes.backlog.removeFirst(consumed)
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
        counters.bufferWaits += 1
        guard !socket.writes.retryScheduled else { return }
        socket.writes.retryScheduled = true
        loop.scheduleTask(in: Self.bufferRetryDelay) { [weak self] in
            socket.writes.retryScheduled = false
            guard let self, !socket.writes.closed else { return }
            drainBacklog(socket)
        }
    }

    /// Writes as many of `queue[range]` as the kernel takes now to `descriptor`; returns how
    /// many it consumed (sent, or refused one by one and dropped) and the errno that stopped
    /// it early (EAGAIN or ENOBUFS), 0 when it took them all.
    private func sendDirectly(_ queue: [Outgoing], _ range: Range<Int>, descriptor: CInt) -> (consumed: Int, stopped: CInt) {
        if range.count > state.addressCapacity {
            state.addressSpace.deallocate()
            state.addressCapacity = max(range.count, state.addressCapacity * 2)
            state.addressSpace = .allocate(capacity: state.addressCapacity)
        }
        state.datagrams.removeAll(keepingCapacity: true)
        var partsNeeded = 0
        for index in range where !queue[index].more.isEmpty { partsNeeded += queue[index].count }
        if partsNeeded > state.partCapacity {
            state.parts.deallocate()
            state.partCapacity = max(partsNeeded, state.partCapacity * 2)
            state.parts = .allocate(capacity: state.partCapacity)
        }
        let addressSpace = state.addressSpace, parts = state.parts
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
                state.datagrams.append(csctp_datagram(data: bytes.baseAddress, length: bytes.count, parts: gathered,
                                                      part_count: gathered == nil ? 0 : CInt(entry.count), address: address,
                                                      address_length: length,
                                                      segment_size: UInt16(truncatingIfNeeded: entry.segmentSize),
                                                      ecn: entry.ecn))
            }
        }
        var stopped: CInt = 0
        var dropped: CInt = 0
        let consumed = withExtendedLifetime(queue) {
            state.datagrams.withUnsafeBufferPointer { list in sendDatagrams(descriptor, list, &stopped, &dropped) }
        }
        if dropped > 0 {
            logger.debug("datagrams refused by the kernel and dropped", metadata: ["count": "\(dropped)"])
        }
        return (consumed, stopped)
    }

    /// Hands a datagram to the socket's channel (NIO queues it until the socket is writable).
    private func sendThroughChannel(_ entry: Outgoing, on socket: OpenSocket, channel: any Channel) {
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
        state.touched[ObjectIdentifier(channel)] = channel
        guard case .channelWithDirectWrites = socket.mode else {
            channel.write(AddressedEnvelope(remoteAddress: remote, data: entry.data, metadata: metadata), promise: nil)
            return
        }
        socket.writes.channelWrites += 1
        let promise = eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in socket.writes.channelWrites -= 1 }
        channel.write(AddressedEnvelope(remoteAddress: remote, data: entry.data, metadata: metadata), promise: promise)
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
}
