import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// The INIT and the INIT ACK are written straight into their datagrams from bytes prepared once per
/// configuration (`InitPacketWriter`). Whatever the configuration, it must be the packet the
/// serializer makes of the same chunk: parameters in the order the endpoint lists them (ours,
/// AUTH's RANDOM, CHUNKS and HMAC-ALGO, the State Cookie, the reports), padded between each
/// other and not after the last, with a correct CRC32c, and its cookie must open.
@Suite("INIT and INIT ACK written from prepared bytes")
struct InitAckBytesTests {
    static let local = IPAddress.v4(IPv4Address(10, 0, 0, 1))
    static let local6 = IPAddress.v6(IPv6Address(high: 0x2001_0db8_0000_0000, low: 1))
    static let peer = IPAddress.v4(IPv4Address(10, 0, 1, 1))

    static func initPacket(_ parameters: [Parameter], tag: UInt32 = 0x5151_0001) -> ByteBuffer {
        let initChunk = InitChunk(initiateTag: tag, advertisedReceiverWindowCredit: 65_536, outboundStreams: 10,
                                  inboundStreams: 10, initialTSN: TSN(77), parameters: ParameterList(parameters))
        return SCTPPacket(header: CommonHeader(sourcePort: 5001, destinationPort: 5000, verificationTag: 0),
                          chunks: [.initiation(initChunk)]).serialized()
    }

    /// Answers `initParameters` and checks the answer; returns its parameters.
    @discardableResult
    static func checkedAnswer(_ endpoint: SCTPEndpoint, initParameters: [Parameter] = [],
                              now: SCTPInstant = .zero) throws -> [Parameter] {
        endpoint.handle(datagram: initPacket(initParameters), from: peer, to: endpoint.localAddresses[0], now: now)
        let datagram = try #require(endpoint.pollTransmit(), "no answer to the INIT").datagram
        let reply = try SCTPPacket(parsing: datagram, checksum: .required)
        guard case .initiationAck(let ack) = reply.chunks.first else { throw Failure("not an INIT ACK: \(reply.chunks)") }
        #expect(reply.chunks.count == 1)
        // The serializer's bytes for what was parsed: the same, byte for byte.
        let reserialized = SCTPPacket(header: reply.header, chunks: reply.chunks).serialized(checksum: .crc32c)
        #expect(Array(datagram.readableBytesView) == Array(reserialized.readableBytesView))
        // Our parameters first, as the endpoint lists them.
        let ours = endpoint.localInitParameters(initAck: true)
        #expect(Array(ack.parameters.parameters.prefix(ours.count)) == ours)
        let rest = Array(ack.parameters.parameters.dropFirst(ours.count))
        var index = 0
        if endpoint.configuration.announcesAuthentication {
            guard rest.count >= 2, case .random(let random) = rest[0] else { throw Failure("no RANDOM: \(rest)") }
            let vector = AuthKeyVector.local(random: Array(random.random.readableBytesView),
                                             chunkTypes: endpoint.configuration.announcedAuthenticatedChunks,
                                             hmacs: endpoint.configuration.authentication.announcedHMACAlgorithms)
            #expect(Array(rest.prefix(vector.parameters.count)) == vector.parameters)
            index = vector.parameters.count
        }
        guard index < rest.count, case .stateCookie(let cookie) = rest[index] else { throw Failure("no cookie: \(rest)") }
        guard case .valid(let opened) = endpoint.cookies.open(cookie.cookie, now: now) else {
            throw Failure("the cookie does not open")
        }
        #expect(opened.localTag == ack.initiateTag && opened.peerTag == 0x5151_0001)
        let reports = rest.dropFirst(index + 1)
        #expect(reports.allSatisfy { if case .unrecognizedParameter = $0 { true } else { false } })
        return ack.parameters.parameters
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static func endpoint(_ configuration: SCTPConfiguration = SCTPConfiguration(),
                         addresses: [IPAddress] = [local]) -> SCTPEndpoint {
        SCTPEndpoint(configuration: configuration, localPort: 5000, localAddresses: addresses, acceptsAssociations: true,
                     random: SeededRandomSource(seed: 29), now: .zero)
    }

    @Test("default configuration (AUTH announced), twice: the prepared bytes are reused")
    func defaults() throws {
        let endpoint = Self.endpoint()
        try Self.checkedAnswer(endpoint)
        try Self.checkedAnswer(endpoint)
    }

    @Test("AUTH off, several addresses of both families, zero checksum and adaptation announced")
    func manyParameters() throws {
        var configuration = SCTPConfiguration()
        configuration.authentication.enabled = false
        configuration.zeroChecksumMethod = 1
        configuration.adaptationLayerIndication = 0xDEAD_BEEF
        let parameters = try Self.checkedAnswer(Self.endpoint(configuration, addresses: [Self.local, Self.local6]))
        #expect(parameters.compactMap(\.address) == [Self.local, Self.local6])
    }

    @Test("the peer's unknown parameters are reported after the cookie, whatever their lengths")
    func reports() throws {
        let unknown: [Parameter] = [
            .unknown(UnknownParameter(type: 0xC123, value: ByteBuffer(bytes: [1, 2, 3]))),
            .unknown(UnknownParameter(type: 0x4124, value: ByteBuffer(bytes: [4, 5, 6, 7, 8]))),
        ]
        let parameters = try Self.checkedAnswer(Self.endpoint(), initParameters: unknown)
        let reported = parameters.filter { if case .unrecognizedParameter = $0 { true } else { false } }
        #expect(reported.count == 2)
    }

    @Test("an INIT of 15,000 parameters that ask for a report: the INIT ACK reports what fits in 32 KiB, and stays a valid chunk")
    func boundedReports() throws {
        let unknown = (0..<15_000).map { Parameter.unknown(UnknownParameter(type: 0xC100 | UInt16($0 % 200), value: ByteBuffer())) }
        let parameters = try Self.checkedAnswer(Self.endpoint(), initParameters: unknown)
        let reported = parameters.filter { if case .unrecognizedParameter = $0 { true } else { false } }
        // Each report: a 4-byte header around the 4-byte parameter.
        #expect(reported.count == SCTPConfiguration.maximumReportBytes / 8)
        #expect(SCTPConfiguration().initParametersToReport(ParameterList(Array(unknown.prefix(100)))).count == 100)
    }

    @Test("2,000 local IPv6 addresses and an INIT full of parameters to report: the reports stop where the INIT ACK would pass 65,535 bytes")
    func reportsStopAtTheChunkLimit() throws {
        let addresses = (1...2_000).map { IPAddress.v6(IPv6Address(high: 0x2001_0db8_0000_0000, low: UInt64($0))) }
        var configuration = SCTPConfiguration()
        configuration.authentication.enabled = false
        let endpoint = Self.endpoint(configuration, addresses: addresses)
        let unknown = (0..<15_000).map { Parameter.unknown(UnknownParameter(type: 0xC100 | UInt16($0 % 200), value: ByteBuffer())) }
        endpoint.handle(datagram: Self.initPacket(unknown), from: Self.peer, to: addresses[0], now: .zero)
        let datagram = try #require(endpoint.pollTransmit(), "no answer to the INIT").datagram
        let reply = try SCTPPacket(parsing: datagram, checksum: .required)
        guard case .initiationAck(let ack) = reply.chunks.first else { throw Failure("not an INIT ACK: \(reply.chunks)") }
        let parameters = ack.parameters.parameters
        #expect(parameters.compactMap(\.address).count == 2_000)
        let reported = parameters.filter { if case .unrecognizedParameter = $0 { true } else { false } }
        // 40,000 bytes of addresses leave room for fewer reports than the 32 KiB cap allows.
        #expect(reported.count > 1_000 && reported.count < SCTPConfiguration.maximumReportBytes / 8)
        let chunkLength = Int(try #require(datagram.getInteger(at: datagram.readerIndex + 14, as: UInt16.self)))
        // Full up to the limit: one more 8-byte report would have passed it.
        #expect(chunkLength <= 65_535 && chunkLength + 8 > 65_535, "the INIT ACK takes \(chunkLength) bytes")
    }

    @Test("a configuration change makes the prepared bytes again")
    func configurationChange() throws {
        let endpoint = Self.endpoint()
        try Self.checkedAnswer(endpoint)
        var configuration = endpoint.configuration
        configuration.adaptationLayerIndication = 7
        try configuration.authentication.addChunkType(ChunkType.heartbeat)
        endpoint.configuration = configuration
        let parameters = try Self.checkedAnswer(endpoint)
        #expect(parameters.contains { if case .adaptationLayerIndication(let p) = $0 { p.adaptationCodePoint == 7 } else { false } })
        #expect(parameters.contains { if case .chunkList(let p) = $0 { p.chunkTypes.contains(ChunkType.heartbeat) } else { false } })
    }

    @Test("an INIT collision in COOKIE-WAIT repeats our INIT's AUTH vector, also one made before a configuration change")
    func collisionKeepsTheVector() throws {
        let endpoint = Self.endpoint()
        _ = try endpoint.connect(to: [Self.peer], port: 5001, now: .zero)
        let sent = try SCTPPacket(parsing: try #require(endpoint.pollTransmit()).datagram)
        guard case .initiation(let ours) = sent.chunks.first else { throw Failure("no INIT") }
        let ourRandom = ours.parameters.parameters.first { if case .random = $0 { true } else { false } }
        var configuration = endpoint.configuration
        try configuration.authentication.addChunkType(ChunkType.heartbeat)
        endpoint.configuration = configuration
        endpoint.handle(datagram: Self.initPacket([]), from: Self.peer, to: Self.local, now: .zero)
        let datagram = try #require(endpoint.pollTransmit(), "no answer to the INIT").datagram
        let reply = try SCTPPacket(parsing: datagram, checksum: .required)
        guard case .initiationAck(let ack) = reply.chunks.first else { throw Failure("not an INIT ACK") }
        let reserialized = SCTPPacket(header: reply.header, chunks: reply.chunks).serialized(checksum: .crc32c)
        #expect(Array(datagram.readableBytesView) == Array(reserialized.readableBytesView))
        #expect(ack.initiateTag == ours.initiateTag)
        let random = ack.parameters.parameters.first { if case .random = $0 { true } else { false } }
        #expect(random != nil && random == ourRandom)
        // The vector of our INIT, not the new configuration's: no HEARTBEAT in its CHUNKS.
        let initLists = ours.parameters.parameters.filter { if case .chunkList = $0 { true } else { false } }
        let ackLists = ack.parameters.parameters.filter { if case .chunkList = $0 { true } else { false } }
        #expect(ackLists == initLists)
    }

    /// Connects and checks the INIT: the serializer's bytes for its own contents, our
    /// parameters then AUTH's; T1-init sends the same bytes again. Returns the INIT's datagram.
    @discardableResult
    static func checkedInit(_ endpoint: SCTPEndpoint) throws -> ByteBuffer {
        _ = try endpoint.connect(to: [peer], port: 5001, now: .zero)
        let transmit = try #require(endpoint.pollTransmit(), "no INIT")
        #expect(transmit.destination == peer)
        let packet = try SCTPPacket(parsing: transmit.datagram, checksum: .required)
        guard case .initiation(let chunk) = packet.chunks.first else { throw Failure("not an INIT: \(packet.chunks)") }
        #expect(packet.chunks.count == 1 && packet.header.verificationTag == 0 && packet.header.destinationPort == 5001)
        let reserialized = SCTPPacket(header: packet.header, chunks: packet.chunks).serialized(checksum: .crc32c)
        #expect(Array(transmit.datagram.readableBytesView) == Array(reserialized.readableBytesView))
        let ours = endpoint.localInitParameters()
        #expect(Array(chunk.parameters.parameters.prefix(ours.count)) == ours)
        let rest = Array(chunk.parameters.parameters.dropFirst(ours.count))
        if endpoint.configuration.announcesAuthentication {
            guard case .random(let random) = rest.first else { throw Failure("no RANDOM: \(rest)") }
            let vector = AuthKeyVector.local(random: Array(random.random.readableBytesView),
                                             chunkTypes: endpoint.configuration.announcedAuthenticatedChunks,
                                             hmacs: endpoint.configuration.authentication.announcedHMACAlgorithms)
            #expect(rest == vector.parameters)
        } else {
            #expect(rest.isEmpty)
        }
        // T1-init: the same datagram again.
        let deadline = try #require(endpoint.nextDeadline)
        endpoint.handleTimeout(now: deadline)
        let again = try #require(endpoint.pollTransmit(), "no INIT retransmitted")
        #expect(Array(again.datagram.readableBytesView) == Array(transmit.datagram.readableBytesView))
        return transmit.datagram
    }

    @Test("INIT: default configuration (AUTH announced), and AUTH off with several addresses, zero checksum, adaptation")
    func initBytes() throws {
        try Self.checkedInit(Self.endpoint())
        var configuration = SCTPConfiguration()
        configuration.authentication.enabled = false
        configuration.zeroChecksumMethod = 1
        configuration.adaptationLayerIndication = 0xDEAD_BEEF
        try Self.checkedInit(Self.endpoint(configuration, addresses: [Self.local, Self.local6]))
    }

    @Test("INIT: a configuration change makes the prepared bytes again")
    func initAfterConfigurationChange() throws {
        let endpoint = Self.endpoint()
        try Self.checkedInit(endpoint)
        var configuration = endpoint.configuration
        configuration.adaptationLayerIndication = 9
        try configuration.authentication.addChunkType(ChunkType.heartbeat)
        endpoint.configuration = configuration
        // A second association of the same endpoint (to another peer port).
        _ = try endpoint.connect(to: [Self.peer], port: 5002, now: .zero)
        let datagram = try #require(endpoint.pollTransmit()).datagram
        let packet = try SCTPPacket(parsing: datagram, checksum: .required)
        guard case .initiation(let chunk) = packet.chunks.first else { throw Failure("not an INIT") }
        #expect(chunk.parameters.parameters.contains { if case .adaptationLayerIndication(let p) = $0 { p.adaptationCodePoint == 9 } else { false } })
        #expect(chunk.parameters.parameters.contains { if case .chunkList(let p) = $0 { p.chunkTypes.contains(ChunkType.heartbeat) } else { false } })
        let reserialized = SCTPPacket(header: packet.header, chunks: packet.chunks).serialized(checksum: .crc32c)
        #expect(Array(datagram.readableBytesView) == Array(reserialized.readableBytesView))
    }
}
