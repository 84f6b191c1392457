import Foundation
import NIOCore
import SCTP
import SCTPCore
import SCTPWire
import SystemPackage
import Testing

/// `SCTP_REUSE_PORT` (RFC 6458 §8.1.27): one-to-one sockets sharing a port, over real
/// sockets on loopback.
@Suite("SCTPSocket: SCTP_REUSE_PORT")
struct ReusePortTests {
    /// A one-to-one socket with `SCTP_REUSE_PORT` set, bound to 127.0.0.1:`port`.
    static func reusing(on stack: SCTPStack, port: UInt16) throws -> SCTPSocket {
        let socket = try SCTPSocket.forTest(on: stack)
        try socket.setOption(.reusePort, true)
        try socket.bind(address("127.0.0.1", port))
        return socket
    }

    /// Accepts without waiting on every listener until `count` sockets came, polling for at
    /// most 5 s; the sockets by the listener that accepted them.
    static func acceptAll(_ listeners: [SCTPSocket], count: Int) throws -> [[SCTPSocket]] {
        var accepted: [[SCTPSocket]] = listeners.map { _ in [] }
        for listener in listeners { try listener.setOption(.nonBlocking, true) }
        let deadline = ContinuousClock.now + .seconds(5)
        while accepted.joined().count < count, ContinuousClock.now < deadline {
            for (index, listener) in listeners.enumerated() {
                let socket: SCTPSocket
                do {
                    socket = try listener.accept()
                } catch {
                    if error.errno == .wouldBlock { continue }
                    throw error
                }
                try socket.setOption(.nonBlocking, false)
                try socket.setOption(.receiveTimeout, .seconds(15))
                accepted[index].append(socket)
            }
            if accepted.joined().count < count { Thread.sleep(forTimeInterval: 0.005) }
        }
        return accepted
    }

    @Test("at most one listener per shared port (a second listen is EADDRINUSE); a client socket on the same port keeps its own association beside the listener's; once the listener closes another may listen")
    func oneListenerPerPort() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let first = try Self.reusing(on: stack, port: 0)
        let port = try #require(first.localPort)
        let second = try Self.reusing(on: stack, port: port)
        try first.listen()
        #expect(errno { try second.listen() } == .addressInUse, "RFC 6458 §8.1.27: at most one socket on the port listens")
        #expect(try first.getOption(.reusePort) && second.getOption(.reusePort))
        // Nor through bindx: a listener on another address of the port may not add the first's.
        let third = try SCTPSocket.forTest(on: stack)
        try third.setOption(.reusePort, true)
        try third.bind(address("127.0.0.4", port))
        try third.listen()
        #expect(errno { try third.bindx([address("127.0.0.1", port)], .add) } == .addressInUse)
        #expect(try third.getladdrs() == [address("127.0.0.4", port)])
        try third.close()

        // A socket on the shared port as a client, to a listener elsewhere.
        let elsewhere = try SCTPSocket.forTest(on: stack)
        try elsewhere.bind(address("127.0.0.2", 0))
        try elsewhere.listen()
        let outbound = try Self.reusing(on: stack, port: port)
        let elsewherePort = try #require(elsewhere.localPort)
        try outbound.connectx([address("127.0.0.2", elsewherePort)])
        let far = try elsewhere.accept()
        try far.setOption(.receiveTimeout, .seconds(15))

        // Clients of the listener.
        let clients = try (0..<4).map { _ in
            let client = try SCTPSocket.forTest(on: stack)
            try client.connectx([address("127.0.0.1", port)])
            return client
        }
        let accepted = try Self.acceptAll([first], count: clients.count)[0]
        #expect(accepted.count == clients.count)
        var serverByClientPort: [Int: SCTPSocket] = [:]
        for server in accepted {
            let peerPort = try #require(try server.getpaddrs().first?.port)
            serverByClientPort[peerPort] = server
        }
        #expect(serverByClientPort.count == clients.count)
        #expect(accepted.first.map { (try? $0.getOption(.reusePort)) == true } == true, "an accepted socket reports its listener's value")

        // Data on every association of the port, none mixed up.
        try outbound.send(Array("outbound".utf8))
        for (index, client) in clients.enumerated() { try client.send(Array("client \(index)".utf8)) }
        #expect(text(try far.nextMessage().data) == "outbound")
        try far.send(Array("back".utf8))
        #expect(text(try outbound.nextMessage().data) == "back")
        for (index, client) in clients.enumerated() {
            let clientPort = try #require(client.localPort)
            let server = try #require(serverByClientPort[Int(clientPort)])
            #expect(text(try server.nextMessage().data) == "client \(index)")
            try server.send(Array("echo \(index)".utf8))
            #expect(text(try client.nextMessage().data) == "echo \(index)")
        }

        // The listener gone, the other socket may listen and takes new associations.
        for server in accepted { try server.close() }
        try first.close()
        try second.listen()
        let late = try SCTPSocket.forTest(on: stack)
        try late.connectx([address("127.0.0.1", port)])
        let lateServer = try second.accept()
        try late.send(Array("late".utf8))
        #expect(text(try lateServer.nextMessage().data) == "late")
        for socket in clients + [late, lateServer, second, outbound, far, elsewhere] { try? socket.close() }
    }

    @Test("without SCTP_REUSE_PORT on both sockets the second bind is EADDRINUSE")
    func bindNeedsTheOptionOnAll() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let plain = try SCTPSocket.forTest(on: stack)
        try plain.bind(address("127.0.0.1", 0))
        let port = try #require(plain.localPort)
        let alsoPlain = try SCTPSocket.forTest(on: stack)
        #expect(errno { try alsoPlain.bind(address("127.0.0.1", port)) } == .addressInUse)
        let reusing = try SCTPSocket.forTest(on: stack)
        try reusing.setOption(.reusePort, true)
        #expect(errno { try reusing.bind(address("127.0.0.1", port)) } == .addressInUse)

        let shared = try Self.reusing(on: stack, port: 0)
        let sharedPort = try #require(shared.localPort)
        let withoutOption = try SCTPSocket.forTest(on: stack)
        #expect(errno { try withoutOption.bind(address("127.0.0.1", sharedPort)) } == .addressInUse)
        let withOption = try Self.reusing(on: stack, port: sharedPort)
        #expect(withOption.localPort == sharedPort)
        for socket in [plain, alsoPlain, reusing, shared, withoutOption, withOption] { try? socket.close() }
    }

    @Test("two clients on one fixed port, each connected to another listener: data both ways; a second association to one peer is EADDRNOTAVAIL")
    func clientsShareAFixedPort() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listenerA, portA) = try listening(on: stack, [address("127.0.0.1", 0)])
        let (listenerB, portB) = try listening(on: stack, [address("127.0.0.1", 0)])
        let clientA = try Self.reusing(on: stack, port: 0)
        let shared = try #require(clientA.localPort)
        let clientB = try Self.reusing(on: stack, port: shared)
        try clientA.connectx([address("127.0.0.1", portA)])
        try clientB.connectx([address("127.0.0.1", portB)])
        let serverA = try listenerA.accept(), serverB = try listenerB.accept()
        #expect(try serverA.getpaddrs().map(\.port) == [Int(shared)])
        #expect(try serverB.getpaddrs().map(\.port) == [Int(shared)])

        for round in 0..<3 {
            try clientA.send(Array("to A \(round)".utf8))
            try clientB.send(Array("to B \(round)".utf8))
            #expect(text(try serverA.nextMessage().data) == "to A \(round)")
            #expect(text(try serverB.nextMessage().data) == "to B \(round)")
            try serverB.send(Array("from B \(round)".utf8))
            try serverA.send(Array("from A \(round)".utf8))
            #expect(text(try clientA.nextMessage().data) == "from A \(round)")
            #expect(text(try clientB.nextMessage().data) == "from B \(round)")
        }

        // Its packets could not be told from clientA's association with the same peer.
        let third = try Self.reusing(on: stack, port: shared)
        #expect(errno { try third.connectx([address("127.0.0.1", portA)]) } == .addressNotAvailable)
        #expect(try clientA.getOption(.status).state == .established)
        for socket in [listenerA, listenerB, clientA, clientB, serverA, serverB, third] { try? socket.close() }
    }

    @Test("set after bind is EINVAL; a one-to-many socket is EOPNOTSUPP; off by default")
    func setBeforeBindOnly() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let socket = try SCTPSocket.forTest(on: stack)
        #expect(try socket.getOption(.reusePort) == false)
        try socket.bind(address("127.0.0.1", 0))
        #expect(errno { try socket.setOption(.reusePort, true) } == .invalidArgument)
        #expect(try socket.getOption(.reusePort) == false)
        let many = try SCTPSocket.forTest(.oneToMany, on: stack)
        #expect(errno { try many.setOption(.reusePort, true) } == .notSupported)
        for socket in [socket, many] { try? socket.close() }
    }
}
