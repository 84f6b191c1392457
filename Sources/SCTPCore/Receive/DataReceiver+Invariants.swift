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
