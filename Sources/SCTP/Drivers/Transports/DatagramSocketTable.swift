import Logging
import NIOCore
import SCTPWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the UDP and raw IP transports share: one datagram socket per local address, opened
/// through SwiftNIO (`open(_:with:readComplete:)`) or on swift-sctp's own loop
/// (`open(_:with:on:)`), reopened when SwiftNIO closes one on an error, and the batching
/// writer (`writer`) all of them write through. Used on the stack's event loop only.
final class DatagramSocketTable: @unchecked Sendable {
    let eventLoop: any EventLoop
    let writer: DatagramWriter
    private let logger = Logger(label: "swift-sctp.transport")

    /// Loop-confined state, in one property: release builds skip its exclusivity checks.
    private struct State {
        var sockets: [IPAddress: OpenSocket] = [:]
        /// The socket `socket(of:)` found last, and its address: most packets leave from the
        /// same address, and hashing an `IPAddress` costs more than comparing one.
        var last: (address: IPAddress, socket: OpenSocket)?
        var opening: [IPAddress: EventLoopFuture<Void>] = [:]
        var closing = false
        var lastReopenWarning: [IPAddress: NIODeadline] = [:]
    }

    #if DEBUG
    private var state = State()
    #else
    @exclusivity(unchecked) private var state = State()
    #endif

    init(eventLoop: any EventLoop, segmentationOffload: Bool) {
        self.eventLoop = eventLoop
        writer = DatagramWriter(eventLoop: eventLoop, segmentationOffload: segmentationOffload)
    }

    /// The socket of a local address, if it is open.
    func socket(of address: IPAddress) -> OpenSocket? {
        if let last = state.last, last.address == address { return last.socket }
        guard let socket = state.sockets[address] else { return nil }
        state.last = (address, socket)
        return socket
    }

    func isOpen(_ address: IPAddress) -> Bool { socket(of: address) != nil }

    /// Queues a packet on the socket of `source` (nothing when it is not open).
    func write(_ packet: ByteBuffer, from source: IPAddress, to destination: IPAddress, port: Int, ecnCapable: Bool) {
        guard let socket = socket(of: source) else { return }
        writer.write(packet, on: socket, to: destination, port: port, ecnCapable: ecnCapable)
    }

    private func insert(_ socket: OpenSocket, at address: IPAddress) {
        state.sockets[address] = socket
        state.last = nil
    }

    private func remove(_ address: IPAddress) {
        state.sockets[address] = nil
        state.last = nil
    }

    // MARK: Opening

    /// Opens the socket of `address` as a SwiftNIO channel that `maker` makes and reads;
    /// `readComplete` ends each batch of reads.
    func open<Maker: ChannelSocketMaker>(_ address: IPAddress, with maker: Maker,
                                         readComplete: @escaping @Sendable () -> Void) -> EventLoopFuture<Void> {
        if state.sockets[address] != nil { return eventLoop.makeSucceededVoidFuture() }
        if let pending = state.opening[address] { return pending }
        let handler = DatagramInboundHandler(localAddress: address,
                                             onRead: { [unowned maker] envelope, local in maker.received(envelope, at: local) },
                                             onReadComplete: readComplete)
        let future = maker.makeChannel(for: address, handler: handler).map { (channel: any Channel, descriptor: CInt?) in
            let mode: OpenSocket.Mode = descriptor.map { .channelWithDirectWrites(channel, descriptor: $0) } ?? .channel(channel)
            self.insert(OpenSocket(mode), at: address)
            self.reopenWhenClosed(channel, address: address, maker: maker, readComplete: readComplete)
        }
        state.opening[address] = future
        future.whenComplete { _ in self.state.opening[address] = nil }
        return future
    }

    /// Opens the socket of `address` on swift-sctp's own loop: `maker` makes it and reads it
    /// when the loop says it is readable; the writer drains its backlog when it is writable.
    func open<Maker: OwnLoopSocketMaker>(_ address: IPAddress, with maker: Maker, on loop: SCTPEventLoop) -> EventLoopFuture<Void> {
        if state.sockets[address] != nil { return eventLoop.makeSucceededVoidFuture() }
        let descriptor: CInt
        do {
            descriptor = try maker.makeOwnSocket(for: address)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let socket = OpenSocket(.ownLoop(descriptor: descriptor))
        do {
            // A stack released without `close()` leaves its sockets registered: the first
            // event then closes the socket instead of reaching a transport that is gone.
            try loop.register(descriptor, onReadable: { [weak maker] errorPending in
                guard let maker else { return Self.abandon(descriptor, on: loop) }
                maker.readable(descriptor, at: address, errorPending: errorPending)
            }, onWritable: { [weak self] in
                guard let self else { return Self.abandon(descriptor, on: loop) }
                writer.drainBacklog(socket)
            })
        } catch {
            Self.closeDescriptor(descriptor)
            return eventLoop.makeFailedFuture(error)
        }
        insert(socket, at: address)
        return eventLoop.makeSucceededVoidFuture()
    }

    /// Own event loop: stops watching and closes the socket of a transport that is gone.
    private static func abandon(_ descriptor: CInt, on loop: SCTPEventLoop) {
        loop.deregister(descriptor)
        closeDescriptor(descriptor)
    }

    /// NIO closes a datagram socket on errors such as ENETUNREACH (a path whose link went
    /// down); the address must stay usable for every association, so it is opened again.
    private func reopenWhenClosed<Maker: ChannelSocketMaker>(_ channel: any Channel, address: IPAddress, maker: Maker,
                                                             readComplete: @escaping @Sendable () -> Void) {
        channel.closeFuture.whenComplete { [self, weak maker] _ in
            guard let maker, !state.closing, let current = state.sockets[address]?.channel, current === channel else { return }
            remove(address)
            reopen(address, attempt: 0, maker: maker, readComplete: readComplete)
        }
    }

    private func reopen<Maker: ChannelSocketMaker>(_ address: IPAddress, attempt: Int, maker: Maker,
                                                   readComplete: @escaping @Sendable () -> Void) {
        guard !state.closing, state.sockets[address] == nil else { return }
        // A link that is down fails every packet sent over it (each closing the socket):
        // warn once a minute per address, the rest at debug level.
        let now = NIODeadline.now()
        if let last = state.lastReopenWarning[address], now - last < .seconds(60) {
            logger.debug("socket on \(address) closed by an error; opening it again", metadata: ["attempt": "\(attempt)"])
        } else {
            state.lastReopenWarning[address] = now
            logger.warning("socket on \(address) closed by an error (such as ENETUNREACH: a link is down); opening it again",
                           metadata: ["attempt": "\(attempt)"])
        }
        open(address, with: maker, readComplete: readComplete).whenFailure { [self, weak maker] _ in
            // Retried with a growing delay, at most every 5 s, until the stack closes.
            let delay = TimeAmount.milliseconds(Int64(min(100 << min(attempt, 6), 5000)))
            eventLoop.scheduleTask(in: delay) { [self, weak maker] in
                guard let maker else { return }
                reopen(address, attempt: attempt + 1, maker: maker, readComplete: readComplete)
            }
        }
    }

    // MARK: Closing

    /// Sends what is written so far (the ABORTs of a closing stack), then closes every socket.
    func close() -> EventLoopFuture<Void> {
        writer.flush()
        state.closing = true
        var futures: [EventLoopFuture<Void>] = []
        for socket in state.sockets.values {
            switch socket.mode {
            case .channel(let channel), .channelWithDirectWrites(let channel, _):
                futures.append(channel.close())
            case .ownLoop(let descriptor):
                socket.writes.closed = true
                socket.writes.backlog.removeAll()
                socket.writes.backlogBytes = 0
                (eventLoop as? SCTPEventLoop)?.deregister(descriptor)
                Self.closeDescriptor(descriptor)
            }
        }
        state.sockets.removeAll()
        state.last = nil
        writer.discardQueued()
        return EventLoopFuture.andAllComplete(futures, on: eventLoop)
    }

    static func closeDescriptor(_ descriptor: CInt) {
        #if canImport(Glibc)
        _ = Glibc.close(descriptor)
        #else
        _ = Darwin.close(descriptor)
        #endif
    }
}
