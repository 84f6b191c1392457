import NIOCore
import SCTPWire
import Testing

/// `DataChunk.writeChunk(to:)` and `ByteBuffer.writeFields` write through the storage's
/// pointer at the writer index: they must give the same bytes as the general writer
/// whatever the buffer's state (shared storage, a slice, too little capacity).
@Suite("DATA chunk and field writing into any buffer")
struct DataChunkWriteTests {
    static let chunk = DataChunk(flags: .complete, tsn: TSN(0x0102_0304), streamIdentifier: 5, ssn: SSN(6),
                                 payloadProtocolIdentifier: 7, payload: ByteBuffer(bytes: [1, 2, 3, 4, 5]))

    /// The bytes `Chunk.write(to:)` gives (padding included).
    static var expected: [UInt8] {
        var buffer = ByteBuffer()
        Chunk.data(chunk).write(to: &buffer)
        return WireKit.bytes(buffer)
    }

    @Test("a buffer sharing its storage with another value is copied, the other left alone")
    func sharedStorage() {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        buffer.writeBytes([0xAA, 0xBB])
        let other = buffer
        Self.chunk.writeChunk(to: &buffer)
        #expect(WireKit.bytes(buffer) == [0xAA, 0xBB] + Self.expected)
        #expect(WireKit.bytes(other) == [0xAA, 0xBB])
    }

    @Test("a slice of a larger buffer, and a buffer that must grow")
    func sliceAndGrowth() {
        var whole = ByteBuffer(bytes: Array(repeating: 0xCC, count: 40))
        var slice = whole.getSlice(at: 10, length: 4)!
        slice.moveReaderIndex(forwardBy: 1)
        Self.chunk.writeChunk(to: &slice)
        #expect(WireKit.bytes(slice) == [0xCC, 0xCC, 0xCC] + Self.expected)
        whole.moveReaderIndex(forwardBy: 40)
        #expect(whole.readableBytes == 0)

        var small = ByteBufferAllocator().buffer(capacity: 2)
        small.writeBytes([9])
        Self.chunk.writeChunk(to: &small)
        #expect(WireKit.bytes(small) == [9] + Self.expected)
    }

    @Test("writeFields in shared storage and after a slice's start")
    func fields() {
        var buffer = ByteBuffer(bytes: [1, 2, 3])
        buffer.moveReaderIndex(forwardBy: 1)
        let other = buffer
        buffer.writeFields(byteCount: 6) {
            $0.put(UInt16(0x0A0B))
            $0.put(UInt32(0x0C0D_0E0F))
        }
        #expect(WireKit.bytes(buffer) == [2, 3, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F])
        #expect(WireKit.bytes(other) == [2, 3])
        let header = CommonHeader(sourcePort: 1, destinationPort: 2, verificationTag: 3)
        var slice = ByteBuffer(bytes: Array(repeating: 0xEE, count: 20)).getSlice(at: 5, length: 2)!
        header.write(to: &slice)
        #expect(WireKit.bytes(slice) == [0xEE, 0xEE, 0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0])
    }
}
