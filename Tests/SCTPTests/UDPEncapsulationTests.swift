import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore
import SCTPWire
import Testing

/// Collects events from the driver's event loop for the test thread.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [SCTPEvent] = []
    func append(_ event: SCTPEvent) { lock.withLock { events.append(event) } }
    var all: [SCTPEvent] { lock.withLock { events } }
    var messages: [ReceivedMessage] { all.compactMap { if case .message(_, let m) = $0 { m } else { nil } } }
}

/// Waits for a future with a deadline, so a broken test fails instead of hanging.
func wait<T: Sendable>(_ future: EventLoopFuture<T>, seconds: Int64 = 20) throws -> T {
    let promise = future.eventLoop.makePromise(of: T.self)
    future.cascade(to: promise)
    let timeout = future.eventLoop.scheduleTask(in: .seconds(seconds)) {
        promise.fail(SCTPError(.timedOut, "test deadline of \(seconds) s passed"))
    }
    defer { timeout.cancel() }
    return try promise.futureResult.wait()
}

/// Polls `condition` until it holds or the deadline passes.
/// One association inside one stack, over its sockets API: a listener on 127.0.0.1, a client
/// on 127.0.0.2 connected to it (blocking `connectx`), and the socket the listener accepted;
/// all with a 20 s receive timeout. The listener is returned too: it stays open while used.
func loopbackPair(on stack: SCTPStack) throws -> (listener: SCTPSocket, client: SCTPSocket, server: SCTPSocket, id: AssociationID) {
    let listener = SCTPSocket(stack: stack)
    try listener.setOption(.receiveTimeout, .seconds(20))
    try listener.bind([try SocketAddress(ipAddress: "127.0.0.1", port: 0)])
    try listener.listen()
    let port = try #require(try listener.getladdrs().first?.port)
    let client = SCTPSocket(stack: stack)
    try client.setOption(.receiveTimeout, .seconds(20))
    try client.bind([try SocketAddress(ipAddress: "127.0.0.2", port: 0)])
    let id = try client.connectx([try SocketAddress(ipAddress: "127.0.0.1", port: port)])
    let server = try listener.accept()
    try server.setOption(.receiveTimeout, .seconds(20))
    return (listener, client, server, id)
}

func eventually(seconds: Double = 20, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return condition()
}

@Suite("UDP encapsulation driver on loopback")
struct UDPEncapsulationTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    func start(_ addresses: [String], sctpPort: UInt16, listens: Bool, peerUDPPort: Int = 9899,
               configure: (inout SCTPConfiguration) -> Void = { _ in }) throws -> (UDPEncapsulationEndpoint, EventLog) {
        var options = UDPEncapsulationEndpoint.Options(sctpPort: sctpPort, localAddresses: addresses)
        options.udpPort = 0
        options.peerUDPPort = peerUDPPort
        options.acceptsAssociations = listens
        configure(&options.configuration)
        let log = EventLog()
        let endpoint = try wait(UDPEncapsulationEndpoint.start(options: options, on: Self.group.next()) { log.append($0) })
        return (endpoint, log)
    }

    @Test("a start that fails on its second address closes the first: the UDP port is free again at once")
    func failedStartClosesItsSockets() throws {
        // 127.0.0.2:P is taken, so binding 127.0.0.1:P then 127.0.0.2:P fails on the second.
        let blocker = try DatagramBootstrap(group: Self.group).bind(host: "127.0.0.2", port: 0).wait()
        defer { try? blocker.close().wait() }
        let port = try #require(blocker.localAddress?.port)
        var options = UDPEncapsulationEndpoint.Options(sctpPort: 5001, localAddresses: ["127.0.0.1", "127.0.0.2"])
        options.udpPort = port
        #expect { try wait(UDPEncapsulationEndpoint.start(options: options, on: Self.group.next()) { _ in }) } throws: { error in
            (error as? SCTPError)?.errno == .addressInUse
        }
        options.localAddresses = ["127.0.0.1"]
        let endpoint = try wait(UDPEncapsulationEndpoint.start(options: options, on: Self.group.next()) { _ in })
        #expect(endpoint.localUDPPort == port)
        try wait(endpoint.close())
    }

    @Test("endpoints on one stack: one UDP port, each association its own SCTP port; closing one leaves the other and the stack; a port twice is EADDRINUSE")
    func endpointsSharingAStack() throws {
        let (server, serverLog) = try start(["127.0.0.1"], sctpPort: 5001, listens: true)
        defer { _ = try? wait(server.close()) }
        let stack = SCTPStack(options: SCTPStack.Options(udpPort: 0, peerUDPPort: server.localUDPPort), group: Self.group.next())
        defer { _ = try? wait(stack.close()) }
        #expect(stack.isUDP && !SCTPStack(carrier: { _ in }).isUDP)
        let options = { (port: UInt16) in UDPEncapsulationEndpoint.Options(sctpPort: port, localAddresses: ["127.0.0.1"]) }
        let first = try wait(UDPEncapsulationEndpoint.start(options: options(6001), on: stack) { _ in })
        let second = try wait(UDPEncapsulationEndpoint.start(options: options(6002), on: stack) { _ in })
        #expect(first.localUDPPort == second.localUDPPort && first.localUDPPort != 0)
        #expect { try wait(UDPEncapsulationEndpoint.start(options: options(6001), on: stack) { _ in }) } throws: { error in
            (error as? SCTPError)?.errno == .addressInUse
        }
        let a = try wait(first.connect(to: ["127.0.0.1"], port: 5001))
        let b = try wait(second.connect(to: ["127.0.0.1"], port: 5001))
        try wait(first.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(string: "from 6001")), on: a))
        #expect(eventually { serverLog.messages.count == 1 })
        try wait(first.close())
        try wait(second.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(string: "from 6002")), on: b))
        #expect(eventually { serverLog.messages.count == 2 })
        #expect(Set(serverLog.messages.map { String(buffer: $0.payload) }) == ["from 6001", "from 6002"])
        try wait(second.close())
    }

    @Test("connect, messages both ways on several streams, graceful shutdown")
    func transfer() throws {
        let (server, serverLog) = try start(["127.0.0.1", "127.0.0.2"], sctpPort: 5001, listens: true)
        defer { _ = try? wait(server.close()) }
        let (client, clientLog) = try start(["127.0.0.1"], sctpPort: 5002, listens: false, peerUDPPort: server.localUDPPort)
        defer { _ = try? wait(client.close()) }

        let id = try wait(client.connect(to: ["127.0.0.1", "127.0.0.2"], port: 5001))
        let peers = try wait(client.peerAddresses(of: id))
        #expect(Set(peers.map(\.description)) == ["127.0.0.1", "127.0.0.2"])
        #expect(try wait(client.streams(of: id))! == (outbound: 10, inbound: 10))

        let count = 500
        var futures: [EventLoopFuture<Void>] = []
        for index in 0..<count {
            var payload = ByteBuffer()
            payload.writeInteger(UInt32(index))
            payload.writeRepeatingByte(UInt8(truncatingIfNeeded: index), count: index % 3000)
            futures.append(client.send(OutgoingMessage(streamIdentifier: UInt16(index % 5), payloadProtocolIdentifier: 53,
                                                       payload: payload), on: id))
        }
        try wait(EventLoopFuture.andAllSucceed(futures, on: client.eventLoop))
        #expect(eventually { serverLog.messages.count == count })
        let received = serverLog.messages
        #expect(received.count == count)
        for stream in UInt16(0)..<5 {
            let order = received.filter { $0.streamIdentifier == stream }.map { Int($0.payload.getInteger(at: $0.payload.readerIndex, as: UInt32.self)!) }
            #expect(order == Array(stride(from: Int(stream), to: count, by: 5)))
        }
        for m in received {
            let index = Int(m.payload.getInteger(at: m.payload.readerIndex, as: UInt32.self)!)
            #expect(m.payload.readableBytes == 4 + index % 3000)
            #expect(m.payloadProtocolIdentifier == 53)
        }
        try wait(client.shutdown(id))
        #expect(eventually { serverLog.all.contains { if case .shutdownComplete = $0 { true } else { false } } })
        #expect(clientLog.all.contains { if case .shutdownComplete = $0 { true } else { false } })
    }

    @Test("a batch send that waits for room and then meets an error fails with it, and its later messages are not sent")
    func blockedBatchFailsMidway() throws {
        let (server, serverLog) = try start(["127.0.0.1"], sctpPort: 5001, listens: true)
        defer { _ = try? wait(server.close()) }
        let (client, _) = try start(["127.0.0.1"], sctpPort: 5002, listens: false, peerUDPPort: server.localUDPPort) {
            $0.sendBufferSize = 4000
        }
        defer { _ = try? wait(client.close()) }
        let id = try wait(client.connect(to: ["127.0.0.1"], port: 5001))
        func message(_ tag: UInt8, stream: UInt16 = 0, length: Int) -> OutgoingMessage {
            OutgoingMessage(streamIdentifier: stream, payloadProtocolIdentifier: UInt32(tag),
                            payload: ByteBuffer(repeating: tag, count: length))
        }
        // The second message finds the send buffer full: it and the rest wait for room. The
        // third names a stream the association does not have (10 outbound).
        let batch = [message(1, length: 3000), message(2, length: 3000), message(3, stream: 999, length: 10),
                     message(4, length: 10)]
        #expect(throws: SCTPError.self) { try wait(client.send(batch, on: id)) }
        // A message sent after the batch arrives after everything of it that was sent.
        try wait(client.send([message(5, length: 10)], on: id))
        #expect(eventually { serverLog.messages.contains { $0.payloadProtocolIdentifier == 5 } })
        #expect(serverLog.messages.map(\.payloadProtocolIdentifier) == [1, 2, 5])
    }

    @Test("connectx: a silent first address, then the live one (round robin on T1 expiry)")
    func roundRobin() throws {
        let (server, _) = try start(["127.0.0.2"], sctpPort: 5001, listens: true)
        defer { _ = try? wait(server.close()) }
        let (client, _) = try start(["127.0.0.1"], sctpPort: 5002, listens: false, peerUDPPort: server.localUDPPort) {
            $0.rtoInitial = .milliseconds(200)
        }
        defer { _ = try? wait(client.close()) }
        let started = Date()
        let id = try wait(client.connect(to: ["127.0.0.3", "127.0.0.2"], port: 5001))
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed >= 0.19 && elapsed < 5)
        #expect(try wait(client.peerAddresses(of: id)).map(\.description) == ["127.0.0.2"])
    }

    @Test("abort: the peer learns of it at once; a second abort of the same id is EINVAL")
    func abort() throws {
        let (server, serverLog) = try start(["127.0.0.1"], sctpPort: 5001, listens: true)
        defer { _ = try? wait(server.close()) }
        let (client, clientLog) = try start(["127.0.0.1"], sctpPort: 5002, listens: false, peerUDPPort: server.localUDPPort)
        defer { _ = try? wait(client.close()) }
        let id = try wait(client.connect(to: ["127.0.0.1"], port: 5001))
        var reason = ByteBuffer()
        reason.writeString("going away")
        try wait(client.abort(id, reason: reason))
        #expect(clientLog.all.contains { if case .communicationLost(id, .userAborted) = $0 { true } else { false } })
        #expect(eventually {
            serverLog.all.contains { if case .communicationLost(_, .peerAborted) = $0 { true } else { false } }
        })
        do {
            try wait(client.abort(id))
            Issue.record("a second abort succeeded")
        } catch let error as SCTPError {
            #expect(error.errno == .invalidArgument)
        }
        // The endpoint sets up the next association as if nothing had happened.
        let next = try wait(client.connect(to: ["127.0.0.1"], port: 5001))
        #expect(next != id)
        try wait(client.shutdown(next))
    }

    @Test("a closed port answers with ABORT: ECONNREFUSED")
    func refused() throws {
        let (server, _) = try start(["127.0.0.2"], sctpPort: 5001, listens: false)
        defer { _ = try? wait(server.close()) }
        let (client, _) = try start(["127.0.0.1"], sctpPort: 5002, listens: false, peerUDPPort: server.localUDPPort)
        defer { _ = try? wait(client.close()) }
        #expect(throws: SCTPError.self) { try wait(client.connect(to: ["127.0.0.2"], port: 5001)) }
        do {
            _ = try wait(client.connect(to: ["127.0.0.2"], port: 5001))
        } catch let error as SCTPError {
            #expect(error.errno == .connectionRefused)
        }
    }

    @Test("zero checksum (RFC 9653) is refused over UDP: EINVAL")
    func zeroChecksumRefused() throws {
        do {
            let (endpoint, _) = try start(["127.0.0.1"], sctpPort: 5003, listens: true) {
                $0.zeroChecksumMethod = ZeroChecksumAcceptableParameter.dtls
            }
            _ = try? wait(endpoint.close())
            Issue.record("a UDP endpoint started with zero checksum")
        } catch let error as SCTPError {
            #expect(error.errno == .invalidArgument)
        }
    }

    @Test("only silent addresses: ETIMEDOUT")
    func timedOut() throws {
        let (client, _) = try start(["127.0.0.1"], sctpPort: 5002, listens: false, peerUDPPort: 9) {
            $0.rtoInitial = .milliseconds(50)
            $0.maxInitRetransmits = 3
        }
        defer { _ = try? wait(client.close()) }
        do {
            _ = try wait(client.connect(to: ["127.0.0.3", "127.0.0.4"], port: 5001))
            Issue.record("connect succeeded")
        } catch let error as SCTPError {
            #expect(error.errno == .timedOut)
        }
    }
}
