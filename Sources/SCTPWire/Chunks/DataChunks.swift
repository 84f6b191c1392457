import NIOCore

/// The flags of DATA and I-DATA chunks (RFC 9260 §3.3.1, RFC 7053, RFC 8260).
public struct DataFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// E: the last fragment of a message.
    public static let ending = DataFlags(rawValue: 0x01)
    /// B: the first fragment of a message.
    public static let beginning = DataFlags(rawValue: 0x02)
    /// U: an unordered message (no stream sequence number order).
    public static let unordered = DataFlags(rawValue: 0x04)
    /// I: the receiver should SACK at once (RFC 7053).
    public static let immediate = DataFlags(rawValue: 0x08)
    /// B and E: a whole, unfragmented message.
    public static let complete: DataFlags = [.beginning, .ending]
}

/// DATA chunk (type 0, RFC 9260 §3.3.1). The payload is a slice of the received datagram.
public struct DataChunk: ChunkValue {
    public static let chunkType: UInt8 = 0
    /// Size of the header and fixed fields; the payload follows.
    public static let headerSize = 16

    public var dataFlags: DataFlags
    public var tsn: TSN
    public var streamIdentifier: UInt16
    public var ssn: SSN
    public var payloadProtocolIdentifier: UInt32
    /// The user data; may be empty only on receipt (the core answers with No User Data).
    public var payload: ByteBuffer

    public init(flags: DataFlags, tsn: TSN, streamIdentifier: UInt16, ssn: SSN,
                payloadProtocolIdentifier: UInt32, payload: ByteBuffer) {
        self.dataFlags = flags
        self.tsn = tsn
        self.streamIdentifier = streamIdentifier
        self.ssn = ssn
        self.payloadProtocolIdentifier = payloadProtocolIdentifier
        self.payload = payload
    }

    public var flags: UInt8 { dataFlags.rawValue }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        // The 12 bytes of fixed fields in one bounds check (this runs for every chunk received).
        let available = value.readableBytes
        guard available >= 12 else {
            throw .invalidChunkLength(type: Self.chunkType, length: available + 4)
        }
        let (tsn, streamAndSSN, ppid) = value.withUnsafeReadableBytes { bytes in
            (UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self)),
             UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
             UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        }
        dataFlags = DataFlags(rawValue: flags)
        self.tsn = TSN(tsn)
        streamIdentifier = UInt16(truncatingIfNeeded: streamAndSSN >> 16)
        ssn = SSN(UInt16(truncatingIfNeeded: streamAndSSN))
        payloadProtocolIdentifier = ppid
        payload = value.getSlice(at: value.readerIndex + 12, length: available - 12)!
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(tsn.rawValue, streamIdentifier, ssn.rawValue, payloadProtocolIdentifier)
        buffer.writeImmutableBuffer(payload)
    }

    /// Writes the whole chunk (header, fixed fields, payload and padding), the same bytes as
    /// `write(to:)`, with one capacity check: DATA is most of what is ever written.
    public func writeChunk(to buffer: inout ByteBuffer) {
        let payloadLength = payload.readableBytes
        let length = Self.headerSize + payloadLength
        precondition(length <= Int(UInt16.max), "chunk longer than 65535 bytes")
        let padded = (length + 3) & ~3
        // The storage's bytes at the writer index, as a plain pointer: SwiftNIO's
        // `writeWithUnsafeMutableBytes` slices its pointer with a generic `dropFirst` (~55
        // instructions per chunk).
        buffer.reserveCapacity(minimumWritableBytes: padded)
        let start = buffer.writerIndex
        buffer.withVeryUnsafeMutableBytes { whole in
            let out = whole.baseAddress! + start
            out.storeBytes(of: (UInt32(Self.chunkType) << 24 | UInt32(dataFlags.rawValue) << 16 | UInt32(length)).bigEndian,
                           toByteOffset: 0, as: UInt32.self)
            out.storeBytes(of: tsn.rawValue.bigEndian, toByteOffset: 4, as: UInt32.self)
            out.storeBytes(of: (UInt32(streamIdentifier) << 16 | UInt32(ssn.rawValue)).bigEndian, toByteOffset: 8, as: UInt32.self)
            out.storeBytes(of: payloadProtocolIdentifier.bigEndian, toByteOffset: 12, as: UInt32.self)
            if payloadLength > 0 {
                // `out` has room for `padded` bytes and `source` holds `payloadLength`: a
                // plain pointer copy (rebasing `out` on a range built a slice, ~60 instructions).
                payload.withUnsafeReadableBytes { source in
                    (out + Self.headerSize).copyMemory(from: source.baseAddress!, byteCount: payloadLength)
                }
            }
            for index in length..<padded { out.storeBytes(of: 0, toByteOffset: index, as: UInt8.self) }
        }
        buffer.moveWriterIndex(forwardBy: padded)
    }
}

/// I-DATA chunk (type 64, RFC 8260 §2.1): DATA with a 32-bit message identifier so that
/// messages of different streams can interleave.
public struct IDataChunk: ChunkValue {
    public static let chunkType: UInt8 = 64
    /// Size of the header and fixed fields; the payload follows.
    public static let headerSize = 20

    public var dataFlags: DataFlags
    public var tsn: TSN
    public var streamIdentifier: UInt16
    public var mid: MID
    /// The field after MID: the payload protocol identifier in the first fragment (B bit
    /// set), the fragment sequence number in every other fragment.
    public var ppidOrFSN: UInt32
    public var payload: ByteBuffer

    public init(flags: DataFlags, tsn: TSN, streamIdentifier: UInt16, mid: MID,
                ppidOrFSN: UInt32, payload: ByteBuffer) {
        self.dataFlags = flags
        self.tsn = tsn
        self.streamIdentifier = streamIdentifier
        self.mid = mid
        self.ppidOrFSN = ppidOrFSN
        self.payload = payload
    }

    /// The payload protocol identifier, carried by the first fragment only.
    public var payloadProtocolIdentifier: UInt32? { dataFlags.contains(.beginning) ? ppidOrFSN : nil }
    /// The fragment sequence number; the first fragment's is 0 by definition.
    public var fsn: FSN { dataFlags.contains(.beginning) ? FSN(0) : FSN(ppidOrFSN) }

    public var flags: UInt8 { dataFlags.rawValue }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        dataFlags = DataFlags(rawValue: flags)
        tsn = TSN(try fields.read())
        streamIdentifier = try fields.read()
        let _: UInt16 = try fields.read()  // reserved
        mid = MID(try fields.read())
        ppidOrFSN = try fields.read()
        payload = fields.readRest()
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(tsn.rawValue, streamIdentifier, UInt16(0), mid.rawValue, ppidOrFSN)
        buffer.writeImmutableBuffer(payload)
    }
}
