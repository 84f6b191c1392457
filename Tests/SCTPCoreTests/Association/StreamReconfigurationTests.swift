import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Stream reconfiguration (RFC 6525) between two of our endpoints on the simulated network,
/// section by section.
@Suite("stream reconfiguration (RFC 6525)")
struct StreamReconfigurationTests {
    typealias H = AssociationHarness

    /// An established association; returns the client's and the server's ids.
    static func established(_ h: H) throws -> (AssociationID, AssociationID) {
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        return (id, try #require(H.upEvents(h.server).first))
    }

    static func send(_ h: H, _ p: EndpointParticipant, _ id: AssociationID, stream: UInt16, index: Int, length: Int = 100) throws {
        try p.endpoint.send(OutgoingMessage(streamIdentifier: stream, payloadProtocolIdentifier: UInt32(index),
                                            payload: testPayload(stream: stream, index: index, length: length)),
                            on: id, now: h.now)
    }

    static func resets(_ p: EndpointParticipant) -> [StreamResetEvent] {
        p.events.compactMap { if case .streamReset(_, let e) = $0.event { e } else { nil } }
    }

    static func associationResets(_ p: EndpointParticipant) -> [AssociationResetEvent] {
        p.events.compactMap { if case .associationReset(_, let e) = $0.event { e } else { nil } }
    }

    static func streamChanges(_ p: EndpointParticipant) -> [StreamChangeEvent] {
        p.events.compactMap { if case .streamChange(_, let e) = $0.event { e } else { nil } }
    }

    /// The position of the first event matching, in the participant's event list.
    static func position(_ p: EndpointParticipant, _ match: (SCTPEvent) -> Bool) -> Int? {
        p.events.firstIndex { match($0.event) }
    }

    static func messagePosition(_ p: EndpointParticipant, ppid: UInt32) -> Int? {
        position(p) { if case .message(_, let m) = $0 { m.payloadProtocolIdentifier == ppid } else { false } }
    }

    static func resetPosition(_ p: EndpointParticipant) -> Int? {
        position(p) { if case .streamReset = $0 { true } else { false } }
    }

    @Test("RE-CONFIG is announced in INIT and INIT ACK, and not without it; then requests fail with 'not supported'")
    func negotiation() throws {
        var off = SCTPConfiguration()
        off.streamReconfiguration = false
        let h = H(seed: 1, serverConfiguration: off)
        let (id, _) = try Self.established(h)
        #expect(h.client.endpoint.isReconfigurationSupported(on: id) == false)
        #expect(throws: CoreError.reconfigurationNotSupported) {
            try h.client.endpoint.resetStreams([1], direction: .outgoing, on: id, now: h.now)
        }
        let h2 = H(seed: 2)
        let (id2, serverID2) = try Self.established(h2)
        #expect(h2.client.endpoint.isReconfigurationSupported(on: id2) == true)
        #expect(h2.server.endpoint.isReconfigurationSupported(on: serverID2) == true)
    }

    @Test("§5.1.2/§5.2.2: an outgoing reset lets earlier messages arrive first, then the stream restarts at SSN 0; both sides are told")
    func outgoingReset() throws {
        let h = H(seed: 3)
        let (id, _) = try Self.established(h)
        for index in 0..<3 { try Self.send(h, h.client, id, stream: 1, index: index) }
        try h.client.endpoint.resetStreams([1], direction: .outgoing, on: id, now: h.now)
        // Sent after the request: waits for the reset, then goes with SSN 0.
        for index in 3..<5 { try Self.send(h, h.client, id, stream: 1, index: index) }
        try Self.send(h, h.client, id, stream: 2, index: 100)
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == 6 })
        let onStream1 = H.messages(h.server).filter { $0.streamIdentifier == 1 }
        #expect(onStream1.map(\.payloadProtocolIdentifier) == [0, 1, 2, 3, 4])
        #expect(onStream1.map(\.ssn.rawValue) == [0, 1, 2, 0, 1])
        #expect(Self.resets(h.client) == [StreamResetEvent(flags: .outgoing, streams: [1])])
        #expect(Self.resets(h.server) == [StreamResetEvent(flags: .incoming, streams: [1])])
        // The receiver hears of the reset after the old messages and before the new ones.
        let reset = try #require(Self.resetPosition(h.server))
        #expect(try #require(Self.messagePosition(h.server, ppid: 2)) < reset)
        #expect(try #require(Self.messagePosition(h.server, ppid: 3)) > reset)
    }

    @Test("§5.2.3: an Incoming SSN Reset Request makes the peer reset its outgoing stream with a request of its own")
    func incomingReset() throws {
        let h = H(seed: 4)
        let (id, serverID) = try Self.established(h)
        for index in 0..<2 { try Self.send(h, h.server, serverID, stream: 2, index: index) }
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.client).count == 2 })
        try h.client.endpoint.resetStreams([2], direction: .incoming, on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { !Self.resets(h.client).isEmpty && !Self.resets(h.server).isEmpty })
        #expect(Self.resets(h.client) == [StreamResetEvent(flags: .incoming, streams: [2])])
        #expect(Self.resets(h.server) == [StreamResetEvent(flags: .outgoing, streams: [2])])
        try Self.send(h, h.server, serverID, stream: 2, index: 2)
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.client).count == 3 })
        #expect(H.messages(h.client).map(\.ssn.rawValue) == [0, 1, 0])
    }

    @Test("resetting all streams both ways at once (an empty list) restarts every stream's numbering")
    func allStreamsBothWays() throws {
        let h = H(seed: 5)
        let (id, serverID) = try Self.established(h)
        for stream: UInt16 in [0, 3] { try Self.send(h, h.client, id, stream: stream, index: Int(stream)) }
        try Self.send(h, h.server, serverID, stream: 4, index: 40)
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == 2 && H.messages(h.client).count == 1 })
        try h.client.endpoint.resetStreams([], direction: [.incoming, .outgoing], on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { Self.resets(h.client).count == 2 && Self.resets(h.server).count == 2 })
        #expect(Set(Self.resets(h.client)) == [StreamResetEvent(flags: .outgoing, streams: []),
                                               StreamResetEvent(flags: .incoming, streams: [])])
        try Self.send(h, h.client, id, stream: 3, index: 30)
        try Self.send(h, h.server, serverID, stream: 4, index: 41)
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == 3 && H.messages(h.client).count == 2 })
        #expect(H.messages(h.server).last?.ssn.rawValue == 0)
        #expect(H.messages(h.client).last?.ssn.rawValue == 0)
    }

    @Test("§5.2.2: a peer that does not allow resets denies them; the sender keeps its numbering and sends on")
    func denied() throws {
        var server = SCTPConfiguration()
        server.streamResetPermissions = []
        let h = H(seed: 6, serverConfiguration: server)
        let (id, _) = try Self.established(h)
        try Self.send(h, h.client, id, stream: 1, index: 0)
        try h.client.endpoint.resetStreams([1], direction: .outgoing, on: id, now: h.now)
        try Self.send(h, h.client, id, stream: 1, index: 1)
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == 2 })
        #expect(Self.resets(h.client) == [StreamResetEvent(flags: [.outgoing, .denied], streams: [1])])
        #expect(Self.resets(h.server).isEmpty)
        #expect(H.messages(h.server).map(\.ssn.rawValue) == [0, 1])
    }

    @Test("§5.1.1: a lost RE-CONFIG is sent again when its timer expires, and the reset happens once")
    func lostRequest() throws {
        let h = H(seed: 7)
        let (id, _) = try Self.established(h)
        let client = PacketFilterParticipant(h.client, rules: [(ReconfigChunk.chunkType, .drop)])
        h.loop.participants = [client, h.server]
        let start = h.now
        try h.client.endpoint.resetStreams([1], direction: .outgoing, on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { !Self.resets(h.client).isEmpty })
        #expect(client.applied == 1)
        #expect(h.now - start >= .seconds(1), "after one RTO")
        #expect(Self.resets(h.server).count == 1)
        #expect(Self.resets(h.client) == [StreamResetEvent(flags: .outgoing, streams: [1])])
    }

    @Test("§5.2.1: a lost answer makes the requester retransmit; the peer answers again from memory without a second reset")
    func lostResponse() throws {
        let h = H(seed: 8)
        let (id, _) = try Self.established(h)
        let server = PacketFilterParticipant(h.server, rules: [(ReconfigChunk.chunkType, .drop)])
        h.loop.participants = [h.client, server]
        try h.client.endpoint.resetStreams([1], direction: .outgoing, on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { !Self.resets(h.client).isEmpty })
        #expect(server.applied == 1)
        #expect(Self.resets(h.server).count == 1, "the retransmitted request is not performed twice")
        #expect(Self.resets(h.client) == [StreamResetEvent(flags: .outgoing, streams: [1])])
    }

    @Test("§5.2.2 E2: a request that overtakes its data is 'in progress'; later DATA on the stream waits; order holds")
    func deferredReset() throws {
        let h = H(seed: 9)
        let (id, _) = try Self.established(h)
        // The first packet with DATA is held back 100 ms: the RE-CONFIG overtakes it.
        let client = PacketFilterParticipant(h.client, rules: [(DataChunk.chunkType, .hold(.milliseconds(100)))])
        let server = RoutedParticipant(h.server, routes: [:])
        h.loop.participants = [client, server]
        for index in 0..<2 { try Self.send(h, h.client, id, stream: 1, index: index) }
        h.loop.flushTransmits()
        try h.client.endpoint.resetStreams([1], direction: .outgoing, on: id, now: h.now)
        for index in 2..<4 { try Self.send(h, h.client, id, stream: 1, index: index) }
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == 4 })
        #expect(client.applied == 1)
        #expect(H.messages(h.server).map(\.payloadProtocolIdentifier) == [0, 1, 2, 3])
        #expect(H.messages(h.server).map(\.ssn.rawValue) == [0, 1, 0, 1])
        let reset = try #require(Self.resetPosition(h.server))
        #expect(try #require(Self.messagePosition(h.server, ppid: 1)) < reset)
        #expect(try #require(Self.messagePosition(h.server, ppid: 2)) > reset)
        // The server answered twice: "In progress", then "Performed" without being asked again.
        #expect(server.count(ReconfigChunk.chunkType) == 2)
    }

    @Test("§5.1.4/§5.2.4: an SSN/TSN reset moves both sides to the TSNs the answer names and restarts every SSN")
    func associationReset() throws {
        var server = SCTPConfiguration()
        server.streamResetPermissions = [.resetStreams, .resetAssociation]
        let h = H(seed: 10, serverConfiguration: server)
        let (id, serverID) = try Self.established(h)
        try Self.send(h, h.client, id, stream: 0, index: 0)
        try Self.send(h, h.server, serverID, stream: 0, index: 1)
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == 1 && H.messages(h.client).count == 1 })
        try h.client.endpoint.resetAssociation(id, now: h.now)
        try Self.send(h, h.client, id, stream: 0, index: 2)  // waits for the reset
        h.loop.flushTransmits()
        #expect(h.run { !Self.associationResets(h.client).isEmpty && H.messages(h.server).count == 2 })
        let clientEvent = try #require(Self.associationResets(h.client).first)
        let serverEvent = try #require(Self.associationResets(h.server).first)
        #expect(clientEvent.flags.isEmpty && serverEvent.flags.isEmpty)
        #expect(clientEvent.localTSN == serverEvent.remoteTSN)
        #expect(clientEvent.remoteTSN == serverEvent.localTSN)
        let afterReset = try #require(H.messages(h.server).last)
        #expect(afterReset.firstTSN == clientEvent.localTSN)
        #expect(afterReset.ssn.rawValue == 0)
        try Self.send(h, h.server, serverID, stream: 0, index: 3)
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.client).count == 2 })
        #expect(H.messages(h.client).last?.firstTSN == serverEvent.localTSN)
        #expect(H.messages(h.client).last?.ssn.rawValue == 0)
    }

    @Test("§5.2.4: asked for an SSN/TSN reset while its own data is in flight, the peer answers once that data is acknowledged; nothing is lost")
    func associationResetWaitsForData() throws {
        var server = SCTPConfiguration()
        server.streamResetPermissions = [.resetAssociation]
        let h = H(seed: 15, serverConfiguration: server)
        let (id, serverID) = try Self.established(h)
        let logged = RoutedParticipant(h.server, routes: [:])
        h.loop.participants = [h.client, logged]
        // The server has 40 kB in flight (and queued) when the request arrives.
        for index in 0..<20 { try Self.send(h, h.server, serverID, stream: UInt16(index % 3), index: index, length: 2000) }
        h.loop.flushTransmits()
        try h.client.endpoint.resetAssociation(id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { !Self.associationResets(h.client).isEmpty && H.messages(h.client).count == 20 })
        #expect(Self.associationResets(h.client).first?.flags == [])
        #expect(H.messages(h.client).map(\.payloadProtocolIdentifier) == Array(0..<20))
        // Every message before the reset, then the reset.
        let reset = try #require(Self.position(h.client) { if case .associationReset = $0 { true } else { false } })
        #expect(try #require(Self.messagePosition(h.client, ppid: 19)) < reset)
        // One answer, "Performed" (no "In progress").
        #expect(logged.count(ReconfigChunk.chunkType) == 1)
        try Self.send(h, h.server, serverID, stream: 0, index: 20)
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.client).count == 21 })
        #expect(H.messages(h.client).last?.ssn.rawValue == 0)
        #expect(H.messages(h.client).last?.firstTSN == Self.associationResets(h.client).first?.remoteTSN)
    }

    @Test("§5.1.4: the peer's first new DATA overtakes its SSN/TSN reset answer; the requester holds it for the answer and delivers it once, after the reset (found by the state fuzzer)")
    func associationResetAnswerOvertaken() throws {
        var server = SCTPConfiguration()
        server.streamResetPermissions = [.resetAssociation]
        let h = H(seed: 17, serverConfiguration: server)
        let (id, serverID) = try Self.established(h)
        // The server's answer is held back 100 ms; the DATA it sends after answering is not.
        let delayed = PacketFilterParticipant(h.server, rules: [(ReconfigChunk.chunkType, .hold(.milliseconds(100)))])
        h.loop.participants = [h.client, delayed]
        try h.client.endpoint.resetAssociation(id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { !Self.associationResets(h.server).isEmpty })
        // Stream 1 never carried a message: SSN 0 fits the old numbering as well as the new.
        try Self.send(h, h.server, serverID, stream: 1, index: 7)
        h.loop.flushTransmits()
        #expect(h.run { !Self.associationResets(h.client).isEmpty && H.messages(h.client).count == 1 })
        #expect(delayed.applied == 1)
        // Nothing more arrives: the message was delivered once.
        _ = h.run(for: .seconds(5)) { H.messages(h.client).count > 1 }
        #expect(H.messages(h.client).map(\.payloadProtocolIdentifier) == [7])
        let event = try #require(Self.associationResets(h.client).first)
        #expect(event.flags.isEmpty)
        #expect(H.messages(h.client).first?.firstTSN == event.remoteTSN)
        let reset = try #require(Self.position(h.client) { if case .associationReset = $0 { true } else { false } })
        #expect(try #require(Self.messagePosition(h.client, ppid: 7)) > reset)
    }

    @Test("§5.1.4 with §9.2: a graceful shutdown waits for the answer to our SSN/TSN reset; DATA held meanwhile is delivered before the association closes")
    func shutdownWaitsForAssociationResetAnswer() throws {
        var server = SCTPConfiguration()
        server.streamResetPermissions = [.resetAssociation]
        let h = H(seed: 19, serverConfiguration: server)
        let (id, serverID) = try Self.established(h)
        // The answer is held back 300 ms; the server's DATA and its shutdown answers are not.
        let delayed = PacketFilterParticipant(h.server, rules: [(ReconfigChunk.chunkType, .hold(.milliseconds(300)))])
        h.loop.participants = [h.client, delayed]
        try h.client.endpoint.resetAssociation(id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { delayed.applied == 1 })
        try Self.send(h, h.server, serverID, stream: 1, index: 7)
        h.loop.flushTransmits()
        // The DATA is acknowledged and held; then our side closes.
        #expect(h.run { h.server.endpoint.status(of: serverID)?.unacknowledgedChunks == 0 })
        #expect(H.messages(h.client).isEmpty)
        try h.client.endpoint.shutdown(id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { H.shutdownCompleted(h.client) && H.shutdownCompleted(h.server) })
        #expect(H.messages(h.client).map(\.payloadProtocolIdentifier) == [7])
        #expect(!Self.associationResets(h.client).isEmpty)
        let reset = try #require(Self.position(h.client) { if case .associationReset = $0 { true } else { false } })
        let end = try #require(Self.position(h.client) { if case .shutdownComplete = $0 { true } else { false } })
        #expect(try #require(Self.messagePosition(h.client, ppid: 7)) > reset)
        #expect(end > reset)
    }

    @Test("§5.1.4: DATA held while an SSN/TSN reset request waits goes on in the old numbering when the request is denied")
    func associationResetHoldReleasedOnDenial() throws {
        let h = H(seed: 18)  // the server denies SSN/TSN resets (the default)
        let (id, serverID) = try Self.established(h)
        // The answer is held back; the server's DATA sent meanwhile arrives first.
        let delayed = PacketFilterParticipant(h.server, rules: [(ReconfigChunk.chunkType, .hold(.milliseconds(100)))])
        h.loop.participants = [h.client, delayed]
        try h.client.endpoint.resetAssociation(id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { delayed.applied == 1 })
        for index in 0..<3 { try Self.send(h, h.server, serverID, stream: 0, index: index) }
        h.loop.flushTransmits()
        #expect(h.run { !Self.associationResets(h.client).isEmpty && H.messages(h.client).count == 3 })
        #expect(Self.associationResets(h.client).first?.flags == .denied)
        #expect(H.messages(h.client).map(\.payloadProtocolIdentifier) == [0, 1, 2])
        #expect(H.messages(h.client).map(\.ssn.rawValue) == [0, 1, 2])
    }

    @Test("an abort while a reset waits: the messages held back are reported failed, and so is the request (found by the sweep)")
    func abortWhileResetting() throws {
        let h = H(seed: 16)
        let (id, _) = try Self.established(h)
        // The request is lost: the stream stays paused with messages waiting behind it.
        let client = PacketFilterParticipant(h.client, rules: [(ReconfigChunk.chunkType, .drop)])
        h.loop.participants = [client, h.server]
        try h.client.endpoint.resetStreams([1], direction: .outgoing, on: id, now: h.now)
        for index in 0..<3 { try Self.send(h, h.client, id, stream: 1, index: index) }
        h.loop.flushTransmits()
        h.run(for: .milliseconds(200)) { false }
        #expect(H.messages(h.server).isEmpty)
        try h.client.endpoint.abort(id, now: h.now)
        h.run { H.lost(h.client) != nil }
        let failed = h.client.events.compactMap { if case .sendFailed(_, let m) = $0.event { m.payloadProtocolIdentifier } else { nil } }
        #expect(failed == [0, 1, 2])
        #expect(Self.resets(h.client) == [StreamResetEvent(flags: [.outgoing, .failed], streams: [1])])
    }

    @Test("§5.2.4: SSN/TSN resets are denied by default")
    func associationResetDenied() throws {
        let h = H(seed: 11)
        let (id, _) = try Self.established(h)
        try h.client.endpoint.resetAssociation(id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { !Self.associationResets(h.client).isEmpty })
        #expect(Self.associationResets(h.client).first?.flags == .denied)
        #expect(Self.associationResets(h.server).isEmpty)
    }

    @Test("§5.1.5/§5.2.5/§5.2.6: streams added both ways; the new streams carry data")
    func addStreams() throws {
        var server = SCTPConfiguration()
        server.streamResetPermissions = [.changeStreams]
        let h = H(seed: 12, serverConfiguration: server)
        let (id, serverID) = try Self.established(h)
        #expect(throws: CoreError.invalidStream(12)) { try Self.send(h, h.client, id, stream: 12, index: 0) }
        try h.client.endpoint.addStreams(outgoing: 5, incoming: 3, on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { Self.streamChanges(h.client).count == 2 && Self.streamChanges(h.server).count == 2 })
        let last = try #require(Self.streamChanges(h.client).last)
        #expect(last.flags.isEmpty && last.outboundStreams == 15 && last.inboundStreams == 13)
        try Self.send(h, h.client, id, stream: 12, index: 0)
        try Self.send(h, h.server, serverID, stream: 12, index: 1)
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == 1 && H.messages(h.client).count == 1 })
    }

    @Test("adding streams is denied by default and beyond the peer's maximum of inbound streams")
    func addStreamsDenied() throws {
        var server = SCTPConfiguration()
        server.streamResetPermissions = [.changeStreams]
        server.maxInboundStreams = 12
        let h = H(seed: 13, serverConfiguration: server)
        let (id, _) = try Self.established(h)
        try h.client.endpoint.addStreams(outgoing: 5, incoming: 0, on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { !Self.streamChanges(h.client).isEmpty })
        #expect(Self.streamChanges(h.client) == [StreamChangeEvent(flags: .denied, inboundStreams: 10, outboundStreams: 10)])
        #expect(throws: CoreError.invalidStream(11)) { try Self.send(h, h.client, id, stream: 11, index: 0) }
    }

    @Test("bad requests fail at once with a clear error and change nothing")
    func badRequests() throws {
        let h = H(seed: 14)
        let (id, _) = try Self.established(h)
        #expect(throws: CoreError.invalidReconfiguration("stream 10 is not an outbound stream (10)")) {
            try h.client.endpoint.resetStreams([1, 10], direction: .outgoing, on: id, now: h.now)
        }
        #expect(throws: CoreError.invalidReconfiguration("no streams to add")) {
            try h.client.endpoint.addStreams(outgoing: 0, incoming: 0, on: id, now: h.now)
        }
        #expect(throws: CoreError.invalidReconfiguration("no direction given")) {
            try h.client.endpoint.resetStreams([1], direction: [], on: id, now: h.now)
        }
        for _ in 0..<8 { try h.client.endpoint.resetStreams([1], direction: [.outgoing, .incoming], on: id, now: h.now) }
        #expect(throws: CoreError.reconfigurationBusy) {
            try h.client.endpoint.resetStreams([2], direction: .outgoing, on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run { Self.resets(h.client).count == 16 })
    }

    @Test("resets racing data on a lossy, reordering network: every message arrives once, in order per stream and reset epoch",
          arguments: 0..<12)
    func resetsUnderLoss(seed: UInt64) throws {
        var conditions = LinkConditions(delay: .milliseconds(10))
        conditions.lossProbability = 0.1
        conditions.reorderProbability = 0.1
        conditions.reorderDelay = .milliseconds(15)
        let h = H(seed: 100 + seed, conditions: conditions)
        let (id, _) = try Self.established(h)
        var random = SeededRandomSource(seed: seed)
        var sent = 0
        var resetsRequested = 0
        for round in 0..<20 {
            for _ in 0..<(1 + random.nextUInt64() % 4) {
                let stream = UInt16(random.nextUInt64() % 4)
                try Self.send(h, h.client, id, stream: stream, index: sent, length: 50 + Int(random.nextUInt64() % 2000))
                sent += 1
            }
            if round % 3 == 0 {
                let stream = UInt16(random.nextUInt64() % 4)
                try h.client.endpoint.resetStreams([stream], direction: .outgoing, on: id, now: h.now)
                resetsRequested += 1
            }
            h.loop.flushTransmits()
            h.run(for: .milliseconds(Int64(random.nextUInt64() % 40))) { false }
        }
        #expect(h.run(for: .seconds(300)) { H.messages(h.server).count == sent && Self.resets(h.client).count == resetsRequested })
        let received = H.messages(h.server)
        #expect(Set(received.map(\.payloadProtocolIdentifier)).count == sent, "no loss, no duplicate")
        for stream: UInt16 in 0..<4 {
            let indices = received.filter { $0.streamIdentifier == stream }.map(\.payloadProtocolIdentifier)
            #expect(indices == indices.sorted(), "stream \(stream) in order")
            for message in received where message.streamIdentifier == stream {
                #expect(message.payload == testPayload(stream: stream, index: Int(message.payloadProtocolIdentifier),
                                                       length: message.payload.readableBytes))
            }
        }
        #expect(Self.resets(h.client).allSatisfy { $0.flags == .outgoing })
        #expect(Self.resets(h.server).count == resetsRequested)
    }
}
