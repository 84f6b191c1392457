import Foundation
import NIOCore
import SCTP
import SCTPCore
import SCTPTestSupport
import SCTPWire
import Testing

/// One pion interop run: the pion peer, our UDP stack and sockets, a tshark capture of both
/// UDP ports (as root). `finish` ends them all and checks the capture.
final class PionRun: @unchecked Sendable {
    let name: String
    let peerPath: String
    private var peers: [PionPeer] = []
    private var sockets: [SCTPSocket] = []
    private var stacks: [SCTPStack] = []
    private var capture: Capture?
    private var failed = false
    private let lock = NSLock()

    private init(name: String, peerPath: String) {
        self.name = name
        self.peerPath = peerPath
    }

    static func perform(_ name: String, _ body: (PionRun) async throws -> Void) async throws {
        guard let path = PionEnvironment.peerOrSkip() else { return }
        let run = PionRun(name: name, peerPath: path)
        do {
            try await body(run)
        } catch {
            run.failed = true
            run.finish()
            throw error
        }
        run.finish()
    }

    func peer(_ role: String, _ arguments: [String]) throws -> PionPeer {
        let peer = try PionPeer.start(peerPath, role, arguments)
        lock.withLock { peers.append(peer) }
        return peer
    }

    /// A UDP stack of ours on a free port, sending to `peerUDPPort` until it learns better.
    func stack(peerUDPPort: Int) -> SCTPStack {
        var options = SCTPStack.Options(udpPort: 0, peerUDPPort: peerUDPPort)
        // A capture on lo would see a GSO write as one large datagram.
        options.segmentationOffload = false
        let stack = SCTPStack(options: options)
        lock.withLock { stacks.append(stack) }
        return stack
    }

    /// A socket with the WebRTC INIT profile (pion drops INITs with parameters it does not
    /// know), whose reads give up after 20 s.
    func socket(_ stack: SCTPStack, profile: SCTPInitProfile = .webRTC) throws -> SCTPSocket {
        let socket = SCTPSocket(family: .ipv4, style: .oneToOne, stack: stack)
        try socket.setOption(.receiveTimeout, .seconds(20))
        try socket.setOption(.initProfile, profile)
        track(socket)
        return socket
    }

    func track(_ socket: SCTPSocket) { lock.withLock { sockets.append(socket) } }

    /// Starts the capture of both UDP ports (root and tshark only).
    func capture(ports: [Int]) throws { capture = try Capture.start(ports: ports, name: name) }

    func finish() {
        let (peers, sockets, stacks) = lock.withLock {
            defer {
                self.peers = []
                self.sockets = []
                self.stacks = []
            }
            return (self.peers, self.sockets, self.stacks)
        }
        if failed { print((["[\(name)] failed; what pion printed:"] + peers.map(\.transcript)).joined(separator: "\n")) }
        for peer in peers { peer.terminate() }
        for socket in sockets {
            try? socket.setOption(.linger, .zero)
            try? socket.close()
        }
        for stack in stacks { _ = try? stack.close().wait() }
        guard let capture else { return }
        self.capture = nil
        capture.stop()
        do {
            let problems = try capture.problems(extraPorts: [], onlyTo: nil)
            if problems.isEmpty && !failed && !InteropRun.keepCaptures {
                capture.discard()
            } else {
                print("[\(name)] capture kept: \(capture.file.path)")
            }
            #expect(problems.isEmpty, "[\(name)] tshark finds bad packets:\n\(problems.prefix(20).joined(separator: "\n"))")
        } catch {
            Issue.record("[\(name)] the capture could not be checked: \(error)")
        }
    }
}

extension PionInterop {
    /// Issue 16 part 6 (pion/sctp, Debian's 1.8.6): data both ways with our stack over UDP
    /// encapsulation, each direction of setup, every byte checked on both sides, the traffic
    /// decoded clean by tshark. pion's SCTP port is always 5000 (WebRTC's).
    @Suite("data")
    struct PionDataTests {
        static let pionPort: UInt16 = 5000

        @Test("our client (WebRTC profile) → pion echo server: 4 streams, 600 messages of 12–2000 bytes, echoed and verified")
        func ourClientToPionServer() async throws {
            try await PionRun.perform("pion-echo-server") { run in
                let pion = try run.peer("server", ["--mode", "echo"])
                let stack = run.stack(peerUDPPort: pion.udpPort)
                let socket = try run.socket(stack)
                try socket.bind(loopback(0))
                let ourUDP = try #require(stack.udpPort)
                try run.capture(ports: [ourUDP, pion.udpPort])
                let id = try await socket.connectx([loopback(Self.pionPort)])
                #expect(try socket.getOption(.status, association: id).ecn == false)

                let plan = MessagePlan(count: 600, streams: 4, lengths: 12...2000, seed: 31)
                try await socket.send(plan)
                let outcome = try await receive(plan.count, from: socket, plan: plan)
                #expect(outcome.verifier.messages == plan.count)
                #expect(outcome.verifier.errors.isEmpty, "\(outcome.verifier.errors.prefix(5))")
                try socket.shutdown()
                while try await socket.recvmsg() != nil {}
                let result = try pion.result()
                #expect(result.messagesReceived == plan.count && result.messagesSent == plan.count, "\(result)")
                #expect(result.verifyErrors == 0 && result.bytesReceived == plan.totalBytes, "\(result)")
                #expect(try pion.waitFor("ASSOC_DOWN")["reason"] == "shutdown")
                #expect(try pion.exitStatus() == 0)
            }
        }

        @Test("pion client → our echo server (WebRTC profile): 4 streams, 600 messages of 12–2000 bytes, echoed and verified")
        func pionClientToOurServer() async throws {
            try await PionRun.perform("pion-echo-client") { run in
                let stack = run.stack(peerUDPPort: 0)
                let listener = try run.socket(stack)
                try listener.bind(loopback(Self.pionPort))
                try listener.listen()
                let ourUDP = try #require(stack.udpPort)
                let plan = MessagePlan(count: 600, streams: 4, lengths: 12...2000, seed: 32)
                // Every datagram has our UDP port on one side: capturing it takes both directions,
                // from pion's first INIT on.
                try run.capture(ports: [ourUDP])
                let pion = try run.peer("client", ["--connect", "127.0.0.1:\(ourUDP)", "--messages", String(plan.count),
                                                   "--length", "12-2000", "--seed", "32", "--streams", "4", "--echo"])
                let server = try listener.accept()
                run.track(server)
                let outcome = try await serve(server, plan: plan, echo: true)
                #expect(outcome.verifier.messages == plan.count && outcome.echoed == plan.count)
                #expect(outcome.verifier.errors.isEmpty, "\(outcome.verifier.errors.prefix(5))")
                let result = try pion.result()
                #expect(result.messagesSent == plan.count && result.messagesReceived == plan.count, "\(result)")
                #expect(result.verifyErrors == 0 && result.echoMismatches == 0, "\(result)")
                #expect(try pion.exitStatus() == 0)
            }
        }

        /// The reason for the WebRTC profile: pion/sctp 1.8.6 drops an INIT carrying a
        /// parameter it does not know (here Supported Address Types), without a word.
        @Test("with the full profile pion drops our INIT: the connect times out")
        func fullProfileRefusedByPion() async throws {
            try await PionRun.perform("pion-full-profile") { run in
                let pion = try run.peer("server", ["--mode", "discard"])
                let stack = run.stack(peerUDPPort: pion.udpPort)
                let socket = try run.socket(stack, profile: .full)
                try socket.setOption(.initMessage, SCTPInitMessage(outboundStreams: 10, maxInboundStreams: 10, maxAttempts: 1,
                                                                   maxInitTimeout: nil))
                try socket.setOption(.rtoInfo, SCTPRTOInfo(initial: .milliseconds(100), minimum: .milliseconds(100),
                                                           maximum: .milliseconds(200)))
                try socket.bind(loopback(0))
                do {
                    _ = try await socket.connectx([loopback(Self.pionPort)])
                    Issue.record("pion accepted an INIT with Supported Address Types")
                } catch {
                    #expect((error as? SCTPError)?.errno == .timedOut)
                }
                // pion logged why (its own words, on stderr).
                _ = try pion.child.waitForLine(stderr: true, timeout: .seconds(10), "pion's parse error") {
                    $0.contains("unable to parse SCTP packet") || $0.contains("unhandled ParamType")
                }
            }
        }

        /// RFC 8831 §6.7: a data channel closes by resetting its outgoing stream; pion's
        /// `Stream.Close` sends an Outgoing SSN Reset Request (RE-CONFIG, RFC 6525). Our side
        /// must see the stream reset (and, like a WebRTC stack, may reset its own).
        @Test("a stream closed by pion (Outgoing SSN Reset Request) is seen as reset by our server")
        func pionClosesStream() async throws {
            try await PionRun.perform("pion-close-stream") { run in
                let stack = run.stack(peerUDPPort: 0)
                let listener = try run.socket(stack)
                try listener.setOption(.events, SCTPEventTypes.all)
                try listener.bind(loopback(Self.pionPort))
                try listener.listen()
                let ourUDP = try #require(stack.udpPort)
                try run.capture(ports: [ourUDP])
                let pion = try run.peer("client", ["--connect", "127.0.0.1:\(ourUDP)", "--messages", "40", "--length", "100",
                                                   "--streams", "2", "--close-streams"])
                let server = try listener.accept()
                run.track(server)
                let plan = MessagePlan(count: 40, streams: 2, lengths: 100...100, seed: 1)
                var verifier = PatternVerifier(plan: plan)
                var reset: Set<UInt16> = []
                var resetEvents: [StreamResetEvent] = []
                // Messages, then the reset of pion's outgoing streams (our incoming ones): every
                // message before it; pion may put both streams in one request.
                while reset != [0, 1], let inbound = try await server.nextInbound() {
                    switch inbound {
                    case .message(let message):
                        #expect(reset.isEmpty, "a message after the reset")
                        verifier.receive(message.data, stream: message.info.stream, unordered: message.info.isUnordered,
                                         ppid: message.info.payloadProtocolIdentifier)
                    case .notification(.streamReset(let event, _)):
                        resetEvents.append(event)
                        reset.formUnion(event.streams)
                    case .notification:
                        break
                    }
                }
                #expect(verifier.messages == 40 && verifier.errors.isEmpty)
                #expect(reset == [0, 1] && resetEvents.allSatisfy { $0.flags == .incoming }, "\(resetEvents)")
                try pion.child.waitForLines(count: 2, timeout: .seconds(10), "STREAM_CLOSED lines") { $0.hasPrefix("STREAM_CLOSED ") }
                try server.shutdown()
                while try await server.recvmsg() != nil {}
                #expect(try pion.waitFor("ASSOC_DOWN")["reason"] == "closed")
                let result = try pion.result()
                #expect(result.messagesSent == 40, "\(result)")
            }
        }
    }
}
