import NIOCore
import SCTPWire
@testable import SCTPCore

/// Builders shared by the send-side tests.
enum SendTestSupport {
    /// `count` bytes counting up from `first` (wrapping), so slices can be checked byte for byte.
    static func bytes(_ count: Int, first: UInt8 = 0) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        for index in 0..<count { buffer.writeInteger(first &+ UInt8(truncatingIfNeeded: index)) }
        return buffer
    }

    static func message(stream: UInt16, size: Int, unordered: Bool = false, immediate: Bool = false,
                        ppid: UInt32 = 51, first: UInt8 = 0) -> OutgoingMessage {
        OutgoingMessage(streamIdentifier: stream, payloadProtocolIdentifier: ppid, isUnordered: unordered,
                        requestsImmediateAck: immediate, payload: bytes(size, first: first))
    }

    /// A whole-message DATA chunk with `payload` bytes of user data.
    static func chunk(_ tsn: UInt32, payload: Int = 100) -> DataChunk {
        DataChunk(flags: .complete, tsn: TSN(tsn), streamIdentifier: 0, ssn: SSN(0),
                  payloadProtocolIdentifier: 0, payload: bytes(payload))
    }

    /// Sends `count` chunks with consecutive TSNs on `path` at `time`.
    static func send(_ data: inout OutstandingData, count: Int, payload: Int = 100,
                     path: Int = 0, at time: SCTPInstant = .zero) {
        for _ in 0..<count {
            data.append(chunk(data.nextTSN.rawValue, payload: payload), path: PathID(path), now: time)
        }
    }

    static func sack(_ cumulative: UInt32, _ gaps: [(UInt16, UInt16)] = [], rwnd: UInt32 = 100_000,
                     duplicates: [UInt32] = []) -> SackChunk {
        SackChunk(cumulativeTSNAck: TSN(cumulative), advertisedReceiverWindowCredit: rwnd,
                  gapAckBlocks: gaps.map { GapAckBlock(start: $0.0, end: $0.1) },
                  duplicateTSNs: duplicates.map { TSN($0) })
    }

    static func ms(_ milliseconds: Int64) -> SCTPInstant { SCTPInstant(nanoseconds: milliseconds * 1_000_000) }

    /// The wire size of the 100-byte chunks most tests use.
    static let size100 = 116
}
