import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SCTP
import SCTPCore
import SCTPWire

/// `sctp-perf --shards N`: how one endpoint scales over N event loops (docs/SHARDING.md), in
/// one process over real UDP sockets on 127.0.0.1. A `ShardedUDPEndpoint` server with N shards
/// on N loops (threads), and client endpoints spread over the same loops: client k uses SCTP
/// port 6000 + k, on loop k mod N (the clients of a loop share one stack and UDP socket), and
/// its INIT is steered to server shard k mod N too, so
/// each loop carries whole associations, both ends. With N = 1 everything runs on one thread:
/// the run with N = 2 against the run with N = 1 is the scaling over two cores.
///
/// - Throughput (default): `--associations K` (default 2) clients each send `--length`-byte
///   messages for `--time` seconds, from their loop (a batch of 64 queued whenever the last
///   batch found room); Mbit/s of user data the server received, all associations together,
///   counted after a warm-up of 0.5 s.
/// - Setup rate (`--setup-clients C`): C clients each set up an association, abort it when it
///   is up and set up the next, for `--time` seconds; associations per second, all together.
struct PerfSharded {
    var shards: Int
    var associations: Int
    var setupClients: Int?
    var length: Int
    var time: Double
    var unordered: Bool
    var json: Bool

    /// Per-shard counters (each updated by one loop only, read by the main thread).
    final class ShardCounters: @unchecked Sendable {
        private let boxes: [NIOLockedValueBox<(messages: Int, bytes: Int)>]
        init(_ count: Int) { boxes = (0..<count).map { _ in NIOLockedValueBox((0, 0)) } }
        func add(_ shard: Int, bytes: Int) { boxes[shard].withLockedValue { $0.messages += 1; $0.bytes += bytes } }
        var total: (messages: Int, bytes: Int) {
            boxes.reduce((0, 0)) { sum, box in box.withLockedValue { (sum.0 + $0.messages, sum.1 + $0.bytes) } }
        }
        func perShard() -> [Int] { boxes.map { $0.withLockedValue { $0.messages } } }
    }

    func run() throws {
        let loops = try PerfLoops(shards)
        defer { loops.shutdown() }
        let received = ShardCounters(shards)
        var serverOptions = UDPEncapsulationEndpoint.Options(sctpPort: 5001, localAddresses: ["127.0.0.1"])
        serverOptions.udpPort = 0
        serverOptions.acceptsAssociations = true
        let shardCount = shards
        let server = try ShardedUDPEndpoint.start(options: serverOptions, on: loops.all) { event in
            if case .message(let id, let message) = event {
                received.add(Int(id.rawValue) % shardCount, bytes: message.payload.readableBytes)
            }
        }.wait()
        defer { _ = try? server.close().wait() }
        guard server.shardCount == shards else {
            FileHandle.standardError.write(Data("error: the kernel refused the steering program; \(server.shardCount) shard(s)\n".utf8))
            throw ExitCode.failure
        }
        let clientCount = setupClients ?? associations
        // The clients of one loop share a stack (one UDP socket: their packets share its reads and writes).
        let stacks = loops.all.map { SCTPStack(options: SCTPStack.Options(udpPort: 0, peerUDPPort: server.localUDPPort), group: $0) }
        var clients: [UDPEncapsulationEndpoint] = []
        defer {
            for client in clients { _ = try? client.close().wait() }
            for stack in stacks { _ = try? stack.close().wait() }
        }
        for index in 0..<clientCount {
            let options = UDPEncapsulationEndpoint.Options(sctpPort: 6000 + UInt16(index), localAddresses: ["127.0.0.1"])
            clients.append(try UDPEncapsulationEndpoint.start(options: options, on: stacks[index % shards]) { _ in }.wait())
        }
        if setupClients != nil {
            try setupRate(clients: clients, server: server)
        } else {
            try throughput(clients: clients, server: server, received: received)
        }
    }

    private func report(_ fields: [(String, String)], text: String) {
        print(text)
        if json {
            print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        }
    }

    private func throughput(clients: [UDPEncapsulationEndpoint], server: ShardedUDPEndpoint, received: ShardCounters) throws {
        var ids: [AssociationID] = []
        for client in clients { ids.append(try client.connect(to: ["127.0.0.1"], port: 5001).wait()) }
        let payload = ByteBuffer(repeating: 0x5A, count: length)
        let batch = (0..<64).map { _ in OutgoingMessage(streamIdentifier: 0, isUnordered: unordered, payload: payload) }
        let deadline = NIODeadline.now() + .nanoseconds(Int64(time * 1e9))
        var finished: [EventLoopFuture<Void>] = []
        for (client, id) in zip(clients, ids) {
            let done = client.eventLoop.makePromise(of: Void.self)
            @Sendable func pump() {
                guard NIODeadline.now() < deadline else { return done.succeed() }
                client.send(batch, on: id).whenComplete { result in
                    if case .failure(let error) = result { return done.fail(error) }
                    client.eventLoop.execute { pump() }
                }
            }
            client.eventLoop.execute { pump() }
            finished.append(done.futureResult)
        }
        Thread.sleep(forTimeInterval: min(0.5, time / 4))
        let start = (Date(), received.total.bytes)
        for future in finished { try future.wait() }
        let end = (Date(), received.total.bytes)
        let seconds = end.0.timeIntervalSince(start.0)
        let mbps = Double(end.1 - start.1) * 8 / seconds / 1e6
        let perShard = received.perShard().map(String.init).joined(separator: ",")
        report([("mode", "\"throughput\""), ("shards", "\(shards)"), ("associations", "\(clients.count)"),
                ("length", "\(length)"), ("mbps", String(format: "%.1f", mbps)), ("messagesPerShard", "[\(perShard)]")],
               text: String(format: "sharded throughput: %d shard(s), %d association(s), %d-byte messages: %.1f Mbit/s (messages per shard %@)",
                            shards, clients.count, length, mbps, perShard))
        for (client, id) in zip(clients, ids) { _ = try? client.abort(id).wait() }
    }

    private func setupRate(clients: [UDPEncapsulationEndpoint], server: ShardedUDPEndpoint) throws {
        let completed = ShardCounters(shards)
        let failures = NIOLockedValueBox(0)
        let deadline = NIODeadline.now() + .nanoseconds(Int64(time * 1e9))
        var finished: [EventLoopFuture<Void>] = []
        let shardCount = shards
        for (index, client) in clients.enumerated() {
            let done = client.eventLoop.makePromise(of: Void.self)
            @Sendable func next() {
                guard NIODeadline.now() < deadline else { return done.succeed() }
                client.connect(to: ["127.0.0.1"], port: 5001).whenComplete { result in
                    switch result {
                    case .success(let id):
                        completed.add(index % shardCount, bytes: 0)
                        _ = client.abort(id)
                    case .failure:
                        failures.withLockedValue { $0 += 1 }
                    }
                    client.eventLoop.execute { next() }
                }
            }
            client.eventLoop.execute { next() }
            finished.append(done.futureResult)
        }
        let start = Date()
        for future in finished { try future.wait() }
        let seconds = Date().timeIntervalSince(start)
        let count = completed.total.messages
        let rate = Double(count) / seconds
        let failed = failures.withLockedValue { $0 }
        report([("mode", "\"setup\""), ("shards", "\(shards)"), ("clients", "\(clients.count)"), ("associations", "\(count)"),
                ("failed", "\(failed)"), ("setupsPerSecond", String(format: "%.1f", rate)), ("handedOver", "\(server.handedOver)")],
               text: String(format: "sharded setup rate: %d shard(s), %d client(s) at once: %d associations in %.2f s, %.0f/s (%d failed)",
                            shards, clients.count, count, seconds, rate, failed))
        if count == 0 { throw ExitCode.failure }
    }
}
