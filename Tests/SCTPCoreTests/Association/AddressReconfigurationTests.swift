import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Dynamic address reconfiguration (RFC 5061, ASCONF / ASCONF-ACK) between two endpoints on
/// virtual time, with AUTH (RFC 4895) in use as RFC 5061 requires: ASCONF and ASCONF-ACK travel
/// authenticated. `configuration(unauthenticated: true)` is the testing mode without AUTH
/// (`acceptsUnauthenticatedAddressChanges`, usrsctp's `asconf_auth_nochk`).
@Suite("address reconfiguration (RFC 5061)")
struct AddressReconfigurationTests {
    typealias H = AssociationHarness

    static let c1 = IPAddress.v4(IPv4Address(10, 0, 0, 1))
    static let c2 = IPAddress.v4(IPv4Address(10, 0, 0, 2))
    static let c3 = IPAddress.v4(IPv4Address(10, 0, 0, 3))
    static let s1 = IPAddress.v4(IPv4Address(10, 0, 1, 1))
    static let s2 = IPAddress.v4(IPv4Address(10, 0, 1, 2))
    static let stranger = IPAddress.v4(IPv4Address(10, 9, 9, 9))
    let c1 = Self.c1, c2 = Self.c2, c3 = Self.c3, s1 = Self.s1, s2 = Self.s2

    static func configuration(unauthenticated: Bool = false, maxPeerAddresses: Int = 16) -> SCTPConfiguration {
        var configuration = SCTPConfiguration()
        configuration.addressReconfiguration = true
        configuration.acceptsUnauthenticatedAddressChanges = unauthenticated
        if unauthenticated { configuration.authentication.enabled = false }
        configuration.maxPeerAddresses = maxPeerAddresses
        configuration.rtoInitial = .milliseconds(200)
        configuration.rtoMin = .milliseconds(200)
        configuration.rtoMax = .seconds(2)
        return configuration
    }

    /// A connected pair: the client has `clientAddresses`, the network also links the
    /// addresses in `spare` (the client adds them later) to every server address.
    static func connected(seed: UInt64 = 1, clientAddresses: [IPAddress] = [c1], serverAddresses: [IPAddress] = [s1],
                          spare: [IPAddress] = [c2, c3], client: SCTPConfiguration = configuration(),
                          server: SCTPConfiguration = configuration()) throws -> (H, AssociationID, AssociationID) {
        let h = H(seed: seed, clientAddresses: clientAddresses, serverAddresses: serverAddresses,
                  clientConfiguration: client, serverConfiguration: server)
        for address in spare {
            for peer in serverAddresses {
                h.loop.network.addSymmetricLink(between: address, and: peer, conditions: LinkConditions(delay: .milliseconds(5)))
            }
        }
        let id = try h.connect()
        #expect(h.run(for: .seconds(5)) { !H.upEvents(h.server).isEmpty && !H.upEvents(h.client).isEmpty })
        let serverID = try #require(H.upEvents(h.server).first)
        return (h, id, serverID)
    }

    /// `connected` in the testing mode without AUTH on both sides: for tests that forge ASCONF
    /// chunks (a forged chunk carries no AUTH).
    static func connectedWithoutAuth(clientAddresses: [IPAddress] = [c1], serverAddresses: [IPAddress] = [s1],
                                     spare: [IPAddress] = [c2, c3]) throws -> (H, AssociationID, AssociationID) {
        try connected(clientAddresses: clientAddresses, serverAddresses: serverAddresses, spare: spare,
                      client: configuration(unauthenticated: true), server: configuration(unauthenticated: true))
    }

    static func changes(_ p: EndpointParticipant) -> [(IPAddress, PeerAddressReconfiguration)] {
        p.events.compactMap {
            if case .peerAddressReconfigured(_, let address, let change) = $0.event { (address, change) } else { nil }
        }
    }

    static func association(_ p: EndpointParticipant, _ id: AssociationID) throws -> Association {
        try #require(p.endpoint.associations[id])
    }

    static func peerAddresses(_ p: EndpointParticipant, _ id: AssociationID) -> [IPAddress] {
        p.endpoint.peerAddresses(of: id).map(\.address)
    }

    /// Sends `count` messages client → server and runs until all arrived.
    static func transfer(_ h: H, _ id: AssociationID, from first: Int = 0, count: Int, length: Int = 300) throws {
        for index in first..<(first + count) {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: index, length: length)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(60)) { H.messages(h.server).count >= first + count })
    }

    /// An ASCONF packet to the server's association, as the client would send it.
    static func forgedASCONF(_ h: H, serverID: AssociationID, serial: UInt32, parameters: [Parameter],
                             lookup: IPAddress = c1) throws -> ByteBuffer {
        let association = try Self.association(h.server, serverID)
        let chunk = ASCONFChunk(serialNumber: serial, address: lookup, parameters: ParameterList(parameters))
        return SCTPPacket(header: CommonHeader(sourcePort: H.clientPort, destinationPort: H.serverPort,
                                               verificationTag: association.localTag),
                          chunks: [.asconf(chunk)]).serialized()
    }

    /// The ASCONF-ACKs the server sent since `log` started.
    static func acks(_ log: RoutedParticipant) -> [ASCONFAckChunk] {
        log.sent.flatMap { $0.chunks.compactMap { if case .asconfAck(let ack) = $0 { ack } else { nil } } }
    }

    // MARK: Negotiation

    @Test("ASCONF is negotiated only when both sides announce it; off by default")
    func negotiation() throws {
        let (h, id, serverID) = try Self.connected()
        #expect(h.client.endpoint.supportsAddressReconfiguration(id))
        #expect(h.server.endpoint.supportsAddressReconfiguration(serverID))
        #expect(SCTPConfiguration().addressReconfiguration == false)
        #expect(SCTPConfiguration().acceptsUnauthenticatedAddressChanges == false)
        let (h2, id2, _) = try Self.connected(server: SCTPConfiguration())
        #expect(!h2.client.endpoint.supportsAddressReconfiguration(id2))
        #expect(throws: CoreError.addressReconfigurationNotSupported) {
            try h2.client.endpoint.requestPeerPrimaryAddress(Self.c1, on: id2, now: h2.now)
        }
    }

    @Test("with only ASCONF signed (as usrsctp asks), no association key is computed until the first ASCONF; then it signs and verifies")
    func associationKeyOnFirstASCONF() throws {
        let (h, id, serverID) = try Self.connected()
        let client = try Self.association(h.client, id)
        let server = try Self.association(h.server, serverID)
        try Self.transfer(h, id, count: 5)
        for association in [client, server] {
            #expect(association.peerRequiresAuthentication(ChunkType.asconf))
            #expect(!association.peerRequiresAuthentication(ChunkType.data))
            #expect(association.authenticationSummary.senderMAC == nil, "no MAC while nothing is signed")
            #expect(association.authenticationSummary.verifier == nil)
        }
        try h.client.endpoint.addLocalAddresses([c2], now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(5)) { Self.peerAddresses(h.server, serverID).contains(Self.c2) })
        #expect(client.authenticationSummary.senderMAC != nil, "the ASCONF was signed")
        #expect(server.authenticationSummary.verifier != nil, "and verified")
        #expect(server.authenticationSummary.senderMAC != nil, "the ASCONF-ACK was signed")
        #expect(h.run(for: .seconds(5)) { client.authenticationSummary.verifier != nil })
        #expect(h.client.endpoint.statistics(of: id)?.authenticationRefusedPackets == 0)
        #expect(h.server.endpoint.statistics(of: serverID)?.authenticationRefusedPackets == 0)
    }

    // MARK: §5.1 / §5.2: Add IP Address

    @Test("an added address becomes a confirmed path of the peer and carries data once made primary")
    func addAddressThenUse() throws {
        let (h, id, serverID) = try Self.connected()
        let log = h.logTraffic()
        try Self.transfer(h, id, count: 5)
        try h.client.endpoint.addLocalAddresses([c2], now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(5)) { Self.peerAddresses(h.server, serverID).contains(Self.c2) })
        #expect(Self.changes(h.server).map(\.0) == [c2])
        #expect(Self.changes(h.server).map(\.1) == [.added])
        // Confirmed by a heartbeat, then the client's local addresses include it.
        #expect(h.run(for: .seconds(5)) {
            h.server.endpoint.peerAddresses(of: serverID).first { $0.address == Self.c2 }?.state == .active
        })
        #expect(h.client.endpoint.localAddresses(of: id) == [c1, c2])
        #expect(h.client.endpoint.addressChangeOutcomes(of: id).map(\.failure) == [nil])
        // Make it the server's primary: the server's packets go to c2.
        try h.client.endpoint.requestPeerPrimaryAddress(c2, on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(5)) { h.server.endpoint.primaryAddress(of: serverID) == Self.c2 })
        #expect(Self.changes(h.server).last.map { $0.0 == Self.c2 && $0.1 == .madePrimary } == true)
        let mark = h.now
        try h.server.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: 0, length: 100)),
                                   on: serverID, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(5)) { H.messages(h.client).count == 1 })
        #expect(log.server.count(ChunkType.data, to: c2, in: mark...h.now) == 1)
        #expect(log.server.count(ChunkType.data, to: c1, in: mark...h.now) == 0)
        // Before the ASCONF-ACK no packet left from c2; the ASCONF itself left from c1.
        let firstAck = try #require(log.server.times(of: ChunkType.asconfAck).first)
        #expect(!log.client.sent.contains { $0.from == Self.c2 && $0.time <= firstAck })
    }

    @Test("the peer adds, removes and makes primary its addresses: events and paths")
    func serverSideEvents() throws {
        let (h, id, serverID) = try Self.connected()
        try h.client.endpoint.addLocalAddresses([c2, c3], now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(5)) { Self.peerAddresses(h.server, serverID).count == 3 })
        try h.client.endpoint.removeLocalAddresses([c2], now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(5)) {
            Self.peerAddresses(h.server, serverID) == [Self.c1, Self.c3] && h.client.endpoint.localAddresses(of: id).count == 2
        })
        #expect(Self.changes(h.server).map(\.1) == [.added, .added, .removed])
        #expect(h.client.endpoint.localAddresses(of: id) == [c1, c3])
    }

    // MARK: Delete IP Address

    @Test("deleting the local address in use moves the paths to another at once, and data goes on")
    func deleteAddressInUse() throws {
        let (h, id, serverID) = try Self.connected(clientAddresses: [c1, c2], spare: [])
        let log = h.logTraffic()
        try Self.transfer(h, id, count: 10)
        let mark = h.now
        try h.client.endpoint.removeLocalAddresses([c1], now: h.now)
        try Self.transfer(h, id, from: 10, count: 10)
        #expect(h.run(for: .seconds(5)) { Self.peerAddresses(h.server, serverID) == [Self.c2] })
        // Nothing left from c1 after the removal, the ASCONF included.
        #expect(!log.client.sent.contains { $0.from == Self.c1 && $0.time >= mark })
        #expect(log.client.count(ChunkType.asconf, in: mark...h.now) >= 1)
        #expect(h.client.endpoint.localAddresses(of: id) == [c2])
        #expect(h.client.endpoint.localAddresses == [c2])
        MultihomingTests.expectDeliveredInOrder(h, count: 20, length: 300)
        // The last address cannot go.
        #expect(throws: CoreError.self) { try h.client.endpoint.removeLocalAddresses([Self.c2], now: h.now) }
    }

    @Test("a delete of the ASCONF's source address is refused (§5.2)")
    func deleteSourceRefused() throws {
        let (h, _, serverID) = try Self.connectedWithoutAuth(serverAddresses: [s1], spare: [c2])
        let log = h.logTraffic()
        let serial = try Self.association(h.server, serverID).addressReconfig!.peerSerialNumber &+ 1
        // Add c2 (from c1), then from c1 delete c1: refused, c2 stays added.
        let packet = try Self.forgedASCONF(h, serverID: serverID, serial: serial, parameters: [
            .addIPAddress(AddIPAddressParameter(correlationID: 7, address: Self.c2)),
            .deleteIPAddress(DeleteIPAddressParameter(correlationID: 8, address: Self.c1)),
        ])
        h.server.endpoint.handle(datagram: packet, from: c1, to: s1, now: h.now)
        h.loop.flushTransmits()
        // (Not delivered: the client, which never sent this serial number, would abort, §5.3 F0.)
        #expect(Self.peerAddresses(h.server, serverID) == [c1, c2])
        let ack = try #require(Self.acks(log.server).last)
        #expect(ack.serialNumber == serial)
        guard case .errorCauseIndication(let failure) = ack.parameters.parameters.first else {
            Issue.record("expected an error cause indication, got \(ack.parameters.parameters)")
            return
        }
        #expect(failure.correlationID == 8)
        #expect(failure.causes.first?.code == DeleteSourceAddressCause.causeCode)
    }

    @Test("a delete of the last remaining address is refused (§5.2)")
    func deleteLastRefused() throws {
        let (h, _, serverID) = try Self.connectedWithoutAuth()
        let log = h.logTraffic()
        let serial = try Self.association(h.server, serverID).addressReconfig!.peerSerialNumber &+ 1
        // From an address that is not a path (found by the tag), delete c1, the only one.
        let packet = try Self.forgedASCONF(h, serverID: serverID, serial: serial, parameters: [
            .deleteIPAddress(DeleteIPAddressParameter(correlationID: 1, address: Self.c1)),
        ])
        h.server.endpoint.handle(datagram: packet, from: Self.stranger, to: s1, now: h.now)
        h.loop.flushTransmits()
        #expect(Self.peerAddresses(h.server, serverID) == [c1])
        let ack = try #require(Self.acks(log.server).last)
        guard case .errorCauseIndication(let failure) = ack.parameters.parameters.first else {
            Issue.record("expected an error cause indication")
            return
        }
        #expect(failure.causes.first?.code == DeleteLastRemainingAddressCause.causeCode)
        // The answer went to where the ASCONF came from.
        #expect(log.server.count(ChunkType.asconfAck, to: Self.stranger) == 1)
    }

    @Test("the wildcard address: add the source, set primary to the source, delete all but the source (§4.2)")
    func wildcard() throws {
        let (h, _, serverID) = try Self.connectedWithoutAuth(spare: [c2])
        let association = try Self.association(h.server, serverID)
        var serial = association.addressReconfig!.peerSerialNumber &+ 1
        let any = IPAddress.v4(IPv4Address(rawValue: 0))
        var packet = try Self.forgedASCONF(h, serverID: serverID, serial: serial, parameters: [
            .addIPAddress(AddIPAddressParameter(correlationID: 1, address: any)),
            .setPrimaryAddress(SetPrimaryAddressParameter(correlationID: 2, address: any)),
        ])
        h.server.endpoint.handle(datagram: packet, from: c2, to: s1, now: h.now)
        #expect(Self.peerAddresses(h.server, serverID) == [c1, c2])
        #expect(association.configuredPrimaryPath == 1)
        serial &+= 1
        packet = try Self.forgedASCONF(h, serverID: serverID, serial: serial, parameters: [
            .deleteIPAddress(DeleteIPAddressParameter(correlationID: 3, address: any)),
        ])
        h.server.endpoint.handle(datagram: packet, from: c2, to: s1, now: h.now)
        h.server.drainEvents(now: h.now)
        #expect(Self.peerAddresses(h.server, serverID) == [c2])
        #expect(Self.changes(h.server).map(\.1) == [.added, .madePrimary, .removed])
        #expect(h.server.endpoint.checkInvariants().isEmpty)
    }

    // MARK: Set Primary Address

    @Test("set primary both ways")
    func setPrimaryBothWays() throws {
        let (h, id, serverID) = try Self.connected(clientAddresses: [c1, c2], serverAddresses: [s1, s2], spare: [])
        #expect(h.server.endpoint.primaryAddress(of: serverID) == c1)
        #expect(h.client.endpoint.primaryAddress(of: id) == s1)
        h.run(for: .seconds(3)) { false }  // both sides confirm every path
        try h.client.endpoint.requestPeerPrimaryAddress(c2, on: id, now: h.now)
        try h.server.endpoint.requestPeerPrimaryAddress(s2, on: serverID, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(5)) {
            h.server.endpoint.primaryAddress(of: serverID) == Self.c2 && h.client.endpoint.primaryAddress(of: id) == Self.s2
        })
        #expect(Self.changes(h.client).map(\.1) == [.madePrimary])
        #expect(Self.changes(h.server).map(\.1) == [.madePrimary])
        // Not one of ours: EADDRNOTAVAIL.
        #expect(throws: CoreError.addressNotAvailable(Self.c3)) {
            try h.client.endpoint.requestPeerPrimaryAddress(Self.c3, on: id, now: h.now)
        }
    }

    @Test("set primary to an address that is not the peer's is refused with Unresolvable Address")
    func setPrimaryUnknown() throws {
        let (h, _, serverID) = try Self.connectedWithoutAuth()
        let log = h.logTraffic()
        let serial = try Self.association(h.server, serverID).addressReconfig!.peerSerialNumber &+ 1
        let packet = try Self.forgedASCONF(h, serverID: serverID, serial: serial, parameters: [
            .setPrimaryAddress(SetPrimaryAddressParameter(correlationID: 5, address: Self.stranger)),
        ])
        h.server.endpoint.handle(datagram: packet, from: c1, to: s1, now: h.now)
        h.loop.flushTransmits()
        let ack = try #require(Self.acks(log.server).last)
        guard case .errorCauseIndication(let failure) = ack.parameters.parameters.first else {
            Issue.record("expected an error cause indication")
            return
        }
        #expect(failure.causes.first?.code == UnresolvableAddressCause.causeCode)
        #expect(Self.changes(h.server).isEmpty)
    }

    // MARK: Retransmission

    @Test("a lost ASCONF is retransmitted after an RTO with the same serial number")
    func lostASCONF() throws {
        let (h, id, serverID) = try Self.connected()
        let filter = PacketFilterParticipant(h.client, rules: [(ChunkType.asconf, .drop)])
        let log = RoutedParticipant(h.server, routes: [:])
        h.loop.participants = [filter, log]
        let start = h.now
        try h.client.endpoint.addLocalAddresses([c2], now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(5)) { !h.client.endpoint.addressChangeOutcomes(of: id).isEmpty })
        #expect(Self.peerAddresses(h.server, serverID).contains(Self.c2))
        #expect(filter.applied == 1)
        // The retransmission came one RTO (200 ms) later.
        #expect(h.now - start >= .milliseconds(200))
        #expect(Self.acks(log).count == 1)
        #expect(h.client.endpoint.addressChangeOutcomes(of: id).map(\.failure) == [nil])
    }

    @Test("the ASCONF goes to the primary path; its retransmission to an alternate one, with the RTO backed off")
    func retransmissionDestination() throws {
        let (h, id, serverID) = try Self.connected(serverAddresses: [s1, s2])
        h.run(for: .seconds(3)) { false }  // the client confirms s2
        let filter = PacketFilterParticipant(h.client, rules: [(ChunkType.asconf, .drop)])
        let log = RoutedParticipant(h.server, routes: [:])
        h.loop.participants = [filter, log]
        let association = try Self.association(h.client, id)
        let rto = association.paths[0].rto.rto
        try h.client.endpoint.addLocalAddresses([c2], now: h.now)
        h.loop.flushTransmits()
        #expect(association.addressReconfig?.inFlight?.path == 0)
        // The timer expires: the same ASCONF goes to s2, the first path's RTO backed off.
        #expect(h.run(for: .seconds(2)) { association.addressReconfig?.inFlight?.path == 1 })
        #expect(association.paths[1].address == s2)
        #expect(association.paths[0].rto.rto > rto, "backed off")
        #expect(h.run(for: .seconds(5)) { Self.peerAddresses(h.server, serverID).contains(Self.c2) })
        #expect(filter.applied == 1)
        // The answer went back to where the ASCONF came from.
        #expect(log.count(ChunkType.asconfAck, to: c1) == 1)
    }

    @Test("a lost ASCONF-ACK: the retransmitted ASCONF is answered again from memory, performed once")
    func lostASCONFAck() throws {
        let (h, id, serverID) = try Self.connected()
        let filter = PacketFilterParticipant(h.server, rules: [(ChunkType.asconfAck, .drop)])
        h.loop.participants = [h.client, filter]
        try h.client.endpoint.addLocalAddresses([c2], now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(5)) { h.client.endpoint.localAddresses(of: id).contains(Self.c2) })
        #expect(filter.applied == 1)
        #expect(Self.changes(h.server).map(\.1) == [.added])
        #expect(Self.peerAddresses(h.server, serverID) == [c1, c2])
    }

    @Test("an ASCONF never answered fails the association like other retransmissions")
    func unansweredASCONFFailsAssociation() throws {
        var client = Self.configuration()
        client.associationMaxRetransmits = 3
        client.heartbeatInterval = nil
        var server = Self.configuration()
        server.heartbeatInterval = nil
        let (h, _, _) = try Self.connected(client: client, server: server)
        // Every ASCONF of the client is lost.
        let filter = PacketFilterParticipant(h.client, rules: Array(repeating: (ChunkType.asconf, .drop), count: 10))
        h.loop.participants = [filter, h.server]
        try h.client.endpoint.addLocalAddresses([c2], now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(60)) { H.lost(h.client) != nil })
        #expect(H.lost(h.client) == .retransmissionsExhausted)
        #expect(filter.applied == 4)
    }

    // MARK: Serial numbers

    @Test("duplicate and out-of-window serial numbers: the last is answered again, others discarded (§5.2)")
    func serialNumbers() throws {
        let (h, _, serverID) = try Self.connectedWithoutAuth(spare: [c2, c3])
        let log = h.logTraffic()
        let association = try Self.association(h.server, serverID)
        let expected = association.addressReconfig!.peerSerialNumber &+ 1
        let add2 = [Parameter.addIPAddress(AddIPAddressParameter(correlationID: 1, address: Self.c2))]
        let add3 = [Parameter.addIPAddress(AddIPAddressParameter(correlationID: 2, address: Self.c3))]
        // Ahead of the expected serial: discarded, no answer.
        h.server.endpoint.handle(datagram: try Self.forgedASCONF(h, serverID: serverID, serial: expected &+ 1, parameters: add3),
                                 from: c1, to: s1, now: h.now)
        h.loop.flushTransmits()
        #expect(Self.acks(log.server).isEmpty)
        #expect(Self.peerAddresses(h.server, serverID) == [c1])
        // The expected one: performed and answered.
        h.server.endpoint.handle(datagram: try Self.forgedASCONF(h, serverID: serverID, serial: expected, parameters: add2),
                                 from: c1, to: s1, now: h.now)
        h.loop.flushTransmits()
        #expect(Self.acks(log.server).count == 1)
        // The same serial again, even with other requests: the same answer, nothing performed.
        h.server.endpoint.handle(datagram: try Self.forgedASCONF(h, serverID: serverID, serial: expected, parameters: add3),
                                 from: c1, to: s1, now: h.now)
        h.loop.flushTransmits()
        #expect(Self.acks(log.server).count == 2)
        #expect(Self.acks(log.server)[0] == Self.acks(log.server)[1])
        // An older one: discarded.
        h.server.endpoint.handle(datagram: try Self.forgedASCONF(h, serverID: serverID, serial: expected &- 1, parameters: add3),
                                 from: c1, to: s1, now: h.now)
        h.loop.flushTransmits()
        #expect(Self.acks(log.server).count == 2)
        #expect(Self.peerAddresses(h.server, serverID) == [c1, c2])
        #expect(Self.changes(h.server).count == 1)
    }

    // MARK: Refusals

    @Test("Operation Refused Due to Resource Shortage: the address is not added, nor used as a source")
    func resourceShortage() throws {
        let (h, id, serverID) = try Self.connected(server: Self.configuration(maxPeerAddresses: 1))
        let log = h.logTraffic()
        try h.client.endpoint.addLocalAddresses([c2], now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(5)) { !h.client.endpoint.addressChangeOutcomes(of: id).isEmpty })
        let outcome = try #require(h.client.endpoint.addressChangeOutcomes(of: id).first)
        #expect(outcome.kind == .add && outcome.address == c2)
        #expect(outcome.failure?.code == ResourceShortageCause.causeCode)
        #expect(h.client.endpoint.localAddresses(of: id) == [c1])
        #expect(Self.peerAddresses(h.server, serverID) == [c1])
        try Self.transfer(h, id, count: 5)
        #expect(!log.client.sent.contains { $0.from == Self.c2 })
    }

    @Test("without authentication an ASCONF is not processed: no change, no answer but Unrecognized Chunk Type, after which the sender stops (§5.1 A9); a side that requires it does not start ASCONF without AUTH")
    func unauthenticatedRefused() throws {
        // The client sends ASCONF without AUTH (testing mode); the server requires AUTH, which
        // the client does not announce.
        var client = Self.configuration(unauthenticated: true)
        client.associationMaxRetransmits = 100
        let (h, id, serverID) = try Self.connected(client: client, server: Self.configuration())
        #expect(!h.server.endpoint.isAuthenticationNegotiated(on: serverID))
        let log = h.logTraffic()
        try h.client.endpoint.addLocalAddresses([c2], now: h.now)
        h.loop.flushTransmits()
        h.run(for: .seconds(3)) { false }
        // The server has no ASCONF on this association: the chunk is unknown to it and
        // reported (its type's top bits); the client sends no more (A9: T-4 stopped).
        #expect(log.server.count(ChunkType.error) >= 1)
        #expect(log.client.count(ChunkType.asconf) == 1)
        #expect(!h.client.endpoint.supportsAddressReconfiguration(id))
        #expect(h.client.endpoint.addressChangeOutcomes(of: id).first?.failure?.code == UnrecognizedChunkTypeCause.causeCode)
        #expect(log.server.count(ChunkType.asconfAck) == 0)
        #expect(Self.peerAddresses(h.server, serverID) == [c1])
        #expect(Self.changes(h.server).isEmpty)
        #expect(h.client.endpoint.localAddresses(of: id) == [c1])
        // The other way round: the side that requires authentication has no ASCONF to offer.
        var strict = Self.configuration()
        strict.authentication.enabled = false
        let (h2, id2, _) = try Self.connected(client: strict, server: Self.configuration(unauthenticated: true))
        #expect(!h2.client.endpoint.supportsAddressReconfiguration(id2))
        #expect(h2.client.endpoint.localAddresses(of: id2) == [c1])
    }

    @Test("with AUTH in use, ASCONF and ASCONF-ACK are listed in both CHUNKS lists and travel behind an AUTH chunk")
    func travelsAuthenticated() throws {
        let (h, id, serverID) = try Self.connected()
        #expect(h.client.endpoint.isAuthenticationNegotiated(on: id))
        #expect(try h.client.endpoint.peerAuthenticatedChunks(on: id).contains(ChunkType.asconf))
        #expect(try h.server.endpoint.peerAuthenticatedChunks(on: serverID).contains(ChunkType.asconfAck))
        let log = h.logTraffic()
        try h.client.endpoint.addLocalAddresses([c2], now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(5)) { Self.peerAddresses(h.server, serverID) == [c1, c2] })
        for packet in log.client.sent + log.server.sent {
            let types = packet.chunks.map(\.type)
            guard let index = types.firstIndex(where: { $0 == ChunkType.asconf || $0 == ChunkType.asconfAck }) else { continue }
            #expect(types[..<index].contains(ChunkType.auth), "ASCONF without AUTH before it: \(types)")
        }
        #expect(log.client.count(ChunkType.asconf) >= 1 && log.server.count(ChunkType.asconfAck) >= 1)
    }

    // MARK: One outstanding

    @Test("one ASCONF outstanding at a time; requests made meanwhile wait and go in the next")
    func oneOutstanding() throws {
        let (h, id, serverID) = try Self.connected()
        let log = h.logTraffic()
        try h.client.endpoint.addLocalAddresses([c2], now: h.now)
        h.loop.flushTransmits()
        let association = try Self.association(h.client, id)
        let first = try #require(association.addressReconfig?.inFlight?.serialNumber)
        try h.client.endpoint.addLocalAddresses([c3], now: h.now)
        try h.client.endpoint.requestPeerPrimaryAddress(c1, on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(association.addressReconfig?.inFlight?.serialNumber == first)
        #expect(association.addressReconfig?.pending.count == 2)
        #expect(log.client.count(ChunkType.asconf) == 1)
        #expect(h.run(for: .seconds(5)) { Self.peerAddresses(h.server, serverID).count == 3 && association.addressReconfig?.isIdle == true })
        let serials = log.client.sent.flatMap { $0.chunks.compactMap { if case .asconf(let c) = $0 { c.serialNumber } else { nil } } }
        #expect(serials == [first, first &+ 1])
        #expect(h.client.endpoint.addressChangeOutcomes(of: id).count == 3)
        // The queue is bounded.
        var thrown: CoreError?
        for index in 0..<40 {
            do { try h.client.endpoint.requestPeerPrimaryAddress(index % 2 == 0 ? c1 : c2, on: id, now: h.now) }
            catch { thrown = error; break }
        }
        #expect(thrown == .addressReconfigurationBusy)
    }
}

extension AddressReconfigurationState {
    var isIdle: Bool { inFlight == nil && pending.isEmpty }
}
