import Foundation
import NIOCore
import SCTP
import SCTPCore
import SystemPackage
import Testing

extension UsrsctpInterop {
    /// Scenario 4 of issue 6: connectx against usrsctp.
    @Suite("connectx")
    struct ConnectxTests {
        static let fastRTO = SCTPRTOInfo(initial: .milliseconds(200), minimum: .milliseconds(100), maximum: .milliseconds(800))

        /// connectx to [127.0.0.9, 127.0.0.1]: the INIT to .9 goes unanswered (the usrsctp stack
        /// runs with --blackhole 1: no ABORT for an out-of-the-blue INIT), T1 moves to .1 and the
        /// association comes up there; data then flows.
        @Test("connectx [silent address, usrsctp's address]: up through the second after one T1")
        func silentFirstAddress() async throws {
            try await InteropRun.perform("connectx-silent-first") { run in
                let server = try run.server(["--mode", "echo", "--verify", "--blackhole", "1"])
                let (client, id, elapsed) = try await connectedClient(run, to: server, peers: ["127.0.0.9", "127.0.0.1"],
                                                                      events: [.associationChange]) {
                    try $0.setOption(.rtoInfo, Self.fastRTO)
                }
                // One T1 expiry (RTO.Initial 200 ms) before the INIT to the second address.
                #expect(elapsed >= .milliseconds(190), "up after \(elapsed): the first INIT should have gone to 127.0.0.9")
                #expect(try client.getpaddrs(id).compactMap(\.ipAddress) == ["127.0.0.1"])
                let up = try server.waitFor("ASSOC_UP")
                #expect(up["peers"] == "127.0.0.1", "\(up)")
                // The INITs, in order: first to .9, then to .1.
                let inits = run.decodedCapture(filter: "sctp.chunk_type == 1", fields: ["ip.dst"])
                if !inits.isEmpty { #expect(inits.first == "127.0.0.9" && inits.contains("127.0.0.1"), "INITs went to \(inits)") }

                let plan = MessagePlan(count: 200, streams: 10, lengths: 12...1500, seed: 41)
                let outcome = try await withDeadline(.seconds(30), "echo") {
                    async let sent: Void = try await client.send(plan)
                    let received = try await receive(plan.count, from: client, plan: plan)
                    try await sent
                    return received
                }
                #expect(outcome.verifier.errorCount == 0 && outcome.verifier.missing == 0, "\(outcome.verifier.summary)")
                try client.shutdown()
                _ = try await drain(client)
                #expect(try server.downReason() == "shutdown", "\(server.transcript)")
            }
        }

        /// What usrsctp does with an INIT to an address it is not bound to but receives on (its
        /// UDP socket is bound to the wildcard address, so 127.0.0.9:U reaches it): with its
        /// default --blackhole 0 it answers with ABORT (from 127.0.0.1), which ends the attempt
        /// with ECONNREFUSED (COOKIE-WAIT + ABORT, RFC 9260 §9.1; Linux does the same) although
        /// the second address would have worked.
        @Test("connectx [address usrsctp receives on but does not serve, usrsctp's address]: usrsctp's ABORT refuses it")
        func abortingFirstAddress() async throws {
            try await InteropRun.perform("connectx-abort-first") { run in
                let server = try run.server(["--mode", "echo", "--verify", "--blackhole", "0"])
                let stack = run.stack(peerUDPPort: server.udpPort)
                let client = try run.socket(stack, events: [.associationChange])
                try client.setOption(.rtoInfo, Self.fastRTO)
                try client.bind([loopback(0)])
                try run.capture(ports: [try #require(stack.udpPort), server.udpPort])
                var caught: SCTPError?
                do {
                    _ = try await client.connectx([loopback(server.port, "127.0.0.9"), loopback(server.port)])
                } catch {
                    caught = error as? SCTPError
                }
                #expect(caught?.errno == .connectionRefused, "connectx: \(String(describing: caught))")
                // On the wire: INIT to .9, usrsctp's ABORT (T bit: the tag reflected) from .1.
                let exchange = run.decodedCapture(filter: "sctp", fields: ["ip.src", "ip.dst", "sctp.chunk_type", "sctp.abort_t_bit"])
                run.trace("packets: \(exchange)")
                if !exchange.isEmpty {
                    #expect(exchange.count == 2 && exchange.first?.hasPrefix("127.0.0.1\t127.0.0.9\t1") == true
                                && exchange.last?.hasPrefix("127.0.0.1\t127.0.0.1\t6") == true, "\(exchange)")
                }
            }
        }

        /// A live usrsctp stack (the peer server) on an SCTP port where nothing listens answers
        /// our INIT with ABORT: connectx fails with ECONNREFUSED at once.
        @Test("connectx to a usrsctp stack's port where nothing listens: ECONNREFUSED")
        func refused() async throws {
            try await InteropRun.perform("connectx-refused") { run in
                let server = try run.server(["--mode", "discard", "--blackhole", "0"])
                let stack = run.stack(peerUDPPort: server.udpPort)
                let client = try run.socket(stack, events: [.associationChange])
                try client.bind([loopback(0)])
                try run.capture(ports: [try #require(stack.udpPort), server.udpPort])
                let closedPort = server.port == 65535 ? server.port - 1 : server.port + 1
                let started = ContinuousClock.now
                var caught: SCTPError?
                do {
                    _ = try await client.connectx([loopback(closedPort)])
                } catch {
                    caught = error as? SCTPError
                }
                #expect(caught?.errno == .connectionRefused, "connectx: \(String(describing: caught))")
                #expect(ContinuousClock.now - started < .seconds(5), "the ABORT should end the attempt at once, not after INIT retransmissions")
                // The socket is usable again: connectx to the listening port now works.
                let id = try await client.connectx([loopback(server.port)])
                #expect(id.rawValue != 0)
                _ = try server.waitFor("ASSOC_UP")
                try client.shutdown()
                _ = try await drain(client)
                #expect(try server.downReason() == "shutdown")
                let aborts = run.decodedCapture(filter: "sctp.chunk_type == 6", fields: ["sctp.srcport", "sctp.chunk_flags"])
                if !aborts.isEmpty { #expect(aborts.count == 1, "ABORTs: \(aborts)") }
            }
        }
    }
}

/// A client socket of ours connected to a usrsctp-peer server at `peers` (capture started first).
func connectedClient(_ run: InteropRun, to server: UsrsctpPeer, peers: [String], events: SCTPEventTypes,
                     configure: (SCTPSocket) throws -> Void = { _ in }) async throws -> (SCTPSocket, AssociationID, Duration) {
    let stack = run.stack(peerUDPPort: server.udpPort)
    let client = try run.socket(stack, events: events)
    try client.setOption(.initMessage, SCTPInitMessage(outboundStreams: 10, maxInboundStreams: 10))
    try configure(client)
    try client.bind([loopback(0)])
    try run.capture(ports: [try #require(stack.udpPort), server.udpPort])
    let started = ContinuousClock.now
    let id = try await client.connectx(peers.map { loopback(server.port, $0) })
    let elapsed = ContinuousClock.now - started
    _ = try server.waitFor("ASSOC_UP", timeout: .seconds(20))
    return (client, id, elapsed)
}
