import NIOCore
import SCTPWire

/// One side's key vector (RFC 4895 §6.1): its RANDOM, CHUNKS (when sent) and HMAC-ALGO
/// parameters as they travelled, header included, padding excluded, concatenated in that
/// order whatever their order in the INIT or INIT ACK. Kept in the state cookie as bytes.
struct AuthKeyVector: Hashable, Sendable {
    /// The longest vector accepted: a 32-byte RANDOM, 256 chunk types, 64 HMAC identifiers.
    static let maximumLength = (4 + 32) + (4 + 256) + (4 + 2 * 64)
    static let randomLength = 32

    private(set) var bytes: [UInt8]
    private(set) var chunkTypes: [UInt8]
    private(set) var hmacIdentifiers: [UInt16]

    /// What a peer's INIT or INIT ACK says about AUTH.
    enum PeerParameters {
        /// No RANDOM or no HMAC-ALGO: the peer does not support AUTH.
        case absent
        /// Present but invalid (RFC 4895 §6.1: a RANDOM not of 32 bytes, an HMAC-ALGO without
        /// SHA-1, lists too long): the association is aborted with Protocol Violation.
        case invalid(String)
        case valid(AuthKeyVector)
    }

    /// Reads the peer's AUTH parameters from an INIT or INIT ACK.
    static func peer(_ parameters: ParameterList) -> PeerParameters {
        var random: RandomParameter?, chunks: ChunkListParameter?, hmacs: RequestedHMACAlgorithmParameter?
        for parameter in parameters.parameters {
            switch parameter {
            case .random(let p): if random == nil { random = p }
            case .chunkList(let p): if chunks == nil { chunks = p }
            case .requestedHMACAlgorithm(let p): if hmacs == nil { hmacs = p }
            default: break
            }
        }
        guard let random, let hmacs else { return .absent }
        guard random.random.readableBytes == randomLength else { return .invalid("RANDOM of \(random.random.readableBytes) bytes") }
        guard hmacs.hmacIdentifiers.count <= 64 else { return .invalid("too many HMAC identifiers") }
        guard hmacs.hmacIdentifiers.contains(SCTPHMACAlgorithm.sha1.rawValue) else { return .invalid("HMAC-ALGO without SHA-1") }
        guard (chunks?.chunkTypes.count ?? 0) <= 256 else { return .invalid("CHUNKS longer than 256 types") }
        return .valid(AuthKeyVector(random: random, chunks: chunks, hmacs: hmacs))
    }

    /// Our vector: `random` (32 bytes), the chunk types we ask to be authenticated (the
    /// CHUNKS parameter, left out when empty, RFC 4895 §3.2 allows it) and the HMACs we accept.
    static func local(random: [UInt8], chunkTypes: [UInt8], hmacs: [SCTPHMACAlgorithm]) -> AuthKeyVector {
        AuthKeyVector(random: RandomParameter(random: ByteBuffer(bytes: random)),
                      chunks: chunkTypes.isEmpty ? nil : ChunkListParameter(chunkTypes: chunkTypes),
                      hmacs: RequestedHMACAlgorithmParameter(hmacIdentifiers: hmacs.map(\.rawValue)))
    }

    private init(random: RandomParameter, chunks: ChunkListParameter?, hmacs: RequestedHMACAlgorithmParameter) {
        var buffer = ByteBuffer()
        random.write(to: &buffer)
        chunks?.write(to: &buffer)
        hmacs.write(to: &buffer)
        bytes = Array(buffer.readableBytesView)
        chunkTypes = chunks?.chunkTypes ?? []
        hmacIdentifiers = hmacs.hmacIdentifiers
    }

    /// A vector read back from its bytes (the state cookie); `nil` if they are not one.
    /// The parameters lie end to end without padding between them, which SCTPWire's parameter
    /// list reader (it skips padding after each) does not read; their values are read by
    /// SCTPWire's parameter types.
    init?(bytes: [UInt8]) {
        guard bytes.count <= Self.maximumLength else { return nil }
        var buffer = ByteBuffer(bytes: bytes)
        var random: RandomParameter?, chunks: ChunkListParameter?, hmacs: RequestedHMACAlgorithmParameter?
        while buffer.readableBytes > 0 {
            guard let (type, length) = buffer.readMultipleIntegers(as: (UInt16, UInt16).self), length >= 4,
                  let value = buffer.readSlice(length: Int(length) - 4) else { return nil }
            do throws(WireError) {
                switch type {
                case RandomParameter.parameterType: random = try RandomParameter(value: value)
                case ChunkListParameter.parameterType: chunks = try ChunkListParameter(value: value)
                case RequestedHMACAlgorithmParameter.parameterType: hmacs = try RequestedHMACAlgorithmParameter(value: value)
                default: return nil
                }
            } catch {
                return nil
            }
        }
        guard let random, random.random.readableBytes == Self.randomLength, let hmacs else { return nil }
        self.bytes = bytes
        chunkTypes = chunks?.chunkTypes ?? []
        hmacIdentifiers = hmacs.hmacIdentifiers
    }

    /// The parameters to put in INIT or INIT ACK.
    var parameters: [Parameter] {
        var result: [Parameter] = [.random(RandomParameter(random: ByteBuffer(bytes: bytes[4..<36])))]
        if !chunkTypes.isEmpty { result.append(.chunkList(ChunkListParameter(chunkTypes: chunkTypes))) }
        result.append(.requestedHMACAlgorithm(RequestedHMACAlgorithmParameter(hmacIdentifiers: hmacIdentifiers)))
        return result
    }

    /// The 32 random bytes.
    var random: [UInt8] { Array(bytes[4..<36]) }

    /// The chunk types this side asks to be authenticated (those RFC 4895 §3.2 forbids ignored).
    var requiredChunks: ChunkTypeSet {
        ChunkTypeSet(chunkTypes.filter { !SCTPAuthenticationConfiguration.isForbiddenInChunkList($0) })
    }

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
