import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
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
///
/// `--setup-concurrency K` (default 1) keeps K associations being set up at once, each
/// completion starting the next, N in all: with `events`, K connect chains on the one event
/// loop (the endpoint's); with `socket`, K threads, each with its own one-to-many
/// `SCTPSocket` on the same stack, each doing the blocking loop above (as
/// `usrsctp-bench setup --concurrency K` runs K threads of its blocking loop).
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
    var concurrency = 1

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
            say(String(format: "{\"role\": \"setup-rate\", \"api\": \"%@\", \"concurrency\": %d, \"associations\": %d, "
                       + "\"seconds\": %.6f, \"per_second\": %.1f, \"mean_connect_ms\": %.3f, \"slowest_connect_ms\": %.3f}",
                       api.rawValue, concurrency, done, elapsed, rate, meanConnect, Self.seconds(result.slowest) * 1000))
        } else {
            say(String(format: "setup rate (%@, %d at once): %d associations in %.3f s: %.0f associations/s "
                       + "(connect: mean %.3f ms, slowest %.2f ms)",
                       api.rawValue, concurrency, done, elapsed, rate, meanConnect, Self.seconds(result.slowest) * 1000))
        }
    }

    private func runWithSocket(group: PerfLoops, clock: ContinuousClock,
                               deadline: ContinuousClock.Instant) -> Result {
        let stack = SCTPStack(options: SCTPStack.Options(udpPort: udpPort, peerUDPPort: peerUDPPort), group: group.next())
        defer { _ = try? stack.close().wait() }
        let peer: SocketAddress
        let local: SocketAddress
        do {
            peer = try SocketAddress(ipAddress: peerAddress, port: Int(port))
            local = try SocketAddress(ipAddress: bindAddress, port: 0)
        } catch {
            return Result(failure: error)
        }
        // Claims the next association (false once N have been started, the time is up or one failed).
        let started = NIOLockedValueBox((count: 0, failed: false))
        let claim = { @Sendable () -> Bool in
            started.withLockedValue { value in
                guard !value.failed && value.count < count && clock.now < deadline else { return false }
                value.count += 1
                return true
            }
        }
        let total = NIOLockedValueBox(Result())
        let loop = { @Sendable () in
            var result = Result()
            do {
                let socket = SCTPSocket(style: .oneToMany, stack: stack)
                defer { try? socket.close() }
                try socket.bind(local)
                while claim() {
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
                started.withLockedValue { $0.failed = true }
            }
            total.withLockedValue { sum in
                sum.done += result.done
                sum.connecting += result.connecting
                sum.slowest = max(sum.slowest, result.slowest)
                if sum.failure == nil { sum.failure = result.failure }
            }
        }
        if concurrency == 1 {
            loop()
        } else {
            // Foundation's Thread has no join: each thread leaves the group when its loop ends.
            let finished = DispatchGroup()
            for _ in 0..<concurrency {
                finished.enter()
                Thread.detachNewThread {
                    loop()
                    finished.leave()
                }
            }
            finished.wait()
        }
        return total.withLockedValue { $0 }
    }

    private func runWithEvents(group: PerfLoops, clock: ContinuousClock,
                               deadline: ContinuousClock.Instant) -> Result {
        // An association is one per pair of transport addresses, so K at once to the same peer
        // need K local SCTP ports: K endpoints on one stack (one event loop, one UDP socket on
        // --udp-port), whose packets share the stack's reads and writes.
        let loop = group.next()
        let firstPort = UInt16.random(in: 20000...(60000 - UInt16(concurrency)))
        let stack = SCTPStack(options: SCTPStack.Options(udpPort: udpPort, peerUDPPort: peerUDPPort), group: loop)
        var endpoints: [UDPEncapsulationEndpoint] = []
        defer {
            for endpoint in endpoints { _ = try? endpoint.close().wait() }
            _ = try? stack.close().wait()
        }
        for index in 0..<concurrency {
            let options = UDPEncapsulationEndpoint.Options(sctpPort: firstPort + UInt16(index), localAddresses: [bindAddress])
            do {
                endpoints.append(try UDPEncapsulationEndpoint.start(options: options, on: stack) { _ in }.wait())
            } catch {
                return Result(failure: error)
            }
        }
        let finished = loop.makePromise(of: Result.self)
        let shared = SetupShared(count: count, clock: clock, deadline: deadline, chains: concurrency, finished: finished)
        let chains = endpoints.map { SetupLoop(endpoint: $0, peer: peerAddress, port: port, shared: shared) }
        loop.execute { for chain in chains { chain.next() } }
        do {
            return try finished.futureResult.wait()
        } catch {
            return Result(failure: error)
        }
    }

    /// What the chains of `--setup-api events` share (confined to the event loop).
    final class SetupShared: @unchecked Sendable {
        let count: Int
        let clock: ContinuousClock
        let deadline: ContinuousClock.Instant
        let finished: EventLoopPromise<Result>
        var result = Result()
        var started = 0
        var chains: Int

        init(count: Int, clock: ContinuousClock, deadline: ContinuousClock.Instant, chains: Int,
             finished: EventLoopPromise<Result>) {
            self.count = count
            self.clock = clock
            self.deadline = deadline
            self.chains = chains
            self.finished = finished
        }

        /// Claims the next association; false once N have started, the time is up or one failed.
        func claim() -> Bool {
            guard result.failure == nil && started < count && clock.now < deadline else { return false }
            started += 1
            return true
        }

        /// A chain has ended; the last one reports the result.
        func chainEnded() {
            chains -= 1
            if chains == 0 { finished.succeed(result) }
        }
    }

    /// The event-loop side of `--setup-api events`, one chain per endpoint: connect, abort
    /// once up, connect again.
    final class SetupLoop: @unchecked Sendable {
        let endpoint: UDPEncapsulationEndpoint
        let peer: [String]
        let port: UInt16
        let shared: SetupShared

        init(endpoint: UDPEncapsulationEndpoint, peer: String, port: UInt16, shared: SetupShared) {
            self.endpoint = endpoint
            self.peer = [peer]
            self.port = port
            self.shared = shared
        }

        /// Starts the next setup, or ends the chain when done.
        func next() {
            guard shared.claim() else {
                shared.chainEnded()
                return
            }
            let clock = shared.clock
            let before = clock.now
            // Called on the event loop, when the association comes up: the ABORT and the next
            // INIT leave together once the event's dispatch is over.
            endpoint.connect(to: peer, port: port).whenComplete { outcome in
                switch outcome {
                case .success(let id):
                    let took = clock.now - before
                    self.shared.result.slowest = max(self.shared.result.slowest, took)
                    self.shared.result.connecting += took
                    self.endpoint.abort(id).whenFailure { error in
                        if self.shared.result.failure == nil { self.shared.result.failure = error }
                    }
                    self.shared.result.done += 1
                    self.next()
                case .failure(let error):
                    if self.shared.result.failure == nil { self.shared.result.failure = error }
                    self.shared.chainEnded()
                }
            }
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
