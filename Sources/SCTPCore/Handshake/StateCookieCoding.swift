import NIOCore
import SCTPWire

/// The byte layout of a sealed State Cookie (version 1). Everything is big-endian; the
/// HMAC-SHA256 tag covers every byte before it.
///
/// ```
///  0  u8   version (1)            1  u8   secret generation (low 8 bits)
///  2  u16  flags: bit 0 zero-checksum method present, bit 1 adaptation indication present
///  4  u32  peer features          8  u32  local tag        12 u32 peer tag
/// 16  u32  local initial TSN     20  u32  peer initial TSN 24 u32 peer a_rwnd
/// 28  u16  outbound streams      30  u16  inbound streams
/// 32  u16  peer OS               34  u16  peer MIS
/// 36  u16  local port            38  u16  peer port
/// 40  u32  local tie-tag         44  u32  peer tie-tag
/// 48  i64  created (ns)          56  i64  lifetime (ns)
/// 64  u32  zero-checksum method  68  u32  adaptation code point
/// 72  address: source of the INIT (u8 family 4 or 6, then 4 or 16 bytes)
///     u8   number of peer addresses, then each as an address
///     with flag bit 2 (AUTH, RFC 4895): u16 length + our key vector, u16 length + the peer's
///     (length 0: none)
///     32 bytes HMAC-SHA256
/// ```
enum StateCookieCoding {
    static let version: UInt8 = 1
    static let fixedLength = 72
    static let macLength = 32
    static let largestAddressLength = 17
    /// The shortest well-formed cookie: an IPv4 source and no listed addresses.
    static let minimumLength = fixedLength + 5 + 1 + macLength

    /// The longest cookie that lists `addresses` peer addresses.
    static func maximumLength(addresses: Int) -> Int {
        fixedLength + largestAddressLength * (1 + addresses) + 1 + 2 * (2 + AuthKeyVector.maximumLength) + macLength
    }

    private static let flagZeroChecksum: UInt16 = 1 << 0
    private static let flagAdaptation: UInt16 = 1 << 1
    private static let flagAuthentication: UInt16 = 1 << 2

    /// Writes the cookie's body (everything the MAC covers). The caller has already
    /// limited `addresses` to at most 255.
    static func writeBody(_ cookie: StateCookie, addresses: [IPAddress], generation: UInt8,
                          to buffer: inout ByteBuffer) {
        var flags: UInt16 = 0
        if cookie.peerZeroChecksumMethod != nil { flags |= flagZeroChecksum }
        if cookie.peerAdaptationIndication != nil { flags |= flagAdaptation }
        if cookie.authVectors != nil { flags |= flagAuthentication }
        // One block for all fields: each separate integer write costs SwiftNIO's whole copy path.
        let length = fixedLength + addressLength(cookie.source) + 1 + addresses.reduce(0) { $0 + addressLength($1) }
        buffer.writeFields(byteCount: length) { out in
            out.put(version)
            out.put(generation)
            out.put(flags)
            out.put(cookie.peerFeatures.rawValue)
            out.put(cookie.localTag)
            out.put(cookie.peerTag)
            out.put(cookie.localInitialTSN.rawValue)
            out.put(cookie.peerInitialTSN.rawValue)
            out.put(cookie.peerReceiverWindow)
            out.put(cookie.outboundStreams)
            out.put(cookie.inboundStreams)
            out.put(cookie.peerOutboundStreams)
            out.put(cookie.peerInboundStreams)
            out.put(cookie.localPort)
            out.put(cookie.peerPort)
            out.put(cookie.localTieTag)
            out.put(cookie.peerTieTag)
            out.put(cookie.created.nanoseconds)
            out.put(max(cookie.lifetime.nanosecondsClamped, 0))
            out.put(cookie.peerZeroChecksumMethod ?? 0)
            out.put(cookie.peerAdaptationIndication ?? 0)
            writeAddress(cookie.source, to: &out)
            out.put(UInt8(truncatingIfNeeded: addresses.count))
            for address in addresses { writeAddress(address, to: &out) }
        }
        if let vectors = cookie.authVectors {
            let localLength = cookie.localAuthVectorLength
            buffer.writeInteger(UInt16(localLength))
            buffer.writeBytes(vectors[..<localLength])
            buffer.writeInteger(UInt16(vectors.count - localLength))
            buffer.writeBytes(vectors[localLength...])
        }
    }

    /// An address's length in the body: its family byte and its bytes.
    private static func addressLength(_ address: IPAddress) -> Int {
        if case .v4 = address { 1 + 4 } else { 1 + 16 }
    }

    private static func writeAddress(_ address: IPAddress, to out: inout FieldWriter) {
        switch address {
        case .v4(let v4):
            out.put(UInt8(4))
            out.put(v4.rawValue)
        case .v6(let v6):
            out.put(UInt8(6))
            out.put(v6.high)
            out.put(v6.low)
        }
    }

    /// Reads a cookie body (without its MAC). Every read is bounded; anything short, any
    /// unknown address family, more than `maximumAddresses` addresses, a negative lifetime
    /// or bytes left over throw.
    static func readBody(_ body: ByteBuffer, maximumAddresses: Int) throws(CookieRejection) -> StateCookie {
        try body.withUnsafeReadableBytes { (bytes) throws(CookieRejection) -> StateCookie in
            var reader = BoundedReader(cursor: FieldCursor(bytes))
            return try readBody(&reader, maximumAddresses: maximumAddresses)
        }
    }

    private static func readBody(_ reader: inout BoundedReader, maximumAddresses: Int) throws(CookieRejection) -> StateCookie {
        guard try reader.read(UInt8.self) == version else { throw .unsupportedVersion }
        _ = try reader.read(UInt8.self)  // secret generation: only used to pick the key
        let flags = try reader.read(UInt16.self)
        let features = PeerFeatures(rawValue: try reader.read(UInt32.self))
        let localTag = try reader.read(UInt32.self)
        let peerTag = try reader.read(UInt32.self)
        let localTSN = try reader.read(UInt32.self)
        let peerTSN = try reader.read(UInt32.self)
        let window = try reader.read(UInt32.self)
        let outbound = try reader.read(UInt16.self)
        let inbound = try reader.read(UInt16.self)
        let peerOutbound = try reader.read(UInt16.self)
        let peerInbound = try reader.read(UInt16.self)
        let localPort = try reader.read(UInt16.self)
        let peerPort = try reader.read(UInt16.self)
        let localTieTag = try reader.read(UInt32.self)
        let peerTieTag = try reader.read(UInt32.self)
        let created = try reader.read(Int64.self)
        let lifetime = try reader.read(Int64.self)
        let zeroChecksum = try reader.read(UInt32.self)
        let adaptation = try reader.read(UInt32.self)
        guard lifetime >= 0 else { throw .malformed }
        let source = try readAddress(&reader)
        let count = Int(try reader.read(UInt8.self))
        guard count <= maximumAddresses, count * 5 <= reader.remaining else { throw .malformed }
        var addresses: [IPAddress] = []
        addresses.reserveCapacity(count)
        for _ in 0..<count { addresses.append(try readAddress(&reader)) }
        // Both vectors read into one array (the association's AUTH state keeps it as it is).
        var authVectors: [UInt8]? = nil
        var localAuthLength = 0
        if flags & flagAuthentication != 0 {
            var vectors: [UInt8] = []
            localAuthLength = try readVector(&reader, appendingTo: &vectors)
            _ = try readVector(&reader, appendingTo: &vectors)
            authVectors = vectors
        }
        guard reader.remaining == 0 else { throw .malformed }
        var cookie = StateCookie(
            localTag: localTag, peerTag: peerTag, localInitialTSN: TSN(localTSN), peerInitialTSN: TSN(peerTSN),
            peerReceiverWindow: window, outboundStreams: outbound, inboundStreams: inbound,
            peerOutboundStreams: peerOutbound, peerInboundStreams: peerInbound, localPort: localPort,
            peerPort: peerPort, source: source, peerAddresses: addresses, localTieTag: localTieTag,
            peerTieTag: peerTieTag, peerFeatures: features,
            peerZeroChecksumMethod: flags & flagZeroChecksum != 0 ? zeroChecksum : nil,
            peerAdaptationIndication: flags & flagAdaptation != 0 ? adaptation : nil,
            created: SCTPInstant(nanoseconds: created), lifetime: .nanoseconds(lifetime))
        cookie.authVectors = authVectors
        cookie.localAuthVectorLength = localAuthLength
        return cookie
    }

    /// An AUTH key vector: a 16-bit length, at most `AuthKeyVector.maximumLength`, then the bytes.
    /// Appends the vector's bytes to `bytes` and returns their count.
    private static func readVector(_ reader: inout BoundedReader, appendingTo bytes: inout [UInt8]) throws(CookieRejection) -> Int {
        let length = Int(try reader.read(UInt16.self))
        guard length <= AuthKeyVector.maximumLength, length <= reader.remaining else { throw .malformed }
        if bytes.isEmpty {
            // Room for the peer's vector too (at most what follows), one allocation for both.
            bytes.reserveCapacity(length + min(max(reader.remaining - length - 2, 0), AuthKeyVector.maximumLength))
        }
        guard reader.cursor.appendBytes(length, to: &bytes) else { throw .malformed }
        return length
    }

    private static func readAddress(_ reader: inout BoundedReader) throws(CookieRejection) -> IPAddress {
        switch try reader.read(UInt8.self) {
        case 4:
            return .v4(IPv4Address(rawValue: try reader.read(UInt32.self)))
        case 6:
            let high = try reader.read(UInt64.self)
            let low = try reader.read(UInt64.self)
            return .v6(IPv6Address(high: high, low: low))
        default:
            throw .malformed
        }
    }
}

/// Reads fixed-width integers from a buffer and throws, never traps, when it runs out.
struct BoundedReader {
    var cursor: FieldCursor

    var remaining: Int { cursor.remaining }

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws(CookieRejection) -> T {
        guard let value = cursor.read(T.self) else { throw .malformed }
        return value
    }
}
