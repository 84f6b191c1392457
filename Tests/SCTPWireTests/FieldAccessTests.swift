import NIOCore
import Testing
@testable import SCTPWire

@Suite("field writer and cursor")
struct FieldAccessTests {
    @Test("writeFields stores big-endian fields and raw bytes after what the buffer holds, and moves the writer index")
    func writeFields() {
        var buffer = ByteBuffer(bytes: [0xEE])
        buffer.moveReaderIndex(forwardBy: 1)
        buffer.writeFields(byteCount: 1 + 2 + 4 + 8 + 3) { out in
            out.put(UInt8(0x01))
            out.put(UInt16(0x0203))
            out.put(UInt32(0x0405_0607))
            out.put(Int64(-2))
            [UInt8(0xAA), 0xBB, 0xCC].withUnsafeBytes { out.put(bytes: $0) }
        }
        #expect(Array(buffer.readableBytesView) == [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                                     0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xAA, 0xBB, 0xCC])
        #expect(buffer.writerIndex == 19)
    }

    @Test("storeInteger overwrites written bytes in either byte order and leaves the indices alone")
    func storeInteger() {
        var buffer = ByteBuffer(bytes: [UInt8](repeating: 0, count: 8))
        buffer.storeInteger(UInt16(0x1234), at: 2)
        buffer.storeInteger(UInt32(0x0A0B_0C0D), at: 4, endianness: .little)
        #expect(Array(buffer.readableBytesView) == [0, 0, 0x12, 0x34, 0x0D, 0x0C, 0x0B, 0x0A])
        #expect(buffer.readerIndex == 0 && buffer.writerIndex == 8)
    }

    @Test("storeInteger on a shared buffer copies first: the other holder keeps its bytes")
    func storeIntegerCopiesOnWrite() {
        var buffer = ByteBuffer(bytes: [1, 2, 3, 4])
        let shared = buffer
        buffer.storeInteger(UInt16(0xFFFF), at: 0)
        #expect(Array(shared.readableBytesView) == [1, 2, 3, 4])
        #expect(Array(buffer.readableBytesView) == [0xFF, 0xFF, 3, 4])
    }

    @Test("a cursor reads big-endian fields and gives nil, consuming nothing, past the end")
    func cursor() {
        let bytes: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]
        bytes.withUnsafeBytes { raw in
            var cursor = FieldCursor(raw)
            #expect(cursor.read(UInt16.self) == 0x0102)
            #expect(cursor.read(UInt32.self) == 0x0304_0506)
            #expect(cursor.remaining == 1)
            #expect(cursor.read(UInt16.self) == nil)
            #expect(cursor.remaining == 1)
            #expect(cursor.read(UInt8.self) == 0x07)
            #expect(cursor.read(UInt8.self) == nil)
        }
    }

    @Test("FieldReader reads fields and throws its error, never traps, when the value is short")
    func fieldReader() throws {
        var reader = FieldReader(ByteBuffer(bytes: [0, 1, 0, 0, 0, 2, 9]), shortError: .packetTooShort(length: 7))
        #expect(try reader.read(UInt16.self) == 1)
        #expect(try reader.read(UInt32.self) == 2)
        #expect(throws: WireError.packetTooShort(length: 7)) { try reader.read(UInt16.self) }
        #expect(try reader.read(UInt8.self) == 9)
    }
}
