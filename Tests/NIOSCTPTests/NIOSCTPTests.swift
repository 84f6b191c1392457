import NIOConcurrencyHelpers
import NIOCore
import NIOSCTP
import SCTP
import SCTPCore
import SystemPackage
import Testing

// MARK: Helpers

/// A stack of its own per test: a free UDP port, peers on the same stack reached at that port.
private func makeStack() -> SCTPStack {
    SCTPStack(options: SCTPStack.Options(udpPort: 0, peerUDPPort: 0))
}

private func address(_ host: String, _ port: Int) -> SocketAddress {
    try! SocketAddress(ipAddress: host, port: port)
}

private struct Timeout: Error {}

/// Waits for `future`, failing after `seconds` instead of hanging.
private func waitFor<T: Sendable>(_ future: EventLoopFuture<T>, seconds: Int64 = 20) async throws -> T {
    let bounded = future.eventLoop.makePromise(of: T.self)
    future.cascade(to: bounded)
    let timer = future.eventLoop.scheduleTask(in: .seconds(seconds)) { bounded.fail(Timeout()) }
    defer { timer.cancel() }
    return try await bounded.futureResult.get()
}

/// A payload whose bytes depend on its index, so that a mixed-up message is seen.
private func payload(_ index: Int, size: Int) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.reserveCapacity(size)
    for i in 0..<size { buffer.writeInteger(UInt8(truncatingIfNeeded: i &* 31 &+ index)) }
    return buffer
}

/// Echoes every message on its stream with its PPID (and association: one-to-many).
private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = SCTPEnvelope
    typealias OutboundOut = SCTPEnvelope

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }
}

/// Collects what goes up a pipeline: messages, notifications, writability changes.
private final class Recorder: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = SCTPEnvelope

    private let lock = NIOLock()
    private var _messages: [SCTPEnvelope] = []
    private var _notifications: [SCTPNotification] = []
    private var waiters: [(count: Int, promise: EventLoopPromise<[SCTPEnvelope]>)] = []
    let inactive: EventLoopPromise<Void>

    init(loop: any EventLoop) {
        inactive = loop.makePromise()
    }

    var messages: [SCTPEnvelope] { lock.withLock { _messages } }
    var notifications: [SCTPNotification] { lock.withLock { _notifications } }

    /// Completes once `count` messages arrived.
    func messages(count: Int, on loop: any EventLoop) -> EventLoopFuture<[SCTPEnvelope]> {
        let promise = loop.makePromise(of: [SCTPEnvelope].self)
        let ready: [SCTPEnvelope]? = lock.withLock {
            if _messages.count >= count { return _messages }
            waiters.append((count, promise))
            return nil
        }
        if let ready { promise.succeed(ready) }
        return promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let done: [(EventLoopPromise<[SCTPEnvelope]>, [SCTPEnvelope])] = lock.withLock {
            _messages.append(envelope)
            let ready = waiters.filter { $0.count <= _messages.count }
            waiters.removeAll { $0.count <= _messages.count }
            return ready.map { ($0.promise, _messages) }
        }
        for (promise, messages) in done { promise.succeed(messages) }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let notification = event as? SCTPNotification {
            lock.withLock { _notifications.append(notification) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        inactive.succeed(())
        context.fireChannelInactive()
    }

    /// Nothing may wait on a recorder that is gone (a channel that never became active).
    func handlerRemoved(context: ChannelHandlerContext) {
        inactive.fail(Gone())
        let pending = lock.withLock {
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in pending { waiter.promise.fail(Gone()) }
    }
}

private struct Gone: Error {}

/// Hands out the child channels a server accepts.
private final class ChildChannels: @unchecked Sendable {
    private let lock = NIOLock()
    private var channels: [any Channel] = []
    private var recorders: [Recorder] = []
    private var waiters: [(count: Int, promise: EventLoopPromise<Void>)] = []

    func add(_ channel: any Channel, _ recorder: Recorder) {
        let done: [EventLoopPromise<Void>] = lock.withLock {
            channels.append(channel)
            recorders.append(recorder)
            let ready = waiters.filter { $0.count <= channels.count }.map(\.promise)
            waiters.removeAll { $0.count <= channels.count }
            return ready
        }
        for promise in done { promise.succeed(()) }
    }

    deinit {
        for waiter in waiters { waiter.promise.fail(Gone()) }
    }

    func all() -> [(any Channel, Recorder)] { lock.withLock { Array(zip(channels, recorders)) } }

    func count(_ count: Int, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        let ready = lock.withLock {
            if channels.count >= count { return true }
            waiters.append((count, promise))
            return false
        }
        if ready { promise.succeed(()) }
        return promise.futureResult
    }
}

/// An echo server on 127.0.0.1 (and more addresses): each child has an echo handler after a recorder.
private func echoServer(_ stack: SCTPStack, hosts: [String] = ["127.0.0.1"], children: ChildChannels,
                        echo: Bool = true,
                        configure: (SCTPServerBootstrap) -> SCTPServerBootstrap = { $0 }) async throws -> any Channel {
    let bootstrap = configure(SCTPServerBootstrap(stack: stack))
        .childChannelInitializer { channel in
            let recorder = Recorder(loop: channel.eventLoop)
            children.add(channel, recorder)
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(recorder)
                if echo { try channel.pipeline.syncOperations.addHandler(EchoHandler()) }
            }
        }
    return try await waitFor(bootstrap.bind(to: hosts.map { address($0, 0) }))
}

/// A client channel to `port` with a recorder.
private func client(_ stack: SCTPStack, port: Int, hosts: [String] = ["127.0.0.1"],
                    configure: (SCTPClientBootstrap) -> SCTPClientBootstrap = { $0 }) async throws -> (any Channel, Recorder) {
    let recorder = Recorder(loop: stack.eventLoop)
    let channel = try await waitFor(configure(SCTPClientBootstrap(stack: stack))
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(recorder) }
        }
        .connect(to: hosts.map { address($0, port) }))
    return (channel, recorder)
}

// MARK: Tests

@Suite("NIOSCTP: SwiftNIO channels over SCTP on loopback")
struct NIOSCTPTests {
    @Test("echo server and client: bytes, stream and PPID of every message; closing the client makes the server's child inactive")
    func echo() async throws {
        let stack = makeStack()
        let children = ChildChannels()
        let server = try await echoServer(stack, hosts: ["127.0.0.1", "127.0.0.2"], children: children)
        let port = try #require(server.localAddress?.port)
        #expect(server.isActive)
        // connectx to two addresses (an SCTPMultihomingRequest underneath).
        let (channel, recorder) = try await client(stack, port: port, hosts: ["127.0.0.1", "127.0.0.2"])
        #expect(channel.isActive)
        #expect(channel.remoteAddress?.port == port)

        let sizes = [1, 100, 1200, 5000, 70_000, 3]
        var writes: [EventLoopFuture<Void>] = []
        for (index, size) in sizes.enumerated() {
            writes.append(channel.write(SCTPEnvelope(data: payload(index, size: size), stream: UInt16(index % 4),
                                                     payloadProtocolIdentifier: UInt32(50 + index))))
        }
        channel.flush()
        for write in writes { try await waitFor(write) }
        let echoed = try await waitFor(recorder.messages(count: sizes.count, on: channel.eventLoop))
        #expect(echoed.map(\.data.readableBytes) == sizes)
        #expect(echoed.enumerated().allSatisfy { index, envelope in envelope.data == payload(index, size: sizes[index]) })
        #expect(echoed.map(\.stream) == sizes.indices.map { UInt16($0 % 4) })
        #expect(echoed.map(\.payloadProtocolIdentifier) == sizes.indices.map { UInt32(50 + $0) })
        #expect(echoed.allSatisfy { $0.isComplete && $0.associationID != nil && $0.remoteAddress?.port == port })

        // The server side saw the same messages, on one child whose parent is the server.
        try await waitFor(children.count(1, on: stack.eventLoop))
        let (child, childRecorder) = try #require(children.all().first)
        #expect(child.parent === server)
        #expect(childRecorder.messages.map(\.data.readableBytes) == sizes)

        // Close → SHUTDOWN → the peer's channel goes inactive and closes.
        try await waitFor(channel.close())
        try await waitFor(childRecorder.inactive.futureResult)
        try await waitFor(child.closeFuture)
        #expect(!child.isActive)
        try await waitFor(server.close())
        try await waitFor(stack.close())
    }

    @Test("notifications are user inbound events: association up, then shutdown complete after close(mode: .output)")
    func notifications() async throws {
        let stack = makeStack()
        let children = ChildChannels()
        let server = try await echoServer(stack, children: children)
        let port = try #require(server.localAddress?.port)
        let (channel, recorder) = try await client(stack, port: port) { bootstrap in
            bootstrap.channelOption(ChannelOptions.sctp(.events), value: [.associationChange, .shutdown])
        }
        // A message and its echo, then a graceful shutdown of our side.
        try await waitFor(channel.writeAndFlush(SCTPEnvelope(data: ByteBuffer(string: "hello"), stream: 1)))
        _ = try await waitFor(recorder.messages(count: 1, on: channel.eventLoop))
        try await waitFor(channel.close(mode: .output))
        // Writing after the output is closed fails at once.
        await #expect(throws: ChannelError.self) {
            try await waitFor(channel.writeAndFlush(SCTPEnvelope(data: ByteBuffer(string: "late"))))
        }
        try await waitFor(recorder.inactive.futureResult)
        try await waitFor(channel.closeFuture)
        let changes = recorder.notifications.compactMap { notification -> SCTPAssociationChange? in
            if case .associationChange(let change, _, _, _, _) = notification { change } else { nil }
        }
        #expect(changes == [.communicationUp, .shutdownComplete])
        let (_, childRecorder) = try #require(children.all().first)
        try await waitFor(childRecorder.inactive.futureResult)
        try await waitFor(server.close())
        try await waitFor(stack.close())
    }

    @Test("an abort from the peer (a write with .abort): communication lost as a user event, then channelInactive")
    func peerAbort() async throws {
        let stack = makeStack()
        let children = ChildChannels()
        let server = try await echoServer(stack, children: children, echo: false)
        let port = try #require(server.localAddress?.port)
        let (channel, recorder) = try await client(stack, port: port) { bootstrap in
            bootstrap.channelOption(ChannelOptions.sctp(.events), value: [.associationChange])
        }
        try await waitFor(children.count(1, on: stack.eventLoop))
        let (child, _) = try #require(children.all().first)
        try await waitFor(child.writeAndFlush(SCTPEnvelope(data: ByteBuffer(string: "bye"), flags: .abort)))
        try await waitFor(recorder.inactive.futureResult)
        try await waitFor(channel.closeFuture)
        let lost = recorder.notifications.contains { notification in
            if case .associationChange(.communicationLost, _, _, _, let error) = notification {
                error?.errno == .connectionReset
            } else {
                false
            }
        }
        #expect(lost)
        // The aborting side's association is gone too: its channel closed itself.
        try await waitFor(child.closeFuture)
        try await waitFor(server.close())
        try await waitFor(stack.close())
    }

    @Test("a server with two clients: each gets its own echo, on its own child channel")
    func twoClients() async throws {
        let stack = makeStack()
        let children = ChildChannels()
        let server = try await echoServer(stack, children: children)
        let port = try #require(server.localAddress?.port)
        let (first, firstRecorder) = try await client(stack, port: port)
        let (second, secondRecorder) = try await client(stack, port: port)
        for round in 0..<5 {
            first.write(SCTPEnvelope(data: ByteBuffer(string: "first \(round)"), stream: 0), promise: nil)
            second.write(SCTPEnvelope(data: ByteBuffer(string: "second \(round)"), stream: 1), promise: nil)
        }
        first.flush()
        second.flush()
        let firstEchoes = try await waitFor(firstRecorder.messages(count: 5, on: stack.eventLoop))
        let secondEchoes = try await waitFor(secondRecorder.messages(count: 5, on: stack.eventLoop))
        #expect(firstEchoes.map { String(buffer: $0.data) } == (0..<5).map { "first \($0)" })
        #expect(secondEchoes.map { String(buffer: $0.data) } == (0..<5).map { "second \($0)" })
        #expect(secondEchoes.allSatisfy { $0.stream == 1 })
        try await waitFor(children.count(2, on: stack.eventLoop))
        let accepted = children.all()
        #expect(accepted.count == 2)
        #expect(Set(accepted.compactMap { $0.0.remoteAddress?.port }) == Set([first.localAddress?.port, second.localAddress?.port].compactMap { $0 }))
        try await waitFor(first.close())
        try await waitFor(second.close())
        for (_, recorder) in accepted { try await waitFor(recorder.inactive.futureResult) }
        try await waitFor(server.close())
        try await waitFor(stack.close())
    }

    @Test("a server with autoRead off accepts only on read(): each read is one association, as demand says")
    func acceptOnDemand() async throws {
        let stack = makeStack()
        let children = ChildChannels()
        let server = try await echoServer(stack, children: children) { bootstrap in
            bootstrap.serverChannelOption(ChannelOptions.autoRead, value: false)
                .serverChannelOption(ChannelOptions.maxMessagesPerRead, value: 1)
        }
        let port = try #require(server.localAddress?.port)
        // The associations are set up by the stack; the server channel has not read them.
        let (first, _) = try await client(stack, port: port)
        let (second, secondRecorder) = try await client(stack, port: port)
        try await stack.eventLoop.submit {}.get()
        #expect(children.all().isEmpty)
        // One read, one child (maxMessagesPerRead 1); the next read, the next.
        server.read()
        try await waitFor(children.count(1, on: stack.eventLoop))
        try await stack.eventLoop.submit {}.get()
        #expect(children.all().count == 1)
        // What the second client sends before its association is accepted waits for it.
        let early: EventLoopFuture<Void> = second.writeAndFlush(SCTPEnvelope(data: ByteBuffer(string: "late"), stream: 0))
        try await waitFor(early)
        server.read()
        try await waitFor(children.count(2, on: stack.eventLoop))
        let echoed = try await waitFor(secondRecorder.messages(count: 1, on: stack.eventLoop))
        #expect(String(buffer: echoed[0].data) == "late")
        for channel in [first, second, server] { try await waitFor(channel.close()) }
        try await waitFor(stack.close())
    }

    @Test("one-to-many: one channel echoes to several peers by association id; a one-to-many client sends by address")
    func oneToMany() async throws {
        let stack = makeStack()
        let serverRecorder = Recorder(loop: stack.eventLoop)
        let server = try await waitFor(SCTPOneToManyBootstrap(stack: stack)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(serverRecorder)
                    try channel.pipeline.syncOperations.addHandler(EchoHandler())
                }
            }
            .bind(to: address("127.0.0.1", 0)))
        let port = try #require(server.localAddress?.port)
        let (first, firstRecorder) = try await client(stack, port: port)
        let (second, secondRecorder) = try await client(stack, port: port)
        // A one-to-many client: its first write to the address sets up the association.
        let manyRecorder = Recorder(loop: stack.eventLoop)
        let many = try await waitFor(SCTPOneToManyBootstrap(stack: stack)
            .channelOption(ChannelOptions.backlog, value: 0)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(manyRecorder) }
            }
            .bind(to: address("127.0.0.1", 0)))

        try await waitFor(first.writeAndFlush(SCTPEnvelope(data: ByteBuffer(string: "one"), stream: 2, payloadProtocolIdentifier: 7)))
        try await waitFor(second.writeAndFlush(SCTPEnvelope(data: ByteBuffer(string: "two"), stream: 3, payloadProtocolIdentifier: 8)))
        try await waitFor(many.writeAndFlush(SCTPEnvelope(data: ByteBuffer(string: "three"), stream: 4,
                                                       remoteAddress: address("127.0.0.1", port))))
        let one = try await waitFor(firstRecorder.messages(count: 1, on: stack.eventLoop))
        let two = try await waitFor(secondRecorder.messages(count: 1, on: stack.eventLoop))
        let three = try await waitFor(manyRecorder.messages(count: 1, on: stack.eventLoop))
        #expect(String(buffer: one[0].data) == "one" && one[0].stream == 2 && one[0].payloadProtocolIdentifier == 7)
        #expect(String(buffer: two[0].data) == "two" && two[0].stream == 3 && two[0].payloadProtocolIdentifier == 8)
        #expect(String(buffer: three[0].data) == "three" && three[0].stream == 4)
        #expect(three[0].remoteAddress == address("127.0.0.1", port))
        #expect(three[0].associationID != nil)

        // The server saw three associations, each message with its peer's address.
        let inbound = serverRecorder.messages
        #expect(Set(inbound.compactMap(\.associationID)).count == 3)
        let peers = Set(inbound.compactMap { $0.remoteAddress?.port })
        #expect(peers == Set([first.localAddress?.port, second.localAddress?.port, many.localAddress?.port].compactMap { $0 }))

        // A write naming an association the channel does not have fails with EINVAL.
        let unknown: EventLoopFuture<Void> = many.writeAndFlush(SCTPEnvelope(data: ByteBuffer(string: "x"), associationID: AssociationID(999)))
        let error = await #expect(throws: SCTPError.self) { try await waitFor(unknown) }
        #expect(error?.errno == .invalidArgument)

        // Backlog 0 on the bound channel, live: it takes no new association.
        try await waitFor(server.setOption(ChannelOptions.backlog, value: 0))
        let refused = await #expect(throws: SCTPError.self) { _ = try await client(stack, port: port) }
        #expect(refused?.errno == .connectionRefused)

        for channel in [first, second, many, server] { try await waitFor(channel.close()) }
        try await waitFor(stack.close())
    }

    @Test("backpressure: isWritable goes false against a reader with autoRead off and comes back; every byte arrives in order")
    func backpressure() async throws {
        let stack = makeStack()
        let children = ChildChannels()
        let server = try await echoServer(stack, children: children, echo: false) { bootstrap in
            bootstrap
                .serverChannelOption(ChannelOptions.sctp(.receiveBufferSize), value: 16 * 1024)
                .childChannelOption(ChannelOptions.autoRead, value: false)
        }
        let port = try #require(server.localAddress?.port)
        let count = 150, size = 4096
        let writer = Writer(count: count, size: size, loop: stack.eventLoop)
        let channel = try await waitFor(SCTPClientBootstrap(stack: stack)
            .channelOption(ChannelOptions.sctp(.sendBufferSize), value: 16 * 1024)
            .channelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 16 * 1024, high: 64 * 1024))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(writer) }
            }
            .connect(to: address("127.0.0.1", port)))

        // Nothing is read on the server: the writer must stop with most of its data unsent.
        try await waitFor(writer.blocked.futureResult)
        #expect(!channel.isWritable)
        let buffered = try await waitFor(channel.getOption(ChannelOptions.bufferedWritableBytes))
        // Unwritable: above the low water mark still (it went above the high one).
        #expect(buffered >= 16 * 1024)
        #expect(writer.written < count)
        try await waitFor(children.count(1, on: stack.eventLoop))
        let (child, recorder) = try #require(children.all().first)
        #expect(recorder.messages.isEmpty)

        // The reader starts: writability comes back, the writer goes on, everything arrives.
        try await waitFor(child.setOption(ChannelOptions.autoRead, value: true))
        let received = try await waitFor(recorder.messages(count: count, on: stack.eventLoop), seconds: 60)
        try await waitFor(writer.done.futureResult)
        #expect(writer.resumed)
        #expect(received.count == count)
        #expect(received.enumerated().allSatisfy { index, envelope in envelope.data == payload(index, size: size) })
        try await waitFor(channel.close())
        try await waitFor(server.close())
        try await waitFor(stack.close())
    }

    @Test("a write flushed before the channel is active goes once it is: the server's child initializer greets each client")
    func greetingFromInitializer() async throws {
        let stack = makeStack()
        let server = try await waitFor(SCTPServerBootstrap(stack: stack)
            .childChannelInitializer { channel in
                // Not active yet: the write waits in the channel until the child activates.
                channel.writeAndFlush(SCTPEnvelope(data: ByteBuffer(string: "hello"), stream: 2, payloadProtocolIdentifier: 9),
                                      promise: nil)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(to: [address("127.0.0.1", 0)]))
        let port = try #require(server.localAddress?.port)
        let (channel, recorder) = try await client(stack, port: port)
        let greeting = try await waitFor(recorder.messages(count: 1, on: stack.eventLoop))
        #expect(String(buffer: greeting[0].data) == "hello" && greeting[0].stream == 2 && greeting[0].payloadProtocolIdentifier == 9)
        try await waitFor(channel.close())
        try await waitFor(server.close())
        try await waitFor(stack.close())
    }

    @Test("partial delivery: with SCTP_PARTIAL_DELIVERY_POINT 2000 on the server, a 200 kB message comes up in pieces, only the last complete; the bytes add up in order")
    func partialDelivery() async throws {
        let stack = makeStack()
        let children = ChildChannels()
        let server = try await echoServer(stack, children: children, echo: false) { bootstrap in
            bootstrap.serverChannelOption(ChannelOptions.sctp(.partialDeliveryPoint), value: 2000)
        }
        let port = try #require(server.localAddress?.port)
        let (channel, _) = try await client(stack, port: port)
        let message = payload(7, size: 200_000)
        try await waitFor(channel.writeAndFlush(SCTPEnvelope(data: message, stream: 3, payloadProtocolIdentifier: 51)))
        try await waitFor(children.count(1, on: stack.eventLoop))
        let recorder = try #require(children.all().first?.1)
        // Bounded wait for the piece that completes the message (10 ms steps, at most 20 s).
        for _ in 0..<2000 where recorder.messages.last?.isComplete != true {
            try await Task.sleep(for: .milliseconds(10))
        }
        let pieces = recorder.messages
        #expect(pieces.count > 1, "the message came up whole: \(pieces.count) piece(s)")
        #expect(pieces.last?.isComplete == true && pieces.dropLast().allSatisfy { !$0.isComplete })
        #expect(pieces.allSatisfy { $0.stream == 3 && $0.payloadProtocolIdentifier == 51 })
        var whole = ByteBuffer()
        for var piece in pieces.map(\.data) { whole.writeBuffer(&piece) }
        #expect(whole == message)
        try await waitFor(channel.close())
        try await waitFor(server.close())
        try await waitFor(stack.close())
    }

    @Test("channel options through the channel: an SCTP option, autoRead, the water mark; a read-only option refuses a write")
    func options() async throws {
        let stack = makeStack()
        let children = ChildChannels()
        let server = try await echoServer(stack, children: children)
        let port = try #require(server.localAddress?.port)
        let (channel, _) = try await client(stack, port: port) { bootstrap in
            bootstrap.channelOption(ChannelOptions.sctp(.noDelay), value: true)
        }
        #expect(try await waitFor(channel.getOption(ChannelOptions.sctp(.noDelay))) == true)
        try await waitFor(channel.setOption(ChannelOptions.sctp(.noDelay), value: false))
        #expect(try await waitFor(channel.getOption(ChannelOptions.sctp(.noDelay))) == false)
        #expect(try await waitFor(channel.getOption(ChannelOptions.autoRead)) == true)
        try await waitFor(channel.setOption(ChannelOptions.autoRead, value: false))
        #expect(try await waitFor(channel.getOption(ChannelOptions.autoRead)) == false)
        let mark = ChannelOptions.Types.WriteBufferWaterMark(low: 1000, high: 2000)
        try await waitFor(channel.setOption(ChannelOptions.writeBufferWaterMark, value: mark))
        let readMark = try await waitFor(channel.getOption(ChannelOptions.writeBufferWaterMark))
        #expect(readMark.low == 1000 && readMark.high == 2000)
        // A per-association read: the association's state.
        let status = try await waitFor(channel.getOption(ChannelOptions.sctp(.status)))
        #expect(status.state == .established)
        // The same through the synchronous options, on the loop.
        let viaSync = try await channel.eventLoop.submit {
            try channel.syncOptions?.getOption(ChannelOptions.sctp(.noDelay))
        }.get()
        #expect(viaSync == false)
        let error = await #expect(throws: SCTPError.self) {
            try await waitFor(channel.setOption(ChannelOptions.sctp(.status), value: status))
        }
        #expect(error?.errno == .invalidArgument)
        try await waitFor(channel.close())
        try await waitFor(server.close())
        try await waitFor(stack.close())
    }

    @Test("errors are failed futures with SCTPError: refused connect, a stream the association lacks")
    func errors() async throws {
        let stack = makeStack()
        // Nobody listens on this port: the peer stack answers INIT with ABORT.
        let idle = try await echoServer(stack, children: ChildChannels())
        let port = try #require(idle.localAddress?.port)
        try await waitFor(idle.close())
        do {
            _ = try await client(stack, port: port)
            Issue.record("connect to a closed port succeeded")
        } catch let error as SCTPError {
            #expect(error.errno == .connectionRefused)
        }

        let children = ChildChannels()
        let server = try await echoServer(stack, children: children)
        let serverPort = try #require(server.localAddress?.port)
        let (channel, recorder) = try await client(stack, port: serverPort)
        let error = await #expect(throws: SCTPError.self) {
            try await waitFor(channel.writeAndFlush(SCTPEnvelope(data: ByteBuffer(string: "x"), stream: 5000)))
        }
        #expect(error?.errno == .invalidArgument)
        // A write of another type fails instead of trapping.
        let wrongType = await #expect(throws: SCTPError.self) { try await waitFor(channel.writeAndFlush("text")) }
        #expect(wrongType?.errno == .invalidArgument)
        // The channel is still usable; plain bytes are a message on stream 0.
        try await waitFor(channel.writeAndFlush(SCTPEnvelope(data: ByteBuffer(string: "after"), stream: 1)))
        try await waitFor(channel.writeAndFlush(ByteBuffer(string: "bytes")))
        let echoed = try await waitFor(recorder.messages(count: 2, on: stack.eventLoop))
        #expect(String(buffer: echoed[0].data) == "after" && echoed[0].stream == 1)
        #expect(String(buffer: echoed[1].data) == "bytes" && echoed[1].stream == 0)
        // SCTP has no remote half-closure: asking for it is refused, refusing it is fine.
        await #expect(throws: ChannelError.self) {
            try await waitFor(channel.setOption(ChannelOptions.allowRemoteHalfClosure, value: true))
        }
        try await waitFor(channel.setOption(ChannelOptions.allowRemoteHalfClosure, value: false))

        // Nobody answers at 127.0.0.9: the connect timeout closes the channel.
        do {
            _ = try await client(stack, port: serverPort, hosts: ["127.0.0.9"]) { $0.connectTimeout(.milliseconds(300)) }
            Issue.record("a connect to a silent address succeeded")
        } catch let error as ChannelError {
            if case .connectTimeout = error {} else { Issue.record("not a connect timeout: \(error)") }
        }
        try await waitFor(channel.close())
        try await waitFor(server.close())
        try await waitFor(stack.close())
    }
}

/// Writes `count` messages of `size` bytes as fast as writability allows; records that it
/// was held back and that it went on afterwards.
private final class Writer: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = SCTPEnvelope
    typealias OutboundOut = SCTPEnvelope

    let count: Int
    let size: Int
    let blocked: EventLoopPromise<Void>
    let done: EventLoopPromise<Void>
    private let lock = NIOLock()
    private var _written = 0
    private var _resumed = false
    private var wasBlocked = false
    private var completed = 0

    init(count: Int, size: Int, loop: any EventLoop) {
        self.count = count
        self.size = size
        blocked = loop.makePromise()
        done = loop.makePromise()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        blocked.fail(Gone())
        done.fail(Gone())
    }

    var written: Int { lock.withLock { _written } }
    var resumed: Bool { lock.withLock { _resumed } }

    func channelActive(context: ChannelHandlerContext) {
        writeWhileWritable(context: context)
        context.fireChannelActive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            lock.withLock { if wasBlocked { _resumed = true } }
            writeWhileWritable(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    private func writeWhileWritable(context: ChannelHandlerContext) {
        while context.channel.isWritable {
            let index: Int? = lock.withLock {
                guard _written < count else { return nil }
                _written += 1
                return _written - 1
            }
            guard let index else { break }
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenComplete { [self] result in
                if case .failure(let error) = result { done.fail(error) }
                let finished = lock.withLock {
                    completed += 1
                    return completed == count
                }
                if finished { done.succeed(()) }
            }
            context.writeAndFlush(wrapOutboundOut(SCTPEnvelope(data: payload(index, size: size))), promise: promise)
        }
        if !context.channel.isWritable {
            let first = lock.withLock {
                defer { wasBlocked = true }
                return !wasBlocked
            }
            if first { blocked.succeed(()) }
        }
    }
}
