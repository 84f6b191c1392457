import SCTPCore
import SCTPWire

/// The SCTP endpoints of a stack by SCTP port (and local address): which endpoint an
/// arriving packet goes to, which ports are taken. A packet goes to the endpoint of its
/// destination port bound to the address it arrived on, else to the port's first endpoint,
/// as the kernel picks SCTP sockets. Used on the stack's event loop only.
struct EndpointTable {
    private var drivers: [UInt16: [EndpointDriver]] = [:]
    /// The endpoint the last packet went to, by its destination port and local address: runs
    /// of packets for one endpoint skip the look-ups (cleared when endpoints come or go).
    private var last: (port: UInt16, local: IPAddress, driver: EndpointDriver)?

    /// Adds an endpoint under its port; EADDRINUSE if another has that port on one of its addresses.
    mutating func insert(_ driver: EndpointDriver) throws(SCTPError) {
        if let clash = conflict(port: driver.localPort, addresses: driver.localAddresses) {
            throw SCTPError(.addressInUse, "SCTP port \(driver.localPort) is in use on \(clash)")
        }
        drivers[driver.localPort, default: []].append(driver)
        last = nil
    }

    mutating func remove(_ driver: EndpointDriver) {
        last = nil
        drivers[driver.localPort]?.removeAll { $0 === driver }
        if drivers[driver.localPort]?.isEmpty ?? false { drivers[driver.localPort] = nil }
    }

    /// Every endpoint; the table is empty afterwards.
    mutating func removeAll() -> [EndpointDriver] {
        let all = drivers.values.flatMap { $0 }
        drivers.removeAll()
        last = nil
        return all
    }

    /// Every endpoint driver (for reports that name no port).
    var all: [EndpointDriver] { drivers.values.flatMap { $0 } }

    /// The endpoint a packet to `port` that arrived on `local` goes to, if any.
    mutating func driver(port: UInt16, local: IPAddress) -> EndpointDriver? {
        if let last, last.port == port, last.local == local { return last.driver }
        guard let candidates = drivers[port],
              let driver = candidates.first(where: { $0.localAddresses.contains(local) }) ?? candidates.first else { return nil }
        last = (port, local, driver)
        return driver
    }

    /// An address of `addresses` on which `port` is taken, if any.
    func conflict(port: UInt16, addresses: [IPAddress]) -> IPAddress? {
        for other in drivers[port] ?? [] {
            if let shared = other.localAddresses.first(where: addresses.contains) { return shared }
        }
        return nil
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
