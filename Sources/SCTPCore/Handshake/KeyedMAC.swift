import Crypto

/// HMAC-SHA256 (RFC 2104) under one key, for the state cookie's tag.
///
/// The key schedule is done once: the hash states after the inner and the outer padded key
/// are kept, and each MAC starts from copies of them. The message goes to SHA-256 as raw
/// bytes, not through swift-crypto's generic `DataProtocol` path, whose region walk and
/// generic metadata lookups cost more than the hashing itself for a cookie of 100 bytes.
/// A value only ever copied, never mutated in place (the hash contexts are copy-on-write),
/// so it is safe to share.
struct KeyedMAC: @unchecked Sendable {
    /// SHA-256's block length in bytes: keys are padded (or hashed) to it.
    private static let blockLength = 64

    private let inner: SHA256
    private let outer: SHA256

    /// The MAC keyed with `secret`.
    init(secret: CookieSecret) {
        self = secret.withBytes { KeyedMAC(key: $0) }
    }

    /// The MAC keyed with `key` (hashed first when longer than a block, as RFC 2104 says).
    init(key: UnsafeRawBufferPointer) {
        var block = [UInt8](repeating: 0, count: Self.blockLength)
        if key.count > Self.blockLength {
            var hash = SHA256()
            hash.update(bufferPointer: key)
            let digest = hash.finalize()
            digest.withUnsafeBytes { bytes in
                for index in bytes.indices { block[index] = bytes[index] }
            }
        } else {
            for index in key.indices { block[index] = key[index] }
        }
        var inner = SHA256(), outer = SHA256()
        var padded = block.map { $0 ^ 0x36 }
        padded.withUnsafeBytes { inner.update(bufferPointer: $0) }
        padded = block.map { $0 ^ 0x5c }
        padded.withUnsafeBytes { outer.update(bufferPointer: $0) }
        self.inner = inner
        self.outer = outer
    }

    /// The 32-byte MAC of `bytes`.
    func code(for bytes: UnsafeRawBufferPointer) -> SHA256Digest {
        var inner = self.inner
        inner.update(bufferPointer: bytes)
        let innerDigest = inner.finalize()
        var outer = self.outer
        innerDigest.withUnsafeBytes { outer.update(bufferPointer: $0) }
        return outer.finalize()
    }
}
