import Foundation
import NIOCore
import SCTPCore
import SCTPTestSupport
import SCTPWire
import Testing

/// What the pion interop tests need: Go and Debian's pion/sctp (golang-go,
/// golang-github-pion-sctp-dev) to build `scripts/interop/pion/pion-peer.go` offline.
/// Without them the tests are skipped, or fail with `SCTP_REQUIRE_TOOLS=1` / `CI=true`.
enum PionEnvironment {
    /// The pion peer, built once per test run into the run directory: its path, or why not.
    static let peer: Result<String, InteropEnvironment.ToolMissing> = build()

    static var shouldRun: Bool {
        if case .success = peer { return true }
        return Tools.required
    }

    private static func build() -> Result<String, InteropEnvironment.ToolMissing> {
        let script = InteropEnvironment.repositoryRoot.appendingPathComponent("scripts/interop/pion/build-pion-peer.sh").path
        guard FileManager.default.isExecutableFile(atPath: script) else {
            return .failure(.init(description: "\(script) is missing"))
        }
        let output = InteropEnvironment.runDirectory.appendingPathComponent("pion-peer").path
        do {
            let result = try MonitoredProcess.run(script, [output], timeout: .seconds(300))
            guard result.status == 0, FileManager.default.isExecutableFile(atPath: output) else {
                return .failure(.init(description:
                    "building the pion peer failed (scripts/test.sh installs golang-go and golang-github-pion-sctp-dev): "
                        + "exit \(result.status)\n\(result.stderr)"))
            }
        } catch {
            return .failure(.init(description: "building the pion peer failed: \(error)"))
        }
        return .success(output)
    }

    /// The peer's path, or `nil` after skipping (or failing, tools required).
    static func peerOrSkip() -> String? {
        switch peer {
        case .success(let path):
            return path
        case .failure(let missing):
            if Tools.required { Issue.record("pion interop tests cannot run: \(missing) (SCTP_REQUIRE_TOOLS=1)") }
            return nil
        }
    }
}

/// Every pion interop test, one at a time.
@Suite("Interop with pion/sctp", .serialized,
       .enabled(if: PionEnvironment.shouldRun,
                "needs Go and pion/sctp (golang-go, golang-github-pion-sctp-dev); scripts/test.sh installs them"))
enum PionInterop {}

/// `pion-peer` (scripts/interop/pion) as a child process: started with `--udp-port 0` and
/// `--timeout`, its READY line read; its other lines waited for with deadlines.
final class PionPeer: @unchecked Sendable {
    let child: MonitoredProcess
    /// The peer's UDP port (SCTP packets are its payloads).
    let udpPort: Int

    static let peerTimeout = 20
    static let endTimeout: Duration = .seconds(45)

    private init(child: MonitoredProcess, udpPort: Int) {
        self.child = child
        self.udpPort = udpPort
    }

    static func start(_ path: String, _ role: String, _ arguments: [String]) throws -> PionPeer {
        let all = [role, "--bind", "127.0.0.1", "--udp-port", "0", "--timeout", String(peerTimeout)] + arguments
        let child = try MonitoredProcess(path, all, name: "pion-peer \(role)")
        do {
            let ready = try child.waitForLine("READY", timeout: .seconds(20))
            guard let udp = UsrsctpPeer.fields(ready)["udp"].flatMap(Int.init) else {
                throw MonitoredProcess.Failure(description: "unreadable READY line: \(ready)")
            }
            return PionPeer(child: child, udpPort: udp)
        } catch {
            child.terminate()
            throw error
        }
    }

    func waitFor(_ prefix: String, timeout: Duration = PionPeer.endTimeout) throws -> [String: String] {
        UsrsctpPeer.fields(try child.waitForLine(prefix, timeout: timeout))
    }

    func result(timeout: Duration = PionPeer.endTimeout) throws -> PeerResult {
        PeerResult(fields: try waitFor("RESULT", timeout: timeout))
    }

    func exitStatus(timeout: Duration = PionPeer.endTimeout) throws -> Int32 { try child.waitForExit(timeout: timeout) }

    var transcript: String { child.transcript }

    func terminate() { child.terminate() }
}
