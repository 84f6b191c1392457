import DequeModule
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SCTPCore
import SCTPWire
import SystemPackage

/// An SCTP socket with the shapes of the RFC 6458 sockets API: `bind`/`bindx`, `listen`,
/// `accept`, `connectx`, `sendmsg`, `recvmsg`, `getpaddrs`/`getladdrs`, `peeloff`, options,
/// notifications. Errors are `SCTPError`s carrying the errno the C API reports.
///
/// Two styles (RFC 6458 §3 and §4):
/// - **one-to-one** (`SOCK_STREAM`-like): one association per socket; `listen` + `accept`
///   give one socket per inbound association, `connectx` sets up the socket's association;
/// - **one-to-many** (`SOCK_SEQPACKET`-like): many associations on one socket, told apart by
///   their `AssociationID` in send and receive info; `peeloff` moves one to its own socket.
///
/// The socket runs over UDP encapsulation on an `SCTPStack` (the shared one unless given).
/// The calls here block the calling thread until done (never call them on the stack's event
/// loop); in non-blocking mode (`.nonBlocking`) they fail with EWOULDBLOCK instead of waiting.
/// `connectx` also exists as an `async` method that maps task cancellation to EINTR.
///
/// Which condition gives which errno:
/// - `EBADF`: the socket is closed.
/// - `EINVAL`: an argument is wrong (no address, addresses with different or zero ports,
///   a stream the association does not have, an unknown association id, `bind` twice,
///   `SCTP_ADDR_OVER` without a peer address or with one the association does not have).
/// - `EAFNOSUPPORT`: an IPv6 address on an IPv4 socket, or a non-IP address.
/// - `EADDRINUSE`: the SCTP port is taken on one of the addresses, or the UDP port is.
/// - `EADDRNOTAVAIL`: an address that is not one of this machine's.
/// - `EOPNOTSUPP`: the operation does not exist for this style or state (connectx on a
///   listening one-to-one socket, accept or shutdown on one-to-many, peeloff on one-to-one).
/// - `EALREADY`: an association to the peer is being set up already (non-blocking connectx).
/// - `EISCONN`: a one-to-one socket is connected already.
/// - `ECONNREFUSED`: the peer answered INIT with ABORT.
/// - `ETIMEDOUT`: INIT or COOKIE ECHO went unanswered Max.Init.Retransmits times, round robin
///   over the addresses given.
/// - `EINTR`: an `async` connectx was cancelled; the attempt goes on.
/// - `ENOBUFS`: the socket holds its maximum number of associations.
/// - `EWOULDBLOCK`: non-blocking and the call would wait (receive, accept, full send buffer),
///   or the receive timeout passed.
/// - `ENOTCONN`: data calls on an unconnected one-to-one socket; `EPIPE`: sending after shutdown.
public final class SCTPSocket: @unchecked Sendable {
    /// The socket's style (RFC 6458 §3, §4).
    public enum Style: Sendable { case oneToOne, oneToMany }
    /// The socket's address family. IPv6 sockets take IPv4 and IPv4-mapped addresses too.
    public enum Family: Sendable { case ipv4, ipv6 }

    /// One-to-one or one-to-many.
    public let style: Style
    /// IPv4 or IPv6 (which also takes IPv4 addresses).
    public let family: Family
    /// The stack whose transport carries the socket's packets.
    public let stack: SCTPStack
    /// The stack's loop, where the socket's state lives.
    public var eventLoop: any EventLoop { stack.eventLoop }

    // Everything below is confined to `eventLoop`.
    enum Phase { case open, bound, listening, connecting, connected, disconnected, closed }
    var phase: Phase = .open
    var driver: EndpointDriver?
    var configuration = SCTPConfiguration()
    var subscriptions: SCTPEventTypes = []
    var defaultSendInfo = SCTPSendInfo()
    var nonBlocking = false
    var linger: Duration?
    var receiveTimeout: Duration?
    /// `SCTP_RECVNXTINFO`: reads describe what follows them.
    var receiveNextInfo = false
    /// `SCTP_FRAGMENT_INTERLEAVE` (RFC 6458 §8.1.20): 0, 1 (the default) or 2.
    var fragmentInterleave = 1
    var remoteUDPPort: Int?
    /// `SCTP_REUSE_PORT`: the port may be shared with other sockets that set it (at bind).
    var reusePort = false
    /// `SCTP_DISABLE_FRAGMENTS`: messages above the fragmentation point fail with EMSGSIZE.
    var disableFragments = false
    /// `SCTP_EXPLICIT_EOR`: sends build messages, which `.endOfRecord` completes.
    var explicitEOR = false
    /// With `explicitEOR`: the message being built on each association (entries go with
    /// their association, and with the socket on close).
    var partialRecords: [AssociationID: PartialRecord] = [:]
    /// `SCTP_CONTEXT`: the context of sends whose info gives none, per association (entries
    /// go with their association) and for the others.
    var associationContexts: [AssociationID: UInt32] = [:]
    var defaultContext: UInt32 = 0
    /// One-to-one: the socket's association. One-to-many: unused.
    var association: AssociationID?
    /// One-to-one: why the association was lost (ABORT, retransmissions exhausted), reported
    /// once by the next send.
    var lostError: SCTPError?
    /// One-to-many: the associations of the socket. Changed on the loop only; read on the
    /// loop, and off it by the calls that need not wait for the loop (an abort).
    let associations = SocketAssociations()
    var inbox: Deque<Inbound> = []
    var receiveWaiters: Deque<(maxLength: Int, promise: EventLoopPromise<SCTPReceived?>, tag: UInt64?)> = []
    var acceptQueue: Deque<SCTPSocket> = []
    var acceptWaiters: Deque<EventLoopPromise<SCTPSocket>> = []
    var backlog = 0
    /// The threads blocked in a call on this socket (any thread), for `interruptBlockedCalls`.
    let blockedCalls = NIOLockedValueBox<[ObjectIdentifier: BlockingWakeup]>([:])
    /// Called on the loop after the socket took an event of its endpoint (something to read
    /// or accept, or the association's end): how an `NIOSCTP` channel learns there is work,
    /// since it reads without waiting (`receiveNowOnLoop`, `acceptNowOnLoop`).
    package var activityHandler: (() -> Void)?

    enum Inbound {
        case message(ReceivedMessage, id: AssociationID, offset: Int)
        case notification(SCTPNotification)
    }

    /// A new, unbound socket on `stack`. On a carrier stack its INITs follow the WebRTC
    /// profile (`SCTPSocketOption.initProfile`).
    public init(family: Family = .ipv4, style: Style = .oneToOne, stack: SCTPStack = .shared) {
        self.family = family
        self.style = style
        self.stack = stack
        if stack.isCarrier { configuration.initProfile = .webRTC }
    }

    /// A socket for an association of `parent`'s endpoint (accept, peeloff).
    init(child id: AssociationID, of parent: SCTPSocket) {
        family = parent.family
        style = .oneToOne
        stack = parent.stack
        driver = parent.driver
        driver?.addUser()
        configuration = parent.configuration
        subscriptions = parent.subscriptions
        defaultSendInfo = parent.defaultSendInfo
        linger = parent.linger
        receiveTimeout = parent.receiveTimeout
        remoteUDPPort = parent.remoteUDPPort
        reusePort = parent.reusePort
        receiveNextInfo = parent.receiveNextInfo
        fragmentInterleave = parent.fragmentInterleave
        disableFragments = parent.disableFragments
        explicitEOR = parent.explicitEOR
        defaultContext = parent.defaultContext
        if let context = parent.associationContexts[id] { associationContexts[id] = context }
        association = id
        phase = .connected
        parent.driver?.route(id, to: self)
    }

    /// Runs `body` on the loop and waits for it.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws(SCTPError) -> T {
        do {
            return try eventLoop.submit(body).wait()
        } catch {
            throw EndpointDriver.map(error)
        }
    }

    /// Runs `body` on the loop and waits for the future it returns.
    func onLoopWaiting<T: Sendable>(_ body: @escaping @Sendable () -> EventLoopFuture<T>) throws(SCTPError) -> T {
        do {
            return try eventLoop.flatSubmit(body).wait()
        } catch {
            throw EndpointDriver.map(error)
        }
    }

    // MARK: Addresses

    /// The IP addresses of `addresses`, checked against the socket's family; the port they share.
    func ipAddresses(_ addresses: [SocketAddress], allowPortZero: Bool) throws(SCTPError) -> ([IPAddress], UInt16) {
        guard !addresses.isEmpty else { throw SCTPError(.invalidArgument, "no address given") }
        var result: [IPAddress] = []
        var port: Int?
        for address in addresses {
            switch address {
            case .v4:
                break
            case .v6:
                guard family == .ipv6 else {
                    throw SCTPError(.addressFamilyNotSupported, "an IPv6 address on an IPv4 socket: \(address)")
                }
            default:
                throw SCTPError(.addressFamilyNotSupported, "not an IP address: \(address)")
            }
            guard let ip = IPAddress(address), let addressPort = address.port else {
                throw SCTPError(.addressFamilyNotSupported, "not an IP address: \(address)")
            }
            if let port, port != addressPort {
                throw SCTPError(.invalidArgument, "the addresses do not share one port (\(port) and \(addressPort))")
            }
            port = addressPort
            if !result.contains(ip) { result.append(ip) }
        }
        guard let port, (allowPortZero || port != 0), let sctpPort = UInt16(exactly: port) else {
            throw SCTPError(.invalidArgument, "port 0 is not a valid peer port")
        }
        return (result, sctpPort)
    }

    /// Socket addresses for `addresses` on `port`, in the socket's family's shape.
    func socketAddresses(_ addresses: [IPAddress], port: UInt16) -> [SocketAddress] {
        addresses.compactMap { try? $0.socketAddress(port: Int(port)) }
    }

    // MARK: bind, bindx, listen

    /// Binds the socket to local addresses sharing one port (`bind`, or `bindx` with
    /// `SCTP_BINDX_ADD_ADDR` on an unbound socket). Port 0 picks a free one. Use explicit
    /// addresses: the wildcard lists every interface address of the machine to peers.
    public func bind(_ addresses: [SocketAddress]) throws(SCTPError) {
        let (ips, port) = try ipAddresses(addresses, allowPortZero: true)
        try onLoopWaiting { [self] in bindOnLoop(ips, port: port) }
    }

    /// `bind` for one address.
    public func bind(_ address: SocketAddress) throws(SCTPError) { try bind([address]) }

    /// What `bindx` does (RFC 6458 §9.1).
    public enum BindxOperation: Sendable { case add, remove }

    /// Adds addresses to, or removes them from, the socket's bound set (`sctp_bindx`). On an
    /// unbound socket `.add` binds. Changes apply to associations set up afterwards, and
    /// (RFC 6458 §9.1) to the live associations that negotiated address reconfiguration
    /// (ASCONF, RFC 5061, `SCTP_ASCONF_SUPPORTED`) while `SCTP_AUTO_ASCONF` is on: their peer
    /// is asked to add or delete the addresses. A removed address is no longer used as a
    /// source at once. Removing every address: EINVAL. All or nothing: when an association
    /// cannot queue its address changes, nothing changes and the call fails with EWOULDBLOCK
    /// (try again once the peer answered), or EINVAL for more than 16 changes at once.
    public func bindx(_ addresses: [SocketAddress], _ operation: BindxOperation) throws(SCTPError) {
        let (ips, port) = try ipAddresses(addresses, allowPortZero: true)
        try onLoopWaiting { [self] () -> EventLoopFuture<Void> in
            guard phase != .closed else { return eventLoop.makeFailedFuture(SCTPError(.badFileDescriptor, "the socket is closed")) }
            guard let driver else {
                if operation == .remove { return eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "the socket is not bound")) }
                return bindOnLoop(ips, port: port)
            }
            if port != 0 && port != driver.localPort {
                return eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "bindx must use the bound port \(driver.localPort)"))
            }
            switch operation {
            case .add:
                let added = ips.filter { !driver.localAddresses.contains($0) }
                if let clash = stack.conflict(port: driver.localPort, addresses: added, reusing: driver.reusesPort) {
                    return eventLoop.makeFailedFuture(SCTPError(.addressInUse, "SCTP port \(driver.localPort) is in use on \(clash)"))
                }
                // A listener sharing the port may not add an address another listener has.
                if reusePort, phase == .listening, stack.otherListener(than: driver, on: added) {
                    return eventLoop.makeFailedFuture(SCTPError(.addressInUse,
                        "another socket listens on port \(driver.localPort) at one of these addresses (SCTP_REUSE_PORT: at most one may)"))
                }
                // The endpoint announces them to its associations (ASCONF, RFC 5061).
                return stack.open(added).flatMapThrowing { try driver.addLocalAddresses(added) }
            case .remove:
                let remaining = driver.localAddresses.filter { !ips.contains($0) }
                guard !remaining.isEmpty else {
                    return eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "cannot remove every bound address"))
                }
                do {
                    try driver.removeLocalAddresses(ips)
                } catch {
                    return eventLoop.makeFailedFuture(error)
                }
                return eventLoop.makeSucceededVoidFuture()
            }
        }
    }

    func bindOnLoop(_ requested: [IPAddress], port requestedPort: UInt16) -> EventLoopFuture<Void> {
        guard phase != .closed else { return eventLoop.makeFailedFuture(SCTPError(.badFileDescriptor, "the socket is closed")) }
        guard driver == nil else { return eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "the socket is bound already")) }
        var addresses = requested
        if addresses.contains(where: \.isUnspecified) {
            addresses = Self.interfaceAddresses(ipv6: family == .ipv6)
            if addresses.isEmpty {
                return eventLoop.makeFailedFuture(SCTPError(.addressNotAvailable, "no interface address to bind"))
            }
        }
        let port: UInt16
        do {
            if requestedPort == 0 {
                port = try stack.ephemeralPort(for: addresses)
            } else {
                if let clash = stack.conflict(port: requestedPort, addresses: addresses, reusing: reusePort) {
                    throw SCTPError(.addressInUse, "SCTP port \(requestedPort) is in use on \(clash)")
                }
                port = requestedPort
            }
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let chosen = addresses
        return stack.open(chosen).flatMapThrowing { [self] in
            guard phase != .closed, driver == nil else { throw SCTPError(.badFileDescriptor, "the socket was closed") }
            let driver = EndpointDriver(stack: stack, configuration: configuration, port: port, addresses: chosen,
                                        acceptsAssociations: false, reusesPort: reusePort)
            try stack.register(driver)
            driver.defaultSink = self
            driver.remoteUDPPort = remoteUDPPort
            driver.addUser()
            self.driver = driver
            phase = .bound
        }
    }

    /// This machine's addresses of a family (what a wildcard bind stands for).
    static func interfaceAddresses(ipv6: Bool) -> [IPAddress] {
        guard let devices = try? System.enumerateDevices() else { return [] }
        var result: [IPAddress] = []
        for device in devices {
            guard let address = device.address, let ip = IPAddress(address) else { continue }
            if ip.isIPv4 || ipv6, !result.contains(ip) { result.append(ip) }
        }
        return result
    }

    /// Lets the socket accept associations (`listen`). On a one-to-one socket `accept` then
    /// returns one socket per association, at most `backlog` waiting; on a one-to-many socket
    /// inbound associations join the socket (`backlog` 0 stops accepting).
    public func listen(backlog: Int = 128) throws(SCTPError) {
        try onLoop { [self] in try listenOnLoop(backlog: backlog) }
    }

    /// `listen` on the loop.
    package func listenOnLoop(backlog: Int) throws(SCTPError) {
        switch phase {
        case .closed: throw SCTPError(.badFileDescriptor, "the socket is closed")
        case .connecting, .connected, .disconnected:
            throw SCTPError(.invalidArgument, "a connected socket cannot listen")
        case .open: throw SCTPError(.invalidArgument, "bind the socket before listen")
        case .bound, .listening: break
        }
        guard let driver else { throw SCTPError(.invalidArgument, "bind the socket before listen") }
        // RFC 6458 §8.1.27: of the sockets sharing a port (SCTP_REUSE_PORT), one listens.
        if reusePort, phase != .listening, driver.stack.otherListener(than: driver, on: driver.localAddresses) {
            throw SCTPError(.addressInUse, "another socket listens on port \(driver.localPort) (SCTP_REUSE_PORT: at most one may)")
        }
        self.backlog = max(backlog, style == .oneToOne ? 1 : 0)
        driver.acceptsAssociations = style == .oneToOne || backlog > 0
        if style == .oneToOne { phase = .listening }
    }

    /// The next association of a listening one-to-one socket, as its own socket (`accept`).
    public func accept() throws(SCTPError) -> SCTPSocket {
        let box = AcceptBox()
        return try onLoopInterruptible(.cancel { [self] in
            acceptWaiters.removeAll { waiter in
                guard waiter.futureResult === box.future else { return false }
                waiter.fail(SCTPError(.interrupted, "accept was interrupted"))
                return true
            }
        }) { [self] in
            let future = acceptOnLoop()
            box.future = future
            return future
        }
    }

    /// The future of an accept, for taking it back (set and read on the loop).
    final class AcceptBox: @unchecked Sendable {
        var future: EventLoopFuture<SCTPSocket>?
    }

    func acceptOnLoop() -> EventLoopFuture<SCTPSocket> {
        guard phase != .closed else { return eventLoop.makeFailedFuture(SCTPError(.badFileDescriptor, "the socket is closed")) }
        guard style == .oneToOne else {
            return eventLoop.makeFailedFuture(SCTPError(.notSupported, "accept on a one-to-many socket; use recvmsg or peeloff"))
        }
        guard phase == .listening else { return eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "the socket is not listening")) }
        if let next = acceptQueue.popFirst() { return eventLoop.makeSucceededFuture(next) }
        if nonBlocking { return eventLoop.makeFailedFuture(SCTPError(.wouldBlock, "no association waits to be accepted")) }
        let promise = eventLoop.makePromise(of: SCTPSocket.self)
        acceptWaiters.append(promise)
        if let timeout = receiveTimeout {
            eventLoop.scheduleTask(in: .nanoseconds(timeout.nanosecondsClamped)) { [self] in
                let before = acceptWaiters.count
                acceptWaiters.removeAll { $0.futureResult === promise.futureResult }
                if acceptWaiters.count < before { promise.fail(SCTPError(.wouldBlock, "the receive timeout passed")) }
            }
        }
        return promise.futureResult
    }

    // MARK: connectx

    /// Sets up an association to a peer reachable at `addresses` (the seed's `sctp_connectx`).
    ///
    /// The addresses must share one port. The first INIT goes to the first address; each
    /// T1 expiry moves to the next, round robin. Every address counts as a confirmed path;
    /// the ones the peer does not list in INIT ACK are dropped (`getpaddrs` tells the real
    /// set). Blocking: returns the association id once the association is up, or throws
    /// ECONNREFUSED / ETIMEDOUT. Non-blocking: returns the id at once; completion shows as an
    /// association change notification. An unbound socket is bound first (to the loopback
    /// address when every peer address is loopback, else to the interface addresses).
    @discardableResult
    public func connectx(_ addresses: [SocketAddress]) throws(SCTPError) -> AssociationID {
        let (peers, port) = try ipAddresses(addresses, allowPortZero: false)
        // One trip to the loop and one wait: the start, the non-blocking flag and, blocking,
        // the association coming up (each extra trip is a wake-up of the loop and of us).
        return try onLoopInterruptible(.abandon) { [self] in
            startConnect(peers, port: port).flatMap { [self] id, completion in
                nonBlocking ? eventLoop.makeSucceededFuture(id) : completion
            }
        }
    }

    /// `connectx` for a task: the same, except that cancelling the task makes it throw EINTR
    /// while the attempt goes on (completion shows as a notification), as the seed says.
    @discardableResult
    public func connectx(_ addresses: [SocketAddress]) async throws(SCTPError) -> AssociationID {
        let (peers, port) = try ipAddresses(addresses, allowPortZero: false)
        let started: (AssociationID, EventLoopFuture<AssociationID>)
        do {
            started = try await eventLoop.flatSubmit { [self] in startConnect(peers, port: port) }.get()
        } catch {
            throw EndpointDriver.map(error)
        }
        let (id, completion) = started
        if nonBlockingSnapshot { return id }
        let interrupted = eventLoop.makePromise(of: AssociationID.self)
        completion.cascade(to: interrupted)
        do {
            return try await withTaskCancellationHandler {
                try await interrupted.futureResult.get()
            } onCancel: {
                interrupted.fail(SCTPError(.interrupted, "connectx was interrupted; the association attempt goes on"))
            }
        } catch {
            throw EndpointDriver.map(error)
        }
    }

    /// `connectx` to one address (`connect`).
    @discardableResult
    public func connect(_ address: SocketAddress) throws(SCTPError) -> AssociationID { try connectx([address]) }

    private var nonBlockingSnapshot: Bool { (try? onLoop { [self] in nonBlocking }) ?? false }

    func startConnect(_ peers: [IPAddress], port: UInt16) -> EventLoopFuture<(AssociationID, EventLoopFuture<AssociationID>)> {
        switch phase {
        case .closed:
            return eventLoop.makeFailedFuture(SCTPError(.badFileDescriptor, "the socket is closed"))
        case .listening:
            return eventLoop.makeFailedFuture(SCTPError(.notSupported, "connectx on a listening one-to-one socket"))
        case .connecting:
            return eventLoop.makeFailedFuture(SCTPError(.alreadyInProcess, "an association is being set up on this socket"))
        case .connected, .disconnected:
            return eventLoop.makeFailedFuture(SCTPError(.socketIsConnected, "the socket has its association already"))
        case .open, .bound:
            break
        }
        let bound: EventLoopFuture<Void>
        if driver == nil {
            let loopback = peers.allSatisfy(\.isLoopback)
            let local: IPAddress = loopback
                ? (peers.contains(where: \.isIPv4) ? .v4(IPv4Address(127, 0, 0, 1)) : .v6(.loopback))
                : .v4(IPv4Address(rawValue: 0))
            bound = bindOnLoop([local], port: 0)
        } else {
            bound = eventLoop.makeSucceededVoidFuture()
        }
        return bound.flatMapThrowing { [self] in
            guard let driver, phase != .closed else { throw SCTPError(.badFileDescriptor, "the socket is closed") }
            if style == .oneToOne && phase != .bound {
                throw SCTPError(.alreadyInProcess, "an association is being set up on this socket")
            }
            // The seed's EADDRNOTAVAIL: no local address of any peer address's family (an INIT
            // could never leave; the attempt would only time out). Not for a carrier, whose
            // addresses are labels.
            let local = driver.localAddresses
            if !stack.isCarrier, !local.isEmpty, !peers.contains(where: { peer in local.contains { $0.isIPv4 == peer.isIPv4 } }) {
                throw SCTPError(.addressNotAvailable, "no local address of the peers' family (local \(local), peers \(peers))")
            }
            // Sockets sharing a port (SCTP_REUSE_PORT) cannot both have an association with one
            // peer: its packets could not tell them apart.
            if driver.reusesPort, stack.otherEndpoint(than: driver, hasAssociationWith: peers, port: port) {
                throw SCTPError(.addressNotAvailable, "another socket on SCTP port \(driver.localPort) has an association with \(peers)")
            }
            driver.configuration = configuration
            let (id, completion) = try driver.connect(to: peers, port: port)
            if style == .oneToOne {
                association = id
                phase = .connecting
            } else {
                associations.insert(id)
            }
            return (id, completion)
        }
    }

    // MARK: Addresses of associations

    /// The peer's addresses of an association (`sctp_getpaddrs`), with the peer's port. On a
    /// one-to-one socket `association` may be omitted.
    public func getpaddrs(_ association: AssociationID? = nil) throws(SCTPError) -> [SocketAddress] {
        try onLoop { [self] in
            let (driver, id) = try resolve(association)
            guard let port = driver.peerPort(of: id) else { throw SCTPError(.invalidArgument, "no such association") }
            return socketAddresses(driver.peerAddresses(of: id).map(\.address), port: port)
        }
    }

    /// The socket's local addresses (`sctp_getladdrs`), with its port; empty when unbound.
    public func getladdrs(_ association: AssociationID? = nil) throws(SCTPError) -> [SocketAddress] {
        try onLoop { [self] in
            guard phase != .closed else { throw SCTPError(.badFileDescriptor, "the socket is closed") }
            guard let driver else { return [] }
            return socketAddresses(driver.localAddresses, port: driver.localPort)
        }
    }

    /// The socket's SCTP port, once bound.
    public var localPort: UInt16? { try? onLoop { [self] in driver?.localPort } }

    /// The associations of the socket: its one on a one-to-one socket, all on a one-to-many.
    public var associationIDs: [AssociationID] {
        (try? onLoop { [self] in ownAssociations }) ?? []
    }

    /// The driver and association a per-association call is about (on the loop).
    func resolve(_ requested: AssociationID?) throws(SCTPError) -> (EndpointDriver, AssociationID) {
        guard phase != .closed else { throw SCTPError(.badFileDescriptor, "the socket is closed") }
        guard let driver else { throw SCTPError(.socketNotConnected, "the socket has no association") }
        switch style {
        case .oneToOne:
            guard let association else { throw SCTPError(.socketNotConnected, "the socket has no association") }
            if let requested, requested != association { throw SCTPError(.invalidArgument, "not this socket's association") }
            return (driver, association)
        case .oneToMany:
            guard let requested else { throw SCTPError(.invalidArgument, "a one-to-many socket needs an association id") }
            guard associations.contains(requested) else { throw SCTPError(.invalidArgument, "no such association: \(requested)") }
            return (driver, requested)
        }
    }

    // MARK: peeloff

    /// Moves an association of a one-to-many socket to a new one-to-one socket (`sctp_peeloff`).
    /// Data and notifications of it not read yet move with it.
    public func peeloff(_ id: AssociationID) throws(SCTPError) -> SCTPSocket {
        try onLoop { [self] in try peeloffOnLoop(id) }
    }

    /// `peeloff` on the loop.
    func peeloffOnLoop(_ id: AssociationID) throws(SCTPError) -> SCTPSocket {
        guard phase != .closed else { throw SCTPError(.badFileDescriptor, "the socket is closed") }
        guard style == .oneToMany else { throw SCTPError(.notSupported, "peeloff needs a one-to-many socket") }
        // An abort claimed before this call reached the loop has the association: it is
        // gone for this call, as if the abort had run first.
        guard associations.contains(id), !associations.isAborting(id) else {
            throw SCTPError(.invalidArgument, "no such association: \(id)")
        }
        associations.remove(id)
        let child = SCTPSocket(child: id, of: self)
        associationContexts[id] = nil
        child.partialRecords[id] = partialRecords.removeValue(forKey: id)
        inbox.removeAll { item in
            let belongs: Bool = switch item {
            case .message(_, let owner, _): owner == id
            case .notification(let notification): notification.associationID == id
            }
            if belongs { child.inbox.append(item) }
            return belongs
        }
        return child
    }

    // MARK: shutdown and close

    /// Starts a graceful shutdown of a one-to-one socket's association (`shutdown(SHUT_WR)`):
    /// what was sent is still delivered; `recvmsg` returns `nil` once it is complete.
    public func shutdown() throws(SCTPError) {
        try onLoop { [self] in try shutdownOnLoop() }
    }

    /// `shutdown` on the loop.
    package func shutdownOnLoop() throws(SCTPError) {
        guard style == .oneToOne else {
            throw SCTPError(.notSupported, "shutdown on a one-to-many socket; send with .endOfFile instead")
        }
        let (driver, id) = try resolve(nil)
        _ = driver.shutdown(id)
    }

    /// Closes the socket. Its associations are shut down gracefully in the background, or
    /// aborted when linger is set to zero; with a positive linger the call waits up to that
    /// long for the shutdowns to complete. Closing twice is harmless; any other call on a
    /// closed socket fails with EBADF.
    public func close() throws(SCTPError) {
        let lingering = try onLoop { [self] in closeOnLoop() }
        guard let (future, limit) = lingering else { return }
        let deadline = eventLoop.scheduleTask(in: .nanoseconds(Int64(limit.nanosecondsClamped))) {}
        _ = try? EventLoopFuture.whenAllComplete([future, deadline.futureResult], on: eventLoop)
            .flatMap { _ in self.eventLoop.makeSucceededVoidFuture() }.wait()
        deadline.cancel()
    }

    func closeOnLoop() -> (EventLoopFuture<Void>, Duration)? {
        guard phase != .closed else { return nil }
        // Aborts claimed before this close reached the loop are carried out first: those
        // associations end as their callers were told.
        let aborts = associations.takeAllAborts()
        if let driver {
            for (id, reason) in aborts { try? driver.abort(id, reason: reason.readableBytes > 0 ? reason : nil) }
        }
        let owned: [AssociationID] = style == .oneToOne ? association.map { [$0] } ?? [] : associations.all
        let wasListening = phase == .listening
        phase = .closed
        associations.close()
        activityHandler = nil
        let error = SCTPError(.badFileDescriptor, "the socket was closed")
        while let waiter = receiveWaiters.popFirst() { waiter.promise.fail(error) }
        while let waiter = acceptWaiters.popFirst() { waiter.fail(error) }
        inbox.removeAll()
        partialRecords.removeAll()
        guard let driver else { return nil }
        if wasListening || style == .oneToMany { driver.acceptsAssociations = false }
        // Associations nobody accepted go with the listener.
        while let pending = acceptQueue.popFirst() { _ = pending.closeOnLoop() }
        var shutdowns: [EventLoopFuture<Void>] = []
        for id in owned where driver.state(of: id) != nil {
            driver.stopRouting(id, to: self)
            if linger == .zero {
                try? driver.abort(id)
            } else {
                shutdowns.append(driver.shutdown(id).flatMapErrorThrowing { _ in })
            }
        }
        driver.resignDefaultSink(self)
        self.driver = nil
        let done = EventLoopFuture.andAllComplete(shutdowns, on: eventLoop)
        done.whenComplete { _ in driver.removeUser() }
        guard let linger, linger > .zero, !shutdowns.isEmpty else { return nil }
        return (done, linger)
    }

    deinit {
        // A socket dropped without close: its endpoint must not outlive every user.
        guard let driver, phase != .closed else { return }
        let loop = eventLoop
        let endpointDriver = driver
        loop.execute { endpointDriver.removeUser() }
    }
}

/// The associations of a one-to-many socket, behind a lock: the loop changes and reads them;
/// a thread may read them without a trip to the loop (`SCTPSocket.sendmsg` with `.abort`).
/// It also records that the socket was closed, and the aborts claimed by threads whose loop
/// task has not run yet: a call that reaches the loop before that task (a peeloff, a close
/// from another thread) finds the association aborting, as if the abort had run first.
final class SocketAssociations: @unchecked Sendable {
    private let lock = NIOLock()
    private var ids: Set<AssociationID> = []
    private var closed = false
    /// Aborts claimed off the loop and not carried out yet, with their reason.
    private var aborting: [AssociationID: ByteBuffer] = [:]

    func insert(_ id: AssociationID) { lock.withLock { _ = ids.insert(id) } }

    func remove(_ id: AssociationID) { lock.withLock { _ = ids.remove(id) } }

    func contains(_ id: AssociationID) -> Bool { lock.withLock { ids.contains(id) } }

    /// The ids, in no particular order.
    var all: [AssociationID] { lock.withLock { Array(ids) } }

    /// The ids in increasing order.
    var sorted: [AssociationID] { all.sorted { $0.rawValue < $1.rawValue } }

    /// The first id (in no particular order) for which `predicate` holds, without copying
    /// the set. `predicate` runs under the lock: it must not use this set.
    func first(where predicate: (AssociationID) -> Bool) -> AssociationID? { lock.withLock { ids.first(where: predicate) } }

    /// The socket was closed: `isOpen(with:)` answers false from now on.
    func close() { lock.withLock { closed = true } }

    /// Claims the abort of `id` with `reason` when the socket is open and has it: from now
    /// on the association counts as aborting (`isAborting`) until `takeAbort`.
    func claimAbort(_ id: AssociationID, reason: ByteBuffer) -> Bool {
        lock.withLock {
            guard !closed && ids.contains(id) else { return false }
            if aborting[id] == nil { aborting[id] = reason }
            return true
        }
    }

    /// Whether a claimed abort of `id` waits to be carried out.
    func isAborting(_ id: AssociationID) -> Bool { lock.withLock { aborting[id] != nil } }

    /// The reason of a claimed abort of `id`, which the caller now carries out; nil when
    /// there is none (carried out already).
    func takeAbort(_ id: AssociationID) -> ByteBuffer? { lock.withLock { aborting.removeValue(forKey: id) } }

    /// Every claimed abort, which the caller now carries out.
    func takeAllAborts() -> [(AssociationID, ByteBuffer)] {
        lock.withLock {
            defer { aborting = [:] }
            return aborting.sorted { $0.key.rawValue < $1.key.rawValue }.map { ($0.key, $0.value) }
        }
    }
}
