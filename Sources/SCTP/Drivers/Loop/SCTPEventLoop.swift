import CSCTPSystem
import Dispatch
import HeapModule
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An event loop of swift-sctp's own: one thread waiting on epoll, that reads and writes
/// the UDP sockets of the stacks running on it itself.
///
/// A stack made on it (`SCTPStack(options:group:)` with this loop as the group) reads its
/// datagrams with `recvmmsg` as soon as a socket is readable and dispatches them to its
/// associations in the same turn, with none of a SwiftNIO channel's per-read machinery:
/// fewer system calls, allocations and thread-safety checks per packet, which is what
/// bounds round-trip time and association setup rate. It is a full SwiftNIO `EventLoop`
/// (futures, `execute`, `scheduleTask`, Swift concurrency executor), so every API of the
/// package works on it; SwiftNIO channels cannot be registered on it, so raw IP and
/// user-carrier stacks keep running on SwiftNIO's loops.
///
/// Linux only (`isSupported`). Shut it down (`shutdownGracefully`, `syncShutdownGracefully`)
/// after the stacks on it have closed. Timers still scheduled then fail with
/// `EventLoopError.shutdown`; a task given to the loop after it stopped runs at once on the
/// calling thread (so that futures of the loop still complete).
///
/// ```swift
/// let loop = try SCTPEventLoop()
/// let stack = SCTPStack(options: .init(udpPort: 0, peerUDPPort: 9899), group: loop)
/// ```
public final class SCTPEventLoop: EventLoop, @unchecked Sendable {
    /// Whether this system has what the loop needs (epoll and eventfd: Linux).
    public static var isSupported: Bool {
        #if os(Linux)
        return true
        #else
        return false
        #endif
    }

    /// One loop for the whole process, started when first used and never shut down (as
    /// SwiftNIO's singleton groups); `nil` where the loop is not supported or cannot start.
    public static let singleton: SCTPEventLoop? = isSupported ? try? SCTPEventLoop() : nil

    private let pollDescriptor: CInt
    private let wakeDescriptor: CInt
    private let logger = Logger(label: "swift-sctp.loop")

    // Shared with other threads, under `lock`.
    private let lock = NIOLock()
    #if DEBUG
    private var tasks: [@Sendable () -> Void] = []
    #else
    @exclusivity(unchecked) private var tasks: [@Sendable () -> Void] = []
    #endif
    /// A wake-up has been signalled and the loop has not consumed it yet.
    #if DEBUG
    private var wakeSignalled = false
    #else
    @exclusivity(unchecked) private var wakeSignalled = false
    #endif
    #if DEBUG
    private var stopping = false
    #else
    @exclusivity(unchecked) private var stopping = false
    #endif
    private var stopped = false
    private var shutdownCallbacks: [(DispatchQueue, @Sendable ((any Error)?) -> Void)] = []

    /// Serializes the tasks that run in the place of a stopped loop.
    private let standInLock = NIOLock()

    // The loop thread's own.
    #if DEBUG
    private var timers = Heap<TimerEntry>()
    #else
    @exclusivity(unchecked) private var timers = Heap<TimerEntry>()
    #endif
    #if DEBUG
    private var timerSequence: UInt64 = 0
    #else
    @exclusivity(unchecked) private var timerSequence: UInt64 = 0
    #endif
    #if DEBUG
    private var cancelledTimers = 0
    #else
    @exclusivity(unchecked) private var cancelledTimers = 0
    #endif
    #if DEBUG
    private var registrations: [CInt: Registration] = [:]
    #else
    @exclusivity(unchecked) private var registrations: [CInt: Registration] = [:]
    #endif
    /// Stacks to flush before the loop waits again (`beforeWaiting`).
    #if DEBUG
    private var flushes: [SCTPStack] = []
    #else
    @exclusivity(unchecked) private var flushes: [SCTPStack] = []
    #endif
    #if DEBUG
    private var spareFlushes: [SCTPStack] = []
    #else
    @exclusivity(unchecked) private var spareFlushes: [SCTPStack] = []
    #endif
    #if DEBUG
    private var spareTasks: [@Sendable () -> Void] = []
    #else
    @exclusivity(unchecked) private var spareTasks: [@Sendable () -> Void] = []
    #endif
    /// The loop has stopped (its thread's view of `stopped`).
    #if DEBUG
    private var finished = false
    #else
    @exclusivity(unchecked) private var finished = false
    #endif
    /// Consecutive failed waits (the loop gives up after many).
    #if DEBUG
    private var waitFailures = 0
    #else
    @exclusivity(unchecked) private var waitFailures = 0
    #endif

    /// What a descriptor registered on the loop does when it is ready.
    final class Registration {
        let descriptor: CInt
        /// Called with `true` when the descriptor also reports an error (EPOLLERR / EPOLLHUP:
        /// for a UDP socket with IP_RECVERR, an entry waiting in its error queue).
        let onReadable: (_ errorPending: Bool) -> Void
        let onWritable: () -> Void
        var wantsWritable = false

        init(descriptor: CInt, onReadable: @escaping (_ errorPending: Bool) -> Void, onWritable: @escaping () -> Void) {
            self.descriptor = descriptor
            self.onReadable = onReadable
            self.onWritable = onWritable
        }
    }

    private final class TimerTask: @unchecked Sendable {
        let body: () -> Void
        /// Fails the task's promise (the loop stopped before it was due).
        let abandon: () -> Void
        var cancelled = false
        var done = false
        /// Whether the timer is in the loop's heap (cancelled ones there are counted).
        var queued = false
        init(body: @escaping () -> Void, abandon: @escaping () -> Void) {
            self.body = body
            self.abandon = abandon
        }
    }

    private struct TimerEntry: Comparable {
        let deadline: UInt64
        let sequence: UInt64
        let task: TimerTask
        static func < (a: TimerEntry, b: TimerEntry) -> Bool {
            a.deadline != b.deadline ? a.deadline < b.deadline : a.sequence < b.sequence
        }
        static func == (a: TimerEntry, b: TimerEntry) -> Bool { a.deadline == b.deadline && a.sequence == b.sequence }
    }

    /// Starts the loop's thread.
    /// - Throws: `SCTPError` with ENOSYS where the loop is not supported, or the errno of
    ///   `epoll_create1` / `eventfd`.
    public init() throws(SCTPError) {
        let poll = csctp_poll_create()
        guard poll >= 0 else { throw SCTPError(Errno(rawValue: -poll), "the SCTP event loop cannot wait for readiness") }
        let wake = csctp_wake_create()
        guard wake >= 0 else {
            _ = Self.closeDescriptor(poll)
            throw SCTPError(Errno(rawValue: -wake), "the SCTP event loop cannot make its wake-up descriptor")
        }
        guard csctp_poll_set(poll, wake, 1, 1, 0) == 0 else {
            _ = Self.closeDescriptor(poll)
            _ = Self.closeDescriptor(wake)
            throw SCTPError(.invalidArgument, "the SCTP event loop cannot watch its wake-up descriptor")
        }
        pollDescriptor = poll
        wakeDescriptor = wake
        let started = ConditionLock(value: false)
        let box = Unmanaged.passRetained(ThreadStart(loop: self, started: started))
        var handle = pthread_t()
        let created = pthread_create(&handle, nil, { argument in
            let start = Unmanaged<ThreadStart>.fromOpaque(argument!).takeRetainedValue()
            pthread_setspecific(SCTPEventLoop.current, Unmanaged.passUnretained(start.loop).toOpaque())
            csctp_name_thread("SCTP-loop")
            // Signals are the application's: a process-directed one goes to one of its
            // threads (where it may interrupt a blocking call), never to the loop.
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            start.started.lock()
            start.started.unlock(withValue: true)
            start.loop.run()
            return nil
        }, box.toOpaque())
        guard created == 0 else {
            box.release()
            _ = Self.closeDescriptor(poll)
            _ = Self.closeDescriptor(wake)
            throw SCTPError(Errno(rawValue: created), "the SCTP event loop cannot start its thread")
        }
        _ = pthread_detach(handle)
        started.lock(whenValue: true)
        started.unlock()
    }

    /// A value handed between closures that the loop runs one at a time.
    private struct UncheckedBox<Value>: @unchecked Sendable {
        let value: Value
        init(_ value: Value) { self.value = value }
    }

    private final class ThreadStart {
        let loop: SCTPEventLoop
        let started: ConditionLock<Bool>
        init(loop: SCTPEventLoop, started: ConditionLock<Bool>) {
            self.loop = loop
            self.started = started
        }
    }

    // MARK: EventLoop

    /// Whether the calling thread is the loop's (or runs a task in its place after it stopped).
    public var inEventLoop: Bool {
        pthread_getspecific(Self.current) == Unmanaged.passUnretained(self).toOpaque()
    }

    /// The loop the current thread is (its own thread), or runs a task in the place of
    /// (once that loop stopped); `nil` elsewhere.
    private static let current: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "no thread-specific key left for SCTPEventLoop")
        return key
    }()

    /// The current time of the loop's clock (the monotonic clock).
    public var now: NIODeadline { .now() }

    /// Runs `task` on the loop's thread, after the tasks queued before it.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        // The loop itself runs every task queued before it waits again: it needs no signal.
        let onLoop = inEventLoop
        let (signal, dropped): (Bool, Bool) = lock.withLock {
            guard !stopped else { return (false, true) }
            tasks.append(task)
            guard !onLoop, !wakeSignalled else { return (false, false) }
            wakeSignalled = true
            return (true, false)
        }
        if dropped {
            standIn(task)
            return
        }
        if signal { csctp_wake_signal(wakeDescriptor) }
    }

    /// Runs `task` in the place of the stopped loop: here, one such task at a time, as if on
    /// the loop, so that futures of the loop still complete (SwiftNIO's loops drop it, and
    /// such futures never complete).
    private func standIn(_ task: () -> Void) {
        if inEventLoop {
            task()
            return
        }
        standInLock.withLock {
            let previous = pthread_getspecific(Self.current)
            pthread_setspecific(Self.current, Unmanaged.passUnretained(self).toOpaque())
            task()
            pthread_setspecific(Self.current, previous)
        }
    }

    @discardableResult
    public func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        // Completed on the loop only (or, once it stopped, where `execute` runs it).
        let promise = UncheckedBox(makePromise(of: T.self))
        let timer = TimerTask(body: {
            // The body runs on the loop: the value needs no Sendable conformance to complete it.
            do { promise.value.assumeIsolatedUnsafeUnchecked().succeed(try task()) } catch { promise.value.fail(error) }
        }, abandon: { promise.value.fail(EventLoopError.shutdown) })
        let scheduled = Scheduled(promise: promise.value, cancellationTask: { [self] in
            if inEventLoop { cancel(timer) } else { execute { self.cancel(timer) } }
        })
        let when = deadline.uptimeNanoseconds
        if lock.withLock({ stopped }) {
            promise.value.fail(EventLoopError.shutdown)
        } else if inEventLoop {
            insert(timer, at: when)
        } else {
            execute { self.insert(timer, at: when) }
        }
        return scheduled
    }

    @discardableResult
    public func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduleTask(deadline: .now() + delay, task)
    }

    /// Traps unless called on the loop.
    public func preconditionInEventLoop(file: StaticString, line: UInt) {
        precondition(inEventLoop, "not on the SCTP event loop", file: file, line: line)
    }

    /// Traps when called on the loop.
    public func preconditionNotInEventLoop(file: StaticString, line: UInt) {
        precondition(!inEventLoop, "on the SCTP event loop", file: file, line: line)
    }

    /// Stops the loop and calls `callback` on `queue` once it has; the process-wide
    /// singleton refuses (`EventLoopError.unsupportedOperation`).
    public func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        if self === Self.singleton {
            queue.async { callback(EventLoopError.unsupportedOperation) }
            return
        }
        let already: Bool = lock.withLock {
            if stopped { return true }
            stopping = true
            shutdownCallbacks.append((queue, callback))
            return false
        }
        if already {
            queue.async { callback(nil) }
            return
        }
        if inEventLoop { return }
        csctp_wake_signal(wakeDescriptor)
    }

    // MARK: Descriptors (on the loop)

    /// Watches `descriptor` for reading (and for writing when asked with `setWritable`);
    /// `onReadable` learns whether an error (EPOLLERR / EPOLLHUP) came with the event.
    func register(_ descriptor: CInt, onReadable: @escaping (_ errorPending: Bool) -> Void,
                  onWritable: @escaping () -> Void) throws(SCTPError) {
        preconditionInEventLoop(file: #file, line: #line)
        guard !lock.withLock({ stopped }) else { throw SCTPError(.badFileDescriptor, "the SCTP event loop has shut down") }
        let result = csctp_poll_set(pollDescriptor, descriptor, 1, 1, 0)
        guard result == 0 else { throw SCTPError(Errno(rawValue: -result), "the SCTP event loop cannot watch a socket") }
        registrations[descriptor] = Registration(descriptor: descriptor, onReadable: onReadable, onWritable: onWritable)
    }

    /// Asks to be told (or no longer) when `descriptor` can take more writes.
    func setWritable(_ descriptor: CInt, _ wanted: Bool) {
        guard let registration = registrations[descriptor], registration.wantsWritable != wanted else { return }
        let result = csctp_poll_set(pollDescriptor, descriptor, 0, 1, wanted ? 1 : 0)
        guard result == 0 else {
            logger.warning("cannot change a socket's writability interest", metadata: ["errno": "\(-result)"])
            return
        }
        registration.wantsWritable = wanted
    }

    /// Has `stack.flushBeforeWaiting()` called once, at the end of this turn of the loop.
    func beforeWaiting(_ stack: SCTPStack) {
        if finished {
            stack.flushBeforeWaiting()
        } else {
            flushes.append(stack)
        }
    }

    /// Stops watching `descriptor` (before it is closed).
    func deregister(_ descriptor: CInt) {
        guard registrations.removeValue(forKey: descriptor) != nil else { return }
        _ = csctp_poll_remove(pollDescriptor, descriptor)
    }

    // MARK: The loop

    private static func closeDescriptor(_ descriptor: CInt) -> CInt {
        #if canImport(Glibc)
        return Glibc.close(descriptor)
        #else
        return Darwin.close(descriptor)
        #endif
    }

    private func insert(_ timer: TimerTask, at deadline: UInt64) {
        guard !timer.cancelled else { return }
        guard !finished else {
            // The loop stopped before the timer got in (it was handed over from another thread).
            timer.cancelled = true
            timer.abandon()
            return
        }
        timerSequence &+= 1
        timer.queued = true
        timers.insert(TimerEntry(deadline: deadline, sequence: timerSequence, task: timer))
    }

    private func cancel(_ timer: TimerTask) {
        guard !timer.done, !timer.cancelled else { return }
        timer.cancelled = true
        guard timer.queued else { return }
        cancelledTimers += 1
        // Cancelled entries leave the heap when due; many of them are swept at once.
        if cancelledTimers > 64 && cancelledTimers > timers.count / 2 {
            timers = Heap(timers.unordered.filter { !$0.task.cancelled })
            cancelledTimers = 0
        }
    }

    /// Runs the timers due by `now` (uptime nanoseconds).
    private func runDueTimers() {
        guard !timers.isEmpty else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        while let first = timers.min, first.deadline <= now {
            _ = timers.removeMin()
            let task = first.task
            if task.cancelled {
                cancelledTimers -= 1
                continue
            }
            task.done = true
            task.body()
        }
    }

    /// Runs the tasks queued so far; returns whether more came meanwhile.
    private func runTasks() -> Bool {
        lock.lock()
        swap(&tasks, &spareTasks)
        lock.unlock()
        guard !spareTasks.isEmpty else { return false }
        for task in spareTasks { task() }
        spareTasks.removeAll(keepingCapacity: true)
        return lock.withLock { !tasks.isEmpty }
    }

    private func run() {
        var descriptors = [CInt](repeating: 0, count: 64)
        var events = [UInt32](repeating: 0, count: 64)
        while true {
            var more = runTasks()
            runDueTimers()
            runFlushes()
            more = more || lock.withLock { !tasks.isEmpty }
            if !more && lock.withLock({ stopping }) { break }
            var timeout: Int64 = -1
            if more {
                timeout = 0
            } else if let first = timers.min {
                let now = NIODeadline.now().uptimeNanoseconds
                timeout = first.deadline > now ? Int64(clamping: first.deadline - now) : 0
            }
            let count = descriptors.withUnsafeMutableBufferPointer { fds in
                events.withUnsafeMutableBufferPointer { flags in
                    csctp_poll_wait(pollDescriptor, fds.baseAddress, flags.baseAddress, CInt(fds.count), timeout)
                }
            }
            if count < 0 {
                waitFailures += 1
                logger.error("the SCTP event loop cannot wait", metadata: ["errno": "\(-count)"])
                // A failure that lasts (the poll descriptor broke) must not spin for ever.
                if waitFailures >= 100 {
                    logger.critical("the SCTP event loop stops: waiting keeps failing", metadata: ["errno": "\(-count)"])
                    lock.withLock { stopping = true }
                }
                continue
            }
            waitFailures = 0
            for index in 0..<Int(count) {
                let descriptor = descriptors[index]
                if descriptor == wakeDescriptor {
                    csctp_wake_drain(wakeDescriptor)
                    lock.withLock { wakeSignalled = false }
                    continue
                }
                let flags = events[index]
                if flags & (1 | 4) != 0, let registration = registrations[descriptor] {
                    registration.onReadable(flags & 4 != 0)
                }
                if flags & (2 | 4) != 0, let registration = registrations[descriptor], registration.wantsWritable {
                    registration.onWritable()
                }
            }
        }
        finish()
    }

    /// After the loop: fails what is still scheduled, closes the loop's descriptors and
    /// reports the shutdown.
    private func finish() {
        // From here on, tasks run in the loop's place (`standIn`); those that came last run now.
        let (left, callbacks): ([@Sendable () -> Void], [(DispatchQueue, @Sendable ((any Error)?) -> Void)]) = lock.withLock {
            stopped = true
            let left = tasks
            tasks = []
            let callbacks = shutdownCallbacks
            shutdownCallbacks = []
            return (left, callbacks)
        }
        finished = true
        for task in left { task() }
        runFlushes()
        let pending = timers.unordered
        timers = Heap()
        for entry in pending where !entry.task.cancelled && !entry.task.done {
            entry.task.cancelled = true
            entry.task.abandon()
        }
        flushes = []
        if !registrations.isEmpty {
            logger.debug("the SCTP event loop stops with sockets still registered", metadata: ["count": "\(registrations.count)"])
            registrations = [:]
        }
        // The descriptors are closed in deinit: another thread may be about to signal.
        for (queue, callback) in callbacks { queue.async { callback(nil) } }
    }

    deinit {
        _ = Self.closeDescriptor(pollDescriptor)
        _ = Self.closeDescriptor(wakeDescriptor)
    }

    /// Flushes the stacks that asked for it during this turn.
    private func runFlushes() {
        while !flushes.isEmpty {
            swap(&flushes, &spareFlushes)
            for stack in spareFlushes { stack.flushBeforeWaiting() }
            spareFlushes.removeAll(keepingCapacity: true)
        }
    }
}
