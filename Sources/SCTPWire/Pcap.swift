import NIOCore

/// Builds a pcap capture file (LINKTYPE_RAW: each record starts with an IP header) of SCTP
/// packets, synthesising the IPv4 or IPv6 header and, for UDP encapsulation (RFC 6951), the
/// UDP header, so that Wireshark and tshark decode exactly what was sent or received.
///
/// The writer takes timestamps from its caller; it reads no clock.
public struct PcapWriter: Sendable {
    /// How the SCTP packet travelled.
    public enum Encapsulation: Hashable, Sendable {
        /// Directly over IP, protocol 132.
        case rawIP
        /// Inside UDP (RFC 6951) between these UDP ports.
        case udp(sourcePort: UInt16, destinationPort: UInt16)
    }

    /// The file's bytes so far: the global header and every record.
    public private(set) var bytes: ByteBuffer

    public init() {
        bytes = ByteBuffer()
        // Global header, little-endian magic, version 2.4, no time zone, snaplen 262144, LINKTYPE_RAW.
        bytes.writeInteger(UInt32(0xA1B2_C3D4), endianness: .little)
        bytes.writeInteger(UInt16(2), endianness: .little)
        bytes.writeInteger(UInt16(4), endianness: .little)
        bytes.writeInteger(Int32(0), endianness: .little)
        bytes.writeInteger(UInt32(0), endianness: .little)
        bytes.writeInteger(UInt32(262_144), endianness: .little)
        bytes.writeInteger(UInt32(101), endianness: .little)
    }

    /// The bytes written since the last call (the global header first), for writing a
    /// capture to a file as it grows; they are removed from `bytes`.
    public mutating func takeBytes() -> ByteBuffer {
        let taken = bytes
        bytes = ByteBuffer()
        return taken
    }

    /// Appends one record: `sctpPacket` (from its common header on) sent from `source` to
    /// `destination` (both of one family) at `nanoseconds` after the epoch.
    public mutating func append(sctpPacket: ByteBuffer, source: IPAddress, destination: IPAddress,
                                encapsulation: Encapsulation, nanoseconds: Int64 = 0) {
        var frame = ByteBuffer()
        let udpLength = 8 + sctpPacket.readableBytes
        let transportLength: Int
        let nextHeader: UInt8
        switch encapsulation {
        case .rawIP:
            transportLength = sctpPacket.readableBytes
            nextHeader = 132
        case .udp:
            transportLength = udpLength
            nextHeader = 17
        }
        switch (source, destination) {
        case (.v4(let s), .v4(let d)):
            let totalLength = 20 + transportLength
            var header = ByteBuffer()
            header.writeMultipleIntegers(UInt8(0x45), UInt8(0), UInt16(truncatingIfNeeded: totalLength))
            header.writeMultipleIntegers(UInt16(0), UInt16(0x4000), UInt8(64), nextHeader, UInt16(0))
            header.writeMultipleIntegers(s.rawValue, d.rawValue)
            header.setInteger(Self.internetChecksum(header), at: 10)
            frame.writeImmutableBuffer(header)
        case (.v6(let s), .v6(let d)):
            frame.writeMultipleIntegers(UInt32(0x6000_0000), UInt16(truncatingIfNeeded: transportLength), nextHeader, UInt8(64))
            frame.writeMultipleIntegers(s.high, s.low, d.high, d.low)
        default:
            preconditionFailure("source and destination must be of one address family")
        }
        if case .udp(let sourcePort, let destinationPort) = encapsulation {
            // A zero UDP checksum over IPv4 means "none"; over IPv6 compute it.
            var checksum: UInt16 = 0
            if case (.v6(let s), .v6(let d)) = (source, destination) {
                var pseudo = ByteBuffer()
                pseudo.writeMultipleIntegers(s.high, s.low, d.high, d.low)
                pseudo.writeMultipleIntegers(UInt32(udpLength), UInt32(17))
                pseudo.writeMultipleIntegers(sourcePort, destinationPort, UInt16(udpLength), UInt16(0))
                pseudo.writeImmutableBuffer(sctpPacket)
                checksum = Self.internetChecksum(pseudo)
                if checksum == 0 { checksum = 0xFFFF }
            }
            frame.writeMultipleIntegers(sourcePort, destinationPort, UInt16(truncatingIfNeeded: udpLength), checksum)
        }
        frame.writeImmutableBuffer(sctpPacket)

        let seconds = nanoseconds / 1_000_000_000
        let micros = (nanoseconds % 1_000_000_000) / 1000
        bytes.writeInteger(UInt32(truncatingIfNeeded: seconds), endianness: .little)
        bytes.writeInteger(UInt32(truncatingIfNeeded: micros), endianness: .little)
        bytes.writeInteger(UInt32(frame.readableBytes), endianness: .little)
        bytes.writeInteger(UInt32(frame.readableBytes), endianness: .little)
        bytes.writeImmutableBuffer(frame)
    }

    /// The one's complement sum of RFC 1071 over the buffer's readable bytes.
    static func internetChecksum(_ buffer: ByteBuffer) -> UInt16 {
        var sum: UInt32 = 0
        buffer.withUnsafeReadableBytes { raw in
            var i = 0
            while i + 1 < raw.count {
                sum &+= UInt32(raw[i]) << 8 | UInt32(raw[i + 1])
                i += 2
            }
            if i < raw.count { sum &+= UInt32(raw[i]) << 8 }
        }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) &+ (sum >> 16) }
        return ~UInt16(truncatingIfNeeded: sum)
    }
}
