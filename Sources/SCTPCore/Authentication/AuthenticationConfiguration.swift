import SCTPWire

/// The HMAC algorithms of AUTH (RFC 4895 §6.1, the HMAC Identifiers registry).
public enum SCTPHMACAlgorithm: UInt16, Sendable, Hashable, CaseIterable {
    /// HMAC-SHA-1 (identifier 1): every AUTH endpoint supports it (RFC 4895 §3.3).
    case sha1 = 1
    /// HMAC-SHA-256 (identifier 3).
    case sha256 = 3

    /// The length of its MAC in bytes.
    public var macLength: Int { self == .sha1 ? 20 : 32 }
}

/// Chunk authentication (RFC 4895, the socket options of RFC 6458 §8.1.20-8.3.5) as an
/// endpoint or an association is configured: whether it is announced, which chunks we want
/// authenticated, which HMACs we accept, and the endpoint-pair shared keys.
///
/// Keys are secrets: `description` never shows them.
public struct SCTPAuthenticationConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// Announce AUTH in INIT and INIT ACK (RANDOM, CHUNKS, HMAC-ALGO, and AUTH in Supported
    /// Extensions) under the `.full` INIT profile; never under `.webRTC`.
    public var enabled: Bool = true
    /// The chunk types we ask the peer to authenticate (our CHUNKS parameter,
    /// `SCTP_AUTH_CHUNK`): ours to require, the peer's to honour. INIT, INIT ACK,
    /// SHUTDOWN COMPLETE and AUTH never appear (RFC 4895 §3.2).
    public var chunkTypes: [UInt8] = []
    /// The HMAC identifiers we accept, in order of preference (our HMAC-ALGO parameter,
    /// `SCTP_HMAC_IDENT`). What is announced is `announcedHMACAlgorithms`: repeats left out,
    /// SHA-1 added when missing.
    public var hmacAlgorithms: [SCTPHMACAlgorithm] = [.sha256, .sha1]
    /// The endpoint-pair shared keys by key identifier (`SCTP_AUTH_KEY`). Key 0, empty, is
    /// there unless deleted (RFC 4895 §6.1).
    public var keys: [UInt16: [UInt8]] = [0: []]
    /// The key our AUTH chunks use (`SCTP_AUTH_ACTIVE_KEY`).
    public var activeKey: UInt16 = 0
    /// Keys no longer used to send (`SCTP_AUTH_DEACTIVATE_KEY`); they still verify what arrives.
    public var deactivatedKeys: Set<UInt16> = []

    public init() {}

    /// The types that may never be in a CHUNKS list (RFC 4895 §3.2).
    public static func isForbiddenInChunkList(_ type: UInt8) -> Bool {
        type == ChunkType.initiation || type == ChunkType.initiationAck || type == ChunkType.shutdownComplete
            || type == ChunkType.auth
    }

    public var description: String {
        "SCTPAuthenticationConfiguration(enabled: \(enabled), chunks: \(chunkTypes), hmacs: \(hmacAlgorithms.map(\.rawValue)), "
            + "keys: \(keys.keys.sorted()) (redacted), active: \(activeKey))"
    }
}

/// A set of chunk types (a 256-bit map), for the CHUNKS lists.
public struct ChunkTypeSet: Hashable, Sendable {
    private var words = SIMD4<UInt64>()

    public init() {}

    public init(_ types: some Sequence<UInt8>) {
        for type in types { insert(type) }
    }

    @inline(__always)
    public func contains(_ type: UInt8) -> Bool {
        words[Int(type >> 6)] & (1 << UInt64(type & 63)) != 0
    }

    public mutating func insert(_ type: UInt8) {
        words[Int(type >> 6)] |= 1 << UInt64(type & 63)
    }

    public var isEmpty: Bool { words == SIMD4<UInt64>() }

    /// The types in ascending order.
    public var types: [UInt8] { (0...255).compactMap { contains(UInt8($0)) ? UInt8($0) : nil } }
}

/// An AUTH notification (`SCTP_AUTHENTICATION_EVENT`, RFC 6458 §6.1.8).
public struct AuthenticationEvent: Hashable, Sendable {
    public enum Indication: UInt16, Hashable, Sendable {
        /// `SCTP_AUTH_NEW_KEY`: the peer used this key for the first time.
        case newKey = 1
        /// `SCTP_AUTH_NO_AUTH`: the peer does not support AUTH.
        case noAuthentication = 2
        /// `SCTP_AUTH_FREE_KEY`: the key is no longer used (deactivated) and may be deleted.
        case freeKey = 3
    }
    public var indication: Indication
    /// The key identifier concerned (0 for `noAuthentication`).
    public var keyNumber: UInt16

    public init(indication: Indication, keyNumber: UInt16) {
        self.indication = indication
        self.keyNumber = keyNumber
    }
}

extension SCTPAuthenticationConfiguration {
    /// The largest shared key accepted, in bytes.
    public static let maximumKeyLength = 4096
    /// The most shared keys an endpoint or association holds.
    public static let maximumKeys = 64

    /// `SCTP_AUTH_KEY`: adds (or replaces) shared key `id`.
    public mutating func setKey(_ key: [UInt8], id: UInt16) throws(CoreError) {
        guard key.count <= Self.maximumKeyLength else {
            throw .invalidAuthentication("key longer than \(Self.maximumKeyLength) bytes")
        }
        guard keys[id] != nil || keys.count < Self.maximumKeys else { throw .invalidAuthentication("too many keys") }
        keys[id] = key
        deactivatedKeys.remove(id)
    }

    /// `SCTP_AUTH_ACTIVE_KEY`: the key our AUTH chunks use; it must exist and not be deactivated.
    public mutating func activateKey(_ id: UInt16) throws(CoreError) {
        guard keys[id] != nil, !deactivatedKeys.contains(id) else { throw .invalidAuthentication("no usable key \(id)") }
        activeKey = id
    }

    /// `SCTP_AUTH_DELETE_KEY`: removes a key that is not the active one.
    public mutating func deleteKey(_ id: UInt16) throws(CoreError) {
        guard keys[id] != nil else { throw .invalidAuthentication("no key \(id)") }
        guard activeKey != id else { throw .invalidAuthentication("key \(id) is the active key") }
        keys[id] = nil
        deactivatedKeys.remove(id)
    }

    /// `SCTP_AUTH_DEACTIVATE_KEY`: a key that is not the active one no longer sends.
    public mutating func deactivateKey(_ id: UInt16) throws(CoreError) {
        guard keys[id] != nil else { throw .invalidAuthentication("no key \(id)") }
        guard activeKey != id else { throw .invalidAuthentication("key \(id) is the active key") }
        deactivatedKeys.insert(id)
    }

    /// `SCTP_AUTH_CHUNK`: asks the peer to authenticate chunks of `type`.
    public mutating func addChunkType(_ type: UInt8) throws(CoreError) {
        guard !Self.isForbiddenInChunkList(type) else {
            throw .invalidAuthentication("chunk type \(type) cannot be authenticated")
        }
        if !chunkTypes.contains(type) { chunkTypes.append(type) }
    }

    /// The most identifiers `setHMACIdentifiers` takes (repeats included): the longest
    /// HMAC-ALGO list we accept from a peer.
    public static let maximumHMACIdentifiers = 64

    /// The HMAC-ALGO list our INIT and INIT ACK announce, and the HMACs we accept: `hmacAlgorithms`
    /// in order without repeats, SHA-1 added last when missing (RFC 4895 §3.3: every endpoint
    /// supports it). At most one entry per known algorithm, so the parameter and the key
    /// vector in the state cookie stay small whatever `hmacAlgorithms` holds.
    public var announcedHMACAlgorithms: [SCTPHMACAlgorithm] {
        var result: [SCTPHMACAlgorithm] = []
        for algorithm in hmacAlgorithms where !result.contains(algorithm) { result.append(algorithm) }
        if !result.contains(.sha1) { result.append(.sha1) }
        return result
    }

    /// `SCTP_HMAC_IDENT`: the HMAC identifiers we accept, in order of preference, repeats
    /// left out. Refused: an empty list or one longer than `maximumHMACIdentifiers`, an
    /// unknown identifier, a list without SHA-1 (RFC 4895 §3.3).
    public mutating func setHMACIdentifiers(_ identifiers: [UInt16]) throws(CoreError) {
        guard !identifiers.isEmpty, identifiers.count <= Self.maximumHMACIdentifiers else {
            throw .invalidAuthentication("an HMAC list needs 1 to \(Self.maximumHMACIdentifiers) identifiers")
        }
        var algorithms: [SCTPHMACAlgorithm] = []
        for identifier in identifiers {
            guard let algorithm = SCTPHMACAlgorithm(rawValue: identifier) else {
                throw .invalidAuthentication("unknown HMAC identifier \(identifier)")
            }
            if !algorithms.contains(algorithm) { algorithms.append(algorithm) }
        }
        guard algorithms.contains(.sha1) else { throw .invalidAuthentication("the HMAC list must include SHA-1") }
        hmacAlgorithms = algorithms
    }
}
