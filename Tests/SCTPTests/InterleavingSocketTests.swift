import Foundation
import NIOCore
import SCTP
import SCTPCore
import SystemPackage
import Testing

/// `SCTP_INTERLEAVING_SUPPORTED` and `SCTP_FRAGMENT_INTERLEAVE` (RFC 8260 §4.3.1, RFC 6458
/// §8.1.20) over real sockets on loopback, and I-DATA through `SCTPAssociation`.
@Suite("SCTPSocket: interleaving options (I-DATA)")
struct InterleavingSocketTests {
    @Test("EINVAL: interleaving without fragment interleave level 2, levels outside 0...2, lowering the level while interleaving is on")
    func optionErrors() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let socket = try SCTPSocket.forTest(on: stack)
        defer { try? socket.close() }
        #expect(try socket.getOption(.fragmentInterleave) == 1)
        #expect(try socket.getOption(.interleavingSupported) == false)
        #expect(errno { try socket.setOption(.interleavingSupported, true) } == .invalidArgument)
        #expect(errno { try socket.setOption(.fragmentInterleave, 3) } == .invalidArgument)
        #expect(errno { try socket.setOption(.fragmentInterleave, -1) } == .invalidArgument)
        try socket.setOption(.fragmentInterleave, 2)
        try socket.setOption(.interleavingSupported, true)
        #expect(try socket.getOption(.interleavingSupported) == true)
        #expect(errno { try socket.setOption(.fragmentInterleave, 1) } == .invalidArgument)
        try socket.setOption(.interleavingSupported, false)
        try socket.setOption(.fragmentInterleave, 0)
        #expect(try socket.getOption(.fragmentInterleave) == 0)
    }

    /// Connects a client to a listener, each offering interleaving or not; sends a 1 MiB
    /// message on stream 1 then a small one on stream 2; returns whether the association uses
    /// I-DATA and the order the complete messages arrived in (by stream).
    func transfer(client offersClient: Bool, server offersServer: Bool) throws -> (interleaving: Bool?, order: [UInt16]) {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, port) = try listening(on: stack, [address("127.0.0.1", 0)])
        defer { try? listener.close() }
        if offersServer { try listener.offerInterleaving() }
        let client = try SCTPSocket.forTest(on: stack)
        defer { try? client.close() }
        if offersClient { try client.offerInterleaving() }
        try client.bind(address("127.0.0.1", 0))
        try client.connectx([address("127.0.0.1", port)])
        let server = try listener.accept()
        defer { try? server.close() }
        let large = ByteBuffer(bytes: (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try client.sendmsg(large, info: SCTPSendInfo(stream: 1))
        try client.sendmsg(ByteBuffer(string: "small"), info: SCTPSendInfo(stream: 2))
        var order: [UInt16] = []
        var joined = ByteBuffer()
        for _ in 0..<10_000 where order.count < 2 {
            let message = try server.nextMessage()
            if message.info.stream == 1 { joined.writeImmutableBuffer(message.data) }
            else { #expect(message.data == ByteBuffer(string: "small")) }
            if message.isEndOfRecord { order.append(message.info.stream) }
        }
        #expect(joined == large)
        return (try client.usesInterleaving(), order)
    }

    @Test("both sockets offer interleaving: the association uses I-DATA, and a small message overtakes a 1 MiB one of another stream")
    func interleavedTransfer() throws {
        let (interleaving, order) = try transfer(client: true, server: true)
        #expect(interleaving == true)
        #expect(order == [2, 1])
    }

    @Test("only one side offers it: DATA, messages in the order sent", arguments: [(true, false), (false, true)])
    func fallback(client: Bool, server: Bool) throws {
        let (interleaving, order) = try transfer(client: client, server: server)
        #expect(interleaving == false)
        #expect(order == [1, 2])
    }

    @Test("SCTPAssociation and SCTPListener with interleaving: I-DATA both ways")
    func asyncAPI() async throws {
        let stack = makeStack()
        let listener = try SCTPListener.bind([address("127.0.0.1", 0)], stack: stack, interleaving: true)
        let port = try #require(listener.port)
        let client = try await SCTPAssociation.connect(to: [address("127.0.0.1", port)], stack: stack, interleaving: true)
        let server = try await listener.accept()
        #expect(try client.socket.usesInterleaving() == true)
        for index in 0..<20 {
            try await client.send(ByteBuffer(repeating: UInt8(index), count: 100 + index * 1000), stream: UInt16(index % 3))
        }
        var iterator = server.messages.makeAsyncIterator()
        var perStream: [UInt16: [UInt8]] = [:]
        var received = 0
        while received < 20 {
            guard case .message(let message) = try await iterator.next() else { break }
            perStream[message.info.stream, default: []].append(message.data.getInteger(at: message.data.readerIndex, as: UInt8.self) ?? 0)
            #expect(message.data.readableBytes == 100 + Int(message.data.getInteger(at: message.data.readerIndex, as: UInt8.self) ?? 0) * 1000)
            try await server.send(message.data, stream: message.info.stream)
            received += 1
        }
        for stream: UInt16 in 0..<3 { #expect(perStream[stream] == (0..<20).filter { $0 % 3 == Int(stream) }.map(UInt8.init)) }
        var echoes = client.messages.makeAsyncIterator()
        for _ in 0..<20 { guard case .message = try await echoes.next() else { break } }
        client.abort()
        server.abort()
        listener.close()
        try await stack.close().get()
    }
}
