import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore
import SCTPWire

/// The default run of `sctp-perf` (no `--server`, no `--client`): a server and a client in
/// one process, over real UDP sockets on loopback. The server binds 127.0.0.1 and
/// 127.0.0.2, the client connects to both with connectx, prints what it got, then sends
/// messages for a few seconds with a progress line each second and reports Mbit/s.
struct PerfLoopback {
    var length: Int
    var time: Double
    var streams: Int
    var unordered: Bool
    /// Both ends offer I-DATA (`--interleaving`).
    var interleaving = false

    func run() throws {
        let group = try PerfLoops(2)
        defer { group.shutdown() }
        let counters = Counters()

        var serverOptions = UDPEncapsulationEndpoint.Options(sctpPort: 5001, localAddresses: ["127.0.0.1", "127.0.0.2"])
        serverOptions.udpPort = 0
        serverOptions.acceptsAssociations = true
        serverOptions.configuration.interleaving = interleaving
        PerfAuthentication.apply(to: &serverOptions.configuration)
        let server = try UDPEncapsulationEndpoint.start(options: serverOptions, on: group.next()) { event in
            if case .message(_, let message) = event { counters.add(bytes: message.payload.readableBytes) }
        }.wait()

        var clientOptions = UDPEncapsulationEndpoint.Options(sctpPort: 5002, localAddresses: ["127.0.0.1"])
        clientOptions.udpPort = 0
        clientOptions.peerUDPPort = server.localUDPPort
        clientOptions.configuration.interleaving = interleaving
        PerfAuthentication.apply(to: &clientOptions.configuration)
        let client = try UDPEncapsulationEndpoint.start(options: clientOptions, on: group.next()) { _ in }.wait()

        print("sctp-perf: SCTP over UDP on loopback; server 127.0.0.1,127.0.0.2 UDP port \(server.localUDPPort), "
            + "client 127.0.0.1 UDP port \(client.localUDPPort)")
        let setupStart = Date()
        let id: AssociationID
        do {
            id = try client.connect(to: ["127.0.0.1", "127.0.0.2"], port: 5001).wait()
        } catch let error as SCTPError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let setup = Date().timeIntervalSince(setupStart)
        let peers = try client.peerAddresses(of: id).wait().map(\.description).joined(separator: ", ")
        let negotiated = try client.streams(of: id).wait()
        print("connectx: association id \(id.rawValue), peer addresses [\(peers)], "
            + "streams out \(negotiated?.outbound ?? 0) / in \(negotiated?.inbound ?? 0), set up in \(String(format: "%.1f", setup * 1000)) ms")
        print("sending \(length)-byte \(unordered ? "unordered" : "ordered") messages on \(streams) stream(s) for \(time) s")

        let payload = ByteBuffer(repeating: 0x5A, count: length)
        let start = Date()
        var sent = 0
        var nextReport = 1.0
        var lastBytes = 0
        var last: EventLoopFuture<Void>? = nil
        while Date().timeIntervalSince(start) < time {
            var batch: [OutgoingMessage] = []
            batch.reserveCapacity(64)
            for _ in 0..<64 {
                batch.append(OutgoingMessage(streamIdentifier: UInt16(sent % streams), isUnordered: unordered, payload: payload))
                sent += 1
            }
            last = client.send(batch, on: id)
            try last?.wait()
            let elapsed = Date().timeIntervalSince(start)
            if elapsed >= nextReport {
                let bytes = counters.bytes
                print(String(format: "  %4.0f s  %9.1f Mbit/s", nextReport, Double(bytes - lastBytes) * 8 / 1e6))
                lastBytes = bytes
                nextReport += 1
            }
        }
        try client.shutdown(id).wait()
        let seconds = Date().timeIntervalSince(start)
        let received = counters.messages
        print(String(format: "summary: %d messages sent, %d received, %.0f bytes; %.2f s, %.1f Mbit/s, %.0f messages/s",
                     sent, received, Double(counters.bytes), seconds, Double(counters.bytes) * 8 / seconds / 1e6,
                     Double(received) / seconds))
        _ = try? client.close().wait()
        _ = try? server.close().wait()
        if received != sent {
            FileHandle.standardError.write(Data("error: \(sent - received) messages were not delivered\n".utf8))
            throw ExitCode.failure
        }
    }
}

/// Counters the server's event loop updates and the main thread reads.
final class Counters: @unchecked Sendable {
    private let lock = NSLock()
    private var _messages = 0
    private var _bytes = 0
    func add(bytes: Int) { lock.withLock { _messages += 1; _bytes += bytes } }
    var messages: Int { lock.withLock { _messages } }
    var bytes: Int { lock.withLock { _bytes } }
}
