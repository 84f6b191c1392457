import NIOCore
import SCTPWire

/// Where a packet goes once the verification-tag rules of RFC 9260 §8.5 and §8.5.1 are applied.
enum PacketOwner: Equatable {
    /// A live association of ours, whose tag rules the packet passed.
    case association(Association)
    /// No association: a new INIT or COOKIE ECHO, or an out-of-the-blue packet (§8.4).
    case none
    /// The packet comes from the transport address of one of our associations but fails its
    /// tag rules: silently discarded, never answered (§8.5).
    case discard

    static func == (a: PacketOwner, b: PacketOwner) -> Bool {
        switch (a, b) {
        case (.association(let x), .association(let y)): x === y
        case (.none, .none), (.discard, .discard): true
        default: false
        }
    }
}

extension SCTPEndpoint {
    /// Handles one SCTP packet that arrived from `source` (the peer's address) at `destination`
    /// (ours). Malformed packets are dropped; nothing here can trap on bad input.
    ///
    /// `congestionExperienced`: the IP header carried the CE codepoint (ECN, RFC 3168). The
    /// core cannot see IP headers, so a driver that reads the ECN bits passes the mark here;
    /// with ECN in use the association echoes it to the peer (ECNE). The UDP and raw IP
    /// drivers of the `SCTP` module read it from each datagram.
    ///
    /// On a shard of a sharded endpoint (`tagShard`, `shardDirectory`), a packet for no
    /// association here whose peer another shard owns is handed to that shard; `forwarded`
    /// marks one handed over so, which is never handed on again.
    public func handle(datagram: ByteBuffer, from source: IPAddress, to destination: IPAddress, now: SCTPInstant,
                       congestionExperienced: Bool = false, forwarded: Bool = false) {
        guard let header = try? CommonHeader(peeking: datagram), header.destinationPort == localPort else { return }
        latestNow = max(latestNow, now)
        // Checksum: a non-zero one must be the CRC32c. A zero one (RFC 9653) passes only on an
        // association where we announced Zero Checksum Acceptable, checked once the packet's
        // association is known below; anywhere else (no association: INIT, COOKIE ECHO, out of
        // the blue) it must be the CRC32c too.
        let verification: ChecksumVerification = .zeroAllowed
        var storage: [Chunk] = []
        swap(&storage, &chunkStorage)
        guard var packet = try? SCTPPacket(parsing: datagram, header: header, checksum: verification, reusing: consume storage)
        else { return }
        defer {
            // The chunk array goes back for the next packet (copy-on-write keeps this safe
            // should anything have kept the packet's chunks).
            packet.chunks.removeAll(keepingCapacity: true)
            swap(&chunkStorage, &packet.chunks)
        }
        guard (try? packet.validateBundling()) != nil else { return }

        let owner = findAssociation(for: packet, from: source)
        var association: Association? = nil
        if case .association(let owner) = owner { association = owner }
        if header.checksum == 0 {
            // Only associations where we announced it may skip the checksum. Never an INIT,
            // whose sender cannot know yet (RFC 9653 requires CRC32c on it). A COOKIE ECHO must
            // carry CRC32c too, but one with zero is taken where our INIT ACK announced zero
            // checksum (the endpoint's configuration): its cookie is authenticated anyway.
            var zeroAllowed: Bool
            switch packet.chunks.first {
            case .initiation: zeroAllowed = false
            case .cookieEcho: zeroAllowed = configuration.zeroChecksumMethod != nil
            default: zeroAllowed = association?.zeroChecksumFromPeerAllowed ?? false
            }
            if !zeroAllowed {
                guard (try? PacketChecksum.verify(datagram, .required)) != nil else { return }
            }
        }
        if owner == .discard { return }
        if owner == .none, !forwarded, let directory = shardDirectory,
           forwardToOwningShard(packet, datagram: datagram, directory: directory, from: source, to: destination,
                                congestionExperienced: congestionExperienced) {
            return
        }
        guard packet.leadsWithSpecialChunk else {
            // DATA, SACK and the other chunks of an association's life: the `default` below.
            if let association {
                deliver(packet, to: association, from: source, now: now, congestionExperienced: congestionExperienced)
            } else {
                handleWithoutAssociation(packet, from: source, to: destination, now: now)
            }
            return
        }
        switch packet.leadingChunk {
        case .cookieEcho(let echo):
            // The cookie, not the tag, decides which association it is for (§5.2.4).
            handleCookieEcho(echo, packet: packet, from: source, to: destination, now: now)
        case .initiation(let initChunk) where association != nil:
            // An INIT for a live association: a collision or a restart (§5.2.1, §5.2.2).
            answerInit(initChunk, packet: packet, from: source, to: destination, now: now, existing: association)
        default:
            if let association {
                deliver(packet, to: association, from: source, now: now, congestionExperienced: congestionExperienced)
            } else {
                handleWithoutAssociation(packet, from: source, to: destination, now: now)
            }
        }
    }

    /// A packet no association of this shard takes: handed to the shard that owns its peer's
    /// address, if that is another one (docs/SHARDING.md). An INIT is looked up by its source
    /// and every address it lists (a restart may come from another of the peer's addresses).
    /// A COOKIE ECHO stays: its cookie is this shard's (its tag chose the shard), and only the
    /// shard that made a cookie can open it.
    private func forwardToOwningShard(_ packet: SCTPPacket, datagram: ByteBuffer, directory: any SCTPShardDirectory,
                                      from source: IPAddress, to destination: IPAddress, congestionExperienced: Bool) -> Bool {
        guard let shard = tagShard, shard.count > 1 else { return false }
        let port = packet.header.sourcePort
        var owner = directory.owner(peer: source, port: port)
        switch packet.leadingChunk {
        case .cookieEcho:
            return false
        case .initiation(let initChunk) where owner == nil:
            for address in initChunk.addresses {
                owner = directory.owner(peer: address, port: port)
                if owner != nil { break }
            }
        default:
            break
        }
        guard let owner, owner != shard.index, owner < shard.count else { return false }
        directory.forward(datagram, from: source, to: destination, congestionExperienced: congestionExperienced, toShard: owner)
        return true
    }

    /// Hands a packet to its association and applies what it changed to the endpoint's tables.
    func deliver(_ packet: SCTPPacket, to association: Association, from source: IPAddress, now: SCTPInstant,
                 congestionExperienced: Bool = false) {
        let outcome = association.handle(packet, from: source, now: now, congestionExperienced: congestionExperienced)
        if let previous = outcome.previousPeerAddresses { reindexPeerAddresses(association, previous: previous) }
        markPending(association)
    }

    /// Finds the association a packet belongs to and applies the verification-tag rules
    /// (RFC 9260 §8.5, §8.5.1). A packet from the transport address of a live association
    /// that fails them is discarded; one from an unknown address is out of the blue.
    func findAssociation(for packet: SCTPPacket, from source: IPAddress) -> PacketOwner {
        let tag = packet.header.verificationTag
        let port = packet.header.sourcePort
        // Looked up only where a rule needs it: a DATA or SACK packet needs the tag only.
        lazy var byAddress = liveAssociation(peer: source, port: port)
        lazy var byTag: Association? = {
            guard let association = liveAssociation(localTag: tag), association.peerPort == port else { return nil }
            return association
        }()
        /// A packet failing the tag rules: discarded if it names a live association's peer.
        var unknown: PacketOwner { byAddress == nil ? .none : .discard }

        guard packet.leadsWithSpecialChunk else {
            // The `default` case below, without copying the first chunk out of the packet.
            if let association = byTag { return .association(association) }
            return unknown
        }

        switch packet.leadingChunk {
        case .initiation(let initChunk):
            // §8.5.1 A: INIT travels with tag 0; anything else is discarded.
            guard tag == 0 else { return .discard }
            // The peer is recognised by the INIT's source or by an address it lists (§5.2.2).
            if let byAddress { return .association(byAddress) }
            for address in initChunk.addresses {
                if let association = liveAssociation(peer: address, port: port) { return .association(association) }
            }
            return .none
        case .abort(let chunk):
            // §8.5.1 B: our tag with the T bit clear, or the peer's tag with the T bit set.
            return reflectedTagOwner(reflected: chunk.tagFlags.contains(.reflectedTag), tag: tag, byAddress: byAddress,
                                     byTag: byTag, unknown: unknown)
        case .shutdownComplete(let chunk):
            // §8.5.1 C: the same rule as ABORT.
            return reflectedTagOwner(reflected: chunk.tagFlags.contains(.reflectedTag), tag: tag, byAddress: byAddress,
                                     byTag: byTag, unknown: unknown)
        case .shutdownAck:
            // §8.5.1 E: in COOKIE-WAIT or COOKIE-ECHOED a SHUTDOWN ACK is out of the blue (§8.4):
            // it is answered with SHUTDOWN COMPLETE carrying its tag, T bit set.
            if let association = byTag ?? byAddress, association.state == .cookieWait || association.state == .cookieEchoed {
                return .none
            }
            if let association = byTag { return .association(association) }
            return unknown
        case .cookieEcho:
            // §8.5.1 D: the cookie is checked against the tag and decides the association; the
            // tag only finds one for the zero-checksum rule.
            if let association = byTag { return .association(association) }
            return .none
        default:
            if let association = byTag { return .association(association) }
            return unknown
        }
    }

    private func reflectedTagOwner(reflected: Bool, tag: UInt32, byAddress: Association?, byTag: Association?,
                                   unknown: PacketOwner) -> PacketOwner {
        if reflected {
            // The peer's tag must be known: in COOKIE-WAIT it is not, and 0 is never a tag.
            if let byAddress, byAddress.state != .cookieWait, byAddress.peerTag != 0, byAddress.peerTag == tag {
                return .association(byAddress)
            }
        } else if let byTag {
            return .association(byTag)
        }
        return unknown
    }

    /// Packets for no association: a new INIT, or §8.4.
    func handleWithoutAssociation(_ packet: SCTPPacket, from source: IPAddress, to destination: IPAddress, now: SCTPInstant) {
        switch packet.chunks.first {
        case .initiation(let initChunk) where acceptsAssociations:
            answerInit(initChunk, packet: packet, from: source, to: destination, now: now, existing: nil)
        default:
            // A late packet of an association that ended gracefully (see `recentlyClosed`)
            // gets SHUTDOWN COMPLETE where §8.4 answers with ABORT.
            let graceful = closedRecently(tag: packet.header.verificationTag, now: now)
            replyOutOfTheBlue(to: packet, from: source, to: destination, afterGracefulEnd: graceful)
        }
    }

    /// §8.4: the answer to an out-of-the-blue packet goes back from the address it was sent to.
    func replyOutOfTheBlue(to packet: SCTPPacket, from source: IPAddress, to destination: IPAddress, afterGracefulEnd: Bool = false) {
        if let reply = OutOfTheBlue.response(to: packet, afterGracefulEnd: afterGracefulEnd) { send(reply, to: source, from: destination) }
    }

    /// Queues a packet the endpoint itself sends; `local` is the address to send it from
    /// (the one the packet it answers was sent to), when that matters.
    func send(_ packet: SCTPPacket, to address: IPAddress, from local: IPAddress? = nil, checksum: ChecksumMode = .crc32c) {
        send(datagram: packet.serialized(checksum: checksum), to: address, from: local)
    }

    /// Queues a packet the endpoint itself wrote (its checksum already computed).
    func send(datagram: ByteBuffer, to address: IPAddress, from local: IPAddress? = nil) {
        // An address removed lately (`bindx` remove, RFC 5061) still answers: the peer may not
        // have learned of the removal, and knows us by no other address.
        let source = local.flatMap { localAddresses.contains($0) || removedLocalAddresses.contains($0) ? $0 : nil }
        outbox.append(Transmit(datagram: datagram, destination: address, source: source))
    }
}

// MARK: Endpoints sharing a port

extension SCTPEndpoint {
    /// Whether a live association of this endpoint has `tag` as its own verification tag
    /// (the tag every packet of the association carries) and `peerPort` as its peer's port.
    /// One table look-up: for a driver that shares a port among several endpoints
    /// (`SCTP_REUSE_PORT`) and must find the one a packet belongs to.
    public func hasAssociation(localTag tag: UInt32, peerPort: UInt16) -> Bool {
        guard let association = liveAssociation(localTag: tag) else { return false }
        return association.peerPort == peerPort
    }

    /// Whether a live association of this endpoint has the peer transport address
    /// `address`:`port` (an INIT, an ABORT with the T bit, ... from a known peer). One table
    /// look-up.
    public func hasAssociation(peer address: IPAddress, port: UInt16) -> Bool {
        liveAssociation(peer: address, port: port) != nil
    }

    /// Whether `datagram` is a COOKIE ECHO (alone or after an AUTH chunk) whose cookie this
    /// endpoint made: its MAC checks with one of the endpoint's cookie secrets (stale or not).
    /// The secrets are the endpoint's own, so of several endpoints sharing a port only the one
    /// that sent the INIT ACK can take the COOKIE ECHO. At most two chunks are read and one
    /// MAC computed; the checksum is not checked (`handle` does that).
    public func madeCookie(in datagram: ByteBuffer) -> Bool {
        var reader = ChunkReader(chunksOf: datagram)
        for _ in 0..<2 {
            switch try? reader.next() {
            case .auth: continue
            case .cookieEcho(let echo):
                if case .invalid = cookies.open(echo.cookie, now: latestNow) { return false }
                return true
            default: return false
            }
        }
        return false
    }
}
