import Foundation
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Two network namespaces joined by two veth pairs: two real paths between 198.18.1.1 ↔
/// 198.18.1.2 (link 1) and 198.18.2.1 ↔ 198.18.2.2 (link 2), in the benchmarking range
/// (RFC 2544), which exists only inside the namespaces. Created with names unique to the
/// test (a random tag and the process id) and removed by `remove()`; namespaces that a
/// test process which no longer runs left behind (it crashed) are removed by `create()`.
/// Needs root and iproute2 (`ip`).
///
/// Side A holds the `.1` addresses (interfaces `sa1-TAG`, `sa2-TAG`), side B the `.2`
/// ones (`sb1-TAG`, `sb2-TAG`). In a fresh namespace `lo` has only 127.0.0.1.
public struct NamespacePair: Sendable {
    /// Which namespace of the pair.
    public enum Side: Sendable {
        case a
        case b
    }

    public let a: String
    public let b: String
    /// The `ip` command.
    public let ip: String
    /// What the interface names end with (unique per pair).
    public let tag: String

    private static let prefix = "sctp-"

    /// Creates the namespaces, the veth pairs and the addresses; removes what it made when a
    /// step fails.
    public static func create() throws -> NamespacePair {
        guard let ip = Tools.find("ip") else { throw NamespaceError("no ip command (iproute2)") }
        removeOrphans(ip: ip)
        // Interface names have at most 15 bytes: "sa1-" + at most 7 base-36 digits.
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let pid = getpid()
        let pair = NamespacePair(a: "\(prefix)a-\(tag)-p\(pid)", b: "\(prefix)b-\(tag)-p\(pid)", ip: ip, tag: tag)
        do {
            try pair.run(["netns", "add", pair.a])
            try pair.run(["netns", "add", pair.b])
            for link in 1...2 {
                let left = pair.interface(link, on: .a), right = pair.interface(link, on: .b)
                try pair.run(["link", "add", left, "netns", pair.a, "type", "veth", "peer", "name", right, "netns", pair.b])
                try pair.run(["-n", pair.a, "addr", "add", "\(address(link, on: .a))/24", "dev", left])
                try pair.run(["-n", pair.b, "addr", "add", "\(address(link, on: .b))/24", "dev", right])
                try pair.run(["-n", pair.a, "link", "set", left, "up"])
                try pair.run(["-n", pair.b, "link", "set", right, "up"])
            }
            try pair.run(["-n", pair.a, "link", "set", "lo", "up"])
            try pair.run(["-n", pair.b, "link", "set", "lo", "up"])
        } catch {
            pair.remove()
            throw error
        }
        return pair
    }

    /// The namespace of `side`.
    public func name(_ side: Side) -> String { side == .a ? a : b }

    /// The address of `side` on link 1 or 2: 198.18.LINK.1 (A) or 198.18.LINK.2 (B).
    public static func address(_ link: Int, on side: Side) -> String {
        "198.18.\(link).\(side == .a ? 1 : 2)"
    }

    /// The interface of `side` on link 1 or 2.
    public func interface(_ link: Int, on side: Side) -> String {
        "s\(side == .a ? "a" : "b")\(link)-\(tag)"
    }

    /// Runs `ip ARGUMENTS` (10 s at most); throws with its error output when it fails.
    public func run(_ arguments: [String]) throws {
        let result = try Tools.run(ip, arguments, timeout: .seconds(10))
        guard result.status == 0 else {
            throw NamespaceError("ip \(arguments.joined(separator: " ")): \(result.stderr)")
        }
    }

    /// Takes link 1 or 2 down or up on `side`. Down on one side, the link is cut both ways:
    /// that side's connected route goes (its sends fail with ENETUNREACH), the other side
    /// keeps its route but loses the carrier (its packets vanish).
    public func setLink(_ link: Int, up: Bool, on side: Side = .a) throws {
        try run(["-n", name(side), "link", "set", interface(link, on: side), up ? "up" : "down"])
    }

    /// The command line that runs `executable ARGUMENTS` inside `side`'s namespace
    /// (`ip netns exec NS …`: the program replaces `ip`, so the process id is the program's).
    public func command(on side: Side, _ executable: String, _ arguments: [String]) -> (executable: String, arguments: [String]) {
        (ip, ["netns", "exec", name(side), executable] + arguments)
    }

    /// Deletes both namespaces (their veth ends go with them). Never throws; safe to call twice.
    public func remove() {
        _ = try? Tools.run(ip, ["netns", "delete", a], timeout: .seconds(10))
        _ = try? Tools.run(ip, ["netns", "delete", b], timeout: .seconds(10))
    }

    /// Deletes this package's namespaces whose creating process is gone (`sctp-a-TAG-pPID`).
    private static func removeOrphans(ip: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        for name in names.prefix(1000) where name.hasPrefix(prefix) {
            guard let marker = name.range(of: "-p", options: .backwards),
                  let pid = Int32(name[marker.upperBound...]), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                _ = try? Tools.run(ip, ["netns", "delete", name], timeout: .seconds(10))
            }
        }
    }

    // MARK: Entering a namespace

    /// Moves the calling thread into the network namespace `name` (setns(2)); sockets it
    /// creates from then on, and its route lookups, belong to that namespace. Throws when
    /// the namespace does not exist or the process lacks CAP_SYS_ADMIN.
    public static func enter(_ name: String) throws {
        let fd = open("/run/netns/\(name)", O_RDONLY)
        guard fd >= 0 else { throw NamespaceError("cannot open /run/netns/\(name): errno \(errno)") }
        defer { close(fd) }
        // setns(2) is not in Swift's Glibc module: look it up in libc.
        typealias SetNS = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(nil, "setns") else { throw NamespaceError("no setns in libc") }  // RTLD_DEFAULT
        guard unsafeBitCast(symbol, to: SetNS.self)(fd, 0x4000_0000) == 0 else {  // CLONE_NEWNET
            throw NamespaceError("cannot enter network namespace \(name): errno \(errno)")
        }
    }

    /// Runs `body` on a thread of its own inside namespace `side` and returns its result
    /// (waiting 30 s at most): for sockets that must belong to the namespace.
    public func perform<T: Sendable>(on side: Side, _ body: @escaping @Sendable () throws -> T) throws -> T {
        try Self.perform(in: name(side), body)
    }

    /// Runs `body` on a thread of its own inside the namespace `namespace` and returns its
    /// result (waiting 30 s at most).
    public static func perform<T: Sendable>(in namespace: String, _ body: @escaping @Sendable () throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = ResultBox<T>()
        let thread = Thread {
            result.set(Result { try NamespacePair.enter(namespace); return try body() })
            done.signal()
        }
        thread.start()
        guard done.wait(timeout: .now() + 30) == .success, let outcome = result.get() else {
            throw NamespaceError("work inside \(namespace) did not finish within 30 s")
        }
        return try outcome.get()
    }

    /// An event loop group of one thread that lives in namespace `side`: sockets made on it
    /// (a stack's UDP sockets, its route lookups) belong to that namespace.
    public func group(on side: Side) throws -> MultiThreadedEventLoopGroup {
        try Self.group(in: name(side))
    }

    /// An event loop group of one thread that lives in namespace `name`.
    public static func group(in name: String) throws -> MultiThreadedEventLoopGroup {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            try group.next().submit { try NamespacePair.enter(name) }.wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        return group
    }
}

/// A failure to set up or use network namespaces.
public struct NamespaceError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

private final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<T, any Error>?
    func set(_ result: Result<T, any Error>) { lock.withLock { value = result } }
    func get() -> Result<T, any Error>? { lock.withLock { value } }
}
