import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

@Suite("send limits and flow control")
struct SendLimitTests {
    typealias H = AssociationHarness

    @Test("the send buffer, message size and stream count limits give their errors")
    func limits() throws {
        var configuration = SCTPConfiguration()
        configuration.sendBufferSize = 10_000
        configuration.maxMessageSize = 8_000
        let h = H(seed: 21, clientConfiguration: configuration)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        #expect(throws: CoreError.messageTooLarge) {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 1, count: 8_001)), on: id, now: h.now)
        }
        #expect(throws: CoreError.emptyMessage) {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer()), on: id, now: h.now)
        }
        #expect(throws: CoreError.invalidStream(10)) {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 10, payload: ByteBuffer(repeating: 1, count: 10)), on: id, now: h.now)
        }
        // Fill the queue without letting time run: what does not fit is refused, nothing is lost.
        var accepted = 0
        var refused = false
        for _ in 0..<100 {
            do {
                try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 1, payload: ByteBuffer(repeating: 2, count: 4_000)), on: id, now: h.now)
                accepted += 1
            } catch {
                #expect(error == .sendBufferFull)
                refused = true
                break
            }
        }
        #expect(refused)
        #expect(accepted >= 2 && accepted < 100)
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == accepted })
        #expect(H.messages(h.server).allSatisfy { $0.payload.readableBytes == 4_000 && $0.streamIdentifier == 1 })
        // Once the last SACK is back, the sender reports it has nothing left.
        #expect(h.run { h.client.events.contains { if case .senderDry = $0.event { true } else { false } } })
    }

    @Test("a reader that does not consume closes the window; the sender waits, then resumes")
    func slowReader() throws {
        var serverConfiguration = SCTPConfiguration()
        serverConfiguration.receiveBufferSize = 20_000
        let h = H(seed: 22, serverConfiguration: serverConfiguration)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        for index in 0..<40 {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: index, length: 1_000)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        // Nothing is consumed: delivery stops near the window (20 000 bytes ≈ 20 messages).
        h.run(for: .seconds(30)) { false }
        let stalled = H.messages(h.server).count
        #expect(stalled >= 15 && stalled <= 21, "delivered \(stalled) while the window was closed")
        // The reader catches up and from now on reads each message as it arrives.
        let serverID = try #require(H.upEvents(h.server).first)
        let backlog = H.messages(h.server).reduce(0) { $0 + $1.payload.readableBytes }
        h.server.onEvent = { event, now, endpoint in
            if case .message(let id, let m) = event { endpoint.consumed(bytes: m.payload.readableBytes, on: id, now: now) }
        }
        h.server.endpoint.consumed(bytes: backlog, on: serverID, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(300)) { H.messages(h.server).count == 40 })
        let indices = H.messages(h.server).map { Int($0.payload.getInteger(at: $0.payload.readerIndex + 2, as: UInt32.self)!) }
        #expect(indices == Array(0..<40))
    }

    /// Sends ten 50-byte messages on an association set up with `noDelay`, polling after each
    /// call (as the driver does) or once after all of them; checks that they arrive in order
    /// and returns how many DATA chunks each of the client's packets carried.
    private func tenSmallMessages(seed: UInt64, noDelay: Bool, pollEachCall: Bool) throws -> [Int] {
        var configuration = SCTPConfiguration()
        configuration.noDelay = noDelay
        let h = H(seed: seed, clientConfiguration: configuration)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        let (client, _) = h.logTraffic()
        for index in 0..<10 {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: UInt8(index), count: 50)),
                                       on: id, now: h.now)
            if pollEachCall { h.loop.flushTransmits() }
        }
        if !pollEachCall {
            #expect(client.sent.isEmpty, "nothing leaves before the poll")
            h.loop.flushTransmits()
        }
        #expect(h.run { H.messages(h.server).count == 10 })
        #expect(H.messages(h.server).map { $0.payload.getInteger(at: 0, as: UInt8.self) } == (0..<10).map { UInt8($0) })
        return client.sent.filter { $0.chunks.contains { $0.type == 0 } }.map { $0.chunks.filter { $0.type == 0 }.count }
    }

    @Test("SCTP_NODELAY off: while data is unacknowledged, small messages wait and leave bundled; on: each leaves at once")
    func nagle() throws {
        // One call after another, each followed by a poll: the first leaves alone (nothing is in flight).
        // With SCTP_NODELAY each message is sent as soon as it is queued; without, the nine
        // others leave bundled after the first SACK.
        #expect(try tenSmallMessages(seed: 23, noDelay: true, pollEachCall: true) == Array(repeating: 1, count: 10))
        #expect(try tenSmallMessages(seed: 23, noDelay: false, pollEachCall: true) == [1, 9])
    }

    @Test("messages queued at one instant, with no poll between them, leave together at the next poll, without waiting for an ack")
    func batchLeavesBundled() throws {
        for noDelay in [false, true] {
            #expect(try tenSmallMessages(seed: 29, noDelay: noDelay, pollEachCall: false) == [10])
        }
    }

    @Test("SCTP_NODELAY off never holds back a full chunk, nor what is left at shutdown")
    func nagleFullChunksAndShutdown() throws {
        var configuration = SCTPConfiguration()
        configuration.noDelay = false
        let h = H(seed: 24, clientConfiguration: configuration)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        // A large message: full chunks flow while earlier ones are unacknowledged; its small
        // tail and a small message follow, and a shutdown right away still delivers all.
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 7, count: 10_000)), on: id, now: h.now)
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 8, count: 10)), on: id, now: h.now)
        try h.client.endpoint.shutdown(id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { H.shutdownCompleted(h.client) })
        #expect(H.messages(h.server).map(\.payload.readableBytes) == [10_000, 10])
    }

    @Test("an abort reports every message not acknowledged as send failed: in flight first, then queued, each once and whole")
    func abortReportsUnacknowledged() throws {
        var configuration = SCTPConfiguration()
        configuration.sendBufferSize = 1 << 20
        let h = H(seed: 25, clientConfiguration: configuration)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        let c = h.client.addresses[0], s = h.server.addresses[0]
        h.loop.network.setLinksUp(false, between: c, and: s, at: h.now)
        // Sizes: small, fragmented, small...; the window lets only some leave before the abort.
        let sizes = [100, 5_000, 100, 300_000, 100]
        for (index, size) in sizes.enumerated() {
            var payload = ByteBuffer(repeating: 0, count: size)
            payload.setInteger(UInt8(index), at: 0)
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: payload), on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.client.endpoint.status(of: id)!.unacknowledgedChunks > 0)
        try h.client.endpoint.abort(id, now: h.now)
        h.loop.flushTransmits()
        let failed = h.client.events.compactMap { entry -> (UInt8, Int)? in
            if case .sendFailed(_, let failed) = entry.event, case let payload = failed.payload { (payload.getInteger(at: payload.readerIndex, as: UInt8.self)!, payload.readableBytes) } else { nil }
        }
        #expect(failed.map(\.0) == [0, 1, 2, 3, 4])
        #expect(failed.map(\.1) == sizes)
    }

    @Test("SCTP_AUTOCLOSE: an idle association shuts down gracefully after the idle time; traffic keeps it open")
    func autoClose() throws {
        var configuration = SCTPConfiguration()
        configuration.autoClose = .seconds(5)
        let h = H(seed: 26, clientConfiguration: configuration)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        let upAt = h.now
        // A message every 2 s for 10 s: never idle for 5 s.
        for index in 0..<5 {
            _ = h.run(for: .seconds(2)) { false }
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: UInt8(index), count: 10)), on: id, now: h.now)
            h.loop.flushTransmits()
        }
        #expect(h.client.endpoint.state(of: id) == .established)
        let lastSend = h.now
        #expect(h.run(for: .seconds(30)) { H.shutdownCompleted(h.client) })
        #expect(H.messages(h.server).count == 5)
        // Closed about 5 s after the last data (its SACK and the shutdown take a few RTTs).
        #expect(h.now >= lastSend + .seconds(5) && h.now < lastSend + .seconds(6))
        #expect(lastSend >= upAt + .seconds(10))
    }

    @Test("SCTP_MAXSEG: messages are cut into chunks of at most that much user data")
    func maxSegment() throws {
        var configuration = SCTPConfiguration()
        configuration.maxSegmentSize = 300
        let h = H(seed: 27, clientConfiguration: configuration)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        let (client, _) = h.logTraffic()
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 3, count: 1000)), on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == 1 })
        let sizes = client.sent.flatMap { $0.chunks }.compactMap { if case .data(let d) = $0 { d.payload.readableBytes } else { nil } }
        #expect(sizes == [300, 300, 300, 100])
        #expect(H.messages(h.server)[0].payload.readableBytes == 1000)
    }
}
