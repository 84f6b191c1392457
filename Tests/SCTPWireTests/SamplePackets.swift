import NIOCore
@testable import SCTPWire

/// Well-formed packets with every chunk kind and every parameter and error cause, as a
/// real stack would send them; used by the tshark test.
enum SamplePackets {
    static func bytes(_ values: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: values) }

    static func header(tag: UInt32 = 0x1122_3344) -> CommonHeader {
        CommonHeader(sourcePort: 5001, destinationPort: 5002, verificationTag: tag)
    }

    static var initChunk: InitChunk {
        InitChunk(
            initiateTag: 0xA1B2_C3D4, advertisedReceiverWindowCredit: 4_194_304, outboundStreams: 10,
            inboundStreams: 65535, initialTSN: TSN(0xFFFF_FFF0),
            parameters: ParameterList([
                .ipv4Address(IPv4AddressParameter(address: IPv4Address(127, 0, 0, 1))),
                .ipv4Address(IPv4AddressParameter(address: IPv4Address(127, 0, 0, 2))),
                .supportedAddressTypes(SupportedAddressTypesParameter(addressTypes: [5, 6])),
                .ecnCapable(ECNCapableParameter()),
                .forwardTSNSupported(ForwardTSNSupportedParameter()),
                .supportedExtensions(SupportedExtensionsParameter(chunkTypes: [0xC0, 0xC1, 0x80, 0x82, 0x0F, 0x40, 0xC2])),
                .random(RandomParameter(random: bytes((0..<32).map { UInt8($0 * 7 & 0xFF) }))),
                .chunkList(ChunkListParameter(chunkTypes: [0xC1, 0x80])),
                .requestedHMACAlgorithm(RequestedHMACAlgorithmParameter(hmacIdentifiers: [3, 1])),
                .adaptationLayerIndication(AdaptationLayerIndicationParameter(adaptationCodePoint: 0x0102_0304)),
                .zeroChecksumAcceptable(ZeroChecksumAcceptableParameter(errorDetectionMethod: 1)),
                .cookiePreservative(CookiePreservativeParameter(lifeSpanIncrement: 60_000)),
                .padding(PaddingParameter(paddingLength: 13)),
            ]))
    }

    static var initAckChunk: InitAckChunk {
        try! InitAckChunk(
            initiateTag: 0x0102_0304, advertisedReceiverWindowCredit: 131_072, outboundStreams: 5,
            inboundStreams: 5, initialTSN: TSN(1),
            parameters: ParameterList([
                .stateCookie(StateCookieParameter(cookie: bytes((0..<77).map { UInt8($0) }))),
                .ipv6Address(IPv6AddressParameter(address: .loopback)),
                .unrecognizedParameter(UnrecognizedParameter(reporting: UnknownParameter(type: 0xFFFE, value: bytes([1, 2, 3])))),
                .hostNameAddress(HostNameAddressParameter(name: "example")),
                .ecnCapable(ECNCapableParameter()),
            ]))
    }

    static var allChunkPackets: [SCTPPacket] {
        let data = DataChunk(flags: .complete, tsn: TSN(100), streamIdentifier: 3, ssn: SSN(7),
                             payloadProtocolIdentifier: 51, payload: bytes(Array("hello, world".utf8)))
        let fragment = DataChunk(flags: [.beginning, .unordered, .immediate], tsn: TSN(101), streamIdentifier: 0,
                                 ssn: SSN(0), payloadProtocolIdentifier: 53, payload: bytes([UInt8](repeating: 0xAB, count: 1000)))
        let iData = IDataChunk(flags: .beginning, tsn: TSN(5), streamIdentifier: 2, mid: MID(9), ppidOrFSN: 51,
                               payload: bytes([1, 2, 3, 4, 5]))
        let iDataMiddle = IDataChunk(flags: [], tsn: TSN(6), streamIdentifier: 2, mid: MID(9), ppidOrFSN: 1,
                                     payload: bytes([6, 7, 8]))
        let sack = SackChunk(cumulativeTSNAck: TSN(99), advertisedReceiverWindowCredit: 65536,
                             gapAckBlocks: [GapAckBlock(start: 2, end: 3), GapAckBlock(start: 5, end: 9)],
                             duplicateTSNs: [TSN(97)])
        let heartbeatInfo = HeartbeatInfoParameter(info: bytes((0..<20).map { UInt8($0) }))
        let causes: [ErrorCause] = [
            .invalidStreamIdentifier(InvalidStreamIdentifierCause(streamIdentifier: 77)),
            .missingMandatoryParameter(MissingMandatoryParameterCause(missingParameterTypes: [7])),
            .staleCookie(StaleCookieCause(staleness: 1_500_000)),
            .outOfResource(OutOfResourceCause()),
            .unresolvableAddress(UnresolvableAddressCause(parameter: .hostNameAddress(HostNameAddressParameter(name: "peer.example")))),
            .unrecognizedChunkType(UnrecognizedChunkTypeCause(chunk: UnknownChunk(type: 0x7F, flags: 0, value: bytes([9, 9, 9, 9])))),
            .invalidMandatoryParameter(InvalidMandatoryParameterCause()),
            .unrecognizedParameters(UnrecognizedParametersCause(parameters: [UnknownParameter(type: 0x7FFF, value: bytes([1, 2, 3, 4]))])),
            .noUserData(NoUserDataCause(tsn: TSN(12345))),
            .cookieReceivedWhileShuttingDown(CookieReceivedWhileShuttingDownCause()),
            .restartWithNewAddresses(RestartWithNewAddressesCause(addresses: [.v4(IPv4Address(127, 0, 0, 3))])),
            .userInitiatedAbort(UserInitiatedAbortCause(bytes: bytes(Array("bye".utf8)))),
            .protocolViolation(ProtocolViolationCause(information: "bad TSN")),
        ]
        let asconfRequest = AddIPAddressParameter(correlationID: 1, address: .v4(IPv4Address(127, 0, 0, 4)))
        var asconfRequestBytes = ByteBuffer()
        asconfRequest.write(to: &asconfRequestBytes)
        let asconfCauses: [ErrorCause] = [
            .deleteLastRemainingAddress(DeleteLastRemainingAddressCause(bytes: asconfRequestBytes)),
            .resourceShortage(ResourceShortageCause(bytes: asconfRequestBytes)),
            .deleteSourceAddress(DeleteSourceAddressCause(bytes: asconfRequestBytes)),
            .noAuthorization(NoAuthorizationCause(bytes: asconfRequestBytes)),
        ]
        let h = header()
        return [
            SCTPPacket(header: header(tag: 0), chunks: [.initiation(initChunk)]),
            SCTPPacket(header: h, chunks: [.initiationAck(initAckChunk)]),
            SCTPPacket(header: h, chunks: [.cookieEcho(CookieEchoChunk(cookie: bytes((0..<77).map { UInt8($0) }))),
                                           .data(data)]),
            SCTPPacket(header: h, chunks: [.cookieAck(CookieAckChunk()), .sack(sack)]),
            SCTPPacket(header: h, chunks: [.nrSack(NRSackChunk(
                cumulativeTSNAck: TSN(99), advertisedReceiverWindowCredit: 65536, gapAckBlocks: [GapAckBlock(start: 2, end: 3)],
                nonRenegableGapAckBlocks: [GapAckBlock(start: 5, end: 9), GapAckBlock(start: 12, end: 20)],
                duplicateTSNs: [TSN(97)]))]),
            SCTPPacket(header: h, chunks: [.data(data), .data(fragment)]),
            SCTPPacket(header: h, chunks: [.heartbeat(HeartbeatChunk(info: heartbeatInfo))]),
            SCTPPacket(header: h, chunks: [.heartbeatAck(HeartbeatAckChunk(info: heartbeatInfo))]),
            SCTPPacket(header: h, chunks: [.abort(AbortChunk(tagFlags: [], causes: Array(causes[0..<6])))]),
            SCTPPacket(header: h, chunks: [.abort(AbortChunk(tagFlags: .reflectedTag, causes: Array(causes[6...])))]),
            SCTPPacket(header: h, chunks: [.error(ErrorChunk(causes: causes))]),
            SCTPPacket(header: h, chunks: [.shutdown(ShutdownChunk(cumulativeTSNAck: TSN(100)))]),
            SCTPPacket(header: h, chunks: [.shutdownAck(ShutdownAckChunk())]),
            SCTPPacket(header: h, chunks: [.shutdownComplete(ShutdownCompleteChunk(tagFlags: .reflectedTag))]),
            SCTPPacket(header: h, chunks: [.ecne(ECNEChunk(lowestTSN: TSN(55))), .cwr(CWRChunk(lowestTSN: TSN(55)))]),
            SCTPPacket(header: h, chunks: [
                .auth(AuthChunk(sharedKeyIdentifier: 0, hmacIdentifier: 3, hmac: bytes([UInt8](repeating: 0x5A, count: 32)))),
                .asconf(ASCONFChunk(serialNumber: 42, address: .v4(IPv4Address(127, 0, 0, 1)), parameters: ParameterList([
                    .addIPAddress(asconfRequest),
                    .deleteIPAddress(DeleteIPAddressParameter(correlationID: 2, address: .v4(IPv4Address(127, 0, 0, 2)))),
                    .setPrimaryAddress(SetPrimaryAddressParameter(correlationID: 3, address: .v4(IPv4Address(127, 0, 0, 4)))),
                    .adaptationLayerIndication(AdaptationLayerIndicationParameter(adaptationCodePoint: 7)),
                ]))),
            ]),
            SCTPPacket(header: h, chunks: [
                .asconfAck(ASCONFAckChunk(serialNumber: 42, parameters: ParameterList([
                    .successIndication(SuccessIndicationParameter(correlationID: 1)),
                    .errorCauseIndication(ErrorCauseIndicationParameter(correlationID: 2, causes: asconfCauses)),
                    .errorCauseIndication(ErrorCauseIndicationParameter(correlationID: 3, causes: [
                        .illegalASCONFAck(IllegalASCONFAckCause()),
                        .unsupportedHMACIdentifier(UnsupportedHMACIdentifierCause(hmacIdentifier: 2)),
                    ])),
                ]))),
            ]),
            SCTPPacket(header: h, chunks: [
                .reconfig(ReconfigChunk(parameters: ParameterList([
                    .outgoingSSNResetRequest(OutgoingSSNResetRequestParameter(
                        requestSequenceNumber: 10, responseSequenceNumber: 9, sendersLastAssignedTSN: TSN(99), streams: [1, 2, 3])),
                    .incomingSSNResetRequest(IncomingSSNResetRequestParameter(requestSequenceNumber: 11, streams: [4])),
                ]))),
            ]),
            SCTPPacket(header: h, chunks: [
                .reconfig(ReconfigChunk(parameters: ParameterList([
                    .ssnTSNResetRequest(SSNTSNResetRequestParameter(requestSequenceNumber: 12)),
                ]))),
                .reconfig(ReconfigChunk(parameters: ParameterList([
                    .reconfigurationResponse(ReconfigurationResponseParameter(
                        responseSequenceNumber: 12, result: .successPerformed, sendersNextTSN: TSN(200), receiversNextTSN: TSN(300))),
                ]))),
                .reconfig(ReconfigChunk(parameters: ParameterList([
                    .addOutgoingStreams(AddOutgoingStreamsParameter(requestSequenceNumber: 13, newStreams: 16)),
                    .addIncomingStreams(AddIncomingStreamsParameter(requestSequenceNumber: 14, newStreams: 8)),
                ]))),
                .reconfig(ReconfigChunk(parameters: ParameterList([
                    .reconfigurationResponse(ReconfigurationResponseParameter(responseSequenceNumber: 13, result: .denied)),
                ]))),
            ]),
            SCTPPacket(header: h, chunks: [.pad(PadChunk(paddingLength: 100)), .heartbeat(HeartbeatChunk(info: heartbeatInfo))]),
            SCTPPacket(header: h, chunks: [
                .forwardTSN(ForwardTSNChunk(newCumulativeTSN: TSN(500), skippedStreams: [
                    .init(streamIdentifier: 1, ssn: SSN(4)), .init(streamIdentifier: 2, ssn: SSN(65535)),
                ])),
            ]),
            SCTPPacket(header: h, chunks: [.iData(iData), .iData(iDataMiddle)]),
            SCTPPacket(header: h, chunks: [
                .iForwardTSN(IForwardTSNChunk(newCumulativeTSN: TSN(7), skippedMessages: [
                    .init(streamIdentifier: 2, unordered: false, mid: MID(9)), .init(streamIdentifier: 3, unordered: true, mid: MID(1)),
                ])),
            ]),
        ]
    }
}
