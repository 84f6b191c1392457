import NIOCore
import SCTPWire

extension Association {
    /// Starts the handshake (RFC 9260 §5.1 A): sends INIT (`initPacket`, the whole datagram
    /// with tag 0 and its CRC32c) to the first address, arms T1-init.
    func connect(to addresses: [IPAddress], initPacket: ByteBuffer, now: SCTPInstant) {
        paths = addresses.map { PeerPath(address: $0, state: .active, configuration: configuration, rto: sharedConfiguration.initialRTO) }
        primaryPath = 0
        let timeout = configuration.rtoInitial
        enter(.cookieWait(HandshakeProgress(initPacket: initPacket, pending: [], connectAddresses: addresses,
                                            timeout: timeout)))
        sendHandshake(now: now)
    }

    private func sendHandshake(now: SCTPInstant) {
        guard let progress = handshake else { return }
        let address = progress.connectAddresses[progress.cursor]
        let index = pathIndex(for: address) ?? primaryPath
        if state == .cookieWait && progress.pending.isEmpty {
            // The INIT as written at connect: the same bytes every time.
            if paths.indices.contains(index) {
                let destination = paths[index].address
                let source = pinnedSourceAddresses != nil ? sourceAddress(toward: destination) : nil
                outbox.append(Transmit(datagram: progress.initPacket, destination: destination, source: source))
            }
        } else if state == .cookieEchoed, let echo = progress.cookieEchoPacket {
            // The COOKIE ECHO as written from the INIT ACK: the same bytes every time.
            if paths.indices.contains(index) {
                let destination = paths[index].address
                let source = pinnedSourceAddresses != nil ? sourceAddress(toward: destination) : nil
                outbox.append(Transmit(datagram: echo, destination: destination, source: source))
            }
        } else {
            // INIT always carries tag 0; COOKIE ECHO carries the peer's tag. Both always carry a
            // CRC32c, zero checksum or not (RFC 9653 §5.2): the peer has no association yet.
            let tag: UInt32? = state == .cookieWait ? 0 : nil
            sendControl(progress.pending, to: index, tag: tag, checksum: .crc32c)
        }
        timers[.t1Init] = now + progress.timeout
    }

    /// Replaces the handshake's progress, in the cookie phase the association is in.
    func updateHandshake(_ progress: HandshakeProgress) {
        switch phase {
        case .cookieWait: enter(.cookieWait(progress))
        case .cookieEchoed: enter(.cookieEchoed(progress))
        default: break
        }
    }

    /// The handshake is over (the association is up, or another path set it up): T1 stops.
    func endHandshake() {
        timers[.t1Init] = nil
    }

    /// T1-init or T1-cookie expired (§5.1 B, C; the seed's round robin): retransmit to the
    /// next address given to connect; the timeout doubles after each full round.
    func t1Expired(now: SCTPInstant) {
        timers[.t1Init] = nil
        guard var progress = handshake else { return }
        progress.retransmissions += 1
        if progress.retransmissions > configuration.maxInitRetransmits {
            close(event: .cannotStart(id, .timedOut))
            return
        }
        progress.cursor = (progress.cursor + 1) % progress.connectAddresses.count
        if progress.cursor == 0 {
            let cap = configuration.maxInitTimeout ?? configuration.rtoMax
            progress.timeout = min(progress.timeout * 2, cap)
        }
        updateHandshake(progress)
        sendHandshake(now: now)
    }

    /// INIT ACK in COOKIE-WAIT (§5.1 C): take the peer's parameters, answer with COOKIE ECHO.
    func handleInitAck(_ ack: InitAckChunk, from source: IPAddress, now: SCTPInstant) {
        guard state == .cookieWait else { return }
        // What the INIT ACK's parameters say, read in one pass from the chunk's bytes.
        let peer = PeerInitParameters(ack.parameters, configuration: configuration, authentication: authentication != nil)
        guard let cookieRange = peer.stateCookie else { return }
        let cookie = ack.parameters.slice(cookieRange)
        if ack.initiateTag == 0 || ack.outboundStreams == 0 || ack.inboundStreams == 0 {
            peerTag = ack.initiateTag
            abort(causes: [.invalidMandatoryParameter(InvalidMandatoryParameterCause())],
                  reason: .protocolViolation("invalid INIT ACK"), now: now)
            return
        }
        if let hostName = peer.hostName {
            let unresolvable = Parameter.hostNameAddress(HostNameAddressParameter(hostName: ack.parameters.slice(hostName)))
            peerTag = ack.initiateTag
            abort(causes: [.unresolvableAddress(UnresolvableAddressCause(parameter: unresolvable))],
                  reason: .protocolViolation("INIT ACK with a host name address"), now: now)
            return
        }
        peerTag = ack.initiateTag
        guard takePeerAuthentication(peer.authentication, now: now) else { return }
        applyPeerParameters(initiate: ack, peer, source: source, confirmedAddresses: handshake?.connectAddresses ?? [])

        let unrecognized = peer.mayNeedReports ? configuration.initParametersToReport(ack.parameters) : []
        var chunks: [Chunk] = []
        var echoPacket: ByteBuffer? = nil
        if unrecognized.isEmpty && !peerRequiresAuthentication(ChunkType.cookieEcho) {
            // A lone COOKIE ECHO, not signed (the usual case): written once, straight from the
            // cookie's bytes, with CRC32c (RFC 9653 §5.2: the peer has no association yet).
            echoPacket = CookieEchoChunk.packet(header: commonHeader, cookie: cookie)
        } else {
            chunks = [.cookieEcho(CookieEchoChunk(cookie: cookie))]
            if !unrecognized.isEmpty {
                chunks.append(.error(ErrorChunk(causes: [
                    .unrecognizedParameters(UnrecognizedParametersCause(parameters: unrecognized)),
                ])))
            }
        }
        if var progress = handshake {
            progress.pending = chunks
            progress.cookieEchoPacket = echoPacket
            progress.retransmissions = 0
            progress.timeout = paths[primaryPath].rto.rto
            // The COOKIE ECHO goes where the INIT ACK came from; retransmissions go round robin.
            if let index = progress.connectAddresses.firstIndex(of: source) { progress.cursor = index }
            else {
                progress.connectAddresses = paths.map(\.address)
                progress.cursor = pathIndex(for: source) ?? 0
            }
            enter(.cookieEchoed(progress))
        }
        sendHandshake(now: now)
    }

    /// Records what INIT or INIT ACK told us: tags, TSN, window, streams, addresses and
    /// extensions (`peer`: its parameters, read once).
    func applyPeerParameters(initiate: some InitLikeChunk, _ peer: PeerInitParameters, source: IPAddress,
                             confirmedAddresses: [IPAddress]) {
        outboundStreams = min(configuration.outboundStreams, initiate.inboundStreams)
        inboundStreams = min(configuration.maxInboundStreams, initiate.outboundStreams)
        peerReceiverWindow = initiate.advertisedReceiverWindowCredit
        // PR-SCTP: the Forward-TSN-Supported parameter, or FORWARD TSN in Supported Extensions
        // (what pion/sctp sends, RFC 3758 §3.3.1 allows either).
        let features = peer.features
        peerSupportsForwardTSN = configuration.partialReliability && features.contains(.forwardTSN)
        peerSupportsReconfiguration = features.contains(.reconfiguration)
        nonRenegableSacks = configuration.announcesNonRenegableSacks && features.contains(.nonRenegableSack)
        peerSupportsAddressReconfiguration = features.contains(.addressReconfiguration)
        peerAdaptationIndication = peer.adaptationIndication
        ecnNegotiated = configuration.announcesECN && features.contains(.ecn)
        if configuration.zeroChecksumMethod != nil { zeroChecksumToPeer = peer.offersZeroChecksumMethod }
        // The peer's addresses: those it lists plus the source; without a list, only the source.
        let offered = peer.addresses.prefix(configuration.peerAddressLimit)
        var listed: [IPAddress] = []
        listed.reserveCapacity(offered.count + 1)
        if !offered.contains(source) { listed.append(source) }
        listed += offered
        let previous = paths
        paths = listed.map { address in
            if var existing = previous.first(where: { $0.address == address }) {
                existing.state = .active
                return existing
            }
            let confirmed = address == source || confirmedAddresses.contains(address)
            return PeerPath(address: address, state: confirmed ? .active : .unconfirmed, configuration: configuration, rto: sharedConfiguration.initialRTO)
        }
        primaryPath = paths.firstIndex { $0.address == (confirmedAddresses.first ?? source) } ?? 0
        if !paths[primaryPath].isUsable { primaryPath = paths.firstIndex { $0.address == source } ?? 0 }
        startDataTransfer(peerInitialTSN: initiate.initialTSN)
        negotiateInterleaving(features)
    }

    /// COOKIE ACK in COOKIE-ECHOED (§5.1 E): the association is up.
    func handleCookieAck(now: SCTPInstant) {
        guard state == .cookieEchoed else { return }
        endHandshake()
        establish(now: now)
    }

    /// Enters ESTABLISHED: reports it (`.restart` after a peer restart, §5.2.4 A) and the
    /// peer's adaptation indication, starts heartbeats, sends what waited (unless not
    /// `transmit`: the packet being handled sends it at its end, with its SACK).
    func establish(now: SCTPInstant, restart: Bool = false, transmit: Bool = true) {
        enter(.established)
        events.append(restart ? .restart(id)
                              : .communicationUp(id, outboundStreams: outboundStreams, inboundStreams: inboundStreams))
        if let codePoint = peerAdaptationIndication { events.append(.adaptationIndication(id, codePoint)) }
        reportAuthenticationAtSetup()
        startHeartbeats(now: now)
        if transmit { transmitData(now: now) }
    }

    // MARK: COOKIE ECHO for a live association (§5.2.4)

    /// Takes what a verified state cookie says about the peer: tags, streams, window,
    /// extensions, addresses (the COOKIE ECHO's source and the INIT's addresses; those also in
    /// `confirmedAddresses` count as confirmed, paths already known keep their state), and
    /// starts data transfer from the peer's initial TSN.
    func adopt(cookie: StateCookie, source: IPAddress, confirmedAddresses: [IPAddress]) {
        peerTag = cookie.peerTag
        outboundStreams = cookie.outboundStreams
        inboundStreams = cookie.inboundStreams
        peerReceiverWindow = cookie.peerReceiverWindow
        peerSupportsForwardTSN = configuration.partialReliability && cookie.peerSupportsForwardTSN
        ecnNegotiated = configuration.announcesECN && cookie.peerSupportsECN
        if let method = configuration.zeroChecksumMethod { zeroChecksumToPeer = cookie.peerZeroChecksumMethod == method }
        peerAdaptationIndication = cookie.peerAdaptationIndication
        peerSupportsReconfiguration = cookie.peerFeatures.contains(.reconfiguration)
        nonRenegableSacks = configuration.announcesNonRenegableSacks && cookie.peerFeatures.contains(.nonRenegableSack)
        peerSupportsAddressReconfiguration = cookie.peerFeatures.contains(.addressReconfiguration)
        adoptAuthentication(from: cookie)
        var addresses = [source]
        for address in cookie.allPeerAddresses where !addresses.contains(address) { addresses.append(address) }
        let previous = paths
        paths = addresses.map { address in
            let confirmed = address == source || confirmedAddresses.contains(address)
            if var known = previous.first(where: { $0.address == address }) {
                if confirmed { known.state = .active }
                return known
            }
            return PeerPath(address: address, state: confirmed ? .active : .unconfirmed, configuration: configuration, rto: sharedConfiguration.initialRTO)
        }
        primaryPath = paths.firstIndex { $0.address == (confirmedAddresses.first ?? source) } ?? 0
        if !paths[primaryPath].isUsable { primaryPath = 0 }
        startDataTransfer(peerInitialTSN: cookie.peerInitialTSN)
        negotiateInterleaving(cookie.peerFeatures)
    }

    /// §5.2.4 B: our tag matches, the peer's does not (an INIT collision in which the peer
    /// picked a new tag, or its cookie reached us before its INIT ACK). The peer's tag is
    /// taken from the cookie, T1 stops, COOKIE ACK goes out; an association still setting up
    /// takes the cookie's parameters and enters ESTABLISHED (reported once, here).
    func acceptCollidingCookie(_ cookie: StateCookie, source: IPAddress, now: SCTPInstant) {
        let confirmed = handshake?.connectAddresses ?? []
        endHandshake()
        switch state {
        case .cookieWait, .cookieEchoed:
            adopt(cookie: cookie, source: source, confirmedAddresses: confirmed)
            queueControl(.cookieAck(CookieAckChunk()))
            establish(now: now)
        default:
            peerTag = cookie.peerTag
            queueControl(.cookieAck(CookieAckChunk()))
        }
    }

    /// §5.2.4 D: both tags match. In COOKIE-ECHOED (both sides echoed each other's cookie)
    /// the association is up; otherwise our COOKIE ACK was lost and goes out again.
    func acceptMatchingCookie(now: SCTPInstant) {
        switch state {
        case .cookieEchoed:
            endHandshake()
            queueControl(.cookieAck(CookieAckChunk()))
            establish(now: now)
        case .cookieWait, .closed:
            break  // not reached: in COOKIE-WAIT the peer's tag is unknown
        default:
            queueControl(.cookieAck(CookieAckChunk()))
        }
    }
}
