import SCTPWire

extension SCTPEndpoint {
    /// Whether `checkInvariants()` checks anything in this build: true in debug builds and
    /// in builds with `-Xswiftc -DSCTP_INVARIANTS` (the stateful fuzzer's release build).
    public static var invariantsAreChecked: Bool {
        #if DEBUG || SCTP_INVARIANTS
        true
        #else
        false
        #endif
    }

    /// Checks the endpoint and every association it holds for internal consistency, as a test
    /// or a fuzzer does after each call into the endpoint; returns one line per property that
    /// does not hold, an empty list when all do.
    ///
    /// The endpoint's own bookkeeping: each association is registered under its id, found by
    /// its local tag and by each of its peer's addresses, and every look-up entry names an
    /// association that owns it; the scheduled-deadline count matches the associations with
    /// a deadline scheduled, and each of those has its entry in the timer heap; an association
    /// not waiting for its deadline to be read again has a deadline scheduled no later than
    /// the one it would compute now (a timer armed behind the endpoint's back would otherwise
    /// fire late or never; an earlier one only wakes the endpoint for nothing); the
    /// list of associations to poll holds each once, exactly those marked pending. Then each
    /// association's own checks (the state machine's timers and stream counts, the send
    /// queue, the retransmission queue with its flight sizes and peer window, congestion
    /// control, the data tracker and the reassembly queue).
    ///
    /// The checks cost time proportional to everything held, so they are compiled only in
    /// debug builds and with `-Xswiftc -DSCTP_INVARIANTS`; in other builds this returns `[]`
    /// at once (see `invariantsAreChecked`).
    public func checkInvariants() -> [String] {
        #if DEBUG || SCTP_INVARIANTS
        var violations: [String] = []
        func fail(_ text: @autoclosure () -> String) {
            if violations.count < 64 { violations.append("SCTPEndpoint: " + text()) }
        }
        for line in associations.checkInvariants() + schedule.checkInvariants(in: associations) { fail(line) }
        for association in associations.values {
            for line in association.checkInvariants() where violations.count < 64 { violations.append(line) }
        }
        return violations
        #else
        return []
        #endif
    }
}
