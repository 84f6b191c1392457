import CSCTPChecksum
import NIOCore
import Testing
@testable import SCTPWire

@Suite("CRC32c")
struct ChecksumTests {
    /// RFC 3720 Appendix B.4 vectors and the catalogue check value.
    static let vectors: [(name: String, bytes: [UInt8], crc: UInt32)] = [
        ("123456789", Array("123456789".utf8), 0xE306_9283),
        ("32 zeros", [UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ("32 ones", [UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ("incrementing", (0..<32).map { UInt8($0) }, 0x46DD_794E),
        ("decrementing", (0..<32).reversed().map { UInt8($0) }, 0x113F_DB5C),
        ("iSCSI read", [
            0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
            0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ], 0xD996_3A56),
    ]

    @Test("RFC 3720 vectors on every implementation", arguments: 0..<6)
    func vectors(index: Int) {
        let v = Self.vectors[index]
        #expect(CRC32c.checksum(v.bytes) == v.crc, "dispatched: \(v.name)")
        #expect(CRC32c.portableChecksum(v.bytes) == v.crc, "table: \(v.name)")
        #expect(CRC32c.hardwareChecksum(v.bytes) == v.crc, "hardware: \(v.name)")
    }

    @Test("the hardware path is chosen on this CPU")
    func implementation() {
        #if arch(x86_64) || arch(arm64)
        #expect(CRC32c.implementation != "table")
        #endif
    }

    @Test("hardware and table agree on every length, offset and chaining split")
    func crossCheck() {
        var state: UInt64 = 0x1234_5678
        func nextByte() -> UInt8 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        let data = (0..<20_000).map { _ in nextByte() }
        for length in Array(0...300) + [1231, 1232, 1233, 4095, 8192, 8972, 16_385] {
            for offset in [0, 1, 3, 7] where offset + length <= data.count {
                let slice = Array(data[offset..<(offset + length)])
                let table = CRC32c.portableChecksum(slice)
                #expect(CRC32c.hardwareChecksum(slice) == table, "length \(length) offset \(offset)")
                #expect(CRC32c.checksum(slice) == table)
                let split = length / 3
                let chained = CRC32c.checksum(Array(slice[split...]), extending: CRC32c.checksum(Array(slice[..<split])))
                #expect(chained == table)
            }
        }
    }

    @Test("packet checksum treats the checksum field as zero and is stored least significant byte first")
    func packetChecksum() throws {
        let packet = SCTPPacket(
            header: CommonHeader(sourcePort: 5001, destinationPort: 5002, verificationTag: 0xDEAD_BEEF),
            chunks: [.cookieAck(CookieAckChunk())])
        var bytes = packet.serialized()
        var zeroed = bytes.bytesArray()
        let stored = Array(zeroed[8..<12])
        zeroed.replaceSubrange(8..<12, with: [0, 0, 0, 0])
        let crc = CRC32c.checksum(zeroed)
        #expect(stored == [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)])
        #expect(PacketChecksum.stored(bytes) == crc)
        try PacketChecksum.verify(bytes)
        bytes.withUnsafeMutableReadableBytes { #expect(csctp_sctp_packet_crc32c_is_valid($0.baseAddress, $0.count) == 1) }

        // Any flipped bit is caught.
        for index in [0, 5, 8, 11, 13, 15] {
            var corrupted = bytes
            corrupted.setInteger(corrupted.getInteger(at: index, as: UInt8.self)! ^ 0x10, at: index)
            #expect(throws: WireError.self) { try PacketChecksum.verify(corrupted) }
        }

        // Storing again in place gives the same bytes.
        var copy = bytes
        copy.setInteger(UInt32(0), at: 8)
        PacketChecksum.store(in: &copy)
        #expect(copy == bytes)
    }

    @Test("zero checksum mode (RFC 9653)")
    func zeroChecksum() throws {
        let packet = SCTPPacket(
            header: CommonHeader(sourcePort: 1, destinationPort: 2, verificationTag: 3),
            chunks: [.shutdownAck(ShutdownAckChunk())])
        let zero = packet.serialized(checksum: .zero)
        #expect(PacketChecksum.stored(zero) == 0)
        #expect(throws: WireError.badChecksum(stored: 0, computed: PacketChecksum.compute(zero))) {
            try SCTPPacket(parsing: zero, checksum: .required)
        }
        #expect(try SCTPPacket(parsing: zero, checksum: .zeroAllowed).chunks == packet.chunks)
        // A correct CRC is still accepted when zero is allowed, a wrong non-zero one is not.
        let full = packet.serialized()
        #expect(try SCTPPacket(parsing: full, checksum: .zeroAllowed).chunks == packet.chunks)
        var wrong = full
        wrong.setInteger(UInt32(1), at: 8)
        #expect(throws: WireError.self) { try SCTPPacket(parsing: wrong, checksum: .zeroAllowed) }
    }
}
