import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

@Suite("send queue")
struct SendQueueTests {
    typealias S = SendTestSupport

    /// Takes every chunk, numbering TSNs from `firstTSN`.
    private func drain(_ queue: inout SendQueue, size: Int, firstTSN: UInt32 = 1) -> [DataChunk] {
        var chunks: [DataChunk] = []
        var tsn = TSN(firstTSN)
        while let chunk = queue.nextChunk(tsn: tsn, maxPayloadSize: size)?.chunk {
            chunks.append(chunk)
            tsn = tsn.next
        }
        return chunks
    }

    @Test("a message of exactly k fragments: B on the first, E on the last, none between")
    func exactMultiple() throws {
        var queue = SendQueue(outboundStreamCount: 4)
        try queue.enqueue(S.message(stream: 1, size: 3000))
        #expect(queue.queuedBytes == 3000)
        let chunks = drain(&queue, size: 1000, firstTSN: 7)
        #expect(chunks.map(\.dataFlags) == [[.beginning], [], [.ending]])
        #expect(chunks.map(\.payload.readableBytes) == [1000, 1000, 1000])
        #expect(chunks.map(\.tsn) == [TSN(7), TSN(8), TSN(9)])
        #expect(chunks.allSatisfy { $0.streamIdentifier == 1 && $0.payloadProtocolIdentifier == 51 })
        var joined = ByteBufferAllocator().buffer(capacity: 3000)
        for chunk in chunks { joined.writeImmutableBuffer(chunk.payload) }
        #expect(joined == S.bytes(3000))
        #expect(queue.isEmpty && queue.queuedBytes == 0)
    }

    @Test("one byte more than k fragments makes a last fragment of one byte")
    func oneByteMore() throws {
        var queue = SendQueue(outboundStreamCount: 1)
        try queue.enqueue(S.message(stream: 0, size: 3001))
        let chunks = drain(&queue, size: 1000)
        #expect(chunks.map(\.payload.readableBytes) == [1000, 1000, 1000, 1])
        #expect(chunks.map(\.dataFlags) == [[.beginning], [], [], [.ending]])
        #expect(chunks[3].payload.getInteger(at: chunks[3].payload.readerIndex, as: UInt8.self) == UInt8(3000 % 256))
    }

    @Test("a message that fits is one chunk with B and E")
    func unfragmented() throws {
        var queue = SendQueue(outboundStreamCount: 1)
        try queue.enqueue(S.message(stream: 0, size: 1000))
        let chunks = drain(&queue, size: 1000)
        #expect(chunks.count == 1)
        #expect(chunks[0].dataFlags == .complete)
    }

    @Test("a message cut whole carries its readable bytes only, B and E, its SSN, PPID and policy; expired heads are dropped first and take no SSN")
    func wholeMessageFromTheQueue() throws {
        var queue = SendQueue(outboundStreamCount: 2)
        // A payload whose reader index is not 0 and with room after its bytes.
        var payload = ByteBufferAllocator().buffer(capacity: 64)
        payload.writeBytes([9, 9, 9, 1, 2, 3, 4, 5])
        payload.moveReaderIndex(forwardBy: 3)
        var expiring = S.message(stream: 1, size: 10)
        expiring.expiry = SCTPInstant(nanoseconds: 1_000)
        try queue.enqueue(expiring)
        var timed = OutgoingMessage(streamIdentifier: 1, payloadProtocolIdentifier: 77, context: 5, payload: payload)
        timed.expiry = SCTPInstant(nanoseconds: 5_000)
        try queue.enqueue(timed)
        try queue.enqueue(S.message(stream: 1, size: 30, unordered: true, immediate: true))
        try queue.enqueue(S.message(stream: 1, size: 25))

        let cutFirst = queue.nextChunk(tsn: TSN(3), maxPayloadSize: 100, now: SCTPInstant(nanoseconds: 2_000))
        let first = try #require(cutFirst)
        #expect(queue.takeExpired().map(\.payload) == [S.bytes(10)])
        #expect(first.chunk.payload == ByteBuffer(bytes: [1, 2, 3, 4, 5]))
        #expect(first.chunk.dataFlags == .complete && first.chunk.tsn == TSN(3))
        #expect(first.chunk.ssn == SSN(0) && first.chunk.payloadProtocolIdentifier == 77 && first.chunk.streamIdentifier == 1)
        #expect(first.policy.expiry == SCTPInstant(nanoseconds: 5_000) && first.policy.context == 5)
        let cutSecond = queue.nextChunk(tsn: TSN(4), maxPayloadSize: 100)
        let second = try #require(cutSecond)
        #expect(second.chunk.dataFlags == [.beginning, .ending, .unordered, .immediate] && second.chunk.ssn == SSN(0))
        #expect(second.chunk.payload == S.bytes(30))
        // Larger than a chunk: fragmented as before, with the next SSN.
        let pieces = drain(&queue, size: 10, firstTSN: 5)
        #expect(pieces.map(\.dataFlags) == [[.beginning], [], [.ending]])
        #expect(pieces.allSatisfy { $0.ssn == SSN(1) })
        #expect(queue.isEmpty && queue.queuedBytes == 0 && queue.nextSSN(for: 1) == SSN(2))
    }

    @Test("fragments are slices of the message's storage, not copies")
    func noCopy() throws {
        var queue = SendQueue(outboundStreamCount: 1)
        let message = S.message(stream: 0, size: 2500)
        let base = message.payload.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        try queue.enqueue(message)
        let chunks = drain(&queue, size: 1000)
        let addresses = chunks.map { chunk in chunk.payload.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } }
        #expect(addresses == [base, base + 1000, base + 2000])
    }

    @Test("the fragment size may change from call to call; the message is cut lazily")
    func lazyFragmentation() throws {
        var queue = SendQueue(outboundStreamCount: 1)
        try queue.enqueue(S.message(stream: 0, size: 1000))
        #expect(queue.nextMessageRemainingBytes == 1000)
        let takenFirst = queue.nextChunk(tsn: TSN(1), maxPayloadSize: 300)?.chunk
        let first = try #require(takenFirst)
        #expect(queue.isFragmentingMessage)
        #expect(queue.nextMessageRemainingBytes == 700)
        #expect(queue.queuedBytes == 700)
        let takenSecond = queue.nextChunk(tsn: TSN(2), maxPayloadSize: 5000)?.chunk
        let second = try #require(takenSecond)
        #expect(first.dataFlags == .beginning && second.dataFlags == .ending)
        #expect(second.payload.readableBytes == 700)
        #expect(!queue.isFragmentingMessage && queue.nextMessageRemainingBytes == nil)
    }

    @Test("a non-positive size gives nothing and consumes nothing")
    func zeroSize() throws {
        var queue = SendQueue(outboundStreamCount: 1)
        try queue.enqueue(S.message(stream: 0, size: 10))
        let check87 = queue.nextChunk(tsn: TSN(1), maxPayloadSize: 0)?.chunk == nil
        #expect(check87)
        #expect(queue.queuedBytes == 10 && !queue.isFragmentingMessage)
        let check89 = queue.nextChunk(tsn: TSN(1), maxPayloadSize: 10)?.chunk.dataFlags == .complete
        #expect(check89)
    }

    @Test("an empty message is refused")
    func emptyMessage() {
        var queue = SendQueue(outboundStreamCount: 1)
        #expect(throws: SendQueueError.emptyMessage) {
            try queue.enqueue(S.message(stream: 0, size: 0))
        }
        #expect(queue.isEmpty)
    }

    @Test("SSNs count per ordered stream; every fragment of a message carries its SSN")
    func ssnPerStream() throws {
        var queue = SendQueue(outboundStreamCount: 3)
        try queue.enqueue(S.message(stream: 0, size: 10))
        try queue.enqueue(S.message(stream: 0, size: 2500))
        try queue.enqueue(S.message(stream: 0, size: 10, unordered: true))
        try queue.enqueue(S.message(stream: 0, size: 10))
        try queue.enqueue(S.message(stream: 2, size: 10))
        let chunks = drain(&queue, size: 1000)
        let summary = chunks.map { "\($0.streamIdentifier):\($0.ssn.rawValue)\($0.dataFlags.contains(.unordered) ? "u" : "")" }
        // Stream 0's first message, then stream 2's (round robin), then the rest of stream 0.
        #expect(summary == ["0:0", "2:0", "0:1", "0:1", "0:1", "0:0u", "0:2"])
        #expect(queue.nextSSN(for: 0) == SSN(3))
        #expect(queue.nextSSN(for: 1) == SSN(0))
        #expect(queue.nextSSN(for: 2) == SSN(1))
    }

    @Test("unordered messages carry SSN 0 and the U bit on every fragment and take no number")
    func unordered() throws {
        var queue = SendQueue(outboundStreamCount: 1)
        try queue.enqueue(S.message(stream: 0, size: 10))
        try queue.enqueue(S.message(stream: 0, size: 1500, unordered: true))
        let chunks = drain(&queue, size: 1000)
        #expect(chunks.count == 3)
        #expect(chunks[1].dataFlags == [.beginning, .unordered] && chunks[2].dataFlags == [.ending, .unordered])
        #expect(chunks[1].ssn == SSN(0) && chunks[2].ssn == SSN(0))
        #expect(queue.nextSSN(for: 0) == SSN(1))
    }

    @Test("the SSN wraps from 65535 to 0")
    func ssnWrap() throws {
        var queue = SendQueue(outboundStreamCount: 2)
        var tsn = TSN(0xFFFF_FFF0)
        var ssns: [UInt16] = []
        var tsnsInOrder = true
        for _ in 0...65536 {
            try queue.enqueue(S.message(stream: 1, size: 1))
            guard let chunk = queue.nextChunk(tsn: tsn, maxPayloadSize: 100)?.chunk else { break }
            tsnsInOrder = tsnsInOrder && chunk.tsn == tsn
            tsn = tsn.next
            ssns.append(chunk.ssn.rawValue)
        }
        #expect(tsnsInOrder && ssns.count == 65537)
        #expect(ssns[0] == 0 && ssns[65534] == 65534 && ssns[65535] == 65535 && ssns[65536] == 0)
        #expect(queue.nextSSN(for: 1) == SSN(1) && queue.nextSSN(for: 0) == SSN(0))
    }

    @Test("streams take turns one message at a time")
    func roundRobin() throws {
        var queue = SendQueue(outboundStreamCount: 10)
        for stream: UInt16 in [3, 7, 5] {
            for _ in 0..<3 { try queue.enqueue(S.message(stream: stream, size: 10)) }
        }
        let order = drain(&queue, size: 100).map(\.streamIdentifier)
        #expect(order == [3, 7, 5, 3, 7, 5, 3, 7, 5])
    }

    @Test("a fragmented message is not interleaved with other streams' messages")
    func noInterleaving() throws {
        var queue = SendQueue(outboundStreamCount: 2)
        try queue.enqueue(S.message(stream: 0, size: 300))
        try queue.enqueue(S.message(stream: 1, size: 10))
        let firstChunk = queue.nextChunk(tsn: TSN(1), maxPayloadSize: 100)?.chunk
        var chunks: [DataChunk] = [try #require(firstChunk)]
        // Messages queued in the middle of the fragmented one wait for their turn.
        try queue.enqueue(S.message(stream: 0, size: 10))
        try queue.enqueue(S.message(stream: 1, size: 10))
        chunks += drain(&queue, size: 100, firstTSN: 2)
        #expect(chunks.map(\.streamIdentifier) == [0, 0, 0, 1, 0, 1])
        #expect(chunks.map(\.ssn.rawValue) == [0, 0, 0, 0, 1, 1])
    }

    @Test("a stream that runs dry and is used again joins the end of the round")
    func rejoin() throws {
        var queue = SendQueue(outboundStreamCount: 3)
        try queue.enqueue(S.message(stream: 0, size: 10))
        try queue.enqueue(S.message(stream: 1, size: 10))
        try queue.enqueue(S.message(stream: 1, size: 10))
        let check179 = queue.nextChunk(tsn: TSN(1), maxPayloadSize: 100)?.chunk.streamIdentifier == 0
        #expect(check179)
        try queue.enqueue(S.message(stream: 0, size: 10))
        try queue.enqueue(S.message(stream: 2, size: 10))
        #expect(drain(&queue, size: 100, firstTSN: 2).map(\.streamIdentifier) == [1, 0, 2, 1])
    }

    @Test("the byte limit refuses what does not fit now, and a message larger than the whole queue")
    func byteLimit() throws {
        var queue = SendQueue(outboundStreamCount: 1, configuration: .init(maxQueuedBytes: 100))
        try queue.enqueue(S.message(stream: 0, size: 60))
        #expect(throws: SendQueueError.queueFull(queuedBytes: 60, messageSize: 50, limit: 100)) {
            try queue.enqueue(S.message(stream: 0, size: 50))
        }
        try queue.enqueue(S.message(stream: 0, size: 40))
        #expect(queue.queuedBytes == 100 && queue.queuedMessageCount == 2)
        #expect(throws: SendQueueError.messageTooLarge(size: 101, limit: 100)) {
            try queue.enqueue(S.message(stream: 0, size: 101))
        }
        // Cutting chunks frees room.
        _ = queue.nextChunk(tsn: TSN(1), maxPayloadSize: 50)?.chunk
        try queue.enqueue(S.message(stream: 0, size: 50))
        #expect(queue.queuedBytes == 100)
    }

    @Test("a stream at or above the outbound stream count is refused")
    func streamLimit() throws {
        var queue = SendQueue(outboundStreamCount: 2)
        try queue.enqueue(S.message(stream: 1, size: 1))
        #expect(throws: SendQueueError.invalidStream(streamIdentifier: 2, outboundStreams: 2)) {
            try queue.enqueue(S.message(stream: 2, size: 1))
        }
        var all = SendQueue(outboundStreamCount: 65536)
        try all.enqueue(S.message(stream: 65535, size: 1))
        #expect(all.queuedMessageCount == 1)
    }

    @Test("lowering the stream count returns the messages of the streams that went away")
    func shrinkStreams() throws {
        var queue = SendQueue(outboundStreamCount: 10)
        try queue.enqueue(S.message(stream: 1, size: 10))
        try queue.enqueue(S.message(stream: 8, size: 20))
        try queue.enqueue(S.message(stream: 5, size: 30))
        try queue.enqueue(S.message(stream: 8, size: 40))
        let removed = queue.setOutboundStreamCount(5)
        #expect(removed.map(\.streamIdentifier) == [5, 8, 8])
        #expect(removed.map(\.payload.readableBytes) == [30, 20, 40])
        #expect(queue.queuedBytes == 10 && queue.queuedMessageCount == 1)
        #expect(drain(&queue, size: 100).map(\.streamIdentifier) == [1])
        #expect(throws: SendQueueError.invalidStream(streamIdentifier: 5, outboundStreams: 5)) {
            try queue.enqueue(S.message(stream: 5, size: 1))
        }
    }

    @Test("the I bit: on the chunk that drains the queue when enabled, and on a message's last fragment when asked")
    func immediateBit() throws {
        var plain = SendQueue(outboundStreamCount: 2)
        try plain.enqueue(S.message(stream: 0, size: 150))
        #expect(drain(&plain, size: 100).allSatisfy { !$0.dataFlags.contains(.immediate) })

        var queue = SendQueue(outboundStreamCount: 2, configuration: .init(setsImmediateAckWhenDrained: true))
        try queue.enqueue(S.message(stream: 0, size: 150))
        try queue.enqueue(S.message(stream: 1, size: 150))
        let chunks = drain(&queue, size: 100)
        #expect(chunks.map { $0.dataFlags.contains(.immediate) } == [false, false, false, true])

        // An expired head dropped first: the message cut whole after it drains the queue.
        var afterExpiry = SendQueue(outboundStreamCount: 2, configuration: .init(setsImmediateAckWhenDrained: true))
        var expiring = S.message(stream: 0, size: 10)
        expiring.expiry = SCTPInstant(nanoseconds: 1_000)
        try afterExpiry.enqueue(expiring)
        try afterExpiry.enqueue(S.message(stream: 0, size: 50))
        let cut = afterExpiry.nextChunk(tsn: TSN(1), maxPayloadSize: 100, now: SCTPInstant(nanoseconds: 2_000))
        let last = try #require(cut)
        #expect(afterExpiry.takeExpired().count == 1)
        #expect(last.chunk.dataFlags.contains(.immediate) && last.chunk.dataFlags.contains(.ending))

        var asked = SendQueue(outboundStreamCount: 2)
        try asked.enqueue(S.message(stream: 0, size: 150, immediate: true))
        try asked.enqueue(S.message(stream: 1, size: 50))
        #expect(drain(&asked, size: 100).map { $0.dataFlags.contains(.immediate) } == [false, true, false])
    }

    @Test("SSNs of reset streams start again at 0")
    func resetSequenceNumbers() throws {
        var queue = SendQueue(outboundStreamCount: 3)
        for stream: UInt16 in [0, 1, 0] { try queue.enqueue(S.message(stream: stream, size: 1)) }
        _ = drain(&queue, size: 10)
        queue.resetSequenceNumbers(of: [0, 2])
        #expect(queue.nextSSN(for: 0) == SSN(0) && queue.nextSSN(for: 1) == SSN(1))
    }

    @Test("removeAll hands back the partly sent message and the unsent ones")
    func removeAll() throws {
        var queue = SendQueue(outboundStreamCount: 3)
        try queue.enqueue(S.message(stream: 0, size: 300))
        try queue.enqueue(S.message(stream: 0, size: 1))
        try queue.enqueue(S.message(stream: 2, size: 2))
        _ = queue.nextChunk(tsn: TSN(1), maxPayloadSize: 100)?.chunk
        let (partial, unsent) = queue.removeAll()
        #expect(partial?.payload.readableBytes == 300)
        #expect(unsent.map(\.payload.readableBytes) == [1, 2])
        let check269 = queue.isEmpty && queue.queuedBytes == 0 && queue.nextChunk(tsn: TSN(2), maxPayloadSize: 100)?.chunk == nil
        #expect(check269)
        // The SSN state survives: the next message on stream 0 continues the numbering.
        try queue.enqueue(S.message(stream: 0, size: 1))
        let check272 = queue.nextChunk(tsn: TSN(2), maxPayloadSize: 100)?.chunk.ssn == SSN(1)
        #expect(check272)
    }
}
