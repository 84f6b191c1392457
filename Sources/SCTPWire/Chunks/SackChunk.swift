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
    @inline(__always)
    static func read(_ count: UInt16, from cursor: inout FieldCursor) -> [GapAckBlock] {
        guard count > 0 else { return [] }
        var blocks: [GapAckBlock] = []
        blocks.reserveCapacity(Int(count))
        for _ in 0..<count {
            let start = cursor.read(UInt16.self)!
            let end = cursor.read(UInt16.self)!
            blocks.append(GapAckBlock(start: start, end: end))
        }
        return blocks
    }
}

/// Reads `count` duplicate TSNs (the caller checked that the bytes are there).
@inline(__always)
func readDuplicateTSNs(_ count: UInt16, from cursor: inout FieldCursor) -> [TSN] {
    guard count > 0 else { return [] }
    var duplicates: [TSN] = []
    duplicates.reserveCapacity(Int(count))
    for _ in 0..<count { duplicates.append(TSN(cursor.read(UInt32.self)!)) }
    return duplicates
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
        // All fields through one pointer (one access to the buffer, not one per field).
        let parsed = value.withUnsafeReadableBytes { raw -> (TSN, UInt32, [GapAckBlock], [TSN])? in
            var cursor = FieldCursor(raw)
            guard let cumulative = cursor.read(UInt32.self), let window = cursor.read(UInt32.self),
                  let gapCount = cursor.read(UInt16.self), let duplicateCount = cursor.read(UInt16.self),
                  // The counts must describe exactly the bytes present, before anything is allocated.
                  Int(gapCount) * 4 + Int(duplicateCount) * 4 == cursor.remaining else { return nil }
            let gaps = GapAckBlock.read(gapCount, from: &cursor)
            return (TSN(cumulative), window, gaps, readDuplicateTSNs(duplicateCount, from: &cursor))
        }
        guard let parsed else { throw .invalidChunkLength(type: Self.chunkType, length: value.readableBytes + 4) }
        (cumulativeTSNAck, advertisedReceiverWindowCredit, gapAckBlocks, duplicateTSNs) = parsed
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
        // All fields through one pointer (one access to the buffer, not one per field).
        let parsed = value.withUnsafeReadableBytes { raw -> (TSN, UInt32, [GapAckBlock], [GapAckBlock], [TSN])? in
            var cursor = FieldCursor(raw)
            guard let cumulative = cursor.read(UInt32.self), let window = cursor.read(UInt32.self),
                  let gapCount = cursor.read(UInt16.self), let nonRenegableCount = cursor.read(UInt16.self),
                  let duplicateCount = cursor.read(UInt16.self), cursor.read(UInt16.self) != nil,  // reserved
                  // The counts must describe exactly the bytes present, before anything is allocated.
                  (Int(gapCount) + Int(nonRenegableCount) + Int(duplicateCount)) * 4 == cursor.remaining else { return nil }
            let gaps = GapAckBlock.read(gapCount, from: &cursor)
            let nonRenegable = GapAckBlock.read(nonRenegableCount, from: &cursor)
            return (TSN(cumulative), window, gaps, nonRenegable, readDuplicateTSNs(duplicateCount, from: &cursor))
        }
        guard let parsed else { throw .invalidChunkLength(type: Self.chunkType, length: value.readableBytes + 4) }
        (cumulativeTSNAck, advertisedReceiverWindowCredit, gapAckBlocks, nonRenegableGapAckBlocks, duplicateTSNs) = parsed
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
