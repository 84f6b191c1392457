import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// What INIT and INIT ACK carry under each `SCTPInitProfile` (issue 16 part 5): the full
/// profile announces everything (Supported Address Types in INIT, ECN), the WebRTC profile
/// only what WebRTC stacks accept (pion/sctp drops an INIT or INIT ACK with any parameter it
/// does not know), and an INIT ACK never carries Supported Address Types.
@Suite("INIT and INIT ACK parameters per profile")
struct InitProfileTests {
    static let v4 = IPAddress.v4(IPv4Address(10, 0, 0, 1))
    static let v4b = IPAddress.v4(IPv4Address(10, 0, 0, 2))
    static let v6 = IPAddress.v6(IPv6Address(high: 0x2001_0db8_0000_0000, low: 1))
    static let peer = IPAddress.v4(IPv4Address(10, 0, 1, 1))

    /// A short name per parameter, with what matters of its value.
    static func names(_ parameters: [Parameter]) -> [String] {
        parameters.map { parameter in
            switch parameter {
            case .ipv4Address, .ipv6Address: "address \(parameter.address.map { "\($0)" } ?? "?")"
            case .supportedAddressTypes(let p): "supportedAddressTypes \(p.addressTypes)"
            case .ecnCapable: "ecnCapable"
            case .forwardTSNSupported: "forwardTSNSupported"
            case .supportedExtensions(let p): "supportedExtensions \(p.chunkTypes)"
            case .zeroChecksumAcceptable(let p): "zeroChecksumAcceptable \(p.errorDetectionMethod)"
            case .adaptationLayerIndication(let p): "adaptationLayerIndication \(p.adaptationCodePoint)"
            case .stateCookie: "stateCookie"
            default: "other \(parameter.type)"
            }
        }
    }

    static func endpoint(_ configuration: SCTPConfiguration, addresses: [IPAddress]) -> SCTPEndpoint {
        SCTPEndpoint(configuration: configuration, localPort: 5000, localAddresses: addresses, acceptsAssociations: true,
                     random: SeededRandomSource(seed: 16), now: .zero)
    }

    /// The parameters of the INIT `endpoint` sends to connect.
    static func initParameters(_ endpoint: SCTPEndpoint) throws -> [Parameter] {
        _ = try endpoint.connect(to: [peer], port: 5001, now: .zero)
        let packet = try SCTPPacket(parsing: try #require(endpoint.pollTransmit()).datagram)
        guard case .initiation(let chunk) = packet.chunks.first else { throw Failure("not an INIT: \(packet.chunks)") }
        return chunk.parameters.parameters
    }

    /// The parameters of the INIT ACK `endpoint` answers a minimal INIT with.
    static func initAckParameters(_ endpoint: SCTPEndpoint, peerParameters: [Parameter] = []) throws -> [Parameter] {
        let initChunk = InitChunk(initiateTag: 0x5151_0001, advertisedReceiverWindowCredit: 65_536, outboundStreams: 10,
                                  inboundStreams: 10, initialTSN: TSN(77), parameters: ParameterList(peerParameters))
        let packet = SCTPPacket(header: CommonHeader(sourcePort: 5001, destinationPort: 5000, verificationTag: 0),
                                chunks: [.initiation(initChunk)])
        endpoint.handle(datagram: packet.serialized(), from: peer, to: endpoint.localAddresses[0], now: .zero)
        let reply = try SCTPPacket(parsing: try #require(endpoint.pollTransmit(), "no answer to the INIT").datagram)
        guard case .initiationAck(let ack) = reply.chunks.first else { throw Failure("not an INIT ACK: \(reply.chunks)") }
        return ack.parameters.parameters
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static func configuration(_ profile: SCTPInitProfile) -> SCTPConfiguration {
        var configuration = SCTPConfiguration()
        configuration.initProfile = profile
        // AUTH's parameters (a fresh RANDOM each time) are checked in AuthenticationTests.
        configuration.authentication.enabled = false
        return configuration
    }

    @Test("full profile, single-homed: INIT has Supported Address Types and ECN; INIT ACK no Supported Address Types")
    func fullSingleHomed() throws {
        let configuration = Self.configuration(.full)
        #expect(configuration.streamReconfiguration && configuration.partialReliability && configuration.ecn)
        #expect(Self.names(try Self.initParameters(Self.endpoint(configuration, addresses: [Self.v4]))) == [
            "supportedAddressTypes [5]", "ecnCapable", "forwardTSNSupported", "supportedExtensions [192, 130, 16]",
        ])
        #expect(Self.names(try Self.initAckParameters(Self.endpoint(configuration, addresses: [Self.v4]))) == [
            "ecnCapable", "forwardTSNSupported", "supportedExtensions [192, 130, 16]", "stateCookie",
        ])
    }

    @Test("WebRTC profile, single-homed: only Forward-TSN-Supported and Supported Extensions (FORWARD TSN, RE-CONFIG)")
    func webRTCSingleHomed() throws {
        var configuration = Self.configuration(.webRTC)
        configuration.ecn = true  // not announced under this profile all the same
        #expect(Self.names(try Self.initParameters(Self.endpoint(configuration, addresses: [Self.v4]))) == [
            "forwardTSNSupported", "supportedExtensions [192, 130]",
        ])
        #expect(Self.names(try Self.initAckParameters(Self.endpoint(configuration, addresses: [Self.v4]))) == [
            "forwardTSNSupported", "supportedExtensions [192, 130]", "stateCookie",
        ])
        // pion/sctp knows exactly these parameter types (and ECN Capable, Random, HMAC,
        // Chunk List, State Cookie, Heartbeat Info and the RE-CONFIG ones): nothing else.
        let pionKnows: Set<UInt16> = [0xC000, 0x8008, 0x8000, 0x8002, 0x8004, 0x8003, 7, 1, 13, 16]
        for parameter in try Self.initParameters(Self.endpoint(configuration, addresses: [Self.v6])) {
            #expect(pionKnows.contains(parameter.type), "pion/sctp would drop an INIT with \(parameter.type)")
        }
    }

    @Test("an INIT ACK never carries Supported Address Types, whatever the profile and the addresses",
          arguments: SCTPInitProfile.allCases, [[v4], [v6], [v4, v4b], [v4, v6]])
    func initAckNeverHasSupportedAddressTypes(profile: SCTPInitProfile, addresses: [IPAddress]) throws {
        let configuration = Self.configuration(profile)
        let ack = try Self.initAckParameters(Self.endpoint(configuration, addresses: addresses))
        #expect(!ack.contains { if case .supportedAddressTypes = $0 { true } else { false } })
        let initiation = try Self.initParameters(Self.endpoint(configuration, addresses: addresses))
        let types = initiation.compactMap { if case .supportedAddressTypes(let p) = $0 { p.addressTypes } else { nil } }
        if profile == .full {
            // The families of the local addresses.
            var expected: [UInt16] = []
            if addresses.contains(where: { if case .v4 = $0 { true } else { false } }) { expected.append(5) }
            if addresses.contains(where: { if case .v6 = $0 { true } else { false } }) { expected.append(6) }
            #expect(types == [expected])
        } else {
            #expect(types.isEmpty)
        }
        // Addresses are listed only by a multi-homed endpoint, in both chunks, under both profiles.
        let listed = addresses.count > 1 ? addresses : []
        #expect(initiation.compactMap(\.address) == listed)
        #expect(ack.compactMap(\.address) == listed)
    }

    @Test("Supported Extensions lists FORWARD TSN and RE-CONFIG exactly when they are switched on", arguments: SCTPInitProfile.allCases)
    func extensionsFollowConfiguration(profile: SCTPInitProfile) throws {
        func announced(partialReliability: Bool, reconfiguration: Bool) throws -> [String] {
            var configuration = Self.configuration(profile)
            configuration.partialReliability = partialReliability
            configuration.streamReconfiguration = reconfiguration
            configuration.ecn = false
            configuration.nonRenegableSacks = false
            let initiation = try Self.initParameters(Self.endpoint(configuration, addresses: [Self.v4]))
            let ack = try Self.initAckParameters(Self.endpoint(configuration, addresses: [Self.v4]))
            let names = Self.names(initiation).filter { !$0.hasPrefix("supportedAddressTypes") }
            #expect(names + ["stateCookie"] == Self.names(ack))
            return names
        }
        #expect(try announced(partialReliability: true, reconfiguration: true) == ["forwardTSNSupported", "supportedExtensions [192, 130]"])
        #expect(try announced(partialReliability: true, reconfiguration: false) == ["forwardTSNSupported", "supportedExtensions [192]"])
        #expect(try announced(partialReliability: false, reconfiguration: true) == ["supportedExtensions [130]"])
        #expect(try announced(partialReliability: false, reconfiguration: false) == [])
        // NR-SACK (type 16) with the full profile only.
        var configuration = Self.configuration(profile)
        configuration.partialReliability = false
        configuration.streamReconfiguration = false
        configuration.ecn = false
        let names = Self.names(try Self.initParameters(Self.endpoint(configuration, addresses: [Self.v4])))
            .filter { !$0.hasPrefix("supportedAddressTypes") }
        #expect(names == (profile == .full ? ["supportedExtensions [16]"] : []))
    }

    @Test("Zero Checksum Acceptable and the Adaptation Layer Indication are announced when configured", arguments: SCTPInitProfile.allCases)
    func configuredParametersAnnounced(profile: SCTPInitProfile) throws {
        var configuration = Self.configuration(profile)
        configuration.zeroChecksumMethod = ZeroChecksumAcceptableParameter.dtls
        configuration.adaptationLayerIndication = 0x0A0B_0C0D
        for parameters in [try Self.initParameters(Self.endpoint(configuration, addresses: [Self.v4])),
                           try Self.initAckParameters(Self.endpoint(configuration, addresses: [Self.v4]))] {
            let names = Self.names(parameters)
            #expect(names.contains("zeroChecksumAcceptable 1"))
            #expect(names.contains("adaptationLayerIndication \(0x0A0B_0C0D)"))
        }
    }

    @Test("under the WebRTC profile ECN is not negotiated even with a peer that announces it")
    func webRTCProfileNegotiatesNoECN() throws {
        for (clientProfile, expected) in [(SCTPInitProfile.full, true), (.webRTC, false)] {
            let h = AssociationHarness(seed: 161, clientConfiguration: Self.configuration(clientProfile),
                                       serverConfiguration: Self.configuration(.full))
            let id = try h.connect()
            #expect(h.run { AssociationHarness.upEvents(h.client).count == 1 && AssociationHarness.upEvents(h.server).count == 1 })
            let serverID = try #require(AssociationHarness.upEvents(h.server).first)
            #expect(h.client.endpoint.status(of: id)?.ecn == expected, "client \(clientProfile)")
            #expect(h.server.endpoint.status(of: serverID)?.ecn == expected, "server, client \(clientProfile)")
        }
    }

    /// pion/sctp announces PR-SCTP only with FORWARD TSN in Supported Extensions (no
    /// Forward-TSN-Supported parameter), in its INIT and its INIT ACK: both sides of ours take it.
    @Test("a peer announcing FORWARD TSN only in Supported Extensions (pion/sctp) gets PR-SCTP, as client and as server")
    func forwardTSNFromSupportedExtensions() throws {
        let pion: [Parameter] = [.supportedExtensions(SupportedExtensionsParameter(chunkTypes: [ChunkType.reconfig, ChunkType.forwardTSN]))]
        // Our server, pion's INIT.
        let h = AssociationHarness(seed: 162)
        let taps = h.tap()
        let peerAddress = h.client.addresses[0]
        let initChunk = InitChunk(initiateTag: 0x1616_0001, advertisedReceiverWindowCredit: 65_536, outboundStreams: 10,
                                  inboundStreams: 10, initialTSN: TSN(9), parameters: ParameterList(pion))
        h.inject(Craft.packet(from: AssociationHarness.clientPort, to: AssociationHarness.serverPort, tag: 0, [.initiation(initChunk)]),
                 into: h.server, from: peerAddress)
        guard case .initiationAck(let ack) = try #require(taps.server.sent.last?.packet.chunks.first) else {
            Issue.record("no INIT ACK")
            return
        }
        h.inject(Craft.packet(from: AssociationHarness.clientPort, to: AssociationHarness.serverPort, tag: ack.initiateTag,
                              [.cookieEcho(CookieEchoChunk(cookie: try #require(ack.stateCookie)))]),
                 into: h.server, from: peerAddress)
        let serverID = try #require(AssociationHarness.upEvents(h.server).first)
        #expect(try #require(h.server.endpoint.associations[serverID]).peerSupportsForwardTSN)

        // Our client, pion's INIT ACK.
        let c = AssociationHarness(seed: 163, serverListens: false)
        let clientTaps = c.tap()
        let id = try c.connect()
        guard case .initiation(let ourInit) = try #require(clientTaps.client.sent.first?.packet.chunks.first) else {
            Issue.record("no INIT")
            return
        }
        var ackParameters = pion
        ackParameters.append(.stateCookie(StateCookieParameter(cookie: ByteBuffer(bytes: [1, 2, 3, 4, 5, 6, 7, 8]))))
        let pionAck = try InitAckChunk(initiateTag: 0x1616_0002, advertisedReceiverWindowCredit: 65_536, outboundStreams: 10,
                                       inboundStreams: 10, initialTSN: TSN(99), parameters: ParameterList(ackParameters))
        c.inject(Craft.packet(from: AssociationHarness.serverPort, to: AssociationHarness.clientPort, tag: ourInit.initiateTag,
                              [.initiationAck(pionAck)]),
                 into: c.client, from: c.server.addresses[0])
        let association = try #require(c.client.endpoint.associations[id])
        #expect(association.state == .cookieEchoed)
        #expect(association.peerSupportsForwardTSN)
    }
}
