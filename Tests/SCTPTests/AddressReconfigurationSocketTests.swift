import NIOCore
@testable import SCTP
import SCTPCore
import Testing

/// RFC 5061 (ASCONF) through the sockets API: `sctp_bindx` on a connected socket,
/// `SCTP_SET_PEER_PRIMARY_ADDR`, `SCTP_PRIMARY_ADDR`, over UDP on loopback (127.0.0.x, each
/// bound explicitly). AUTH is not in this branch: both sides accept unauthenticated ASCONF.
@Suite("address reconfiguration through sockets")
struct AddressReconfigurationSocketTests {
    static func configure(_ socket: SCTPSocket) throws {
        try socket.setOption(.asconfSupported, true)
        try socket.setOption(.acceptsUnauthenticatedAddressChanges, true)
        try socket.setOption(.events, [.peerAddressChange, .associationChange])
    }

    static func pair(_ stack: SCTPStack) throws -> (listener: SCTPSocket, client: SCTPSocket, server: SCTPSocket, id: AssociationID) {
        let listener = try SCTPSocket.forTest(on: stack)
        try configure(listener)
        try listener.bind(address("127.0.0.1", 0))
        try listener.listen()
        let client = try SCTPSocket.forTest(on: stack)
        try configure(client)
        try client.bind(address("127.0.0.2", 0))
        let id = try client.connectx([address("127.0.0.1", try #require(listener.localPort))])
        let server = try listener.accept()
        return (listener, client, server, id)
    }

    /// The next peer address change notification, skipping the others (bounded).
    static func nextAddressChange(_ socket: SCTPSocket) throws -> (String?, SCTPPeerAddressState)? {
        for _ in 0..<16 {
            guard case .notification(let notification)? = try socket.recvmsg() else { continue }
            if case .peerAddressChange(let address, let state, _) = notification { return (address?.ipAddress, state) }
        }
        return nil
    }

    @Test("bindx add and remove on a connected socket: the peer adds, makes primary and removes the addresses; data flows throughout")
    func bindxOnConnectedSocket() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server, _) = try Self.pair(stack)
        defer { try? listener.close(); try? client.close(); try? server.close() }
        #expect(try client.getOption(.asconfSupported) == true)
        #expect(try client.getOption(.autoASCONF) == true)
        try client.sendmsg(ByteBuffer(string: "before"), info: SCTPSendInfo(stream: 0))
        #expect(String(buffer: try server.nextMessage().data) == "before")

        try client.bindx([address("127.0.0.3", 0)], .add)
        let added = try #require(try Self.nextAddressChange(server))
        #expect(added.0 == "127.0.0.3" && added.1 == .added)

        try client.setPeerPrimaryAddress(address("127.0.0.3", try #require(client.localPort)))
        // SCTP_ADDR_MADE_PRIM, and SCTP_ADDR_AVAILABLE once a heartbeat confirmed the path
        // (data goes to an unconfirmed path only once it is confirmed), in either order.
        var madePrimary = false
        var confirmed = false
        for _ in 0..<8 where !(madePrimary && confirmed) {
            guard let change = try Self.nextAddressChange(server) else { break }
            if change.0 == "127.0.0.3" && change.1 == .madePrimary { madePrimary = true }
            if change.0 == "127.0.0.3" && change.1 == .available { confirmed = true }
        }
        #expect(madePrimary && confirmed)
        #expect(try server.getOption(.primaryAddress).ipAddress == "127.0.0.3")

        // Remove the address the association started with: the client's packets leave from
        // 127.0.0.3 from now on, and the server deletes the path to 127.0.0.2.
        try client.bindx([address("127.0.0.2", 0)], .remove)
        var removed: (String?, SCTPPeerAddressState)?
        for _ in 0..<4 {
            guard let change = try Self.nextAddressChange(server) else { break }
            if change.1 == .removed { removed = change; break }
        }
        #expect(removed?.0 == "127.0.0.2")
        #expect(try server.getpaddrs().compactMap(\.ipAddress) == ["127.0.0.3"])
        try client.sendmsg(ByteBuffer(string: "after"), info: SCTPSendInfo(stream: 0))
        #expect(String(buffer: try server.nextMessage().data) == "after")
        try server.sendmsg(ByteBuffer(string: "reply"), info: SCTPSendInfo(stream: 0))
        #expect(String(buffer: try client.nextMessage().data) == "reply")
        // The server's ASCONF-ACK went before its reply: the client knows its address set.
        #expect(try client.localAddresses().compactMap(\.ipAddress) == ["127.0.0.3"])

        // Errors with the errnos RFC 6458 names.
        #expect(throws: SCTPError.self) { try client.bindx([address("127.0.0.3", 0)], .remove) }
        let port = try #require(client.localPort)
        do throws(SCTPError) {
            try client.setPeerPrimaryAddress(address("127.0.0.9", port))
            Issue.record("SCTP_SET_PEER_PRIMARY_ADDR with an address not ours succeeded")
        } catch {
            #expect(error.errno == .addressNotAvailable)
        }
    }

    @Test("bindx add on a listener announces the address to its associations only while SCTP_AUTO_ASCONF is on (RFC 6458 §9.1)")
    func bindxOnListener() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server, _) = try Self.pair(stack)
        defer { try? listener.close(); try? client.close(); try? server.close() }
        try listener.bindx([address("127.0.0.4", 0)], .add)
        let added = try #require(try Self.nextAddressChange(client))
        #expect(added.0 == "127.0.0.4" && added.1 == .added)
        #expect(try client.getpaddrs().compactMap(\.ipAddress).contains("127.0.0.4"))
        try server.sendmsg(ByteBuffer(string: "still here"), info: SCTPSendInfo(stream: 0))
        #expect(String(buffer: try client.nextMessage().data) == "still here")
        // SCTP_AUTO_ASCONF off: a later bindx changes only later associations; the live one
        // sends no ASCONF.
        try listener.setOption(.autoASCONF, false)
        #expect(try listener.getOption(.autoASCONF) == false)
        try listener.bindx([address("127.0.0.5", 0)], .add)
        #expect(try listener.getOption(.autoASCONF) == false)
        try server.sendmsg(ByteBuffer(string: "after off"), info: SCTPSendInfo(stream: 0))
        #expect(String(buffer: try client.nextMessage().data) == "after off")
        #expect(!(try client.getpaddrs().compactMap(\.ipAddress).contains("127.0.0.5")))
        // On again: the next bindx is announced, and it is the first change the client sees
        // since 127.0.0.4 (an ASCONF for 127.0.0.5 would have gone before it).
        try listener.setOption(.autoASCONF, true)
        try listener.bindx([address("127.0.0.6", 0)], .add)
        var next: (String?, SCTPPeerAddressState)?
        for _ in 0..<4 {
            guard let change = try Self.nextAddressChange(client) else { break }
            if change.1 == .added { next = change; break }
        }
        #expect(next?.0 == "127.0.0.6")
        let peers = try client.getpaddrs().compactMap(\.ipAddress)
        #expect(peers.contains("127.0.0.6") && !peers.contains("127.0.0.5"))
    }

    @Test("without ASCONF negotiated, SCTP_SET_PEER_PRIMARY_ADDR fails with EOPNOTSUPP")
    func notNegotiated() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let listener = try SCTPSocket.forTest(on: stack)
        try listener.bind(address("127.0.0.1", 0))
        try listener.listen()
        let client = try SCTPSocket.forTest(on: stack)
        try Self.configure(client)
        try client.bind(address("127.0.0.2", 0))
        _ = try client.connectx([address("127.0.0.1", try #require(listener.localPort))])
        let server = try listener.accept()
        defer { try? listener.close(); try? client.close(); try? server.close() }
        #expect(try client.getOption(.asconfSupported) == false)
        let port = try #require(client.localPort)
        do throws(SCTPError) {
            try client.setPeerPrimaryAddress(address("127.0.0.2", port))
            Issue.record("SCTP_SET_PEER_PRIMARY_ADDR succeeded without ASCONF")
        } catch {
            #expect(error.errno == .notSupported)
        }
    }
}
