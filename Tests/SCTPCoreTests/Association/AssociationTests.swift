import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

@Suite("association over the simulated network")
struct AssociationTests {
    typealias H = AssociationHarness

    @Test("the four-way handshake brings both sides up with negotiated streams")
    func handshake() throws {
        var serverConfiguration = SCTPConfiguration()
        serverConfiguration.outboundStreams = 4
        let h = H(seed: 1, serverConfiguration: serverConfiguration)
        let id = try h.connect()
        #expect(h.client.endpoint.state(of: id) == .cookieWait)
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        #expect(h.client.endpoint.state(of: id) == .established)
        #expect(h.client.endpoint.streams(of: id)! == (outbound: 10, inbound: 4))
        let serverID = try #require(H.upEvents(h.server).first)
        #expect(h.server.endpoint.streams(of: serverID)! == (outbound: 4, inbound: 10))
        // Two round trips of 5 ms each way.
        #expect(h.now <= SCTPInstant(nanoseconds: 25_000_000))
    }

    @Test("messages flow both ways, in order per stream, byte for byte")
    func echo() throws {
        let h = H(seed: 2)
        h.server.onEvent = { event, now, endpoint in
            if case .message(let id, let m) = event {
                try? endpoint.send(OutgoingMessage(streamIdentifier: m.streamIdentifier,
                                                   payloadProtocolIdentifier: m.payloadProtocolIdentifier,
                                                   payload: m.payload), on: id, now: now)
            }
        }
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        let count = 200
        for index in 0..<count {
            let stream = UInt16(index % 3)
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: stream, payloadProtocolIdentifier: 51,
                                                       payload: testPayload(stream: stream, index: index, length: 1 + index * 37 % 3000)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.client).count >= count })
        let echoed = H.messages(h.client)
        #expect(echoed.count == count)
        for stream in UInt16(0)..<3 {
            let indices = echoed.filter { $0.streamIdentifier == stream }.map { Int($0.payload.getInteger(at: $0.payload.readerIndex + 2, as: UInt32.self)!) }
            #expect(indices == Array(stride(from: Int(stream), to: count, by: 3)))
        }
        for m in echoed {
            let index = Int(m.payload.getInteger(at: m.payload.readerIndex + 2, as: UInt32.self)!)
            #expect(m.payload == testPayload(stream: m.streamIdentifier, index: index, length: 1 + index * 37 % 3000))
            #expect(m.payloadProtocolIdentifier == 51 && m.isComplete)
        }
    }

    @Test("loss, duplication and reordering lose nothing and duplicate nothing", arguments: [UInt64(3), 4, 5])
    func lossy(seed: UInt64) throws {
        let conditions = LinkConditions(delay: .milliseconds(10), jitter: .milliseconds(2), lossProbability: 0.05,
                                        duplicationProbability: 0.02, reorderProbability: 0.05, reorderDelay: .milliseconds(15))
        let h = H(seed: seed, conditions: conditions)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let count = 300
        for index in 0..<count {
            let stream = UInt16(index % 4)
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: stream, isUnordered: stream == 3,
                                                       payload: testPayload(stream: stream, index: index, length: 100 + index * 53 % 5000)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(600)) { H.messages(h.server).count >= count })
        let received = H.messages(h.server)
        #expect(received.count == count)
        var seen = Set<Int>()
        for m in received {
            let index = Int(m.payload.getInteger(at: m.payload.readerIndex + 2, as: UInt32.self)!)
            #expect(seen.insert(index).inserted, "message \(index) delivered twice")
            #expect(m.payload == testPayload(stream: m.streamIdentifier, index: index, length: 100 + index * 53 % 5000))
        }
        for stream in UInt16(0)..<3 {
            let indices = received.filter { $0.streamIdentifier == stream }.map { Int($0.payload.getInteger(at: $0.payload.readerIndex + 2, as: UInt32.self)!) }
            #expect(indices == Array(stride(from: Int(stream), to: count, by: 4)), "stream \(stream) in order")
        }
        // And it ends cleanly.
        try h.client.endpoint.shutdown(id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(600)) { H.shutdownCompleted(h.client) && H.shutdownCompleted(h.server) })
    }

    @Test("graceful shutdown with data in flight delivers everything, then both sides close")
    func shutdownWithDataInFlight() throws {
        let h = H(seed: 6)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        for index in 0..<50 {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: index, length: 2000)),
                                       on: id, now: h.now)
        }
        try h.client.endpoint.shutdown(id, now: h.now)
        #expect(throws: CoreError.associationClosing) {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(bytes: [1])), on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run { H.shutdownCompleted(h.client) && H.shutdownCompleted(h.server) })
        #expect(H.messages(h.server).count == 50)
        #expect(h.server.events.contains { if case .peerShutdown = $0.event { true } else { false } })
        h.runToIdle()
        #expect(h.client.endpoint.associationIDs.isEmpty)
        #expect(h.server.endpoint.associationIDs.isEmpty)
    }

    @Test("connectx tries the addresses round robin: a silent first address, then the live one")
    func roundRobin() throws {
        let h = H(seed: 7)
        let silent = IPAddress.v4(IPv4Address(10, 0, 9, 9))
        let id = try h.connect(to: [silent, h.server.addresses[0]])
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        // The first INIT went to the silent address; T1 (RTO.Initial, 1 s) moved on.
        #expect(h.now >= SCTPInstant(nanoseconds: 1_000_000_000))
        #expect(h.now < SCTPInstant(nanoseconds: 1_100_000_000))
        // The peer did not list the silent address: it is dropped.
        #expect(h.client.endpoint.peerAddresses(of: id).map(\.address) == h.server.addresses)
    }

    @Test("only silent addresses: ETIMEDOUT after Max.Init.Retransmits, alternating addresses, RTO doubling per round")
    func timesOut() throws {
        var configuration = SCTPConfiguration()
        configuration.maxInitRetransmits = 4
        let h = H(seed: 8, clientConfiguration: configuration)
        let silent = [IPAddress.v4(IPv4Address(10, 0, 9, 1)), .v4(IPv4Address(10, 0, 9, 2))]
        for address in silent {
            h.loop.network.addSymmetricLink(between: h.client.addresses[0], and: address, conditions: .perfect)
        }
        _ = try h.connect(to: silent)
        #expect(h.run(for: .seconds(600)) { H.cannotStart(h.client) != nil })
        #expect(H.cannotStart(h.client) == .timedOut)
        // Five INITs: 1 + 4 retransmissions, alternating 1, 2, 1, 2, 1.
        let sent = silent.map { h.loop.network.statistics(from: h.client.addresses[0], to: $0)?.sent ?? 0 }
        #expect(sent == [3, 2])
        // Timeouts 1, 1 (round 1), 2, 2 (round 2), 4: gives up at 10 s.
        #expect(h.now == SCTPInstant(nanoseconds: 10_000_000_000))
    }

    @Test("a peer that does not listen answers INIT with ABORT: ECONNREFUSED")
    func refused() throws {
        let h = H(seed: 9, serverListens: false)
        _ = try h.connect()
        #expect(h.run { H.cannotStart(h.client) != nil })
        #expect(H.cannotStart(h.client) == .refused(causes: []))
        #expect(h.now < SCTPInstant(nanoseconds: 50_000_000))
    }

    @Test("a user abort reaches the peer with its reason")
    func userAbort() throws {
        let h = H(seed: 10)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.server).isEmpty && !H.upEvents(h.client).isEmpty })
        try h.client.endpoint.abort(id, reason: ByteBuffer(string: "bye"), now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { H.lost(h.server) != nil })
        #expect(H.lost(h.server) == .peerAborted(causes: [.userInitiatedAbort(UserInitiatedAbortCause(bytes: ByteBuffer(string: "bye")))]))
        #expect(H.lost(h.client) == .userAborted, "\(h.client.events.map(\.event))")
    }

    @Test("an out-of-the-blue DATA packet is answered with ABORT carrying the reflected tag")
    func outOfTheBlue() throws {
        let h = H(seed: 11)
        let stray = SCTPPacket(header: CommonHeader(sourcePort: 7, destinationPort: H.serverPort, verificationTag: 0xABCD),
                               chunks: [.data(DataChunk(flags: .complete, tsn: TSN(1), streamIdentifier: 0, ssn: SSN(0),
                                                        payloadProtocolIdentifier: 0, payload: ByteBuffer(bytes: [1])))])
        h.server.endpoint.handle(datagram: stray.serialized(), from: h.client.addresses[0], to: h.server.addresses[0], now: .zero)
        let reply = try #require(h.server.endpoint.pollTransmit())
        let packet = try SCTPPacket(parsing: reply.datagram)
        #expect(packet.header.verificationTag == 0xABCD && packet.header.destinationPort == 7)
        #expect(packet.chunks == [.abort(AbortChunk(tagFlags: .reflectedTag))])
        // A stray ABORT is never answered.
        let strayAbort = SCTPPacket(header: stray.header, chunks: [.abort(AbortChunk())])
        h.server.endpoint.handle(datagram: strayAbort.serialized(), from: h.client.addresses[0], to: h.server.addresses[0], now: .zero)
        #expect(h.server.endpoint.pollTransmit() == nil)
        // A corrupted packet is dropped silently.
        var corrupted = stray.serialized()
        corrupted.setInteger(UInt8(0xFF), at: 20)
        h.server.endpoint.handle(datagram: corrupted, from: h.client.addresses[0], to: h.server.addresses[0], now: .zero)
        #expect(h.server.endpoint.pollTransmit() == nil)
    }
}

@Suite("association setup edge cases")
struct AssociationSetupTests {
    typealias H = AssociationHarness

    @Test("aborting during setup reports the attempt as cancelled and the peer forgets it")
    func abortDuringSetup() throws {
        let h = H(seed: 12)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.server).isEmpty })
        #expect(h.client.endpoint.state(of: id) == .cookieEchoed)
        try h.client.endpoint.abort(id, now: h.now)
        h.loop.flushTransmits()
        #expect(H.cannotStart(h.client) == .cancelled)
        #expect(h.run { H.lost(h.server) != nil })
        h.runToIdle()
        #expect(h.server.endpoint.associationIDs.isEmpty && h.client.endpoint.associationIDs.isEmpty)
    }

    @Test("a second connect to the same peer while one exists is refused with alreadyConnected")
    func alreadyConnected() throws {
        let h = H(seed: 13)
        let id = try h.connect()
        #expect(throws: CoreError.alreadyConnected(id)) { try h.client.endpoint.connect(to: h.server.addresses, port: H.serverPort, now: h.now) }
        #expect(throws: CoreError.invalidAddresses("no address given")) { try h.client.endpoint.connect(to: [], port: H.serverPort, now: h.now) }
    }

    @Test("the association limit answers INIT with ABORT (Out of Resource)")
    func associationLimit() throws {
        var serverConfiguration = SCTPConfiguration()
        serverConfiguration.maxAssociations = 1
        let clients: [IPAddress] = [.v4(IPv4Address(10, 0, 0, 1)), .v4(IPv4Address(10, 0, 0, 2))]
        let h = H(seed: 14, clientAddresses: clients, serverConfiguration: serverConfiguration)
        // A second client endpoint on the other address.
        let second = EndpointParticipant(endpoint: SCTPEndpoint(localPort: 6000, localAddresses: [clients[1]],
                                                               random: SeededRandomSource(seed: 99), now: .zero))
        let first = EndpointParticipant(endpoint: SCTPEndpoint(localPort: 6001, localAddresses: [clients[0]],
                                                              random: SeededRandomSource(seed: 98), now: .zero))
        first.failsTestOnInvariantViolation(name: "first client")
        second.failsTestOnInvariantViolation(name: "second client")
        h.loop.participants = [first, second, h.server]
        _ = try first.endpoint.connect(to: h.server.addresses, port: H.serverPort, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { !H.upEvents(first).isEmpty })
        _ = try second.endpoint.connect(to: h.server.addresses, port: H.serverPort, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { H.cannotStart(second) != nil })
        #expect(H.cannotStart(second) == .refused(causes: [.outOfResource(OutOfResourceCause())]))
    }

    @Test("an expired cookie gets a Stale Cookie error and the client retries with a Cookie Preservative")
    func staleCookie() throws {
        var serverConfiguration = SCTPConfiguration()
        serverConfiguration.validCookieLife = .milliseconds(50)
        // 40 ms each way: the cookie is 80 ms old when it returns.
        let h = H(seed: 15, conditions: LinkConditions(delay: .milliseconds(40)), serverConfiguration: serverConfiguration)
        _ = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        // The retry asked for more life and succeeded: INIT, INIT ACK, COOKIE ECHO, ERROR, INIT, INIT ACK, COOKIE ECHO, COOKIE ACK.
        #expect(h.now == SCTPInstant(nanoseconds: 320_000_000))
    }
}
