import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

// RFC 9260 §3.2.1 / §3.2.2: parameters of extensions this stack does not implement are
// unrecognised, whatever the wire layer knows about their format. usrsctp's INIT and INIT ACK
// (seen from tsctp) carry Adaptation Layer Indication (0xC006: skip and report), ECN (0x8000),
// Forward-TSN-Supported (0xC000), Supported Extensions, and AUTH's Random, HMAC and Chunk List.

private let clientAddress = IPAddress.v4(IPv4Address(10, 0, 0, 1))
private let serverAddress = IPAddress.v4(IPv4Address(10, 0, 1, 1))

/// The optional parameters of a usrsctp 0.9.5 INIT from tsctp, in its order.
private func usrsctpParameters() -> [Parameter] {
    [
        .adaptationLayerIndication(AdaptationLayerIndicationParameter(adaptationCodePoint: 0)),
        .ecnCapable(ECNCapableParameter()),
        .forwardTSNSupported(ForwardTSNSupportedParameter()),
        .supportedExtensions(SupportedExtensionsParameter(chunkTypes: [192, 15, 193, 128, 130])),
        .random(RandomParameter(random: ByteBuffer(repeating: 0x5C, count: 32))),
        .requestedHMACAlgorithm(RequestedHMACAlgorithmParameter(hmacIdentifiers: [1])),
        .chunkList(ChunkListParameter(chunkTypes: [128, 193])),
        .supportedAddressTypes(SupportedAddressTypesParameter(addressTypes: [5])),
    ]
}

/// The bytes of the Adaptation Layer Indication above, as an unrecognised parameter.
private let adaptationBytes: [UInt8] = [0xC0, 0x06, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00]
private let forwardTSNSupportedBytes: [UInt8] = [0xC0, 0x00, 0x00, 0x04]

private func reported(_ ack: InitAckChunk) -> [[UInt8]] {
    ack.parameters.parameters.compactMap {
        if case .unrecognizedParameter(let p) = $0 { Array(p.parameter.readableBytesView) } else { nil }
    }
}

@Suite("Unsupported extension parameters in INIT and INIT ACK (usrsctp's)")
struct UnsupportedParameterTests {
    typealias H = AssociationHarness

    @Test("usrsctp's INIT: the INIT ACK reports the Adaptation Layer Indication only; the association comes up")
    func initFromUsrsctp() throws {
        let h = H(seed: 70)
        let taps = h.tap()
        let initChunk = InitChunk(initiateTag: 0x7070_0001, advertisedReceiverWindowCredit: 131_072, outboundStreams: 10,
                                  inboundStreams: 2048, initialTSN: TSN(5000), parameters: ParameterList(usrsctpParameters()))
        h.inject(Craft.packet(from: H.clientPort, to: H.serverPort, tag: 0, [.initiation(initChunk)]), into: h.server,
                 from: clientAddress)
        let reply = try #require(taps.server.sent.first)
        guard case .initiationAck(let ack) = reply.packet.chunks.first else { Issue.record("no INIT ACK"); return }
        // Reported: the adaptation indication (type bits 11, not implemented). Not reported:
        // Forward-TSN-Supported (PR-SCTP is on), and the `10` types (ECN, AUTH, extensions).
        #expect(reported(ack) == [adaptationBytes])

        // The handshake completes with the cookie, and data flows.
        taps.server.forgetSent()
        let echo = Chunk.cookieEcho(CookieEchoChunk(cookie: try #require(ack.stateCookie)))
        h.inject(Craft.packet(from: H.clientPort, to: H.serverPort, tag: ack.initiateTag, [echo]), into: h.server,
                 from: clientAddress)
        #expect(taps.server.sentCount { if case .cookieAck = $0 { true } else { false } } == 1)
        #expect(H.upEvents(h.server).count == 1)
    }

    @Test("usrsctp's INIT ACK: the COOKIE ECHO goes with an ERROR reporting the Adaptation Layer Indication")
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
        #expect(echo.packet.chunks.count == 2)
        guard case .cookieEcho = echo.packet.chunks.first else { Issue.record("no COOKIE ECHO first"); return }
        guard echo.packet.chunks.count == 2, case .error(let error) = echo.packet.chunks[1],
              case .unrecognizedParameters(let cause) = error.causes.first else {
            Issue.record("no ERROR with Unrecognized Parameters after the COOKIE ECHO"); return
        }
        #expect(error.causes.count == 1)
        #expect(Array(cause.bytes.readableBytesView) == adaptationBytes)
        #expect(h.client.endpoint.state(of: id) == .cookieEchoed)
        #expect(association.peerSupportsForwardTSN)
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
