import Foundation
import NIOCore
import SCTP
import SCTPCore
import SCTPTestSupport
import Testing

extension UsrsctpInterop {
    /// Path MTU discovery (RFC 8899, HEARTBEAT + PAD probes, RFC 4820) against usrsctp on a
    /// size-limited path: the lossy relay drops datagrams above a size, silently (no ICMP). Our
    /// client discovers the MTU towards the usrsctp echo server, the limit drops mid-transfer,
    /// black hole detection brings it back; every echo is verified, and where there is a
    /// capture, tshark decodes our PAD chunks and usrsctp answers each probe's HEARTBEAT.
    /// usrsctp keeps a fixed MTU of 1200 (`--mtu`), below both limits.
    @Suite("path MTU discovery")
    struct PathMTUInteropTests {
        @Test("our client discovers a 1400-byte path to usrsctp, the path shrinks to 1300 mid-transfer, every echo verified")
        func ourClientDiscovers() async throws {
            try await InteropRun.perform("pmtud-echo-client") { run in
                let server = try run.server(["--mode", "echo", "--verify", "--streams", "10", "--mtu", "1200"] + LossyRelayTests.peerRTO)
                let relay = try run.relay(seed: 61, LossyRelay.Impairments(), rightPeerUDPPort: server.udpPort)
                relay.setMaxDatagramSize(1400)
                let stack = run.stack(peerUDPPort: relay.leftPort)
                let client = try run.socket(stack, events: [.associationChange, .shutdown])
                try client.setOption(.initMessage, SCTPInitMessage(outboundStreams: 10, maxInboundStreams: 10))
                try client.setOption(.rtoInfo, LossyRelayTests.ourRTO)
                var settings = PathMTUDiscovery(isEnabled: true, maximumPMTU: 8952, lowerLayerOverhead: 28)
                settings.probeTimeout = .milliseconds(300)
                try client.setOption(.pathMTUDiscoverySettings, settings)
                try client.bind([loopback(0)])
                let udpPort = try #require(stack.udpPort)
                try run.capture(ports: [udpPort, server.udpPort, relay.leftPort, relay.rightPort])
                _ = try await client.connectx([loopback(server.port)])
                _ = try server.waitFor("ASSOC_UP", timeout: .seconds(20))
                func path() -> PathStatus? { try? client.peerAddressInfo(loopback(server.port)) }
                let deadline = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < deadline, path()?.mtuDiscovery.state != .searchComplete {
                    try await Task.sleep(for: .milliseconds(20))
                }
                let found = try #require(path())
                #expect(found.mtu == 1400 && found.mtuDiscovery.state == .searchComplete, "\(found)")
                run.trace("discovered: \(found)")

                let plan = MessagePlan(count: 1500, streams: 10, lengths: 12...4000, seed: 62)
                let relayBox = relay
                let outcome = try await withDeadline(.seconds(90), "the echo client") {
                    async let sent: Void = try await client.send(plan)
                    var outcome = EchoOutcome(verifier: PatternVerifier(plan: plan))
                    var shrunk = false
                    while outcome.verifier.messages < plan.count, let inbound = try await client.nextInbound() {
                        switch inbound {
                        case .notification(let notification): outcome.notifications.append("\(notification)")
                        case .message(let message):
                            outcome.verifier.receive(message.data, stream: message.info.stream, unordered: message.info.isUnordered,
                                                     ppid: message.info.payloadProtocolIdentifier)
                        }
                        if !shrunk && outcome.verifier.messages >= plan.count / 3 {
                            // The path now carries at most 1300 bytes: 1400-byte packets vanish.
                            relayBox.setMaxDatagramSize(1300)
                            shrunk = true
                        }
                    }
                    try await sent
                    return outcome
                }
                #expect(outcome.verifier.errorCount == 0 && outcome.verifier.missing == 0 && outcome.verifier.messages == plan.count,
                        "echoes: \(outcome.verifier.summary)")
                let recovery = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < recovery {
                    if let p = path(), p.mtuDiscovery.blackHoles >= 1, p.mtuDiscovery.state == .searchComplete, !p.mtuDiscovery.validating {
                        break
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
                let after = try #require(path())
                #expect(after.mtu == 1300 && after.mtuDiscovery.blackHoles >= 1, "\(after)")
                run.trace("after the drop: \(after); relay \(relay.counts.toRight)")
                #expect(relay.counts.toRight.tooBig > 0)

                try await client.shutdownExpectingCompletion()
                let result = try server.result()
                #expect(try server.exitStatus() == 0, "\(server.transcript)")
                #expect(result.messagesReceived == plan.count && result.verifyErrors == 0, "\(result)")

                // In the capture (as root, with tshark): our probes, HEARTBEAT + PAD, decoded by
                // tshark, answered by usrsctp with HEARTBEAT ACK; usrsctp sends no PAD of its own.
                let pads = run.decodedCapture(filter: "sctp.chunk_type == 132", fields: ["udp.dstport", "udp.length"])
                if !pads.isEmpty {
                    let acks = run.decodedCapture(filter: "sctp.chunk_type == 5", fields: ["udp.srcport"])
                    #expect(!acks.isEmpty, "no HEARTBEAT ACK from usrsctp")
                    // Datagrams towards usrsctp go to the relay's left port, then to usrsctp's; its own go to
                    // the relay's right port, then to ours.
                    let fromUsrsctp = pads.filter { $0.hasPrefix("\(udpPort)\t") || $0.hasPrefix("\(relay.rightPort)\t") }
                    #expect(fromUsrsctp.isEmpty, "PAD towards us: \(fromUsrsctp)")
                    let padsWithHeartbeat = run.decodedCapture(filter: "sctp.chunk_type == 132 && sctp.chunk_type == 4")
                    #expect(padsWithHeartbeat.count == pads.count, "every PAD rides with a HEARTBEAT")
                    run.trace("probes in the capture: \(pads.count); HEARTBEAT ACKs: \(acks.count)")
                }
            }
        }

        @Test("usrsctp client → our echo server on a 1400-byte path: our server probes up to it, every echo verified")
        func ourServerDiscovers() async throws {
            try await InteropRun.perform("pmtud-echo-server") { run in
                var impairments = LossyRelay.Impairments()
                impairments.maxDatagramSize = 1400
                let relay = try #require(try await echoServer(run, clients: [
                    (name: "pmtud", count: 1500, lengths: 12...4000, seed: 63, unordered: false, streams: 10),
                ], relay: impairments, seed: 63, clientArguments: ["--mtu", "1200"] + LossyRelayTests.peerRTO) { listener in
                    try listener.setOption(.rtoInfo, LossyRelayTests.ourRTO)
                    var settings = PathMTUDiscovery(isEnabled: true, maximumPMTU: 8952, lowerLayerOverhead: 28)
                    settings.probeTimeout = .milliseconds(300)
                    try listener.setOption(.pathMTUDiscoverySettings, settings)
                })
                // Our packets (probes and DATA) grew past the base towards the limit, larger probes were
                // dropped (the client's test waits for the exact size; this exchange may end first).
                let toUsrsctp = relay.counts.toRight
                #expect((1372...1400).contains(toUsrsctp.largestSent) && toUsrsctp.tooBig > 0, "\(toUsrsctp)")
                let pads = run.decodedCapture(filter: "sctp.chunk_type == 132")
                if run.decodedCapture(filter: "sctp.chunk_type == 1").count > 0 {
                    #expect(!pads.isEmpty, "no PAD probe in the capture")
                }
            }
        }
    }
}
