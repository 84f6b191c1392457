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
        guard run.expectCapture() else { return }
        let asconf = run.decodedCapture(filter: "sctp.chunk_type == 0xc1 || sctp.chunk_type == 0x80", fields: ["sctp.chunk_type"])
        #expect(!asconf.isEmpty, "no ASCONF or ASCONF-ACK in the capture")
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

extension UsrsctpInterop {
    /// Dynamic address reconfiguration (RFC 5061) against usrsctp both ways, in a network
    /// namespace of the test's own whose `lo` carries 127.0.0.1, 127.0.0.2 and 127.0.0.3 as
    /// addresses of the interface: usrsctp binds and adds only interface addresses (the
    /// machine's `lo` lists 127.0.0.1 alone). Both stacks run in the namespace (our event loop
    /// thread entered it; usrsctp-peer through `ip netns exec`), over UDP (our port 9899,
    /// usrsctp's 9900: the namespace is the test's own) or directly over IP. Needs root (CI
    /// runs as root).
    @Suite("address reconfiguration in a namespace (RFC 5061)", .enabled(if: Tools.isRoot || Tools.required,
                                                                         "needs root to make network namespaces (CI runs as root)"))
    struct AddressReconfigurationNamespaceTests {
        static let ourUDPPort = MultihomingFailoverTests.ourUDPPort
        static let usrsctpUDPPort = MultihomingFailoverTests.usrsctpUDPPort
        static let port = MultihomingFailoverTests.port
        static let events: SCTPEventTypes = [.associationChange, .shutdown, .peerAddressChange]

        /// Whether usrsctp-peer printed a PATH line for `address` in `state`.
        static func reported(_ peer: UsrsctpPeer, _ state: String, _ address: String) -> Bool {
            peer.child.lines.contains { $0.hasPrefix("PATH ") && $0.contains("addr=\(address)") && $0.contains("state=\(state)") }
        }

        /// In the capture (where there is one): DATA went from `ours` to `theirs` and back.
        static func expectData(_ run: InteropRun, between ours: String, and theirs: String) {
            let paths = dataPaths(run)
            guard !paths.isEmpty else { return }
            #expect(paths["\(ours)→\(theirs)", default: 0] > 0, "no DATA from us at \(ours) to \(theirs): \(paths)")
            #expect(paths["\(theirs)→\(ours)", default: 0] > 0, "no DATA from usrsctp at \(theirs) to \(ours): \(paths)")
        }

        /// A namespace pair whose side A's `lo` has 127.0.0.2 and 127.0.0.3 too.
        static func namespace(_ run: InteropRun) throws -> NamespacePair {
            let pair = try run.namespaces()
            for address in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
                try pair.run(["-n", pair.name(.a), "addr", "add", "\(address)/8", "dev", "lo"])
            }
            return pair
        }

        static func address(_ host: String, _ port: UInt16 = 0) -> SocketAddress {
            try! SocketAddress(ipAddress: host, port: Int(port))
        }

        /// A listener of ours on `host`, ASCONF on (AUTH is on by default).
        static func listener(_ run: InteropRun, _ pair: NamespacePair, on host: String) throws -> SCTPSocket {
            let stack = try run.stack(in: pair, .a, udpPort: ourUDPPort, peerUDPPort: usrsctpUDPPort)
            let listener = try run.socket(stack, events: events, timeout: .seconds(30))
            try AddressReconfigurationInterop.enableAuthentication(listener)
            try listener.setOption(.asconfSupported, true)
            try listener.setOption(.initMessage, SCTPInitMessage(outboundStreams: 10, maxInboundStreams: 10))
            var parameters = try listener.getOption(.peerAddressParameters)
            parameters.heartbeatInterval = .milliseconds(200)
            try listener.setOption(.peerAddressParameters, parameters)
            try listener.bind([address(host, port)])
            try listener.listen()
            try run.capture(ports: [ourUDPPort, usrsctpUDPPort], namespace: (pair, .a))
            return listener
        }

        /// usrsctp-peer client in namespace A, bound to `bind`, echo verified, heartbeats every
        /// 200 ms (an added address is confirmed within a second).
        static func client(_ run: InteropRun, _ pair: NamespacePair, bind: String, connect: String, count: Int, seed: Int,
                           extra: [String]) throws -> UsrsctpPeer {
            try run.peer("client", [
                "--bind", bind, "--udp-port", String(usrsctpUDPPort), "--peer-udp-port", String(ourUDPPort),
                "--connect", connect, "--remote-port", String(port), "--streams", "10", "--messages", String(count),
                "--length", "12-1500", "--seed", String(seed), "--echo", "--asconf", "--hb-interval", "200",
                "--blackhole", "2", "--timeout", "30",
            ] + AddressReconfigurationInterop.authArguments + extra, in: pair, .a, name: "usrsctp-peer client (namespace)")
        }

        /// Which addresses DATA went between, from the capture.
        static func dataPaths(_ run: InteropRun) -> [String: Int] {
            var paths: [String: Int] = [:]
            for line in run.decodedCapture(filter: "sctp.chunk_type == 0", fields: ["ip.src", "ip.dst"]) {
                let fields = line.split(separator: "\t").map(String.init)
                if fields.count == 2 { paths["\(fields[0])→\(fields[1])", default: 0] += 1 }
            }
            run.trace("packets with DATA: \(paths.sorted { $0.key < $1.key })")
            return paths
        }

        /// We are the requester: usrsctp (127.0.0.1) sends 600 messages to our echo server
        /// (127.0.0.2). After 200 we add 127.0.0.3 (`bindx` on the accepted socket) and ask
        /// usrsctp to make it its primary; once usrsctp has confirmed it (a heartbeat
        /// answered) we delete 127.0.0.2, the address the association started with. usrsctp
        /// reports each change, every echo is verified, and DATA came to and from 127.0.0.3.
        @Test("we add an address, make it usrsctp's primary and delete the first one; usrsctp client echoes checked")
        func weChangeAddresses() async throws {
            guard MultihomingFailoverTests.prerequisites() else { return }
            try await InteropRun.perform("asconf-ns-ours") { run in
                let pair = try Self.namespace(run)
                let listener = try Self.listener(run, pair, on: "127.0.0.2")
                let count = 3000
                let peer = try Self.client(run, pair, bind: "127.0.0.1", connect: "127.0.0.2", count: count, seed: 53, extra: [])
                let accepted = try listener.accept()
                run.track(accepted)
                try accepted.setOption(.receiveTimeout, .seconds(30))
                #expect(try accepted.getOption(.asconfSupported), "ASCONF negotiated")
                let plan = MessagePlan(count: count, streams: 10, lengths: 12...1500, seed: 53)
                let (outcome, deleted) = try await withDeadline(.seconds(90), "the echo server") {
                    var deleted = false
                    let outcome = try await serve(accepted, plan: plan, echo: true) { received in
                        if received == 100 {
                            try accepted.bindx([Self.address("127.0.0.3")], .add)
                            try accepted.setPeerPrimaryAddress(Self.address("127.0.0.3"))
                            run.trace("added 127.0.0.3, asked for it as usrsctp's primary")
                        }
                        // The first address goes once usrsctp confirmed the new one: before, it
                        // would have only an unconfirmed address to send to.
                        if received > 100 && !deleted && peer.child.lines.contains(where: {
                            $0.hasPrefix("PATH ") && $0.contains("addr=127.0.0.3") && $0.contains("state=confirmed")
                        }) {
                            try accepted.bindx([Self.address("127.0.0.2")], .remove)
                            deleted = true
                            run.trace("deleted 127.0.0.2 after \(received) messages")
                        }
                    }
                    return (outcome, deleted)
                }
                #expect(deleted, "usrsctp never confirmed 127.0.0.3:\n\(peer.transcript)")
                #expect(outcome.verifier.errorCount == 0 && outcome.verifier.missing == 0 && outcome.verifier.messages == count,
                        "our server: \(outcome.verifier.summary)")
                #expect(outcome.echoed == count)
                let result = try peer.result()
                #expect(try peer.exitStatus() == 0, "\(peer.transcript)")
                #expect(result.messagesReceived == count && result.verifyErrors == 0 && result.echoMismatches == 0,
                        "\(result)\n\(peer.transcript)")
                #expect(Self.reported(peer, "added", "127.0.0.3"), "\(peer.transcript)")
                #expect(Self.reported(peer, "primary", "127.0.0.3"), "\(peer.transcript)")
                #expect(Self.reported(peer, "removed", "127.0.0.2"), "\(peer.transcript)")
                Self.expectData(run, between: "127.0.0.3", and: "127.0.0.1")
                run.expectNoAbort()
                AddressReconfigurationInterop.checkAuthenticated(run)
            }
        }

        /// usrsctp is the requester: bound to 127.0.0.1, it sends 3000 messages to our echo
        /// server (127.0.0.2); after 300 it adds 127.0.0.3 and 127.0.0.4 and asks us to make
        /// 127.0.0.3 our primary, after 1500 it deletes 127.0.0.4. We report each change, every
        /// message and echo is verified, and our DATA went to 127.0.0.3. (usrsctp does not
        /// delete its first address here: it stops taking packets to an address as soon as its
        /// application removes it, before the peer has acknowledged the deletion, so that ASCONF
        /// and everything after it would go unanswered; and it drops a delete asked for while
        /// the add of the same address is unacknowledged, hence `--delete-after`.)
        @Test("usrsctp adds two addresses, makes one our primary and deletes the other; our echo server checks every message")
        func usrsctpChangesAddresses() async throws {
            guard MultihomingFailoverTests.prerequisites() else { return }
            try await InteropRun.perform("asconf-ns-usrsctp") { run in
                let pair = try Self.namespace(run)
                let listener = try Self.listener(run, pair, on: "127.0.0.2")
                let count = 3000
                let peer = try Self.client(run, pair, bind: "127.0.0.1", connect: "127.0.0.2", count: count, seed: 54, extra: [
                    "--asconf-after", "300", "--add-address", "127.0.0.3,127.0.0.4", "--set-primary", "127.0.0.3",
                    "--delete-address", "127.0.0.4", "--delete-after", "1500",
                ])
                let accepted = try listener.accept()
                run.track(accepted)
                try accepted.setOption(.receiveTimeout, .seconds(30))
                let plan = MessagePlan(count: count, streams: 10, lengths: 12...1500, seed: 54)
                let outcome = try await withDeadline(.seconds(90), "the echo server") {
                    try await serve(accepted, plan: plan, echo: true)
                }
                #expect(outcome.verifier.errorCount == 0 && outcome.verifier.missing == 0 && outcome.verifier.messages == count,
                        "our server: \(outcome.verifier.summary)")
                let result = try peer.result()
                #expect(try peer.exitStatus() == 0, "\(peer.transcript)")
                #expect(result.messagesReceived == count && result.verifyErrors == 0 && result.echoMismatches == 0,
                        "\(result)\n\(peer.transcript)")
                run.trace("usrsctp: \(peer.child.lines.filter { $0.hasPrefix("ASCONF_REQUEST") })")
                run.trace("ours: \(outcome.notifications.filter { $0.contains("peerAddressChange") })")
                func reported(_ state: String, _ address: String) -> Bool {
                    outcome.notifications.contains { $0.contains("peerAddressChange") && $0.contains(address) && $0.contains(state) }
                }
                #expect(reported("added", "127.0.0.3") && reported("added", "127.0.0.4"), "\(outcome.notifications)")
                #expect(reported("madePrimary", "127.0.0.3"), "\(outcome.notifications)")
                #expect(reported("removed", "127.0.0.4"), "\(outcome.notifications)")
                let paths = Self.dataPaths(run)
                if !paths.isEmpty {
                    #expect(paths["127.0.0.2→127.0.0.3", default: 0] > 0, "no DATA from us to usrsctp's added address: \(paths)")
                }
                run.expectNoAbort()
                AddressReconfigurationInterop.checkAuthenticated(run)
            }
        }

        /// Our client (127.0.0.2) → usrsctp echo server (127.0.0.1), over UDP and over raw IP
        /// (protocol 132): after 100 of 300 messages we add 127.0.0.3 (`bindx` on the connected
        /// socket) and ask usrsctp to send to it; once usrsctp has confirmed it we delete
        /// 127.0.0.2, the address the association started with. usrsctp reports each change,
        /// every echo is verified, and DATA went both ways through 127.0.0.3. usrsctp sends to
        /// an added address with its endpoint's remote UDP encapsulation port, not with the
        /// association's: over UDP it is told our port (`--peer-udp-port`), over raw IP it is
        /// given none, so that it sends there directly over IP.
        @Test("our client adds an address, makes it usrsctp's primary and deletes the first one, while usrsctp echoes",
              arguments: [false, true])
        func ourClientChangesAddresses(rawIP: Bool) async throws {
            guard MultihomingFailoverTests.prerequisites() else { return }
            try await InteropRun.perform(rawIP ? "asconf-ns-client-raw" : "asconf-ns-client") { run in
                let pair = try Self.namespace(run)
                let server = try run.peer("server", [
                    "--bind", "127.0.0.1", "--port", String(Self.port), "--udp-port", String(Self.usrsctpUDPPort),
                    "--peer-udp-port", rawIP ? "0" : String(Self.ourUDPPort), "--mode", "echo", "--verify", "--streams", "10",
                    "--asconf", "--hb-interval", "200", "--blackhole", "2", "--timeout", "30",
                ] + AddressReconfigurationInterop.authArguments, in: pair, .a, name: "usrsctp-peer server (namespace)")
                let stack = try rawIP ? run.rawIPStack(in: pair, .a)
                    : run.stack(in: pair, .a, udpPort: Self.ourUDPPort, peerUDPPort: Self.usrsctpUDPPort)
                let client = try run.socket(stack, events: Self.events)
                try AddressReconfigurationInterop.enableAuthentication(client)
                try client.setOption(.asconfSupported, true)
                try client.setOption(.initMessage, SCTPInitMessage(outboundStreams: 10, maxInboundStreams: 10))
                try client.bind([Self.address("127.0.0.2")])
                try run.capture(ports: [Self.ourUDPPort, Self.usrsctpUDPPort], namespace: (pair, .a), rawSCTP: rawIP)
                _ = try await client.connectx([Self.address("127.0.0.1", Self.port)])
                #expect(try client.getOption(.asconfSupported), "ASCONF negotiated")
                _ = try server.waitFor("ASSOC_UP", timeout: .seconds(20))

                let plan = MessagePlan(count: 300, streams: 10, lengths: 12...1500, seed: 51)
                var verifier = PatternVerifier(plan: plan)
                try await client.send(plan, range: 0..<100)
                try await ReconfigurationTests.receiveMessages(100, from: client, into: &verifier)

                try client.bindx([Self.address("127.0.0.3")], .add)
                _ = try server.child.waitForLine(timeout: .seconds(20), "127.0.0.3 added") {
                    $0.hasPrefix("PATH ") && $0.contains("addr=127.0.0.3") && $0.contains("state=added")
                }
                try client.setPeerPrimaryAddress(Self.address("127.0.0.3"))
                try await client.send(plan, range: 100..<200)
                try await ReconfigurationTests.receiveMessages(100, from: client, into: &verifier)
                // The old address goes once usrsctp can send to the new one (it confirmed it).
                _ = try server.child.waitForLine(timeout: .seconds(20), "127.0.0.3 confirmed") {
                    $0.hasPrefix("PATH ") && $0.contains("addr=127.0.0.3") && $0.contains("state=confirmed")
                }
                try client.bindx([Self.address("127.0.0.2")], .remove)
                try await client.send(plan, range: 200..<300)
                try await ReconfigurationTests.receiveMessages(100, from: client, into: &verifier)
                #expect(verifier.errorCount == 0 && verifier.missing == 0 && verifier.messages == plan.count, "\(verifier.summary)")
                #expect(try client.localAddresses().compactMap(\.ipAddress) == ["127.0.0.3"])

                try client.shutdown()
                while try await client.nextInbound() != nil {}
                let result = try server.result()
                #expect(result.verifyErrors == 0, "\(result)\n\(server.transcript)")
                #expect(Self.reported(server, "primary", "127.0.0.3"), "\(server.transcript)")
                #expect(Self.reported(server, "removed", "127.0.0.2"), "\(server.transcript)")
                Self.expectData(run, between: "127.0.0.3", and: "127.0.0.1")
                run.expectNoAbort()
                AddressReconfigurationInterop.checkAuthenticated(run)
            }
        }
    }
}
