import ArgumentParser
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SCTP

/// The event loops sctp-perf runs its stacks on (`--event-loop`): swift-sctp's own
/// (`SCTPEventLoop`, where supported) or SwiftNIO's.
enum PerfLoopKind: String, CaseIterable, Sendable, ExpressibleByArgument {
    case sctp
    case nio
}

/// Loops of one kind for one run: `next()` hands them out round robin; `shutdown()` stops
/// them all.
final class PerfLoops: @unchecked Sendable {
    /// The kind every run uses (set once, from `--event-loop`, before any run starts).
    nonisolated(unsafe) static var kind: PerfLoopKind = SCTPEventLoop.isSupported ? .sctp : .nio

    private let loops: [any EventLoop]
    private let nioGroup: MultiThreadedEventLoopGroup?
    private let counter = NIOLockedValueBox(0)

    /// `count` loops (one thread each) of `PerfLoops.kind`.
    init(_ count: Int) throws {
        if Self.kind == .sctp {
            loops = try (0..<count).map { _ in try SCTPEventLoop() }
            nioGroup = nil
        } else {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: count)
            loops = (0..<count).map { _ in group.next() }
            nioGroup = group
        }
    }

    /// Every loop, in order.
    var all: [any EventLoop] { loops }

    func next() -> any EventLoop {
        let index = counter.withLockedValue { value in
            defer { value += 1 }
            return value
        }
        return loops[index % loops.count]
    }

    func shutdown() {
        if let nioGroup {
            try? nioGroup.syncShutdownGracefully()
        } else {
            for loop in loops { try? loop.syncShutdownGracefully() }
        }
    }
}
