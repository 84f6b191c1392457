/// Why a packet, chunk, parameter or error cause could not be read.
///
/// Parsing never traps: every malformed input ends in one of these values. The
/// association core maps them to the protocol's answer (discard, ERROR or ABORT
/// with the matching RFC 9260 error cause).
public enum WireError: Error, Hashable, Sendable {
    /// The datagram is shorter than the 12-byte common header.
    case packetTooShort(length: Int)
    /// The stored CRC32c does not match the packet's contents.
    case badChecksum(stored: UInt32, computed: UInt32)
    /// The packet carries no chunk at all.
    case noChunks
    /// Fewer than 4 bytes remain where a chunk header should start.
    case truncatedChunkHeader(offset: Int, available: Int)
    /// A chunk's length field is below 4 (this includes a zero length), which would loop forever.
    case chunkLengthTooSmall(type: UInt8, length: Int)
    /// A chunk's length field points past the end of the packet.
    case chunkLengthExceedsPacket(type: UInt8, length: Int, available: Int)
    /// A chunk's length is wrong for its kind (a fixed-size chunk of another size,
    /// a variable chunk shorter than its fixed part, counts that do not match the length).
    case invalidChunkLength(type: UInt8, length: Int)
    /// A chunk that must stand alone in its packet (INIT, INIT ACK, SHUTDOWN COMPLETE) was bundled.
    case chunkMustStandAlone(type: UInt8)
    /// A TLV (parameter or error cause) has a length field below 4.
    case parameterLengthTooSmall(type: UInt16, length: Int)
    /// A TLV's length runs past the end of the chunk (or of the enclosing TLV) holding it.
    case parameterLengthExceedsChunk(type: UInt16, length: Int, available: Int)
    /// A TLV's length is wrong for its kind.
    case invalidParameterLength(type: UInt16, length: Int)
    /// Fewer than 4 bytes remain where a TLV header should start.
    case truncatedParameterHeader(available: Int)
    /// A field holds a value the protocol forbids (for example an address parameter of
    /// the wrong family where one family is required).
    case invalidParameterValue(type: UInt16)
    /// A chunk lacks a parameter it must carry (for example the state cookie of INIT ACK).
    case missingMandatoryParameter(chunkType: UInt8, parameterType: UInt16)
    /// An error cause's length is wrong for its kind.
    case invalidErrorCauseLength(code: UInt16, length: Int)
}
