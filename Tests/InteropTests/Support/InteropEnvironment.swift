import Foundation
import SCTPTestSupport
import Testing

/// What the interop tests need from the machine: usrsctp and a C compiler (to build our
/// usrsctp peer, `scripts/interop/usrsctp-peer.c`), and optionally tshark with root (to
/// capture what goes over loopback).
///
/// When usrsctp or the compiler is missing the tests are skipped, unless
/// `SCTP_REQUIRE_TOOLS=1` (set by scripts/test.sh, and so in CI) or `CI=true`: then they fail,
/// saying what is missing.
enum InteropEnvironment {
    /// Whether missing tools must fail the tests rather than skip them.
    static var toolsRequired: Bool { Tools.required }

    /// The repository root, found from this file's path (Tests/InteropTests/Support/…).
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The usrsctp peer, built once per test run into a temporary directory: its path, or why
    /// it could not be built.
    static let peer: Result<String, ToolMissing> = buildPeer()

    /// Whether the interop tests run: the peer is there, or its absence must fail them.
    static var shouldRun: Bool {
        if case .success = peer { return true }
        return toolsRequired
    }

    struct ToolMissing: Error, CustomStringConvertible {
        var description: String
    }

    /// The path of an executable found on PATH or in the usual places.
    static func findTool(_ name: String) -> String? { Tools.find(name) }

    /// The temporary directory of this test run: the peer binary and the captures. Removed
    /// at exit unless a capture was kept there (`SCTP_INTEROP_KEEP_CAPTURES=1`, or a bad one).
    static let runDirectory: URL = {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("swift-sctp-interop-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { InteropEnvironment.removeRunDirectory() }
        return url
    }()

    private static func removeRunDirectory() {
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: runDirectory.path)) ?? []
        guard contents.allSatisfy({ $0 == "usrsctp-peer" || $0 == "pion-peer" }) else {
            print("interop captures kept in \(runDirectory.path)")
            return
        }
        try? FileManager.default.removeItem(at: runDirectory)
    }

    private static func buildPeer() -> Result<String, ToolMissing> {
        let script = repositoryRoot.appendingPathComponent("scripts/interop/build-peer.sh").path
        guard FileManager.default.isExecutableFile(atPath: script) else {
            return .failure(ToolMissing(description: "\(script) is missing"))
        }
        let compiler = ProcessInfo.processInfo.environment["CC"] ?? "cc"
        guard compiler.contains("/") || findTool(compiler) != nil else {
            return .failure(ToolMissing(description: "no C compiler (\(compiler)) to build the usrsctp peer; scripts/test.sh needs one"))
        }
        let output = runDirectory.appendingPathComponent("usrsctp-peer").path
        do {
            let result = try MonitoredProcess.run(script, [output], timeout: .seconds(120))
            guard result.status == 0, FileManager.default.isExecutableFile(atPath: output) else {
                return .failure(ToolMissing(description:
                    "building the usrsctp peer failed (is usrsctp installed? scripts/test.sh installs libusrsctp-dev): "
                        + "exit \(result.status)\n\(result.stderr)"))
            }
        } catch {
            return .failure(ToolMissing(description: "building the usrsctp peer failed: \(error)"))
        }
        return .success(output)
    }
}

/// Every interop test, in one suite: one test at a time (the machine may have two cores;
/// each test runs usrsctp peers, a capture and relays of its own).
@Suite("Interop with usrsctp", .serialized,
       .enabled(if: InteropEnvironment.shouldRun, "needs usrsctp (libusrsctp-dev) and a C compiler; scripts/test.sh installs them"))
enum UsrsctpInterop {}

/// Skips (returns false) or fails (records an issue, returns false) a test whose peer is missing.
func peerOrSkip() -> String? {
    switch InteropEnvironment.peer {
    case .success(let path):
        return path
    case .failure(let missing):
        if InteropEnvironment.toolsRequired {
            Issue.record("usrsctp interop tests cannot run: \(missing) (SCTP_REQUIRE_TOOLS=1)")
        }
        return nil
    }
}
