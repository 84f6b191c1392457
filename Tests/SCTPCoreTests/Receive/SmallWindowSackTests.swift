import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

/// A receiver whose window is nearly closed SACKs at once: seen with usrsctp (tsctp) sending
/// 2 MB messages through our 1 MiB window, one 1444-byte chunk per packet and no I bit;
/// each of the last packets that still fit waited for our 200 ms delayed SACK.
@Suite("receive: SACK at once when the window is nearly closed")
struct SmallWindowSackTests {
    let t0 = SCTPInstant(nanoseconds: 5_000_000)

    func chunk(_ tsn: UInt32, _ bytes: Int) -> DataChunk {
        RxSupport.chunk(tsn: tsn, stream: 0, ssn: UInt16(tsn - 1), flags: .complete, payload: RxSupport.bytes(bytes, seed: tsn))
    }

    @Test("with room for more than two packets the SACK is delayed; below that it goes at once")
    func threshold() {
        var r = DataReceiver(peerInitialTSN: TSN(1), inboundStreamCount: 1,
                             configuration: .init(receiveBufferSize: 10_000, smallWindowThreshold: 2_400))
        // Nothing is read: the window shrinks by 1000 bytes per packet.
        var immediate: [Bool] = []
        for tsn in UInt32(1)...9 {
            #expect(r.receive(chunk(tsn, 1_000)) == .accepted)
            r.packetProcessed(now: t0)
            immediate.append(r.isSackDue(at: t0))
            if r.isSackDue(at: t0) { _ = r.takeSack() }
            while r.poll() != nil {}
        }
        // Windows after each packet: 9000 ... 1000. Every second packet is SACKed anyway
        // (packets 2, 4, 6); from 2000 bytes left (packet 8: below twice the largest chunk,
        // 2000 < 2400) every packet is.
        #expect(immediate == [false, true, false, true, false, true, false, true, true])
    }

    @Test("twice the largest chunk received counts when it is above the threshold")
    func largestChunk() {
        var r = DataReceiver(peerInitialTSN: TSN(1), inboundStreamCount: 1,
                             configuration: .init(receiveBufferSize: 20_000, smallWindowThreshold: 100))
        #expect(r.receive(chunk(1, 5_000)) == .accepted)
        r.packetProcessed(now: t0)
        #expect(!r.isSackDue(at: t0), "15000 left, more than two chunks of 5000")
        #expect(r.receive(chunk(2, 2_000)) == .accepted)
        r.packetProcessed(now: t0)
        _ = r.takeSack()
        #expect(r.receive(chunk(3, 4_000)) == .accepted)
        r.packetProcessed(now: t0)
        #expect(r.isSackDue(at: t0), "9000 left, less than two chunks of 5000")
    }
}

@Suite("receive: partial delivery starts before the window closes")
struct PartialDeliveryPointTests {
    @Test("the partial delivery point is at most half the receive buffer (as usrsctp bounds it)")
    func boundedByHalfTheBuffer() {
        var configuration = SCTPConfiguration()
        configuration.partialDeliveryPoint = 1 << 20
        configuration.receiveBufferSize = 1 << 20
        // A message larger than the window would otherwise fill it before any of it could be
        // handed out: the window closes and reopens for every such message.
        #expect(DataReceiver.Configuration(configuration).reassembly.partialDeliveryPoint == 512 << 10)
        configuration.receiveBufferSize = 4 << 20
        #expect(DataReceiver.Configuration(configuration).reassembly.partialDeliveryPoint == 1 << 20)
        configuration.receiveBufferSize = 0
        #expect(DataReceiver.Configuration(configuration).reassembly.partialDeliveryPoint == 1)
    }
}
