import Foundation
import NIOCore
import SCTP
import SCTPCore
import SystemPackage
import Testing

/// `SCTP_STREAM_SCHEDULER` and `SCTP_STREAM_SCHEDULER_VALUE` (RFC 8260 §4.3.2, §4.3.3) over
/// real sockets on loopback, and the same through `SCTPAssociation`.
@Suite("SCTPSocket: stream scheduler options")
struct StreamSchedulerOptionTests {
    @Test("the socket's default applies to its association; values per stream; priority order at the receiver; bad values fail with EINVAL")
    func socketOptions() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let (listener, port) = try listening(on: stack, [address("127.0.0.1", 0)])
        defer { try? listener.close() }
        // A small receive window the server does not read at first: what the client sends
        // after the filler waits in its send queue, where the scheduler orders it.
        try listener.setOption(.receiveBufferSize, 16 * 1024)
        let client = try SCTPSocket.forTest(on: stack)
        defer { try? client.close() }
        #expect(try client.getOption(.streamScheduler) == .roundRobin)
        #expect(errno { _ = try client.getOption(.streamSchedulerValue(stream: 1)) } == .socketNotConnected)
        try client.setOption(.streamScheduler, .priority)
        try client.bind(address("127.0.0.1", 0))
        try client.connectx([address("127.0.0.1", port)])
        let server = try listener.accept()
        defer { try? server.close() }
        #expect(try client.getOption(.streamScheduler) == .priority)
        #expect(try client.getOption(.streamSchedulerValue(stream: 2)) == 0)
        try client.setOption(.streamSchedulerValue(stream: 1), 5)
        try client.setOption(.streamSchedulerValue(stream: 2), 1)
        #expect(try client.getOption(.streamSchedulerValue(stream: 1)) == 5)
        // 10 outbound streams by default: stream 10 does not exist.
        #expect(errno { try client.setOption(.streamSchedulerValue(stream: 10), 1) } == .invalidArgument)
        #expect(errno { _ = try client.getOption(.streamSchedulerValue(stream: 999)) } == .invalidArgument)
        #expect(errno { try client.setOption(.rawStreamScheduler, 7) } == .invalidArgument)
        #expect(try client.getOption(.rawStreamScheduler) == StreamSchedulerKind.priority.rawValue)

        try client.sendmsg(ByteBuffer(repeating: 0x46, count: 64 * 1024), info: SCTPSendInfo(stream: 0))
        for index in 0..<12 {
            let stream: UInt16 = index % 2 == 0 ? 1 : 2
            try client.sendmsg(ByteBuffer(string: "message \(index)"), info: SCTPSendInfo(stream: stream))
        }
        Thread.sleep(forTimeInterval: 0.1)
        // The filler comes in pieces (partial delivery: it is larger than the window).
        var fillerBytes = 0
        var streams: [UInt16] = []
        while streams.count < 12 || fillerBytes < 64 * 1024 {
            let message = try server.nextMessage()
            if message.info.stream == 0 {
                fillerBytes += message.data.readableBytes
            } else {
                streams.append(message.info.stream)
            }
        }
        #expect(fillerBytes == 64 * 1024)
        #expect(streams == Array(repeating: 2, count: 6) + Array(repeating: 1, count: 6))

        // Back to the C default (0: round robin) through the raw option; the values stay.
        try client.setOption(.rawStreamScheduler, 0)
        #expect(try client.getOption(.streamScheduler) == .roundRobin)
        #expect(try client.getOption(.streamSchedulerValue(stream: 1)) == 5)
    }

    @Test("SCTPAssociation: scheduler and values, switched while messages flow")
    func asyncAPI() async throws {
        let stack = makeStack()
        let listener = try SCTPListener.bind([address("127.0.0.1", 0)], stack: stack)
        let port = try #require(listener.port)
        let client = try await SCTPAssociation.connect(to: [address("127.0.0.1", port)], stack: stack) { socket in
            try socket.setOption(.streamScheduler, .weightedFairQueueing)
        }
        let server = try await listener.accept()
        #expect(try client.streamScheduler() == .weightedFairQueueing)
        try client.setStreamSchedulerValue(3, stream: 2)
        #expect(try client.streamSchedulerValue(stream: 2) == 3)
        #expect(throws: SCTPError.self) { try client.setStreamSchedulerValue(1, stream: 500) }
        let count = 60
        for index in 0..<count {
            if index == count / 2 { try client.setStreamScheduler(.firstComeFirstServed) }
            var payload = ByteBuffer()
            payload.writeInteger(UInt32(index))
            try await client.send(payload, stream: UInt16(index % 3))
        }
        #expect(try client.streamScheduler() == .firstComeFirstServed)
        var perStream: [UInt16: [UInt32]] = [:]
        var iterator = server.messages.makeAsyncIterator()
        for _ in 0..<count {
            guard case .message(let message) = try await iterator.next() else { break }
            perStream[message.info.stream, default: []].append(message.data.getInteger(at: message.data.readerIndex, as: UInt32.self) ?? 0)
        }
        for stream: UInt16 in 0..<3 {
            #expect(perStream[stream] == (0..<UInt32(count)).filter { $0 % 3 == UInt32(stream) })
        }
        client.abort()
        server.abort()
        listener.close()
        try await stack.close().get()
    }
}
