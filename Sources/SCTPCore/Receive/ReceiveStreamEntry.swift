/// The receive state of one stream in either kind of reassembler (`StreamReassembler` for
/// DATA, `InterleavedStreamReassembler` for I-DATA), as `ReceiveStreamEntry` keeps it.
protocol ReceiveStreamReassembler: Sendable {
    /// A stream that holds nothing and expects `next` (an SSN or a MID) next.
    init(id: UInt16, next: UInt32)
    /// The next SSN or MID expected for ordered delivery.
    var next: UInt32 { get }
    /// Nothing held, no partial delivery, nothing waiting: the stream's whole state is `next`.
    var isIdle: Bool { get }
    /// Makes 0 the next SSN or MID expected (a stream reset, RFC 6525), keeping what is held.
    mutating func restartNumbering()
}

/// Heap storage for the reassembler of a stream that holds something. Shared only by copies
/// of a reassembly queue; `ReceiveStreamTable.uniqueStorage(at:id:spare:)` copies it before
/// a change when it is shared, so the queue keeps value semantics.
final class ReceiveStreamStorage<Reassembler: ReceiveStreamReassembler>: @unchecked Sendable {
    var reassembler: Reassembler
    init(_ reassembler: Reassembler) { self.reassembler = reassembler }
}

/// What the reassembly queue keeps per inbound stream (issue: per-stream receive state a peer
/// can make us allocate), 16 bytes:
///
/// - a stream that holds nothing keeps only its next SSN (DATA) or MID (I-DATA) for ordered
///   delivery, and a stream back at 0 keeps no entry at all (`ReceiveStreamTable.remove(at:)`);
/// - the reassembler with its queues exists, behind `storage`, only while the stream holds
///   fragments, a partial delivery or a skip waiting for one to end; it is released as soon
///   as the stream is idle again (`releaseIfIdle`), its queues freed with it.
///
/// So FORWARD TSN, I-FORWARD-TSN and whole messages on any number of streams cost 16 bytes
/// plus the table's index per stream whose next number is not 0, at most the inbound stream
/// count, and what streams hold is payload counted against the receive buffer.
struct ReceiveStreamEntry<Reassembler: ReceiveStreamReassembler>: Sendable {
    /// The next SSN or MID while `storage` is `nil`; the reassembler's own otherwise.
    var idleNext: UInt32
    /// The stream's reassembler while it holds something.
    var storage: ReceiveStreamStorage<Reassembler>?

    /// The next SSN or MID expected on the stream.
    var next: UInt32 { storage?.reassembler.next ?? idleNext }
}

extension ReceiveStreamTable {
    /// The stream's next SSN or MID (0 for a stream without an entry).
    func next<R>(of id: UInt16) -> UInt32 where Value == ReceiveStreamEntry<R> {
        self[id]?.next ?? 0
    }

    /// The reassembler of stream `id`, for reading (`nil` when the stream holds nothing).
    func reassembler<R>(of id: UInt16) -> R? where Value == ReceiveStreamEntry<R> {
        self[id]?.storage?.reassembler
    }

    /// Whether the whole message with `number` (SSN or MID) on the stream at `position` is the
    /// next in order with nothing held before it: then its next number moves on (by `mask`:
    /// 0xFFFF for SSNs, 0xFFFF_FFFF for MIDs) and the caller hands the message out at once.
    /// A stream that comes back to 0 (the numbers wrapped) loses its entry.
    @inline(__always)
    mutating func takeInOrder<R>(at position: Int, _ number: UInt32, mask: UInt32) -> Bool
        where Value == ReceiveStreamEntry<R> {
        guard self[position: position].storage == nil, self[position: position].idleNext == number else { return false }
        let next = (number &+ 1) & mask
        if next == 0 {
            remove(at: position)
        } else {
            self[position: position].idleNext = next
        }
        return true
    }

    /// Sets the next number of a stream that holds nothing (adds or removes its entry: none
    /// when 0). Must not be called for a stream with storage.
    mutating func setIdleNext<R>(_ next: UInt32, of id: UInt16) where Value == ReceiveStreamEntry<R> {
        if let position = locate(id) {
            if next == 0 {
                remove(at: position)
            } else {
                self[position: position].idleNext = next
            }
        } else if next != 0 {
            _ = append(id, ReceiveStreamEntry(idleNext: next, storage: nil))
        }
    }

    /// The storage of the stream at `position`, made when the stream held nothing (from its
    /// next number, reusing `spare` when it can), copied first when a copy of the queue
    /// shares it: the caller changes the reassembler through it, then calls
    /// `releaseIfIdle(at:spare:)`.
    mutating func uniqueStorage<R>(at position: Int, id: UInt16, spare: inout ReceiveStreamStorage<R>?)
        -> ReceiveStreamStorage<R> where Value == ReceiveStreamEntry<R> {
        if isKnownUniquelyReferenced(&self[position: position].storage) {
            return self[position: position].storage!
        }
        let storage: ReceiveStreamStorage<R>
        if let shared = self[position: position].storage {
            storage = ReceiveStreamStorage(shared.reassembler)
        } else if isKnownUniquelyReferenced(&spare) {
            storage = spare!
            spare = nil
            storage.reassembler = R(id: id, next: self[position: position].idleNext)
        } else {
            storage = ReceiveStreamStorage(R(id: id, next: self[position: position].idleNext))
        }
        self[position: position].storage = storage
        return storage
    }

    /// Makes 0 the next number of the listed streams (all when empty): a stream that holds
    /// nothing loses its entry, one that holds something keeps it with its numbering
    /// restarted (RFC 6525 §5.2.2; RFC 8260 §2.3 for I-DATA).
    mutating func restartNumbering<R>(of streamIdentifiers: [UInt16], spare: inout ReceiveStreamStorage<R>?)
        where Value == ReceiveStreamEntry<R> {
        for id in streamIdentifiers.isEmpty ? keys : streamIdentifiers {
            guard let position = locate(id) else { continue }
            if self[position: position].storage == nil {
                remove(at: position)  // back at 0: no entry
            } else {
                uniqueStorage(at: position, id: id, spare: &spare).reassembler.restartNumbering()
            }
        }
    }

    /// After a change: when the stream at `position` holds nothing any more, its reassembler
    /// goes (the storage is kept as `spare` for the next stream that needs one, emptied) and
    /// only its next number stays; an entry whose next number is 0 is removed. Positions of
    /// other streams may change when an entry is removed.
    @inline(__always)
    mutating func releaseIfIdle<R>(at position: Int, spare: inout ReceiveStreamStorage<R>?)
        where Value == ReceiveStreamEntry<R> {
        guard var storage = self[position: position].storage, storage.reassembler.isIdle else { return }
        let next = storage.reassembler.next
        self[position: position].storage = nil
        if spare == nil && isKnownUniquelyReferenced(&storage) {
            // Ours alone now that the entry let it go: kept, emptied (its queues freed).
            storage.reassembler = R(id: 0, next: 0)
            spare = storage
        }
        if next == 0 {
            remove(at: position)
        } else {
            self[position: position].idleNext = next
        }
    }
}
