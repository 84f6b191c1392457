import SCTPWire

/// What one SACK did to the data of one path.
public struct PathSackStatistics: Hashable, Sendable {
    /// The path.
    public var path: PathID
    /// Bytes (DATA chunk sizes with header and padding, as RFC 9260 §7.2 counts) of
    /// outstanding chunks last sent on this path that this SACK newly acknowledged, by the
    /// Cumulative TSN Ack or by Gap Ack Blocks. Chunks already marked for retransmission are
    /// not outstanding and do not count.
    public var newlyAckedBytes = 0
    /// Bytes of chunks of this path the SACK reported as duplicates and that are still held
    /// (above the cumulative ack); §7.2.2 adds them to partial_bytes_acked.
    public var duplicateBytes = 0
    /// Bytes in flight on the path before the SACK.
    public var flightSizeBeforeSack = 0
    /// Bytes in flight on the path after the SACK (acknowledged and lost chunks removed,
    /// reneged chunks added back).
    public var flightSizeAfterSack = 0
    /// The SACK acknowledged the earliest outstanding chunk sent on this path: restart the
    /// path's T3-rtx timer if data remains outstanding there, stop it if none (§6.3.2 R2, R3).
    public var ackedEarliestOutstanding = false
    /// A chunk of this path that was gap-acknowledged before is missing from this SACK (the
    /// receiver reneged): start the path's T3-rtx timer if it is not running (§6.3.2 R4).
    public var reneged = false
    /// Chunks last sent on this path were marked for Fast Retransmit while the association
    /// was not in Fast Recovery: reduce this path's cwnd (§7.2.4 step 2), after growth.
    public var needsCongestionReduction = false

    /// Nothing happened on `path` yet.
    public init(path: PathID) { self.path = path }

    /// Whether anything happened on this path.
    public var isEmpty: Bool {
        newlyAckedBytes == 0 && duplicateBytes == 0 && flightSizeBeforeSack == 0 && flightSizeAfterSack == 0
            && !reneged && !needsCongestionReduction
    }
}

/// A round-trip time measured from a DATA chunk (RFC 9260 §6.3.1 C4, C5).
public struct RTTSample: Hashable, Sendable {
    /// The path the measured chunk was sent on.
    public var path: PathID
    /// The TSN of the measured chunk.
    public var tsn: TSN
    /// From the chunk's only transmission to the SACK.
    public var rtt: Duration
}

/// The result of `OutstandingData.handleSack(_:now:)`.
public struct SackOutcome: Sendable {
    /// The SACK was older than the current Cumulative TSN Ack Point and was ignored
    /// (§6.2.1 D i): nothing changed, not even the peer's window.
    public var isStale = false
    /// The Cumulative TSN Ack Point after the SACK.
    public var cumulativeTSNAck: TSN
    /// Whether the SACK moved the Cumulative TSN Ack Point forward.
    public var cumulativeAckAdvanced = false
    /// Bytes newly acknowledged over all paths (sum of `PathSackStatistics.newlyAckedBytes`).
    public var newlyAckedBytes = 0
    /// An RTT measurement, taken only from a chunk sent exactly once and newer than every
    /// retransmission (Karn's algorithm, §6.3.1 C5) that this SACK newly acknowledged.
    public var rttSample: RTTSample?
    /// Per-path results, indexed by path id: `paths[path.rawValue]` (every path data was ever
    /// sent on; entries of unused paths are empty).
    public var paths: [PathSackStatistics] = []
    /// TSNs that reached the miss-indication threshold with this SACK and are now marked for
    /// Fast Retransmit (§7.2.4), in TSN order.
    public var fastRetransmitTSNs: [TSN] = []
    /// This SACK put the association into Fast Recovery: the caller sends the lowest marked
    /// chunks in one packet at once, ignoring cwnd (§7.2.4 step 3).
    public var enteredFastRecovery = false
    /// This SACK reached the Fast Recovery exit point (§6.2.1 D iv).
    public var exitedFastRecovery = false
    /// Fast Recovery as the cwnd growth rules (§7.2.1, §7.2.2) must see it: after exiting
    /// because of this SACK, before entering because of it (the note at the end of §7.2.4).
    public var isInFastRecovery = false
    /// Gap Ack Blocks not processed (beyond the configured limit, or malformed).
    public var ignoredGapBlocks = 0
    /// The peer's receive window now: a_rwnd minus the user data still outstanding (§6.2.1 D ii).
    public var peerReceiverWindow = 0
    /// Bytes in flight over all paths after the SACK.
    public var bytesInFlight = 0

    init(cumulativeTSNAck: TSN) { self.cumulativeTSNAck = cumulativeTSNAck }

    /// The results for one path, if data was ever sent on it.
    public func statistics(for path: PathID) -> PathSackStatistics? {
        path.rawValue < paths.count ? paths[path.rawValue] : nil
    }
}

/// A SACK the association must answer with an ABORT (Protocol Violation, RFC 9260 §3.3.10.13).
public enum SackError: Error, Hashable, Sendable {
    /// The Cumulative TSN Ack is beyond the highest TSN ever sent.
    case cumulativeAckBeyondSent(cumulativeTSNAck: TSN, highestSentTSN: TSN)
    /// A Gap Ack Block acknowledges TSNs beyond the highest TSN ever sent.
    case gapAckBeyondSent(block: GapAckBlock, highestSentTSN: TSN)
}
