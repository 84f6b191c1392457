import NIOCore
import SCTP
import SCTPCore

/// The sending side of a `sctp-perf --client` throughput run (without `--echo` or
/// `--reset-every`), run on the endpoint's event loop itself, as `PerfLatency.Run` is.
///
/// Each step builds one batch of pattern messages in one buffer (`PerfPattern.write`: one
/// allocation per batch, the messages are slices of it), queues them with one
/// `UDPEncapsulationEndpoint.send([OutgoingMessage], on:)` (called on the loop, it runs at
/// once: no hop, no thread woken) and reads the clock once. When the whole batch was queued,
/// the next step is a task on the loop, so that the packets of this one leave and the peer's
/// SACKs are read in between; when the send buffer was full, the next step runs once the
/// batch's last message found room (the batch's future). The thread that started it only
/// waits for the end: no thread hop or wake-up per batch, and no third busy thread besides
/// the two event loops of a two-process run on two cores.
///
/// Ends after `limit` messages or, without a limit, at the first step at or past the deadline; the last message
/// asks for an immediate SACK (I bit, RFC 7053), so that the shutdown does not wait for the
/// peer's delayed-ack timer. `onEnd` runs on the loop once, with the error that stopped it or
/// `nil`.
final class PerfSender: @unchecked Sendable {
    private let client: UDPEncapsulationEndpoint
    private let id: AssociationID
    private let pattern: PerfPattern
    private let length: Int
    private let streams: Int
    private let ppid: UInt32
    private let unordered: Bool
    private let limit: Int?
    private let deadline: NIODeadline
    private let batchSize: Int
    private let allocator = ByteBufferAllocator()
    private let onEnd: ((any Error)?) -> Void
    private var seqs: [UInt32]
    /// Reused from batch to batch (the driver keeps the messages, not the array).
    private var outgoing: [OutgoingMessage] = []
    private var ended = false

    /// Messages and bytes handed to `send` so far (read on the loop, or after `onEnd`).
    private(set) var sent = 0
    private(set) var sentBytes = 0

    /// The most bytes one batch's buffer holds (a batch has at least 4 and at most 256
    /// messages): 256 messages of 64 bytes are about 14 full 1472-byte packets.
    static let batchBytes = 256 << 10

    init(client: UDPEncapsulationEndpoint, id: AssociationID, length: Int, streams: Int, unordered: Bool, limit: Int?,
         seconds: Double, onEnd: @escaping ((any Error)?) -> Void) {
        self.client = client
        self.id = id
        pattern = PerfPattern(length: length)
        self.length = length
        self.streams = streams
        ppid = PerfPattern.ppid(unordered: unordered)
        self.unordered = unordered
        self.limit = limit
        deadline = .now() + .nanoseconds(Int64(seconds * 1e9))
        batchSize = min(256, max(4, Self.batchBytes / max(length, 1)))
        seqs = [UInt32](repeating: 0, count: streams)
        self.onEnd = onEnd
        outgoing.reserveCapacity(batchSize)
    }

    /// Starts sending (from any thread).
    func start() {
        client.eventLoop.execute { self.step() }
    }

    private func end(_ error: (any Error)?) {
        guard !ended else { return }
        ended = true
        onEnd(error)
    }

    /// Builds and queues batches while they are queued at once, one per turn of the loop.
    private func step() {
        guard !ended else { return }
        var count = batchSize
        var last = false
        if let limit {
            let remaining = limit - sent
            if remaining <= 0 {
                end(nil)
                return
            }
            if remaining <= count {
                count = remaining
                last = true
            }
        } else if NIODeadline.now() >= deadline {
            // The run's time is up: one more message, the last, with the I bit.
            count = 1
            last = true
        }
        var block = allocator.buffer(capacity: count * length)
        pattern.write(count: count, first: sent, streams: streams, seqs: &seqs, to: &block)
        var stream = sent % streams
        var at = block.readerIndex
        for k in 0..<count {
            outgoing.append(OutgoingMessage(streamIdentifier: UInt16(stream), payloadProtocolIdentifier: ppid,
                                            isUnordered: unordered, requestsImmediateAck: last && k == count - 1,
                                            payload: block.getSlice(at: at, length: length)!))
            at += length
            stream += 1
            if stream == streams { stream = 0 }
        }
        #if DEBUG
        // Debug builds (those the tests run) check every message of the batch against the
        // pattern's reader, and that its sequence number is its stream's next.
        var expected = seqs
        for message in outgoing.reversed() { expected[Int(message.streamIdentifier)] &-= 1 }
        for message in outgoing where length >= PerfPattern.headerSize {
            let stream = message.streamIdentifier
            guard case .success(let decoded) = PerfPattern.verify(message.payload, stream: stream),
                  decoded.seq == expected[Int(stream)] else {
                preconditionFailure("batch message on stream \(stream) is not pattern message \(expected[Int(stream)])")
            }
            expected[Int(stream)] &+= 1
        }
        #endif
        sent += count
        sentBytes += count * length
        let future = client.send(outgoing, on: id)
        outgoing.removeAll(keepingCapacity: true)
        // Called on the loop, a future completed already runs its callback here, at once.
        let state = InlineCompletion()
        let isLast = last
        future.whenComplete { result in
            if state.waiting {
                state.result = result
            } else {
                self.resume(result, last: isLast)
            }
        }
        state.waiting = false
        guard let result = state.result else { return }  // no room: `resume` runs when there is
        resume(result, last: last)
    }

    private func resume(_ result: Result<Void, any Error>, last: Bool) {
        switch result {
        case .failure(let error):
            end(error)
        case .success:
            if last {
                end(nil)
            } else {
                client.eventLoop.execute { self.step() }
            }
        }
    }

    /// Whether a future's callback ran inside `whenComplete` (on the loop, for a future
    /// already completed) or later.
    private final class InlineCompletion: @unchecked Sendable {
        var waiting = true
        var result: Result<Void, any Error>?
    }
}
