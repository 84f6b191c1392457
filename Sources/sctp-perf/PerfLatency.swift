import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore

/// `sctp-perf --client ADDR --latency`: echo round-trip time with one message outstanding.
/// Sends a pattern message, waits until its whole echo is back (the server runs with
/// `--echo`), records the time, repeats for `--messages N` or `--time S`; reports the
/// median, the 99th percentile and the largest round trip in microseconds.
struct PerfLatency {
    var peerAddresses: [String]
    var bindAddresses: [String]
    var port: UInt16
    var udpPort: Int
    var peerUDPPort: Int
    var length: Int
    var messages: Int?
    var seconds: Double
    var unordered: Bool
    var json: Bool
    var mtu: Int?

    /// A round trip longer than this ends the run with ETIMEDOUT.
    static let echoTimeout: TimeInterval = 10

    /// Counted on the event loop, read by the sending thread.
    struct State {
        var echoedBytes = 0
        var ended: String?
    }

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        var options = UDPEncapsulationEndpoint.Options(sctpPort: UInt16.random(in: 49152...65535), localAddresses: bindAddresses)
        options.udpPort = udpPort
        options.peerUDPPort = peerUDPPort
        if let mtu { options.configuration.pathMTU = mtu }
        let state = Locked(State())
        let client: UDPEncapsulationEndpoint
        do {
            client = try UDPEncapsulationEndpoint.start(options: options, on: group.next()) { event in
                switch event {
                case .message(_, let message):
                    state.update { $0.echoedBytes += message.payload.readableBytes }
                case .shutdownComplete:
                    state.update { $0.ended = "shutdown" }
                case .communicationLost(_, let reason):
                    state.update { $0.ended = "lost: \(reason)" }
                default:
                    break
                }
            }.wait()
        } catch {
            reportFailure(error)
            throw ExitCode.failure
        }
        defer { _ = try? client.close().wait() }
        do {
            let id = try client.connect(to: peerAddresses, port: port).wait()
            let pattern = PerfPattern(length: length)
            let allocator = ByteBufferAllocator()
            let ppid = PerfPattern.ppid(unordered: unordered)
            let clock = ContinuousClock()
            let start = clock.now
            let deadline = start + .milliseconds(Int64(seconds * 1000))
            let limit = messages ?? Int.max
            var samples: [Double] = []
            samples.reserveCapacity(min(limit, 1 << 20))
            var expected = 0
            while samples.count < limit && clock.now < deadline {
                let payload = pattern.message(seq: UInt32(truncatingIfNeeded: samples.count), stream: 0, allocator: allocator)
                let before = clock.now
                expected += length
                client.send(OutgoingMessage(streamIdentifier: 0, payloadProtocolIdentifier: ppid, isUnordered: unordered,
                                            payload: payload), on: id).whenFailure { _ in
                    state.update { if $0.ended == nil { $0.ended = "send failed" } }
                }
                let target = expected
                let back = state.wait(until: Date().addingTimeInterval(Self.echoTimeout)) {
                    $0.echoedBytes >= target || $0.ended != nil
                }
                if let ended = state.read({ $0.ended }) { throw SCTPError(.connectionReset, "the association ended: \(ended)") }
                guard back else { throw SCTPError(.timedOut, "no echo within \(Int(Self.echoTimeout)) s") }
                samples.append(PerfSetupRate.seconds(clock.now - before) * 1e6)
            }
            let elapsed = PerfSetupRate.seconds(clock.now - start)
            let shutdown = client.shutdown(id)
            _ = state.wait(until: Date().addingTimeInterval(10)) { $0.ended != nil }
            _ = try? shutdown.wait()
            samples.sort()
            func percentile(_ p: Double) -> Double {
                samples.isEmpty ? 0 : samples[min(samples.count - 1, Int(Double(samples.count) * p))]
            }
            if json {
                say(String(format: "{\"role\": \"latency\", \"messages\": %d, \"seconds\": %.6f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
                           + "\"max_us\": %.1f}", samples.count, elapsed, percentile(0.5), percentile(0.99), samples.last ?? 0))
            } else {
                say(String(format: "echo round trip, %d-byte messages, one outstanding: %d round trips in %.2f s; "
                           + "p50 %.1f µs, p99 %.1f µs, max %.1f µs", length, samples.count, elapsed, percentile(0.5),
                           percentile(0.99), samples.last ?? 0))
            }
        } catch {
            reportFailure(error)
            throw ExitCode.failure
        }
    }
}
