import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// User message interleaving (RFC 8260 §2) between two of our endpoints on the simulated
/// network: negotiation and fallback (§2.2.1), I-DATA on the wire (§2.1), a large message
/// that does not hold back a small one of another stream, partial delivery of several
/// streams at once, DATA / I-DATA violations (§2.1), and I-FORWARD-TSN (§2.3).
@Suite("RFC 8260 §2: I-DATA and I-FORWARD-TSN")
struct InterleavingTests {
    typealias H = AssociationHarness

    static func configuration(interleaving: Bool, receiveBuffer: Int? = nil) -> SCTPConfiguration {
        var configuration = SCTPConfiguration()
        configuration.interleaving = interleaving
        if let receiveBuffer { configuration.receiveBufferSize = receiveBuffer }
        return configuration
    }

    static func harness(seed: UInt64, client: Bool = true, server: Bool = true,
                        conditions: LinkConditions = LinkConditions(delay: .milliseconds(5)),
                        serverReceiveBuffer: Int? = nil) -> H {
        H(seed: seed, conditions: conditions,
          clientConfiguration: configuration(interleaving: client),
          serverConfiguration: configuration(interleaving: server, receiveBuffer: serverReceiveBuffer))
    }

    /// The chunk types of every packet a side sent.
    static func types(_ p: RoutedParticipant) -> [UInt8] { p.sent.flatMap { $0.chunks.map(\.type) } }

    func exchange(_ h: H, _ id: AssociationID, messages: Int = 20) throws -> (client: RoutedParticipant, server: RoutedParticipant) {
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let logged = h.logTraffic()
        let serverID = H.upEvents(h.server)[0]
        for index in 0..<messages {
            let stream = UInt16(index % 4)
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: stream, isUnordered: index % 3 == 0,
                                                       payload: testPayload(stream: stream, index: index, length: 10 + index * 397)),
                                       on: id, now: h.now)
            try h.server.endpoint.send(OutgoingMessage(streamIdentifier: stream,
                                                       payload: testPayload(stream: stream, index: index, length: 3000)),
                                       on: serverID, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == messages && H.messages(h.client).count == messages })
        // Content and per-stream order of the ordered messages.
        let received = H.messages(h.server)
        for index in 0..<messages {
            let stream = UInt16(index % 4)
            #expect(received.contains { $0.payload == testPayload(stream: stream, index: index, length: 10 + index * 397) && $0.streamIdentifier == stream })
        }
        for stream in UInt16(0)..<4 {
            let order = received.filter { $0.streamIdentifier == stream && !$0.isUnordered }.map { $0.payload.getInteger(at: 2, as: UInt32.self)! }
            #expect(order == order.sorted())
        }
        return logged
    }

    // MARK: §2.2.1 negotiation

    @Test("§2.2.1: both sides list I-DATA: every user message goes as I-DATA both ways, never DATA")
    func negotiated() throws {
        let h = Self.harness(seed: 801)
        let id = try h.connect()
        let (client, server) = try exchange(h, id)
        #expect(Self.types(client).contains(IDataChunk.chunkType))
        #expect(Self.types(server).contains(IDataChunk.chunkType))
        #expect(!Self.types(client).contains(DataChunk.chunkType))
        #expect(!Self.types(server).contains(DataChunk.chunkType))
    }

    @Test("§2.2.1: only one side lists I-DATA (either one): the association falls back to DATA", arguments: [(true, false), (false, true)])
    func fallback(client: Bool, server: Bool) throws {
        let h = Self.harness(seed: 802, client: client, server: server)
        let id = try h.connect()
        let (loggedClient, loggedServer) = try exchange(h, id)
        #expect(!Self.types(loggedClient).contains(IDataChunk.chunkType))
        #expect(!Self.types(loggedServer).contains(IDataChunk.chunkType))
        #expect(Self.types(loggedClient).contains(DataChunk.chunkType))
    }

    @Test("§2.2.1: our INIT lists I-DATA (and I-FORWARD-TSN with PR-SCTP) only when interleaving is on")
    func initListsExtensions() throws {
        for (interleaving, partialReliability) in [(true, true), (true, false), (false, true)] {
            var configuration = Self.configuration(interleaving: interleaving)
            configuration.partialReliability = partialReliability
            let h = H(seed: 803, clientConfiguration: configuration)
            let (client, _) = h.logTraffic()
            _ = try h.connect()
            #expect(h.run { !H.upEvents(h.client).isEmpty })
            let initChunk = client.sent.lazy.compactMap { $0.chunks.first }.compactMap { if case .initiation(let c) = $0 { c } else { nil } }.first
            let types: [UInt8] = initChunk?.parameters.parameters.lazy.compactMap { if case .supportedExtensions(let p) = $0 { p.chunkTypes } else { nil } }.first ?? []
            #expect(types.contains(IDataChunk.chunkType) == interleaving)
            #expect(types.contains(IForwardTSNChunk.chunkType) == (interleaving && partialReliability))
        }
    }

    // MARK: §2.1 interleaving

    /// The client queues a 1 MiB message on stream 1, then a small one on stream 2; returns
    /// how many DATA/I-DATA packets the client sent before the small message's chunk, and
    /// when the small and the large message arrived.
    func largeThenSmall(interleaving: Bool, conditions: LinkConditions, seed: UInt64) throws
        -> (packetsBefore: Int, small: SCTPInstant, large: SCTPInstant) {
        let h = Self.harness(seed: seed, client: interleaving, server: interleaving, conditions: conditions)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let (client, _) = h.logTraffic()
        let large = testPayload(stream: 1, index: 0, length: 1 << 20)
        let small = testPayload(stream: 2, index: 1, length: 100)
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 1, payload: large), on: id, now: h.now)
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 2, payload: small), on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(300)) { H.messages(h.server).filter(\.isComplete).count == 2 })
        let arrivals = h.server.events.compactMap { event -> (SCTPInstant, ReceivedMessage)? in
            if case .message(_, let m) = event.event, m.isComplete { (event.time, m) } else { nil }
        }
        let smallArrival = arrivals.first { $0.1.streamIdentifier == 2 }
        let largeArrival = arrivals.first { $0.1.streamIdentifier == 1 }
        #expect(smallArrival?.1.payload == small)
        // The large message may come in pieces (partial delivery): check the joined bytes.
        var joined = ByteBuffer()
        for case .message(_, let m) in h.server.events.map(\.event) where m.streamIdentifier == 1 { joined.writeImmutableBuffer(m.payload) }
        #expect(joined == large)
        var before = 0
        for packet in client.sent {
            let data = packet.chunks.filter { $0.type == DataChunk.chunkType || $0.type == IDataChunk.chunkType }
            let carriesSmall = packet.chunks.contains {
                switch $0 {
                case .iData(let c): c.streamIdentifier == 2
                case .data(let c): c.streamIdentifier == 2
                default: false
                }
            }
            if carriesSmall { break }
            if !data.isEmpty { before += 1 }
        }
        return (before, smallArrival?.0 ?? .zero, largeArrival?.0 ?? .zero)
    }

    @Test("§2.1: a 1 MiB message on stream 1 queued first delays a small message on stream 2 by at most a few packets (DATA: the whole megabyte)")
    func largeMessageDoesNotDelaySmallOne() throws {
        let clean = LinkConditions(delay: .milliseconds(5))
        let idata = try largeThenSmall(interleaving: true, conditions: clean, seed: 810)
        #expect(idata.packetsBefore <= 2)
        #expect(idata.small < idata.large)
        #expect(idata.large - idata.small > .milliseconds(100))
        let data = try largeThenSmall(interleaving: false, conditions: clean, seed: 810)
        #expect(data.packetsBefore > 800)  // 1 MiB in 1200-byte packets
        #expect(data.small >= data.large)
    }

    @Test("§2.1: the same under loss, duplication and reordering: the small message still leaves within a few packets and arrives long before the large one",
          arguments: [811, 812, 813] as [UInt64])
    func largeMessageUnderLoss(seed: UInt64) throws {
        let lossy = LinkConditions(delay: .milliseconds(5), jitter: .milliseconds(2), lossProbability: 0.03,
                                   duplicationProbability: 0.01, reorderProbability: 0.02, reorderDelay: .milliseconds(8))
        let idata = try largeThenSmall(interleaving: true, conditions: lossy, seed: seed)
        #expect(idata.packetsBefore <= 3)
        #expect(idata.small < idata.large)
    }

    @Test("partial delivery: two large messages on two streams interleave and are handed out in pieces on both streams at once")
    func partialDeliveryOnTwoStreams() throws {
        let h = Self.harness(seed: 820, serverReceiveBuffer: 128 * 1024)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        // The application reads what arrives at once.
        h.server.onEvent = { event, now, endpoint in
            if case .message(let id, let m) = event { endpoint.consumed(bytes: m.payload.readableBytes, on: id, now: now) }
        }
        let a = testPayload(stream: 1, index: 0, length: 400_000)
        let b = testPayload(stream: 2, index: 1, length: 300_000)
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 1, payload: a), on: id, now: h.now)
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 2, payload: b), on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(120)) { H.messages(h.server).filter(\.isComplete).count == 2 })
        let pieces = H.messages(h.server)
        #expect(pieces.count > 2)
        var joined: [UInt16: ByteBuffer] = [:]
        for piece in pieces { joined[piece.streamIdentifier, default: ByteBuffer()].writeImmutableBuffer(piece.payload) }
        #expect(joined[1] == a)
        #expect(joined[2] == b)
        // Pieces of the two streams alternate: both were in partial delivery at the same time.
        let firstEnd = pieces.firstIndex(where: \.isComplete)!
        #expect(Set(pieces[..<firstEnd].map(\.streamIdentifier)) == [1, 2])
    }

    // MARK: §2.1 violations

    @Test("§2.1: DATA on an association that negotiated I-DATA, or I-DATA on one that did not: ABORT with Protocol Violation",
          arguments: [true, false])
    func wrongDataKindAborts(interleaving: Bool) throws {
        let h = Self.harness(seed: 830, client: interleaving, server: interleaving)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let rewriter = ChunkRewritingParticipant(h.client)
        h.loop.participants = [rewriter, h.server]
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(string: "hello")), on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { H.lost(h.server) != nil && H.lost(h.client) != nil })
        #expect(rewriter.rewritten == 1)
        if case .protocolViolation = H.lost(h.server) {} else { Issue.record("server lost the association for \(String(describing: H.lost(h.server)))") }
        if case .peerAborted(let causes) = H.lost(h.client) {
            #expect(causes.contains { if case .protocolViolation = $0 { true } else { false } })
        } else {
            Issue.record("client lost the association for \(String(describing: H.lost(h.client)))")
        }
        #expect(H.messages(h.server).isEmpty)
    }

    // MARK: §2.3 I-FORWARD-TSN

    @Test("§2.3: messages given up (retransmission limit 0) are skipped with I-FORWARD-TSN, never FORWARD TSN; the others arrive in MID order")
    func iForwardTSN() throws {
        let h = Self.harness(seed: 840)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        let (client, _) = h.logTraffic()
        let c = h.client.addresses[0], s = h.server.addresses[0]
        h.loop.network.setLinksUp(false, between: c, and: s, at: h.now)
        let partial: Set<Int> = [1, 3, 4]
        for index in 0..<6 {
            var payload = ByteBuffer(repeating: 0, count: index == 3 ? 5000 : 100)
            payload.setInteger(UInt8(index), at: 0)
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: UInt16(index % 2), isUnordered: index == 4,
                                                       partialReliability: partial.contains(index) ? .maxRetransmissions(0) : .reliable,
                                                       payload: payload), on: id, now: h.now)
        }
        h.loop.flushTransmits()
        h.loop.network.setLinksUp(true, between: c, and: s, at: h.now + .milliseconds(1500))
        #expect(h.run { H.messages(h.server).count == 3 })
        #expect(H.messages(h.server).map { $0.payload.getInteger(at: 0, as: UInt8.self)! }.sorted() == [0, 2, 5])
        let failed = h.client.events.compactMap { if case .sendFailed(_, let f) = $0.event { f.payload.getInteger(at: f.payload.readerIndex, as: UInt8.self) } else { nil } }
        #expect(failed.sorted() == [1, 3, 4])
        #expect(client.count(IForwardTSNChunk.chunkType) >= 1)
        #expect(client.count(ForwardTSNChunk.chunkType) == 0)
        // Both streams go on: later messages arrive.
        for index in 6..<10 {
            var payload = ByteBuffer(repeating: 0, count: 100)
            payload.setInteger(UInt8(index), at: 0)
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: UInt16(index % 2), payload: payload), on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == 7 })
        #expect(h.run { h.client.endpoint.status(of: id)?.unacknowledgedChunks == 0 })
    }
}

/// Rewrites the first DATA chunk the client sends into an I-DATA chunk, or the first
/// I-DATA chunk into a DATA chunk: the kind the association did not negotiate.
final class ChunkRewritingParticipant: ForwardingParticipant {
    let inner: EndpointParticipant
    private(set) var rewritten = 0

    init(_ inner: EndpointParticipant) { self.inner = inner }

    func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? {
        guard var outgoing = inner.pollTransmit(now: now) else { return nil }
        guard rewritten == 0, var packet = try? SCTPPacket(parsing: outgoing.datagram, checksum: .skipped) else { return outgoing }
        for (index, chunk) in packet.chunks.enumerated() {
            switch chunk {
            case .data(let c):
                packet.chunks[index] = .iData(IDataChunk(flags: c.dataFlags, tsn: c.tsn, streamIdentifier: c.streamIdentifier,
                                                         mid: MID(0), ppidOrFSN: c.payloadProtocolIdentifier, payload: c.payload))
            case .iData(let c):
                packet.chunks[index] = .data(DataChunk(flags: c.dataFlags, tsn: c.tsn, streamIdentifier: c.streamIdentifier,
                                                       ssn: SSN(0), payloadProtocolIdentifier: c.ppidOrFSN, payload: c.payload))
            default:
                continue
            }
            rewritten += 1
            outgoing.datagram = packet.serialized()
            return outgoing
        }
        return outgoing
    }
}
