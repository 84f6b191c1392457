import SCTPWire

/// The endpoint's associations and the tables that find them: by id, by our verification
/// tag (every packet of an association carries it), and by the peer's transport address
/// (for INIT, COOKIE ECHO collisions and T-bit packets, and to tell a packet with a wrong
/// tag from a known peer, discarded by §8.5, from one out of the blue).
///
/// The latest answers by id and by tag are remembered, as most calls and packets are for
/// the same association as the one before; they are forgotten whenever the tables change,
/// so a remembered answer is always the one the tables would give.
struct AssociationTable {
    struct PeerKey: Hashable {
        var address: IPAddress
        var port: UInt16
    }

    /// Association ids by peer transport address, in a `TransportAddressMap` (IPv4 keys packed).
    private struct PeerAddressTable {
        private var map = TransportAddressMap()

        subscript(address: IPAddress, port: UInt16) -> AssociationID? {
            get { map[address, port].map(AssociationID.init) }
            set { map[address, port] = newValue?.rawValue }
        }

        var entries: [(address: IPAddress, port: UInt16, value: AssociationID)] {
            map.entries.map { ($0.address, $0.port, AssociationID($0.value)) }
        }
    }

    private var byID: [AssociationID: Association] = [:]
    private var byLocalTag: [UInt32: AssociationID] = [:]
    private var byPeerAddress = PeerAddressTable()
    private var lastByID: Association?
    private var lastByTag: Association?
    private var nextID: UInt32 = firstID
    /// The first id handed out, the one after `AssociationID.all`.
    private static let firstID = AssociationID.all.rawValue + 1
    /// Ids handed out have `id % count == index` (a sharded endpoint: the id names its shard).
    private var idShard: TagShard?
    /// The sharded endpoint's directory of peer addresses, told of every address entry here
    /// (`SCTPShardDirectory`), with the shard to name.
    private var directory: (any SCTPShardDirectory)?
    private var directoryShard: UInt32 = 0

    /// Hands out ids of shard `shard` from now on (`nil`: every id).
    mutating func setIDShard(_ shard: TagShard?) {
        idShard = shard
        nextID = Self.firstID(in: shard)
    }

    /// Tells `directory` (as shard `shard`) of every peer address entry from now on, and of
    /// those already there.
    mutating func setDirectory(_ directory: (any SCTPShardDirectory)?, shard: UInt32) {
        self.directory = directory
        directoryShard = shard
        guard let directory else { return }
        for entry in byPeerAddress.entries { directory.claim(peer: entry.address, port: entry.port, shard: shard) }
    }

    private static func firstID(in shard: TagShard?) -> UInt32 {
        guard let shard, shard.count > 1 else { return firstID }
        let remainder = firstID % shard.count
        return firstID - remainder + shard.index + (shard.index < remainder ? shard.count : 0)
    }

    private mutating func setPeerEntry(_ key: PeerKey, _ id: AssociationID) {
        byPeerAddress[key.address, key.port] = id
        directory?.claim(peer: key.address, port: key.port, shard: directoryShard)
    }

    private mutating func clearPeerEntry(_ key: PeerKey) {
        byPeerAddress[key.address, key.port] = nil
        directory?.release(peer: key.address, port: key.port, shard: directoryShard)
    }

    /// The association with an id (alive, or closed and not yet removed); not remembered.
    subscript(id: AssociationID) -> Association? { byID[id] }
    /// Every association, in no particular order.
    var values: Dictionary<AssociationID, Association>.Values { byID.values }
    /// Their ids, in no particular order.
    var keys: Dictionary<AssociationID, Association>.Keys { byID.keys }
    var count: Int { byID.count }
    var isEmpty: Bool { byID.isEmpty }

    /// The association with an id, remembered for the next call.
    mutating func lookUp(_ id: AssociationID) -> Association? {
        if let last = lastByID, last.id == id { return last }
        let found = byID[id]
        lastByID = found
        return found
    }

    /// The association that owns a peer transport address, if it is alive.
    func live(peer address: IPAddress, port: UInt16) -> Association? {
        guard let id = byPeerAddress[address, port], let association = byID[id],
              !association.isClosed else { return nil }
        return association
    }

    /// Every association in the table.
    var all: Dictionary<AssociationID, Association>.Values { byID.values }

    /// The id registered for a peer transport address, alive or not.
    func id(peer address: IPAddress, port: UInt16) -> AssociationID? { byPeerAddress[address, port] }

    /// The association that owns a local verification tag, if it is alive.
    mutating func live(localTag tag: UInt32) -> Association? {
        if let last = lastByTag, last.localTag == tag { return last.isClosed ? nil : last }
        guard let id = byLocalTag[tag], let association = byID[id] else { return nil }
        // Only the owner of the tag's entry: the tables give the same answer until they change.
        if association.localTag == tag { lastByTag = association }
        return association.isClosed ? nil : association
    }

    /// Whether some association (alive or not yet removed) has this local tag.
    func containsLocalTag(_ tag: UInt32) -> Bool { byLocalTag[tag] != nil }

    /// A fresh association id, unused and never one of the sockets API's selectors
    /// (`AssociationID.isSelector`: 0, 1, 2).
    mutating func newID() -> AssociationID {
        let step = idShard.map { max($0.count, 1) } ?? 1
        while true {
            let id = AssociationID(nextID)
            nextID = nextID > UInt32.max - step ? Self.firstID(in: idShard) : nextID + step
            if byID[id] == nil { return id }
        }
    }

    /// Adds an association under its id, tag and peer addresses; returns the one it
    /// replaces under the same id (a restart), if any.
    mutating func insert(_ association: Association) -> Association? {
        let replaced = byID.updateValue(association, forKey: association.id)
        byLocalTag[association.localTag] = association.id
        for path in association.paths {
            setPeerEntry(PeerKey(address: path.address, port: association.peerPort), association.id)
        }
        forgetRemembered()
        return replaced === association ? nil : replaced
    }

    /// Removes an association's tag and address entries (those that still point to it).
    mutating func removeEntries(of association: Association) {
        let id = association.id
        if byLocalTag[association.localTag] == id { byLocalTag[association.localTag] = nil }
        for path in association.paths {
            let key = PeerKey(address: path.address, port: association.peerPort)
            if byPeerAddress[key.address, key.port] == id { clearPeerEntry(key) }
        }
        forgetRemembered()
    }

    /// Removes an association for good: by id and from the other tables.
    mutating func remove(_ association: Association) {
        if byID[association.id] === association { byID[association.id] = nil }
        removeEntries(of: association)
    }

    /// Re-indexes an association's peer addresses after they changed (INIT ACK, ASCONF).
    mutating func reindexPeerAddresses(of association: Association, previous: [IPAddress]) {
        let paths = association.paths
        if previous.count == paths.count && zip(previous, paths).allSatisfy({ $0 == $1.address }) {
            // The same addresses (the usual INIT ACK): one look-up each, not a removal and an insertion.
            for path in paths {
                let key = PeerKey(address: path.address, port: association.peerPort)
                if byPeerAddress[key.address, key.port] != association.id { setPeerEntry(key, association.id) }
            }
            return
        }
        for address in previous {
            let key = PeerKey(address: address, port: association.peerPort)
            if byPeerAddress[key.address, key.port] == association.id { clearPeerEntry(key) }
        }
        for path in paths {
            setPeerEntry(PeerKey(address: path.address, port: association.peerPort), association.id)
        }
    }

    private mutating func forgetRemembered() {
        lastByID = nil
        lastByTag = nil
    }

    /// Checks the tables against each other (`SCTPEndpoint.checkInvariants()`): each
    /// association registered under its id, found by its local tag and by each of its peer's
    /// addresses, and every tag and address entry naming an association that owns it.
    func checkInvariants() -> [String] {
        #if DEBUG || SCTP_INVARIANTS
        var violations: [String] = []
        for (id, association) in byID {
            if association.id != id { violations.append("\(association.id) registered as \(id)") }
            if !association.isRegistered { violations.append("\(id) in the table but not marked registered") }
            if byLocalTag[association.localTag] != id { violations.append("\(id) not found by its local tag") }
            for path in association.paths where byPeerAddress[path.address, association.peerPort] != id {
                violations.append("\(id) not found by its peer address \(path.address)")
            }
        }
        for (tag, id) in byLocalTag where byID[id]?.localTag != tag {
            violations.append("local tag \(tag) names \(id), which does not own it")
        }
        for key in byPeerAddress.entries {
            let id = key.value
            guard let association = byID[id] else {
                violations.append("peer \(key.address):\(key.port) names \(id), which is gone")
                continue
            }
            if association.peerPort != key.port || association.pathIndex(for: key.address) == nil {
                violations.append("peer \(key.address):\(key.port) names \(id), which has no such path")
            }
        }
        return violations
        #else
        return []
        #endif
    }

    #if DEBUG
    /// Test hook: forgets the local-tag entry of an association, as a bug would.
    mutating func forgetLocalTagForTesting(_ tag: UInt32) {
        byLocalTag[tag] = nil
        forgetRemembered()
    }

    /// Test hook: restores a local-tag entry.
    mutating func restoreLocalTagForTesting(_ tag: UInt32, _ id: AssociationID) {
        byLocalTag[tag] = id
        forgetRemembered()
    }
    #endif
}
