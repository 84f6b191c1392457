import NIOCore
import SCTPWire

/// Path MTU discovery as a path reports it (`PathStatus.mtuDiscovery`).
public struct PathMTUDiscoveryStatus: Hashable, Sendable {
    /// The RFC 8899 state; `.disabled` when the path has a fixed MTU.
    public var state: PathMTUDiscoveryState = .disabled
    /// Probes sent and probes acknowledged.
    public var probesSent = 0
    public var probesAcknowledged = 0
    /// Black holes detected (the path fell back to the base PLPMTU).
    public var blackHoles = 0
    /// Packet Too Big reports used after validation (ICMP / ICMPv6 from the network, or the
    /// local IP stack refusing an oversize probe); invalid or inconsistent sizes are not counted.
    public var packetTooBigReports = 0
    /// The size being probed, if any.
    public var probing: Int?
    /// T3-rtx expired and a probe is confirming the PMTU; packets are held to the base size
    /// meanwhile (RFC 8899 §4.3; the state stays `.searchComplete`).
    public var validating = false

    public init() {}

    init(_ prober: PathMTUProber) {
        state = prober.state
        probesSent = prober.probesSent
        probesAcknowledged = prober.probesAcknowledged
        blackHoles = prober.blackHoles
        packetTooBigReports = prober.packetTooBigReports
        probing = prober.probeSize
        validating = prober.validating
    }
}

extension SCTPEndpoint {
    /// `SCTP_PEER_ADDR_PARAMS` with SPP_PMTUD_ENABLE or SPP_PMTUD_DISABLE on a live
    /// association, for `address`'s path or every path: on, the path starts discovery from the
    /// base PLPMTU; off, it uses `mtu` (or, without one, the MTU it has now). New paths follow
    /// `SCTPConfiguration.pathMTUDiscovery` of the association, which this also updates when
    /// `address` is `nil`.
    public func setPathMTUDiscovery(_ enabled: Bool, mtu: Int? = nil, address: IPAddress? = nil, of id: AssociationID,
                                    now: SCTPInstant) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        if let address, association.pathIndex(for: address) == nil {
            throw .invalidAddresses("\(address) is not an address of the peer")
        }
        if address == nil {
            association.configuration.pathMTUDiscovery.isEnabled = enabled
            if let mtu { association.configuration.pathMTU = mtu }
        }
        for index in association.paths.indices where address == nil || association.paths[index].address == address {
            association.setPathMTUDiscovery(enabled, path: index, fixedMTU: mtu ?? association.paths[index].mtu, now: now)
        }
        markPending(association)
    }

    /// The local IP stack refused to send a datagram to `peer` larger than `mtu` (as an SCTP
    /// packet size): Linux reports EMSGSIZE with the link's MTU, quoting nothing, when the
    /// kernel may not fragment (path MTU sockets). Nobody on the network can forge it, and the
    /// only packets we send above a path's MTU are probes: it is accepted for every path to
    /// `peer` whose probe in flight is larger than `mtu`, as a Packet Too Big for that probe.
    /// Returns whether a path took it.
    @discardableResult
    public func handleLocalPacketTooBig(peer: IPAddress, mtu: Int, now: SCTPInstant) -> Bool {
        var accepted = false
        for association in associations.values where !association.isClosed {
            guard let index = association.pathIndex(for: peer), let probe = association.paths[index].pmtud.probe,
                  probe.size > mtu else { continue }
            if association.pathMTUPacketTooBig(path: index, size: mtu, quoted: .probe(nonce: probe.nonce), now: now) {
                markPending(association)
                accepted = true
            }
        }
        return accepted
    }

    /// An ICMP "fragmentation needed" or ICMPv6 "packet too big" (RFC 8899 §4.6) about a packet
    /// we sent to `peer`. `quotedPacket` is what the message quotes of it, from the SCTP common
    /// header on (the driver strips the IP, and for UDP encapsulation the UDP, header);
    /// `mtu` is the reported size as an SCTP packet (the driver subtracts the headers it adds).
    ///
    /// Accepted only when the quote names one of our associations with that peer (ports and
    /// the peer's verification tag) and traffic still outstanding on it: a path MTU probe in
    /// flight (its HEARTBEAT nonce) or a DATA / I-DATA chunk not yet acknowledged. As RFC 8899
    /// §4.6.2 asks, the size guides the search and is never taken as the MTU directly: one
    /// below the base PLPMTU, or not below the quoted packet's size, is discarded; one below
    /// the path's MTU drops it to the base and the search probes the reported size first; one
    /// between the MTU and a search probe's size ends that probe. A path with discovery off
    /// ignores it. Returns whether it was used.
    @discardableResult
    public func handlePacketTooBig(quotedPacket: ByteBuffer, peer: IPAddress, mtu: Int, now: SCTPInstant) -> Bool {
        let quote = quotedPacket
        let start = quote.readerIndex
        guard quote.readableBytes >= CommonHeader.size + 8,
              let sourcePort = quote.getInteger(at: start, as: UInt16.self),
              let destinationPort = quote.getInteger(at: start + 2, as: UInt16.self),
              let tag = quote.getInteger(at: start + 4, as: UInt32.self),
              let association = liveAssociation(peer: peer, port: destinationPort),
              association.localPort == sourcePort, association.peerTag == tag, tag != 0,
              let index = association.pathIndex(for: peer),
              let quoted = Self.quotedTraffic(quote)
        else { return false }
        let accepted = association.pathMTUPacketTooBig(path: index, size: mtu, quoted: quoted, now: now)
        if accepted { markPending(association) }
        return accepted
    }

    /// The first DATA / I-DATA (its TSN) or HEARTBEAT (a probe's nonce) among the quoted
    /// packet's chunks: packets carry a SACK or an AUTH chunk before their DATA or probe.
    /// At most 8 chunks are looked at, each length checked against what the quote holds.
    static func quotedTraffic(_ quote: ByteBuffer) -> Association.QuotedTraffic? {
        let end = quote.writerIndex
        var position = quote.readerIndex + CommonHeader.size
        for _ in 0..<8 {
            guard position + 4 <= end, let type = quote.getInteger(at: position, as: UInt8.self),
                  let length = quote.getInteger(at: position + 2, as: UInt16.self) else { return nil }
            switch type {
            case DataChunk.chunkType, IDataChunk.chunkType:
                guard position + 8 <= end, let tsn = quote.getInteger(at: position + 4, as: UInt32.self) else { return nil }
                return .data(TSN(tsn))
            case HeartbeatChunk.chunkType:
                // Chunk header, then the Heartbeat Info parameter's header, then our nonce.
                guard position + 16 <= end, let nonce = quote.getInteger(at: position + 8, as: UInt64.self) else { return nil }
                return .probe(nonce: nonce)
            default:
                guard length >= 4 else { return nil }
                position += (Int(length) + 3) & ~3
            }
        }
        return nil
    }
}
