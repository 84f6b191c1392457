import CSCTPChecksum
import NIOCore

/// The 12-byte common header of every SCTP packet (RFC 9260 §3.1).
public struct CommonHeader: Hashable, Sendable {
    public static let size = 12

    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var verificationTag: UInt32
    /// The checksum as stored (the CRC32c value, read least significant byte first);
    /// written packets compute it anew.
    public var checksum: UInt32

    public init(sourcePort: UInt16, destinationPort: UInt16, verificationTag: UInt32, checksum: UInt32 = 0) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.verificationTag = verificationTag
        self.checksum = checksum
    }

    /// Reads the header at the buffer's reader index without moving it.
    public init(peeking buffer: ByteBuffer) throws(WireError) {
        guard buffer.readableBytes >= Self.size else { throw .packetTooShort(length: buffer.readableBytes) }
        // All four fields in one bounds check: this runs for every packet (twice).
        let (ports, tag, checksum) = buffer.withUnsafeReadableBytes { bytes in
            (UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self)),
             UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
             UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        }
        self.init(sourcePort: UInt16(truncatingIfNeeded: ports >> 16), destinationPort: UInt16(truncatingIfNeeded: ports),
                  verificationTag: tag, checksum: checksum)
    }

    /// Writes the header with a zero checksum (to be filled in once the chunks are written).
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeFields(byteCount: 12) {
            $0.put(sourcePort)
            $0.put(destinationPort)
            $0.put(verificationTag)
            $0.put(UInt32(0))
        }
    }
}

/// Reads the chunks of a packet one at a time, as slices of the datagram, without
/// collecting them. Every length is checked against the bytes present before use.
public struct ChunkReader {
    private var buffer: ByteBuffer
    private var offset: Int
    private var stopped = false

    /// A reader over the chunks of `packet` (the bytes after the common header).
    public init(chunksOf packet: ByteBuffer) {
        var rest = packet
        rest.moveReaderIndex(forwardBy: min(CommonHeader.size, rest.readableBytes))
        buffer = rest
        offset = CommonHeader.size
    }

    /// The offset of the next chunk from the start of the packet (its common header).
    public var position: Int { offset }

    /// The next chunk, or `nil` at the end of the packet or after an unknown chunk whose
    /// type says to stop processing (that chunk itself is returned first).
    public mutating func next() throws(WireError) -> Chunk? {
        if stopped { return nil }
        let available = buffer.readableBytes
        if available == 0 { return nil }
        let start = buffer.readerIndex
        guard available >= 4 else {
            stopped = true
            throw .truncatedChunkHeader(offset: offset, available: available)
        }
        // Type, flags and length in one bounds check; with them, where there are 16 bytes,
        // a DATA chunk's fixed fields (each access to the buffer's bytes is an exclusivity
        // check in SwiftNIO's storage, about 75 instructions: DATA is most of what arrives).
        let (header, tsn, streamAndSSN, ppid) = buffer.withUnsafeReadableBytes { bytes in
            let header = UInt32(bigEndian: bytes.loadUnaligned(as: UInt32.self))
            guard bytes.count >= DataChunk.headerSize else { return (header, UInt32(0), UInt32(0), UInt32(0)) }
            return (header,
                    UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
                    UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)),
                    UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
        }
        let type = UInt8(truncatingIfNeeded: header >> 24)
        let flags = UInt8(truncatingIfNeeded: header >> 16)
        let length = Int(header & 0xFFFF)
        guard length >= 4 else {
            stopped = true
            throw .chunkLengthTooSmall(type: type, length: length)
        }
        guard length <= available else {
            stopped = true
            throw .chunkLengthExceedsPacket(type: type, length: length, available: available)
        }
        let advance = min(length + paddingLength(length), available)
        if type == DataChunk.chunkType && length >= DataChunk.headerSize {
            // The payload sliced straight from the packet (the same bytes `DataChunk(flags:value:)`
            // takes from the chunk's value, without slicing that first). Shorter DATA chunks go
            // the general way and fail there.
            let payload = buffer.getSlice(at: start + DataChunk.headerSize, length: length - DataChunk.headerSize)!
            buffer.moveReaderIndex(forwardBy: advance)
            offset += advance
            return .data(DataChunk(flags: DataFlags(rawValue: flags), tsn: TSN(tsn),
                                   streamIdentifier: UInt16(truncatingIfNeeded: streamAndSSN >> 16),
                                   ssn: SSN(UInt16(truncatingIfNeeded: streamAndSSN)),
                                   payloadProtocolIdentifier: ppid, payload: payload))
        }
        let value = buffer.getSlice(at: start + 4, length: length - 4)!
        buffer.moveReaderIndex(forwardBy: advance)
        offset += advance
        do {
            let chunk = try Chunk(type: type, flags: flags, value: value)
            if case .unknown(let unknown) = chunk, !unknown.action.continues { stopped = true }
            return chunk
        } catch {
            stopped = true
            throw error
        }
    }
}

/// An SCTP packet: the common header and its chunks (RFC 9260 §3).
public struct SCTPPacket: Hashable, Sendable {
    public var header: CommonHeader
    /// The chunks in order. When parsing met an unknown chunk whose type says "stop"
    /// (`00`, `01`), that chunk is the last one here and the rest were not read.
    public var chunks: [Chunk]
    /// For a parsed packet with an AUTH chunk (RFC 4895): the bytes from the first AUTH
    /// chunk's header to the end of the packet, a slice of the datagram, which the HMAC
    /// covers; `nil` otherwise. Not part of the packet's equality.
    public var authenticatedBytes: ByteBuffer?

    public init(header: CommonHeader, chunks: [Chunk]) {
        self.header = header
        self.chunks = chunks
    }

    public static func == (a: SCTPPacket, b: SCTPPacket) -> Bool { a.header == b.header && a.chunks == b.chunks }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(header)
        hasher.combine(chunks)
    }

    /// Parses a datagram holding one SCTP packet. Checks the checksum as `checksum`
    /// demands, then reads every chunk; the payloads are slices of `datagram`.
    public init(parsing datagram: ByteBuffer, checksum: ChecksumVerification = .required) throws(WireError) {
        try self.init(parsing: datagram, checksum: checksum, reusing: [])
    }

    /// Parses like `init(parsing:checksum:)`, putting the chunks in `storage` (emptied
    /// first): a receiver that hands back the array of the packet before (`chunks`, once it
    /// is done with the packet) allocates no array per packet.
    public init(parsing datagram: ByteBuffer, checksum: ChecksumVerification = .required,
                reusing storage: consuming [Chunk]) throws(WireError) {
        try self.init(parsing: datagram, header: try CommonHeader(peeking: datagram), checksum: checksum, reusing: storage)
    }

    /// Parses like `init(parsing:checksum:reusing:)` with the common header already read:
    /// `header` must be `CommonHeader(peeking: datagram)` (the endpoint reads it first to
    /// check the destination port; reading it again cost a second access to the bytes).
    package init(parsing datagram: ByteBuffer, header: CommonHeader, checksum: ChecksumVerification = .required,
                 reusing storage: consuming [Chunk]) throws(WireError) {
        self.header = header
        try PacketChecksum.verify(datagram, checksum)
        var reader = ChunkReader(chunksOf: datagram)
        var chunks = consume storage
        if !chunks.isEmpty { chunks.removeAll(keepingCapacity: true) }
        var authenticated: ByteBuffer? = nil
        while true {
            let position = reader.position
            guard let chunk = try reader.next() else { break }
            if authenticated == nil, case .auth = chunk {
                authenticated = datagram.getSlice(at: datagram.readerIndex + position, length: datagram.readableBytes - position)
            }
            chunks.append(chunk)
        }
        guard !chunks.isEmpty else { throw .noChunks }
        self.chunks = chunks
        authenticatedBytes = authenticated
    }

    /// Writes the packet at the buffer's writer index, with its checksum as `mode` says.
    public func write(to buffer: inout ByteBuffer, checksum mode: ChecksumMode = .crc32c) {
        let start = buffer.writerIndex
        header.write(to: &buffer)
        for chunk in chunks { chunk.write(to: &buffer) }
        let offset = start - buffer.readerIndex
        let length = buffer.writerIndex - start
        let value: UInt32 = mode == .crc32c
            ? buffer.withUnsafeReadableBytes { csctp_sctp_packet_crc32c($0.baseAddress! + offset, length) }
            : 0
        buffer.storeInteger(value, at: start + 8, endianness: .little)
    }

    /// The packet's bytes.
    public func serialized(checksum mode: ChecksumMode = .crc32c) -> ByteBuffer {
        // Most packets serialized whole are control packets (INIT ACK, ABORT, ...): a start
        // that fits them spares the buffer's growth steps.
        var buffer = ByteBufferAllocator().buffer(capacity: 512)
        write(to: &buffer, checksum: mode)
        return buffer
    }

    /// Whether parsing stopped early at an unknown chunk (types `00xxxxxx`, `01xxxxxx`).
    public var stoppedAtUnrecognizedChunk: Bool {
        if case .unknown(let unknown) = chunks.last { return !unknown.action.continues }
        return false
    }

    /// The unknown chunks the peer must be told about, in an ERROR chunk with
    /// Unrecognized Chunk Type causes (types `01xxxxxx` and `11xxxxxx`).
    public var unrecognizedChunksToReport: [UnknownChunk] {
        chunks.compactMap {
            if case .unknown(let unknown) = $0, unknown.action.reports { return unknown }
            return nil
        }
    }

    /// Checks RFC 9260 §6.10: INIT, INIT ACK and SHUTDOWN COMPLETE never share a packet.
    public func validateBundling() throws(WireError) {
        guard chunks.count > 1 else { return }
        for chunk in chunks where chunk.mustStandAlone {
            throw .chunkMustStandAlone(type: chunk.type)
        }
    }
}
