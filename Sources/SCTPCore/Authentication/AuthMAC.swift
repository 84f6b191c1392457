import Crypto
import NIOCore

/// HMAC (RFC 2104) with SHA-1 or SHA-256 under one association shared key, for AUTH chunks
/// (RFC 4895 §6.2, §6.3). The key schedule is done once: the hash states after the inner
/// and outer padded key are kept (see `KeyedMAC`), and each MAC starts from copies of them.
struct AuthMAC: @unchecked Sendable {
    private enum State {
        case sha1(inner: Insecure.SHA1, outer: Insecure.SHA1)
        case sha256(inner: SHA256, outer: SHA256)
    }

    private let state: State
    let algorithm: SCTPHMACAlgorithm

    init(algorithm: SCTPHMACAlgorithm, key: [UInt8]) {
        self.algorithm = algorithm
        switch algorithm {
        case .sha1:
            let (inner, outer) = Self.schedule(Insecure.SHA1.self, key: key)
            state = .sha1(inner: inner, outer: outer)
        case .sha256:
            let (inner, outer) = Self.schedule(SHA256.self, key: key)
            state = .sha256(inner: inner, outer: outer)
        }
    }

    private static func schedule<H: HashFunction>(_: H.Type, key: [UInt8]) -> (H, H) {
        var block = [UInt8](repeating: 0, count: H.blockByteCount)
        if key.count > H.blockByteCount {
            let digest = H.hash(data: key)
            digest.withUnsafeBytes { bytes in for index in bytes.indices { block[index] = bytes[index] } }
        } else {
            for (index, byte) in key.enumerated() { block[index] = byte }
        }
        var inner = H(), outer = H()
        block.map { $0 ^ 0x36 }.withUnsafeBytes { inner.update(bufferPointer: $0) }
        block.map { $0 ^ 0x5c }.withUnsafeBytes { outer.update(bufferPointer: $0) }
        return (inner, outer)
    }

    /// The MAC of an AUTH chunk and what follows it (`bytes`, from the chunk's header on),
    /// computed as if its HMAC field (`macLength` bytes at offset 8) were zero; handed to `body`.
    private func withMAC<Result>(overAuthChunkAt bytes: UnsafeRawBufferPointer,
                                 _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        let length = algorithm.macLength
        func feed<H: HashFunction>(_ hash: inout H) {
            hash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[0..<8]))
            withUnsafeBytes(of: SIMD32<UInt8>()) { zeros in
                hash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: zeros[0..<length]))
            }
            hash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[(8 + length)...]))
        }
        // HMAC: the outer hash over the inner hash's digest, both primed with the key.
        func mac<H: HashFunction>(_ inner: H, _ outer: H) -> Result {
            var i = inner
            feed(&i)
            let innerDigest = i.finalize()
            var o = outer
            innerDigest.withUnsafeBytes { o.update(bufferPointer: $0) }
            return o.finalize().withUnsafeBytes(body)
        }
        switch state {
        case .sha1(let inner, let outer): return mac(inner, outer)
        case .sha256(let inner, let outer): return mac(inner, outer)
        }
    }

    /// Fills in the HMAC field of the AUTH chunk at `offset` in `packet` (its HMAC field
    /// holds zeros), over that chunk and everything after it.
    func sign(_ packet: inout ByteBuffer, authChunkAt offset: Int) {
        let relative = offset - packet.readerIndex
        var mac = SIMD32<UInt8>()
        let length = algorithm.macLength
        packet.withUnsafeReadableBytes { bytes in
            withMAC(overAuthChunkAt: UnsafeRawBufferPointer(rebasing: bytes[relative...])) { code in
                withUnsafeMutableBytes(of: &mac) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: code[0..<length])) }
            }
        }
        withUnsafeBytes(of: mac) { packet.setBytes(UnsafeRawBufferPointer(rebasing: $0[0..<length]), at: offset + 8) }
    }

    /// Whether `region` (an AUTH chunk with this algorithm's MAC length, and what follows it)
    /// carries the right MAC. Constant-time in the MAC's bytes.
    func verify(_ region: ByteBuffer) -> Bool {
        let length = algorithm.macLength
        return region.withUnsafeReadableBytes { bytes in
            guard bytes.count >= 8 + length else { return false }
            return withMAC(overAuthChunkAt: bytes) { code in
                var difference: UInt8 = 0
                for index in 0..<length { difference |= code[index] ^ bytes[8 + index] }
                return difference == 0
            }
        }
    }
}
