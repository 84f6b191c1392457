import Foundation
import NIOCore
import SCTP
import SCTPCore
import SCTPWire
import SystemPackage
import Testing

/// Runs `body` with a deadline, so a broken async test fails instead of hanging.
func withDeadline<T: Sendable>(seconds: Int = 30, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else {
            throw SCTPError(.timedOut, "test deadline of \(seconds) s passed")
        }
        return result
    }
}

@Suite("Async API over UDP on loopback")
struct AsyncAPITests {
    @Test("listener and association: whole messages both ways up to 1 MiB, graceful shutdown")
    func transfer() async throws {
        let stack = makeStack()
        let listener = try SCTPListener.bind([address("127.0.0.1", 0), address("127.0.0.2", 0)], stack: stack)
        let port = try #require(listener.port)
        let sizes = [1, 1000, 5000, 70_000, 1 << 20]

        let server = Task {
            try await withDeadline {
                let association = try await listener.accept()
                var received: [Int] = []
                for try await item in association.messages {
                    guard case .message(let message) = item else { continue }
                    // Echo on the same stream.
                    try await association.send(message.data, stream: message.info.stream,
                                               payloadProtocolIdentifier: message.info.payloadProtocolIdentifier)
                    received.append(message.data.readableBytes)
                }
                return received
            }
        }

        let client = try await withDeadline {
            try await SCTPAssociation.connect(to: [address("127.0.0.1", port), address("127.0.0.2", port)], stack: stack)
        }
        #expect(Set(try client.peerAddresses().map(\.ipAddress)) == ["127.0.0.1", "127.0.0.2"])
        let echoed = try await withDeadline {
            var echoed: [(Int, UInt16, Bool)] = []
            var iterator = client.messages.makeAsyncIterator()
            for (index, size) in sizes.enumerated() {
                var payload = ByteBuffer()
                for i in 0..<size { payload.writeInteger(UInt8(truncatingIfNeeded: i &* 7 &+ index)) }
                try await client.send(payload, stream: UInt16(index % 3), payloadProtocolIdentifier: 99)
                guard case .message(let message) = try await iterator.next() else { break }
                echoed.append((message.data.readableBytes, message.info.stream, message.data == payload))
            }
            return echoed
        }
        #expect(echoed.map(\.0) == sizes)
        #expect(echoed.map(\.1) == sizes.indices.map { UInt16($0 % 3) })
        #expect(echoed.allSatisfy { $0.2 })
        try await withDeadline { try await client.shutdown() }
        let received = try await server.value
        #expect(received == sizes)
        listener.close()
        try await stack.close().get()
    }

    @Test("backpressure: sends suspend while the buffer is full and resume as the peer reads; nothing is lost")
    func backpressure() async throws {
        let stack = makeStack()
        let listener = try SCTPListener.bind([address("127.0.0.1", 0)], stack: stack) { socket in
            // A small receive window: the sender fills it quickly and must wait for the reader.
            try socket.setOption(.receiveBufferSize, 32 * 1024)
        }
        let port = try #require(listener.port)
        let client = try await withDeadline {
            try await SCTPAssociation.connect(to: [address("127.0.0.1", port)], stack: stack) { socket in
                try socket.setOption(.sendBufferSize, 128 * 1024)
            }
        }
        let server = try await withDeadline { try await listener.accept() }
        let count = 96
        let sender = Task {
            try await withDeadline {
                var maxPending = 0
                for index in 0..<count {
                    var payload = ByteBuffer()
                    payload.writeInteger(UInt32(index))
                    payload.writeRepeatingByte(UInt8(truncatingIfNeeded: index), count: 16 * 1024)
                    try await client.send(payload)
                    maxPending = max(maxPending, try client.socket.getOption(.status).pendingBytes)
                }
                return maxPending
            }
        }
        let received = try await withDeadline {
            var indices: [UInt32] = []
            var iterator = server.messages.makeAsyncIterator()
            while indices.count < count, case .message(let message) = try await iterator.next() {
                guard let index = message.data.getInteger(at: message.data.readerIndex, as: UInt32.self),
                      message.data.readableBytes == 4 + 16 * 1024,
                      message.data.readableBytesView.dropFirst(4).allSatisfy({ $0 == UInt8(truncatingIfNeeded: index) }) else { break }
                indices.append(index)
            }
            return indices
        }
        #expect(received == (0..<UInt32(count)).map { $0 })
        // The send buffer bounded what was queued (1.5 MiB were sent through a 128 KiB buffer).
        #expect(try await sender.value <= 128 * 1024)
        client.abort()
        server.abort()
        listener.close()
        try await stack.close().get()
    }

    @Test("cancellation: a waiting receive throws EINTR and loses nothing; a cancelled connect leaves no association")
    func cancellation() async throws {
        let stack = makeStack()
        let listener = try SCTPListener.bind([address("127.0.0.1", 0)], stack: stack)
        let port = try #require(listener.port)
        let client = try await withDeadline {
            try await SCTPAssociation.connect(to: [address("127.0.0.1", port)], stack: stack)
        }
        let server = try await withDeadline { try await listener.accept() }

        let waiting = Task { try await client.socket.recvmsg() }
        // Cancel while it waits (or before it starts: both must end in EINTR).
        waiting.cancel()
        let outcome = await waiting.result
        guard case .failure(let error as SCTPError) = outcome else {
            Issue.record("the receive was not interrupted: \(outcome)")
            return
        }
        #expect(error.errno == .interrupted)
        // The next message still arrives.
        try await server.send(ByteBuffer(string: "after cancel"))
        let next = try await withDeadline { try await client.socket.recvmsg() }
        guard case .message(let message) = next else {
            Issue.record("no message after the cancelled receive")
            return
        }
        #expect(String(buffer: message.data) == "after cancel")

        // A connect to a silent address, cancelled: the attempt is aborted, not left running.
        let silent = Task {
            try await SCTPAssociation.connect(to: [address("127.0.0.9", port)], stack: stack) { socket in
                try socket.setOption(.rtoInfo, SCTPRTOInfo(initial: .seconds(5), minimum: .seconds(1), maximum: .seconds(10)))
            }
        }
        silent.cancel()
        let connectOutcome = await silent.result
        guard case .failure(let connectError as SCTPError) = connectOutcome else {
            Issue.record("the connect was not interrupted: \(connectOutcome)")
            return
        }
        #expect(connectError.errno == .interrupted)
        client.abort()
        listener.close()
        try await stack.close().get()
    }

    @Test("the README's async example, on a stack of its own")
    func readmeExample() async throws {
        let stack = makeStack()
        let listener = try SCTPListener.bind([try SocketAddress(ipAddress: "127.0.0.1", port: 0)], stack: stack)
        let port = try #require(listener.port)
        let server = Task {
            for try await association in listener.associations {
                for try await case .message(let message) in association.messages {
                    try await association.send(message.data, stream: message.info.stream)   // echo
                }
                break
            }
        }
        let association = try await SCTPAssociation.connect(to: [try SocketAddress(ipAddress: "127.0.0.1", port: Int(port))], stack: stack)
        try await association.send(ByteBuffer(string: "hello"))
        let echoed = try await withDeadline {
            var iterator = association.messages.makeAsyncIterator()
            guard case .message(let message) = try await iterator.next() else { return "" }
            return String(buffer: message.data)
        }
        #expect(echoed == "hello")
        try await association.shutdown()
        _ = await server.result
        listener.close()
        try await stack.close().get()
    }
}
