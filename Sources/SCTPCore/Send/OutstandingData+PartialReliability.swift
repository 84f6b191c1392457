import NIOCore
import SCTPWire

// PR-SCTP (RFC 3758) and the end of an association: what the retransmission queue holds,
// as messages, and what a FORWARD TSN must tell the peer. (Giving messages up changes the
// queue's counters and stays in OutstandingData.swift.)
extension OutstandingData {
    /// A message given up: its chunks will not be sent again.
    public struct AbandonedMessage: Sendable {
        public var streamIdentifier: UInt16
        public var payloadProtocolIdentifier: UInt32
        public var isUnordered: Bool
        public var ssn: SSN
        /// The message's context (`OutgoingMessage.context`).
        public var context: UInt32
        /// The user data of its chunks that were sent, in order.
        public var payload: ByteBuffer
        /// Whether its last chunk was sent; if not, the rest still waits in the send queue.
        public var lastChunkSent: Bool
    }

    /// The messages whose chunks are not all cumulatively acknowledged (for send-failed
    /// reports when the association ends), in TSN order; abandoned ones are left out (they
    /// were reported when abandoned). A message whose first chunks were acknowledged is
    /// reported with the rest of its data only.
    public func unacknowledgedMessages() -> [AbandonedMessage] {
        var result: [AbandonedMessage] = []
        var building: AbandonedMessage?
        for entry in chunks where entry.state != .abandoned {
            let chunk = entry.chunk
            if chunk.dataFlags.contains(.beginning) || building == nil {
                if let done = building { result.append(done) }
                building = AbandonedMessage(streamIdentifier: chunk.streamIdentifier, payloadProtocolIdentifier: chunk.payloadProtocolIdentifier,
                                            isUnordered: chunk.dataFlags.contains(.unordered), ssn: chunk.ssn,
                                            context: entry.context, payload: ByteBuffer(), lastChunkSent: false)
            }
            var data = chunk.payload
            building!.payload.writeBuffer(&data)
            if chunk.dataFlags.contains(.ending) {
                building!.lastChunkSent = true
                result.append(building!)
                building = nil
            }
        }
        if let building { result.append(building) }
        return result
    }

    /// The Advanced.Peer.Ack.Point (RFC 3758 §3.5 C): the Cumulative TSN Ack Point moved over
    /// the abandoned (and gap-acknowledged) chunks that follow it; `nil` when no abandoned
    /// chunk lies there.
    public var advancedPeerAckPoint: TSN? {
        var point = cumulativeTSNAck
        var skipsAbandoned = false
        for entry in chunks {
            guard entry.state == .abandoned || entry.state == .gapAcked else { break }
            if entry.state == .abandoned { skipsAbandoned = true }
            point = entry.tsn
        }
        return skipsAbandoned ? point : nil
    }

    /// The FORWARD TSN that tells the peer to skip the abandoned chunks up to the
    /// Advanced.Peer.Ack.Point, with the last SSN skipped per stream for ordered messages;
    /// `nil` when there is nothing to skip.
    func forwardTSN(resetPoints: [StreamResetPoint] = []) -> ForwardTSNChunk? {
        guard let point = advancedPeerAckPoint else { return nil }
        var lastSSN: [UInt16: SSN] = [:]
        for entry in chunks {
            guard entry.tsn <= point else { break }
            guard entry.state == .abandoned, !entry.chunk.dataFlags.contains(.unordered) else { continue }
            let stream = entry.chunk.streamIdentifier
            // Before a stream reset the peer performed: its numbering restarted, nothing to skip.
            if !resetPoints.isEmpty, resetPoints.contains(where: { entry.tsn <= $0.tsn && $0.covers(stream) }) { continue }
            if let known = lastSSN[stream], known >= entry.chunk.ssn { continue }
            lastSSN[stream] = entry.chunk.ssn
        }
        let skipped = lastSSN.keys.sorted().map { ForwardTSNChunk.SkippedStream(streamIdentifier: $0, ssn: lastSSN[$0]!) }
        return ForwardTSNChunk(newCumulativeTSN: point, skippedStreams: skipped)
    }
}
