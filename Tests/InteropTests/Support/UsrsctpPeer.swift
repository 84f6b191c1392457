import Foundation
import SCTPTestSupport
import Testing

/// `usrsctp-peer` (scripts/interop) run as a child process: started with every port 0 and
/// `--timeout`, its `READY` line read for the ports it got; its other lines (`ASSOC_UP`,
/// `ASSOC_DOWN`, `RESULT`, `ERROR`) waited for with deadlines. See scripts/interop/README.md.
final class UsrsctpPeer: @unchecked Sendable {
    let child: MonitoredProcess
    /// The UDP encapsulation port of the peer's usrsctp stack.
    let udpPort: Int
    /// The peer's SCTP port (the server's listening port; the client's local port).
    let port: UInt16

    /// How long the peer itself waits without progress before giving up (exit 3).
    static let peerTimeout = 20
    /// How long a test waits for a line the peer prints at the end (RESULT, exit).
    static let endTimeout: Duration = .seconds(45)

    private init(child: MonitoredProcess, udpPort: Int, port: UInt16) {
        self.child = child
        self.udpPort = udpPort
        self.port = port
    }

    /// Starts the peer in `role` (`server` or `client`) with `arguments` and waits for READY.
    /// `--udp-port 0`, `--timeout` and `--blackhole 2` are added unless given. As root,
    /// usrsctp also reads SCTP over raw IP (protocol 132) from a raw socket of its own: it sees
    /// the packets of our raw-IP tests running at the same time in this process, and with its
    /// default `--blackhole 0` it would answer them as out-of-the-blue with ABORT, killing
    /// those associations. Tests about its out-of-the-blue answers pass `--blackhole` themselves.
    /// With `namespace`, the peer runs inside that network namespace (`ip netns exec`; the
    /// process is the peer itself).
    static func start(_ path: String, _ role: String, _ arguments: [String], name: String? = nil,
                      namespace: (pair: NamespacePair, side: NamespacePair.Side)? = nil) throws -> UsrsctpPeer {
        var all = [role] + arguments
        if !arguments.contains("--udp-port") { all += ["--udp-port", "0"] }
        if !arguments.contains("--blackhole") { all += ["--blackhole", "2"] }
        if !arguments.contains("--timeout") { all += ["--timeout", String(peerTimeout)] }
        let command = namespace.map { $0.pair.command(on: $0.side, path, all) } ?? (executable: path, arguments: all)
        let child = try MonitoredProcess(command.executable, command.arguments, name: name ?? "usrsctp-peer \(role)")
        do {
            let ready = try child.waitForLine("READY", timeout: .seconds(20))
            let fields = Self.fields(ready)
            guard let udp = fields["udp"].flatMap(Int.init), let port = fields["port"].flatMap(UInt16.init) else {
                throw MonitoredProcess.Failure(description: "unreadable READY line: \(ready)")
            }
            return UsrsctpPeer(child: child, udpPort: udp, port: port)
        } catch {
            child.terminate()
            throw error
        }
    }

    /// A server on 127.0.0.1 (SCTP port and UDP port picked by the peer; it answers on the UDP
    /// port our packets come from).
    static func server(_ path: String, _ arguments: [String], name: String? = nil) throws -> UsrsctpPeer {
        try start(path, "server", ["--bind", "127.0.0.1", "--port", "0", "--peer-udp-port", "0"] + arguments, name: name)
    }

    /// A client on 127.0.0.1 connecting to our stack at `udpPort` / `port`.
    static func client(_ path: String, toUDPPort udpPort: Int, port: UInt16, connect: String = "127.0.0.1",
                       _ arguments: [String], name: String? = nil) throws -> UsrsctpPeer {
        try start(path, "client", ["--bind", "127.0.0.1", "--peer-udp-port", String(udpPort), "--connect", connect,
                                   "--remote-port", String(port)] + arguments, name: name)
    }

    /// The `key=value` fields of an output line.
    static func fields(_ line: String) -> [String: String] {
        var result: [String: String] = [:]
        for word in line.split(separator: " ") {
            guard let equals = word.firstIndex(of: "=") else { continue }
            result[String(word[..<equals])] = String(word[word.index(after: equals)...])
        }
        return result
    }

    /// The fields of the first line with `prefix`, waiting for it.
    func waitFor(_ prefix: String, timeout: Duration = UsrsctpPeer.endTimeout) throws -> [String: String] {
        Self.fields(try child.waitForLine(prefix, timeout: timeout))
    }

    /// The first line (stdout) starting with `prefix`, if printed already.
    func line(_ prefix: String) -> String? {
        child.lines.first { $0.hasPrefix(prefix + " ") || $0 == prefix }
    }

    /// Waits for the exit; the status.
    func exitStatus(timeout: Duration = UsrsctpPeer.endTimeout) throws -> Int32 {
        try child.waitForExit(timeout: timeout)
    }

    /// What the peer printed, for failure messages.
    var transcript: String { child.transcript }

    func terminate() { child.terminate() }
}

/// The `RESULT` line of a peer, parsed.
struct PeerResult: CustomStringConvertible {
    var fields: [String: String]
    subscript(_ key: String) -> Int? { fields[key].flatMap(Int.init) }
    var messagesSent: Int? { self["messages_sent"] }
    var messagesReceived: Int? { self["messages_received"] }
    var bytesReceived: Int? { self["bytes_received"] }
    var verifyErrors: Int? { self["verify_errors"] }
    var echoMismatches: Int? { self["echo_mismatches"] }
    var description: String { fields.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ") }
}

extension UsrsctpPeer {
    func result(timeout: Duration = UsrsctpPeer.endTimeout) throws -> PeerResult {
        PeerResult(fields: try waitFor("RESULT", timeout: timeout))
    }

    /// The reason of the first ASSOC_DOWN line.
    func downReason(timeout: Duration = UsrsctpPeer.endTimeout) throws -> String? {
        try waitFor("ASSOC_DOWN", timeout: timeout)["reason"]
    }
}
