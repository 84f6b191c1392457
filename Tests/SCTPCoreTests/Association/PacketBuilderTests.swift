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
            if case .error = chunk {
                #expect(chunk.computedSize == nil, "a variable control chunk is measured by writing it")
            } else {
                #expect(chunk.computedSize == buffer.readableBytes, "\(chunk)")
            }
        }
    }

    @Test("a control chunk measured by writing it goes into the current packet when it fits, else starts the next one")
    func measuredChunks() throws {
        let header = CommonHeader(sourcePort: 1, destinationPort: 2, verificationTag: 3)
        let address = IPAddress.v4(IPv4Address(127, 0, 0, 1))
        func abort(_ bytes: Int) -> Chunk {
            .abort(AbortChunk(causes: [.userInitiatedAbort(UserInitiatedAbortCause(bytes: ByteBuffer(repeating: 0x61, count: bytes)))]))
        }
        func written(_ chunk: Chunk) -> Int {
            var buffer = ByteBuffer()
            chunk.write(to: &buffer)
            return buffer.readableBytes
        }
        var builder = PacketBuilder(header: header, mtu: 200, destination: address, checksum: .crc32c)
        builder.initialCapacity = 64
        let small = abort(20)
        let large = abort(150)
        builder.add(small)
        builder.add(small)   // fits: same packet
        builder.add(large)   // does not fit after the two: the next packet
        builder.add(.cookieAck(CookieAckChunk()))
        let packets = builder.finish()
        #expect(packets.count == 2)
        #expect(packets.map(\.datagram.readableBytes) == [CommonHeader.size + 2 * written(small),
                                                          CommonHeader.size + written(large) + 4])
        for packet in packets {
            let parsed = try SCTPPacket(parsing: packet.datagram)
            #expect(parsed.header.verificationTag == header.verificationTag)
        }
        #expect(try SCTPPacket(parsing: packets[0].datagram).chunks == [small, small])
        #expect(try SCTPPacket(parsing: packets[1].datagram).chunks == [large, .cookieAck(CookieAckChunk())])
    }
}
