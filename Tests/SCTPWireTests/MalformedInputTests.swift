import NIOCore
import SCTPTestSupport
import SCTPWire
import Testing

/// Builders of deliberately broken chunks.
enum BrokenChunks {
    /// INIT's fixed fields after the chunk header: tag, a_rwnd, OS, MIS, initial TSN.
    static let initFixed = WireKit.hex("11 22 33 44  00 01 00 00  00 0A 00 0A  00 00 00 01")

    /// A chunk of `type` whose length field says `length` (default: header + value), followed
    /// by `value` and zero padding to a multiple of 4.
    static func chunk(_ type: UInt8, flags: UInt8 = 0, length: Int? = nil, _ value: [UInt8]) -> [UInt8] {
        let l = length ?? 4 + value.count
        let raw = [type, flags, UInt8(l >> 8), UInt8(l & 0xFF)] + value
        return raw + [UInt8](repeating: 0, count: (4 - raw.count % 4) % 4)
    }

    /// An INIT (or INIT ACK) chunk with these parameter bytes after the fixed fields.
    static func initChunk(type: UInt8 = 1, parameters: [UInt8]) -> [UInt8] {
        chunk(type, initFixed + parameters)
    }
}

@Suite("Malformed input")
struct MalformedInputTests {
    private func expectPacketError(_ chunkBytes: [UInt8], _ error: WireError,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
        // With a correct checksum, so that only the structure is at fault.
        #expect(throws: error, sourceLocation: sourceLocation) {
            try SCTPPacket(parsing: WireKit.rawPacket(chunkBytes))
        }
    }

    private func expectParameterError(_ parameterBytes: [UInt8], _ error: WireError,
                                      sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: error, sourceLocation: sourceLocation) {
            try ParameterList(parsing: WireKit.buffer(parameterBytes))
        }
        // The same inside an INIT in a packet.
        expectPacketError(BrokenChunks.initChunk(parameters: parameterBytes), error, sourceLocation: sourceLocation)
    }

    private func expectCauseError(_ causeBytes: [UInt8], _ error: WireError,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: error, sourceLocation: sourceLocation) {
            try ErrorCause.parseList(WireKit.buffer(causeBytes))
        }
        // The same inside ERROR and ABORT chunks in packets.
        expectPacketError(BrokenChunks.chunk(9, causeBytes), error, sourceLocation: sourceLocation)
        expectPacketError(BrokenChunks.chunk(6, flags: 1, causeBytes), error, sourceLocation: sourceLocation)
    }

    // MARK: Packet level

    @Test func packetShorterThanCommonHeader() {
        let full = WireKit.bytes(WireKit.rawPacket(WireKit.hex("0B 00 00 04")))
        for length in 0..<12 {
            let datagram = WireKit.buffer(Array(full.prefix(length)))
            for verification in [ChecksumVerification.required, .zeroAllowed, .skipped] {
                #expect(throws: WireError.packetTooShort(length: length)) {
                    try SCTPPacket(parsing: datagram, checksum: verification)
                }
            }
            #expect(throws: WireError.packetTooShort(length: length)) { try CommonHeader(peeking: datagram) }
            #expect(throws: WireError.packetTooShort(length: length)) { try PacketChecksum.verify(datagram, .skipped) }
        }
    }

    @Test func packetWithoutChunks() {
        #expect(throws: WireError.noChunks) { try SCTPPacket(parsing: WireKit.rawPacket([])) }
        #expect(throws: WireError.noChunks) { try SCTPPacket(parsing: WireKit.rawPacket([], validChecksum: false), checksum: .skipped) }
    }

    @Test func truncatedChunkHeader() {
        for available in 1...3 {
            let tail = Array(WireKit.hex("00 00 00 10").prefix(available))
            expectPacketError(tail, .truncatedChunkHeader(offset: 12, available: available))
            // After a complete COOKIE ACK: the offset is that of the broken header.
            expectPacketError(WireKit.hex("0B 00 00 04") + tail, .truncatedChunkHeader(offset: 16, available: available))
            // After a DATA chunk with padding (length 17, padded to 20).
            let data = BrokenChunks.chunk(0, flags: 3, WireKit.hex("00 00 00 01 00 01 00 00 00 00 00 00 AA"))
            #expect(data.count == 20)
            expectPacketError(data + tail, .truncatedChunkHeader(offset: 32, available: available))
        }
    }

    @Test func chunkLengthBelowFour() {
        for length in 0...3 {
            // A DATA chunk whose length field is too small, with plenty of bytes behind it.
            let bytes = [0x00, 0x03, 0x00, UInt8(length)] + [UInt8](repeating: 0x11, count: 16)
            expectPacketError(bytes, .chunkLengthTooSmall(type: 0, length: length))
            expectPacketError(WireKit.hex("0B 00 00 04") + [0x07, 0x00, 0x00, UInt8(length)],
                              .chunkLengthTooSmall(type: 7, length: length))
        }
    }

    @Test func chunkLengthPastPacketEnd() {
        // DATA whose length says 40 with 20 bytes present.
        expectPacketError(WireKit.hex("00 03 00 28") + [UInt8](repeating: 1, count: 16),
                          .chunkLengthExceedsPacket(type: 0, length: 40, available: 20))
        expectPacketError(WireKit.hex("00 03 FF FF") + [UInt8](repeating: 1, count: 16),
                          .chunkLengthExceedsPacket(type: 0, length: 0xFFFF, available: 20))
        // The second chunk of a packet.
        expectPacketError(WireKit.hex("0B 00 00 04  07 00 00 08 00 00"),
                          .chunkLengthExceedsPacket(type: 7, length: 8, available: 6))
        // Length 5 with 4 bytes: one byte short.
        expectPacketError(WireKit.hex("84 00 00 05"), .chunkLengthExceedsPacket(type: 0x84, length: 5, available: 4))
    }

    @Test func chunkReaderStopsAfterAnError() throws {
        var reader = ChunkReader(chunksOf: WireKit.rawPacket(WireKit.hex("0B 00 00 04  07 00 00 0C 00 00 00 00 00 00 00 00  0B 00 00 04")))
        #expect(try reader.next() == .cookieAck(CookieAckChunk()))
        #expect(throws: WireError.invalidChunkLength(type: 7, length: 12)) { try reader.next() }
        #expect(try reader.next() == nil)
        #expect(try reader.next() == nil)
    }

    /// `ChunkReader` reads a DATA chunk's fixed fields with its header and slices the payload
    /// from the packet: for every length from 4 to 40 (the chunk padded, then a COOKIE ACK),
    /// what it returns or throws is what the general parser, `Chunk(type:flags:value:)`, makes
    /// of the same chunk value.
    @Test func dataChunksReadLikeTheGeneralParser() throws {
        let body = (0..<36).map { UInt8(0x10 &+ $0) }
        for length in 4...40 {
            for flags: UInt8 in [0x00, 0x03, 0x0F] {
                var chunk = [0x00, flags, 0x00, UInt8(length)] + body.prefix(length - 4)
                chunk += [UInt8](repeating: 0, count: (4 - chunk.count % 4) % 4)
                var reader = ChunkReader(chunksOf: WireKit.rawPacket(chunk + WireKit.hex("0B 00 00 04")))
                let expected: Result<Chunk, WireError>
                do {
                    expected = .success(try Chunk(type: 0, flags: flags, value: WireKit.buffer(Array(body.prefix(length - 4)))))
                } catch {
                    expected = .failure(error)
                }
                switch expected {
                case .success(let value):
                    let read = try reader.next()
                    #expect(read == value, "length \(length)")
                    if case .data(let data)? = read {
                        #expect(WireKit.bytes(data.payload) == Array(body.dropFirst(12).prefix(length - 16)), "length \(length)")
                    }
                    #expect(try reader.next() == .cookieAck(CookieAckChunk()), "length \(length)")
                    #expect(try reader.next() == nil)
                case .failure(let error):
                    #expect(throws: error, "length \(length)") { try reader.next() }
                    #expect(try reader.next() == nil)
                }
            }
        }
    }

    @Test func chunkErrorAfterValidChunks() {
        // A valid DATA and SACK, then a broken SHUTDOWN: the packet as a whole fails.
        let data = BrokenChunks.chunk(0, flags: 3, WireKit.hex("00 00 00 01 00 01 00 00 00 00 00 00 AA"))
        let sack = BrokenChunks.chunk(3, WireKit.hex("00 00 00 01 00 01 00 00 00 00 00 00"))
        expectPacketError(data + sack + WireKit.hex("07 00 00 05 00 00 00 00"), .invalidChunkLength(type: 7, length: 5))
    }

    // MARK: Fixed-size and minimum-size chunks

    @Test func fixedSizeChunksWithWrongLength() {
        expectPacketError(BrokenChunks.chunk(7, WireKit.hex("00 00 00 01 00 00 00 02 00 00 00 03")), .invalidChunkLength(type: 7, length: 16))
        expectPacketError(BrokenChunks.chunk(7, WireKit.hex("00 00 00 01 00 00 00 02")), .invalidChunkLength(type: 7, length: 12))
        expectPacketError(BrokenChunks.chunk(7, WireKit.hex("00 00")), .invalidChunkLength(type: 7, length: 6))
        expectPacketError(BrokenChunks.chunk(7, []), .invalidChunkLength(type: 7, length: 4))
        expectPacketError(BrokenChunks.chunk(11, WireKit.hex("00 00 00 00")), .invalidChunkLength(type: 11, length: 8))
        expectPacketError(BrokenChunks.chunk(11, WireKit.hex("00")), .invalidChunkLength(type: 11, length: 5))
        expectPacketError(BrokenChunks.chunk(8, WireKit.hex("00 00 00 00")), .invalidChunkLength(type: 8, length: 8))
        expectPacketError(BrokenChunks.chunk(14, flags: 1, WireKit.hex("00 00 00 00")), .invalidChunkLength(type: 14, length: 8))
        expectPacketError(BrokenChunks.chunk(12, WireKit.hex("00 00")), .invalidChunkLength(type: 12, length: 6))
        expectPacketError(BrokenChunks.chunk(12, WireKit.hex("00 00 00 01 00 00 00 02 00 00 00 03")), .invalidChunkLength(type: 12, length: 16))
        expectPacketError(BrokenChunks.chunk(13, WireKit.hex("00 00 00 01 00 00 00 02")), .invalidChunkLength(type: 13, length: 12))
        expectPacketError(BrokenChunks.chunk(13, []), .invalidChunkLength(type: 13, length: 4))
    }

    @Test func sackWithInconsistentCounts() throws {
        let fixed = WireKit.hex("00 00 00 10  00 01 00 00")
        // Shorter than its fixed part.
        expectPacketError(BrokenChunks.chunk(3, WireKit.hex("00 00 00 10")), .invalidChunkLength(type: 3, length: 8))
        expectPacketError(BrokenChunks.chunk(3, fixed + WireKit.hex("00 00")), .invalidChunkLength(type: 3, length: 14))
        // Two gap blocks announced, one present.
        expectPacketError(BrokenChunks.chunk(3, fixed + WireKit.hex("00 02 00 00  00 01 00 02")),
                          .invalidChunkLength(type: 3, length: 20))
        // No blocks announced, one present.
        expectPacketError(BrokenChunks.chunk(3, fixed + WireKit.hex("00 00 00 00  00 01 00 02")),
                          .invalidChunkLength(type: 3, length: 20))
        // One duplicate announced, none present.
        expectPacketError(BrokenChunks.chunk(3, fixed + WireKit.hex("00 00 00 01")), .invalidChunkLength(type: 3, length: 16))
        // Huge counts with a short chunk.
        expectPacketError(BrokenChunks.chunk(3, fixed + WireKit.hex("FF FF FF FF")), .invalidChunkLength(type: 3, length: 16))
        expectPacketError(BrokenChunks.chunk(3, fixed + WireKit.hex("FF FF 00 00  00 01 00 02")), .invalidChunkLength(type: 3, length: 20))
        expectPacketError(BrokenChunks.chunk(3, fixed + WireKit.hex("00 00 FF FF  00 00 00 09")), .invalidChunkLength(type: 3, length: 20))
        // Counts that match the length exactly parse (one gap block, one duplicate).
        let consistent = BrokenChunks.chunk(3, fixed + WireKit.hex("00 01 00 01  00 01 00 02  00 00 00 09"))
        #expect(try SCTPPacket(parsing: WireKit.rawPacket(consistent)).chunks == [.sack(SackChunk(
            cumulativeTSNAck: TSN(0x10), advertisedReceiverWindowCredit: 0x1_0000,
            gapAckBlocks: [GapAckBlock(start: 1, end: 2)], duplicateTSNs: [TSN(9)]))])
    }

    @Test func nrSackWithInconsistentCounts() throws {
        let fixed = WireKit.hex("00 00 00 10  00 01 00 00")
        // Shorter than its fixed part (which is 4 bytes longer than a SACK's: the NR count and a reserved field).
        expectPacketError(BrokenChunks.chunk(16, fixed), .invalidChunkLength(type: 16, length: 12))
        expectPacketError(BrokenChunks.chunk(16, fixed + WireKit.hex("00 00 00 00  00 00")), .invalidChunkLength(type: 16, length: 18))
        // One non-renegable block announced, none present; none announced, one present.
        expectPacketError(BrokenChunks.chunk(16, fixed + WireKit.hex("00 00 00 01  00 00 00 00")),
                          .invalidChunkLength(type: 16, length: 20))
        expectPacketError(BrokenChunks.chunk(16, fixed + WireKit.hex("00 00 00 00  00 00 00 00  00 01 00 02")),
                          .invalidChunkLength(type: 16, length: 24))
        // The three counts together must match: one of each announced, two items present.
        expectPacketError(BrokenChunks.chunk(16, fixed + WireKit.hex("00 01 00 01  00 01 00 00  00 01 00 02  00 04 00 05")),
                          .invalidChunkLength(type: 16, length: 28))
        // Huge counts with a short chunk: refused before anything is allocated.
        expectPacketError(BrokenChunks.chunk(16, fixed + WireKit.hex("FF FF FF FF  FF FF 00 00  00 01 00 02")),
                          .invalidChunkLength(type: 16, length: 24))
        // Counts that match the length exactly parse, each list in its place.
        let consistent = BrokenChunks.chunk(16, fixed + WireKit.hex("00 01 00 01  00 01 00 00  00 01 00 02  00 04 00 05  00 00 00 09"))
        #expect(try SCTPPacket(parsing: WireKit.rawPacket(consistent)).chunks == [.nrSack(NRSackChunk(
            cumulativeTSNAck: TSN(0x10), advertisedReceiverWindowCredit: 0x1_0000, gapAckBlocks: [GapAckBlock(start: 1, end: 2)],
            nonRenegableGapAckBlocks: [GapAckBlock(start: 4, end: 5)], duplicateTSNs: [TSN(9)]))])
    }

    @Test func dataAndIDataTooShort() throws {
        for length in [4, 8, 12, 15] {
            let value = [UInt8](repeating: 0x21, count: length - 4)
            expectPacketError(BrokenChunks.chunk(0, flags: 3, value), .invalidChunkLength(type: 0, length: length))
        }
        for length in [4, 12, 16, 19] {
            let value = [UInt8](repeating: 0x21, count: length - 4)
            expectPacketError(BrokenChunks.chunk(64, flags: 3, value), .invalidChunkLength(type: 64, length: length))
        }
        // Exactly the fixed part: parses with an empty payload (the core answers No User Data).
        let empty = try SCTPPacket(parsing: WireKit.rawPacket(BrokenChunks.chunk(0, flags: 3, WireKit.hex("00 00 00 07 00 01 00 02 00 00 00 03"))))
        #expect(empty.chunks == [.data(DataChunk(flags: .complete, tsn: TSN(7), streamIdentifier: 1, ssn: SSN(2),
                                                 payloadProtocolIdentifier: 3, payload: ByteBuffer()))])
    }

    @Test func initShorterThanFixedPart() {
        for length in [4, 8, 16, 19] {
            let value = Array(BrokenChunks.initFixed.prefix(length - 4))
            expectPacketError(BrokenChunks.chunk(1, value), .invalidChunkLength(type: 1, length: length))
            expectPacketError(BrokenChunks.chunk(2, value), .invalidChunkLength(type: 2, length: length))
        }
    }

    @Test func otherVariableChunksTooShort() {
        expectPacketError(BrokenChunks.chunk(10, []), .invalidChunkLength(type: 10, length: 4))  // COOKIE ECHO without cookie
        expectPacketError(BrokenChunks.chunk(15, WireKit.hex("00 01")), .invalidChunkLength(type: 15, length: 6))  // AUTH
        expectPacketError(BrokenChunks.chunk(0x82, []), .invalidChunkLength(type: 0x82, length: 4))  // RE-CONFIG without parameters
        expectPacketError(BrokenChunks.chunk(0x80, WireKit.hex("00 01")), .invalidChunkLength(type: 0x80, length: 6))  // ASCONF-ACK
        expectPacketError(BrokenChunks.chunk(0xC0, WireKit.hex("00 00 00 01 00 02")), .invalidChunkLength(type: 0xC0, length: 10))
        expectPacketError(BrokenChunks.chunk(0xC0, WireKit.hex("00 00")), .invalidChunkLength(type: 0xC0, length: 6))
        expectPacketError(BrokenChunks.chunk(0xC2, WireKit.hex("00 00 00 01 00 02 00 01")), .invalidChunkLength(type: 0xC2, length: 12))
        expectPacketError(BrokenChunks.chunk(0xC2, WireKit.hex("00 00 00 01 00 02 00 01 00 00 00 05 00 03")),
                          .invalidChunkLength(type: 0xC2, length: 18))
    }

    // MARK: Parameters

    @Test func parameterStraddlingTheChunkEnd() {
        // INIT length 24: its only parameter claims 8 bytes but 4 remain in the chunk, even though
        // the packet goes on (with what would be the parameter's value).
        let chunk = BrokenChunks.initChunk(parameters: WireKit.hex("00 05 00 08"))
        expectPacketError(chunk + WireKit.hex("C0 00 02 01"), .parameterLengthExceedsChunk(type: 5, length: 8, available: 4))
        // A second parameter running past the end by one byte.
        expectParameterError(WireKit.hex("80 00 00 04  00 05 00 09 C0 00 02 01"),
                             .parameterLengthExceedsChunk(type: 5, length: 9, available: 8))
        // A cause inside an ERROR chunk.
        expectCauseError(WireKit.hex("00 0D 00 10 41 42"), .parameterLengthExceedsChunk(type: 13, length: 16, available: 6))
        // A cause inside an Error Cause Indication parameter: bounded by the parameter, not the chunk.
        let asconfAck = BrokenChunks.chunk(0x80, WireKit.hex("00 00 00 01  C0 03 00 0E 00 00 00 02 00 0D 00 08 41 42 00 00  C0 05 00 08 00 00 00 01"))
        expectPacketError(asconfAck, .parameterLengthExceedsChunk(type: 13, length: 8, available: 6))
    }

    @Test func parameterLengthBelowFour() {
        for length in 0...3 {
            expectParameterError([0x00, 0x05, 0x00, UInt8(length), 0xC0, 0x00, 0x02, 0x01],
                                 .parameterLengthTooSmall(type: 5, length: length))
            expectCauseError([0x00, 0x03, 0x00, UInt8(length), 0, 0, 0, 0], .parameterLengthTooSmall(type: 3, length: length))
        }
    }

    @Test func truncatedParameterHeader() {
        for available in 1...3 {
            let tail = Array(WireKit.hex("80 00 00 04").prefix(available))
            expectParameterError(tail, .truncatedParameterHeader(available: available))
            expectParameterError(WireKit.hex("C0 00 00 04") + tail, .truncatedParameterHeader(available: available))
            expectCauseError(WireKit.hex("00 04 00 04") + tail, .truncatedParameterHeader(available: available))
        }
    }

    @Test func initAckWithoutStateCookie() {
        expectPacketError(BrokenChunks.initChunk(type: 2, parameters: WireKit.hex("00 05 00 08 C0 00 02 01")),
                          .missingMandatoryParameter(chunkType: 2, parameterType: 7))
        expectPacketError(BrokenChunks.initChunk(type: 2, parameters: []), .missingMandatoryParameter(chunkType: 2, parameterType: 7))
        #expect(throws: WireError.missingMandatoryParameter(chunkType: 2, parameterType: 7)) {
            try InitAckChunk(initiateTag: 1, advertisedReceiverWindowCredit: 1, outboundStreams: 1, inboundStreams: 1,
                             initialTSN: TSN(1), parameters: ParameterList([.ecnCapable(ECNCapableParameter())]))
        }
        // A cookie after an unknown "stop" parameter is never seen.
        expectPacketError(BrokenChunks.initChunk(type: 2, parameters: WireKit.hex("3F FF 00 04  00 07 00 05 01")),
                          .missingMandatoryParameter(chunkType: 2, parameterType: 7))
        // An INIT needs no cookie.
        #expect(throws: Never.self) { try SCTPPacket(parsing: WireKit.rawPacket(BrokenChunks.initChunk(parameters: []))) }
    }

    @Test func heartbeatWithoutHeartbeatInfo() {
        for type: UInt8 in [4, 5] {
            expectPacketError(BrokenChunks.chunk(type, []), .missingMandatoryParameter(chunkType: type, parameterType: 1))
            expectPacketError(BrokenChunks.chunk(type, WireKit.hex("00 05 00 08 C0 00 02 01")),
                              .missingMandatoryParameter(chunkType: type, parameterType: 1))
            // A broken TLV in place of the info is reported as such.
            expectPacketError(BrokenChunks.chunk(type, WireKit.hex("00 01 00 10 00 00")),
                              .parameterLengthExceedsChunk(type: 1, length: 16, available: 6))
        }
    }

    @Test func asconfAddressProblems() {
        // No address parameter at all.
        expectPacketError(BrokenChunks.chunk(0xC1, WireKit.hex("00 00 00 01")),
                          .missingMandatoryParameter(chunkType: 0xC1, parameterType: 5))
        // An address parameter of another type (Host Name).
        let wrongType = #expect(throws: WireError.self) {
            try SCTPPacket(parsing: WireKit.rawPacket(BrokenChunks.chunk(0xC1, WireKit.hex("00 00 00 01 00 0B 00 08 61 62 63 00"))))
        }
        if case .invalidParameterValue? = wrongType {} else { Issue.record("expected invalidParameterValue, got \(String(describing: wrongType))") }
        // Add IP Address whose address is neither IPv4 nor IPv6, or whose length does not fit its type.
        expectParameterError(WireKit.hex("C0 01 00 10 00 00 00 01 00 07 00 08 C0 00 02 01"), .invalidParameterValue(type: 0xC001))
        expectParameterError(WireKit.hex("C0 02 00 10 00 00 00 01 00 05 00 14 C0 00 02 01"), .invalidParameterValue(type: 0xC002))
        // Truncated or with trailing bytes.
        expectParameterError(WireKit.hex("C0 04 00 0E 00 00 00 01 00 05 00 08 C0 00"), .invalidParameterLength(type: 0xC004, length: 14))
        expectParameterError(WireKit.hex("C0 01 00 14 00 00 00 01 00 05 00 08 C0 00 02 01 00 00 00 00"),
                             .invalidParameterLength(type: 0xC001, length: 20))
    }

    @Test func parametersWithWrongLengths() {
        expectParameterError(WireKit.hex("00 05 00 0A C0 00 02 01 00 00"), .invalidParameterLength(type: 5, length: 10))
        expectParameterError(WireKit.hex("00 05 00 06 C0 00"), .invalidParameterLength(type: 5, length: 6))
        expectParameterError(WireKit.hex("00 06 00 08 00 00 00 00"), .invalidParameterLength(type: 6, length: 8))
        expectParameterError(WireKit.hex("00 07 00 04"), .invalidParameterLength(type: 7, length: 4))
        expectParameterError(WireKit.hex("00 08 00 07 FF FF 00"), .invalidParameterLength(type: 8, length: 7))
        expectParameterError(WireKit.hex("00 09 00 06 00 01"), .invalidParameterLength(type: 9, length: 6))
        expectParameterError(WireKit.hex("00 0B 00 04"), .invalidParameterLength(type: 11, length: 4))
        expectParameterError(WireKit.hex("00 0C 00 07 00 05 00"), .invalidParameterLength(type: 12, length: 7))
        expectParameterError(WireKit.hex("00 0D 00 0C 00 00 00 01 00 00 00 02"), .invalidParameterLength(type: 13, length: 12))
        expectParameterError(WireKit.hex("00 0D 00 11 00 00 00 01 00 00 00 02 00 00 00 03 07"), .invalidParameterLength(type: 13, length: 17))
        expectParameterError(WireKit.hex("00 0E 00 07 00 00 00"), .invalidParameterLength(type: 14, length: 7))
        expectParameterError(WireKit.hex("00 0E 00 09 00 00 00 01 07"), .invalidParameterLength(type: 14, length: 9))
        expectParameterError(WireKit.hex("00 0F 00 0C 00 00 00 01 00 00 00 02"), .invalidParameterLength(type: 15, length: 12))
        expectParameterError(WireKit.hex("00 10 00 08 00 00 00 01"), .invalidParameterLength(type: 16, length: 8))
        expectParameterError(WireKit.hex("00 10 00 10 00 00 00 01 00 00 00 01 00 00 00 05"), .invalidParameterLength(type: 16, length: 16))
        expectParameterError(WireKit.hex("00 11 00 08 00 00 00 01"), .invalidParameterLength(type: 17, length: 8))
        expectParameterError(WireKit.hex("00 12 00 10 00 00 00 01 00 02 00 00 00 00 00 00"), .invalidParameterLength(type: 18, length: 16))
        expectParameterError(WireKit.hex("80 00 00 08 00 00 00 00"), .invalidParameterLength(type: 0x8000, length: 8))
        expectParameterError(WireKit.hex("80 01 00 0C 00 00 00 01 00 00 00 00"), .invalidParameterLength(type: 0x8001, length: 12))
        expectParameterError(WireKit.hex("80 02 00 04"), .invalidParameterLength(type: 0x8002, length: 4))
        expectParameterError(WireKit.hex("80 04 00 04"), .invalidParameterLength(type: 0x8004, length: 4))
        expectParameterError(WireKit.hex("80 04 00 07 00 01 00"), .invalidParameterLength(type: 0x8004, length: 7))
        expectParameterError(WireKit.hex("C0 00 00 08 00 00 00 00"), .invalidParameterLength(type: 0xC000, length: 8))
        expectParameterError(WireKit.hex("C0 03 00 06 00 00"), .invalidParameterLength(type: 0xC003, length: 6))
        expectParameterError(WireKit.hex("C0 05 00 0C 00 00 00 01 00 00 00 00"), .invalidParameterLength(type: 0xC005, length: 12))
        expectParameterError(WireKit.hex("C0 06 00 06 00 00"), .invalidParameterLength(type: 0xC006, length: 6))
        // A parameter error inside an RE-CONFIG or an ASCONF-ACK chunk.
        expectPacketError(BrokenChunks.chunk(0x82, WireKit.hex("00 0F 00 06 00 00")), .invalidParameterLength(type: 15, length: 6))
        expectPacketError(BrokenChunks.chunk(0x80, WireKit.hex("00 00 00 01  C0 05 00 06 00 00")),
                          .invalidParameterLength(type: 0xC005, length: 6))
    }

    // MARK: Error causes

    @Test func errorCausesWithWrongLengths() {
        // Stale Cookie of 6 bytes (its staleness field needs 4).
        expectCauseError(WireKit.hex("00 03 00 06 00 01"), .invalidErrorCauseLength(code: 3, length: 6))
        expectCauseError(WireKit.hex("00 03 00 0C 00 00 00 01 00 00 00 02"), .invalidErrorCauseLength(code: 3, length: 12))
        // Missing Mandatory Parameter whose count does not match the types present.
        expectCauseError(WireKit.hex("00 02 00 0C 00 00 00 03 00 07 00 09"), .invalidErrorCauseLength(code: 2, length: 12))
        expectCauseError(WireKit.hex("00 02 00 0C 00 00 00 01 00 07 00 09"), .invalidErrorCauseLength(code: 2, length: 12))
        expectCauseError(WireKit.hex("00 02 00 08 FF FF FF FF"), .invalidErrorCauseLength(code: 2, length: 8))
        expectCauseError(WireKit.hex("00 02 00 0C FF FF FF FF 00 07 00 09"), .invalidErrorCauseLength(code: 2, length: 12))
        expectCauseError(WireKit.hex("00 02 00 0B 00 00 00 01 00 07 00"), .invalidErrorCauseLength(code: 2, length: 11))
        expectCauseError(WireKit.hex("00 02 00 06 00 00"), .invalidErrorCauseLength(code: 2, length: 6))
        // Others.
        expectCauseError(WireKit.hex("00 01 00 06 00 01"), .invalidErrorCauseLength(code: 1, length: 6))
        expectCauseError(WireKit.hex("00 04 00 08 00 00 00 00"), .invalidErrorCauseLength(code: 4, length: 8))
        expectCauseError(WireKit.hex("00 07 00 05 00"), .invalidErrorCauseLength(code: 7, length: 5))
        expectCauseError(WireKit.hex("00 09 00 0C 00 00 00 01 00 00 00 02"), .invalidErrorCauseLength(code: 9, length: 12))
        expectCauseError(WireKit.hex("00 0A 00 08 00 00 00 00"), .invalidErrorCauseLength(code: 10, length: 8))
        expectCauseError(WireKit.hex("00 A3 00 08 00 00 00 00"), .invalidErrorCauseLength(code: 0xA3, length: 8))
        expectCauseError(WireKit.hex("01 05 00 04"), .invalidErrorCauseLength(code: 0x105, length: 4))
        expectCauseError(WireKit.hex("01 05 00 0A 00 01 00 00 00 00"), .invalidErrorCauseLength(code: 0x105, length: 10))
        // A broken cause inside an Error Cause Indication parameter.
        expectParameterError(WireKit.hex("C0 03 00 0E 00 00 00 01  00 03 00 06 00 01"), .invalidErrorCauseLength(code: 3, length: 6))
    }

    // MARK: Bundling (RFC 9260 §6.10)

    @Test func chunksThatMustStandAlone() throws {
        let initChunk = Chunk.initiation(ChunkSamples.initChunk)
        let initAck = Chunk.initiationAck(ChunkSamples.initAckChunk)
        let complete = Chunk.shutdownComplete(ShutdownCompleteChunk(tagFlags: .reflectedTag))
        let data = Chunk.data(DataChunk(flags: .complete, tsn: TSN(1), streamIdentifier: 0, ssn: SSN(0),
                                        payloadProtocolIdentifier: 0, payload: ByteBuffer(string: "x")))
        let sack = Chunk.sack(SackChunk(cumulativeTSNAck: TSN(0), advertisedReceiverWindowCredit: 1000))
        let cases: [([Chunk], UInt8?)] = [
            ([initChunk], nil),
            ([initAck], nil),
            ([complete], nil),
            ([data, sack], nil),
            ([data], nil),
            ([initChunk, data], 1),
            ([data, initChunk], 1),
            ([initChunk, initChunk], 1),
            ([initAck, .cookieEcho(CookieEchoChunk(cookie: ByteBuffer(string: "c")))], 2),
            ([sack, initAck], 2),
            ([complete, .abort(AbortChunk())], 14),
            ([.abort(AbortChunk()), complete], 14),
        ]
        for (chunks, forbidden) in cases {
            // Parsing accepts the bundle; the check is separate.
            let packet = try SCTPPacket(parsing: SCTPPacket(header: WireKit.header, chunks: chunks).serialized())
            #expect(packet.chunks == chunks)
            if let forbidden {
                #expect(throws: WireError.chunkMustStandAlone(type: forbidden)) { try packet.validateBundling() }
            } else {
                #expect(throws: Never.self) { try packet.validateBundling() }
            }
        }
        #expect(initChunk.mustStandAlone && initAck.mustStandAlone && complete.mustStandAlone)
        #expect(!data.mustStandAlone && !sack.mustStandAlone)
    }

    // MARK: Robustness: truncations and random mutations never trap

    /// The valid packets the robustness tests start from.
    static var robustnessPackets: [[UInt8]] {
        func names(_ list: Set<String>) -> [Chunk] {
            ChunkSamples.all.map(\.chunk).filter { list.contains(ChunkSamples.caseName($0)) }
        }
        let groups: [[Chunk]] = [
            [.initiation(ChunkSamples.initChunk)],
            [.initiationAck(ChunkSamples.initAckChunk)],
            [.initiation(InitChunk(initiateTag: 1, advertisedReceiverWindowCredit: 2, outboundStreams: 3, inboundStreams: 4,
                                   initialTSN: TSN(5), parameters: ParameterList(ParameterSamples.all.map(\.parameter))))],
            names(["data", "sack", "heartbeat", "heartbeatAck", "shutdown", "shutdownAck", "cookieAck", "ecne", "cwr"]),
            names(["abort", "error"]),
            [.error(ErrorChunk(causes: CauseSamples.all.map(\.cause)))],
            names(["asconf", "asconfAck"]),
            names(["reconfig"]),
            names(["auth", "iData", "iForwardTSN", "forwardTSN", "cookieEcho", "pad", "shutdownComplete", "unknown"]),
        ]
        return groups.map { WireKit.bytes(SCTPPacket(header: WireKit.header, chunks: $0).serialized()) }
    }

    /// The outcome every truncation must have, worked out from the chunk lengths.
    private static func expectedTruncationOutcome(_ bytes: [UInt8], cut: Int) -> Result<Int, WireError> {
        if cut < 12 { return .failure(.packetTooShort(length: cut)) }
        if cut == 12 { return .failure(.noChunks) }
        var start = 12
        var index = 0
        while start < bytes.count {
            let length = WireKit.be16(bytes, start + 2)
            let unpaddedEnd = start + length
            let paddedEnd = start + ((length + 3) & ~3)
            if cut < unpaddedEnd {
                let available = cut - start
                if available < 4 { return .failure(.truncatedChunkHeader(offset: start, available: available)) }
                return .failure(.chunkLengthExceedsPacket(type: bytes[start], length: length, available: available))
            }
            if cut <= paddedEnd { return .success(index + 1) }
            start = paddedEnd
            index += 1
        }
        fatalError("cut \(cut) beyond the packet")
    }

    @Test func everyTruncation() throws {
        var checked = 0
        let packets = Self.robustnessPackets
        for bytes in packets {
            let full = try SCTPPacket(parsing: WireKit.buffer(bytes))
            for cut in 0...bytes.count {
                let datagram = WireKit.buffer(Array(bytes.prefix(cut)))
                let actual: Result<[Chunk], WireError>
                do { actual = .success(try SCTPPacket(parsing: datagram, checksum: .skipped).chunks) } catch { actual = .failure(error) }
                switch Self.expectedTruncationOutcome(bytes, cut: cut) {
                case .success(let count):
                    #expect(try actual.get() == Array(full.chunks.prefix(count)), "cut at \(cut)")
                case .failure(let error):
                    #expect(throws: error, "cut at \(cut)") { try actual.get() }
                }
                checked += 1
            }
        }
        #expect(checked == packets.map { $0.count + 1 }.reduce(0, +))
        #expect(checked > 1500)
    }

    static func errorKind(_ error: WireError) -> String {
        switch error {
        case .packetTooShort: "packetTooShort"
        case .badChecksum: "badChecksum"
        case .noChunks: "noChunks"
        case .truncatedChunkHeader: "truncatedChunkHeader"
        case .chunkLengthTooSmall: "chunkLengthTooSmall"
        case .chunkLengthExceedsPacket: "chunkLengthExceedsPacket"
        case .invalidChunkLength: "invalidChunkLength"
        case .chunkMustStandAlone: "chunkMustStandAlone"
        case .parameterLengthTooSmall: "parameterLengthTooSmall"
        case .parameterLengthExceedsChunk: "parameterLengthExceedsChunk"
        case .invalidParameterLength: "invalidParameterLength"
        case .truncatedParameterHeader: "truncatedParameterHeader"
        case .invalidParameterValue: "invalidParameterValue"
        case .missingMandatoryParameter: "missingMandatoryParameter"
        case .invalidErrorCauseLength: "invalidErrorCauseLength"
        }
    }

    @Test func randomMutations() throws {
        var rng = SplitMix64(seed: 0x5C7B_0001)
        let packets = Self.robustnessPackets
        let interesting: [UInt16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF]
        var successes = 0
        var kinds: [String: Int] = [:]
        for iteration in 0..<6000 {
            var bytes = packets[rng.below(packets.count)]
            for _ in 0..<(1 + rng.below(3)) {
                guard bytes.count > 13 else { break }
                let position = 12 + rng.below(bytes.count - 12)
                switch rng.below(6) {
                case 0:
                    bytes[position] = rng.byte()
                case 1:
                    bytes[position] ^= 1 << UInt8(rng.below(8))
                case 2:
                    // A 16-bit value where a length or count field may be.
                    let p = min(position, bytes.count - 2)
                    let old = UInt16(bytes[p]) << 8 | UInt16(bytes[p + 1])
                    let value = rng.below(3) == 0 ? old &+ UInt16(truncatingIfNeeded: rng.below(9) - 4)
                                                  : interesting[rng.below(interesting.count)]
                    bytes[p] = UInt8(value >> 8)
                    bytes[p + 1] = UInt8(value & 0xFF)
                case 3:
                    bytes.removeSubrange(position...)
                case 4:
                    bytes += (0..<(1 + rng.below(8))).map { _ in rng.byte() }
                default:
                    // Copy four bytes from one place to another (moves headers into values and back).
                    let from = 12 + rng.below(bytes.count - 12)
                    for k in 0..<4 where from + k < bytes.count && position + k < bytes.count {
                        bytes[position + k] = bytes[from + k]
                    }
                }
            }
            do {
                let packet = try SCTPPacket(parsing: WireKit.buffer(bytes), checksum: .skipped)
                successes += 1
                // What parsed can be written, and reads back the same (with a correct checksum now).
                let again = try SCTPPacket(parsing: packet.serialized())
                #expect(again.chunks == packet.chunks, "iteration \(iteration)")
                _ = packet.unrecognizedChunksToReport
                _ = try? packet.validateBundling()
            } catch {
                kinds[Self.errorKind(error), default: 0] += 1
            }
        }
        // The mutations reached the chunk, parameter and cause parsers, and some packets survived.
        #expect(successes > 300)
        for kind in ["truncatedChunkHeader", "chunkLengthTooSmall", "chunkLengthExceedsPacket", "invalidChunkLength",
                     "parameterLengthTooSmall", "parameterLengthExceedsChunk", "invalidParameterLength",
                     "truncatedParameterHeader", "invalidErrorCauseLength"] {
            #expect(kinds[kind, default: 0] > 0, "no \(kind) in \(kinds)")
        }
    }

    @Test func randomDatagrams() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<2000 {
            let length = rng.below(80)
            var bytes = (0..<length).map { _ in rng.byte() }
            // Often start the chunk area with a plausible header.
            if length >= 16, rng.below(2) == 0 {
                bytes[12] = [0, 1, 2, 3, 6, 9, 0x80, 0x82, 0xC1][rng.below(9)]
                bytes[14] = 0
                bytes[15] = UInt8(4 + rng.below(length - 15))
            }
            do {
                _ = try SCTPPacket(parsing: WireKit.buffer(bytes), checksum: .skipped)
                #expect(length > 12)
            } catch {
                if length < 12 { #expect(error == .packetTooShort(length: length)) }
                if length == 12 { #expect(error == .noChunks) }
            }
        }
    }
}

extension SplitMix64 {
    /// A value in `0 ..< n`.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}
