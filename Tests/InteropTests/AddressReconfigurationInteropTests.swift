import Foundation
import NIOCore
import SCTP
import SCTPCore
import SCTPTestSupport
import Testing

/// usrsctp announces and processes ASCONF only with AUTH (RFC 4895) negotiated (RFC 5061
/// §4.1.1), as do we. Both announce AUTH by default; usrsctp asks for ASCONF and ASCONF-ACK
/// to be authenticated, and so do we once ASCONF is on.
enum AddressReconfigurationInterop {
    /// usrsctp-peer's arguments for AUTH: none, usrsctp's defaults (auth_enable 1, HMAC-SHA-1).
    static let authArguments: [String] = []
    /// AUTH on for one of our sockets (the default, said explicitly).
    static func enableAuthentication(_ socket: SCTPSocket) throws {
        try socket.setOption(.authSupported, true)
    }

    /// In the capture: ASCONF and ASCONF-ACK chunks, each behind an AUTH chunk in its packet.
    static func checkAuthenticated(_ run: InteropRun) {
        let asconf = run.decodedCapture(filter: "sctp.chunk_type == 0xc1 || sctp.chunk_type == 0x80", fields: ["sctp.chunk_type"])
        guard !asconf.isEmpty else { return }  // no capture (not root, no tshark)
        for line in asconf {
            let types = line.split(separator: ",").compactMap { UInt8($0) }
            guard let index = types.firstIndex(where: { $0 == 0xC1 || $0 == 0x80 }) else { continue }
            #expect(types[..<index].contains(15), "ASCONF / ASCONF-ACK without AUTH before it: \(types)")
        }
    }
}

extension UsrsctpInterop {
    /// Dynamic address reconfiguration (RFC 5061) against usrsctp, both ways, while data
    /// flows over loopback (127.0.0.x, each address bound explicitly): every message and echo
    /// verified, every ASCONF / ASCONF-ACK decoded by tshark.
    @Suite("address reconfiguration (RFC 5061)")
    struct AddressReconfigurationTests {
        static let events: SCTPEventTypes = [.associationChange, .shutdown, .peerAddressChange]

        /// Our client (127.0.0.2) → usrsctp echo server (127.0.0.1): after 100 messages we add
        /// 127.0.0.3 (`bindx` on the connected socket), ask usrsctp to send to it, then remove
        /// 127.0.0.2 (the address the association started with); usrsctp reports each change
        /// (PATH added / primary / removed) and every echo still arrives.
        @Test("our client adds an address, makes it usrsctp's primary and removes the first, while usrsctp echoes",
              .disabled("""
                  usrsctp 0.9.5 takes the Add and Set Primary (both authenticated) but never heartbeats the added \
                  address over UDP encapsulation, so it never confirms it; after the Delete it has only that \
                  unconfirmed address and sends no more DATA (our side: every change done, every message acked). \
                  Open in issue 17.
                  """))
        func ourClientChangesAddresses() async throws {
            try await InteropRun.perform("asconf-client") { run in
                // Heartbeats every 200 ms: usrsctp sends DATA to an added address only once a
                // heartbeat confirmed it (RFC 9260 §5.4), with its default 30 s not within the test.
                let server = try run.server(["--mode", "echo", "--verify", "--streams", "10", "--asconf", "--hb-interval", "200"]
                                            + AddressReconfigurationInterop.authArguments)
                let stack = run.stack(peerUDPPort: server.udpPort)
                let client = try run.socket(stack, events: Self.events)
                try AddressReconfigurationInterop.enableAuthentication(client)
                try client.setOption(.asconfSupported, true)
                try client.setOption(.initMessage, SCTPInitMessage(outboundStreams: 10, maxInboundStreams: 10))
                try client.bind([loopback(0, "127.0.0.2")])
                let udpPort = try #require(stack.udpPort)
                try run.capture(ports: [udpPort, server.udpPort])
                _ = try await client.connectx([loopback(server.port)])
                #expect(try client.getOption(.asconfSupported), "ASCONF negotiated")
                _ = try server.waitFor("ASSOC_UP", timeout: .seconds(20))

                let plan = MessagePlan(count: 300, streams: 10, lengths: 12...1500, seed: 51)
                var verifier = PatternVerifier(plan: plan)
                try await client.send(plan, range: 0..<100)
                try await ReconfigurationTests.receiveMessages(100, from: client, into: &verifier)

                try client.bindx([loopback(0, "127.0.0.3")], .add)
                _ = try server.waitFor("PATH", timeout: .seconds(20))
                try client.setPeerPrimaryAddress(loopback(0, "127.0.0.3"))
                try await client.send(plan, range: 100..<200)
                try await ReconfigurationTests.receiveMessages(100, from: client, into: &verifier)
                // The old address goes once usrsctp can send to the new one (it confirmed it):
                // removing it earlier would leave usrsctp only an unconfirmed address to send to.
                _ = try server.child.waitForLine(timeout: .seconds(20), "127.0.0.3 confirmed") {
                    $0.hasPrefix("PATH ") && $0.contains("addr=127.0.0.3") && $0.contains("state=confirmed")
                }

                try client.bindx([loopback(0, "127.0.0.2")], .remove)
                try await client.send(plan, range: 200..<300)
                try await ReconfigurationTests.receiveMessages(100, from: client, into: &verifier)
                #expect(verifier.errorCount == 0 && verifier.missing == 0 && verifier.messages == plan.count, "\(verifier.summary)")
                #expect(try client.localAddresses().compactMap(\.ipAddress) == ["127.0.0.3"])

                try client.shutdown()
                while try await client.nextInbound() != nil {}
                let result = try server.result()
                #expect(result.verifyErrors == 0, "\(result)\n\(server.transcript)")
                func reported(_ state: String, _ address: String) -> Bool {
                    server.child.lines.contains { $0.hasPrefix("PATH ") && $0.contains("addr=\(address)") && $0.contains("state=\(state)") }
                }
                #expect(reported("added", "127.0.0.3"), "\(server.transcript)")
                #expect(reported("primary", "127.0.0.3"), "\(server.transcript)")
                #expect(reported("removed", "127.0.0.2"), "\(server.transcript)")
                run.expectNoAbort()
                AddressReconfigurationInterop.checkAuthenticated(run)
            }
        }

        /// usrsctp client → our echo server: after 300 of 600 messages usrsctp asks us to
        /// send to its address (Set Primary Address); we report SCTP_ADDR_MADE_PRIM and every
        /// message and echo is verified. (usrsctp binds only interface addresses, 127.0.0.1
        /// alone on loopback: its Add / Delete IP Address need network namespaces, as in
        /// `MultihomingFailoverTests`; usrsctp-peer's `--add-address` / `--delete-address` are
        /// ready for that.) Checked without us: usrsctp-peer --asconf against itself performs
        /// this Set Primary (its server prints `PATH ... state=primary`).
        @Test("usrsctp client asks us to make its address our primary while we echo")
        func usrsctpClientSetsPrimary() async throws {
            try await InteropRun.perform("asconf-server") { run in
                try await echoServer(run, clients: [
                    (name: "asconf", count: 600, lengths: 12...1500, seed: 52, unordered: false, streams: 10),
                ], clientArguments: ["--asconf", "--asconf-after", "300", "--set-primary", "127.0.0.1"]
                    + AddressReconfigurationInterop.authArguments,
                configure: { listener in
                    try AddressReconfigurationInterop.enableAuthentication(listener)
                    try listener.setOption(.asconfSupported, true)
                    try listener.setOption(.events, [.peerAddressChange])
                }, inspect: { outcome, peer in
                    let text = outcome.notifications.joined(separator: "\n")
                    #expect(text.contains("127.0.0.1") && text.contains("madePrimary"), "\(text)")
                    #expect(peer.child.lines.contains { $0.hasPrefix("ASCONF_REQUEST what=set_primary ") && $0.hasSuffix("errno=0") },
                            "\(peer.transcript)")
                })
                AddressReconfigurationInterop.checkAuthenticated(run)
            }
        }
    }
}
