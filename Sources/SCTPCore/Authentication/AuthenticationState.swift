import NIOCore
import SCTPWire

/// An association's AUTH state (RFC 4895): our key vector from the start, the peer's once its
/// INIT or INIT ACK (or the state cookie) told it, and the association keys computed so far.
/// Any change of it makes `Association.authenticationSummary` afresh, so what changes per
/// packet (the counters of refused packets and dropped chunks) lives in
/// `AssociationStatistics` instead.
struct AuthenticationState {
    /// Our vector's bytes, then the peer's once known: one array for both (every association
    /// announcing AUTH has them, and two arrays took 64 bytes more of the heap).
    private var vectors: [UInt8]
    /// Where our vector ends in `vectors`.
    private let localLength: UInt16
    /// Whether the peer's vector follows ours in `vectors`.
    private var hasPeer = false
    /// Our RANDOM, CHUNKS and HMAC-ALGO as sent.
    var local: AuthKeyVector { AuthKeyVector(trustedBytes: Array(localBytes)) }
    /// The peer's; `nil` while unknown, and for good when the peer does not support AUTH.
    var peer: AuthKeyVector? { hasPeer ? AuthKeyVector(trustedBytes: Array(peerBytes)) : nil }
    private var localBytes: ArraySlice<UInt8> { vectors[..<Int(localLength)] }
    private var peerBytes: ArraySlice<UInt8> { vectors[Int(localLength)...] }
    /// The chunk types we require authenticated (our CHUNKS list). Read from the vector, not
    /// kept (the association's `AuthenticationSummary` keeps both lists for the packet path).
    var localChunks: ChunkTypeSet { AuthKeyVector.requiredChunks(in: localBytes) }
    /// The chunk types the peer requires authenticated: our AUTH chunk goes before the first.
    var peerChunks: ChunkTypeSet { hasPeer ? AuthKeyVector.requiredChunks(in: peerBytes) : ChunkTypeSet() }
    /// The HMAC our AUTH chunks use: the first of the peer's list that we accept too.
    private(set) var sendAlgorithm: SCTPHMACAlgorithm = .sha1
    /// The HMAC identifiers we accept (what we announced), read from our vector when an AUTH
    /// chunk or the peer's list is checked: not stored, as every association announcing AUTH
    /// has this state (16 bytes of each association object).
    var acceptedAlgorithms: HMACIdentifierSet {
        var accepted = HMACIdentifierSet([])
        AuthKeyVector.forEachHMACIdentifier(in: localBytes) { accepted.insert($0); return true }
        return accepted
    }
    /// Association keys computed, by key id and algorithm (a few keys at most).
    private var macs: [(key: UInt16, algorithm: SCTPHMACAlgorithm, mac: AuthMAC)] = []
    /// The key id of the peer's latest authenticated packet (an `SCTP_AUTH_NEW_KEY` is
    /// reported when it changes; 0 at first, as usrsctp does).
    var lastPeerKey: UInt16 = 0

    init(local: AuthKeyVector) {
        vectors = local.bytes
        localLength = UInt16(local.bytes.count)  // at most `AuthKeyVector.maximumLength`
    }

    /// The state from both vectors in one array, as a state cookie keeps them (`StateCookie
    /// .authVectors`): ours, the first `localLength` bytes, then the peer's, if any; both
    /// checked by the caller (`AuthKeyVector.isValid`). The array is kept as it is.
    init(vectors: [UInt8], localLength: Int) {
        self.vectors = vectors
        self.localLength = UInt16(localLength)  // at most `AuthKeyVector.maximumLength`
        if vectors.count > localLength {
            hasPeer = true
            sendAlgorithm = Self.sendAlgorithm(peer: vectors[localLength...], accepted: acceptedAlgorithms)
        }
    }

    /// The first HMAC of the peer's list that we accept, SHA-1 when none (which every peer lists).
    private static func sendAlgorithm(peer: ArraySlice<UInt8>, accepted: HMACIdentifierSet) -> SCTPHMACAlgorithm {
        var chosen: SCTPHMACAlgorithm = .sha1
        AuthKeyVector.forEachHMACIdentifier(in: peer) { id in
            guard let algorithm = SCTPHMACAlgorithm(rawValue: id), accepted.contains(id) else { return true }
            chosen = algorithm
            return false
        }
        return chosen
    }

    /// Whether both sides announced AUTH.
    var isNegotiated: Bool { hasPeer }

    /// Takes the peer's vector: what it wants authenticated and the HMAC to send with.
    mutating func setPeer(_ vector: AuthKeyVector) {
        var both: [UInt8] = []
        both.reserveCapacity(Int(localLength) + vector.bytes.count)
        both.append(contentsOf: localBytes)
        both.append(contentsOf: vector.bytes)
        vectors = both
        hasPeer = true
        macs = []
        // The identifiers read in place (no array per association).
        sendAlgorithm = Self.sendAlgorithm(peer: vector.bytes[...], accepted: acceptedAlgorithms)
    }

    /// Forgets the computed keys (a shared key changed).
    mutating func invalidateKeys() { macs = [] }

    /// The MAC under shared key `key` with `algorithm` when computed already.
    func cachedMAC(key: UInt16, algorithm: SCTPHMACAlgorithm) -> AuthMAC? {
        for entry in macs where entry.key == key && entry.algorithm == algorithm { return entry.mac }
        return nil
    }

    /// The MAC under shared key `key` with `algorithm`, computed once; `nil` without that key
    /// or before the peer's vector is known.
    mutating func mac(key: UInt16, algorithm: SCTPHMACAlgorithm, keys: [UInt16: [UInt8]]) -> AuthMAC? {
        if let cached = cachedMAC(key: key, algorithm: algorithm) { return cached }
        guard let peer, let shared = keys[key] else { return nil }
        let local = local
        let mac = AuthMAC(algorithm: algorithm, key: AuthKeyVector.associationKey(sharedKey: shared, local: local, peer: peer))
        if macs.count >= 16 { macs.removeFirst() }
        macs.append((key, algorithm, mac))
        return mac
    }

    /// Checks an AUTH chunk against `region`, the bytes it covers (RFC 4895 §6.3), under the
    /// shared keys `keys` (the association key computed once per key id and HMAC). Returns the
    /// verdict and the MAC the chunk was checked with.
    mutating func verify(_ auth: AuthChunk, region: ByteBuffer?,
                         keys: [UInt16: [UInt8]]) -> (AuthChunkVerdict, (key: UInt16, mac: AuthMAC)?) {
        guard let algorithm = SCTPHMACAlgorithm(rawValue: auth.hmacIdentifier), acceptedAlgorithms.contains(auth.hmacIdentifier) else {
            return (.unsupportedHMAC(auth.hmacIdentifier), nil)
        }
        guard auth.hmac.readableBytes == algorithm.macLength, let region else { return (.refused, nil) }
        let key = auth.sharedKeyIdentifier
        guard let mac = cachedMAC(key: key, algorithm: algorithm) ?? self.mac(key: key, algorithm: algorithm, keys: keys) else {
            return (.refused, nil)
        }
        return (mac.verify(region) ? .valid : .refused, (key, mac))
    }
}

/// What the packet path reads of an association's AUTH state: the flags and chunk lists as
/// trivial values; the MACs (about 140 bytes each) in a box made only once a packet is signed
/// or verified, so that an association where AUTH is announced but never used (the default:
/// empty chunk lists) keeps none.
///
/// The chunk lists are boxed too, and only when one is not empty (AUTH is announced by
/// default with empty lists): two `ChunkTypeSet`s take 64 bytes aligned to 32. The box is
/// shared by the associations whose lists are the same (`AuthenticationListTable`): every
/// usrsctp or kernel peer sends the same CHUNKS list (ASCONF, ASCONF-ACK).
struct AuthenticationSummary {
    /// Both sides announced AUTH.
    var negotiated = false
    /// Whether `sender` was found from the AUTH state (once, not per packet); a summary made
    /// afresh after any change of that state forgets it.
    var senderKnown = false
    /// With `senderKnown`: the key and HMAC our packets are signed with, `nil` when they are
    /// not (the peer asked for no chunk type, or without the active key). Stored ahead of
    /// the references, in the padding after the flags.
    private(set) var senderKey: (key: UInt16, algorithm: SCTPHMACAlgorithm)?
    /// The two chunk lists when either is not empty.
    private let lists: AuthenticationChunkLists?
    private var macs: AuthenticationMACs?

    /// The chunk types we require authenticated (empty unless negotiated).
    var localChunks: ChunkTypeSet { lists?.local ?? ChunkTypeSet() }
    /// The chunk types the peer requires authenticated (empty unless negotiated).
    var peerChunks: ChunkTypeSet { lists?.peer ?? ChunkTypeSet() }

    init() { lists = nil }

    /// A summary with these lists: their box taken from `table` when it holds the same lists
    /// (made and kept there otherwise); none when both are empty.
    init(negotiated: Bool, localChunks: ChunkTypeSet, peerChunks: ChunkTypeSet, table: AuthenticationListTable? = nil) {
        self.negotiated = negotiated
        if localChunks.isEmpty && peerChunks.isEmpty {
            lists = nil
        } else if let table {
            lists = table.lists(local: localChunks, peer: peerChunks)
        } else {
            lists = AuthenticationChunkLists(local: localChunks, peer: peerChunks)
        }
    }

    /// Whether this summary's lists are the box `other` holds (tests: sharing).
    func sharesLists(with other: AuthenticationSummary) -> Bool {
        guard let lists, let otherLists = other.lists else { return false }
        return lists === otherLists
    }

    /// Notes what signs our packets (`senderKnown` from here on).
    mutating func setSender(key: (key: UInt16, algorithm: SCTPHMACAlgorithm)?) {
        senderKey = key
        senderKnown = true
    }

    /// What signs our packets, once `senderKnown`: with its MAC once computed (`senderMAC`).
    var sender: PacketAuthenticator? {
        guard let senderKey else { return nil }
        var sender = PacketAuthenticator(chunks: peerChunks, keyID: senderKey.key, algorithm: senderKey.algorithm)
        sender.mac = macs?.sender
        return sender
    }

    /// The MAC our packets are signed with, once computed.
    var senderMAC: AuthMAC? {
        get { macs?.sender }
        set { uniqueMACs().sender = newValue }
    }

    /// The MAC the peer's latest authenticated packet was verified with, and its key.
    var verifier: (key: UInt16, mac: AuthMAC)? {
        get { macs?.verifier }
        set { uniqueMACs().verifier = newValue }
    }

    private mutating func uniqueMACs() -> AuthenticationMACs {
        if macs != nil && isKnownUniquelyReferenced(&macs!) { return macs! }
        let copy = AuthenticationMACs(sender: macs?.sender, verifier: macs?.verifier)
        macs = copy
        return copy
    }
}

/// An AUTH summary's two chunk lists, boxed; never changed once made, so associations share
/// one (`AuthenticationListTable`).
final class AuthenticationChunkLists {
    let local: ChunkTypeSet
    let peer: ChunkTypeSet

    init(local: ChunkTypeSet, peer: ChunkTypeSet) {
        self.local = local
        self.peer = peer
    }
}

/// The chunk-list boxes an endpoint's associations share (80 bytes per association with
/// usrsctp peers while each had its own). A few entries, looked up linearly: peers of one
/// implementation send one list, and a peer that sends many different lists only costs the
/// associations their own box again (each new list replaces the oldest entry; the table
/// never grows beyond `capacity`). Used on the endpoint's thread only, as the core is.
final class AuthenticationListTable {
    /// Entries kept at most.
    static let capacity = 8
    private var entries: [AuthenticationChunkLists] = []
    /// The entry the next new list replaces once the table is full.
    private var oldest = 0

    init() {}

    /// How many entries are kept (tests).
    var count: Int { entries.count }

    /// The box holding these lists: an entry's, or a new one entered in the table.
    func lists(local: ChunkTypeSet, peer: ChunkTypeSet) -> AuthenticationChunkLists {
        for entry in entries where entry.local == local && entry.peer == peer { return entry }
        let made = AuthenticationChunkLists(local: local, peer: peer)
        if entries.count < Self.capacity {
            entries.append(made)
        } else {
            entries[oldest] = made
            oldest = (oldest + 1) % Self.capacity
        }
        return made
    }
}

/// The MACs of `AuthenticationSummary`, boxed.
final class AuthenticationMACs {
    var sender: AuthMAC?
    var verifier: (key: UInt16, mac: AuthMAC)?

    init(sender: AuthMAC?, verifier: (key: UInt16, mac: AuthMAC)?) {
        self.sender = sender
        self.verifier = verifier
    }
}

/// What a `PacketBuilder` needs to authenticate the packets it builds: the chunk types the
/// peer wants authenticated, the key and HMAC, and the MAC; each packet that holds one of
/// those types gets an AUTH chunk just before the first of them, signed when the builder
/// finishes (RFC 4895 §6.2). The MAC (the association key, about 300 bytes of an
/// association's heap with its caches) may be left out while no packet needs it: an
/// association whose peer wants only ASCONF authenticated (usrsctp, the kernel stacks) then
/// computes it at its first ASCONF, not at setup (`Association.finishPackets`).
struct PacketAuthenticator {
    let chunks: ChunkTypeSet
    let keyID: UInt16
    let algorithm: SCTPHMACAlgorithm
    /// `nil` until supplied (`PacketBuilder.supplyMAC`).
    var mac: AuthMAC?

    init(chunks: ChunkTypeSet, keyID: UInt16, mac: AuthMAC) {
        self.chunks = chunks
        self.keyID = keyID
        algorithm = mac.algorithm
        self.mac = mac
    }

    /// Without the MAC yet.
    init(chunks: ChunkTypeSet, keyID: UInt16, algorithm: SCTPHMACAlgorithm) {
        self.chunks = chunks
        self.keyID = keyID
        self.algorithm = algorithm
        mac = nil
    }

    /// The AUTH chunk's size in the packet (8 + the MAC; a multiple of 4).
    var chunkSize: Int { 8 + algorithm.macLength }

    /// Whether packets carrying DATA (or I-DATA) are signed.
    var signsData: Bool { chunks.contains(ChunkType.data) || chunks.contains(ChunkType.iData) }

    /// Writes the AUTH chunk with a zero HMAC field.
    func writePlaceholder(to buffer: inout ByteBuffer) {
        let length = chunkSize
        buffer.writeMultipleIntegers(AuthChunk.chunkType, UInt8(0), UInt16(length), keyID, algorithm.rawValue)
        buffer.writeRepeatingByte(0, count: length - 8)
    }
}

/// What the receive path decided about an AUTH chunk (RFC 4895 §6.3).
enum AuthChunkVerdict: Equatable {
    /// Valid: the chunks after it are authenticated.
    case valid
    /// An HMAC identifier we did not announce: discard, answer Unsupported HMAC Identifier.
    case unsupportedHMAC(UInt16)
    /// No such shared key, or a MAC that does not match or has the wrong length: discard silently.
    case refused
}

/// A set of HMAC identifiers: those below 64 (every one RFC 4895 and its registry name) as
/// bits, any other in an array (empty: no allocation).
struct HMACIdentifierSet {
    private var low: UInt64 = 0
    private var others: [UInt16] = []

    init(_ identifiers: [UInt16]) {
        for id in identifiers { insert(id) }
    }

    mutating func insert(_ id: UInt16) {
        if id < 64 { low |= 1 << UInt64(id) } else if !others.contains(id) { others.append(id) }
    }

    func contains(_ id: UInt16) -> Bool { id < 64 ? low & (1 << UInt64(id)) != 0 : others.contains(id) }
}
