import NIOCore

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
        let bad: Int? = payload.withUnsafeReadableBytes { bytes in
            for i in headerSize..<count where bytes[i] != UInt8(truncatingIfNeeded: offset &+ i) { return i }
            return nil
        }
        if let bad { return .failure(.badContent(offset: bad)) }
        return .success(Decoded(seq: seq, stream: statedStream))
    }
}
