import Testing
import SCTPCore
import SCTPSimulation
import SCTPWire

@Suite("core foundations")
struct FoundationTests {
    @Test("instants add durations, saturate instead of overflowing, and subtract to durations")
    func instants() {
        let t = SCTPInstant(nanoseconds: 1_000)
        #expect((t + .milliseconds(2)).nanoseconds == 2_001_000)
        #expect((t + .milliseconds(2)) - t == .milliseconds(2))
        #expect((SCTPInstant(nanoseconds: .max - 5) + .seconds(1)).nanoseconds == .max)
        #expect(t < t + .nanoseconds(1))
    }

    @Test("loss reasons read as short sentences; a peer's abort names its causes")
    func lossReasons() {
        #expect(LossReason.userAborted.description == "the local user aborted")
        #expect(LossReason.peerAborted(causes: []).description == "the peer aborted")
        #expect(LossReason.peerAborted(causes: [.outOfResource(OutOfResourceCause())]).description.hasPrefix("the peer aborted: "))
        #expect(LossReason.protocolViolation("bad TSN").description == "protocol violation: bad TSN")
        #expect("\(LossReason.shutdownTimedOut)" == "the shutdown timed out")
        #expect(LossReason.retransmissionsExhausted.description.hasPrefix("retransmissions exhausted"))
    }

    @Test("durations convert to whole nanoseconds, truncated toward zero, clamped to Int64")
    func durationNanoseconds() {
        #expect((Duration.seconds(3) + .nanoseconds(7)).nanosecondsClamped == 3_000_000_007)
        #expect(Duration.seconds(-1.5).nanosecondsClamped == -1_500_000_000)
        #expect(Duration(secondsComponent: 0, attosecondsComponent: 999_999_999).nanosecondsClamped == 0)
        #expect(Duration(secondsComponent: 0, attosecondsComponent: -1_999_999_999).nanosecondsClamped == -1)
        #expect(Duration.seconds(Int64.max).nanosecondsClamped == .max)
        #expect(Duration.seconds(Int64.min).nanosecondsClamped == .min)
        #expect(Duration.seconds(9_223_372_036).nanosecondsClamped == 9_223_372_036_000_000_000)
        #expect(Duration.seconds(9_223_372_037).nanosecondsClamped == .max)
    }

    @Test("the seeded generator repeats for a seed and differs between seeds")
    func seeded() {
        var a = SeededRandomSource(seed: 42)
        var b = SeededRandomSource(seed: 42)
        var c = SeededRandomSource(seed: 43)
        let sa = (0..<8).map { _ in a.next32() }
        #expect(sa == (0..<8).map { _ in b.next32() })
        #expect(sa != (0..<8).map { _ in c.next32() })
        #expect(Set(sa).count > 1)
    }

    @Test("verification tags are never zero")
    func tags() {
        /// A source that yields zero a few times before anything else.
        struct ZerosFirst: SCTPRandomSource {
            var remainingZeros = 3
            mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
                let byte: UInt8 = remainingZeros > 0 ? 0 : 7
                remainingZeros -= 1
                for i in buffer.indices { buffer[i] = byte }
            }
        }
        var source = ZerosFirst()
        #expect(source.nextVerificationTag() == 0x0707_0707)
    }

    @Test("the virtual clock only moves forward")
    func virtualClock() {
        var clock = VirtualClock()
        clock.advance(by: .milliseconds(5))
        clock.advance(to: SCTPInstant(nanoseconds: 1))
        #expect(clock.now == SCTPInstant(nanoseconds: 5_000_000))
    }
}
