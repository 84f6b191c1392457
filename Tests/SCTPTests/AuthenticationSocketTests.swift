import NIOCore
import SCTP
import SCTPCore
import Testing

/// AUTH (RFC 4895) through the sockets API (RFC 6458 §8 options) and the async API, over UDP
/// on loopback.
@Suite("AUTH through sockets")
struct AuthenticationSocketTests {
    /// Asks for DATA and SACK authenticated under key 1 = `key`.
    static func configure(_ socket: SCTPSocket, key: [UInt8]) throws {
        try socket.setOption(.authChunk, 0)
        try socket.setOption(.authChunk, 3)
        try socket.setOption(.authKey, SCTPAuthKey(keyNumber: 1, key: key))
        try socket.setOption(.authActiveKey, 1)
    }

    static func pair(_ stack: SCTPStack, clientKey: [UInt8] = [1, 2, 3], serverKey: [UInt8] = [1, 2, 3])
        throws -> (listener: SCTPSocket, client: SCTPSocket, server: SCTPSocket, id: AssociationID) {
        let listener = try SCTPSocket.forTest(on: stack)
        try configure(listener, key: serverKey)
        try listener.setOption(.events, [.authentication])
        try listener.bind(address("127.0.0.1", 0))
        try listener.listen()
        let client = try SCTPSocket.forTest(on: stack)
        try configure(client, key: clientKey)
        try client.setOption(.events, [.authentication])
        try client.bind(address("127.0.0.1", 0))
        let id = try client.connectx([address("127.0.0.1", try #require(listener.localPort))])
        let server = try listener.accept()
        return (listener, client, server, id)
    }

    @Test("RFC 6458 §8: options before the association: SCTP_AUTH_CHUNK, SCTP_HMAC_IDENT, SCTP_LOCAL_AUTH_CHUNKS, key options and their EINVALs")
    func optionsBeforeAssociation() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let socket = try SCTPSocket.forTest(on: stack)
        defer { try? socket.close() }
        #expect(try socket.getOption(.authSupported))
        try socket.setOption(.authChunk, 0)
        #expect(try socket.getOption(.localAuthChunks) == [0])
        #expect(try socket.getOption(.hmacIdent) == [3, 1])
        try socket.setOption(.hmacIdent, [1])
        #expect(try socket.getOption(.hmacIdent) == [1])
        #expect(try socket.getOption(.authActiveKey) == 0)
        for (what, call) in [
            ("AUTH chunk type", { try socket.setOption(.authChunk, 15) }),
            ("INIT chunk type", { try socket.setOption(.authChunk, 1) }),
            ("HMAC list without SHA-1", { try socket.setOption(.hmacIdent, [3]) }),
            ("unknown HMAC", { try socket.setOption(.hmacIdent, [1, 2]) }),
            ("activate a missing key", { try socket.setOption(.authActiveKey, 9) }),
            ("delete the active key", { try socket.setOption(.authDeleteKey, 0) }),
            ("deactivate the active key", { try socket.setOption(.authDeactivateKey, 0) }),
            ("delete a missing key", { try socket.setOption(.authDeleteKey, 9) }),
        ] as [(String, () throws -> Void)] {
            do {
                try call()
                Issue.record("\(what): accepted")
            } catch let error as SCTPError {
                #expect(error.errno == .invalidArgument, "\(what): \(error)")
            }
        }
        do {
            _ = try socket.getOption(.peerAuthChunks)
            Issue.record("SCTP_PEER_AUTH_CHUNKS without an association")
        } catch {
            #expect(error.errno == .invalidArgument)
        }
        try socket.setOption(.authKey, SCTPAuthKey(keyNumber: 4, key: [9]))
        try socket.setOption(.authActiveKey, 4)
        try socket.setOption(.authDeactivateKey, 0)
        try socket.setOption(.authDeleteKey, 0)
    }

    @Test("DATA and SACK authenticated between two sockets; the peer's chunk list and keys read back; a key change mid-association")
    func authenticatedTransfer() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server, _) = try Self.pair(stack)
        defer { try? listener.close(); try? client.close(); try? server.close() }
        #expect(try client.getOption(.authSupported))
        #expect(try client.getOption(.peerAuthChunks) == [0, 3, 16])  // NR-SACK (16) comes with SACK
        #expect(try server.getOption(.peerAuthChunks) == [0, 3, 16])
        #expect(try client.getOption(.authActiveKey) == 1)
        try client.sendmsg(ByteBuffer(string: "one"), info: SCTPSendInfo(stream: 0))
        #expect(String(buffer: try server.nextMessage().data) == "one")
        // Key 2 on both ends, then the client switches to it: the server hears of the new key.
        try server.setOption(.authKey, SCTPAuthKey(keyNumber: 2, key: [7, 7]))
        try client.setOption(.authKey, SCTPAuthKey(keyNumber: 2, key: [7, 7]))
        try client.setOption(.authActiveKey, 2)
        try client.sendmsg(ByteBuffer(string: "two"), info: SCTPSendInfo(stream: 0))
        var sawNewKey = false
        var second: String?
        for _ in 0..<4 where second == nil || !sawNewKey {
            switch try server.recvmsg() {
            case .message(let m)?: second = String(buffer: m.data)
            case .notification(.authentication(let event, _))?:
                if event.indication == .newKey && event.keyNumber == 2 { sawNewKey = true }
            default: break
            }
        }
        #expect(second == "two")
        #expect(sawNewKey)
        try client.setOption(.authDeactivateKey, 1)
        var freed: AuthenticationEvent?
        for _ in 0..<4 where freed == nil {
            // (The server's first use of key 1 may come first: SCTP_AUTH_NEW_KEY.)
            if case .authentication(let event, _) = try client.nextNotification(), event.indication == .freeKey { freed = event }
        }
        #expect(freed == AuthenticationEvent(indication: .freeKey, keyNumber: 1))
    }

    @Test("a wrong shared key: nothing is delivered")
    func wrongKey() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server, _) = try Self.pair(stack, clientKey: [1], serverKey: [2])
        defer { try? listener.close(); try? client.close(); try? server.close() }
        try client.sendmsg(ByteBuffer(string: "secret"), info: SCTPSendInfo(stream: 0))
        try server.setOption(.receiveTimeout, .milliseconds(1500))
        do {
            let received = try server.recvmsg()
            if case .message = received { Issue.record("delivered under a wrong key") }
        } catch {
            #expect(error.errno == .wouldBlock || error.errno == .resourceTemporarilyUnavailable, "\(error)")
        }
    }
}
