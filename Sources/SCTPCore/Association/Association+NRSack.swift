import SCTPWire

// Non-renegable SACKs (NR-SACK, chunk type 16, draft-natarajan-tsvwg-sctp-nrsack):
// negotiated through Supported Extensions; what we send and how what we receive is read.
// The sender side (freeing data acknowledged for good) is `OutstandingData.handleSack`'s
// `nonRenegableFrom`.

extension SCTPConfiguration {
    /// Whether our INIT and INIT ACK list NR-SACK: asked for, with the `.full` profile
    /// (WebRTC stacks drop an INIT listing what they do not know).
    var announcesNonRenegableSacks: Bool { nonRenegableSacks && initProfile == .full }
}

extension Association {
    /// The chunk that carries `sack`: an NR-SACK when both ends support it, with every Gap
    /// Ack Block non-renegable. This stack never reneges: a DATA chunk is acknowledged only
    /// once the reassembly queue (or a deferred-reset hold) took it, and nothing taken is
    /// dropped before delivery except by the peer's own FORWARD TSN or an SSN/TSN reset,
    /// which both leave nothing gap-acknowledged behind.
    func acknowledgement(_ sack: SackChunk) -> Chunk {
        nonRenegableSacks ? .nrSack(NRSackChunk(nonRenegable: sack)) : .sack(sack)
    }
}

extension SCTPEndpoint {
    /// Whether an association uses NR-SACK (both ends listed it); `nil` when it does not
    /// exist or has ended.
    public func usesNonRenegableSacks(_ id: AssociationID) -> Bool? {
        guard let association = association(id), !association.isClosed else { return nil }
        return association.nonRenegableSacks
    }
}
