/// Counters of one association's data transfer (in the spirit of RFC 6458's
/// `SCTP_GET_ASSOC_STATS`), for tools and diagnosis. They start at zero when the
/// association is created (a restart starts them again) and only grow.
public struct AssociationStatistics: Hashable, Sendable {
    /// SCTP packets the association sent (retransmissions, control and probes included;
    /// the endpoint's own answers before the association exists are not).
    public var packetsSent = 0
    /// SCTP packets handed to the association (after demultiplexing and the verification
    /// tag check).
    public var packetsReceived = 0
    /// User-data bytes the peer acknowledged for good (cumulatively, or non-renegably with
    /// NR-SACK); what a throughput figure divides by time.
    public var bytesAcknowledged = 0
    /// DATA chunks sent for the first time.
    public var dataChunksSent = 0
    /// DATA chunks sent again, after T3-rtx expiry or Fast Retransmit.
    public var dataChunksRetransmitted = 0
    /// DATA chunks marked for Fast Retransmit by a SACK's miss indications (§7.2.4).
    public var fastRetransmitMarks = 0
    /// T3-rtx expiries (on any path).
    public var retransmissionTimeouts = 0
    /// Tail loss probes sent (`SCTPConfiguration.tailLossProbeMinimum`): DATA chunks in
    /// flight sent again, with the I bit, because no SACK came for a while; each is also
    /// counted in `dataChunksRetransmitted`.
    public var tailLossProbes = 0
    /// DATA chunks received (new or duplicate).
    public var dataChunksReceived = 0
    /// DATA chunks received whose TSN had been received before.
    public var duplicateDataChunksReceived = 0
    /// SACK chunks received (NR-SACK chunks included).
    public var sacksReceived = 0
    /// DATA chunks the peer acknowledged as non-renegable (NR-SACK) before the Cumulative
    /// TSN Ack reached them: their user data was released early.
    public var nonRenegablyAckedChunks = 0
    /// Packets with DATA the driver reported CE-marked, with ECN in use.
    public var congestionExperiencedPackets = 0
    /// ECN Echo chunks received (with ECN in use).
    public var ecnEchoesReceived = 0
    /// Congestion window cuts for ECN Echoes (at most one per window of data).
    public var ecnWindowReductions = 0
    /// Path MTU probes acknowledged (RFC 8899), on any path.
    public var pathMTUProbesAcknowledged = 0
    /// Black holes path MTU discovery detected (a path fell back to the base PLPMTU).
    public var pathMTUBlackHoles = 0
    /// Packets whose AUTH chunk was refused (RFC 4895 §6.3: bad MAC, unknown key or HMAC,
    /// wrong MAC length).
    public var authenticationRefusedPackets = 0
    /// Chunks dropped because our CHUNKS list names their type and they came without a
    /// valid AUTH chunk before them (RFC 4895 §6.3).
    public var unauthenticatedChunksDropped = 0

    /// All counters at zero.
    public init() {}
}
