import NIOCore
import SCTP
import SCTPCore
import Testing

/// RFC 6525 through the sockets API and the async API, over UDP on loopback.
@Suite("stream reconfiguration through sockets")
struct StreamReconfigurationSocketTests {
    /// A connected pair on one stack; the server side allows `serverPermissions`.
    static func pair(_ stack: SCTPStack, serverPermissions: StreamResetPermissions? = nil,
                     events: SCTPEventTypes = [.streamReset, .associationReset, .streamChange])
        throws -> (listener: SCTPSocket, client: SCTPSocket, server: SCTPSocket, id: AssociationID) {
        let listener = try SCTPSocket.forTest(on: stack)
        if let serverPermissions { try listener.setOption(.enableStreamReset, serverPermissions) }
        try listener.setOption(.events, events)
        try listener.bind(address("127.0.0.1", 0))
        try listener.listen()
        let client = try SCTPSocket.forTest(on: stack)
        try client.bind(address("127.0.0.1", 0))
        try client.setOption(.events, events)
        let id = try client.connectx([address("127.0.0.1", try #require(listener.localPort))])
        let server = try listener.accept()
        return (listener, client, server, id)
    }

    @Test("SCTP_RESET_STREAMS: messages before the reset keep their numbers, those after start at 0; both sides get SCTP_STREAM_RESET_EVENT")
    func resetStreams() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server, _) = try Self.pair(stack)
        defer { try? listener.close(); try? client.close(); try? server.close() }
        #expect(try client.getOption(.reconfigSupported) == true)
        #expect(try client.getOption(.enableStreamReset) == .resetStreams)
        for text in ["a", "b"] { try client.sendmsg(ByteBuffer(string: text), info: SCTPSendInfo(stream: 3)) }
        try client.resetStreams([3], direction: .outgoing)
        try client.sendmsg(ByteBuffer(string: "c"), info: SCTPSendInfo(stream: 3))
        var received: [(String, UInt16)] = []
        var serverEvent: StreamResetEvent?
        var order: [String] = []
        for _ in 0..<8 where received.count < 3 || serverEvent == nil {
            switch try server.recvmsg() {
            case .message(let m)?:
                received.append((String(buffer: m.data), m.info.streamSequenceNumber))
                order.append("message")
            case .notification(.streamReset(let event, _))?:
                serverEvent = event
                order.append("reset")
            default: break
            }
        }
        #expect(received.map(\.0) == ["a", "b", "c"])
        #expect(received.map(\.1) == [0, 1, 0])
        #expect(order == ["message", "message", "reset", "message"])
        #expect(serverEvent == StreamResetEvent(flags: .incoming, streams: [3]))
        guard case .streamReset(let clientEvent, _) = try client.nextNotification() else {
            Issue.record("expected the client's stream reset event")
            return
        }
        #expect(clientEvent == StreamResetEvent(flags: .outgoing, streams: [3]))
    }

    @Test("SCTP_ADD_STREAMS and SCTP_RESET_ASSOC are denied unless SCTP_ENABLE_STREAM_RESET allows them; bad calls fail with EINVAL")
    func permissions() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server, _) = try Self.pair(stack)
        defer { try? listener.close(); try? client.close(); try? server.close() }
        try client.addStreams(outbound: 2)
        guard case .streamChange(let denied, _) = try client.nextNotification() else {
            Issue.record("expected a stream change event")
            return
        }
        #expect(denied.flags == .denied && denied.outboundStreams == 10)
        try server.setOption(.enableStreamReset, [.resetStreams, .changeStreams, .resetAssociation])
        try client.addStreams(outbound: 2)
        guard case .streamChange(let added, _) = try client.nextNotification() else {
            Issue.record("expected a stream change event")
            return
        }
        #expect(added.flags.isEmpty && added.outboundStreams == 12)
        try client.sendmsg(ByteBuffer(string: "on 11"), info: SCTPSendInfo(stream: 11))
        #expect(String(buffer: try server.nextMessage().data) == "on 11")
        try client.resetAssociation()
        guard case .associationReset(let reset, _) = try client.nextNotification() else {
            Issue.record("expected an association reset event")
            return
        }
        #expect(reset.flags.isEmpty)
        #expect(throws: SCTPError.self) { try client.resetStreams([12], direction: .outgoing) }
        do {
            try client.resetStreams([12], direction: .outgoing)
        } catch {
            #expect(error.errno == .invalidArgument)
        }
        do {
            _ = try client.getOption(.resetStreams)
            Issue.record("SCTP_RESET_STREAMS is write-only")
        } catch {
            #expect(error.errno == .invalidArgument)
        }
    }

    @Test("without RE-CONFIG on one side the requests fail with EOPNOTSUPP")
    func notSupported() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let listener = try SCTPSocket.forTest(on: stack)
        defer { try? listener.close() }
        try listener.setOption(.reconfigSupported, false)
        try listener.bind(address("127.0.0.1", 0))
        try listener.listen()
        let client = try SCTPSocket.forTest(on: stack)
        defer { try? client.close() }
        try client.bind(address("127.0.0.1", 0))
        _ = try client.connectx([address("127.0.0.1", try #require(listener.localPort))])
        #expect(try client.getOption(.reconfigSupported) == false)
        do {
            try client.resetStreams([1], direction: .outgoing)
            Issue.record("expected EOPNOTSUPP")
        } catch {
            #expect(error.errno == .notSupported)
        }
    }

    @Test("the async API resets a stream and the peer's inbound sequence reports it")
    func asyncReset() async throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let listener = try SCTPListener.bind([address("127.0.0.1", 0)], stack: stack) { socket in
            try socket.setOption(.events, [.streamReset])
        }
        defer { listener.close() }
        let port = try #require(listener.port)
        let association = try await SCTPAssociation.connect(to: [address("127.0.0.1", port)], stack: stack)
        let accepted = try await listener.accept()
        try await association.send(ByteBuffer(string: "before"), stream: 1)
        try association.resetStreams([1])
        try await association.send(ByteBuffer(string: "after"), stream: 1)
        var seen: [String] = []
        for try await item in accepted.inbound {
            switch item {
            case .message(let m): seen.append("\(String(buffer: m.data))@\(m.info.streamSequenceNumber)")
            case .notification(.streamReset(let e, _)): seen.append("reset \(e.streams)")
            case .notification: break
            }
            if seen.count == 3 { break }
        }
        #expect(seen == ["before@0", "reset [1]", "after@0"])
        association.abort()
        accepted.abort()
    }
}
