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
        /// Its MID when it went out as I-DATA (RFC 8260); 0 otherwise.
        public var mid = MID(0)
        /// The peer acknowledged all of it non-renegably (NR-SACK) and its data was
        /// released: `payload` is empty.
        public var dataReleased = false
        /// It was sent with a lifetime (`SCTP_PR_SCTP_TTL`); otherwise with a retransmission
        /// limit, or reliably.
        public var hadLifetime = false
    }

    /// The messages whose chunks are not all cumulatively acknowledged (for send-failed
    /// reports when the association ends), in TSN order; abandoned ones are left out (they
    /// were reported when abandoned). A message whose first chunks were acknowledged is
    /// reported with the rest of its data only.
    public func unacknowledgedMessages() -> [AbandonedMessage] {
        if chunks.first?.isInterleaved == true { return unacknowledgedInterleavedMessages() }
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
            if entry.isPayloadReleased { building!.dataReleased = true }
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

    // MARK: I-DATA (RFC 8260)

    /// `unacknowledgedMessages()` for I-DATA chunks, whose messages interleave: grouped by
    /// stream, U flag and MID, in the order of their lowest TSN held.
    func unacknowledgedInterleavedMessages() -> [AbandonedMessage] {
        struct Key: Hashable { var stream: UInt16; var unordered: Bool; var mid: MID }
        var result: [AbandonedMessage] = []
        var index: [Key: Int] = [:]
        for entry in chunks where entry.state != .abandoned {
            let chunk = entry.chunk
            let key = Key(stream: chunk.streamIdentifier, unordered: chunk.dataFlags.contains(.unordered), mid: entry.mid)
            let position: Int
            if let known = index[key] {
                position = known
            } else {
                var message = AbandonedMessage(streamIdentifier: key.stream, payloadProtocolIdentifier: chunk.payloadProtocolIdentifier,
                                               isUnordered: key.unordered, ssn: SSN(0), context: entry.context,
                                               payload: ByteBuffer(), lastChunkSent: false)
                message.mid = entry.mid
                position = result.count
                result.append(message)
                index[key] = position
            }
            var data = chunk.payload
            result[position].payload.writeBuffer(&data)
            if entry.isPayloadReleased { result[position].dataReleased = true }
            if chunk.dataFlags.contains(.ending) { result[position].lastChunkSent = true }
        }
        return result
    }

    /// The I-FORWARD-TSN (RFC 8260 §2.3.1) that tells the peer to skip the abandoned chunks
    /// up to the Advanced.Peer.Ack.Point, with the highest MID skipped per stream and U flag;
    /// `nil` when there is nothing to skip.
    func iForwardTSN(resetPoints: [StreamResetPoint] = []) -> IForwardTSNChunk? {
        guard let point = advancedPeerAckPoint else { return nil }
        struct Key: Hashable { var stream: UInt16; var unordered: Bool }
        var highest: [Key: MID] = [:]
        for entry in chunks {
            guard entry.tsn <= point else { break }
            guard entry.state == .abandoned else { continue }
            // Before a stream reset the peer performed: its MIDs restarted, nothing to skip.
            if !resetPoints.isEmpty,
               resetPoints.contains(where: { entry.tsn <= $0.tsn && $0.covers(entry.chunk.streamIdentifier) }) { continue }
            let key = Key(stream: entry.chunk.streamIdentifier, unordered: entry.chunk.dataFlags.contains(.unordered))
            if let known = highest[key], known >= entry.mid { continue }
            highest[key] = entry.mid
        }
        let skipped = highest.keys.sorted { ($0.stream, $0.unordered ? 1 : 0) < ($1.stream, $1.unordered ? 1 : 0) }
            .map { IForwardTSNChunk.SkippedMessage(streamIdentifier: $0.stream, unordered: $0.unordered, mid: highest[$0]!) }
        return IForwardTSNChunk(newCumulativeTSN: point, skippedMessages: skipped)
    }
}
