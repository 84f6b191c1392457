import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore

/// `sctp-perf --client ADDR --latency`: echo round-trip time with one message outstanding.
/// Sends a pattern message, waits until its whole echo is back (the server runs with
/// `--echo`), records the time and sends the next from the event loop, repeats for `--messages N` or `--time S`; reports the
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
    /// Path MTU discovery (`--pmtud`, `--max-mtu`), when asked for.
    var pathMTUDiscovery: PathMTUDiscovery? = nil

    /// A round trip longer than this ends the run with ETIMEDOUT.
    static let echoTimeout: TimeInterval = 10

    /// The measurement, run on the event loop: each echo, once whole, sends the next message
    /// from the event handler (no thread waits or wakes between round trips, as in usrsctp's
    /// callback API); `done` completes with the samples or the reason the run failed.
    final class Run: @unchecked Sendable {
        let pattern: PerfPattern
        let allocator = ByteBufferAllocator()
        let length: Int
        let ppid: UInt32
        let unordered: Bool
        let limit: Int
        let clock = ContinuousClock()
        var deadline: ContinuousClock.Instant
        let done: EventLoopPromise<[Double]>
        var endpoint: UDPEncapsulationEndpoint?
        var association: AssociationID?
        var samples: [Double] = []
        var echoedBytes = 0
        var expected = 0
        var sentAt: ContinuousClock.Instant
        var timeout: Scheduled<Void>?
        var ended: String?
        var finished = false

        init(length: Int, unordered: Bool, limit: Int, seconds: Double, done: EventLoopPromise<[Double]>) {
            pattern = PerfPattern(length: length)
            self.length = length
            ppid = PerfPattern.ppid(unordered: unordered)
            self.unordered = unordered
            self.limit = limit
            sentAt = clock.now
            deadline = sentAt + .milliseconds(Int64(seconds * 1000))
            self.done = done
            samples.reserveCapacity(min(limit, 1 << 20))
        }

        /// Starts the clock and the first round trip.
        func start(on id: AssociationID, seconds: Double) {
            association = id
            deadline = clock.now + .milliseconds(Int64(seconds * 1000))
            sendNext()
        }

        func handle(_ event: SCTPEvent) {
            switch event {
            case .message(_, let message):
                echoedBytes += message.payload.readableBytes
                guard !finished, association != nil, echoedBytes >= expected else { return }
                samples.append(PerfSetupRate.seconds(clock.now - sentAt) * 1e6)
                timeout?.cancel()
                sendNext()
            case .shutdownComplete:
                ended = "shutdown"
                fail(SCTPError(.connectionReset, "the association ended: shutdown"))
            case .communicationLost(_, let reason):
                ended = "lost: \(reason)"
                fail(SCTPError(.connectionReset, "the association ended: lost: \(reason)"))
            default:
                break
            }
        }

        private func sendNext() {
            guard !finished, let endpoint, let association else { return }
            guard samples.count < limit && clock.now < deadline else {
                finished = true
                done.succeed(samples)
                return
            }
            let payload = pattern.message(seq: UInt32(truncatingIfNeeded: samples.count), stream: 0, allocator: allocator)
            expected += length
            sentAt = clock.now
            endpoint.send(OutgoingMessage(streamIdentifier: 0, payloadProtocolIdentifier: ppid, isUnordered: unordered,
                                          payload: payload), on: association).whenFailure { [self] error in
                fail(error)
            }
            timeout = endpoint.eventLoop.scheduleTask(in: .seconds(Int64(PerfLatency.echoTimeout))) { [self] in
                fail(SCTPError(.timedOut, "no echo within \(Int(PerfLatency.echoTimeout)) s"))
            }
        }

        private func fail(_ error: any Error) {
            guard !finished else { return }
            finished = true
            timeout?.cancel()
            done.fail(error)
        }
    }

    func run() throws {
        let group = try PerfLoops(1)
        defer { group.shutdown() }
        var options = UDPEncapsulationEndpoint.Options(sctpPort: UInt16.random(in: 49152...65535), localAddresses: bindAddresses)
        options.udpPort = udpPort
        options.peerUDPPort = peerUDPPort
        if let mtu { options.configuration.pathMTU = mtu }
        if let pathMTUDiscovery { options.configuration.pathMTUDiscovery = pathMTUDiscovery }
        let loop = group.next()
        let measurement = Run(length: length, unordered: unordered, limit: messages ?? Int.max, seconds: seconds,
                              done: loop.makePromise())
        let client: UDPEncapsulationEndpoint
        do {
            client = try UDPEncapsulationEndpoint.start(options: options, on: loop) { event in
                measurement.handle(event)
            }.wait()
            try loop.submit { measurement.endpoint = client }.wait()
        } catch {
            reportFailure(error)
            throw ExitCode.failure
        }
        defer { _ = try? client.close().wait() }
        do {
            let id = try client.connect(to: peerAddresses, port: port).wait()
            let start = measurement.clock.now
            loop.execute { measurement.start(on: id, seconds: seconds) }
            var samples = try measurement.done.futureResult.wait()
            let elapsed = PerfSetupRate.seconds(measurement.clock.now - start)
            _ = try? client.shutdown(id).wait()
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
