import Foundation
import NIOCore
import NIOPosix
import SCTPTestSupport
import Testing

/// The test support itself, without usrsctp: the pattern as the peer's README gives it, the
/// relay's determinism.
@Suite("Interop test support")
struct SupportTests {
    @Test("the message pattern matches the README example; the check finds one bad byte")
    func pattern() {
        // seq 300, stream 7, length 40 is 0000012c 0007 a55a 00000028 9b9c9d…b6
        let message = MessagePattern.message(seq: 300, stream: 7, length: 40)
        let bytes = Array(message.readableBytesView)
        #expect(bytes.prefix(12) == [0x00, 0x00, 0x01, 0x2C, 0x00, 0x07, 0xA5, 0x5A, 0x00, 0x00, 0x00, 0x28])
        #expect(bytes[12] == 0x9B && bytes[13] == 0x9C && bytes[14] == 0x9D && bytes[39] == 0xB6)
        #expect((try? MessagePattern.check(message, stream: 7, unordered: false, ppid: MessagePattern.orderedPPID).get()) == 300)

        var bad = message
        bad.setInteger(UInt8(0x00), at: 20)
        #expect((try? MessagePattern.check(bad, stream: 7, unordered: false, ppid: MessagePattern.orderedPPID).get()) == nil)
        #expect((try? MessagePattern.check(message, stream: 6, unordered: false, ppid: MessagePattern.orderedPPID).get()) == nil)
        #expect((try? MessagePattern.check(message, stream: 7, unordered: true, ppid: MessagePattern.orderedPPID).get()) == nil)
        #expect((try? MessagePattern.check(message.getSlice(at: 0, length: 39)!, stream: 7, unordered: false,
                                           ppid: MessagePattern.orderedPPID).get()) == nil)
    }

    @Test("splitmix64 seeded with 1 gives the README's first values; plans number per stream and kind")
    func lengths() {
        var random = SplitMix64(seed: 1)
        let expected: [UInt64] = [10_451_216_379_200_822_465, 13_757_245_211_066_428_519, 17_911_839_290_282_890_590]
        #expect([random.next(), random.next(), random.next()] == expected)
        let plan = MessagePlan(count: 25, streams: 10, lengths: 12...2000, seed: 1)
        #expect(plan.messages[0].length == 12 + Int(expected[0] % 1989))
        #expect(plan.messages[12].stream == 2 && plan.messages[12].seq == 1)
        #expect(plan.messages[24].seq == 2)
        let mixed = MessagePlan(count: 1000, streams: 3, lengths: 12...12, seed: 5, delivery: .mixed(fraction: 0.25))
        let unordered = mixed.messages.filter(\.unordered).count
        #expect((150...350).contains(unordered))
        #expect(Set(mixed.messages.map(\.key)).count == 1000)

        var verifier = PatternVerifier(plan: mixed)
        for message in mixed.messages.reversed() where message.unordered {
            verifier.receive(message.payload, stream: message.stream, unordered: true, ppid: message.ppid)
        }
        for message in mixed.messages where !message.unordered {
            verifier.receive(message.payload, stream: message.stream, unordered: false, ppid: message.ppid)
        }
        #expect(verifier.errorCount == 0 && verifier.missing == 0, "\(verifier.summary)")
        let first = mixed.messages.first { !$0.unordered }!
        verifier.receive(first.payload, stream: first.stream, unordered: false, ppid: first.ppid)
        #expect(verifier.errorCount == 1)
    }

    @Test("the relay's decisions depend only on the seed and the datagram order")
    func relayDeterminism() throws {
        func trial(seed: UInt64) throws -> (LossyRelay.Counters, [UInt32]) {
            let group = MultiThreadedEventLoopGroup.singleton
            let collected = Collector()
            let sink = try DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collected) }
                }
                .bind(host: "127.0.0.1", port: 0).wait()
            defer { _ = try? sink.close().wait() }
            let relay = try LossyRelay(seed: seed, impairments: .init(loss: 0.1, duplicate: 0.05, reorder: 0.05, corrupt: 0.05),
                                       rightPeerUDPPort: sink.localAddress!.port!)
            defer { relay.close() }
            let source = try DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
            defer { _ = try? source.close().wait() }
            let target = try SocketAddress(ipAddress: "127.0.0.1", port: relay.leftPort)
            for index in 0..<400 {
                var buffer = ByteBuffer()
                buffer.writeInteger(UInt32(index))
                buffer.writeRepeatingByte(0, count: 60)
                // One at a time, so that the order in which the relay sees them is the order sent.
                try source.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: buffer)).wait()
                try collected.waitFor(relay: relay, received: index + 1)
            }
            // Everything sent or dropped; a held datagram goes after `reorderHold`.
            let counts = relay.counts.toRight
            try collected.waitFor(count: counts.received - counts.dropped + counts.duplicated)
            return (counts, collected.values.sorted())
        }
        let (a, valuesA) = try trial(seed: 42)
        let (b, valuesB) = try trial(seed: 42)
        let (c, _) = try trial(seed: 43)
        #expect(a.dropped == b.dropped && a.duplicated == b.duplicated && a.corrupted == b.corrupted && a.reordered == b.reordered)
        #expect(valuesA == valuesB)
        #expect(a.dropped > 10 && a.duplicated > 3 && a.corrupted > 3 && a.reordered > 3, "\(a)")
        #expect(a.dropped != c.dropped || a.duplicated != c.duplicated || a.corrupted != c.corrupted)
    }
}

/// Collects the first 4 bytes of every datagram it receives.
private final class Collector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let condition = NSConditionLock()
    private var received: [UInt32] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        condition.lock()
        received.append(envelope.data.getInteger(at: envelope.data.readerIndex, as: UInt32.self) ?? .max)
        condition.unlock()
    }

    var values: [UInt32] {
        condition.lock()
        defer { condition.unlock() }
        return received
    }

    /// Waits (bounded) until `count` datagrams have arrived.
    func waitFor(count: Int) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while values.count < count {
            guard ContinuousClock.now < deadline else { throw PatternError("only \(values.count) of \(count) datagrams arrived") }
            Thread.sleep(forTimeInterval: 0.001)
        }
    }

    /// Waits (bounded) until the relay has taken in `received` datagrams.
    func waitFor(relay: LossyRelay, received: Int) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while relay.counts.toRight.received < received {
            guard ContinuousClock.now < deadline else { throw PatternError("the relay saw fewer than \(received) datagrams") }
            Thread.sleep(forTimeInterval: 0.0005)
        }
    }
}
