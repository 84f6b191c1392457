import Foundation
import NIOCore
import SCTP
import SCTPCore
import SCTPWire
import SystemPackage
import Testing

/// RFC 6458 §8 options that used to be endpoint settings only, the association queries, and
/// what the sockets of a listener inherit, over real sockets on loopback.
@Suite("SCTPSocket: RFC 6458 options")
struct SocketOptionTests {
    /// A client connected to a listener on 127.0.0.1 and the accepted socket; `configure`
    /// sets options on the listener and the client before they connect.
    static func connectedPair(on stack: SCTPStack, listener configureListener: (SCTPSocket) throws -> Void = { _ in },
                              client configureClient: (SCTPSocket) throws -> Void = { _ in })
        throws -> (listener: SCTPSocket, client: SCTPSocket, server: SCTPSocket) {
        let listener = try SCTPSocket.forTest(on: stack)
        try listener.bind(address("127.0.0.1", 0))
        try configureListener(listener)
        try listener.listen()
        let port = try #require(listener.localPort)
        let client = try SCTPSocket.forTest(on: stack)
        try client.bind(address("127.0.0.1", 0))
        try configureClient(client)
        try client.connectx([address("127.0.0.1", port)])
        let server = try listener.accept()
        try server.setOption(.receiveTimeout, .seconds(15))
        return (listener, client, server)
    }

    /// A one-to-many socket listening on 127.0.0.1 (`configure` runs before listen) and two
    /// clients on 127.0.0.2 and 127.0.0.3 connected to it, once the server has both
    /// associations (at most 10 s); the server's association id of each client, in order.
    static func oneToManyWithTwoClients(on stack: SCTPStack, configure: (SCTPSocket) throws -> Void = { _ in })
        throws -> (server: SCTPSocket, clients: [SCTPSocket], ids: [AssociationID]) {
        let server = try SCTPSocket.forTest(.oneToMany, on: stack)
        try server.bind(address("127.0.0.1", 0))
        try configure(server)
        try server.listen(backlog: 8)
        let port = try #require(server.localPort)
        var clients: [SCTPSocket] = []
        for host in ["127.0.0.2", "127.0.0.3"] {
            let client = try SCTPSocket.forTest(on: stack)
            try client.bind(address(host, 0))
            try client.connectx([address("127.0.0.1", port)])
            clients.append(client)
        }
        #expect(eventually(seconds: 10) { (try? server.getOption(.associationNumber)) == 2 })
        var ids: [AssociationID] = []
        for (client, host) in zip(clients, ["127.0.0.2", "127.0.0.3"]) {
            let local = address(host, try #require(client.localPort))
            ids.append(try #require(server.getOption(.associationIDList).first { (try? server.getpaddrs($0))?.contains(local) == true }))
        }
        return (server, clients, ids)
    }

    /// How long the client's single small message stays unacknowledged (polled every 2 ms,
    /// at most 5 s).
    static func acknowledgementDelay(_ client: SCTPSocket, _ server: SCTPSocket) throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        try client.send(Array("ping".utf8))
        let deadline = start + .seconds(5)
        while clock.now < deadline {
            if try client.getOption(.status).unacknowledgedChunks == 0 { break }
            Thread.sleep(forTimeInterval: 0.002)
        }
        let elapsed = clock.now - start
        #expect(try client.getOption(.status).unacknowledgedChunks == 0, "never acknowledged")
        #expect(text(try server.nextMessage().data) == "ping")
        return elapsed
    }

    @Test("SCTP_DELAYED_SACK: the listener's 400 ms / 4 packets delay a lone message's SACK; 1 packet on the live association acknowledges at once")
    func delayedSack() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        #expect(try SCTPSocket(stack: stack).getOption(.delayedSack) == SCTPSackInfo(delay: .milliseconds(200), frequency: 2))
        let (listener, client, server) = try Self.connectedPair(on: stack, listener: {
            try $0.setOption(.delayedSack, SCTPSackInfo(delay: .milliseconds(400), frequency: 4))
        })
        defer { try? client.close(); try? server.close(); try? listener.close() }
        #expect(try server.getOption(.delayedSack) == SCTPSackInfo(delay: .milliseconds(400), frequency: 4))
        #expect(errno { try server.setOption(.delayedSack, SCTPSackInfo(delay: .milliseconds(501), frequency: 2)) } == .invalidArgument)

        let delayed = try Self.acknowledgementDelay(client, server)
        #expect(delayed >= .milliseconds(300), "acknowledged after \(delayed) despite a 400 ms delayed SACK")

        // Frequency 1 (zero delay: unchanged) on the live association: every packet is acknowledged at once.
        try server.setOption(.delayedSack, SCTPSackInfo(delay: .zero, frequency: 1))
        #expect(try server.getOption(.delayedSack) == SCTPSackInfo(delay: .milliseconds(400), frequency: 1))
        let prompt = try Self.acknowledgementDelay(client, server)
        #expect(prompt < .milliseconds(300), "acknowledged only after \(prompt) with delayed SACK off")
    }

    @Test("SCTP_MAX_BURST: default 4, the listener's reaches the accepted association, 0 (no mitigation) still moves data, negative is EINVAL")
    func maxBurst() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server) = try Self.connectedPair(on: stack, listener: { try $0.setOption(.maxBurst, 2) })
        defer { try? client.close(); try? server.close(); try? listener.close() }
        #expect(try client.getOption(.maxBurst) == 4)
        #expect(try server.getOption(.maxBurst) == 2)
        #expect(errno { try client.setOption(.maxBurst, -1) } == .invalidArgument)
        // 0 on the live association: without a limit the window alone decides (a limit of
        // "flight + 0 packets" would never send anything).
        try client.setOption(.maxBurst, 0)
        #expect(try client.getOption(.maxBurst) == 0)
        let payload = ByteBuffer(repeating: 0x5A, count: 100_000)
        try client.sendmsg(payload)
        var received = 0
        for _ in 0..<1000 where received < payload.readableBytes {
            let piece = try server.nextMessage()
            received += piece.data.readableBytes
            if piece.isEndOfRecord { break }
        }
        #expect(received == payload.readableBytes)
    }

    @Test("SCTP_PARTIAL_DELIVERY_POINT: at 2000 bytes a large message is read in pieces before it is complete; by default whole")
    func partialDeliveryPoint() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let payload = ByteBuffer(repeating: 0x33, count: 200_000)
        for point in [nil, 2000] {
            let (listener, client, server) = try Self.connectedPair(on: stack, listener: {
                if let point { try $0.setOption(.partialDeliveryPoint, point) }
            })
            defer { try? client.close(); try? server.close(); try? listener.close() }
            #expect(try server.getOption(.partialDeliveryPoint) == (point ?? 1 << 20))
            try client.sendmsg(payload)
            let first = try server.nextMessage(maxLength: 1 << 20)
            if point == nil {
                #expect(first.data.readableBytes == payload.readableBytes && first.isEndOfRecord)
            } else {
                #expect(first.data.readableBytes < payload.readableBytes && !first.isEndOfRecord,
                        "\(first.data.readableBytes) bytes, end of record \(first.isEndOfRecord)")
                var received = first.data.readableBytes
                for _ in 0..<1000 where received < payload.readableBytes {
                    received += try server.nextMessage(maxLength: 1 << 20).data.readableBytes
                }
                #expect(received == payload.readableBytes)
            }
        }
        #expect(errno { try SCTPSocket(stack: stack).setOption(.partialDeliveryPoint, 0) } == .invalidArgument)
    }

    @Test("SCTP_PR_SUPPORTED and SCTP_ECN_SUPPORTED: switched off on the client, neither association uses PR-SCTP or ECN; on by default")
    func extensionsSupported() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server) = try Self.connectedPair(on: stack, client: {
            #expect(try $0.getOption(.partialReliabilitySupported) && $0.getOption(.ecnSupported))
            try $0.setOption(.partialReliabilitySupported, false)
            try $0.setOption(.ecnSupported, false)
        })
        defer { try? client.close(); try? server.close(); try? listener.close() }
        for socket in [client, server] {
            #expect(try socket.getOption(.partialReliabilitySupported) == false)
            #expect(try socket.getOption(.ecnSupported) == false)
            #expect(try socket.getOption(.status).ecn == false)
        }
        let (listener2, client2, server2) = try Self.connectedPair(on: stack)
        defer { try? client2.close(); try? server2.close(); try? listener2.close() }
        for socket in [client2, server2] {
            #expect(try socket.getOption(.partialReliabilitySupported))
            #expect(try socket.getOption(.ecnSupported))
        }
    }

    @Test("SCTP_DEFAULT_PRINFO, SCTP_CONTEXT, SCTP_PR_ASSOC_STATUS / SCTP_PR_STREAM_STATUS: messages stuck behind a closed window expire, are counted unsent under TTL and fail with the association's context")
    func partialReliabilityStatus() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        // The server never reads, and its window is one message.
        let (listener, client, server) = try Self.connectedPair(on: stack, listener: { try $0.setOption(.receiveBufferSize, 1500) }, client: {
            try $0.setOption(.events, [.sendFailed])
            try $0.setOption(.initMessage, SCTPInitMessage(outboundStreams: 2, maxInboundStreams: 2))
        })
        defer { try? client.close(); try? server.close(); try? listener.close() }
        #expect(try client.getOption(.defaultPRInfo) == .reliable)
        #expect(errno { try client.setOption(.defaultPRInfo, .maxRetransmissions(-1)) } == .invalidArgument)
        try client.setOption(.defaultPRInfo, .lifetime(.milliseconds(50)))
        #expect(try client.getOption(.defaultSendInfo).partialReliability == .lifetime(.milliseconds(50)))
        #expect(try client.getOption(.context) == 0)
        try client.setOption(.context, 77)
        #expect(try client.getOption(.context) == 77)
        #expect(try client.getOption(.partialReliabilityAssociationStatus()) == SCTPPRStatus(abandonedUnsent: 0, abandonedSent: 0))

        let count = 30
        for index in 0..<count {
            // The last one names its own context; the others take SCTP_CONTEXT's.
            var info = try client.getOption(.defaultSendInfo)
            if index == count - 1 { info.context = 5 }
            try client.sendmsg(ByteBuffer(repeating: UInt8(index), count: 1000), info: info)
        }
        var contexts: [UInt32] = []
        var failures = 0
        while failures < count - 3 {
            guard case .sendFailed(_, let info, _) = try client.nextNotification() else { continue }
            contexts.append(info.context)
            failures += 1
        }
        #expect(Set(contexts).isSubset(of: [77, 5]) && contexts.contains(77), "contexts \(contexts)")

        let all = try client.getOption(.partialReliabilityAssociationStatus())
        #expect(all.abandonedUnsent + all.abandonedSent >= count - 3)
        #expect(all.abandonedUnsent > 0)
        #expect(try client.getOption(.partialReliabilityAssociationStatus(policy: .lifetime)) == all)
        #expect(try client.getOption(.partialReliabilityAssociationStatus(policy: .retransmissions))
                == SCTPPRStatus(abandonedUnsent: 0, abandonedSent: 0))
        // Every message went on stream 0.
        #expect(try client.getOption(.partialReliabilityStreamStatus(stream: 0)) == all)
        #expect(try client.getOption(.partialReliabilityStreamStatus(stream: 1)) == SCTPPRStatus(abandonedUnsent: 0, abandonedSent: 0))
        #expect(errno { _ = try client.getOption(.partialReliabilityStreamStatus(stream: 2)) } == .invalidArgument)
        #expect(errno { try client.setOption(.context, 1, association: AssociationID(999_999)) } == .invalidArgument)
    }

    @Test("SCTP_DISABLE_FRAGMENTS: a message above the fragmentation point fails with EMSGSIZE, one at it arrives whole; off, it is fragmented")
    func disableFragments() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server) = try Self.connectedPair(on: stack, client: { try $0.setOption(.maxSegment, 500) })
        defer { try? client.close(); try? server.close(); try? listener.close() }
        #expect(try client.getOption(.disableFragments) == false)
        let point = try client.getOption(.status).fragmentationPoint
        #expect(point == 500)
        try client.sendmsg(ByteBuffer(repeating: 1, count: 5000))
        #expect(try server.nextMessage().data.readableBytes == 5000)

        try client.setOption(.disableFragments, true)
        #expect(errno { try client.sendmsg(ByteBuffer(repeating: 2, count: point + 1)) } == .messageTooLong)
        try client.sendmsg(ByteBuffer(repeating: 3, count: point))
        let whole = try server.nextMessage()
        #expect(whole.data.readableBytes == point && whole.isEndOfRecord && whole.data.readableBytesView.allSatisfy { $0 == 3 })
    }

    @Test("SCTP_GET_ASSOC_STATS: chunks sent and received, SACKs and the RTO after ten messages")
    func associationStats() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server) = try Self.connectedPair(on: stack)
        defer { try? client.close(); try? server.close(); try? listener.close() }
        for index in 0..<10 { try client.send(Array("message \(index)".utf8)) }
        for _ in 0..<10 { _ = try server.nextMessage() }
        #expect(eventually(seconds: 10) { (try? client.getOption(.status).unacknowledgedChunks) == 0 })
        let sent = try client.getOption(.associationStats)
        #expect(sent.associationID == client.associationIDs.first)
        #expect(sent.dataChunksSent >= 10 && sent.sacksReceived >= 1 && sent.dataChunksReceived == 0)
        #expect(sent.maxRTO >= .milliseconds(1) && sent.maxRTOAddress == .v4(IPv4Address(127, 0, 0, 1)))
        #expect(sent.counters.dataChunksSent == sent.dataChunksSent)
        // Ten 9-byte messages, all acknowledged; packets both ways (the DATA at least).
        #expect(sent.counters.bytesAcknowledged == 90)
        #expect(sent.packetsSent >= 2 && sent.packetsReceived >= 1)
        let received = try server.getOption(.associationStats)
        #expect(received.dataChunksReceived >= 10 && received.dataChunksSent == 0)
        #expect(received.packetsReceived >= 2 && received.counters.bytesAcknowledged == 0)
        #expect(errno { try server.setOption(.associationStats, received) } == .invalidArgument)
    }

    @Test("SCTP_GET_ASSOC_NUMBER, SCTP_GET_ASSOC_ID_LIST and SCTP_GET_PEER_ADDR_INFO on a one-to-many socket and after peeloff")
    func associationLists() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        #expect(try SCTPSocket.forTest(.oneToMany, on: stack).getOption(.associationNumber) == 0)
        let (server, clients, clientIDs) = try Self.oneToManyWithTwoClients(on: stack)
        defer { try? server.close(); for client in clients { try? client.close() } }
        let ids = try server.getOption(.associationIDList)
        #expect(ids.count == 2 && ids == ids.sorted { $0.rawValue < $1.rawValue } && ids == server.associationIDs)
        #expect(Set(ids) == Set(clientIDs))

        let clientAddress = address("127.0.0.2", try #require(clients[0].localPort))
        let id = clientIDs[0]
        let path = try server.getOption(.peerAddressInfo(clientAddress), association: id)
        #expect(path.address == .v4(IPv4Address(127, 0, 0, 2)) && path.state == .active && path.mtu > 0)
        #expect(errno { _ = try server.getOption(.peerAddressInfo(address("127.0.0.9", 1)), association: id) } == .invalidArgument)
        #expect(errno { _ = try server.getOption(.peerAddressInfo(clientAddress)) } == .invalidArgument)

        let peeled = try server.peeloff(id)
        defer { try? peeled.close() }
        #expect(try server.getOption(.associationNumber) == 1 && server.getOption(.associationIDList) == ids.filter { $0 != id })
        #expect(try peeled.getOption(.associationNumber) == 1 && peeled.getOption(.associationIDList) == [id])
        #expect(try peeled.getOption(.peerAddressInfo(clientAddress)).address == .v4(IPv4Address(127, 0, 0, 2)))
    }

    @Test("SCTP_PEER_ADDR_THLDS: the listener's thresholds reach the accepted association, change live, and share Path.Max.Retrans with SCTP_PEER_ADDR_PARAMS")
    func peerAddressThresholds() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server) = try Self.connectedPair(on: stack, listener: {
            try $0.setOption(.peerAddressThresholds, SCTPPeerAddressThresholds(pathMaxRetransmissions: 3, potentiallyFailedMaxRetransmissions: 1))
        })
        defer { try? client.close(); try? server.close(); try? listener.close() }
        #expect(try client.getOption(.peerAddressThresholds) == SCTPPeerAddressThresholds(pathMaxRetransmissions: 5, potentiallyFailedMaxRetransmissions: 1))
        #expect(try server.getOption(.peerAddressThresholds) == SCTPPeerAddressThresholds(pathMaxRetransmissions: 3, potentiallyFailedMaxRetransmissions: 1))
        try server.setOption(.peerAddressThresholds, SCTPPeerAddressThresholds(pathMaxRetransmissions: 4, potentiallyFailedMaxRetransmissions: 0))
        #expect(try server.getOption(.peerAddressThresholds) == SCTPPeerAddressThresholds(pathMaxRetransmissions: 4, potentiallyFailedMaxRetransmissions: 0))
        #expect(try server.getOption(.peerAddressParameters).pathMaxRetransmissions == 4)
        #expect(errno {
            try server.setOption(.peerAddressThresholds, SCTPPeerAddressThresholds(pathMaxRetransmissions: 0, potentiallyFailedMaxRetransmissions: 0))
        } == .invalidArgument)
        #expect(errno {
            try server.setOption(.peerAddressThresholds, SCTPPeerAddressThresholds(pathMaxRetransmissions: 2, potentiallyFailedMaxRetransmissions: -1))
        } == .invalidArgument)
    }

    /// Options set on a listener, as its children must read them back.
    static func configureParent(_ socket: SCTPSocket) throws {
        try socket.setOption(.noDelay, false)
        try socket.setOption(.maxBurst, 3)
        try socket.setOption(.delayedSack, SCTPSackInfo(delay: .milliseconds(300), frequency: 3))
        try socket.setOption(.partialDeliveryPoint, 5000)
        try socket.setOption(.disableFragments, true)
        try socket.setOption(.context, 42)
        try socket.setOption(.fragmentInterleave, 0)
        try socket.setOption(.receiveNextInfo, true)
        try socket.setOption(.defaultPRInfo, .maxRetransmissions(2))
        try socket.setOption(.peerAddressThresholds, SCTPPeerAddressThresholds(pathMaxRetransmissions: 4, potentiallyFailedMaxRetransmissions: 2))
        try socket.setOption(.events, [.associationChange, .shutdown])
        try socket.setOption(.maxSegment, 400)
    }

    static func expectInherited(_ child: SCTPSocket) throws {
        #expect(try child.getOption(.noDelay) == false)
        #expect(try child.getOption(.maxBurst) == 3)
        #expect(try child.getOption(.delayedSack) == SCTPSackInfo(delay: .milliseconds(300), frequency: 3))
        #expect(try child.getOption(.partialDeliveryPoint) == 5000)
        #expect(try child.getOption(.disableFragments))
        #expect(try child.getOption(.context) == 42)
        #expect(try child.getOption(.fragmentInterleave) == 0)
        #expect(try child.getOption(.receiveNextInfo))
        #expect(try child.getOption(.defaultPRInfo) == .maxRetransmissions(2))
        #expect(try child.getOption(.peerAddressThresholds) == SCTPPeerAddressThresholds(pathMaxRetransmissions: 4, potentiallyFailedMaxRetransmissions: 2))
        #expect(try child.getOption(.events) == [.associationChange, .shutdown])
        #expect(try child.getOption(.maxSegment) == 400)
        // Behaviour: the association fragments at SCTP_MAXSEG, and SCTP_DISABLE_FRAGMENTS refuses more.
        #expect(try child.getOption(.status).fragmentationPoint == 400)
        #expect(errno { try child.sendmsg(ByteBuffer(repeating: 1, count: 401)) } == .messageTooLong)
        try child.sendmsg(ByteBuffer(repeating: 1, count: 400))
    }

    @Test("accepted and peeled-off sockets inherit the listener's options (read back, SCTP_MAXSEG + SCTP_DISABLE_FRAGMENTS in behaviour)")
    func childrenInherit() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server) = try Self.connectedPair(on: stack, listener: Self.configureParent)
        defer { try? client.close(); try? server.close(); try? listener.close() }
        try Self.expectInherited(server)
        #expect(try client.nextMessage().data.readableBytes == 400)

        let manyServer = try SCTPSocket.forTest(.oneToMany, on: stack)
        defer { try? manyServer.close() }
        try manyServer.bind(address("127.0.0.1", 0))
        try Self.configureParent(manyServer)
        try manyServer.listen(backlog: 4)
        let port = try #require(manyServer.localPort)
        let manyClient = try SCTPSocket.forTest(on: stack)
        defer { try? manyClient.close() }
        try manyClient.bind(address("127.0.0.2", 0))
        try manyClient.connectx([address("127.0.0.1", port)])
        #expect(eventually(seconds: 10) { (try? manyServer.getOption(.associationNumber)) == 1 })
        let id = try #require(manyServer.getOption(.associationIDList).first)
        let peeled = try manyServer.peeloff(id)
        defer { try? peeled.close() }
        try Self.expectInherited(peeled)
        #expect(try manyClient.nextMessage().data.readableBytes == 400)
    }
}

extension SCTPSocket {
    /// The next data message (or piece of one) of at most `maxLength` bytes, skipping notifications.
    func nextMessage(maxLength: Int) throws -> SCTPMessage {
        for _ in 0..<64 {
            guard let item = try recvmsg(maxLength: maxLength) else { throw SCTPError(.socketNotConnected, "end of file") }
            if case .message(let message) = item { return message }
        }
        throw SCTPError(.ioError, "no message among 64 notifications")
    }
}
