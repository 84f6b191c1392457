import NIOCore
import SCTPWire

/// A datagram the driver must send: an SCTP packet (checksum filled in) and where to.
public struct Transmit: Sendable {
    /// The SCTP packet, from its common header on.
    public var datagram: ByteBuffer
    /// The peer address to send it to.
    public var destination: IPAddress
    /// The local address to send it from, when the core has a preference.
    public var source: IPAddress?
    /// Whether the packet goes out ECN-capable (ECT(0) in the IP header, RFC 3168): it
    /// carries DATA of an association whose peer announced ECN (RFC 9260 Appendix A).
    public var ecnCapable: Bool

    public init(datagram: ByteBuffer, destination: IPAddress, source: IPAddress? = nil, ecnCapable: Bool = false) {
        self.datagram = datagram
        self.destination = destination
        self.source = source
        self.ecnCapable = ecnCapable
    }
}

/// Bundles chunks into packets of at most `mtu` bytes for one destination (RFC 9260 §6.10):
/// control chunks first, then DATA; a chunk larger than the space left starts a new packet.
struct PacketBuilder {
    let header: CommonHeader
    let mtu: Int
    let destination: IPAddress
    let checksum: ChecksumMode
    private var buffer: ByteBuffer
    private(set) var packets: [ByteBuffer] = []

    init(header: CommonHeader, mtu: Int, destination: IPAddress, checksum: ChecksumMode, allocator: ByteBufferAllocator = .init()) {
        self.header = header
        self.mtu = max(mtu, 64)
        self.destination = destination
        self.checksum = checksum
        buffer = allocator.buffer(capacity: self.mtu)
    }

    /// Bytes a chunk of `valueLength` bytes takes, padding included.
    static func chunkSize(valueLength: Int) -> Int { (4 + valueLength + 3) & ~3 }

    /// Room left in the current packet for another chunk (header and padding included).
    var remaining: Int {
        buffer.readableBytes == 0 ? mtu - CommonHeader.size : mtu - buffer.readableBytes
    }

    /// Whether the current packet holds any chunk.
    var isEmpty: Bool { buffer.readableBytes == 0 }

    /// Adds a chunk, starting a new packet when it does not fit the current one.
    mutating func add(_ chunk: Chunk, size: Int) {
        if buffer.readableBytes > 0 && size > remaining { finishPacket() }
        if buffer.readableBytes == 0 { header.write(to: &buffer) }
        chunk.write(to: &buffer)
    }

    /// Closes the current packet (fills in the checksum).
    mutating func finishPacket() {
        guard buffer.readableBytes > 0 else { return }
        PacketChecksum.store(in: &buffer, mode: checksum)
        packets.append(buffer)
        buffer = ByteBufferAllocator().buffer(capacity: mtu)
    }

    /// All packets, the current one closed.
    mutating func finish() -> [Transmit] {
        finishPacket()
        let result = packets.map { Transmit(datagram: $0, destination: destination) }
        packets.removeAll()
        return result
    }
}

extension Chunk {
    /// The bytes this chunk takes in a packet, padding included. The chunks of every packet
    /// (DATA, SACK, fixed-size control chunks) are computed from their fields; only the rare
    /// variable control chunks are measured by writing them.
    var encodedSize: Int {
        switch self {
        case .data(let c): return c.encodedSize
        case .sack(let c):
            return PacketBuilder.chunkSize(valueLength: 12 + 4 * c.gapAckBlocks.count + 4 * c.duplicateTSNs.count)
        case .shutdown, .ecne, .cwr: return 8
        case .shutdownAck, .cookieAck, .shutdownComplete: return 4
        case .cookieEcho(let c): return PacketBuilder.chunkSize(valueLength: c.cookie.readableBytes)
        case .heartbeat(let c): return PacketBuilder.chunkSize(valueLength: 4 + c.info.info.readableBytes)
        case .heartbeatAck(let c): return PacketBuilder.chunkSize(valueLength: 4 + c.info.info.readableBytes)
        default:
            var scratch = ByteBuffer()
            write(to: &scratch)
            return scratch.readableBytes
        }
    }
}

extension DataChunk {
    /// The bytes this chunk takes in a packet, padding included, without writing it.
    var encodedSize: Int { PacketBuilder.chunkSize(valueLength: 12 + payload.readableBytes) }
}
