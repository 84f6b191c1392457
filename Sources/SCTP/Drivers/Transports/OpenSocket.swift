import NIOCore

/// The datagram socket of one local address (UDP or raw IP), as the transport and its
/// writer see it; used on the stack's event loop only.
final class OpenSocket: @unchecked Sendable {
    /// Who reads the socket and who writes it.
    enum Mode {
        /// swift-sctp's own loop (`SCTPEventLoop`): the transport reads and writes the
        /// descriptor itself; what the kernel cannot take yet waits in `backlog`.
        case ownLoop(descriptor: CInt)
        /// A SwiftNIO channel reads; writes go straight to the descriptor (sendmmsg, GSO)
        /// while the channel has none pending, else through the channel.
        case channelWithDirectWrites(any Channel, descriptor: CInt)
        /// A SwiftNIO channel reads and writes (raw IP, or direct writes switched off).
        case channel(any Channel)
    }

    let mode: Mode

    /// What the writer keeps per socket (loop-confined: one property, so that release builds
    /// skip its exclusivity checks with one attribute).
    struct WriteState {
        /// Datagrams handed to the channel and not yet written by it: while there are any,
        /// new ones go the same way (`.channelWithDirectWrites`), so that nothing is reordered.
        var channelWrites = 0
        /// Own loop: datagrams waiting for the socket to take more, in order, and their bytes.
        var backlog: [DatagramWriter.Outgoing] = []
        var backlogBytes = 0
        /// Own loop: a retry of the backlog is scheduled (the kernel was out of buffers).
        var retryScheduled = false
        /// Own loop: the socket was closed; its descriptor number may belong to another.
        var closed = false
    }

    #if DEBUG
    var writes = WriteState()
    #else
    @exclusivity(unchecked) var writes = WriteState()
    #endif

    init(_ mode: Mode) {
        self.mode = mode
    }

    /// The SwiftNIO channel, if one reads the socket.
    var channel: (any Channel)? {
        switch mode {
        case .ownLoop: nil
        case .channelWithDirectWrites(let channel, _), .channel(let channel): channel
        }
    }

    /// The descriptor, when the transport made the socket and writes to it itself.
    var descriptor: CInt? {
        switch mode {
        case .ownLoop(let descriptor), .channelWithDirectWrites(_, let descriptor): descriptor
        case .channel: nil
        }
    }
}
