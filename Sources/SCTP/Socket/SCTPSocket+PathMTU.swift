import SCTPCore
import SCTPWire

extension SCTPSocketOption where Value == Bool {
    /// Path MTU discovery (RFC 8899 PLPMTUD with HEARTBEAT + PAD probes), as the
    /// SPP_PMTUD_ENABLE / SPP_PMTUD_DISABLE flags of `SCTP_PEER_ADDR_PARAMS` set it: for new
    /// associations (the socket's default, off unless switched on), or, with an association,
    /// for all its paths at once (on: each path starts again from the base PLPMTU; off: each
    /// keeps the MTU it has).
    public static var pathMTUDiscovery: Self {
        Self(name: "SPP_PMTUD_ENABLE", read: { socket, association throws(SCTPError) in
            if let (driver, id) = try socket.optionTarget(association), let status = driver.status(of: id) {
                return status.paths.contains { $0.mtuDiscovery.state != .disabled }
            }
            return socket.configuration.pathMTUDiscovery.isEnabled
        }, write: { socket, value, association throws(SCTPError) in
            if let (driver, id) = try socket.optionTarget(association) {
                try driver.setPathMTUDiscovery(value, mtu: nil, of: id)
                if association != nil { return }
            }
            socket.configuration.pathMTUDiscovery.isEnabled = value
        })
    }
}

extension SCTPSocketOption where Value == PathMTUDiscovery {
    /// The path MTU discovery settings of new associations (ours: base and maximum PLPMTU,
    /// MAX_PROBES, the probe and raise timers, the lower layers' overhead); see
    /// `PathMTUDiscovery`. A base below 508 or a maximum below the base is EINVAL.
    public static var pathMTUDiscoverySettings: Self {
        Self(name: "SCTP_PLPMTUD_SETTINGS", read: { socket, _ in socket.configuration.pathMTUDiscovery },
             write: { socket, value, _ throws(SCTPError) in
                 guard value.basePMTU >= 508, value.maximumPMTU >= value.basePMTU, value.maximumPMTU <= 65_507 else {
                     throw SCTPError(.invalidArgument, "PLPMTUD: base at least 508, maximum from the base to 65507")
                 }
                 guard value.maxProbes >= 1 else { throw SCTPError(.invalidArgument, "PLPMTUD: MAX_PROBES at least 1") }
                 if let timeout = value.probeTimeout, timeout <= .zero {
                     throw SCTPError(.invalidArgument, "PLPMTUD: the probe timeout must be positive")
                 }
                 guard value.raiseInterval > .zero else { throw SCTPError(.invalidArgument, "PLPMTUD: the raise interval must be positive") }
                 socket.configuration.pathMTUDiscovery = value
             })
    }
}

extension SCTPSocket {
    /// Switches path MTU discovery on for new associations, probing up to `maximumPMTU`
    /// bytes of SCTP packet (the IP and UDP headers not counted).
    public func enablePathMTUDiscovery(maximumPMTU: Int = PathMTUDiscovery().maximumPMTU) throws(SCTPError) {
        var settings = try getOption(.pathMTUDiscoverySettings)
        settings.isEnabled = true
        settings.maximumPMTU = maximumPMTU
        try setOption(.pathMTUDiscoverySettings, settings)
    }
}

extension SCTPAssociation {
    /// The MTU of each path and what its discovery is doing (`SCTP_GET_PEER_ADDR_INFO`'s
    /// spinfo_mtu, with the RFC 8899 state).
    public func pathMTUs() throws(SCTPError) -> [(address: IPAddress, mtu: Int, discovery: PathMTUDiscoveryStatus)] {
        try socket.getOption(.status, association: id).paths.map { ($0.address, $0.mtu, $0.mtuDiscovery) }
    }

    /// Switches path MTU discovery on (from the base PLPMTU) or off (each path keeps its MTU).
    public func setPathMTUDiscovery(_ enabled: Bool) throws(SCTPError) {
        try socket.setOption(.pathMTUDiscovery, enabled, association: id)
    }
}
