import SCTPWire

// The per-association settings that RFC 6458's socket options change on a live association
// (`SCTP_MAX_BURST`, `SCTP_DELAYED_SACK`, `SCTP_PEER_ADDR_THLDS`) and what the read-only
// ones report (`SCTP_PR_SUPPORTED`, `SCTP_PR_ASSOC_STATUS`, the fragmentation point).

extension Association {
    /// The largest user message sent in one DATA or I-DATA chunk now: the primary path's
    /// fragment size less the chunk header and, when the peer wants DATA authenticated, the
    /// AUTH chunk; no more than `SCTP_MAXSEG`.
    var fragmentationPoint: Int {
        let chunkSize = paths.indices.contains(primaryPath)
            ? paths[primaryPath].fragmentChunkSize : TransmissionQueue.pmdcs(mtu: configuration.pathMTU)
        let header = interleaving ? IDataChunk.headerSize : DataChunk.headerSize
        let authentication = packetAuthenticator().map {
            $0.chunks.contains(ChunkType.data) || $0.chunks.contains(ChunkType.iData) ? $0.chunkSize : 0
        } ?? 0
        let point = chunkSize - header - authentication
        return configuration.maxSegmentSize.map { min(max($0, 4), point) } ?? point
    }
}

extension SCTPEndpoint {
    /// The largest message an association sends without fragmenting it (`SCTP_STATUS`'s
    /// fragmentation point; `SCTP_DISABLE_FRAGMENTS` refuses larger ones); `nil` once it is gone.
    public func fragmentationPoint(of id: AssociationID) -> Int? {
        associations[id]?.fragmentationPoint
    }

    /// `SCTP_MAX_BURST` on a live association: new packets sent at once on one path; 0
    /// switches burst mitigation off.
    public func setMaxBurst(_ burst: Int, of id: AssociationID) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        association.configuration.maxBurst = max(burst, 0)
        markPending(association)
    }

    /// `SCTP_DELAYED_SACK` on a live association: the delayed-SACK timeout (at most 500 ms)
    /// and how many packets with DATA are acknowledged at once (1: every packet, no delay).
    public func setDelayedSack(timeout: Duration, frequency: Int, of id: AssociationID, now: SCTPInstant) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        association.configuration.delayedAckTimeout = min(max(timeout, .zero), .milliseconds(500))
        association.configuration.delayedAckFrequency = max(frequency, 1)
        association.receiver.setDelayedSack(timeout: association.configuration.delayedAckTimeout,
                                            packetsPerSack: association.configuration.delayedAckFrequency, now: now)
        markPending(association)
    }

    /// `SCTP_PEER_ADDR_THLDS` on a live association (RFC 7829): Path.Max.Retrans and the
    /// error count at which a path becomes potentially failed (`pathPotentiallyFailedThreshold`,
    /// Path.PF.Max.Retrans + 1), for every path; they apply from the next error.
    public func setPathThresholds(pathMaxRetransmits: Int, potentiallyFailedThreshold: Int, of id: AssociationID) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        association.configuration.pathMaxRetransmits = max(pathMaxRetransmits, 1)
        association.configuration.pathPotentiallyFailedThreshold = max(potentiallyFailedThreshold, 1)
    }

    /// Whether an association uses PR-SCTP (`SCTP_PR_SUPPORTED`): both ends announced
    /// FORWARD TSN. `nil` once it is gone.
    public func partialReliabilitySupported(on id: AssociationID) -> Bool? {
        associations[id]?.peerSupportsForwardTSN
    }

    /// The messages PR-SCTP gave up on an association, per policy and stream
    /// (`SCTP_PR_ASSOC_STATUS`, `SCTP_PR_STREAM_STATUS`, RFC 7496); `nil` once it is gone.
    public func abandonedMessages(of id: AssociationID) -> AbandonedMessageStatistics? {
        guard let association = associations[id] else { return nil }
        return association.dataSlot.pointer?.pointee.tx.abandonedStatistics ?? AbandonedMessageStatistics()
    }
}
