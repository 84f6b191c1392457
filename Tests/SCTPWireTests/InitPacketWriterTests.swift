import NIOCore
import SCTPWire
import Testing

/// `InitPacketWriter` writes the bytes `SCTPPacket.serialized` makes of the same INIT or
/// INIT ACK, however its parameters are split between prepared bytes, values and values
/// written in place, and whatever their lengths (padding between parameters, not after the
/// last one; the chunk padded in the packet).
@Suite struct InitPacketWriterTests {
    static let header = CommonHeader(sourcePort: 5001, destinationPort: 5002, verificationTag: 0xCAFE_F00D)

    /// Parameters of every length modulo 4, in an order that puts unaligned ones between others.
    static let parameters: [Parameter] = [
        .supportedExtensions(SupportedExtensionsParameter(chunkTypes: [0x82, 0xC0, 0x40, 0xC1, 0x80])),  // 9 bytes
        .forwardTSNSupported(ForwardTSNSupportedParameter()),  // 4
        .ipv4Address(IPv4AddressParameter(address: IPv4Address(192, 0, 2, 1))),  // 8
        .random(RandomParameter(random: WireKit.patternBuffer(32))),  // 36
        .chunkList(ChunkListParameter(chunkTypes: [0x00, 0x40, 0xC1])),  // 7
        .requestedHMACAlgorithm(RequestedHMACAlgorithmParameter(hmacIdentifiers: [3, 1])),  // 8
        .stateCookie(StateCookieParameter(cookie: WireKit.patternBuffer(37, start: 0x10))),  // 41
        .unrecognizedParameter(UnrecognizedParameter(
            reporting: UnknownParameter(type: 0xFFFF, value: WireKit.buffer([0xAB, 0xCD, 0xEF])))),  // 11
        .adaptationLayerIndication(AdaptationLayerIndicationParameter(adaptationCodePoint: 0xDEAD_BEEF)),  // 8
        .padding(PaddingParameter(paddingLength: 6)),  // 10
    ]

    static func reference(chunkType: UInt8, _ parameters: [Parameter], checksum: ChecksumMode) throws -> [UInt8] {
        let list = ParameterList(parameters)
        let chunk: Chunk = chunkType == InitChunk.chunkType
            ? .initiation(InitChunk(initiateTag: 0x1122_3344, advertisedReceiverWindowCredit: 0x0002_0000, outboundStreams: 10,
                                    inboundStreams: 0xFFFF, initialTSN: TSN(0xA0B0_C0D0), parameters: list))
            : .initiationAck(try InitAckChunk(initiateTag: 0x1122_3344, advertisedReceiverWindowCredit: 0x0002_0000,
                                              outboundStreams: 10, inboundStreams: 0xFFFF, initialTSN: TSN(0xA0B0_C0D0),
                                              parameters: list))
        return WireKit.bytes(SCTPPacket(header: header, chunks: [chunk]).serialized(checksum: checksum))
    }

    /// Writes `parameters` with the first `preparedCount` as prepared bytes, the State Cookie
    /// in place, the rest as values.
    static func written(chunkType: UInt8, _ parameters: [Parameter], preparedCount: Int, checksum: ChecksumMode) -> [UInt8] {
        var writer = InitPacketWriter(header: header, chunkType: chunkType, initiateTag: 0x1122_3344,
                                      advertisedReceiverWindowCredit: 0x0002_0000, outboundStreams: 10, inboundStreams: 0xFFFF,
                                      initialTSN: TSN(0xA0B0_C0D0), capacity: 16)
        var prepared = ByteBuffer()
        ParameterList(Array(parameters.prefix(preparedCount))).write(to: &prepared)
        writer.appendPrepared(prepared)
        for parameter in parameters.dropFirst(preparedCount) {
            if case .stateCookie(let cookie) = parameter {
                writer.appendParameter(type: StateCookieParameter.parameterType) { $0.writeImmutableBuffer(cookie.cookie) }
            } else {
                writer.append(parameter)
            }
        }
        return WireKit.bytes(writer.finish(checksum: checksum))
    }

    @Test(arguments: [InitChunk.chunkType, InitAckChunk.chunkType])
    func sameBytesAsThePacketSerializer(chunkType: UInt8) throws {
        let all = Self.parameters.filter { chunkType == InitAckChunk.chunkType || !($0.isStateCookie) }
        // Every prefix and suffix of the list, so that each parameter length ends the chunk
        // and each starts after prepared bytes of each length.
        for start in 0...all.count {
            for end in start...all.count {
                let parameters = Array(all[start..<end])
                if chunkType == InitAckChunk.chunkType && !parameters.contains(where: \.isStateCookie) { continue }
                for preparedCount in 0...parameters.count {
                    for checksum in [ChecksumMode.crc32c, .zero] {
                        let expected = try Self.reference(chunkType: chunkType, parameters, checksum: checksum)
                        let actual = Self.written(chunkType: chunkType, parameters, preparedCount: preparedCount, checksum: checksum)
                        #expect(actual == expected, "parameters \(start)..<\(end), \(preparedCount) prepared, \(checksum)")
                    }
                }
            }
        }
    }

    @Test func writtenPacketParsesBack() throws {
        let bytes = Self.written(chunkType: InitAckChunk.chunkType, Self.parameters, preparedCount: 3, checksum: .crc32c)
        let packet = try SCTPPacket(parsing: ByteBuffer(bytes: bytes), checksum: .required)
        guard case .initiationAck(let ack) = packet.chunks.first else {
            Issue.record("not an INIT ACK")
            return
        }
        #expect(packet.chunks.count == 1)
        #expect(ack.parameters.parameters == Self.parameters)
        #expect(ack.stateCookie == WireKit.patternBuffer(37, start: 0x10))
    }
}

extension Parameter {
    fileprivate var isStateCookie: Bool { if case .stateCookie = self { true } else { false } }
}
