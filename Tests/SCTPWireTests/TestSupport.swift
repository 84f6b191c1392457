import Foundation
import NIOCore
import Testing

/// Shared helpers for the wire tests.
enum TestSupport {
    /// Whether missing external tools must fail the tests rather than skip them
    /// (set by scripts/test.sh, which installs them, and in CI).
    static var toolsRequired: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["SCTP_REQUIRE_TOOLS"] == "1" || env["CI"] == "true"
    }

    /// The path of an executable found on PATH or in the usual places.
    static func findTool(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/usr/lib/usrsctp"] {
            let candidate = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs a program to completion, with a deadline, and returns its exit status and output.
    static func run(_ tool: String, _ arguments: [String], timeout: Duration = .seconds(60)) throws
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

    /// Bytes of a hex fixture: `#` starts a comment line; whitespace is ignored.
    static func hexBytes(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let digits = line.filter(\.isHexDigit)
            var index = digits.startIndex
            while index < digits.endIndex, let next = digits.index(index, offsetBy: 2, limitedBy: digits.endIndex) {
                bytes.append(UInt8(digits[index..<next], radix: 16)!)
                index = next
            }
        }
        return bytes
    }

    /// A fixture file's URL from the test bundle's resources.
    static func fixtureURL(_ relativePath: String) throws -> URL {
        let base = try #require(Bundle.module.resourceURL)
        return base.appendingPathComponent("Fixtures").appendingPathComponent(relativePath)
    }

    /// A fresh temporary directory.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("swift-sctp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

enum ToolError: Error {
    case timedOut(String)
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) { lock.withLock { data = value } }
    func get() -> Data { lock.withLock { data } }
}
