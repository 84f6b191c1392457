import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Multi-homing and failover (RFC 9260 §6.4, §8.1–§8.3; RFC 7829) between two endpoints with
/// two addresses each. Every pair of addresses is linked; each side routes by interface (its
/// i-th address talks to the peer's i-th), so the two ranks form two independent network paths.
@Suite("multi-homing and failover")
struct MultihomingTests {
    typealias H = AssociationHarness

    static let c1 = IPAddress.v4(IPv4Address(10, 0, 0, 1))
    static let c2 = IPAddress.v4(IPv4Address(10, 0, 0, 2))
    static let s1 = IPAddress.v4(IPv4Address(10, 0, 1, 1))
    static let s2 = IPAddress.v4(IPv4Address(10, 0, 1, 2))
    let c1 = Self.c1, c2 = Self.c2, s1 = Self.s1, s2 = Self.s2

    /// RTO 100 ms … 1 s, Path.Max.Retrans 2, potentially failed at the first error: a
    /// low-latency setting where failover is quick.
    static var fastFailover: SCTPConfiguration {
        var configuration = SCTPConfiguration()
        configuration.rtoInitial = .milliseconds(100)
        configuration.rtoMin = .milliseconds(100)
        configuration.rtoMax = .seconds(1)
        configuration.pathMaxRetransmits = 2
        configuration.pathPotentiallyFailedThreshold = 1
        return configuration
    }

    static func harness(seed: UInt64, configuration: SCTPConfiguration = SCTPConfiguration()) -> H {
        H(seed: seed, clientAddresses: [c1, c2], serverAddresses: [s1, s2],
          clientConfiguration: configuration, serverConfiguration: configuration)
    }

    static func states(_ p: EndpointParticipant, _ id: AssociationID) -> [IPAddress: PathState] {
        Dictionary(uniqueKeysWithValues: p.endpoint.peerAddresses(of: id).map { ($0.address, $0.state) })
    }

    static func association(_ p: EndpointParticipant, _ id: AssociationID) throws -> Association {
        try #require(p.endpoint.associations[id])
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// The index a test payload carries.
    static func index(of message: ReceivedMessage) -> Int {
        Int(message.payload.getInteger(at: message.payload.readerIndex + 2, as: UInt32.self)!)
    }

    /// Checks that the server got messages 0..<count on stream 0, each once, in order, intact.
    static func expectDeliveredInOrder(_ h: H, count: Int, length: Int) {
        let received = H.messages(h.server)
        #expect(received.count == count)
        #expect(received.map(index(of:)) == Array(0..<count), "every message once, in order")
        for message in received {
            #expect(message.payload == testPayload(stream: 0, index: index(of: message), length: length))
        }
    }

    /// Sends messages `range` on stream 0, one every `spacing`, running the network in between;
    /// `before(index)` runs before each send (to cut or restore links). Returns when each was sent.
    @discardableResult
    static func sendPaced(_ h: H, _ id: AssociationID, _ range: Range<Int>, length: Int, spacing: Duration,
                          before: (Int) -> Void = { _ in }) throws -> [Int: SCTPInstant] {
        var sentAt: [Int: SCTPInstant] = [:]
        for index in range {
            before(index)
            sentAt[index] = h.now
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: index, length: length)),
                                       on: id, now: h.now)
            h.loop.flushTransmits()
            h.run(for: spacing) { false }
        }
        return sentAt
    }

    /// When the server received each message, by index.
    static func deliveryTimes(_ h: H) -> [Int: SCTPInstant] {
        var times: [Int: SCTPInstant] = [:]
        for (time, event) in h.server.events {
            if case .message(_, let message) = event { times[index(of: message)] = time }
        }
        return times
    }

    // MARK: Scenario 1

    @Test("both peer addresses are listed, the unconfirmed one is confirmed by a heartbeat, idle paths get one heartbeat per RTO + HB.interval")
    func confirmationAndIdleHeartbeats() throws {
        let h = Self.harness(seed: 21)
        let (client, server) = h.routeByInterface()
        // Connect to the server's first address only: the second is learnt from the INIT ACK.
        let id = try h.connect(to: [s1])
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let serverID = try #require(H.upEvents(h.server).first)
        let upAt = h.now
        #expect(Self.states(h.client, id) == [s1: .active, s2: .unconfirmed])
        #expect(Self.states(h.server, serverID) == [c1: .active, c2: .unconfirmed])
        #expect(h.client.endpoint.primaryAddress(of: id) == s1)
        #expect(h.server.endpoint.primaryAddress(of: serverID) == c1)

        // A heartbeat to the unconfirmed address goes out after RTO ± 50 % (RTO.Initial 1 s)
        // and its answer confirms it.
        #expect(h.run(for: .seconds(5)) {
            H.firstChange(h.client, s2, to: .active) != nil && H.firstChange(h.server, c2, to: .active) != nil
        })
        for confirmedAt in [H.firstChange(h.client, s2, to: .active)!, H.firstChange(h.server, c2, to: .active)!] {
            #expect(confirmedAt - upAt <= .milliseconds(1_520), "heartbeat within 1.5 RTO, answer one round trip later")
        }
        #expect(Self.states(h.client, id) == [s1: .active, s2: .active])
        #expect(Self.states(h.server, serverID) == [c1: .active, c2: .active])
        #expect(H.addressChanges(h.client).map(\.address) == [s2] && H.addressChanges(h.server).map(\.address) == [c2])
        // Confirming an address does not move the primary.
        #expect(h.client.endpoint.primaryAddress(of: id) == s1)

        // Ten idle minutes.
        let start = h.now
        let statisticsBefore = h.loop.network.linkIDs.map { h.loop.network.statistics(from: $0.from, to: $0.to)! }
        h.run(for: .seconds(600)) { false }
        let window = start...h.now
        // RTO is RTO.Min (1 s) once measured: a heartbeat every 31 s ± 0.5 s (plus the 10 ms
        // round trip, as the next one is timed from the answer): 19 or so per path in 600 s.
        for (participant, destinations) in [(client, [s1, s2]), (server, [c1, c2])] {
            for destination in destinations {
                let heartbeats = participant.count(ChunkType.heartbeat, to: destination, in: window)
                #expect((18...21).contains(heartbeats), "\(heartbeats) heartbeats to \(destination)")
                let times = participant.times(of: ChunkType.heartbeat, to: destination).filter { $0 >= start }
                for (earlier, later) in zip(times, times.dropFirst()) {
                    let gap = later - earlier
                    #expect(gap >= .milliseconds(30_500) && gap <= .milliseconds(31_520), "heartbeat gap \(gap)")
                }
            }
            // And it answered the peer's heartbeats to both of its addresses.
            #expect((36...42).contains(participant.count(ChunkType.heartbeatAck, in: window)))
        }
        // On the wire: each link of a path carries one side's heartbeats and the answers to the
        // other side's, about 2 × 19 datagrams; the cross links are not routed; nothing is lost.
        for (index, link) in h.loop.network.linkIDs.enumerated() {
            let statistics = h.loop.network.statistics(from: link.from, to: link.to)!
            let sent = statistics.sent - statisticsBefore[index].sent
            let sameRank = [c1, s1].contains(link.from) == [c1, s1].contains(link.to)
            if sameRank {
                #expect((36...42).contains(sent), "\(sent) datagrams on \(link)")
            } else {
                #expect(sent == 0, "\(sent) datagrams on \(link)")
            }
            #expect(statistics.dropped == 0)
        }
        #expect(client.count(ChunkType.data) == 0 && server.count(ChunkType.data) == 0)
        #expect(H.addressChanges(h.client).count == 1 && H.addressChanges(h.server).count == 1)
        #expect(h.client.endpoint.state(of: id) == .established && h.server.endpoint.state(of: serverID) == .established)
    }

    // MARK: Scenario 2

    @Test("the primary path is cut mid-transfer: data fails over within an RTO, nothing is lost or duplicated, and returns when the path recovers")
    func primaryFailoverAndReturn() throws {
        let h = Self.harness(seed: 22, configuration: Self.fastFailover)
        let (client, server) = h.routeByInterface()
        let id = try h.connect(to: [s1, s2])
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let serverID = try #require(H.upEvents(h.server).first)
        // The server confirms the client's second address before data starts.
        #expect(h.run(for: .seconds(2)) { H.firstChange(h.server, c2, to: .active) != nil })
        #expect(h.client.endpoint.primaryAddress(of: id) == s1)

        // 600 messages of 1000 bytes, one per 10 ms; the server's primary address (both of
        // its links) goes down after 200 of them.
        let length = 1000
        var cutAt = SCTPInstant.zero
        var t3AtCut: SCTPInstant?
        let sentAt = try Self.sendPaced(h, id, 0..<600, length: length, spacing: .milliseconds(10)) { index in
            if index == 200 {
                cutAt = h.now
                for address in [c1, c2] { h.loop.network.setLinksUp(false, between: address, and: s1, at: cutAt) }
            }
            // Message 200 went out at the cut: the T3-rtx timer of the primary runs now, and no
            // SACK can restart it.
            if index == 201 { t3AtCut = h.client.endpoint.associations[id]?.paths[0].t3Deadline }
        }
        #expect(h.run(for: .seconds(30)) { H.messages(h.server).count >= 600 })
        Self.expectDeliveredInOrder(h, count: 600, length: length)
        #expect(client.count(ChunkType.data, to: s1, in: (cutAt + .seconds(-1))...cutAt) > 0, "the transfer was under way on the primary")

        // The client's view: potentially failed at the first T3-rtx expiry (within one RTO,
        // at most RTO.Max), inactive after Path.Max.Retrans more errors (heartbeat probes once
        // per RTO, each missed after another RTO: at most 2.5 RTO.Max apiece).
        let potentiallyFailedAt = try #require(H.firstChange(h.client, s1, to: .potentiallyFailed, after: cutAt))
        let inactiveAt = try #require(H.firstChange(h.client, s1, to: .inactive, after: cutAt))
        #expect(potentiallyFailedAt - cutAt <= .seconds(1))
        #expect(inactiveAt > potentiallyFailedAt && inactiveAt - cutAt <= .seconds(6))
        // Data moved to the other address at that first expiry, and stayed there.
        let firstOnAlternate = try #require(client.times(of: ChunkType.data, to: s2).first { $0 >= cutAt })
        #expect(firstOnAlternate == potentiallyFailedAt)
        #expect(firstOnAlternate == t3AtCut, "when the T3-rtx timer running at the cut expired")
        // From then on every message arrives promptly: at most 500 ms after it was sent, or
        // after the failover for those sent before it.
        let delivered = Self.deliveryTimes(h)
        let late = (0..<600).filter { index in
            delivered[index].map { $0 > max(sentAt[index]!, firstOnAlternate) + .milliseconds(500) } ?? true
        }
        #expect(late.isEmpty, "\(late.count) messages late, the first: \(late.prefix(5).map { ($0, sentAt[$0]!, delivered[$0]) })")
        #expect(client.count(ChunkType.data, to: s1, in: potentiallyFailedAt...h.now) == 0)
        #expect(client.count(ChunkType.data, to: s2) > 300)
        #expect(h.client.endpoint.primaryAddress(of: id) == s2)
        // The server answered on the path the data came by (§6.4).
        #expect(server.countAcknowledgements(to: c2, in: firstOnAlternate...h.now) > 50)
        // Acknowledgements on the alternate path keep the association's error count at zero.
        #expect(try Self.association(h.client, id).associationErrorCount == 0)

        // The outage lasts 60 s, most of it idle: the association survives it.
        let restoreAt = cutAt + .seconds(60)
        h.run(for: restoreAt - h.now) { false }
        for address in [c1, c2] { h.loop.network.setLinksUp(true, between: address, and: s1, at: restoreAt) }
        #expect(H.lost(h.client) == nil && H.lost(h.server) == nil)
        #expect(Self.states(h.client, id) == [s1: .inactive, s2: .active])

        // A heartbeat finds the path again: inactive paths are probed once per RTO (backed off
        // to RTO.Max) + HB.interval ± RTO/2 (§8.3), so within 31.5 s and a round trip.
        #expect(h.run(for: .seconds(40)) { H.firstChange(h.client, s1, to: .active, after: restoreAt) != nil })
        let activeAt = H.firstChange(h.client, s1, to: .active, after: restoreAt)!
        #expect(activeAt - restoreAt <= .milliseconds(31_520))
        #expect(h.client.endpoint.primaryAddress(of: id) == s1, "the configured primary is used again")
        #expect(h.run(for: .seconds(40)) { h.server.endpoint.primaryAddress(of: serverID) == c1 })

        // New data goes to the primary again, and only there.
        let resumeAt = h.now
        try Self.sendPaced(h, id, 600..<700, length: length, spacing: .milliseconds(10))
        #expect(h.run(for: .seconds(10)) { H.messages(h.server).count >= 700 })
        Self.expectDeliveredInOrder(h, count: 700, length: length)
        #expect(client.count(ChunkType.data, to: s1, in: resumeAt...h.now) >= 100)
        #expect(client.count(ChunkType.data, to: s2, in: resumeAt...h.now) == 0)
        #expect(server.countAcknowledgements(to: c1, in: resumeAt...h.now) > 0)
        #expect(server.countAcknowledgements(to: c2, in: resumeAt...h.now) == 0)
        #expect(H.lost(h.client) == nil && H.lost(h.server) == nil)
        #expect(h.client.endpoint.state(of: id) == .established)
    }

    /// Seen against usrsctp in the two-namespace interop test: after the T3-rtx expiry on the
    /// cut path, one retransmission went to the alternate path, then new DATA (the next lost
    /// chunk did not fit the rest of the packet and the loop stopped), then the other
    /// retransmissions; the SACKs for the new DATA counted misses against those
    /// retransmissions, which were fast retransmitted a second time although they were
    /// arriving (6 spurious fast retransmissions and 6 duplicates here before the fix).
    @Test("after a failover the chunks lost on the cut path go first on the alternate path, once each: no spurious fast retransmit")
    func retransmissionsBeforeNewDataAfterFailover() throws {
        var configuration = Self.fastFailover
        configuration.pathPotentiallyFailedThreshold = 2  // the sockets' default
        let h = Self.harness(seed: 5, configuration: configuration)
        let (client, _) = h.routeByInterface()
        let id = try h.connect(to: [s1, s2])
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let serverID = try #require(H.upEvents(h.server).first)
        #expect(h.run(for: .seconds(5)) { Self.states(h.client, id)[s2] == .active })
        // The primary is cut, then 40 messages are queued at once: the first cwnd of them is
        // lost on the primary, the rest waits.
        for address in [c1, c2] { h.loop.network.setLinksUp(false, between: address, and: s1, at: h.now) }
        let count = 40, length = 700
        for index in 0..<count {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: index, length: length)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(30)) { H.messages(h.server).count >= count })
        Self.expectDeliveredInOrder(h, count: count, length: length)

        var lost: [TSN] = []
        var alternate: [TSN] = []
        for packet in client.sent {
            for case .data(let chunk) in packet.chunks {
                if packet.to == s1 { lost.append(chunk.tsn) } else { alternate.append(chunk.tsn) }
            }
        }
        #expect(lost.count >= 4, "a window was lost on the primary: \(lost)")
        // The alternate path's initial cwnd (4380 bytes) holds all of them: they go first, in order.
        #expect(Array(alternate.prefix(lost.count)) == lost, "\(alternate.prefix(lost.count + 4))")
        #expect(Set(alternate).count == alternate.count, "each chunk once on the alternate path: \(alternate)")
        let statistics = try #require(h.client.endpoint.statistics(of: id))
        #expect(statistics.fastRetransmitMarks == 0 && statistics.dataChunksRetransmitted == lost.count, "\(statistics)")
        #expect(h.server.endpoint.statistics(of: serverID)?.duplicateDataChunksReceived == 0)
    }

    @Test("the configured primary is remembered: data returns to it after a failover, whichever address it is")
    func configuredPrimaryReturns() throws {
        let h = Self.harness(seed: 27, configuration: Self.fastFailover)
        let (client, _) = h.routeByInterface()
        // The server's second address is the primary: the first one given to connect.
        let id = try h.connect(to: [s2, s1])
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        #expect(h.run(for: .seconds(2)) { H.firstChange(h.server, c1, to: .active) != nil || H.firstChange(h.server, c2, to: .active) != nil })
        #expect(h.client.endpoint.primaryAddress(of: id) == s2)
        var cutAt = SCTPInstant.zero
        try Self.sendPaced(h, id, 0..<300, length: 500, spacing: .milliseconds(10)) { index in
            guard index == 100 else { return }
            cutAt = h.now
            for address in [c1, c2] { h.loop.network.setLinksUp(false, between: address, and: s2, at: cutAt) }
        }
        #expect(h.run(for: .seconds(30)) { H.messages(h.server).count >= 300 })
        Self.expectDeliveredInOrder(h, count: 300, length: 500)
        #expect(h.client.endpoint.primaryAddress(of: id) == s1)
        #expect(client.count(ChunkType.data, to: s1) > 150)

        let restoreAt = h.now
        for address in [c1, c2] { h.loop.network.setLinksUp(true, between: address, and: s2, at: restoreAt) }
        #expect(h.run(for: .seconds(40)) { H.firstChange(h.client, s2, to: .active, after: restoreAt) != nil })
        #expect(h.client.endpoint.primaryAddress(of: id) == s2)
        let resumeAt = h.now
        try Self.sendPaced(h, id, 300..<350, length: 500, spacing: .milliseconds(10))
        #expect(h.run(for: .seconds(10)) { H.messages(h.server).count >= 350 })
        Self.expectDeliveredInOrder(h, count: 350, length: 500)
        #expect(client.count(ChunkType.data, to: s2, in: resumeAt...h.now) >= 50)
        #expect(client.count(ChunkType.data, to: s1, in: resumeAt...h.now) == 0)
    }

    @Test("one T3-rtx expiry on the primary moves data to the alternate though the primary stays active; its next heartbeat answer brings data back")
    func singleTimeoutReturnsAfterHeartbeat() throws {
        var configuration = Self.fastFailover
        configuration.pathMaxRetransmits = 3
        configuration.pathPotentiallyFailedThreshold = 2
        let h = Self.harness(seed: 28, configuration: configuration)
        let (client, _) = h.routeByInterface()
        let id = try h.connect(to: [s1, s2])
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        #expect(h.run(for: .seconds(2)) { H.firstChange(h.server, c2, to: .active) != nil })
        // A 500 ms outage of the primary during a transfer: one T3-rtx expiry there.
        var cutAt = SCTPInstant.zero
        try Self.sendPaced(h, id, 0..<200, length: 500, spacing: .milliseconds(10)) { index in
            if index == 100 {
                cutAt = h.now
                for address in [c1, c2] {
                    h.loop.network.setLinksUp(false, between: address, and: s1, at: cutAt)
                    h.loop.network.setLinksUp(true, between: address, and: s1, at: cutAt + .milliseconds(500))
                }
            }
        }
        #expect(h.run(for: .seconds(10)) { H.messages(h.server).count >= 200 })
        Self.expectDeliveredInOrder(h, count: 200, length: 500)
        let failoverAt = try #require(client.times(of: ChunkType.data, to: s2).first)
        #expect(failoverAt > cutAt && failoverAt - cutAt <= .seconds(1))
        // One error is below Path.PF.Max.Retrans: no state change is reported, the primary
        // stays active, yet data left it (§6.4.1) and stays on the alternate for now.
        #expect(H.addressChanges(h.client).isEmpty)
        #expect(Self.states(h.client, id) == [s1: .active, s2: .active])
        #expect(h.client.endpoint.primaryAddress(of: id) == s2)
        #expect(client.count(ChunkType.data, to: s1, in: failoverAt...h.now) == 0)

        // The primary's next heartbeat (one RTO + HB.interval after the last DATA it carried)
        // is answered, and data goes back to it.
        let heartbeatAt = try #require({ () -> SCTPInstant? in
            _ = h.run(for: .seconds(40)) { client.times(of: ChunkType.heartbeat, to: s1).contains { $0 > cutAt } }
            return client.times(of: ChunkType.heartbeat, to: s1).first { $0 > cutAt }
        }())
        #expect(heartbeatAt - cutAt >= .seconds(30) && heartbeatAt - cutAt <= .seconds(32))
        #expect(h.run(for: .seconds(1)) { h.client.endpoint.primaryAddress(of: id) == s1 })
        let resumeAt = h.now
        try Self.sendPaced(h, id, 200..<250, length: 500, spacing: .milliseconds(10))
        #expect(h.run(for: .seconds(10)) { H.messages(h.server).count >= 250 })
        Self.expectDeliveredInOrder(h, count: 250, length: 500)
        #expect(client.count(ChunkType.data, to: s1, in: resumeAt...h.now) >= 50)
        #expect(client.count(ChunkType.data, to: s2, in: resumeAt...h.now) == 0)
    }

    @Test("SACKs from another address than the data went to credit the path the data took (§8.2), with no ping-pong")
    func sackFromAnotherAddress() throws {
        // No interface routing: each side sends from its first address, so every SACK comes
        // from s1, whichever server address the data went to. Only c1 → s1 fails.
        let h = Self.harness(seed: 29, configuration: Self.fastFailover)
        let (client, server) = h.logTraffic()
        let id = try h.connect(to: [s1, s2])
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        #expect(h.run(for: .seconds(2)) { H.firstChange(h.server, c2, to: .active) != nil })
        var cutAt = SCTPInstant.zero
        let sentAt = try Self.sendPaced(h, id, 0..<400, length: 800, spacing: .milliseconds(10)) { index in
            guard index == 100 else { return }
            cutAt = h.now
            h.loop.network.setLinkUp(false, from: c1, to: s1, at: cutAt)
        }
        #expect(h.run(for: .seconds(10)) { H.messages(h.server).count >= 400 })
        Self.expectDeliveredInOrder(h, count: 400, length: 800)
        let failoverAt = try #require(H.firstChange(h.client, s1, to: .potentiallyFailed))
        #expect(failoverAt - cutAt <= .seconds(1))
        let delivered = Self.deliveryTimes(h)
        let late = (0..<400).filter { index in
            delivered[index].map { $0 > max(sentAt[index]!, failoverAt) + .milliseconds(500) } ?? true
        }
        #expect(late.isEmpty, "\(late.count) messages late")
        // Every SACK came from s1, yet s1 was never taken for reachable: the SACKs acknowledged
        // data sent to s2, and its heartbeat probes went unanswered. Data stayed on s2.
        #expect(server.sent.filter { $0.chunks.contains { isAcknowledgement($0.type) } }.allSatisfy { $0.from == s1 })
        #expect(H.addressChanges(h.client).filter { $0.address == s1 }.map(\.state) == [.potentiallyFailed, .inactive])
        #expect(client.count(ChunkType.data, to: s1, in: failoverAt...h.now) == 0)
        #expect(client.count(ChunkType.data, to: s2, in: failoverAt...h.now) >= 300)
        #expect(try Self.association(h.client, id).associationErrorCount == 0)
        #expect(h.client.endpoint.state(of: id) == .established)
    }

    // MARK: Scenario 3

    /// When T3-rtx alone ends an association whose paths are all down: the first expiry at
    /// `firstExpiry`, then each expiry doubles its path's RTO (up to RTO.Max) and the
    /// retransmission goes to the other path, whose timer runs for that path's RTO; the
    /// association fails at expiry Association.Max.Retrans + 1.
    static func t3Exhaustion(firstExpiry: SCTPInstant, rtos: [Duration], configuration: SCTPConfiguration) -> SCTPInstant {
        var rtos = rtos
        var time = firstExpiry
        var path = 0
        var errors = 0
        while true {
            errors += 1
            rtos[path] = min(rtos[path] * 2, configuration.rtoMax)
            if errors > configuration.associationMaxRetransmits { return time }
            path = (path + 1) % rtos.count
            time = time + rtos[path]
        }
    }

    @Test("every path down: the sender reports retransmissions exhausted when the RTO back-off says, then falls silent",
          arguments: [false, true])
    func allPathsDown(heartbeats: Bool) throws {
        var configuration = Self.fastFailover
        if !heartbeats { configuration.heartbeatInterval = nil }
        let h = Self.harness(seed: 23, configuration: configuration)
        let (client, _) = h.routeByInterface()
        let id = try h.connect(to: [s1, s2])
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        if heartbeats { #expect(h.run(for: .seconds(2)) { H.firstChange(h.server, c2, to: .active) != nil }) }

        try Self.sendPaced(h, id, 0..<100, length: 1000, spacing: .milliseconds(10))
        // Message 100 leaves, and at that instant every link goes down: it is lost in flight.
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: 100, length: 1000)),
                                   on: id, now: h.now)
        h.loop.flushTransmits()
        let cutAt = h.now
        for a in [c1, c2] { for b in [s1, s2] { h.loop.network.setLinksUp(false, between: a, and: b, at: cutAt) } }
        let association = try Self.association(h.client, id)
        #expect(association.primaryPath == 0)
        let firstExpiry = try #require(association.paths[0].t3Deadline)
        let expectedLoss = Self.t3Exhaustion(firstExpiry: firstExpiry, rtos: association.paths.map(\.rto.rto),
                                             configuration: configuration)
        #expect(expectedLoss > cutAt)
        try Self.sendPaced(h, id, 101..<200, length: 1000, spacing: .milliseconds(10))
        #expect(h.run(for: .seconds(60)) { H.lost(h.client) != nil })
        #expect(H.lost(h.client) == .retransmissionsExhausted)
        let lostAt = try #require(h.client.events.first { if case .communicationLost = $0.event { true } else { false } }?.time)
        if heartbeats {
            // Heartbeats missed on the path that carries data count too (§8.1), and missed
            // probes back off a path's RTO and steer the choice of path, so the schedule is
            // not T3's alone. Still, after the first expiry a counted error follows at most
            // RTO.Max after the previous one (a T3-rtx timer always runs on some path, and
            // its expiry counts).
            let bound = firstExpiry + configuration.rtoMax * configuration.associationMaxRetransmits
            #expect(lostAt > firstExpiry && lostAt <= bound, "lost at \(lostAt), bound \(bound)")
        } else {
            #expect(lostAt == expectedLoss, "lost at \(lostAt), T3 back-off predicts \(expectedLoss)")
        }
        // Both addresses failed along the way; unsent messages come back as send failures.
        #expect(H.firstChange(h.client, s1, to: .inactive) != nil && H.firstChange(h.client, s2, to: .inactive) != nil)
        #expect(h.client.events.contains { if case .sendFailed = $0.event { true } else { false } })
        // The ABORT is the last thing the client sends; its association is gone, with its timers.
        h.run(for: .seconds(600)) { false }
        #expect(client.sent.last.map { $0.time == lostAt && $0.chunks.contains { $0.type == ChunkType.abort } } == true)
        #expect(h.client.endpoint.associationIDs.isEmpty)
        #expect(h.client.endpoint.nextDeadline.map { $0 - h.now > .seconds(1_800) } ?? true, "only the cookie secret rotation")
        if heartbeats {
            // The server, with no data to send, detects it by heartbeats and gives up too.
            #expect(H.lost(h.server) == .retransmissionsExhausted)
            #expect(h.server.endpoint.associationIDs.isEmpty)
        }
    }

    // MARK: Scenario 4

    @Test("an idle association with one path cut: that path goes inactive after Path.Max.Retrans + 1 missed heartbeats, and the association lives on",
          arguments: [false, true])
    func idlePathFailure(cutPrimary: Bool) throws {
        var configuration = Self.fastFailover
        configuration.pathMaxRetransmits = 3
        configuration.pathPotentiallyFailedThreshold = 2
        let h = Self.harness(seed: cutPrimary ? 24 : 25, configuration: configuration)
        let (client, server) = h.routeByInterface()
        let id = try h.connect(to: [s1, s2])
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let serverID = try #require(H.upEvents(h.server).first)
        h.run(for: .seconds(45)) { false }
        #expect(Self.states(h.client, id) == [s1: .active, s2: .active])

        let (dead, alive) = cutPrimary ? (s1, s2) : (s2, s1)
        let deadClientAddress = cutPrimary ? c1 : c2
        let cutAt = h.now
        h.loop.network.setLinksUp(false, between: deadClientAddress, and: dead, at: cutAt)
        #expect(h.run(for: .seconds(300)) { H.firstChange(h.client, dead, to: .inactive) != nil })
        let inactiveAt = H.firstChange(h.client, dead, to: .inactive)!
        let potentiallyFailedAt = try #require(H.firstChange(h.client, dead, to: .potentiallyFailed))
        // Path.Max.Retrans + 1 = 4 heartbeats went unanswered; the second miss made the path
        // potentially failed, the fourth inactive, one RTO after it was sent.
        let heartbeats = client.times(of: ChunkType.heartbeat, to: dead).filter { $0 >= cutAt }
        #expect(heartbeats.count == configuration.pathMaxRetransmits + 1)
        #expect(heartbeats.filter { $0 < potentiallyFailedAt }.count == configuration.pathPotentiallyFailedThreshold)
        // The last miss is counted one RTO after that heartbeat was sent.
        #expect(inactiveAt - heartbeats.last! >= configuration.rtoMin && inactiveAt - heartbeats.last! <= configuration.rtoMax)
        // The first miss left the path active: the next heartbeat waited RTO + HB.interval
        // (§8.3); once potentially failed it is probed once per RTO (RFC 7829).
        #expect(heartbeats[1] - heartbeats[0] >= .seconds(30))
        #expect(heartbeats[3] - heartbeats[2] < .seconds(3))
        #expect(client.count(ChunkType.data) == 0 && server.count(ChunkType.data) == 0)
        #expect(h.client.endpoint.primaryAddress(of: id) == alive)
        #expect(Self.states(h.client, id) == [dead: .inactive, alive: .active])

        // Ten more minutes: the dead path is still probed now and then, not flooded, and
        // the association stays up on the other path.
        let settled = h.now
        h.run(for: .seconds(600)) { false }
        let probes = client.count(ChunkType.heartbeat, to: dead, in: settled...h.now)
        #expect((17...21).contains(probes), "\(probes) heartbeats to the inactive address")
        #expect(H.lost(h.client) == nil && H.lost(h.server) == nil)
        #expect(h.client.endpoint.state(of: id) == .established && h.server.endpoint.state(of: serverID) == .established)
        #expect(Self.states(h.client, id) == [dead: .inactive, alive: .active])
        // Misses on the idle primary counted towards the association; heartbeat answers on
        // the other path cleared them (§8.1).
        #expect(try Self.association(h.client, id).associationErrorCount == 0)
    }

    @Test("heartbeats missed on an idle alternate path do not count towards Association.Max.Retrans (§8.1)")
    func idleAlternateDoesNotEndAssociation() throws {
        var configuration = Self.fastFailover
        configuration.pathMaxRetransmits = 4
        configuration.associationMaxRetransmits = 2
        let h = Self.harness(seed: 26, configuration: configuration)
        let (client, _) = h.routeByInterface()
        let id = try h.connect(to: [s1, s2])
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        h.run(for: .seconds(10)) { false }
        let cutAt = h.now
        h.loop.network.setLinksUp(false, between: c2, and: s2, at: cutAt)
        h.run(for: .seconds(600)) { false }
        // Five misses made the path inactive, more than Association.Max.Retrans, yet the
        // association lives: only the path that carries data counts towards it.
        #expect(H.firstChange(h.client, s2, to: .inactive) != nil)
        #expect(client.count(ChunkType.heartbeat, to: s2, in: cutAt...h.now) > configuration.associationMaxRetransmits + 1)
        #expect(H.lost(h.client) == nil && H.lost(h.server) == nil)
        #expect(h.client.endpoint.state(of: id) == .established)
    }
}
