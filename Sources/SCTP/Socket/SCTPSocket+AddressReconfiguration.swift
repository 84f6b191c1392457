import NIOCore
import SCTPCore
import SCTPWire

extension SCTPSocket {
    /// Asks the peer to send to our address `address` (`SCTP_SET_PEER_PRIMARY_ADDR`,
    /// RFC 6458 §8.3.2; RFC 5061 Set Primary Address); see `SCTPSocketOption.setPeerPrimaryAddress`.
    public func setPeerPrimaryAddress(_ address: SocketAddress, association: AssociationID? = nil) throws(SCTPError) {
        try setOption(.setPeerPrimaryAddress, address, association: association)
    }

    /// Our addresses as an association's peer knows them (`sctp_getladdrs` with an
    /// association id): the bound ones at setup, changed by the address reconfiguration the
    /// peer acknowledged.
    public func localAddresses(association: AssociationID? = nil) throws(SCTPError) -> [SocketAddress] {
        let (driver, id) = try resolve(association)
        let port = Int(driver.localPort)
        return driver.localAddresses(of: id).compactMap { try? $0.socketAddress(port: port) }
    }
}

extension SCTPSocketOption where Value == SocketAddress {
    /// `SCTP_SET_PEER_PRIMARY_ADDR` (RFC 6458 §8.3.2), write-only: asks the peer to make our
    /// address its primary (an ASCONF with Set Primary Address, RFC 5061). Errors:
    /// EOPNOTSUPP when either side lacks ASCONF, EADDRNOTAVAIL when the address is not one of
    /// the association's, EINVAL when it is not established, EWOULDBLOCK when too many
    /// address changes wait.
    public static var setPeerPrimaryAddress: Self {
        Self(name: "SCTP_SET_PEER_PRIMARY_ADDR", read: writeOnlyReader("SCTP_SET_PEER_PRIMARY_ADDR"),
             write: { socket, value, association throws(SCTPError) in
                 let (driver, id) = try socket.resolve(association)
                 guard let ip = IPAddress(value) else { throw SCTPError(.addressFamilyNotSupported, "not an IP address: \(value)") }
                 try driver.requestPeerPrimaryAddress(ip, of: id)
             })
    }
}

extension SCTPSocketOption where Value == Bool {
    /// `SCTP_AUTO_ASCONF` (RFC 6458 §8.1.22): whether `bindx` on a bound socket makes the
    /// live associations that negotiated ASCONF announce the change to their peer. Default on.
    public static var autoASCONF: Self {
        Self(name: "SCTP_AUTO_ASCONF", read: { socket, _ in socket.configuration.automaticAddressReconfiguration },
             write: { socket, value, _ in socket.configuration.automaticAddressReconfiguration = value })
    }

    /// `SCTP_ASCONF_SUPPORTED` (as in FreeBSD and usrsctp): whether ASCONF and ASCONF-ACK
    /// (RFC 5061) are announced in the INIT / INIT ACK of new associations; read on a live
    /// association, whether both sides announced them. Default off. RFC 5061 requires the
    /// chunks to be authenticated (AUTH, RFC 4895): an unauthenticated one is discarded.
    public static var asconfSupported: Self {
        Self(name: "SCTP_ASCONF_SUPPORTED", read: { socket, association throws(SCTPError) in
            if let (driver, id) = try socket.optionTarget(association),
               let supported = driver.isAddressReconfigurationSupported(of: id) {
                return supported
            }
            return socket.configuration.addressReconfiguration
        }, write: { socket, value, _ in socket.configuration.addressReconfiguration = value })
    }
}

extension SCTPSocketOption where Value == Bool {
    /// Processes ASCONF and ASCONF-ACK chunks that were not authenticated
    /// (`SCTPConfiguration.acceptsUnauthenticatedAddressChanges`, usrsctp's
    /// `asconf_auth_nochk`). Internal: for tests that forge ASCONF chunks without AUTH.
    static var acceptsUnauthenticatedAddressChanges: Self {
        Self(name: "asconf_auth_nochk", read: { socket, _ in socket.configuration.acceptsUnauthenticatedAddressChanges },
             write: { socket, value, _ in socket.configuration.acceptsUnauthenticatedAddressChanges = value })
    }
}
