#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSCTPSystem
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

// How the blocking calls (recvmsg, sendmsg, accept, connectx) wait, and how they are
// interrupted (EINTR): by `interruptBlockedCalls()` from another thread, or, where the C
// library asks for it (`signalsInterrupt`), by a signal handled on the waiting thread.

extension SCTPSocket {
    /// What an interrupted blocking call does about the work it waited for.
    enum Interruption {
        /// Take it back (on the loop; it then fails with EINTR unless it completed first,
        /// in which case the call returns its result: nothing is lost).
        case cancel(@Sendable () -> Void)
        /// Leave it running and return EINTR at once (connectx: the attempt goes on).
        case abandon
    }

    /// A signal arriving at a thread blocked in a call of this library makes the call fail
    /// with EINTR (what a kernel does for a handler without `SA_RESTART`). Off for Swift
    /// programs, whose blocked calls go on after a signal; the C library switches it on.
    /// The stack's own loop thread blocks every signal, so that process-directed signals
    /// reach the application's threads.
    public static var signalsInterrupt: Bool {
        get { signalsInterruptFlag.withLockedValue { $0 } }
        set { signalsInterruptFlag.withLockedValue { $0 = newValue } }
    }
    private static let signalsInterruptFlag = NIOLockedValueBox(false)

    /// Makes every call blocked on this socket now (reading, sending, accepting, connecting)
    /// fail with EINTR. A read or send taken back loses nothing: what was not returned stays
    /// queued, a message not accepted is not sent; an interrupted connectx leaves the
    /// attempt going on (its outcome shows as an association change notification).
    public func interruptBlockedCalls() {
        for wakeup in blockedCalls.withLockedValue({ Array($0.values) }) { wakeup.interrupt() }
    }

    /// Runs `body` on the loop and waits for its future; `interruption` says what an
    /// interrupt does (nil: the call cannot be interrupted).
    func onLoopInterruptible<T: Sendable>(_ interruption: Interruption?,
                                          _ body: @escaping @Sendable () -> EventLoopFuture<T>) throws(SCTPError) -> T {
        guard let interruption else { return try onLoopWaiting(body) }
        if eventLoop.inEventLoop { return try onLoopWaiting(body) }  // cannot block the loop on itself anyway
        let future = eventLoop.flatSubmit(body)
        let wakeup = BlockingWakeup.forThisThread()
        wakeup.reset()
        let result = NIOLockedValueBox<Result<T, any Error>?>(nil)
        future.whenComplete { outcome in
            result.withLockedValue { $0 = outcome }
            wakeup.signal()
        }
        let key = ObjectIdentifier(wakeup)
        blockedCalls.withLockedValue { $0[key] = wakeup }
        defer { blockedCalls.withLockedValue { _ = $0.removeValue(forKey: key) } }
        while true {
            if let outcome = result.withLockedValue({ $0 }) { return try Self.unwrap(outcome) }
            guard wakeup.sleep(signalsInterrupt: Self.signalsInterrupt) else { continue }
            // Interrupted.
            switch interruption {
            case .abandon:
                if let outcome = result.withLockedValue({ $0 }) { return try Self.unwrap(outcome) }
                throw SCTPError(.interrupted, "the call was interrupted; what it started goes on")
            case .cancel(let takeBack):
                eventLoop.execute(takeBack)
                // It fails with EINTR now, or completed before the take-back: either way soon.
                do {
                    return try future.wait()
                } catch {
                    throw EndpointDriver.map(error)
                }
            }
        }
    }

    private static func unwrap<T>(_ outcome: Result<T, any Error>) throws(SCTPError) -> T {
        switch outcome {
        case .success(let value): return value
        case .failure(let error): throw EndpointDriver.map(error)
        }
    }
}

/// One thread's way to sleep until a blocking call completes or is interrupted: a
/// descriptor to poll (an eventfd on Linux, a pipe elsewhere), kept for the thread's life.
final class BlockingWakeup: @unchecked Sendable {
    private static let perThread = ThreadSpecificVariable<BlockingWakeup>()

    static func forThisThread() -> BlockingWakeup {
        if let wakeup = perThread.currentValue { return wakeup }
        let wakeup = BlockingWakeup()
        perThread.currentValue = wakeup
        return wakeup
    }

    private let readDescriptor: CInt
    private let writeDescriptor: CInt
    private let interrupted = NIOLockedValueBox(false)

    private init() {
        #if os(Linux)
        let descriptor = csctp_wake_create()
        precondition(descriptor >= 0, "no descriptor left for a blocking call's wake-up (errno \(-descriptor))")
        readDescriptor = descriptor
        writeDescriptor = descriptor
        #else
        var pair: [CInt] = [-1, -1]
        precondition(pipe(&pair) == 0, "no descriptor left for a blocking call's wake-up (errno \(errno))")
        for descriptor in pair { _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) }
        readDescriptor = pair[0]
        writeDescriptor = pair[1]
        #endif
    }

    deinit {
        close(readDescriptor)
        if writeDescriptor != readDescriptor { close(writeDescriptor) }
    }

    /// Before a new call: no interruption pending. A stale wake-up (a call that completed
    /// before its thread went to sleep leaves one) is not read here: it costs the next call
    /// one more look at its result, where reading it here would cost every call a read.
    func reset() {
        interrupted.withLockedValue { $0 = false }
    }

    func signal() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(writeDescriptor, $0.baseAddress, $0.count) }
    }

    func interrupt() {
        interrupted.withLockedValue { $0 = true }
        signal()
    }

    /// Sleeps until woken. Returns true when the call is to be interrupted: `interrupt()`,
    /// or a signal handled on this thread while `signalsInterrupt`.
    func sleep(signalsInterrupt: Bool) -> Bool {
        var descriptor = pollfd(fd: readDescriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, -1)
        if ready < 0 && errno == EINTR && signalsInterrupt { return true }
        drain()
        return interrupted.withLockedValue { pending in
            defer { pending = false }
            return pending
        }
    }

    /// Takes the pending wake-ups: one read of the eventfd's counter (it returns and clears
    /// all of them), or reads of the pipe until it is empty.
    private func drain() {
        var buffer = (UInt64(0), UInt64(0))
        #if os(Linux)
        _ = withUnsafeMutableBytes(of: &buffer) { read(readDescriptor, $0.baseAddress, 8) }
        #else
        while withUnsafeMutableBytes(of: &buffer, { read(readDescriptor, $0.baseAddress, $0.count) }) > 0 {}
        #endif
    }
}

