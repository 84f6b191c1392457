import Foundation
import NIOCore
import SCTP
import SCTPCore
import SCTPTestSupport
import SCTPWire
import SystemPackage
import Testing

/// `SCTP_ADDR_OVER` (a message to a chosen peer address) and `SCTP_NXTINFO` (what the next
/// read returns) over real sockets on loopback.
@Suite("SCTPSocket: ADDR_OVER and next info")
struct SendReceiveInfoTests {
    @Test("ADDR_OVER sends to the named peer address (seen on the wire), other messages take the primary; bad uses fail with EINVAL")
    func addressOverride() throws {
        let directory = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("addr-over.pcap").path
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, port) = try listening(on: stack, [address("127.0.0.1", 0), address("127.0.0.2", 0)])
        defer { try? listener.close() }
        let client = try SCTPSocket.forTest(on: stack)
        defer { try? client.close() }
        try client.bind(address("127.0.0.3", 0))
        try client.connectx([address("127.0.0.1", port), address("127.0.0.2", port)])
        let server = try listener.accept()
        defer { try? server.close() }
        #expect(try client.getOption(.primaryAddress).ipAddress == "127.0.0.1")
        let clientPort = try #require(client.localPort)

        try stack.startCapture(to: path)
        // PPIDs without a Wireshark dissector tell the two kinds apart on the wire.
        let second = address("127.0.0.2", port)
        for index in 0..<20 {
            let overridden = index % 2 == 0
            let info = SCTPSendInfo(stream: 0, payloadProtocolIdentifier: overridden ? 0x5102 : 0x5101,
                                    flags: overridden ? [.addressOverride] : [])
            try client.sendmsg(ByteBuffer(string: "message \(index)"), info: info, to: overridden ? [second] : nil)
        }
        for index in 0..<20 {
            let message = try server.nextMessage()
            #expect(text(message.data) == "message \(index)")
            #expect(message.info.payloadProtocolIdentifier == (index % 2 == 0 ? 0x5102 : 0x5101))
        }
        stack.stopCapture()

        // Misuse: no address, an address the peer does not have, another port.
        let override = SCTPSendInfo(flags: [.addressOverride])
        #expect(errno { try client.sendmsg(ByteBuffer(string: "x"), info: override) } == .invalidArgument)
        #expect(errno { try client.sendmsg(ByteBuffer(string: "x"), info: override, to: [address("127.0.0.9", port)]) } == .invalidArgument)
        #expect(errno { try client.sendmsg(ByteBuffer(string: "x"), info: override, to: [address("127.0.0.2", port &+ 1)]) } == .invalidArgument)
        // The association is unharmed.
        try client.sendmsg(ByteBuffer(string: "after"), info: override, to: [second])
        #expect(text(try server.nextMessage().data) == "after")

        guard let tshark = Tools.find("tshark") else {
            if Tools.required { Issue.record("tshark is not installed (scripts/test.sh installs it)") }
            return
        }
        let udpPort = try #require(stack.udpPort)
        #expect(try Tools.tsharkProblems(tshark, pcap: path, udpPorts: [udpPort]) == [])
        let fields = try Tools.run(tshark, ["-n", "-r", path, "-o", "sctp.checksum:CRC-32C", "-d", "udp.port==\(udpPort),sctp",
                                            "-Y", "sctp.srcport == \(clientPort) && sctp.data_payload_proto_id",
                                            "-T", "fields", "-e", "ip.dst", "-e", "sctp.data_tsn", "-e", "sctp.data_payload_proto_id"])
        #expect(fields.status == 0, "\(fields.stderr)")
        // Each packet is in the capture twice (sent and received on the same stack), with one
        // DATA chunk or several. Only a TSN's first transmission counts: a retransmission (a
        // slow run, a T3 expiry) follows the usual rules and may take the primary.
        var destinations: [String: Set<String>] = [:]
        var seenTSNs: Set<Substring> = []
        for line in fields.stdout.split(separator: "\n") {
            let parts = line.split(separator: "\t")
            guard parts.count == 3 else { continue }
            for (tsn, ppid) in zip(parts[1].split(separator: ","), parts[2].split(separator: ",")) where seenTSNs.insert(tsn).inserted {
                destinations[String(ppid), default: []].insert(String(parts[0]))
            }
        }
        #expect(destinations["20738"] == ["127.0.0.2"], "ADDR_OVER messages (PPID 0x5102) went to \(destinations["20738"] ?? [])")
        #expect(destinations["20737"] == ["127.0.0.1"], "other messages (PPID 0x5101) went to \(destinations["20737"] ?? [])")
    }

    /// Waits (on sender-dry notifications, at most 8) until all the socket sent is acknowledged.
    static func waitUntilDry(_ socket: SCTPSocket) throws {
        for _ in 0..<8 {
            guard case .senderDry = try socket.nextNotification() else { continue }
            let status = try socket.getOption(.status)
            if status.pendingBytes == 0 && status.unacknowledgedChunks == 0 { return }
        }
        Issue.record("the sender never became dry with nothing pending")
    }

    @Test("SCTP_RECVNXTINFO: a read that ends a message describes the message or notification waiting after it")
    func nextInfo() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, port) = try listening(on: stack, [address("127.0.0.1", 0)])
        defer { try? listener.close() }
        let client = try SCTPSocket.forTest(on: stack)
        defer { try? client.close() }
        try client.bind(address("127.0.0.1", 0))
        try client.setOption(.events, [.senderDry])
        try client.connectx([address("127.0.0.1", port)])
        let server = try listener.accept()
        defer { try? server.close() }
        #expect(try server.getOption(.receiveNextInfo) == false)
        try server.setOption(.receiveNextInfo, true)
        #expect(try server.getOption(.receiveNextInfo) == true)

        // Two messages; once the client's data is all acknowledged (sender dry), both wait at the server.
        try client.sendmsg(ByteBuffer(string: "first"), info: SCTPSendInfo(stream: 0, payloadProtocolIdentifier: 0x5201))
        try client.sendmsg(ByteBuffer(repeating: 7, count: 3000),
                           info: SCTPSendInfo(stream: 2, payloadProtocolIdentifier: 0x5202, flags: [.unordered]))
        try Self.waitUntilDry(client)
        let first = try server.nextMessage()
        #expect(text(first.data) == "first" && first.isEndOfRecord)
        let next = try #require(first.nextInfo)
        #expect(next.stream == 2 && next.isUnordered && next.isComplete && !next.isNotification)
        #expect(next.payloadProtocolIdentifier == 0x5202 && next.length == 3000)
        #expect(next.associationID == first.info.associationID)
        // Read in two parts: the first part does not end the message, so it says nothing of what follows.
        guard case .message(let part) = try server.recvmsg(maxLength: 1000) else {
            Issue.record("expected a message")
            return
        }
        #expect(!part.isEndOfRecord && part.nextInfo == nil)
        guard case .message(let rest) = try server.recvmsg() else {
            Issue.record("expected a message")
            return
        }
        #expect(rest.data.readableBytes == 2000 && rest.isEndOfRecord)
        #expect(rest.nextInfo == nil, "nothing waits after it")

        // Switched off: nothing.
        try server.setOption(.receiveNextInfo, false)
        try client.sendmsg(ByteBuffer(string: "a"))
        try client.sendmsg(ByteBuffer(string: "b"))
        try Self.waitUntilDry(client)
        let a = try server.nextMessage()
        #expect(text(a.data) == "a" && a.nextInfo == nil)
        #expect(text(try server.nextMessage().data) == "b")
    }

    @Test("SCTP_ADAPTATION_LAYER: each side's code point reaches the other as an adaptation indication notification")
    func adaptationLayer() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let listener = try SCTPSocket.forTest(on: stack)
        defer { try? listener.close() }
        #expect(try listener.getOption(.adaptationLayer) == nil)
        try listener.setOption(.adaptationLayer, 0x0A0B_0C0D)
        #expect(try listener.getOption(.adaptationLayer) == 0x0A0B_0C0D)
        try listener.setOption(.events, [.adaptationIndication])
        try listener.bind(address("127.0.0.1", 0))
        try listener.listen()
        let port = try #require(listener.localPort)
        let client = try SCTPSocket.forTest(on: stack)
        defer { try? client.close() }
        try client.bind(address("127.0.0.1", 0))
        try client.setOption(.adaptationLayer, 42)
        try client.setOption(.events, [.associationChange, .adaptationIndication])
        let id = try client.connectx([address("127.0.0.1", port)])
        let server = try listener.accept()
        defer { try? server.close() }
        guard case .associationChange(.communicationUp, _, _, _, _) = try client.nextNotification() else {
            Issue.record("expected COMM_UP first")
            return
        }
        guard case .adaptationIndication(let codePoint, let association) = try client.nextNotification() else {
            Issue.record("expected the adaptation indication")
            return
        }
        #expect(codePoint == 0x0A0B_0C0D && association == id)
        guard case .adaptationIndication(let fromClient, _) = try server.nextNotification() else {
            Issue.record("expected the adaptation indication at the server")
            return
        }
        #expect(fromClient == 42)
    }

    @Test("SCTP_SEND_FAILED_EVENT: a message an association could not start for comes back with its data and send info, context included, as unsent")
    func sendFailedCarriesContext() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        // A port nobody listens on: our stack answers the INIT with ABORT.
        let closed = try SCTPSocket.forTest(on: stack)
        try closed.bind(address("127.0.0.1", 0))
        let port = try #require(closed.localPort)
        try closed.close()

        let socket = try SCTPSocket.forTest(.oneToMany, on: stack)
        defer { try? socket.close() }
        try socket.bind(address("127.0.0.1", 0))
        try socket.setOption(.events, [.sendFailed, .associationChange])
        // An implicit association setup: the message waits for the handshake, which is refused.
        let info = SCTPSendInfo(stream: 1, payloadProtocolIdentifier: 0x5301, flags: [.unordered], context: 0xFEED_0001)
        try socket.sendmsg(ByteBuffer(string: "never delivered"), info: info, to: [address("127.0.0.1", port)])
        var failed: (ByteBuffer, SCTPSendInfo, Bool)?
        var refused = false
        for _ in 0..<4 where failed == nil || !refused {
            switch try socket.nextNotification() {
            case .sendFailed(let data, let info, let wasSent): failed = (data, info, wasSent)
            case .associationChange(.cannotStartAssociation, _, _, _, let error): refused = error?.errno == .connectionRefused
            default: break
            }
        }
        #expect(refused)
        let (data, failedInfo, wasSent) = try #require(failed)
        #expect(text(data) == "never delivered" && !wasSent)
        #expect(failedInfo.stream == 1 && failedInfo.payloadProtocolIdentifier == 0x5301)
        #expect(failedInfo.context == 0xFEED_0001 && failedInfo.flags.contains(.unordered))
    }
}
