import Foundation
import NIOCore
import Testing
@testable import SCTPWire

/// Packets captured from usrsctp 0.9.5 on this kind of machine (scripts/fixtures/capture.sh),
/// parsed to the fields tshark decodes from them (Fixtures/usrsctp/EXPECTED.md).
@Suite("usrsctp fixtures")
struct UsrsctpFixtureTests {
    static let names = [
        "init", "init-ack", "cookie-echo", "cookie-ack", "data", "data-unordered", "data-fragment-first",
        "data-fragment-middle", "data-fragment-last", "data-unordered-fragment-first", "sack", "sack-gap", "sack-dup",
        "heartbeat", "heartbeat-ack", "asconf", "asconf-ack", "reconfig-out-reset", "reconfig-response",
        "reconfig-add-out-streams", "reconfig-add-streams-response", "shutdown", "shutdown-ack", "shutdown-complete",
        "abort", "abort-user-initiated", "forward-tsn", "init-idata", "i-data", "i-data-unordered",
        "i-data-fragment-first", "i-data-fragment-middle", "i-data-fragment-last", "i-forward-tsn",
        "bundle-sack-data", "bundle-heartbeat-sack",
    ]

    static func load(_ name: String) throws -> ByteBuffer {
        let text = try String(contentsOf: TestSupport.fixtureURL("usrsctp/\(name).hex"), encoding: .utf8)
        return ByteBuffer(bytes: TestSupport.hexBytes(text))
    }

    static func packet(_ name: String) throws -> SCTPPacket {
        try SCTPPacket(parsing: load(name), checksum: .required)
    }

    @Test("every fixture parses with a good checksum and is written back byte for byte", arguments: names)
    func roundTrip(name: String) throws {
        let bytes = try Self.load(name)
        let packet = try SCTPPacket(parsing: bytes, checksum: .required)
        try packet.validateBundling()
        #expect(!packet.chunks.contains { if case .unknown = $0 { true } else { false } }, "all chunk types known")
        #expect(packet.unrecognizedChunksToReport.isEmpty)
        #expect(packet.serialized() == bytes)
    }

    @Test("INIT")
    func initChunk() throws {
        let packet = try Self.packet("init")
        #expect(packet.header == CommonHeader(sourcePort: 5002, destinationPort: 5001, verificationTag: 0, checksum: 0xB320_F7C4))
        guard case .initiation(let chunk) = try #require(packet.chunks.first), packet.chunks.count == 1 else {
            Issue.record("expected one INIT"); return
        }
        #expect(chunk.initiateTag == 0x12B1_FC23)
        #expect(chunk.advertisedReceiverWindowCredit == 131_072)
        #expect(chunk.outboundStreams == 16 && chunk.inboundStreams == 16)
        #expect(chunk.initialTSN == TSN(3_164_606_906))
        let params = chunk.parameters.parameters
        #expect(params.count == 7)
        #expect(params[0] == .ecnCapable(ECNCapableParameter()))
        #expect(params[1] == .forwardTSNSupported(ForwardTSNSupportedParameter()))
        #expect(params[2] == .supportedExtensions(SupportedExtensionsParameter(chunkTypes: [192, 15, 193, 128, 130])))
        guard case .random(let random) = params[3] else { Issue.record("random"); return }
        #expect(random.random.bytesArray() == TestSupport.hexBytes("78258ec2ca71cd9a7b6c711b1a4b2c4cfa007716be65f411692eee6535f8ea94"))
        #expect(params[4] == .requestedHMACAlgorithm(RequestedHMACAlgorithmParameter(hmacIdentifiers: [1])))
        #expect(params[5] == .chunkList(ChunkListParameter(chunkTypes: [128, 193])))
        #expect(params[6] == .supportedAddressTypes(SupportedAddressTypesParameter(addressTypes: [5])))
        #expect(chunk.parameters.unrecognizedToReport.isEmpty && !chunk.parameters.stoppedAtUnrecognized)
        // Chunk length 98: the last parameter's padding is not counted.
        #expect(try Self.load("init").getInteger(at: 14, as: UInt16.self) == 98)
    }

    @Test("INIT ACK with two addresses and a state cookie, echoed by COOKIE ECHO")
    func initAckAndCookieEcho() throws {
        let packet = try Self.packet("init-ack")
        #expect(packet.header.verificationTag == 0x12B1_FC23)
        guard case .initiationAck(let chunk) = try #require(packet.chunks.first) else { Issue.record("INIT ACK"); return }
        #expect(chunk.initiateTag == 0x7D41_C4CD)
        #expect(chunk.initialTSN == TSN(4_038_657_274))
        #expect(chunk.outboundStreams == 16 && chunk.inboundStreams == 16)
        #expect(chunk.addresses == [.v4(IPv4Address(127, 0, 0, 2)), .v4(IPv4Address(127, 0, 0, 1))])
        let cookie = try #require(chunk.stateCookie)
        #expect(cookie.readableBytes == 340)

        let echo = try Self.packet("cookie-echo")
        #expect(echo.header.verificationTag == 0x7D41_C4CD)
        guard case .cookieEcho(let echoed) = try #require(echo.chunks.first) else { Issue.record("COOKIE ECHO"); return }
        #expect(echoed.cookie == cookie)

        guard case .cookieAck = try #require(try Self.packet("cookie-ack").chunks.first) else { Issue.record("COOKIE ACK"); return }
    }

    @Test("DATA: complete, fragmented, unordered")
    func data() throws {
        guard case .data(let whole) = try #require(try Self.packet("data").chunks.first) else { Issue.record("DATA"); return }
        #expect(whole.dataFlags == .complete)
        #expect(whole.tsn == TSN(3_164_606_906))
        #expect(whole.streamIdentifier == 0 && whole.ssn == SSN(0))
        #expect(whole.payloadProtocolIdentifier == 51)
        #expect(whole.payload.readableBytes == 44)

        guard case .data(let first) = try #require(try Self.packet("data-fragment-first").chunks.first) else {
            Issue.record("first fragment"); return
        }
        #expect(first.dataFlags == .beginning)
        #expect(first.tsn == TSN(3_164_606_908))
        #expect(first.streamIdentifier == 2 && first.payloadProtocolIdentifier == 53)
        #expect(first.payload.readableBytes == 1264)

        guard case .data(let middle) = try #require(try Self.packet("data-fragment-middle").chunks.first),
              case .data(let last) = try #require(try Self.packet("data-fragment-last").chunks.first)
        else { Issue.record("fragments"); return }
        #expect(middle.dataFlags == [] && last.dataFlags == .ending)
        // 4000 bytes at a 1280-byte MTU: three fragments of 1264 bytes and a last one of 208.
        #expect(middle.tsn == first.tsn.next && last.tsn == first.tsn.advanced(by: 3))
        #expect(middle.ssn == first.ssn && last.ssn == first.ssn)
        #expect(middle.payload.readableBytes == 1264 && last.payload.readableBytes == 4000 - 3 * 1264)

        guard case .data(let unordered) = try #require(try Self.packet("data-unordered").chunks.first) else {
            Issue.record("unordered"); return
        }
        #expect(unordered.dataFlags.contains(.unordered))
    }

    @Test("SACK with a gap-ack block and with a duplicate TSN")
    func sack() throws {
        let packet = try Self.packet("sack-gap")
        #expect(packet.header.sourcePort == 5011 && packet.header.destinationPort == 5012)
        #expect(packet.header.verificationTag == 0xA4FC_C11B)
        guard case .sack(let sack) = try #require(packet.chunks.first) else { Issue.record("SACK"); return }
        #expect(sack.cumulativeTSNAck == TSN(2_070_771_663))
        #expect(sack.advertisedReceiverWindowCredit == 130_794)
        #expect(sack.gapAckBlocks == [GapAckBlock(start: 2, end: 2)])
        #expect(sack.duplicateTSNs.isEmpty)

        guard case .sack(let dup) = try #require(try Self.packet("sack-dup").chunks.first) else { Issue.record("SACK dup"); return }
        #expect(dup.cumulativeTSNAck == TSN(2_070_771_668))
        #expect(dup.gapAckBlocks.isEmpty)
        #expect(dup.duplicateTSNs == [TSN(2_070_771_668)])
    }

    @Test("HEARTBEAT and its ACK carry the same info")
    func heartbeat() throws {
        let packet = try Self.packet("heartbeat")
        guard case .heartbeat(let hb) = try #require(packet.chunks.first) else { Issue.record("HEARTBEAT"); return }
        #expect(hb.info.info.readableBytes == 36)
        #expect(hb.info.info.bytesArray() == TestSupport.hexBytes(
            "d6f3066b72a70d00ade855c7143371fb021000007f000002000000000000000000000000"))
        guard case .heartbeatAck(let ack) = try #require(try Self.packet("heartbeat-ack").chunks.first) else {
            Issue.record("HEARTBEAT ACK"); return
        }
        #expect(ack.info.info.readableBytes == 36)
    }

    @Test("I-DATA middle fragment carries an FSN, FORWARD-TSN its skipped stream")
    func extensions() throws {
        guard case .iData(let middle) = try #require(try Self.packet("i-data-fragment-middle").chunks.first) else {
            Issue.record("I-DATA"); return
        }
        #expect(middle.tsn == TSN(3_420_585_966))
        #expect(middle.streamIdentifier == 2 && middle.mid == MID(0))
        #expect(middle.fsn == FSN(1) && middle.payloadProtocolIdentifier == nil)
        #expect(middle.payload.readableBytes == 1260)

        guard case .forwardTSN(let forward) = try #require(try Self.packet("forward-tsn").chunks.first) else {
            Issue.record("FORWARD-TSN"); return
        }
        #expect(forward.newCumulativeTSN == TSN(2_070_771_669))
        #expect(forward.skippedStreams == [.init(streamIdentifier: 4, ssn: SSN(0))])
    }
}
