import NIOCore
import SCTPTestSupport

/// The message pattern of usrsctp-peer (scripts/interop/README.md, "The message pattern"),
/// generated and checked here exactly as the peer does, so that either side can verify the
/// other's messages byte for byte.
///
/// | bytes | content |
/// |---|---|
/// | 0..3 | sequence number within the stream (u32, big-endian) |
/// | 4..5 | stream (u16) |
/// | 6..7 | `A5 5A` |
/// | 8..11 | total length (u32) |
/// | i ≥ 12 | `(seq * 7 + stream * 13 + i) & 0xFF` |
enum MessagePattern {
    /// "PERF": ordered messages.
    static let orderedPPID: UInt32 = 0x5045_5246
    /// "PERG": unordered messages.
    static let unorderedPPID: UInt32 = 0x5045_5247
    static let minimumLength = 12

    static func ppid(unordered: Bool) -> UInt32 { unordered ? unorderedPPID : orderedPPID }

    /// The first pattern byte (at index 12) of a message.
    private static func firstByte(seq: UInt32, stream: UInt16) -> UInt8 {
        UInt8(truncatingIfNeeded: seq &* 7 &+ UInt32(stream) &* 13 &+ 12)
    }

    /// Message `seq` of `stream`, `length` bytes (at least 12).
    static func message(seq: UInt32, stream: UInt16, length: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        precondition(length >= minimumLength, "pattern messages have at least 12 bytes")
        var buffer = allocator.buffer(capacity: length)
        buffer.writeInteger(seq)
        buffer.writeInteger(stream)
        buffer.writeInteger(UInt16(0xA55A))
        buffer.writeInteger(UInt32(length))
        let first = firstByte(seq: seq, stream: stream)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length - minimumLength) { pointer in
            var value = first
            for index in 0..<(length - minimumLength) {
                pointer[index] = value
                value &+= 1
            }
            return length - minimumLength
        }
        return buffer
    }

    /// Checks a received message: the length field, the stream field against the stream it
    /// came on, the marker, the PPID against the unordered flag, every pattern byte. The
    /// message's sequence number, or what is wrong.
    static func check(_ buffer: ByteBuffer, stream: UInt16, unordered: Bool, ppid: UInt32) -> Result<UInt32, PatternError> {
        let length = buffer.readableBytes
        guard length >= minimumLength,
              let seq = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
              let fieldStream = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt16.self),
              let marker = buffer.getInteger(at: buffer.readerIndex + 6, as: UInt16.self),
              let fieldLength = buffer.getInteger(at: buffer.readerIndex + 8, as: UInt32.self) else {
            return .failure(PatternError("a message of \(length) bytes, shorter than the 12-byte header"))
        }
        guard marker == 0xA55A else {
            return .failure(PatternError("marker 0x\(String(marker, radix: 16)) (stream \(stream), \(length) bytes)"))
        }
        guard fieldLength == length else {
            return .failure(PatternError("length field \(fieldLength), received \(length) bytes (stream \(stream) seq \(seq))"))
        }
        guard fieldStream == stream else {
            return .failure(PatternError("stream field \(fieldStream), arrived on stream \(stream) (seq \(seq))"))
        }
        guard ppid == Self.ppid(unordered: unordered) else {
            return .failure(PatternError("PPID 0x\(String(ppid, radix: 16)) for \(unordered ? "unordered" : "ordered") delivery (stream \(stream) seq \(seq))"))
        }
        let first = firstByte(seq: seq, stream: stream)
        let badIndex: Int? = buffer.withUnsafeReadableBytes { pointer in
            var value = first
            for index in minimumLength..<length {
                if pointer[index] != value { return index }
                value &+= 1
            }
            return nil
        }
        if let badIndex {
            let found = buffer.getInteger(at: buffer.readerIndex + badIndex, as: UInt8.self) ?? 0
            let expected = first &+ UInt8(truncatingIfNeeded: badIndex - minimumLength)
            return .failure(PatternError("byte \(badIndex) is 0x\(String(found, radix: 16)), expected 0x\(String(expected, radix: 16)) (stream \(stream) seq \(seq) length \(length))"))
        }
        return .success(seq)
    }
}

struct PatternError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One message of a plan.
struct PlannedMessage: Hashable, Sendable {
    var stream: UInt16
    var seq: UInt32
    var length: Int
    var unordered: Bool

    var key: MessageKey { MessageKey(stream: stream, unordered: unordered, seq: seq) }
    var ppid: UInt32 { MessagePattern.ppid(unordered: unordered) }
    var payload: ByteBuffer { MessagePattern.message(seq: seq, stream: stream, length: length) }
}

/// What identifies a pattern message: sequence numbers count per stream and delivery kind.
struct MessageKey: Hashable, Sendable {
    var stream: UInt16
    var unordered: Bool
    var seq: UInt32
}

/// The messages a sender sends, in order: message i on stream `i mod streams`, its length
/// drawn as the peer's `--length MIN-MAX` does (splitmix64 seeded with `seed`, one draw per
/// message), its sequence number counted per stream and delivery kind. With `.all` or
/// `.none` this is exactly what `usrsctp-peer client --streams K --messages N --length MIN-MAX
/// --seed S [--unordered]` sends.
struct MessagePlan: Sendable {
    enum Delivery: Sendable {
        case ordered
        case unordered
        /// Each message unordered with probability `fraction`, from a PRNG of its own.
        case mixed(fraction: Double)
    }

    let messages: [PlannedMessage]

    init(count: Int, streams: Int, lengths: ClosedRange<Int>, seed: UInt64, delivery: Delivery = .ordered) {
        precondition(lengths.lowerBound >= MessagePattern.minimumLength && streams > 0)
        var lengthRandom = SplitMix64(seed: seed)
        var deliveryRandom = SplitMix64(seed: seed ^ 0x0DE1_17E5)
        var counters: [MessageKey: UInt32] = [:]
        var messages: [PlannedMessage] = []
        messages.reserveCapacity(count)
        let span = UInt64(lengths.upperBound - lengths.lowerBound + 1)
        for index in 0..<count {
            let stream = UInt16(index % streams)
            let length = span == 1 ? lengths.lowerBound : lengths.lowerBound + Int(lengthRandom.next() % span)
            let unordered: Bool = switch delivery {
            case .ordered: false
            case .unordered: true
            case .mixed(let fraction): deliveryRandom.unit() < fraction
            }
            let counterKey = MessageKey(stream: stream, unordered: unordered, seq: 0)
            let seq = counters[counterKey, default: 0]
            counters[counterKey] = seq + 1
            messages.append(PlannedMessage(stream: stream, seq: seq, length: length, unordered: unordered))
        }
        self.messages = messages
    }

    var count: Int { messages.count }
    var totalBytes: Int { messages.reduce(0) { $0 + $1.length } }
}

/// The receiving side's check, as the peer's `verify`: the pattern of every message, and for
/// ordered messages the sequence number following the previous one of the stream. With a
/// plan it also checks that each message was sent (with that length and kind), arrives once,
/// and tells what never arrived.
struct PatternVerifier {
    private(set) var messages = 0
    private(set) var bytes = 0
    private(set) var errorCount = 0
    /// The first errors, described.
    private(set) var errors: [String] = []
    private var nextSeq: [UInt16: UInt32] = [:]
    private var seen: Set<MessageKey> = []
    private let expected: [MessageKey: Int]?

    init(plan: MessagePlan? = nil) {
        expected = plan.map { plan in
            Dictionary(plan.messages.map { ($0.key, $0.length) }, uniquingKeysWith: { first, _ in first })
        }
    }

    private mutating func fail(_ why: String) {
        errorCount += 1
        if errors.count < 10 { errors.append(why) }
    }

    /// Checks one whole received message.
    mutating func receive(_ data: ByteBuffer, stream: UInt16, unordered: Bool, ppid: UInt32) {
        messages += 1
        bytes += data.readableBytes
        switch MessagePattern.check(data, stream: stream, unordered: unordered, ppid: ppid) {
        case .failure(let error):
            fail(error.description)
            // A bad ordered message still advances the expected sequence number.
            if !unordered { nextSeq[stream, default: 0] += 1 }
        case .success(let seq):
            let key = MessageKey(stream: stream, unordered: unordered, seq: seq)
            if !seen.insert(key).inserted {
                fail("stream \(stream) \(unordered ? "unordered" : "ordered") seq \(seq) received twice")
                return
            }
            if let expected {
                if let length = expected[key] {
                    if length != data.readableBytes { fail("stream \(stream) seq \(seq): \(data.readableBytes) bytes, sent \(length)") }
                } else {
                    fail("stream \(stream) \(unordered ? "unordered" : "ordered") seq \(seq) was never sent")
                }
            }
            if !unordered {
                let wanted = nextSeq[stream, default: 0]
                nextSeq[stream] = seq &+ 1
                if seq != wanted { fail("ordered stream \(stream): seq \(seq), expected \(wanted)") }
            }
        }
    }

    /// How many planned messages have not arrived.
    var missing: Int {
        guard let expected else { return 0 }
        return expected.keys.filter { !seen.contains($0) }.count
    }

    /// A one-line summary for failure messages.
    var summary: String {
        "\(messages) messages, \(bytes) bytes, \(errorCount) errors, \(missing) missing" + (errors.isEmpty ? "" : ": " + errors.joined(separator: "; "))
    }
}
