import Foundation
import SCTPTestSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A program run as a child process whose output lines are collected as they come, so that a
/// test can wait for a line (or for the exit) with a deadline instead of sleeping. Nothing
/// here waits without a deadline; `terminate` always ends the child.
final class MonitoredProcess: @unchecked Sendable {
    let name: String
    private let process = Process()
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var stdoutLines: [String] = []
    private var stderrLines: [String] = []
    private var openStreams = 2
    private var exitStatus: Int32?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Which stdout lines are kept (all unless given: a chatty child's output need not pile up).
    private let keep: (@Sendable (String) -> Bool)?

    init(_ executable: String, _ arguments: [String], name: String? = nil, keepLine: (@Sendable (String) -> Bool)? = nil) throws {
        self.name = name ?? URL(fileURLWithPath: executable).lastPathComponent
        keep = keepLine
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        process.terminationHandler = { [weak self] finished in
            guard let self else { return }
            condition.lock()
            exitStatus = finished.terminationStatus
            condition.broadcast()
            condition.unlock()
        }
        try Tools.spawnWithDefaultSignalMask(process)
        startReader(out.fileHandleForReading, stdout: true)
        startReader(err.fileHandleForReading, stdout: false)
    }

    deinit { terminate() }

    /// Reads one pipe to its end on a thread of its own, line by line.
    private func startReader(_ handle: FileHandle, stdout: Bool) {
        let thread = Thread { [self] in
            let fd = handle.fileDescriptor
            var pending = [UInt8]()
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                pending.append(contentsOf: chunk[0..<count])
                var lines: [String] = []
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    lines.append(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                }
                if !lines.isEmpty { append(lines, stdout: stdout) }
            }
            if !pending.isEmpty { append([String(decoding: pending, as: UTF8.self)], stdout: stdout) }
            try? handle.close()
            condition.lock()
            openStreams -= 1
            condition.broadcast()
            condition.unlock()
        }
        thread.name = "\(name) \(stdout ? "stdout" : "stderr")"
        thread.start()
    }

    private func append(_ lines: [String], stdout: Bool) {
        condition.lock()
        if stdout {
            stdoutLines += keep.map { lines.filter($0) } ?? lines
        } else {
            stderrLines += lines
        }
        condition.broadcast()
        condition.unlock()
    }

    var processIdentifier: Int32 { process.processIdentifier }

    /// The stdout lines so far.
    var lines: [String] {
        condition.lock()
        defer { condition.unlock() }
        return stdoutLines
    }

    /// The stderr lines so far.
    var errorLines: [String] {
        condition.lock()
        defer { condition.unlock() }
        return stderrLines
    }

    /// The exit status, once the child has exited.
    var status: Int32? {
        condition.lock()
        defer { condition.unlock() }
        return exitStatus
    }

    /// The first stdout (or stderr) line satisfying `predicate`, waiting up to `timeout` for it.
    /// Throws when the deadline passes or the stream ends without one.
    func waitForLine(stderr: Bool = false, timeout: Duration, _ what: String,
                     where predicate: (String) -> Bool) throws -> String {
        try waitForLines(stderr: stderr, count: 1, timeout: timeout, what, where: predicate)[0]
    }

    /// The first `count` stdout (or stderr) lines satisfying `predicate`, waiting for them.
    @discardableResult
    func waitForLines(stderr: Bool = false, count: Int, timeout: Duration, _ what: String,
                      where predicate: (String) -> Bool) throws -> [String] {
        let deadline = Date().addingTimeInterval(timeout.seconds)
        condition.lock()
        defer { condition.unlock() }
        while true {
            let found = (stderr ? stderrLines : stdoutLines).filter(predicate)
            if found.count >= count { return Array(found.prefix(count)) }
            // Both pipes at their end and the child gone: nothing more will come.
            if openStreams == 0 && exitStatus != nil {
                throw Failure(description: "\(name) exited (status \(exitStatus!)) without \(what)\n\(transcriptLocked())")
            }
            if !condition.wait(until: deadline) && Date() >= deadline {
                throw Failure(description: "\(name): no \(what) within \(timeout)\n\(transcriptLocked())")
            }
        }
    }

    /// The first stdout line starting with `prefix` followed by a space or the end.
    func waitForLine(_ prefix: String, timeout: Duration) throws -> String {
        try waitForLine(timeout: timeout, "line \(prefix)") { $0 == prefix || $0.hasPrefix(prefix + " ") }
    }

    /// Waits until the child has exited and its output is read; its exit status.
    @discardableResult
    func waitForExit(timeout: Duration) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout.seconds)
        condition.lock()
        defer { condition.unlock() }
        while exitStatus == nil || openStreams > 0 {
            if !condition.wait(until: deadline) && Date() >= deadline {
                throw Failure(description: "\(name) did not exit within \(timeout)\n\(transcriptLocked())")
            }
        }
        return exitStatus!
    }

    /// Sends a signal when the child still runs.
    func signal(_ signal: Int32) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
    }

    /// Ends the child: SIGTERM, then SIGKILL if it has not exited within two seconds.
    func terminate() {
        guard process.isRunning else { return }
        signal(SIGTERM)
        if (try? waitForExit(timeout: .seconds(2))) == nil {
            signal(SIGKILL)
            _ = try? waitForExit(timeout: .seconds(5))
        }
    }

    /// The output so far, for failure messages (the last lines of each stream).
    var transcript: String {
        condition.lock()
        defer { condition.unlock() }
        return transcriptLocked()
    }

    private func transcriptLocked() -> String {
        let out = stdoutLines.suffix(30).map { "  stdout: \($0)" }
        let err = stderrLines.suffix(30).map { "  stderr: \($0)" }
        return "[\(name)]\n" + (out + err).joined(separator: "\n")
    }

    /// Runs a program to completion within `timeout`; its status and output.
    static func run(_ executable: String, _ arguments: [String], timeout: Duration) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let child = try MonitoredProcess(executable, arguments)
        defer { child.terminate() }
        let status = try child.waitForExit(timeout: timeout)
        return (status, child.lines.joined(separator: "\n"), child.errorLines.joined(separator: "\n"))
    }
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    var seconds: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// A value shared between threads under a lock.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
