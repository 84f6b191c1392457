import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// T3-rtx after SACKs a peer sends in unusual order (the association invariant: T3-rtx runs
/// exactly where data is in flight, or a FORWARD TSN waits for its acknowledgement).
@Suite("T3-rtx and unusual SACKs")
struct T3RenegeTests {
    typealias H = AssociationHarness

    /// Sends a SACK to the client as if from the server.
    static func sack(to h: H, association: Association, cumulative: TSN, gaps: [(UInt16, UInt16)], now: SCTPInstant) {
        let sack = SackChunk(cumulativeTSNAck: cumulative, advertisedReceiverWindowCredit: 100_000,
                             gapAckBlocks: gaps.map { GapAckBlock(start: $0.0, end: $0.1) }, duplicateTSNs: [])
        let packet = SCTPPacket(header: CommonHeader(sourcePort: H.serverPort, destinationPort: H.clientPort,
                                                     verificationTag: association.localTag), chunks: [.sack(sack)])
        h.client.endpoint.handle(datagram: packet.serialized(), from: association.paths[0].address,
                                 to: h.client.addresses[0], now: now)
        while h.client.endpoint.pollTransmit() != nil {}
    }

    /// Found by the stateful fuzz interpreter: a SACK gap-acknowledging every chunk of a path
    /// stops its T3-rtx (nothing in flight); a later SACK without those blocks (a renege, or
    /// the older SACK arriving late) puts them back in flight, and T3-rtx stayed off: nothing
    /// would retransmit them unless another SACK came.
    @Test("chunks a renege puts back in flight have T3-rtx running")
    func renegeRestartsT3() throws {
        var configuration = SCTPConfiguration()
        configuration.heartbeatInterval = nil
        let h = H(seed: 31, clientConfiguration: configuration, serverConfiguration: configuration)
        let id = try h.connect()
        #expect(h.run { h.client.endpoint.state(of: id) == .established && !H.upEvents(h.server).isEmpty })
        h.run(for: .seconds(1)) { false }
        let client = h.client.endpoint
        let association = try #require(client.associations[id])
        var now = h.now
        for _ in 0..<3 {
            try client.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 9, count: 200)), on: id, now: now)
        }
        while client.pollTransmit() != nil {}  // three DATA chunks, all lost
        let before = association.tx.outstanding.cumulativeTSNAck
        #expect(association.tx.outstanding.count == 3)
        now = now + .milliseconds(10)
        Self.sack(to: h, association: association, cumulative: before, gaps: [(2, 3)], now: now)
        Self.sack(to: h, association: association, cumulative: before, gaps: [(1, 3)], now: now)
        #expect(association.tx.outstanding.bytesInFlight == 0)
        #expect(association.paths[0].t3Deadline == nil, "everything gap-acknowledged: T3-rtx stops")
        now = now + .milliseconds(10)
        Self.sack(to: h, association: association, cumulative: before, gaps: [], now: now)  // the renege
        #expect(association.tx.outstanding.bytesInFlight > 0)
        let deadline = try #require(association.paths[0].t3Deadline, "data back in flight: T3-rtx runs")
        #expect(deadline <= now + association.paths[0].rto.rto)
        #expect(client.checkInvariants() == [])
    }

    /// Found by the stateful fuzz interpreter: T3-rtx armed on the primary path for a FORWARD
    /// TSN (RFC 3758 §3.5 C5), the primary then moved back to another path; the SACK that
    /// acknowledged the FORWARD TSN stopped T3-rtx on the new primary only, and the old one
    /// fired later for nothing: an error counted against the path and the association, its
    /// RTO backed off and its cwnd collapsed.
    @Test("the SACK acknowledging a FORWARD TSN stops T3-rtx on the path that sent it, primary or not")
    func forwardTSNTimerStopsOnFormerPrimary() throws {
        var configuration = SCTPConfiguration()
        configuration.heartbeatInterval = nil
        let servers: [IPAddress] = [.v4(IPv4Address(10, 0, 1, 1)), .v4(IPv4Address(10, 0, 1, 2))]
        let h = H(seed: 33, serverAddresses: servers, clientConfiguration: configuration, serverConfiguration: configuration)
        let id = try h.connect()
        #expect(h.run { h.client.endpoint.state(of: id) == .established && !H.upEvents(h.server).isEmpty })
        h.run(for: .seconds(1)) { false }
        let client = h.client.endpoint
        let association = try #require(client.associations[id])
        #expect(association.paths.count == 2 && association.primaryPath == 0)
        var now = h.now
        try client.send(OutgoingMessage(streamIdentifier: 0, partialReliability: .maxRetransmissions(0),
                                        payload: ByteBuffer(repeating: 4, count: 200)), on: id, now: now)
        while client.pollTransmit() != nil {}  // lost
        let tsn = association.tx.outstanding.highestSentTSN
        // T3-rtx on path 0 expires: the chunk is given up, the primary moves to path 1, which
        // sends the FORWARD TSN and keeps T3-rtx armed for it.
        now = try #require(association.paths[0].t3Deadline)
        client.handleTimeout(now: now)
        while client.pollTransmit() != nil {}
        #expect(association.primaryPath == 1)
        #expect(association.paths[1].t3Deadline != nil)
        #expect(association.tx.outstanding.bytesInFlight(on: PathID(1)) == 0)
        // The application sets path 0 as primary again; then the FORWARD TSN is acknowledged.
        try client.setPrimaryAddress(servers[0], of: id)
        #expect(association.primaryPath == 0)
        now = now + .milliseconds(10)
        Self.sack(to: h, association: association, cumulative: tsn, gaps: [], now: now)
        #expect(association.tx.outstanding.isEmpty)
        #expect(association.paths[0].t3Deadline == nil && association.paths[1].t3Deadline == nil, "no timer left")
        #expect(client.checkInvariants() == [])
    }
}
