import NIOCore

/// A Gap Ack Block of SACK: TSNs `cumulativeTSNAck + start ... cumulativeTSNAck + end` arrived.
public struct GapAckBlock: Hashable, Sendable {
    public var start: UInt16
    public var end: UInt16
    public init(start: UInt16, end: UInt16) {
        self.start = start
        self.end = end
    }

    /// Reads `count` blocks (the caller checked that the bytes are there).
    static func read(_ count: UInt16, from fields: inout FieldReader) throws(WireError) -> [GapAckBlock] {
        var blocks: [GapAckBlock] = []
        blocks.reserveCapacity(Int(count))
        for _ in 0..<count {
            let start: UInt16 = try fields.read()
            let end: UInt16 = try fields.read()
            blocks.append(GapAckBlock(start: start, end: end))
        }
        return blocks
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
        let gaps = try GapAckBlock.read(gapCount, from: &fields)
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

/// NR-SACK chunk (type 16, draft-natarajan-tsvwg-sctp-nrsack): a SACK whose receiver also
/// says which out-of-order TSNs it will never renege on. The renegable Gap Ack Blocks
/// (`gapAckBlocks`) and the non-renegable ones (`nonRenegableGapAckBlocks`) are both relative
/// to the Cumulative TSN Ack, and a TSN is reported in one of the two lists, not both
/// (FreeBSD's stack, and so usrsctp, builds them from two disjoint maps).
///
/// Value: Cumulative TSN Ack, a_rwnd, the number of Gap Ack Blocks, of NR Gap Ack Blocks and
/// of duplicate TSNs, 16 reserved bits, then the blocks in that order and the duplicates.
public struct NRSackChunk: ChunkValue {
    public static let chunkType: UInt8 = 16

    public var cumulativeTSNAck: TSN
    public var advertisedReceiverWindowCredit: UInt32
    /// Renegable Gap Ack Blocks: the receiver may still drop these TSNs.
    public var gapAckBlocks: [GapAckBlock]
    /// Non-renegable Gap Ack Blocks: the sender may free these TSNs for good.
    public var nonRenegableGapAckBlocks: [GapAckBlock]
    public var duplicateTSNs: [TSN]

    public init(cumulativeTSNAck: TSN, advertisedReceiverWindowCredit: UInt32, gapAckBlocks: [GapAckBlock] = [],
                nonRenegableGapAckBlocks: [GapAckBlock] = [], duplicateTSNs: [TSN] = []) {
        precondition(gapAckBlocks.count <= Int(UInt16.max) && nonRenegableGapAckBlocks.count <= Int(UInt16.max)
                     && duplicateTSNs.count <= Int(UInt16.max))
        self.cumulativeTSNAck = cumulativeTSNAck
        self.advertisedReceiverWindowCredit = advertisedReceiverWindowCredit
        self.gapAckBlocks = gapAckBlocks
        self.nonRenegableGapAckBlocks = nonRenegableGapAckBlocks
        self.duplicateTSNs = duplicateTSNs
    }

    /// The NR-SACK of a receiver that never reneges: every Gap Ack Block of `sack` non-renegable.
    public init(nonRenegable sack: SackChunk) {
        self.init(cumulativeTSNAck: sack.cumulativeTSNAck, advertisedReceiverWindowCredit: sack.advertisedReceiverWindowCredit,
                  nonRenegableGapAckBlocks: sack.gapAckBlocks, duplicateTSNs: sack.duplicateTSNs)
    }

    public init(flags: UInt8, value: ByteBuffer) throws(WireError) {
        var fields = Self.fields(value)
        cumulativeTSNAck = TSN(try fields.read())
        advertisedReceiverWindowCredit = try fields.read()
        let gapCount: UInt16 = try fields.read()
        let nonRenegableCount: UInt16 = try fields.read()
        let duplicateCount: UInt16 = try fields.read()
        let _: UInt16 = try fields.read()  // reserved
        // The counts must describe exactly the bytes present, before anything is allocated.
        guard (Int(gapCount) + Int(nonRenegableCount) + Int(duplicateCount)) * 4 == fields.remaining else {
            throw .invalidChunkLength(type: Self.chunkType, length: value.readableBytes + 4)
        }
        gapAckBlocks = try GapAckBlock.read(gapCount, from: &fields)
        nonRenegableGapAckBlocks = try GapAckBlock.read(nonRenegableCount, from: &fields)
        var duplicates: [TSN] = []
        duplicates.reserveCapacity(Int(duplicateCount))
        for _ in 0..<duplicateCount { duplicates.append(TSN(try fields.read())) }
        duplicateTSNs = duplicates
    }

    /// The size of the value: fixed fields, blocks and duplicates.
    public var valueLength: Int { 16 + 4 * (gapAckBlocks.count + nonRenegableGapAckBlocks.count + duplicateTSNs.count) }

    public func writeValue(to buffer: inout ByteBuffer) {
        buffer.writeFields(byteCount: valueLength) {
            $0.put(cumulativeTSNAck.rawValue)
            $0.put(advertisedReceiverWindowCredit)
            $0.put(UInt16(gapAckBlocks.count))
            $0.put(UInt16(nonRenegableGapAckBlocks.count))
            $0.put(UInt16(duplicateTSNs.count))
            $0.put(UInt16(0))
            for block in gapAckBlocks {
                $0.put(block.start)
                $0.put(block.end)
            }
            for block in nonRenegableGapAckBlocks {
                $0.put(block.start)
                $0.put(block.end)
            }
            for tsn in duplicateTSNs { $0.put(tsn.rawValue) }
        }
    }

    /// The same acknowledgement as one SACK: the renegable blocks, then the non-renegable
    /// ones (from index `gapAckBlocks.count` on). A chunk's 16-bit length keeps the blocks
    /// of both lists together far below the 65,535 a SACK can count.
    public var combined: SackChunk {
        // A receiver that never reneges (ours, usrsctp without draining) sends no renegable
        // blocks: then the NR list is taken as it is, without building a new array.
        SackChunk(cumulativeTSNAck: cumulativeTSNAck, advertisedReceiverWindowCredit: advertisedReceiverWindowCredit,
                  gapAckBlocks: gapAckBlocks.isEmpty ? nonRenegableGapAckBlocks : gapAckBlocks + nonRenegableGapAckBlocks,
                  duplicateTSNs: duplicateTSNs)
    }
}
