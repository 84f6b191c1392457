import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Forged ASCONF chunks (RFC 5061) fed to an established association: replayed and
/// out-of-window serial numbers, bogus addresses, huge parameter lists. Nothing but the
/// expected ASCONF changes anything; what is performed and answered stays bounded.
@Suite("forged ASCONF")
struct ForgedASCONFTests {
    typealias T = AddressReconfigurationTests
    typealias H = AssociationHarness

    struct Snapshot: Equatable {
        var paths: [IPAddress]
        var primary: Int
        var configuredPrimary: Int
        var state: AssociationState
        var peerSerial: UInt32?
    }

    static func snapshot(_ association: Association) -> Snapshot {
        Snapshot(paths: association.paths.map(\.address), primary: association.primaryPath,
                 configuredPrimary: association.configuredPrimaryPath, state: association.state,
                 peerSerial: association.addressReconfig?.peerSerialNumber)
    }

    /// A random address: mostly IPv4 near the peer's, sometimes IPv6, the wildcard, ours,
    /// multicast or broadcast.
    static func address(_ r: inout SeededRandomSource) -> IPAddress {
        switch r.nextUInt64() % 10 {
        case 0: .v4(IPv4Address(rawValue: 0))
        case 1: .v6(IPv6Address(high: r.nextUInt64(), low: r.nextUInt64()))
        case 2: .v4(IPv4Address(224, 0, 0, UInt8(r.nextUInt64() % 256)))
        case 3: .v4(IPv4Address(rawValue: 0xFFFF_FFFF))
        case 4: T.s1
        default: .v4(IPv4Address(10, 0, UInt8(r.nextUInt64() % 3), UInt8(r.nextUInt64() % 256)))
        }
    }

    static func parameter(_ r: inout SeededRandomSource) -> Parameter {
        let id = UInt32(truncatingIfNeeded: r.nextUInt64())
        switch r.nextUInt64() % 8 {
        case 0, 1, 2: return .addIPAddress(AddIPAddressParameter(correlationID: id, address: address(&r)))
        case 3, 4: return .deleteIPAddress(DeleteIPAddressParameter(correlationID: id, address: address(&r)))
        case 5: return .setPrimaryAddress(SetPrimaryAddressParameter(correlationID: id, address: address(&r)))
        case 6: return .successIndication(SuccessIndicationParameter(correlationID: id))
        default: return .unknown(UnknownParameter(type: 0xC000 | UInt16(r.nextUInt64() % 0x3FFF), value: ByteBuffer(bytes: [1, 2, 3, 4])))
        }
    }

    @Test("replayed and out-of-window serial numbers change nothing, whatever they carry")
    func replays() throws {
        let (h, _, serverID) = try T.connected(spare: [T.c2], client: T.configuration(unauthenticated: true),
                                               server: T.configuration(unauthenticated: true))
        let association = try T.association(h.server, serverID)
        let log = h.logTraffic()
        let expected = association.addressReconfig!.peerSerialNumber &+ 1
        // One genuine change first, so there is an answer to replay.
        h.server.endpoint.handle(datagram: try T.forgedASCONF(h, serverID: serverID, serial: expected, parameters: [
            .addIPAddress(AddIPAddressParameter(correlationID: 1, address: T.c2)),
        ]), from: T.c1, to: T.s1, now: h.now)
        h.loop.flushTransmits()
        let before = Self.snapshot(association)
        let answers = T.acks(log.server).count
        var r = SeededRandomSource(seed: 42)
        for round in 0..<500 {
            let serial: UInt32 = switch round % 4 {
            case 0: expected  // the last one processed: answered again from memory only
            case 1: expected &- 1 &- UInt32(r.nextUInt64() % 1000)
            case 2: expected &+ 2 &+ UInt32(r.nextUInt64() % 1000)
            default: UInt32(truncatingIfNeeded: r.nextUInt64())
            }
            guard serial != expected &+ 1 else { continue }
            let parameters = (0..<Int(r.nextUInt64() % 40)).map { _ in Self.parameter(&r) }
            h.server.endpoint.handle(datagram: try T.forgedASCONF(h, serverID: serverID, serial: serial, parameters: parameters),
                                     from: round % 3 == 0 ? T.c1 : Self.address(&r), to: T.s1, now: h.now)
            #expect(Self.snapshot(association) == before, "round \(round), serial \(serial)")
        }
        h.loop.flushTransmits()
        let replies = T.acks(log.server).dropFirst(answers)
        #expect(replies.count == 125, "only the last serial is answered, every time")
        #expect(replies.allSatisfy { $0 == T.acks(log.server)[answers - 1] })
        h.server.drainEvents(now: h.now)
        #expect(T.changes(h.server).count == 1)
        #expect(h.server.endpoint.checkInvariants().isEmpty)
    }

    @Test("a packet of 20 copies of the last ASCONF draws one ASCONF-ACK, not 20 (§5.2 C3: one response per packet)")
    func repeatsInOnePacket() throws {
        let (h, _, serverID) = try T.connected(spare: [T.c2], client: T.configuration(unauthenticated: true),
                                               server: T.configuration(unauthenticated: true))
        let association = try T.association(h.server, serverID)
        let log = h.logTraffic()
        let expected = association.addressReconfig!.peerSerialNumber &+ 1
        h.server.endpoint.handle(datagram: try T.forgedASCONF(h, serverID: serverID, serial: expected, parameters: [
            .addIPAddress(AddIPAddressParameter(correlationID: 1, address: T.c2)),
        ]), from: T.c1, to: T.s1, now: h.now)
        h.loop.flushTransmits()
        let answers = T.acks(log.server).count
        #expect(answers == 1)
        let repeated = ASCONFChunk(serialNumber: expected, address: T.c1, parameters: ParameterList([]))
        let packet = SCTPPacket(header: CommonHeader(sourcePort: H.clientPort, destinationPort: H.serverPort,
                                                     verificationTag: association.localTag),
                                chunks: Array(repeating: .asconf(repeated), count: 20))
        h.server.endpoint.handle(datagram: packet.serialized(), from: T.c1, to: T.s1, now: h.now)
        h.loop.flushTransmits()
        #expect(T.acks(log.server).count == answers + 1)
        // The next packet gets its copy again.
        h.server.endpoint.handle(datagram: packet.serialized(), from: T.c1, to: T.s1, now: h.now)
        h.loop.flushTransmits()
        #expect(T.acks(log.server).count == answers + 2)
    }

    @Test("many addresses added at once: one of them is heartbeated at once, the others after an RTO (no burst of heartbeats)")
    func addsDoNotBurstHeartbeats() throws {
        let (h, _, serverID) = try T.connected(spare: [], client: T.configuration(unauthenticated: true),
                                               server: T.configuration(unauthenticated: true))
        let association = try T.association(h.server, serverID)
        let expected = association.addressReconfig!.peerSerialNumber &+ 1
        let added = (20...27).map { IPAddress.v4(IPv4Address(10, 0, 0, UInt8($0))) }
        h.server.endpoint.handle(datagram: try T.forgedASCONF(h, serverID: serverID, serial: expected, parameters:
            added.enumerated().map { .addIPAddress(AddIPAddressParameter(correlationID: UInt32($0.offset + 1), address: $0.element)) }
        ), from: T.c1, to: T.s1, now: h.now)
        let dueNow = association.paths.filter { added.contains($0.address) && ($0.heartbeatDeadline.map { $0 <= h.now } ?? false) }
        #expect(association.paths.filter { added.contains($0.address) }.count == added.count)
        #expect(dueNow.count == 1, "\(dueNow.count) added paths due for a heartbeat at once")
    }

    @Test("bogus addresses and huge parameter lists: bounded paths, bounded work, bounded answers, no trap")
    func bogusAndHuge() throws {
        let (h, id, serverID) = try T.connected(spare: [], client: T.configuration(unauthenticated: true),
                                               server: T.configuration(unauthenticated: true))
        let association = try T.association(h.server, serverID)
        let log = h.logTraffic()
        var r = SeededRandomSource(seed: 7)
        var serial = association.addressReconfig!.peerSerialNumber &+ 1
        var processed = 0
        for round in 0..<300 {
            let count = round % 10 == 0 ? 2000 : Int(r.nextUInt64() % 64)
            let parameters = (0..<count).map { _ in Self.parameter(&r) }
            let events = h.server.events.count
            h.server.endpoint.handle(datagram: try T.forgedASCONF(h, serverID: serverID, serial: serial, parameters: parameters),
                                     from: round % 2 == 0 ? T.c1 : Self.address(&r), to: T.s1, now: h.now)
            h.server.drainEvents(now: h.now)
            // A list the wire codec rejects as a whole (a malformed known parameter) is dropped
            // with the packet: the serial number is not used up.
            if association.addressReconfig?.peerSerialNumber == serial {
                serial &+= 1
                processed += 1
            }
            #expect(association.paths.count <= SCTPConfiguration().maxPeerAddresses)
            #expect(association.paths.count >= 1)
            // At most maxRequestsProcessed requests performed per ASCONF.
            #expect(h.server.events.count - events <= AddressReconfigurationState.maxRequestsProcessed + SCTPConfiguration().maxPeerAddresses)
            // Never our own address, a multicast or broadcast one, nor an IPv6 one (we have none).
            #expect(!association.paths.contains { $0.address == T.s1 || !$0.address.isUnicast })
            #expect(!association.paths.contains { if case .v6 = $0.address { true } else { false } })
            #expect(association.state == .established)
            h.loop.flushTransmits()
        }
        #expect(processed >= 200)
        // Every answer fits in a packet of the path MTU.
        let acks = T.acks(log.server)
        #expect(!acks.isEmpty)
        for ack in acks {
            var buffer = ByteBuffer()
            Chunk.asconfAck(ack).write(to: &buffer)
            #expect(buffer.readableBytes <= 2048)
            #expect(ack.parameters.parameters.count <= AddressReconfigurationState.maxRequestsProcessed + 1)
        }
        #expect(h.server.endpoint.checkInvariants().isEmpty)
        // The association still carries data.
        _ = id
        h.run(for: .seconds(30)) { false }
        #expect(h.server.endpoint.state(of: serverID) == .established || H.lost(h.server) != nil)
    }

    @Test("with AUTH in use, no forged (unauthenticated) ASCONF changes anything or is answered")
    func unauthenticatedForgeries() throws {
        let (h, _, serverID) = try T.connected()  // AUTH in use: forged chunks lack it
        let association = try T.association(h.server, serverID)
        let log = h.logTraffic()
        let before = Self.snapshot(association)
        var r = SeededRandomSource(seed: 9)
        let expected = association.addressReconfig!.peerSerialNumber &+ 1
        for round in 0..<200 {
            let parameters = (0..<Int(r.nextUInt64() % 20)).map { _ in Self.parameter(&r) }
            h.server.endpoint.handle(datagram: try T.forgedASCONF(h, serverID: serverID, serial: expected &+ UInt32(round % 3), parameters: parameters),
                                     from: T.c1, to: T.s1, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(Self.snapshot(association) == before)
        #expect(T.acks(log.server).isEmpty)
    }
}
