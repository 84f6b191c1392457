import SCTPCore
import SCTPWire

/// `struct sctp_authkey` (RFC 6458 §8.1.21): a shared key and its number.
public struct SCTPAuthKey: Hashable, Sendable, CustomStringConvertible {
    /// `sca_keynumber`.
    public var keyNumber: UInt16
    /// `sca_key` (`sca_keylength` bytes).
    public var key: [UInt8]

    public init(keyNumber: UInt16, key: [UInt8]) {
        self.keyNumber = keyNumber
        self.key = key
    }

    /// Never shows the key.
    public var description: String { "SCTPAuthKey(\(keyNumber), \(key.count) bytes)" }
}

extension SCTPSocket {
    /// What a key option (RFC 6458 §8.1.21-8.3.5) with `association` acts on: live associations
    /// and whether the socket's settings for associations set up later.
    ///
    /// One-to-one: the association id is ignored (RFC 6458 §7.2, `AssociationID.isSelector`
    /// ids included); a connected socket's association and its settings, else the settings.
    /// Another association's id is EINVAL.
    /// One-to-many: none or `.future`, the settings; `.current`, every association of the
    /// socket; `.all`, both; an association's id, that association only.
    func keyOptionTargets(_ association: AssociationID?) throws(SCTPError) -> (live: [AssociationID], future: Bool) {
        if style == .oneToOne || association == nil || association == .future {
            let requested = association?.isSelector == true ? nil : association
            if let (_, id) = try optionTarget(requested) { return ([id], requested == nil) }
            return ([], true)
        }
        guard let association else { return ([], true) }
        guard association.isSelector else { return ([try resolve(association).1], false) }
        let live = driver.map { driver in
            associations.sorted.filter { id in driver.state(of: id).map { $0 != .closed } ?? false }
        } ?? []
        return (live, association == .all)
    }

    /// Applies a key option to what `keyOptionTargets` names, all or nothing: the change is
    /// made on a copy of the socket's settings and checked on every live association first
    /// (`SCTPEndpoint.changeAuthentication(on:_:)`); EINVAL, and nothing changed, when any of
    /// them refuses it.
    fileprivate func changeAuthentication(
        _ association: AssociationID?,
        _ change: (inout SCTPAuthenticationConfiguration) throws(CoreError) -> Void
    ) throws(SCTPError) {
        let (live, future) = try keyOptionTargets(association)
        var settings = configuration.authentication
        if future {
            do {
                try change(&settings)
            } catch {
                throw EndpointDriver.map(error)
            }
        }
        if !live.isEmpty, let driver {
            try driver.authentication { (endpoint) throws(CoreError) in try endpoint.changeAuthentication(on: live, change) }
        }
        if future { configuration.authentication = settings }
    }

    /// The live association a read of a per-association AUTH option is about, `nil` for the
    /// socket's settings (none or `.future` on a one-to-many socket); `.current` and `.all`
    /// name no single association to read from: EINVAL.
    fileprivate func authenticationReadTarget(_ association: AssociationID?, _ name: String) throws(SCTPError) -> (EndpointDriver, AssociationID)? {
        if style == .oneToMany, let association, association.isSelector {
            guard association == .future else { throw SCTPError(.invalidArgument, "\(name) reads one association or the future ones") }
            return nil
        }
        return try optionTarget(style == .oneToOne && association?.isSelector == true ? nil : association)
    }
}

extension SCTPSocketOption where Value == SCTPAuthKey {
    /// `SCTP_AUTH_KEY` (RFC 6458 §8.1.21), write-only: adds or replaces a shared key (RFC 4895
    /// §6.1) used to compute the association keys. EINVAL for a key over 4096 bytes or more
    /// than 64 keys.
    public static var authKey: Self {
        Self(name: "SCTP_AUTH_KEY", read: writeOnlyReader("SCTP_AUTH_KEY"), write: { socket, value, association throws(SCTPError) in
            try socket.changeAuthentication(association) { (s) throws(CoreError) in try s.setKey(value.key, id: value.keyNumber) }
        })
    }
}

extension SCTPSocketOption where Value == UInt16 {
    /// `SCTP_AUTH_ACTIVE_KEY` (RFC 6458 §8.1.22): the key our AUTH chunks use. EINVAL for a
    /// key that does not exist or was deactivated.
    public static var authActiveKey: Self {
        Self(name: "SCTP_AUTH_ACTIVE_KEY", read: { socket, association throws(SCTPError) in
            if let (driver, id) = try socket.authenticationReadTarget(association, "SCTP_AUTH_ACTIVE_KEY") {
                return try driver.authentication { (e) throws(CoreError) in try e.activeAuthenticationKey(on: id) }
            }
            return socket.configuration.authentication.activeKey
        }, write: { socket, value, association throws(SCTPError) in
            try socket.changeAuthentication(association) { (s) throws(CoreError) in try s.activateKey(value) }
        })
    }

    /// `SCTP_AUTH_DELETE_KEY` (RFC 6458 §8.3.4), write-only: deletes a key. EINVAL for the
    /// active key or one that does not exist.
    public static var authDeleteKey: Self {
        Self(name: "SCTP_AUTH_DELETE_KEY", read: writeOnlyReader("SCTP_AUTH_DELETE_KEY"), write: { socket, value, association throws(SCTPError) in
            try socket.changeAuthentication(association) { (s) throws(CoreError) in try s.deleteKey(value) }
        })
    }

    /// `SCTP_AUTH_DEACTIVATE_KEY` (RFC 6458 §8.3.5), write-only: the key no longer sends (it
    /// still verifies until deleted); `SCTP_AUTH_FREE_KEY` follows. EINVAL for the active key
    /// or one that does not exist.
    public static var authDeactivateKey: Self {
        Self(name: "SCTP_AUTH_DEACTIVATE_KEY", read: writeOnlyReader("SCTP_AUTH_DEACTIVATE_KEY"), write: { socket, value, association throws(SCTPError) in
            try socket.changeAuthentication(association) { (s) throws(CoreError) in try s.deactivateKey(value) }
        })
    }
}

extension SCTPSocketOption where Value == UInt8 {
    /// `SCTP_AUTH_CHUNK` (RFC 6458 §8.3.2), write-only: asks the peers of associations set up
    /// later to authenticate chunks of this type. EINVAL for INIT, INIT ACK, SHUTDOWN COMPLETE
    /// and AUTH (RFC 4895 §3.2).
    public static var authChunk: Self {
        Self(name: "SCTP_AUTH_CHUNK", read: writeOnlyReader("SCTP_AUTH_CHUNK"), write: { socket, value, _ throws(SCTPError) in
            do { try socket.configuration.authentication.addChunkType(value) } catch { throw EndpointDriver.map(error) }
        })
    }
}

extension SCTPSocketOption where Value == [UInt16] {
    /// `SCTP_HMAC_IDENT` (RFC 6458 §8.3.3): the HMAC identifiers associations set up later
    /// accept, in order of preference (1 = SHA-1, 3 = SHA-256); repeats are left out, and a
    /// read gives the list announced. EINVAL for an empty list, one of more than 64
    /// identifiers, an unknown identifier or a list without SHA-1.
    public static var hmacIdent: Self {
        Self(name: "SCTP_HMAC_IDENT", read: { socket, _ in socket.configuration.authentication.announcedHMACAlgorithms.map(\.rawValue) },
             write: { socket, value, _ throws(SCTPError) in
                 do { try socket.configuration.authentication.setHMACIdentifiers(value) } catch { throw EndpointDriver.map(error) }
             })
    }
}

extension SCTPSocketOption where Value == [UInt8] {
    /// `SCTP_PEER_AUTH_CHUNKS` (RFC 6458 §8.2.3), read-only: the chunk types the peer of an
    /// association asked us to authenticate (empty when it does not use AUTH). EINVAL without
    /// an association.
    public static var peerAuthChunks: Self {
        Self(name: "SCTP_PEER_AUTH_CHUNKS", read: { socket, association throws(SCTPError) in
            guard let (driver, id) = try socket.optionTarget(association) else {
                throw SCTPError(.invalidArgument, "SCTP_PEER_AUTH_CHUNKS needs an association")
            }
            return try driver.authentication { (e) throws(CoreError) in try e.peerAuthenticatedChunks(on: id) }
        }, write: nil)
    }

    /// `SCTP_LOCAL_AUTH_CHUNKS` (RFC 6458 §8.2.4), read-only: the chunk types we ask to be
    /// authenticated, on an association or, for those set up later, the CHUNKS list their
    /// INIT or INIT ACK would announce (`SCTPConfiguration.announcedAuthenticatedChunks`:
    /// with what other extensions require, empty when AUTH is off).
    public static var localAuthChunks: Self {
        Self(name: "SCTP_LOCAL_AUTH_CHUNKS", read: { socket, association throws(SCTPError) in
            if let (driver, id) = try socket.authenticationReadTarget(association, "SCTP_LOCAL_AUTH_CHUNKS") {
                return try driver.authentication { (e) throws(CoreError) in try e.localAuthenticatedChunks(on: id) }
            }
            return socket.configuration.announcedAuthenticatedChunks
        }, write: nil)
    }
}

extension SCTPSocketOption where Value == Bool {
    /// `SCTP_AUTH_SUPPORTED`: whether AUTH (RFC 4895) is announced in the INIT / INIT ACK of
    /// new associations (default on, except under the `.webRTC` INIT profile); read on a live
    /// association, whether both sides announced it.
    public static var authSupported: Self {
        Self(name: "SCTP_AUTH_SUPPORTED", read: { socket, association throws(SCTPError) in
            if let (driver, id) = try socket.optionTarget(association) {
                return try driver.authentication { e in e.isAuthenticationNegotiated(on: id) }
            }
            return socket.configuration.authentication.enabled
        }, write: { socket, value, _ in socket.configuration.authentication.enabled = value })
    }
}

extension SCTPAssociation {
    /// Adds or replaces a shared key on this association (`SCTP_AUTH_KEY`, RFC 4895).
    public func setAuthenticationKey(_ key: [UInt8], number: UInt16) throws(SCTPError) {
        try socket.setOption(.authKey, SCTPAuthKey(keyNumber: number, key: key), association: id)
    }

    /// Makes a key the one our AUTH chunks use (`SCTP_AUTH_ACTIVE_KEY`).
    public func setActiveAuthenticationKey(_ number: UInt16) throws(SCTPError) {
        try socket.setOption(.authActiveKey, number, association: id)
    }

    /// Deactivates a key (`SCTP_AUTH_DEACTIVATE_KEY`); `.authentication` with `.freeKey` follows.
    public func deactivateAuthenticationKey(_ number: UInt16) throws(SCTPError) {
        try socket.setOption(.authDeactivateKey, number, association: id)
    }

    /// Deletes a key (`SCTP_AUTH_DELETE_KEY`).
    public func deleteAuthenticationKey(_ number: UInt16) throws(SCTPError) {
        try socket.setOption(.authDeleteKey, number, association: id)
    }

    /// The chunk types the peer asked us to authenticate (`SCTP_PEER_AUTH_CHUNKS`).
    public func peerAuthenticatedChunks() throws(SCTPError) -> [UInt8] {
        try socket.getOption(.peerAuthChunks, association: id)
    }
}
