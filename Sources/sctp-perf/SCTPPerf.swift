import ArgumentParser
import Foundation
import NIOCore
import SCTPWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `sctp-perf`: SCTP throughput on loopback.
///
/// Until the association layer lands (issue 4), the default run measures the wire layer
/// end to end over real UDP sockets (RFC 6951 encapsulation) on 127.0.0.1 → 127.0.0.2:
/// the sender builds SCTP packets with one DATA chunk each (CRC32c computed), the receiver
/// parses and verifies every packet, checks the TSN sequence and answers with SACK
/// packets that open the sender's window. There is no retransmission yet: a lost
/// datagram is counted and reported, not repaired.
@main
struct SCTPPerf: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sctp-perf",
        abstract: "Measure SCTP throughput on loopback.",
        discussion: """
            With no arguments: a loopback transfer inside one process for a few seconds, \
            with a progress line each second and a summary in Mbit/s.
            Example: swift run -c release sctp-perf --length 1200 --time 3
            """)

    @Option(name: .shortAndLong, help: "User message length in bytes (1...65000).")
    var length: Int = 1200

    @Option(name: .shortAndLong, help: "Seconds to send for.")
    var time: Double = 3

    @Option(help: "Packets in flight before the sender waits for a SACK.")
    var window: Int = 128

    func validate() throws {
        guard (1...65000).contains(length) else { throw ValidationError("--length must be within 1...65000") }
        guard time > 0, time <= 3600 else { throw ValidationError("--time must be within (0, 3600] seconds") }
        guard (1...4096).contains(window) else { throw ValidationError("--window must be within 1...4096") }
    }

    func run() throws {
        let receiver = try UDPSocket(bindingTo: "127.0.0.2")
        let sender = try UDPSocket(bindingTo: "127.0.0.1")
        try sender.connect(to: "127.0.0.2", port: receiver.port)
        try receiver.connect(to: "127.0.0.1", port: sender.port)
        try receiver.setReceiveTimeout(milliseconds: 200)
        try sender.setReceiveTimeout(milliseconds: 200)

        print("sctp-perf: wire-layer loopback transfer over UDP encapsulation (CRC32c: \(CRC32c.implementation))")
        print("  sender 127.0.0.1:\(sender.port) -> receiver 127.0.0.2:\(receiver.port), "
            + "\(length)-byte messages, window \(window) packets, \(time) s")
        print("  (the association layer is not built yet: no retransmission, losses are reported)")

        let stats = ReceiverStats()
        let done = ManagedAtomicFlag()
        let receiverThread = Thread { runReceiver(receiver, stats: stats, done: done) }
        receiverThread.start()

        let result = runSender(sender, stats: stats)
        done.set()
        stats.waitForReceiverExit()

        let seconds = result.seconds
        let bytes = Double(stats.bytes) * 8
        print(String(format: "summary: %d messages sent, %d received, %d lost, %d bad; %.2f s, %.1f Mbit/s, %.0f messages/s",
                     result.sent, stats.messages, stats.lost, stats.bad, seconds, bytes / seconds / 1e6,
                     Double(stats.messages) / seconds))
        if stats.bad > 0 { throw ExitCode.failure }
    }

    struct SenderResult { var sent: Int; var seconds: Double }

    func runSender(_ socket: UDPSocket, stats: ReceiverStats) -> SenderResult {
        let payload = ByteBuffer(repeating: 0x5A, count: length)
        var packet = ByteBufferAllocator().buffer(capacity: length + 64)
        var ackBuffer = [UInt8](repeating: 0, count: 2048)
        let header = CommonHeader(sourcePort: 5001, destinationPort: 5001, verificationTag: 0x5C7F_0001)
        var tsn = TSN(1000)
        var acked = tsn.previous
        var sent = 0
        let start = Date()
        var nextReport = 1.0
        var lastBytes = 0
        while true {
            let elapsed = Date().timeIntervalSince(start)
            if elapsed >= time { break }
            if elapsed >= nextReport {
                let total = stats.bytes
                print(String(format: "  %4.0f s  %8.1f Mbit/s", nextReport, Double(total - lastBytes) * 8 / 1e6))
                lastBytes = total
                nextReport += 1
            }
            // Wait for window space: read SACKs until the cumulative ack moves far enough.
            while acked.distance(to: tsn) > UInt32(window) {
                let n = socket.receive(into: &ackBuffer)
                if n <= 0 {
                    // No SACK within the timeout: count the window as lost and go on.
                    acked = tsn.previous
                    break
                }
                let bytes = ByteBuffer(bytes: ackBuffer[0..<n])
                if let sack = try? SCTPPacket(parsing: bytes), case .sack(let chunk)? = sack.chunks.first,
                   acked < chunk.cumulativeTSNAck
                {
                    acked = chunk.cumulativeTSNAck
                }
            }
            packet.clear()
            SCTPPacket(header: header, chunks: [.data(DataChunk(
                flags: .complete, tsn: tsn, streamIdentifier: UInt16(truncatingIfNeeded: sent % 4), ssn: SSN(0),
                payloadProtocolIdentifier: 0, payload: payload))]).write(to: &packet)
            if socket.send(packet) {
                sent += 1
                tsn = tsn.next
            }
        }
        // End marker: a SHUTDOWN carrying the last TSN sent.
        packet.clear()
        SCTPPacket(header: header, chunks: [.shutdown(ShutdownChunk(cumulativeTSNAck: tsn.previous))]).write(to: &packet)
        for _ in 0..<3 { _ = socket.send(packet) }
        return SenderResult(sent: sent, seconds: Date().timeIntervalSince(start))
    }
}

/// Counters the receiver thread updates and the main thread reads.
final class ReceiverStats: @unchecked Sendable {
    private let lock = NSCondition()
    private var _messages = 0, _bytes = 0, _lost = 0, _bad = 0, _exited = false
    var messages: Int { lock.withLock { _messages } }
    var bytes: Int { lock.withLock { _bytes } }
    var lost: Int { lock.withLock { _lost } }
    var bad: Int { lock.withLock { _bad } }
    func add(messages: Int, bytes: Int, lost: Int, bad: Int) {
        lock.withLock {
            _messages += messages
            _bytes += bytes
            _lost += lost
            _bad += bad
        }
    }
    func exited() { lock.withLock { _exited = true; lock.broadcast() } }
    func waitForReceiverExit() {
        lock.withLock { while !_exited { _ = lock.wait(until: Date().addingTimeInterval(1)) } }
    }
}

final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// Parses and verifies every packet, checks TSN order, and SACKs every 16 packets.
func runReceiver(_ socket: UDPSocket, stats: ReceiverStats, done: ManagedAtomicFlag) {
    var buffer = [UInt8](repeating: 0, count: 70_000)
    var expected: TSN? = nil
    var sinceAck = 0
    var messages = 0, bytes = 0, lost = 0, bad = 0
    var sack = ByteBufferAllocator().buffer(capacity: 64)
    let header = CommonHeader(sourcePort: 5001, destinationPort: 5001, verificationTag: 0x5C7F_0002)
    func flush() {
        stats.add(messages: messages, bytes: bytes, lost: lost, bad: bad)
        messages = 0; bytes = 0; lost = 0; bad = 0
    }
    func acknowledge() {
        guard let next = expected else { return }
        sack.clear()
        SCTPPacket(header: header, chunks: [.sack(SackChunk(cumulativeTSNAck: next.previous,
                                                            advertisedReceiverWindowCredit: 1 << 22))]).write(to: &sack)
        _ = socket.send(sack)
        sinceAck = 0
    }
    receiving: while true {
        let n = socket.receive(into: &buffer)
        if n <= 0 {
            acknowledge()
            flush()
            if done.isSet { break }
            continue
        }
        let datagram = ByteBuffer(bytes: buffer[0..<n])
        guard let packet = try? SCTPPacket(parsing: datagram) else {
            bad += 1
            continue
        }
        for chunk in packet.chunks {
            switch chunk {
            case .data(let data):
                if let e = expected, e != data.tsn {
                    if e < data.tsn { lost += Int(e.distance(to: data.tsn)) } else { continue }
                }
                expected = data.tsn.next
                messages += 1
                bytes += data.payload.readableBytes
                sinceAck += 1
            case .shutdown:
                acknowledge()
                flush()
                break receiving
            default:
                bad += 1
            }
        }
        if sinceAck >= 16 {
            acknowledge()
            flush()
        }
    }
    flush()
    stats.exited()
}

/// A blocking UDP socket on an IPv4 loopback address, for the wire-layer run.
final class UDPSocket: @unchecked Sendable {
    let fd: Int32
    private(set) var port: UInt16 = 0

    init(bindingTo address: String) throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket", errno) }
        var size: Int32 = 4 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var addr = try Self.makeAddress(address, 0)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw SocketError("bind \(address)", errno) }
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: bound.sin_port)
    }

    deinit { close(fd) }

    static func makeAddress(_ address: String, _ port: UInt16) throws -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, address, &addr.sin_addr) == 1 else { throw SocketError("address \(address)", EINVAL) }
        return addr
    }

    func connect(to address: String, port: UInt16) throws {
        var addr = try Self.makeAddress(address, port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else { throw SocketError("connect", errno) }
    }

    func setReceiveTimeout(milliseconds: Int) throws {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw SocketError("SO_RCVTIMEO", errno)
        }
    }

    /// Sends the buffer's readable bytes; false when the kernel refused (buffer full).
    func send(_ buffer: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) } > 0
    }

    /// Receives one datagram; 0 or less on timeout or error.
    func receive(into buffer: inout [UInt8]) -> Int {
        buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    }
}

struct SocketError: Error, CustomStringConvertible {
    var operation: String
    var code: Int32
    init(_ operation: String, _ code: Int32) {
        self.operation = operation
        self.code = code
    }
    var description: String { "\(operation): \(String(cString: strerror(code)))" }
}
