import CSCTPHash

/// HMAC (RFC 2104) with SHA-1 or SHA-256 under one key: the state cookie's tag (SHA-256)
/// and the AUTH chunk's MAC (RFC 4895).
///
/// The key schedule is done once: the hash states after the inner and the outer padded key
/// are kept in the value (plain words, `CSCTPHash`), so a MAC allocates nothing and starts
/// from copies of them. The message goes in as raw bytes, and a range of it (an AUTH chunk's
/// HMAC field) can be taken as zero without copying the packet. The compression functions
/// use the CPU's SHA instructions where it has them.
struct KeyedMAC: Sendable {
    /// The hash under the HMAC.
    enum Hash: Sendable {
        case sha1, sha256

        var code: Int32 { self == .sha1 ? Int32(CSCTP_HASH_SHA1) : Int32(CSCTP_HASH_SHA256) }
        /// The length of its digest, and of the MAC, in bytes.
        var length: Int { self == .sha1 ? 20 : 32 }
    }

    private let key: csctp_hmac_key
    let hash: Hash

    /// The MAC keyed with `key` (hashed first when longer than a block, as RFC 2104 says).
    /// A key of any length is taken: `csctp_hmac_init` fails only for an algorithm it does
    /// not know, and `Hash` has only the two it knows, so a failure is a bug here.
    init(_ hash: Hash, key: UnsafeRawBufferPointer) {
        var state = csctp_hmac_key()
        let status = csctp_hmac_init(&state, hash.code, key.baseAddress?.assumingMemoryBound(to: UInt8.self), key.count)
        precondition(status == 0, "csctp_hmac_init refused HMAC algorithm \(hash.code)")
        self.key = state
        self.hash = hash
    }

    /// The MAC keyed with `secret` (SHA-256, the cookie's).
    init(secret: CookieSecret) {
        self = secret.withBytes { KeyedMAC(.sha256, key: $0) }
    }

    /// The MAC of `bytes`, the bytes in `zeroing` (relative to `bytes`) taken as zero, handed
    /// to `body` (`hash.length` bytes).
    func withCode<Result>(for bytes: UnsafeRawBufferPointer, zeroing: Range<Int> = 0..<0,
                          _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        var mac = SIMD32<UInt8>()
        withUnsafeMutableBytes(of: &mac) { out in
            withUnsafePointer(to: key) { key in
                csctp_hmac(key, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count,
                           zeroing.lowerBound, zeroing.count, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return withUnsafeBytes(of: mac) { body(UnsafeRawBufferPointer(rebasing: $0[0..<hash.length])) }
    }

    /// The MACs of two messages at once (as two `withCode` calls give them, in the first
    /// `hash.length` bytes of each result): their blocks go through the hash side by side,
    /// which the CPU's SHA instructions leave room for.
    func codes(for first: UnsafeRawBufferPointer, zeroing firstZero: Range<Int>,
               and second: UnsafeRawBufferPointer, zeroing secondZero: Range<Int>) -> (SIMD32<UInt8>, SIMD32<UInt8>) {
        var macs = (SIMD32<UInt8>(), SIMD32<UInt8>())
        withUnsafeMutableBytes(of: &macs.0) { out0 in
            withUnsafeMutableBytes(of: &macs.1) { out1 in
                withUnsafePointer(to: key) { key in
                    csctp_hmac2(key,
                                first.baseAddress?.assumingMemoryBound(to: UInt8.self), first.count,
                                firstZero.lowerBound, firstZero.count, out0.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                second.baseAddress?.assumingMemoryBound(to: UInt8.self), second.count,
                                secondZero.lowerBound, secondZero.count, out1.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        return macs
    }

    /// Whether `mac` is the MAC of `bytes` (`zeroing` as in `withCode`): every byte is
    /// compared whatever the earlier ones were (constant time in the MAC's bytes).
    func verify(_ mac: UnsafeRawBufferPointer, for bytes: UnsafeRawBufferPointer, zeroing: Range<Int> = 0..<0) -> Bool {
        withCode(for: bytes, zeroing: zeroing) { expected in
            guard expected.count == mac.count else { return false }
            var difference: UInt8 = 0
            for index in 0..<expected.count { difference |= expected[index] ^ mac[index] }
            return difference == 0
        }
    }
}
