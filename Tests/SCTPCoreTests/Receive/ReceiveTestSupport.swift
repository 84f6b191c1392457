import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

/// Helpers for the receive-side tests (namespaced so they cannot clash with other suites).
enum RxSupport {
    /// Deterministic bytes: `count` bytes derived from `seed`.
    static func bytes(_ count: Int, seed: UInt32) -> ByteBuffer {
        var x = seed &* 2_654_435_761 &+ 1
        var bytes = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            x = x &* 1_103_515_245 &+ 12_345
            bytes[i] = UInt8(truncatingIfNeeded: x >> 16)
        }
        return ByteBufferAllocator().buffer(bytes: bytes)
    }

    /// A DATA chunk.
    static func chunk(tsn: UInt32, stream: UInt16 = 0, ssn: UInt16 = 0, flags: DataFlags = .complete,
                      ppid: UInt32 = 0, payload: ByteBuffer? = nil) -> DataChunk {
        DataChunk(flags: flags, tsn: TSN(tsn), streamIdentifier: stream, ssn: SSN(ssn),
                  payloadProtocolIdentifier: ppid, payload: payload ?? bytes(8, seed: tsn))
    }

    /// A user message as the test's sender knows it.
    struct Message: Hashable {
        var id: UInt32
        var stream: UInt16
        var unordered: Bool
        var ssn: UInt16
        var ppid: UInt32
        var payload: ByteBuffer
    }

    /// A message whose payload starts with its id (4 bytes), then `size - 4` bytes.
    static func message(id: UInt32, stream: UInt16, unordered: Bool = false, ssn: UInt16, size: Int) -> Message {
        var payload = ByteBufferAllocator().buffer(capacity: size)
        payload.writeInteger(id)
        var rest = bytes(max(size - 4, 0), seed: id)
        payload.writeBuffer(&rest)
        return Message(id: id, stream: stream, unordered: unordered, ssn: ssn, ppid: 1000 + id, payload: payload)
    }

    /// The DATA chunks of `message` with consecutive TSNs from `firstTSN`, each carrying at
    /// most `fragmentSize` bytes. Slices share the message's storage, as a datagram would.
    static func fragments(of message: Message, firstTSN: TSN, fragmentSize: Int) -> [DataChunk] {
        var chunks: [DataChunk] = []
        var offset = 0
        let total = message.payload.readableBytes
        var tsn = firstTSN
        repeat {
            let length = min(fragmentSize, total - offset)
            var flags: DataFlags = message.unordered ? [.unordered] : []
            if offset == 0 { flags.insert(.beginning) }
            if offset + length == total { flags.insert(.ending) }
            let slice = message.payload.getSlice(at: message.payload.readerIndex + offset, length: length)!
            chunks.append(DataChunk(flags: flags, tsn: tsn, streamIdentifier: message.stream, ssn: SSN(message.ssn),
                                    payloadProtocolIdentifier: message.ppid, payload: slice))
            offset += length
            tsn = tsn.next
        } while offset < total
        return chunks
    }

    /// Everything the queue has to hand out.
    static func drain(_ queue: inout ReassemblyQueue) -> [ReassemblyOutput] {
        var out: [ReassemblyOutput] = []
        while let o = queue.poll() { out.append(o) }
        return out
    }

    /// Only the messages (and pieces) among `outputs`.
    static func messages(_ outputs: [ReassemblyOutput]) -> [ReceivedMessage] {
        outputs.compactMap { if case .message(let m) = $0 { m } else { nil } }
    }

    /// Every permutation of `0..<n` (Heap's algorithm).
    static func permutations(_ n: Int) -> [[Int]] {
        var a = Array(0..<n)
        var result: [[Int]] = [a]
        var c = [Int](repeating: 0, count: n)
        var i = 0
        while i < n {
            if c[i] < i {
                if i % 2 == 0 { a.swapAt(0, i) } else { a.swapAt(c[i], i) }
                result.append(a)
                c[i] += 1
                i = 0
            } else {
                c[i] = 0
                i += 1
            }
        }
        return result
    }

    /// A uniform draw in `0..<n`.
    static func draw(_ n: Int, _ rng: inout SeededRandomSource) -> Int {
        Int(rng.nextUInt64() % UInt64(n))
    }

    /// A draw that is true with probability `p`.
    static func chance(_ p: Double, _ rng: inout SeededRandomSource) -> Bool {
        Double(rng.nextUInt64() >> 11) / Double(1 << 53) < p
    }

    /// Fisher–Yates.
    static func shuffle<T>(_ a: inout [T], _ rng: inout SeededRandomSource) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, draw(i + 1, &rng)) }
    }

    /// Checks what a receiver hands out against what was sent: each message exactly once,
    /// bytes identical, ordered messages in SSN order per stream, pieces of a partial
    /// delivery contiguous within their stream and ending in a complete piece.
    struct DeliveryChecker {
        let expected: [UInt32: Message]
        /// Per stream, the ids of ordered messages in sending (SSN) order.
        let orderedIDs: [UInt16: [UInt32]]
        /// Messages the sender abandoned (PR-SCTP): they may be missing, never duplicated.
        var mayBeMissing: Set<UInt32> = []
        var delivered: Set<UInt32> = []
        var orderedPosition: [UInt16: Int] = [:]
        var partial: [UInt16: (first: ReceivedMessage, bytes: ByteBuffer, lastTSN: TSN)] = [:]
        var pieces = 0
        var aborts = 0
        var failures: [String] = []

        init(_ messages: [Message]) {
            var byID: [UInt32: Message] = [:]
            var ordered: [UInt16: [UInt32]] = [:]
            for m in messages {
                byID[m.id] = m
                if !m.unordered { ordered[m.stream, default: []].append(m.id) }
            }
            expected = byID
            orderedIDs = ordered
        }

        mutating func fail(_ text: String) { if failures.count < 20 { failures.append(text) } }

        mutating func take(_ output: ReassemblyOutput) {
            switch output {
            case .partialDeliveryAborted(let abort):
                aborts += 1
                if let p = partial.removeValue(forKey: abort.streamIdentifier) {
                    let id = p.bytes.getInteger(at: p.bytes.readerIndex, as: UInt32.self) ?? .max
                    if !mayBeMissing.contains(id) { fail("partial delivery of message \(id) aborted but it was not abandoned") }
                } else {
                    fail("abort on stream \(abort.streamIdentifier) without a partial delivery")
                }
            case .message(let m):
                if var p = partial[m.streamIdentifier] {
                    pieces += 1
                    guard m.firstTSN == p.lastTSN.next, m.isUnordered == p.first.isUnordered, m.ssn == p.first.ssn else {
                        fail("stream \(m.streamIdentifier): TSN \(m.firstTSN) interrupts a partial delivery ending at \(p.lastTSN)")
                        return
                    }
                    var payload = m.payload
                    p.bytes.writeBuffer(&payload)
                    p.lastTSN = m.lastTSN
                    if m.isComplete {
                        partial[m.streamIdentifier] = nil
                        var whole = p.first
                        whole.payload = p.bytes
                        whole.lastTSN = m.lastTSN
                        whole.isComplete = true
                        complete(whole)
                    } else {
                        partial[m.streamIdentifier] = p
                    }
                } else if m.isComplete {
                    complete(m)
                } else {
                    pieces += 1
                    partial[m.streamIdentifier] = (m, m.payload, m.lastTSN)
                }
            }
        }

        private mutating func complete(_ m: ReceivedMessage) {
            guard m.payload.readableBytes >= 4, let id = m.payload.getInteger(at: m.payload.readerIndex, as: UInt32.self),
                  let sent = expected[id] else {
                fail("unknown message delivered on stream \(m.streamIdentifier)")
                return
            }
            guard delivered.insert(id).inserted else {
                fail("message \(id) delivered twice")
                return
            }
            if m.payload != sent.payload { fail("message \(id): bytes differ") }
            if m.streamIdentifier != sent.stream || m.isUnordered != sent.unordered || m.payloadProtocolIdentifier != sent.ppid {
                fail("message \(id): metadata differs")
            }
            if !sent.unordered {
                if m.ssn.rawValue != sent.ssn { fail("message \(id): SSN \(m.ssn) instead of \(sent.ssn)") }
                // In order; only abandoned messages may be skipped.
                let position = orderedPosition[sent.stream, default: 0]
                let ids = orderedIDs[sent.stream] ?? []
                if let index = ids[position...].firstIndex(of: id),
                   ids[position..<index].allSatisfy({ mayBeMissing.contains($0) }) {
                    orderedPosition[sent.stream] = index + 1
                } else {
                    fail("message \(id) on stream \(sent.stream) out of SSN order")
                }
            }
        }

        /// Messages that should have arrived and did not.
        var missing: [UInt32] { expected.keys.filter { !delivered.contains($0) && !mayBeMissing.contains($0) }.sorted() }
    }

    /// Messages over `streams` streams (about a quarter unordered when `unorderedShare` says
    /// so), sizes `1 ... maxSize` (at least 4), SSNs per ordered stream from `firstSSN`, and
    /// their chunks in TSN order from `initialTSN`.
    static func scenario(seed: UInt64, messageCount: Int, streams: UInt16, maxSize: Int, fragmentSize: Int,
                         initialTSN: TSN, unorderedShare: Double = 0.25,
                         firstSSN: UInt16 = 0) -> (messages: [Message], chunks: [DataChunk]) {
        var rng = SeededRandomSource(seed: seed)
        var nextSSN: [UInt16: UInt16] = [:]
        var messages: [Message] = []
        var chunks: [DataChunk] = []
        var tsn = initialTSN
        for i in 0..<messageCount {
            let stream = UInt16(draw(Int(streams), &rng))
            let unordered = chance(unorderedShare, &rng)
            let size = 4 + draw(max(maxSize - 3, 1), &rng)
            var ssn: UInt16 = 0
            if !unordered {
                ssn = nextSSN[stream, default: firstSSN]
                nextSSN[stream] = ssn &+ 1
            }
            let m = message(id: UInt32(i), stream: stream, unordered: unordered, ssn: ssn, size: size)
            messages.append(m)
            let f = fragments(of: m, firstTSN: tsn, fragmentSize: fragmentSize)
            chunks += f
            tsn = tsn.advanced(by: UInt32(f.count))
        }
        return (messages, chunks)
    }
}

extension RxSupport {
    /// A reassembly queue fed the way the association feeds it: the tracker says whether
    /// a TSN is new and gives the cumulative point; the chunk is recorded only if taken.
    struct Harness {
        var tracker: DataTracker
        var queue: ReassemblyQueue

        init(initialTSN: UInt32 = 1, streams: UInt16 = 16,
             configuration: ReassemblyQueue.Configuration = ReassemblyQueue.Configuration()) {
            tracker = DataTracker(peerInitialTSN: TSN(initialTSN), configuration: .init(maxTSNWindow: 1 << 20))
            queue = ReassemblyQueue(inboundStreamCount: streams, configuration: configuration)
        }

        @discardableResult
        mutating func insert(_ chunk: DataChunk) -> ReassemblyQueue.InsertResult {
            guard tracker.classify(chunk.tsn) == .new else { return .duplicate }
            let result = queue.insert(chunk, cumulativeTSN: tracker.cumulativeTSN(afterReceiving: chunk.tsn))
            if result == .accepted { tracker.observe(chunk.tsn) }
            return result
        }

        mutating func forward(to tsn: UInt32, _ skipped: [(UInt16, UInt16)] = []) {
            if tracker.handleForwardTSN(newCumulativeTSN: TSN(tsn)) == .advanced {
                queue.handleForwardTSN(newCumulativeTSN: tracker.cumulativeTSN,
                                       skippedStreams: skipped.map { .init(streamIdentifier: $0.0, ssn: SSN($0.1)) })
            }
        }

        mutating func drain() -> [ReassemblyOutput] { RxSupport.drain(&queue) }
        mutating func drainMessages() -> [ReceivedMessage] { RxSupport.messages(drain()) }
    }
}
