import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

/// The I-DATA receive side (RFC 8260 §2.1, §2.3.2): reassembly by (stream, U, MID) in FSN
/// order, ordered delivery by MID, partial delivery per stream, I-FORWARD-TSN, duplicates,
/// memory accounting and the MID reset of a stream reset; the invariants after every step.
@Suite("receive: I-DATA reassembly")
struct InterleavedReassemblerTests {
    struct Harness {
        var queue: ReassemblyQueue
        var cumulative = TSN(0)

        init(memory: Int = 1 << 20, partialDeliveryPoint: Int? = nil, streams: UInt16 = 8, fragmentOverhead: Int = 128) {
            queue = ReassemblyQueue(inboundStreamCount: streams,
                                    configuration: .init(memoryLimit: memory, partialDeliveryPoint: partialDeliveryPoint,
                                                         fragmentOverhead: fragmentOverhead))
        }

        /// Inserts a fragment; `cumulative`: the cumulative TSN the tracker would report.
        @discardableResult
        mutating func insert(tsn: UInt32, stream: UInt16 = 1, mid: UInt32, fsn: UInt32 = 0, begin: Bool, end: Bool,
                             unordered: Bool = false, ppid: UInt32 = 7, payload: ByteBuffer, cumulative: UInt32? = nil) -> ReassemblyQueue.InsertResult {
            var flags: DataFlags = []
            if begin { flags.insert(.beginning) }
            if end { flags.insert(.ending) }
            if unordered { flags.insert(.unordered) }
            let chunk = IDataChunk(flags: flags, tsn: TSN(tsn), streamIdentifier: stream, mid: MID(mid),
                                   ppidOrFSN: begin ? ppid : fsn, payload: payload)
            let result = queue.insert(chunk, cumulativeTSN: TSN(cumulative ?? tsn))
            #expect(queue.checkInvariants() == [])
            return result
        }

        mutating func drain() -> [ReceivedMessage] {
            var out: [ReceivedMessage] = []
            while let item = queue.poll() { if case .message(let m) = item { out.append(m) } }
            return out
        }
    }

    static func bytes(_ count: Int, _ seed: UInt8) -> ByteBuffer {
        ByteBuffer(bytes: (0..<count).map { UInt8(truncatingIfNeeded: $0) &+ seed })
    }

    @Test("fragments of one message in any FSN order, interleaved with another stream's: one message each, joined in FSN order")
    func reassemblyByFSN() {
        var h = Harness()
        let a = [Self.bytes(100, 1), Self.bytes(100, 2), Self.bytes(50, 3)]
        let b = [Self.bytes(80, 9), Self.bytes(20, 8)]
        h.insert(tsn: 1, stream: 1, mid: 0, fsn: 2, begin: false, end: true, payload: a[2])
        h.insert(tsn: 2, stream: 2, mid: 0, begin: true, end: false, payload: b[0])
        h.insert(tsn: 3, stream: 1, mid: 0, fsn: 1, begin: false, end: false, payload: a[1])
        #expect(h.drain().isEmpty)
        #expect(h.queue.bufferedBytes == 230)
        h.insert(tsn: 4, stream: 1, mid: 0, begin: true, end: false, ppid: 51, payload: a[0])
        var out = h.drain()
        #expect(out.count == 1 && out[0].streamIdentifier == 1 && out[0].payloadProtocolIdentifier == 51)
        var joined = ByteBuffer()
        for part in a { joined.writeImmutableBuffer(part) }
        #expect(out[0].payload == joined)
        h.insert(tsn: 5, stream: 2, mid: 0, fsn: 1, begin: false, end: true, payload: b[1])
        out = h.drain()
        #expect(out.count == 1 && out[0].streamIdentifier == 2 && out[0].payload.readableBytes == 100)
        #expect(h.queue.bufferedBytes == 0)
    }

    @Test("ordered messages leave in MID order per stream; unordered ones as soon as complete")
    func orderingByMID() {
        var h = Harness()
        h.insert(tsn: 1, mid: 2, begin: true, end: true, payload: Self.bytes(10, 2))
        h.insert(tsn: 2, mid: 1, begin: true, end: true, payload: Self.bytes(10, 1))
        h.insert(tsn: 3, mid: 5, begin: true, end: true, unordered: true, payload: Self.bytes(10, 5))
        #expect(h.drain().map(\.isUnordered) == [true])
        h.insert(tsn: 4, mid: 0, begin: true, end: true, payload: Self.bytes(10, 0))
        #expect(h.drain().map { $0.payload.getInteger(at: 0, as: UInt8.self)! } == [0, 1, 2])
        #expect(h.queue.nextExpectedMID(onStream: 1) == MID(3))
    }

    @Test("a fragment seen before, one of a message already delivered, one past the message's end: taken but dropped, nothing counted twice")
    func duplicatesAndStale() {
        var h = Harness()
        h.insert(tsn: 1, mid: 0, begin: true, end: false, payload: Self.bytes(100, 0))
        h.insert(tsn: 2, mid: 0, begin: true, end: false, payload: Self.bytes(100, 0))  // same FSN 0, another TSN
        #expect(h.queue.bufferedBytes == 100)
        h.insert(tsn: 3, mid: 0, fsn: 1, begin: false, end: true, payload: Self.bytes(10, 1))
        h.insert(tsn: 4, mid: 0, fsn: 5, begin: false, end: false, payload: Self.bytes(10, 1))  // stale: MID 0 done
        #expect(h.drain().count == 1)
        #expect(h.queue.bufferedBytes == 0)
        h.insert(tsn: 5, mid: 1, fsn: 1, begin: false, end: true, payload: Self.bytes(10, 1))
        h.insert(tsn: 6, mid: 1, fsn: 3, begin: false, end: false, payload: Self.bytes(10, 1))  // past the end FSN 1
        #expect(h.queue.bufferedBytes == 10)
    }

    @Test("partial delivery: two streams' large messages handed out in pieces at the same time, in FSN order")
    func partialDeliveryPerStream() {
        var h = Harness(memory: 1 << 20, partialDeliveryPoint: 1000)
        var tsn: UInt32 = 0
        for fsn in 0..<3 as Range<UInt32> {
            for stream: UInt16 in [1, 2] {
                tsn += 1
                h.insert(tsn: tsn, stream: stream, mid: 0, fsn: fsn, begin: fsn == 0, end: false, payload: Self.bytes(600, UInt8(fsn)))
            }
        }
        let pieces = h.drain()
        #expect(Set(pieces.map(\.streamIdentifier)) == [1, 2])
        #expect(pieces.allSatisfy { !$0.isComplete })
        #expect(h.queue.bufferedBytes == 0)
        tsn += 1
        h.insert(tsn: tsn, stream: 2, mid: 0, fsn: 3, begin: false, end: true, payload: Self.bytes(5, 3))
        let end = h.drain()
        #expect(end.count == 1 && end[0].isComplete && end[0].streamIdentifier == 2)
        // Stream 2's next message is not held behind stream 1's partial delivery.
        tsn += 1
        h.insert(tsn: tsn, stream: 2, mid: 1, begin: true, end: true, payload: Self.bytes(5, 4))
        #expect(h.drain().count == 1)
    }

    @Test("partial delivery does not start for a message whose first fragment lies above the cumulative TSN")
    func partialDeliveryWaitsForCumulativeTSN() {
        var h = Harness(memory: 1 << 20, partialDeliveryPoint: 500)
        h.insert(tsn: 5, mid: 0, begin: true, end: false, payload: Self.bytes(600, 0), cumulative: 2)
        #expect(h.drain().isEmpty)
        h.insert(tsn: 6, mid: 0, fsn: 1, begin: false, end: false, payload: Self.bytes(600, 1), cumulative: 6)
        let pieces = h.drain()
        #expect(pieces.count == 1 && pieces[0].payload.readableBytes == 1200 && !pieces[0].isComplete)
    }

    @Test("§2.3.2 I-FORWARD-TSN: ordered messages up to the MID dropped (complete ones delivered), the stream resumes after it; unordered incomplete ones dropped; a partial delivery aborted")
    func iForwardTSN() {
        var h = Harness(memory: 1 << 20, partialDeliveryPoint: 500)
        h.insert(tsn: 1, stream: 1, mid: 0, begin: true, end: false, payload: Self.bytes(100, 0))      // incomplete, skipped
        h.insert(tsn: 3, stream: 1, mid: 1, begin: true, end: true, payload: Self.bytes(10, 1))        // complete, stranded
        h.insert(tsn: 4, stream: 1, mid: 3, begin: true, end: true, payload: Self.bytes(10, 3))        // after the skip
        h.insert(tsn: 5, stream: 2, mid: 4, begin: true, end: false, unordered: true, payload: Self.bytes(10, 4))
        h.insert(tsn: 6, stream: 3, mid: 0, begin: true, end: false, payload: Self.bytes(600, 6), cumulative: 6)  // partial delivery
        #expect(h.drain().count == 1)
        #expect(h.queue.isPartialDeliveryInProgress(onStream: 3) == false)  // DATA's view; I-DATA keeps its own
        h.queue.handleIForwardTSN(newCumulativeTSN: TSN(8), skippedMessages: [
            .init(streamIdentifier: 1, unordered: false, mid: MID(2)),
            .init(streamIdentifier: 2, unordered: true, mid: MID(4)),
            .init(streamIdentifier: 3, unordered: false, mid: MID(0)),
        ])
        #expect(h.queue.checkInvariants() == [])
        var delivered: [UInt8] = []
        var aborted: [UInt16] = []
        while let item = h.queue.poll() {
            switch item {
            case .message(let m): delivered.append(m.payload.getInteger(at: 0, as: UInt8.self)!)
            case .partialDeliveryAborted(let a): aborted.append(a.streamIdentifier)
            }
        }
        #expect(delivered == [1, 3])
        #expect(aborted == [3])
        #expect(h.queue.bufferedBytes == 0)
        #expect(h.queue.nextExpectedMID(onStream: 1) == MID(4))
        #expect(h.queue.nextExpectedMID(onStream: 3) == MID(1))
    }

    @Test("memory: 1-byte I-DATA messages behind a missing MID are charged their overhead; the missing one still gets through")
    func fragmentOverheadBoundsTinyMessages() {
        var h = Harness(memory: 16_384)
        var accepted = 0
        // MID 0 (TSN 1) is missing: MIDs 1, 2, … (TSN 2, 3, …) wait for it, cumulative TSN 0.
        for mid in 1...2_000 {
            if h.insert(tsn: UInt32(mid + 1), mid: UInt32(mid), begin: true, end: true, payload: RxSupport.bytes(1, seed: UInt32(mid)),
                        cumulative: 0) == .accepted {
                accepted += 1
            }
        }
        #expect(accepted * 129 <= 16_384)
        #expect(accepted >= 16_384 / 129 - 1)
        #expect(h.insert(tsn: 1, mid: 0, begin: true, end: true, payload: RxSupport.bytes(1, seed: 0), cumulative: UInt32(accepted + 1))
            == .accepted)
        #expect(h.drain().count == accepted + 1)
        #expect(h.queue.bufferedBytes == 0)
    }

    @Test("memory: a fragment that does not fit is refused unless it fills the cumulative TSN; a stream reset sets the next MID back to 0")
    func memoryAndReset() {
        var h = Harness(memory: 1000, fragmentOverhead: 0)  // the payload's bytes alone
        #expect(h.insert(tsn: 2, mid: 1, begin: true, end: false, payload: Self.bytes(900, 0), cumulative: 0) == .accepted)
        #expect(h.insert(tsn: 3, mid: 1, fsn: 1, begin: false, end: false, payload: Self.bytes(200, 0), cumulative: 0) == .noSpace)
        #expect(h.insert(tsn: 1, mid: 0, begin: true, end: true, payload: Self.bytes(200, 0), cumulative: 2) == .accepted)
        #expect(h.insert(tsn: 9, stream: 9, mid: 0, begin: true, end: true, payload: Self.bytes(2, 0)) == .invalidStream)
        _ = h.drain()
        #expect(h.queue.nextExpectedMID(onStream: 1) == MID(1))
        h.queue.resetStreams([1])
        #expect(h.queue.nextExpectedMID(onStream: 1) == MID(0))
    }
}
