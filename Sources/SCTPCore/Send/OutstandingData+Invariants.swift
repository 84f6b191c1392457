import SCTPWire

extension OutstandingData {
    /// Checks the retransmission queue's internal consistency; returns one line per property
    /// that does not hold, an empty list when all do.
    ///
    /// - Chunk `i` carries TSN `cumulativeTSNAck + 1 + i` (consecutive, nothing acknowledged
    ///   cumulatively is held), and every chunk's path has its flight counter.
    /// - The flight size of each path is the sum of the wire sizes of its chunks in flight;
    ///   `bytesInFlight` is the sum over the paths; `outstandingPayloadBytes` the user data of
    ///   the chunks in flight.
    /// - `markedForRetransmissionCount` is the number of marked chunks, none below the scan start.
    /// - The peer window: `windowCredit` equals the a_rwnd it was last computed from (INIT or
    ///   latest SACK) less the user data in flight, less the user data of chunks in flight
    ///   given up (PR-SCTP) since then (their bytes stay counted until the next SACK).
    /// - Fragments of one message sit on consecutive TSNs: a chunk without the B bit follows
    ///   a chunk of the same stream, ordering and (ordered) SSN without the E bit; a chunk with
    ///   the B bit follows one with the E bit; a message is given up whole.
    /// - Gap-acknowledged chunks lie at or below `highestGapAckedTSN`, which lies above the
    ///   cumulative point and at or below the highest TSN sent; the Fast Recovery exit point
    ///   lies above the cumulative point and at or below the highest TSN sent.
    /// - At most `maxOutstandingChunks` chunks, plus the never-sent TSN of one message given up
    ///   part way.
    ///
    /// Compiled in debug builds and with `-DSCTP_INVARIANTS`; otherwise returns `[]`.
    public func checkInvariants() -> [String] { checkInvariants(resetPoints: []) }

    /// `checkInvariants()`, knowing where stream resets (RFC 6525) restarted the MIDs of
    /// streams: a message after such a point may reuse an MID of one before it.
    func checkInvariants(resetPoints: [StreamResetPoint]) -> [String] {
        #if DEBUG || SCTP_INVARIANTS
        var violations: [String] = []
        func fail(_ text: @autoclosure () -> String) {
            if violations.count < 16 { violations.append("OutstandingData: " + text()) }
        }
        if flight.count != statistics.count { fail("\(flight.count) flight counters, \(statistics.count) path statistics") }
        var perPath = [Int](repeating: 0, count: flight.count)
        var payloadInFlight = 0
        var marked = 0
        var lowestMarked: TSN?
        var highestGapAcked: TSN?
        var expected = cumulativeTSNAck.next
        var previous: OutstandingChunk?
        /// I-DATA: per (stream, U, MID), the FSN of the last fragment held and whether it was given up.
        struct MessageKey: Hashable { var stream: UInt16; var unordered: Bool; var mid: MID }
        var interleavedMessages: [MessageKey: (fsn: UInt32, abandoned: Bool, tsn: TSN)] = [:]
        for entry in chunks {
            let tsn = entry.tsn
            if tsn != expected { fail("chunk with TSN \(tsn.rawValue) where \(expected.rawValue) belongs") }
            expected = expected.next
            guard entry.path.rawValue < flight.count || entry.state == .abandoned else {
                fail("TSN \(tsn.rawValue) on path \(entry.path.rawValue) without a flight counter")
                continue
            }
            switch entry.state {
            case .inFlight:
                perPath[entry.path.rawValue] += entry.wireSize
                payloadInFlight += entry.chunk.payload.readableBytes
            case .markedForRetransmission:
                marked += 1
                if lowestMarked == nil { lowestMarked = tsn }
            case .gapAcked:
                highestGapAcked = tsn
            case .abandoned:
                break
            }
            let flags = entry.chunk.dataFlags
            if entry.isInterleaved {
                // I-DATA: fragments of a message in FSN order (not on consecutive TSNs), given up whole.
                let key = MessageKey(stream: entry.chunk.streamIdentifier, unordered: flags.contains(.unordered), mid: entry.mid)
                let abandoned = entry.state == .abandoned
                if let known = interleavedMessages[key], flags.contains(.beginning),
                   resetPoints.contains(where: { known.tsn <= $0.tsn && $0.tsn < tsn && $0.covers(key.stream) }) {
                    // A stream reset between them: the MID was used again, by a new message.
                    interleavedMessages[key] = nil
                }
                if let known = interleavedMessages[key] {
                    if entry.fsn <= known.fsn && !(abandoned && entry.chunk.payload.readableBytes == 0) {
                        fail("TSN \(tsn.rawValue): FSN \(entry.fsn) after FSN \(known.fsn) of MID \(entry.mid.rawValue)")
                    }
                    if known.abandoned != abandoned { fail("MID \(entry.mid.rawValue) of stream \(key.stream) is given up in part") }
                }
                if flags.contains(.beginning) && entry.fsn != 0 { fail("TSN \(tsn.rawValue) begins a message with FSN \(entry.fsn)") }
                interleavedMessages[key] = (max(entry.fsn, interleavedMessages[key]?.fsn ?? 0), abandoned, tsn)
                previous = entry
                continue
            }
            if let previous {
                let before = previous.chunk
                if flags.contains(.beginning) {
                    if !before.dataFlags.contains(.ending) {
                        fail("TSN \(tsn.rawValue) begins a message before TSN \(before.tsn.rawValue) ended one")
                    }
                } else {
                    let sameMessage = !before.dataFlags.contains(.ending)
                        && before.streamIdentifier == entry.chunk.streamIdentifier
                        && before.dataFlags.contains(.unordered) == flags.contains(.unordered)
                        && (flags.contains(.unordered) || before.ssn == entry.chunk.ssn)
                    if !sameMessage { fail("TSN \(tsn.rawValue) continues no message (TSN \(before.tsn.rawValue) before it)") }
                    if (previous.state == .abandoned) != (entry.state == .abandoned) {
                        fail("the message of TSNs \(before.tsn.rawValue)-\(tsn.rawValue) is given up in part")
                    }
                }
            }
            previous = entry
        }
        for path in flight.indices where flight[path] != perPath[path] {
            fail("path \(path) counts \(flight[path]) bytes in flight, its chunks \(perPath[path])")
        }
        let total = flight.reduce(0, +)
        if bytesInFlight != total { fail("bytesInFlight \(bytesInFlight), the paths' sum \(total)") }
        if outstandingPayloadBytes != payloadInFlight {
            fail("outstandingPayloadBytes \(outstandingPayloadBytes), user data in flight \(payloadInFlight)")
        }
        if markedForRetransmissionCount != marked {
            fail("markedForRetransmissionCount \(markedForRetransmissionCount), marked chunks \(marked)")
        }
        if let lowestMarked, lowestMarked < retransmitScanStart {
            fail("marked TSN \(lowestMarked.rawValue) below the scan start \(retransmitScanStart.rawValue)")
        }
        let expectedCredit = windowBasis - outstandingPayloadBytes - abandonedInFlightPayload
        if windowCredit != expectedCredit {
            fail("window credit \(windowCredit), expected a_rwnd \(windowBasis) - in flight \(outstandingPayloadBytes) - "
                 + "given up \(abandonedInFlightPayload) = \(expectedCredit)")
        }
        if abandonedInFlightPayload < 0 { fail("negative given-up bytes \(abandonedInFlightPayload)") }
        let highestSent = highestSentTSN
        if let highestGapAcked {
            if let point = highestGapAckedTSN {
                if highestGapAcked > point {
                    fail("TSN \(highestGapAcked.rawValue) gap-acknowledged above highestGapAckedTSN \(point.rawValue)")
                }
            } else {
                fail("TSN \(highestGapAcked.rawValue) gap-acknowledged, highestGapAckedTSN nil")
            }
        }
        if let point = highestGapAckedTSN, !(point > cumulativeTSNAck && point <= highestSent) {
            fail("highestGapAckedTSN \(point.rawValue) outside (\(cumulativeTSNAck.rawValue), \(highestSent.rawValue)]")
        }
        if let exit = fastRecoveryExitPoint, !(exit > cumulativeTSNAck && exit <= highestSent) {
            fail("Fast Recovery exit point \(exit.rawValue) outside (\(cumulativeTSNAck.rawValue), \(highestSent.rawValue)]")
        }
        if rttBarrier > highestSent { fail("RTT barrier \(rttBarrier.rawValue) above the highest TSN sent \(highestSent.rawValue)") }
        if chunks.count > configuration.maxOutstandingChunks + 1 {
            fail("\(chunks.count) chunks held, limit \(configuration.maxOutstandingChunks) (+1 given-up tail)")
        }
        return violations
        #else
        return []
        #endif
    }
}
