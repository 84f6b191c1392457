import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore

/// `sctp-perf --client ADDR --setup-rate N`: association setup rate. Associations are set up
/// one after another (the next INIT leaves only once the previous association is up and
/// aborted), N times or until `--time` passes; the report counts the whole loop.
///
/// Two ways to drive it (`--setup-api`):
/// - `socket`: one one-to-many `SCTPSocket` bound to the first local address; each round is a
///   blocking `connectx` until COMMUNICATION UP, then `sendmsg` with `SCTP_ABORT`, both from
///   the calling thread (each call hops to the event loop and back).
/// - `events`: the event-driven `UDPEncapsulationEndpoint`; the `abort` and the next
///   `connect` are issued on the event loop when the previous association comes up (their
///   ABORT and INIT leave in one system call), so no thread waits between rounds.
struct PerfSetupRate {
    /// How the client drives the setups.
    enum API: String, CaseIterable, ExpressibleByArgument {
        case socket, events
    }

    var peerAddress: String
    var bindAddress: String
    var port: UInt16
    var udpPort: Int
    var peerUDPPort: Int
    var count: Int
    var seconds: Double
    var json: Bool
    var api: API

    /// What a run measured.
    struct Result {
        var done = 0
        var connecting = Duration.zero
        var slowest = Duration.zero
        var failure: (any Error)?
    }

    func run() throws {
        let group = try PerfLoops(1)
        defer { group.shutdown() }
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        let result = switch api {
        case .socket: runWithSocket(group: group, clock: clock, deadline: deadline)
        case .events: runWithEvents(group: group, clock: clock, deadline: deadline)
        }
        if let failure = result.failure {
            reportFailure(failure)
            throw ExitCode.failure
        }
        let elapsed = Self.seconds(clock.now - start)
        let done = result.done
        let rate = Double(done) / elapsed
        let meanConnect = done > 0 ? Self.seconds(result.connecting) / Double(done) * 1000 : 0
        if json {
            say(String(format: "{\"role\": \"setup-rate\", \"api\": \"%@\", \"associations\": %d, \"seconds\": %.6f, "
                       + "\"per_second\": %.1f, \"mean_connect_ms\": %.3f, \"slowest_connect_ms\": %.3f}",
                       api.rawValue, done, elapsed, rate, meanConnect, Self.seconds(result.slowest) * 1000))
        } else {
            say(String(format: "setup rate (%@): %d associations in %.3f s: %.0f associations/s (connect: mean %.3f ms, slowest %.2f ms)",
                       api.rawValue, done, elapsed, rate, meanConnect, Self.seconds(result.slowest) * 1000))
        }
    }

    private func runWithSocket(group: PerfLoops, clock: ContinuousClock,
                               deadline: ContinuousClock.Instant) -> Result {
        var result = Result()
        let stack = SCTPStack(options: SCTPStack.Options(udpPort: udpPort, peerUDPPort: peerUDPPort), group: group.next())
        defer { _ = try? stack.close().wait() }
        do {
            let peer = try SocketAddress(ipAddress: peerAddress, port: Int(port))
            let local = try SocketAddress(ipAddress: bindAddress, port: 0)
            let socket = SCTPSocket(style: .oneToMany, stack: stack)
            defer { try? socket.close() }
            try socket.bind(local)
            while result.done < count && clock.now < deadline {
                let before = clock.now
                let id = try socket.connectx([peer])
                let took = clock.now - before
                result.slowest = max(result.slowest, took)
                result.connecting += took
                try socket.sendmsg(ByteBuffer(), info: SCTPSendInfo(flags: [.abort], associationID: id))
                result.done += 1
            }
        } catch {
            result.failure = error
        }
        return result
    }

    private func runWithEvents(group: PerfLoops, clock: ContinuousClock,
                               deadline: ContinuousClock.Instant) -> Result {
        // The endpoint has a UDP socket of its own, so no other SCTP endpoint shares this
        // port: any non-zero SCTP port will do.
        var options = UDPEncapsulationEndpoint.Options(sctpPort: UInt16.random(in: 20000...60000), localAddresses: [bindAddress])
        options.udpPort = udpPort
        options.peerUDPPort = peerUDPPort
        let endpoint: UDPEncapsulationEndpoint
        do {
            endpoint = try UDPEncapsulationEndpoint.start(options: options, on: group.next()) { _ in }.wait()
        } catch {
            return Result(failure: error)
        }
        defer { _ = try? endpoint.close().wait() }
        let loop = endpoint.eventLoop
        let finished = loop.makePromise(of: Result.self)
        let state = SetupLoop(endpoint: endpoint, peer: peerAddress, port: port, count: count, clock: clock,
                              deadline: deadline, finished: finished)
        loop.execute { state.next() }
        do {
            return try finished.futureResult.wait()
        } catch {
            return Result(failure: error)
        }
    }

    /// The event-loop side of `--setup-api events`: connect, abort once up, connect again.
    final class SetupLoop: @unchecked Sendable {
        let endpoint: UDPEncapsulationEndpoint
        let peer: [String]
        let port: UInt16
        let count: Int
        let clock: ContinuousClock
        let deadline: ContinuousClock.Instant
        let finished: EventLoopPromise<Result>
        var result = Result()

        init(endpoint: UDPEncapsulationEndpoint, peer: String, port: UInt16, count: Int, clock: ContinuousClock,
             deadline: ContinuousClock.Instant, finished: EventLoopPromise<Result>) {
            self.endpoint = endpoint
            self.peer = [peer]
            self.port = port
            self.count = count
            self.clock = clock
            self.deadline = deadline
            self.finished = finished
        }

        /// Starts the next setup, or reports the result when done.
        func next() {
            guard result.done < count && clock.now < deadline else {
                finished.succeed(result)
                return
            }
            let before = clock.now
            // Called on the event loop, when the association comes up: the ABORT and the next
            // INIT leave together once the event's dispatch is over.
            endpoint.connect(to: peer, port: port).whenComplete { outcome in
                switch outcome {
                case .success(let id):
                    let took = self.clock.now - before
                    self.result.slowest = max(self.result.slowest, took)
                    self.result.connecting += took
                    self.endpoint.abort(id).whenFailure { error in
                        if self.result.failure == nil { self.result.failure = error }
                    }
                    self.result.done += 1
                    if self.result.failure == nil {
                        self.next()
                    } else {
                        self.finished.succeed(self.result)
                    }
                case .failure(let error):
                    self.result.failure = error
                    self.finished.succeed(self.result)
                }
            }
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
