import NIOCore
import SCTPCore
import SCTPWire

/// The socket's calls for code that already runs on the stack's loop and must not wait
/// there: the SwiftNIO channels of `NIOSCTP`. They do what the public calls of the same
/// name do, returning futures instead of blocking, and reading or accepting only what is
/// there now (`activityHandler` tells when to look again). Every one of them must be called
/// on `eventLoop`.
extension SCTPSocket {
    /// `bind` on the loop.
    package func bindOnLoop(_ addresses: [SocketAddress]) -> EventLoopFuture<Void> {
        do {
            let (ips, port) = try ipAddresses(addresses, allowPortZero: true)
            return bindOnLoop(ips, port: port)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    /// `connectx` on the loop: the future completes once the association is up, or with
    /// the error a blocking `connectx` throws.
    package func connectxOnLoop(_ addresses: [SocketAddress]) -> EventLoopFuture<AssociationID> {
        do {
            let (peers, port) = try ipAddresses(addresses, allowPortZero: false)
            return startConnect(peers, port: port).flatMap { _, completion in completion }
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    /// `sendmsg` on the loop, blocking style whatever `nonBlocking` says: the future
    /// completes once the message is in the send buffer (at once when there is room).
    package func sendWaitingOnLoop(_ data: ByteBuffer, info: SCTPSendInfo, to addresses: [SocketAddress]?) -> EventLoopFuture<Void> {
        let peers: ([IPAddress], UInt16)?
        do {
            peers = try addresses.map { addresses throws(SCTPError) in try ipAddresses(addresses, allowPortZero: false) }
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let wasNonBlocking = nonBlocking
        nonBlocking = false
        defer { nonBlocking = wasNonBlocking }
        return sendOnLoop(data, info: info, to: peers)
    }

    /// The next inbox item now (`recvmsg` without waiting): `.some(item)`, `.some(nil)` at end
    /// of file (a one-to-one socket whose association ended, everything read), `nil` when
    /// nothing is there yet.
    package func receiveNowOnLoop(maxLength: Int) throws(SCTPError) -> SCTPReceived?? {
        guard phase != .closed else { throw SCTPError(.badFileDescriptor, "the socket is closed") }
        if let item = takeInbound(maxLength: maxLength) { return item }
        if style == .oneToOne {
            switch phase {
            case .disconnected: return .some(nil)
            case .open, .bound, .listening: throw SCTPError(.socketNotConnected, "the socket is not connected")
            default: break
            }
        }
        return nil
    }

    /// The next association waiting to be accepted, as its socket (`accept` without waiting).
    package func acceptNowOnLoop() throws(SCTPError) -> SCTPSocket? {
        guard phase != .closed else { throw SCTPError(.badFileDescriptor, "the socket is closed") }
        guard style == .oneToOne, phase == .listening else { throw SCTPError(.invalidArgument, "the socket is not listening") }
        return acceptQueue.popFirst()
    }

    /// Whether data, a notification or an association to accept waits.
    package var hasInboundOnLoop: Bool { !inbox.isEmpty || !acceptQueue.isEmpty }

    /// A one-to-one socket whose association has ended (shut down, aborted or lost).
    package var isDisconnectedOnLoop: Bool { style == .oneToOne && phase == .disconnected }

    /// A one-to-one socket that has its association (up, or ended since).
    package var isConnectedOnLoop: Bool { style == .oneToOne && (phase == .connected || phase == .disconnected) }

    /// Closes the socket (`close` without the linger wait).
    package func closeNowOnLoop() { _ = closeOnLoop() }

    /// `getOption` on the loop.
    package func getOptionOnLoop<Value>(_ option: SCTPSocketOption<Value>, association: AssociationID?) throws(SCTPError) -> Value {
        guard phase != .closed else { throw SCTPError(.badFileDescriptor, "the socket is closed") }
        return try option.read(self, association)
    }

    /// `setOption` on the loop.
    package func setOptionOnLoop<Value>(_ option: SCTPSocketOption<Value>, _ value: Value, association: AssociationID?) throws(SCTPError) {
        guard phase != .closed else { throw SCTPError(.badFileDescriptor, "the socket is closed") }
        guard let write = option.write else { throw SCTPError(.invalidArgument, "\(option.name) is read-only") }
        try write(self, value, association)
        driver?.configuration = configuration
    }

    /// The socket's local addresses with its port (empty when unbound or closed).
    package var localAddressesOnLoop: [SocketAddress] {
        guard phase != .closed, let driver else { return [] }
        return socketAddresses(driver.localAddresses, port: driver.localPort)
    }

    /// The peer address an association sends to (its primary path), with the peer's port;
    /// `association` may be omitted on a one-to-one socket.
    package func primaryPeerAddressOnLoop(_ association: AssociationID?) -> SocketAddress? {
        guard let (driver, id) = try? resolve(association), let port = driver.peerPort(of: id),
              let primary = driver.primaryAddress(of: id) else { return nil }
        return socketAddresses([primary], port: port).first
    }
}
