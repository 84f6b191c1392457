import NIOCore
import SCTPWire
import Testing

struct ParameterSample: Sendable, CustomTestStringConvertible {
    var name: String
    var parameter: Parameter
    /// The expected bytes (header and value, no trailing padding), when checked by hand.
    var expected: [UInt8]?
    var testDescription: String { name }
}

/// Sample parameters covering every case of `Parameter`, most with hand-computed bytes.
enum ParameterSamples {
    static let v4 = IPv4Address(10, 1, 2, 3)
    /// 2001:db8::1
    static let v6 = IPv6Address(high: 0x2001_0DB8_0000_0000, low: 1)
    static let v6Bytes = WireKit.hex("20 01 0D B8 00 00 00 00 00 00 00 00 00 00 00 01")

    static var all: [ParameterSample] {
        [
            ParameterSample(name: "Heartbeat Info", parameter: .heartbeatInfo(HeartbeatInfoParameter(info: ByteBuffer(string: "ABCDE"))),
                            expected: WireKit.hex("00 01 00 09 41 42 43 44 45")),
            ParameterSample(name: "IPv4 Address", parameter: .ipv4Address(IPv4AddressParameter(address: v4)),
                            expected: WireKit.hex("00 05 00 08 0A 01 02 03")),
            ParameterSample(name: "IPv6 Address", parameter: .ipv6Address(IPv6AddressParameter(address: v6)),
                            expected: WireKit.hex("00 06 00 14") + v6Bytes),
            ParameterSample(name: "State Cookie", parameter: .stateCookie(StateCookieParameter(cookie: WireKit.buffer([1, 2, 3]))),
                            expected: WireKit.hex("00 07 00 07 01 02 03")),
            ParameterSample(name: "Unrecognized Parameter", parameter: .unrecognizedParameter(UnrecognizedParameter(
                reporting: UnknownParameter(type: 0xFFFF, value: WireKit.buffer([0xAB, 0xCD, 0xEF])))),
                            expected: WireKit.hex("00 08 00 0B  FF FF 00 07 AB CD EF")),
            ParameterSample(name: "Cookie Preservative", parameter: .cookiePreservative(CookiePreservativeParameter(lifeSpanIncrement: 100_000)),
                            expected: WireKit.hex("00 09 00 08 00 01 86 A0")),
            ParameterSample(name: "Host Name Address", parameter: .hostNameAddress(HostNameAddressParameter(name: "a.example")),
                            expected: WireKit.hex("00 0B 00 0E 61 2E 65 78 61 6D 70 6C 65 00")),
            ParameterSample(name: "Supported Address Types", parameter: .supportedAddressTypes(SupportedAddressTypesParameter(addressTypes: [5, 6, 11])),
                            expected: WireKit.hex("00 0C 00 0A 00 05 00 06 00 0B")),
            ParameterSample(name: "Outgoing SSN Reset Request", parameter: .outgoingSSNResetRequest(OutgoingSSNResetRequestParameter(
                requestSequenceNumber: 0x0102_0304, responseSequenceNumber: 0x0506_0708, sendersLastAssignedTSN: TSN(0xFFFF_FFFF), streams: [9])),
                            expected: WireKit.hex("00 0D 00 12 01 02 03 04 05 06 07 08 FF FF FF FF 00 09")),
            ParameterSample(name: "Outgoing SSN Reset Request all streams", parameter: .outgoingSSNResetRequest(OutgoingSSNResetRequestParameter(
                requestSequenceNumber: 1, responseSequenceNumber: 2, sendersLastAssignedTSN: TSN(3), streams: [])),
                            expected: WireKit.hex("00 0D 00 10 00 00 00 01 00 00 00 02 00 00 00 03")),
            ParameterSample(name: "Incoming SSN Reset Request", parameter: .incomingSSNResetRequest(IncomingSSNResetRequestParameter(
                requestSequenceNumber: 2, streams: [4, 5])),
                            expected: WireKit.hex("00 0E 00 0C 00 00 00 02 00 04 00 05")),
            ParameterSample(name: "SSN/TSN Reset Request", parameter: .ssnTSNResetRequest(SSNTSNResetRequestParameter(requestSequenceNumber: 0x8000_0000)),
                            expected: WireKit.hex("00 0F 00 08 80 00 00 00")),
            ParameterSample(name: "Re-configuration Response", parameter: .reconfigurationResponse(ReconfigurationResponseParameter(
                responseSequenceNumber: 9, result: .denied)),
                            expected: WireKit.hex("00 10 00 0C 00 00 00 09 00 00 00 02")),
            ParameterSample(name: "Re-configuration Response with TSNs", parameter: .reconfigurationResponse(ReconfigurationResponseParameter(
                responseSequenceNumber: 9, result: .successPerformed, sendersNextTSN: TSN(0xFFFF_FFFF), receiversNextTSN: TSN(1))),
                            expected: WireKit.hex("00 10 00 14 00 00 00 09 00 00 00 01 FF FF FF FF 00 00 00 01")),
            ParameterSample(name: "Add Outgoing Streams", parameter: .addOutgoingStreams(AddOutgoingStreamsParameter(
                requestSequenceNumber: 10, newStreams: 0x0100)),
                            expected: WireKit.hex("00 11 00 0C 00 00 00 0A 01 00 00 00")),
            ParameterSample(name: "Add Incoming Streams", parameter: .addIncomingStreams(AddIncomingStreamsParameter(
                requestSequenceNumber: 11, newStreams: 0xFFFF)),
                            expected: WireKit.hex("00 12 00 0C 00 00 00 0B FF FF 00 00")),
            ParameterSample(name: "ECN Capable", parameter: .ecnCapable(ECNCapableParameter()),
                            expected: WireKit.hex("80 00 00 04")),
            ParameterSample(name: "Zero Checksum Acceptable", parameter: .zeroChecksumAcceptable(ZeroChecksumAcceptableParameter(
                errorDetectionMethod: ZeroChecksumAcceptableParameter.dtls)),
                            expected: WireKit.hex("80 01 00 08 00 00 00 01")),
            ParameterSample(name: "Random", parameter: .random(RandomParameter(random: WireKit.buffer(Array(1...32)))),
                            expected: WireKit.hex("80 02 00 24") + Array(1...32)),
            ParameterSample(name: "Chunk List", parameter: .chunkList(ChunkListParameter(chunkTypes: [0x00, 0x03, 0xC1])),
                            expected: WireKit.hex("80 03 00 07 00 03 C1")),
            ParameterSample(name: "Requested HMAC Algorithm", parameter: .requestedHMACAlgorithm(RequestedHMACAlgorithmParameter(
                hmacIdentifiers: [RequestedHMACAlgorithmParameter.sha256, RequestedHMACAlgorithmParameter.sha1])),
                            expected: WireKit.hex("80 04 00 08 00 03 00 01")),
            ParameterSample(name: "Padding", parameter: .padding(PaddingParameter(paddingLength: 5)),
                            expected: WireKit.hex("80 05 00 09 00 00 00 00 00")),
            ParameterSample(name: "Supported Extensions", parameter: .supportedExtensions(SupportedExtensionsParameter(chunkTypes: [0x82, 0xC0])),
                            expected: WireKit.hex("80 08 00 06 82 C0")),
            ParameterSample(name: "Forward-TSN-Supported", parameter: .forwardTSNSupported(ForwardTSNSupportedParameter()),
                            expected: WireKit.hex("C0 00 00 04")),
            ParameterSample(name: "Add IP Address v6", parameter: .addIPAddress(AddIPAddressParameter(correlationID: 0x0A0B_0C0D, address: .v6(v6))),
                            expected: WireKit.hex("C0 01 00 1C 0A 0B 0C 0D 00 06 00 14") + v6Bytes),
            ParameterSample(name: "Delete IP Address v4", parameter: .deleteIPAddress(DeleteIPAddressParameter(correlationID: 7, address: .v4(v4))),
                            expected: WireKit.hex("C0 02 00 10 00 00 00 07 00 05 00 08 0A 01 02 03")),
            ParameterSample(name: "Error Cause Indication", parameter: .errorCauseIndication(ErrorCauseIndicationParameter(
                correlationID: 2, causes: [.invalidStreamIdentifier(InvalidStreamIdentifierCause(streamIdentifier: 5))])),
                            expected: WireKit.hex("C0 03 00 10 00 00 00 02 00 01 00 08 00 05 00 00")),
            ParameterSample(name: "Error Cause Indication two causes", parameter: .errorCauseIndication(ErrorCauseIndicationParameter(
                correlationID: 3, causes: [.protocolViolation(ProtocolViolationCause(information: "x")), .outOfResource(OutOfResourceCause())])),
                            expected: WireKit.hex("C0 03 00 14 00 00 00 03  00 0D 00 05 78 00 00 00  00 04 00 04")),
            ParameterSample(name: "Set Primary Address", parameter: .setPrimaryAddress(SetPrimaryAddressParameter(correlationID: 0xFFFF_FFFF, address: .v4(v4))),
                            expected: WireKit.hex("C0 04 00 10 FF FF FF FF 00 05 00 08 0A 01 02 03")),
            ParameterSample(name: "Success Indication", parameter: .successIndication(SuccessIndicationParameter(correlationID: 0x11)),
                            expected: WireKit.hex("C0 05 00 08 00 00 00 11")),
            ParameterSample(name: "Adaptation Layer Indication", parameter: .adaptationLayerIndication(AdaptationLayerIndicationParameter(
                adaptationCodePoint: 0xDEAD_BEEF)),
                            expected: WireKit.hex("C0 06 00 08 DE AD BE EF")),
            ParameterSample(name: "unknown 0xBEEF", parameter: .unknown(UnknownParameter(type: 0xBEEF, value: WireKit.buffer([1, 2, 3]))),
                            expected: WireKit.hex("BE EF 00 07 01 02 03")),
            ParameterSample(name: "unknown 0x8123 empty", parameter: .unknown(UnknownParameter(type: 0x8123, value: ByteBuffer())),
                            expected: WireKit.hex("81 23 00 04")),
        ]
    }

    /// Exhaustive over `Parameter`: a new case breaks the build here.
    static func caseName(_ parameter: Parameter) -> String {
        switch parameter {
        case .heartbeatInfo: "heartbeatInfo"
        case .ipv4Address: "ipv4Address"
        case .ipv6Address: "ipv6Address"
        case .stateCookie: "stateCookie"
        case .unrecognizedParameter: "unrecognizedParameter"
        case .cookiePreservative: "cookiePreservative"
        case .hostNameAddress: "hostNameAddress"
        case .supportedAddressTypes: "supportedAddressTypes"
        case .outgoingSSNResetRequest: "outgoingSSNResetRequest"
        case .incomingSSNResetRequest: "incomingSSNResetRequest"
        case .ssnTSNResetRequest: "ssnTSNResetRequest"
        case .reconfigurationResponse: "reconfigurationResponse"
        case .addOutgoingStreams: "addOutgoingStreams"
        case .addIncomingStreams: "addIncomingStreams"
        case .ecnCapable: "ecnCapable"
        case .zeroChecksumAcceptable: "zeroChecksumAcceptable"
        case .random: "random"
        case .chunkList: "chunkList"
        case .requestedHMACAlgorithm: "requestedHMACAlgorithm"
        case .padding: "padding"
        case .supportedExtensions: "supportedExtensions"
        case .forwardTSNSupported: "forwardTSNSupported"
        case .addIPAddress: "addIPAddress"
        case .deleteIPAddress: "deleteIPAddress"
        case .errorCauseIndication: "errorCauseIndication"
        case .setPrimaryAddress: "setPrimaryAddress"
        case .successIndication: "successIndication"
        case .adaptationLayerIndication: "adaptationLayerIndication"
        case .unknown: "unknown"
        }
    }

    static let caseCount = 29
}

@Suite("Parameter round trips")
struct ParameterRoundTripTests {
    @Test func samplesCoverEveryParameterCase() {
        #expect(Set(ParameterSamples.all.map { ParameterSamples.caseName($0.parameter) }).count == ParameterSamples.caseCount)
    }

    @Test(arguments: ParameterSamples.all)
    func roundTrip(_ sample: ParameterSample) throws {
        let bytes = WireKit.parameterBytes(sample.parameter)
        if let expected = sample.expected { #expect(bytes == expected) }
        #expect(WireKit.be16(bytes, 0) == Int(sample.parameter.type))
        #expect(WireKit.be16(bytes, 2) == bytes.count)

        // Alone, without and with the trailing padding.
        #expect(try ParameterList(parsing: WireKit.buffer(bytes)).parameters == [sample.parameter])
        let padding = [UInt8](repeating: 0, count: (4 - bytes.count % 4) % 4)
        #expect(try ParameterList(parsing: WireKit.buffer(bytes + padding)).parameters == [sample.parameter])
        // From its type and value.
        #expect(try Parameter(type: sample.parameter.type, value: WireKit.buffer(Array(bytes.dropFirst(4)))) == sample.parameter)

        // Written as a one-item list: no trailing padding.
        var listBuffer = ByteBuffer()
        ParameterList([sample.parameter]).write(to: &listBuffer)
        #expect(WireKit.bytes(listBuffer) == bytes)

        // Between two other parameters: padded so the next starts 4-aligned.
        let before = Parameter.cookiePreservative(CookiePreservativeParameter(lifeSpanIncrement: 1))
        let after = Parameter.ecnCapable(ECNCapableParameter())
        var sandwich = ByteBuffer()
        ParameterList([before, sample.parameter, after]).write(to: &sandwich)
        #expect(WireKit.bytes(sandwich) == WireKit.parameterBytes(before) + bytes + padding + WireKit.parameterBytes(after))
        #expect(try ParameterList(parsing: sandwich).parameters == [before, sample.parameter, after])
    }

    @Test func allSamplesInOneListAndInAnINIT() throws {
        let parameters = ParameterSamples.all.map(\.parameter)
        let list = ParameterList(parameters)
        var buffer = ByteBuffer()
        list.write(to: &buffer)
        let bytes = WireKit.bytes(buffer)

        // Walk the bytes: every parameter starts 4-aligned, padding is zero, the last is unpadded.
        var offset = 0
        for (index, parameter) in parameters.enumerated() {
            #expect(offset % 4 == 0)
            #expect(WireKit.be16(bytes, offset) == Int(parameter.type))
            let length = WireKit.be16(bytes, offset + 2)
            #expect(Array(bytes[offset..<offset + length]) == WireKit.parameterBytes(parameter))
            if index == parameters.count - 1 {
                #expect(offset + length == bytes.count)
            } else {
                let padded = (length + 3) & ~3
                #expect(bytes[offset + length..<offset + padded].allSatisfy { $0 == 0 })
                offset += padded
            }
        }

        let parsed = try ParameterList(parsing: buffer)
        #expect(parsed == list)
        #expect(!parsed.stoppedAtUnrecognized)  // the unknown samples are of the "skip" kind
        #expect(parsed.unrecognizedToReport.isEmpty)

        let initChunk = InitChunk(initiateTag: 1, advertisedReceiverWindowCredit: 2, outboundStreams: 3,
                                  inboundStreams: 4, initialTSN: TSN(5), parameters: list)
        let packet = try SCTPPacket(parsing: SCTPPacket(header: WireKit.header, chunks: [.initiation(initChunk)]).serialized())
        #expect(packet.chunks == [.initiation(initChunk)])
    }

    @Test func parameterTypeCodes() {
        #expect(HeartbeatInfoParameter.parameterType == 1)
        #expect(IPv4AddressParameter.parameterType == 5)
        #expect(IPv6AddressParameter.parameterType == 6)
        #expect(StateCookieParameter.parameterType == 7)
        #expect(UnrecognizedParameter.parameterType == 8)
        #expect(CookiePreservativeParameter.parameterType == 9)
        #expect(HostNameAddressParameter.parameterType == 11)
        #expect(SupportedAddressTypesParameter.parameterType == 12)
        #expect(OutgoingSSNResetRequestParameter.parameterType == 13)
        #expect(IncomingSSNResetRequestParameter.parameterType == 14)
        #expect(SSNTSNResetRequestParameter.parameterType == 15)
        #expect(ReconfigurationResponseParameter.parameterType == 16)
        #expect(AddOutgoingStreamsParameter.parameterType == 17)
        #expect(AddIncomingStreamsParameter.parameterType == 18)
        #expect(ECNCapableParameter.parameterType == 0x8000)
        #expect(ZeroChecksumAcceptableParameter.parameterType == 0x8001)
        #expect(RandomParameter.parameterType == 0x8002)
        #expect(ChunkListParameter.parameterType == 0x8003)
        #expect(RequestedHMACAlgorithmParameter.parameterType == 0x8004)
        #expect(PaddingParameter.parameterType == 0x8005)
        #expect(SupportedExtensionsParameter.parameterType == 0x8008)
        #expect(ForwardTSNSupportedParameter.parameterType == 0xC000)
        #expect(AddIPAddressParameter.parameterType == 0xC001)
        #expect(DeleteIPAddressParameter.parameterType == 0xC002)
        #expect(ErrorCauseIndicationParameter.parameterType == 0xC003)
        #expect(SetPrimaryAddressParameter.parameterType == 0xC004)
        #expect(SuccessIndicationParameter.parameterType == 0xC005)
        #expect(AdaptationLayerIndicationParameter.parameterType == 0xC006)
    }

    @Test func hostNameText() throws {
        let parameter = HostNameAddressParameter(name: "a.example")
        #expect(parameter.name == "a.example")
        #expect(WireKit.bytes(parameter.hostName).last == 0)
        // Text stops at the first NUL, whatever follows.
        let parsed = try HostNameAddressParameter(value: WireKit.buffer(Array("host".utf8) + [0, 0x41, 0]))
        #expect(parsed.name == "host")
    }

    @Test func paddingContentsAreIgnored() throws {
        let list = try ParameterList(parsing: WireKit.buffer(WireKit.hex("80 05 00 0A 11 22 33 44 55 66")))
        #expect(list.parameters == [.padding(PaddingParameter(paddingLength: 6))])
    }

    @Test func addressAccessorAndInitializer() {
        #expect(Parameter(address: .v4(ParameterSamples.v4)) == .ipv4Address(IPv4AddressParameter(address: ParameterSamples.v4)))
        #expect(Parameter(address: .v6(ParameterSamples.v6)) == .ipv6Address(IPv6AddressParameter(address: ParameterSamples.v6)))
        #expect(Parameter.ipv4Address(IPv4AddressParameter(address: ParameterSamples.v4)).address == .v4(ParameterSamples.v4))
        #expect(Parameter.ipv6Address(IPv6AddressParameter(address: ParameterSamples.v6)).address == .v6(ParameterSamples.v6))
        #expect(Parameter.ecnCapable(ECNCapableParameter()).address == nil)
    }

    @Test func reconfigurationResultCodes() {
        // RFC 6525 §4.4.
        #expect(ReconfigurationResponseParameter.Result.successNothingToDo.rawValue == 0)
        #expect(ReconfigurationResponseParameter.Result.successPerformed.rawValue == 1)
        #expect(ReconfigurationResponseParameter.Result.denied.rawValue == 2)
        #expect(ReconfigurationResponseParameter.Result.errorWrongSSN.rawValue == 3)
        #expect(ReconfigurationResponseParameter.Result.errorRequestAlreadyInProgress.rawValue == 4)
        #expect(ReconfigurationResponseParameter.Result.errorBadSequenceNumber.rawValue == 5)
        #expect(ReconfigurationResponseParameter.Result.inProgress.rawValue == 6)
    }
}
