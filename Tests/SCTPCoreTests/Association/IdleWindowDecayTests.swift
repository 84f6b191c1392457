import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// §7.2.1: a path that sends no data for an RTO or more has its cwnd halved once per RTO of
/// idleness, down to 4 × PMDCS, when it sends again (application-limited senders, such as
/// signalling, do not burst a stale window into the network).
@Suite("cwnd decays on an idle path (§7.2.1)")
struct IdleWindowDecayTests {
    typealias H = AssociationHarness

    /// An association whose client grew its cwnd with a bulk transfer; returns the cwnd, the
    /// path's PMDCS and RTO at the end of the transfer.
    func grownWindow(_ h: H, _ id: AssociationID) throws -> (cwnd: Int, pmdcs: Int, rto: Duration) {
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        for index in 0..<300 {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: index, length: 1000)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(60)) { H.messages(h.server).count == 300 && h.client.endpoint.status(of: id)?.unacknowledgedChunks == 0 })
        let path = try #require(h.client.endpoint.status(of: id)?.paths.first)
        return (path.congestionWindow, (path.mtu - 12) & ~3, path.rto)
    }

    /// Sends one small message after `idle` of silence; returns the cwnd it went out under.
    func windowAfterIdle(_ idle: (Duration) -> Duration, seed: UInt64) throws -> (before: Int, after: Int, pmdcs: Int, periods: Int) {
        let h = H(seed: seed, conditions: .init(delay: .milliseconds(10)))
        let id = try h.connect()
        let (grown, pmdcs, rto) = try grownWindow(h, id)
        let start = h.now
        let wait = idle(rto)
        h.run(for: wait) { false }
        #expect(h.now >= start + wait)
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(string: "after idle")), on: id, now: h.now)
        h.loop.flushTransmits()
        let after = try #require(h.client.endpoint.status(of: id)?.paths.first?.congestionWindow)
        // The last DATA left at most one round trip (20 ms) before the transfer was found
        // acknowledged, far less than half an RTO: whole RTOs of idleness are wait / rto.
        let periods = Int(wait.nanosecondsClamped / rto.nanosecondsClamped)
        #expect(h.run { H.messages(h.server).count == 301 })
        return (grown, after, pmdcs, periods)
    }

    @Test("idle for 3.5 RTOs: cwnd halved three times, not below 4 × PMDCS")
    func decaysPerRTO() throws {
        let result = try windowAfterIdle({ $0 * 3 + $0 / 2 }, seed: 91)
        #expect(result.periods == 3)
        try #require(result.before >= 16 * result.pmdcs, "the transfer grows cwnd to \(result.before)")
        var expected = result.before
        for _ in 0..<result.periods { expected = max(expected / 2, 4 * result.pmdcs) }
        #expect(result.after == expected, "cwnd \(result.before) → \(result.after), expected \(expected)")
        #expect(result.after < result.before)
    }

    @Test("idle for long: cwnd stops at 4 × PMDCS")
    func floorAtFourPMDCS() throws {
        let result = try windowAfterIdle({ $0 * 20 + $0 / 2 }, seed: 92)
        #expect(result.after == 4 * result.pmdcs)
    }

    @Test("idle for less than an RTO: cwnd unchanged")
    func shortPauseKeepsWindow() throws {
        let result = try windowAfterIdle({ $0 / 2 }, seed: 93)
        #expect(result.periods == 0)
        #expect(result.after == result.before)
    }
}
