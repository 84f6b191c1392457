import NIOCore
import SCTPWire

/// Path MTU discovery (RFC 8899 §6.2.1, PLPMTUD for SCTP): each path's `PathMTUProber`
/// decides; this file sends its probes (a HEARTBEAT padded with a PAD chunk, RFC 4820, to the
/// probed size), routes HEARTBEAT ACKs, T3-rtx expiries and Packet Too Big reports to it, and
/// applies its PLPMTU to the path's MTU (and so to its congestion control's PMDCS).
extension Association {
    /// Starts discovery on every path (the association is up).
    func startPathMTUDiscovery(now: SCTPInstant) {
        for index in paths.indices where paths[index].pmtudEnabled {
            paths[index].pmtud.start(now: now)
            applyPathMTU(path: index)
        }
        for index in paths.indices { sendPathMTUProbeIfDue(path: index, now: now) }
    }

    /// Restarts discovery on a path from BASE (RFC 8899 §5.2: a path change); the base probe
    /// goes out once the path is active.
    func restartPathMTUDiscovery(path index: Int, now: SCTPInstant) {
        guard paths.indices.contains(index), paths[index].pmtudEnabled else { return }
        paths[index].pmtud.start(now: now)
        applyPathMTU(path: index)
    }

    /// Switches discovery on or off for a path (`SCTP_PEER_ADDR_PARAMS` SPP_PMTUD_ENABLE /
    /// SPP_PMTUD_DISABLE); off, the path keeps `fixedMTU`.
    func setPathMTUDiscovery(_ on: Bool, path index: Int, fixedMTU: Int, now: SCTPInstant) {
        let running = state == .established || state == .shutdownPending || state == .shutdownReceived
        if on && !paths[index].pmtudEnabled {
            // A path with discovery off keeps no prober (`PeerPath.pmtud`): the settings are the
            // association's, which every path took when it was made (only `isEnabled` changes).
            var settings = configuration.pathMTUDiscovery
            settings.isEnabled = false
            var prober = PathMTUProber(settings: settings, fixedMTU: fixedMTU)
            prober.setEnabled(on, fixedMTU: fixedMTU, now: running ? now : nil)
            paths[index].pmtud = prober
        } else {
            paths[index].pmtud.setEnabled(on, fixedMTU: fixedMTU, now: running ? now : nil)
        }
        if !on { paths[index].mtu = fixedMTU }
        applyPathMTU(path: index)
        if running { sendPathMTUProbeIfDue(path: index, now: now) }
    }

    /// The prober's timer of a path fired.
    func pathMTUTimerDue(path index: Int, now: SCTPInstant) {
        paths[index].pmtud.timerFired(now: now)
        applyPathMTU(path: index)
        sendPathMTUProbeIfDue(path: index, now: now)
    }

    /// A HEARTBEAT ACK whose nonce answers the path's probe: the probed size passes.
    /// Returns whether it was a probe's.
    func pathMTUProbeAcknowledged(path index: Int, nonce: UInt64, now: SCTPInstant) -> Bool {
        guard paths[index].pmtud.acknowledged(nonce: nonce, now: now) else { return false }
        applyPathMTU(path: index)
        sendPathMTUProbeIfDue(path: index, now: now)
        return true
    }

    /// T3-rtx expired on a path: black hole detection (RFC 8899 §4.3), before the
    /// retransmissions are put into packets.
    func pathMTURetransmissionTimeout(path index: Int, now: SCTPInstant) {
        guard paths[index].pmtudEnabled else { return }
        paths[index].pmtud.retransmissionTimeout(now: now)
        applyPathMTU(path: index)
        sendPathMTUProbeIfDue(path: index, now: now)
    }

    /// A Packet Too Big the endpoint validated against this association (RFC 8899 §4.6):
    /// `quoted` tells whether it quoted one of our probes (HEARTBEAT) or DATA still
    /// outstanding; anything else is ignored, and so is a size the prober finds invalid or
    /// inconsistent (`PathMTUProber.packetTooBig`). Returns whether it was used.
    func pathMTUPacketTooBig(path index: Int, size: Int, quoted: QuotedTraffic, now: SCTPInstant) -> Bool {
        guard paths.indices.contains(index), paths[index].pmtudEnabled else { return false }
        let used: Bool
        switch quoted {
        case .probe(let nonce):
            guard paths[index].pmtud.probe?.nonce == nonce else { return false }
            used = paths[index].pmtud.packetTooBig(size: size, probeNonce: nonce, now: now)
        case .data(let tsn):
            // Without a data transfer state nothing of ours is outstanding (and none is made).
            guard let data = dataSlot.pointer else { return false }
            let outstanding = data.pointee.tx.outstanding
            guard tsn > outstanding.cumulativeTSNAck && tsn <= outstanding.highestSentTSN else { return false }
            used = paths[index].pmtud.packetTooBig(size: size, probeNonce: nil, now: now)
        }
        guard used else { return false }
        applyPathMTU(path: index)
        sendPathMTUProbeIfDue(path: index, now: now)
        return true
    }

    /// What a Packet Too Big quoted of ours.
    enum QuotedTraffic {
        /// A HEARTBEAT whose info starts with this nonce.
        case probe(nonce: UInt64)
        /// A DATA or I-DATA chunk with this TSN.
        case data(TSN)
    }

    /// The path's MTU follows its prober's PLPMTU (the base while it validates it); the
    /// association's statistics count its probes acknowledged and black holes.
    private func applyPathMTU(path index: Int) {
        let prober = paths[index].pmtud
        if prober.probesAcknowledged > paths[index].pmtudCounted.probes || prober.blackHoles > paths[index].pmtudCounted.blackHoles {
            dataStatistics.pathMTUProbesAcknowledged += max(0, prober.probesAcknowledged - paths[index].pmtudCounted.probes)
            dataStatistics.pathMTUBlackHoles += max(0, prober.blackHoles - paths[index].pmtudCounted.blackHoles)
        }
        paths[index].pmtudCounted = (prober.probesAcknowledged, prober.blackHoles)
        let size = paths[index].pmtud.effectiveMTU
        if paths[index].pmtudEnabled && paths[index].mtu != size { paths[index].mtu = size }
    }

    /// Sends the probe the path's prober wants now, if the association and the path can carry
    /// one (an established association, an active path); otherwise asks again after an RTO.
    private func sendPathMTUProbeIfDue(path index: Int, now: SCTPInstant) {
        guard let size = paths[index].pmtud.probeToSend(now: now) else { return }
        let timeout = paths[index].pmtud.settings.probeTimeout ?? paths[index].rto.rto
        guard state == .established || state == .shutdownPending || state == .shutdownReceived,
              paths[index].state == .active else {
            paths[index].pmtud.postpone(until: now + timeout)
            return
        }
        let (nonce, heartbeat) = makeHeartbeat(path: index, now: now)
        let heartbeatSize = heartbeat.computedSize ?? 0
        // AUTH (RFC 4895): when the peer wants HEARTBEAT or PAD authenticated, an AUTH chunk
        // goes in front and the PAD is that much smaller.
        let authenticator = packetAuthenticator()
        let authSize = authenticator.map {
            $0.chunks.contains(ChunkType.heartbeat) || $0.chunks.contains(ChunkType.pad) ? $0.chunkSize : 0
        } ?? 0
        // RFC 8899 §6.2.1.2: the PAD chunk brings the packet to the probed size.
        let padChunkSize = size - CommonHeader.size - authSize - heartbeatSize
        guard padChunkSize >= 4 else { return }
        var builder = PacketBuilder(header: commonHeader, mtu: size, destination: paths[index].address, checksum: checksumMode)
        builder.authenticator = authenticator
        builder.add(heartbeat)
        builder.add(.pad(PadChunk(paddingLength: padChunkSize - 4)))
        finishPackets(&builder)
        paths[index].pmtud.probeSent(nonce: nonce, size: size, now: now, timeout: timeout)
    }
}
