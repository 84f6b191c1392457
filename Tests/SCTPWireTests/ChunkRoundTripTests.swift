import NIOCore
import SCTPWire
import Testing

// MARK: - Shared helpers of the round-trip, malformed-input and unrecognised-item tests

/// Small helpers shared by the wire-format tests (kept in a namespace of their own).
enum WireKit {
    /// A buffer holding `bytes`.
    static func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    /// The readable bytes of a buffer.
    static func bytes(_ buffer: ByteBuffer) -> [UInt8] { Array(buffer.readableBytesView) }

    /// Bytes from hex text; whitespace and `|` are ignored.
    static func hex(_ text: String) -> [UInt8] {
        let digits = Array(text.filter(\.isHexDigit))
        precondition(digits.count % 2 == 0, "odd number of hex digits")
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
    }

    /// `count` bytes of a recognisable, non-zero pattern.
    static func pattern(_ count: Int, start: UInt8 = 0x41) -> [UInt8] {
        (0..<count).map { start &+ UInt8(truncatingIfNeeded: $0 &* 7) | 0x01 }
    }

    static func patternBuffer(_ count: Int, start: UInt8 = 0x41) -> ByteBuffer { buffer(pattern(count, start: start)) }

    /// A big-endian 16-bit field of `bytes` at `offset`.
    static func be16(_ bytes: [UInt8], _ offset: Int) -> Int { Int(bytes[offset]) << 8 | Int(bytes[offset + 1]) }

    /// The bytes of one chunk written with its trailing padding.
    static func chunkBytes(_ chunk: Chunk) -> [UInt8] {
        var b = ByteBuffer()
        chunk.write(to: &b)
        return bytes(b)
    }

    /// The bytes of one chunk written without trailing padding.
    static func unpaddedChunkBytes(_ chunk: Chunk) -> [UInt8] {
        var b = ByteBuffer()
        chunk.writeUnpadded(to: &b)
        return bytes(b)
    }

    static func parameterBytes(_ parameter: Parameter) -> [UInt8] {
        var b = ByteBuffer()
        parameter.write(to: &b)
        return bytes(b)
    }

    static func causeBytes(_ cause: ErrorCause) -> [UInt8] {
        var b = ByteBuffer()
        cause.write(to: &b)
        return bytes(b)
    }

    static let header = CommonHeader(sourcePort: 5000, destinationPort: 5001, verificationTag: 0x0102_0304)

    /// A datagram: a common header (ports 5000 → 5001, tag 0x01020304) and `chunkBytes`
    /// as given, with a correct CRC32c unless `validChecksum` is false (then the field is 0).
    static func rawPacket(_ chunkBytes: [UInt8], validChecksum: Bool = true) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeMultipleIntegers(UInt16(5000), UInt16(5001), UInt32(0x0102_0304), UInt32(0))
        b.writeBytes(chunkBytes)
        if validChecksum { PacketChecksum.store(in: &b) }
        return b
    }

    /// A bit-by-bit CRC32c (reflected polynomial 0x82F63B78), independent of the module's code.
    static func referenceCRC32c(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    /// The checksum a packet must carry: the CRC32c over it with the checksum field zeroed.
    static func referencePacketChecksum(_ packet: [UInt8]) -> UInt32 {
        var p = packet
        p[8] = 0; p[9] = 0; p[10] = 0; p[11] = 0
        return referenceCRC32c(p)
    }

    /// The checksum field as stored: least significant byte first (RFC 9260 Appendix A).
    static func storedChecksum(_ packet: [UInt8]) -> UInt32 {
        UInt32(packet[8]) | UInt32(packet[9]) << 8 | UInt32(packet[10]) << 16 | UInt32(packet[11]) << 24
    }
}

/// A named sample value for parameterised tests.
struct ChunkSample: Sendable, CustomTestStringConvertible {
    var name: String
    var chunk: Chunk
    var testDescription: String { name }
}

/// Sample chunks with non-trivial field values, several per kind, covering every case of `Chunk`.
enum ChunkSamples {
    static let ipv4A = IPv4Address(192, 0, 2, 1)
    static let ipv4B = IPv4Address(198, 51, 100, 7)
    /// 2001:db8::1
    static let ipv6A = IPv6Address(high: 0x2001_0DB8_0000_0000, low: 1)
    /// 2001:db8:85a3::8a2e:370:7334
    static let ipv6B = IPv6Address(high: 0x2001_0DB8_85A3_0000, low: 0x0000_8A2E_0370_7334)

    static let initChunk = InitChunk(
        initiateTag: 0x1122_3344, advertisedReceiverWindowCredit: 0x0002_0000, outboundStreams: 10,
        inboundStreams: 0xFFFF, initialTSN: TSN(0xA0B0_C0D0),
        parameters: ParameterList([
            .ipv4Address(IPv4AddressParameter(address: ipv4A)),
            .ipv6Address(IPv6AddressParameter(address: ipv6B)),
            .supportedAddressTypes(SupportedAddressTypesParameter(addressTypes: [5, 6, 11])),
            .cookiePreservative(CookiePreservativeParameter(lifeSpanIncrement: 100_000)),
            .supportedExtensions(SupportedExtensionsParameter(chunkTypes: [0x82, 0xC0, 0x40, 0xC1, 0x80])),
            .forwardTSNSupported(ForwardTSNSupportedParameter()),
            .ecnCapable(ECNCapableParameter()),
            .random(RandomParameter(random: WireKit.patternBuffer(32))),
            .chunkList(ChunkListParameter(chunkTypes: [0x00, 0x40, 0xC1])),
            .requestedHMACAlgorithm(RequestedHMACAlgorithmParameter(hmacIdentifiers: [3, 1])),
            .zeroChecksumAcceptable(ZeroChecksumAcceptableParameter(errorDetectionMethod: 1)),
            .adaptationLayerIndication(AdaptationLayerIndicationParameter(adaptationCodePoint: 0xDEAD_BEEF)),
            .padding(PaddingParameter(paddingLength: 7)),
        ]))

    static let initAckChunk = try! InitAckChunk(
        initiateTag: 0x5566_7788, advertisedReceiverWindowCredit: 65_535, outboundStreams: 0x0100,
        inboundStreams: 0x0200, initialTSN: TSN(0xFFFF_FFF0),
        parameters: ParameterList([
            .stateCookie(StateCookieParameter(cookie: WireKit.patternBuffer(37, start: 0x10))),
            .ipv4Address(IPv4AddressParameter(address: ipv4B)),
            .unrecognizedParameter(UnrecognizedParameter(
                reporting: UnknownParameter(type: 0xFFFF, value: WireKit.buffer([0xAB, 0xCD, 0xEF])))),
            .forwardTSNSupported(ForwardTSNSupportedParameter()),
        ]))

    static var all: [ChunkSample] {
        [
            ChunkSample(name: "DATA complete+I", chunk: .data(DataChunk(
                flags: [.beginning, .ending, .immediate], tsn: TSN(0xDEAD_BEEF), streamIdentifier: 0x1234,
                ssn: SSN(0xABCD), payloadProtocolIdentifier: 51, payload: ByteBuffer(string: "hello")))),
            ChunkSample(name: "DATA unordered middle fragment", chunk: .data(DataChunk(
                flags: [.unordered], tsn: TSN(0xFFFF_FFFF), streamIdentifier: 0xFFFE,
                ssn: SSN(0), payloadProtocolIdentifier: 0xFFFF_FFFF, payload: WireKit.patternBuffer(8)))),
            ChunkSample(name: "INIT", chunk: .initiation(initChunk)),
            ChunkSample(name: "INIT ACK", chunk: .initiationAck(initAckChunk)),
            ChunkSample(name: "SACK 2 gaps 1 dup", chunk: .sack(SackChunk(
                cumulativeTSNAck: TSN(0x0102_0304), advertisedReceiverWindowCredit: 0x0001_0000,
                gapAckBlocks: [GapAckBlock(start: 2, end: 5), GapAckBlock(start: 8, end: 10)],
                duplicateTSNs: [TSN(0x0102_0300)]))),
            ChunkSample(name: "SACK no gaps", chunk: .sack(SackChunk(
                cumulativeTSNAck: TSN(0xFFFF_FFFF), advertisedReceiverWindowCredit: 0))),
            ChunkSample(name: "SACK dups only", chunk: .sack(SackChunk(
                cumulativeTSNAck: TSN(7), advertisedReceiverWindowCredit: 1500,
                duplicateTSNs: [TSN(1), TSN(2), TSN(0xFFFF_FFFF)]))),
            ChunkSample(name: "HEARTBEAT", chunk: .heartbeat(HeartbeatChunk(
                info: HeartbeatInfoParameter(info: WireKit.patternBuffer(13))))),
            ChunkSample(name: "HEARTBEAT ACK", chunk: .heartbeatAck(HeartbeatAckChunk(
                info: HeartbeatInfoParameter(info: WireKit.patternBuffer(21, start: 3))))),
            ChunkSample(name: "ABORT T two causes", chunk: .abort(AbortChunk(tagFlags: .reflectedTag, causes: [
                .userInitiatedAbort(UserInitiatedAbortCause(bytes: ByteBuffer(string: "bye"))),
                .noUserData(NoUserDataCause(tsn: TSN(0x0A0B_0C0D))),
            ]))),
            ChunkSample(name: "ABORT empty", chunk: .abort(AbortChunk())),
            ChunkSample(name: "SHUTDOWN", chunk: .shutdown(ShutdownChunk(cumulativeTSNAck: TSN(0xFFFF_FFFE)))),
            ChunkSample(name: "SHUTDOWN ACK", chunk: .shutdownAck(ShutdownAckChunk())),
            ChunkSample(name: "ERROR", chunk: .error(ErrorChunk(causes: [
                .staleCookie(StaleCookieCause(staleness: 1_000_000)),
                .invalidStreamIdentifier(InvalidStreamIdentifierCause(streamIdentifier: 0x0101)),
                .unrecognizedChunkType(UnrecognizedChunkTypeCause(
                    chunk: UnknownChunk(type: 0xFF, flags: 0x11, value: WireKit.buffer([1, 2, 3])))),
                .missingMandatoryParameter(MissingMandatoryParameterCause(missingParameterTypes: [7])),
            ]))),
            ChunkSample(name: "COOKIE ECHO", chunk: .cookieEcho(CookieEchoChunk(cookie: WireKit.patternBuffer(37, start: 0x10)))),
            ChunkSample(name: "COOKIE ACK", chunk: .cookieAck(CookieAckChunk())),
            ChunkSample(name: "ECNE", chunk: .ecne(ECNEChunk(lowestTSN: TSN(0x8000_0001)))),
            ChunkSample(name: "ECNE 8-byte form", chunk: .ecne(ECNEChunk(lowestTSN: TSN(7), numberOfPacketsSeen: 3))),
            ChunkSample(name: "CWR", chunk: .cwr(CWRChunk(lowestTSN: TSN(0x8000_0001)))),
            ChunkSample(name: "SHUTDOWN COMPLETE T", chunk: .shutdownComplete(ShutdownCompleteChunk(tagFlags: .reflectedTag))),
            ChunkSample(name: "SHUTDOWN COMPLETE", chunk: .shutdownComplete(ShutdownCompleteChunk())),
            ChunkSample(name: "AUTH", chunk: .auth(AuthChunk(
                sharedKeyIdentifier: 0x0102, hmacIdentifier: RequestedHMACAlgorithmParameter.sha256,
                hmac: WireKit.patternBuffer(32, start: 0x80)))),
            ChunkSample(name: "I-DATA first fragment", chunk: .iData(IDataChunk(
                flags: [.beginning], tsn: TSN(0x10), streamIdentifier: 3, mid: MID(0xFFFF_FFFF),
                ppidOrFSN: 53, payload: WireKit.buffer([1, 2, 3, 4, 5, 6])))),
            ChunkSample(name: "I-DATA last unordered fragment", chunk: .iData(IDataChunk(
                flags: [.ending, .unordered], tsn: TSN(0x11), streamIdentifier: 0xFFFF, mid: MID(2),
                ppidOrFSN: 9, payload: WireKit.buffer([0xEE])))),
            ChunkSample(name: "ASCONF v4", chunk: .asconf(ASCONFChunk(
                serialNumber: 0x0000_1234, address: .v4(ipv4A),
                parameters: ParameterList([
                    .addIPAddress(AddIPAddressParameter(correlationID: 1, address: .v6(ipv6A))),
                    .deleteIPAddress(DeleteIPAddressParameter(correlationID: 2, address: .v4(ipv4B))),
                    .setPrimaryAddress(SetPrimaryAddressParameter(correlationID: 3, address: .v6(ipv6A))),
                    .adaptationLayerIndication(AdaptationLayerIndicationParameter(adaptationCodePoint: 0x0102_0304)),
                ])))),
            ChunkSample(name: "ASCONF v6", chunk: .asconf(ASCONFChunk(
                serialNumber: 0xFFFF_FFFF, address: .v6(ipv6B),
                parameters: ParameterList([
                    .addIPAddress(AddIPAddressParameter(correlationID: 0xFFFF_FFFF, address: .v4(ipv4A))),
                ])))),
            ChunkSample(name: "ASCONF-ACK", chunk: .asconfAck(ASCONFAckChunk(
                serialNumber: 0x0000_1234,
                parameters: ParameterList([
                    .successIndication(SuccessIndicationParameter(correlationID: 1)),
                    .errorCauseIndication(ErrorCauseIndicationParameter(correlationID: 2, causes: [
                        .deleteLastRemainingAddress(DeleteLastRemainingAddressCause(bytes: WireKit.buffer(
                            WireKit.parameterBytes(.deleteIPAddress(DeleteIPAddressParameter(
                                correlationID: 2, address: .v4(ipv4B))))))),
                    ])),
                    .errorCauseIndication(ErrorCauseIndicationParameter(correlationID: 3, causes: [
                        .resourceShortage(ResourceShortageCause(bytes: WireKit.patternBuffer(6))),
                        .illegalASCONFAck(IllegalASCONFAckCause()),
                    ])),
                ])))),
            ChunkSample(name: "RE-CONFIG outgoing+incoming", chunk: .reconfig(ReconfigChunk(parameters: ParameterList([
                .outgoingSSNResetRequest(OutgoingSSNResetRequestParameter(
                    requestSequenceNumber: 1, responseSequenceNumber: 0xFFFF_FFFF,
                    sendersLastAssignedTSN: TSN(0x1000), streams: [1, 2, 3])),
                .incomingSSNResetRequest(IncomingSSNResetRequestParameter(requestSequenceNumber: 2, streams: [7])),
            ])))),
            ChunkSample(name: "RE-CONFIG response", chunk: .reconfig(ReconfigChunk(parameters: ParameterList([
                .reconfigurationResponse(ReconfigurationResponseParameter(
                    responseSequenceNumber: 9, result: .successPerformed,
                    sendersNextTSN: TSN(0xFFFF_FFFF), receiversNextTSN: TSN(0x0000_0001))),
            ])))),
            ChunkSample(name: "RE-CONFIG add streams", chunk: .reconfig(ReconfigChunk(parameters: ParameterList([
                .addOutgoingStreams(AddOutgoingStreamsParameter(requestSequenceNumber: 10, newStreams: 0x0100)),
                .addIncomingStreams(AddIncomingStreamsParameter(requestSequenceNumber: 11, newStreams: 0xFFFF)),
            ])))),
            ChunkSample(name: "RE-CONFIG SSN/TSN reset", chunk: .reconfig(ReconfigChunk(parameters: ParameterList([
                .ssnTSNResetRequest(SSNTSNResetRequestParameter(requestSequenceNumber: 0x8000_0000)),
            ])))),
            ChunkSample(name: "NR-SACK both lists", chunk: .nrSack(NRSackChunk(
                cumulativeTSNAck: TSN(0xFFFF_FFF0), advertisedReceiverWindowCredit: 0x0001_0000,
                gapAckBlocks: [GapAckBlock(start: 2, end: 3)],
                nonRenegableGapAckBlocks: [GapAckBlock(start: 5, end: 9), GapAckBlock(start: 12, end: 0xFFFF)],
                duplicateTSNs: [TSN(0xFFFF_FFEE)]))),
            ChunkSample(name: "NR-SACK empty", chunk: .nrSack(NRSackChunk(
                cumulativeTSNAck: TSN(1), advertisedReceiverWindowCredit: 0))),
            ChunkSample(name: "PAD 37", chunk: .pad(PadChunk(paddingLength: 37))),
            ChunkSample(name: "PAD 0", chunk: .pad(PadChunk(paddingLength: 0))),
            ChunkSample(name: "FORWARD TSN", chunk: .forwardTSN(ForwardTSNChunk(
                newCumulativeTSN: TSN(0x0000_0100),
                skippedStreams: [.init(streamIdentifier: 1, ssn: SSN(0xFFFF)), .init(streamIdentifier: 2, ssn: SSN(5))]))),
            ChunkSample(name: "FORWARD TSN no streams", chunk: .forwardTSN(ForwardTSNChunk(newCumulativeTSN: TSN(0xFFFF_FFFF)))),
            ChunkSample(name: "I-FORWARD-TSN", chunk: .iForwardTSN(IForwardTSNChunk(
                newCumulativeTSN: TSN(0x0000_0100),
                skippedMessages: [.init(streamIdentifier: 1, unordered: true, mid: MID(7)),
                                  .init(streamIdentifier: 2, unordered: false, mid: MID(0xFFFF_FFFF))]))),
            ChunkSample(name: "unknown 0xBF", chunk: .unknown(UnknownChunk(
                type: 0xBF, flags: 0xA5, value: WireKit.buffer([9, 8, 7, 6, 5])))),
        ]
    }

    /// The case of a chunk, by name. Exhaustive: a new case of `Chunk` breaks the build here
    /// until samples (and this list) cover it.
    static func caseName(_ chunk: Chunk) -> String {
        switch chunk {
        case .data: "data"
        case .initiation: "initiation"
        case .initiationAck: "initiationAck"
        case .sack: "sack"
        case .nrSack: "nrSack"
        case .heartbeat: "heartbeat"
        case .heartbeatAck: "heartbeatAck"
        case .abort: "abort"
        case .shutdown: "shutdown"
        case .shutdownAck: "shutdownAck"
        case .error: "error"
        case .cookieEcho: "cookieEcho"
        case .cookieAck: "cookieAck"
        case .ecne: "ecne"
        case .cwr: "cwr"
        case .shutdownComplete: "shutdownComplete"
        case .auth: "auth"
        case .iData: "iData"
        case .asconf: "asconf"
        case .asconfAck: "asconfAck"
        case .reconfig: "reconfig"
        case .pad: "pad"
        case .forwardTSN: "forwardTSN"
        case .iForwardTSN: "iForwardTSN"
        case .unknown: "unknown"
        }
    }

    static let caseCount = 25
}

// MARK: - Chunk round trips

@Suite("Chunk round trips")
struct ChunkRoundTripTests {
    @Test func samplesCoverEveryChunkCase() {
        let names = Set(ChunkSamples.all.map { ChunkSamples.caseName($0.chunk) })
        #expect(names.count == ChunkSamples.caseCount)
    }

    @Test(arguments: ChunkSamples.all)
    func roundTrip(_ sample: ChunkSample) throws {
        let chunk = sample.chunk
        let unpadded = WireKit.unpaddedChunkBytes(chunk)
        let padded = WireKit.chunkBytes(chunk)

        // Header: type, flags as the value says, length = unpadded size.
        #expect(unpadded[0] == chunk.type)
        #expect(WireKit.be16(unpadded, 2) == unpadded.count)
        // The padded form adds 0–3 zero bytes and nothing else.
        #expect(padded.count % 4 == 0)
        #expect(padded.count - unpadded.count < 4)
        #expect(Array(padded.prefix(unpadded.count)) == unpadded)
        #expect(padded.dropFirst(unpadded.count).allSatisfy { $0 == 0 })

        // Parse the chunk from its header fields and value.
        let direct = try Chunk(type: unpadded[0], flags: unpadded[1], value: WireKit.buffer(Array(unpadded.dropFirst(4))))
        #expect(direct == chunk)
        #expect(direct.type == chunk.type)

        // Through a whole packet.
        let packet = SCTPPacket(header: WireKit.header, chunks: [chunk])
        let wire = packet.serialized()
        #expect(wire.readableBytes == CommonHeader.size + padded.count)
        #expect(Array(WireKit.bytes(wire).dropFirst(CommonHeader.size)) == padded)
        let parsed = try SCTPPacket(parsing: wire)
        #expect(parsed.chunks == [chunk])
        #expect(!parsed.stoppedAtUnrecognizedChunk)
        // Writing the parsed packet gives the same bytes.
        #expect(WireKit.bytes(parsed.serialized()) == WireKit.bytes(wire))
    }

    @Test func allSamplesInOnePacket() throws {
        let chunks = ChunkSamples.all.map(\.chunk)
        let wire = SCTPPacket(header: WireKit.header, chunks: chunks).serialized()
        #expect(wire.readableBytes == CommonHeader.size + chunks.map { WireKit.chunkBytes($0).count }.reduce(0, +))
        let parsed = try SCTPPacket(parsing: wire)
        #expect(parsed.chunks == chunks)
        #expect(parsed.unrecognizedChunksToReport.isEmpty)  // the only unknown one is 0xBF: skip silently
        #expect(throws: WireError.chunkMustStandAlone(type: ChunkType.initiation)) { try parsed.validateBundling() }
    }

    @Test func chunkTypeCodes() {
        let expected: [String: UInt8] = [
            "data": 0, "initiation": 1, "initiationAck": 2, "sack": 3, "heartbeat": 4, "heartbeatAck": 5,
            "abort": 6, "shutdown": 7, "shutdownAck": 8, "error": 9, "cookieEcho": 10, "cookieAck": 11,
            "ecne": 12, "cwr": 13, "shutdownComplete": 14, "auth": 15, "nrSack": 16, "iData": 64, "asconfAck": 0x80,
            "reconfig": 0x82, "pad": 0x84, "forwardTSN": 0xC0, "asconf": 0xC1, "iForwardTSN": 0xC2, "unknown": 0xBF,
        ]
        for sample in ChunkSamples.all {
            #expect(sample.chunk.type == expected[ChunkSamples.caseName(sample.chunk)], "\(sample.name)")
        }
    }

    // MARK: Exact bytes (RFC layouts)

    @Test func dataChunkBytes() throws {
        // RFC 9260 §3.3.1: type 0, flags (I=8, U=4, B=2, E=1), length, TSN, SID, SSN, PPID, data.
        let chunk = Chunk.data(DataChunk(
            flags: [.beginning, .ending, .immediate], tsn: TSN(0xDEAD_BEEF), streamIdentifier: 0x1234,
            ssn: SSN(0xABCD), payloadProtocolIdentifier: 51, payload: ByteBuffer(string: "hello")))
        let expected = WireKit.hex("""
            00 0B 00 15  DE AD BE EF  12 34 AB CD  00 00 00 33
            68 65 6C 6C 6F 00 00 00
            """)
        #expect(WireKit.chunkBytes(chunk) == expected)
        #expect(WireKit.unpaddedChunkBytes(chunk) == Array(expected.prefix(21)))
        let parsed = try SCTPPacket(parsing: WireKit.rawPacket(expected))
        #expect(parsed.chunks == [chunk])
        guard case .data(let data) = parsed.chunks[0] else { Issue.record("not DATA"); return }
        #expect(data.dataFlags == [.beginning, .ending, .immediate])
        #expect(data.tsn == TSN(0xDEAD_BEEF))
        #expect(data.streamIdentifier == 0x1234)
        #expect(data.ssn == SSN(0xABCD))
        #expect(data.payloadProtocolIdentifier == 51)
        #expect(String(buffer: data.payload) == "hello")
    }

    @Test func dataFlagBits() throws {
        #expect(DataFlags.ending.rawValue == 0x01)
        #expect(DataFlags.beginning.rawValue == 0x02)
        #expect(DataFlags.unordered.rawValue == 0x04)
        #expect(DataFlags.immediate.rawValue == 0x08)
        #expect(DataFlags.complete.rawValue == 0x03)
        let chunk = Chunk.data(DataChunk(flags: [.unordered], tsn: TSN(1), streamIdentifier: 0, ssn: SSN(0),
                                         payloadProtocolIdentifier: 0, payload: WireKit.buffer([0xFF])))
        #expect(WireKit.chunkBytes(chunk)[1] == 0x04)
    }

    @Test func sackWithTwoGapBlocksAndOneDuplicate() throws {
        // RFC 9260 §3.3.4: cum TSN ack, a_rwnd, #gap blocks, #dup TSNs, gap blocks (start, end), dup TSNs.
        let chunk = Chunk.sack(SackChunk(
            cumulativeTSNAck: TSN(0x0102_0304), advertisedReceiverWindowCredit: 0x0001_0000,
            gapAckBlocks: [GapAckBlock(start: 2, end: 5), GapAckBlock(start: 8, end: 10)],
            duplicateTSNs: [TSN(0x0102_0300)]))
        let expected = WireKit.hex("""
            03 00 00 1C  01 02 03 04  00 01 00 00  00 02 00 01
            00 02 00 05  00 08 00 0A  01 02 03 00
            """)
        #expect(WireKit.chunkBytes(chunk) == expected)
        let parsed = try SCTPPacket(parsing: WireKit.rawPacket(expected))
        #expect(parsed.chunks == [chunk])
    }

    @Test func initWithPaddedParameters() throws {
        // RFC 9260 §3.3.2 with IPv4 (§3.3.2.1), Supported Extensions (RFC 5061 §4.2.7, 3 types:
        // 7 bytes, padded to 8 before the next parameter), Forward-TSN-Supported (RFC 3758)
        // and last a Chunk List (RFC 4895 §3.2) of 3 types whose padding byte is not counted.
        let chunk = Chunk.initiation(InitChunk(
            initiateTag: 0x1122_3344, advertisedReceiverWindowCredit: 0x0002_0000, outboundStreams: 10,
            inboundStreams: 0xFFFF, initialTSN: TSN(0xA0B0_C0D0),
            parameters: ParameterList([
                .ipv4Address(IPv4AddressParameter(address: IPv4Address(192, 0, 2, 1))),
                .supportedExtensions(SupportedExtensionsParameter(chunkTypes: [0x82, 0xC0, 0x40])),
                .forwardTSNSupported(ForwardTSNSupportedParameter()),
                .chunkList(ChunkListParameter(chunkTypes: [0x00, 0x03, 0xC1])),
            ])))
        let unpadded = WireKit.hex("""
            01 00 00 2F
            11 22 33 44  00 02 00 00  00 0A FF FF  A0 B0 C0 D0
            00 05 00 08  C0 00 02 01
            80 08 00 07  82 C0 40 00
            C0 00 00 04
            80 03 00 07  00 03 C1
            """)
        #expect(unpadded.count == 47)
        #expect(WireKit.unpaddedChunkBytes(chunk) == unpadded)
        #expect(WireKit.chunkBytes(chunk) == unpadded + [0])

        let wire = SCTPPacket(header: WireKit.header, chunks: [chunk]).serialized()
        let wireBytes = WireKit.bytes(wire)
        #expect(wireBytes.count == 12 + 48)
        #expect(Array(wireBytes.dropFirst(12)) == unpadded + [0])
        let parsed = try SCTPPacket(parsing: wire)
        #expect(parsed.chunks == [chunk])
        try parsed.validateBundling()

        // The same INIT without the chunk's padding byte at the end of the datagram parses too.
        #expect(try SCTPPacket(parsing: WireKit.rawPacket(unpadded)).chunks == [chunk])
        guard case .initiation(let initChunk) = parsed.chunks[0] else { Issue.record("not INIT"); return }
        #expect(initChunk.addresses == [.v4(IPv4Address(192, 0, 2, 1))])
        let extensions: [UInt8]? = initChunk.first { if case .supportedExtensions(let p) = $0 { p.chunkTypes } else { nil } }
        #expect(extensions == [0x82, 0xC0, 0x40])
    }

    @Test func initAckStateCookieAccessor() throws {
        let parsed = try SCTPPacket(parsing: SCTPPacket(header: WireKit.header, chunks: [.initiationAck(ChunkSamples.initAckChunk)]).serialized())
        guard case .initiationAck(let ack) = parsed.chunks.first else { Issue.record("not INIT ACK"); return }
        #expect(ack.stateCookie == WireKit.patternBuffer(37, start: 0x10))
        #expect(ack.addresses == [.v4(ChunkSamples.ipv4B)])
    }

    @Test func abortWithTBitAndTwoCauses() throws {
        // RFC 9260 §3.3.7: type 6, T bit 0x01; causes (§3.3.10) padded between each other,
        // the last one's padding not counted in the chunk length.
        let chunk = Chunk.abort(AbortChunk(tagFlags: .reflectedTag, causes: [
            .userInitiatedAbort(UserInitiatedAbortCause(bytes: ByteBuffer(string: "bye"))),
            .protocolViolation(ProtocolViolationCause(information: "oops!")),
        ]))
        let unpadded = WireKit.hex("""
            06 01 00 15
            00 0C 00 07  62 79 65 00
            00 0D 00 09  6F 6F 70 73 21
            """)
        #expect(WireKit.unpaddedChunkBytes(chunk) == unpadded)
        #expect(WireKit.chunkBytes(chunk) == unpadded + [0, 0, 0])
        let parsed = try SCTPPacket(parsing: WireKit.rawPacket(unpadded + [0, 0, 0]))
        #expect(parsed.chunks == [chunk])
        guard case .abort(let abort) = parsed.chunks[0] else { Issue.record("not ABORT"); return }
        #expect(abort.tagFlags == .reflectedTag)
        #expect(abort.causes.map(\.code) == [12, 13])

        // Without the T bit the flags byte is 0; reserved flag bits are not kept.
        #expect(WireKit.chunkBytes(.abort(AbortChunk(causes: []))) == [0x06, 0x00, 0x00, 0x04])
        let reserved = try SCTPPacket(parsing: WireKit.rawPacket([0x06, 0xFE, 0x00, 0x04]))
        #expect(reserved.chunks == [.abort(AbortChunk())])
    }

    @Test func fixedSizeControlChunkBytes() {
        #expect(WireKit.chunkBytes(.shutdown(ShutdownChunk(cumulativeTSNAck: TSN(0xFFFF_FFFE))))
            == WireKit.hex("07 00 00 08 FF FF FF FE"))
        #expect(WireKit.chunkBytes(.shutdownAck(ShutdownAckChunk())) == WireKit.hex("08 00 00 04"))
        #expect(WireKit.chunkBytes(.cookieAck(CookieAckChunk())) == WireKit.hex("0B 00 00 04"))
        #expect(WireKit.chunkBytes(.shutdownComplete(ShutdownCompleteChunk(tagFlags: .reflectedTag)))
            == WireKit.hex("0E 01 00 04"))
        #expect(WireKit.chunkBytes(.shutdownComplete(ShutdownCompleteChunk())) == WireKit.hex("0E 00 00 04"))
        #expect(WireKit.chunkBytes(.ecne(ECNEChunk(lowestTSN: TSN(0x8000_0001)))) == WireKit.hex("0C 00 00 08 80 00 00 01"))
        #expect(WireKit.chunkBytes(.ecne(ECNEChunk(lowestTSN: TSN(7), numberOfPacketsSeen: 3)))
            == WireKit.hex("0C 00 00 0C 00 00 00 07 00 00 00 03"))
        #expect(WireKit.chunkBytes(.cwr(CWRChunk(lowestTSN: TSN(0x0102_0304)))) == WireKit.hex("0D 00 00 08 01 02 03 04"))
    }

    @Test func heartbeatBytes() throws {
        // RFC 9260 §3.3.5: the chunk holds one Heartbeat Info TLV (type 1); its padding is not counted.
        let chunk = Chunk.heartbeat(HeartbeatChunk(info: HeartbeatInfoParameter(info: ByteBuffer(string: "ABCDE"))))
        let expected = WireKit.hex("04 00 00 0D  00 01 00 09  41 42 43 44 45 00 00 00")
        #expect(WireKit.chunkBytes(chunk) == expected)
        #expect(try SCTPPacket(parsing: WireKit.rawPacket(expected)).chunks == [chunk])
        let ack = Chunk.heartbeatAck(HeartbeatAckChunk(info: HeartbeatInfoParameter(info: ByteBuffer(string: "ABCDE"))))
        #expect(WireKit.chunkBytes(ack) == [0x05] + expected.dropFirst())
    }

    @Test func cookieEchoBytes() throws {
        let chunk = Chunk.cookieEcho(CookieEchoChunk(cookie: WireKit.buffer([1, 2, 3, 4, 5, 6, 7])))
        #expect(WireKit.chunkBytes(chunk) == WireKit.hex("0A 00 00 0B 01 02 03 04 05 06 07 00"))
    }

    @Test func iDataBytes() throws {
        // RFC 8260 §2.1: type 64, flags, length, TSN, SID, reserved, MID, PPID (B set) / FSN.
        let chunk = Chunk.iData(IDataChunk(flags: [.beginning], tsn: TSN(0x10), streamIdentifier: 3,
                                           mid: MID(0xFFFF_FFFF), ppidOrFSN: 53, payload: WireKit.buffer([1, 2, 3, 4, 5, 6])))
        let expected = WireKit.hex("""
            40 02 00 1A  00 00 00 10  00 03 00 00  FF FF FF FF  00 00 00 35
            01 02 03 04 05 06 00 00
            """)
        #expect(WireKit.chunkBytes(chunk) == expected)
        let parsed = try SCTPPacket(parsing: WireKit.rawPacket(expected))
        #expect(parsed.chunks == [chunk])
        guard case .iData(let first) = chunk else { return }
        #expect(first.payloadProtocolIdentifier == 53)
        #expect(first.fsn == FSN(0))
        let middle = IDataChunk(flags: [], tsn: TSN(0x11), streamIdentifier: 3, mid: MID(1), ppidOrFSN: 4,
                                payload: WireKit.buffer([1]))
        #expect(middle.payloadProtocolIdentifier == nil)
        #expect(middle.fsn == FSN(4))
        // The reserved field is ignored on receipt.
        var withReserved = expected
        withReserved[10] = 0xAB
        withReserved[11] = 0xCD
        #expect(try SCTPPacket(parsing: WireKit.rawPacket(withReserved)).chunks == [chunk])
    }

    @Test func forwardTSNBytes() throws {
        // RFC 3758 §3.2: new cumulative TSN, then (stream, SSN) pairs.
        let chunk = Chunk.forwardTSN(ForwardTSNChunk(
            newCumulativeTSN: TSN(0x100),
            skippedStreams: [.init(streamIdentifier: 1, ssn: SSN(0xFFFF)), .init(streamIdentifier: 2, ssn: SSN(5))]))
        let expected = WireKit.hex("C0 00 00 10  00 00 01 00  00 01 FF FF  00 02 00 05")
        #expect(WireKit.chunkBytes(chunk) == expected)
        #expect(try SCTPPacket(parsing: WireKit.rawPacket(expected)).chunks == [chunk])
    }

    @Test func iForwardTSNBytes() throws {
        // RFC 8260 §2.3.1: new cumulative TSN, then (stream, reserved|U, MID) triples.
        let chunk = Chunk.iForwardTSN(IForwardTSNChunk(
            newCumulativeTSN: TSN(0x100),
            skippedMessages: [.init(streamIdentifier: 1, unordered: true, mid: MID(7)),
                              .init(streamIdentifier: 2, unordered: false, mid: MID(0xFFFF_FFFF))]))
        let expected = WireKit.hex("""
            C2 00 00 18  00 00 01 00
            00 01 00 01  00 00 00 07
            00 02 00 00  FF FF FF FF
            """)
        #expect(WireKit.chunkBytes(chunk) == expected)
        #expect(try SCTPPacket(parsing: WireKit.rawPacket(expected)).chunks == [chunk])
        // Reserved bits next to U are ignored.
        var reserved = expected
        reserved[10] = 0xFF
        reserved[11] = 0xFE
        guard case .iForwardTSN(let parsed) = try SCTPPacket(parsing: WireKit.rawPacket(reserved)).chunks[0] else {
            Issue.record("not I-FORWARD-TSN"); return
        }
        #expect(parsed.skippedMessages[0].unordered == false)
        #expect(parsed.skippedMessages[0].mid == MID(7))
    }

    @Test func authBytes() throws {
        // RFC 4895 §4.1: type 15, shared key id, HMAC id, HMAC.
        let hmac = [UInt8](repeating: 0xAA, count: 20)
        let chunk = Chunk.auth(AuthChunk(sharedKeyIdentifier: 0x0102, hmacIdentifier: RequestedHMACAlgorithmParameter.sha1,
                                         hmac: WireKit.buffer(hmac)))
        let expected = WireKit.hex("0F 00 00 1C  01 02 00 01") + hmac
        #expect(WireKit.chunkBytes(chunk) == expected)
        #expect(try SCTPPacket(parsing: WireKit.rawPacket(expected)).chunks == [chunk])
    }

    @Test func reconfigBytes() throws {
        // RFC 6525 §3.1 chunk with the Outgoing SSN Reset Request of §4.1 (16 + 2N bytes).
        let chunk = Chunk.reconfig(ReconfigChunk(parameters: ParameterList([
            .outgoingSSNResetRequest(OutgoingSSNResetRequestParameter(
                requestSequenceNumber: 1, responseSequenceNumber: 0, sendersLastAssignedTSN: TSN(0x1000),
                streams: [1, 2, 3])),
        ])))
        let expected = WireKit.hex("""
            82 00 00 1A
            00 0D 00 16  00 00 00 01  00 00 00 00  00 00 10 00  00 01 00 02 00 03
            00 00
            """)
        #expect(WireKit.chunkBytes(chunk) == expected)
        #expect(try SCTPPacket(parsing: WireKit.rawPacket(expected)).chunks == [chunk])
    }

    @Test func asconfBytes() throws {
        // RFC 5061 §5.1.1: serial number, address parameter, then requests (§4.2.1 Add IP Address).
        let chunk = Chunk.asconf(ASCONFChunk(
            serialNumber: 1, address: .v4(IPv4Address(192, 0, 2, 1)),
            parameters: ParameterList([
                .addIPAddress(AddIPAddressParameter(correlationID: 0x11, address: .v4(IPv4Address(198, 51, 100, 7)))),
            ])))
        let expected = WireKit.hex("""
            C1 00 00 20  00 00 00 01
            00 05 00 08  C0 00 02 01
            C0 01 00 10  00 00 00 11  00 05 00 08  C6 33 64 07
            """)
        #expect(WireKit.chunkBytes(chunk) == expected)
        #expect(try SCTPPacket(parsing: WireKit.rawPacket(expected)).chunks == [chunk])

        // RFC 5061 §5.1.2: ASCONF-ACK with a Success Indication (type 0xC005).
        let ack = Chunk.asconfAck(ASCONFAckChunk(serialNumber: 1, parameters: ParameterList([
            .successIndication(SuccessIndicationParameter(correlationID: 0x11)),
        ])))
        let ackBytes = WireKit.hex("80 00 00 10  00 00 00 01  C0 05 00 08  00 00 00 11")
        #expect(WireKit.chunkBytes(ack) == ackBytes)
        #expect(try SCTPPacket(parsing: WireKit.rawPacket(ackBytes)).chunks == [ack])
    }

    @Test func padChunkBytes() throws {
        // RFC 4820 §3: type 0x84, padding data ignored on receipt, only its length kept.
        let chunk = Chunk.pad(PadChunk(paddingLength: 6))
        let expected = WireKit.hex("84 00 00 0A  00 00 00 00 00 00  00 00")
        #expect(WireKit.chunkBytes(chunk) == expected)
        var nonZero = expected
        for i in 4..<10 { nonZero[i] = 0x5A }
        #expect(try SCTPPacket(parsing: WireKit.rawPacket(nonZero)).chunks == [chunk])
    }

    @Test func errorChunkBytes() throws {
        // RFC 9260 §3.3.10: type 9, causes. Invalid Stream Identifier (§3.3.10.1) and Stale Cookie (§3.3.10.3).
        let chunk = Chunk.error(ErrorChunk(causes: [
            .invalidStreamIdentifier(InvalidStreamIdentifierCause(streamIdentifier: 0x1234)),
            .staleCookie(StaleCookieCause(staleness: 0x000F_4240)),
        ]))
        let expected = WireKit.hex("09 00 00 14  00 01 00 08 12 34 00 00  00 03 00 08 00 0F 42 40")
        #expect(WireKit.chunkBytes(chunk) == expected)
        #expect(try SCTPPacket(parsing: WireKit.rawPacket(expected)).chunks == [chunk])
    }
}

// MARK: - Whole packets and the checksum

@Suite("Packets")
struct PacketRoundTripTests {
    static let chunks: [Chunk] = [
        .data(DataChunk(flags: .complete, tsn: TSN(100), streamIdentifier: 1, ssn: SSN(2),
                        payloadProtocolIdentifier: 0x3F, payload: ByteBuffer(string: "payload bytes"))),
        .sack(SackChunk(cumulativeTSNAck: TSN(99), advertisedReceiverWindowCredit: 0x1_0000,
                        gapAckBlocks: [GapAckBlock(start: 2, end: 3)], duplicateTSNs: [TSN(97)])),
        .heartbeat(HeartbeatChunk(info: HeartbeatInfoParameter(info: WireKit.patternBuffer(9)))),
    ]

    @Test func commonHeaderAndChecksum() throws {
        let packet = SCTPPacket(header: CommonHeader(sourcePort: 0xABCD, destinationPort: 0x1234, verificationTag: 0xDEAD_BEEF),
                                chunks: Self.chunks)
        let wire = packet.serialized()
        let bytes = WireKit.bytes(wire)
        // RFC 9260 §3.1: ports and tag in network order; checksum stored least significant byte first.
        #expect(Array(bytes.prefix(8)) == [0xAB, 0xCD, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF])
        let expectedCRC = WireKit.referencePacketChecksum(bytes)
        #expect(WireKit.storedChecksum(bytes) == expectedCRC)
        #expect(PacketChecksum.stored(wire) == expectedCRC)
        #expect(PacketChecksum.compute(wire) == expectedCRC)

        let parsed = try SCTPPacket(parsing: wire)
        #expect(parsed.header.sourcePort == 0xABCD)
        #expect(parsed.header.destinationPort == 0x1234)
        #expect(parsed.header.verificationTag == 0xDEAD_BEEF)
        #expect(parsed.header.checksum == expectedCRC)
        #expect(parsed.chunks == Self.chunks)
        try parsed.validateBundling()

        // Peeking the header does not move the reader index.
        let header = try CommonHeader(peeking: wire)
        #expect(header == parsed.header)
        #expect(wire.readerIndex == 0)
    }

    @Test func flippingAnyByteBreaksTheChecksum() throws {
        let wire = SCTPPacket(header: WireKit.header, chunks: Self.chunks).serialized()
        let bytes = WireKit.bytes(wire)
        let stored = WireKit.storedChecksum(bytes)
        for index in bytes.indices {
            var mutated = bytes
            mutated[index] ^= 0x20
            let expectedStored = WireKit.storedChecksum(mutated)
            let expectedComputed = WireKit.referencePacketChecksum(mutated)
            if index >= 8 && index < 12 {
                #expect(expectedComputed == stored)  // the checksum field itself does not enter the CRC
            }
            #expect(throws: WireError.badChecksum(stored: expectedStored, computed: expectedComputed), "byte \(index)") {
                try SCTPPacket(parsing: WireKit.buffer(mutated))
            }
            #expect(throws: WireError.badChecksum(stored: expectedStored, computed: expectedComputed), "byte \(index)") {
                try SCTPPacket(parsing: WireKit.buffer(mutated), checksum: .zeroAllowed)
            }
            // Skipping verification lets it through to the chunk parsers (the header flip is harmless there).
            if index < 12 { _ = try SCTPPacket(parsing: WireKit.buffer(mutated), checksum: .skipped) }
        }
    }

    @Test func zeroChecksumMode() throws {
        let packet = SCTPPacket(header: WireKit.header, chunks: Self.chunks)
        let zero = packet.serialized(checksum: .zero)
        let bytes = WireKit.bytes(zero)
        #expect(Array(bytes[8..<12]) == [0, 0, 0, 0])
        // Apart from the checksum field it is the same packet.
        var crcBytes = WireKit.bytes(packet.serialized())
        #expect(WireKit.storedChecksum(crcBytes) != 0)
        crcBytes.replaceSubrange(8..<12, with: [0, 0, 0, 0])
        #expect(crcBytes == bytes)

        // RFC 9653: accepted only when zero is allowed.
        let computed = WireKit.referencePacketChecksum(bytes)
        #expect(throws: WireError.badChecksum(stored: 0, computed: computed)) { try SCTPPacket(parsing: zero) }
        #expect(throws: WireError.badChecksum(stored: 0, computed: computed)) { try SCTPPacket(parsing: zero, checksum: .required) }
        #expect(try SCTPPacket(parsing: zero, checksum: .zeroAllowed).chunks == Self.chunks)
        #expect(try SCTPPacket(parsing: zero, checksum: .skipped).chunks == Self.chunks)
        // A correct CRC is still accepted where zero is allowed.
        #expect(try SCTPPacket(parsing: packet.serialized(), checksum: .zeroAllowed).chunks == Self.chunks)

        // PacketChecksum.store in both modes.
        var buffer = zero
        PacketChecksum.store(in: &buffer)
        #expect(PacketChecksum.stored(buffer) == computed)
        try PacketChecksum.verify(buffer)
        PacketChecksum.store(in: &buffer, mode: .zero)
        #expect(PacketChecksum.stored(buffer) == 0)
        #expect(throws: WireError.badChecksum(stored: 0, computed: computed)) { try PacketChecksum.verify(buffer) }
        try PacketChecksum.verify(buffer, .zeroAllowed)
    }

    @Test func skippedVerificationAcceptsAWrongChecksum() throws {
        var bytes = WireKit.bytes(SCTPPacket(header: WireKit.header, chunks: Self.chunks).serialized())
        bytes[8] ^= 0xFF
        #expect(try SCTPPacket(parsing: WireKit.buffer(bytes), checksum: .skipped).chunks == Self.chunks)
    }

    @Test func writingAfterExistingBytes() throws {
        let packet = SCTPPacket(header: WireKit.header, chunks: Self.chunks)
        let reference = WireKit.bytes(packet.serialized())

        // Bytes already written before the packet.
        var buffer = ByteBuffer(bytes: [1, 2, 3, 4, 5])
        packet.write(to: &buffer)
        #expect(Array(WireKit.bytes(buffer).dropFirst(5)) == reference)

        // Some bytes written and already read.
        var consumed = ByteBuffer(bytes: [9, 9, 9, 9, 9, 9, 9, 9])
        consumed.moveReaderIndex(forwardBy: 3)
        packet.write(to: &consumed)
        #expect(Array(WireKit.bytes(consumed).dropFirst(5)) == reference)

        // Parsing a datagram that starts after the buffer's reader index.
        consumed.moveReaderIndex(forwardBy: 5)
        #expect(try SCTPPacket(parsing: consumed).chunks == Self.chunks)
    }

    @Test func payloadsAreSlicesOfTheDatagram() throws {
        let idata = Chunk.iData(IDataChunk(flags: .complete, tsn: TSN(1), streamIdentifier: 0, mid: MID(0),
                                           ppidOrFSN: 0, payload: ByteBuffer(string: "interleaved")))
        let cookie = Chunk.cookieEcho(CookieEchoChunk(cookie: WireKit.patternBuffer(24)))
        let wire = SCTPPacket(header: WireKit.header, chunks: [Self.chunks[0], idata, cookie]).serialized()
        let parsed = try SCTPPacket(parsing: wire)
        #expect(parsed.chunks == [Self.chunks[0], idata, cookie])
        guard case .data(let data) = parsed.chunks[0], case .iData(let iData) = parsed.chunks[1],
              case .cookieEcho(let echo) = parsed.chunks[2]
        else { Issue.record("unexpected chunks"); return }

        let base = wire.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        func address(_ b: ByteBuffer) -> UInt { b.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } }
        // DATA: 12-byte common header, 16-byte DATA header; payload "payload bytes" (13 bytes, padded to 16).
        #expect(address(data.payload) == base + 12 + 16)
        // I-DATA follows at 12 + 32 with a 20-byte header.
        #expect(address(iData.payload) == base + 12 + 32 + 20)
        // COOKIE ECHO after the I-DATA chunk (20 + 11 = 31, padded to 32).
        #expect(address(echo.cookie) == base + 12 + 32 + 32 + 4)
        #expect(String(buffer: data.payload) == "payload bytes")
    }
}
