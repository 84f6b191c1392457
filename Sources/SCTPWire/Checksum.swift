import CSCTPChecksum
import NIOCore

/// CRC32c (Castagnoli), the SCTP checksum (RFC 9260 Appendix A), computed with the
/// CPU's CRC instructions (SSE4.2 on x86-64, ARMv8 CRC on arm64) when present and a
/// table otherwise; the choice is made once at run time.
public enum CRC32c {
    /// The implementation in use: `"sse4.2+pclmul"`, `"sse4.2"`, `"armv8-crc+pmull"`, `"armv8-crc"` or `"table"`.
    public static var implementation: String { String(cString: csctp_crc32c_implementation()) }

    /// Extends `crc` (0 for a new checksum) over `bytes`.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, extending crc: UInt32 = 0) -> UInt32 {
        csctp_crc32c_extend(crc, bytes.baseAddress, bytes.count)
    }

    /// The CRC32c of a buffer's readable bytes.
    @inlinable
    public static func checksum(_ buffer: ByteBuffer, extending crc: UInt32 = 0) -> UInt32 {
        buffer.withUnsafeReadableBytes { csctp_crc32c_extend(crc, $0.baseAddress, $0.count) }
    }

    /// The CRC32c of some bytes.
    public static func checksum(_ bytes: [UInt8], extending crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { csctp_crc32c_extend(crc, $0.baseAddress, $0.count) }
    }

    /// The table implementation, whatever the CPU; for cross-checks.
    public static func portableChecksum(_ bytes: [UInt8], extending crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { csctp_crc32c_extend_portable(crc, $0.baseAddress, $0.count) }
    }

    /// The hardware implementation (the table where the CPU has none); for cross-checks.
    public static func hardwareChecksum(_ bytes: [UInt8], extending crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { csctp_crc32c_extend_hardware(crc, $0.baseAddress, $0.count) }
    }
}

/// How a packet's checksum field is filled when it is written.
public enum ChecksumMode: Hashable, Sendable {
    /// CRC32c over the packet, as RFC 9260 requires by default.
    case crc32c
    /// A zero checksum, allowed once the peer announced Zero Checksum Acceptable for an
    /// error detection method this association uses (RFC 9653).
    case zero
}

/// What a receiver demands of a packet's checksum field.
public enum ChecksumVerification: Hashable, Sendable {
    /// The CRC32c must be correct.
    case required
    /// A correct CRC32c or zero (RFC 9653, once zero checksum was negotiated).
    case zeroAllowed
    /// Not checked (the caller verified, or trusts, the carrier).
    case skipped
}

/// Checksum operations on a serialized SCTP packet in place: bytes 8–11 of the common
/// header hold the CRC32c, least significant byte first (RFC 9260 Appendix A).
public enum PacketChecksum {
    /// The CRC32c of the packet computed as if its checksum field were zero.
    @inlinable
    public static func compute(_ packet: ByteBuffer) -> UInt32 {
        packet.withUnsafeReadableBytes { csctp_sctp_packet_crc32c($0.baseAddress, $0.count) }
    }

    /// The value stored in the packet's checksum field (as the CRC value, i.e. read least significant byte first).
    @inlinable
    public static func stored(_ packet: ByteBuffer) -> UInt32? {
        packet.getInteger(at: packet.readerIndex + 8, endianness: .little, as: UInt32.self)
    }

    /// Computes the CRC32c of the packet and stores it in its checksum field.
    @inlinable
    public static func store(in packet: inout ByteBuffer, mode: ChecksumMode = .crc32c) {
        precondition(packet.readableBytes >= 12, "an SCTP packet has a 12-byte common header")
        // Computed and stored through one access to the bytes (each access is an exclusivity
        // check in SwiftNIO's storage, about 75 instructions; this runs for every packet sent).
        packet.withUnsafeMutableReadableBytes { bytes in
            let value: UInt32 = mode == .crc32c ? csctp_sctp_packet_crc32c(UnsafeRawPointer(bytes.baseAddress), bytes.count) : 0
            bytes.storeBytes(of: value.littleEndian, toByteOffset: 8, as: UInt32.self)
        }
    }

    /// Checks a packet's checksum as `verification` demands.
    @inlinable
    public static func verify(_ packet: ByteBuffer, _ verification: ChecksumVerification = .required) throws(WireError) {
        guard packet.readableBytes >= 12 else { throw .packetTooShort(length: packet.readableBytes) }
        if verification == .skipped { return }
        // The stored value read and the CRC computed through one access to the bytes.
        let (stored, computed) = packet.withUnsafeReadableBytes { bytes -> (UInt32, UInt32?) in
            let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
            if verification == .zeroAllowed && stored == 0 { return (stored, nil) }
            return (stored, csctp_sctp_packet_crc32c(bytes.baseAddress, bytes.count))
        }
        if let computed, computed != stored { throw .badChecksum(stored: stored, computed: computed) }
    }
}
