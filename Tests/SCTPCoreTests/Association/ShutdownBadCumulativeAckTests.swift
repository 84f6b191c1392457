import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// A SHUTDOWN whose Cumulative TSN Ack acknowledges TSNs we never sent is a protocol
/// violation: the association is aborted and gone. (It used to be aborted and then moved on
/// to SHUTDOWN-RECEIVED regardless: it answered with a SHUTDOWN ACK after its ABORT and
/// stayed in the endpoint's table until T2 gave up.)
@Suite("SHUTDOWN acknowledging TSNs never sent")
struct ShutdownBadCumulativeAckTests {
    typealias H = AssociationHarness

    @Test("in ESTABLISHED and in SHUTDOWN-SENT: ABORT, no SHUTDOWN ACK, the association removed", arguments: [false, true])
    func abortsAndForgets(clientShutsDownFirst: Bool) throws {
        let h = H(seed: 95)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(string: "one")), on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == 1 && h.client.endpoint.status(of: id)?.unacknowledgedChunks == 0 })
        let association = try #require(h.client.endpoint.associations[id])
        if clientShutsDownFirst {
            // Cut the link so that the SHUTDOWN gets no answer: the client waits in SHUTDOWN-SENT.
            h.loop.network.addLink(from: h.client.addresses[0], to: h.server.addresses[0], conditions: .init(delay: .milliseconds(5), lossProbability: 1))
            try h.client.endpoint.shutdown(id, now: h.now)
            h.loop.flushTransmits()
            #expect(h.client.endpoint.state(of: id) == .shutdownSent)
        }
        let beyond = association.tx.outstanding.highestSentTSN.advanced(by: 1000)
        let forged = SCTPPacket(header: CommonHeader(sourcePort: H.serverPort, destinationPort: H.clientPort,
                                                     verificationTag: association.localTag),
                                chunks: [.shutdown(ShutdownChunk(cumulativeTSNAck: beyond))])
        h.client.endpoint.handle(datagram: forged.serialized(), from: h.server.addresses[0], to: h.client.addresses[0], now: h.now)
        var sent: [Chunk] = []
        while let transmit = h.client.endpoint.pollTransmit() {
            sent += try SCTPPacket(parsing: transmit.datagram).chunks
        }
        var events: [SCTPEvent] = []
        while let event = h.client.endpoint.pollEvent() { events.append(event) }
        #expect(sent.contains { if case .abort = $0 { true } else { false } }, "\(sent)")
        #expect(!sent.contains { if case .shutdownAck = $0 { true } else { false } }, "\(sent)")
        #expect(events.contains { if case .communicationLost(_, .protocolViolation) = $0 { true } else { false } }, "\(events)")
        #expect(!events.contains { if case .peerShutdown = $0 { true } else { false } })
        #expect(h.client.endpoint.state(of: id) == nil)
        #expect(h.client.endpoint.associationIDs.isEmpty)
    }
}
