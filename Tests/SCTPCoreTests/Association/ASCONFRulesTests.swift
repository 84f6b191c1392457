import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// RFC 5061 rules at the edges: unrecognised parameters in an ASCONF (§5.2 V2), the cause a
/// refusal names (§4.3), the answers kept for retransmitted ASCONFs (§5.2 E2, E4), answers
/// that must fit the path MTU, ASCONF-ACKs for serial numbers never sent (§5.3 F0, §4.3.4),
/// and bindx calls whose requests do not fit the queue.
@Suite("ASCONF rules (RFC 5061 §5.2, §5.3)")
struct ASCONFRulesTests {
    typealias T = AddressReconfigurationTests
    typealias H = AssociationHarness

    static let c4 = IPAddress.v4(IPv4Address(10, 0, 0, 4))

    /// The Error Cause Indications and Success Indications of an answer, in order.
    enum Answer: Equatable {
        case failed(UInt32, UInt16)
        case succeeded(UInt32)
    }

    static func answers(_ ack: ASCONFAckChunk) -> [Answer] {
        ack.parameters.parameters.compactMap {
            switch $0 {
            case .errorCauseIndication(let p): .failed(p.correlationID, p.causes.first?.code ?? 0)
            case .successIndication(let p): .succeeded(p.correlationID)
            default: nil
            }
        }
    }

    /// An unknown parameter whose value starts with a correlation id.
    static func unknown(_ type: UInt16, correlationID: UInt32, extra: Int = 4) -> Parameter {
        var value = ByteBuffer()
        value.writeInteger(correlationID)
        value.writeRepeatingByte(0xAB, count: extra)
        return .unknown(UnknownParameter(type: type, value: value))
    }

    static func add(_ id: UInt32, _ address: IPAddress) -> Parameter {
        .addIPAddress(AddIPAddressParameter(correlationID: id, address: address))
    }

    /// A packet of ASCONF chunks to the server's association, as the client would send it.
    static func packet(_ h: H, serverID: AssociationID, _ chunks: [ASCONFChunk]) throws -> ByteBuffer {
        let association = try T.association(h.server, serverID)
        return SCTPPacket(header: CommonHeader(sourcePort: H.clientPort, destinationPort: H.serverPort,
                                               verificationTag: association.localTag),
                          chunks: chunks.map { .asconf($0) }).serialized()
    }

    /// An ASCONF-ACK packet to the client's association, as the server would send it.
    static func forgedAck(_ h: H, clientID: AssociationID, serial: UInt32) throws -> ByteBuffer {
        let association = try T.association(h.client, clientID)
        let ack = ASCONFAckChunk(serialNumber: serial, parameters: ParameterList([]))
        return SCTPPacket(header: CommonHeader(sourcePort: H.serverPort, destinationPort: H.clientPort,
                                               verificationTag: association.localTag),
                          chunks: [.asconfAck(ack)]).serialized()
    }

    // MARK: §5.2 V2: unrecognised parameters

    @Test("unrecognised parameters are handled by their top bits: reported with Unrecognized Parameters, skipped or stopped at")
    func unrecognizedParameters() throws {
        let (h, _, serverID) = try T.connectedWithoutAuth(spare: [T.c2, T.c3])
        let log = h.logTraffic()
        let serial = try T.association(h.server, serverID).addressReconfig!.peerSerialNumber &+ 1
        h.server.endpoint.handle(datagram: try T.forgedASCONF(h, serverID: serverID, serial: serial, parameters: [
            Self.add(1, T.c2),
            Self.unknown(0xC123, correlationID: 9),  // 11: skip, report
            Self.add(2, T.c3),
            Self.unknown(0x8124, correlationID: 10),  // 10: skip, no report
            Self.unknown(0x4125, correlationID: 11),  // 01: stop, report
            Self.add(3, Self.c4),  // never performed
        ]), from: T.c1, to: T.s1, now: h.now)
        h.loop.flushTransmits()
        let ack = try #require(T.acks(log.server).last)
        let code = UnrecognizedParametersCause.causeCode
        #expect(Self.answers(ack) == [.failed(9, code), .succeeded(2), .failed(11, code)])
        // The cause carries the unrecognised parameter, header included.
        guard case .errorCauseIndication(let report) = ack.parameters.parameters.first,
              case .unrecognizedParameters(let cause) = report.causes.first else {
            Issue.record("no Unrecognized Parameters cause: \(ack.parameters.parameters)")
            return
        }
        var expected = ByteBuffer()
        Self.unknown(0xC123, correlationID: 9).write(to: &expected)
        #expect(cause.bytes == expected)
        #expect(T.peerAddresses(h.server, serverID) == [T.c1, T.c2, T.c3])

        // 00: stop, no report; what follows is not performed.
        h.server.endpoint.handle(datagram: try T.forgedASCONF(h, serverID: serverID, serial: serial &+ 1, parameters: [
            Self.unknown(0x0126, correlationID: 12),
            Self.add(4, Self.c4),
        ]), from: T.c1, to: T.s1, now: h.now)
        h.loop.flushTransmits()
        #expect(T.acks(log.server).last.map(Self.answers) == [])
        #expect(T.peerAddresses(h.server, serverID) == [T.c1, T.c2, T.c3])
    }

    // MARK: §4.3: the cause of a refusal

    @Test("an Add of one of our addresses is refused with Request Refused - No Authorization; of a multicast one with Unresolvable Address")
    func refusalCauses() throws {
        let (h, _, serverID) = try T.connectedWithoutAuth()
        let log = h.logTraffic()
        let serial = try T.association(h.server, serverID).addressReconfig!.peerSerialNumber &+ 1
        h.server.endpoint.handle(datagram: try T.forgedASCONF(h, serverID: serverID, serial: serial, parameters: [
            Self.add(1, T.s1),
            Self.add(2, .v4(IPv4Address(224, 0, 0, 9))),
            Self.add(3, .v6(IPv6Address(high: 0x2001_0db8_0000_0000, low: 1))),
        ]), from: T.c1, to: T.s1, now: h.now)
        h.loop.flushTransmits()
        let ack = try #require(T.acks(log.server).last)
        #expect(Self.answers(ack) == [.failed(1, NoAuthorizationCause.causeCode), .failed(2, UnresolvableAddressCause.causeCode),
                                      .failed(3, UnresolvableAddressCause.causeCode)])
        // The cause carries the refused request.
        guard case .errorCauseIndication(let refusal) = ack.parameters.parameters.first,
              case .noAuthorization(let cause) = refusal.causes.first else {
            Issue.record("no No Authorization cause")
            return
        }
        var expected = ByteBuffer()
        Self.add(1, T.s1).write(to: &expected)
        #expect(cause.bytes == expected)
        #expect(T.peerAddresses(h.server, serverID) == [T.c1])
    }

    // MARK: §5.2 E2, E4: cached answers

    @Test("a retransmitted packet of several ASCONFs draws every cached answer again; at most maxCachedAnswers are kept")
    func cachedAnswers() throws {
        let (h, _, serverID) = try T.connectedWithoutAuth(spare: [T.c2, T.c3])
        let log = h.logTraffic()
        let association = try T.association(h.server, serverID)
        let first = association.addressReconfig!.peerSerialNumber &+ 1
        let bundle = try Self.packet(h, serverID: serverID, [
            ASCONFChunk(serialNumber: first, address: T.c1, parameters: ParameterList([Self.add(1, T.c2)])),
            ASCONFChunk(serialNumber: first &+ 1, address: T.c1, parameters: ParameterList([Self.add(2, T.c3)])),
        ])
        h.server.endpoint.handle(datagram: bundle, from: T.c1, to: T.s1, now: h.now)
        h.loop.flushTransmits()
        let answered = T.acks(log.server)
        #expect(answered.map(\.serialNumber) == [first, first &+ 1])
        // Both answers lost: the peer sends the packet again; both are answered from the cache.
        h.server.endpoint.handle(datagram: bundle, from: T.c1, to: T.s1, now: h.now)
        h.loop.flushTransmits()
        #expect(Array(T.acks(log.server).dropFirst(2)) == answered)
        h.server.drainEvents(now: h.now)
        #expect(T.changes(h.server).count == 2, "performed once")

        // Many more ASCONFs: only the latest answers stay.
        let kept = AddressReconfigurationState.maxCachedAnswers
        let later = (0..<UInt32(kept)).map { first &+ 2 &+ $0 }
        for serial in later {
            h.server.endpoint.handle(datagram: try T.forgedASCONF(h, serverID: serverID, serial: serial, parameters: []),
                                     from: T.c1, to: T.s1, now: h.now)
        }
        #expect(association.addressReconfig!.cachedAnswers.count == kept)
        h.loop.flushTransmits()
        let before = T.acks(log.server).count
        h.server.endpoint.handle(datagram: bundle, from: T.c1, to: T.s1, now: h.now)  // no longer kept
        h.server.endpoint.handle(datagram: try T.forgedASCONF(h, serverID: serverID, serial: later[0], parameters: []),
                                 from: T.c1, to: T.s1, now: h.now)
        h.loop.flushTransmits()
        #expect(T.acks(log.server).dropFirst(before).map(\.serialNumber) == [later[0]])
    }

    // MARK: Answers within the path MTU

    @Test("an ASCONF-ACK never exceeds the path MTU: requests beyond what fits are refused for resource shortage, the rest fail unanswered")
    func answerFitsMTU() throws {
        let (h, _, serverID) = try T.connectedWithoutAuth(spare: [T.c2])
        let log = h.logTraffic()
        let association = try T.association(h.server, serverID)
        let mtu = association.paths[0].mtu
        let serial = association.addressReconfig!.peerSerialNumber &+ 1
        // 32 IPv6 adds: the server has no IPv6 address, every one fails with a 40-byte answer
        // (1,280 bytes in all); then an IPv4 add that would succeed.
        let refused = (1...32).map { Self.add(UInt32($0), .v6(IPv6Address(high: 0x2001_0db8_0000_0000, low: UInt64($0)))) }
        h.server.endpoint.handle(datagram: try T.forgedASCONF(h, serverID: serverID, serial: serial,
                                                              parameters: refused + [Self.add(33, T.c2)]),
                                 from: T.c1, to: T.s1, now: h.now)
        h.loop.flushTransmits()
        let packet = try #require(log.server.sent.last(where: { $0.chunks.contains { $0.type == ChunkType.asconfAck } }))
        #expect(packet.size <= mtu, "an ASCONF-ACK of \(packet.size) bytes on a path of MTU \(mtu)")
        let ack = try #require(T.acks(log.server).last)
        let answers = Self.answers(ack)
        // Unresolvable Address as far as room allows, then one refusal; nothing after it.
        let last = try #require(answers.last)
        guard case .failed(let refusedID, ResourceShortageCause.causeCode) = last else {
            Issue.record("the last answer is not a resource shortage refusal: \(last)")
            return
        }
        #expect(answers.dropLast().allSatisfy { if case .failed(_, UnresolvableAddressCause.causeCode) = $0 { true } else { false } })
        #expect(answers.map { if case .failed(let id, _) = $0 { id } else { 0 } } == Array(1...refusedID))
        #expect(refusedID < 32)
        // The add after them was not performed (it counts as failed, §5.3).
        #expect(T.peerAddresses(h.server, serverID) == [T.c1])

        // An unrecognised parameter whose report would not fit is not reported; the request
        // after it is performed.
        h.server.endpoint.handle(datagram: try T.forgedASCONF(h, serverID: serverID, serial: serial &+ 1, parameters: [
            Self.unknown(0xC0FF, correlationID: 40, extra: mtu),
            Self.add(41, T.c2),
        ]), from: T.c1, to: T.s1, now: h.now)
        h.loop.flushTransmits()
        let second = try #require(log.server.sent.last(where: { $0.chunks.contains { $0.type == ChunkType.asconfAck } }))
        #expect(second.size <= mtu)
        #expect(T.acks(log.server).last.map(Self.answers) == [])
        #expect(T.peerAddresses(h.server, serverID) == [T.c1, T.c2])
    }

    // MARK: §5.3 F0: ASCONF-ACK for a serial number never sent

    @Test("an ASCONF-ACK for a serial number not sent yet aborts with Illegal ASCONF-ACK; one for an earlier serial is discarded")
    func illegalASCONFAck() throws {
        let (h, id, _) = try T.connectedWithoutAuth(spare: [T.c2])
        let log = h.logTraffic()
        let association = try T.association(h.client, id)
        // One exchange, so that there is an earlier serial number.
        try h.client.endpoint.addLocalAddresses([T.c2], now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(5)) { association.addressReconfig?.isIdle == true })
        let next = association.addressReconfig!.nextSerialNumber
        // Earlier: discarded.
        h.client.endpoint.handle(datagram: try Self.forgedAck(h, clientID: id, serial: next &- 1), from: T.s1, to: T.c1, now: h.now)
        h.client.endpoint.handle(datagram: try Self.forgedAck(h, clientID: id, serial: next &- 1000), from: T.s1, to: T.c1, now: h.now)
        h.loop.flushTransmits()
        #expect(h.client.endpoint.state(of: id) == .established)
        #expect(log.client.count(ChunkType.abort) == 0)
        // The next serial number, none outstanding (F0): ABORT.
        h.client.endpoint.handle(datagram: try Self.forgedAck(h, clientID: id, serial: next), from: T.s1, to: T.c1, now: h.now)
        h.loop.flushTransmits()
        let abort = try #require(log.client.sent.lazy.flatMap(\.chunks).compactMap { if case .abort(let a) = $0 { a } else { nil } }.first)
        #expect(abort.causes == [.illegalASCONFAck(IllegalASCONFAckCause())])
        h.client.drainEvents(now: h.now)
        guard case .protocolViolation? = H.lost(h.client) else {
            Issue.record("the association was not lost to a protocol violation: \(String(describing: H.lost(h.client)))")
            return
        }
    }

    @Test("with an ASCONF outstanding, an ASCONF-ACK for a later serial number aborts too (§4.3.4)")
    func illegalASCONFAckWhileOutstanding() throws {
        let (h, id, _) = try T.connectedWithoutAuth(spare: [T.c2])
        let association = try T.association(h.client, id)
        let filter = PacketFilterParticipant(h.client, rules: [(ChunkType.asconf, .drop)])
        h.loop.participants = [filter, h.server]
        try h.client.endpoint.addLocalAddresses([T.c2], now: h.now)
        h.loop.flushTransmits()
        let outstanding = try #require(association.addressReconfig?.inFlight?.serialNumber)
        h.client.endpoint.handle(datagram: try Self.forgedAck(h, clientID: id, serial: outstanding &+ 5), from: T.s1, to: T.c1, now: h.now)
        h.client.drainEvents(now: h.now)
        guard case .protocolViolation? = H.lost(h.client) else {
            Issue.record("not lost to a protocol violation: \(String(describing: H.lost(h.client)))")
            return
        }
    }

    // MARK: requests the peer does not understand

    /// A packet from the server to the client's association with `chunks`.
    static func toClient(_ h: H, clientID: AssociationID, _ chunks: [Chunk]) throws -> ByteBuffer {
        let association = try T.association(h.client, clientID)
        return SCTPPacket(header: CommonHeader(sourcePort: H.serverPort, destinationPort: H.clientPort,
                                               verificationTag: association.localTag), chunks: chunks).serialized()
    }

    @Test("§5.3: a Set Primary Address answered with Unrecognized Parameters fails and is never asked again (EOPNOTSUPP); Add IP Address still works")
    func unrecognizedRequestType() throws {
        let (h, id, _) = try T.connectedWithoutAuth(spare: [T.c2])
        let association = try T.association(h.client, id)
        let filter = PacketFilterParticipant(h.client, rules: [(ChunkType.asconf, .drop)])
        h.loop.participants = [filter, h.server]
        try h.client.endpoint.requestPeerPrimaryAddress(T.c1, on: id, now: h.now)
        h.loop.flushTransmits()
        let inFlight = try #require(association.addressReconfig?.inFlight)
        let correlationID = try #require(inFlight.requests.first?.correlationID)
        var value = ByteBuffer()
        value.writeInteger(correlationID)
        value.writeRepeatingByte(0, count: 8)
        let refusal = ErrorCauseIndicationParameter(correlationID: correlationID, causes: [
            .unrecognizedParameters(UnrecognizedParametersCause(parameters: [UnknownParameter(type: SetPrimaryAddressParameter.parameterType, value: value)])),
        ])
        let ack = ASCONFAckChunk(serialNumber: inFlight.serialNumber, parameters: ParameterList([.errorCauseIndication(refusal)]))
        h.client.endpoint.handle(datagram: try Self.toClient(h, clientID: id, [.asconfAck(ack)]), from: T.s1, to: T.c1, now: h.now)
        h.loop.flushTransmits()
        #expect(h.client.endpoint.state(of: id) == .established)
        #expect(h.client.endpoint.addressChangeOutcomes(of: id).last?.failure?.code == UnrecognizedParametersCause.causeCode)
        #expect(association.addressReconfig?.unrecognizedRequestTypes == [SetPrimaryAddressParameter.parameterType])
        #expect(throws: CoreError.addressReconfigurationNotSupported) {
            try h.client.endpoint.requestPeerPrimaryAddress(T.c1, on: id, now: h.now)
        }
        // Other request types are still sent (the server never saw the dropped ASCONF, so
        // this one is only checked on its way out).
        try h.client.endpoint.addLocalAddresses([T.c2], now: h.now)
        h.loop.flushTransmits()
        #expect(association.addressReconfig?.inFlight?.requests.map(\.request) == [.add(T.c2)])
    }

    @Test("§5.1 A9: an ERROR reporting the ASCONF chunk type unrecognized stops T-4 and every later ASCONF; the unanswered request fails")
    func asconfChunkUnrecognized() throws {
        let (h, id, _) = try T.connectedWithoutAuth(spare: [T.c2])
        let log = h.logTraffic()
        let association = try T.association(h.client, id)
        let filter = PacketFilterParticipant(h.client, rules: [(ChunkType.asconf, .drop)])
        h.loop.participants = [filter, h.server]
        try h.client.endpoint.addLocalAddresses([T.c2], now: h.now)
        h.loop.flushTransmits()
        #expect(association.timers[.addressReconfiguration] != nil)
        let reported = UnknownChunk(type: ChunkType.asconf, flags: 0, value: ByteBuffer(repeating: 0, count: 8))
        let error = ErrorChunk(causes: [.unrecognizedChunkType(UnrecognizedChunkTypeCause(chunk: reported))])
        h.client.endpoint.handle(datagram: try Self.toClient(h, clientID: id, [.error(error)]), from: T.s1, to: T.c1, now: h.now)
        h.loop.flushTransmits()
        #expect(association.addressReconfig == nil && association.timers[.addressReconfiguration] == nil)
        #expect(h.client.endpoint.addressChangeOutcomes(of: id).last?.failure?.code == UnrecognizedChunkTypeCause.causeCode)
        #expect(throws: CoreError.addressReconfigurationNotSupported) {
            try h.client.endpoint.requestAddressChange(adding: T.c2, on: id, now: h.now)
        }
        // No ASCONF again, however long: T-4 is gone (its RTO would have fired many times).
        let sent = log.client.count(ChunkType.asconf)
        h.loop.participants = [h.client, h.server]
        _ = h.run(for: .seconds(30)) { false }
        #expect(log.client.count(ChunkType.asconf) == sent)
        #expect(h.client.endpoint.state(of: id) == .established)
    }

    // MARK: bindx beyond the queue

    @Test("a bindx whose requests do not fit an association's queue changes nothing and throws; none is dropped")
    func bindxBeyondQueue() throws {
        let (h, id, _) = try T.connected()
        let association = try T.association(h.client, id)
        let limit = AddressReconfigurationState.maxPendingRequests
        // Without a poll nothing goes out: the requests wait in the queue.
        for _ in 0..<(limit - 2) { try h.client.endpoint.requestPeerPrimaryAddress(T.c1, on: id, now: h.now) }
        #expect(association.addressReconfig?.pending.count == limit - 2)
        let extra = (20...22).map { IPAddress.v4(IPv4Address(10, 0, 0, UInt8($0))) }
        #expect(throws: CoreError.addressReconfigurationBusy) {
            try h.client.endpoint.addLocalAddresses(extra, now: h.now)
        }
        #expect(h.client.endpoint.localAddresses == [T.c1])
        #expect(association.addressReconfig?.pending.count == limit - 2)
        // Two fit.
        try h.client.endpoint.addLocalAddresses(Array(extra.prefix(2)), now: h.now)
        #expect(h.client.endpoint.localAddresses == [T.c1] + extra.prefix(2))
        #expect(association.addressReconfig?.pending.count == limit)
        // A remove now: refused as a whole, the address stays.
        #expect(throws: CoreError.addressReconfigurationBusy) {
            try h.client.endpoint.removeLocalAddresses([extra[0]], now: h.now)
        }
        #expect(h.client.endpoint.localAddresses == [T.c1] + extra.prefix(2))
        #expect(association.withdrawnSourceAddresses.isEmpty)
        // More than the queue ever holds: EINVAL, whatever waits.
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(10)) { association.addressReconfig?.isIdle == true })
        let many = (30..<(30 + limit + 1)).map { IPAddress.v4(IPv4Address(10, 0, 0, UInt8($0))) }
        do {
            try h.client.endpoint.addLocalAddresses(many, now: h.now)
            Issue.record("\(many.count) addresses at once were taken")
        } catch {
            guard case .invalidAddressChange = error else {
                Issue.record("unexpected error \(error)")
                return
            }
        }
        #expect(!h.client.endpoint.localAddresses.contains(many[0]))
    }
}
