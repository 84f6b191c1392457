import SCTPWire

extension DataReceiver {
    /// Checks the receive side: the data tracker's and the reassembly queue's own checks,
    /// and that they agree: every fragment held for reassembly has a TSN the tracker
    /// recorded as received (at or below the cumulative TSN, or in one of its ranges) and
    /// no TSN is held twice; unread bytes are not negative and the advertised window is
    /// within the receive buffer. Returns one line per property that does not hold, an
    /// empty list when all do.
    ///
    /// Compiled in debug builds and with `-DSCTP_INVARIANTS`; otherwise returns `[]`.
    public func checkInvariants() -> [String] {
        #if DEBUG || SCTP_INVARIANTS
        var violations = tracker.checkInvariants() + reassembly.checkInvariants()
        func fail(_ text: @autoclosure () -> String) {
            if violations.count < 32 { violations.append("DataReceiver: " + text()) }
        }
        var seen = Set<UInt32>()
        for tsn in reassembly.heldTSNs {
            if !seen.insert(tsn.rawValue).inserted { fail("TSN \(tsn.rawValue) held twice") }
            if tracker.classify(tsn) != .duplicate {
                fail("TSN \(tsn.rawValue) held for reassembly but not recorded as received "
                     + "(cumulative TSN \(tracker.cumulativeTSN.rawValue))")
            }
        }
        // A deferred stream reset (RFC 6525): the held chunks are above its point, on its
        // streams, recorded as received and counted once; none without a deferred reset.
        var held = 0
        for chunk in heldChunksForInvariants {
            held += chunk.payload.readableBytes
            if !seen.insert(chunk.tsn.rawValue).inserted { fail("TSN \(chunk.tsn.rawValue) held twice") }
            if tracker.classify(chunk.tsn) != .duplicate { fail("held TSN \(chunk.tsn.rawValue) not recorded as received") }
            if let deferred = deferredReset {
                if !(chunk.tsn > deferred.lastTSN) { fail("held TSN \(chunk.tsn.rawValue) not above the reset point") }
                if !deferred.streams.isEmpty && !deferred.streams.contains(chunk.streamIdentifier) {
                    fail("held TSN \(chunk.tsn.rawValue) on stream \(chunk.streamIdentifier), not one being reset")
                }
            } else {
                fail("chunks held without a deferred reset")
            }
        }
        for chunk in heldIDataChunksForInvariants {
            held += chunk.payload.readableBytes
            if !seen.insert(chunk.tsn.rawValue).inserted { fail("TSN \(chunk.tsn.rawValue) held twice") }
            if tracker.classify(chunk.tsn) != .duplicate { fail("held TSN \(chunk.tsn.rawValue) not recorded as received") }
            if deferredReset == nil { fail("I-DATA chunks held without a deferred reset") }
        }
        if held != heldBytes { fail("heldBytes \(heldBytes), the held chunks carry \(held)") }
        if deliveredUnreadBytes < 0 { fail("negative unread bytes \(deliveredUnreadBytes)") }
        if Int(advertisedWindow) > configuration.receiveBufferSize {
            fail("advertised window \(advertisedWindow) above the receive buffer \(configuration.receiveBufferSize)")
        }
        return violations
        #else
        return []
        #endif
    }
}
