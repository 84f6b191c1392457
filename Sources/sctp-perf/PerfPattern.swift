import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The content of sctp-perf's messages, shared with the project's usrsctp test peer so that
/// either side can check what the other echoes:
///
/// - bytes 0..<4: the message's sequence number within its stream (u32, big endian, from 0);
/// - bytes 4..<6: the stream (u16, big endian);
/// - bytes 6..<8: 0xA5 0x5A;
/// - bytes 8..<12: the total length (u32, big endian);
/// - byte i ≥ 12: `(seq * 7 + stream * 13 + i) & 0xFF`.
///
/// The PPID is 0x50455246 ("PERF"), plus one for unordered messages. A message shorter than
/// 12 bytes carries the first bytes of this layout only (it cannot be verified).
struct PerfPattern {
    static let ppid: UInt32 = 0x5045_5246
    static let headerSize = 12
    static let marker: (UInt8, UInt8) = (0xA5, 0x5A)

    static func ppid(unordered: Bool) -> UInt32 { unordered ? ppid &+ 1 : ppid }

    /// 256 + length bytes of the ramp 0, 1, 2, ... (mod 256): the body of any message is one
    /// slice of it, starting at `(seq * 7 + stream * 13) & 0xFF`.
    private let ramp: [UInt8]
    let length: Int

    init(length: Int) {
        self.length = length
        ramp = (0..<(256 + max(length, 0))).map { UInt8(truncatingIfNeeded: $0) }
    }

    private static func offset(seq: UInt32, stream: UInt16) -> Int {
        Int((UInt64(seq) &* 7 &+ UInt64(stream) &* 13) & 0xFF)
    }

    private static func header(seq: UInt32, stream: UInt16, length: Int) -> [UInt8] {
        let total = UInt32(truncatingIfNeeded: length)
        return [
            UInt8(truncatingIfNeeded: seq >> 24), UInt8(truncatingIfNeeded: seq >> 16),
            UInt8(truncatingIfNeeded: seq >> 8), UInt8(truncatingIfNeeded: seq),
            UInt8(truncatingIfNeeded: stream >> 8), UInt8(truncatingIfNeeded: stream),
            marker.0, marker.1,
            UInt8(truncatingIfNeeded: total >> 24), UInt8(truncatingIfNeeded: total >> 16),
            UInt8(truncatingIfNeeded: total >> 8), UInt8(truncatingIfNeeded: total),
        ]
    }

    /// The payload of message `seq` of `stream`.
    func message(seq: UInt32, stream: UInt16, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: length)
        guard length >= Self.headerSize else {
            buffer.writeBytes(Self.header(seq: seq, stream: stream, length: length).prefix(length))
            return buffer
        }
        // The header without an array (this runs for every message sent).
        buffer.writeMultipleIntegers(seq, stream, Self.marker.0, Self.marker.1, UInt32(truncatingIfNeeded: length))
        if length > Self.headerSize {
            let start = Self.offset(seq: seq, stream: stream) + Self.headerSize
            ramp.withUnsafeBytes { bytes in
                _ = buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length - Self.headerSize)]))
            }
        }
        return buffer
    }

    /// Writes `count` messages one after another at `buffer`'s writer index, round robin over
    /// `streams` streams from the `first`-th message of the run: message k goes on stream
    /// `(first + k) % streams` with that stream's next sequence number from `seqs` (which
    /// advances). The bytes are those `message(seq:stream:allocator:)` makes, written with one
    /// access to the buffer for the whole batch: its header stored in place and its body one
    /// copy of a slice of the ramp. A sender slices the messages out of the one buffer, so a
    /// batch costs one allocation, not one per message.
    func write(count: Int, first: Int, streams: Int, seqs: inout [UInt32], to buffer: inout ByteBuffer) {
        guard count > 0 else { return }
        guard length >= Self.headerSize else {
            for k in 0..<count {
                let stream = (first + k) % streams
                buffer.writeBytes(Self.header(seq: seqs[stream], stream: UInt16(stream), length: length).prefix(length))
                seqs[stream] &+= 1
            }
            return
        }
        let length = length
        let total = UInt32(truncatingIfNeeded: length).bigEndian
        let body = length - Self.headerSize
        let markers = UInt16(Self.marker.0) << 8 | UInt16(Self.marker.1)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count * length) { out in
            ramp.withUnsafeBytes { ramp in
                var stream = first % streams
                for k in 0..<count {
                    let seq = seqs[stream]
                    seqs[stream] = seq &+ 1
                    let at = k * length
                    out.storeBytes(of: seq.bigEndian, toByteOffset: at, as: UInt32.self)
                    out.storeBytes(of: UInt16(truncatingIfNeeded: stream).bigEndian, toByteOffset: at + 4, as: UInt16.self)
                    out.storeBytes(of: markers.bigEndian, toByteOffset: at + 6, as: UInt16.self)
                    out.storeBytes(of: total, toByteOffset: at + 8, as: UInt32.self)
                    if body > 0 {
                        let start = Self.offset(seq: seq, stream: UInt16(truncatingIfNeeded: stream)) + Self.headerSize
                        (out.baseAddress! + at + Self.headerSize).copyMemory(from: ramp.baseAddress! + start, byteCount: body)
                    }
                    stream += 1
                    if stream == streams { stream = 0 }
                }
            }
            return count * length
        }
    }

    /// What a received message says about itself.
    struct Decoded: Equatable {
        var seq: UInt32
        var stream: UInt16
    }

    /// Why a message is not a correct pattern message.
    enum Mismatch: Error, CustomStringConvertible {
        case tooShort(Int)
        case badMarker
        case wrongLength(stated: UInt32, actual: Int)
        case wrongStream(stated: UInt16, arrivedOn: UInt16)
        case badContent(offset: Int)

        var description: String {
            switch self {
            case .tooShort(let n): "message of \(n) bytes is shorter than the 12-byte header"
            case .badMarker: "bytes 6..7 are not A5 5A"
            case .wrongLength(let stated, let actual): "header says \(stated) bytes, message has \(actual)"
            case .wrongStream(let stated, let arrivedOn): "header says stream \(stated), arrived on stream \(arrivedOn)"
            case .badContent(let offset): "content differs from the pattern at byte \(offset)"
            }
        }
    }

    /// 512 bytes of the ramp: any 256 consecutive bytes of a body are one slice of it.
    private static let checkRamp: [UInt8] = (0..<512).map { UInt8(truncatingIfNeeded: $0) }

    /// Checks a whole message of any length (its own header says how long it must be).
    static func verify(_ payload: ByteBuffer, stream: UInt16) -> Result<Decoded, Mismatch> {
        let count = payload.readableBytes
        guard count >= headerSize else { return .failure(.tooShort(count)) }
        let base = payload.readerIndex
        guard let seq = payload.getInteger(at: base, as: UInt32.self),
              let statedStream = payload.getInteger(at: base + 4, as: UInt16.self),
              let m0 = payload.getInteger(at: base + 6, as: UInt8.self),
              let m1 = payload.getInteger(at: base + 7, as: UInt8.self),
              let total = payload.getInteger(at: base + 8, as: UInt32.self) else { return .failure(.tooShort(count)) }
        guard m0 == marker.0, m1 == marker.1 else { return .failure(.badMarker) }
        guard Int(total) == count else { return .failure(.wrongLength(stated: total, actual: count)) }
        guard statedStream == stream else { return .failure(.wrongStream(stated: statedStream, arrivedOn: stream)) }
        let offset = Self.offset(seq: seq, stream: statedStream)
        // Every byte of the body is checked, 256 at a time against the ramp (memcmp), and the
        // first differing byte then found one by one.
        let bad: Int? = payload.withUnsafeReadableBytes { bytes in
            checkRamp.withUnsafeBytes { ramp in
                var i = headerSize
                while i < count {
                    let n = min(256, count - i)
                    if memcmp(bytes.baseAddress! + i, ramp.baseAddress! + ((offset &+ i) & 0xFF), n) != 0 {
                        for j in i..<(i + n) where bytes[j] != UInt8(truncatingIfNeeded: offset &+ j) { return j }
                    }
                    i += n
                }
                return nil
            }
        }
        if let bad { return .failure(.badContent(offset: bad)) }
        return .success(Decoded(seq: seq, stream: statedStream))
    }
}
