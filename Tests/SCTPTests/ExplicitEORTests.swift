import Foundation
import NIOCore
import SCTP
import SCTPCore
import SystemPackage
import Testing

/// `SCTP_EXPLICIT_EOR` (RFC 6458 §8.1.26): messages built from several sends, over real
/// sockets on loopback.
@Suite("SCTPSocket: SCTP_EXPLICIT_EOR")
struct ExplicitEORTests {
    static func piece(_ text: String, stream: UInt16 = 2, ppid: UInt32 = 7, flags: SCTPSendFlags = [],
                      association: AssociationID? = nil) -> (ByteBuffer, SCTPSendInfo) {
        (ByteBuffer(string: text), SCTPSendInfo(stream: stream, payloadProtocolIdentifier: ppid, flags: flags, associationID: association))
    }

    static func send(_ socket: SCTPSocket, _ text: String, stream: UInt16 = 2, ppid: UInt32 = 7, flags: SCTPSendFlags = [],
                     association: AssociationID? = nil) throws {
        let (data, info) = piece(text, stream: stream, ppid: ppid, flags: flags, association: association)
        try socket.sendmsg(data, info: info)
    }

    @Test("three sends, the last with SCTP_EOR, arrive as one message with its stream and PPID; an empty SCTP_EOR send completes one; without the option each send is a message")
    func piecesMakeOneMessage() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server) = try SocketOptionTests.connectedPair(on: stack)
        defer { try? client.close(); try? server.close(); try? listener.close() }
        #expect(try client.getOption(.explicitEOR) == false)
        try client.setOption(.explicitEOR, true)
        #expect(try client.getOption(.explicitEOR))

        try Self.send(client, "first-")
        try Self.send(client, "second-")
        try Self.send(client, "third", flags: .endOfRecord)
        let whole = try server.nextMessage()
        #expect(text(whole.data) == "first-second-third" && whole.isEndOfRecord)
        #expect(whole.info.stream == 2 && whole.info.payloadProtocolIdentifier == 7)

        // An empty send with SCTP_EOR ends the message; the next message is built afresh.
        try Self.send(client, "x", stream: 1, ppid: 9)
        try Self.send(client, "y", stream: 1, ppid: 9)
        try client.sendmsg(ByteBuffer(), info: SCTPSendInfo(stream: 1, payloadProtocolIdentifier: 9, flags: .endOfRecord))
        try Self.send(client, "alone", stream: 3, ppid: 1, flags: .endOfRecord)
        let empty = try server.nextMessage()
        #expect(text(empty.data) == "xy" && empty.info.stream == 1 && empty.info.payloadProtocolIdentifier == 9 && empty.isEndOfRecord)
        let alone = try server.nextMessage()
        #expect(text(alone.data) == "alone" && alone.info.stream == 3)

        // Off: every send is its own message, SCTP_EOR or not.
        try client.setOption(.explicitEOR, false)
        try Self.send(client, "one")
        try Self.send(client, "two")
        try Self.send(client, "three", flags: .endOfRecord)
        for expected in ["one", "two", "three"] {
            let message = try server.nextMessage()
            #expect(text(message.data) == expected && message.isEndOfRecord)
        }
    }

    @Test("while a message is being built: another stream, PPID or unordered flag is EINVAL and the message stays; empty sends without SCTP_EOR, or with nothing to end, are EINVAL; switching the option off is EINVAL")
    func mismatchedSends() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server) = try SocketOptionTests.connectedPair(on: stack)
        defer { try? client.close(); try? server.close(); try? listener.close() }
        try client.setOption(.explicitEOR, true)
        #expect(errno { try client.sendmsg(ByteBuffer(), info: SCTPSendInfo(stream: 2, flags: .endOfRecord)) } == .invalidArgument)
        #expect(errno { try client.sendmsg(ByteBuffer(), info: SCTPSendInfo(stream: 2)) } == .invalidArgument)
        #expect(errno { try Self.send(client, "nowhere", stream: 500) } == .invalidArgument)

        try Self.send(client, "kept-")
        #expect(errno { try Self.send(client, "other stream", stream: 3) } == .invalidArgument)
        #expect(errno { try Self.send(client, "other ppid", ppid: 8, flags: .endOfRecord) } == .invalidArgument)
        #expect(errno { try Self.send(client, "unordered", flags: .unordered) } == .invalidArgument)
        #expect(errno { try client.sendmsg(ByteBuffer(), info: SCTPSendInfo(stream: 2, payloadProtocolIdentifier: 7)) } == .invalidArgument)
        #expect(errno { try client.setOption(.explicitEOR, false) } == .invalidArgument)
        #expect(try client.getOption(.explicitEOR))
        try Self.send(client, "end", flags: .endOfRecord)
        let message = try server.nextMessage()
        #expect(text(message.data) == "kept-end" && message.info.stream == 2 && message.info.payloadProtocolIdentifier == 7)
        try client.setOption(.explicitEOR, false)
    }

    @Test("pieces beyond SO_SNDBUF fail with EMSGSIZE and drop the message; up to it they go as one message")
    func sendBufferLimit() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server) = try SocketOptionTests.connectedPair(on: stack)
        defer { try? client.close(); try? server.close(); try? listener.close() }
        try client.setOption(.explicitEOR, true)
        try client.setOption(.sendBufferSize, 10_000)
        let info = SCTPSendInfo(stream: 1)
        var eor = info
        eor.flags = .endOfRecord
        try client.sendmsg(ByteBuffer(repeating: 1, count: 6000), info: info)
        #expect(errno { try client.sendmsg(ByteBuffer(repeating: 2, count: 4001), info: info) } == .messageTooLong)
        // The message was dropped: a new one starts with this send.
        try client.sendmsg(ByteBuffer(repeating: 3, count: 6000), info: info)
        try client.sendmsg(ByteBuffer(repeating: 4, count: 4000), info: eor)
        let whole = try server.nextMessage()
        #expect(whole.data.readableBytes == 10_000 && whole.isEndOfRecord)
        #expect(whole.data.getBytes(at: whole.data.readerIndex, length: 6000)?.allSatisfy { $0 == 3 } == true)
        #expect(whole.data.getBytes(at: whole.data.readerIndex + 6000, length: 4000)?.allSatisfy { $0 == 4 } == true)
        // One send above the limit alone: EMSGSIZE too.
        #expect(errno { try client.sendmsg(ByteBuffer(repeating: 5, count: 10_001), info: eor) } == .messageTooLong)
        try client.setOption(.explicitEOR, false)
    }

    @Test("the accepted socket inherits the option and builds messages; the association's end drops a message being built")
    func acceptedInheritsAndEndDrops() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server) = try SocketOptionTests.connectedPair(on: stack, listener: { try $0.setOption(.explicitEOR, true) })
        defer { try? client.close(); try? server.close(); try? listener.close() }
        #expect(try server.getOption(.explicitEOR))
        #expect(try client.getOption(.explicitEOR) == false)
        try Self.send(server, "from ")
        try Self.send(server, "the server", flags: .endOfRecord)
        #expect(text(try client.nextMessage().data) == "from the server")

        // A piece waits on the server; the client aborts: the message goes with the
        // association, so the option can be switched off again.
        try Self.send(server, "never sent")
        #expect(errno { try server.setOption(.explicitEOR, false) } == .invalidArgument)
        try client.setOption(.linger, .zero)
        try client.close()
        #expect(eventually(seconds: 10) { (try? server.setOption(.explicitEOR, false)) != nil })
    }

    @Test("one-to-many: two associations build messages at once; a peeled-off association takes its message along")
    func oneToManyTwoAssociations() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (server, clients, ids) = try SocketOptionTests.oneToManyWithTwoClients(on: stack) { try $0.setOption(.explicitEOR, true) }
        defer { try? server.close(); for client in clients { try? client.close() } }

        // Interleaved pieces on two associations, on different streams.
        try Self.send(server, "A1-", stream: 1, ppid: 11, association: ids[0])
        try Self.send(server, "B1-", stream: 4, ppid: 22, association: ids[1])
        try Self.send(server, "A2-", stream: 1, ppid: 11, association: ids[0])
        // Each association checks its own message.
        #expect(errno { try Self.send(server, "B?", stream: 1, ppid: 11, association: ids[1]) } == .invalidArgument)
        try Self.send(server, "B2", stream: 4, ppid: 22, flags: .endOfRecord, association: ids[1])
        try Self.send(server, "A3", stream: 1, ppid: 11, flags: .endOfRecord, association: ids[0])
        let a = try clients[0].nextMessage()
        #expect(text(a.data) == "A1-A2-A3" && a.info.stream == 1 && a.info.payloadProtocolIdentifier == 11 && a.isEndOfRecord)
        let b = try clients[1].nextMessage()
        #expect(text(b.data) == "B1-B2" && b.info.stream == 4 && b.info.payloadProtocolIdentifier == 22 && b.isEndOfRecord)

        // A piece, then peeloff: the peeled-off socket (explicit EOR inherited) completes it.
        try Self.send(server, "before peeloff, ", association: ids[0])
        let peeled = try server.peeloff(ids[0])
        defer { try? peeled.close() }
        #expect(try peeled.getOption(.explicitEOR))
        try Self.send(peeled, "after", flags: .endOfRecord)
        #expect(text(try clients[0].nextMessage().data) == "before peeloff, after")
        try server.setOption(.explicitEOR, false)
    }

    @Test("non-blocking: the completing send that finds the send buffer full fails with EWOULDBLOCK and keeps the message; repeated once there is room, it goes whole")
    func nonBlockingCompletionRetries() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, client, server) = try SocketOptionTests.connectedPair(on: stack, listener: {
            try $0.setOption(.receiveBufferSize, 1500)
        }, client: { try $0.setOption(.sendBufferSize, 4000) })
        defer { try? client.close(); try? server.close(); try? listener.close() }
        try client.setOption(.explicitEOR, true)
        try client.setOption(.nonBlocking, true)
        let info = SCTPSendInfo(stream: 1)
        var eor = info
        eor.flags = .endOfRecord
        // Fill the peer's window and the send queue with whole messages of 1000 bytes.
        var filler = 0
        while filler < 64, errno(of: { try client.sendmsg(ByteBuffer(repeating: 9, count: 1000), info: eor) }) == nil { filler += 1 }
        #expect(filler < 64, "the send buffer never filled")
        try client.sendmsg(ByteBuffer(string: "kept "), info: info)
        #expect(errno { try client.sendmsg(ByteBuffer(string: "whole"), info: eor) } == .wouldBlock)
        // The reader makes room; the same completing send is repeated until it is taken.
        for _ in 0..<filler {
            #expect(try server.nextMessage().data.readableBytes == 1000)
        }
        let deadline = ContinuousClock.now + .seconds(10)
        var outcome = errno { try client.sendmsg(ByteBuffer(string: "whole"), info: eor) }
        while outcome == .wouldBlock, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.005)
            outcome = errno { try client.sendmsg(ByteBuffer(string: "whole"), info: eor) }
        }
        #expect(outcome == nil)
        let message = try server.nextMessage()
        #expect(text(message.data) == "kept whole" && message.info.stream == 1 && message.isEndOfRecord)
    }
}
