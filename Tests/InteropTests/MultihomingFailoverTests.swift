import Foundation
import NIOCore
import SCTP
import SCTPCore
import SCTPTestSupport
import Testing

extension UsrsctpInterop {
    /// Issue 6, the multi-homed scenario: an association with two addresses each side, the
    /// primary path cut mid-transfer, nothing lost. Two network namespaces joined by two veth
    /// pairs (`NamespacePair`: 198.18.1.1 ↔ 198.18.1.2 and 198.18.2.1 ↔ 198.18.2.2); our stack
    /// in namespace A (its event loop thread entered it), usrsctp-peer in namespace B (bound to
    /// its two addresses explicitly), SCTP over UDP (our port 9899, usrsctp's 9900: the
    /// namespaces are the tests' own, so fixed ports cannot collide). Both sides' timers are
    /// shortened so that a path fails after a few seconds. Needs root (CI runs as root).
    @Suite("multi-homing, primary path cut", .enabled(if: Tools.isRoot || Tools.required,
                                                      "needs root to make network namespaces (CI runs as root)"))
    struct MultihomingFailoverTests {
        static let ourUDPPort = 9899
        static let usrsctpUDPPort = 9900
        static let port: UInt16 = 5001
        /// Echoes (or messages received) after which link 1 goes down.
        static let cutAfter = 400
        /// How long the transfer may go on after the cut: a handful of RTO.max (1 s), far below
        /// what the default timers would take (about 60 s).
        static let afterCutLimit: Duration = .seconds(15)

        /// usrsctp: RTO 200 ms initially, 100 ms … 1 s; a path fails after 2 unanswered
        /// retransmissions; heartbeats every 200 ms; the association survives 20.
        static let usrsctpTimers = ["--rto-initial", "200", "--rto-min", "100", "--rto-max", "1000",
                                    "--path-max-retrans", "2", "--hb-interval", "200", "--assoc-max-retrans", "20",
                                    "--timeout", "30"]

        /// Ours, the same.
        static func configure(_ socket: SCTPSocket) throws {
            try socket.setOption(.rtoInfo, SCTPRTOInfo(initial: .milliseconds(200), minimum: .milliseconds(100),
                                                       maximum: .milliseconds(1000)))
            try socket.setOption(.peerAddressParameters, SCTPPeerAddressParameters(
                heartbeatInterval: .milliseconds(200), pathMaxRetransmissions: 2, pathMTU: 1200))
            try socket.setOption(.associationInfo, SCTPAssociationParameters(maxRetransmissions: 20, cookieLife: .seconds(60)))
        }

        static func address(_ link: Int, _ side: NamespacePair.Side, _ port: UInt16) -> SocketAddress {
            try! SocketAddress(ipAddress: NamespacePair.address(link, on: side), port: Int(port))
        }

        /// Whether the test can run: root and iproute2; without them (not root, CI not set)
        /// the suite is disabled; with them required, a missing one fails the test.
        static func prerequisites() -> Bool {
            guard Tools.isRoot else {
                Issue.record("network namespaces need root (CI runs as root)")
                return false
            }
            guard Tools.find("ip") != nil else {
                if Tools.required { Issue.record("no ip command (iproute2) to make network namespaces") }
                return false
            }
            return true
        }

        /// Our client → usrsctp echo server. Link 1 is cut in usrsctp's namespace after 400
        /// echoes: our packets on it vanish (we see no error), usrsctp's sends on it fail.
        /// Every echo must come back once, in order, byte for byte; both sides must report
        /// the path failed; with the link back, both confirm it again and we return to it.
        @Test("our client → usrsctp echo server, two addresses each side: link 1 cut after 400 echoes, nothing lost")
        func ourClientPrimaryCut() async throws {
            guard Self.prerequisites() else { return }
            try await InteropRun.perform("multihomed-echo-client") { run in
                let pair = try run.namespaces()
                let server = try run.peer("server", [
                    "--bind", "198.18.1.2,198.18.2.2", "--port", String(Self.port),
                    "--udp-port", String(Self.usrsctpUDPPort), "--peer-udp-port", String(Self.ourUDPPort),
                    "--mode", "echo", "--verify", "--streams", "10",
                ] + Self.usrsctpTimers, in: pair, .b, name: "usrsctp-peer server (namespace B)")
                let stack = try run.stack(in: pair, .a, udpPort: Self.ourUDPPort, peerUDPPort: Self.usrsctpUDPPort)
                try run.capture(ports: [Self.ourUDPPort, Self.usrsctpUDPPort], namespace: (pair, .a),
                                interfaces: [pair.interface(1, on: .a), pair.interface(2, on: .a)])

                let client = try run.socket(stack, events: [.associationChange, .peerAddressChange, .shutdown], timeout: .seconds(30))
                try client.setOption(.initMessage, SCTPInitMessage(outboundStreams: 10, maxInboundStreams: 10))
                try Self.configure(client)
                try client.bind([Self.address(1, .a, 0), Self.address(2, .a, 0)])
                try await client.connectx([Self.address(1, .b, Self.port), Self.address(2, .b, Self.port)])
                #expect(Set(try client.getpaddrs().compactMap(\.ipAddress)) == ["198.18.1.2", "198.18.2.2"])
                #expect(try client.getOption(.status).primaryAddress?.description == "198.18.1.2")
                let up = try server.waitFor("ASSOC_UP", timeout: .seconds(20))
                #expect(up["peers"].map { Set($0.split(separator: ",")) } == ["198.18.1.1", "198.18.2.1"], "\(up)")
                run.trace("connected")

                let plan = MessagePlan(count: 4000, streams: 10, lengths: 12...1200, seed: 61)
                let (outcome, afterCut) = try await withDeadline(.seconds(90), "the echo client") {
                    async let sent: Void = client.send(plan)
                    var outcome = EchoOutcome(verifier: PatternVerifier(plan: plan))
                    var cutAt: ContinuousClock.Instant?
                    while outcome.verifier.messages < plan.count, let inbound = try await client.nextInbound() {
                        switch inbound {
                        case .notification(let notification):
                            outcome.notifications.append("\(notification)")
                        case .message(let message):
                            outcome.verifier.receive(message.data, stream: message.info.stream, unordered: message.info.isUnordered,
                                                     ppid: message.info.payloadProtocolIdentifier)
                            if outcome.verifier.messages == Self.cutAfter {
                                try pair.setLink(1, up: false, on: .b)
                                cutAt = .now
                                run.trace("link 1 down")
                            }
                        }
                    }
                    try await sent
                    return (outcome, cutAt.map { ContinuousClock.now - $0 })
                }
                run.trace("echoes verified, \(String(describing: afterCut)) after the cut")
                #expect(outcome.verifier.errorCount == 0 && outcome.verifier.missing == 0 && outcome.verifier.messages == plan.count,
                        "echoes: \(outcome.verifier.summary)")
                let duration = try #require(afterCut, "link 1 was never cut")
                #expect(duration < Self.afterCutLimit, "the transfer went on for \(duration) after the cut")
                #expect(outcome.notifications.contains { $0.contains("peerAddressChange") && $0.contains("198.18.1.2")
                    && ($0.contains("unreachable") || $0.contains("potentiallyFailed")) },
                        "we never reported 198.18.1.2 failed: \(outcome.notifications)")
                _ = try server.child.waitForLine(timeout: .seconds(10), "usrsctp's PATH 198.18.1.1 unreachable") {
                    $0.hasPrefix("PATH ") && $0.contains("addr=198.18.1.1") && $0.contains("state=unreachable")
                }

                // The link comes back: we confirm 198.18.1.2 with a heartbeat and return to it as
                // primary; usrsctp confirms 198.18.1.1.
                try pair.setLink(1, up: true, on: .b)
                run.trace("link 1 up")
                try await withDeadline(.seconds(20), "198.18.1.2 available again") {
                    for _ in 0..<64 {
                        guard let inbound = try await client.nextInbound() else { throw PatternError("end of file") }
                        guard case .notification(let notification) = inbound else { throw PatternError("data after the echoes") }
                        if case .peerAddressChange(let changed, .available, _) = notification, changed?.ipAddress == "198.18.1.2" {
                            return
                        }
                    }
                    throw PatternError("no SCTP_ADDR_AVAILABLE for 198.18.1.2 among 64 notifications")
                }
                #expect(try client.getOption(.status).primaryAddress?.description == "198.18.1.2")
                _ = try server.child.waitForLine(timeout: .seconds(10), "usrsctp's PATH 198.18.1.1 available") {
                    $0.hasPrefix("PATH ") && $0.contains("addr=198.18.1.1") && $0.contains("state=available")
                }

                try await client.shutdownExpectingCompletion()
                let result = try server.result()
                #expect(try server.exitStatus() == 0, "\(server.transcript)")
                #expect(result.messagesReceived == plan.count && result.messagesSent == plan.count && result.verifyErrors == 0,
                        "\(result)\n\(server.transcript)")
                #expect(server.line("ASSOC_DOWN")?.contains("reason=shutdown") == true, "\(server.transcript)")
                Self.checkPaths(run, us: ["198.18.1.1", "198.18.2.1"], usrsctp: ["198.18.1.2", "198.18.2.2"])
            }
        }

        /// usrsctp client → our echo server. Link 1 is cut in our namespace after 400 messages
        /// arrived: our sends on it fail (ENETUNREACH, the UDP socket is reopened), usrsctp's
        /// vanish. usrsctp verifies every echo; we verify every message.
        @Test("usrsctp client → our echo server, two addresses each side: link 1 cut after 400 messages, nothing lost")
        func usrsctpClientPrimaryCut() async throws {
            guard Self.prerequisites() else { return }
            try await InteropRun.perform("multihomed-echo-server") { run in
                let pair = try run.namespaces()
                let stack = try run.stack(in: pair, .a, udpPort: Self.ourUDPPort, peerUDPPort: Self.usrsctpUDPPort)
                let listener = try run.socket(stack, events: [.associationChange, .peerAddressChange, .shutdown], timeout: .seconds(30))
                try listener.setOption(.initMessage, SCTPInitMessage(outboundStreams: 10, maxInboundStreams: 10))
                try Self.configure(listener)
                try listener.bind([Self.address(1, .a, Self.port), Self.address(2, .a, Self.port)])
                try listener.listen()
                // Captured in usrsctp's namespace: our side's link 1 goes down.
                try run.capture(ports: [Self.ourUDPPort, Self.usrsctpUDPPort], namespace: (pair, .b),
                                interfaces: [pair.interface(1, on: .b), pair.interface(2, on: .b)])

                let count = 4000
                let peer = try run.peer("client", [
                    "--bind", "198.18.1.2,198.18.2.2", "--udp-port", String(Self.usrsctpUDPPort),
                    "--peer-udp-port", String(Self.ourUDPPort), "--connect", "198.18.1.1,198.18.2.1",
                    "--remote-port", String(Self.port), "--streams", "10", "--messages", String(count),
                    "--length", "12-1200", "--seed", "62", "--echo",
                ] + Self.usrsctpTimers, in: pair, .b, name: "usrsctp-peer client (namespace B)")

                let accepted = try listener.accept()
                run.track(accepted)
                try accepted.setOption(.receiveTimeout, .seconds(30))
                #expect(Set(try accepted.getpaddrs().compactMap(\.ipAddress)) == ["198.18.1.2", "198.18.2.2"])
                let plan = MessagePlan(count: count, streams: 10, lengths: 12...1200, seed: 62)
                let (outcome, afterCut) = try await withDeadline(.seconds(90), "the echo server") {
                    var outcome = EchoOutcome(verifier: PatternVerifier(plan: plan))
                    var cutAt: ContinuousClock.Instant?
                    var lastMessage: ContinuousClock.Instant?
                    while let inbound = try await accepted.nextInbound() {
                        switch inbound {
                        case .notification(let notification):
                            outcome.notifications.append("\(notification)")
                        case .message(let message):
                            outcome.verifier.receive(message.data, stream: message.info.stream, unordered: message.info.isUnordered,
                                                     ppid: message.info.payloadProtocolIdentifier)
                            try await accepted.sendmsg(message.data, info: SCTPSendInfo(
                                stream: message.info.stream, payloadProtocolIdentifier: message.info.payloadProtocolIdentifier,
                                flags: message.info.isUnordered ? .unordered : []))
                            outcome.echoed += 1
                            lastMessage = .now
                            if outcome.verifier.messages == Self.cutAfter {
                                try pair.setLink(1, up: false, on: .a)
                                cutAt = .now
                                run.trace("link 1 down")
                            }
                        }
                    }
                    return (outcome, cutAt.flatMap { cut in lastMessage.map { $0 - cut } })
                }
                run.trace("end of file, last message \(String(describing: afterCut)) after the cut")
                #expect(outcome.verifier.errorCount == 0 && outcome.verifier.missing == 0 && outcome.verifier.messages == count,
                        "our server: \(outcome.verifier.summary)")
                #expect(outcome.echoed == count)
                let duration = try #require(afterCut, "link 1 was never cut")
                #expect(duration < Self.afterCutLimit, "the transfer went on for \(duration) after the cut")
                #expect(outcome.notifications.contains { $0.contains("peerAddressChange") && $0.contains("198.18.1.2")
                    && ($0.contains("unreachable") || $0.contains("potentiallyFailed")) },
                        "we never reported 198.18.1.2 failed: \(outcome.notifications)")

                let result = try peer.result()
                #expect(try peer.exitStatus() == 0, "\(peer.transcript)")
                #expect(result.messagesSent == count && result.messagesReceived == count, "\(result)")
                #expect(result.verifyErrors == 0 && result.echoMismatches == 0, "\(result)\n\(peer.transcript)")
                #expect(peer.line("ASSOC_DOWN")?.contains("reason=shutdown") == true, "\(peer.transcript)")
                #expect(peer.child.lines.contains { $0.hasPrefix("PATH ") && $0.contains("addr=198.18.1.1") && $0.contains("state=unreachable") },
                        "usrsctp never reported 198.18.1.1 unreachable:\n\(peer.transcript)")
                Self.checkPaths(run, us: ["198.18.1.1", "198.18.2.1"], usrsctp: ["198.18.1.2", "198.18.2.2"])
            }
        }

        /// What the capture shows (where there is one): DATA went both ways over both links
        /// (over link 1 before the cut, link 2 after it), every packet went between the two
        /// addresses of one link (each side chose the source address on the way to the
        /// destination), and nobody sent ABORT.
        static func checkPaths(_ run: InteropRun, us: [String], usrsctp: [String]) {
            let packets = run.decodedCapture(filter: "sctp", fields: ["ip.src", "ip.dst", "sctp.chunk_type"])
            guard !packets.isEmpty else { return }
            var dataPackets: [String: Int] = [:]
            var crossing: [String] = []
            for line in packets {
                let fields = line.split(separator: "\t").map(String.init)
                guard fields.count == 3 else { continue }
                let (source, destination) = (fields[0], fields[1])
                if source.split(separator: ".").dropLast() != destination.split(separator: ".").dropLast() { crossing.append(line) }
                if fields[2].split(separator: ",").contains("0") { dataPackets["\(source)→\(destination)", default: 0] += 1 }
            }
            run.trace("packets with DATA: \(dataPackets.sorted { $0.key < $1.key })")
            for (ours, theirs) in zip(us, usrsctp) {
                #expect(dataPackets["\(ours)→\(theirs)", default: 0] > 0, "no DATA from us \(ours) → \(theirs): \(dataPackets)")
                #expect(dataPackets["\(theirs)→\(ours)", default: 0] > 0, "no DATA from usrsctp \(theirs) → \(ours): \(dataPackets)")
            }
            #expect(crossing.isEmpty, "packets between addresses of different links: \(crossing.prefix(5))")
            run.expectNoAbort()
        }
    }
}
