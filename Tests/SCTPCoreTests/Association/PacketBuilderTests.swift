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
            #expect(chunk.encodedSize == buffer.readableBytes, "\(chunk)")
        }
    }
}
