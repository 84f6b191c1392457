import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SCTP
import SCTPCore
import SCTPTestSupport
import Testing

/// swift-sctp's own event loop: as a SwiftNIO `EventLoop` (tasks, timers, cancellation,
/// shutdown), and as the loop of stacks that read and write their UDP sockets themselves.
@Suite("SCTPEventLoop")
struct SCTPEventLoopTests {
    @Test("tasks from other threads run on the loop, in the order they were submitted")
    func tasksRunInOrder() throws {
        let loop = try SCTPEventLoop()
        defer { try? loop.syncShutdownGracefully() }
        #expect(!loop.inEventLoop)
        let seen = NIOLockedValueBox<[Int]>([])
        let onLoop = NIOLockedValueBox(true)
        for index in 0..<1000 {
            loop.execute {
                if !loop.inEventLoop { onLoop.withLockedValue { $0 = false } }
                seen.withLockedValue { $0.append(index) }
            }
        }
        let last = try wait(loop.submit { seen.withLockedValue { $0.count } })
        #expect(last == 1000)
        #expect(seen.withLockedValue { $0 } == Array(0..<1000))
        #expect(onLoop.withLockedValue { $0 })
    }

    @Test("timers fire in deadline order, not before their deadline")
    func timersFireInOrder() throws {
        let loop = try SCTPEventLoop()
        defer { try? loop.syncShutdownGracefully() }
        let order = NIOLockedValueBox<[Int]>([])
        let start = NIODeadline.now()
        let futures = [30, 10, 20].map { milliseconds in
            loop.scheduleTask(in: .milliseconds(Int64(milliseconds))) { () -> NIODeadline in
                order.withLockedValue { $0.append(milliseconds) }
                return NIODeadline.now()
            }.futureResult
        }
        let fired = try wait(EventLoopFuture.whenAllSucceed(futures, on: loop))
        #expect(order.withLockedValue { $0 } == [10, 20, 30])
        for (deadline, milliseconds) in zip(fired, [30, 10, 20]) {
            #expect(deadline - start >= .milliseconds(Int64(milliseconds)))
        }
    }

    @Test("a cancelled timer never runs and its future fails with cancelled; from the loop and from another thread")
    func cancelledTimersDoNotRun() throws {
        let loop = try SCTPEventLoop()
        defer { try? loop.syncShutdownGracefully() }
        let ran = NIOLockedValueBox(0)
        let fromOutside = loop.scheduleTask(in: .milliseconds(20)) { ran.withLockedValue { $0 += 1 } }
        fromOutside.cancel()
        let fromLoop = try wait(loop.submit {
            let scheduled = loop.scheduleTask(in: .milliseconds(20)) { ran.withLockedValue { $0 += 1 } }
            scheduled.cancel()
            return scheduled
        })
        // Many cancelled timers are swept from the heap; the live one among them still fires.
        let many = (0..<500).map { _ in loop.scheduleTask(in: .milliseconds(30)) { ran.withLockedValue { $0 += 1 } } }
        for scheduled in many { scheduled.cancel() }
        let later = loop.scheduleTask(in: .milliseconds(60)) { ran.withLockedValue { $0 } }
        #expect(try wait(later.futureResult) == 0)
        for scheduled in [fromOutside, fromLoop] + many {
            #expect(throws: EventLoopError.cancelled) { try scheduled.futureResult.wait() }
        }
    }

    @Test("shutdown fails what is still scheduled and calls back; later timers fail, later tasks run on the caller")
    func shutdownFailsPendingTimers() throws {
        let loop = try SCTPEventLoop()
        let pending = loop.scheduleTask(in: .seconds(60)) {}
        // Futures of a loop that has shut down complete no more callbacks (as with SwiftNIO's
        // loops): the outcome is collected on the loop, before it stops.
        let outcome = NIOLockedValueBox<Result<Void, any Error>?>(nil)
        try wait(loop.submit { pending.futureResult.whenComplete { result in outcome.withLockedValue { $0 = result } } })
        let stopped = DispatchSemaphore(value: 0)
        loop.shutdownGracefully(queue: .global()) { error in
            #expect(error == nil)
            stopped.signal()
        }
        #expect(stopped.wait(timeout: .now() + 20) == .success)
        #expect(throws: EventLoopError.shutdown) { try outcome.withLockedValue { $0 }?.get() }
        #expect(outcome.withLockedValue { $0 } != nil)
        // Later: a timer fails at once and never runs; a task runs on the calling thread.
        let ran = NIOLockedValueBox(false)
        let late = loop.scheduleTask(in: .milliseconds(1)) { ran.withLockedValue { $0 = true } }
        #expect(throws: EventLoopError.shutdown) { try late.futureResult.wait() }
        #expect(!ran.withLockedValue { $0 })
        let caller = pthread_self()
        let ranHere = NIOLockedValueBox(false)
        loop.execute { ranHere.withLockedValue { $0 = pthread_equal(pthread_self(), caller) != 0 } }
        #expect(ranHere.withLockedValue { $0 })
        // A second shutdown reports at once.
        try loop.syncShutdownGracefully()
    }

    @Test("the process-wide loop refuses to shut down and keeps running tasks")
    func singletonRefusesShutdown() throws {
        let loop = try #require(SCTPEventLoop.singleton)
        #expect(throws: EventLoopError.unsupportedOperation) { try loop.syncShutdownGracefully() }
        #expect(try wait(loop.submit { loop.inEventLoop }))
    }

    @Test("two endpoints on their own loops: association, messages both ways, graceful shutdown; writes go straight to the sockets")
    func endpointsOnOwnLoops() throws {
        let serverLoop = try SCTPEventLoop()
        let clientLoop = try SCTPEventLoop()
        defer {
            try? serverLoop.syncShutdownGracefully()
            try? clientLoop.syncShutdownGracefully()
        }
        var serverOptions = UDPEncapsulationEndpoint.Options(sctpPort: 5001, localAddresses: ["127.0.0.1", "127.0.0.2"])
        serverOptions.udpPort = 0
        serverOptions.acceptsAssociations = true
        let serverLog = EventLog()
        let server = try wait(UDPEncapsulationEndpoint.start(options: serverOptions, on: serverLoop) { event in
            serverLog.append(event)
        })
        defer { _ = try? wait(server.close()) }
        #expect(server.localUDPPort != 0)
        var clientOptions = UDPEncapsulationEndpoint.Options(sctpPort: 5002, localAddresses: ["127.0.0.1"])
        clientOptions.udpPort = 0
        clientOptions.peerUDPPort = server.localUDPPort
        let clientLog = EventLog()
        let client = try wait(UDPEncapsulationEndpoint.start(options: clientOptions, on: clientLoop) { clientLog.append($0) })
        defer { _ = try? wait(client.close()) }

        let id = try wait(client.connect(to: ["127.0.0.1", "127.0.0.2"], port: 5001))
        #expect(Set(try wait(client.peerAddresses(of: id)).map(\.description)) == ["127.0.0.1", "127.0.0.2"])
        let count = 400
        var sends: [EventLoopFuture<Void>] = []
        for index in 0..<count {
            var payload = ByteBuffer()
            payload.writeInteger(UInt32(index))
            // Up to 12 KB: fragmented messages, and runs of full packets (UDP GSO writes).
            payload.writeRepeatingByte(UInt8(truncatingIfNeeded: index), count: (index * 37) % 12_000)
            sends.append(client.send(OutgoingMessage(streamIdentifier: UInt16(index % 4), payloadProtocolIdentifier: 0x5101,
                                                     payload: payload), on: id))
        }
        try wait(EventLoopFuture.andAllSucceed(sends, on: clientLoop))
        #expect(eventually { serverLog.messages.count == count })
        for stream in UInt16(0)..<4 {
            let indices = serverLog.messages.filter { $0.streamIdentifier == stream }.compactMap {
                $0.payload.getInteger(at: $0.payload.readerIndex, as: UInt32.self)
            }
            #expect(indices == Array(stride(from: UInt32(stream), to: UInt32(count), by: 4)))
        }
        #expect(serverLog.messages.allSatisfy { message in
            let bytes = message.payload.readableBytesView.dropFirst(4)
            let index = message.payload.getInteger(at: message.payload.readerIndex, as: UInt32.self) ?? 0
            return bytes.count == (Int(index) * 37) % 12_000 && bytes.allSatisfy { $0 == UInt8(truncatingIfNeeded: index) }
        })

        // And back: the server answers on the association it accepted.
        let serverID = try #require(serverLog.all.compactMap { event -> AssociationID? in
            if case .communicationUp(let id, _, _) = event { id } else { nil }
        }.first)
        var reply = ByteBuffer()
        reply.writeString("reply")
        try wait(server.send(OutgoingMessage(streamIdentifier: 1, payloadProtocolIdentifier: 0x5102, payload: reply), on: serverID))
        #expect(eventually { clientLog.messages.contains { $0.payloadProtocolIdentifier == 0x5102 } })

        try wait(client.shutdown(id))
        #expect(eventually { clientLog.all.contains { if case .shutdownComplete = $0 { true } else { false } } })
        let counters = try wait(client.offloadCounters())
        #expect(counters.directWrites > 0, "\(counters)")
        #expect(counters.channelWrites == 0, "\(counters)")
    }

    @Test("the sockets API on a stack on its own loop: one-to-one connectx, sendmsg and recvmsg both ways")
    func socketsOnOwnLoop() throws {
        let loop = try SCTPEventLoop()
        defer { try? loop.syncShutdownGracefully() }
        let stack = SCTPStack(options: SCTPStack.Options(udpPort: 0, peerUDPPort: 0), group: loop)
        defer { _ = try? stack.close().wait() }
        let (listener, client, server, id) = try loopbackPair(on: stack)
        defer { try? listener.close() }
        #expect(id.rawValue != 0)
        for index in 0..<50 {
            var payload = ByteBuffer()
            payload.writeString("ping \(index)")
            try client.sendmsg(payload)
            let got = try server.nextMessage().data
            #expect(String(buffer: got) == "ping \(index)")
            try server.sendmsg(got)
            #expect(String(buffer: try client.nextMessage().data) == "ping \(index)")
        }
        try client.close()
    }

    @Test("a raw IP stack cannot run on the loop (its sockets need SwiftNIO's): binding fails with EOPNOTSUPP, nothing crashes")
    func rawIPNeedsSwiftNIO() throws {
        let loop = try SCTPEventLoop()
        defer { try? loop.syncShutdownGracefully() }
        let stack = SCTPStack.rawIP(group: loop)
        defer { _ = try? stack.close().wait() }
        let socket = SCTPSocket(stack: stack)
        defer { try? socket.close() }
        #expect(throws: SCTPError(.notSupported,
                                  "this transport's sockets run on SwiftNIO's loops only: give its stack a SwiftNIO group")) {
            try socket.bind([try SocketAddress(ipAddress: "127.0.0.1", port: 0)])
        }
    }

    @Test("a full socket keeps later datagrams in its backlog until writable: every message arrives once, in order (root, tc)")
    func fullSocketBacklog() throws {
        let counters = try shapedLinkTransfer { namespaces in
            let loopA = try SCTPEventLoop()
            let loopB = try SCTPEventLoop()
            // The loops' threads make the sockets: they enter the namespaces.
            try wait(loopA.submit { try NamespacePair.enter(namespaces.a) })
            try wait(loopB.submit { try NamespacePair.enter(namespaces.b) })
            return (loopA, loopB)
        }
        guard let counters else { return }
        #expect(counters.directWrites > 0, "\(counters)")
        #expect(counters.deferredWrites > 0, "the socket never filled: \(counters)")
        #expect(counters.channelWrites == 0, "\(counters)")
    }
}
