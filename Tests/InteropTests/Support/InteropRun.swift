import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore
import SCTPTestSupport
import Testing

/// One interop test's resources: the usrsctp peers it started, our stacks and sockets, a
/// relay, a capture. `finish()` ends them all (peers terminated even when the test failed)
/// and checks the capture: no bad checksum, nothing malformed, no error-level expert note.
///
/// Captures are deleted after a clean check; with `SCTP_INTEROP_KEEP_CAPTURES=1`, or when
/// the check finds problems, they are kept and their path is printed.
final class InteropRun: @unchecked Sendable {
    let name: String
    let peerPath: String
    private var peers: [UsrsctpPeer] = []
    private var sockets: [SCTPSocket] = []
    private var stacks: [SCTPStack] = []
    private var relays: [LossyRelay] = []
    private var groups: [MultiThreadedEventLoopGroup] = []
    private var namespacePairs: [NamespacePair] = []
    private var capture: Capture?
    private var captureExtraPorts: [Int] = []
    private var captureOnlyTo: [Int]?
    private let lock = NSLock()

    /// Runs `body` with a run named `name`, then ends the run (`finish`). When `body` throws,
    /// what the peers printed, the relay counters and the kept capture's path are printed
    /// before the error goes on. Skips (or fails, tools required) when the peer is missing.
    static func perform(_ name: String, _ body: (InteropRun) async throws -> Void) async throws {
        guard let run = InteropRun(name) else { return }
        do {
            try await body(run)
        } catch {
            run.failed = true
            run.finish()
            throw error
        }
        run.finish()
    }

    /// Whether the test body failed: the capture is kept and the peers' output printed.
    private var failed = false

    /// `nil` when the peer is missing (the test is then skipped, or failed when tools are required).
    init?(_ name: String) {
        guard let path = peerOrSkip() else { return nil }
        self.name = name
        peerPath = path
    }

    private let started = ContinuousClock.now

    /// With `SCTP_INTEROP_TRACE=1`: prints a step with the time since the run began.
    func trace(_ step: String) {
        guard ProcessInfo.processInfo.environment["SCTP_INTEROP_TRACE"] == "1" else { return }
        print("[\(name) +\(ContinuousClock.now - started)] \(step)")
    }

    static var keepCaptures: Bool { ProcessInfo.processInfo.environment["SCTP_INTEROP_KEEP_CAPTURES"] == "1" }

    // MARK: Parts

    /// Whether our stacks send runs of packets with UDP GSO. Off by default: a capture on `lo`
    /// sees a GSO write as one large datagram (the kernel cuts it up at the receiving socket),
    /// which tshark calls malformed. Runs that switch it on take no capture on the interface:
    /// their stacks write their own pcap (every packet as sent and received), checked with
    /// tshark at the end instead.
    var segmentationOffload = false
    /// Our stacks' own captures, checked at the end, with the UDP port to decode as SCTP.
    private var stackCaptures: [(file: URL, stack: SCTPStack)] = []

    /// A stack of our own on a free UDP port, sending to `peerUDPPort` until it learns better.
    func stack(peerUDPPort: Int) -> SCTPStack {
        var options = SCTPStack.Options(udpPort: 0, peerUDPPort: peerUDPPort)
        options.segmentationOffload = segmentationOffload
        let stack = SCTPStack(options: options)
        lock.withLock { stacks.append(stack) }
        do {
            try recordStackCapture(stack)
        } catch {
            Issue.record("our stack's capture could not be started: \(error)")
        }
        return stack
    }

    /// A UDP stack on the given ports whose event loop thread lives in namespace `side` of
    /// `pair` (its sockets and route lookups belong there); closed with its loop at the end.
    func stack(in pair: NamespacePair, _ side: NamespacePair.Side, udpPort: Int, peerUDPPort: Int) throws -> SCTPStack {
        let group = try pair.group(on: side)
        lock.withLock { groups.append(group) }
        var options = SCTPStack.Options(udpPort: udpPort, peerUDPPort: peerUDPPort)
        // A capture on the veths, like one on lo, would see a GSO write as one large datagram.
        options.segmentationOffload = segmentationOffload
        return try record(SCTPStack(options: options, group: group))
    }

    /// A stack of ours carrying SCTP directly over IP (protocol 132; root) inside namespace
    /// `side` of `pair`.
    func rawIPStack(in pair: NamespacePair, _ side: NamespacePair.Side) throws -> SCTPStack {
        let group = try pair.group(on: side)
        lock.withLock { groups.append(group) }
        return try record(SCTPStack.rawIP(group: group))
    }

    private func record(_ stack: SCTPStack) throws -> SCTPStack {
        lock.withLock { stacks.append(stack) }
        try recordStackCapture(stack)
        return stack
    }

    /// With `SCTP_INTEROP_STACK_CAPTURE=1`: the stack writes its own pcap (packets as it sent
    /// and processed them, with its own timestamps) into the run directory, kept.
    private func recordStackCapture(_ stack: SCTPStack) throws {
        let kept = ProcessInfo.processInfo.environment["SCTP_INTEROP_STACK_CAPTURE"] == "1"
        guard kept || segmentationOffload else { return }
        let file = InteropEnvironment.runDirectory.appendingPathComponent("\(name)-stack-\(UUID().uuidString.prefix(8)).pcap")
        try stack.startCapture(to: file.path)
        if kept { print("[\(name)] our stack's capture: \(file.path)") }
        if segmentationOffload { lock.withLock { stackCaptures.append((file, stack)) } }
    }

    /// Checks our stacks' own captures (GSO runs) with tshark: nothing malformed, no bad
    /// checksum, and DATA in them.
    private func checkStackCaptures() {
        let captures = lock.withLock {
            defer { stackCaptures = [] }
            return stackCaptures
        }
        guard !captures.isEmpty else { return }
        guard let tshark = Tools.find("tshark") else {
            if Tools.required { Issue.record("tshark is not installed (scripts/test.sh installs it)") }
            return
        }
        for (file, stack) in captures {
            stack.stopCapture()
            guard let port = stack.udpPort else { continue }
            do {
                let problems = try Tools.tsharkProblems(tshark, pcap: file.path, udpPorts: [port])
                #expect(problems.isEmpty, "[\(name)] tshark finds bad packets in \(file.path): \(problems.prefix(10))")
                let data = try Tools.run(tshark, ["-n", "-r", file.path, "-o", "sctp.checksum:CRC-32C", "-d", "udp.port==\(port),sctp",
                                                  "-Y", "sctp.chunk_type == 0"])
                #expect(!data.stdout.isEmpty, "[\(name)] no DATA in our stack's capture \(file.path)")
                if problems.isEmpty && !failed { try? FileManager.default.removeItem(at: file) }
            } catch {
                Issue.record("[\(name)] our stack's capture could not be checked: \(error)")
            }
        }
    }

    /// Two network namespaces joined by two veth pairs (`NamespacePair`), removed at the end
    /// after everything else.
    func namespaces() throws -> NamespacePair {
        let pair = try NamespacePair.create()
        lock.withLock { namespacePairs.append(pair) }
        return pair
    }

    /// A usrsctp-peer in `role` (`server` / `client`) with exactly `arguments` (no defaults
    /// added but `--timeout`), run inside namespace `side` of `pair`.
    func peer(_ role: String, _ arguments: [String], in pair: NamespacePair, _ side: NamespacePair.Side,
              name: String? = nil) throws -> UsrsctpPeer {
        let peer = try UsrsctpPeer.start(peerPath, role, arguments, name: name, namespace: (pair, side))
        lock.withLock { peers.append(peer) }
        return peer
    }

    /// A socket whose blocking and async reads give up after `timeout` (a broken test fails
    /// instead of hanging), with `events` subscribed.
    func socket(_ stack: SCTPStack, style: SCTPSocket.Style = .oneToOne, events: SCTPEventTypes = [],
                timeout: Duration = .seconds(20)) throws -> SCTPSocket {
        let socket = SCTPSocket(family: .ipv4, style: style, stack: stack)
        try socket.setOption(.receiveTimeout, timeout)
        if !events.isEmpty { try socket.setOption(.events, events) }
        track(socket)
        return socket
    }

    /// Registers a socket (an accepted one) to be closed at the end.
    func track(_ socket: SCTPSocket) {
        lock.withLock { sockets.append(socket) }
    }

    func server(_ arguments: [String], name: String? = nil) throws -> UsrsctpPeer {
        let peer = try UsrsctpPeer.server(peerPath, arguments, name: name)
        lock.withLock { peers.append(peer) }
        return peer
    }

    func client(toUDPPort udpPort: Int, port: UInt16, _ arguments: [String], name: String? = nil) throws -> UsrsctpPeer {
        let peer = try UsrsctpPeer.client(peerPath, toUDPPort: udpPort, port: port, arguments, name: name)
        lock.withLock { peers.append(peer) }
        return peer
    }

    func relay(seed: UInt64, _ impairments: LossyRelay.Impairments, rightPeerUDPPort: Int? = nil,
               leftPeerUDPPort: Int? = nil) throws -> LossyRelay {
        let relay = try LossyRelay(seed: seed, impairments: impairments, rightPeerUDPPort: rightPeerUDPPort,
                                   leftPeerUDPPort: leftPeerUDPPort)
        lock.withLock { relays.append(relay) }
        return relay
    }

    /// Starts capturing `ports` (where root and tshark are available). `extraPorts` are also
    /// decoded as SCTP; `onlyTo` restricts the final check to datagrams sent to those ports.
    /// With `namespace`, the capture runs inside it on `interfaces` (see `Capture.start`).
    func capture(ports: [Int], extraPorts: [Int] = [], onlyTo: [Int]? = nil,
                 namespace: (pair: NamespacePair, side: NamespacePair.Side)? = nil, interfaces: [String] = [],
                 rawSCTP: Bool = false) throws {
        guard !segmentationOffload else { return }
        capture = try Capture.start(ports: ports, name: name, namespace: namespace, interfaces: interfaces, rawSCTP: rawSCTP)
        captureExtraPorts = extraPorts
        captureOnlyTo = onlyTo
    }

    /// Adds ports to decode as SCTP (learned after the capture started).
    func decodeAlso(_ ports: [Int]) { captureExtraPorts += ports }

    // MARK: The end

    /// Ends everything; checks the capture. Safe to call twice.
    func finish() {
        let (peers, sockets, relays, stacks, groups) = lock.withLock {
            defer {
                self.peers = []
                self.sockets = []
                self.relays = []
                self.stacks = []
                self.groups = []
            }
            return (self.peers, self.sockets, self.relays, self.stacks, self.groups)
        }
        trace("finish")
        if failed {
            var report = ["[\(name)] failed; what it ran:"]
            report += peers.map(\.transcript)
            report += relays.map { "[relay] to usrsctp: \($0.counts.toRight)\n[relay] to us: \($0.counts.toLeft)" }
            print(report.joined(separator: "\n"))
        }
        for peer in peers { peer.terminate() }
        for socket in sockets {
            try? socket.setOption(.linger, .zero)
            try? socket.close()
        }
        for relay in relays { relay.close() }
        checkStackCaptures()
        for stack in stacks { _ = try? stack.close().wait() }
        for group in groups { try? group.syncShutdownGracefully() }
        trace("closed")
        checkCapture()
        trace("capture checked")
        let pairs = lock.withLock {
            defer { namespacePairs = [] }
            return namespacePairs
        }
        for pair in pairs { pair.remove() }
    }

    /// Decoded lines of the capture so far (for evidence and checks), with a display filter
    /// and optionally only some fields; empty without a capture. Stops the capture.
    func decodedCapture(filter: String, fields: [String]? = nil) -> [String] {
        guard let capture else { return [] }
        return (try? capture.decode(filter: filter, extraPorts: captureExtraPorts, fields: fields)) ?? []
    }

    /// Whether the wire can be checked: a capture runs. Without one (not root, no tshark),
    /// where every test must run in full (`Tools.required`, as in CI) that is a failure, not
    /// a silent pass; runs with GSO on have their stacks' own captures instead and say so.
    func expectCapture(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        if capture != nil { return true }
        if Tools.required && !segmentationOffload {
            Issue.record("[\(name)] no capture to check the wire with (needs root and tshark)", sourceLocation: sourceLocation)
        }
        return false
    }

    /// Where there is a capture: expects no ABORT in it (a graceful end, no relay).
    func expectNoAbort(sourceLocation: SourceLocation = #_sourceLocation) {
        let aborts = decodedCapture(filter: "sctp.chunk_type == 6")
        #expect(aborts.isEmpty, "ABORT in a graceful exchange:\n\(aborts.joined(separator: "\n"))", sourceLocation: sourceLocation)
    }

    private func checkCapture() {
        guard let capture else { return }
        self.capture = nil
        do {
            capture.stop()
            let problems = try capture.problems(extraPorts: captureExtraPorts, onlyTo: captureOnlyTo)
            if problems.isEmpty {
                if Self.keepCaptures || failed {
                    print("[\(name)] capture kept: \(capture.file.path)")
                } else {
                    capture.discard()
                }
            } else {
                Issue.record("""
                    [\(name)] tshark finds \(problems.count) bad packets in \(capture.file.path):
                    \(problems.prefix(20).joined(separator: "\n"))
                    """)
            }
        } catch {
            Issue.record("[\(name)] the capture could not be checked: \(error)")
        }
    }
}

// MARK: Our side

/// A whole message read from one of our sockets (pieces joined up to MSG_EOR), or a
/// notification; `nil` at end of file.
enum Inbound {
    case message(SCTPMessage)
    case notification(SCTPNotification)
}

extension SCTPSocket {
    /// Shuts the association down gracefully and reads until it has ended (at most 64 more
    /// messages or notifications); expects SHUTDOWN COMPLETE among the notifications.
    func shutdownExpectingCompletion() async throws {
        try shutdown()
        var notifications: [String] = []
        for _ in 0..<64 {
            guard let inbound = try await nextInbound() else { break }
            if case .notification(let notification) = inbound { notifications.append("\(notification)") }
        }
        #expect(notifications.contains { $0.contains("shutdownComplete") }, "\(notifications)")
    }

    /// The next whole message or notification; `nil` once the association has ended.
    func nextInbound(maxLength: Int = 1 << 16) async throws -> Inbound? {
        var pending: SCTPMessage?
        while true {
            guard let item = try await recvmsg(maxLength: maxLength) else {
                if let pending {
                    throw PatternError("end of file inside a message (\(pending.data.readableBytes) bytes read of it)")
                }
                return nil
            }
            switch item {
            case .notification(let notification):
                // Notifications are not interleaved with a message's pieces on a one-to-one
                // socket, but keep them in order if they are.
                if pending == nil { return .notification(notification) }
                throw PatternError("a notification inside a partially read message: \(notification)")
            case .message(var piece):
                if var joined = pending {
                    guard joined.info.stream == piece.info.stream && joined.info.isUnordered == piece.info.isUnordered else {
                        throw PatternError("pieces of different messages interleaved: stream \(joined.info.stream) then \(piece.info.stream)")
                    }
                    joined.data.writeBuffer(&piece.data)
                    joined.isEndOfRecord = piece.isEndOfRecord
                    piece = joined
                }
                if piece.isEndOfRecord { return .message(piece) }
                pending = piece
            }
        }
    }

    /// Sends a plan's messages in order (suspending while the send buffer is full).
    func send(_ plan: MessagePlan, range: Range<Int>? = nil) async throws {
        for message in plan.messages[range ?? 0..<plan.count] {
            try await sendmsg(message.payload, info: SCTPSendInfo(stream: message.stream, payloadProtocolIdentifier: message.ppid,
                                                                   flags: message.unordered ? .unordered : []))
        }
    }
}

/// What an echo loop of ours saw.
struct EchoOutcome: Sendable {
    var verifier: PatternVerifier
    var notifications: [String] = []
    var echoed = 0
}

/// Reads every message of a one-to-one socket until end of file, verifies it and (when
/// `echo`) sends it back on its stream with its PPID and unordered flag, as usrsctp-peer's
/// echo server does. Stops reading after `stopAfter` messages when given; `step` runs after
/// each message with the number received so far.
func serve(_ socket: SCTPSocket, plan: MessagePlan?, echo: Bool, stopAfter: Int? = nil,
           step: (Int) throws -> Void = { _ in }) async throws -> EchoOutcome {
    var outcome = EchoOutcome(verifier: PatternVerifier(plan: plan))
    while let inbound = try await socket.nextInbound() {
        switch inbound {
        case .notification(let notification):
            outcome.notifications.append("\(notification)")
        case .message(let message):
            outcome.verifier.receive(message.data, stream: message.info.stream, unordered: message.info.isUnordered,
                                     ppid: message.info.payloadProtocolIdentifier)
            if echo {
                try await socket.sendmsg(message.data, info: SCTPSendInfo(
                    stream: message.info.stream, payloadProtocolIdentifier: message.info.payloadProtocolIdentifier,
                    flags: message.info.isUnordered ? .unordered : []))
                outcome.echoed += 1
            }
            try step(outcome.verifier.messages)
            if let stopAfter, outcome.verifier.messages >= stopAfter { return outcome }
        }
    }
    return outcome
}

/// Reads `count` whole messages (or until end of file), verifying them against `plan`.
func receive(_ count: Int, from socket: SCTPSocket, plan: MessagePlan) async throws -> EchoOutcome {
    var outcome = EchoOutcome(verifier: PatternVerifier(plan: plan))
    while outcome.verifier.messages < count, let inbound = try await socket.nextInbound() {
        switch inbound {
        case .notification(let notification):
            outcome.notifications.append("\(notification)")
        case .message(let message):
            outcome.verifier.receive(message.data, stream: message.info.stream, unordered: message.info.isUnordered,
                                     ppid: message.info.payloadProtocolIdentifier)
        }
    }
    return outcome
}

/// A loopback address.
func loopback(_ port: UInt16, _ host: String = "127.0.0.1") -> SocketAddress {
    try! SocketAddress(ipAddress: host, port: Int(port))
}

/// Runs `body` with a deadline: fails with a timeout error if it has not finished by then
/// (the body is cancelled).
func withDeadline<T: Sendable>(_ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw PatternError("\(what) did not finish within \(limit)")
        }
        return value
    }
}
