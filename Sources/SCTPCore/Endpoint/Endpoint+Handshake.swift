import NIOCore
import SCTPWire

/// What a COOKIE ECHO does to the association it meets (RFC 9260 §5.2.4, table 7), by
/// comparing the cookie's tags and tie-tags with the association's tags.
enum CookieAction: Equatable {
    /// (A) Tags differ, tie-tags match: the peer restarted.
    case restart
    /// (B) Our tag matches, the peer's does not (or is not known yet): an INIT collision.
    case collision
    /// (C) Our tag differs, the peer's matches, no tie-tags: our own old cookie came back late.
    case lateCookie
    /// (D) Both tags match: a retransmitted COOKIE ECHO (our COOKIE ACK was lost), or the
    /// collision in which both sides echo each other's cookie.
    case matching
    /// Any other combination: silently discarded.
    case unmatched

    /// The action for `cookie` against an association with `localTag` and `peerTag` (0 when
    /// the peer's tag is not known, in COOKIE-WAIT).
    init(cookie: StateCookie, localTag: UInt32, peerTag: UInt32) {
        let localMatches = cookie.localTag == localTag
        let peerMatches = peerTag != 0 && cookie.peerTag == peerTag
        let tieTagsMatch = cookie.localTieTag == localTag && peerTag != 0 && cookie.peerTieTag == peerTag
        let noTieTags = cookie.localTieTag == 0 && cookie.peerTieTag == 0
        switch (localMatches, peerMatches) {
        case (false, false): self = tieTagsMatch ? .restart : .unmatched
        case (true, false): self = .collision
        case (false, true): self = noTieTags ? .lateCookie : .unmatched
        case (true, true): self = .matching
        }
    }
}

/// The optional parameters of our INIT and of our INIT ACK (before AUTH's, the state cookie
/// and the reports), as the configuration's `initProfile` says, and both as the bytes
/// `ParameterList.write` makes of them: every INIT and INIT ACK copies them (`InitPacketWriter`).
struct LocalInitParameters {
    var initiation: [Parameter]
    var acknowledgement: [Parameter]
    var initiationBytes: ByteBuffer
    var acknowledgementBytes: ByteBuffer

    init(initiation: [Parameter], acknowledgement: [Parameter]) {
        self.initiation = initiation
        self.acknowledgement = acknowledgement
        var bytes = ByteBuffer()
        ParameterList(initiation).write(to: &bytes)
        initiationBytes = bytes
        bytes = ByteBuffer()
        ParameterList(acknowledgement).write(to: &bytes)
        acknowledgementBytes = bytes
    }
}

extension SCTPEndpoint {
    /// Our INIT's parameters, or our INIT ACK's (`initAck`): our addresses and what we support.
    func localInitParameters(initAck: Bool = false) -> [Parameter] {
        let sets = localInitParameterSets()
        return initAck ? sets.acknowledgement : sets.initiation
    }

    /// Both lists, made once for the current configuration and addresses.
    func localInitParameterSets() -> LocalInitParameters {
        if let initParameters { return initParameters }
        let sets = makeInitParameters()
        initParameters = sets
        return sets
    }

    private func makeInitParameters() -> LocalInitParameters {
        var parameters: [Parameter] = []
        // §5.1.2: without address parameters the packet's source is the only address; a
        // multi-homed endpoint lists them all.
        if localAddresses.count > 1 { parameters += localAddresses.map(Parameter.init(address:)) }
        // Supported Address Types: INIT only (§3.3.2; §3.3.3 does not list it), full profile only.
        var supportedAddressTypes: Parameter? = nil
        if configuration.initProfile == .full {
            var types: [UInt16] = []
            if localAddresses.contains(where: { if case .v4 = $0 { true } else { false } }) { types.append(5) }
            if localAddresses.contains(where: { if case .v6 = $0 { true } else { false } }) { types.append(6) }
            supportedAddressTypes = .supportedAddressTypes(SupportedAddressTypesParameter(addressTypes: types))
        }
        if configuration.announcesECN { parameters.append(.ecnCapable(ECNCapableParameter())) }
        if configuration.partialReliability { parameters.append(.forwardTSNSupported(ForwardTSNSupportedParameter())) }
        var extensions: [UInt8] = []
        if configuration.partialReliability { extensions.append(ChunkType.forwardTSN) }
        if configuration.streamReconfiguration { extensions.append(ChunkType.reconfig) }
        if configuration.addressReconfiguration { extensions += [ChunkType.asconf, ChunkType.asconfAck] }  // RFC 5061
        if configuration.announcesAuthentication { extensions.append(ChunkType.auth) }
        extensions += configuration.interleavingChunkTypes
        if configuration.announcesNonRenegableSacks { extensions.append(ChunkType.nrSack) }
        if !extensions.isEmpty {
            parameters.append(.supportedExtensions(SupportedExtensionsParameter(chunkTypes: extensions)))
        }
        if let method = configuration.zeroChecksumMethod {
            parameters.append(.zeroChecksumAcceptable(ZeroChecksumAcceptableParameter(errorDetectionMethod: method)))
        }
        if let codePoint = configuration.adaptationLayerIndication {
            parameters.append(.adaptationLayerIndication(AdaptationLayerIndicationParameter(adaptationCodePoint: codePoint)))
        }
        var initiation = parameters
        if let supportedAddressTypes {
            let afterAddresses = localAddresses.count > 1 ? localAddresses.count : 0
            initiation.insert(supportedAddressTypes, at: afterAddresses)
        }
        return LocalInitParameters(initiation: initiation, acknowledgement: parameters)
    }

    /// The addresses an INIT offers (its source, then those it lists) that `association`
    /// does not know: a restarting peer must not add any (§5.2.1, §5.2.2).
    func addedAddresses(_ initChunk: InitChunk, source: IPAddress, comparedTo association: Association) -> [IPAddress] {
        var offered = [source]
        for address in initChunk.addresses.prefix(configuration.peerAddressLimit) where !offered.contains(address) {
            offered.append(address)
        }
        return offered.filter { association.pathIndex(for: $0) == nil }
    }

    /// Answers an INIT with an INIT ACK carrying a signed state cookie, keeping no state
    /// (§5.1 B). When an association with the peer exists (`existing`):
    /// - COOKIE-WAIT (§5.2.1): the INIT ACK repeats our INIT's tag and initial TSN, tie-tags 0;
    /// - COOKIE-ECHOED (§5.2.1): the same, with tie-tags set to the association's tags;
    /// - ESTABLISHED and the other states (§5.2.2): a new tag, tie-tags set to the current tags;
    ///   the association itself is left as it is until a COOKIE ECHO decides (§5.2.4);
    /// - SHUTDOWN-ACK-SENT (§9.2): the INIT is discarded and SHUTDOWN ACK sent again.
    /// An INIT that adds addresses to an association that knows the peer's is refused with
    /// ABORT carrying "Restart of an Association with New Addresses" (§5.2.2).
    func answerInit(_ initChunk: InitChunk, packet: SCTPPacket, from source: IPAddress, to local: IPAddress,
                    now: SCTPInstant, existing: Association?) {
        let peerPort = packet.header.sourcePort
        // §3.3.2: a zero Initiate Tag is discarded.
        guard initChunk.initiateTag != 0 else { return }
        let abortHeader = CommonHeader(sourcePort: localPort, destinationPort: peerPort, verificationTag: initChunk.initiateTag)
        func refuse(_ causes: [ErrorCause]) {
            send(SCTPPacket(header: abortHeader, chunks: [.abort(AbortChunk(causes: causes))]), to: source, from: local)
        }
        // Zero stream counts are refused.
        if initChunk.outboundStreams == 0 || initChunk.inboundStreams == 0 {
            refuse([.invalidMandatoryParameter(InvalidMandatoryParameterCause())])
            return
        }
        // What the INIT's parameters ask beyond addresses, features and AUTH, in one pass.
        // What the INIT's parameters say, read in one pass from the chunk's bytes.
        let peer = PeerInitParameters(initChunk.parameters, configuration: configuration,
                                      authentication: configuration.announcesAuthentication)
        // §5.1.2: a Host Name Address cannot be resolved: ABORT with Unresolvable Address.
        if let hostName = peer.hostName {
            let parameter = Parameter.hostNameAddress(HostNameAddressParameter(hostName: initChunk.parameters.slice(hostName)))
            refuse([.unresolvableAddress(UnresolvableAddressCause(parameter: parameter))])
            return
        }

        var localTag: UInt32
        var initialTSN: TSN
        var localTieTag: UInt32 = 0
        var peerTieTag: UInt32 = 0
        var destination = source
        if let existing, !existing.isClosed {
            switch existing.state {
            case .shutdownAckSent:
                existing.retransmitShutdownAck()
                markPending(existing)
                return
            case .cookieWait:
                // Our INIT's parameters, unchanged; the INIT ACK goes only to an address we
                // were asked to connect to, preferably the INIT's source.
                localTag = existing.localTag
                initialTSN = existing.nextTSN
                if existing.pathIndex(for: source) == nil {
                    guard let listed = initChunk.addresses.first(where: { existing.pathIndex(for: $0) != nil }) else { return }
                    destination = listed
                }
            case .cookieEchoed:
                let added = addedAddresses(initChunk, source: source, comparedTo: existing)
                guard added.isEmpty else {
                    refuse([.restartWithNewAddresses(RestartWithNewAddressesCause(addresses: added))])
                    return
                }
                localTag = existing.localTag
                initialTSN = existing.nextTSN
                localTieTag = existing.localTag
                peerTieTag = existing.peerTag
            default:
                let added = addedAddresses(initChunk, source: source, comparedTo: existing)
                guard added.isEmpty else {
                    refuse([.restartWithNewAddresses(RestartWithNewAddressesCause(addresses: added))])
                    return
                }
                localTag = newLocalTag()
                initialTSN = TSN(random.next32())
                localTieTag = existing.localTag
                peerTieTag = existing.peerTag
            }
        } else {
            if associations.count >= configuration.maxAssociations {
                refuse([.outOfResource(OutOfResourceCause())])
                return
            }
            localTag = newLocalTag()
            initialTSN = TSN(random.next32())
        }

        // AUTH (RFC 4895 §6.1): the peer's vector checked, ours with a fresh RANDOM (the one of
        // our own INIT while setting up, as with the tag), both kept in the cookie.
        var authVectors: (local: AuthKeyVector, peer: AuthKeyVector?)? = nil
        if configuration.announcesAuthentication {
            var peerVector: AuthKeyVector? = nil
            switch peer.authentication {
            case .invalid(let reason):
                refuse([.protocolViolation(ProtocolViolationCause(information: "AUTH: \(reason)"))])
                return
            case .absent: break
            case .valid(let vector): peerVector = vector
            }
            let local: AuthKeyVector
            if let existing, existing.state == .cookieWait || existing.state == .cookieEchoed,
               let ours = existing.authentication?.local {
                local = ours
            } else {
                local = newLocalAuthVector()
            }
            authVectors = (local, peerVector)
        }
        var cookie = StateCookie(
            localTag: localTag, peerTag: initChunk.initiateTag, localInitialTSN: initialTSN,
            peerInitialTSN: initChunk.initialTSN, peerReceiverWindow: initChunk.advertisedReceiverWindowCredit,
            outboundStreams: min(configuration.outboundStreams, initChunk.inboundStreams),
            inboundStreams: min(configuration.maxInboundStreams, initChunk.outboundStreams),
            peerOutboundStreams: initChunk.outboundStreams, peerInboundStreams: initChunk.inboundStreams,
            localPort: localPort, peerPort: peerPort, source: source,
            peerAddresses: Array(peer.addresses.prefix(configuration.peerAddressLimit)),
            localTieTag: localTieTag, peerTieTag: peerTieTag,
            peerFeatures: peer.features,
            peerZeroChecksumMethod: peer.zeroChecksumMethod, peerAdaptationIndication: peer.adaptationIndication,
            created: now, lifetime: configuration.validCookieLife + cookies.acceptedIncrement(peer.lifeSpanIncrement))
        cookie.setAuthVectors(local: authVectors?.local.bytes, peer: authVectors?.peer?.bytes)
        // Written straight into the datagram: the parameters every INIT ACK carries as bytes
        // prepared once, then AUTH's (RANDOM per association, the lists prepared), the cookie
        // sealed in place, the reports (the bytes `SCTPPacket` would make of the same chunk).
        let prepared = localInitParameterSets().acknowledgementBytes
        let authLength: Int = authVectors == nil ? 0 : AuthKeyVector.maximumLength + 8
        // The cookie keeps at most the signer's address limit (0...255), whatever the INIT listed.
        let cookieLength: Int = 4 + StateCookieCoding.maximumLength(
            addresses: min(cookie.peerAddresses.count, cookies.configuration.maximumPeerAddresses))
        var writer = InitPacketWriter(
            header: abortHeader, chunkType: InitAckChunk.chunkType, initiateTag: localTag,
            advertisedReceiverWindowCredit: UInt32(clamping: associationConfiguration.receiveBufferSize),
            outboundStreams: configuration.outboundStreams, inboundStreams: configuration.maxInboundStreams,
            initialTSN: initialTSN, capacity: CommonHeader.size + 20 + prepared.readableBytes + authLength + cookieLength + 64)
        writer.appendPrepared(prepared)
        if let authVectors { appendLocalAuthParameters(authVectors.local, to: &writer) }
        writer.appendParameter(type: StateCookieParameter.parameterType) { cookies.seal(cookie, into: &$0) }
        for unknown in peer.mayNeedReports ? configuration.initParametersToReport(initChunk.parameters) : [] {
            // The reports are bounded (`maximumReportBytes`), but our own parameters may be
            // many (a large address list): none goes past the chunk's 65,535 bytes.
            let size = 4 + ((4 + unknown.value.readableBytes + 3) & ~3)
            guard writer.paddedChunkLength + size <= Int(UInt16.max) else { break }
            writer.append(Parameter.unrecognizedParameter(UnrecognizedParameter(reporting: unknown)))
        }
        send(datagram: writer.finish(), to: destination, from: local)
    }

    // MARK: COOKIE ECHO

    /// A COOKIE ECHO (§5.1 D, §5.1.5, §5.2.4). The cookie is authenticated first; then, if an
    /// association with the peer is alive (found by the cookie's tag, its tie-tag, or the
    /// peer's addresses), table 7 decides; otherwise a new association is created in
    /// ESTABLISHED. Under AUTH, an AUTH chunk before the COOKIE ECHO must be valid first
    /// (`cookieEchoPassesAuthentication`). Whatever is bundled after the COOKIE ECHO is
    /// processed by the association.
    func handleCookieEcho(_ echo: CookieEchoChunk, packet: SCTPPacket, from source: IPAddress, to local: IPAddress,
                          now: SCTPInstant) {
        let peerPort = packet.header.sourcePort
        let cookie: StateCookie
        var staleness: UInt32? = nil
        switch cookies.open(echo.cookie, now: now) {
        case .valid(let opened):
            cookie = opened
        case .stale(let microseconds, let opened):
            cookie = opened
            staleness = microseconds
        case .invalid:
            // §5.1.5: silently discard. An endpoint that neither listens nor knows the peer
            // treats the packet as out of the blue.
            if !acceptsAssociations && liveAssociation(peer: source, port: peerPort) == nil {
                replyOutOfTheBlue(to: packet, from: source, to: local)
            }
            return
        }
        // §5.1.5 step 3: the packet's tag and ports must be those the cookie was made for.
        guard packet.header.verificationTag == cookie.localTag, cookie.localPort == localPort,
              cookie.peerPort == peerPort else { return }

        guard let existing = association(for: cookie, from: source) else {
            if let staleness {
                sendStaleCookieError(staleness, cookie: cookie, to: source, from: local)
                return
            }
            // An association made from an earlier copy of this cookie ended and awaits removal.
            guard !associations.containsLocalTag(cookie.localTag) else { return }
            guard acceptsAssociations else {
                replyOutOfTheBlue(to: packet, from: source, to: local)
                return
            }
            guard cookieEchoPassesAuthentication(packet, cookie: cookie, keys: associationConfiguration.authentication.keys) else {
                return
            }
            createAssociation(from: cookie, packet: packet, from: source, now: now)
            return
        }

        // In COOKIE-WAIT the peer's tag is not known yet (it may hold a stale one after a
        // Stale Cookie retry).
        let peerTag = existing.state == .cookieWait ? 0 : existing.peerTag
        let action = CookieAction(cookie: cookie, localTag: existing.localTag, peerTag: peerTag)
        // §5.2.4 step 3: a stale cookie stands only when both tags match the association's.
        if let staleness, action != .matching {
            sendStaleCookieError(staleness, cookie: cookie, to: source, from: local)
            return
        }
        // RFC 4895 §6.3: a restart's new association has the endpoint's keys, the others the
        // existing association's.
        let keys = action == .restart ? associationConfiguration.authentication.keys : existing.configuration.authentication.keys
        guard cookieEchoPassesAuthentication(packet, cookie: cookie, keys: keys) else { return }
        switch action {
        case .restart:
            if existing.state == .shutdownAckSent {
                // §5.2.4 A: no new association while shutting down: SHUTDOWN ACK again, and an
                // ERROR "Cookie Received While Shutting Down".
                existing.refuseRestartWhileShuttingDown()
                markPending(existing)
                return
            }
            restart(existing, with: cookie, packet: packet, from: source, now: now)
        case .collision:
            let previous = existing.paths.map(\.address)
            existing.acceptCollidingCookie(cookie, source: source, now: now)
            reindexPeerAddresses(existing, previous: previous)
            deliver(packet, to: existing, from: source, now: now)
        case .matching:
            existing.acceptMatchingCookie(now: now)
            deliver(packet, to: existing, from: source, now: now)
        case .lateCookie, .unmatched:
            return  // §5.2.4 C and cases not in table 7: silently discard.
        }
    }

    /// The live association a cookie meets: the one with its tag (B, D), the one with its
    /// local tie-tag (A), or the one with one of the peer's addresses (C, or no case).
    func association(for cookie: StateCookie, from source: IPAddress) -> Association? {
        func samePeer(_ association: Association?) -> Association? {
            guard let association, association.peerPort == cookie.peerPort else { return nil }
            return association
        }
        if let found = samePeer(liveAssociation(localTag: cookie.localTag)) { return found }
        if cookie.localTieTag != 0, let found = samePeer(liveAssociation(localTag: cookie.localTieTag)) { return found }
        // The source, then the listed addresses (no array made: this runs for every COOKIE ECHO).
        if let found = liveAssociation(peer: source, port: cookie.peerPort) { return found }
        if cookie.source != source, let found = liveAssociation(peer: cookie.source, port: cookie.peerPort) { return found }
        for address in cookie.peerAddresses where address != source && address != cookie.source {
            if let found = liveAssociation(peer: address, port: cookie.peerPort) { return found }
        }
        return nil
    }

    /// §5.2.6: tells the peer how stale its cookie was, under the peer's tag.
    func sendStaleCookieError(_ microseconds: UInt32, cookie: StateCookie, to source: IPAddress, from local: IPAddress) {
        let header = CommonHeader(sourcePort: localPort, destinationPort: cookie.peerPort, verificationTag: cookie.peerTag)
        send(SCTPPacket(header: header, chunks: [.error(ErrorChunk(causes: [
            .staleCookie(StaleCookieCause(staleness: microseconds)),
        ]))]), to: source, from: local)
    }

    /// A verified cookie for no association (§5.1 D): the association is created in
    /// ESTABLISHED, answers COOKIE ACK, and processes what was bundled.
    func createAssociation(from cookie: StateCookie, packet: SCTPPacket, from source: IPAddress, now: SCTPInstant) {
        if associations.count >= configuration.maxAssociations {
            let header = CommonHeader(sourcePort: localPort, destinationPort: cookie.peerPort, verificationTag: cookie.peerTag)
            send(SCTPPacket(header: header, chunks: [.abort(AbortChunk(causes: [.outOfResource(OutOfResourceCause())]))]),
                 to: source)
            return
        }
        let association = Association(
            id: newAssociationID(), configuration: sharedAssociationConfiguration, localPort: localPort, peerPort: cookie.peerPort,
            localAddresses: localAddresses, localTag: cookie.localTag, initialTSN: cookie.localInitialTSN,
            randomSeed: UInt64(random.next32()) << 32 | UInt64(random.next32()))
        association.accept(cookie: cookie, source: source, now: now, bundlesData: packet.carriesData)
        register(association)
        deliver(packet, to: association, from: source, now: now)
    }

    /// §5.2.4 A, the peer restarted: the association is treated as if an ABORT had arrived
    /// and then a new COOKIE ECHO, except that it keeps its id and the user is told
    /// `.restart` instead of `.communicationLost`. Its data state, congestion control and
    /// timers start afresh (messages it still held are reported as failed sends); it is in
    /// ESTABLISHED with the cookie's tags.
    func restart(_ existing: Association, with cookie: StateCookie, packet: SCTPPacket, from source: IPAddress,
                 now: SCTPInstant) {
        existing.close(event: nil)
        unregister(existing)
        // The tags are fixed for an association's life, so a fresh one takes the old one's id.
        let replacement = Association(
            id: existing.id, configuration: sharedAssociationConfiguration, localPort: localPort, peerPort: cookie.peerPort,
            localAddresses: localAddresses, localTag: cookie.localTag, initialTSN: cookie.localInitialTSN,
            randomSeed: UInt64(random.next32()) << 32 | UInt64(random.next32()))
        // Events the user has not polled yet (and the failed sends just reported) come first.
        replacement.events = existing.events
        replacement.accept(cookie: cookie, source: source, now: now, restart: true, bundlesData: packet.carriesData)
        register(replacement)
        deliver(packet, to: replacement, from: source, now: now)
    }
}

extension SCTPPacket {
    /// Whether the packet carries DATA or I-DATA (a COOKIE ECHO's: its COOKIE ACK then waits
    /// for the SACK, to leave in one packet with it).
    var carriesData: Bool {
        chunks.contains { chunk in
            switch chunk {
            case .data, .iData: true
            default: false
            }
        }
    }
}
