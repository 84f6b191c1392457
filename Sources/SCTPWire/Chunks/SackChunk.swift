import NIOCore

/// A Gap Ack Block of SACK: TSNs `cumulativeTSNAck + start ... cumulativeTSNAck + end` arrived.
public struct GapAckBlock: Hashable, Sendable {
    public var start: UInt16
    public var end: UInt16
    public init(start: UInt16, end: UInt16) {
        self.start = start
        self.end = end
    }
}

/// SACK chunk (type 3, RFC 9260 §3.3.4).
public struct SackChunk: ChunkValue {
    public static let chunkType: UInt8 = 3

    public var cumulativeTSNAck: TSN
    public var advertisedReceiverWindowCredit: UInt32
    public var gapAckBlocks: [GapAckBlock]
    public var duplicateTSNs: [TSN]

    public init(cumulativeTSNAck: TSN, advertisedReceiverWindowCredit: UInt32,
                gapAckBlocks: [GapAckBlock] = [], duplicateTSNs: [TSN] = []) {
        precondition(gapAckBlocks.count <= Int(UInt16.max) && duplicateTSNs.count <= Int(UInt16.max))
        self.cumulativeTSNAck = cumulativeTSNAck
        self.advertisedReceiverWindowCredit = advertisedReceiverWindowCredit
        self.gapAckBlocks = gapAckBlocks
        self.duplicateTSNs = duplicateTSNs
    }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        cumulativeTSNAck = TSN(try fields.read())
        advertisedReceiverWindowCredit = try fields.read()
        let gapCount: UInt16 = try fields.read()
        let duplicateCount: UInt16 = try fields.read()
        // The counts must describe exactly the bytes present, before anything is allocated.
        guard Int(gapCount) * 4 + Int(duplicateCount) * 4 == fields.remaining else {
            throw .invalidChunkLength(type: Self.chunkType, length: value.readableBytes + 4)
        }
        var gaps: [GapAckBlock] = []
        gaps.reserveCapacity(Int(gapCount))
        for _ in 0..<gapCount {
            let start: UInt16 = try fields.read()
            let end: UInt16 = try fields.read()
            gaps.append(GapAckBlock(start: start, end: end))
        }
        var duplicates: [TSN] = []
        duplicates.reserveCapacity(Int(duplicateCount))
        for _ in 0..<duplicateCount { duplicates.append(TSN(try fields.read())) }
        gapAckBlocks = gaps
        duplicateTSNs = duplicates
    }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeFields(byteCount: 12 + 4 * gapAckBlocks.count + 4 * duplicateTSNs.count) {
            $0.put(cumulativeTSNAck.rawValue)
            $0.put(advertisedReceiverWindowCredit)
            $0.put(UInt16(gapAckBlocks.count))
            $0.put(UInt16(duplicateTSNs.count))
            for block in gapAckBlocks {
                $0.put(block.start)
                $0.put(block.end)
            }
            for tsn in duplicateTSNs { $0.put(tsn.rawValue) }
        }
    }
}
