import Foundation

/// A program run by a test, with its standard input writable and its output collected as it
/// comes, so a test can wait for a line with a deadline instead of sleeping.
public final class ChildProcess: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let errors = Pipe()
    private let condition = NSCondition()
    private var out = Data()
    private var err = Data()
    /// Output streams that reached end of file (both: everything the program wrote is here).
    private var closedStreams = 0

    public init(_ path: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        for (pipe, isError) in [(output, false), (errors, true)] {
            pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let data = handle.availableData
                guard let self else { return }
                condition.lock()
                if data.isEmpty {
                    // End of file: no more calls for this stream.
                    handle.readabilityHandler = nil
                    closedStreams += 1
                } else if isError {
                    err.append(data)
                } else {
                    out.append(data)
                }
                condition.broadcast()
                condition.unlock()
            }
        }
        try Tools.spawnWithDefaultSignalMask(process)
    }

    /// What the program wrote to standard output / standard error so far.
    public var standardOutput: String { condition.withLock { String(decoding: out, as: UTF8.self) } }
    public var standardError: String { condition.withLock { String(decoding: err, as: UTF8.self) } }

    /// Writes to the program's standard input.
    public func write(_ text: String) { input.fileHandleForWriting.write(Data(text.utf8)) }

    /// Closes the program's standard input (end of file).
    public func closeInput() { try? input.fileHandleForWriting.close() }

    /// Waits until `predicate` holds for (standard output, standard error), or the deadline passes.
    @discardableResult
    public func wait(seconds: Double = 20, until predicate: (String, String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self)) {
            if !condition.wait(until: deadline) { return predicate(String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self)) }
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
        condition.lock()
        while closedStreams < 2 && condition.wait(until: deadline) {}
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
        output.fileHandleForReading.readabilityHandler = nil
        errors.fileHandleForReading.readabilityHandler = nil
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
