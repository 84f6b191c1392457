import NIOCore
import SCTPWire

extension SCTPEndpoint {
    /// Handles one SCTP packet that arrived from `source` (the peer's address) at `destination`
    /// (ours). Malformed packets are dropped; nothing here can trap on bad input.
    public func handle(datagram: ByteBuffer, from source: IPAddress, to destination: IPAddress, now: SCTPInstant) {
        guard let header = try? CommonHeader(peeking: datagram), header.destinationPort == localPort else { return }
        // Checksum: zero is acceptable only when we announced zero-checksum support (RFC 9653);
        // then the association it reaches must have negotiated it, which is checked below.
        let verification: ChecksumVerification = configuration.zeroChecksumMethod == nil ? .required : .zeroAllowed
        guard let packet = try? SCTPPacket(parsing: datagram, checksum: verification) else { return }
        guard (try? packet.validateBundling()) != nil else { return }

        if let id = findAssociation(for: packet, from: source), let association = associations[id] {
            if header.checksum == 0 && !association.zeroChecksumFromPeerAllowed {
                guard (try? PacketChecksum.verify(datagram, .required)) != nil else { return }
            }
            association.handle(packet, from: source, now: now, endpoint: self)
            markPending(id)
            return
        }
        if header.checksum == 0, (try? PacketChecksum.verify(datagram, .required)) == nil {
            // Only associations that negotiated it may skip the checksum.
            return
        }
        handleWithoutAssociation(packet, from: source, to: destination, now: now)
    }

    /// Finds the association a packet belongs to (RFC 9260 §8.5, §8.5.1).
    func findAssociation(for packet: SCTPPacket, from source: IPAddress) -> AssociationID? {
        let tag = packet.header.verificationTag
        let first = packet.chunks.first
        let byAddress = byPeerAddress[PeerKey(address: source, port: packet.header.sourcePort)]
        switch first {
        case .initiation:
            // INIT carries tag 0; an existing association with this peer handles collisions.
            return tag == 0 ? byAddress : nil
        case .abort(let abort) where abort.tagFlags.contains(.reflectedTag):
            guard let id = byAddress, let association = associations[id], association.peerTag == tag else { return nil }
            return id
        case .shutdownComplete(let complete) where complete.tagFlags.contains(.reflectedTag):
            guard let id = byAddress, let association = associations[id], association.peerTag == tag else { return nil }
            return id
        case .cookieEcho:
            // A cookie for a live association (a retransmitted COOKIE ECHO, or a restart) goes to it.
            if let id = byLocalTag[tag], associations[id]?.peerPort == packet.header.sourcePort { return id }
            return nil
        default:
            guard let id = byLocalTag[tag], let association = associations[id],
                  association.peerPort == packet.header.sourcePort else { return nil }
            return id
        }
    }

    /// Packets for no association: a new INIT, a COOKIE ECHO that creates one, or §8.4.
    func handleWithoutAssociation(_ packet: SCTPPacket, from source: IPAddress, to destination: IPAddress, now: SCTPInstant) {
        switch packet.chunks.first {
        case .initiation(let initChunk) where packet.header.verificationTag == 0:
            if acceptsAssociations {
                answerInit(initChunk, packet: packet, from: source, to: destination, now: now)
            } else if let reply = OutOfTheBlue.response(to: packet) {
                send(reply, to: source)
            }
        case .initiation:
            return  // INIT with a non-zero tag: discard (§8.5.1 A).
        case .cookieEcho(let echo) where acceptsAssociations:
            acceptCookie(echo, packet: packet, from: source, to: destination, now: now)
        default:
            if let reply = OutOfTheBlue.response(to: packet) { send(reply, to: source) }
        }
    }

    func send(_ packet: SCTPPacket, to address: IPAddress, checksum: ChecksumMode = .crc32c) {
        outbox.append(Transmit(datagram: packet.serialized(checksum: checksum), destination: address))
    }

    /// Our INIT or INIT ACK parameters: our addresses and what we support.
    func localInitParameters() -> [Parameter] {
        var parameters: [Parameter] = []
        if localAddresses.count > 1 { parameters += localAddresses.map(Parameter.init(address:)) }
        var types: [UInt16] = []
        if localAddresses.contains(where: { if case .v4 = $0 { true } else { false } }) { types.append(5) }
        if localAddresses.contains(where: { if case .v6 = $0 { true } else { false } }) { types.append(6) }
        parameters.append(.supportedAddressTypes(SupportedAddressTypesParameter(addressTypes: types)))
        if configuration.ecn { parameters.append(.ecnCapable(ECNCapableParameter())) }
        if configuration.partialReliability {
            parameters.append(.forwardTSNSupported(ForwardTSNSupportedParameter()))
            parameters.append(.supportedExtensions(SupportedExtensionsParameter(chunkTypes: [ChunkType.forwardTSN])))
        }
        if let method = configuration.zeroChecksumMethod {
            parameters.append(.zeroChecksumAcceptable(ZeroChecksumAcceptableParameter(errorDetectionMethod: method)))
        }
        return parameters
    }

    /// Answers an INIT statelessly with an INIT ACK carrying a signed state cookie (§5.1 B).
    func answerInit(_ initChunk: InitChunk, packet: SCTPPacket, from source: IPAddress, to destination: IPAddress,
                    now: SCTPInstant) {
        let peerPort = packet.header.sourcePort
        let abortHeader = CommonHeader(sourcePort: localPort, destinationPort: peerPort, verificationTag: initChunk.initiateTag)
        // §3.3.2: a zero Initiate Tag is discarded; zero stream counts are refused.
        guard initChunk.initiateTag != 0 else { return }
        if initChunk.outboundStreams == 0 || initChunk.inboundStreams == 0 {
            send(SCTPPacket(header: abortHeader, chunks: [.abort(AbortChunk(causes: [
                .invalidMandatoryParameter(InvalidMandatoryParameterCause()),
            ]))]), to: source)
            return
        }
        // §5.1.2: a Host Name Address cannot be resolved: ABORT with Unresolvable Address.
        if let hostName = initChunk.parameters.parameters.first(where: { if case .hostNameAddress = $0 { true } else { false } }) {
            send(SCTPPacket(header: abortHeader, chunks: [.abort(AbortChunk(causes: [
                .unresolvableAddress(UnresolvableAddressCause(parameter: hostName)),
            ]))]), to: source)
            return
        }
        if associations.count >= configuration.maxAssociations {
            send(SCTPPacket(header: abortHeader, chunks: [.abort(AbortChunk(causes: [.outOfResource(OutOfResourceCause())]))]),
                 to: source)
            return
        }

        // Collisions (§5.2.1, §5.2.2) reuse our tag; otherwise fresh values.
        var localTag = newLocalTag()
        var localTieTag: UInt32 = 0
        var peerTieTag: UInt32 = 0
        var initialTSN = TSN(random.next32())
        if let id = byPeerAddress[PeerKey(address: source, port: peerPort)], let existing = associations[id] {
            switch existing.state {
            case .cookieWait, .cookieEchoed:
                localTag = existing.localTag
                initialTSN = existing.nextTSN
            case .closed:
                break
            default:
                localTieTag = existing.localTag
                peerTieTag = existing.peerTag
            }
        }

        let cookie = StateCookie(
            localTag: localTag, peerTag: initChunk.initiateTag, localInitialTSN: initialTSN,
            peerInitialTSN: initChunk.initialTSN, peerReceiverWindow: initChunk.advertisedReceiverWindowCredit,
            outboundStreams: min(configuration.outboundStreams, initChunk.inboundStreams),
            inboundStreams: min(configuration.maxInboundStreams, initChunk.outboundStreams),
            peerOutboundStreams: initChunk.outboundStreams, peerInboundStreams: initChunk.inboundStreams,
            localPort: localPort, peerPort: peerPort, source: source,
            peerAddresses: Array(initChunk.addresses.prefix(configuration.maxPeerAddresses)),
            localTieTag: localTieTag, peerTieTag: peerTieTag,
            peerFeatures: PeerFeatures(parameters: initChunk.parameters),
            peerZeroChecksumMethod: initChunk.first { if case .zeroChecksumAcceptable(let p) = $0 { p.errorDetectionMethod } else { nil } },
            created: now,
            lifetime: configuration.validCookieLife + cookies.acceptedIncrement(
                initChunk.first { if case .cookiePreservative(let p) = $0 { p.lifeSpanIncrement } else { nil } }))
        var parameters = localInitParameters()
        parameters.append(.stateCookie(StateCookieParameter(cookie: cookies.seal(cookie))))
        for unknown in initChunk.parameters.unrecognizedToReport {
            parameters.append(.unrecognizedParameter(UnrecognizedParameter(reporting: unknown)))
        }
        guard let ack = try? InitAckChunk(
            initiateTag: localTag, advertisedReceiverWindowCredit: UInt32(clamping: configuration.receiveBufferSize),
            outboundStreams: configuration.outboundStreams, inboundStreams: configuration.maxInboundStreams,
            initialTSN: initialTSN, parameters: ParameterList(parameters)) else { return }
        var header = abortHeader
        header.verificationTag = initChunk.initiateTag
        send(SCTPPacket(header: header, chunks: [.initiationAck(ack)]), to: source)
    }

    /// A COOKIE ECHO for no association (§5.1 D, §5.1.5): verify the cookie, create the
    /// association in ESTABLISHED, answer COOKIE ACK, and process what was bundled.
    func acceptCookie(_ echo: CookieEchoChunk, packet: SCTPPacket, from source: IPAddress, to destination: IPAddress,
                      now: SCTPInstant) {
        let cookie: StateCookie
        switch cookies.open(echo.cookie, now: now) {
        case .valid(let opened):
            cookie = opened
        case .stale(let microseconds, let opened):
            // §5.2.6: tell the peer how stale, under its tag.
            let header = CommonHeader(sourcePort: localPort, destinationPort: packet.header.sourcePort,
                                      verificationTag: opened.peerTag)
            send(SCTPPacket(header: header, chunks: [.error(ErrorChunk(causes: [
                .staleCookie(StaleCookieCause(staleness: microseconds)),
            ]))]), to: source)
            return
        case .invalid:
            return  // §5.1.5: silently discard.
        }
        guard packet.header.verificationTag == cookie.localTag, cookie.localPort == localPort,
              cookie.peerPort == packet.header.sourcePort else { return }
        if associations.count >= configuration.maxAssociations {
            let header = CommonHeader(sourcePort: localPort, destinationPort: cookie.peerPort, verificationTag: cookie.peerTag)
            send(SCTPPacket(header: header, chunks: [.abort(AbortChunk(causes: [.outOfResource(OutOfResourceCause())]))]),
                 to: source)
            return
        }
        if byLocalTag[cookie.localTag] != nil { return }  // already created from an earlier copy
        let association = Association(
            id: newAssociationID(), configuration: configuration, localPort: localPort, peerPort: cookie.peerPort,
            localAddresses: localAddresses, localTag: cookie.localTag, initialTSN: cookie.localInitialTSN,
            randomSeed: UInt64(random.next32()) << 32 | UInt64(random.next32()))
        association.accept(cookie: cookie, source: source, now: now)
        register(association)
        association.handle(packet, from: source, now: now, endpoint: self, skippingCookieEcho: true)
    }

    // MARK: User calls

    /// Starts an association to a peer reachable at `addresses` (the seed's `sctp_connectx`):
    /// INIT goes to the first address and each T1 expiry moves to the next, round robin.
    /// Returns at once with the association's id; `communicationUp` or `cannotStart` follows.
    public func connect(to addresses: [IPAddress], port: UInt16, now: SCTPInstant) throws(CoreError) -> AssociationID {
        guard !addresses.isEmpty else { throw .invalidAddresses("no address given") }
        guard port != 0 else { throw .invalidAddresses("port 0") }
        var unique: [IPAddress] = []
        for address in addresses where !unique.contains(address) { unique.append(address) }
        for address in unique {
            if let id = byPeerAddress[PeerKey(address: address, port: port)], associations[id]?.isClosed == false {
                throw .alreadyConnected(id)
            }
        }
        guard associations.count < configuration.maxAssociations else { throw .tooManyAssociations }
        let localTag = newLocalTag()
        let initialTSN = TSN(random.next32())
        let association = Association(
            id: newAssociationID(), configuration: configuration, localPort: localPort, peerPort: port,
            localAddresses: localAddresses, localTag: localTag, initialTSN: initialTSN,
            randomSeed: UInt64(random.next32()) << 32 | UInt64(random.next32()))
        let initChunk = InitChunk(
            initiateTag: localTag, advertisedReceiverWindowCredit: UInt32(clamping: configuration.receiveBufferSize),
            outboundStreams: configuration.outboundStreams, inboundStreams: configuration.maxInboundStreams,
            initialTSN: initialTSN, parameters: ParameterList(localInitParameters()))
        association.connect(to: unique, initChunk: initChunk, now: now)
        register(association)
        return association.id
    }

    /// Queues a user message on an association and sends what the windows allow.
    public func send(_ message: OutgoingMessage, on id: AssociationID, now: SCTPInstant) throws(CoreError) {
        guard let association = associations[id], !association.isClosed else { throw .unknownAssociation }
        try association.send(message, now: now)
        markPending(id)
    }

    /// Starts a graceful shutdown (§9.2).
    public func shutdown(_ id: AssociationID, now: SCTPInstant) throws(CoreError) {
        guard let association = associations[id], !association.isClosed else { throw .unknownAssociation }
        association.beginShutdown(now: now)
        markPending(id)
    }

    /// Aborts an association (§9.1), with an optional reason for the peer.
    public func abort(_ id: AssociationID, reason: ByteBuffer? = nil, now: SCTPInstant) throws(CoreError) {
        guard let association = associations[id], !association.isClosed else { throw .unknownAssociation }
        let causes: [ErrorCause] = reason.map { [.userInitiatedAbort(UserInitiatedAbortCause(bytes: $0))] } ?? []
        association.abort(causes: causes, reason: .userAborted, now: now)
        markPending(id)
    }
}
