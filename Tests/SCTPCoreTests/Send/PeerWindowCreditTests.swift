import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

/// Found by the seeded sweep (seed 7110): sending past the peer's window (a probe, or
/// retransmissions, which cwnd limits but the window does not) floored the tracked window at
/// 0 and forgot the excess; marking those chunks for retransmission then gave all their bytes
/// back, so the sender believed in a window larger than the peer ever offered.
@Suite("the peer's window as the sender tracks it")
struct PeerWindowCreditTests {
    typealias S = SendTestSupport

    @Test("bytes sent beyond the window are owed: marking them for retransmission does not lift the window above a_rwnd")
    func windowNeverExceedsOffer() throws {
        var data = OutstandingData(initialTSN: TSN(1), peerReceiverWindow: 1000)
        S.send(&data, count: 3, payload: 400)  // 200 bytes beyond the window
        #expect(data.peerReceiverWindow == 0)
        let marked = data.handleRetransmissionTimeout(on: PathID(0))
        #expect(marked == 3)
        #expect(data.peerReceiverWindow == 1000, "back to what the peer offered, not 1200")
        let retransmitted = data.nextRetransmission(maxSize: 1000, path: PathID(0), now: S.ms(10))
        #expect(retransmitted?.tsn == TSN(1))
        #expect(data.peerReceiverWindow == 600)
        // A SACK sets it from its a_rwnd again.
        _ = try data.handleSack(S.sack(1, rwnd: 800), now: S.ms(20))
        #expect(data.peerReceiverWindow == 800)
    }
}
