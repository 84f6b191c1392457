import NIOCore

/// HMAC (RFC 2104) with SHA-1 or SHA-256 under one association shared key, for AUTH chunks
/// (RFC 4895 §6.2, §6.3): computed over the AUTH chunk and everything after it in the
/// packet, with the chunk's HMAC field taken as zero.
struct AuthMAC: Sendable {
    private let keyed: KeyedMAC
    let algorithm: SCTPHMACAlgorithm

    init(algorithm: SCTPHMACAlgorithm, key: [UInt8]) {
        self.algorithm = algorithm
        keyed = key.withUnsafeBytes { KeyedMAC(algorithm == .sha1 ? .sha1 : .sha256, key: $0) }
    }

    /// The HMAC field of an AUTH chunk: its bytes after the 8-byte header.
    private var field: Range<Int> { 8..<(8 + algorithm.macLength) }

    /// Fills in the HMAC field of the AUTH chunk at `offset` in `packet` (its HMAC field
    /// holds zeros), over that chunk and everything after it.
    func sign(_ packet: inout ByteBuffer, authChunkAt offset: Int) {
        let relative = offset - packet.readerIndex
        var mac = SIMD32<UInt8>()
        packet.withUnsafeReadableBytes { bytes in
            keyed.withCode(for: UnsafeRawBufferPointer(rebasing: bytes[relative...]), zeroing: field) { code in
                withUnsafeMutableBytes(of: &mac) { $0.copyMemory(from: code) }
            }
        }
        _ = withUnsafeBytes(of: mac) { packet.setBytes(UnsafeRawBufferPointer(rebasing: $0[0..<algorithm.macLength]), at: offset + 8) }
    }

    /// Fills in the HMAC fields of the AUTH chunks at `first.offset` in `packets[first.index]`
    /// and `second.offset` in `packets[second.index]` (two packets, their HMAC fields zero):
    /// both MACs computed at once.
    func sign(_ packets: inout [PacketBuilder.Built], _ first: (index: Int, offset: Int), _ second: (index: Int, offset: Int)) {
        let field = field
        let (mac0, mac1) = packets[first.index].bytes.withUnsafeReadableBytes { bytes0 in
            packets[second.index].bytes.withUnsafeReadableBytes { bytes1 in
                keyed.codes(for: UnsafeRawBufferPointer(rebasing: bytes0[(first.offset - packets[first.index].bytes.readerIndex)...]),
                            zeroing: field,
                            and: UnsafeRawBufferPointer(rebasing: bytes1[(second.offset - packets[second.index].bytes.readerIndex)...]),
                            zeroing: field)
            }
        }
        let length = algorithm.macLength
        _ = withUnsafeBytes(of: mac0) { packets[first.index].bytes.setBytes(UnsafeRawBufferPointer(rebasing: $0[0..<length]), at: first.offset + 8) }
        _ = withUnsafeBytes(of: mac1) { packets[second.index].bytes.setBytes(UnsafeRawBufferPointer(rebasing: $0[0..<length]), at: second.offset + 8) }
    }

    /// Whether `region` (an AUTH chunk with this algorithm's MAC length, and what follows it)
    /// carries the right MAC. Constant-time in the MAC's bytes.
    func verify(_ region: ByteBuffer) -> Bool {
        let field = field
        return region.withUnsafeReadableBytes { bytes in
            guard bytes.count >= field.upperBound else { return false }
            return keyed.verify(UnsafeRawBufferPointer(rebasing: bytes[field]), for: bytes, zeroing: field)
        }
    }
}
