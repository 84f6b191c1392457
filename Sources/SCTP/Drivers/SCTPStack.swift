import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SCTPCore
import SCTPWire
import SystemPackage

/// An SCTP stack: the sockets that carry SCTP packets (UDP encapsulation, raw IP, or a
/// user-supplied carrier) and the SCTP endpoints (sockets) that share them.
///
/// Over UDP (RFC 6951), one UDP socket is opened per local IP address that some SCTP socket
/// binds, all on the stack's UDP port (9899 unless set). Every SCTP endpoint of the stack
/// sends and receives through them; arriving packets are told apart by their SCTP
/// destination port (and address), as the kernel tells apart SCTP sockets. A packet for a
/// port where nothing listens gets the answer RFC 9260 §8.4 gives (an INIT is refused with
/// ABORT). The peer's UDP port is learned per peer address and SCTP port from what arrives
/// (RFC 6951 §5.4); until then the socket's `SCTP_REMOTE_UDP_ENCAPS_PORT` or the stack's
/// `peerUDPPort` is used.
///
/// `SCTPStack.rawIP()` carries SCTP directly over IP (protocol 132; needs CAP_NET_RAW), and
/// `SCTPStack(carrier:)` hands packets to the user and takes them back with `receive(_:)`.
/// Any stack can write every packet it sends and receives to a pcap file (`startCapture`).
///
/// All of a stack's work runs on one event loop, `eventLoop`; the sockets of the stack use
/// it too. Create several stacks (with different UDP ports) to use several cores.
public final class SCTPStack: @unchecked Sendable {
    /// How a UDP stack is set up.
    public struct Options: Sendable {
        /// The local UDP port; 0 picks a free one when the first address is bound (the same
        /// port is then used for every further address).
        public var udpPort: Int = 9899
        /// The peer's UDP port until one is learned from a received packet; 0 means the
        /// stack's own UDP port (peers that use the same port, as RFC 6951's default 9899 does).
        public var peerUDPPort: Int = 9899
        /// The kernel buffers of each UDP socket.
        public var socketBufferSize: Int = 4 << 20
        /// Send runs of equal-sized packets to one peer with one UDP GSO write (`UDP_SEGMENT`,
        /// Linux 4.18+): the kernel cuts them into the same datagrams at a fraction of the cost
        /// per packet. Used only where the kernel supports it; peers see ordinary datagrams.
        public var segmentationOffload: Bool = true
        /// Let the kernel hand over runs of datagrams from one peer as one buffer (`UDP_GRO`,
        /// Linux 5.0+), cut back into packets here. Used only where the kernel supports it.
        public var receiveOffload: Bool = true
        /// For path MTU discovery (RFC 8899): the UDP sockets never let the kernel fragment
        /// (IP_MTU_DISCOVER / IPV6_MTU_DISCOVER = PMTUDISC_PROBE: a packet larger than the path
        /// is dropped on its way, as a probe must be, and the kernel's own PMTU cache is
        /// ignored), and on `SCTPEventLoop` they read ICMP "fragmentation needed" / ICMPv6
        /// "packet too big" (IP_RECVERR), which go to the associations as Packet Too Big
        /// (`SCTPEndpoint.handlePacketTooBig`, checked there). Off by default: with a fixed
        /// MTU larger than the path, the kernel's fragmentation is what lets packets through.
        /// Linux only, and only for UDP sockets on `SCTPEventLoop`: sockets on SwiftNIO's
        /// loops get neither option (a NIO channel would take the queued errors as read
        /// errors), so there discovery finds the MTU by probe loss alone.
        public var pathMTUSockets: Bool = false
        /// On a SwiftNIO loop: write datagrams straight to the UDP sockets (sendmmsg) instead
        /// of through SwiftNIO's channel pipeline; NIO still reads, and takes the writes over
        /// whenever a socket is full. Off: every write goes through the channel (for
        /// comparison). On `SCTPEventLoop` there is no channel: writes are always direct.
        public var directWrites: Bool = true
        /// At most this many peers' UDP ports are remembered (`UDPTransport`): spoofed
        /// sources must not grow the table without bound. Internal: tests make it small.
        var maximumLearnedPorts = 65_536
        /// One shard of a `ShardedUDPEndpoint`: the UDP sockets join the port's reuse-port group
        /// (`SO_REUSEPORT`), and shard 0's socket of each address attaches the program that
        /// steers each datagram to socket (verification tag mod count)
        /// (`csctp_attach_tag_steering`). Shards must bind in index order: the kernel numbers
        /// a group's sockets in the order they join. Internal: `ShardedUDPEndpoint` sets it.
        var steering: TagShard?
        /// Makes shard 0 act as on a kernel that refuses the steering program (EOPNOTSUPP).
        /// Internal: tests of `ShardedUDPEndpoint`'s fallback to one shard set it.
        var refusesSteering = false

        /// Options with these UDP ports and the rest at their defaults.
        public init(udpPort: Int = 9899, peerUDPPort: Int = 9899) {
            self.udpPort = udpPort
            self.peerUDPPort = peerUDPPort
        }
    }

    /// The stack every socket uses unless given another: UDP port 9899 both sides, on the
    /// default loop (`defaultEventLoopGroup`).
    public static let shared = SCTPStack()

    /// Where UDP stacks run unless given a group: swift-sctp's own loop
    /// (`SCTPEventLoop.singleton`, which reads and writes the sockets itself) where it is
    /// supported, else one loop of SwiftNIO's singleton group.
    public static var defaultEventLoopGroup: any EventLoopGroup {
        SCTPEventLoop.singleton ?? MultiThreadedEventLoopGroup.singleton
    }

    /// How the stack was set up (UDP stacks; raw IP and carrier stacks have ports 0).
    public let options: Options
    /// The loop all of the stack's sockets run on.
    public let eventLoop: any EventLoop
    /// `eventLoop` when it is swift-sctp's own (its sockets read and flushed by the stack).
    let ownLoop: SCTPEventLoop?
    /// Whether packets for ports nobody has are answered as RFC 9260 §8.4 says (an INIT with
    /// ABORT, ...). On by default; off by default over raw IP, where another process's SCTP
    /// stack may own the port.
    public let answersOutOfTheBlue: Bool
    /// Whether a user-supplied carrier moves the packets (`init(carrier:group:)`): sockets
    /// then default to the WebRTC INIT profile, and may accept zero checksums (RFC 9653).
    public let isCarrier: Bool

    private let origin = NIODeadline.now()
    private let udpBoundPort: NIOLockedValueBox<Int?>?

    /// The closed set of transports: calls on the packet path switch over it and go direct.
    enum Transport {
        case udp(UDPTransport)
        case rawIP(RawIPTransport)
        case carrier(CarrierTransport)

        func open(_ address: IPAddress) -> EventLoopFuture<Void> {
            switch self {
            case .udp(let t): t.open(address)
            case .rawIP(let t): t.open(address)
            case .carrier(let t): t.open(address)
            }
        }

        func isOpen(_ address: IPAddress) -> Bool {
            switch self {
            case .udp(let t): t.isOpen(address)
            case .rawIP(let t): t.isOpen(address)
            case .carrier(let t): t.isOpen(address)
            }
        }

        func write(_ packet: ByteBuffer, from source: IPAddress, to destination: IPAddress, remoteUDPPort: Int?, ecnCapable: Bool) {
            switch self {
            case .udp(let t): t.write(packet, from: source, to: destination, remoteUDPPort: remoteUDPPort, ecnCapable: ecnCapable)
            case .rawIP(let t): t.write(packet, from: source, to: destination, remoteUDPPort: remoteUDPPort, ecnCapable: ecnCapable)
            case .carrier(let t): t.write(packet, from: source, to: destination, remoteUDPPort: remoteUDPPort, ecnCapable: ecnCapable)
            }
        }

        func flush() {
            switch self {
            case .udp(let t): t.flush()
            case .rawIP(let t): t.flush()
            case .carrier(let t): t.flush()
            }
        }

        func close() -> EventLoopFuture<Void> {
            switch self {
            case .udp(let t): t.close()
            case .rawIP(let t): t.close()
            case .carrier(let t): t.close()
            }
        }

        /// The transport as the protocol, for what is not on the packet path.
        var any: any DatagramTransport {
            switch self {
            case .udp(let t): t
            case .rawIP(let t): t
            case .carrier(let t): t
            }
        }
    }

    /// Loop-confined state, in one property: release builds skip its exclusivity checks.
    private struct State {
        var transport: Transport?
        var endpoints = EndpointTable()
        var sources: SourceAddressSelection
        var capture: PacketCapture?
        /// Endpoints that got packets since the last `readComplete`, and the last one marked.
        var touched: [ObjectIdentifier: EndpointDriver] = [:]
        var lastTouched: EndpointDriver?
        /// Whether a flush before the loop waits is arranged (own loop).
        var writesPending = false
        var isClosed = false
        /// Exports the associations through swift-metrics (`startMetrics`).
        var metricsReporter: SCTPMetricsReporter?
    }

    #if DEBUG
    private var state: State
    #else
    @exclusivity(unchecked) private var state: State
    #endif

    /// The transport (set once, at the end of each initializer).
    private var transport: Transport { state.transport.unsafelyUnwrapped }

    /// A UDP encapsulation stack on one loop of `group` (by default `defaultEventLoopGroup`).
    public init(options: Options = Options(), group: any EventLoopGroup = SCTPStack.defaultEventLoopGroup) {
        self.options = options
        eventLoop = group.next()
        ownLoop = eventLoop as? SCTPEventLoop
        answersOutOfTheBlue = true
        isCarrier = false
        let boundPort = NIOLockedValueBox<Int?>(nil)
        udpBoundPort = boundPort
        state = State(sources: SourceAddressSelection(usesKernelRoutes: true))
        state.transport = .udp(UDPTransport(stack: self, options: options, boundPort: boundPort))
    }

    /// A stack that carries SCTP directly over IPv4/IPv6 (protocol 132). Binding an address
    /// fails with EPERM where the process lacks CAP_NET_RAW.
    ///
    /// With `pathMTUSockets` (off by default, Linux) its sockets never let the kernel fragment
    /// (IP_MTU_DISCOVER / IPV6_MTU_DISCOVER = PMTUDISC_PROBE), and each local address gets an
    /// ICMP (or ICMPv6) raw socket too: a "fragmentation needed" / "packet too big" from a
    /// router, quoting an SCTP packet of ours, goes to path MTU discovery, which checks it
    /// (`SCTPEndpoint.handlePacketTooBig`).
    public static func rawIP(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             answersOutOfTheBlue: Bool = false, pathMTUSockets: Bool = false) -> SCTPStack {
        SCTPStack(rawIPOn: group, answersOutOfTheBlue: answersOutOfTheBlue, pathMTUSockets: pathMTUSockets)
    }

    private init(rawIPOn group: any EventLoopGroup, answersOutOfTheBlue: Bool, pathMTUSockets: Bool) {
        var options = Options(udpPort: 0, peerUDPPort: 0)
        options.pathMTUSockets = pathMTUSockets
        self.options = options
        eventLoop = group.next()
        ownLoop = eventLoop as? SCTPEventLoop
        self.answersOutOfTheBlue = answersOutOfTheBlue
        isCarrier = false
        udpBoundPort = nil
        state = State(sources: SourceAddressSelection(usesKernelRoutes: true))
        state.transport = .rawIP(RawIPTransport(stack: self))
    }

    /// A stack whose packets a user-supplied carrier moves (DTLS for WebRTC, a tunnel, a
    /// relay): `output` is called on the stack's loop for every packet to send; packets that
    /// arrive are handed in with `receive(_:)`.
    public init(carrier output: @escaping @Sendable (SCTPCarrierPacket) -> Void,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        options = Options(udpPort: 0, peerUDPPort: 0)
        let loop = group.next()
        eventLoop = loop
        ownLoop = eventLoop as? SCTPEventLoop
        answersOutOfTheBlue = true
        isCarrier = true
        udpBoundPort = nil
        // A carrier's addresses are labels: no routing table says which to send from.
        state = State(sources: SourceAddressSelection(usesKernelRoutes: false))
        state.transport = .carrier(CarrierTransport(eventLoop: loop, output: output))
    }

    /// The UDP port the stack's sockets are bound to, once one is (UDP stacks only).
    public var udpPort: Int? { udpBoundPort?.withLockedValue { $0 } }

    /// How many packets went out in UDP GSO writes and came in as UDP GRO runs (all zero
    /// where the kernel or the transport has neither), read on the stack's event loop.
    public func offloadCounters() -> EventLoopFuture<SCTPOffloadCounters> {
        eventLoop.submit { [self] in transport.any.offloadCounters }
    }

    /// The UDP transport, if this is a UDP stack (for tests, on the event loop).
    var udpTransport: UDPTransport? {
        if case .udp(let t) = transport { return t }
        return nil
    }

    /// The batching writer of a UDP or raw IP stack (for tests, on the event loop).
    var writer: DatagramWriter? {
        switch transport {
        case .udp(let t): t.sockets.writer
        case .rawIP(let t): t.sockets.writer
        case .carrier: nil
        }
    }

    // MARK: Time

    var now: SCTPInstant {
        SCTPInstant(nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds &- origin.uptimeNanoseconds))
    }

    /// Whether the stack carries SCTP over UDP (RFC 6951).
    public var isUDP: Bool { udpBoundPort != nil }

    /// UDP stacks: the peer UDP port learned for `address`:`sctpPort` (on the loop).
    func learnedUDPPort(of address: IPAddress, sctpPort: UInt16) -> Int? {
        guard case .udp(let udp) = transport else { return nil }
        return udp.learnedUDPPort(of: address, sctpPort: sctpPort)
    }

    /// UDP stacks: `address`:`sctpPort` sends from `udpPort` (a datagram another shard
    /// received and handed over; on the loop).
    func learn(_ udpPort: Int, of address: IPAddress, sctpPort: UInt16) {
        guard case .udp(let udp) = transport else { return }
        udp.learn(udpPort, of: address, sctpPort: sctpPort)
    }

    func deadline(of instant: SCTPInstant) -> NIODeadline {
        .uptimeNanoseconds(origin.uptimeNanoseconds &+ UInt64(max(instant.nanoseconds, 0)))
    }

    // MARK: Local addresses (on the loop)

    /// Opens what `addresses` need (their UDP or raw sockets) where not open yet.
    func open(_ addresses: [IPAddress]) -> EventLoopFuture<Void> {
        eventLoop.assertInEventLoop()
        var future = eventLoop.makeSucceededVoidFuture()
        for address in addresses {
            future = future.flatMap { [self] in
                if state.isClosed { return eventLoop.makeFailedFuture(SCTPError(.badFileDescriptor, "the stack is closed")) }
                return transport.open(address)
            }
        }
        return future
    }

    static func bindError(_ error: any Error, what: String, address: IPAddress) -> SCTPError {
        if let error = error as? SCTPError { return error }
        if let io = error as? IOError {
            switch io.errnoCode {
            case Errno.addressInUse.rawValue: return SCTPError(.addressInUse, "\(what) is in use")
            case Errno.addressNotAvailable.rawValue: return SCTPError(.addressNotAvailable, "\(address) is not an address of this machine")
            case Errno.permissionDenied.rawValue: return SCTPError(.permissionDenied, "no permission to bind \(what)")
            case Errno.notSupported.rawValue: return SCTPError(.notSupported, "\(what): \(io)")
            default: break
            }
        }
        return SCTPError(.addressNotAvailable, "cannot bind \(what): \(error)")
    }

    // MARK: Receive window

    /// The receive window a UDP socket of `socketBuffer` bytes (`SO_RCVBUF` as the kernel
    /// reports it) can absorb without dropping: the kernel charges each datagram its buffer's
    /// true size, about twice a full-size SCTP packet and much more for small ones, and the
    /// socket also takes SACKs and, for two-way transfers, data the other way. A larger
    /// window lets a peer overrun the socket (datagrams dropped by the kernel, seen as loss
    /// and retransmitted): measured on loopback, 4 MiB advertised over an 8 MiB socket lost
    /// 10-20 % of a two-way transfer; an eighth of the socket buffer lost nothing.
    public static func receiveWindow(forSocketBuffer socketBuffer: Int) -> Int { max(socketBuffer / 8, 16 << 10) }

    /// The most receive window an endpoint of this stack may offer (`SCTPEndpoint.receiveWindowLimit`),
    /// once a UDP socket is open; `nil` for other transports.
    var receiveWindowLimit: Int? { udpTransport?.socketReceiveBuffer.map(Self.receiveWindow(forSocketBuffer:)) }

    // MARK: SCTP endpoints (on the loop)

    /// Registers an endpoint under its SCTP port; EADDRINUSE if another endpoint of the stack
    /// has that port on one of the same addresses (unless both set `SCTP_REUSE_PORT`). The endpoint's receive window is limited
    /// to what the stack's sockets can buffer.
    func register(_ driver: EndpointDriver) throws(SCTPError) {
        eventLoop.assertInEventLoop()
        if state.isClosed { throw SCTPError(.badFileDescriptor, "the stack is closed") }
        try state.endpoints.insert(driver)
        driver.receiveWindowLimit = receiveWindowLimit
    }

    func unregister(_ driver: EndpointDriver) {
        state.endpoints.remove(driver)
    }

    /// Every endpoint of the stack (on the loop).
    var endpointDrivers: [EndpointDriver] { state.endpoints.all }

    /// The reporter `startMetrics` installed (on the loop).
    var metricsReporter: SCTPMetricsReporter? {
        get { state.metricsReporter }
        set { state.metricsReporter = newValue }
    }

    /// An address of `addresses` on which `port` is taken, if any: by any endpoint, or with
    /// `reusing` (`SCTP_REUSE_PORT`) by one that does not share the port.
    func conflict(port: UInt16, addresses: [IPAddress], reusing: Bool = false) -> IPAddress? {
        state.endpoints.conflict(port: port, addresses: addresses, reusing: reusing)
    }

    /// Whether another endpoint listens on `driver`'s port and one of `addresses`.
    func otherListener(than driver: EndpointDriver, on addresses: [IPAddress]) -> Bool {
        state.endpoints.otherListener(than: driver, on: addresses)
    }

    /// Whether an endpoint other than `driver` on its port has a live association with one of
    /// `peers` at `port` (sockets sharing a port with `SCTP_REUSE_PORT`).
    func otherEndpoint(than driver: EndpointDriver, hasAssociationWith peers: [IPAddress], port: UInt16) -> Bool {
        state.endpoints.otherEndpoint(than: driver, hasAssociationWith: peers, port: port)
    }

    /// A free SCTP port (from the dynamic range) for `addresses`.
    func ephemeralPort(for addresses: [IPAddress]) throws(SCTPError) -> UInt16 {
        try state.endpoints.ephemeralPort(for: addresses)
    }

    // MARK: Packets in

    /// A packet arrived (from a transport, on the loop): to the endpoint of its destination
    /// port, else the §8.4 answer. The endpoint answers at `readComplete`.
    func received(_ datagram: ByteBuffer, from source: IPAddress, to local: IPAddress, congestionExperienced: Bool = false) {
        guard !state.isClosed, datagram.readableBytes >= 12,
              let destinationPort = datagram.getInteger(at: datagram.readerIndex + 2, as: UInt16.self) else { return }
        if let capture = state.capture {
            capture.record(datagram, from: source, to: local, udp: transport.any.udpPorts(ofArrival: datagram, from: source))
        }
        if let driver = state.endpoints.driver(port: destinationPort, local: local, datagram: datagram, source: source) {
            driver.received(datagram: datagram, from: source, to: local, congestionExperienced: congestionExperienced)
            guard state.lastTouched !== driver else { return }
            state.lastTouched = driver
            state.touched[ObjectIdentifier(driver)] = driver
        } else if answersOutOfTheBlue {
            answerOutOfTheBlue(datagram, from: source, to: local)
        }
    }

    /// A Packet Too Big for a datagram we sent to `peer` (a transport read it from its
    /// socket's error queue): `quoted` is what it quotes of the SCTP packet, `mtu` the reported
    /// size as an SCTP packet. Goes to the endpoint of the quoted source port, which checks it.
    func packetTooBig(quoted: ByteBuffer, peer: IPAddress, mtu: Int, local: IPAddress) {
        guard !state.isClosed, let sourcePort = quoted.getInteger(at: quoted.readerIndex, as: UInt16.self),
              let peerPort = quoted.getInteger(at: quoted.readerIndex + 2, as: UInt16.self),
              let driver = state.endpoints.driver(port: sourcePort, local: local, peer: peer, peerPort: peerPort) else { return }
        driver.handlePacketTooBig(quotedPacket: quoted, peer: peer, mtu: mtu)
    }

    /// The local kernel refused a datagram to `peer` larger than `mtu` (an SCTP packet size):
    /// every endpoint's path to that peer with a larger probe in flight learns it.
    func localPacketTooBig(peer: IPAddress, mtu: Int) {
        guard !state.isClosed else { return }
        for driver in state.endpoints.all { driver.handleLocalPacketTooBig(peer: peer, mtu: mtu) }
    }

    /// The end of a batch of arrivals: every endpoint that got packets answers now.
    func readComplete() {
        state.lastTouched = nil
        // Taken out whole and put back emptied: keeping `values` while clearing the property
        // would make the clearing allocate fresh storage on every batch.
        var touched: [ObjectIdentifier: EndpointDriver] = [:]
        swap(&touched, &state.touched)
        for driver in touched.values { driver.flush() }
        // (Should a flush have marked an endpoint again, that mark stays for the next batch.)
        if state.touched.isEmpty {
            touched.removeAll(keepingCapacity: true)
            swap(&touched, &state.touched)
        }
        flushWrites()
    }

    /// Hands a packet that a carrier brought in to the stack (carrier stacks; any thread).
    public func receive(_ packet: SCTPCarrierPacket) {
        eventLoop.execute { [self] in
            received(packet.bytes, from: packet.source, to: packet.destination)
            readComplete()
        }
    }

    /// RFC 9260 §8.4 for a packet to a port nobody has: INIT refused with ABORT, and so on.
    private func answerOutOfTheBlue(_ datagram: ByteBuffer, from source: IPAddress, to local: IPAddress) {
        guard let packet = try? SCTPPacket(parsing: datagram), (try? packet.validateBundling()) != nil,
              let answer = OutOfTheBlue.response(to: packet) else { return }
        send(Transmit(datagram: answer.serialized(), destination: source, source: local), from: [local], remoteUDPPort: nil)
        flushWrites()
    }

    // MARK: Packets out

    /// Writes a packet (sent by `flushWrites`) from one of `localAddresses` (the endpoint's:
    /// a peer takes the source address for one of ours), chosen by `SourceAddressSelection`.
    func send(_ transmit: Transmit, from localAddresses: [IPAddress], remoteUDPPort: Int?) {
        let transport = transport
        guard let source = state.sources.source(toward: transmit.destination, chosen: transmit.source, among: localAddresses,
                                                isOpen: { transport.isOpen($0) }) else { return }
        if let capture = state.capture,
           let port = transmit.datagram.getInteger(at: transmit.datagram.readerIndex + 2, as: UInt16.self) {
            let ports = transport.any.udpPorts(from: source, to: transmit.destination, sctpDestinationPort: port,
                                               remoteUDPPort: remoteUDPPort)
            capture.record(transmit.datagram, from: source, to: transmit.destination, udp: ports)
        }
        transport.write(transmit.datagram, from: source, to: transmit.destination, remoteUDPPort: remoteUDPPort,
                        ecnCapable: transmit.ecnCapable)
    }

    /// Sends what was written. On swift-sctp's own loop, once per turn of the loop, just
    /// before it waits again (`flushBeforeWaiting`): everything the turn produced (answers
    /// to every packet read, sends of every task) leaves together, in the fewest system
    /// calls and the longest GSO runs; elsewhere at once.
    func flushWrites() {
        guard let ownLoop else {
            transport.flush()
            return
        }
        guard !state.writesPending else { return }
        state.writesPending = true
        ownLoop.beforeWaiting(self)
    }

    /// The own loop is about to wait: what this turn wrote leaves now.
    func flushBeforeWaiting() {
        state.writesPending = false
        transport.flush()
    }

    // MARK: pcap

    /// Writes every packet the stack sends and receives from now on to a pcap file at `path`
    /// (created or truncated), with IP and (for UDP) UDP headers synthesised so that
    /// Wireshark and tshark decode it (`-d udp.port==N,sctp` for UDP). Fails with the errno
    /// of opening the file.
    public func startCapture(to path: String) throws(SCTPError) {
        let capture = try PacketCapture(path: path)
        do {
            try eventLoop.submit { [self] in
                state.capture?.close()
                state.capture = capture
            }.wait()
        } catch {
            throw SCTPError(.ioError, "\(error)")
        }
    }

    /// Stops writing the capture and closes its file.
    public func stopCapture() {
        try? eventLoop.submit { [self] in
            state.capture?.close()
            state.capture = nil
        }.wait()
    }

    /// Closes every socket of the stack and the UDP sockets. The shared stack cannot be closed.
    public func close() -> EventLoopFuture<Void> {
        guard self !== SCTPStack.shared else {
            return eventLoop.makeFailedFuture(SCTPError(.notSupported, "the shared stack lives as long as the process"))
        }
        return eventLoop.flatSubmit { [self] in
            state.metricsReporter?.stopOnLoop()
            state.metricsReporter = nil
            for driver in state.endpoints.removeAll() { driver.close() }
            state.isClosed = true
            state.lastTouched = nil
            state.touched.removeAll()
            state.capture?.close()
            state.capture = nil
            return transport.close()
        }
    }
}
