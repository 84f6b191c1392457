import SCTPWire

/// Chooses the local address a packet leaves from, among the sending endpoint's addresses
/// that are open on the stack's transport:
/// 1. the core's choice, if it made one and that address is open;
/// 2. the only candidate of the destination's family, when there is one (most endpoints);
/// 3. the candidate the kernel's routing table uses toward the destination (so that a
///    multi-homed peer's answers come back over the same path), looked up once per
///    destination and cached; not for carriers, whose addresses are labels;
/// 4. else the candidate sharing the longest prefix with the destination.
///
/// Used on the stack's event loop only.
struct SourceAddressSelection {
    /// Whether the kernel's routing table says where packets go (UDP and raw IP, not a carrier).
    let usesKernelRoutes: Bool
    /// The routing table: which local address it uses toward a destination (`RouteLookup`;
    /// tests give a table of their own).
    private let lookUpRoute: (IPAddress) -> IPAddress?
    /// Route lookups, per destination (bounded: cleared when it reaches `routeCacheLimit`).
    private var routeCache: [IPAddress: IPAddress?] = [:]
    static let routeCacheLimit = 4096

    init(usesKernelRoutes: Bool, lookUpRoute: @escaping (IPAddress) -> IPAddress? = RouteLookup.source(toward:)) {
        self.usesKernelRoutes = usesKernelRoutes
        self.lookUpRoute = lookUpRoute
    }

    /// The source for a packet to `destination` from one of `localAddresses`; `chosen` is
    /// the core's choice, `isOpen` tells which addresses the transport has open. `nil` when
    /// no address fits (the packet is not sent).
    mutating func source(toward destination: IPAddress, chosen: IPAddress?, among localAddresses: [IPAddress],
                         isOpen: (IPAddress) -> Bool) -> IPAddress? {
        if let chosen, isOpen(chosen) { return chosen }
        // No array per packet: count the candidates first; most endpoints have one.
        var only: IPAddress?
        var count = 0
        for address in localAddresses where address.isIPv4 == destination.isIPv4 && isOpen(address) {
            only = address
            count += 1
        }
        guard count > 1 else { return only }
        if usesKernelRoutes, let routed = routedSource(toward: destination), localAddresses.contains(routed), isOpen(routed) {
            return routed
        }
        var best: IPAddress?
        var bestLength = -1
        for address in localAddresses where address.isIPv4 == destination.isIPv4 && isOpen(address) {
            let length = address.commonPrefixLength(with: destination)
            if length > bestLength { (best, bestLength) = (address, length) }
        }
        return best
    }

    /// How many destinations' routes are cached.
    var cachedRoutes: Int { routeCache.count }

    private mutating func routedSource(toward destination: IPAddress) -> IPAddress? {
        if let cached = routeCache[destination] { return cached }
        if routeCache.count >= Self.routeCacheLimit { routeCache.removeAll() }
        let source = lookUpRoute(destination)
        routeCache[destination] = .some(source)
        return source
    }
}
