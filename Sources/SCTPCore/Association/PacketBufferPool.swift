import NIOCore

/// Packet buffers handed out before, kept for reuse, so that a steady transfer allocates no
/// buffer per packet (a `ByteBuffer` costs two heap allocations: its storage object and its
/// bytes). One pool per endpoint, shared by its associations (`Association.packetBuffers`):
/// an idle association holds none.
///
/// Every datagram an established association hands out (`Association.pollTransmit`) is
/// also kept here, in the order they left, at most `capacity` of them. A `PacketBuilder`
/// asks for a buffer for each packet it starts and gets the oldest kept one, if nothing
/// else references its storage any more (the driver wrote the datagram and let go of it;
/// a receiver in the same process consumed the messages that were slices of it). Otherwise
/// the builder allocates, as it would without a pool. Reuse never changes what anybody
/// sees: a `ByteBuffer` is a value, and only a buffer whose storage has no other reference
/// is written again.
///
/// A driver that writes each batch of packets before it polls the next (EndpointDriver's
/// flush) frees them in the order they left, so the oldest is the first free one; a buffer
/// still referenced (a datagram queued in a full socket's backlog, fragments waiting for
/// reassembly in a receiver in the same process) goes to the back and is forgotten once
/// `capacity` newer ones are kept. The pool is emptied when no packet was started for
/// `idleTime` (`trim`, from the endpoint's timers; when the last association went, at the
/// deadline `idleDeadline` adds to the endpoint's).
final class PacketBufferPool {
    /// The most buffers kept: about four of a driver's read-and-flush batches (32 datagrams
    /// per read), at most 256 KiB of MTU-sized buffers.
    static let capacity = 128
    /// How long an unused pool keeps its buffers.
    static let idleTime: Duration = .seconds(1)

    // `@exclusivity(unchecked)` in release builds, for the reason `Association` gives (the
    // pool is used from its endpoint's thread only); debug builds keep the checks.
    #if DEBUG
    private var ring: [ByteBuffer] = []
    /// The oldest kept buffer's index in `ring`, and how many are kept.
    private var head = 0
    private(set) var count = 0
    /// Whether a packet was started since the last `trim`, and when one was, as far as
    /// `trim` knows.
    private var usedSinceTrim = false
    private var lastUse = SCTPInstant.zero
    #else
    @exclusivity(unchecked) private var ring: [ByteBuffer] = []
    @exclusivity(unchecked) private var head = 0
    @exclusivity(unchecked) private(set) var count = 0
    @exclusivity(unchecked) private var usedSinceTrim = false
    @exclusivity(unchecked) private var lastUse = SCTPInstant.zero
    #endif

    init() {}

    /// A buffer to write a packet into: an empty one with at least `minimumCapacity` bytes
    /// that nothing else references, or `nil` (the caller allocates).
    @inline(__always)
    func take(minimumCapacity: Int) -> ByteBuffer? {
        usedSinceTrim = true
        guard count > 0 else { return nil }
        return takeOldest(minimumCapacity: minimumCapacity)
    }

    private func takeOldest(minimumCapacity: Int) -> ByteBuffer? {
        // At most two looks: the oldest, and the next if the oldest was still referenced.
        for _ in 0..<min(2, count) {
            guard ring[head].capacity >= minimumCapacity else {
                // Too small for this packet (a control packet's): forgotten.
                ring[head] = ByteBuffer()
                advanceHead()
                return nil
            }
            // Emptied by moving its indices (what `clear()` does to a buffer whose slice is
            // its whole storage, as every packet buffer's is), without `clear()`'s read of the
            // storage's capacity: each read of SwiftNIO's storage fields from our module is a
            // dynamic exclusivity check (~75 instructions), and this runs for every packet.
            if ring[head].modifyIfUniquelyOwned({ (buffer: inout ByteBuffer) -> Void in
                buffer.moveReaderIndex(to: 0)
                buffer.moveWriterIndex(to: 0)
            }) != nil {
                var buffer = ByteBuffer()
                swap(&buffer, &ring[head])
                advanceHead()
                return buffer
            }
            // Referenced elsewhere still: to the back.
            var busy = ByteBuffer()
            swap(&busy, &ring[head])
            advanceHead()
            append(busy)
        }
        return nil
    }

    @inline(__always)
    private func advanceHead() {
        head = head + 1 == Self.capacity ? 0 : head + 1
        count -= 1
    }

    @inline(__always)
    private func append(_ buffer: ByteBuffer) {
        var tail = head + count
        if tail >= Self.capacity { tail -= Self.capacity }
        ring[tail] = buffer
        count += 1
    }

    /// Keeps a copy of a datagram that is handed out, for reuse once it is free; the oldest
    /// kept buffer is forgotten when `capacity` are kept.
    func keep(_ buffer: ByteBuffer) {
        if ring.isEmpty { ring = Array(repeating: ByteBuffer(), count: Self.capacity) }
        if count == Self.capacity {
            ring[head] = ByteBuffer()
            advanceHead()
        }
        append(buffer)
    }

    /// Whether the pool holds any storage (its ring, with or without buffers in it).
    var holdsStorage: Bool { !ring.isEmpty }

    /// The endpoint's last association went at `now`: no packet is started from here on
    /// unless a new one comes, so `idleDeadline` tells when to let the buffers go.
    func noteIdle(now: SCTPInstant) {
        usedSinceTrim = false
        lastUse = max(lastUse, now)
    }

    /// When `trim` lets the buffers go if no packet is started before: for an endpoint
    /// whose timers would not call it (no associations left, `noteIdle`); `nil` while the
    /// pool holds nothing or a packet was started since `noteIdle` or the last `trim`.
    var idleDeadline: SCTPInstant? {
        guard !ring.isEmpty, !usedSinceTrim else { return nil }
        return lastUse + Self.idleTime
    }

    /// Forgets every kept buffer once no packet was started for `idleTime` (the endpoint
    /// calls it from its timers, with their time: a pool that serves no transfer holds no
    /// memory for long).
    func trim(now: SCTPInstant) {
        if usedSinceTrim {
            usedSinceTrim = false
            lastUse = now
            return
        }
        guard !ring.isEmpty, now - lastUse >= Self.idleTime else { return }
        ring = []
        head = 0
        count = 0
    }
}
