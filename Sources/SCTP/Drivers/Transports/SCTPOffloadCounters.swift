/// What UDP segmentation and receive offload did for a stack, and how its writes went
/// (`SCTPStack.offloadCounters()`).
public struct SCTPOffloadCounters: Hashable, Sendable {
    /// UDP GSO writes (each carrying two packets or more).
    public var segmentationWrites = 0
    /// Packets sent in those writes.
    public var segmentedPackets = 0
    /// Reads that returned a GRO run (two packets or more).
    public var receiveOffloadRuns = 0
    /// Packets that came in those runs.
    public var receiveOffloadPackets = 0
    /// Writes (a datagram or a GSO run) made straight to a socket (`SCTPStack.Options.directWrites`).
    public var directWrites = 0
    /// Writes handed to SwiftNIO's channel (direct writes off, raw IP, or a full socket).
    public var channelWrites = 0
    /// Writes that waited for a full socket to take more (on `SCTPEventLoop`; once written,
    /// they count as direct writes too).
    public var deferredWrites = 0
    /// Times the kernel refused writes for want of buffers (ENOBUFS) and a socket's backlog
    /// waited `bufferRetryDelay` before it was tried again (on `SCTPEventLoop`).
    public var bufferWaits = 0

    /// All zero.
    public init() {}
}
