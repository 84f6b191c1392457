import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

@Suite("packet builder")
struct PacketBuilderTests {
    @Test("computed chunk sizes equal the written sizes")
    func sizes() {
        let info = HeartbeatInfoParameter(info: ByteBuffer(bytes: [1, 2, 3, 4, 5]))
        let chunks: [Chunk] = [
            .data(DataChunk(flags: .complete, tsn: TSN(1), streamIdentifier: 0, ssn: SSN(0), payloadProtocolIdentifier: 0,
                            payload: ByteBuffer(bytes: [1, 2, 3]))),
            .sack(SackChunk(cumulativeTSNAck: TSN(1), advertisedReceiverWindowCredit: 9,
                            gapAckBlocks: [GapAckBlock(start: 2, end: 3)], duplicateTSNs: [TSN(1), TSN(0)])),
            .shutdown(ShutdownChunk(cumulativeTSNAck: TSN(4))), .ecne(ECNEChunk(lowestTSN: TSN(1))), .cwr(CWRChunk(lowestTSN: TSN(1))),
            .shutdownAck(ShutdownAckChunk()), .cookieAck(CookieAckChunk()), .shutdownComplete(ShutdownCompleteChunk(tagFlags: .reflectedTag)),
            .cookieEcho(CookieEchoChunk(cookie: ByteBuffer(bytes: [7, 7, 7, 7, 7, 7, 7]))),
            .heartbeat(HeartbeatChunk(info: info)), .heartbeatAck(HeartbeatAckChunk(info: info)),
            .error(ErrorChunk(causes: [.protocolViolation(ProtocolViolationCause(information: "x"))])),
        ]
        for chunk in chunks {
            var buffer = ByteBuffer()
            chunk.write(to: &buffer)
            if case .error = chunk {
                #expect(chunk.computedSize == nil, "a variable control chunk is measured by writing it")
            } else {
                #expect(chunk.computedSize == buffer.readableBytes, "\(chunk)")
            }
        }
    }

    @Test("a control chunk measured by writing it goes into the current packet when it fits, else starts the next one")
    func measuredChunks() throws {
        let header = CommonHeader(sourcePort: 1, destinationPort: 2, verificationTag: 3)
        let address = IPAddress.v4(IPv4Address(127, 0, 0, 1))
        func abort(_ bytes: Int) -> Chunk {
            .abort(AbortChunk(causes: [.userInitiatedAbort(UserInitiatedAbortCause(bytes: ByteBuffer(repeating: 0x61, count: bytes)))]))
        }
        func written(_ chunk: Chunk) -> Int {
            var buffer = ByteBuffer()
            chunk.write(to: &buffer)
            return buffer.readableBytes
        }
        var builder = PacketBuilder(header: header, mtu: 200, destination: address, checksum: .crc32c)
        builder.initialCapacity = 64
        let small = abort(20)
        let large = abort(150)
        builder.add(small)
        builder.add(small)   // fits: same packet
        builder.add(large)   // does not fit after the two: the next packet
        builder.add(.cookieAck(CookieAckChunk()))
        let packets = builder.finish()
        #expect(packets.count == 2)
        #expect(packets.map(\.datagram.readableBytes) == [CommonHeader.size + 2 * written(small),
                                                          CommonHeader.size + written(large) + 4])
        for packet in packets {
            let parsed = try SCTPPacket(parsing: packet.datagram)
            #expect(parsed.header.verificationTag == header.verificationTag)
        }
        #expect(try SCTPPacket(parsing: packets[0].datagram).chunks == [small, small])
        #expect(try SCTPPacket(parsing: packets[1].datagram).chunks == [large, .cookieAck(CookieAckChunk())])
    }

    // MARK: AUTH (RFC 4895 §6.2)

    static let header = CommonHeader(sourcePort: 1, destinationPort: 2, verificationTag: 3)
    static let address = IPAddress.v4(IPv4Address(127, 0, 0, 1))

    /// A builder whose packets authenticate `types` with HMAC-SHA-1 (a 28-byte AUTH chunk).
    static func authenticatingBuilder(mtu: Int, types: [UInt8], algorithm: SCTPHMACAlgorithm = .sha1)
        -> (PacketBuilder, AuthMAC) {
        let mac = AuthMAC(algorithm: algorithm, key: Array("association key".utf8))
        var builder = PacketBuilder(header: header, mtu: mtu, destination: address, checksum: .crc32c)
        builder.authenticator = PacketAuthenticator(chunks: ChunkTypeSet(types), keyID: 4, mac: mac)
        return (builder, mac)
    }

    /// The byte offset of each chunk of a packet (after its common header), in order.
    static func chunkOffsets(_ datagram: ByteBuffer) -> [Int] {
        var offsets: [Int] = []
        var offset = CommonHeader.size
        while offset + 4 <= datagram.readableBytes, offsets.count < 64 {
            offsets.append(offset)
            let length = Int(datagram.getInteger(at: datagram.readerIndex + offset + 2, as: UInt16.self) ?? 0)
            guard length >= 4 else { break }
            offset += (length + 3) & ~3
        }
        return offsets
    }

    /// Whether a packet's AUTH chunk (if any) carries the right MAC over itself and what follows.
    static func macIsValid(_ datagram: ByteBuffer, _ mac: AuthMAC) throws -> Bool {
        let chunks = try SCTPPacket(parsing: datagram).chunks
        guard let index = chunks.firstIndex(where: { $0.type == ChunkType.auth }) else { return false }
        let offset = chunkOffsets(datagram)[index]
        let region = try #require(datagram.getSlice(at: datagram.readerIndex + offset, length: datagram.readableBytes - offset))
        return mac.verify(region)
    }

    static func dataChunk(_ tsn: UInt32, payload: Int) -> DataChunk {
        DataChunk(flags: .complete, tsn: TSN(tsn), streamIdentifier: 0, ssn: SSN(0), payloadProtocolIdentifier: 0,
                  payload: ByteBuffer(repeating: UInt8(truncatingIfNeeded: tsn), count: payload))
    }

    @Test("AUTH: the AUTH chunk goes just before the first chunk the peer wants authenticated, its MAC right, the packet within the MTU")
    func authPlacedAndSigned() throws {
        for algorithm in SCTPHMACAlgorithm.allCases {
            var (builder, mac) = Self.authenticatingBuilder(mtu: 1200, types: [ChunkType.sack, ChunkType.data], algorithm: algorithm)
            builder.add(.cookieAck(CookieAckChunk()))
            builder.add(.sack(SackChunk(cumulativeTSNAck: TSN(9), advertisedReceiverWindowCredit: 1000, gapAckBlocks: [], duplicateTSNs: [])))
            builder.add(Self.dataChunk(1, payload: 100), size: Self.dataChunk(1, payload: 100).encodedSize)
            let packets = builder.finish()
            #expect(packets.count == 1)
            let datagram = try #require(packets.first).datagram
            #expect(try SCTPPacket(parsing: datagram).chunks.map(\.type)
                    == [ChunkType.cookieAck, ChunkType.auth, ChunkType.sack, ChunkType.data])
            #expect(datagram.readableBytes == CommonHeader.size + 4 + (8 + algorithm.macLength) + 16 + 116)
            #expect(try Self.macIsValid(datagram, mac), "\(algorithm)")
            #expect(try SCTPPacket(parsing: datagram).chunks.contains { if case .auth(let a) = $0 { a.sharedKeyIdentifier == 4 && a.hmacIdentifier == algorithm.rawValue } else { false } })
        }
    }

    @Test("AUTH: a chunk that does not fit after an AUTH chunk starts a packet with its own AUTH chunk; every packet is signed and within the MTU")
    func authInEveryPacket() throws {
        let mtu = 300
        var (builder, mac) = Self.authenticatingBuilder(mtu: mtu, types: [ChunkType.data, ChunkType.heartbeatAck])
        // 12 + 28 + 2 * 116 = 272: a third DATA chunk does not fit (retransmissions are added
        // like this, without the caller closing the packet).
        for tsn in 1...5 { builder.add(Self.dataChunk(UInt32(tsn), payload: 100), size: Self.dataChunk(UInt32(tsn), payload: 100).encodedSize) }
        // A measured control chunk that needs AUTH and does not fit after the DATA either.
        let info = HeartbeatInfoParameter(info: ByteBuffer(repeating: 9, count: 200))
        builder.add(.heartbeatAck(HeartbeatAckChunk(info: info)))
        builder.add(.error(ErrorChunk(causes: [.protocolViolation(ProtocolViolationCause(information: String(repeating: "x", count: 230)))])))
        let packets = builder.finish()
        #expect(packets.count == 5)
        for packet in packets {
            let types = try SCTPPacket(parsing: packet.datagram).chunks.map(\.type)
            #expect(packet.datagram.readableBytes <= mtu, "\(types)")
            if types.contains(ChunkType.data) || types.contains(ChunkType.heartbeatAck) {
                #expect(types.first == ChunkType.auth, "\(types)")
                #expect(try Self.macIsValid(packet.datagram, mac))
            } else {
                #expect(!types.contains(ChunkType.auth), "\(types)")
            }
        }
        #expect(try packets.map { try SCTPPacket(parsing: $0.datagram).chunks.map(\.type) } == [
            [ChunkType.auth, ChunkType.data, ChunkType.data], [ChunkType.auth, ChunkType.data, ChunkType.data],
            [ChunkType.auth, ChunkType.data], [ChunkType.auth, ChunkType.heartbeatAck], [ChunkType.error],
        ])
    }

    @Test("AUTH: a HEARTBEAT ACK that fits the MTU only without AUTH goes alone, signed, larger than the MTU; nothing is bundled with it")
    func oversizedAuthenticatedChunk() throws {
        let mtu = 300
        var (builder, mac) = Self.authenticatingBuilder(mtu: mtu, types: [ChunkType.heartbeatAck, ChunkType.sack])
        // The peer's HEARTBEAT filled the MTU: its ACK, as large, does not fit with AUTH.
        let info = HeartbeatInfoParameter(info: ByteBuffer(repeating: 5, count: mtu - CommonHeader.size - 8))
        let ack = Chunk.heartbeatAck(HeartbeatAckChunk(info: info))
        builder.add(.shutdownAck(ShutdownAckChunk()))
        builder.add(ack)
        builder.add(.sack(SackChunk(cumulativeTSNAck: TSN(9), advertisedReceiverWindowCredit: 1000, gapAckBlocks: [], duplicateTSNs: [])))
        let packets = builder.finish()
        #expect(try packets.map { try SCTPPacket(parsing: $0.datagram).chunks.map(\.type) } == [
            [ChunkType.shutdownAck], [ChunkType.auth, ChunkType.heartbeatAck], [ChunkType.auth, ChunkType.sack],
        ])
        #expect(packets.count == 3)
        guard packets.count == 3 else { return }
        #expect(packets[1].datagram.readableBytes == mtu + 28)
        #expect(packets[0].datagram.readableBytes <= mtu && packets[2].datagram.readableBytes <= mtu)
        #expect(try Self.macIsValid(packets[1].datagram, mac))
        #expect(try Self.macIsValid(packets[2].datagram, mac))
    }
}
