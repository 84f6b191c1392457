import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

@Suite("receive: stream table and streams chosen by the peer")
struct ReceiveStreamTableTests {
    /// `count` distinct stream ids below `limit` in a scrambled order (a fixed permutation).
    static func scrambledIDs(_ count: Int, below limit: Int) -> [UInt16] {
        var ids: [UInt16] = []
        var seen = Set<UInt16>()
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        while ids.count < count {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let id = UInt16(truncatingIfNeeded: (x >> 33) % UInt64(limit))
            if seen.insert(id).inserted { ids.append(id) }
        }
        return ids
    }

    @Test("a flood of distinct stream ids: each found again under its own id, in the order first used, the last one remembered correctly")
    func floodOfIDs() {
        var table = ReceiveStreamTable<Int>()
        #expect(table.isEmpty && table[7] == nil)
        let ids = Self.scrambledIDs(5_000, below: 65_535)
        for (index, id) in ids.enumerated() {
            table[id, default: 0] += Int(id) + 1
            // Alternating with a stream seen long before: the remembered stream must follow.
            table[ids[index / 2], default: 0] += 0
            #expect(table[id] == Int(id) + 1)
        }
        #expect(table.count == ids.count)
        #expect(table.keys == ids)
        for id in ids { #expect(table[id] == Int(id) + 1) }
        // Changes land on the stream named, whichever was looked up before.
        for id in ids.reversed() { table[id, default: -1] *= 2 }
        for (id, value) in table { #expect(value == 2 * (Int(id) + 1)) }
        let unused = Set(0...65_535).subtracting(ids.map(Int.init)).prefix(50)
        for id in unused { #expect(table[UInt16(id)] == nil) }
        #expect(table.count == ids.count)
        for index in table.indices { #expect(table[position: index] == 2 * (Int(ids[index]) + 1)) }
        #expect(table.position(of: ids[4_321]) == 4_321)
    }

    @Test("below and across the linear limit, look-ups and changes agree with a dictionary")
    func acrossTheLinearLimit() {
        var table = ReceiveStreamTable<UInt32>()
        var reference: [UInt16: UInt32] = [:]
        var x: UInt32 = 12_345
        for step in 0..<4_000 {
            x = x &* 1_103_515_245 &+ 12_345
            // Few distinct ids at first (the linear scan), more later (the keyed look-up).
            let spread = step < 1_000 ? UInt32(ReceiveStreamTable<UInt32>.linearLimit) : 40
            let id = UInt16((x >> 16) % spread) &* 1_637
            table[id, default: 0] &+= UInt32(step)
            reference[id, default: 0] &+= UInt32(step)
            let probe = UInt16((x >> 8) % 64) &* 1_637
            #expect(table[probe] == reference[probe])
        }
        #expect(Dictionary(uniqueKeysWithValues: table.map { ($0.key, $0.value) }) == reference)
    }

    @Test("ordered messages on thousands of distinct streams, up to the top of the range, each come out in order on their own stream")
    func manyStreamsInQueue() {
        var queue = ReassemblyQueue(inboundStreamCount: 65_535)
        var ids = Self.scrambledIDs(3_000, below: 65_534).filter { $0 != 0 }
        ids.insert(0, at: 0)
        ids.insert(65_534, at: 1)  // the top of the negotiated range, at an odd position
        // TSNs in SSN order per stream, as a sender assigns them: SSN 0 of every stream first,
        // then SSN 1, then SSN 2. SSN 1 exists on the streams at even positions only, and
        // arrives first (it waits for SSN 0); then SSN 0 on all, then SSN 2 on all: it goes
        // out where SSN 1 came, and waits elsewhere.
        func chunk(_ index: Int, round: Int) -> DataChunk {
            let id = ids[index]
            let tsn = TSN(UInt32(1 + round * ids.count + index))
            return DataChunk(flags: .complete, tsn: tsn, streamIdentifier: id, ssn: SSN(UInt16(round)),
                             payloadProtocolIdentifier: UInt32(id), payload: ByteBuffer(bytes: [UInt8(truncatingIfNeeded: id), UInt8(round)]))
        }
        for round in [1, 0, 2] {
            for index in ids.indices where round != 1 || index % 2 == 0 {
                #expect(queue.insert(chunk(index, round: round), cumulativeTSN: TSN(0)) == .accepted)
            }
        }
        let tsn = TSN(UInt32(1 + 3 * ids.count))
        var expected: [UInt16: [SSN]] = [:]
        for (index, id) in ids.enumerated() { expected[id] = index % 2 == 0 ? [SSN(0), SSN(1), SSN(2)] : [SSN(0)] }
        var delivered: [UInt16: [SSN]] = [:]
        for output in RxSupport.drain(&queue) {
            guard case .message(let m) = output else { continue }
            #expect(m.payload.getInteger(at: m.payload.readerIndex, as: UInt8.self) == UInt8(truncatingIfNeeded: m.streamIdentifier))
            #expect(m.payloadProtocolIdentifier == UInt32(m.streamIdentifier))
            delivered[m.streamIdentifier, default: []].append(m.ssn)
        }
        #expect(delivered == expected)
        let waiting = ids.indices.filter { $0 % 2 == 1 }.count
        #expect(queue.bufferedBytes == 2 * waiting)
        #expect(queue.nextExpectedSSN(onStream: 65_534) == SSN(1))
        #expect(queue.nextExpectedSSN(onStream: 0) == SSN(3))
        #expect(queue.streams.count == ids.count)
        #expect(queue.checkInvariants().isEmpty)
        // Beyond the range: refused as before, nothing filed under it.
        #expect(queue.insert(RxSupport.chunk(tsn: tsn.rawValue, stream: 65_535), cumulativeTSN: tsn) == .invalidStream)
        #expect(queue.streams[65_535] == nil && queue.bufferedBytes == 2 * waiting)
    }
}
