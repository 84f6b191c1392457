import NIOCore
import SCTPWire
import Testing

/// Unknown chunk types and parameter types, handled by their two high-order bits (RFC 9260 §3.2, §3.2.1).
@Suite("Unrecognized chunks and parameters")
struct UnrecognizedHandlingTests {
    // DATA: TSN 1, stream 1, SSN 0, PPID 0, payload AA (length 17, padded to 20).
    static let dataBytes = WireKit.hex("00 03 00 11  00 00 00 01  00 01 00 00  00 00 00 00  AA 00 00 00")
    static let data = Chunk.data(DataChunk(flags: .complete, tsn: TSN(1), streamIdentifier: 1, ssn: SSN(0),
                                           payloadProtocolIdentifier: 0, payload: WireKit.buffer([0xAA])))
    // SACK: cumulative TSN 1, a_rwnd 0x10000, no blocks.
    static let sackBytes = WireKit.hex("03 00 00 10  00 00 00 01  00 01 00 00  00 00 00 00")
    static let sack = Chunk.sack(SackChunk(cumulativeTSNAck: TSN(1), advertisedReceiverWindowCredit: 0x1_0000))

    /// An unknown chunk of `type` with flags 0x5A and a 3-byte value (length 7, padded to 8).
    static func unknownChunkBytes(_ type: UInt8) -> [UInt8] { [type, 0x5A, 0x00, 0x07, 0x01, 0x02, 0x03, 0x00] }
    static func unknownChunk(_ type: UInt8) -> UnknownChunk {
        UnknownChunk(type: type, flags: 0x5A, value: WireKit.buffer([1, 2, 3]))
    }

    // MARK: Chunks

    @Test func actionFromChunkTypeHighBits() {
        for type in 0...255 {
            let action = UnrecognizedAction(chunkType: UInt8(type))
            let expected: UnrecognizedAction = switch type {
            case 0x00...0x3F: .stop
            case 0x40...0x7F: .stopAndReport
            case 0x80...0xBF: .skip
            default: .skipAndReport
            }
            #expect(action == expected, "type \(type)")
        }
        #expect(!UnrecognizedAction.stop.continues && !UnrecognizedAction.stop.reports)
        #expect(!UnrecognizedAction.stopAndReport.continues && UnrecognizedAction.stopAndReport.reports)
        #expect(UnrecognizedAction.skip.continues && !UnrecognizedAction.skip.reports)
        #expect(UnrecognizedAction.skipAndReport.continues && UnrecognizedAction.skipAndReport.reports)
    }

    @Test func chunkType00StopsSilently() throws {
        let packet = try SCTPPacket(parsing: WireKit.rawPacket(Self.dataBytes + Self.unknownChunkBytes(0x3F) + Self.sackBytes))
        #expect(packet.chunks == [Self.data, .unknown(Self.unknownChunk(0x3F))])
        #expect(packet.stoppedAtUnrecognizedChunk)
        #expect(packet.unrecognizedChunksToReport.isEmpty)
    }

    @Test func chunkType01StopsAndReports() throws {
        let packet = try SCTPPacket(parsing: WireKit.rawPacket(Self.dataBytes + Self.unknownChunkBytes(0x7F) + Self.sackBytes))
        #expect(packet.chunks == [Self.data, .unknown(Self.unknownChunk(0x7F))])
        #expect(packet.stoppedAtUnrecognizedChunk)
        #expect(packet.unrecognizedChunksToReport == [Self.unknownChunk(0x7F)])
    }

    @Test func chunkType10SkipsSilently() throws {
        let bytes = Self.dataBytes + Self.unknownChunkBytes(0xBF) + Self.sackBytes
        let packet = try SCTPPacket(parsing: WireKit.rawPacket(bytes))
        #expect(packet.chunks == [Self.data, .unknown(Self.unknownChunk(0xBF)), Self.sack])
        #expect(!packet.stoppedAtUnrecognizedChunk)
        #expect(packet.unrecognizedChunksToReport.isEmpty)
        // Written back, the unknown chunk keeps its bytes: the whole packet comes out identical.
        #expect(WireKit.bytes(packet.serialized()) == WireKit.bytes(WireKit.rawPacket(bytes)))
    }

    @Test func chunkType11SkipsAndReports() throws {
        let bytes = Self.dataBytes + Self.unknownChunkBytes(0xFF) + Self.sackBytes
        let packet = try SCTPPacket(parsing: WireKit.rawPacket(bytes))
        #expect(packet.chunks == [Self.data, .unknown(Self.unknownChunk(0xFF)), Self.sack])
        #expect(!packet.stoppedAtUnrecognizedChunk)
        #expect(packet.unrecognizedChunksToReport == [Self.unknownChunk(0xFF)])
        #expect(WireKit.bytes(packet.serialized()) == WireKit.bytes(WireKit.rawPacket(bytes)))
    }

    @Test func severalReportedChunksInOrder() throws {
        let bytes = Self.unknownChunkBytes(0xC5) + Self.dataBytes + Self.unknownChunkBytes(0xA0)
            + Self.unknownChunkBytes(0xFE) + Self.unknownChunkBytes(0x45) + Self.sackBytes
        let packet = try SCTPPacket(parsing: WireKit.rawPacket(bytes))
        #expect(packet.chunks == [.unknown(Self.unknownChunk(0xC5)), Self.data, .unknown(Self.unknownChunk(0xA0)),
                                  .unknown(Self.unknownChunk(0xFE)), .unknown(Self.unknownChunk(0x45))])
        #expect(packet.stoppedAtUnrecognizedChunk)
        #expect(packet.unrecognizedChunksToReport == [Self.unknownChunk(0xC5), Self.unknownChunk(0xFE), Self.unknownChunk(0x45)])
    }

    @Test func stopMeansTheRestIsNotRead() throws {
        // Whatever follows a "stop" chunk is not even looked at: a broken header, a broken SACK.
        for type: UInt8 in [0x3F, 0x7F, 0x20, 0x41] {
            for tail in [WireKit.hex("03 00"), WireKit.hex("03 00 00 02"), WireKit.hex("07 00 00 0C 00 00 00 00 00 00 00 00")] {
                let packet = try SCTPPacket(parsing: WireKit.rawPacket(Self.unknownChunkBytes(type) + tail))
                #expect(packet.chunks == [.unknown(Self.unknownChunk(type))])
                #expect(packet.stoppedAtUnrecognizedChunk)
            }
        }
        // Whereas after a "skip" chunk they are.
        #expect(throws: WireError.truncatedChunkHeader(offset: 20, available: 2)) {
            try SCTPPacket(parsing: WireKit.rawPacket(Self.unknownChunkBytes(0xBF) + WireKit.hex("03 00")))
        }
        #expect(throws: WireError.invalidChunkLength(type: 7, length: 12)) {
            try SCTPPacket(parsing: WireKit.rawPacket(Self.unknownChunkBytes(0xFF) + WireKit.hex("07 00 00 0C 00 00 00 00 00 00 00 00")))
        }
    }

    @Test func unknownChunkKeepsItsBytes() throws {
        let cases: [(UInt8, [UInt8])] = [(0xBF, []), (0xFF, [1, 2, 3, 4]), (0x7F, Array(0..<37)), (0x3F, [0xEE])]
        for (type, value) in cases {
            let raw = [type, 0x81, 0x00, UInt8(4 + value.count)] + value
            let padded = raw + [UInt8](repeating: 0, count: (4 - raw.count % 4) % 4)
            let packet = try SCTPPacket(parsing: WireKit.rawPacket(padded))
            guard case .unknown(let unknown) = packet.chunks.first else { Issue.record("not unknown"); continue }
            #expect(unknown.type == type)
            #expect(unknown.flags == 0x81)
            #expect(WireKit.bytes(unknown.value) == value)
            #expect(WireKit.unpaddedChunkBytes(.unknown(unknown)) == raw)
            #expect(WireKit.chunkBytes(.unknown(unknown)) == padded)
            #expect(WireKit.bytes(packet.serialized()) == WireKit.bytes(WireKit.rawPacket(padded)))
        }
    }

    @Test func unrecognizedChunkTypeCauseHoldsTheChunk() throws {
        let packet = try SCTPPacket(parsing: WireKit.rawPacket(Self.dataBytes + Self.unknownChunkBytes(0x7F)))
        let reported = try #require(packet.unrecognizedChunksToReport.first)
        let cause = UnrecognizedChunkTypeCause(chunk: reported)
        // The chunk as received: type, flags, length and value; no padding.
        #expect(WireKit.bytes(cause.bytes) == WireKit.hex("7F 5A 00 07 01 02 03"))
        // In an ERROR chunk (RFC 9260 §3.3.10.6): cause 6, length 11, then the cause's and the chunk's padding.
        let error = Chunk.error(ErrorChunk(causes: [.unrecognizedChunkType(cause)]))
        #expect(WireKit.chunkBytes(error) == WireKit.hex("09 00 00 0F  00 06 00 0B  7F 5A 00 07 01 02 03 00"))
        // A 4-aligned unknown chunk with an empty value.
        let empty = UnrecognizedChunkTypeCause(chunk: UnknownChunk(type: 0xC9, flags: 0, value: ByteBuffer()))
        #expect(WireKit.bytes(empty.bytes) == WireKit.hex("C9 00 00 04"))
    }

    // MARK: Parameters

    /// Parameters: IPv4 192.0.2.1, an unknown one of `type` with 3 value bytes (padded), ECN Capable.
    static func parameterBytes(_ type: UInt16) -> [UInt8] {
        WireKit.hex("00 05 00 08 C0 00 02 01") + [UInt8(type >> 8), UInt8(type & 0xFF), 0x00, 0x07, 0x0A, 0x0B, 0x0C, 0x00]
            + WireKit.hex("80 00 00 04")
    }

    static let ipv4 = Parameter.ipv4Address(IPv4AddressParameter(address: IPv4Address(192, 0, 2, 1)))
    static let ecn = Parameter.ecnCapable(ECNCapableParameter())
    static func unknownParameter(_ type: UInt16) -> UnknownParameter {
        UnknownParameter(type: type, value: WireKit.buffer([0x0A, 0x0B, 0x0C]))
    }

    /// Parses the parameters directly and inside an INIT chunk in a packet, returning both lists.
    static func parseBothWays(_ parameterBytes: [UInt8]) throws -> [ParameterList] {
        let direct = try ParameterList(parsing: WireKit.buffer(parameterBytes))
        let packet = try SCTPPacket(parsing: WireKit.rawPacket(BrokenChunks.initChunk(parameters: parameterBytes)))
        guard case .initiation(let initChunk) = packet.chunks.first else {
            Issue.record("not INIT")
            return [direct]
        }
        return [direct, initChunk.parameters]
    }

    @Test func actionFromParameterTypeHighBits() {
        for type: UInt16 in [0x0000, 0x3FFF, 0x4000, 0x7FFF, 0x8000, 0xBFFF, 0xC000, 0xFFFF, 0x1234, 0x5678, 0x9ABC, 0xDEF0] {
            let expected: UnrecognizedAction = switch type >> 14 {
            case 0: .stop
            case 1: .stopAndReport
            case 2: .skip
            default: .skipAndReport
            }
            #expect(UnrecognizedAction(parameterType: type) == expected, "type \(type)")
            #expect(UnknownParameter(type: type, value: ByteBuffer()).action == expected)
        }
    }

    @Test func parameterType00StopsSilently() throws {
        for list in try Self.parseBothWays(Self.parameterBytes(0x3FFF)) {
            #expect(list.parameters == [Self.ipv4, .unknown(Self.unknownParameter(0x3FFF))])
            #expect(list.stoppedAtUnrecognized)
            #expect(list.unrecognizedToReport.isEmpty)
        }
    }

    @Test func parameterType01StopsAndReports() throws {
        for list in try Self.parseBothWays(Self.parameterBytes(0x7FFF)) {
            #expect(list.parameters == [Self.ipv4, .unknown(Self.unknownParameter(0x7FFF))])
            #expect(list.stoppedAtUnrecognized)
            #expect(list.unrecognizedToReport == [Self.unknownParameter(0x7FFF)])
        }
    }

    @Test func parameterType10SkipsSilently() throws {
        let bytes = Self.parameterBytes(0xBFFF)
        for list in try Self.parseBothWays(bytes) {
            #expect(list.parameters == [Self.ipv4, .unknown(Self.unknownParameter(0xBFFF)), Self.ecn])
            #expect(!list.stoppedAtUnrecognized)
            #expect(list.unrecognizedToReport.isEmpty)
            var written = ByteBuffer()
            list.write(to: &written)
            #expect(WireKit.bytes(written) == bytes)
        }
    }

    @Test func parameterType11SkipsAndReports() throws {
        let bytes = Self.parameterBytes(0xFFFF)
        for list in try Self.parseBothWays(bytes) {
            #expect(list.parameters == [Self.ipv4, .unknown(Self.unknownParameter(0xFFFF)), Self.ecn])
            #expect(!list.stoppedAtUnrecognized)
            #expect(list.unrecognizedToReport == [Self.unknownParameter(0xFFFF)])
            var written = ByteBuffer()
            list.write(to: &written)
            #expect(WireKit.bytes(written) == bytes)
        }
    }

    @Test func parameterStopMeansTheRestIsNotRead() throws {
        // A broken parameter after a "stop" one is never read; after a "skip" one it is.
        let broken = WireKit.hex("00 05 00 02")
        for type: UInt16 in [0x3FFF, 0x7FFF, 0x0123] {
            let list = try ParameterList(parsing: WireKit.buffer(
                [UInt8(type >> 8), UInt8(type & 0xFF), 0x00, 0x04] + broken))
            #expect(list.parameters == [.unknown(UnknownParameter(type: type, value: ByteBuffer()))])
            #expect(list.stoppedAtUnrecognized)
        }
        for type: UInt16 in [0xBFFF, 0xFFFF, 0x8123] {
            #expect(throws: WireError.parameterLengthTooSmall(type: 5, length: 2)) {
                try ParameterList(parsing: WireKit.buffer([UInt8(type >> 8), UInt8(type & 0xFF), 0x00, 0x04] + broken))
            }
        }
    }

    @Test func unknownParameterKeepsItsBytes() throws {
        let tlv = WireKit.hex("FF FF 00 0B 01 02 03 04 05 06 07")
        let list = try ParameterList(parsing: WireKit.buffer(tlv + [0]))
        guard case .unknown(let unknown) = list.parameters.first else { Issue.record("not unknown"); return }
        #expect(unknown.type == 0xFFFF)
        #expect(WireKit.bytes(unknown.value) == [1, 2, 3, 4, 5, 6, 7])
        var written = ByteBuffer()
        unknown.write(to: &written)
        #expect(WireKit.bytes(written) == tlv)
        #expect(WireKit.parameterBytes(.unknown(unknown)) == tlv)
    }

    @Test func reportingUnrecognizedParameters() throws {
        // INIT parameters: a 0xFFFF one (skip, report), ECN, a 0x7FFF one (stop, report), IPv4 (never read).
        let first = WireKit.hex("FF FF 00 05 42")
        let second = WireKit.hex("7F FF 00 08 01 02 03 04")
        let bytes = first + [0, 0, 0] + WireKit.hex("80 00 00 04") + second + WireKit.hex("00 05 00 08 C0 00 02 01")
        for list in try Self.parseBothWays(bytes) {
            #expect(list.stoppedAtUnrecognized)
            #expect(list.parameters.count == 3)
            let report = list.unrecognizedToReport
            #expect(report.map(\.type) == [0xFFFF, 0x7FFF])

            // Unrecognized Parameter (type 8) in an INIT ACK, one per unknown parameter, each holding its TLV.
            #expect(report.map { WireKit.bytes(UnrecognizedParameter(reporting: $0).parameter) } == [first, second])
            #expect(WireKit.parameterBytes(.unrecognizedParameter(UnrecognizedParameter(reporting: report[0])))
                == WireKit.hex("00 08 00 09") + first)

            // Unrecognized Parameters error cause (cause 8): the TLVs, padded between each other.
            let cause = UnrecognizedParametersCause(parameters: report)
            #expect(WireKit.bytes(cause.bytes) == first + [0, 0, 0] + second)
            #expect(WireKit.causeBytes(.unrecognizedParameters(cause)) == WireKit.hex("00 08 00 14") + first + [0, 0, 0] + second)
            // The cause's contents parse back to the same unknown parameters.
            let back = try ParameterList(parsing: cause.bytes)
            #expect(back.parameters == report.map { .unknown($0) })
        }
    }
}
