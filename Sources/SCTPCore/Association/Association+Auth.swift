import NIOCore
import SCTPWire

/// Chunk authentication (RFC 4895) on an association: negotiation from INIT / INIT ACK or the
/// state cookie, the AUTH chunk's verification on receipt (the per-chunk verdict other parts
/// ask for), the authenticator of outgoing packets, and the key options.
extension Association {
    // MARK: Negotiation

    /// Whether both sides announced AUTH.
    var authenticationNegotiated: Bool { authenticationSummary.negotiated }

    /// Keeps `authenticationSummary` in step with `authentication`.
    func refreshAuthenticationSummary() {
        guard let authentication, authentication.isNegotiated else {
            authenticationSummary = AuthenticationSummary()
            return
        }
        authenticationSummary = AuthenticationSummary(negotiated: true, localChunks: authentication.localChunks,
                                                      peerChunks: authentication.peerChunks,
                                                      table: sharedConfiguration.authenticationLists)
    }

    /// Whether chunks of `type` must arrive authenticated to be processed: AUTH is in use and
    /// our CHUNKS list names the type (RFC 4895 §6.3). ASCONF and ASCONF-ACK handlers ask this.
    func requiresAuthentication(_ type: UInt8) -> Bool {
        authenticationSummary.localChunks.contains(type)
    }

    /// Whether our packets must carry chunks of `type` authenticated (the peer's CHUNKS list).
    func peerRequiresAuthentication(_ type: UInt8) -> Bool {
        authenticationSummary.peerChunks.contains(type)
    }

    /// Takes the peer's AUTH parameters from its INIT ACK (client side). Returns `false` when
    /// they are invalid: the association is then aborted with Protocol Violation (RFC 4895 §6.1).
    func takePeerAuthentication(_ parameters: AuthKeyVector.PeerParameters, now: SCTPInstant) -> Bool {
        guard authentication != nil else { return true }
        switch parameters {
        case .absent:
            return true
        case .invalid(let reason):
            abort(causes: [.protocolViolation(ProtocolViolationCause(information: "AUTH: \(reason)"))],
                  reason: .protocolViolation("AUTH: \(reason)"), now: now)
            return false
        case .valid(let vector):
            authentication!.setPeer(vector)
            return true
        }
    }

    /// Takes both key vectors from a state cookie (server side, or a collision's cookie).
    func adoptAuthentication(from cookie: StateCookie) {
        // Both vectors in the cookie's one array, kept as the AUTH state's (no copy).
        guard let vectors = cookie.authVectors, AuthKeyVector.isValid(vectors[..<cookie.localAuthVectorLength]) else {
            authentication = nil
            return
        }
        let localLength = cookie.localAuthVectorLength
        // A peer vector that does not check is left out, as before (the state without it).
        let peerValid = vectors.count > localLength && AuthKeyVector.isValid(vectors[localLength...])
        authentication = AuthenticationState(vectors: peerValid ? vectors : Array(vectors[..<localLength]), localLength: localLength)
    }

    /// At setup: `SCTP_AUTH_NO_AUTH` when we announced AUTH and the peer did not.
    func reportAuthenticationAtSetup() {
        if let authentication, !authentication.isNegotiated {
            events.append(.authentication(id, AuthenticationEvent(indication: .noAuthentication, keyNumber: 0)))
        }
    }

    // MARK: Sending

    /// What signs our packets: `nil` unless AUTH is in use and the peer asked for some chunk
    /// types, or without the active key. Without its MAC until a packet needs one
    /// (`finishPackets`), unless DATA is signed (a builder may then finish inside the
    /// transmission queue).
    func packetAuthenticator() -> PacketAuthenticator? {
        if !authenticationSummary.senderKnown {
            var key: (key: UInt16, algorithm: SCTPHMACAlgorithm)? = nil
            if let authentication, authentication.isNegotiated, !authenticationSummary.peerChunks.isEmpty {
                let keyID = configuration.authentication.activeKey
                if configuration.authentication.keys[keyID] != nil { key = (keyID, authentication.sendAlgorithm) }
            }
            authenticationSummary.setSender(key: key)
        }
        return authenticationSummary.sender
    }

    /// The MAC our packets are signed with, computed once and kept (`nil` when they are not
    /// signed).
    func senderMAC() -> AuthMAC? {
        if let mac = authenticationSummary.senderMAC { return mac }
        guard let sender = packetAuthenticator() else { return nil }
        // Computing the MAC caches it in the AUTH state, which makes a fresh summary.
        let mac = authentication!.cachedMAC(key: sender.keyID, algorithm: sender.algorithm)
            ?? authentication!.mac(key: sender.keyID, algorithm: sender.algorithm, keys: configuration.authentication.keys)
        if !authenticationSummary.senderKnown {
            authenticationSummary.setSender(key: (sender.keyID, sender.algorithm))
        }
        if let mac { authenticationSummary.senderMAC = mac }
        return mac
    }

    /// Finishes a builder's packets into the outbox, with the MAC its AUTH chunks need
    /// computed now if it was left out. Returns the emptied packet array (`PacketBuilder.finish(into:)`).
    @discardableResult
    func finishPackets(_ builder: inout PacketBuilder) -> [PacketBuilder.Built] {
        if builder.needsMAC { builder.supplyMAC(senderMAC()) }
        return builder.finish(into: &outbox)
    }

    // MARK: Receiving

    /// What the receive loop does with a chunk, given AUTH.
    enum AuthGate {
        /// Process it.
        case process
        /// Leave it (an AUTH chunk already handled, or a chunk that needed authentication).
        case skip
        /// Discard it and the rest of the packet (an AUTH chunk that failed).
        case stop
    }

    /// Decides for each chunk of a packet in order (RFC 4895 §6.3): the first AUTH chunk is
    /// verified before anything after it is processed; when it fails the rest of the packet is
    /// discarded (the chunks before it stand); a chunk our CHUNKS list names is processed only
    /// after a valid AUTH (`currentChunkAuthenticated`), else silently dropped.
    func authGate(_ chunk: Chunk, in packet: SCTPPacket) -> AuthGate {
        guard authenticationSummary.negotiated else { return .process }
        if case .auth(let auth) = chunk {
            if currentChunkAuthenticated { return .skip }  // only the first AUTH counts
            switch verify(auth, region: packet.authenticatedBytes) {
            case .valid:
                currentChunkAuthenticated = true
                if auth.sharedKeyIdentifier != authentication!.lastPeerKey {
                    authentication!.lastPeerKey = auth.sharedKeyIdentifier
                    events.append(.authentication(id, AuthenticationEvent(indication: .newKey, keyNumber: auth.sharedKeyIdentifier)))
                }
                return .skip
            case .unsupportedHMAC(let identifier):
                dataStatistics.authenticationRefusedPackets += 1
                queueControl(.error(ErrorChunk(causes: [.unsupportedHMACIdentifier(UnsupportedHMACIdentifierCause(hmacIdentifier: identifier))])))
                return .stop
            case .refused:
                dataStatistics.authenticationRefusedPackets += 1
                return .stop
            }
        }
        if !currentChunkAuthenticated && authenticationSummary.localChunks.contains(chunk.type) {
            dataStatistics.unauthenticatedChunksDropped += 1
            return .skip
        }
        return .process
    }

    /// Checks an AUTH chunk against the bytes it covers; the MAC it was checked with is kept
    /// for the next packet (`authenticationSummary.verifier`).
    private func verify(_ auth: AuthChunk, region: ByteBuffer?) -> AuthChunkVerdict {
        let cached = authenticationSummary.verifier
        if let cached, cached.key == auth.sharedKeyIdentifier, cached.mac.algorithm.rawValue == auth.hmacIdentifier,
           authentication!.acceptedAlgorithms.contains(auth.hmacIdentifier),
           auth.hmac.readableBytes == cached.mac.algorithm.macLength, let region {
            // The common case, without touching (and so copying) the AUTH state.
            return cached.mac.verify(region) ? .valid : .refused
        }
        let (verdict, used) = authentication!.verify(auth, region: region, keys: configuration.authentication.keys)
        if let used { authenticationSummary.verifier = used }
        return verdict
    }

    // MARK: Keys (RFC 6458 §8.1.20-8.3.5, per association)

    /// Replaces the association's authentication settings (keys, active key, ...): computed
    /// keys are recomputed; keys deactivated by the change are reported free.
    func updateAuthentication(_ update: (inout SCTPAuthenticationConfiguration) throws(CoreError) -> Void) throws(CoreError) {
        var settings = configuration.authentication
        try update(&settings)
        applyAuthentication(settings)
    }

    /// Takes authentication settings checked already (`updateAuthentication`).
    func applyAuthentication(_ settings: SCTPAuthenticationConfiguration) {
        let newlyDeactivated = settings.deactivatedKeys.subtracting(configuration.authentication.deactivatedKeys)
        configuration.authentication = settings
        authentication?.invalidateKeys()
        for key in newlyDeactivated.sorted() {
            events.append(.authentication(id, AuthenticationEvent(indication: .freeKey, keyNumber: key)))
        }
    }

    /// The chunk types the peer asked to be authenticated, `nil` when AUTH is not in use.
    var peerAuthenticatedChunks: [UInt8]? {
        guard authenticationSummary.negotiated else { return nil }
        return authenticationSummary.peerChunks.types
    }

    /// The chunk types we asked to be authenticated on this association, `nil` without AUTH.
    var localAuthenticatedChunks: [UInt8]? { authentication?.localChunks.types }
}

extension SCTPPacket {
    /// The chunk that decides where the packet goes: the first, except that an AUTH chunk
    /// followed by COOKIE ECHO counts as the COOKIE ECHO (RFC 4895 §6.3: the cookie is
    /// processed first, then the AUTH chunk under the association it sets up).
    var leadingChunk: Chunk? {
        if case .auth = chunks.first, chunks.count > 1, case .cookieEcho = chunks[1] { return chunks[1] }
        return chunks.first
    }

    /// Whether `leadingChunk` is one the endpoint's demultiplexing treats apart (INIT, ABORT,
    /// SHUTDOWN ACK, SHUTDOWN COMPLETE, COOKIE ECHO, or AUTH, which may come before a COOKIE
    /// ECHO), read from the chunk types without copying a chunk: the packets of a transfer
    /// (DATA, SACK) take the common path with no copy of their first chunk.
    var leadsWithSpecialChunk: Bool {
        guard !chunks.isEmpty else { return false }
        switch chunks[0].type {
        case ChunkType.initiation, ChunkType.abort, ChunkType.shutdownAck, ChunkType.shutdownComplete,
             ChunkType.cookieEcho, ChunkType.auth:
            return true
        default:
            return false
        }
    }
}
