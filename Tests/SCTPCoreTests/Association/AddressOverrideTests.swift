import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Messages sent to a chosen peer address (`OutgoingMessage.destination`, the core of
/// `SCTP_ADDR_OVER`, RFC 6458 §5.3.4) between two endpoints with two addresses each.
@Suite("sending to a chosen peer address")
struct AddressOverrideTests {
    typealias H = AssociationHarness
    typealias M = MultihomingTests

    /// The message indexes whose DATA chunks went to each destination, in sending order.
    static func indexesByDestination(_ participant: RoutedParticipant) -> [IPAddress: [Int]] {
        var result: [IPAddress: [Int]] = [:]
        for packet in participant.sent {
            for case .data(let chunk) in packet.chunks where chunk.dataFlags.contains(.beginning) {
                let index = Int(chunk.payload.getInteger(at: chunk.payload.readerIndex + 2, as: UInt32.self)!)
                result[packet.to, default: []].append(index)
            }
        }
        return result
    }

    /// An association with both paths confirmed on both sides; the client's primary is s1.
    static func established(seed: UInt64) throws -> (H, RoutedParticipant, AssociationID) {
        let h = M.harness(seed: seed, configuration: M.fastFailover)
        let (client, _) = h.routeByInterface()
        let id = try h.connect(to: [M.s1, M.s2])
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        #expect(h.run(for: .seconds(3)) { H.firstChange(h.server, M.c2, to: .active) != nil })
        #expect(h.client.endpoint.primaryAddress(of: id) == M.s1)
        return (h, client, id)
    }

    @Test("each message goes to the address it names, the others to the primary; all arrive once, in order")
    func messagesFollowTheirDestination() throws {
        let (h, client, id) = try Self.established(seed: 61)
        // Messages 0, 3, 6, ... to s2; 1, 4, 7, ... to s1 by name; the rest to the primary (s1).
        // Some are larger than the MTU: every fragment follows its message.
        let count = 60
        var expected: [IPAddress: [Int]] = [:]
        for index in 0..<count {
            let destination: IPAddress? = switch index % 3 { case 0: M.s2; case 1: M.s1; default: nil }
            let length = index % 5 == 0 ? 3000 : 200
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, destination: destination,
                                                       payload: testPayload(stream: 0, index: index, length: length)),
                                       on: id, now: h.now)
            expected[destination ?? M.s1, default: []].append(index)
            if index % 10 == 9 { h.run(for: .milliseconds(50)) { false } }
        }
        #expect(h.run(for: .seconds(10)) { H.messages(h.server).count >= count })
        let received = H.messages(h.server)
        #expect(received.map(M.index(of:)) == Array(0..<count), "every message once, in order")
        for message in received {
            let index = M.index(of: message)
            #expect(message.payload == testPayload(stream: 0, index: index, length: index % 5 == 0 ? 3000 : 200))
        }
        // Nothing was lost, so each first transmission is the only one.
        #expect(Self.indexesByDestination(client) == expected)
        // Every fragment of a message went the same way.
        for packet in client.sent {
            for case .data(let chunk) in packet.chunks {
                let first = received.first { $0.firstTSN <= chunk.tsn && chunk.tsn <= $0.lastTSN }
                let index = try #require(first.map(M.index(of:)))
                #expect(packet.to == (index % 3 == 0 ? M.s2 : M.s1), "fragment of message \(index)")
            }
        }
    }

    @Test("an address the peer does not have is refused; the association is unharmed")
    func unknownAddressIsRefused() throws {
        let (h, _, id) = try Self.established(seed: 62)
        let stranger = IPAddress.v4(IPv4Address(10, 0, 9, 9))
        #expect(throws: CoreError.invalidAddresses("\(stranger) is not an address of the peer")) {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, destination: stranger,
                                                       payload: testPayload(stream: 0, index: 0, length: 10)),
                                       on: id, now: h.now)
        }
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, destination: M.s2,
                                                   payload: testPayload(stream: 0, index: 0, length: 10)),
                                   on: id, now: h.now)
        #expect(h.run(for: .seconds(2)) { H.messages(h.server).count == 1 })
    }

    @Test("while the named path is down the message takes the primary")
    func inactiveDestinationFallsBackToThePrimary() throws {
        let (h, client, id) = try Self.established(seed: 63)
        // Cut the second path and wait until the client has marked s2 inactive.
        let cutAt = h.now
        for address in [M.c1, M.c2] { h.loop.network.setLinksUp(false, between: address, and: M.s2, at: cutAt) }
        #expect(h.run(for: .seconds(120)) { H.firstChange(h.client, M.s2, to: .inactive, after: cutAt) != nil })
        let sentBefore = client.sent.count
        for index in 0..<5 {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, destination: M.s2,
                                                       payload: testPayload(stream: 0, index: index, length: 100)),
                                       on: id, now: h.now)
        }
        #expect(h.run(for: .seconds(2)) { H.messages(h.server).count == 5 })
        #expect(H.messages(h.server).map(M.index(of:)) == Array(0..<5))
        let dataPackets = client.sent[sentBefore...].filter { $0.chunks.contains { $0.type == ChunkType.data } }
        #expect(!dataPackets.isEmpty)
        #expect(dataPackets.allSatisfy { $0.to == M.s1 })
    }
}
