import NIOCore
import SCTP
import SCTPCore
import SystemPackage
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
        let client = try connecting(on: stack)
        try configure(client, key: clientKey)
        try client.setOption(.events, [.authentication])
        let id = try client.connectx([address("127.0.0.1", try #require(listener.localPort))])
        let server = try listener.accept()  // within the listener's SO_RCVTIMEO
        return (listener, client, server, id)
    }

    /// A bound socket whose connect gives up after a few seconds (3 INITs, at most 1 s apart).
    static func connecting(_ style: SCTPSocket.Style = .oneToOne, on stack: SCTPStack) throws -> SCTPSocket {
        let socket = try SCTPSocket.forTest(style, on: stack)
        try socket.setOption(.initMessage, SCTPInitMessage(maxAttempts: 3, maxInitTimeout: .seconds(1)))
        try socket.bind(address("127.0.0.1", 0))
        return socket
    }

    /// Reads `socket` until `found` accepts what came, for at most `seconds` in all (each read
    /// waits at most what is left) and 256 reads. Whether `found` accepted one.
    static func read(_ socket: SCTPSocket, within seconds: Int64 = 10, until found: (SCTPReceived) -> Bool) throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        for _ in 0..<256 {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return false }
            try socket.setOption(.receiveTimeout, left)
            let item: SCTPReceived?
            do {
                item = try socket.recvmsg()
            } catch {
                if error.errno == .wouldBlock || error.errno == .resourceTemporarilyUnavailable { return false }
                throw error
            }
            guard let item else { return false }
            if found(item) { return true }
        }
        return false
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
        var first: String?
        _ = try Self.read(server) { item in
            if case .message(let m) = item { first = String(buffer: m.data) }
            return first != nil
        }
        #expect(first == "one")
        // Key 2 on both ends, then the client switches to it: the server hears of the new key.
        try server.setOption(.authKey, SCTPAuthKey(keyNumber: 2, key: [7, 7]))
        try client.setOption(.authKey, SCTPAuthKey(keyNumber: 2, key: [7, 7]))
        try client.setOption(.authActiveKey, 2)
        try client.sendmsg(ByteBuffer(string: "two"), info: SCTPSendInfo(stream: 0))
        var sawNewKey = false
        var second: String?
        _ = try Self.read(server) { item in
            switch item {
            case .message(let m): second = String(buffer: m.data)
            case .notification(.authentication(let event, _)):
                if event.indication == .newKey && event.keyNumber == 2 { sawNewKey = true }
            default: break
            }
            return second != nil && sawNewKey
        }
        #expect(second == "two")
        #expect(sawNewKey)
        try client.setOption(.authDeactivateKey, 1)
        var freed: AuthenticationEvent?
        _ = try Self.read(client) { item in
            // (The server's first use of key 1 may come first: SCTP_AUTH_NEW_KEY.)
            if case .notification(.authentication(let event, _)) = item, event.indication == .freeKey { freed = event }
            return freed != nil
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
        let delivered = try Self.read(server, within: 2) { item in
            if case .message = item { return true }
            return false
        }
        #expect(!delivered, "delivered under a wrong key")
    }

    @Test("RFC 6458 §7.2: key options on a one-to-many socket with SCTP_FUTURE_ASSOC, SCTP_CURRENT_ASSOC, SCTP_ALL_ASSOC reach the settings, the live associations, or both; all or nothing")
    func oneToManySelectors() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let server = try SCTPSocket.forTest(.oneToMany, on: stack)
        defer { try? server.close() }
        try server.bind(address("127.0.0.1", 0))
        try server.listen()
        let port = try #require(server.localPort)
        var clients: [SCTPSocket] = []
        defer { for client in clients { try? client.close() } }
        var ids: [AssociationID] = []
        for index in 0..<2 {
            let client = try Self.connecting(.oneToMany, on: stack)
            clients.append(client)
            let id = try client.connectx([address("127.0.0.1", port)])
            try client.send(Array("hello \(index)".utf8), info: SCTPSendInfo(associationID: id))
            _ = try Self.read(server) { item in
                if case .message(let m) = item { ids.append(m.info.associationID) }
                return ids.count == index + 1
            }
        }
        #expect(Set(ids).count == 2)
        #expect(ids.allSatisfy { !$0.isSelector })
        guard ids.count == 2 else { return }
        func active(_ id: AssociationID?) throws -> UInt16 { try server.getOption(.authActiveKey, association: id) }

        // CURRENT: both associations get key 7, the settings do not.
        try server.setOption(.authKey, SCTPAuthKey(keyNumber: 7, key: [7]), association: .current)
        try server.setOption(.authActiveKey, 7, association: .current)
        #expect(try ids.map(active) == [7, 7])
        #expect(try active(nil) == 0)
        #expect(try active(.future) == 0)
        #expect(errno { try server.setOption(.authActiveKey, 7, association: .future) } == .invalidArgument)
        // FUTURE (and no id): the settings only.
        try server.setOption(.authKey, SCTPAuthKey(keyNumber: 9, key: [9]), association: .future)
        try server.setOption(.authActiveKey, 9)
        #expect(try active(nil) == 9)
        #expect(try ids.map(active) == [7, 7])
        #expect(errno { try server.setOption(.authActiveKey, 9, association: ids[0]) } == .invalidArgument)
        // ALL: both associations and the settings.
        try server.setOption(.authKey, SCTPAuthKey(keyNumber: 8, key: [8]), association: .all)
        try server.setOption(.authActiveKey, 8, association: .all)
        #expect(try ids.map(active) == [8, 8])
        #expect(try active(nil) == 8)
        // Reading with CURRENT or ALL names no one association.
        #expect(errno { _ = try active(.current) } == .invalidArgument)
        #expect(errno { _ = try server.getOption(.localAuthChunks, association: .all) } == .invalidArgument)

        // All or nothing: key 5 only on the first association; deleting it with CURRENT fails
        // on the second, and the first keeps it.
        try server.setOption(.authKey, SCTPAuthKey(keyNumber: 5, key: [5]), association: ids[0])
        #expect(errno { try server.setOption(.authDeleteKey, 5, association: .current) } == .invalidArgument)
        try server.setOption(.authActiveKey, 5, association: ids[0])
        #expect(try active(ids[0]) == 5)
        // With ALL, the settings refuse it (no key 6 there): nothing changes either.
        try server.setOption(.authKey, SCTPAuthKey(keyNumber: 6, key: [6]), association: .current)
        #expect(errno { try server.setOption(.authDeactivateKey, 6, association: .all) } == .invalidArgument)
        try server.setOption(.authActiveKey, 6, association: ids[1])
        #expect(try active(ids[1]) == 6)
        // The association goes on after the changes.
        try server.send(Array("still up".utf8), info: SCTPSendInfo(associationID: ids[1]))
        var reply: String?
        _ = try Self.read(clients[1]) { item in
            if case .message(let m) = item { reply = String(buffer: m.data) }
            return reply != nil
        }
        #expect(reply == "still up")
    }

    @Test("one-to-one: a key option that the association takes but the socket's settings refuse changes nothing (EINVAL), and the reverse")
    func oneToOneAtomic() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server, id) = try Self.pair(stack)
        defer { try? listener.close(); try? client.close(); try? server.close() }
        // Key 5 on the association only (named), key 6 in the settings only (set, then
        // deleted on the association).
        try client.setOption(.authKey, SCTPAuthKey(keyNumber: 5, key: [5]), association: id)
        try client.setOption(.authKey, SCTPAuthKey(keyNumber: 6, key: [6]))
        try client.setOption(.authDeleteKey, 6, association: id)
        // Without an id both are targets: the settings have no key 5, the association no key 6.
        #expect(errno { try client.setOption(.authDeleteKey, 5) } == .invalidArgument)
        #expect(errno { try client.setOption(.authDeactivateKey, 6) } == .invalidArgument)
        // Nothing changed: key 5 still activates on the association, key 6 in the settings
        // is still usable (not deactivated).
        try client.setOption(.authActiveKey, 5, association: id)
        #expect(try client.getOption(.authActiveKey, association: id) == 5)
        try client.setOption(.authKey, SCTPAuthKey(keyNumber: 6, key: [6]), association: id)
        try client.setOption(.authActiveKey, 6)
        #expect(try client.getOption(.authActiveKey) == 6)
    }

    @Test("SCTP_LOCAL_AUTH_CHUNKS without an association: the list INIT would announce (NR-SACK with SACK), empty with AUTH off")
    func localChunksAnnounced() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let socket = try SCTPSocket.forTest(on: stack)
        defer { try? socket.close() }
        try socket.setOption(.authChunk, 3)
        try socket.setOption(.authChunk, 3)
        #expect(try socket.getOption(.localAuthChunks) == [3, 16])
        try socket.setOption(.authSupported, false)
        #expect(try socket.getOption(.localAuthChunks) == [])
        try socket.setOption(.authSupported, true)
        let many = try SCTPSocket.forTest(.oneToMany, on: stack)
        defer { try? many.close() }
        try many.setOption(.authChunk, 3)
        #expect(try many.getOption(.localAuthChunks, association: .future) == [3, 16])
    }

    @Test("SCTP_HMAC_IDENT: repeats left out, the announced list read back; empty or over-long lists are EINVAL")
    func hmacIdentList() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let socket = try SCTPSocket.forTest(on: stack)
        defer { try? socket.close() }
        try socket.setOption(.hmacIdent, [3, 1, 3, 1, 1])
        #expect(try socket.getOption(.hmacIdent) == [3, 1])
        #expect(errno { try socket.setOption(.hmacIdent, []) } == .invalidArgument)
        #expect(errno { try socket.setOption(.hmacIdent, [UInt16](repeating: 1, count: 65)) } == .invalidArgument)
        #expect(try socket.getOption(.hmacIdent) == [3, 1])
    }
}
