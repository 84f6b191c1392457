import Foundation
import NIOCore
import SCTP
import SCTPCore
import SCTPTestSupport
import Testing

extension UsrsctpInterop {
    /// Scenarios 1 and 2 of issue 6: handshake and data between our stack and usrsctp (through
    /// usrsctp-peer), every byte of every message verified on both sides.
    @Suite("data")
    struct DataTransferTests {
        /// usrsctp-peer clients (one sending ordered, one unordered messages, 10 streams,
        /// 12–2000 bytes) → our one-to-one server, which accepts both associations and echoes.
        @Test("usrsctp client → our echo server: 10 streams, ordered and unordered, 12–2000 bytes")
        func usrsctpClientToOurEchoServer() async throws {
            try await InteropRun.perform("echo-server") { run in
                try await echoServer(run, clients: [
                    (name: "ordered", count: 2000, lengths: 12...2000, seed: 7, unordered: false, streams: 10),
                    (name: "unordered", count: 2000, lengths: 12...2000, seed: 8, unordered: true, streams: 10),
                ])
            }
        }

        /// Our client → usrsctp-peer echo server with --verify: 10 streams, each message ordered
        /// or unordered (a quarter unordered), 12–2000 bytes; we verify every echo.
        @Test("our client → usrsctp echo server: 10 streams, ordered and unordered mixed, 12–2000 bytes")
        func ourClientToUsrsctpEchoServer() async throws {
            try await InteropRun.perform("echo-client") { run in
                let plan = MessagePlan(count: 3000, streams: 10, lengths: 12...2000, seed: 11, delivery: .mixed(fraction: 0.25))
                try await echoClient(run, plan: plan)
            }
        }

        /// The same with UDP GSO on our side: usrsctp receives the kernel's segments as
        /// ordinary datagrams (checked in our stack's own capture: on `lo` a GSO write shows as
        /// one large datagram).
        @Test("our client with UDP GSO → usrsctp echo server: 2000 messages of 12–4000 bytes")
        func ourClientWithSegmentationOffload() async throws {
            try await InteropRun.perform("echo-client-gso") { run in
                run.segmentationOffload = true
                let plan = MessagePlan(count: 2000, streams: 4, lengths: 12...4000, seed: 12, delivery: .mixed(fraction: 0.25))
                try await echoClient(run, plan: plan)
            }
        }

        /// 1 MiB ordered messages both ways (usrsctp fragments, we reassemble, we fragment the
        /// echo, usrsctp reassembles).
        @Test("large: usrsctp client sends 1 MiB ordered messages, our server echoes them")
        func largeFromUsrsctp() async throws {
            try await InteropRun.perform("large-echo-server") { run in
                try await echoServer(run, clients: [
                    (name: "1MiB", count: 6, lengths: 1_048_576...1_048_576, seed: 1, unordered: false, streams: 3),
                ])
            }
        }

        /// 1 MiB ordered messages from us, and 64 KiB unordered ones (the most usrsctp 0.9.5 takes
        /// safely unordered), echoed back.
        @Test("large: our client sends 1 MiB ordered and 64 KiB unordered messages to the usrsctp echo server")
        func largeToUsrsctp() async throws {
            try await InteropRun.perform("large-echo-client") { run in
                let ordered = MessagePlan(count: 6, streams: 3, lengths: 1_048_576...1_048_576, seed: 3)
                try await echoClient(run, plan: ordered)
            }
            try await InteropRun.perform("large-unordered-echo-client") { run in
                let unordered = MessagePlan(count: 40, streams: 4, lengths: 65_536...65_536, seed: 4, delivery: .unordered)
                try await echoClient(run, plan: unordered)
            }
        }

        /// Many small messages each way (bundling): 5000 × 12–100 bytes, through the relay with
        /// 10 ms of delay on every datagram (order kept), so that the senders are window-limited
        /// and bundle; the capture shows packets with several DATA chunks both ways.
        @Test("bundling: 5000 small messages each way, several DATA chunks per packet")
        func manySmallMessages() async throws {
            let delay = LossyRelay.Impairments(delay: 1.0, delayTime: .milliseconds(10))
            try await InteropRun.perform("small-echo-server") { run in
                let relay = try await echoServer(run, clients: [
                    (name: "small", count: 5000, lengths: 12...100, seed: 21, unordered: false, streams: 10),
                ], relay: delay)
                checkBundling(run, relay)
            }
            try await InteropRun.perform("small-echo-client") { run in
                let relay = try await echoClient(run, plan: MessagePlan(count: 5000, streams: 10, lengths: 12...100, seed: 22,
                                                                        delivery: .mixed(fraction: 0.5)), relay: delay)
                checkBundling(run, relay)
            }
        }

        /// Where there is a capture: usrsctp (Nagle on) sent packets with several DATA chunks,
        /// and we sent packets bundling DATA with other chunks (several DATA chunks when our
        /// window was full, a SACK with DATA otherwise: we send every message at once, with no
        /// Nagle delay, so several DATA chunks per packet need a full window).
        func checkBundling(_ run: InteropRun, _ relay: LossyRelay?) {
            guard let relay else { return }
            for (who, port) in [("we", relay.leftPort), ("usrsctp", relay.rightPort)] {
                let packets = run.decodedCapture(filter: "udp.dstport == \(port) && sctp.chunk_type == 0", fields: ["sctp.chunk_type"])
                guard !packets.isEmpty else { continue }
                let types = packets.map { $0.split(separator: ",") }
                let severalData = types.filter { $0.filter { $0 == "0" }.count >= 2 }.count
                let bundled = types.filter { $0.count >= 2 }.count
                run.trace("\(who): \(packets.count) packets with DATA, \(severalData) with several DATA chunks, \(bundled) with several chunks")
                if who == "usrsctp" {
                    #expect(severalData > 0, "usrsctp never bundled DATA chunks (\(packets.count) packets with DATA)")
                } else {
                    #expect(bundled > 0, "we never bundled DATA with another chunk (\(packets.count) packets with DATA)")
                }
            }
        }
    }
}

typealias ClientSpec = (name: String, count: Int, lengths: ClosedRange<Int>, seed: UInt64, unordered: Bool, streams: Int)

/// usrsctp-peer clients → one listening socket of ours that accepts an association per
/// client and echoes (verifying every message against the client's plan).
@discardableResult
func echoServer(_ run: InteropRun, clients: [ClientSpec], relay impairments: LossyRelay.Impairments? = nil,
                seed: UInt64 = 1, clientArguments: [String] = [], timeLimit: Duration = .seconds(90),
                configure: (SCTPSocket) throws -> Void = { _ in },
                inspect: (EchoOutcome, UsrsctpPeer) throws -> Void = { _, _ in }) async throws -> LossyRelay? {
    let stack = run.stack(peerUDPPort: 9)  // learned from the client's first packet
    let listener = try run.socket(stack)
    try configure(listener)
    try listener.bind([loopback(0)])
    try listener.listen()
    let port = try #require(listener.localPort)
    let udpPort = try #require(stack.udpPort)

    // Through a relay, the clients send to the relay's right socket; the relay forwards to us.
    var relay: LossyRelay?
    if let impairments {
        relay = try run.relay(seed: seed, impairments, leftPeerUDPPort: udpPort)
    }
    let relayPorts = relay.map { [$0.leftPort, $0.rightPort] } ?? []
    try run.capture(ports: [udpPort] + relayPorts, onlyTo: relay.map { [$0.leftPort, $0.rightPort] })
    precondition(relay == nil || clients.count == 1, "a relay serves one usrsctp peer")

    var peers: [UsrsctpPeer] = []
    for client in clients {
        var arguments = ["--streams", String(client.streams), "--messages", String(client.count),
                         "--length", "\(client.lengths.lowerBound)-\(client.lengths.upperBound)", "--seed", String(client.seed),
                         "--echo"] + clientArguments
        if client.unordered { arguments.append("--unordered") }
        let target = relay?.rightPort ?? udpPort
        peers.append(try run.client(toUDPPort: target, port: port, arguments, name: "usrsctp-peer client \(client.name)"))
    }
    run.decodeAlso(peers.map(\.udpPort))
    let peerPorts = peers.map(\.port)

    // Accept one association per client and serve each on its own task.
    let outcomes = try await withDeadline(timeLimit, "the echo server") {
        try await withThrowingTaskGroup(of: (Int, EchoOutcome).self) { group in
            for _ in clients {
                let accepted = try listener.accept()
                run.track(accepted)
                try accepted.setOption(.receiveTimeout, .seconds(20))
                // Which client is it? The peer's SCTP port tells.
                let peerPort = try accepted.getpaddrs().first?.port
                guard let index = peerPorts.firstIndex(where: { Int($0) == peerPort }) else {
                    throw PatternError("an association from an unknown port \(String(describing: peerPort))")
                }
                let spec = clients[index]
                let plan = MessagePlan(count: spec.count, streams: spec.streams, lengths: spec.lengths, seed: spec.seed,
                                       delivery: spec.unordered ? .unordered : .ordered)
                group.addTask { (index, try await serve(accepted, plan: plan, echo: true)) }
            }
            var outcomes: [Int: EchoOutcome] = [:]
            for try await (index, outcome) in group { outcomes[index] = outcome }
            return outcomes
        }
    }
    for (index, client) in clients.enumerated() {
        let peer = peers[index]
        let outcome = try #require(outcomes[index])
        #expect(outcome.verifier.errorCount == 0 && outcome.verifier.missing == 0 && outcome.verifier.messages == client.count,
                "our server, from \(client.name): \(outcome.verifier.summary)")
        #expect(outcome.echoed == client.count)
        let result = try peer.result()
        let status = try peer.exitStatus()
        #expect(status == 0, "\(peer.transcript)")
        #expect(result.messagesSent == client.count && result.messagesReceived == client.count, "\(result)")
        #expect(result.verifyErrors == 0 && result.echoMismatches == 0, "\(result)\n\(peer.transcript)")
        #expect(peer.line("ASSOC_DOWN")?.contains("reason=shutdown") == true, "\(peer.transcript)")
        let up = UsrsctpPeer.fields(peer.line("ASSOC_UP") ?? "")
        #expect(up["in"] == String(client.streams) && up["out"] == String(client.streams), "\(peer.line("ASSOC_UP") ?? "no ASSOC_UP")")
        try inspect(outcome, peer)
    }
    if relay == nil { run.expectNoAbort() }
    return relay
}

/// Our client → a usrsctp-peer echo server (with --verify): the plan is sent while the
/// echoes are read and verified; then our graceful shutdown.
@discardableResult
func echoClient(_ run: InteropRun, plan: MessagePlan, relay impairments: LossyRelay.Impairments? = nil, seed: UInt64 = 1,
                serverArguments: [String] = [], timeLimit: Duration = .seconds(90),
                configure: (SCTPSocket) throws -> Void = { _ in }) async throws -> LossyRelay? {
    run.trace("start")
    let server = try run.server(["--mode", "echo", "--verify", "--streams", "10"] + serverArguments)
    run.trace("server ready")
    var relay: LossyRelay?
    if let impairments {
        relay = try run.relay(seed: seed, impairments, rightPeerUDPPort: server.udpPort)
    }
    let stack = run.stack(peerUDPPort: relay?.leftPort ?? server.udpPort)
    let client = try run.socket(stack, events: [.associationChange, .shutdown])
    try client.setOption(.initMessage, SCTPInitMessage(outboundStreams: 10, maxInboundStreams: 10))
    try configure(client)
    try client.bind([loopback(0)])
    let udpPort = try #require(stack.udpPort)
    let relayPorts = relay.map { [$0.leftPort, $0.rightPort] } ?? []
    try run.capture(ports: [udpPort, server.udpPort] + relayPorts, onlyTo: relay.map { [$0.leftPort, $0.rightPort] })

    run.trace("capturing")
    let id = try await client.connectx([loopback(server.port)])
    run.trace("connected")
    let status = try client.getOption(.status)
    #expect(status.outboundStreams == 10 && status.inboundStreams == 10, "streams \(status.outboundStreams)/\(status.inboundStreams)")
    let up = try server.waitFor("ASSOC_UP", timeout: .seconds(20))
    #expect(up["in"] == "10" && up["out"] == "10", "\(up)")

    let outcome = try await withDeadline(timeLimit, "the echo client") {
        async let sent: Void = try await client.send(plan)
        let received = try await receive(plan.count, from: client, plan: plan)
        try await sent
        return received
    }
    #expect(outcome.verifier.errorCount == 0 && outcome.verifier.missing == 0 && outcome.verifier.messages == plan.count,
            "echoes: \(outcome.verifier.summary)")
    #expect(outcome.notifications.allSatisfy { $0.contains("communicationUp") }, "\(outcome.notifications)")

    run.trace("echoes verified")
    try client.shutdown()
    var notifications: [String] = []
    while let inbound = try await client.nextInbound() {
        switch inbound {
        case .notification(let notification): notifications.append("\(notification)")
        case .message(let message): Issue.record("data after the echoes: \(message.data.readableBytes) bytes on stream \(message.info.stream)")
        }
    }
    #expect(notifications.contains { $0.contains("shutdownComplete") }, "association \(id): no SHUTDOWN_COMP in \(notifications)")
    run.trace("shut down")
    let result = try server.result()
    #expect(try server.exitStatus() == 0, "\(server.transcript)")
    run.trace("server exited")
    #expect(result.messagesReceived == plan.count && result.messagesSent == plan.count && result.verifyErrors == 0,
            "\(result)\n\(server.transcript)")
    #expect(result.bytesReceived == plan.totalBytes, "\(result)")
    let down = server.line("ASSOC_DOWN")
    if relay == nil {
        #expect(down?.contains("reason=shutdown") == true, "\(server.transcript)")
        run.expectNoAbort()
    } else {
        // Through the relay (loss, duplication, delay) a late copy of one of usrsctp's packets
        // can reach our endpoint after our side completed the shutdown; §8.4 rule 8 answers
        // it with an ABORT (T bit), which usrsctp, still in SHUTDOWN-ACK-SENT because our
        // SHUTDOWN COMPLETE was lost, reports as an abort. Everything was delivered and our
        // side completed the shutdown (checked above); the abort is accepted only after
        // usrsctp saw our SHUTDOWN.
        let shutdownSeen = server.transcript.contains("peer sent SHUTDOWN")
        #expect(down?.contains("reason=shutdown") == true || (down?.contains("reason=abort") == true && shutdownSeen),
                "\(server.transcript)")
    }
    return relay
}

extension UsrsctpInterop {
    /// libswiftsctp's C example (`Examples/c/connectx_echo.c`) against usrsctp, both ways.
    @Suite("C library")
    struct CLibraryInteropTests {
        @Test("the C example's client (sctp_connectx, sctp_sendv, sctp_recvv) → usrsctp echo server: 40 echoes verified, shut down to end of file")
        func cClient() async throws {
            guard let program = try CLibraryExample.compiled() else { return }
            try await InteropRun.perform("c-client") { run in
                let server = try run.server(["--mode", "echo", "--streams", "10"])
                let client = try ChildProcess("/usr/bin/env", ["SWIFTSCTP_UDP_PORT=0", "SWIFTSCTP_PEER_UDP_PORT=\(server.udpPort)", program,
                                                               "client", "\(server.port)", "40", "127.0.0.1"])
                defer { client.terminate() }
                #expect(client.waitForExit(seconds: 60) == 0, "client: \(client.standardOutput)\n\(client.standardError)")
                let lines = client.standardOutput.split(separator: "\n").map(String.init)
                #expect(lines.contains("VERIFIED 40") && lines.contains("STATUS state=4 out=5 in=5") && lines.contains("EOF 0"), "\(lines)")
                // The options of the live association (check_options): 19 checks, none failed.
                #expect(lines.filter { $0.hasPrefix("OPTION ") }.count == 19 && !lines.contains { $0.hasPrefix("OPTION-FAIL") }, "\(lines)")
                // SHUTDOWN_COMP (state 3) is read as a notification before the end of file.
                #expect(lines.suffix(2) == ["NOTIFICATION type=0x8001 state=3", "EOF 0"], "\(lines)")
                let result = try server.result()
                // 40 echoes and the two messages check_options builds from pieces (SCTP_EXPLICIT_EOR), each received whole.
                #expect(result.messagesReceived == 42 && result.messagesSent == 42, "\(result)\n\(server.transcript)")
                #expect(server.line("ASSOC_DOWN")?.contains("reason=shutdown") == true, "\(server.transcript)")
            }
        }

        @Test("usrsctp client → the C example's one-to-many echo server (sctp_bindx, SCTP_EVENT, sctp_recvv, sctp_sendv to the association): 40 echoes verified by usrsctp")
        func cServer() async throws {
            guard let program = try CLibraryExample.compiled() else { return }
            try await InteropRun.perform("c-server") { run in
                let (server, port, udp) = try CLibraryExample.server(program, count: 40, ["127.0.0.1"])
                defer { server.terminate() }
                let client = try run.client(toUDPPort: Int(udp) ?? 0, port: UInt16(port) ?? 0,
                                            ["--messages", "40", "--length", "12-3000", "--echo", "--streams", "5"])
                let result = try client.result()
                #expect(try client.exitStatus() == 0, "\(client.transcript)")
                #expect(result.messagesSent == 40 && result.echoMismatches == 0, "\(result)\n\(client.transcript)")
                #expect(server.waitForExit(seconds: 30) == 0, "server: \(server.standardOutput)\n\(server.standardError)")
                #expect(server.standardOutput.contains("ECHOED 40"), "\(server.standardOutput)")
            }
        }
    }
}
