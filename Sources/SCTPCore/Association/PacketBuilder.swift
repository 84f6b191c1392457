import DequeModule
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
/// A packet's buffer is allocated when its first chunk comes, so a builder that sends
/// nothing costs no allocation.
struct PacketBuilder {
    /// A finished packet, and whether it carries DATA.
    struct Built {
        var bytes: ByteBuffer
        var carriesData: Bool
        /// Where its AUTH chunk starts while the MAC (and so the checksum) is still to be
        /// filled in: packets are signed two at a time when the builder finishes.
        var unsignedAuthOffset: Int?
    }

    let header: CommonHeader
    let mtu: Int
    let destination: IPAddress
    let checksum: ChecksumMode
    let allocator: ByteBufferAllocator
    /// The capacity a packet's buffer starts with (it grows if a packet needs more): the
    /// MTU for packets that carry DATA, less for control packets, so that their buffers
    /// come from the allocator's small, fast size classes.
    var initialCapacity: Int
    /// Packets carrying DATA go out ECN-capable (`Transmit.ecnCapable`): the association
    /// negotiated ECN (RFC 9260 Appendix A). Control-only packets never do.
    var ecnCapable = false
    /// The local address the packets leave from (`Transmit.source`); `nil`: the driver's choice.
    var source: IPAddress?
    /// Where packet buffers are reused from (`nil`: each is allocated).
    var pool: PacketBufferPool?
    /// The packet being filled, `nil` until its first chunk.
    private var buffer: ByteBuffer?
    /// Whether the packet being filled holds a DATA chunk.
    private var bufferCarriesData = false
    /// AUTH (RFC 4895): signs the chunks the peer wants authenticated; `nil` when none.
    var authenticator: PacketAuthenticator? {
        didSet {
            dataAuthOverhead = authenticator.map {
                $0.chunks.contains(ChunkType.data) || $0.chunks.contains(ChunkType.iData) ? $0.chunkSize : 0
            } ?? 0
        }
    }
    /// Where the current packet's AUTH chunk starts, once it has one.
    private var authOffset: Int?
    /// The bytes an AUTH chunk takes in a packet with DATA (0 when DATA needs none): a DATA
    /// chunk cut for an empty packet is that much smaller, so the packet stays within the MTU.
    private(set) var dataAuthOverhead = 0
    private(set) var packets: [Built]

    /// `packetStorage`: an empty array whose capacity the finished packets reuse (what
    /// `finish(into:)` returned last time), so that a builder allocates no array either.
    init(header: CommonHeader, mtu: Int, destination: IPAddress, checksum: ChecksumMode, allocator: ByteBufferAllocator = .init(),
         packetStorage: consuming [Built] = []) {
        packets = consume packetStorage
        if !packets.isEmpty { packets.removeAll(keepingCapacity: true) }
        self.header = header
        self.mtu = max(mtu, 64)
        self.destination = destination
        self.checksum = checksum
        self.allocator = allocator
        initialCapacity = self.mtu
    }

    /// Bytes a chunk of `valueLength` bytes takes, padding included.
    static func chunkSize(valueLength: Int) -> Int { (4 + valueLength + 3) & ~3 }

    /// Room left in the current packet for another chunk (header and padding included).
    var remaining: Int {
        let reserve = authOffset == nil ? dataAuthOverhead : 0
        guard let buffer else { return mtu - CommonHeader.size - reserve }
        return mtu - buffer.readableBytes - reserve
    }

    /// Whether the current packet holds any chunk.
    var isEmpty: Bool { buffer == nil }

    /// Makes room for a chunk of `size` bytes: closes the current packet when the chunk
    /// does not fit, and starts a packet (its common header) when none is open.
    /// A chunk of a type the peer wants authenticated gets an AUTH chunk before it, unless
    /// the packet has one already; the AUTH chunk counts in whether the chunk fits, and a
    /// chunk that starts a new packet gets that packet's own AUTH chunk. A chunk that does
    /// not fit even an empty packet with its AUTH chunk goes alone, larger than the MTU
    /// (docs/DECISIONS.md, "AUTH and the MTU").
    private mutating func prepare(size: Int, type: UInt8) {
        let authSize = authenticator.map { $0.chunks.contains(type) ? $0.chunkSize : 0 } ?? 0
        if let current = buffer {
            let added = authOffset == nil ? size + authSize : size
            if added > mtu - current.readableBytes { finishPacket() }
        }
        if buffer == nil {
            let capacity = min(mtu, max(initialCapacity, size + authSize + CommonHeader.size))
            var fresh = pool?.take(minimumCapacity: capacity) ?? allocator.buffer(capacity: capacity)
            header.write(to: &fresh)
            buffer = fresh
        }
        if authSize > 0, authOffset == nil, let authenticator {
            authOffset = buffer!.writerIndex
            authenticator.writePlaceholder(to: &buffer!)
        }
    }

    /// Adds a chunk, starting a new packet when it does not fit the current one.
    mutating func add(_ chunk: Chunk, size: Int) {
        prepare(size: size, type: chunk.type)
        if case .data = chunk { bufferCarriesData = true }
        chunk.write(to: &buffer!)
    }

    /// Adds a chunk, starting a new packet when it does not fit the current one. A control
    /// chunk whose size only writing it tells (INIT, INIT ACK, ABORT, ERROR, ...) is
    /// written in place, once, and moved to a new packet if it did not fit after the chunks
    /// already there.
    mutating func add(_ chunk: Chunk) {
        if let size = chunk.computedSize {
            add(chunk, size: size)
            return
        }
        let type = chunk.type
        let hadAuth = authOffset != nil
        prepare(size: 0, type: type)
        let chunkStart = buffer!.writerIndex
        // Where the chunk's bytes begin, with the AUTH chunk just added for it.
        let start = !hadAuth ? (authOffset ?? chunkStart) : chunkStart
        chunk.write(to: &buffer!)
        if buffer!.readableBytes > mtu && start - buffer!.readerIndex > CommonHeader.size {
            let size = buffer!.writerIndex - chunkStart
            buffer!.moveWriterIndex(to: start)
            if !hadAuth { authOffset = nil }
            finishPacket()
            prepare(size: size, type: type)
            chunk.write(to: &buffer!)
        }
        if case .data = chunk { bufferCarriesData = true }
    }

    /// Adds a DATA chunk, starting a new packet when it does not fit the current one.
    mutating func add(_ chunk: DataChunk, size: Int) {
        prepare(size: size, type: ChunkType.data)
        bufferCarriesData = true
        chunk.writeChunk(to: &buffer!)
    }

    /// Adds a DATA chunk's fields as an I-DATA chunk (RFC 8260 §2.1) with `mid` and `fsn`
    /// (the PPID goes in the first fragment, the FSN in the others), starting a new packet
    /// when it does not fit the current one. `size` is its wire size (4 more than DATA's).
    mutating func addInterleaved(_ chunk: DataChunk, mid: MID, fsn: UInt32, size: Int) {
        prepare(size: size, type: ChunkType.iData)
        bufferCarriesData = true
        let payloadLength = chunk.payload.readableBytes
        let length = IDataChunk.headerSize + payloadLength
        precondition(length <= Int(UInt16.max), "chunk longer than 65535 bytes")
        let fourth = chunk.dataFlags.contains(.beginning) ? chunk.payloadProtocolIdentifier : fsn
        buffer!.writeMultipleIntegers(UInt8(IDataChunk.chunkType), chunk.dataFlags.rawValue, UInt16(length),
                                      chunk.tsn.rawValue, chunk.streamIdentifier, UInt16(0), mid.rawValue, fourth)
        buffer!.writeImmutableBuffer(chunk.payload)
        let padding = (4 - length & 3) & 3
        if padding > 0 { buffer!.writeRepeatingByte(0, count: padding) }
    }

    /// Closes the current packet: fills in the checksum, or, when the packet has an AUTH
    /// chunk, leaves the MAC and the checksum for `signPackets`.
    mutating func finishPacket() {
        guard var packet = buffer else { return }
        buffer = nil
        var unsigned: Int?
        if let offset = authOffset, authenticator != nil {
            authOffset = nil
            unsigned = offset
            unsignedPackets += 1
        } else {
            PacketChecksum.store(in: &packet, mode: checksum)
        }
        packets.append(Built(bytes: packet, carriesData: bufferCarriesData, unsignedAuthOffset: unsigned))
        bufferCarriesData = false
    }

    /// Packets closed with their AUTH chunk's MAC still to compute.
    private var unsignedPackets = 0

    /// Whether a packet has an AUTH chunk and the authenticator came without its MAC: the
    /// MAC must be supplied (`supplyMAC`) before the builder finishes.
    var needsMAC: Bool { authenticator != nil && authenticator!.mac == nil && (unsignedPackets > 0 || authOffset != nil) }

    /// Supplies the MAC the authenticator came without.
    mutating func supplyMAC(_ mac: AuthMAC?) {
        guard authenticator != nil, let mac else { return }
        authenticator!.mac = mac
    }

    /// Signs the packets closed unsigned, two at a time (the MACs of a pair are computed
    /// side by side, `AuthMAC.sign(_:_:_:)`), and fills in their checksums.
    private mutating func signPackets() {
        guard unsignedPackets > 0 else { return }
        unsignedPackets = 0
        guard let mac = authenticator?.mac else {
            // No MAC supplied (`needsMAC`; the key went in between): the AUTH chunks keep a
            // zero MAC, which the peer refuses, as it would refuse the chunks unsigned.
            assertionFailure("packets with AUTH chunks finished without a MAC")
            for index in packets.indices where packets[index].unsignedAuthOffset != nil { closeSigned(index) }
            return
        }
        var waiting: (index: Int, offset: Int)?
        for index in packets.indices {
            guard let offset = packets[index].unsignedAuthOffset else { continue }
            guard let first = waiting else {
                waiting = (index, offset)
                continue
            }
            mac.sign(&packets, first, (index, offset))
            closeSigned(first.index)
            closeSigned(index)
            waiting = nil
        }
        if let last = waiting {
            mac.sign(&packets[last.index].bytes, authChunkAt: last.offset)
            closeSigned(last.index)
        }
    }

    private mutating func closeSigned(_ index: Int) {
        packets[index].unsignedAuthOffset = nil
        PacketChecksum.store(in: &packets[index].bytes, mode: checksum)
    }

    private func transmit(_ packet: Built) -> Transmit {
        Transmit(datagram: packet.bytes, destination: destination, source: source, ecnCapable: ecnCapable && packet.carriesData)
    }

    /// All packets, the current one closed.
    mutating func finish() -> [Transmit] {
        finishPacket()
        signPackets()
        let result = packets.map(transmit)
        packets.removeAll()
        return result
    }

    /// Closes the current packet and appends all packets to `outbox`, in order. Returns the
    /// emptied packet array, for the next builder to reuse.
    @discardableResult
    mutating func finish(into outbox: inout Deque<Transmit>) -> [Built] {
        finishPacket()
        signPackets()
        for packet in packets { outbox.append(transmit(packet)) }
        packets.removeAll(keepingCapacity: true)
        var storage: [Built] = []
        swap(&storage, &packets)
        return storage
    }
}

extension Chunk {
    /// The bytes this chunk takes in a packet, padding included, computed from its fields
    /// for the chunks of every packet (DATA, SACK, fixed-size control chunks); `nil` for the
    /// variable control chunks, which `PacketBuilder.add(_:)` measures by writing them.
    var computedSize: Int? {
        switch self {
        case .data(let c): return c.encodedSize
        case .sack(let c):
            return PacketBuilder.chunkSize(valueLength: 12 + 4 * c.gapAckBlocks.count + 4 * c.duplicateTSNs.count)
        case .nrSack(let c): return PacketBuilder.chunkSize(valueLength: c.valueLength)
        case .shutdown, .ecne, .cwr: return 8
        case .shutdownAck, .cookieAck, .shutdownComplete: return 4
        case .cookieEcho(let c): return PacketBuilder.chunkSize(valueLength: c.cookie.readableBytes)
        case .heartbeat(let c): return PacketBuilder.chunkSize(valueLength: 4 + c.info.info.readableBytes)
        case .heartbeatAck(let c): return PacketBuilder.chunkSize(valueLength: 4 + c.info.info.readableBytes)
        default: return nil
        }
    }
}

extension DataChunk {
    /// The bytes this chunk takes in a packet, padding included, without writing it.
    var encodedSize: Int { PacketBuilder.chunkSize(valueLength: 12 + payload.readableBytes) }
}
