import DequeModule
import HeapModule

/// Which associations the endpoint must look at: those with something to poll (packets,
/// events) and the timers of all of them.
///
/// Timers: each association's next deadline, in a min-heap. An entry is current when it
/// matches the `scheduledDeadline` of the association now registered under its id; others
/// are stale and dropped when they reach the top. (Ids, not references: a stale entry must
/// not keep a removed association's memory alive.) Deadlines are read again only for the
/// associations touched since the last time, so finding the next deadline is O(log n).
///
/// The flags it keeps on each association (`isPending`, `needsDeadlineRefresh`,
/// `scheduledDeadline`) spare a hash look-up per packet.
struct AssociationSchedule {
    struct TimerEntry: Comparable {
        var deadline: SCTPInstant
        var id: AssociationID
        static func < (a: TimerEntry, b: TimerEntry) -> Bool { a.deadline < b.deadline }
        static func == (a: TimerEntry, b: TimerEntry) -> Bool { a.deadline == b.deadline && a.id == b.id }
    }

    /// Associations with something to poll, each once (`Association.isPending`).
    private(set) var pending: Deque<Association> = []
    private var timerHeap = Heap<TimerEntry>()
    /// Associations with a deadline scheduled (a current entry in `timerHeap`).
    private var scheduledCount = 0
    /// Associations touched since their deadline was last read, each once
    /// (`Association.needsDeadlineRefresh`).
    private var deadlinesToRefresh: [Association] = []

    /// Marks an association as having something to poll and its deadline as changed.
    mutating func markPending(_ association: Association) {
        if !association.isPending {
            association.isPending = true
            pending.append(association)
        }
        deadlineChanged(association)
    }

    /// Marks an association's deadline as changed, to be read again at the next look.
    mutating func deadlineChanged(_ association: Association) {
        if !association.needsDeadlineRefresh {
            association.needsDeadlineRefresh = true
            deadlinesToRefresh.append(association)
        }
    }

    /// Removes the pending associations for which `isDone` holds (it clears their flag).
    mutating func removePending(where isDone: (Association) -> Bool) {
        guard !pending.isEmpty else { return }
        pending.removeAll { association in
            guard isDone(association) else { return false }
            association.isPending = false
            return true
        }
    }

    /// A restart replaced `old` by `new` under the same id: `old` is never polled or woken
    /// again, and `new` takes its place among the pending ones.
    mutating func replace(_ old: Association, with new: Association) {
        unschedule(old)
        if old.isPending, let index = pending.firstIndex(where: { $0 === old }) {
            old.isPending = false
            pending[index] = new
            new.isPending = true
        }
    }

    /// The earliest deadline of any association.
    mutating func earliestDeadline(in table: AssociationTable) -> SCTPInstant? {
        refreshDeadlines(in: table)
        return currentTop(in: table)?.deadline
    }

    /// Takes the associations whose deadline is at or before `now`, earliest first; their
    /// deadlines are read again when next marked.
    mutating func takeDue(at now: SCTPInstant, in table: AssociationTable) -> [Association] {
        refreshDeadlines(in: table)
        var due: [Association] = []
        while let top = currentTop(in: table), top.deadline <= now {
            timerHeap.removeMin()
            unschedule(top.association)
            due.append(top.association)
        }
        return due
    }

    /// Drops an association's scheduled deadline (its heap entries become stale).
    mutating func unschedule(_ association: Association) {
        if association.scheduledDeadline != nil {
            association.scheduledDeadline = nil
            scheduledCount -= 1
        }
    }

    /// Reads the deadlines of the associations touched since the last time.
    private mutating func refreshDeadlines(in table: AssociationTable) {
        guard !deadlinesToRefresh.isEmpty else { return }
        for association in deadlinesToRefresh {
            association.needsDeadlineRefresh = false
            guard association.isRegistered else { continue }
            let deadline = association.nextDeadline
            let previous = association.scheduledDeadline
            guard deadline != previous else { continue }
            association.scheduledDeadline = deadline
            if previous == nil { scheduledCount += 1 }
            if let deadline {
                timerHeap.insert(TimerEntry(deadline: deadline, id: association.id))
            } else {
                scheduledCount -= 1
            }
        }
        deadlinesToRefresh.removeAll(keepingCapacity: true)
        // Stale entries drain as time passes; rebuild if they pile up.
        if timerHeap.count > 4 * scheduledCount + 64 {
            timerHeap = Heap(table.values.compactMap { association in
                association.scheduledDeadline.map { TimerEntry(deadline: $0, id: association.id) }
            })
        }
    }

    /// The earliest current timer entry, dropping stale ones above it.
    private mutating func currentTop(in table: AssociationTable) -> (deadline: SCTPInstant, association: Association)? {
        while let top = timerHeap.min {
            if let association = table[top.id], association.scheduledDeadline == top.deadline {
                return (top.deadline, association)
            }
            timerHeap.removeMin()
        }
        return nil
    }

    /// Checks the schedule against the associations (`SCTPEndpoint.checkInvariants()`): the
    /// scheduled-deadline count matches the associations with a deadline scheduled, each of
    /// those has its entry in the timer heap; an association not waiting for its deadline to
    /// be read again has one scheduled no later than the one it would compute now (a timer
    /// armed behind the endpoint's back would otherwise fire late or never; an earlier one
    /// only wakes the endpoint for nothing); the lists of associations to poll and to read
    /// again hold each once, exactly those marked so.
    func checkInvariants(in table: AssociationTable) -> [String] {
        #if DEBUG || SCTP_INVARIANTS
        var violations: [String] = []
        var refresh = Set<ObjectIdentifier>()
        for association in deadlinesToRefresh {
            if !refresh.insert(ObjectIdentifier(association)).inserted { violations.append("\(association.id) listed twice for a deadline refresh") }
            if !association.needsDeadlineRefresh { violations.append("\(association.id) listed for a deadline refresh but not marked") }
        }
        var listed = Set<ObjectIdentifier>()
        for association in pending where !listed.insert(ObjectIdentifier(association)).inserted {
            violations.append("\(association.id) listed twice for polling")
        }
        var heapEntries = Set<HeapKey>()
        for entry in timerHeap.unordered { heapEntries.insert(HeapKey(deadline: entry.deadline, id: entry.id)) }
        var scheduled = 0
        for association in table.values {
            let id = association.id
            if let deadline = association.scheduledDeadline {
                scheduled += 1
                if !heapEntries.contains(HeapKey(deadline: deadline, id: id)) {
                    violations.append("\(id): deadline \(deadline) scheduled but not in the timer heap")
                }
            }
            if association.needsDeadlineRefresh && !refresh.contains(ObjectIdentifier(association)) {
                violations.append("\(id): marked for a deadline refresh but not listed")
            }
            if !association.needsDeadlineRefresh && association.isRegistered, let due = association.nextDeadline,
               association.scheduledDeadline.map({ $0 > due }) ?? true {
                violations.append("\(id): deadline \(due) due, \(association.scheduledDeadline.map { "\($0)" } ?? "none") scheduled, "
                                  + "and no refresh pending")
            }
            if association.isPending != listed.contains(ObjectIdentifier(association)) {
                violations.append("\(id): pending flag \(association.isPending) disagrees with the list of associations to poll")
            }
        }
        if scheduled != scheduledCount { violations.append("scheduledCount \(scheduledCount), associations with a deadline \(scheduled)") }
        return violations
        #else
        return []
        #endif
    }

    private struct HeapKey: Hashable {
        var deadline: SCTPInstant
        var id: AssociationID
    }
}

/// Local tags of associations that ended with a graceful shutdown in the last `linger`,
/// oldest first, at most `capacity`: a late packet carrying one (a duplicate, or a
/// retransmission that crossed the SHUTDOWN COMPLETE) is answered with a SHUTDOWN COMPLETE
/// (T bit) where §8.4 would answer with an ABORT: a peer still in SHUTDOWN-ACK-SENT (its
/// SHUTDOWN COMPLETE lost) then completes gracefully, where usrsctp took the ABORT as the
/// association's abort; a closed peer discards it.
struct RecentlyClosedTags {
    static let capacity = 1024
    static let linger: Duration = .seconds(5)
    private var order: Deque<(tag: UInt32, until: SCTPInstant)> = []
    private var tags: Set<UInt32> = []

    /// Remembers `tag` until `now + linger`.
    mutating func remember(_ tag: UInt32, now: SCTPInstant) {
        order.append((tag, now + Self.linger))
        tags.insert(tag)
        forgetExpired(now: now)
    }

    /// Whether no tag is remembered.
    var isEmpty: Bool { tags.isEmpty }

    /// Whether `tag` was the local tag of an association that ended gracefully moments ago.
    mutating func contains(_ tag: UInt32, now: SCTPInstant) -> Bool {
        guard !tags.isEmpty else { return false }
        forgetExpired(now: now)
        return tags.contains(tag)
    }

    private mutating func forgetExpired(now: SCTPInstant) {
        while let oldest = order.first, oldest.until <= now || order.count > Self.capacity {
            order.removeFirst()
            // (Two closed associations with one random 32-bit tag: the later one is forgotten early.)
            tags.remove(oldest.tag)
        }
    }
}
