import NIOCore
import SCTPSimulation
import SCTPWire
import Testing
@testable import SCTPCore

/// RFC 8260 §3: each scheduler's order, read straight from the send queue. Every expected
/// order differs from what the default round robin per message gives for the same queue
/// (checked by `differsFromRoundRobin`), so a scheduler that fell back to it would fail.
@Suite("stream schedulers (RFC 8260 §3)")
struct StreamSchedulerTests {
    typealias S = SendTestSupport

    /// A queue with `scheduler` and the messages `(stream, size)` queued in that order.
    static func queue(_ scheduler: StreamSchedulerKind, streams: Int = 10, values: [UInt16: UInt16] = [:],
                      messages: [(UInt16, Int)]) throws -> SendQueue {
        var queue = SendQueue(outboundStreamCount: streams, scheduler: scheduler)
        for (stream, value) in values { try queue.setSchedulerValue(value, for: stream) }
        for (index, (stream, size)) in messages.enumerated() {
            try queue.enqueue(S.message(stream: stream, size: size, first: UInt8(truncatingIfNeeded: index)))
        }
        #expect(queue.checkInvariants() == [])
        return queue
    }

    /// Takes every chunk (at most `size` bytes each); the invariants hold after each.
    static func drain(_ queue: inout SendQueue, size: Int = 10_000, tsn: UInt32 = 1) -> [DataChunk] {
        var chunks: [DataChunk] = []
        var next = TSN(tsn)
        while let chunk = queue.nextChunk(tsn: next, maxPayloadSize: size)?.chunk {
            chunks.append(chunk)
            next = next.next
            let violations = queue.checkInvariants()
            #expect(violations == [], "\(violations)")
        }
        return chunks
    }

    /// The streams of the messages, in the order their first chunks were cut.
    static func order(_ chunks: [DataChunk]) -> [UInt16] {
        chunks.filter { $0.dataFlags.contains(.beginning) }.map(\.streamIdentifier)
    }

    /// The order the default scheduler would give for the same queue.
    static func roundRobinOrder(messages: [(UInt16, Int)]) throws -> [UInt16] {
        var queue = try queue(.roundRobin, messages: messages)
        return order(drain(&queue))
    }

    static func expectOrder(_ kind: StreamSchedulerKind, values: [UInt16: UInt16] = [:], messages: [(UInt16, Int)],
                            _ expected: [UInt16], sourceLocation: SourceLocation = #_sourceLocation) throws {
        var queue = try queue(kind, values: values, messages: messages)
        let got = order(drain(&queue))
        #expect(got == expected, "\(kind)", sourceLocation: sourceLocation)
        #expect(try roundRobinOrder(messages: messages) != expected, "differsFromRoundRobin", sourceLocation: sourceLocation)
        #expect(queue.isEmpty && queue.queuedBytes == 0, sourceLocation: sourceLocation)
    }

    @Test("the option values are usrsctp's SCTP_SS_* numbers; 0 is the default; names round-trip")
    func numbering() {
        #expect(StreamSchedulerKind(optionValue: 0) == .roundRobin)
        #expect(StreamSchedulerKind.allCases.map(\.rawValue) == [1, 2, 3, 4, 5, 6])
        #expect(StreamSchedulerKind(optionValue: 7) == nil)
        for kind in StreamSchedulerKind.allCases { #expect(StreamSchedulerKind(name: kind.name) == kind) }
        #expect(SendQueue(outboundStreamCount: 1).schedulerKind == .roundRobin)
    }

    @Test("first come, first served: messages leave in the order they were queued, whatever the stream")
    func firstComeFirstServed() throws {
        try Self.expectOrder(.firstComeFirstServed, messages: [(1, 10), (2, 10), (1, 10), (1, 10), (3, 10), (2, 10)],
                             [1, 2, 1, 1, 3, 2])
    }

    @Test("priority: the lowest value first, equal values take turns per message, the default 0 is highest")
    func priority() throws {
        let messages: [(UInt16, Int)] = [(1, 10), (2, 10), (3, 10), (4, 10), (5, 10), (1, 10), (2, 10), (3, 10), (4, 10)]
        try Self.expectOrder(.priority, values: [1: 5, 2: 1, 3: 1, 4: 9], messages: messages,
                             [5, 2, 3, 2, 3, 1, 1, 4, 4])
    }

    @Test("priority with plain DATA: a higher-priority message queued during a fragmented one waits for its end")
    func priorityWaitsForMessageEnd() throws {
        var queue = try Self.queue(.priority, values: [1: 7, 2: 0], messages: [(1, 300), (1, 100)])
        let first = queue.nextChunk(tsn: TSN(1), maxPayloadSize: 100)?.chunk
        #expect(first?.streamIdentifier == 1)
        try queue.enqueue(S.message(stream: 2, size: 100))
        let rest = Self.drain(&queue, size: 100, tsn: 2)
        #expect(rest.map(\.streamIdentifier) == [1, 1, 2, 1])
    }

    @Test("fair capacity: the stream that sent the fewest bytes goes next")
    func fairCapacity() throws {
        // Stream 1 sends 1000-byte messages, stream 2 100-byte ones: 2 sends ten while 1 sends one.
        let messages = Array(repeating: (UInt16(1), 1000), count: 3) + Array(repeating: (UInt16(2), 100), count: 12)
        try Self.expectOrder(.fairCapacity, messages: messages,
                             [1] + Array(repeating: 2, count: 10) + [1, 2, 2, 1])
    }

    @Test("weighted fair queueing: a stream of weight 3 sends three times the bytes of one of weight 1")
    func weightedFairQueueing() throws {
        let messages = Array(repeating: (UInt16(1), 100), count: 12) + Array(repeating: (UInt16(2), 100), count: 4)
        var queue = try Self.queue(.weightedFairQueueing, values: [1: 3, 2: 1], messages: messages)
        let order = Self.order(Self.drain(&queue))
        #expect(Array(order.prefix(8)) == [1, 2, 1, 1, 1, 2, 1, 1])
        #expect(try Self.roundRobinOrder(messages: messages).prefix(8) != order.prefix(8))
        // Fair capacity ignores the weights: equal messages alternate.
        var fair = try Self.queue(.fairCapacity, values: [1: 3, 2: 1], messages: messages)
        #expect(Array(Self.order(Self.drain(&fair)).prefix(6)) == [1, 2, 1, 2, 1, 2])
    }

    @Test("round robin per packet: a stream fills the packet it starts; streams switch where packets start")
    func roundRobinPerPacket() throws {
        let messages = Array(repeating: (UInt16(1), 100), count: 4) + Array(repeating: (UInt16(2), 100), count: 4)
        for kind in [StreamSchedulerKind.roundRobinPerPacket, .roundRobin] {
            var queue = try Self.queue(kind, messages: messages)
            // Packets of three chunks.
            var packets: [[UInt16]] = []
            var tsn = TSN(1)
            while !queue.isEmpty {
                queue.packetDidEnd()
                var packet: [UInt16] = []
                while packet.count < 3, let chunk = queue.nextChunk(tsn: tsn, maxPayloadSize: 1000)?.chunk {
                    packet.append(chunk.streamIdentifier)
                    tsn = tsn.next
                }
                packets.append(packet)
                #expect(queue.checkInvariants() == [])
            }
            if kind == .roundRobinPerPacket {
                // The third packet: stream 1 runs dry after one chunk and stream 2 fills it.
                #expect(packets == [[1, 1, 1], [2, 2, 2], [1, 2]])
            } else {
                #expect(packets == [[1, 2, 1], [2, 1, 2], [1, 2]])
            }
        }
    }

    @Test("round robin per packet with plain DATA: the stream finishing its message at a packet's start owns that packet")
    func roundRobinPerPacketFragments() throws {
        var queue = try Self.queue(.roundRobinPerPacket, messages: [(1, 250), (1, 100), (2, 100), (2, 100)])
        var packets: [[UInt16]] = []
        var tsn = TSN(1)
        while !queue.isEmpty {
            queue.packetDidEnd()
            var packet: [UInt16] = []
            while packet.count < 2, let chunk = queue.nextChunk(tsn: tsn, maxPayloadSize: 100)?.chunk {
                packet.append(chunk.streamIdentifier)
                tsn = tsn.next
            }
            packets.append(packet)
        }
        // 250 bytes are three chunks: the second packet starts with the third and stream 1
        // keeps it for its next message.
        #expect(packets == [[1, 1], [1, 1], [2, 2]])
    }

    @Test("changing the scheduler keeps every message and each stream's order; the fragmented message finishes first")
    func switchScheduler() throws {
        let messages: [(UInt16, Int)] = [(3, 300), (1, 10), (2, 10), (1, 10), (3, 10), (2, 10), (1, 10)]
        var queue = try Self.queue(.roundRobin, values: [1: 2, 2: 1, 3: 3], messages: messages)
        let first = queue.nextChunk(tsn: TSN(1), maxPayloadSize: 100)?.chunk
        #expect(first?.streamIdentifier == 3)
        queue.setScheduler(.firstComeFirstServed)
        #expect(queue.schedulerKind == .firstComeFirstServed)
        #expect(queue.checkInvariants() == [])
        var chunks = [try #require(first)] + Self.drain(&queue, size: 100, tsn: 2)
        // The rest of stream 3's message, then the application's order.
        #expect(chunks.map(\.streamIdentifier) == [3, 3, 3, 1, 2, 1, 3, 2, 1])
        // Each stream's SSNs in order, nothing lost or repeated.
        for stream: UInt16 in [1, 2, 3] {
            let ssns = chunks.filter { $0.streamIdentifier == stream && $0.dataFlags.contains(.beginning) }.map(\.ssn.rawValue)
            #expect(ssns == Array(0..<UInt16(ssns.count)))
        }

        // Priority next, with the values set long before; then back to round robin midway.
        for (stream, size) in messages { try queue.enqueue(S.message(stream: stream, size: size)) }
        queue.setScheduler(.priority)
        #expect(queue.checkInvariants() == [])
        let head = queue.nextChunk(tsn: TSN(100), maxPayloadSize: 1000)?.chunk
        #expect(head?.streamIdentifier == 2)
        queue.setScheduler(.weightedFairQueueing)
        queue.setScheduler(.roundRobin)
        chunks = Self.drain(&queue, size: 1000, tsn: 101)
        #expect(chunks.count == messages.count - 1)
        #expect(chunks.filter { $0.streamIdentifier == 2 }.count == 1)
    }

    @Test("stream values: kept without queued data, across scheduler changes and emptying; bad streams are refused")
    func values() throws {
        var queue = SendQueue(outboundStreamCount: 4)
        #expect(try queue.schedulerValue(for: 3) == 0)
        try queue.setSchedulerValue(7, for: 3)
        queue.setScheduler(.priority)
        queue.setScheduler(.fairCapacity)
        #expect(try queue.schedulerValue(for: 3) == 7)
        #expect(throws: SendQueueError.invalidStream(streamIdentifier: 4, outboundStreams: 4)) { try queue.setSchedulerValue(1, for: 4) }
        #expect(throws: SendQueueError.invalidStream(streamIdentifier: 9, outboundStreams: 4)) { _ = try queue.schedulerValue(for: 9) }
        try queue.enqueue(S.message(stream: 3, size: 10))
        _ = queue.removeAll()
        #expect(try queue.schedulerValue(for: 3) == 7)
        #expect(queue.schedulerKind == .fairCapacity)
        // A value changed while the stream waits applies at once.
        queue.setScheduler(.priority)
        try queue.enqueue(S.message(stream: 3, size: 10))
        try queue.enqueue(S.message(stream: 1, size: 10))
        try queue.setSchedulerValue(9, for: 1)
        #expect(queue.checkInvariants() == [])
        try queue.setSchedulerValue(0, for: 3)
        #expect(queue.checkInvariants() == [])
        #expect(Self.order(Self.drain(&queue)) == [3, 1])
    }

    @Test("lowering the stream count drops the streams' scheduler state, also under FCFS and priority")
    func streamCountDrop() throws {
        for kind in StreamSchedulerKind.allCases {
            var queue = try Self.queue(kind, messages: [(5, 300), (1, 10), (5, 10), (2, 10)])
            #expect(queue.nextChunk(tsn: TSN(1), maxPayloadSize: 100)?.chunk.streamIdentifier == 5, "\(kind)")
            let removed = queue.setOutboundStreamCount(3)
            #expect(removed.map(\.streamIdentifier) == [5], "\(kind)")
            #expect(queue.checkInvariants() == [], "\(kind)")
            let rest = Self.drain(&queue, size: 100, tsn: 2)
            #expect(rest.filter { $0.streamIdentifier == 5 }.count == 2, "\(kind): the fragmented message finishes")
            #expect(Set(rest.map(\.streamIdentifier)) == [5, 1, 2], "\(kind)")
        }
    }

    @Test("the invariants notice a scheduler out of step with the queue")
    func invariantsNotice() throws {
        var queue = try Self.queue(.firstComeFirstServed, messages: [(1, 10), (2, 10)])
        queue.corruptSchedulerForTesting { $0.enqueued(stream: 1, value: 0, becomesActive: false) }
        #expect(queue.checkInvariants().contains { $0.contains("FCFS lists 2 messages of stream 1") })
        var rr = try Self.queue(.roundRobin, messages: [(1, 10)])
        rr.corruptSchedulerForTesting { $0.enqueued(stream: 3, value: 0, becomesActive: true) }
        #expect(rr.checkInvariants().contains { $0.contains("stream 3 is active with nothing to send") })
    }

    @Test("the scheduler interface also decides per chunk (I-DATA): priority preempts, round robin alternates chunks")
    func perChunkDecisions() {
        // What the send queue will do with I-DATA: ask before every chunk.
        var priority = StreamSchedulerState(.priority, interleaving: true)
        priority.enqueued(stream: 1, value: 5, becomesActive: true)
        #expect(priority.next() == 1)
        priority.didSend(stream: 1, bytes: 100, endsMessage: false, streamIsEmpty: false)
        priority.enqueued(stream: 2, value: 0, becomesActive: true)
        #expect(priority.next() == 2, "a higher priority interrupts a message in progress")
        priority.didSend(stream: 2, bytes: 100, endsMessage: true, streamIsEmpty: true)
        #expect(priority.next() == 1)

        var roundRobin = StreamSchedulerState(.roundRobin, interleaving: true)
        roundRobin.enqueued(stream: 1, value: 0, becomesActive: true)
        roundRobin.enqueued(stream: 2, value: 0, becomesActive: true)
        var order: [UInt16] = []
        for _ in 0..<4 {
            let stream = roundRobin.next()!
            order.append(stream)
            roundRobin.didSend(stream: stream, bytes: 100, endsMessage: false, streamIsEmpty: false)
        }
        #expect(order == [1, 2, 1, 2])

        var fair = StreamSchedulerState(.weightedFairQueueing, interleaving: true)
        fair.enqueued(stream: 1, value: 2, becomesActive: true)
        fair.enqueued(stream: 2, value: 1, becomesActive: true)
        var counts: [UInt16: Int] = [:]
        for _ in 0..<30 {
            let stream = fair.next()!
            counts[stream, default: 0] += 1
            fair.didSend(stream: stream, bytes: 100, endsMessage: false, streamIsEmpty: false)
        }
        #expect(counts == [1: 20, 2: 10])
    }
}

/// The schedulers on the simulated network: the order in which the receiver gets messages
/// (no loss, so the order they were sent in) and the packets the sender builds.
@Suite("stream schedulers on the simulated network")
struct StreamSchedulerNetworkTests {
    typealias H = AssociationHarness

    /// Connects, sets the scheduler and values, queues `messages` at once and returns the
    /// streams in the order the server received them, with the client's DATA packets.
    static func run(_ kind: StreamSchedulerKind, values: [UInt16: UInt16] = [:], messages: [(UInt16, Int)],
                    seed: UInt64 = 1) throws -> (order: [UInt16], packets: [[UInt16]]) {
        let h = H(seed: seed)
        h.server.onEvent = { event, now, endpoint in
            if case .message(let id, let m) = event { endpoint.consumed(bytes: m.payload.readableBytes, on: id, now: now) }
        }
        let log = h.logTraffic()
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        try h.client.endpoint.setStreamScheduler(kind, of: id)
        #expect(h.client.endpoint.streamScheduler(of: id) == kind)
        for (stream, value) in values { try h.client.endpoint.setStreamSchedulerValue(value, stream: stream, of: id) }
        for (index, (stream, size)) in messages.enumerated() {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: stream, payload: testPayload(stream: stream, index: index, length: size)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count >= messages.count })
        let received = H.messages(h.server)
        #expect(received.count == messages.count)
        var seen = Set<UInt32>()
        let packets = log.client.sent.compactMap { packet -> [UInt16]? in
            let data = packet.chunks.compactMap { chunk -> UInt16? in
                guard case .data(let d) = chunk, seen.insert(d.tsn.rawValue).inserted else { return nil }
                return d.streamIdentifier
            }
            return data.isEmpty ? nil : data
        }
        return (received.map(\.streamIdentifier), packets)
    }

    @Test("priority: stream 3 (value 0) first, then 1 and 2 (value 4) in turn, then 0 (value 9)")
    func priority() throws {
        let messages: [(UInt16, Int)] = (0..<4).flatMap { _ in [(0, 200), (1, 200), (2, 200), (3, 200)] }
        let (order, _) = try Self.run(.priority, values: [0: 9, 1: 4, 2: 4, 3: 0], messages: messages)
        #expect(order == [3, 3, 3, 3, 1, 2, 1, 2, 1, 2, 1, 2, 0, 0, 0, 0])
        let (defaultOrder, _) = try Self.run(.roundRobin, values: [0: 9, 1: 4, 2: 4, 3: 0], messages: messages)
        #expect(defaultOrder == Array(repeating: [0, 1, 2, 3], count: 4).flatMap { $0 })
    }

    @Test("first come, first served, fair capacity and WFQ on the wire")
    func others() throws {
        let fcfs: [(UInt16, Int)] = [(1, 100), (1, 100), (2, 100), (1, 100), (3, 100), (3, 100)]
        #expect(try Self.run(.firstComeFirstServed, messages: fcfs).order == [1, 1, 2, 1, 3, 3])
        let fair = Array(repeating: (UInt16(1), 1000), count: 2) + Array(repeating: (UInt16(2), 250), count: 6)
        #expect(try Self.run(.fairCapacity, messages: fair).order == [1, 2, 2, 2, 2, 1, 2, 2])
        let weighted = Array(repeating: (UInt16(1), 100), count: 6) + Array(repeating: (UInt16(2), 100), count: 3)
        #expect(try Self.run(.weightedFairQueueing, values: [1: 3], messages: weighted).order.prefix(6) == [1, 2, 1, 1, 1, 2])
    }

    @Test("round robin per packet: each packet carries one stream's messages (three 300-byte messages per 1200-byte packet)")
    func perPacket() throws {
        let messages = Array(repeating: (UInt16(1), 300), count: 6) + Array(repeating: (UInt16(2), 300), count: 6)
        let (_, packets) = try Self.run(.roundRobinPerPacket, messages: messages)
        #expect(packets == [[1, 1, 1], [2, 2, 2], [1, 1, 1], [2, 2, 2]])
        let (_, roundRobin) = try Self.run(.roundRobin, messages: messages)
        #expect(roundRobin == [[1, 2, 1], [2, 1, 2], [1, 2, 1], [2, 1, 2]])
    }

    @Test("bad values: unknown association, stream out of range")
    func errors() throws {
        let h = H(seed: 2)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        #expect(throws: CoreError.invalidStream(10)) { try h.client.endpoint.setStreamSchedulerValue(1, stream: 10, of: id) }
        #expect(throws: CoreError.invalidStream(10)) { _ = try h.client.endpoint.streamSchedulerValue(stream: 10, of: id) }
        #expect(throws: CoreError.unknownAssociation) { try h.client.endpoint.setStreamScheduler(.priority, of: AssociationID(999)) }
        #expect(h.client.endpoint.streamScheduler(of: id) == .roundRobin)
    }
}
