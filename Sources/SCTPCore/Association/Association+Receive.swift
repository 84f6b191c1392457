import NIOCore
import SCTPWire

extension Association {
    /// Whether packets of this association with a zero checksum are accepted: we announced
    /// Zero Checksum Acceptable in our INIT or INIT ACK (RFC 9653 §5.3: an endpoint that
    /// announced it must accept them, whatever the peer announced). Elsewhere a zero checksum
    /// is checked as a CRC32c like any other, and almost always dropped.
    var zeroChecksumFromPeerAllowed: Bool { configuration.zeroChecksumMethod != nil }

    /// Creates the server side from a verified state cookie (§5.1 D), or the restarted
    /// association (§5.2.4 A, `restart`): answers COOKIE ACK and enters ESTABLISHED.
    /// `bundlesData`: the COOKIE ECHO's packet carries DATA or I-DATA, which the endpoint hands
    /// to `handle` next: the COOKIE ACK is queued and leaves with the SACK in the packet sent
    /// at the end of `handle` (see `sendCookieAck(alone:)`).
    func accept(cookie: StateCookie, source: IPAddress, now: SCTPInstant, restart: Bool = false, bundlesData: Bool = false) {
        adopt(cookie: cookie, source: source, confirmedAddresses: [])
        sendCookieAck(alone: !bundlesData)
        // With DATA, the COOKIE ACK waits for the end of the packet (`handle`), whose
        // transmission carries it ahead of the SACK.
        establish(now: now, restart: restart, transmit: !bundlesData)
    }

    /// COOKIE ACK for a new association (§5.1 D): when it goes `alone` (the COOKIE ECHO's
    /// packet carried no DATA or I-DATA, so nothing else is due), with nothing else waiting
    /// and the peer not asking for it signed (RFC 4895), written straight into its datagram
    /// (no packet builder, whose packet array the association would keep); otherwise queued
    /// for the next transmission, where the SACK for the bundled DATA joins it in one packet,
    /// the COOKIE ACK first (§5.1).
    func sendCookieAck(alone: Bool = true) {
        guard alone, pendingControl.isEmpty, !peerRequiresAuthentication(ChunkType.cookieAck),
              paths.indices.contains(primaryPath) else {
            queueControl(.cookieAck(CookieAckChunk()))
            return
        }
        let destination = paths[primaryPath].address
        let source = pinnedSourceAddresses != nil ? sourceAddress(toward: destination) : nil
        outbox.append(Transmit(datagram: CookieAckChunk.packet(header: commonHeader, checksum: checksumMode),
                               destination: destination, source: source))
    }

    /// What handling a packet changed that the endpoint keeps track of.
    struct PacketOutcome {
        /// The peer's addresses before an INIT ACK replaced them (the endpoint re-indexes the
        /// association by its new ones); `nil` when they did not change.
        var previousPeerAddresses: [IPAddress]?
    }

    /// Handles the chunks of one packet that belongs to this association, in order.
    /// INIT and COOKIE ECHO are the endpoint's (§5.2): it answers them before, or instead of,
    /// handing the packet here.
    /// `congestionExperienced`: the driver saw the IP packet marked CE (ECN).
    ///
    /// Returns what the endpoint must update in its own tables.
    @discardableResult
    func handle(_ packet: SCTPPacket, from source: IPAddress, now: SCTPInstant,
                congestionExperienced: Bool = false) -> PacketOutcome {
        var outcome = PacketOutcome()
        packetsReceived &+= 1
        var receivedData = false
        var lowestDataTSN: TSN? = nil
        var unsupported: [UnknownChunk] = []
        currentChunkAuthenticated = false
        if addressReconfig?.answersRepeatedThisPacket.isEmpty == false { addressReconfig?.answersRepeatedThisPacket.removeAll() }
        // By index, each chunk switched on where it lies in the array: `for chunk in` copied
        // every chunk out first (a retain and two releases per DATA chunk).
        chunks: for index in packet.chunks.indices {
            if state == .closed { break }
            if authenticationSummary.negotiated {  // RFC 4895 §6.3, Association+Auth.swift
                switch authGate(packet.chunks[index], in: packet) {
                case .process: break
                case .skip: continue chunks
                case .stop: break chunks
                }
            }
            switch packet.chunks[index] {
            case .data(let data):
                if interleaving {
                    dataKindViolation("DATA on an association that uses I-DATA", now: now)
                    break chunks
                }
                receivedData = true
                if lowestDataTSN.map({ data.tsn < $0 }) ?? true { lowestDataTSN = data.tsn }
                guard handleData(data, from: source, now: now) else { break chunks }
            case .sack(let sack):
                dataStatistics.sacksReceived += 1
                handleSack(sack, from: source, now: now)
            case .nrSack(let sack) where nonRenegableSacks:
                dataStatistics.sacksReceived += 1
                handleSack(sack.combined, from: source, now: now, nonRenegableFrom: sack.gapAckBlocks.count)
            case .heartbeat(let heartbeat):
                handleHeartbeat(heartbeat, from: source)
            case .heartbeatAck(let ack):
                handleHeartbeatAck(ack, now: now)
            case .abort(let abort):
                handleAbort(abort)
                break chunks
            case .shutdown(let shutdownChunk):
                handleShutdown(shutdownChunk, now: now)
            case .shutdownAck:
                handleShutdownAck(from: source, now: now)
            case .shutdownComplete:
                handleShutdownComplete()
            case .error(let error):
                handleError(error, now: now)
            case .cookieEcho:
                continue  // the endpoint applied it (§5.2.4); only the first chunk may be one
            case .cookieAck:
                handleCookieAck(now: now)  // §5.2.5: discarded unless COOKIE-ECHOED
            case .initiation:
                break chunks  // the endpoint answers INIT (§5.2.1, §5.2.2); it stands alone
            case .initiationAck(let ack):
                // §5.2.3: discarded unless COOKIE-WAIT.
                guard state == .cookieWait else { break chunks }
                outcome.previousPeerAddresses = paths.map(\.address)
                handleInitAck(ack, from: source, now: now)
                break chunks
            case .iData(let data):
                guard interleaving else {
                    dataKindViolation("I-DATA on an association that uses DATA", now: now)
                    break chunks
                }
                receivedData = true
                if lowestDataTSN.map({ data.tsn < $0 }) ?? true { lowestDataTSN = data.tsn }
                guard handleIData(data, from: source, now: now) else { break chunks }
            case .iForwardTSN(let forward) where interleaving && peerSupportsForwardTSN:
                handleIForwardTSN(forward, now: now)
                receivedData = true  // answered with a SACK at once
            case .forwardTSN where interleaving && peerSupportsForwardTSN:
                dataKindViolation("FORWARD TSN on an association that uses I-FORWARD-TSN", now: now)
                break chunks
            case .forwardTSN(let forward):
                if peerSupportsForwardTSN {
                    handleForwardTSN(forward, now: now)
                    receivedData = true  // answered with a SACK at once (RFC 3758 §3.6)
                } else {
                    unsupported.append(UnknownChunk(type: ChunkType.forwardTSN, flags: 0, value: ByteBuffer()))
                }
            case .ecne(let echo):
                if ecnNegotiated { handleECNEcho(echo) }  // without ECN a peer must not send it: ignored
            case .cwr(let cwr):
                if ecnNegotiated { handleCWR(cwr) }
            case .unknown(let unknown):
                if unknown.action.reports { unsupported.append(unknown) }
                if !unknown.action.continues { break chunks }
            case .reconfig(let reconfigChunk) where reconfig != nil:
                handleReconfig(reconfigChunk, now: now)
            // RFC 5061 §4.1.1: processed only when an AUTH chunk before it in this packet
            // covered it (RFC 4895 §6.3, `authGate` above).
            case .asconf(let asconfChunk) where addressReconfig != nil:
                if let previous = handleASCONF(asconfChunk, from: source, chunkAuthenticated: currentChunkAuthenticated, now: now) {
                    outcome.previousPeerAddresses = outcome.previousPeerAddresses ?? previous
                }
            case .asconfAck(let ack) where addressReconfig != nil:
                handleASCONFAck(ack, chunkAuthenticated: currentChunkAuthenticated, now: now)
            case .auth, .asconf, .asconfAck, .reconfig, .pad, .iForwardTSN, .nrSack:
                // Extensions not negotiated (we do not announce them yet): treat as unrecognised
                // chunks, by their type's high bits (§3.2).
                let action = UnrecognizedAction(chunkType: packet.chunks[index].type)
                if action.reports { unsupported.append(rawChunk(packet.chunks[index])) }
                if !action.continues { break chunks }
            }
        }
        if !unsupported.isEmpty && state != .closed {
            queueControl(.error(ErrorChunk(causes: unsupported.map {
                .unrecognizedChunkType(UnrecognizedChunkTypeCause(chunk: $0))
            })))
        }
        if state == .closed { return outcome }
        if congestionExperienced && ecnNegotiated, let lowestDataTSN { self.congestionExperienced(lowestTSN: lowestDataTSN) }
        if receivedData {
            if receiver.deferredReset != nil { completeDeferredResetIfReady() }
            receiver.packetProcessed(now: now)
        }
        if state == .shutdownSent && receivedData {
            // §9.2: in SHUTDOWN-SENT, answer DATA with SACK and SHUTDOWN at once.
            queueControl(.shutdown(ShutdownChunk(cumulativeTSNAck: receiver.tracker.cumulativeTSN)))
            receiver.requestImmediateSack()
        }
        transmitData(now: now)
        return outcome
    }

    /// A chunk's bytes as an unknown chunk, for an Unrecognized Chunk Type report.
    func rawChunk(_ chunk: Chunk) -> UnknownChunk {
        var buffer = ByteBuffer()
        chunk.writeUnpadded(to: &buffer)
        let type = buffer.readInteger(as: UInt8.self) ?? 0
        let flags = buffer.readInteger(as: UInt8.self) ?? 0
        buffer.moveReaderIndex(forwardBy: min(2, buffer.readableBytes))
        return UnknownChunk(type: type, flags: flags, value: buffer)
    }

    /// ERROR from the peer: reported to the user; a Stale Cookie while COOKIE-ECHOED restarts
    /// the handshake with a Cookie Preservative (§5.2.6).
    func handleError(_ error: ErrorChunk, now: SCTPInstant) {
        if state == .cookieEchoed, var progress = handshake,
           let staleness = error.causes.lazy.compactMap({ if case .staleCookie(let c) = $0 { c.staleness } else { nil } }).first
        {
            progress.retransmissions += 1
            if progress.retransmissions > configuration.maxInitRetransmits {
                close(event: .cannotStart(id, .timedOut))
                return
            }
            // Ask for twice the staleness (in ms), at least one second.
            let increment = max(UInt32(clamping: UInt64(staleness) * 2 / 1000), 1000)
            // The INIT sent first, with a Cookie Preservative (in place of one it had).
            guard let sent = try? SCTPPacket(parsing: progress.initPacket, checksum: .skipped),
                  case .initiation(var initChunk) = sent.chunks.first else { return }
            let parameters = initChunk.parameters.parameters.filter { if case .cookiePreservative = $0 { false } else { true } }
            initChunk.parameters = ParameterList(parameters
                + [.cookiePreservative(CookiePreservativeParameter(lifeSpanIncrement: increment))])
            progress.pending = [.initiation(initChunk)]
            enter(.cookieWait(progress))
            peerTag = 0  // the next INIT ACK brings it again
            // An INIT always carries CRC32c (RFC 9653 §5.2), zero checksum or not.
            sendControl(progress.pending, to: primaryPath, tag: 0, checksum: .crc32c)
            timers[.t1Init] = now + progress.timeout
            return
        }
        // RFC 5061 §5.1 A9: the peer does not know ASCONF (the reported chunk's type byte).
        for case .unrecognizedChunkType(let cause) in error.causes.prefix(16)
            where cause.bytes.getInteger(at: cause.bytes.readerIndex, as: UInt8.self) == ChunkType.asconf {
            peerRefusesAddressReconfiguration()
        }
        events.append(.remoteError(id, error.causes))
    }
}
