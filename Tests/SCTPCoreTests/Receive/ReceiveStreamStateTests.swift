import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

/// What the receive side keeps per stream, against a peer that names many streams (DATA,
/// I-DATA, FORWARD TSN, I-FORWARD-TSN): a stream that holds nothing keeps its next SSN/MID
/// alone (a 16-byte entry, none at all while it is 0); a reassembler with its queues exists
/// only while the stream holds something and goes when it drains.
@Suite("receive: per-stream state a peer can make us keep")
struct ReceiveStreamStateTests {
    static let streamCount: UInt16 = 4096

    static func receiver(interleaving: Bool = false) -> DataReceiver {
        var r = DataReceiver(peerInitialTSN: TSN(1), inboundStreamCount: streamCount)
        r.interleaving = interleaving
        return r
    }

    static func data(_ tsn: UInt32, stream: UInt16, ssn: UInt16, flags: DataFlags = .complete, size: Int = 10) -> DataChunk {
        DataChunk(flags: flags, tsn: TSN(tsn), streamIdentifier: stream, ssn: SSN(ssn), payloadProtocolIdentifier: UInt32(ssn),
                  payload: ByteBuffer(repeating: UInt8(truncatingIfNeeded: tsn), count: size))
    }

    static func iData(_ tsn: UInt32, stream: UInt16, mid: UInt32, flags: DataFlags = .complete, fsn: UInt32 = 0,
                      size: Int = 10) -> IDataChunk {
        IDataChunk(flags: flags, tsn: TSN(tsn), streamIdentifier: stream, mid: MID(mid),
                   ppidOrFSN: flags.contains(.beginning) ? mid : fsn,
                   payload: ByteBuffer(repeating: UInt8(truncatingIfNeeded: tsn), count: size))
    }

    static func messages(_ r: inout DataReceiver) -> [ReceivedMessage] {
        var out: [ReceivedMessage] = []
        while let output = r.poll() { if case .message(let m) = output { out.append(m) } }
        return out
    }

    @Test("an idle stream's entry is small: 16 bytes, against 72 for a DATA reassembler")
    func entrySize() {
        #expect(MemoryLayout<ReceiveStreamEntry<StreamReassembler>>.stride <= 16)
        #expect(MemoryLayout<ReceiveStreamEntry<InterleavedStreamReassembler>>.stride <= 16)
        #expect(MemoryLayout<StreamReassembler>.stride >= 64)
    }

    @Test("a FORWARD TSN naming every stream makes no reassembler; streams whose SSN moved keep it alone, the others nothing")
    func forwardTSNNamingEveryStream() {
        var r = Self.receiver()
        // SSN 65535 is behind 0 (serially): those streams do not move and need no entry.
        let skipped = (0..<Self.streamCount).map { id in
            ForwardTSNChunk.SkippedStream(streamIdentifier: id, ssn: SSN(id % 2 == 0 ? 4 : 65_535))
        }
        // Ids beyond the inbound stream count are ignored.
        let beyond = (Self.streamCount..<(Self.streamCount + 500)).map { ForwardTSNChunk.SkippedStream(streamIdentifier: $0, ssn: SSN(9)) }
        _ = r.receive(ForwardTSNChunk(newCumulativeTSN: TSN(10), skippedStreams: skipped + beyond))
        #expect(r.reassembly.streamReassemblerCount == 0)
        #expect(r.reassembly.streamEntryCount == Int(Self.streamCount) / 2)
        #expect(r.reassembly.nextExpectedSSN(onStream: 2) == SSN(5))
        #expect(r.reassembly.nextExpectedSSN(onStream: 3) == SSN(0))
        #expect(r.reassembly.nextExpectedSSN(onStream: Self.streamCount + 1) == SSN(0))
        #expect(r.checkInvariants() == [])
        // The same FORWARD TSN again changes nothing.
        _ = r.receive(ForwardTSNChunk(newCumulativeTSN: TSN(10), skippedStreams: skipped))
        #expect(r.reassembly.streamEntryCount == Int(Self.streamCount) / 2)
        #expect(r.reassembly.streamReassemblerCount == 0)
    }

    @Test("ordered delivery after a FORWARD TSN skipped SSNs goes on from the SSN after the skipped one, on streams that held nothing and on one that did")
    func orderedAfterForwardTSN() {
        var r = Self.receiver()
        // Stream 9 holds SSN 2 (waiting for SSN 0 and 1, which the peer gives up).
        #expect(r.receive(Self.data(3, stream: 9, ssn: 2)) == .accepted)
        #expect(r.reassembly.streamReassemblerCount == 1)
        _ = r.receive(ForwardTSNChunk(newCumulativeTSN: TSN(2), skippedStreams: [
            .init(streamIdentifier: 7, ssn: SSN(4)), .init(streamIdentifier: 9, ssn: SSN(1)),
        ]))
        #expect(Self.messages(&r).map { [$0.streamIdentifier, $0.ssn.rawValue] } == [[9, 2]])
        #expect(r.reassembly.streamReassemblerCount == 0, "stream 9 drained")
        #expect(r.reassembly.nextExpectedSSN(onStream: 7) == SSN(5))
        #expect(r.reassembly.nextExpectedSSN(onStream: 9) == SSN(3))
        // Stream 7: SSN 6 waits for 5, then both go, in order.
        #expect(r.receive(Self.data(5, stream: 7, ssn: 6)) == .accepted)
        #expect(Self.messages(&r).isEmpty)
        #expect(r.reassembly.streamReassemblerCount == 1)
        #expect(r.receive(Self.data(4, stream: 7, ssn: 5)) == .accepted)
        #expect(Self.messages(&r).map(\.ssn) == [SSN(5), SSN(6)])
        #expect(r.reassembly.streamReassemblerCount == 0)
        #expect(r.reassembly.nextExpectedSSN(onStream: 7) == SSN(7))
        // A message in two fragments on stream 9, then a whole one.
        #expect(r.receive(Self.data(6, stream: 9, ssn: 3, flags: .beginning)) == .accepted)
        #expect(r.reassembly.streamReassemblerCount == 1)
        #expect(r.receive(Self.data(7, stream: 9, ssn: 3, flags: .ending)) == .accepted)
        #expect(r.receive(Self.data(8, stream: 9, ssn: 4)) == .accepted)
        #expect(Self.messages(&r).map { [$0.ssn.rawValue, UInt16($0.payload.readableBytes)] } == [[3, 20], [4, 10]])
        #expect(r.reassembly.streamReassemblerCount == 0)
        #expect(r.reassembly.streamEntryCount == 2)
        #expect(r.checkInvariants() == [])
    }

    @Test("an I-FORWARD-TSN naming every stream makes no reassembler; ordered MIDs skipped are kept alone, unordered ones leave nothing")
    func iForwardTSNNamingEveryStream() {
        var r = Self.receiver(interleaving: true)
        var skipped: [IForwardTSNChunk.SkippedMessage] = []
        for id in 0..<Self.streamCount {
            skipped.append(.init(streamIdentifier: id, unordered: true, mid: MID(40)))
            if id % 4 == 0 { skipped.append(.init(streamIdentifier: id, unordered: false, mid: MID(70_000))) }
        }
        _ = r.receive(IForwardTSNChunk(newCumulativeTSN: TSN(10), skippedMessages: skipped))
        #expect(r.reassembly.streamReassemblerCount == 0)
        #expect(r.reassembly.streamEntryCount == Int(Self.streamCount) / 4)
        #expect(r.reassembly.nextExpectedMID(onStream: 8) == MID(70_001))
        #expect(r.reassembly.nextExpectedMID(onStream: 9) == MID(0))
        #expect(r.checkInvariants() == [])
        // Ordered delivery goes on from the MID after the skipped one.
        #expect(r.receive(Self.iData(11, stream: 8, mid: 70_001)) == .accepted)
        #expect(r.receive(Self.iData(13, stream: 8, mid: 70_003)) == .accepted)
        #expect(r.reassembly.streamReassemblerCount == 1)
        #expect(r.receive(Self.iData(12, stream: 8, mid: 70_002)) == .accepted)
        #expect(Self.messages(&r).map(\.ssn) == [70_001, 70_002, 70_003].map { SSN(UInt16(truncatingIfNeeded: $0)) })
        #expect(r.reassembly.streamReassemblerCount == 0)
        #expect(r.reassembly.nextExpectedMID(onStream: 8) == MID(70_004))
        // A stream that held a message being skipped: the held message goes, the stream drains.
        #expect(r.receive(Self.iData(14, stream: 5, mid: 1, flags: .beginning)) == .accepted)
        #expect(r.reassembly.streamReassemblerCount == 1)
        _ = r.receive(IForwardTSNChunk(newCumulativeTSN: TSN(14), skippedMessages: [
            .init(streamIdentifier: 5, unordered: false, mid: MID(1)),
        ]))
        #expect(r.reassembly.streamReassemblerCount == 0)
        #expect(r.reassembly.bufferedBytes == 0)
        #expect(r.reassembly.nextExpectedMID(onStream: 5) == MID(2))
        #expect(r.checkInvariants() == [])
    }

    @Test("DATA on thousands of streams: whole unordered messages leave no entry, drained streams lose their reassembler, a reset of all streams leaves nothing")
    func drainedStreamsReleased() {
        var r = Self.receiver()
        var tsn: UInt32 = 1
        func next() -> UInt32 {
            defer { tsn += 1 }
            return tsn
        }
        for id in 0..<Self.streamCount {
            #expect(r.receive(Self.data(next(), stream: id, ssn: 0, flags: [.beginning, .ending, .unordered])) == .accepted)
        }
        #expect(Self.messages(&r).count == Int(Self.streamCount))
        #expect(r.reassembly.streamEntryCount == 0)
        // The first fragment of an ordered message on every stream: each holds it.
        for id in 0..<Self.streamCount {
            #expect(r.receive(Self.data(next(), stream: id, ssn: 0, flags: .beginning)) == .accepted)
        }
        #expect(r.reassembly.streamReassemblerCount == Int(Self.streamCount))
        #expect(r.checkInvariants() == [])
        // Then SSN 1 whole on every stream: it waits behind the unfinished SSN 0.
        for id in 0..<Self.streamCount {
            #expect(r.receive(Self.data(next(), stream: id, ssn: 1)) == .accepted)
        }
        #expect(Self.messages(&r).isEmpty)
        // The peer gives the first messages up: every stream delivers SSN 1 and drains.
        _ = r.receive(ForwardTSNChunk(newCumulativeTSN: TSN(tsn - 1), skippedStreams: (0..<Self.streamCount).map {
            .init(streamIdentifier: $0, ssn: SSN(0))
        }))
        #expect(Self.messages(&r).count == Int(Self.streamCount))
        #expect(r.reassembly.bufferedBytes == 0)
        #expect(r.reassembly.streamReassemblerCount == 0)
        #expect(r.reassembly.streamEntryCount == Int(Self.streamCount))
        #expect(r.reassembly.nextExpectedSSN(onStream: 4000) == SSN(2))
        #expect(r.checkInvariants() == [])
        // Every stream back at SSN 0: no entry left.
        r.resetIncomingStreams([], lastTSN: TSN(tsn - 1))
        #expect(r.reassembly.streamEntryCount == 0)
        #expect(r.reassembly.nextExpectedSSN(onStream: 4000) == SSN(0))
        #expect(r.receive(Self.data(next(), stream: 4000, ssn: 0)) == .accepted)
        #expect(Self.messages(&r).map(\.ssn) == [SSN(0)])
        #expect(r.checkInvariants() == [])
    }

    @Test("fragmented messages on one stream, one after another: the reassembler goes after each, its storage reused")
    func fragmentedMessagesOneStream() {
        var q = Self.receiver()
        var tsn: UInt32 = 1
        for ssn in 0..<50 {
            #expect(q.receive(Self.data(tsn, stream: 3, ssn: UInt16(ssn), flags: .beginning)) == .accepted)
            #expect(q.reassembly.streamReassemblerCount == 1)
            #expect(q.receive(Self.data(tsn + 1, stream: 3, ssn: UInt16(ssn), flags: [])) == .accepted)
            #expect(q.receive(Self.data(tsn + 2, stream: 3, ssn: UInt16(ssn), flags: .ending)) == .accepted)
            #expect(q.reassembly.streamReassemblerCount == 0)
            tsn += 3
        }
        #expect(Self.messages(&q).map(\.ssn) == (0..<50).map { SSN(UInt16($0)) })
        #expect(q.reassembly.spareStorage != nil, "the storage is kept for the next message")
        #expect(q.reassembly.spareStorage?.reassembler.isIdle == true)
        #expect(q.checkInvariants() == [])
    }

    @Test("a copy of a queue holding data is independent of the original (the reassembler's storage is copied on write)")
    func copiesAreIndependent() {
        var original = ReassemblyQueue(inboundStreamCount: 8)
        #expect(original.insert(RxSupport.chunk(tsn: 2, stream: 1, ssn: 1), cumulativeTSN: TSN(0)) == .accepted)
        var copy = original
        #expect(copy.insert(RxSupport.chunk(tsn: 1, stream: 1, ssn: 0), cumulativeTSN: TSN(2)) == .accepted)
        #expect(RxSupport.messages(RxSupport.drain(&copy)).map(\.ssn) == [SSN(0), SSN(1)])
        #expect(copy.nextExpectedSSN(onStream: 1) == SSN(2))
        #expect(original.nextExpectedSSN(onStream: 1) == SSN(0))
        #expect(original.bufferedBytes == 8 && original.streamReassemblerCount == 1)
        #expect(original.checkInvariants() == [] && copy.checkInvariants() == [])
        #expect(original.insert(RxSupport.chunk(tsn: 1, stream: 1, ssn: 0), cumulativeTSN: TSN(2)) == .accepted)
        #expect(RxSupport.messages(RxSupport.drain(&original)).map(\.ssn) == [SSN(0), SSN(1)])
    }

    @Test("an ordered stream whose SSNs wrap back to 0 loses its entry; the numbering goes on")
    func wrapRemovesEntry() {
        var queue = ReassemblyQueue(inboundStreamCount: 8)
        queue.setNextExpectedSSNForTesting(SSN(65_535), onStream: 2)
        #expect(queue.streamEntryCount == 1)
        #expect(queue.insert(RxSupport.chunk(tsn: 1, stream: 2, ssn: 65_535), cumulativeTSN: TSN(1)) == .accepted)
        #expect(queue.streamEntryCount == 0)
        #expect(queue.insert(RxSupport.chunk(tsn: 2, stream: 2, ssn: 0), cumulativeTSN: TSN(2)) == .accepted)
        #expect(RxSupport.messages(RxSupport.drain(&queue)).map(\.ssn) == [SSN(65_535), SSN(0)])
        #expect(queue.nextExpectedSSN(onStream: 2) == SSN(1))
        #expect(queue.checkInvariants() == [])
    }
}
