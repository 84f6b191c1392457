import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

@Suite("receive: reassembly queue")
struct ReassemblyQueueTests {
    typealias Harness = RxSupport.Harness

    func address(_ buffer: ByteBuffer) -> UInt {
        buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
    }

    /// Joins the payloads of `pieces`.
    func joined(_ pieces: [ReceivedMessage]) -> ByteBuffer {
        var all = ByteBufferAllocator().buffer(capacity: 0)
        for p in pieces { all.writeImmutableBuffer(p.payload) }
        return all
    }

    // MARK: - Whole messages

    @Test("whole in-order messages go out at once, as the chunk's own slice, never buffered")
    func wholeMessagesNoCopy() {
        var h = Harness()
        let payload = RxSupport.bytes(100, seed: 1)
        #expect(h.insert(RxSupport.chunk(tsn: 1, stream: 2, ssn: 0, ppid: 51, payload: payload)) == .accepted)
        #expect(h.queue.bufferedBytes == 0)
        let out = h.drainMessages()
        #expect(out == [ReceivedMessage(streamIdentifier: 2, payloadProtocolIdentifier: 51, isUnordered: false, ssn: SSN(0),
                                        firstTSN: TSN(1), lastTSN: TSN(1), payload: payload, isComplete: true)])
        #expect(address(out[0].payload) == address(payload))

        let unordered = RxSupport.bytes(10, seed: 2)
        h.insert(RxSupport.chunk(tsn: 2, stream: 7, ssn: 99, flags: [.complete, .unordered], payload: unordered))
        let u = h.drainMessages()
        #expect(u.count == 1 && u[0].isUnordered && u[0].ssn == SSN(99) && u[0].isComplete)
        #expect(address(u[0].payload) == address(unordered))
        #expect(h.queue.pendingOutputCount == 0)
    }

    @Test("a whole message that waited for its turn is still not copied")
    func bufferedWholeMessageNoCopy() {
        var h = Harness()
        let second = RxSupport.bytes(50, seed: 9)
        h.insert(RxSupport.chunk(tsn: 2, ssn: 1, payload: second))
        #expect(h.drain().isEmpty)
        #expect(h.queue.bufferedBytes == 50)
        h.insert(RxSupport.chunk(tsn: 1, ssn: 0))
        let out = h.drainMessages()
        #expect(out.map(\.ssn) == [SSN(0), SSN(1)])
        #expect(address(out[1].payload) == address(second))
        #expect(h.queue.bufferedBytes == 0)
    }

    @Test("thousands of in-order messages over several streams keep nothing buffered")
    func steadyInOrder() {
        var h = Harness(initialTSN: 0xFFFF_F000)
        var ssn = [UInt16](repeating: 0, count: 4)
        var delivered = 0
        for i in 0..<10_000 {
            let stream = UInt16(i % 4)
            let tsn = UInt32(0xFFFF_F000) &+ UInt32(i)
            #expect(h.insert(RxSupport.chunk(tsn: tsn, stream: stream, ssn: ssn[Int(stream)])) == .accepted)
            ssn[Int(stream)] &+= 1
            #expect(h.queue.bufferedBytes == 0)
            while case .message(let m)? = h.queue.poll() {
                #expect(m.firstTSN == TSN(tsn))
                delivered += 1
            }
        }
        #expect(delivered == 10_000)
    }

    // MARK: - Fragments

    @Test("a fragmented message arriving in order is joined once, with its TSN range and PPID")
    func fragmentedInOrder() {
        var h = Harness(initialTSN: 10)
        let m = RxSupport.message(id: 7, stream: 3, ssn: 0, size: 1_000)
        let chunks = RxSupport.fragments(of: m, firstTSN: TSN(10), fragmentSize: 300)
        #expect(chunks.count == 4)
        for c in chunks.dropLast() { h.insert(c) }
        #expect(h.drain().isEmpty)
        #expect(h.queue.bufferedBytes == 900)
        h.insert(chunks.last!)
        let out = h.drainMessages()
        #expect(out.count == 1)
        #expect(out[0].payload == m.payload)
        #expect(out[0].firstTSN == TSN(10) && out[0].lastTSN == TSN(13))
        #expect(out[0].payloadProtocolIdentifier == m.ppid && out[0].streamIdentifier == 3 && out[0].isComplete)
        #expect(h.queue.bufferedBytes == 0)
    }

    @Test("every arrival order of a five-fragment message gives one identical message",
          arguments: [false, true])
    func everyPermutation(unordered: Bool) {
        let m = RxSupport.message(id: 1, stream: 0, unordered: unordered, ssn: 0, size: 50)
        let chunks = RxSupport.fragments(of: m, firstTSN: TSN(0xFFFF_FFFE), fragmentSize: 10)
        #expect(chunks.count == 5)
        for order in RxSupport.permutations(5) {
            var h = Harness(initialTSN: 0xFFFF_FFFE)
            for (n, index) in order.enumerated() {
                #expect(h.insert(chunks[index]) == .accepted)
                if n < 4 { #expect(h.queue.pendingOutputCount == 0, "order \(order)") }
            }
            let out = h.drainMessages()
            #expect(out.count == 1, "order \(order)")
            #expect(out.first?.payload == m.payload, "order \(order)")
            #expect(out.first?.firstTSN == TSN(0xFFFF_FFFE) && out.first?.lastTSN == TSN(2))
            #expect(h.queue.bufferedBytes == 0)
        }
    }

    @Test("every arrival order of three ordered, two unordered and one other-stream message keeps SSN order")
    func mixedPermutations() {
        let messages = [
            RxSupport.message(id: 0, stream: 0, ssn: 0, size: 20),
            RxSupport.message(id: 1, stream: 1, ssn: 0, size: 6),
            RxSupport.message(id: 2, stream: 0, unordered: true, ssn: 0, size: 20),
            RxSupport.message(id: 3, stream: 0, ssn: 1, size: 6),
            RxSupport.message(id: 4, stream: 0, ssn: 2, size: 20),
        ]
        var chunks: [DataChunk] = []
        var tsn = TSN(1)
        for m in messages {
            let f = RxSupport.fragments(of: m, firstTSN: tsn, fragmentSize: 10)
            chunks += f
            tsn = tsn.advanced(by: UInt32(f.count))
        }
        #expect(chunks.count == 8)
        var rng = SeededRandomSource(seed: 99)
        // 8! is 40320; take every permutation of the first 7 with the last placed at random.
        for order in RxSupport.permutations(7) {
            var arrival = order
            arrival.insert(7, at: RxSupport.draw(8, &rng))
            var h = Harness()
            var checker = RxSupport.DeliveryChecker(messages)
            for index in arrival {
                h.insert(chunks[index])
                for o in h.drain() { checker.take(o) }
            }
            #expect(checker.failures.isEmpty, "arrival \(arrival): \(checker.failures)")
            #expect(checker.missing.isEmpty, "arrival \(arrival)")
            #expect(h.queue.bufferedBytes == 0)
        }
    }

    @Test("an unordered message overtakes a blocked ordered one on the same stream")
    func unorderedOvertakes() {
        var h = Harness()
        h.insert(RxSupport.chunk(tsn: 2, stream: 0, flags: [.complete, .unordered]))
        #expect(h.drainMessages().map(\.firstTSN) == [TSN(2)])
        h.insert(RxSupport.chunk(tsn: 3, stream: 0, flags: [.beginning, .unordered]))
        #expect(h.drain().isEmpty)
        h.insert(RxSupport.chunk(tsn: 4, stream: 0, flags: [.ending, .unordered]))
        let u = h.drainMessages()
        #expect(u.count == 1 && u[0].firstTSN == TSN(3) && u[0].lastTSN == TSN(4) && u[0].isUnordered)
        h.insert(RxSupport.chunk(tsn: 1, stream: 0, ssn: 0))
        #expect(h.drainMessages().map(\.firstTSN) == [TSN(1)])
    }

    @Test("a blocked stream does not block another")
    func streamIsolation() {
        var h = Harness()
        h.insert(RxSupport.chunk(tsn: 2, stream: 2, ssn: 0))
        h.insert(RxSupport.chunk(tsn: 3, stream: 1, ssn: 1))
        #expect(h.drainMessages().map(\.streamIdentifier) == [2])
        h.insert(RxSupport.chunk(tsn: 1, stream: 1, ssn: 0))
        #expect(h.drainMessages().map(\.ssn) == [SSN(0), SSN(1)])
        #expect(h.queue.nextExpectedSSN(onStream: 1) == SSN(2))
        #expect(h.queue.nextExpectedSSN(onStream: 9) == SSN(0))
    }

    @Test("SSNs wrap from 65535 to 0")
    func ssnWrap() {
        var h = Harness()
        h.queue.setNextExpectedSSNForTesting(SSN(65_534), onStream: 3)
        h.insert(RxSupport.chunk(tsn: 4, stream: 3, ssn: 1))
        h.insert(RxSupport.chunk(tsn: 3, stream: 3, ssn: 0))
        h.insert(RxSupport.chunk(tsn: 2, stream: 3, ssn: 65_535))
        #expect(h.drain().isEmpty)
        h.insert(RxSupport.chunk(tsn: 1, stream: 3, ssn: 65_534))
        #expect(h.drainMessages().map(\.ssn.rawValue) == [65_534, 65_535, 0, 1])
        #expect(h.queue.nextExpectedSSN(onStream: 3) == SSN(2))
    }

    @Test("SSNs wrap in a long in-order run")
    func ssnWrapLongRun() {
        var h = Harness()
        for i in 0..<70_000 {
            h.insert(RxSupport.chunk(tsn: UInt32(i + 1), stream: 0, ssn: UInt16(truncatingIfNeeded: i)))
        }
        #expect(h.queue.pendingOutputCount == 70_000)
        #expect(h.queue.nextExpectedSSN(onStream: 0) == SSN(UInt16(70_000 % 65_536)))
    }

    // MARK: - Checks

    @Test("stream identifiers at or above the inbound stream count are reported, not taken")
    func invalidStream() {
        var queue = ReassemblyQueue(inboundStreamCount: 4)
        #expect(queue.isValidStream(3))
        #expect(!queue.isValidStream(4))
        #expect(queue.insert(RxSupport.chunk(tsn: 1, stream: 4), cumulativeTSN: TSN(0)) == .invalidStream)
        #expect(queue.pendingOutputCount == 0 && queue.bufferedBytes == 0)
        queue.setInboundStreamCount(8)
        #expect(queue.insert(RxSupport.chunk(tsn: 1, stream: 6), cumulativeTSN: TSN(0)) == .accepted)
    }

    @Test("a TSN already held is a duplicate and changes nothing")
    func duplicateInQueue() {
        var queue = ReassemblyQueue(inboundStreamCount: 4)
        let chunk = RxSupport.chunk(tsn: 5, ssn: 3)
        #expect(queue.insert(chunk, cumulativeTSN: TSN(0)) == .accepted)
        #expect(queue.insert(chunk, cumulativeTSN: TSN(0)) == .duplicate)
        let unordered = RxSupport.chunk(tsn: 6, flags: [.beginning, .unordered])
        #expect(queue.insert(unordered, cumulativeTSN: TSN(0)) == .accepted)
        #expect(queue.insert(unordered, cumulativeTSN: TSN(0)) == .duplicate)
        #expect(queue.insert(RxSupport.chunk(tsn: 6, flags: [.complete, .unordered]), cumulativeTSN: TSN(0)) == .duplicate)
        #expect(queue.bufferedBytes == 16)
    }

    // MARK: - Memory

    @Test("the memory limit refuses chunks, except the one filling the cumulative point, within the allowance")
    func memoryLimit() {
        var h = Harness(configuration: .init(memoryLimit: 1_000, partialDeliveryPoint: 100_000, overshootAllowance: 500, fragmentOverhead: 0))
        let big = RxSupport.message(id: 1, stream: 0, ssn: 0, size: 1_200)
        let chunks = RxSupport.fragments(of: big, firstTSN: TSN(2), fragmentSize: 600)  // TSN 2 (600), 3 (600)
        #expect(h.insert(chunks[0]) == .accepted)
        #expect(h.queue.bufferedBytes == 600)
        #expect(h.queue.canAccept(payloadBytes: 400, fillsCumulativeTSN: false))
        #expect(!h.queue.canAccept(payloadBytes: 401, fillsCumulativeTSN: false))
        #expect(h.queue.canAccept(payloadBytes: 900, fillsCumulativeTSN: true))
        #expect(!h.queue.canAccept(payloadBytes: 901, fillsCumulativeTSN: true))
        #expect(h.insert(chunks[1]) == .noSpace)
        #expect(h.queue.bufferedBytes == 600)
        #expect(h.tracker.gapRangeCount == 1)  // TSN 3 was not recorded
        // TSN 1 fills the cumulative point: too big even with the allowance…
        #expect(h.insert(RxSupport.chunk(tsn: 1, stream: 1, payload: RxSupport.bytes(901, seed: 1))) == .noSpace)
        // …but one that fits in the allowance is taken and goes out at once.
        #expect(h.insert(RxSupport.chunk(tsn: 1, stream: 1, payload: RxSupport.bytes(900, seed: 1))) == .accepted)
        #expect(h.drainMessages().map(\.streamIdentifier) == [1])
        #expect(h.queue.bufferedBytes == 600)
        #expect(h.tracker.cumulativeTSN == TSN(2))
        // Now TSN 3 fills the cumulative point.
        #expect(h.insert(chunks[1]) == .accepted)
        #expect(h.drainMessages().map(\.payload) == [big.payload])
        #expect(h.queue.bufferedBytes == 0)
    }

    @Test("tiny messages behind a missing one are charged their overhead: what is held stays bounded, and the missing one still gets through")
    func fragmentOverheadBoundsTinyMessages() {
        // 64 KiB of memory; 1-byte ordered messages SSN 1, 2, … at TSN 2, 3, …, SSN 0 (TSN 1)
        // missing. Counted by payload alone, 20,000 of them (20,000 bytes) would all be held;
        // charged 128 bytes each, at most 64 KiB / 129 are.
        let limit = 65_536
        var h = Harness(configuration: .init(memoryLimit: limit, partialDeliveryPoint: 1 << 20, overshootAllowance: 4_096))
        var accepted = 0
        var refused = 0
        for n in 1...20_000 {
            switch h.insert(RxSupport.chunk(tsn: UInt32(n + 1), ssn: UInt16(truncatingIfNeeded: n), payload: RxSupport.bytes(1, seed: UInt32(n)))) {
            case .accepted: accepted += 1
            case .noSpace: refused += 1
            default: Issue.record("unexpected result for message \(n)")
            }
        }
        #expect(accepted * (1 + 128) <= limit)
        #expect(accepted >= limit / (1 + 128) - 1)
        #expect(refused == 20_000 - accepted)
        #expect(h.queue.bufferedBytes == accepted)
        #expect(h.queue.checkInvariants() == [])
        #expect(h.drain().isEmpty)
        // The missing message fills the cumulative TSN: taken whatever the charge, and every
        // message held goes out behind it, in order.
        #expect(h.insert(RxSupport.chunk(tsn: 1, ssn: 0, payload: RxSupport.bytes(1, seed: 0))) == .accepted)
        let delivered = h.drainMessages()
        #expect(delivered.count == accepted + 1)
        #expect(delivered.map(\.ssn) == (0...accepted).map { SSN(UInt16($0)) })
        #expect(h.queue.bufferedBytes == 0)
        #expect(h.queue.checkInvariants() == [])
    }

    @Test("a message of many 1-byte fragments in TSN order is delivered in pieces once its charge exhausts the memory, never refused")
    func fragmentOverheadStartsPartialDelivery() {
        var h = Harness(configuration: .init(memoryLimit: 16_384, partialDeliveryPoint: 1 << 20, overshootAllowance: 1_024))
        let m = RxSupport.message(id: 9, stream: 0, ssn: 0, size: 5_000)
        let chunks = RxSupport.fragments(of: m, firstTSN: TSN(1), fragmentSize: 1)
        var pieces: [ReceivedMessage] = []
        for chunk in chunks {
            #expect(h.insert(chunk) == .accepted)
            pieces += h.drainMessages()
        }
        // 5,000 fragments charged 129 bytes each would be 645,000 bytes: the head went out in
        // pieces as the charge reached the limit.
        #expect(pieces.count > 1)
        #expect(pieces.last?.isComplete == true)
        #expect(joined(pieces) == m.payload)
        #expect(h.queue.bufferedBytes == 0)
        #expect(h.queue.checkInvariants() == [])
    }

    // MARK: - Partial delivery

    @Test("a head message reaching the partial delivery point goes out in pieces until E")
    func partialDeliveryByPoint() {
        var h = Harness(configuration: .init(memoryLimit: 100_000, partialDeliveryPoint: 1_000))
        let m = RxSupport.message(id: 3, stream: 0, ssn: 0, size: 2_000)
        let chunks = RxSupport.fragments(of: m, firstTSN: TSN(1), fragmentSize: 400)  // TSN 1...5
        h.insert(chunks[0])
        h.insert(chunks[1])
        #expect(h.drain().isEmpty)
        h.insert(chunks[2])
        var pieces = h.drainMessages()
        #expect(pieces.count == 1)
        #expect(pieces[0].firstTSN == TSN(1) && pieces[0].lastTSN == TSN(3) && !pieces[0].isComplete)
        #expect(pieces[0].payload.readableBytes == 1_200)
        #expect(h.queue.isPartialDeliveryInProgress(onStream: 0))
        #expect(h.queue.bufferedBytes == 0)

        h.insert(chunks[3])
        let fourth = h.drainMessages()
        #expect(fourth.count == 1 && !fourth[0].isComplete && fourth[0].firstTSN == TSN(4))
        #expect(address(fourth[0].payload) == address(chunks[3].payload))  // one fragment: no copy
        pieces += fourth

        // The next message of the stream waits for the end of this one.
        h.insert(RxSupport.chunk(tsn: 6, stream: 0, ssn: 1))
        #expect(h.drain().isEmpty)
        h.insert(chunks[4])
        let rest = h.drainMessages()
        #expect(rest.count == 2)
        #expect(rest[0].isComplete && rest[0].firstTSN == TSN(5) && rest[0].ssn == SSN(0))
        #expect(rest[1].ssn == SSN(1) && rest[1].isComplete)
        pieces.append(rest[0])
        #expect(joined(pieces) == m.payload)
        #expect(!h.queue.isPartialDeliveryInProgress(onStream: 0))
        #expect(h.queue.bufferedBytes == 0)
    }

    @Test("pieces of a partial delivery gather fragments that arrived early")
    func partialDeliveryCatchesUp() {
        var h = Harness(configuration: .init(memoryLimit: 100_000, partialDeliveryPoint: 500))
        let m = RxSupport.message(id: 3, stream: 0, ssn: 0, size: 2_000)
        let chunks = RxSupport.fragments(of: m, firstTSN: TSN(1), fragmentSize: 400)
        var pieces: [ReceivedMessage] = []
        for index in [0, 1, 4, 3] {
            h.insert(chunks[index])
            pieces += h.drainMessages()
        }
        #expect(pieces.count == 1)
        h.insert(chunks[2])
        let last = h.drainMessages()
        #expect(last.count == 1 && last[0].isComplete && last[0].firstTSN == TSN(3) && last[0].lastTSN == TSN(5))
        pieces += last
        #expect(joined(pieces) == m.payload)
    }

    @Test("partial delivery starts only once the message's first TSN is at or below the cumulative point")
    func partialDeliveryNeedsCumulativePoint() {
        var h = Harness(configuration: .init(memoryLimit: 100_000, partialDeliveryPoint: 500))
        let m = RxSupport.message(id: 3, stream: 0, ssn: 0, size: 1_600)
        let chunks = RxSupport.fragments(of: m, firstTSN: TSN(2), fragmentSize: 400)  // TSN 2...5
        h.insert(chunks[0])
        h.insert(chunks[1])
        #expect(h.drain().isEmpty)  // 800 bytes, but TSN 1 is missing
        h.insert(RxSupport.chunk(tsn: 1, stream: 1))
        #expect(h.drainMessages().map(\.streamIdentifier) == [1])
        h.insert(chunks[2])
        let piece = h.drainMessages()
        #expect(piece.count == 1 && !piece[0].isComplete && piece[0].firstTSN == TSN(2) && piece[0].lastTSN == TSN(4))
    }

    @Test("a chunk filling a gap makes the next head eligible for partial delivery at once")
    func partialDeliveryAfterGapFill() {
        var h = Harness(configuration: .init(memoryLimit: 100_000, partialDeliveryPoint: 1_000))
        let m = RxSupport.message(id: 1, stream: 0, ssn: 1, size: 1_600)
        let chunks = RxSupport.fragments(of: m, firstTSN: TSN(2), fragmentSize: 400)  // TSN 2...5, no E yet
        for c in chunks.dropLast() { h.insert(c) }
        #expect(h.drain().isEmpty)  // TSN 1 missing: not eligible
        h.insert(RxSupport.chunk(tsn: 1, stream: 0, ssn: 0))  // the cumulative point jumps to 4
        let out = h.drainMessages()
        #expect(out.map(\.ssn) == [SSN(0), SSN(1)])
        #expect(out.last?.isComplete == false && out.last?.firstTSN == TSN(2) && out.last?.lastTSN == TSN(4))
        #expect(h.queue.bufferedBytes == 0)
    }

    @Test("exhausted memory starts a partial delivery whatever the point")
    func partialDeliveryByMemory() {
        var h = Harness(configuration: .init(memoryLimit: 1_000, partialDeliveryPoint: 1_000_000, fragmentOverhead: 0))
        let m = RxSupport.message(id: 3, stream: 0, ssn: 0, size: 1_800)
        let chunks = RxSupport.fragments(of: m, firstTSN: TSN(1), fragmentSize: 300)  // TSN 1...6
        for c in chunks.prefix(3) { h.insert(c) }
        #expect(h.drain().isEmpty)
        // Out-of-order data on another stream fills the rest of the memory.
        #expect(h.insert(RxSupport.chunk(tsn: 8, stream: 1, ssn: 1, payload: RxSupport.bytes(100, seed: 8))) == .accepted)
        #expect(h.insert(RxSupport.chunk(tsn: 9, stream: 1, ssn: 2, payload: RxSupport.bytes(100, seed: 9))) == .noSpace)
        // TSN 4 fills the cumulative point: taken beyond the limit, and the head goes out.
        #expect(h.insert(chunks[3]) == .accepted)
        var pieces = h.drainMessages()
        #expect(pieces.count == 1 && !pieces[0].isComplete && pieces[0].lastTSN == TSN(4))
        #expect(h.queue.bufferedBytes == 100)
        h.insert(chunks[4])
        h.insert(chunks[5])
        pieces += h.drainMessages()
        #expect(pieces.last?.isComplete == true)
        #expect(joined(pieces) == m.payload)
    }

    @Test("an unordered message can be delivered partially too")
    func unorderedPartialDelivery() {
        var h = Harness(configuration: .init(memoryLimit: 100_000, partialDeliveryPoint: 500))
        let m = RxSupport.message(id: 5, stream: 2, unordered: true, ssn: 0, size: 1_200)
        let chunks = RxSupport.fragments(of: m, firstTSN: TSN(1), fragmentSize: 300)  // TSN 1...4
        h.insert(chunks[0])
        #expect(h.drain().isEmpty)
        h.insert(chunks[1])
        var pieces = h.drainMessages()
        #expect(pieces.count == 1 && pieces[0].isUnordered && !pieces[0].isComplete)
        h.insert(chunks[3])
        #expect(h.drain().isEmpty)
        h.insert(chunks[2])
        pieces += h.drainMessages()
        #expect(pieces.count == 2 && pieces[1].isComplete)
        #expect(joined(pieces) == m.payload)
        #expect(h.queue.bufferedBytes == 0)
    }

    @Test("during a partial delivery, other messages of that stream wait; other streams do not")
    func partialDeliveryHoldsTheStream() {
        var h = Harness(configuration: .init(memoryLimit: 100_000, partialDeliveryPoint: 500))
        let m = RxSupport.message(id: 1, stream: 0, ssn: 0, size: 1_200)
        let chunks = RxSupport.fragments(of: m, firstTSN: TSN(1), fragmentSize: 300)  // TSN 1...4
        h.insert(chunks[0])
        h.insert(chunks[1])
        #expect(h.drainMessages().count == 1)
        h.insert(RxSupport.chunk(tsn: 5, stream: 0, ssn: 1))
        h.insert(RxSupport.chunk(tsn: 6, stream: 0, flags: [.complete, .unordered]))
        h.insert(RxSupport.chunk(tsn: 7, stream: 0, flags: [.beginning, .unordered]))
        h.insert(RxSupport.chunk(tsn: 8, stream: 0, flags: [.ending, .unordered]))
        h.insert(RxSupport.chunk(tsn: 9, stream: 1, flags: [.complete, .unordered]))
        #expect(h.drainMessages().map(\.streamIdentifier) == [1])
        h.insert(chunks[2])
        #expect(h.drainMessages().map(\.firstTSN) == [TSN(3)])
        h.insert(chunks[3])
        let rest = h.drainMessages()
        #expect(rest.first?.firstTSN == TSN(4) && rest.first?.isComplete == true)
        #expect(Set(rest.dropFirst().map(\.firstTSN)) == [TSN(5), TSN(6), TSN(7)])
        #expect(rest.dropFirst().allSatisfy { $0.isComplete })
        #expect(h.queue.bufferedBytes == 0)
    }

    // MARK: - FORWARD TSN

    @Test("FORWARD TSN skips a lost ordered message and releases the next")
    func forwardSkipsOrdered() {
        var h = Harness()
        h.insert(RxSupport.chunk(tsn: 2, stream: 0, ssn: 1))
        #expect(h.drain().isEmpty)
        h.forward(to: 1, [(0, 0)])
        #expect(h.drainMessages().map(\.ssn) == [SSN(1)])
        #expect(h.queue.nextExpectedSSN(onStream: 0) == SSN(2))
        #expect(h.queue.bufferedBytes == 0)
    }

    @Test("FORWARD TSN delivers stranded complete messages up to the skipped SSN and drops incomplete ones")
    func forwardStranded() {
        var h = Harness()
        // SSN 0 at TSN 1 lost; SSN 1 at TSN 2 whole; SSN 2 at TSN 3-4, only its end arrived.
        h.insert(RxSupport.chunk(tsn: 2, stream: 0, ssn: 1))
        h.insert(RxSupport.chunk(tsn: 4, stream: 0, ssn: 2, flags: .ending))
        #expect(h.queue.bufferedBytes == 16)
        h.forward(to: 4, [(0, 2)])
        #expect(h.drainMessages().map(\.ssn) == [SSN(1)])
        #expect(h.queue.bufferedBytes == 0)
        #expect(h.queue.nextExpectedSSN(onStream: 0) == SSN(3))
        h.insert(RxSupport.chunk(tsn: 5, stream: 0, ssn: 3))
        #expect(h.drainMessages().map(\.ssn) == [SSN(3)])
    }

    @Test("FORWARD TSN drops unordered fragments that miss skipped TSNs, keeps those missing only later ones")
    func forwardUnordered() {
        var h = Harness()
        h.insert(RxSupport.chunk(tsn: 2, stream: 1, flags: [.beginning, .unordered]))
        h.insert(RxSupport.chunk(tsn: 3, stream: 1, flags: [.unordered]))
        h.insert(RxSupport.chunk(tsn: 6, stream: 1, flags: [.beginning, .unordered]))
        #expect(h.queue.bufferedBytes == 24)
        // The message at 2...4 lost TSN 4; the one from 6 waits for 7 and later.
        h.forward(to: 5)
        #expect(h.tracker.cumulativeTSN == TSN(6))
        #expect(h.drain().isEmpty)
        #expect(h.queue.bufferedBytes == 8)
        h.insert(RxSupport.chunk(tsn: 7, stream: 1, flags: [.ending, .unordered]))
        let out = h.drainMessages()
        #expect(out.count == 1 && out[0].firstTSN == TSN(6) && out[0].lastTSN == TSN(7))
        #expect(h.queue.bufferedBytes == 0)
    }

    @Test("FORWARD TSN aborts a partial delivery whose rest was skipped", arguments: [false, true])
    func forwardAbortsPartialDelivery(unordered: Bool) {
        var h = Harness(configuration: .init(memoryLimit: 100_000, partialDeliveryPoint: 500))
        let m = RxSupport.message(id: 1, stream: 4, unordered: unordered, ssn: 0, size: 1_200)
        let chunks = RxSupport.fragments(of: m, firstTSN: TSN(1), fragmentSize: 300)  // TSN 1...4
        h.insert(chunks[0])
        h.insert(chunks[1])
        h.insert(chunks[3])
        #expect(h.drainMessages().count == 1)
        #expect(h.queue.isPartialDeliveryInProgress(onStream: 4))
        h.forward(to: 4, unordered ? [] : [(4, 0)])
        #expect(h.drain() == [.partialDeliveryAborted(PartialDeliveryAbort(streamIdentifier: 4, isUnordered: unordered, ssn: SSN(0)))])
        #expect(!h.queue.isPartialDeliveryInProgress(onStream: 4))
        #expect(h.queue.bufferedBytes == 0)
        #expect(h.queue.nextExpectedSSN(onStream: 4) == SSN(unordered ? 0 : 1))
        h.insert(RxSupport.chunk(tsn: 5, stream: 4, ssn: unordered ? 0 : 1))
        #expect(h.drainMessages().count == 1)
    }

    @Test("FORWARD TSN that leaves a partial delivery's next TSN alone does not abort it")
    func forwardKeepsPartialDelivery() {
        var h = Harness(configuration: .init(memoryLimit: 100_000, partialDeliveryPoint: 500))
        let m = RxSupport.message(id: 1, stream: 0, ssn: 0, size: 1_200)
        let chunks = RxSupport.fragments(of: m, firstTSN: TSN(1), fragmentSize: 300)
        h.insert(chunks[0])
        h.insert(chunks[1])
        _ = h.drain()
        h.forward(to: 2)  // stale for the tracker: nothing happens
        h.queue.handleForwardTSN(newCumulativeTSN: TSN(2), skippedStreams: [])
        #expect(h.drain().isEmpty)
        #expect(h.queue.isPartialDeliveryInProgress(onStream: 0))
    }

    @Test("an ordered skip arriving during an unordered partial delivery applies when it ends")
    func forwardSkipDuringUnorderedPartialDelivery() {
        var h = Harness(configuration: .init(memoryLimit: 100_000, partialDeliveryPoint: 500))
        let m = RxSupport.message(id: 1, stream: 0, unordered: true, ssn: 0, size: 1_200)
        let chunks = RxSupport.fragments(of: m, firstTSN: TSN(1), fragmentSize: 300)
        h.insert(chunks[0])
        h.insert(chunks[1])
        #expect(h.drainMessages().count == 1)
        // Called directly: the skip names SSN 0 while the unordered delivery still runs.
        h.queue.handleForwardTSN(newCumulativeTSN: TSN(2), skippedStreams: [.init(streamIdentifier: 0, ssn: SSN(0))])
        h.insert(RxSupport.chunk(tsn: 6, stream: 0, ssn: 1))
        #expect(h.drain().isEmpty)
        h.insert(chunks[2])
        h.insert(chunks[3])
        let out = h.drainMessages()
        #expect(out.map(\.firstTSN) == [TSN(3), TSN(4), TSN(6)])
        #expect(out[1].isComplete && out[2].ssn == SSN(1))
        #expect(h.queue.nextExpectedSSN(onStream: 0) == SSN(2))
    }

    @Test("FORWARD TSN naming an unused stream sets its next SSN; a stale SSN changes nothing; invalid streams are ignored")
    func forwardStreamBookkeeping() {
        var h = Harness(streams: 8)
        h.forward(to: 3, [(5, 2), (5, 1), (200, 4)])
        #expect(h.queue.nextExpectedSSN(onStream: 5) == SSN(3))
        #expect(h.queue.streams[200] == nil)
        h.insert(RxSupport.chunk(tsn: 4, stream: 5, ssn: 3))
        #expect(h.drainMessages().map(\.ssn) == [SSN(3)])
        h.forward(to: 5, [(5, 0)])
        #expect(h.queue.nextExpectedSSN(onStream: 5) == SSN(4))
    }

    @Test("stream reset sets the next expected SSN back to 0")
    func resetStreams() {
        var h = Harness()
        h.insert(RxSupport.chunk(tsn: 1, stream: 0, ssn: 0))
        h.insert(RxSupport.chunk(tsn: 2, stream: 1, ssn: 0))
        h.queue.resetStreams([0])
        #expect(h.queue.nextExpectedSSN(onStream: 0) == SSN(0))
        #expect(h.queue.nextExpectedSSN(onStream: 1) == SSN(1))
        h.queue.resetStreams([])
        #expect(h.queue.nextExpectedSSN(onStream: 1) == SSN(0))
    }

    // MARK: - Randomised

    @Test("random reordering and duplicates: each message once, in SSN order, bytes identical",
          arguments: [UInt64(11), 12, 13, 14, 15, 16])
    func randomReorder(seed: UInt64) {
        let initial = seed.isMultiple(of: 2) ? TSN(0xFFFF_FF00) : TSN(1000)
        let (messages, chunks) = RxSupport.scenario(seed: seed, messageCount: 300, streams: 5, maxSize: 900,
                                                    fragmentSize: 200, initialTSN: initial,
                                                    firstSSN: seed.isMultiple(of: 3) ? 65_500 : 0)
        var rng = SeededRandomSource(seed: seed &* 7)
        // Reorder within sliding windows and duplicate some chunks.
        var arrival: [DataChunk] = []
        var index = 0
        while index < chunks.count {
            var window = Array(chunks[index..<min(index + 1 + RxSupport.draw(12, &rng), chunks.count)])
            index += window.count
            for c in window where RxSupport.chance(0.1, &rng) { window.append(c) }
            RxSupport.shuffle(&window, &rng)
            arrival += window
        }
        var h = Harness(initialTSN: initial.rawValue,
                        configuration: .init(memoryLimit: 1 << 20, partialDeliveryPoint: seed.isMultiple(of: 3) ? 300 : nil))
        if seed.isMultiple(of: 3) {
            for s: UInt16 in 0..<5 {
                h.queue.setNextExpectedSSNForTesting(SSN(65_500), onStream: s)
            }
        }
        var checker = RxSupport.DeliveryChecker(messages)
        for c in arrival {
            _ = h.insert(c)
            while let o = h.queue.poll() { checker.take(o) }
        }
        #expect(checker.failures.isEmpty, "\(checker.failures)")
        #expect(checker.missing.isEmpty)
        #expect(h.queue.bufferedBytes == 0)
        #expect(h.tracker.cumulativeTSN == initial.advanced(by: UInt32(chunks.count - 1)))
        if seed.isMultiple(of: 3) { #expect(checker.pieces > 0) }
    }
}
