import NIOCore
import SCTP
import SCTPCore
import SystemPackage
import Testing

@Suite("SCTPSocket: the error of a lost association")
struct LostAssociationErrorTests {
    /// After the peer's ABORT the first send fails with ECONNRESET and later ones with EPIPE
    /// (a socket's pending error, as in Linux SCTP and usrsctp); found by the usrsctp interop
    /// tests, where every send after usrsctp's ABORT said EPIPE.
    @Test("a send after the peer's ABORT: ECONNRESET once, then EPIPE; our own abort leaves EPIPE")
    func sendAfterAbort() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let listener = try SCTPSocket.forTest(on: stack)
        try listener.bind(address("127.0.0.1", 0))
        try listener.listen()
        let port = try #require(listener.localPort)
        let client = try SCTPSocket.forTest(on: stack)
        try client.setOption(.events, [.associationChange])
        try client.connectx([address("127.0.0.1", port)])
        let server = try listener.accept()
        try server.setOption(.events, [.associationChange])
        guard case .associationChange(.communicationUp, _, _, _, _) = try client.nextNotification() else {
            Issue.record("no COMM_UP")
            return
        }

        try server.sendmsg(ByteBuffer(), info: SCTPSendInfo(flags: .abort))
        guard case .associationChange(.communicationLost, _, _, _, let error) = try client.nextNotification() else {
            Issue.record("no COMM_LOST after the peer's ABORT")
            return
        }
        #expect(error?.errno == .connectionReset)
        #expect(errno { try client.send(Array("after abort".utf8)) } == .connectionReset)
        #expect(errno { try client.send(Array("again".utf8)) } == .brokenPipe)
        #expect(try client.recvmsg() == nil)
        // The side that aborted gets EPIPE: nothing was lost that it did not do itself.
        #expect(errno { try server.send(Array("x".utf8)) } == .brokenPipe)
    }
}
