import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

/// The send queue with interleaving (I-DATA, RFC 8260 §2.1): the scheduler is asked before
/// every chunk, each stream fragments its own head message, MIDs per stream and ordering,
/// FSNs per fragment; the invariants after every step.
@Suite("send queue: interleaving (I-DATA)")
struct SendQueueInterleavingTests {
    static func message(_ stream: UInt16, _ size: Int, unordered: Bool = false) -> OutgoingMessage {
        OutgoingMessage(streamIdentifier: stream, isUnordered: unordered, payload: ByteBuffer(repeating: UInt8(stream), count: size))
    }

    /// Cuts every chunk of the queue with `size`-byte fragments.
    static func cutAll(_ queue: inout SendQueue, size: Int) -> [CutChunk] {
        var cuts: [CutChunk] = []
        var tsn = TSN(100)
        for _ in 0..<10_000 {
            guard let cut = queue.nextChunk(tsn: tsn, maxPayloadSize: size) else { break }
            #expect(queue.checkInvariants() == [])
            cuts.append(cut)
            tsn = tsn.next
        }
        return cuts
    }

    @Test("round robin per chunk: two streams' messages alternate chunk by chunk; MIDs per stream and ordering, FSNs from 0")
    func roundRobinPerChunk() throws {
        var queue = SendQueue(outboundStreamCount: 4)
        queue.setInterleaving(true)
        try queue.enqueue(Self.message(1, 300))
        try queue.enqueue(Self.message(2, 300))
        try queue.enqueue(Self.message(2, 100, unordered: true))
        try queue.enqueue(Self.message(1, 100))
        let cuts = Self.cutAll(&queue, size: 100)
        #expect(cuts.map(\.chunk.streamIdentifier) == [1, 2, 1, 2, 1, 2, 1, 2])
        let stream1 = cuts.filter { $0.chunk.streamIdentifier == 1 }
        #expect(stream1.map(\.mid) == [MID(0), MID(0), MID(0), MID(1)])
        #expect(stream1.map(\.fsn) == [0, 1, 2, 0])
        #expect(stream1.map { $0.chunk.dataFlags.contains(.beginning) } == [true, false, false, true])
        #expect(stream1.map { $0.chunk.dataFlags.contains(.ending) } == [false, false, true, true])
        let unordered = cuts.filter { $0.chunk.dataFlags.contains(.unordered) }
        #expect(unordered.map(\.mid) == [MID(0)])  // its own counter
        #expect(queue.nextMID(for: 2, unordered: false) == MID(1))
        #expect(queue.nextMID(for: 2, unordered: true) == MID(1))
        #expect(queue.isEmpty && queue.queuedBytes == 0)
    }

    @Test("priority: a small high-priority message queued behind a large one in progress goes at the next chunk")
    func priorityInterrupts() throws {
        var queue = SendQueue(outboundStreamCount: 4, scheduler: .priority)
        queue.setInterleaving(true)
        try queue.setSchedulerValue(5, for: 1)
        try queue.setSchedulerValue(0, for: 2)
        try queue.enqueue(Self.message(1, 100_000))
        var tsn = TSN(1)
        for _ in 0..<3 {
            #expect(queue.nextChunk(tsn: tsn, maxPayloadSize: 1000)?.chunk.streamIdentifier == 1)
            tsn = tsn.next
        }
        try queue.enqueue(Self.message(2, 50))
        #expect(queue.nextMessageRemainingBytes == 50)
        #expect(queue.nextChunk(tsn: tsn, maxPayloadSize: 1000)?.chunk.streamIdentifier == 2)
        #expect(queue.nextChunk(tsn: tsn.next, maxPayloadSize: 1000)?.fsn == 3)
        #expect(queue.checkInvariants() == [])
    }

    @Test("a scheduler switch keeps messages in progress; giving up a message in progress drops its rest; removeAll reports it")
    func switchAbandonRemove() throws {
        var queue = SendQueue(outboundStreamCount: 4)
        queue.setInterleaving(true)
        try queue.enqueue(Self.message(1, 3000))
        try queue.enqueue(Self.message(2, 3000))
        try queue.enqueue(Self.message(3, 10))
        _ = queue.nextChunk(tsn: TSN(1), maxPayloadSize: 1000)
        _ = queue.nextChunk(tsn: TSN(2), maxPayloadSize: 1000)
        queue.setScheduler(.firstComeFirstServed)
        #expect(queue.checkInvariants() == [])
        let abandoned = queue.abandonMessage(stream: 1, isUnordered: false, mid: MID(0))
        #expect(abandoned?.sentBytes == 1000)
        #expect(queue.abandonMessage(stream: 2, isUnordered: false, mid: MID(7)) == nil)
        #expect(queue.queuedBytes == 2010)
        #expect(queue.checkInvariants() == [])
        let (partly, unsent) = queue.removeAllInterleaved()
        #expect(partly.map(\.streamIdentifier) == [2])
        #expect(unsent.map(\.streamIdentifier) == [3])
        #expect(queue.isEmpty && queue.checkInvariants() == [])
    }

    @Test("RFC 6525: resetting a stream's sequence numbers sets both MID counters back to 0")
    func resetMIDs() throws {
        var queue = SendQueue(outboundStreamCount: 4)
        queue.setInterleaving(true)
        try queue.enqueue(Self.message(1, 10))
        try queue.enqueue(Self.message(1, 10, unordered: true))
        _ = Self.cutAll(&queue, size: 100)
        #expect(queue.nextMID(for: 1, unordered: false) == MID(1) && queue.nextMID(for: 1, unordered: true) == MID(1))
        queue.resetSequenceNumbers(of: [1])
        #expect(queue.nextMID(for: 1, unordered: false) == MID(0) && queue.nextMID(for: 1, unordered: true) == MID(0))
    }
}
