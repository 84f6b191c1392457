import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

// RFC 9260 §3.2.1 / §3.2.2: parameters of extensions this stack does not implement are
// unrecognised, whatever the wire layer knows about their format. usrsctp's INIT and INIT ACK
// (seen from tsctp) carry Adaptation Layer Indication (0xC006: accepted and reported to the
// application), ECN (0x8000), Forward-TSN-Supported (0xC000), Supported Extensions, and AUTH's
// Random, HMAC and Chunk List (type bits 10: skipped silently).

private let clientAddress = IPAddress.v4(IPv4Address(10, 0, 0, 1))
private let serverAddress = IPAddress.v4(IPv4Address(10, 0, 1, 1))

/// The optional parameters of a usrsctp 0.9.5 INIT from tsctp, in its order.
private func usrsctpParameters() -> [Parameter] {
    [
        .adaptationLayerIndication(AdaptationLayerIndicationParameter(adaptationCodePoint: adaptationCodePoint)),
        .ecnCapable(ECNCapableParameter()),
        .forwardTSNSupported(ForwardTSNSupportedParameter()),
        .supportedExtensions(SupportedExtensionsParameter(chunkTypes: [192, 15, 193, 128, 130])),
        .random(RandomParameter(random: ByteBuffer(repeating: 0x5C, count: 32))),
        .requestedHMACAlgorithm(RequestedHMACAlgorithmParameter(hmacIdentifiers: [1])),
        .chunkList(ChunkListParameter(chunkTypes: [128, 193])),
        .supportedAddressTypes(SupportedAddressTypesParameter(addressTypes: [5])),
    ]
}

/// The Adaptation Layer Indication code point in the usrsctp parameters above.
private let adaptationCodePoint: UInt32 = 0x0102_0304
private let forwardTSNSupportedBytes: [UInt8] = [0xC0, 0x00, 0x00, 0x04]

private func reported(_ ack: InitAckChunk) -> [[UInt8]] {
    ack.parameters.parameters.compactMap {
        if case .unrecognizedParameter(let p) = $0 { Array(p.parameter.readableBytesView) } else { nil }
    }
}

@Suite("Unsupported extension parameters in INIT and INIT ACK (usrsctp's)")
struct UnsupportedParameterTests {
    typealias H = AssociationHarness

    /// The adaptation indications an endpoint reported, with their associations.
    static func adaptationEvents(_ p: EndpointParticipant) -> [UInt32] {
        p.events.compactMap { if case .adaptationIndication(_, let codePoint) = $0.event { codePoint } else { nil } }
    }

    @Test("usrsctp's INIT: the INIT ACK reports nothing; the association comes up and the adaptation indication is reported")
    func initFromUsrsctp() throws {
        let h = H(seed: 70)
        let taps = h.tap()
        let initChunk = InitChunk(initiateTag: 0x7070_0001, advertisedReceiverWindowCredit: 131_072, outboundStreams: 10,
                                  inboundStreams: 2048, initialTSN: TSN(5000), parameters: ParameterList(usrsctpParameters()))
        h.inject(Craft.packet(from: H.clientPort, to: H.serverPort, tag: 0, [.initiation(initChunk)]), into: h.server,
                 from: clientAddress)
        let reply = try #require(taps.server.sent.first)
        guard case .initiationAck(let ack) = reply.packet.chunks.first else { Issue.record("no INIT ACK"); return }
        // Not reported: the adaptation indication (supported), Forward-TSN-Supported (PR-SCTP
        // is on), and the `10` types (ECN, AUTH, extensions).
        #expect(reported(ack) == [])
        // Our INIT ACK announces no adaptation indication of its own (none configured).
        #expect(ack.first { if case .adaptationLayerIndication = $0 { true } else { nil } } == nil)

        // The handshake completes with the cookie, and data flows.
        taps.server.forgetSent()
        let echo = Chunk.cookieEcho(CookieEchoChunk(cookie: try #require(ack.stateCookie)))
        h.inject(Craft.packet(from: H.clientPort, to: H.serverPort, tag: ack.initiateTag, [echo]), into: h.server,
                 from: clientAddress)
        #expect(taps.server.sentCount { if case .cookieAck = $0 { true } else { false } } == 1)
        #expect(H.upEvents(h.server).count == 1)
        // The code point travelled in the cookie and is reported once, after COMM_UP.
        #expect(Self.adaptationEvents(h.server) == [adaptationCodePoint])
        let kinds = h.server.events.map { entry -> String in
            switch entry.event {
            case .communicationUp: "up"
            case .adaptationIndication: "adaptation"
            default: "other"
            }
        }
        #expect(kinds.firstIndex(of: "up")! < kinds.firstIndex(of: "adaptation")!)
    }

    @Test("usrsctp's INIT ACK: the COOKIE ECHO goes alone; the adaptation indication is reported when the association is up")
    func initAckFromUsrsctp() throws {
        let h = H(seed: 71)
        let taps = h.tap()
        // The server never sees the INIT: the test answers it.
        _ = h.loop.network.setLinkUp(false, from: clientAddress, to: serverAddress, at: h.now)
        let id = try h.connect()
        h.advance(by: .milliseconds(10))
        let association = try h.association(h.client, id)
        taps.client.forgetSent()
        let ack = try InitAckChunk(
            initiateTag: 0x7171_0002, advertisedReceiverWindowCredit: 131_072, outboundStreams: 10, inboundStreams: 2048,
            initialTSN: TSN(9000),
            parameters: ParameterList(usrsctpParameters() + [.stateCookie(StateCookieParameter(cookie: ByteBuffer(repeating: 0xC0, count: 64)))]))
        h.inject(Craft.packet(from: H.serverPort, to: H.clientPort, tag: association.localTag, [.initiationAck(ack)]),
                 into: h.client, from: serverAddress)
        let echo = try #require(taps.client.sent.first)
        #expect(echo.packet.header.verificationTag == 0x7171_0002)
        #expect(echo.packet.chunks.count == 1)
        guard case .cookieEcho = echo.packet.chunks.first else { Issue.record("no COOKIE ECHO"); return }
        #expect(h.client.endpoint.state(of: id) == .cookieEchoed)
        #expect(association.peerSupportsForwardTSN)
        #expect(Self.adaptationEvents(h.client) == [], "not before the association is up")
        h.inject(Craft.packet(from: H.serverPort, to: H.clientPort, tag: association.localTag, [.cookieAck(CookieAckChunk())]),
                 into: h.client, from: serverAddress)
        #expect(h.client.endpoint.state(of: id) == .established)
        #expect(Self.adaptationEvents(h.client) == [adaptationCodePoint])
    }

    @Test("both ends announce their adaptation indication (SCTP_ADAPTATION_LAYER) and each reports the other's; none without one")
    func adaptationBothWays() throws {
        var client = SCTPConfiguration()
        client.adaptationLayerIndication = 0xAAAA_0001
        var server = SCTPConfiguration()
        server.adaptationLayerIndication = 0xBBBB_0002
        let h = H(seed: 73, clientConfiguration: client, serverConfiguration: server)
        _ = try h.establish()
        #expect(Self.adaptationEvents(h.client) == [0xBBBB_0002])
        #expect(Self.adaptationEvents(h.server) == [0xAAAA_0001])

        let plain = H(seed: 74, serverConfiguration: server)
        _ = try plain.establish()
        #expect(Self.adaptationEvents(plain.client) == [0xBBBB_0002])
        #expect(Self.adaptationEvents(plain.server) == [], "the client announced none")
    }

    @Test("with PR-SCTP off, the peer's Forward-TSN-Supported is reported (RFC 3758 §3.3.1) and not used")
    func forwardTSNSupportedReportedWhenOff() throws {
        var off = SCTPConfiguration()
        off.partialReliability = false
        let h = H(seed: 72, serverConfiguration: off)
        let taps = h.tap()
        let ids = try h.establish()
        let ack = try #require(taps.server.sent.lazy.compactMap { entry -> InitAckChunk? in
            if case .initiationAck(let ack) = entry.packet.chunks.first { ack } else { nil }
        }.first)
        #expect(reported(ack) == [forwardTSNSupportedBytes])
        #expect(!ack.parameters.parameters.contains { if case .forwardTSNSupported = $0 { true } else { false } })
        #expect(try !h.association(h.server, ids.server).peerSupportsForwardTSN)
        #expect(try !h.association(h.client, ids.client).peerSupportsForwardTSN)
        #expect(h.exchange(10, from: h.client, on: ids.client, to: h.server))
    }
}
