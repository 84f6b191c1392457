import NIOCore
import SCTPWire
import Testing

/// `ParameterList(parsing:)` checks the parameters in place and keeps their bytes: it must
/// accept and refuse exactly what reading every parameter as a value accepts and refuses
/// (the eager reader it replaced, kept below as the reference), list the same parameters, and
/// the in-place readers (`ParameterCursor`, `addresses`, `firstValue`) must see the same ones.
@Suite("Parameter lists read in place")
struct InPlaceParameterListTests {
    /// The eager reader the in-place one replaced: every TLV read and made a value, stopping
    /// after an unknown parameter whose type says stop.
    static func reference(_ bytes: [UInt8]) -> Result<[(parameter: Parameter, type: UInt16, value: [UInt8])], WireError> {
        var offset = 0
        var result: [(parameter: Parameter, type: UInt16, value: [UInt8])] = []
        while offset < bytes.count {
            let available = bytes.count - offset
            guard available >= 4 else { return .failure(.truncatedParameterHeader(available: available)) }
            let type = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
            let length = Int(UInt16(bytes[offset + 2]) << 8 | UInt16(bytes[offset + 3]))
            guard length >= 4 else { return .failure(.parameterLengthTooSmall(type: type, length: length)) }
            guard length <= available else {
                return .failure(.parameterLengthExceedsChunk(type: type, length: length, available: available))
            }
            let value = ByteBuffer(bytes: bytes[(offset + 4)..<(offset + length)])
            let parameter: Parameter
            do { parameter = try Parameter(type: type, value: value) } catch { return .failure(error) }
            result.append((parameter, type, Array(bytes[(offset + 4)..<(offset + length)])))
            if case .unknown(let unknown) = parameter, !unknown.action.continues { break }
            offset = min(offset + length + (4 - length % 4) % 4, bytes.count)
        }
        return .success(result)
    }

    /// Parses `bytes` both ways and checks that they agree; returns the in-place list.
    @discardableResult
    static func agree(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> ParameterList? {
        let expected = reference(bytes)
        let parsed: Result<ParameterList, WireError>
        do { parsed = .success(try ParameterList(parsing: ByteBuffer(bytes: bytes))) } catch { parsed = .failure(error) }
        switch (expected, parsed) {
        case (.success(let read), .success(let list)):
            let values = read.map(\.parameter)
            #expect(list.parameters == values, "\(bytes)", sourceLocation: sourceLocation)
            // The cursor sees the same parameters: types, and each value's bytes as they came.
            let seen: [(UInt16, [UInt8])] = list.withParameterBytes { cursor in
                var seen: [(UInt16, [UInt8])] = []
                while let parameter = cursor.next() { seen.append((parameter.type, Array(cursor.rawBytes(parameter.value)))) }
                return seen
            }
            #expect(seen.map(\.0) == read.map(\.type), "\(bytes)", sourceLocation: sourceLocation)
            #expect(seen.map(\.1) == read.map(\.value), "\(bytes)", sourceLocation: sourceLocation)
            #expect(list.addresses == values.compactMap(\.address), sourceLocation: sourceLocation)
            #expect(list.isEmpty == values.isEmpty, sourceLocation: sourceLocation)
            return list
        case (.failure(let error), .failure(let thrown)):
            #expect(thrown == error, "\(bytes)", sourceLocation: sourceLocation)
        default:
            Issue.record("reference \(expected), in place \(parsed) for \(bytes)", sourceLocation: sourceLocation)
        }
        return nil
    }

    static func tlv(_ type: UInt16, _ value: [UInt8], lengthField: Int? = nil) -> [UInt8] {
        let length = lengthField ?? (4 + value.count)
        return [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + value
            + [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
    }

    /// Every parameter type `Parameter` knows, and unknown ones of each action.
    static let types: [UInt16] = [1, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 0x8000, 0x8001, 0x8002, 0x8003, 0x8004,
                                  0x8005, 0x8008, 0xC000, 0xC001, 0xC002, 0xC003, 0xC004, 0xC005, 0xC006,
                                  0x0003, 0x3FFF, 0x4001, 0x7FFF, 0x8009, 0xBFFF, 0xC007, 0xFFFF]

    @Test("every type with values of 0 to 24 bytes (and 32), between two good parameters: the same list or the same error")
    func everyTypeAndLength() {
        let before = Self.tlv(5, [10, 0, 0, 1])
        let after = Self.tlv(0x8000, [])
        for type in Self.types {
            for length in Array(0...24) + [32] {
                let value = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 5) }
                Self.agree(before + Self.tlv(type, value) + after)
                Self.agree(Self.tlv(type, value))
                // The last parameter's padding left out.
                Self.agree(before + Array(Self.tlv(type, value).prefix(4 + length)))
            }
        }
    }

    @Test("broken TLV headers: a truncated header, a length below 4, a length past the chunk, garbage after a stop")
    func brokenHeaders() throws {
        let good = Self.tlv(5, [10, 0, 0, 1])
        Self.agree(good + [0x80, 0x00])
        Self.agree(good + [0x80, 0x00, 0x00])
        Self.agree(good + Self.tlv(0x8000, [], lengthField: 3))
        Self.agree(good + Self.tlv(0x8000, [], lengthField: 0))
        Self.agree(good + Self.tlv(5, [10, 0, 0, 1], lengthField: 9))
        Self.agree(good + Self.tlv(7, [1, 2, 3], lengthField: 200))
        // After an unknown parameter whose type says stop, nothing is read, not even a broken header.
        for stop: UInt16 in [0x0003, 0x7FFF] {
            let list = try #require(Self.agree(good + Self.tlv(stop, [9, 9]) + [0xFF, 0xFF, 0x00, 0x01, 0x02]))
            #expect(list.parameters.count == 2)
        }
        // After one that says skip, the broken header is read and refused.
        Self.agree(good + Self.tlv(0xBFFF, [9, 9]) + [0xFF, 0xFF, 0x00, 0x01, 0x02])
        Self.agree([])
    }

    @Test("5,000 seeded random lists of known and unknown types, lengths right and wrong: the same list or the same error")
    func seededRandomLists() {
        var state: UInt64 = 0x5EED_0001
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        for _ in 0..<5_000 {
            var bytes: [UInt8] = []
            for _ in 0..<(Int(next() % 7)) {
                let type = Self.types[Int(next() % UInt64(Self.types.count))]
                let length = Int(next() % 4 == 0 ? next() % 40 : [0, 2, 4, 8, 16, 32][Int(next() % 6)])
                let value = (0..<length).map { _ in UInt8(truncatingIfNeeded: next()) }
                var item = Self.tlv(type, value)
                switch next() % 16 {
                case 0: item[3] = UInt8(truncatingIfNeeded: next())  // a lying length field
                case 1: item[2] = 0xFF
                default: break
                }
                bytes += item
            }
            if next() % 8 == 0 { bytes += (0..<Int(next() % 4)).map { _ in UInt8(truncatingIfNeeded: next()) } }
            Self.agree(bytes)
        }
    }

    @Test("a list of values and the same list read from its bytes: equal, the same bytes written, the same readers' answers")
    func valuesAndBytes() throws {
        let values: [Parameter] = [
            .ipv4Address(IPv4AddressParameter(address: IPv4Address(10, 1, 2, 3))),
            .ipv6Address(IPv6AddressParameter(address: IPv6Address(high: 0x2001_0DB8_0000_0000, low: 1))),
            .stateCookie(StateCookieParameter(cookie: ByteBuffer(bytes: [1, 2, 3, 4, 5]))),
            .random(RandomParameter(random: ByteBuffer(repeating: 7, count: 32))),
            .unknown(UnknownParameter(type: 0xFFFF, value: ByteBuffer(bytes: [1]))),
        ]
        let list = ParameterList(values)
        var bytes = ByteBuffer()
        list.write(to: &bytes)
        let parsed = try ParameterList(parsing: bytes)
        #expect(parsed == list)
        #expect(parsed.hashValue == list.hashValue)
        var written = ByteBuffer()
        parsed.write(to: &written)
        #expect(written == bytes)
        #expect(parsed.bytes == list.bytes)
        for candidate in [list, parsed] {
            #expect(candidate.addresses == [.v4(IPv4Address(10, 1, 2, 3)), .v6(IPv6Address(high: 0x2001_0DB8_0000_0000, low: 1))])
            #expect(candidate.firstValue(ofType: StateCookieParameter.parameterType) == ByteBuffer(bytes: [1, 2, 3, 4, 5]))
            #expect(candidate.firstValue(ofType: 0x8001) == nil)
            #expect(candidate.unrecognizedToReport == [UnknownParameter(type: 0xFFFF, value: ByteBuffer(bytes: [1]))])
        }
        // An INIT ACK read from the wire finds its cookie in place; one without is refused.
        let ack = try InitAckChunk(initiateTag: 1, advertisedReceiverWindowCredit: 2, outboundStreams: 3, inboundStreams: 4,
                                   initialTSN: TSN(5), parameters: list)
        var chunk = ByteBuffer()
        Chunk.initiationAck(ack).write(to: &chunk)
        var reader = ChunkReader(chunksOf: ByteBuffer(repeating: 0, count: 12) + chunk)
        guard case .initiationAck(let read) = try reader.next() else { Issue.record("no INIT ACK"); return }
        #expect(read.stateCookie == ByteBuffer(bytes: [1, 2, 3, 4, 5]))
        #expect(read == ack)
        let noCookie = InitChunk(initiateTag: 1, advertisedReceiverWindowCredit: 2, outboundStreams: 3, inboundStreams: 4,
                                 initialTSN: TSN(5), parameters: ParameterList(Array(values.prefix(2))))
        var withoutCookie = ByteBuffer()
        Chunk.initiation(noCookie).write(to: &withoutCookie)
        withoutCookie.setInteger(InitAckChunk.chunkType, at: withoutCookie.readerIndex)
        var reader2 = ChunkReader(chunksOf: ByteBuffer(repeating: 0, count: 12) + withoutCookie)
        #expect(throws: WireError.missingMandatoryParameter(chunkType: 2, parameterType: 7)) { _ = try reader2.next() }
    }

    @Test("the COOKIE ECHO written straight from the cookie's bytes is the packet SCTPPacket writes, for every padding")
    func cookieEchoPacket() throws {
        let header = CommonHeader(sourcePort: 5000, destinationPort: 5001, verificationTag: 0xDEAD_BEEF)
        for length in [1, 2, 3, 4, 5, 6, 7, 8, 301, 65_531] {
            let cookie = ByteBuffer(bytes: (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) })
            let expected = SCTPPacket(header: header, chunks: [.cookieEcho(CookieEchoChunk(cookie: cookie))]).serialized()
            let written = CookieEchoChunk.packet(header: header, cookie: cookie)
            #expect(written == expected, "cookie of \(length) bytes")
            let parsed = try SCTPPacket(parsing: written)
            #expect(parsed.chunks == [.cookieEcho(CookieEchoChunk(cookie: cookie))])
        }
    }

    @Test("the COOKIE ACK written straight into its datagram is the packet SCTPPacket writes, with CRC32c or a zero checksum")
    func cookieAckPacket() throws {
        let header = CommonHeader(sourcePort: 5001, destinationPort: 5000, verificationTag: 0x0102_0304)
        for mode in [ChecksumMode.crc32c, .zero] {
            let expected = SCTPPacket(header: header, chunks: [.cookieAck(CookieAckChunk())]).serialized(checksum: mode)
            #expect(CookieAckChunk.packet(header: header, checksum: mode) == expected)
        }
        #expect(try SCTPPacket(parsing: CookieAckChunk.packet(header: header, checksum: .crc32c)).chunks == [.cookieAck(CookieAckChunk())])
    }
}

private func + (a: ByteBuffer, b: ByteBuffer) -> ByteBuffer {
    var result = a
    var b = b
    result.writeBuffer(&b)
    return result
}
