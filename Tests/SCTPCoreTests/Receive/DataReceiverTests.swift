import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

@Suite("receive: data receiver")
struct DataReceiverTests {
    let t0 = SCTPInstant(nanoseconds: 5_000_000)

    func receiver(buffer: Int = 100_000, streams: UInt16 = 4, initialTSN: UInt32 = 1) -> DataReceiver {
        DataReceiver(peerInitialTSN: TSN(initialTSN), inboundStreamCount: streams,
                     configuration: .init(receiveBufferSize: buffer))
    }

    func sized(_ tsn: UInt32, _ bytes: Int, stream: UInt16 = 0, ssn: UInt16 = 0, flags: DataFlags = .complete) -> DataChunk {
        RxSupport.chunk(tsn: tsn, stream: stream, ssn: ssn, flags: flags, payload: RxSupport.bytes(bytes, seed: tsn))
    }

    @Test("a_rwnd: the buffer minus what is held, never negative, clamped to 32 bits")
    func windowHelper() {
        #expect(ReceiveWindow.advertisedWindow(receiveBufferSize: 1000, bufferedBytes: 300, deliveredUnreadBytes: 200) == 500)
        #expect(ReceiveWindow.advertisedWindow(receiveBufferSize: 1000, bufferedBytes: 900, deliveredUnreadBytes: 200) == 0)
        #expect(ReceiveWindow.advertisedWindow(receiveBufferSize: 1000, bufferedBytes: .max, deliveredUnreadBytes: .max) == 0)
        #expect(ReceiveWindow.advertisedWindow(receiveBufferSize: -5, bufferedBytes: 0, deliveredUnreadBytes: 0) == 0)
        #expect(ReceiveWindow.advertisedWindow(receiveBufferSize: 1 << 40, bufferedBytes: 0, deliveredUnreadBytes: 0) == .max)
    }

    @Test("a payload that is a small slice of a large read buffer is kept in a buffer of its own; one that fills its buffer is kept as is")
    func smallSlicesAreCompacted() throws {
        var r = receiver()
        // A 1 MiB read buffer (GRO) holding a 100-byte payload at offset 4096.
        var big = ByteBuffer(repeating: 0xEE, count: 1 << 20)
        big.setBytes(Array(repeating: UInt8(7), count: 100), at: 4096)
        let slice = try #require(big.getSlice(at: 4096, length: 100))
        #expect(slice.storageCapacity >= 1 << 20)
        let chunk = DataChunk(flags: .complete, tsn: TSN(1), streamIdentifier: 0, ssn: SSN(0), payloadProtocolIdentifier: 0, payload: slice)
        #expect(r.receive(chunk) == .accepted)
        guard case .message(let message) = r.poll() else {
            Issue.record("no message")
            return
        }
        #expect(message.payload == slice, "same bytes")
        #expect(message.payload.storageCapacity < 4096, "not the read buffer")

        // A payload in a buffer of about its own size is not copied.
        let own = ByteBuffer(repeating: 9, count: 3000)
        #expect(r.receive(DataChunk(flags: .complete, tsn: TSN(2), streamIdentifier: 0, ssn: SSN(1), payloadProtocolIdentifier: 0,
                                    payload: own)) == .accepted)
        guard case .message(let second) = r.poll() else {
            Issue.record("no second message")
            return
        }
        #expect(second.payload.storageCapacity == own.storageCapacity)
    }

    @Test("DATA without user data is reported and not recorded")
    func noUserData() {
        var r = receiver()
        let empty = DataChunk(flags: .complete, tsn: TSN(1), streamIdentifier: 0, ssn: SSN(0), payloadProtocolIdentifier: 0,
                              payload: ByteBuffer())
        #expect(r.receive(empty) == .noUserData)
        #expect(r.tracker.cumulativeTSN == TSN(0))
        #expect(!r.isSackOwed)
    }

    @Test("DATA on an invalid stream is acknowledged but not delivered")
    func invalidStream() {
        var r = receiver(streams: 2)
        #expect(r.receive(RxSupport.chunk(tsn: 1, stream: 5)) == .invalidStream)
        #expect(r.tracker.cumulativeTSN == TSN(1))
        #expect(r.poll() == nil)
        #expect(r.receive(RxSupport.chunk(tsn: 1, stream: 5)) == .duplicate)
        #expect(r.receive(RxSupport.chunk(tsn: 2, stream: 1)) == .accepted)
    }

    /// Whole ordered messages whose SSN is the next expected one go out at once (the first
    /// waiting output has a slot of its own, the rest a queue); messages held for an earlier
    /// SSN, fragments and unordered ones mix with them. Whatever is polled when, the stream's
    /// messages come out in SSN order with unordered ones where they completed, and the window
    /// counts every byte held, waiting or unread until it is read.
    @Test("direct deliveries and held messages come out in order, counted in the window, however often it is polled",
          arguments: [1, 2, 3, 100])
    func directAndHeldDeliveriesKeepOrderAndWindow(pollEvery: Int) throws {
        var r = receiver(buffer: 100_000)
        // (chunk, the messages it makes deliverable, by first TSN). SSNs on stream 0.
        let script: [(DataChunk, [UInt32])] = [
            (sized(1, 100, ssn: 0), [1]),                                    // next SSN: direct
            (sized(3, 300, ssn: 2), []),                                     // SSN 2 before SSN 1: held
            (sized(4, 400, ssn: 0, flags: [.unordered, .beginning, .ending]), [4]),  // unordered: out at once
            (sized(2, 200, ssn: 1), [2, 3]),                                 // SSN 1 releases 2
            (sized(5, 500, ssn: 3), [5]),                                    // next SSN again: direct
            (sized(6, 600, ssn: 4, flags: .beginning), []),                  // a fragmented message
            (sized(7, 700, ssn: 4, flags: .ending), [6]),
            (sized(8, 800, ssn: 5), [8]),                                    // direct after it
            (sized(10, 1000, ssn: 7), []),
            (sized(9, 900, ssn: 6), [9, 10]),
        ]
        var expected: [UInt32] = []
        var polled: [ReceivedMessage] = []
        var unread = 0
        for (step, (chunk, released)) in script.enumerated() {
            let tsn = chunk.tsn
            #expect(r.receive(chunk) == .accepted, "TSN \(tsn)")
            r.packetProcessed(now: t0)
            expected += released
            // Held: everything received and not yet read.
            let received = script.prefix(step + 1).reduce(0) { $0 + $1.0.payload.readableBytes }
            #expect(Int(r.advertisedWindow) == 100_000 - (received - polled.reduce(0) { $0 + $1.payload.readableBytes }) - unread,
                    "window after TSN \(tsn)")
            if (step + 1) % pollEvery == 0 || step == script.count - 1 {
                while case .message(let m)? = r.poll() {
                    polled.append(m)
                    unread += m.payload.readableBytes
                }
                #expect(r.reassembly.pendingOutputCount == 0 && r.reassembly.pendingOutputBytes == 0)
            }
            #expect(r.checkInvariants().isEmpty, "\(r.checkInvariants())")
        }
        #expect(polled.map(\.firstTSN.rawValue) == expected)
        #expect(polled.filter { !$0.isUnordered }.map(\.ssn) == (0..<8).map { SSN(UInt16($0)) })
        #expect(polled.map(\.payload.readableBytes) == [100, 400, 200, 300, 500, 1300, 800, 900, 1000])
        let total = script.reduce(0) { $0 + $1.0.payload.readableBytes }
        #expect(Int(r.advertisedWindow) == 100_000 - total)
        r.consumed(bytes: total)
        #expect(r.advertisedWindow == 100_000)
    }

    @Test("the window counts buffered, waiting and unread bytes; reading reopens it")
    func windowAccounting() {
        var r = receiver(buffer: 10_000)
        #expect(r.advertisedWindow == 10_000)
        #expect(r.receive(sized(2, 1_000, ssn: 1)) == .accepted)
        #expect(r.advertisedWindow == 9_000)
        #expect(r.receive(sized(1, 500, ssn: 0)) == .accepted)
        #expect(r.advertisedWindow == 8_500)  // both wait in the output queue now
        var read = 0
        while case .message(let m)? = r.poll() { read += m.payload.readableBytes }
        #expect(read == 1_500)
        #expect(r.deliveredUnreadBytes == 1_500)
        #expect(r.advertisedWindow == 8_500)
        r.consumed(bytes: 1_000)
        #expect(r.advertisedWindow == 9_500)
        r.consumed(bytes: 10_000)
        #expect(r.deliveredUnreadBytes == 0)
        #expect(r.advertisedWindow == 10_000)
    }

    @Test("takeSack carries the window, resets the SACK state and remembers what it advertised")
    func takeSack() {
        var r = receiver(buffer: 10_000)
        _ = r.receive(sized(1, 100))
        _ = r.receive(sized(3, 100, ssn: 2))
        r.packetProcessed(now: t0)
        #expect(r.isSackDue(at: t0))
        let sack = r.takeSack()
        #expect(sack.cumulativeTSNAck == TSN(1))
        #expect(sack.gapAckBlocks == [GapAckBlock(start: 2, end: 2)])
        #expect(sack.advertisedReceiverWindowCredit == 9_800)
        #expect(r.lastAdvertisedWindow == 9_800)
        #expect(!r.isSackOwed && !r.isSackDue(at: t0 + .seconds(1)))
    }

    @Test("delayed SACK through the receiver: deadline exposed, I bit immediate")
    func delayedSack() {
        var r = receiver()
        _ = r.receive(RxSupport.chunk(tsn: 1))
        r.packetProcessed(now: t0)
        #expect(r.sackDeadline == t0 + .milliseconds(200))
        #expect(!r.isSackDue(at: t0))
        #expect(r.isSackDue(at: t0 + .milliseconds(200)))
        _ = r.takeSack()
        _ = r.receive(RxSupport.chunk(tsn: 2, ssn: 1, flags: [.complete, .immediate]))
        r.packetProcessed(now: t0)
        #expect(r.isSackDue(at: t0))
        _ = r.takeSack()
        r.requestImmediateSack()
        #expect(r.isSackDue(at: t0))
    }

    @Test("with a closed window, TSNs above the highest received are dropped; lower ones are taken")
    func closedWindow() {
        var r = receiver(buffer: 1_000)
        #expect(r.receive(sized(3, 400, ssn: 2)) == .accepted)
        #expect(r.receive(sized(1, 600, ssn: 0)) == .accepted)
        while r.poll() != nil {}
        #expect(r.advertisedWindow == 0)
        #expect(r.receive(sized(4, 10, ssn: 3)) == .dropped(.noBufferSpace))
        #expect(r.tracker.highestReceivedTSN == TSN(3))
        r.packetProcessed(now: t0)
        #expect(r.isSackDue(at: t0))
        // TSN 2 is below the highest received: taken (it fills the cumulative point).
        #expect(r.receive(sized(2, 10, ssn: 1)) == .accepted)
        #expect(r.tracker.cumulativeTSN == TSN(3))
        let sack = r.takeSack()
        #expect(sack.cumulativeTSNAck == TSN(3) && sack.advertisedReceiverWindowCredit == 0)
        #expect(sack.gapAckBlocks.isEmpty)
    }

    @Test("a closed window still takes the next TSN when only data stuck in reassembly closes it")
    func closedWindowUnblocking() {
        func make() -> DataReceiver {
            var r = DataReceiver(peerInitialTSN: TSN(1), inboundStreamCount: 2,
                                 configuration: .init(receiveBufferSize: 2_000,
                                                      reassembly: .init(memoryLimit: 2_000, partialDeliveryPoint: 800, fragmentOverhead: 0)))
            // Stream 1's head message at TSN 2...6 fills the buffer while TSN 1 is missing,
            // so it cannot start a partial delivery yet.
            let m = RxSupport.message(id: 1, stream: 1, ssn: 0, size: 2_400)
            let chunks = RxSupport.fragments(of: m, firstTSN: TSN(2), fragmentSize: 400)
            for c in chunks.prefix(5) { #expect(r.receive(c) == .accepted) }
            #expect(r.receive(sized(1, 10, stream: 0)) == .accepted)  // fills the gap, cumulative point 6
            #expect(r.tracker.cumulativeTSN == TSN(6) && r.tracker.gapRangeCount == 0)
            return r
        }
        var reading = make()
        while case .message(let m)? = reading.poll() { reading.consumed(bytes: m.payload.readableBytes) }
        #expect(reading.advertisedWindow == 0)
        #expect(reading.receive(sized(7, 400, stream: 1, flags: [])) == .accepted)  // a middle fragment
        guard case .message(let piece)? = reading.poll() else {
            Issue.record("no partial delivery")
            return
        }
        #expect(piece.firstTSN == TSN(2) && piece.lastTSN == TSN(7) && !piece.isComplete, "\(piece.firstTSN)...\(piece.lastTSN) \(piece.isComplete)")

        // When the application's unread data is what closes the window, the rule holds.
        var unread = DataReceiver(peerInitialTSN: TSN(1), inboundStreamCount: 2,
                                  configuration: .init(receiveBufferSize: 1_000))
        #expect(unread.receive(sized(1, 1_000)) == .accepted)
        while unread.poll() != nil {}
        #expect(unread.advertisedWindow == 0)
        #expect(unread.receive(sized(2, 10, ssn: 1)) == .dropped(.noBufferSpace))
    }

    @Test("reading that reopens the window enough asks for a window-update SACK")
    func windowUpdate() {
        var r = receiver(buffer: 1_000)
        _ = r.receive(sized(1, 1_000))
        r.packetProcessed(now: t0)
        while r.poll() != nil {}
        #expect(r.receive(sized(2, 10, ssn: 1)) == .dropped(.noBufferSpace))
        _ = r.takeSack()
        #expect(r.lastAdvertisedWindow == 0)
        #expect(!r.isSackDue(at: t0))
        r.consumed(bytes: 499)
        #expect(!r.isSackDue(at: t0))  // threshold: half the buffer
        r.consumed(bytes: 1)
        #expect(r.isSackDue(at: t0))
        #expect(r.takeSack().advertisedReceiverWindowCredit == 500)
    }

    @Test("a nearly closed window reopened by one MTU asks for a window update; an open one waits for the threshold")
    func windowUpdateWhenStalled() {
        var r = receiver(buffer: 100_000)
        #expect(r.configuration.windowUpdateThreshold == 6_250 && r.configuration.windowUpdateMinimum == 1_200)
        _ = r.receive(sized(1, 99_000))
        r.packetProcessed(now: t0)
        while r.poll() != nil {}
        _ = r.takeSack()
        #expect(r.lastAdvertisedWindow == 1_000)
        r.consumed(bytes: 1_199)
        #expect(!r.isSackDue(at: t0))
        r.consumed(bytes: 1)
        #expect(r.isSackDue(at: t0))
        #expect(r.takeSack().advertisedReceiverWindowCredit == 2_200)
        r.consumed(bytes: 5_000)
        #expect(r.isSackDue(at: t0))
        #expect(r.takeSack().advertisedReceiverWindowCredit == 7_200)
        // The window is open past the threshold: one MTU more is not worth a SACK, the threshold is.
        r.consumed(bytes: 1_200)
        #expect(!r.isSackDue(at: t0))
        r.consumed(bytes: 6_250 - 1_200)
        #expect(r.isSackDue(at: t0))
    }

    @Test("memory-limit drops are not acknowledged and ask for a SACK at once")
    func memoryDrop() {
        var r = DataReceiver(peerInitialTSN: TSN(1), inboundStreamCount: 4,
                             configuration: .init(receiveBufferSize: 10_000,
                                                  reassembly: .init(memoryLimit: 500, partialDeliveryPoint: 100_000, fragmentOverhead: 0)))
        #expect(r.receive(sized(2, 400, ssn: 1)) == .accepted)
        #expect(r.receive(sized(4, 200, ssn: 3)) == .dropped(.noBufferSpace))
        #expect(r.tracker.gapRangeCount == 1)
        r.packetProcessed(now: t0)
        #expect(r.isSackDue(at: t0))
        #expect(r.takeSack().gapAckBlocks == [GapAckBlock(start: 2, end: 2)])
    }

    @Test("TSN window and gap-range limits drop through the receiver")
    func trackerLimits() {
        var r = DataReceiver(peerInitialTSN: TSN(1), inboundStreamCount: 4,
                             configuration: .init(tracker: .init(maxTSNWindow: 10, maxGapRanges: 1)))
        #expect(r.receive(RxSupport.chunk(tsn: 11, ssn: 10)) == .dropped(.beyondWindow))
        #expect(r.receive(RxSupport.chunk(tsn: 3, ssn: 2)) == .accepted)
        #expect(r.receive(RxSupport.chunk(tsn: 5, ssn: 4)) == .dropped(.tooManyGaps))
        #expect(r.receive(RxSupport.chunk(tsn: 3, ssn: 2)) == .duplicate)
        #expect(r.reassembly.bufferedBytes == 8)
    }

    @Test("FORWARD TSN through the receiver")
    func forwardTSN() {
        var r = receiver()
        _ = r.receive(RxSupport.chunk(tsn: 2, stream: 1, ssn: 1))
        #expect(r.poll() == nil)
        #expect(r.receive(ForwardTSNChunk(newCumulativeTSN: TSN(1), skippedStreams: [.init(streamIdentifier: 1, ssn: SSN(0))])) == .advanced)
        #expect(r.tracker.cumulativeTSN == TSN(2))
        guard case .message(let m)? = r.poll() else {
            Issue.record("nothing delivered")
            return
        }
        #expect(m.ssn == SSN(1))
        #expect(r.receive(ForwardTSNChunk(newCumulativeTSN: TSN(1))) == .stale)
        r.packetProcessed(now: t0)
        #expect(r.isSackDue(at: t0))
    }

    @Test("settings follow the endpoint configuration")
    func fromEndpointConfiguration() {
        var c = SCTPConfiguration()
        c.receiveBufferSize = 300_000
        c.partialDeliveryPoint = 1_000
        c.delayedAckTimeout = .milliseconds(40)
        c.delayedAckFrequency = 3
        c.maxGapBlocksReported = 7
        let rc = DataReceiver.Configuration(c)
        #expect(rc.receiveBufferSize == 300_000)
        #expect(rc.reassembly.memoryLimit == 300_000 && rc.reassembly.partialDeliveryPoint == 1_000)
        #expect(rc.tracker.delayedSackTimeout == .milliseconds(40))
        #expect(rc.tracker.packetsPerSack == 3 && rc.tracker.maxGapAckBlocksPerSack == 7)
        let d = DataReceiver.Configuration(receiveBufferSize: 1 << 20)
        #expect(d.reassembly.memoryLimit == 1 << 20 && d.reassembly.partialDeliveryPoint == 1 << 19)
        #expect(d.windowUpdateThreshold == 64 << 10)
    }

    // MARK: - End to end over a lossy link

    /// A sender that keeps every chunk until a SACK covers it and sends the first unacked
    /// ones again each round. Messages marked abandonable are given up after their first
    /// transmission (PR-SCTP) and skipped with FORWARD TSN.
    struct RetransmittingSender {
        let chunks: [DataChunk]
        let initialTSN: TSN
        /// For each chunk, the index of its message; for each message, its chunks.
        let messageOf: [Int]
        let chunksOf: [Range<Int>]
        let abandonable: Set<Int>
        var acked: [Bool]
        var abandoned: [Bool]
        var cumulative = 0

        init(chunks: [DataChunk], messages: [RxSupport.Message], initialTSN: TSN, abandonable: Set<Int>) {
            self.chunks = chunks
            self.initialTSN = initialTSN
            self.abandonable = abandonable
            // A message's chunks are consecutive and the first has the B bit.
            var owner: [Int] = []
            var ranges: [Range<Int>] = []
            for (i, c) in chunks.enumerated() {
                if c.dataFlags.contains(.beginning) { ranges.append(i..<(i + 1)) } else { ranges[ranges.count - 1] = ranges.last!.lowerBound..<(i + 1) }
                owner.append(ranges.count - 1)
            }
            precondition(ranges.count == messages.count)
            messageOf = owner
            chunksOf = ranges
            acked = Array(repeating: false, count: chunks.count)
            abandoned = acked
        }

        var done: Bool { cumulative == chunks.count }

        mutating func apply(_ sack: SackChunk) {
            let n = Int(initialTSN.previous.distance(to: sack.cumulativeTSNAck))
            precondition(n <= chunks.count, "acknowledged a TSN never sent")
            while cumulative < n {
                acked[cumulative] = true
                cumulative += 1
            }
            for block in sack.gapAckBlocks {
                for o in Int(block.start)...Int(block.end) where n + o - 1 < chunks.count { acked[n + o - 1] = true }
            }
        }

        /// The first `limit` chunks still to deliver; abandonable messages sent here are
        /// abandoned from now on.
        mutating func flight(_ limit: Int) -> [DataChunk] {
            var out: [DataChunk] = []
            var sentMessages: [Int] = []
            var i = cumulative
            while i < chunks.count && out.count < limit {
                if !acked[i] && !abandoned[i] {
                    out.append(chunks[i])
                    if abandonable.contains(messageOf[i]) { sentMessages.append(messageOf[i]) }
                }
                i += 1
            }
            for m in sentMessages {
                for k in chunksOf[m] { abandoned[k] = true }
            }
            return out
        }

        /// FORWARD TSN over the acknowledged-or-abandoned TSNs after the cumulative ack
        /// (RFC 3758 §3.5), listing the largest abandoned ordered SSN per stream.
        func forwardTSN(_ messages: [RxSupport.Message]) -> ForwardTSNChunk? {
            var t = cumulative
            var skipped: [UInt16: UInt16] = [:]
            while t < chunks.count && (acked[t] || abandoned[t]) {
                if abandoned[t] {
                    let m = messages[messageOf[t]]
                    if !m.unordered { skipped[m.stream] = max(skipped[m.stream] ?? 0, m.ssn) }
                }
                t += 1
            }
            guard t > cumulative, (cumulative..<t).contains(where: { abandoned[$0] }) else { return nil }
            return ForwardTSNChunk(newCumulativeTSN: initialTSN.advanced(by: UInt32(t - 1)),
                                   skippedStreams: skipped.sorted { $0.key < $1.key }
                                       .map { .init(streamIdentifier: $0.key, ssn: SSN($0.value)) })
        }
    }

    /// The receiver's state in a line, for failure messages.
    static func describe(_ r: DataReceiver) -> String {
        var text = "cum \(r.tracker.cumulativeTSN) ranges \(r.tracker.ranges.map { "\($0.first)-\($0.last)" })"
        text += " window \(r.advertisedWindow) buffered \(r.reassembly.bufferedBytes) unread \(r.deliveredUnreadBytes)"
        for (id, entry) in r.reassembly.streams.sorted(by: { $0.key < $1.key }) {
            guard let s = entry.storage?.reassembler else {
                text += "; stream \(id) next \(entry.idleNext), nothing held"
                continue
            }
            text += "; stream \(id) next \(s.nextSSN) partial \(String(describing: s.partial)) pending \(String(describing: s.pendingSkip))"
            text += " ordered \(s.ordered.map { "\($0.tsn)/\($0.ssn)/\($0.flags.rawValue)" })"
            text += " unordered \(s.unordered.map { "\($0.tsn)/\($0.flags.rawValue)" }) head \(s.headRunCount)"
        }
        return text
    }

    struct LossyCase: Sendable, CustomTestStringConvertible {
        var seed: UInt64
        var initialTSN: UInt32 = 1
        var messages = 300
        var streams: UInt16 = 4
        var maxSize = 3_000
        var fragmentSize = 500
        var receiveBuffer = 1 << 20
        var partialDeliveryPoint: Int? = nil
        var maxTSNWindow: UInt32 = 65_535
        var maxGapRanges = 512
        var flight = 32
        var loss = 0.1
        var duplication = 0.05
        var sackLoss = 0.1
        var readEvery = 1
        var abandonShare = 0.0
        var expectPieces = false
        var expectDrop: DataReceiver.DropReason? = nil
        var testDescription: String { "seed \(seed)" }

        /// A case with parameters drawn from the seed.
        static func random(_ seed: UInt64) -> LossyCase {
            var rng = SeededRandomSource(seed: seed)
            func pick<T>(_ values: [T]) -> T { values[RxSupport.draw(values.count, &rng)] }
            var c = LossyCase(seed: seed)
            c.initialTSN = pick([1, 0xFFFF_FF00, UInt32(truncatingIfNeeded: rng.nextUInt64())])
            c.messages = pick([50, 150, 300])
            c.streams = pick([1, 2, 5, 16])
            c.maxSize = pick([10, 600, 5_000, 15_000])
            c.fragmentSize = pick([100, 500, 1_200])
            c.receiveBuffer = pick([3_000, 8_000, 64 << 10, 1 << 20])
            c.partialDeliveryPoint = pick([nil, 500, 4_000])
            c.maxTSNWindow = pick([16, 200, 65_535])
            c.maxGapRanges = pick([2, 8, 512])
            c.flight = pick([8, 32, 64])
            c.loss = pick([0, 0.05, 0.2, 0.3])
            c.duplication = pick([0, 0.1, 0.3])
            c.sackLoss = pick([0, 0.2])
            c.readEvery = pick([1, 1, 3])
            c.abandonShare = pick([0, 0, 0.2])
            return c
        }
    }

    static let lossyCases: [LossyCase] = [
        LossyCase(seed: 21),
        LossyCase(seed: 22, initialTSN: 0xFFFF_FF00, maxSize: 12_000, receiveBuffer: 4_000, expectPieces: true,
                  expectDrop: .noBufferSpace),
        LossyCase(seed: 23, initialTSN: 0xFFFF_FFF0, maxGapRanges: 2, flight: 40, loss: 0.2, expectDrop: .tooManyGaps),
        LossyCase(seed: 24, maxSize: 6_000, receiveBuffer: 20_000, partialDeliveryPoint: 2_000, readEvery: 5,
                  expectPieces: true, expectDrop: .noBufferSpace),
        LossyCase(seed: 25, maxTSNWindow: 12, flight: 40, expectDrop: .beyondWindow),
        LossyCase(seed: 26, messages: 150, streams: 1, maxSize: 4_000, receiveBuffer: 2_500, loss: 0.25, duplication: 0.2,
                  expectPieces: true, expectDrop: .noBufferSpace),
    ]

    static let prSCTPCases: [LossyCase] = [
        LossyCase(seed: 41, abandonShare: 0.2),
        LossyCase(seed: 42, initialTSN: 0xFFFF_FFA0, streams: 2, maxSize: 8_000, partialDeliveryPoint: 1_000, loss: 0.3,
                  abandonShare: 0.3, expectPieces: true),
        LossyCase(seed: 43, streams: 1, maxSize: 12_000, receiveBuffer: 5_000, loss: 0.2, abandonShare: 0.25,
                  expectPieces: true),
        LossyCase(seed: 44, messages: 400, streams: 8, maxSize: 300, fragmentSize: 100, loss: 0.15, abandonShare: 0.5),
    ]

    @Test("lossy link with retransmission: every message once, in order, memory bounded, no deadlock",
          arguments: lossyCases)
    func lossyLink(_ lossy: LossyCase) { Self.runLossy(lossy) }

    @Test("PR-SCTP: abandoned messages skipped with FORWARD TSN, the rest once and in order",
          arguments: prSCTPCases)
    func partialReliability(_ lossy: LossyCase) {
        let checker = Self.runLossy(lossy)
        #expect(checker.delivered.count < lossy.messages, "no abandoned message went missing: the case tests nothing")
    }

    @Test("lossy link with parameters drawn from a seed", arguments: (100 as UInt64)..<140)
    func randomLossyLink(seed: UInt64) { Self.runLossy(.random(seed)) }

    @discardableResult
    static func runLossy(_ lossy: LossyCase) -> RxSupport.DeliveryChecker {
        let initial = TSN(lossy.initialTSN)
        let (messages, chunks) = RxSupport.scenario(seed: lossy.seed, messageCount: lossy.messages, streams: lossy.streams,
                                                    maxSize: lossy.maxSize, fragmentSize: lossy.fragmentSize,
                                                    initialTSN: initial)
        var rng = SeededRandomSource(seed: lossy.seed &* 31)
        var abandonable = Set<Int>()
        for index in messages.indices where RxSupport.chance(lossy.abandonShare, &rng) { abandonable.insert(index) }
        let configuration = DataReceiver.Configuration(
            receiveBufferSize: lossy.receiveBuffer,
            tracker: .init(maxTSNWindow: lossy.maxTSNWindow, maxGapRanges: lossy.maxGapRanges),
            reassembly: .init(memoryLimit: lossy.receiveBuffer, partialDeliveryPoint: lossy.partialDeliveryPoint))
        var receiver = DataReceiver(peerInitialTSN: initial, inboundStreamCount: lossy.streams, configuration: configuration)
        var sender = RetransmittingSender(chunks: chunks, messages: messages, initialTSN: initial, abandonable: abandonable)
        var checker = RxSupport.DeliveryChecker(messages)
        checker.mayBeMissing = Set(abandonable.map { messages[$0].id })
        var now = SCTPInstant.zero
        var outcomes: [DataReceiver.Outcome: Int] = [:]
        var memoryExceeded = false
        var rounds = 0

        func read(_ receiver: inout DataReceiver, _ checker: inout RxSupport.DeliveryChecker) {
            while let o = receiver.poll() {
                checker.take(o)
                if case .message(let m) = o { receiver.consumed(bytes: m.payload.readableBytes) }
            }
        }

        while rounds < 5_000 {
            rounds += 1
            if let forward = sender.forwardTSN(messages), !RxSupport.chance(lossy.loss, &rng) {
                receiver.receive(forward)
                receiver.packetProcessed(now: now)
                if receiver.isSackDue(at: now) { sender.apply(receiver.takeSack()) }
            }
            var arriving: [DataChunk] = []
            for c in sender.flight(lossy.flight) where !RxSupport.chance(lossy.loss, &rng) {
                arriving.append(c)
                if RxSupport.chance(lossy.duplication, &rng) { arriving.append(c) }
            }
            if RxSupport.chance(0.5, &rng) { RxSupport.shuffle(&arriving, &rng) }
            var i = 0
            while i < arriving.count {
                let end = min(i + 1 + RxSupport.draw(4, &rng), arriving.count)
                for c in arriving[i..<end] { outcomes[receiver.receive(c), default: 0] += 1 }
                receiver.packetProcessed(now: now)
                if receiver.reassembly.bufferedBytes > lossy.receiveBuffer + receiver.reassembly.configuration.overshootAllowance {
                    memoryExceeded = true
                }
                now = now + .milliseconds(1)
                if receiver.isSackDue(at: now) {
                    let sack = receiver.takeSack()
                    if !RxSupport.chance(lossy.sackLoss, &rng) { sender.apply(sack) }
                }
                i = end
            }
            if rounds % lossy.readEvery == 0 { read(&receiver, &checker) }
            if let deadline = receiver.sackDeadline, now < deadline { now = deadline }
            if receiver.isSackDue(at: now) { sender.apply(receiver.takeSack()) }
            if sender.done {
                read(&receiver, &checker)
                break
            }
        }
        let finished = sender.done
        #expect(finished, "not finished after \(rounds) rounds: cumulative \(sender.cumulative)/\(chunks.count); \(describe(receiver))")
        #expect(checker.failures.isEmpty, "\(checker.failures)")
        #expect(checker.missing.isEmpty, "missing \(checker.missing.prefix(10))")
        #expect(checker.partial.isEmpty, "partial deliveries left open on streams \(checker.partial.keys.sorted())")
        #expect(!memoryExceeded)
        #expect(receiver.reassembly.bufferedBytes == 0)
        #expect(receiver.reassembly.pendingOutputCount == 0)
        #expect(receiver.tracker.cumulativeTSN == initial.advanced(by: UInt32(chunks.count - 1)))
        if lossy.duplication > 0 && lossy.loss > 0 { #expect((outcomes[.duplicate] ?? 0) > 0) }
        if lossy.expectPieces { #expect(checker.pieces > 0) }
        if let reason = lossy.expectDrop { #expect((outcomes[.dropped(reason)] ?? 0) > 0, "\(outcomes)") }
        return checker
    }
}
