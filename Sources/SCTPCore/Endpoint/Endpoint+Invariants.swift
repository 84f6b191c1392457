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
        var refresh = Set<ObjectIdentifier>()
        for association in deadlinesToRefresh {
            if !refresh.insert(ObjectIdentifier(association)).inserted { fail("\(association.id) listed twice for a deadline refresh") }
            if !association.needsDeadlineRefresh { fail("\(association.id) listed for a deadline refresh but not marked") }
        }
        var scheduled = 0
        var heapEntries = Set<TimerEntryKey>()
        for entry in timerHeap.unordered { heapEntries.insert(TimerEntryKey(deadline: entry.deadline, id: entry.id)) }
        for (id, association) in associations {
            if association.id != id { fail("\(association.id) registered as \(id)") }
            if !association.isRegistered { fail("\(id) in the table but not marked registered") }
            if byLocalTag[association.localTag] != id { fail("\(id) not found by its local tag") }
            for path in association.paths where byPeerAddress[PeerKey(address: path.address, port: association.peerPort)] != id {
                fail("\(id) not found by its peer address \(path.address)")
            }
            if let deadline = association.scheduledDeadline {
                scheduled += 1
                if !heapEntries.contains(TimerEntryKey(deadline: deadline, id: id)) {
                    fail("\(id): deadline \(deadline) scheduled but not in the timer heap")
                }
            }
            if association.needsDeadlineRefresh && !refresh.contains(ObjectIdentifier(association)) {
                fail("\(id): marked for a deadline refresh but not listed")
            }
            // An earlier deadline than needed only wakes the endpoint for nothing (it then reads
            // the association's deadline again); a later one, or none, would miss a timer.
            if !association.needsDeadlineRefresh && association.isRegistered, let due = association.nextDeadline,
               association.scheduledDeadline.map({ $0 > due }) ?? true {
                fail("\(id): deadline \(due) due, \(association.scheduledDeadline.map { "\($0)" } ?? "none") scheduled, "
                     + "and no refresh pending")
            }
            if association.isPending != pending.contains(where: { $0 === association }) {
                fail("\(id): pending flag \(association.isPending) disagrees with the list of associations to poll")
            }
            for line in association.checkInvariants() where violations.count < 64 { violations.append(line) }
        }
        for (tag, id) in byLocalTag where associations[id]?.localTag != tag {
            fail("local tag \(tag) names \(id), which does not own it")
        }
        for (key, id) in byPeerAddress {
            guard let association = associations[id] else {
                fail("peer \(key.address):\(key.port) names \(id), which is gone")
                continue
            }
            if association.peerPort != key.port || association.pathIndex(for: key.address) == nil {
                fail("peer \(key.address):\(key.port) names \(id), which has no such path")
            }
        }
        if scheduled != scheduledCount { fail("scheduledCount \(scheduledCount), associations with a deadline \(scheduled)") }
        var listed = Set<ObjectIdentifier>()
        for association in pending where !listed.insert(ObjectIdentifier(association)).inserted {
            fail("\(association.id) listed twice for polling")
        }
        return violations
        #else
        return []
        #endif
    }

    private struct TimerEntryKey: Hashable {
        var deadline: SCTPInstant
        var id: AssociationID
    }
}
