import Dispatch
import NIOCore
@testable import SCTP
import SCTPCore
import SystemPackage
import Testing

/// A one-to-many `sendmsg` with `SCTP_ABORT` by id returns before the loop runs the abort.
/// A peeloff or a close that another thread made reach the loop before that abort must find
/// the association aborting, as if the abort had run first (review of 2026-12-08).
@Suite("SCTPSocket: an abort that does not wait, against a peeloff or close queued before it")
struct AbortWithoutWaitingTests {
    /// A listening one-to-many server reporting association changes, and a one-to-many
    /// client with one association to it.
    static func pair(on stack: SCTPStack) throws -> (server: SCTPSocket, client: SCTPSocket, id: AssociationID) {
        let (server, port) = try listeningOneToMany(on: stack)
        let client = try SCTPSocket.forTest(.oneToMany, on: stack)
        try client.bind(address("127.0.0.1", 0))
        let id = try client.connectx([address("127.0.0.1", port)])
        return (server, client, id)
    }

    /// How the server saw its association end: COMMUNICATION LOST or SHUTDOWN COMPLETE.
    static func ending(seenBy server: SCTPSocket) throws -> SCTPAssociationChange? {
        for _ in 0..<8 {
            if case .associationChange(let state, _, _, _, _) = try server.nextNotification(),
               state == .communicationLost || state == .shutdownComplete {
                return state
            }
        }
        return nil
    }

    /// Holds the loop until `release` is signalled; what is queued meanwhile runs in order.
    static func holdLoop(_ loop: any EventLoop) -> DispatchSemaphore {
        let release = DispatchSemaphore(value: 0)
        let held = DispatchSemaphore(value: 0)
        loop.execute {
            held.signal()
            _ = release.wait(timeout: .now() + 30)
        }
        held.wait()
        return release
    }

    @Test("a close queued before the abort's task aborts the association (the peer sees COMMUNICATION LOST, not a shutdown)")
    func closeQueuedFirst() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (server, client, id) = try Self.pair(on: stack)
        let release = Self.holdLoop(client.eventLoop)
        // Another thread's close reaches the loop first…
        let closing = client.eventLoop.submit { _ = client.closeOnLoop() }
        // …then this abort, which returns at once.
        try client.sendmsg(ByteBuffer(string: "bye"), info: SCTPSendInfo(flags: .abort, associationID: id))
        release.signal()
        try closing.wait()
        #expect(try Self.ending(seenBy: server) == .communicationLost)
        try server.close()
    }

    @Test("a peeloff queued before the abort's task fails with EINVAL, and the association is aborted")
    func peeloffQueuedFirst() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (server, client, id) = try Self.pair(on: stack)
        let release = Self.holdLoop(client.eventLoop)
        let peeling = client.eventLoop.submit { () throws -> SCTPSocket in try client.peeloffOnLoop(id) }
        try client.sendmsg(ByteBuffer(), info: SCTPSendInfo(flags: .abort, associationID: id))
        release.signal()
        var failure: Errno?
        do {
            let child = try peeling.wait()
            try? child.close()
        } catch let error as SCTPError {
            failure = error.errno
        }
        #expect(failure == .invalidArgument)
        #expect(try Self.ending(seenBy: server) == .communicationLost)
        #expect(client.associationIDs.isEmpty)
        try client.close()
        try server.close()
    }
}
