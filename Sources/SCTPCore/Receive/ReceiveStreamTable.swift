/// The per-stream receive state of an association (`ReassemblyQueue`), by stream id, for ids
/// the peer chooses.
///
/// - Nothing is allocated until a stream is used; each stream used costs its value and a
///   few bytes (`ids`, `values`, and beyond `linearLimit` streams an entry in `positions`).
/// - The stream found last is remembered: consecutive DATA chunks of one stream (a bulk
///   transfer, most small-message traffic) find their state with one comparison. The
///   `Dictionary` this replaces hashed the id (SipHash) for every chunk: ~115 instructions.
/// - Up to `linearLimit` streams, a miss scans `ids` (a few 16-bit compares); beyond, it
///   looks the id up in `positions`, a `Dictionary` with the standard library's per-process
///   seeded SipHash, so a peer sending a flood of distinct stream ids cannot drive it into
///   collisions: every look-up and insertion stays O(1), and memory grows with the streams
///   used (which the inbound stream count bounds), never with the ids' values.
/// - Entries can be removed (`remove(at:)`): the reassembly queue drops the entry of a stream
///   that holds nothing and is back at its default state (next SSN/MID 0), so the table holds
///   the streams whose state differs from a stream never used, at most the inbound stream count.
struct ReceiveStreamTable<Value: Sendable>: Sendable {
    /// The ids of the streams used, in the order first used; `values` alongside.
    private(set) var ids: [UInt16] = []
    private(set) var values: [Value] = []
    /// Where each id is in `ids` / `values`, once there are more than `linearLimit` streams.
    private var positions: [UInt16: Int32] = [:]
    /// The last stream looked up for a change, and its position (-1: none yet).
    private var lastID: UInt16 = 0
    private var lastPosition: Int32 = -1

    /// Up to this many streams, a miss scans `ids` instead of keeping `positions`.
    static var linearLimit: Int { 8 }

    var isEmpty: Bool { ids.isEmpty }
    var count: Int { ids.count }
    /// The ids of the streams used, in the order first used.
    var keys: [UInt16] { ids }

    /// The positions of the streams' states (`self[position:]`), in the order first used.
    var indices: Range<Int> { values.indices }

    /// The state at a position of `indices`, to read or change in place.
    subscript(position position: Int) -> Value {
        get { values[position] }
        _modify { yield &values[position] }
    }

    /// The position of `id`'s state, `nil` when the stream was never used.
    @inline(__always)
    func position(of id: UInt16) -> Int? {
        if lastPosition >= 0 && lastID == id { return Int(lastPosition) }
        return lookUp(id)
    }

    private func lookUp(_ id: UInt16) -> Int? {
        if ids.count <= Self.linearLimit { return ids.firstIndex(of: id) }
        return positions[id].map { Int($0) }
    }

    /// The position of `id`'s state, `nil` when the stream has none; a stream found is
    /// remembered for the next look-up.
    @inline(__always)
    mutating func locate(_ id: UInt16) -> Int? {
        if lastPosition >= 0 && lastID == id { return Int(lastPosition) }
        guard let position = lookUp(id) else { return nil }
        lastID = id
        lastPosition = Int32(position)
        return position
    }

    /// Adds the state of a stream that has none; returns its position (remembered).
    mutating func append(_ id: UInt16, _ value: Value) -> Int {
        let position = insert(id, value)
        lastID = id
        lastPosition = Int32(position)
        return position
    }

    /// Removes the state at `position`: the last entry takes its place (positions of other
    /// streams stay as they were). Below `linearLimit` streams the keyed index is freed.
    mutating func remove(at position: Int) {
        let last = ids.count - 1
        let removedID = ids[position]
        if position != last {
            ids[position] = ids[last]
            values.swapAt(position, last)
        }
        ids.removeLast()
        values.removeLast()
        if ids.count <= Self.linearLimit {
            if !positions.isEmpty { positions = [:] }
        } else {
            positions[removedID] = nil
            if position != last { positions[ids[position]] = Int32(position) }
        }
        if ids.isEmpty {
            // Nothing left: give the arrays' storage back too.
            ids = []
            values = []
        }
        lastPosition = -1
    }

    /// Adds a stream's state at the end; returns its position.
    private mutating func insert(_ id: UInt16, _ value: Value) -> Int {
        let position = ids.count
        ids.append(id)
        values.append(value)
        if ids.count > Self.linearLimit {
            if positions.isEmpty {
                positions.reserveCapacity(ids.count)
                for (index, known) in ids.enumerated() { positions[known] = Int32(index) }
            } else {
                positions[id] = Int32(position)
            }
        }
        return position
    }

    /// The state of stream `id`, `nil` when it has none. Setting a state adds the stream or
    /// replaces its state; setting `nil` removes it.
    subscript(id: UInt16) -> Value? {
        get {
            guard let position = position(of: id) else { return nil }
            return values[position]
        }
        set {
            guard let newValue else {
                if let position = position(of: id) { remove(at: position) }
                return
            }
            self[id, default: newValue] = newValue
        }
    }

    /// The state of stream `id` to change in place, made with `value` on first use. The
    /// stream is remembered for the next look-up.
    subscript(id: UInt16, default value: @autoclosure () -> Value) -> Value {
        get { self[id] ?? value() }
        _modify {
            let position = position(of: id) ?? insert(id, value())
            lastID = id
            lastPosition = Int32(position)
            yield &values[position]
        }
    }
}

extension ReceiveStreamTable: Sequence {
    /// The streams used as (id, state), in the order first used.
    func makeIterator() -> some IteratorProtocol<(key: UInt16, value: Value)> {
        zip(ids, values).lazy.map { (key: $0.0, value: $0.1) }.makeIterator()
    }
}
