import NIOCore

/// What RFC 9260 §3.2 and §3.2.1 tell a receiver to do with a chunk type or
/// parameter type it does not recognise, taken from the type's two high-order bits.
public enum UnrecognizedAction: Hashable, Sendable {
    /// `00`: stop processing (the packet for a chunk, the chunk's parameters for a parameter); report nothing.
    case stop
    /// `01`: stop processing as above and report the unrecognised item.
    case stopAndReport
    /// `10`: skip this item and go on; report nothing.
    case skip
    /// `11`: skip this item, go on, and report it.
    case skipAndReport

    /// The action for a chunk type (its bits 7 and 6).
    @inlinable
    public init(chunkType: UInt8) { self.init(highBits: chunkType >> 6) }

    /// The action for a parameter type (its bits 15 and 14).
    @inlinable
    public init(parameterType: UInt16) { self.init(highBits: UInt8(parameterType >> 14)) }

    @inlinable
    init(highBits: UInt8) {
        switch highBits & 0b11 {
        case 0b00: self = .stop
        case 0b01: self = .stopAndReport
        case 0b10: self = .skip
        default: self = .skipAndReport
        }
    }

    /// Whether processing goes on after the item.
    public var continues: Bool { self == .skip || self == .skipAndReport }
    /// Whether the item must be reported to the peer.
    public var reports: Bool { self == .stopAndReport || self == .skipAndReport }
}

/// Number of zero bytes that pad `length` to a multiple of 4.
@inlinable
func paddingLength(_ length: Int) -> Int { (4 - length & 3) & 3 }

/// A bounded reader of fixed-size fields inside one chunk, parameter or error cause.
///
/// Every read checks the remaining length first and throws `shortError` instead of trapping.
@usableFromInline
struct FieldReader {
    @usableFromInline var buffer: ByteBuffer
    @usableFromInline let shortError: WireError

    @inlinable
    init(_ buffer: ByteBuffer, shortError: WireError) {
        self.buffer = buffer
        self.shortError = shortError
    }

    @inlinable
    var remaining: Int { buffer.readableBytes }

    @inlinable
    mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws(WireError) -> T {
        let size = MemoryLayout<T>.size
        guard buffer.readableBytes >= size else { throw shortError }
        // A load from the readable bytes, not `readInteger` (SwiftNIO's copy path).
        let value = buffer.withUnsafeReadableBytes { T(bigEndian: $0.loadUnaligned(as: T.self)) }
        buffer.moveReaderIndex(forwardBy: size)
        return value
    }

    @inlinable
    mutating func readSlice(_ length: Int) throws(WireError) -> ByteBuffer {
        guard length >= 0, let slice = buffer.readSlice(length: length) else { throw shortError }
        return slice
    }

    /// Everything that is left, as a slice of the original bytes.
    @inlinable
    mutating func readRest() -> ByteBuffer {
        buffer.readSlice(length: buffer.readableBytes)!
    }

    /// Throws unless every byte was consumed.
    @inlinable
    func expectEnd() throws(WireError) {
        if buffer.readableBytes != 0 { throw shortError }
    }
}

/// Reads a sequence of type-length-value items (parameters or error causes): 16-bit type,
/// 16-bit length that counts the 4-byte header but not the padding, value, zero padding to
/// a multiple of 4. The last item's padding may be absent.
@usableFromInline
struct TLVReader {
    @usableFromInline var buffer: ByteBuffer

    @inlinable
    init(_ buffer: ByteBuffer) { self.buffer = buffer }

    /// The next item's type and value (a slice, not a copy), or `nil` at the end.
    @inlinable
    mutating func next() throws(WireError) -> (type: UInt16, value: ByteBuffer)? {
        let available = buffer.readableBytes
        if available == 0 { return nil }
        guard available >= 4 else { throw .truncatedParameterHeader(available: available) }
        // Type and length in one load.
        let header = buffer.withUnsafeReadableBytes { UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)) }
        let type = UInt16(truncatingIfNeeded: header >> 16)
        let length = Int(header & 0xFFFF)
        guard length >= 4 else { throw .parameterLengthTooSmall(type: type, length: length) }
        guard length <= available else {
            throw .parameterLengthExceedsChunk(type: type, length: length, available: available)
        }
        buffer.moveReaderIndex(forwardBy: 4)
        let value = buffer.readSlice(length: length - 4)!
        buffer.moveReaderIndex(forwardBy: min(paddingLength(length), buffer.readableBytes))
        return (type, value)
    }
}

/// Stores fixed-width fields, big-endian, through one pointer (`ByteBuffer.writeFields`).
///
/// Each `ByteBuffer.writeInteger` goes through SwiftNIO's general copy (a capacity check, a
/// copy-on-write check, an exclusivity check and a `memmove` of 2 or 4 bytes), about 200
/// instructions per field. Headers written with one `writeFields` pay that once.
public struct FieldWriter {
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline let limit: Int
    @usableFromInline var stored = 0
    /// Bytes stored so far.
    @inlinable public var offset: Int { stored }

    @inlinable
    init(base: UnsafeMutableRawPointer, limit: Int) {
        self.base = base
        self.limit = limit
    }

    /// Stores `value` in network byte order.
    @inlinable
    public mutating func put<T: FixedWidthInteger>(_ value: T) {
        let size = MemoryLayout<T>.size
        precondition(stored + size <= limit, "fields longer than declared")
        base.storeBytes(of: value.bigEndian, toByteOffset: stored, as: T.self)
        stored += size
    }

    /// Stores `bytes` as they are.
    @inlinable
    public mutating func put(bytes: UnsafeRawBufferPointer) {
        precondition(stored + bytes.count <= limit, "fields longer than declared")
        if let source = bytes.baseAddress, !bytes.isEmpty {
            (base + stored).copyMemory(from: source, byteCount: bytes.count)
        }
        stored += bytes.count
    }
}

/// Reads fixed-width big-endian fields from raw bytes, bounded: a read past the end gives
/// `nil` and consumes nothing. The reading counterpart of `FieldWriter`, for a structure of
/// many fields read through one `withUnsafeReadableBytes`.
public struct FieldCursor {
    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline var position = 0

    /// A cursor at the start of `bytes`.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Bytes not read yet.
    @inlinable
    public var remaining: Int { bytes.count - position }

    /// The next field, in network byte order, or `nil` when fewer bytes remain.
    @inlinable
    public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) -> T? {
        let size = MemoryLayout<T>.size
        guard size <= bytes.count - position else { return nil }
        let value = T(bigEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
        position += size
        return value
    }

    /// Appends the next `count` bytes to `array`; `false` (and nothing read) when fewer remain
    /// or `count` is negative.
    @inlinable
    public mutating func appendBytes(_ count: Int, to array: inout [UInt8]) -> Bool {
        guard count >= 0, count <= bytes.count - position else { return false }
        array.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)]))
        position += count
        return true
    }

    /// The next `count` bytes as an array, or `nil` when fewer remain (or `count` is negative).
    @inlinable
    public mutating func readBytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, count <= bytes.count - position else { return nil }
        let result = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)]))
        position += count
        return result
    }
}

extension ByteBuffer {
    /// Writes exactly `byteCount` bytes of fields that `body` stores (big-endian), with one
    /// capacity and copy-on-write check for all of them.
    @inlinable
    public mutating func writeFields(byteCount: Int, _ body: (inout FieldWriter) -> Void) {
        guard byteCount > 0 else { return }
        // The storage's bytes from the slice's start, at the writer index: SwiftNIO's
        // `writeWithUnsafeMutableBytes` slices its pointer with a generic `dropFirst` (~55
        // instructions), and this runs for every packet's common header.
        reserveCapacity(minimumWritableBytes: byteCount)
        let start = writerIndex
        withVeryUnsafeMutableBytes { whole in
            var writer = FieldWriter(base: whole.baseAddress! + start, limit: byteCount)
            body(&writer)
            precondition(writer.offset == byteCount, "fields shorter than declared")
        }
        moveWriterIndex(forwardBy: byteCount)
    }

    /// Overwrites the integer at `index`, which must lie in bytes already written (between 0
    /// and the writer index): a length or checksum filled in once what it covers is written.
    @inlinable
    public mutating func storeInteger<T: FixedWidthInteger>(_ value: T, at index: Int, endianness: Endianness = .big) {
        let size = MemoryLayout<T>.size
        precondition(index >= 0 && index + size <= writerIndex, "integer outside the written bytes")
        let ordered = endianness == .big ? value.bigEndian : value.littleEndian
        withVeryUnsafeMutableBytes { $0.baseAddress!.storeBytes(of: ordered, toByteOffset: index, as: T.self) }
    }

    /// Writes a TLV header, lets `body` write the value, then fills in the length.
    /// Writes no trailing padding: the container pads between items and at its own end.
    @inlinable
    mutating func writeTLV(type: UInt16, _ body: (inout ByteBuffer) -> Void) {
        let start = writerIndex
        writeFields(byteCount: 4) {
            $0.put(type)
            $0.put(UInt16(0))
        }
        body(&self)
        let length = writerIndex - start
        precondition(length <= Int(UInt16.max), "TLV longer than 65535 bytes")
        storeInteger(UInt16(length), at: start + 2)
    }

    /// Writes zero bytes until the distance from `base` is a multiple of 4.
    @inlinable
    mutating func writePadding(alignedFrom base: Int) {
        let pad = paddingLength(writerIndex - base)
        if pad > 0 { writeRepeatingByte(0, count: pad) }
    }

    /// Writes items one after another, padding between them to 4-byte boundaries
    /// (counted from the list's start), leaving the last one unpadded.
    @inlinable
    mutating func writeTLVList<Item>(_ items: [Item], _ write: (Item, inout ByteBuffer) -> Void) {
        let base = writerIndex
        for item in items {
            writePadding(alignedFrom: base)
            write(item, &self)
        }
    }

    /// Reads `count` bytes from a slice into an array.
    @inlinable
    func bytesArray() -> [UInt8] { getBytes(at: readerIndex, length: readableBytes) ?? [] }
}

