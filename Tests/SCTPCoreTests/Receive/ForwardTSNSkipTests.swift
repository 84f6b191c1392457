import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

/// Found by the seeded sweep with PR-SCTP messages (seed 7637): a message given up after its
/// first fragment was sent and received; the FORWARD TSN's new cumulative TSN was the one the
/// receiver stood at already, so it was taken as stale and its skipped SSN ignored: the
/// ordered stream waited forever for the rest of the message, holding every later message.
@Suite("FORWARD TSN skips an ordered message whose chunks all arrived")
struct ForwardTSNSkipTests {
    /// Stream 0: SSN 0's first fragment (TSN 1) and SSN 1 whole (TSN 2) arrive.
    func receiverHoldingSkippedHead() -> DataReceiver {
        var r = DataReceiver(peerInitialTSN: TSN(1), inboundStreamCount: 2)
        let head = DataChunk(flags: .beginning, tsn: TSN(1), streamIdentifier: 0, ssn: SSN(0),
                             payloadProtocolIdentifier: 0, payload: ByteBuffer(repeating: 1, count: 100))
        let next = DataChunk(flags: .complete, tsn: TSN(2), streamIdentifier: 0, ssn: SSN(1),
                             payloadProtocolIdentifier: 7, payload: ByteBuffer(repeating: 2, count: 50))
        #expect(r.receive(head) == .accepted)
        #expect(r.receive(next) == .accepted)
        #expect(r.poll() == nil, "SSN 1 waits for SSN 0")
        #expect(r.tracker.cumulativeTSN == TSN(2))
        return r
    }

    @Test("a FORWARD TSN at or below the cumulative point still skips the SSN it lists", arguments: [UInt32(1), 2])
    func skipAppliesWithoutAdvance(newCumulative: UInt32) throws {
        var r = receiverHoldingSkippedHead()
        let result = r.receive(ForwardTSNChunk(newCumulativeTSN: TSN(newCumulative),
                                               skippedStreams: [.init(streamIdentifier: 0, ssn: SSN(0))]))
        #expect(result == .stale, "the cumulative point does not move")
        guard case .message(let message) = r.poll() else {
            Issue.record("SSN 1 is delivered once SSN 0 is skipped")
            return
        }
        #expect(message.ssn == SSN(1) && message.payloadProtocolIdentifier == 7 && message.isComplete)
        #expect(r.reassembly.bufferedBytes == 0, "the abandoned fragment is dropped")
        #expect(r.reassembly.nextExpectedSSN(onStream: 0) == SSN(2))
    }

    @Test("an old FORWARD TSN does not move a stream back")
    func oldSkipChangesNothing() {
        var r = receiverHoldingSkippedHead()
        _ = r.receive(ForwardTSNChunk(newCumulativeTSN: TSN(2), skippedStreams: [.init(streamIdentifier: 0, ssn: SSN(0))]))
        _ = r.poll()
        #expect(r.reassembly.nextExpectedSSN(onStream: 0) == SSN(2))
        _ = r.receive(ForwardTSNChunk(newCumulativeTSN: TSN(1), skippedStreams: [.init(streamIdentifier: 0, ssn: SSN(0))]))
        #expect(r.reassembly.nextExpectedSSN(onStream: 0) == SSN(2))
        #expect(r.poll() == nil)
    }
}
