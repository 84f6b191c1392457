import NIOCore
import SCTPWire
import Testing

struct CauseSample: Sendable, CustomTestStringConvertible {
    var name: String
    var cause: ErrorCause
    /// Expected bytes (header and value, no trailing padding), when checked by hand.
    var expected: [UInt8]?
    var testDescription: String { name }
}

/// Sample error causes covering every case of `ErrorCause` (RFC 9260 §3.3.10, RFC 5061 §5.4, RFC 4895).
enum CauseSamples {
    static let hostName = Parameter.hostNameAddress(HostNameAddressParameter(name: "h.example"))
    static let deleteRequest = Parameter.deleteIPAddress(DeleteIPAddressParameter(correlationID: 4, address: .v4(IPv4Address(192, 0, 2, 9))))
    static let addRequest = Parameter.addIPAddress(AddIPAddressParameter(correlationID: 5, address: .v4(IPv4Address(192, 0, 2, 10))))
    static let unknownChunk = UnknownChunk(type: 0x7F, flags: 0x03, value: WireKit.buffer([0xCA, 0xFE, 0x01]))

    static var all: [CauseSample] {
        [
            CauseSample(name: "Invalid Stream Identifier", cause: .invalidStreamIdentifier(InvalidStreamIdentifierCause(streamIdentifier: 0x1234)),
                        expected: WireKit.hex("00 01 00 08 12 34 00 00")),
            CauseSample(name: "Missing Mandatory Parameter", cause: .missingMandatoryParameter(MissingMandatoryParameterCause(
                missingParameterTypes: [7, 9, 0x8001])),
                        expected: WireKit.hex("00 02 00 0E 00 00 00 03 00 07 00 09 80 01")),
            CauseSample(name: "Missing Mandatory Parameter none", cause: .missingMandatoryParameter(MissingMandatoryParameterCause(
                missingParameterTypes: [])),
                        expected: WireKit.hex("00 02 00 08 00 00 00 00")),
            CauseSample(name: "Stale Cookie", cause: .staleCookie(StaleCookieCause(staleness: 0x000F_4240)),
                        expected: WireKit.hex("00 03 00 08 00 0F 42 40")),
            CauseSample(name: "Out of Resource", cause: .outOfResource(OutOfResourceCause()),
                        expected: WireKit.hex("00 04 00 04")),
            CauseSample(name: "Unresolvable Address", cause: .unresolvableAddress(UnresolvableAddressCause(parameter: hostName)),
                        expected: WireKit.hex("00 05 00 12  00 0B 00 0E 68 2E 65 78 61 6D 70 6C 65 00")),
            CauseSample(name: "Unrecognized Chunk Type", cause: .unrecognizedChunkType(UnrecognizedChunkTypeCause(chunk: unknownChunk)),
                        expected: WireKit.hex("00 06 00 0B  7F 03 00 07 CA FE 01")),
            CauseSample(name: "Invalid Mandatory Parameter", cause: .invalidMandatoryParameter(InvalidMandatoryParameterCause()),
                        expected: WireKit.hex("00 07 00 04")),
            CauseSample(name: "Unrecognized Parameters", cause: .unrecognizedParameters(UnrecognizedParametersCause(parameters: [
                UnknownParameter(type: 0xFFFF, value: WireKit.buffer([1])),
                UnknownParameter(type: 0x7FFE, value: WireKit.buffer([2, 3, 4, 5])),
            ])),
                        expected: WireKit.hex("00 08 00 14  FF FF 00 05 01 00 00 00  7F FE 00 08 02 03 04 05")),
            CauseSample(name: "No User Data", cause: .noUserData(NoUserDataCause(tsn: TSN(0xFFFF_FFFE))),
                        expected: WireKit.hex("00 09 00 08 FF FF FF FE")),
            CauseSample(name: "Cookie Received While Shutting Down", cause: .cookieReceivedWhileShuttingDown(CookieReceivedWhileShuttingDownCause()),
                        expected: WireKit.hex("00 0A 00 04")),
            CauseSample(name: "Restart With New Addresses", cause: .restartWithNewAddresses(RestartWithNewAddressesCause(addresses: [
                .v4(IPv4Address(192, 0, 2, 1)), .v6(IPv6Address.loopback),
            ])),
                        expected: WireKit.hex("00 0B 00 20  00 05 00 08 C0 00 02 01  00 06 00 14 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01")),
            CauseSample(name: "User-Initiated Abort", cause: .userInitiatedAbort(UserInitiatedAbortCause(bytes: ByteBuffer(string: "bye"))),
                        expected: WireKit.hex("00 0C 00 07 62 79 65")),
            CauseSample(name: "User-Initiated Abort empty", cause: .userInitiatedAbort(UserInitiatedAbortCause(bytes: ByteBuffer())),
                        expected: WireKit.hex("00 0C 00 04")),
            CauseSample(name: "Protocol Violation", cause: .protocolViolation(ProtocolViolationCause(information: "bad TSN")),
                        expected: WireKit.hex("00 0D 00 0B 62 61 64 20 54 53 4E")),
            CauseSample(name: "Delete Last Remaining Address", cause: .deleteLastRemainingAddress(DeleteLastRemainingAddressCause(
                bytes: WireKit.buffer(WireKit.parameterBytes(deleteRequest)))),
                        expected: WireKit.hex("00 A0 00 14  C0 02 00 10 00 00 00 04 00 05 00 08 C0 00 02 09")),
            CauseSample(name: "Resource Shortage", cause: .resourceShortage(ResourceShortageCause(
                bytes: WireKit.buffer(WireKit.parameterBytes(addRequest)))),
                        expected: WireKit.hex("00 A1 00 14  C0 01 00 10 00 00 00 05 00 05 00 08 C0 00 02 0A")),
            CauseSample(name: "Delete Source Address", cause: .deleteSourceAddress(DeleteSourceAddressCause(
                bytes: WireKit.buffer(WireKit.parameterBytes(deleteRequest)))),
                        expected: WireKit.hex("00 A2 00 14  C0 02 00 10 00 00 00 04 00 05 00 08 C0 00 02 09")),
            CauseSample(name: "Illegal ASCONF-ACK", cause: .illegalASCONFAck(IllegalASCONFAckCause()),
                        expected: WireKit.hex("00 A3 00 04")),
            CauseSample(name: "No Authorization", cause: .noAuthorization(NoAuthorizationCause(
                bytes: WireKit.buffer(WireKit.parameterBytes(addRequest)))),
                        expected: WireKit.hex("00 A4 00 14  C0 01 00 10 00 00 00 05 00 05 00 08 C0 00 02 0A")),
            CauseSample(name: "Unsupported HMAC Identifier", cause: .unsupportedHMACIdentifier(UnsupportedHMACIdentifierCause(hmacIdentifier: 2)),
                        expected: WireKit.hex("01 05 00 06 00 02")),
            CauseSample(name: "unknown code", cause: .unknown(UnknownErrorCause(code: 0x1234, value: WireKit.buffer([9, 8, 7, 6, 5]))),
                        expected: WireKit.hex("12 34 00 09 09 08 07 06 05")),
        ]
    }

    /// Exhaustive over `ErrorCause`: a new case breaks the build here.
    static func caseName(_ cause: ErrorCause) -> String {
        switch cause {
        case .invalidStreamIdentifier: "invalidStreamIdentifier"
        case .missingMandatoryParameter: "missingMandatoryParameter"
        case .staleCookie: "staleCookie"
        case .outOfResource: "outOfResource"
        case .unresolvableAddress: "unresolvableAddress"
        case .unrecognizedChunkType: "unrecognizedChunkType"
        case .invalidMandatoryParameter: "invalidMandatoryParameter"
        case .unrecognizedParameters: "unrecognizedParameters"
        case .noUserData: "noUserData"
        case .cookieReceivedWhileShuttingDown: "cookieReceivedWhileShuttingDown"
        case .restartWithNewAddresses: "restartWithNewAddresses"
        case .userInitiatedAbort: "userInitiatedAbort"
        case .protocolViolation: "protocolViolation"
        case .deleteLastRemainingAddress: "deleteLastRemainingAddress"
        case .resourceShortage: "resourceShortage"
        case .deleteSourceAddress: "deleteSourceAddress"
        case .illegalASCONFAck: "illegalASCONFAck"
        case .noAuthorization: "noAuthorization"
        case .unsupportedHMACIdentifier: "unsupportedHMACIdentifier"
        case .unknown: "unknown"
        }
    }

    static let caseCount = 20
}

@Suite("Error cause round trips")
struct ErrorCauseRoundTripTests {
    @Test func samplesCoverEveryCauseCase() {
        #expect(Set(CauseSamples.all.map { CauseSamples.caseName($0.cause) }).count == CauseSamples.caseCount)
    }

    @Test(arguments: CauseSamples.all)
    func roundTrip(_ sample: CauseSample) throws {
        let bytes = WireKit.causeBytes(sample.cause)
        if let expected = sample.expected { #expect(bytes == expected) }
        #expect(WireKit.be16(bytes, 0) == Int(sample.cause.code))
        #expect(WireKit.be16(bytes, 2) == bytes.count)

        #expect(try ErrorCause.parseList(WireKit.buffer(bytes)) == [sample.cause])
        let padding = [UInt8](repeating: 0, count: (4 - bytes.count % 4) % 4)
        #expect(try ErrorCause.parseList(WireKit.buffer(bytes + padding)) == [sample.cause])
        #expect(try ErrorCause(code: sample.cause.code, value: WireKit.buffer(Array(bytes.dropFirst(4)))) == sample.cause)

        // In an ERROR chunk between two other causes, and in an ABORT, in whole packets.
        let other = ErrorCause.protocolViolation(ProtocolViolationCause(information: "z"))
        var list = ByteBuffer()
        ErrorCause.writeList([other, sample.cause, other], to: &list)
        #expect(WireKit.bytes(list) == WireKit.causeBytes(other) + [0, 0, 0] + bytes + padding + WireKit.causeBytes(other))
        let chunks: [Chunk] = [
            .error(ErrorChunk(causes: [other, sample.cause, other])),
            .abort(AbortChunk(tagFlags: .reflectedTag, causes: [sample.cause])),
        ]
        let parsed = try SCTPPacket(parsing: SCTPPacket(header: WireKit.header, chunks: chunks).serialized())
        #expect(parsed.chunks == chunks)
    }

    @Test func allSamplesInOneErrorChunk() throws {
        let causes = CauseSamples.all.map(\.cause)
        let chunk = Chunk.error(ErrorChunk(causes: causes))
        let parsed = try SCTPPacket(parsing: SCTPPacket(header: WireKit.header, chunks: [chunk]).serialized())
        #expect(parsed.chunks == [chunk])
    }

    @Test func causeCodes() {
        let expected: [String: UInt16] = [
            "invalidStreamIdentifier": 1, "missingMandatoryParameter": 2, "staleCookie": 3, "outOfResource": 4,
            "unresolvableAddress": 5, "unrecognizedChunkType": 6, "invalidMandatoryParameter": 7,
            "unrecognizedParameters": 8, "noUserData": 9, "cookieReceivedWhileShuttingDown": 10,
            "restartWithNewAddresses": 11, "userInitiatedAbort": 12, "protocolViolation": 13,
            "deleteLastRemainingAddress": 0xA0, "resourceShortage": 0xA1, "deleteSourceAddress": 0xA2,
            "illegalASCONFAck": 0xA3, "noAuthorization": 0xA4, "unsupportedHMACIdentifier": 0x105, "unknown": 0x1234,
        ]
        for sample in CauseSamples.all {
            #expect(sample.cause.code == expected[CauseSamples.caseName(sample.cause)], "\(sample.name)")
        }
    }

    @Test func restartWithNewAddressesListsItsAddresses() throws {
        let addresses: [IPAddress] = [.v4(IPv4Address(192, 0, 2, 1)), .v6(IPv6Address.loopback), .v4(IPv4Address(10, 0, 0, 1))]
        let cause = RestartWithNewAddressesCause(addresses: addresses)
        #expect(try cause.addresses() == addresses)
        let parsed = try ErrorCause.parseList(WireKit.buffer(WireKit.causeBytes(.restartWithNewAddresses(cause))))
        guard case .restartWithNewAddresses(let back) = parsed.first else { Issue.record("wrong cause"); return }
        #expect(try back.addresses() == addresses)
    }

    @Test func unsupportedHMACIdentifierWithPaddingCounted() throws {
        // RFC 4895 §4.1 pads the 2-byte identifier; a peer that counts the padding in the length is accepted.
        let parsed = try ErrorCause.parseList(WireKit.buffer(WireKit.hex("01 05 00 08 00 03 00 00")))
        #expect(parsed == [.unsupportedHMACIdentifier(UnsupportedHMACIdentifierCause(hmacIdentifier: 3))])
    }

    @Test func invalidStreamIdentifierReservedIgnored() throws {
        let parsed = try ErrorCause.parseList(WireKit.buffer(WireKit.hex("00 01 00 08 00 05 FF FF")))
        #expect(parsed == [.invalidStreamIdentifier(InvalidStreamIdentifierCause(streamIdentifier: 5))])
    }

    @Test func emptyCauseList() throws {
        #expect(try ErrorCause.parseList(ByteBuffer()) == [])
        var buffer = ByteBuffer()
        ErrorCause.writeList([], to: &buffer)
        #expect(buffer.readableBytes == 0)
    }
}
