import CSCTPChecksum
import NIOCore

/// Writes a packet of one INIT or INIT ACK chunk straight into its datagram (RFC 9260
/// §3.3.2, §3.3.3): the common header, the chunk's fixed fields, then its parameters, each
/// either as bytes prepared once (what `ParameterList.write(to:)` writes for the parameters
/// every such chunk of an endpoint carries), as a `Parameter` value, or as a value the caller
/// writes in place (the State Cookie, sealed where it lies). `finish` fills in the chunk
/// length and the checksum.
///
/// The bytes are exactly those of `SCTPPacket(header:chunks:)` with the same chunk, its
/// parameters in the same order, serialized with the same checksum mode: parameters padded
/// between each other to 4 bytes, the last one's padding not counted in the chunk length,
/// the chunk padded to 4 in the packet. The handshake's packets are written this way so
/// that a setup does not build, and then serialize, a parameter array per association.
public struct InitPacketWriter {
    /// The packet written so far.
    public private(set) var buffer: ByteBuffer
    private let packetStart: Int
    private let chunkStart: Int
    /// Where the parameter list begins (padding between parameters counts from here).
    private let listStart: Int

    /// Starts a packet with `header` (its checksum is computed by `finish`) and a chunk of
    /// `chunkType` (`InitChunk.chunkType` or `InitAckChunk.chunkType`) with these fixed fields.
    /// `capacity` is a hint for the whole packet's length.
    public init(header: CommonHeader, chunkType: UInt8, initiateTag: UInt32, advertisedReceiverWindowCredit: UInt32,
                outboundStreams: UInt16, inboundStreams: UInt16, initialTSN: TSN, capacity: Int) {
        var buffer = ByteBufferAllocator().buffer(capacity: max(capacity, CommonHeader.size + 20))
        packetStart = buffer.writerIndex
        header.write(to: &buffer)
        chunkStart = buffer.writerIndex
        buffer.writeFields(byteCount: 20) {
            $0.put(chunkType)
            $0.put(UInt8(0))  // flags
            $0.put(UInt16(0))  // length, filled in by `finish`
            $0.put(initiateTag)
            $0.put(advertisedReceiverWindowCredit)
            $0.put(outboundStreams)
            $0.put(inboundStreams)
            $0.put(initialTSN.rawValue)
        }
        listStart = buffer.writerIndex
        self.buffer = buffer
    }

    /// Appends parameters as `ParameterList.write(to:)` wrote them (padded between each
    /// other, the last one unpadded). Nothing is written for an empty list.
    public mutating func appendPrepared(_ parameters: ByteBuffer) {
        guard parameters.readableBytes > 0 else { return }
        buffer.writePadding(alignedFrom: listStart)
        buffer.writeImmutableBuffer(parameters)
    }

    /// Appends one parameter.
    public mutating func append(_ parameter: Parameter) {
        buffer.writePadding(alignedFrom: listStart)
        parameter.write(to: &buffer)
    }

    /// Appends a parameter of `type` whose value `writeValue` writes at the buffer's writer
    /// index (for the State Cookie: its body, then its MAC over the bytes written).
    public mutating func appendParameter(type: UInt16, _ writeValue: (inout ByteBuffer) -> Void) {
        buffer.writePadding(alignedFrom: listStart)
        buffer.writeTLV(type: type, writeValue)
    }

    /// The packet: the chunk length filled in, the chunk padded to 4 bytes, the checksum
    /// stored (CRC32c, or zero with `.zero`).
    /// The chunk's length so far, with the last parameter's padding: what a further
    /// parameter is added to (a chunk is at most 65,535 bytes, which `finish` checks).
    public var paddedChunkLength: Int { (buffer.writerIndex - chunkStart + 3) & ~3 }

    public consuming func finish(checksum mode: ChecksumMode = .crc32c) -> ByteBuffer {
        let chunkLength = buffer.writerIndex - chunkStart
        precondition(chunkLength <= Int(UInt16.max), "chunk longer than 65535 bytes")
        buffer.storeInteger(UInt16(chunkLength), at: chunkStart + 2)
        buffer.writePadding(alignedFrom: chunkStart)
        let offset = packetStart - buffer.readerIndex
        let length = buffer.writerIndex - packetStart
        let value: UInt32 = mode == .crc32c
            ? buffer.withUnsafeReadableBytes { csctp_sctp_packet_crc32c($0.baseAddress! + offset, length) }
            : 0
        buffer.storeInteger(value, at: packetStart + 8, endianness: .little)
        return buffer
    }
}
