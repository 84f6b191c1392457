import SCTPWire

extension DataTracker {
    /// Checks the tracker's internal consistency; returns one line per property that does
    /// not hold, an empty list when all do.
    ///
    /// - The ranges above the cumulative TSN are sorted, disjoint and not adjacent (none
    ///   touches the cumulative point, no two touch each other), each within the TSN window
    ///   (`maxTSNWindow` ahead of the cumulative point), at most `maxGapRanges` of them.
    /// - At most `maxDuplicateTSNs` duplicates wait for the next SACK.
    /// - A SACK that is due at once, or has a delayed-SACK deadline, is owed.
    ///
    /// Compiled in debug builds and with `-DSCTP_INVARIANTS`; otherwise returns `[]`.
    public func checkInvariants() -> [String] {
        #if DEBUG || SCTP_INVARIANTS
        var violations: [String] = []
        func fail(_ text: @autoclosure () -> String) {
            if violations.count < 16 { violations.append("DataTracker: " + text()) }
        }
        var previousEnd: UInt32 = 0  // offset of the previous range's last TSN; the cumulative point is 0
        for range in ranges {
            let first = cumulativeTSN.distance(to: range.first)
            let last = cumulativeTSN.distance(to: range.last)
            if first >= 0x8000_0000 || last >= 0x8000_0000 || first > last {
                fail("range \(range.first.rawValue)-\(range.last.rawValue) is not above the cumulative TSN \(cumulativeTSN.rawValue)")
                continue
            }
            if first <= previousEnd &+ 1 {
                fail("range \(range.first.rawValue)-\(range.last.rawValue) overlaps or touches what is before it "
                     + "(cumulative TSN \(cumulativeTSN.rawValue))")
            }
            if last > configuration.maxTSNWindow {
                fail("range \(range.first.rawValue)-\(range.last.rawValue) beyond the TSN window of \(configuration.maxTSNWindow)")
            }
            previousEnd = last
        }
        if ranges.count > configuration.maxGapRanges { fail("\(ranges.count) ranges, limit \(configuration.maxGapRanges)") }
        if duplicates.count > configuration.maxDuplicateTSNs {
            fail("\(duplicates.count) duplicates, limit \(configuration.maxDuplicateTSNs)")
        }
        if sackDueNow && !sackOwed { fail("a SACK is due but none is owed") }
        if sackDeadline != nil && !sackOwed { fail("a delayed-SACK deadline without a SACK owed") }
        if packetsSinceSack < 0 { fail("negative packet count \(packetsSinceSack)") }
        return violations
        #else
        return []
        #endif
    }

    /// Whether a packet's processing has begun (DATA or FORWARD TSN observed) without
    /// `packetProcessed(now:)` ending it: never so between two calls into the association.
    var isInsidePacket: Bool { packetHadData || immediateInPacket }
}
