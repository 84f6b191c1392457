import NIOCore
import SCTPWire

/// One side's key vector (RFC 4895 §6.1): its RANDOM, CHUNKS (when sent) and HMAC-ALGO
/// parameters as they travelled, header included, padding excluded, concatenated in that
/// order whatever their order in the INIT or INIT ACK. Kept in the state cookie as bytes.
struct AuthKeyVector: Hashable, Sendable {
    /// The longest vector accepted: a 32-byte RANDOM, 256 chunk types, 64 HMAC identifiers.
    static let maximumLength = (4 + 32) + (4 + 256) + (4 + 2 * 64)
    static let randomLength = 32

    /// The parameters as they travelled (the only storage: the lists below are read from it
    /// when asked, so that a vector is one allocation, not three).
    private(set) var bytes: [UInt8]

    /// The CHUNKS list (empty when the parameter was left out).
    var chunkTypes: [UInt8] { Self.chunkTypes(in: bytes[...]) }

    /// The HMAC-ALGO list.
    var hmacIdentifiers: [UInt16] { Self.hmacIdentifiers(in: bytes[...]) }

    /// The CHUNKS list of a vector's bytes (`AuthenticationState` keeps both vectors in one array).
    static func chunkTypes(in bytes: ArraySlice<UInt8>) -> [UInt8] {
        guard let value = parameterValue(ChunkListParameter.parameterType, in: bytes) else { return [] }
        return Array(bytes[value])
    }

    /// The HMAC-ALGO list of a vector's bytes.
    static func hmacIdentifiers(in bytes: ArraySlice<UInt8>) -> [UInt16] {
        guard let value = parameterValue(RequestedHMACAlgorithmParameter.parameterType, in: bytes) else { return [] }
        return stride(from: value.lowerBound, to: value.upperBound - 1, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
    }

    /// Calls `body` with each identifier of a vector's HMAC-ALGO list, in order (those
    /// `hmacIdentifiers(in:)` returns), until it returns `false`; no array is made.
    static func forEachHMACIdentifier(in bytes: ArraySlice<UInt8>, _ body: (UInt16) -> Bool) {
        guard let value = parameterValue(RequestedHMACAlgorithmParameter.parameterType, in: bytes) else { return }
        for index in stride(from: value.lowerBound, to: value.upperBound - 1, by: 2) {
            guard body(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])) else { return }
        }
    }

    /// The chunk types a vector's bytes ask to be authenticated (`requiredChunks`).
    static func requiredChunks(in bytes: ArraySlice<UInt8>) -> ChunkTypeSet {
        ChunkTypeSet(chunkTypes(in: bytes).filter { !SCTPAuthenticationConfiguration.isForbiddenInChunkList($0) })
    }

    /// Where the value of the parameter of `type` lies in `bytes` (parameters end to end,
    /// without padding between them; both initializers checked the layout).
    private static func parameterValue(_ type: UInt16, in bytes: ArraySlice<UInt8>) -> Range<Int>? {
        var offset = bytes.startIndex
        var match: Range<Int>?
        while offset + 4 <= bytes.endIndex {
            let found = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
            let length = Int(UInt16(bytes[offset + 2]) << 8 | UInt16(bytes[offset + 3]))
            guard length >= 4, offset + length <= bytes.endIndex else { return nil }
            if found == type { match = (offset + 4)..<(offset + length) }
            offset += length
        }
        return match
    }

    /// What a peer's INIT or INIT ACK says about AUTH.
    enum PeerParameters {
        /// No RANDOM or no HMAC-ALGO: the peer does not support AUTH.
        case absent
        /// Present but invalid (RFC 4895 §6.1: a RANDOM not of 32 bytes, an HMAC-ALGO without
        /// SHA-1, lists too long): the association is aborted with Protocol Violation.
        case invalid(String)
        case valid(AuthKeyVector)
    }

    /// Reads the peer's AUTH parameters from an INIT or INIT ACK, in place: the first RANDOM,
    /// CHUNKS and HMAC-ALGO (each checked by `ParameterList(parsing:)`), copied into the
    /// vector's one array as they travelled.
    static func peer(_ parameters: ParameterList) -> PeerParameters {
        parameters.withParameterBytes { cursor in
            var random: Range<Int>?, chunks: Range<Int>?, hmacs: Range<Int>?
            while let parameter = cursor.next() {
                switch parameter.type {
                case RandomParameter.parameterType: if random == nil { random = parameter.value }
                case ChunkListParameter.parameterType: if chunks == nil { chunks = parameter.value }
                case RequestedHMACAlgorithmParameter.parameterType: if hmacs == nil { hmacs = parameter.value }
                default: break
                }
            }
            return peer(random: random, chunks: chunks, hmacs: hmacs, in: cursor)
        }
    }

    /// The peer's vector from the value ranges of its first RANDOM, CHUNKS and HMAC-ALGO
    /// parameters in `cursor`'s bytes (`peer(_:)`, `PeerInitParameters`).
    static func peer(random: Range<Int>?, chunks: Range<Int>?, hmacs: Range<Int>?, in cursor: ParameterCursor) -> PeerParameters {
        guard let random, let hmacs else { return .absent }
        guard random.count == randomLength else { return .invalid("RANDOM of \(random.count) bytes") }
        guard hmacs.count / 2 <= 64 else { return .invalid("too many HMAC identifiers") }
        let hmacBytes = cursor.rawBytes(hmacs)
        var hasSHA1 = false
        for index in stride(from: 0, to: hmacBytes.count - 1, by: 2)
        where UInt16(hmacBytes[index]) << 8 | UInt16(hmacBytes[index + 1]) == SCTPHMACAlgorithm.sha1.rawValue {
            hasSHA1 = true
            break
        }
        guard hasSHA1 else { return .invalid("HMAC-ALGO without SHA-1") }
        guard (chunks?.count ?? 0) <= 256 else { return .invalid("CHUNKS longer than 256 types") }
        // RANDOM, CHUNKS, HMAC-ALGO, each with its header (the lengths are those on the wire).
        var bytes: [UInt8] = []
        bytes.reserveCapacity(12 + random.count + (chunks?.count ?? 0) + hmacs.count)
        bytes.append(contentsOf: cursor.rawBytes((random.lowerBound - 4)..<random.upperBound))
        if let chunks { bytes.append(contentsOf: cursor.rawBytes((chunks.lowerBound - 4)..<chunks.upperBound)) }
        bytes.append(contentsOf: cursor.rawBytes((hmacs.lowerBound - 4)..<hmacs.upperBound))
        return .valid(AuthKeyVector(trustedBytes: bytes))
    }

    /// Our vector: `random` (32 bytes), the chunk types we ask to be authenticated (the
    /// CHUNKS parameter, left out when empty, RFC 4895 §3.2 allows it) and the HMACs we accept.
    static func local(random: [UInt8], chunkTypes: [UInt8], hmacs: [SCTPHMACAlgorithm]) -> AuthKeyVector {
        AuthKeyVector(random: RandomParameter(random: ByteBuffer(bytes: random)),
                      chunks: chunkTypes.isEmpty ? nil : ChunkListParameter(chunkTypes: chunkTypes),
                      hmacs: RequestedHMACAlgorithmParameter(hmacIdentifiers: hmacs.map(\.rawValue)))
    }

    private init(random: RandomParameter, chunks: ChunkListParameter?, hmacs: RequestedHMACAlgorithmParameter) {
        // Written straight into the array (no intermediate buffer): RANDOM, CHUNKS, HMAC-ALGO.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(12 + random.random.readableBytes + (chunks?.chunkTypes.count ?? 0) + 2 * hmacs.hmacIdentifiers.count)
        func header(_ type: UInt16, _ valueLength: Int) {
            let length = UInt16(truncatingIfNeeded: 4 + valueLength)
            bytes.append(contentsOf: [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(length >> 8), UInt8(length & 0xFF)])
        }
        header(RandomParameter.parameterType, random.random.readableBytes)
        bytes.append(contentsOf: random.random.readableBytesView)
        if let chunks {
            header(ChunkListParameter.parameterType, chunks.chunkTypes.count)
            bytes.append(contentsOf: chunks.chunkTypes)
        }
        header(RequestedHMACAlgorithmParameter.parameterType, 2 * hmacs.hmacIdentifiers.count)
        for id in hmacs.hmacIdentifiers { bytes.append(contentsOf: [UInt8(id >> 8), UInt8(id & 0xFF)]) }
        self.bytes = bytes
    }

    /// A vector from bytes made by this type (`LocalAuthVectorTemplate`), unchecked.
    init(trustedBytes bytes: [UInt8]) { self.bytes = bytes }

    /// A vector read back from its bytes (the state cookie); `nil` if they are not one: each
    /// parameter RANDOM (not empty), CHUNKS or HMAC-ALGO (an even, non-zero length), end to
    /// end without padding, with a 32-byte RANDOM and an HMAC-ALGO (the checks the SCTPWire
    /// parameter types make, done on the bytes in place).
    init?(bytes: [UInt8]) {
        guard Self.isValid(bytes[...]) else { return nil }
        self.bytes = bytes
    }

    /// Whether `bytes` are a vector `init?(bytes:)` takes (checked in place, for the state
    /// cookie's two vectors kept in one array).
    static func isValid(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.count <= Self.maximumLength else { return false }
        var offset = bytes.startIndex
        var randomLength: Int?
        var hasHMACs = false
        while offset < bytes.endIndex {
            guard offset + 4 <= bytes.endIndex else { return false }
            let type = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
            let length = Int(UInt16(bytes[offset + 2]) << 8 | UInt16(bytes[offset + 3]))
            guard length >= 4, offset + length <= bytes.endIndex else { return false }
            let valueLength = length - 4
            switch type {
            case RandomParameter.parameterType:
                guard valueLength > 0 else { return false }
                randomLength = valueLength
            case ChunkListParameter.parameterType:
                break
            case RequestedHMACAlgorithmParameter.parameterType:
                guard valueLength > 0, valueLength % 2 == 0 else { return false }
                hasHMACs = true
            default:
                return false
            }
            offset += length
        }
        return randomLength == Self.randomLength && hasHMACs
    }

    /// Where the RANDOM parameter (always first, 32 bytes) ends in `bytes`.
    static let randomEnd = 4 + randomLength

    /// The RANDOM parameter.
    var randomParameter: Parameter { .random(RandomParameter(random: ByteBuffer(bytes: bytes[4..<Self.randomEnd]))) }

    /// The parameters to put in INIT or INIT ACK.
    var parameters: [Parameter] {
        var result: [Parameter] = [randomParameter]
        if !chunkTypes.isEmpty { result.append(.chunkList(ChunkListParameter(chunkTypes: chunkTypes))) }
        result.append(.requestedHMACAlgorithm(RequestedHMACAlgorithmParameter(hmacIdentifiers: hmacIdentifiers)))
        return result
    }

    /// The 32 random bytes.
    var random: [UInt8] { Array(bytes[4..<36]) }

    /// The chunk types this side asks to be authenticated (those RFC 4895 §3.2 forbids ignored).
    var requiredChunks: ChunkTypeSet { Self.requiredChunks(in: bytes[...]) }

    /// The association shared key (RFC 4895 §6.1): the endpoint-pair shared key, then the
    /// two vectors, the numerically smaller first (compared as big-endian numbers, the
    /// shorter one padded with leading zeros; equal numbers: the shorter first).
    static func associationKey(sharedKey: [UInt8], local: AuthKeyVector, peer: AuthKeyVector) -> [UInt8] {
        let first: AuthKeyVector, second: AuthKeyVector
        if compare(local.bytes, peer.bytes) <= 0 { (first, second) = (local, peer) } else { (first, second) = (peer, local) }
        return sharedKey + first.bytes + second.bytes
    }

    /// -1, 0 or 1 as `a` is smaller than, equal to or larger than `b` (see `associationKey`).
    static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        let length = max(a.count, b.count)
        for index in 0..<length {
            let x = index < length - a.count ? 0 : a[index - (length - a.count)]
            let y = index < length - b.count ? 0 : b[index - (length - b.count)]
            if x != y { return x < y ? -1 : 1 }
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }
}
