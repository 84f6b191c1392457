import Foundation
import NIOCore
import SCTP
import SCTPCore
import SCTPTestSupport
import Testing

extension UsrsctpInterop {
    /// User message interleaving (RFC 8260 I-DATA) with usrsctp both ways: usrsctp-peer
    /// `--interleaving` (SCTP_FRAGMENT_INTERLEAVE 2, SCTP_INTERLEAVING_SUPPORTED) and our
    /// sockets with `offerInterleaving()`; every message verified, and where there is a capture,
    /// I-DATA both ways and never DATA.
    @Suite("I-DATA")
    struct InterleavingInteropTests {
        /// In the capture: I-DATA went both ways, DATA never.
        static func checkChunkKinds(_ run: InteropRun) {
            guard run.expectCapture() else { return }
            let idata = run.decodedCapture(filter: "sctp.chunk_type == 64", fields: ["udp.srcport"])
            let data = run.decodedCapture(filter: "sctp.chunk_type == 0", fields: ["udp.srcport"])
            #expect(data.isEmpty, "DATA chunks on an I-DATA association: \(data.count) packets")
            #expect(Set(idata).count >= 2, "I-DATA from one side only: source ports \(Set(idata))")
        }

        /// usrsctp 0.9.5 as a receiver of interleaved large messages: it starts a partial
        /// delivery only for a message holding half its receive buffer, so several large
        /// messages arriving interleaved on different streams, each holding less, can fill its
        /// buffer and close its window for good (seen with its default 128 KiB and four 64–256
        /// KiB messages in parallel). The large-message runs give it a buffer that holds them.
        static let largeReceiveBuffer = ["--rcvbuf", String(4 << 20)]

        @Test("usrsctp client → our echo server with I-DATA: 10 streams, ordered and unordered, 12–2000 bytes, and 64–256 KiB ordered")
        func usrsctpClientToOurEchoServer() async throws {
            try await InteropRun.perform("idata-echo-server") { run in
                try await echoServer(run, clients: [
                    (name: "ordered", count: 1500, lengths: 12...2000, seed: 31, unordered: false, streams: 10),
                    (name: "unordered", count: 1500, lengths: 12...2000, seed: 32, unordered: true, streams: 10),
                ], clientArguments: ["--interleaving"]) { listener in
                    try listener.offerInterleaving()
                }
                Self.checkChunkKinds(run)
            }
            try await InteropRun.perform("idata-large-echo-server") { run in
                try await echoServer(run, clients: [
                    (name: "large", count: 16, lengths: 65_536...262_144, seed: 33, unordered: false, streams: 4),
                ], clientArguments: ["--interleaving"] + Self.largeReceiveBuffer) { listener in
                    try listener.offerInterleaving()
                }
                Self.checkChunkKinds(run)
            }
        }

        @Test("our client → usrsctp echo server with I-DATA: 10 streams, ordered and unordered mixed, 12–4000 bytes, and 64–256 KiB ordered")
        func ourClientToUsrsctpEchoServer() async throws {
            try await InteropRun.perform("idata-echo-client") { run in
                let plan = MessagePlan(count: 3000, streams: 10, lengths: 12...4000, seed: 34, delivery: .mixed(fraction: 0.25))
                try await echoClient(run, plan: plan, serverArguments: ["--interleaving"]) { socket in
                    try socket.offerInterleaving()
                    #expect(try socket.getOption(.interleavingSupported))
                }
                Self.checkChunkKinds(run)
            }
            try await InteropRun.perform("idata-large-echo-client") { run in
                let plan = MessagePlan(count: 16, streams: 4, lengths: 65_536...262_144, seed: 35)
                try await echoClient(run, plan: plan, serverArguments: ["--interleaving"] + Self.largeReceiveBuffer) { socket in
                    try socket.offerInterleaving()
                }
                Self.checkChunkKinds(run)
            }
        }

        @Test("through the lossy relay (5 % loss, duplication, reordering, corruption), both ways with I-DATA: nothing lost, duplicated or out of order")
        func throughLossyRelay() async throws {
            let impairments = LossyRelayTests.impairments(loss: 0.05)
            try await InteropRun.perform("idata-relay-client") { run in
                let plan = MessagePlan(count: 800, streams: 10, lengths: 12...6000, seed: 37, delivery: .mixed(fraction: 0.25))
                let relay = try await echoClient(run, plan: plan, relay: impairments, seed: 37,
                                                 serverArguments: ["--interleaving"] + LossyRelayTests.peerRTO, timeLimit: .seconds(60)) {
                    try $0.offerInterleaving()
                    try $0.setOption(.rtoInfo, LossyRelayTests.ourRTO)
                }
                #expect(relay?.counts.toRight.dropped ?? 0 > 0)
                Self.checkChunkKinds(run)
            }
            try await InteropRun.perform("idata-relay-server") { run in
                let relay = try await echoServer(run, clients: [
                    (name: "lossy", count: 800, lengths: 12...6000, seed: 138, unordered: false, streams: 10),
                ], relay: impairments, seed: 38, clientArguments: ["--interleaving"] + LossyRelayTests.peerRTO, timeLimit: .seconds(60)) {
                    try $0.offerInterleaving()
                    try $0.setOption(.rtoInfo, LossyRelayTests.ourRTO)
                }
                #expect(relay?.counts.toLeft.dropped ?? 0 > 0)
                Self.checkChunkKinds(run)
            }
        }

        /// PR-SCTP over I-DATA: our client sends unordered messages with a retransmission
        /// limit of 0 through the lossy relay (10 % loss) to usrsctp, then reliable ones; what
        /// was lost is given up and skipped with I-FORWARD-TSN, which usrsctp must take: the
        /// association stays up, the reliable messages all arrive, the shutdown is graceful.
        @Test("PR-SCTP with I-DATA through the lossy relay: messages given up are skipped with I-FORWARD-TSN, usrsctp takes it")
        func iForwardTSNThroughLossyRelay() async throws {
            try await InteropRun.perform("idata-iforward-client") { run in
                let server = try run.server(["--mode", "discard", "--streams", "10", "--interleaving"] + LossyRelayTests.peerRTO)
                let relay = try run.relay(seed: 39, LossyRelayTests.impairments(loss: 0.10), rightPeerUDPPort: server.udpPort)
                let stack = run.stack(peerUDPPort: relay.leftPort)
                let client = try run.socket(stack, events: [.associationChange, .shutdown])
                try client.setOption(.initMessage, SCTPInitMessage(outboundStreams: 10, maxInboundStreams: 10))
                try client.offerInterleaving()
                try client.setOption(.rtoInfo, LossyRelayTests.ourRTO)
                try client.bind([loopback(0)])
                let udpPort = try #require(stack.udpPort)
                try run.capture(ports: [udpPort, server.udpPort, relay.leftPort, relay.rightPort],
                                onlyTo: [relay.leftPort, relay.rightPort])
                _ = try await client.connectx([loopback(server.port)])
                #expect(try client.usesInterleaving() == true)
                let given = MessagePlan(count: 400, streams: 10, lengths: 12...3000, seed: 40, delivery: .unordered)
                let reliable = MessagePlan(count: 200, streams: 10, lengths: 12...3000, seed: 41, delivery: .unordered)
                try await withDeadline(.seconds(60), "sending") {
                    for message in given.messages {
                        try await client.sendmsg(message.payload, info: SCTPSendInfo(
                            stream: message.stream, payloadProtocolIdentifier: message.ppid, flags: .unordered,
                            partialReliability: .maxRetransmissions(0)))
                    }
                    try await client.send(reliable)
                }
                try await client.shutdownExpectingCompletion()
                let result = try server.result()
                #expect(try server.exitStatus() == 0, "\(server.transcript)")
                let received = result.messagesReceived ?? 0
                #expect(received >= reliable.count && received < given.count + reliable.count, "\(result)")
                let forwards = run.decodedCapture(filter: "sctp.chunk_type == 194")
                #expect(!forwards.isEmpty, "no I-FORWARD-TSN in the capture")
                #expect(run.decodedCapture(filter: "sctp.chunk_type == 192").isEmpty, "FORWARD TSN on an I-DATA association")
                #expect(server.line("ASSOC_DOWN")?.contains("reason=shutdown") == true, "\(server.transcript)")
            }
        }

        @Test("our client offers I-DATA, usrsctp does not: DATA both ways, every echo verified")
        func fallbackToData() async throws {
            try await InteropRun.perform("idata-fallback-echo-client") { run in
                let plan = MessagePlan(count: 500, streams: 10, lengths: 12...4000, seed: 36, delivery: .mixed(fraction: 0.25))
                try await echoClient(run, plan: plan) { socket in
                    try socket.offerInterleaving()
                }
                let idata = run.decodedCapture(filter: "sctp.chunk_type == 64")
                #expect(idata.isEmpty, "I-DATA although usrsctp did not offer it: \(idata.count) packets")
            }
        }
    }
}
