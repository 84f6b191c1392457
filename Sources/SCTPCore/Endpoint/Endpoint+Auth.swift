import NIOCore
import SCTPWire

/// Chunk authentication (RFC 4895) on the endpoint: a fresh key vector for each INIT and
/// INIT ACK, and the key options of RFC 6458 §8 (`SCTP_AUTH_KEY`, `SCTP_AUTH_ACTIVE_KEY`,
/// `SCTP_AUTH_DELETE_KEY`, `SCTP_AUTH_DEACTIVATE_KEY`, `SCTP_AUTH_CHUNK`, `SCTP_HMAC_IDENT`,
/// `SCTP_PEER_AUTH_CHUNKS`, `SCTP_LOCAL_AUTH_CHUNKS`). With an association id they act on that
/// association; without, on the endpoint's configuration (new associations) and, for the key
/// options, on every association too.
extension SCTPEndpoint {
    /// Our key vector for a new INIT or INIT ACK: 32 random bytes from the driver's source.
    func newLocalAuthVector() -> AuthKeyVector {
        // The vector's bytes for the current configuration are made once (a zero RANDOM); each
        // association's copy gets its own 32 random bytes in place.
        var bytes = localAuthTemplate().bytes
        bytes.withUnsafeMutableBytes { self.random.fill(UnsafeMutableRawBufferPointer(rebasing: $0[4..<(4 + AuthKeyVector.randomLength)])) }
        return AuthKeyVector(trustedBytes: bytes)
    }

    /// Writes the parameters that announce `vector` into an INIT or INIT ACK (its RANDOM,
    /// then the CHUNKS and HMAC-ALGO parameters, `vector.parameters`): the RANDOM from the
    /// vector's bytes, the lists as bytes prepared once per configuration when they are the
    /// current configuration's (a vector made before a change is written from its own bytes).
    func appendLocalAuthParameters(_ vector: AuthKeyVector, to writer: inout InitPacketWriter) {
        let template = localAuthTemplate()
        guard vector.bytes.count == template.bytes.count,
              vector.bytes[AuthKeyVector.randomEnd...] == template.bytes[AuthKeyVector.randomEnd...] else {
            for parameter in vector.parameters { writer.append(parameter) }
            return
        }
        writer.appendParameter(type: RandomParameter.parameterType) { buffer in
            vector.bytes.withUnsafeBytes { _ = buffer.writeBytes(UnsafeRawBufferPointer(rebasing: $0[4..<AuthKeyVector.randomEnd])) }
        }
        writer.appendPrepared(template.listBytes)
    }

    private func localAuthTemplate() -> LocalAuthVectorTemplate {
        if let made = localAuthVectorTemplate { return made }
        let vector = AuthKeyVector.local(random: [UInt8](repeating: 0, count: AuthKeyVector.randomLength),
                                         chunkTypes: configuration.announcedAuthenticatedChunks,
                                         hmacs: configuration.authentication.announcedHMACAlgorithms)
        var listBytes = ByteBuffer()
        ParameterList(Array(vector.parameters.dropFirst())).write(to: &listBytes)
        let template = LocalAuthVectorTemplate(bytes: vector.bytes, listBytes: listBytes)
        localAuthVectorTemplate = template
        return template
    }

    /// RFC 4895 §6.3 for a COOKIE ECHO under AUTH (both key vectors in the cookie): an AUTH
    /// chunk before it is verified under the keys of the association the cookie sets up (or
    /// meets), with `keys` as shared keys, and the packet is discarded, the association neither
    /// set up nor changed, unless it is valid; without an AUTH chunk before it, the COOKIE ECHO
    /// is discarded when our CHUNKS list names it. An HMAC we did not announce is discarded
    /// too: there is no association yet to answer with an ERROR from.
    func cookieEchoPassesAuthentication(_ packet: SCTPPacket, cookie: StateCookie, keys: [UInt16: [UInt8]]) -> Bool {
        // Both vectors checked in place in the cookie's one array.
        guard let vectors = cookie.authVectors else { return true }
        let localLength = cookie.localAuthVectorLength
        guard vectors.count > localLength, AuthKeyVector.isValid(vectors[..<localLength]),
              AuthKeyVector.isValid(vectors[localLength...]) else { return true }
        // Without an AUTH chunk only our CHUNKS list decides: no keys, no state to build.
        guard case .auth(let auth) = packet.chunks.first else {
            return !AuthKeyVector.requiredChunks(in: vectors[..<localLength]).contains(ChunkType.cookieEcho)
        }
        var state = AuthenticationState(vectors: vectors, localLength: localLength)
        return state.verify(auth, region: packet.authenticatedBytes, keys: keys).0 == .valid
    }

    /// Applies a key change (one of the key options, as `SCTPAuthenticationConfiguration`'s
    /// mutating calls make it) to the live associations `ids`, all or none: it is checked on
    /// every one of them (an unknown or closed id, a change one refuses, throw) before any
    /// changes. The sockets API's `SCTP_CURRENT_ASSOC` and `SCTP_ALL_ASSOC` (RFC 6458 §7.2)
    /// pass every association of a socket.
    public func changeAuthentication(on ids: [AssociationID],
                                     _ change: (inout SCTPAuthenticationConfiguration) throws(CoreError) -> Void) throws(CoreError) {
        var checked: [(Association, SCTPAuthenticationConfiguration)] = []
        checked.reserveCapacity(ids.count)
        for id in ids {
            guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
            var settings = association.configuration.authentication
            try change(&settings)
            checked.append((association, settings))
        }
        for (association, settings) in checked {
            association.applyAuthentication(settings)
            markPending(association)
        }
    }

    /// Applies a key change to one association (`id`) or to the endpoint and all of them.
    private func changeKeys(on id: AssociationID?,
                            _ change: (inout SCTPAuthenticationConfiguration) throws(CoreError) -> Void) throws(CoreError) {
        if let id {
            try changeAuthentication(on: [id], change)
            return
        }
        var settings = configuration.authentication
        try change(&settings)
        configuration.authentication = settings
        for association in associations.all where !association.isClosed {
            try? association.updateAuthentication(change)
            markPending(association)
        }
    }

    /// `SCTP_AUTH_KEY`: adds (or replaces) shared key `keyID`.
    public func setAuthenticationKey(_ key: [UInt8], id keyID: UInt16, on id: AssociationID? = nil) throws(CoreError) {
        try changeKeys(on: id) { (settings) throws(CoreError) in try settings.setKey(key, id: keyID) }
    }

    /// `SCTP_AUTH_ACTIVE_KEY` (set): the key our AUTH chunks use from now on.
    public func setActiveAuthenticationKey(_ keyID: UInt16, on id: AssociationID? = nil) throws(CoreError) {
        try changeKeys(on: id) { (settings) throws(CoreError) in try settings.activateKey(keyID) }
    }

    /// `SCTP_AUTH_ACTIVE_KEY` (get).
    public func activeAuthenticationKey(on id: AssociationID? = nil) throws(CoreError) -> UInt16 {
        guard let id else { return configuration.authentication.activeKey }
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        return association.configuration.authentication.activeKey
    }

    /// `SCTP_AUTH_DELETE_KEY`: removes a key that is not the active one.
    public func deleteAuthenticationKey(_ keyID: UInt16, on id: AssociationID? = nil) throws(CoreError) {
        try changeKeys(on: id) { (settings) throws(CoreError) in try settings.deleteKey(keyID) }
    }

    /// `SCTP_AUTH_DEACTIVATE_KEY`: a key that is not the active one is no longer used to send
    /// (it still verifies what arrives until deleted); reported with `SCTP_AUTH_FREE_KEY`.
    public func deactivateAuthenticationKey(_ keyID: UInt16, on id: AssociationID? = nil) throws(CoreError) {
        try changeKeys(on: id) { (settings) throws(CoreError) in try settings.deactivateKey(keyID) }
    }

    /// `SCTP_AUTH_CHUNK`: asks peers of new associations to authenticate chunks of `type`.
    public func addAuthenticatedChunk(_ type: UInt8) throws(CoreError) {
        try configuration.authentication.addChunkType(type)
    }

    /// `SCTP_HMAC_IDENT` (set): the HMACs new associations accept, in order of preference.
    public func setHMACIdentifiers(_ identifiers: [UInt16]) throws(CoreError) {
        try configuration.authentication.setHMACIdentifiers(identifiers)
    }

    /// `SCTP_PEER_AUTH_CHUNKS`: the chunk types the peer asked us to authenticate; empty when
    /// it did not announce AUTH.
    public func peerAuthenticatedChunks(on id: AssociationID) throws(CoreError) -> [UInt8] {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        return association.peerAuthenticatedChunks ?? []
    }

    /// `SCTP_LOCAL_AUTH_CHUNKS`: the chunk types we ask to be authenticated, on an
    /// association or (without id) for new ones.
    public func localAuthenticatedChunks(on id: AssociationID? = nil) throws(CoreError) -> [UInt8] {
        guard let id else { return configuration.announcedAuthenticatedChunks }
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        return association.localAuthenticatedChunks ?? []
    }

    /// Whether AUTH is in use on an association (both sides announced it).
    public func isAuthenticationNegotiated(on id: AssociationID) -> Bool {
        association(id)?.authenticationNegotiated ?? false
    }

    /// AUTH counters of an association: packets whose AUTH chunk was refused (bad MAC,
    /// unknown key or HMAC), and chunks dropped for arriving without a valid AUTH.
    public func authenticationCounters(on id: AssociationID) -> (refusedPackets: Int, unauthenticatedChunksDropped: Int)? {
        guard let association = association(id), association.authentication != nil else { return nil }
        return (association.statistics.authenticationRefusedPackets, association.statistics.unauthenticatedChunksDropped)
    }
}

extension SCTPConfiguration {
    /// The CHUNKS list our INIT and INIT ACK announce (`SCTP_LOCAL_AUTH_CHUNKS` before an
    /// association): the configured types with those other extensions require
    /// (`effectiveAuthentication`), without repeats and without those RFC 4895 §3.2 forbids;
    /// empty when AUTH is not announced.
    public var announcedAuthenticatedChunks: [UInt8] {
        guard announcesAuthentication else { return [] }
        var types: [UInt8] = []
        for type in effectiveAuthentication.chunkTypes
        where !SCTPAuthenticationConfiguration.isForbiddenInChunkList(type) && !types.contains(type) {
            types.append(type)
        }
        return types
    }

    /// The AUTH settings our INIT and INIT ACK announce: the configured ones, plus what other
    /// extensions require. With ASCONF, ASCONF and ASCONF-ACK must be authenticated (RFC 5061
    /// §4.1.1); when SACK must be, so must NR-SACK, which takes its place where negotiated
    /// (else a forged NR-SACK would get past a list that asks for authenticated SACKs); in
    /// the same way I-DATA follows DATA and I-FORWARD-TSN follows FORWARD TSN (RFC 8260: with
    /// interleaving negotiated they replace them).
    var effectiveAuthentication: SCTPAuthenticationConfiguration {
        var settings = authentication
        func require(_ type: UInt8) { if !settings.chunkTypes.contains(type) { settings.chunkTypes.append(type) } }
        if addressReconfiguration {
            require(ChunkType.asconf)
            require(ChunkType.asconfAck)
        }
        if announcesNonRenegableSacks && settings.chunkTypes.contains(ChunkType.sack) { require(ChunkType.nrSack) }
        if interleaving && settings.chunkTypes.contains(ChunkType.data) { require(ChunkType.iData) }
        if interleaving && settings.chunkTypes.contains(ChunkType.forwardTSN) { require(ChunkType.iForwardTSN) }
        return settings
    }
}

/// Our key vector for the current configuration with a zero RANDOM, and the parameters after
/// its RANDOM (CHUNKS when sent, HMAC-ALGO) as an INIT or INIT ACK lists them.
struct LocalAuthVectorTemplate {
    var bytes: [UInt8]
    /// The CHUNKS and HMAC-ALGO parameters as `ParameterList.write` writes them
    /// (`InitPacketWriter.appendPrepared`).
    var listBytes: ByteBuffer
}
