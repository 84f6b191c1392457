import NIOCore
import SCTPCore
import SCTPWire

/// The SCTP endpoints of a stack by SCTP port (and local address): which endpoint an
/// arriving packet goes to, which ports are taken. A packet goes to the endpoint of its
/// destination port bound to the address it arrived on, else to the port's first endpoint,
/// as the kernel picks SCTP sockets. Used on the stack's event loop only.
///
/// Endpoints that all set `SCTP_REUSE_PORT` may share a port on the same addresses. A packet
/// to such a port goes to the endpoint that has its association (by the verification tag,
/// else by the sender's transport address); a new association's INIT to the port's
/// listening endpoint, and its COOKIE ECHO to the one whose secret made the cookie. At most
/// one of them listens on an address (`SCTPSocket` enforces it at listen and bindx, RFC 6458
/// §8.1.27); several listeners meet only where a packet arrives on an address none is
/// bound to, and then take INITs in turn.
struct EndpointTable {
    private var drivers: [UInt16: [EndpointDriver]] = [:]
    /// Ports with several endpoints that set `SCTP_REUSE_PORT`: packets there are demultiplexed
    /// by association (`sharedOwner`). Other ports keep the one look-up per packet.
    private var sharedPorts: Set<UInt16> = []
    /// Per shared port, how many INITs went to a listening endpoint (the next one takes the next).
    private var initCounts: [UInt16: Int] = [:]
    /// The endpoint the last packet went to, by its destination port and local address: runs
    /// of packets for one endpoint skip the look-ups (cleared when endpoints come or go; never
    /// set for a shared port, whose packets may be for any of its endpoints).
    private var last: (port: UInt16, local: IPAddress, driver: EndpointDriver)?

    /// Adds an endpoint under its port; EADDRINUSE if another has that port on one of its
    /// addresses, unless both set `SCTP_REUSE_PORT`.
    mutating func insert(_ driver: EndpointDriver) throws(SCTPError) {
        if let clash = conflict(port: driver.localPort, addresses: driver.localAddresses, reusing: driver.reusesPort) {
            throw SCTPError(.addressInUse, "SCTP port \(driver.localPort) is in use on \(clash)")
        }
        drivers[driver.localPort, default: []].append(driver)
        updateSharing(of: driver.localPort)
        last = nil
    }

    mutating func remove(_ driver: EndpointDriver) {
        last = nil
        drivers[driver.localPort]?.removeAll { $0 === driver }
        if drivers[driver.localPort]?.isEmpty ?? false { drivers[driver.localPort] = nil }
        updateSharing(of: driver.localPort)
    }

    private mutating func updateSharing(of port: UInt16) {
        if (drivers[port]?.lazy.filter(\.reusesPort).count ?? 0) > 1 {
            sharedPorts.insert(port)
        } else {
            sharedPorts.remove(port)
            initCounts[port] = nil
        }
    }

    /// Every endpoint; the table is empty afterwards.
    mutating func removeAll() -> [EndpointDriver] {
        let all = drivers.values.flatMap { $0 }
        drivers.removeAll()
        sharedPorts.removeAll()
        initCounts.removeAll()
        last = nil
        return all
    }

    /// Every endpoint driver (for reports that name no port).
    var all: [EndpointDriver] { drivers.values.flatMap { $0 } }

    /// The endpoint `datagram` (an SCTP packet to `port` from `source`, that arrived on
    /// `local`) goes to, if any.
    mutating func driver(port: UInt16, local: IPAddress, datagram: ByteBuffer, source: IPAddress) -> EndpointDriver? {
        if let last, last.port == port, last.local == local { return last.driver }
        guard let candidates = drivers[port] else { return nil }
        if candidates.count > 1, sharedPorts.contains(port) {
            return sharedOwner(candidates, port: port, local: local, datagram: datagram, source: source)
        }
        guard let driver = candidates.first(where: { $0.localAddresses.contains(local) }) ?? candidates.first else { return nil }
        last = (port, local, driver)
        return driver
    }

    /// The endpoint of `port` (that arrived on `local`) with an association to `peer`:`peerPort`
    /// (the port's only endpoint for the address where it is not shared), for a Packet Too Big
    /// that quotes a packet of ours.
    func driver(port: UInt16, local: IPAddress, peer: IPAddress, peerPort: UInt16) -> EndpointDriver? {
        guard let candidates = drivers[port] else { return nil }
        if candidates.count > 1, sharedPorts.contains(port) {
            return candidates.first { $0.hasAssociation(peer: peer, port: peerPort) }
        }
        return candidates.first(where: { $0.localAddresses.contains(local) }) ?? candidates.first
    }

    /// The endpoint of a shared port a packet belongs to: among those bound to `local` (all
    /// of the port's when none is), the one with the packet's association, by its tag or else
    /// by the sender's transport address; for a new association's INIT the next listening
    /// one; for its COOKIE ECHO the listening one that made the cookie. Anything else (out of
    /// the blue) goes to the first, which answers as RFC 9260 §8.4 says.
    private mutating func sharedOwner(_ candidates: [EndpointDriver], port: UInt16, local: IPAddress,
                                      datagram: ByteBuffer, source: IPAddress) -> EndpointDriver? {
        let start = datagram.readerIndex
        guard let sourcePort = datagram.getInteger(at: start, as: UInt16.self),
              let tag = datagram.getInteger(at: start + 4, as: UInt32.self) else { return nil }
        let anyBound = candidates.contains { $0.localAddresses.contains(local) }
        func eligible(_ driver: EndpointDriver) -> Bool { !anyBound || driver.localAddresses.contains(local) }
        if tag != 0, let owner = candidates.first(where: { eligible($0) && $0.hasAssociation(localTag: tag, peerPort: sourcePort) }) {
            return owner
        }
        if let owner = candidates.first(where: { eligible($0) && $0.hasAssociation(peer: source, port: sourcePort) }) {
            return owner
        }
        let listeners = candidates.filter { eligible($0) && $0.acceptsAssociations }
        guard !listeners.isEmpty else { return candidates.first(where: eligible) }
        switch datagram.getInteger(at: start + CommonHeader.size, as: UInt8.self) {
        case ChunkType.initiation:
            // The INIT ACK is stateless: a retransmitted INIT may go to another listener,
            // whose cookie then decides where the COOKIE ECHO goes.
            let count = initCounts[port, default: 0]
            initCounts[port] = count &+ 1
            return listeners[Int(UInt(bitPattern: count) % UInt(listeners.count))]
        case ChunkType.cookieEcho, ChunkType.auth:
            // One listener (the rule): no MAC to compute here, the endpoint checks the cookie.
            guard listeners.count > 1 else { return listeners[0] }
            return listeners.first { $0.madeCookie(in: datagram) } ?? listeners[0]
        default:
            return listeners[0]
        }
    }

    /// An address of `addresses` on which `port` is taken, if any: by any endpoint, or with
    /// `reusing` (`SCTP_REUSE_PORT`) by one that does not share it.
    func conflict(port: UInt16, addresses: [IPAddress], reusing: Bool = false) -> IPAddress? {
        for other in drivers[port] ?? [] where !(reusing && other.reusesPort) {
            if let shared = other.localAddresses.first(where: addresses.contains) { return shared }
        }
        return nil
    }

    /// Whether an endpoint other than `driver` accepts associations on its port and one of
    /// `addresses` (RFC 6458 §8.1.27: of the sockets sharing a port, at most one listens).
    func otherListener(than driver: EndpointDriver, on addresses: [IPAddress]) -> Bool {
        (drivers[driver.localPort] ?? []).contains { other in
            other !== driver && other.acceptsAssociations && other.localAddresses.contains(where: addresses.contains)
        }
    }

    /// Whether an endpoint other than `driver` on its port has a live association with one of
    /// `peers` at `port`.
    func otherEndpoint(than driver: EndpointDriver, hasAssociationWith peers: [IPAddress], port: UInt16) -> Bool {
        guard let candidates = drivers[driver.localPort], candidates.count > 1 else { return false }
        return candidates.contains { other in
            other !== driver && peers.contains { other.hasAssociation(peer: $0, port: port) }
        }
    }

    /// A free SCTP port (from the dynamic range) for `addresses`.
    func ephemeralPort(for addresses: [IPAddress]) throws(SCTPError) -> UInt16 {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<64 {
            let port = UInt16.random(in: 49152...65535, using: &generator)
            if conflict(port: port, addresses: addresses) == nil { return port }
        }
        for port in UInt16(49152)...UInt16(65535) where conflict(port: port, addresses: addresses) == nil { return port }
        throw SCTPError(.addressInUse, "no free SCTP port")
    }
}
