import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

@Suite("Endpoint receive window limit (what the driver's transport can buffer)")
struct ReceiveWindowLimitTests {
    typealias H = AssociationHarness

    @Test("INIT, INIT ACK and the associations of both sides offer at most the limit; without one, the configuration")
    func limited() throws {
        let h = H(seed: 98)
        h.client.endpoint.receiveWindowLimit = 64 << 10
        h.server.endpoint.receiveWindowLimit = 48 << 10
        let taps = h.tap()
        let ids = try h.establish()
        let initChunk = try #require(taps.client.sent.lazy.compactMap { entry -> InitChunk? in
            if case .initiation(let c) = entry.packet.chunks.first { c } else { nil }
        }.first)
        let ack = try #require(taps.server.sent.lazy.compactMap { entry -> InitAckChunk? in
            if case .initiationAck(let c) = entry.packet.chunks.first { c } else { nil }
        }.first)
        #expect(initChunk.advertisedReceiverWindowCredit == 64 << 10)
        #expect(ack.advertisedReceiverWindowCredit == 48 << 10)
        #expect(try h.association(h.client, ids.client).receiver.advertisedWindow == 64 << 10)
        #expect(try h.association(h.server, ids.server).receiver.advertisedWindow == 48 << 10)
        #expect(h.client.endpoint.configuration.receiveBufferSize == 4 << 20, "the configuration itself is kept")

        // A limit above the configured buffer changes nothing.
        h.server.endpoint.receiveWindowLimit = 1 << 30
        #expect(h.server.endpoint.associationConfiguration.receiveBufferSize == 4 << 20)
    }
}
