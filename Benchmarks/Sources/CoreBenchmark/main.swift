#if canImport(Glibc)
import Glibc
#endif
import CMallocCounter
import NIOCore
import SCTPCore
import SCTPWire

// The association core alone, with no sockets: two endpoints in one process hand their
// packets to each other directly (every packet serialized, checksummed and parsed), on a
// virtual clock that only jumps when both sides wait for a timer. It measures the per-packet
// cost of the protocol engine, the budget PERFORMANCE.md sets at about 1 µs per packet.
// Heap allocations are counted too (the C target CMallocCounter replaces malloc and its
// siblings in this executable): those made between two points of the steady transfer, after
// its start, divided by the packets handled between them.

let wall = ContinuousClock()

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// `value` with `decimals` digits after the point.
func fmt(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int((value * scale).rounded())
    var text = String(scaled / Int(scale))
    if decimals > 0 {
        let fraction = String(scaled % Int(scale))
        text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
    return text
}

struct Result {
    var messages: Int
    var bytes: Int
    var packets: Int
    var wallSeconds: Double
    /// Heap allocations (malloc, calloc, realloc, posix_memalign, ...) of the whole process
    /// between the end of the warm-up and the end, and the packets and messages handled then.
    var steadyAllocations: UInt64
    var steadyPackets: Int
    var steadyMessages: Int

    /// The same over the second half of the run's packets only: by then the congestion
    /// window and the peer's window have stopped growing, and with them the number of packet
    /// buffers in flight (the pool makes one for each packet waiting beyond those it holds).
    var lateAllocations: UInt64
    var latePackets: Int

    var allocationsPerPacket: Double { Double(steadyAllocations) / Double(max(steadyPackets, 1)) }
    var allocationsPerMessage: Double { Double(steadyAllocations) / Double(max(steadyMessages, 1)) }
    var lateAllocationsPerPacket: Double { Double(lateAllocations) / Double(max(latePackets, 1)) }
}

/// A transfer of `length`-byte messages for `duration` of wall-clock time, or until
/// `packetLimit` packets have been handled (for instruction counts, whatever the machine's load).
/// Allocations are counted from the `warmUp`-th packet on (the handshake, the first windows
/// and the arrays and queues growing to their working size are left out).
func transfer(length: Int, unordered: Bool, duration: Duration, packetLimit: Int = .max, warmUp: Int = 5_000) -> Result {
    let clientAddress = IPAddress.v4(IPv4Address(127, 0, 0, 1))
    let serverAddress = IPAddress.v4(IPv4Address(127, 0, 0, 2))
    var configuration = SCTPConfiguration()
    configuration.pathMTU = 1452
    let client = SCTPEndpoint(configuration: configuration, localPort: 5002, localAddresses: [clientAddress],
                              random: SeededRandomSource(seed: 1), now: .zero)
    let server = SCTPEndpoint(configuration: configuration, localPort: 5001, localAddresses: [serverAddress],
                              acceptsAssociations: true, random: SeededRandomSource(seed: 2), now: .zero)
    var now = SCTPInstant.zero
    var packets = 0
    var received = 0
    var receivedBytes = 0
    var up = false
    var serverAssociation: AssociationID?

    // Each side takes the other's packets in batches of at most `batch`, as a driver reads
    // them (recvmmsg, 32 datagrams per call in the SCTP module's), and its events are taken
    // right after each batch, as the driver dispatches them. (The messages delivered are
    // slices of the datagrams the other side sent: kept, they would hold its packet buffers.)
    let batch = 32
    func serverEvents() {
        while let event = server.pollEvent() {
            switch event {
            case .message(let id, let m):
                received += 1
                receivedBytes += m.payload.readableBytes
                server.consumed(bytes: m.payload.readableBytes, on: id, now: now)
            case .communicationUp(let id, _, _): serverAssociation = id
            default: break
            }
        }
    }
    func pump() -> Bool {
        var moved = false
        var n = 0
        while n < batch, let t = client.pollTransmit() {
            server.handle(datagram: t.datagram, from: clientAddress, to: serverAddress, now: now)
            n += 1
        }
        serverEvents()
        packets += n
        moved = moved || n > 0
        n = 0
        while n < batch, let t = server.pollTransmit() {
            client.handle(datagram: t.datagram, from: serverAddress, to: clientAddress, now: now)
            n += 1
        }
        packets += n
        moved = moved || n > 0
        while let event = client.pollEvent() {
            if case .communicationUp = event { up = true }
        }
        return moved
    }

    let id = try! client.connect(to: [serverAddress], port: 5001, now: now)
    while !up { _ = pump() }
    _ = serverAssociation
    let payload = ByteBuffer(repeating: 0x42, count: length)
    let message = OutgoingMessage(streamIdentifier: 0, isUnordered: unordered, payload: payload)
    let start = wall.now
    let end = start + duration
    var checks = 0
    // Where the steady part starts: (allocations, packets, messages) then.
    var steadyStart: (allocations: UInt64, packets: Int, messages: Int)?
    // (packets, allocations) every 64 turns, for the second half's figure; room made before
    // the transfer, so that recording allocates nothing (it stops when full).
    var checkpoints: [(packets: Int, allocations: UInt64)] = []
    checkpoints.reserveCapacity(1 << 16)
    while true {
        // Keep the send queue topped up.
        while (try? client.send(message, on: id, now: now)) != nil {}
        if !pump() {
            // Both sides wait for a timer (delayed SACK): jump to it.
            let deadline: SCTPInstant?
            switch (client.nextDeadline, server.nextDeadline) {
            case (let a?, let b?): deadline = min(a, b)
            case (let a?, nil): deadline = a
            case (nil, let b): deadline = b
            }
            if let deadline {
                now = max(now, deadline)
                client.handleTimeout(now: now)
                server.handleTimeout(now: now)
            }
        }
        checks += 1
        if steadyStart == nil && packets >= warmUp {
            steadyStart = (cmalloccounter_allocations(), packets, received)
        }
        if packets >= packetLimit { break }
        if checks % 64 == 0 {
            if checkpoints.count < checkpoints.capacity { checkpoints.append((packets, cmalloccounter_allocations())) }
            if wall.now >= end { break }
        }
    }
    let allocationsNow = cmalloccounter_allocations()
    let steady = steadyStart ?? (allocationsNow, packets, received)
    let late = checkpoints.first { $0.packets >= packets / 2 } ?? (packets, allocationsNow)
    return Result(messages: received, bytes: receivedBytes, packets: packets, wallSeconds: seconds(wall.now - start),
                  steadyAllocations: allocationsNow - steady.allocations, steadyPackets: packets - steady.packets,
                  steadyMessages: received - steady.messages,
                  lateAllocations: allocationsNow - late.allocations, latePackets: packets - late.packets)
}

/// Associations set up and aborted one after another (INIT, INIT ACK, COOKIE ECHO, COOKIE ACK,
/// then ABORT), as the socket benchmark's setup rate does: the protocol engine's share of it.
/// `allocations` counts the heap allocations of the associations after the first 100 (both
/// endpoints; 0 where the counter is not active).
func setupRate(duration: Duration, limit: Int = .max) -> (associations: Int, wallSeconds: Double, allocations: Double) {
    let clientAddress = IPAddress.v4(IPv4Address(127, 0, 0, 1))
    let serverAddress = IPAddress.v4(IPv4Address(127, 0, 0, 2))
    let client = SCTPEndpoint(configuration: SCTPConfiguration(), localPort: 5002, localAddresses: [clientAddress],
                              random: SeededRandomSource(seed: 1), now: .zero)
    let server = SCTPEndpoint(configuration: SCTPConfiguration(), localPort: 5001, localAddresses: [serverAddress],
                              acceptsAssociations: true, random: SeededRandomSource(seed: 2), now: .zero)
    var now = SCTPInstant.zero
    var count = 0
    var allocationsAtWarm: (allocations: UInt64, count: Int)? = nil
    let start = wall.now
    let end = start + duration
    while true {
        if count == 100 { allocationsAtWarm = (cmalloccounter_allocations(), count) }
        let id = try! client.connect(to: [serverAddress], port: 5001, now: now)
        var up = false
        var rounds = 0
        while !up {
            rounds += 1
            precondition(rounds < 100, "the handshake did not complete")
            while let t = client.pollTransmit() {
                server.handle(datagram: t.datagram, from: clientAddress, to: serverAddress, now: now)
            }
            while let t = server.pollTransmit() {
                client.handle(datagram: t.datagram, from: serverAddress, to: clientAddress, now: now)
            }
            while server.pollEvent() != nil {}
            while let event = client.pollEvent() {
                if case .communicationUp = event { up = true }
            }
        }
        try! client.abort(id, now: now)
        while let t = client.pollTransmit() {
            server.handle(datagram: t.datagram, from: clientAddress, to: serverAddress, now: now)
        }
        while server.pollEvent() != nil {}
        while client.pollEvent() != nil {}
        now = now + .microseconds(100)
        count += 1
        if count >= limit { break }
        if count % 64 == 0 && wall.now >= end { break }
    }
    precondition(client.associationIDs.isEmpty && server.associationIDs.isEmpty,
                 "aborted associations left behind: \(client.associationIDs.count) and \(server.associationIDs.count)")
    let elapsed = seconds(wall.now - start)
    let warm = allocationsAtWarm ?? (cmalloccounter_allocations(), count)
    let allocations = Double(cmalloccounter_allocations() - warm.allocations) / Double(max(count - warm.count, 1))
    return (count, elapsed, allocations)
}

// `CoreBenchmark count PACKETS [LENGTH [unordered]]` and `CoreBenchmark setup [ASSOCIATIONS]`: a fixed
// amount of work, for counting instructions (Benchmarks/tools/callgrind-core.sh).
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "count" {
    let limit = arguments.count > 1 ? Int(arguments[1]) ?? 100_000 : 100_000
    let length = arguments.count > 2 ? Int(arguments[2]) ?? 1200 : 1200
    let unordered = arguments.count > 3 && arguments[3] == "unordered"
    let r = transfer(length: length, unordered: unordered, duration: .seconds(3600), packetLimit: limit,
                     warmUp: min(5_000, limit / 2))
    print("count: \(r.packets) packets, \(r.messages) \(unordered ? "unordered" : "ordered") messages of \(length) bytes in \(fmt(r.wallSeconds, 3)) s: "
        + "\(fmt(r.wallSeconds * 1e6 / Double(max(r.packets, 1)), 2)) µs/packet, "
        + "\(fmt(r.allocationsPerPacket, 3)) allocations/packet (\(r.steadyAllocations) in \(r.steadyPackets) packets; "
        + "second half: \(r.lateAllocations) in \(r.latePackets) packets)")
    exit(0)
}
if arguments.first == "setup" {
    let limit = arguments.count > 1 ? Int(arguments[1]) ?? .max : .max
    let r = setupRate(duration: .seconds(limit == .max ? 3 : 3600), limit: limit)
    print("setup: \(r.associations) associations in \(fmt(r.wallSeconds, 2)) s: \(fmt(Double(r.associations) / r.wallSeconds, 0))/s, "
        + "\(fmt(r.wallSeconds * 1e6 / Double(r.associations), 2)) µs per association (both endpoints), "
        + "\(fmt(r.allocations, 1)) allocations per association")
    exit(0)
}

print("swift-sctp core benchmark: two endpoints in one process, no sockets")
print("(every packet serialized with CRC32c and parsed; one thread does both sides)")
print("")
if cmalloccounter_active() == 0 { print("(allocations are not counted on this platform: the columns show 0)") }
print("allocs/packet, allocs/message: heap allocations of the steady transfer (after its first 5000 packets);")
print("late allocs/packet: the same over the run's second half (the windows and the packet pool no longer growing)")
print("")
print("length  order      messages/s      Mbit/s   packets/s   µs/packet  µs/message  allocs/packet  allocs/message  late allocs/packet")
let lengths = arguments.first == "table" && arguments.count > 1 ? arguments.dropFirst().compactMap { Int($0) } : [64, 100, 1200, 8000, 65000]
for length in lengths {
    for unordered in [false, true] {
        let r = transfer(length: length, unordered: unordered, duration: .seconds(2))
        let mps = Double(r.messages) / r.wallSeconds
        let mbit = Double(r.bytes) * 8 / r.wallSeconds / 1e6
        let pps = Double(r.packets) / r.wallSeconds
        let pad = { (s: String, n: Int) in String(repeating: " ", count: max(0, n - s.count)) + s }
        print(pad(String(length), 6) + "  " + (unordered ? "unordered" : "ordered  ") + pad(fmt(mps, 0), 13)
            + pad(fmt(mbit, 1), 12) + pad(fmt(pps, 0), 12) + pad(fmt(1e6 / pps, 2), 12) + pad(fmt(1e6 / mps, 3), 12)
            + pad(fmt(r.allocationsPerPacket, 3), 15) + pad(fmt(r.allocationsPerMessage, 3), 16)
            + pad(fmt(r.lateAllocationsPerPacket, 4), 20))
    }
}
