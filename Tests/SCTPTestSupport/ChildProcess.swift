import Foundation

/// A program run by a test, with its standard input writable and its output collected as it
/// comes, so a test can wait for a line with a deadline instead of sleeping.
///
/// Each output pipe is read by a thread of its own with blocking `read(2)` until end of file.
/// (`FileHandle.readabilityHandler` is not used: on Linux, installing and removing its dispatch
/// read sources from several threads corrupts libdispatch's epoll bookkeeping and crashes the
/// test process with SIGSEGV; swift-corelibs-libdispatch issue 949.)
public final class ChildProcess: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let errors = Pipe()
    private let collected = Collected()

    /// The output read so far, shared with the reading threads (which may outlive the
    /// `ChildProcess` when a grandchild keeps a pipe open).
    private final class Collected: @unchecked Sendable {
        let condition = NSCondition()
        var out = Data()
        var err = Data()
        /// Output streams that reached end of file (both: everything the program wrote is here).
        var closedStreams = 0
    }

    public init(_ path: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        // `Process.run` closes our copies of the write ends, so the reads below see end of
        // file when the program (and anything it left holding them) has closed its own.
        try Tools.spawnWithDefaultSignalMask(process)
        for (handle, isError) in [(output.fileHandleForReading, false), (errors.fileHandleForReading, true)] {
            let collected = collected
            let thread = Thread {
                // `handle` is captured: its descriptor stays open until this loop ends.
                let fd = handle.fileDescriptor
                var buffer = [UInt8](repeating: 0, count: 16_384)
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if count < 0 && errno == EINTR { continue }
                    collected.condition.lock()
                    if count <= 0 {
                        collected.closedStreams += 1
                    } else if isError {
                        collected.err.append(contentsOf: buffer[0..<count])
                    } else {
                        collected.out.append(contentsOf: buffer[0..<count])
                    }
                    collected.condition.broadcast()
                    collected.condition.unlock()
                    if count <= 0 { break }
                }
            }
            thread.start()
        }
    }

    /// What the program wrote to standard output / standard error so far.
    public var standardOutput: String { collected.condition.withLock { String(decoding: collected.out, as: UTF8.self) } }
    public var standardError: String { collected.condition.withLock { String(decoding: collected.err, as: UTF8.self) } }

    /// Writes to the program's standard input.
    public func write(_ text: String) { input.fileHandleForWriting.write(Data(text.utf8)) }

    /// Closes the program's standard input (end of file).
    public func closeInput() { try? input.fileHandleForWriting.close() }

    /// Waits until `predicate` holds for (standard output, standard error), or the deadline passes.
    @discardableResult
    public func wait(seconds: Double = 20, until predicate: (String, String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        let condition = collected.condition
        condition.lock()
        defer { condition.unlock() }
        func holds() -> Bool {
            predicate(String(decoding: collected.out, as: UTF8.self), String(decoding: collected.err, as: UTF8.self))
        }
        while !holds() {
            if !condition.wait(until: deadline) { return holds() }
        }
        return true
    }

    /// Whether the program has ended.
    public var hasExited: Bool { !process.isRunning }

    /// Waits for the program to exit; its status, or `nil` if it is still running at the deadline.
    /// Its output is then all in `standardOutput` and `standardError` (both pipes read to the
    /// end, within the same deadline; a child the program left holding them may delay that).
    public func waitForExit(seconds: Double = 20) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() >= deadline { return nil }
            usleep(5_000)
        }
        let condition = collected.condition
        condition.lock()
        while collected.closedStreams < 2 && condition.wait(until: deadline) {}
        condition.unlock()
        return process.terminationStatus
    }

    /// Stops the program if it still runs (SIGKILL: it always ends the child).
    public func terminate() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        _ = waitForExit(seconds: 5)
    }

    deinit {
        terminate()
    }
}

extension Tools {
    /// `Process.run` on a thread of its own with no signal blocked: the child inherits the
    /// spawning thread's signal mask, and the test runner's threads block SIGINT and SIGTERM,
    /// which would leave a child (tshark, and the dumpcap it starts) deaf to anything but
    /// SIGKILL.
    public static func spawnWithDefaultSignalMask(_ process: Process) throws {
        let done = DispatchSemaphore(value: 0)
        let failure = NSLock()
        nonisolated(unsafe) var caught: (any Error)?
        let thread = Thread {
            var none = sigset_t()
            sigemptyset(&none)
            pthread_sigmask(SIG_SETMASK, &none, nil)
            do {
                try process.run()
            } catch {
                failure.withLock { caught = error }
            }
            done.signal()
        }
        thread.start()
        done.wait()
        if let error = failure.withLock({ caught }) { throw error }
    }

    /// A product of this package built next to the test bundle (`.build/debug/NAME`).
    public static func builtProduct(_ name: String) -> String? {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }
}
