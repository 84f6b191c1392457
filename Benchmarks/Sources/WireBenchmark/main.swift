import NIOCore
import SCTPWire

// Figures for the wire layer: CRC32c throughput and packets parsed / serialized per second.
// Each figure is the best of several runs of about 0.3 s, to resist a noisy machine.

let clock = ContinuousClock()

/// Runs `body` repeatedly for about `seconds`, `rounds` times; returns the best rate of
/// `units` per second (each call of `body` counts `unitsPerCall`).
func bestRate(rounds: Int = 5, seconds: Double = 0.3, unitsPerCall: Double, _ body: () -> Void) -> Double {
    var best = 0.0
    for _ in 0..<rounds {
        var calls = 0
        let start = clock.now
        var elapsed = 0.0
        repeat {
            for _ in 0..<64 { body() }
            calls += 64
            let d = clock.now - start
            elapsed = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        } while elapsed < seconds
        best = max(best, Double(calls) * unitsPerCall / elapsed)
    }
    return best
}

/// `value` with `decimals` digits after the point, right-aligned to `width`.
func fmt(_ value: Double, _ decimals: Int, width: Int = 6) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int((value * scale).rounded())
    var text = String(scaled / Int(scale))
    if decimals > 0 {
        let fraction = String(scaled % Int(scale))
        text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
    return String(repeating: " ", count: max(0, width - text.count)) + text
}

@inline(never)
func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

print("swift-sctp wire benchmark (CRC32c implementation: \(CRC32c.implementation))")
print("")
print("CRC32c")
for size in [1232, 8972, 65000] {
    let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    var sink: UInt32 = 0
    let rate = bytes.withUnsafeBytes { raw in
        bestRate(unitsPerCall: Double(size)) { sink ^= CRC32c.checksum(raw) }
    }
    let table = bestRate(rounds: 2, unitsPerCall: Double(size)) { sink ^= CRC32c.portableChecksum(bytes) }
    blackHole(sink)
    print("  \(fmt(Double(size), 0)) bytes: \(fmt(rate / 1e9, 2)) GB/s dispatched   (table fallback \(fmt(table / 1e9, 2)) GB/s)")
}

print("")
print("Packets (1200-byte DATA payload, CRC32c included)")
let payload = ByteBuffer(bytes: [UInt8](repeating: 0x42, count: 1200))
let dataPacket = SCTPPacket(
    header: CommonHeader(sourcePort: 5001, destinationPort: 5001, verificationTag: 0x1234_5678),
    chunks: [.data(DataChunk(flags: .complete, tsn: TSN(1), streamIdentifier: 0, ssn: SSN(0),
                             payloadProtocolIdentifier: 0, payload: payload))])
let sackPacket = SCTPPacket(
    header: CommonHeader(sourcePort: 5001, destinationPort: 5001, verificationTag: 0x1234_5678),
    chunks: [.sack(SackChunk(cumulativeTSNAck: TSN(100), advertisedReceiverWindowCredit: 1 << 20,
                             gapAckBlocks: [GapAckBlock(start: 2, end: 4)]))])

for (name, packet) in [("DATA 1200", dataPacket), ("SACK", sackPacket)] {
    let bytes = packet.serialized()
    var buffer = ByteBufferAllocator().buffer(capacity: 2048)
    let serialize = bestRate(unitsPerCall: 1) {
        buffer.clear()
        packet.write(to: &buffer)
    }
    var count = 0
    let parse = bestRate(unitsPerCall: 1) {
        if let p = try? SCTPPacket(parsing: bytes) { count &+= p.chunks.count }
    }
    let iterate = bestRate(unitsPerCall: 1) {
        guard (try? PacketChecksum.verify(bytes)) != nil else { return }
        var reader = ChunkReader(chunksOf: bytes)
        while let chunk = try? reader.next() { if case .data = chunk { count &+= 1 } }
    }
    blackHole(count)
    let label = name + String(repeating: " ", count: max(0, 10 - name.count))
    print("  \(label) serialize \(fmt(serialize / 1e6, 2)) M/s   parse \(fmt(parse / 1e6, 2)) M/s   "
        + "verify + ChunkReader \(fmt(iterate / 1e6, 2)) M/s")
}
