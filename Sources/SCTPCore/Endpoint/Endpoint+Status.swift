import SCTPWire

/// A snapshot of one peer address of an association (`SCTP_GET_PEER_ADDR_INFO`).
public struct PathStatus: Hashable, Sendable {
    public var address: IPAddress
    public var state: PathState
    /// The congestion window in bytes.
    public var congestionWindow: Int
    /// The smoothed round-trip time, once measured.
    public var smoothedRTT: Duration?
    /// The current retransmission timeout.
    public var rto: Duration
    /// The path MTU in use.
    public var mtu: Int
    /// Consecutive unanswered transmissions on this path.
    public var errorCount: Int
    /// Path MTU discovery on this path (RFC 8899 state), and its probes so far.
    public var mtuDiscovery: PathMTUDiscoveryStatus = .init()
}

/// A snapshot of an association (`SCTP_STATUS`).
public struct AssociationStatus: Hashable, Sendable {
    public var state: AssociationState
    /// The peer's receive window as the sender tracks it.
    public var peerReceiveWindow: Int
    /// DATA chunks sent and not yet cumulatively acknowledged.
    public var unacknowledgedChunks: Int
    /// Bytes of user data queued and not sent yet.
    public var pendingBytes: Int
    public var inboundStreams: UInt16
    public var outboundStreams: UInt16
    /// The address new data goes to now.
    public var primaryAddress: IPAddress?
    /// The largest user data a DATA chunk carries on the primary path.
    public var fragmentationPoint: Int
    public var paths: [PathStatus]
    /// Whether ECN is in use (both sides announced ECN Capable, RFC 9260 Appendix A).
    public var ecn: Bool
    /// Whether our packets to the peer carry a zero checksum (RFC 9653): the peer announced
    /// Zero Checksum Acceptable with our configured error detection method.
    public var zeroChecksum: Bool = false
}

extension SCTPEndpoint {
    /// The data transfer counters of an association, `nil` once it is gone (an association
    /// that ended is still there until its last event has been polled).
    public func statistics(of id: AssociationID) -> AssociationStatistics? {
        guard let association = associations[id] else { return nil }
        var statistics = association.statistics
        statistics.bytesAcknowledged = association.dataSlot.pointer?.pointee.tx.outstanding.acknowledgedPayloadBytes ?? 0
        return statistics
    }

    /// Bytes of user data queued on an association and not yet sent.
    public func queuedBytes(on id: AssociationID) -> Int? { associations[id]?.queuedBytes }

    /// A snapshot of an association, `nil` once it is gone.
    public func status(of id: AssociationID) -> AssociationStatus? {
        guard let association = associations[id] else { return nil }
        let paths = association.paths.map { path in
            PathStatus(address: path.address, state: path.state, congestionWindow: path.congestion.cwnd,
                       smoothedRTT: path.rto.srtt, rto: path.rto.rto, mtu: path.mtu, errorCount: path.errorCount,
                       mtuDiscovery: PathMTUDiscoveryStatus(path.pmtud))
        }
        let primary = association.paths.indices.contains(association.primaryPath) ? association.primaryPath : nil
        return AssociationStatus(
            state: association.state, peerReceiveWindow: association.peerWindowAsTracked,
            unacknowledgedChunks: association.dataSlot.pointer?.pointee.tx.outstanding.unacknowledgedCount ?? 0,
            pendingBytes: association.queuedBytes, inboundStreams: association.inboundStreams,
            outboundStreams: association.outboundStreams, primaryAddress: primary.map { association.paths[$0].address },
            fragmentationPoint: association.fragmentationPoint, paths: paths,
            ecn: association.ecnNegotiated, zeroChecksum: association.zeroChecksumToPeer)
    }

    /// Makes `address` the association's primary path (`SCTP_PRIMARY_ADDR`): new data goes
    /// there while it is usable, and returns there after a failover.
    public func setPrimaryAddress(_ address: IPAddress, of id: AssociationID) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        guard let index = association.paths.firstIndex(where: { $0.address == address }) else {
            throw .invalidAddresses("\(address) is not an address of the peer")
        }
        association.configuredPrimaryPath = index
        if association.paths[index].isUsable { association.primaryPath = index }
    }
}

/// The parameters of one association that the per-association options read and change.
public struct AssociationParameters: Hashable, Sendable {
    public var rtoInitial: Duration
    public var rtoMin: Duration
    public var rtoMax: Duration
    public var heartbeatInterval: Duration?
    public var pathMaxRetransmits: Int
    public var associationMaxRetransmits: Int
    /// Max.Burst (`SCTP_MAX_BURST`; 0: no burst mitigation).
    public var maxBurst: Int
    /// The delayed-SACK timeout and packet count (`SCTP_DELAYED_SACK`).
    public var delayedAckTimeout: Duration
    public var delayedAckFrequency: Int
    /// Path.PF.Max.Retrans + 1 (RFC 7829, `SCTP_PEER_ADDR_THLDS`).
    public var pathPotentiallyFailedThreshold: Int
}

extension SCTPEndpoint {
    /// The live parameters of an association, `nil` once it is gone.
    public func parameters(of id: AssociationID) -> AssociationParameters? {
        guard let c = associations[id]?.configuration else { return nil }
        return AssociationParameters(rtoInitial: c.rtoInitial, rtoMin: c.rtoMin, rtoMax: c.rtoMax, heartbeatInterval: c.heartbeatInterval,
                                     pathMaxRetransmits: c.pathMaxRetransmits, associationMaxRetransmits: c.associationMaxRetransmits,
                                     maxBurst: c.maxBurst, delayedAckTimeout: c.delayedAckTimeout, delayedAckFrequency: c.delayedAckFrequency,
                                     pathPotentiallyFailedThreshold: c.pathPotentiallyFailedThreshold)
    }

    /// `SCTP_RTOINFO` on a live association: every path's RTO bounds change; RTOs are
    /// recomputed from what was measured.
    public func setRTOParameters(initial: Duration, minimum: Duration, maximum: Duration, of id: AssociationID) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        association.configuration.rtoInitial = initial
        association.configuration.rtoMin = minimum
        association.configuration.rtoMax = maximum
        for index in association.paths.indices {
            association.paths[index].rto.setBounds(initial: initial, minimum: minimum, maximum: maximum)
        }
        markPending(association)
    }

    /// `SCTP_PEER_ADDR_PARAMS` on a live association: the heartbeat interval (`nil`: off)
    /// and Path.Max.Retrans of every path, and the MTU of `address`'s path or of all paths.
    /// Heartbeats are rescheduled from `now`.
    public func setPathParameters(heartbeatInterval: Duration?, pathMaxRetransmits: Int, mtu: Int?, address: IPAddress? = nil,
                                  of id: AssociationID, now: SCTPInstant) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        if let address, association.pathIndex(for: address) == nil {
            throw .invalidAddresses("\(address) is not an address of the peer")
        }
        association.configuration.heartbeatInterval = heartbeatInterval
        association.configuration.pathMaxRetransmits = pathMaxRetransmits
        for index in association.paths.indices {
            // The path's congestion control follows its MTU (`PeerPath.mtu`).
            // With path MTU discovery on, the discovered MTU stands (RFC 6458 §8.1.12: spp_pathmtu
            // applies with SPP_PMTUD_DISABLE, `setPathMTUDiscovery`).
            if let mtu, !association.paths[index].pmtudEnabled, address == nil || association.paths[index].address == address {
                association.paths[index].mtu = mtu
            }
            if association.state == .established && association.paths[index].heartbeatInFlight == nil {
                association.scheduleHeartbeat(path: index, now: now)
            }
        }
        markPending(association)
    }

    /// `SCTP_ASSOCINFO` on a live association: Association.Max.Retrans.
    public func setAssociationMaxRetransmits(_ count: Int, of id: AssociationID) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        association.configuration.associationMaxRetransmits = count
    }
}
