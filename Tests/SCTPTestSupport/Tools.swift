import Foundation

/// Helpers the test targets share: external tools (tshark, usrsctp), temporary directories.
public enum Tools {
    /// Whether missing external tools must fail the tests rather than skip them
    /// (set by scripts/test.sh, which installs them, and in CI).
    public static var required: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["SCTP_REQUIRE_TOOLS"] == "1" || env["CI"] == "true"
    }

    /// The path of an executable found on PATH or in the usual places.
    public static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/usr/sbin", "/sbin", "/usr/lib/usrsctp"] {
            let candidate = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs a program to completion, with a deadline, and returns its exit status and output.
    public static func run(_ tool: String, _ arguments: [String], timeout: Duration = .seconds(60)) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes fully (they may fill) while the process runs.
        let outData = LockedData()
        let errData = LockedData()
        let group = DispatchGroup()
        for (pipe, sink) in [(out, outData), (err, errData)] {
            group.enter()
            DispatchQueue.global().async {
                sink.set(pipe.fileHandleForReading.readDataToEndOfFile())
                group.leave()
            }
        }
        let seconds = Double(timeout.components.seconds)
        if group.wait(timeout: .now() + seconds) == .timedOut {
            process.terminate()
            throw ToolError.timedOut(tool)
        }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData.get(), as: UTF8.self),
                String(decoding: errData.get(), as: UTF8.self))
    }

    /// A fresh temporary directory.
    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("swift-sctp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Whether the process runs as root (raw sockets, captures on interfaces, namespaces).
    public static var isRoot: Bool { getuid() == 0 }

    /// Decodes a pcap with tshark (`-d udp.port==N,sctp` for each of `udpPorts`) and returns
    /// the lines of packets that are malformed, carry a bad checksum or an error-level expert
    /// note: empty means the capture is clean.
    public static func tsharkProblems(_ tshark: String, pcap: String, udpPorts: [Int]) throws -> [String] {
        var arguments = ["-n", "-r", pcap, "-o", "sctp.checksum:CRC-32C"]
        for port in udpPorts { arguments += ["-d", "udp.port==\(port),sctp"] }
        let result = try run(tshark, arguments + ["-Y", "sctp.checksum.status != 1 || _ws.malformed || _ws.expert.severity >= 8388608"])
        guard result.status == 0 else { return ["tshark failed: \(result.stderr)"] }
        return result.stdout.split(separator: "\n").map(String.init)
    }
}

public enum ToolError: Error {
    case timedOut(String)
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) { lock.withLock { data = value } }
    func get() -> Data { lock.withLock { data } }
}
