import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SCTP
import SCTPCore
import SCTPWire
import SystemPackage
import Testing

/// A stack of its own per test: a free UDP port, peers on the same stack reached at that port.
func makeStack() -> SCTPStack {
    SCTPStack(options: SCTPStack.Options(udpPort: 0, peerUDPPort: 0))
}

func address(_ host: String, _ port: UInt16) -> SocketAddress {
    try! SocketAddress(ipAddress: host, port: Int(port))
}

extension SCTPSocket {
    /// A socket whose blocking reads give up after `seconds`, so a broken test fails instead of hanging.
    static func forTest(_ style: Style = .oneToOne, family: Family = .ipv4, on stack: SCTPStack,
                        seconds: Int64 = 15) throws -> SCTPSocket {
        let socket = SCTPSocket(family: family, style: style, stack: stack)
        try socket.setOption(.receiveTimeout, .seconds(seconds))
        return socket
    }

    /// The next data message, skipping notifications.
    func nextMessage() throws -> SCTPMessage {
        for _ in 0..<64 {
            guard let item = try recvmsg() else { throw SCTPError(.socketNotConnected, "end of file") }
            if case .message(let message) = item { return message }
        }
        throw SCTPError(.ioError, "no message among 64 notifications")
    }

    /// The next notification, skipping data.
    func nextNotification() throws -> SCTPNotification {
        for _ in 0..<64 {
            guard let item = try recvmsg() else { throw SCTPError(.socketNotConnected, "end of file") }
            if case .notification(let notification) = item { return notification }
        }
        throw SCTPError(.ioError, "no notification among 64 messages")
    }
}

/// A listening one-to-one socket on `addresses` (port 0: a free one) and its port.
func listening(on stack: SCTPStack, _ addresses: [SocketAddress], family: SCTPSocket.Family = .ipv4) throws -> (SCTPSocket, UInt16) {
    let listener = try SCTPSocket.forTest(family: family, on: stack)
    try listener.bind(addresses)
    try listener.listen()
    guard let port = listener.localPort else { throw SCTPError(.addressNotAvailable, "the listener has no port") }
    return (listener, port)
}

/// A listening one-to-many socket on 127.0.0.1 (a free port) that reports association
/// changes, and its port.
func listeningOneToMany(on stack: SCTPStack) throws -> (SCTPSocket, UInt16) {
    let server = try SCTPSocket.forTest(.oneToMany, on: stack)
    try server.bind(address("127.0.0.1", 0))
    try server.listen()
    try server.setOption(.events, [.associationChange])
    guard let port = server.localPort else { throw SCTPError(.addressNotAvailable, "the server has no port") }
    return (server, port)
}

/// Runs `body` and returns the errno it failed with.
func errno(of body: () throws -> Void) -> Errno? {
    do {
        try body()
        return nil
    } catch let error as SCTPError {
        return error.errno
    } catch {
        return nil
    }
}

func text(_ buffer: ByteBuffer) -> String { String(buffer: buffer) }

@Suite("SCTPSocket over UDP on loopback")
struct SCTPSocketTests {
    @Test("one-to-one: listen, accept, connectx, data both ways with send info, getpaddrs/getladdrs, shutdown to EOF")
    func oneToOne() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, port) = try listening(on: stack, [address("127.0.0.1", 0), address("127.0.0.2", 0)])
        #expect(try listener.getladdrs().map(\.ipAddress) == ["127.0.0.1", "127.0.0.2"])

        let client = try SCTPSocket.forTest(on: stack)
        try client.setOption(.initMessage, SCTPInitMessage(outboundStreams: 4, maxInboundStreams: 6))
        try client.setOption(.events, [.associationChange])
        try client.bind(address("127.0.0.1", 0))
        let id = try client.connectx([address("127.0.0.1", port), address("127.0.0.2", port)])
        let server = try listener.accept()
        #expect(Set(try client.getpaddrs(id).map(\.ipAddress)) == ["127.0.0.1", "127.0.0.2"])
        #expect(try client.getpaddrs().allSatisfy { $0.port == Int(port) })
        let serverPeers = try server.getpaddrs().map(\.ipAddress)
        #expect(serverPeers == ["127.0.0.1"], "server sees \(serverPeers)")
        let status = try client.getOption(.status)
        #expect(status.state == .established)
        #expect(status.outboundStreams == 4)
        #expect(status.inboundStreams == 6 || status.inboundStreams == 10)

        guard case .associationChange(.communicationUp, let upID, let outbound, _, _) = try client.nextNotification() else {
            Issue.record("no COMM_UP notification")
            return
        }
        #expect(upID == id && outbound == 4)

        try client.send(Array("hello".utf8), info: SCTPSendInfo(stream: 3, payloadProtocolIdentifier: 51))
        try client.send(Array("unordered".utf8), info: SCTPSendInfo(stream: 1, payloadProtocolIdentifier: 52, flags: .unordered))
        let first = try server.nextMessage()
        #expect(text(first.data) == "hello")
        #expect(first.info.stream == 3 && first.info.payloadProtocolIdentifier == 51 && !first.info.isUnordered)
        #expect(first.isEndOfRecord)
        let second = try server.nextMessage()
        #expect(text(second.data) == "unordered" && second.info.isUnordered && second.info.stream == 1)

        try server.setOption(.defaultSendInfo, SCTPSendInfo(stream: 2, payloadProtocolIdentifier: 7))
        try server.send(Array("reply".utf8))
        let reply = try client.nextMessage()
        #expect(text(reply.data) == "reply" && reply.info.stream == 2 && reply.info.payloadProtocolIdentifier == 7)
        #expect(reply.info.associationID == id)

        // A message read in pieces: MSG_EOR only on the last.
        try client.send([UInt8](repeating: 0x41, count: 3000))
        let pieces = [try server.recvmsg(maxLength: 1000), try server.recvmsg(maxLength: 1000), try server.recvmsg(maxLength: 4000)]
        let lengths = pieces.map { item -> Int in if case .message(let m) = item { m.data.readableBytes } else { -1 } }
        let ends = pieces.map { item -> Bool in if case .message(let m) = item { m.isEndOfRecord } else { false } }
        #expect(lengths == [1000, 1000, 1000])
        #expect(ends == [false, false, true])

        // Graceful shutdown from the client: the server reads what was sent, then end of file.
        try client.send(Array("last".utf8))
        try client.shutdown()
        #expect(text(try server.nextMessage().data) == "last")
        #expect(try server.recvmsg() == nil)
        guard case .associationChange(.shutdownComplete, _, _, _, _) = try client.nextNotification() else {
            Issue.record("no SHUTDOWN_COMP notification")
            return
        }
        #expect(errno { try client.send(Array("late".utf8)) } == .brokenPipe)
        try server.close()
        try client.close()
        try listener.close()
    }

    @Test("one-to-many: associations told apart by id, replies by id, SENDALL, peeloff")
    func oneToMany() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (server, port) = try listeningOneToMany(on: stack)

        var clients: [SCTPSocket] = []
        var serverIDs: [String: AssociationID] = [:]
        for name in ["a", "b"] {
            let client = try SCTPSocket.forTest(.oneToMany, on: stack)
            try client.bind(address("127.0.0.1", 0))
            let id = try client.connectx([address("127.0.0.1", port)])
            try client.send(Array(name.utf8), info: SCTPSendInfo(associationID: id))
            clients.append(client)
            let message = try server.nextMessage()
            #expect(text(message.data) == name)
            serverIDs[name] = message.info.associationID
        }
        #expect(Set(serverIDs.values).count == 2)
        #expect(Set(server.associationIDs) == Set(serverIDs.values))

        // A reply addressed by association id reaches only that client.
        try server.send(Array("to-b".utf8), info: SCTPSendInfo(associationID: serverIDs["b"]))
        #expect(text(try clients[1].nextMessage().data) == "to-b")
        // SENDALL reaches both.
        try server.send(Array("all".utf8), info: SCTPSendInfo(flags: .sendAll))
        #expect(text(try clients[0].nextMessage().data) == "all")
        #expect(text(try clients[1].nextMessage().data) == "all")
        // Without an id or an address a one-to-many send has no destination.
        #expect(errno { try server.send(Array("x".utf8)) } == .addressRequired)

        // Peel "a" off: it continues on its own one-to-one socket, and leaves the server's set.
        let peeled = try server.peeloff(try #require(serverIDs["a"]))
        try peeled.setOption(.receiveTimeout, .seconds(15))
        #expect(server.associationIDs == [serverIDs["b"]!])
        try clients[0].send(Array("after peeloff".utf8), info: SCTPSendInfo(associationID: clients[0].associationIDs[0]))
        #expect(text(try peeled.nextMessage().data) == "after peeloff")
        try peeled.send(Array("from peeled".utf8))
        #expect(text(try clients[0].nextMessage().data) == "from peeled")
        #expect(errno { _ = try peeled.peeloff(serverIDs["a"]!) } == .notSupported)

        // SCTP_EOF on one association: the server sees it shut down, the other goes on.
        try clients[1].sendmsg(ByteBuffer(), info: SCTPSendInfo(flags: .endOfFile, associationID: clients[1].associationIDs[0]))
        var sawShutdown = false
        for _ in 0..<8 where !sawShutdown {
            if case .associationChange(.shutdownComplete, let id, _, _, _) = try server.nextNotification() {
                #expect(id == serverIDs["b"])
                sawShutdown = true
            }
        }
        #expect(sawShutdown)
        for socket in clients + [peeled, server] { try socket.close() }
    }

    @Test("one-to-many SCTP_ABORT by id: calls made next see the association gone and the peer learns it; an unknown id is EINVAL, a closed socket EBADF")
    func oneToManyAbortByID() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (server, port) = try listeningOneToMany(on: stack)
        var clients: [SCTPSocket] = []
        var ids: [AssociationID] = []
        for _ in 0..<2 {
            let client = try SCTPSocket.forTest(.oneToMany, on: stack)
            try client.bind(address("127.0.0.1", 0))
            ids.append(try client.connectx([address("127.0.0.1", port)]))
            clients.append(client)
        }
        #expect(clients[0].associationIDs == [ids[0]])
        // A send by the peer's address finds the existing association (no second one).
        try clients[1].sendmsg(ByteBuffer(string: "by address"), info: SCTPSendInfo(), to: [address("127.0.0.1", port)])
        #expect(text(try server.nextMessage().data) == "by address")
        #expect(clients[1].associationIDs == [ids[1]])
        try clients[0].sendmsg(ByteBuffer(string: "bye"), info: SCTPSendInfo(flags: .abort, associationID: ids[0]))
        // The next calls reach the loop after the abort: the association is gone for them.
        #expect(clients[0].associationIDs.isEmpty)
        #expect(errno { _ = try clients[0].getpaddrs(ids[0]) } == .invalidArgument)
        // The peer learns of it (COMMUNICATION LOST), and only of that one.
        var lost: [AssociationID] = []
        for _ in 0..<8 where lost.isEmpty {
            if case .associationChange(.communicationLost, let id, _, _, _) = try server.nextNotification() { lost.append(id) }
        }
        #expect(lost.count == 1)
        #expect(server.associationIDs.count == 1)
        // An id the socket no longer has, or never had, is EINVAL.
        #expect(errno { try clients[0].sendmsg(ByteBuffer(), info: SCTPSendInfo(flags: .abort, associationID: ids[0])) } == .invalidArgument)
        #expect(errno { try clients[1].sendmsg(ByteBuffer(), info: SCTPSendInfo(flags: .abort, associationID: AssociationID(987_654))) }
            == .invalidArgument)
        // A closed socket's call is EBADF, even for the id it had.
        try clients[1].close()
        #expect(errno { try clients[1].sendmsg(ByteBuffer(), info: SCTPSendInfo(flags: .abort, associationID: ids[1])) } == .badFileDescriptor)
        try clients[0].close()
        try server.close()
    }

    @Test("connectx: a silent first address, then the live one, round robin on T1 expiry")
    func connectxRoundRobin() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let server = try SCTPSocket.forTest(on: stack)
        try server.bind(address("127.0.0.1", 0))
        try server.listen()
        let port = try #require(server.localPort)
        let client = try SCTPSocket.forTest(on: stack)
        try client.setOption(.rtoInfo, SCTPRTOInfo(initial: .milliseconds(100), minimum: .milliseconds(50), maximum: .milliseconds(400)))
        try client.bind(address("127.0.0.1", 0))
        // Nothing listens for UDP on 127.0.0.9: the first INIT is lost, the second goes to .1.
        let started = ContinuousClock.now
        let id = try client.connectx([address("127.0.0.9", port), address("127.0.0.1", port)])
        #expect(ContinuousClock.now - started >= .milliseconds(90))
        #expect(try client.getpaddrs(id).map(\.ipAddress) == ["127.0.0.1"])
        _ = try server.accept()
    }

    @Test("the seed's errors: ECONNREFUSED, ETIMEDOUT, EINVAL, EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL, EBADF, EOPNOTSUPP, EISCONN")
    func connectxErrors() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, port) = try listening(on: stack, [address("127.0.0.1", 0)])
        let closedPort: UInt16 = port == 65535 ? 65534 : port + 1

        // A live stack with nothing on the port answers INIT with ABORT.
        let refused = try SCTPSocket.forTest(on: stack)
        try refused.bind(address("127.0.0.1", 0))
        #expect(errno { try refused.connectx([address("127.0.0.1", closedPort)]) } == .connectionRefused)

        // Only silent addresses: INIT retransmissions run out.
        let silent = try SCTPSocket.forTest(on: stack)
        try silent.setOption(.rtoInfo, SCTPRTOInfo(initial: .milliseconds(20), minimum: .milliseconds(10), maximum: .milliseconds(40)))
        try silent.setOption(.initMessage, SCTPInitMessage(maxAttempts: 2))
        try silent.bind(address("127.0.0.1", 0))
        #expect(errno { try silent.connectx([address("127.0.0.9", port), address("127.0.0.10", port)]) } == .timedOut)

        let socket = try SCTPSocket.forTest(on: stack)
        #expect(errno { try socket.connectx([]) } == .invalidArgument)
        #expect(errno { try socket.connectx([address("127.0.0.1", port), address("127.0.0.2", port &+ 1)]) } == .invalidArgument)
        #expect(errno { try socket.connectx([address("127.0.0.1", 0)]) } == .invalidArgument)
        #expect(errno { try socket.connectx([address("::1", port)]) } == .addressFamilyNotSupported)
        #expect(errno { try socket.bind(address("::1", 0)) } == .addressFamilyNotSupported)
        // The listener's port on the same address is taken; 192.0.2.1 (TEST-NET-1) is not ours.
        #expect(errno { try socket.bind(address("127.0.0.1", port)) } == .addressInUse)
        #expect(errno { try socket.bind(address("192.0.2.1", 0)) } == .addressNotAvailable)
        // No local address of the peers' family: an IPv6 socket bound to IPv4 only, given only
        // IPv6 peers (and the reverse), fails at once instead of timing out.
        let v6 = SCTPSocket(family: .ipv6, stack: stack)
        defer { try? v6.close() }
        try v6.bind(address("127.0.0.1", 0))
        #expect(errno { try v6.connectx([address("::1", port)]) } == .addressNotAvailable)
        let v6only = SCTPSocket(family: .ipv6, stack: stack)
        defer { try? v6only.close() }
        try v6only.bind(address("::1", 0))
        #expect(errno { try v6only.connectx([address("127.0.0.1", port)]) } == .addressNotAvailable)
        // A listening one-to-one socket cannot connect; accept and shutdown are not one-to-many calls.
        #expect(errno { try listener.connectx([address("127.0.0.1", port)]) } == .notSupported)
        let many = try SCTPSocket.forTest(.oneToMany, on: stack)
        try many.bind(address("127.0.0.1", 0))
        #expect(errno { _ = try many.accept() } == .notSupported)
        #expect(errno { try many.shutdown() } == .notSupported)
        // A connected one-to-one socket has its association.
        let connected = try SCTPSocket.forTest(on: stack)
        try connected.connectx([address("127.0.0.1", port)])
        #expect(errno { try connected.connectx([address("127.0.0.1", port)]) } == .socketIsConnected)
        // Data calls before connecting.
        let fresh = try SCTPSocket.forTest(on: stack)
        #expect(errno { try fresh.send(Array("x".utf8)) } == .socketNotConnected)
        #expect(errno { _ = try fresh.recvmsg() } == .socketNotConnected)
        // A closed socket.
        try fresh.close()
        #expect(errno { try fresh.connectx([address("127.0.0.1", port)]) } == .badFileDescriptor)
        #expect(errno { try fresh.bind(address("127.0.0.1", 0)) } == .badFileDescriptor)
        #expect(errno { _ = try fresh.recvmsg() } == .badFileDescriptor)
        try fresh.close()
    }

    @Test("non-blocking: connectx returns the id at once, EALREADY while pending, EWOULDBLOCK for reads and accept; ENOBUFS at the association limit")
    func nonBlocking() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let listener = try SCTPSocket.forTest(on: stack)
        try listener.bind(address("127.0.0.1", 0))
        try listener.listen()
        try listener.setOption(.nonBlocking, true)
        let port = try #require(listener.localPort)
        #expect(errno { _ = try listener.accept() } == .wouldBlock)

        let client = try SCTPSocket.forTest(.oneToMany, on: stack)
        try client.setOption(.nonBlocking, true)
        try client.setOption(.events, [.associationChange])
        try client.setOption(.maxAssociations, 1)
        try client.bind(address("127.0.0.1", 0))
        // The peer is silent (127.0.0.9): the attempt stays pending.
        let pending = try client.connectx([address("127.0.0.9", port)])
        #expect(errno { try client.connectx([address("127.0.0.9", port)]) } == .alreadyInProcess)
        #expect(errno { try client.connectx([address("127.0.0.1", port)]) } == .noBufferSpace)
        #expect(errno { _ = try client.recvmsg() } == .wouldBlock)
        try client.sendmsg(ByteBuffer(), info: SCTPSendInfo(flags: .abort, associationID: pending))

        // Completion of a non-blocking connectx shows as a notification.
        try client.setOption(.nonBlocking, false)
        var up: AssociationID?
        var cantStart = false
        for _ in 0..<4 where up == nil {
            switch try client.nextNotification() {
            case .associationChange(.communicationUp, let id, _, _, _): up = id
            case .associationChange(.cannotStartAssociation, let id, _, _, _):
                #expect(id == pending)
                cantStart = true
                try client.setOption(.nonBlocking, true)
                _ = try client.connectx([address("127.0.0.1", port)])
                try client.setOption(.nonBlocking, false)
            default: break
            }
        }
        #expect(cantStart)
        #expect(up != nil)
        try listener.setOption(.nonBlocking, false)
        _ = try listener.accept()
    }

    @Test("EINTR: a cancelled async connectx throws EINTR and the attempt goes on")
    func interruptedConnect() async throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let client = SCTPSocket(style: .oneToMany, stack: stack)
        try client.setOption(.rtoInfo, SCTPRTOInfo(initial: .seconds(5), minimum: .seconds(1), maximum: .seconds(10)))
        try client.bind(address("127.0.0.1", 0))
        let task = Task { try await client.connectx([address("127.0.0.9", 9)]) }
        // Cancel once the attempt is registered (bounded wait on the socket's state).
        for _ in 0..<500 where client.associationIDs.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        task.cancel()
        let result = await task.result
        guard case .failure(let error as SCTPError) = result else {
            Issue.record("connectx was not interrupted: \(result)")
            return
        }
        #expect(error.errno == .interrupted)
        #expect(client.associationIDs.count == 1)
        try client.close()
    }

    @Test("interruptBlockedCalls: a blocked recvmsg and accept throw EINTR and lose nothing; a blocked connectx throws EINTR and the attempt goes on")
    func interruptBlockedCalls() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server) = try SocketOptionTests.connectedPair(on: stack)
        defer { try? client.close(); try? server.close(); try? listener.close() }

        /// Runs `call` on another thread, interrupts `socket` until it returns (every 20 ms,
        /// at most 10 s) and gives its outcome.
        func interrupting<T: Sendable>(_ socket: SCTPSocket, _ call: @escaping @Sendable () throws -> T) -> Result<T, any Error>? {
            let outcome = NIOLockedValueBox<Result<T, any Error>?>(nil)
            let thread = Thread {
                let result = Result { try call() }
                outcome.withLockedValue { $0 = result }
            }
            thread.start()
            let deadline = ContinuousClock.now + .seconds(10)
            while outcome.withLockedValue({ $0 }) == nil, ContinuousClock.now < deadline {
                socket.interruptBlockedCalls()
                Thread.sleep(forTimeInterval: 0.02)
            }
            return outcome.withLockedValue { $0 }
        }
        func errnoOf<T>(_ result: Result<T, any Error>?) -> Errno? {
            if case .failure(let error as SCTPError) = result { return error.errno }
            return nil
        }

        #expect(errnoOf(interrupting(client) { try client.recvmsg() }) == .interrupted)
        // Nothing lost: the message sent after the interruption is read whole.
        try server.send(Array("after".utf8))
        #expect(text(try client.nextMessage().data) == "after")
        #expect(errnoOf(interrupting(listener) { try listener.accept() }) == .interrupted)

        let silent = SCTPSocket(stack: stack)
        defer { try? silent.close() }
        try silent.setOption(.rtoInfo, SCTPRTOInfo(initial: .seconds(5), minimum: .seconds(1), maximum: .seconds(10)))
        try silent.bind(address("127.0.0.1", 0))
        #expect(errnoOf(interrupting(silent) { try silent.connectx([address("127.0.0.9", 9)]) }) == .interrupted)
        // The attempt goes on.
        #expect(silent.associationIDs.count == 1)
        #expect(errno { try silent.connectx([address("127.0.0.9", 9)]) } == .alreadyInProcess)
    }

    @Test("options read back after being set")
    func options() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let socket = SCTPSocket(stack: stack)
        let initMessage = SCTPInitMessage(outboundStreams: 17, maxInboundStreams: 33, maxAttempts: 3, maxInitTimeout: .seconds(7))
        try socket.setOption(.initMessage, initMessage)
        #expect(try socket.getOption(.initMessage) == initMessage)
        let rto = SCTPRTOInfo(initial: .milliseconds(300), minimum: .milliseconds(100), maximum: .seconds(5))
        try socket.setOption(.rtoInfo, rto)
        #expect(try socket.getOption(.rtoInfo) == rto)
        #expect(errno { try socket.setOption(.rtoInfo, SCTPRTOInfo(initial: .seconds(1), minimum: .seconds(2), maximum: .seconds(3))) }
            == .invalidArgument)
        let assoc = SCTPAssociationParameters(maxRetransmissions: 4, cookieLife: .seconds(30))
        try socket.setOption(.associationInfo, assoc)
        #expect(try socket.getOption(.associationInfo) == assoc)
        let paths = SCTPPeerAddressParameters(heartbeatInterval: .seconds(3), pathMaxRetransmissions: 2, pathMTU: 1400, pathMTUDiscovery: false)
        try socket.setOption(.peerAddressParameters, paths)
        #expect(try socket.getOption(.peerAddressParameters) == paths)
        try socket.setOption(.noDelay, false)
        #expect(try socket.getOption(.noDelay) == false)
        let info = SCTPSendInfo(stream: 5, payloadProtocolIdentifier: 46, flags: .unordered, context: 9)
        try socket.setOption(.defaultSendInfo, info)
        #expect(try socket.getOption(.defaultSendInfo) == info)
        try socket.setOption(.events, [.shutdown, .senderDry])
        #expect(try socket.getOption(.events) == [.shutdown, .senderDry])
        try socket.setOption(.sendBufferSize, 100_000)
        #expect(try socket.getOption(.sendBufferSize) == 100_000)
        try socket.setOption(.receiveBufferSize, 200_000)
        #expect(try socket.getOption(.receiveBufferSize) == 200_000)
        try socket.setOption(.remoteUDPEncapsulationPort, 9900)
        #expect(try socket.getOption(.remoteUDPEncapsulationPort) == 9900)
        #expect(errno { try socket.setOption(.remoteUDPEncapsulationPort, 70_000) } == .invalidArgument)
        try socket.setOption(.linger, .zero)
        #expect(try socket.getOption(.linger) == .zero)
        try socket.setOption(.autoClose, .seconds(30))
        #expect(try socket.getOption(.autoClose) == .seconds(30))
        #expect(try socket.getOption(.maxSegment) == 0)
        try socket.setOption(.maxSegment, 500)
        #expect(try socket.getOption(.maxSegment) == 500)
        #expect(errno { try socket.setOption(.maxSegment, 2) } == .invalidArgument)
        try socket.setOption(.nonBlocking, true)
        #expect(try socket.getOption(.nonBlocking))
        try socket.setOption(.maxAssociations, 3)
        #expect(try socket.getOption(.maxAssociations) == 3)
        #expect(errno { try socket.setOption(.status, try socket.getOption(.status)) } != nil)
        #expect(errno { _ = try socket.getOption(.status) } == .socketNotConnected)
        try socket.close()
        #expect(errno { _ = try socket.getOption(.noDelay) } == .badFileDescriptor)
    }

    @Test("close with linger 0 aborts: the peer learns COMM_LOST; the primary address can be set")
    func abortiveClose() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, port) = try listening(on: stack, [address("127.0.0.1", 0), address("127.0.0.2", 0)])
        let client = try SCTPSocket.forTest(on: stack)
        try client.bind(address("127.0.0.1", 0))
        try client.connectx([address("127.0.0.1", port), address("127.0.0.2", port)])
        let server = try listener.accept()
        try server.setOption(.events, [.associationChange])

        try client.setOption(.primaryAddress, address("127.0.0.2", port))
        #expect(try client.getOption(.primaryAddress).ipAddress == "127.0.0.2")
        try client.send(Array("via .2".utf8))
        #expect(text(try server.nextMessage().data) == "via .2")
        let path = try client.peerAddressInfo(address("127.0.0.2", port))
        #expect(path.state == .active)

        try client.setOption(.linger, .zero)
        try client.close()
        guard case .associationChange(.communicationLost, _, _, _, let error) = try server.nextNotification() else {
            Issue.record("no COMM_LOST after ABORT")
            return
        }
        #expect(error?.errno == .connectionReset)
        #expect(try server.recvmsg() == nil)
    }

    @Test("IPv6 sockets: ::1 both ways; IPv4 and IPv4-mapped peers on an IPv6 socket")
    func ipv6() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, port) = try listening(on: stack, [address("::1", 0), address("127.0.0.1", 0)], family: .ipv6)
        #expect(Set(try listener.getladdrs().compactMap(\.ipAddress)) == ["::1", "127.0.0.1"])

        let v6 = try SCTPSocket.forTest(family: .ipv6, on: stack)
        try v6.bind(address("::1", 0))
        try v6.connectx([address("::1", port)])
        let first = try listener.accept()
        #expect(try first.getpaddrs().compactMap(\.ipAddress) == ["::1"])
        try v6.send(Array("over ::1".utf8))
        #expect(text(try first.nextMessage().data) == "over ::1")

        // An IPv4-mapped address names the IPv4 peer.
        let mapped = try SCTPSocket.forTest(family: .ipv6, on: stack)
        try mapped.bind(address("127.0.0.1", 0))
        try mapped.connectx([address("::ffff:127.0.0.1", port)])
        let second = try listener.accept()
        #expect(try mapped.getpaddrs().compactMap(\.ipAddress).contains("127.0.0.1"))
        try second.send(Array("to mapped".utf8))
        #expect(text(try mapped.nextMessage().data) == "to mapped")
        for socket in [v6, first, mapped, second, listener] { try socket.close() }
    }

    @Test("per-association options: RTO bounds, path parameters and Association.Max.Retrans of one association, read back; others and defaults unchanged")
    func perAssociationOptions() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let server = try SCTPSocket.forTest(.oneToMany, on: stack)
        try server.bind(address("127.0.0.1", 0))
        try server.listen()
        let port = try #require(server.localPort)
        let clients = try (0..<2).map { index -> SCTPSocket in
            let client = try SCTPSocket.forTest(on: stack)
            try client.connectx([address("127.0.0.1", port)])
            try client.send(Array("client \(index)".utf8))
            return client
        }
        // ids[i] is client i's association on the server.
        var byClient: [String: AssociationID] = [:]
        for _ in 0..<2 {
            let message = try server.nextMessage()
            byClient[text(message.data)] = message.info.associationID
        }
        let ids = [try #require(byClient["client 0"]), try #require(byClient["client 1"])]
        let defaults = try server.getOption(.rtoInfo)
        let tuned = SCTPRTOInfo(initial: .milliseconds(300), minimum: .milliseconds(100), maximum: .seconds(2))
        try server.setOption(.rtoInfo, tuned, association: ids[0])
        #expect(try server.getOption(.rtoInfo, association: ids[0]) == tuned)
        #expect(try server.getOption(.rtoInfo, association: ids[1]) == defaults)
        #expect(try server.getOption(.rtoInfo) == defaults)
        let status = try server.getOption(.status, association: ids[0])
        #expect(status.paths.allSatisfy { $0.rto >= .milliseconds(100) && $0.rto <= .seconds(2) })

        let paths = SCTPPeerAddressParameters(heartbeatInterval: .seconds(7), pathMaxRetransmissions: 3, pathMTU: 1000,
                                              pathMTUDiscovery: false)
        try server.setOption(.peerAddressParameters, paths, association: ids[1])
        #expect(try server.getOption(.peerAddressParameters, association: ids[1]) == paths)
        #expect(try server.getOption(.peerAddressParameters, association: ids[0]) != paths)
        try server.setOption(.associationInfo, SCTPAssociationParameters(maxRetransmissions: 3, cookieLife: .seconds(60)), association: ids[1])
        #expect(try server.getOption(.associationInfo, association: ids[1]).maxRetransmissions == 3)
        #expect(try server.getOption(.associationInfo).maxRetransmissions == 10)
        // A connected one-to-one socket's options are its association's.
        try clients[0].setOption(.rtoInfo, tuned)
        #expect(try clients[0].getOption(.rtoInfo) == tuned)
        // Messages still flow on the tuned association (a 1000-byte MTU fragments 3000 bytes).
        try server.send(Array(repeating: 9, count: 3000), info: SCTPSendInfo(associationID: ids[1]))
        let big = try clients[1].nextMessage()
        #expect(big.data.readableBytes == 3000 && big.isEndOfRecord)
        #expect(errno { try server.setOption(.rtoInfo, tuned, association: AssociationID(999)) } == .invalidArgument)
        for socket in clients + [server] { try socket.close() }
    }
}
