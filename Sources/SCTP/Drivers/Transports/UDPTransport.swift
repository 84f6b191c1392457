import CSCTPSystem
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SCTPCore
import SCTPWire

/// SCTP over UDP (RFC 6951): one UDP socket per local address, all on one UDP port.
///
/// The peer's UDP port is learned per peer address and SCTP port from what arrives
/// (RFC 6951 §5.4); until then the socket's `SCTP_REMOTE_UDP_ENCAPS_PORT` or the stack's
/// `peerUDPPort` is used (0: the stack's own port).
/// On SwiftNIO's loops a channel reads each socket (`ChannelSocketMaker`) and the writer
/// writes to its descriptor directly; on swift-sctp's own loop the transport reads them
/// itself (`OwnLoopSocketMaker`: one `recvmmsg` per readiness).
final class UDPTransport: DatagramTransport, ChannelSocketMaker, OwnLoopSocketMaker, @unchecked Sendable {
    unowned let stack: SCTPStack
    let options: SCTPStack.Options
    /// The sockets, one per local address, and the writer.
    let sockets: DatagramSocketTable
    private var eventLoop: any EventLoop { stack.eventLoop }
    private let logger = Logger(label: "swift-sctp.transport")
    /// The UDP port bound, readable from any thread.
    let boundPort: NIOLockedValueBox<Int?>
    // One entry per peer address: IPv4 keys packed, ports in 32 bits (12 bytes a slot where
    // an `IPAddress` key and an `Int` took 32; memory per idle association, issue 19).
    #if DEBUG
    private var learnedUDPPorts = TransportAddressMap()
    #else
    @exclusivity(unchecked) private var learnedUDPPorts = TransportAddressMap()
    #endif
    /// The last port learned: runs of packets from one peer skip the dictionary.
    #if DEBUG
    private var lastLearned: (key: PeerKey, udpPort: Int)?
    #else
    @exclusivity(unchecked) private var lastLearned: (key: PeerKey, udpPort: Int)?
    #endif
    /// How many peers' UDP ports are remembered. At most `options.maximumLearnedPorts`
    /// (spoofed sources must not grow the table without bound): when full, the table starts
    /// again, and live peers are learned anew from their next packet.
    var learnedPortCount: Int { learnedUDPPorts.count }
    /// The receive buffer the kernel gave the first socket (`SO_RCVBUF` as read back: the
    /// value asked for, doubled, capped by net.core.rmem_max).
    private(set) var socketReceiveBuffer: Int?

    /// GRO runs read so far, and the packets in them.
    #if DEBUG
    private var receiveOffload = (runs: 0, packets: 0)
    #else
    @exclusivity(unchecked) private var receiveOffload = (runs: 0, packets: 0)
    #endif

    private struct PeerKey: Hashable {
        var address: IPAddress
        var sctpPort: UInt16
    }

    init(stack: SCTPStack, options: SCTPStack.Options, boundPort: NIOLockedValueBox<Int?>) {
        self.stack = stack
        self.options = options
        self.boundPort = boundPort
        sockets = DatagramSocketTable(eventLoop: stack.eventLoop,
                                      segmentationOffload: options.segmentationOffload && System.supportsUDPSegmentationOffload)
    }

    /// Whether the sockets ask for coalesced reads (UDP GRO).
    private var receivesOffloaded: Bool { options.receiveOffload && System.supportsUDPReceiveOffload }

    // MARK: DatagramTransport

    func open(_ address: IPAddress) -> EventLoopFuture<Void> {
        if let loop = stack.ownLoop { return sockets.open(address, with: self, on: loop) }
        return sockets.open(address, with: self, readComplete: { [unowned stack] in stack.readComplete() })
    }

    func isOpen(_ address: IPAddress) -> Bool { sockets.isOpen(address) }
    func flush() { sockets.writer.flush() }
    func close() -> EventLoopFuture<Void> { sockets.close() }

    var offloadCounters: SCTPOffloadCounters {
        var counters = sockets.writer.counters
        counters.receiveOffloadRuns = receiveOffload.runs
        counters.receiveOffloadPackets = receiveOffload.packets
        return counters
    }

    /// A bound socket on the stack's UDP port for `address`, and what to call it in errors;
    /// a failure is the stack's bind error (EADDRINUSE, EADDRNOTAVAIL, ...).
    private func bindSocket(for address: IPAddress) throws -> (descriptor: CInt, what: String) {
        let port = boundPort.withLockedValue { $0 } ?? options.udpPort
        let what = "UDP port \(port) on \(address)"
        do {
            return (try Self.boundSocket(address, port: port, steering: options.steering, refusesSteering: options.refusesSteering), what)
        } catch {
            throw SCTPStack.bindError(error, what: what, address: address)
        }
    }

    // MARK: SwiftNIO's loops

    func makeChannel(for address: IPAddress, handler: DatagramInboundHandler) -> EventLoopFuture<(any Channel, CInt?)> {
        // The socket is made here, so that the transport can write to it itself; NIO reads.
        let (descriptor, what): (CInt, String)
        do {
            (descriptor, what) = try bindSocket(for: address)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        // recvmmsg: several datagrams per read (the buffer is split among them): 32 of up to
        // 9216 bytes, or with GRO 16 of up to 64 KiB (a coalesced run of packets).
        let (count, slot) = receiveShape
        return DatagramBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: SocketOptionValue(options.socketBufferSize))
            .channelOption(ChannelOptions.socketOption(.so_sndbuf), value: SocketOptionValue(options.socketBufferSize))
            .channelOption(ChannelOptions.datagramVectorReadMessageCount, value: count)
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: count * slot))
            .channelOption(ChannelOptions.datagramReceiveOffload, value: receivesOffloaded)
            .channelOption(ChannelOptions.datagramReceiveSegmentSize, value: receivesOffloaded)
            // The ECN field of each datagram (IP_RECVTOS / IPV6_RECVTCLASS): CE marks go to the core.
            .channelOption(ChannelOptions.explicitCongestionNotification, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .withBoundSocket(descriptor)
            .map { [self] channel in
                didOpen(channel)
                return (channel, options.directWrites ? descriptor : nil)
            }
            .flatMapErrorThrowing { error -> (any Channel, CInt?) in
                throw SCTPStack.bindError(error, what: what, address: address)
            }
    }

    /// A non-blocking UDP socket bound to `address` and `port` (0: the kernel picks one). With
    /// `steering` it joins the port's reuse-port group, and shard 0 attaches the steering
    /// program (`SCTPStack.Options.steering`); a kernel that refuses it fails with EOPNOTSUPP.
    /// `refusesSteering` stands in for such a kernel (tests).
    static func boundSocket(_ address: IPAddress, port: Int, steering: TagShard? = nil, refusesSteering: Bool = false) throws -> CInt {
        let family = address.isIPv4 ? AF_INET : AF_INET6
        #if canImport(Glibc)
        let descriptor = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let descriptor = socket(family, SOCK_DGRAM, 0)
        #endif
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var on: CInt = 1
        if !address.isIPv4 {
            // An IPv6 address is bound as itself only (no IPv4-mapped traffic on this socket).
            _ = setsockopt(descriptor, CInt(IPPROTO_IPV6), IPV6_V6ONLY, &on, socklen_t(MemoryLayout<CInt>.size))
        }
        if steering != nil {
            let joined = csctp_reuse_port(descriptor)
            if joined != 0 {
                DatagramSocketTable.closeDescriptor(descriptor)
                throw IOError(errnoCode: -joined, reason: "setsockopt(SO_REUSEPORT)")
            }
        }
        let bound: CInt
        do {
            bound = try address.destinationAddress(port: port).withSockAddr { pointer, length in
                bind(descriptor, pointer, socklen_t(length))
            }
        } catch {
            DatagramSocketTable.closeDescriptor(descriptor)
            throw error
        }
        guard bound == 0 else {
            let code = errno
            DatagramSocketTable.closeDescriptor(descriptor)
            throw IOError(errnoCode: code, reason: "bind")
        }
        if let steering, steering.index == 0 {
            let attached = refusesSteering ? -EPERM : csctp_attach_tag_steering(descriptor, steering.count)
            if attached != 0 {
                DatagramSocketTable.closeDescriptor(descriptor)
                throw IOError(errnoCode: EOPNOTSUPP, reason: "the reuse-port steering program (errno \(-attached))")
            }
        }
        return descriptor
    }

    private func didOpen(_ channel: any Channel) {
        if let bound = channel.localAddress?.port {
            boundPort.withLockedValue { if $0 == nil { $0 = bound } }
        }
        if socketReceiveBuffer == nil, let value = try? channel.syncOptions?.getOption(ChannelOptions.socketOption(.so_rcvbuf)),
           value > 0 {
            socketReceiveBuffer = Int(value)
        }
    }

    func received(_ envelope: AddressedEnvelope<ByteBuffer>, at local: IPAddress) {
        guard let source = IPAddress(envelope.remoteAddress), let udpPort = envelope.remoteAddress.port else { return }
        received(envelope.data, from: source, udpPort: udpPort, at: local,
                 congestionExperienced: envelope.metadata?.ecnState == .congestionExperienced,
                 segmentSize: envelope.metadata?.segmentSize ?? 0)
    }

    /// A datagram (or with `segmentSize` > 0 a GRO run of them) from `source`, UDP port
    /// `udpPort`, arrived on the socket of `local`.
    private func received(_ datagram: ByteBuffer, from source: IPAddress, udpPort: Int, at local: IPAddress,
                          congestionExperienced congestion: Bool, segmentSize: Int) {
        // A GRO run holds datagrams with one IP header (the kernel coalesces only equal ECN
        // fields), so the mark applies to each of them.
        guard segmentSize > 0, datagram.readableBytes > segmentSize else {
            deliver(datagram, from: source, udpPort: udpPort, to: local, congestionExperienced: congestion)
            return
        }
        // A GRO run: datagrams of `segmentSize` bytes, the last one possibly shorter.
        receiveOffload.runs += 1
        receiveOffload.packets += (datagram.readableBytes + segmentSize - 1) / segmentSize
        var offset = datagram.readerIndex
        let end = datagram.writerIndex
        while offset < end {
            let length = min(segmentSize, end - offset)
            if let packet = datagram.getSlice(at: offset, length: length) {
                deliver(packet, from: source, udpPort: udpPort, to: local, congestionExperienced: congestion)
            }
            offset += length
        }
    }

    // MARK: Own event loop

    /// Datagrams read per `recvmmsg`, and the room for each: 32 of up to 9216 bytes, or with
    /// GRO 16 of up to 64 KiB (a coalesced run of packets). Both loops read so.
    private var receiveShape: (count: Int, slot: Int) { receivesOffloaded ? (16, 65_536) : (32, 9216) }
    /// Where `recvmmsg` writes (own event loop), made when the first socket opens.
    #if DEBUG
    private var receiveSpace: UnsafeMutableRawPointer?
    #else
    @exclusivity(unchecked) private var receiveSpace: UnsafeMutableRawPointer?
    #endif
    #if DEBUG
    private var receivedInfo: UnsafeMutablePointer<csctp_received>?
    #else
    @exclusivity(unchecked) private var receivedInfo: UnsafeMutablePointer<csctp_received>?
    #endif

    deinit {
        receiveSpace?.deallocate()
        receivedInfo?.deallocate()
    }

    func makeOwnSocket(for address: IPAddress) throws -> CInt {
        let (descriptor, what) = try bindSocket(for: address)
        var size = CInt(clamping: options.socketBufferSize)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        let prepared = csctp_prepare_receive(descriptor, address.isIPv4 ? 0 : 1, receivesOffloaded ? 1 : 0)
        if prepared != 0 {
            DatagramSocketTable.closeDescriptor(descriptor)
            throw SCTPStack.bindError(IOError(errnoCode: -prepared, reason: "setsockopt"), what: what, address: address)
        }
        if options.pathMTUSockets {
            // No fragmentation, ICMP errors queued (read by `readPacketTooBig`).
            let done = csctp_prepare_path_mtu(descriptor, address.isIPv4 ? 0 : 1)
            if done != 0 { logger.debug("path MTU socket options refused", metadata: ["errno": "\(-done)", "local": "\(address)"]) }
        }
        didOpen(descriptor: descriptor)
        return descriptor
    }

    /// Own event loop: the bound port and the receive buffer the kernel gave, from the first socket.
    private func didOpen(descriptor: CInt) {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        if named == 0 {
            let port: UInt16 = withUnsafeBytes(of: storage) { raw in
                // sin_port and sin6_port sit at the same offset, in network byte order.
                UInt16(bigEndian: raw.load(fromByteOffset: MemoryLayout<sa_family_t>.size, as: UInt16.self))
            }
            boundPort.withLockedValue { if $0 == nil { $0 = Int(port) } }
        }
        if socketReceiveBuffer == nil {
            var value: CInt = 0
            var size = socklen_t(MemoryLayout<CInt>.size)
            if getsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &value, &size) == 0, value > 0 {
                socketReceiveBuffer = Int(value)
            }
        }
    }

    /// Reads one batch (one `recvmmsg`: up to 32 datagrams, or 16 GRO runs) and hands it to
    /// the stack. epoll is level-triggered: whatever still waits makes the loop come back,
    /// after it served the other sockets, its tasks and its timers. The error queue (Packet
    /// Too Big reports) is read only when the loop saw EPOLLERR, which Linux raises while the
    /// queue holds an entry: no extra system call per read otherwise.
    func readable(_ descriptor: CInt, at local: IPAddress, errorPending: Bool) {
        let (count, slot) = receiveShape
        if receiveSpace == nil {
            receiveSpace = .allocate(byteCount: count * slot, alignment: 16)
            receivedInfo = .allocate(capacity: count)
        }
        guard let space = receiveSpace, let info = receivedInfo else { return }
        if options.pathMTUSockets && errorPending { readPacketTooBig(descriptor, at: local, space: space, capacity: slot) }
        let got = Int(csctp_receive_datagrams(descriptor, space.assumingMemoryBound(to: UInt8.self), slot, info, CInt(count)))
        guard got >= 0 else {
            // Such as ECONNREFUSED after an ICMP port unreachable: reading consumed it.
            logger.debug("socket read error", metadata: ["errno": "\(-got)", "local": "\(local)"])
            return
        }
        let allocator = ByteBufferAllocator()
        for index in 0..<got {
            let entry = info[index]
            guard entry.truncated == 0, let source = Self.source(of: entry) else { continue }
            // Each datagram gets a buffer of its own: a small packet kept (a message the
            // application has not read) holds no 64 KiB receive slot. So does each datagram
            // of a GRO run: as slices of the run's one buffer, every small DATA payload would
            // be copied out again by the core (`DataReceiver.compact`), an allocation per
            // message.
            let base = space + index * slot
            let segmentSize = Int(entry.segment_size)
            let congestion = entry.ecn == 3
            guard segmentSize > 0, entry.length > segmentSize else {
                var datagram = allocator.buffer(capacity: entry.length)
                datagram.writeBytes(UnsafeRawBufferPointer(start: base, count: entry.length))
                deliver(datagram, from: source, udpPort: Int(entry.port), to: local, congestionExperienced: congestion)
                continue
            }
            receiveOffload.runs += 1
            receiveOffload.packets += (entry.length + segmentSize - 1) / segmentSize
            var offset = 0
            while offset < entry.length {
                let length = min(segmentSize, entry.length - offset)
                var datagram = allocator.buffer(capacity: length)
                datagram.writeBytes(UnsafeRawBufferPointer(start: base + offset, count: length))
                deliver(datagram, from: source, udpPort: Int(entry.port), to: local, congestionExperienced: congestion)
                offset += length
            }
        }
        stack.readComplete()
    }

    /// Drains the socket's error queue (at most 16 entries per read): each ICMP / ICMPv6
    /// Packet Too Big (or local EMSGSIZE) goes to the stack with the SCTP packet it quotes and
    /// the reported MTU less the IP and UDP headers (`SCTPStack.Options.pathMTUSockets`).
    private func readPacketTooBig(_ descriptor: CInt, at local: IPAddress, space: UnsafeMutableRawPointer, capacity: Int) {
        var report = csctp_packet_too_big()
        for _ in 0..<16 {
            let got = csctp_read_packet_too_big(descriptor, space.assumingMemoryBound(to: UInt8.self), capacity, &report)
            guard got >= 0 else { return }
            guard got == 1, report.local != 0 || report.length >= 12, report.mtu > 0 else { continue }
            let peer: IPAddress? = withUnsafeBytes(of: report.address) { raw in
                switch report.family {
                case 4: .v4(IPv4Address(rawValue: UInt32(bigEndian: raw.loadUnaligned(as: UInt32.self))))
                case 6: .v6(IPv6Address(high: UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self)),
                                        low: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))))
                default: nil
                }
            }
            guard let peer else { continue }
            var quoted = ByteBufferAllocator().buffer(capacity: Int(report.length))
            quoted.writeBytes(UnsafeRawBufferPointer(start: space, count: Int(report.length)))
            let overhead = report.family == 4 ? 28 : 48
            logger.debug("packet too big", metadata: ["peer": "\(peer)", "mtu": "\(report.mtu)"])
            if report.local != 0 {
                // Our own kernel refused a datagram larger than the link: no quote, nothing forged.
                stack.localPacketTooBig(peer: peer, mtu: Int(report.mtu) - overhead)
            } else {
                stack.packetTooBig(quoted: quoted, peer: peer, mtu: Int(report.mtu) - overhead, local: local)
            }
        }
    }

    private static func source(of entry: csctp_received) -> IPAddress? {
        withUnsafeBytes(of: entry.address) { raw -> IPAddress? in
            switch entry.family {
            case 4:
                return .v4(IPv4Address(rawValue: UInt32(bigEndian: raw.loadUnaligned(as: UInt32.self))))
            case 6:
                return .v6(IPv6Address(high: UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self)),
                                       low: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))))
            default:
                return nil
            }
        }
    }

    private func deliver(_ datagram: ByteBuffer, from source: IPAddress, udpPort: Int, to local: IPAddress,
                         congestionExperienced: Bool) {
        guard let sourcePort = datagram.getInteger(at: datagram.readerIndex, as: UInt16.self) else { return }
        learn(udpPort, of: source, sctpPort: sourcePort)
        stack.received(datagram, from: source, to: local, congestionExperienced: congestionExperienced)
    }

    /// Remembers that `address`:`sctpPort` sends from UDP port `udpPort` (RFC 6951 §5.4).
    func learn(_ udpPort: Int, of address: IPAddress, sctpPort: UInt16) {
        guard let port = UInt16(exactly: udpPort) else { return }
        let key = PeerKey(address: address, sctpPort: sctpPort)
        if let last = lastLearned, last.key == key, last.udpPort == udpPort { return }
        if learnedUDPPorts.count >= options.maximumLearnedPorts && learnedUDPPorts[address, sctpPort] == nil {
            learnedUDPPorts.removeAll()
        }
        learnedUDPPorts[address, sctpPort] = UInt32(port)
        lastLearned = (key, udpPort)
    }

    /// The UDP port learned for `address`:`sctpPort`, if any.
    func learnedUDPPort(of address: IPAddress, sctpPort: UInt16) -> Int? {
        if let last = lastLearned, last.key == PeerKey(address: address, sctpPort: sctpPort) { return last.udpPort }
        return learnedUDPPorts[address, sctpPort].map(Int.init)
    }

    private func peerPort(_ destination: IPAddress, sctpPort: UInt16, remoteUDPPort: Int?) -> Int {
        let key = PeerKey(address: destination, sctpPort: sctpPort)
        if let last = lastLearned, last.key == key { return last.udpPort }
        return learnedUDPPorts[destination, sctpPort].map(Int.init)
            ?? remoteUDPPort ?? (options.peerUDPPort == 0 ? boundPort.withLockedValue { $0 } ?? 0 : options.peerUDPPort)
    }

    func write(_ packet: ByteBuffer, from source: IPAddress, to destination: IPAddress, remoteUDPPort: Int?, ecnCapable: Bool) {
        guard let sctpPort = packet.getInteger(at: packet.readerIndex + 2, as: UInt16.self) else { return }
        let port = peerPort(destination, sctpPort: sctpPort, remoteUDPPort: remoteUDPPort)
        sockets.write(packet, from: source, to: destination, port: port, ecnCapable: ecnCapable)
    }

    func udpPorts(from source: IPAddress, to destination: IPAddress, sctpDestinationPort: UInt16,
                  remoteUDPPort: Int?) -> (source: UInt16, destination: UInt16)? {
        let local = UInt16(truncatingIfNeeded: boundPort.withLockedValue { $0 } ?? 0)
        return (local, UInt16(truncatingIfNeeded: peerPort(destination, sctpPort: sctpDestinationPort, remoteUDPPort: remoteUDPPort)))
    }

    func udpPorts(ofArrival datagram: ByteBuffer, from source: IPAddress) -> (source: UInt16, destination: UInt16)? {
        guard let sctpPort = datagram.getInteger(at: datagram.readerIndex, as: UInt16.self) else { return nil }
        let remote = learnedPort(of: source, sctpPort: sctpPort) ?? 0
        return (UInt16(truncatingIfNeeded: remote), UInt16(truncatingIfNeeded: boundPort.withLockedValue { $0 } ?? 0))
    }

    /// The peer's UDP port learned for a peer address and SCTP port, if any.
    func learnedPort(of source: IPAddress, sctpPort: UInt16) -> Int? {
        learnedUDPPorts[source, sctpPort].map(Int.init)
    }
}
