import NIOCore
@testable import SCTPCore
import SCTPWire
import Testing

/// The INIT and INIT ACK parameters are read in place (`ParameterList` keeps the chunk's
/// bytes, `PeerInitParameters` reads them in one pass) and a lone COOKIE ECHO is written
/// straight from the cookie's bytes: malformed parameters are refused as before (the packet is
/// dropped, RFC 9260 §3.2.1 asks nothing else of a parameter that cannot be read), and the
/// answers RFC 9260 asks for come out exactly.
@Suite("INIT and INIT ACK parameters read in place")
struct InPlaceInitParametersTests {
    static let clientAddress = IPAddress.v4(IPv4Address(10, 0, 0, 1))
    static let serverAddress = IPAddress.v4(IPv4Address(10, 0, 0, 2))
    static let clientPort: UInt16 = 4000
    static let serverPort: UInt16 = 5000

    static func server(_ configuration: SCTPConfiguration = SCTPConfiguration()) -> SCTPEndpoint {
        SCTPEndpoint(configuration: configuration, localPort: serverPort, localAddresses: [serverAddress],
                     acceptsAssociations: true, random: SeededRandomSource(seed: 33), now: .zero)
    }

    static func client(_ configuration: SCTPConfiguration = SCTPConfiguration()) -> SCTPEndpoint {
        SCTPEndpoint(configuration: configuration, localPort: clientPort, localAddresses: [clientAddress],
                     random: SeededRandomSource(seed: 34), now: .zero)
    }

    static func tlv(_ type: UInt16, _ value: [UInt8], lengthField: Int? = nil) -> [UInt8] {
        let length = lengthField ?? (4 + value.count)
        return [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + value
            + [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
    }

    /// A datagram with one INIT or INIT ACK whose parameters are `parameterBytes` as given
    /// (which may be malformed), with a correct CRC32c.
    static func datagram(type: UInt8 = InitChunk.chunkType, from sourcePort: UInt16 = clientPort,
                         to destinationPort: UInt16 = serverPort, tag: UInt32 = 0,
                         initiateTag: UInt32 = 0x1234_5678, parameterBytes: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(sourcePort)
        buffer.writeInteger(destinationPort)
        buffer.writeInteger(tag)
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(type)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt16(20 + parameterBytes.count))
        buffer.writeInteger(initiateTag)
        buffer.writeInteger(UInt32(65_536))
        buffer.writeInteger(UInt16(10))
        buffer.writeInteger(UInt16(10))
        buffer.writeInteger(UInt32(1000))
        buffer.writeBytes(parameterBytes)
        while buffer.readableBytes % 4 != 0 { buffer.writeInteger(UInt8(0)) }
        let crc = CRC32c.checksum(buffer)
        buffer.setInteger(crc, at: 8, endianness: .little)
        return buffer
    }

    static func replies(_ endpoint: SCTPEndpoint) throws -> [SCTPPacket] {
        var packets: [SCTPPacket] = []
        while let transmit = endpoint.pollTransmit() { packets.append(try SCTPPacket(parsing: transmit.datagram)) }
        return packets
    }

    /// Parameters, each malformed as the wire layer refuses it (and as it refused them when
    /// it read every parameter as a value): a wrong length for the kind, a TLV length below 4,
    /// past the chunk, a truncated header.
    static let malformed: [(String, [UInt8])] = [
        ("IPv4 address of 3 bytes", tlv(5, [10, 0, 0])),
        ("IPv6 address of 15 bytes", tlv(6, [UInt8](repeating: 1, count: 15))),
        ("empty State Cookie", tlv(7, [])),
        ("Cookie Preservative of 5 bytes", tlv(9, [0, 0, 0, 1, 0])),
        ("empty Host Name Address", tlv(11, [])),
        ("Supported Address Types of 3 bytes", tlv(12, [0, 5, 0])),
        ("ECN Capable with a value", tlv(0x8000, [0, 0, 0, 0])),
        ("Zero Checksum Acceptable of 2 bytes", tlv(0x8001, [0, 1])),
        ("empty RANDOM", tlv(0x8002, [])),
        ("HMAC-ALGO of 3 bytes", tlv(0x8004, [0, 1, 0])),
        ("Forward-TSN-Supported with a value", tlv(0xC000, [1, 2, 3, 4])),
        ("Adaptation Layer Indication of 8 bytes", tlv(0xC006, [UInt8](repeating: 0, count: 8))),
        ("a TLV length of 2", tlv(0x8000, [], lengthField: 2)),
        ("a TLV length past the chunk", tlv(5, [10, 0, 0, 1], lengthField: 64)),
        ("a truncated TLV header", [0x80, 0x00]),
    ]

    @Test("a malformed parameter in an INIT: no answer, no association (each kind); well formed, the same INIT is answered")
    func malformedInit() throws {
        let ecn = Self.tlv(0x8000, [])
        for (name, bytes) in Self.malformed {
            let server = Self.server()
            server.handle(datagram: Self.datagram(parameterBytes: ecn + bytes), from: Self.clientAddress, to: Self.serverAddress,
                          now: .zero)
            #expect(try Self.replies(server).isEmpty, "\(name)")
            #expect(server.associationIDs.isEmpty, "\(name)")
        }
        let server = Self.server()
        server.handle(datagram: Self.datagram(parameterBytes: ecn + Self.tlv(5, [10, 0, 0, 9])), from: Self.clientAddress,
                      to: Self.serverAddress, now: .zero)
        let replies = try Self.replies(server)
        guard replies.count == 1, case .initiationAck(let ack) = replies[0].chunks.first else {
            Issue.record("no INIT ACK: \(replies)")
            return
        }
        #expect(replies[0].header.verificationTag == 0x1234_5678)
        #expect(ack.stateCookie != nil)
    }

    @Test("after an unknown parameter of type 00 or 01 nothing more is read (a malformed one neither); 01 is reported, 00 not")
    func stopTypes() throws {
        let broken = Self.tlv(5, [10, 0, 0])
        for (type, reported) in [(UInt16(0x3FFF), false), (0x7FFF, true)] {
            let unknown = Self.tlv(type, [0xAB, 0xCD])
            let server = Self.server()
            server.handle(datagram: Self.datagram(parameterBytes: unknown + broken), from: Self.clientAddress,
                          to: Self.serverAddress, now: .zero)
            let replies = try Self.replies(server)
            guard replies.count == 1, case .initiationAck(let ack) = replies[0].chunks.first else {
                Issue.record("no INIT ACK for \(type): \(replies)")
                continue
            }
            let reports = ack.parameters.parameters.compactMap {
                if case .unrecognizedParameter(let p) = $0 { Array(p.parameter.readableBytesView) } else { nil }
            }
            #expect(reports == (reported ? [Array(unknown.prefix(6))] : []), "type \(type)")
        }
    }

    @Test("a Host Name Address in an INIT: ABORT with Unresolvable Address carrying the parameter as sent, under the INIT's tag")
    func hostNameInInit() throws {
        let hostName = Self.tlv(11, Array("peer.example\0".utf8))
        let server = Self.server()
        server.handle(datagram: Self.datagram(parameterBytes: Self.tlv(0x8000, []) + hostName), from: Self.clientAddress,
                      to: Self.serverAddress, now: .zero)
        let replies = try Self.replies(server)
        #expect(replies.count == 1)
        #expect(replies.first?.header.verificationTag == 0x1234_5678)
        guard case .abort(let abort) = replies.first?.chunks.first, case .unresolvableAddress(let cause) = abort.causes.first else {
            Issue.record("no ABORT with Unresolvable Address: \(replies)")
            return
        }
        #expect(Array(cause.bytes.readableBytesView) == Array(hostName.prefix(4 + 13)))
        #expect(server.associationIDs.isEmpty)
    }

    @Test("an INIT's AUTH parameters read in place: a RANDOM of 16 bytes or an HMAC-ALGO without SHA-1 is ABORTed as a protocol violation")
    func invalidAuthInInit() throws {
        let sha256Only = Self.tlv(0x8004, [0, 3])
        let withSHA1 = Self.tlv(0x8004, [0, 3, 0, 1])
        for (bytes, reason) in [
            (Self.tlv(0x8002, [UInt8](repeating: 1, count: 16)) + withSHA1, "AUTH: RANDOM of 16 bytes"),
            (Self.tlv(0x8002, [UInt8](repeating: 1, count: 32)) + sha256Only, "AUTH: HMAC-ALGO without SHA-1"),
        ] {
            let server = Self.server()
            server.handle(datagram: Self.datagram(parameterBytes: bytes), from: Self.clientAddress, to: Self.serverAddress, now: .zero)
            let replies = try Self.replies(server)
            guard case .abort(let abort) = replies.first?.chunks.first, case .protocolViolation(let cause) = abort.causes.first else {
                Issue.record("no ABORT: \(replies)")
                continue
            }
            #expect(String(decoding: cause.bytes.readableBytesView, as: UTF8.self) == reason)
        }
    }

    /// A client endpoint with an association in COOKIE-WAIT, its INIT taken; returns the
    /// association's local tag (the INIT's Initiate Tag).
    static func connectingClient() throws -> (SCTPEndpoint, AssociationID, UInt32) {
        let client = Self.client()
        let id = try client.connect(to: [serverAddress], port: serverPort, now: .zero)
        let sent = try Self.replies(client)
        guard case .initiation(let initChunk) = sent.first?.chunks.first else { throw CancellationError() }
        return (client, id, initChunk.initiateTag)
    }

    static let cookie: [UInt8] = (0..<45).map { UInt8($0 &* 3 &+ 1) }

    @Test("an INIT ACK with a State Cookie: the COOKIE ECHO is the packet SCTPPacket makes, sent again as it is by T1-cookie")
    func cookieEchoBytes() throws {
        let (client, id, localTag) = try Self.connectingClient()
        let peerAddress = IPAddress.v4(IPv4Address(10, 0, 0, 7))
        let parameters = Self.tlv(5, [10, 0, 0, 2]) + Self.tlv(5, [10, 0, 0, 7]) + Self.tlv(7, Self.cookie)
        client.handle(datagram: Self.datagram(type: InitAckChunk.chunkType, from: Self.serverPort, to: Self.clientPort,
                                              tag: localTag, initiateTag: 0xABCD_0001, parameterBytes: parameters),
                      from: Self.serverAddress, to: Self.clientAddress, now: .zero)
        let expected = SCTPPacket(
            header: CommonHeader(sourcePort: Self.clientPort, destinationPort: Self.serverPort, verificationTag: 0xABCD_0001),
            chunks: [.cookieEcho(CookieEchoChunk(cookie: ByteBuffer(bytes: Self.cookie)))]).serialized()
        let first = try #require(client.pollTransmit())
        #expect(first.datagram == expected)
        #expect(client.pollTransmit() == nil)
        #expect(client.state(of: id) == .cookieEchoed)
        // The addresses the INIT ACK listed, read in place, are the peer's.
        #expect(client.peerAddresses(of: id).map(\.address) == [Self.serverAddress, peerAddress])
        // T1-cookie: the same bytes again.
        let deadline = try #require(client.nextDeadline)
        client.handleTimeout(now: deadline)
        let again = try #require(client.pollTransmit())
        #expect(again.datagram == expected)
    }

    @Test("an INIT ACK with an unknown parameter of type 11: COOKIE ECHO and an ERROR reporting it, in one packet")
    func cookieEchoWithReport() throws {
        let (client, _, localTag) = try Self.connectingClient()
        let unknown = Self.tlv(0xFFFE, [1, 2, 3])
        client.handle(datagram: Self.datagram(type: InitAckChunk.chunkType, from: Self.serverPort, to: Self.clientPort,
                                              tag: localTag, initiateTag: 0xABCD_0002,
                                              parameterBytes: Self.tlv(7, Self.cookie) + unknown),
                      from: Self.serverAddress, to: Self.clientAddress, now: .zero)
        let replies = try Self.replies(client)
        #expect(replies.count == 1)
        let chunks = replies.first?.chunks ?? []
        #expect(chunks.count == 2)
        #expect(chunks.first == .cookieEcho(CookieEchoChunk(cookie: ByteBuffer(bytes: Self.cookie))))
        guard chunks.count == 2, case .error(let error) = chunks[1], case .unrecognizedParameters(let cause) = error.causes.first else {
            Issue.record("no ERROR with Unrecognized Parameters: \(chunks)")
            return
        }
        #expect(cause.bytes == UnrecognizedParametersCause(parameters: [UnknownParameter(type: 0xFFFE, value: ByteBuffer(bytes: [1, 2, 3]))]).bytes)
    }

    @Test("an INIT ACK with a Host Name Address: ABORT with Unresolvable Address under the INIT ACK's tag; the association fails")
    func hostNameInInitAck() throws {
        let (client, id, localTag) = try Self.connectingClient()
        let hostName = Self.tlv(11, Array("peer\0".utf8))
        client.handle(datagram: Self.datagram(type: InitAckChunk.chunkType, from: Self.serverPort, to: Self.clientPort,
                                              tag: localTag, initiateTag: 0xABCD_0003,
                                              parameterBytes: Self.tlv(7, Self.cookie) + hostName),
                      from: Self.serverAddress, to: Self.clientAddress, now: .zero)
        let replies = try Self.replies(client)
        #expect(replies.first?.header.verificationTag == 0xABCD_0003)
        guard case .abort(let abort) = replies.first?.chunks.first, case .unresolvableAddress(let cause) = abort.causes.first else {
            Issue.record("no ABORT with Unresolvable Address: \(replies)")
            return
        }
        #expect(Array(cause.bytes.readableBytesView) == Array(hostName.prefix(4 + 5)))
        #expect(client.state(of: id) == nil || client.state(of: id) == .closed)
    }

    @Test("an INIT ACK with a malformed parameter, or without a State Cookie, is dropped: no answer, still COOKIE-WAIT")
    func malformedInitAck() throws {
        for (name, bytes) in Self.malformed + [("no State Cookie", Self.tlv(0x8000, []))] {
            let (client, id, localTag) = try Self.connectingClient()
            let parameters = name == "no State Cookie" ? bytes : Self.tlv(7, Self.cookie) + bytes
            client.handle(datagram: Self.datagram(type: InitAckChunk.chunkType, from: Self.serverPort, to: Self.clientPort,
                                                  tag: localTag, initiateTag: 0xABCD_0004, parameterBytes: parameters),
                          from: Self.serverAddress, to: Self.clientAddress, now: .zero)
            #expect(try Self.replies(client).isEmpty, "\(name)")
            #expect(client.state(of: id) == .cookieWait, "\(name)")
        }
    }

    @Test("an INIT ACK whose AUTH parameters are invalid (RANDOM of 31 bytes): ABORT with Protocol Violation")
    func invalidAuthInInitAck() throws {
        let (client, id, localTag) = try Self.connectingClient()
        let auth = Self.tlv(0x8002, [UInt8](repeating: 9, count: 31)) + Self.tlv(0x8004, [0, 1])
        client.handle(datagram: Self.datagram(type: InitAckChunk.chunkType, from: Self.serverPort, to: Self.clientPort,
                                              tag: localTag, initiateTag: 0xABCD_0005, parameterBytes: Self.tlv(7, Self.cookie) + auth),
                      from: Self.serverAddress, to: Self.clientAddress, now: .zero)
        let replies = try Self.replies(client)
        guard case .abort(let abort) = replies.first?.chunks.first, case .protocolViolation(let cause) = abort.causes.first else {
            Issue.record("no ABORT: \(replies)")
            return
        }
        #expect(String(decoding: cause.bytes.readableBytesView, as: UTF8.self) == "AUTH: RANDOM of 31 bytes")
        #expect(client.state(of: id) == nil || client.state(of: id) == .closed)
    }
}
