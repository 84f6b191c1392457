import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import SCTP

/// `sctp-perf --client ADDR --setup-rate N`: association setup rate. One one-to-many
/// `SCTPSocket` bound to the first local address (SCTP port chosen by the stack) sets up
/// associations one after another: `connectx` until COMMUNICATION UP, then an ABORT
/// (`sendmsg` with `SCTP_ABORT`), N times or until `--time` passes. Reports associations per
/// second, counting the whole loop.
struct PerfSetupRate {
    var peerAddress: String
    var bindAddress: String
    var port: UInt16
    var udpPort: Int
    var peerUDPPort: Int
    var count: Int
    var seconds: Double
    var json: Bool

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let stack = SCTPStack(options: SCTPStack.Options(udpPort: udpPort, peerUDPPort: peerUDPPort), group: group)
        defer { _ = try? stack.close().wait() }
        let peer = try SocketAddress(ipAddress: peerAddress, port: Int(port))
        let local = try SocketAddress(ipAddress: bindAddress, port: 0)
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        var done = 0
        var slowest = Duration.zero
        var connecting = Duration.zero
        do {
            let socket = SCTPSocket(style: .oneToMany, stack: stack)
            defer { try? socket.close() }
            try socket.bind(local)
            while done < count && clock.now < deadline {
                let before = clock.now
                let id = try socket.connectx([peer])
                let took = clock.now - before
                slowest = max(slowest, took)
                connecting += took
                try socket.sendmsg(ByteBuffer(), info: SCTPSendInfo(flags: [.abort], associationID: id))
                done += 1
            }
        } catch {
            reportFailure(error)
            throw ExitCode.failure
        }
        let elapsed = Self.seconds(clock.now - start)
        let rate = Double(done) / elapsed
        let meanConnect = done > 0 ? Self.seconds(connecting) / Double(done) * 1000 : 0
        if json {
            say(String(format: "{\"role\": \"setup-rate\", \"associations\": %d, \"seconds\": %.6f, \"per_second\": %.1f, "
                       + "\"mean_connect_ms\": %.3f, \"slowest_connect_ms\": %.3f}", done, elapsed, rate, meanConnect,
                       Self.seconds(slowest) * 1000))
        } else {
            say(String(format: "setup rate: %d associations in %.3f s: %.0f associations/s (connect: mean %.3f ms, slowest %.2f ms)",
                       done, elapsed, rate, meanConnect, Self.seconds(slowest) * 1000))
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
