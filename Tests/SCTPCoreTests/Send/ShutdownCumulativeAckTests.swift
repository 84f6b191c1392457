import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

/// Found by the seeded sweep (seed 82): a SHUTDOWN's Cumulative TSN Ack was processed as a
/// SACK without Gap Ack Blocks, so every chunk the peer had gap-acknowledged counted as
/// reneged and went back into the flight (bytes in flight beyond the peer's whole window,
/// and miss indications for chunks the peer holds). RFC 9260 §9.2: the receiver of a
/// SHUTDOWN "MUST NOT interpret the lack of a Gap Ack Block as a renege".
@Suite("SHUTDOWN's cumulative ack is no renege")
struct ShutdownCumulativeAckTests {
    typealias S = SendTestSupport

    @Test("a cumulative-only acknowledgement keeps gap-acknowledged chunks out of the flight")
    func cumulativeOnlyKeepsGapAcks() throws {
        var data = OutstandingData(initialTSN: TSN(1), peerReceiverWindow: 100_000)
        S.send(&data, count: 6)
        // TSN 1 and 2 are missing at the peer; 3...6 arrived.
        _ = try data.handleSack(S.sack(0, [(3, 6)]), now: S.ms(10))
        #expect(data.bytesInFlight == 2 * S.size100)
        // The SHUTDOWN acknowledges TSN 1 only.
        let outcome = try data.handleSack(S.sack(1), now: S.ms(20), cumulativeOnly: true)
        #expect(outcome.statistics(for: PathID(0))?.reneged == false)
        #expect(data.bytesInFlight == S.size100, "only TSN 2 is in flight")
        for tsn in UInt32(3)...6 { #expect(data.chunk(tsn: TSN(tsn))?.isGapAcked == true) }
        #expect(data.chunk(tsn: TSN(2))?.missIndications == 1, "no miss indication from the SHUTDOWN")
        // A later SACK still sees them as acknowledged before: no renege there either.
        let sack = try data.handleSack(S.sack(1, [(2, 5)]), now: S.ms(30))
        #expect(sack.statistics(for: PathID(0))?.reneged == false)
        #expect(data.bytesInFlight == S.size100)
    }

    @Test("the same acknowledgement as a SACK is a renege")
    func sackWithoutGapsReneges() throws {
        var data = OutstandingData(initialTSN: TSN(1), peerReceiverWindow: 100_000)
        S.send(&data, count: 6)
        _ = try data.handleSack(S.sack(0, [(3, 6)]), now: S.ms(10))
        let outcome = try data.handleSack(S.sack(1), now: S.ms(20))
        #expect(outcome.statistics(for: PathID(0))?.reneged == true)
        #expect(data.bytesInFlight == 5 * S.size100)
    }
}
