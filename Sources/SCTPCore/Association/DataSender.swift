import NIOCore
import SCTPWire

/// The send side of an association, composed: the send queue (messages not yet cut into
/// chunks), the retransmission queue (chunks in flight) and a congestion controller per path.
struct DataSender {
    let configuration: SCTPConfiguration
    var queue: SendQueue
    var outstanding: OutstandingData
    /// One per peer path, indexed like `Association.paths`.
    var congestion: [CongestionController] = []
    /// The a_rwnd the peer last advertised (for SHUTDOWN's implicit SACK).
    var lastPeerWindow: UInt32 = 0
    /// Whether data was sent since the queue and the flight last ran dry (sender-dry event).
    var busy = false

    init(configuration: SCTPConfiguration, initialTSN: TSN) {
        self.configuration = configuration
        queue = SendQueue(outboundStreamCount: Int(configuration.outboundStreams),
                          configuration: SendQueue.Configuration(maxQueuedBytes: configuration.sendBufferSize))
        outstanding = OutstandingData(initialTSN: initialTSN, peerReceiverWindow: 0, configuration:
            OutstandingData.Configuration(maxOutstandingChunks: configuration.maxOutstandingChunks,
                                          maxGapBlocksProcessed: configuration.maxGapBlocksProcessed))
    }

    /// The largest DATA chunk (header included) a packet of `mtu` bytes can carry.
    static func pmdcs(mtu: Int) -> Int { max(mtu - CommonHeader.size, DataChunk.headerSize + 4) & ~3 }

    /// Applies what the handshake negotiated; returns messages queued for streams that do not exist.
    mutating func configure(outboundStreams: UInt16, peerReceiverWindow: UInt32, paths: [PeerPath]) -> [OutgoingMessage] {
        let removed = queue.setOutboundStreamCount(Int(outboundStreams))
        lastPeerWindow = peerReceiverWindow
        outstanding = OutstandingData(initialTSN: outstanding.nextTSN, peerReceiverWindow: peerReceiverWindow,
                                      configuration: outstanding.configuration)
        congestion = paths.map { Self.controller(for: $0, peerReceiverWindow: peerReceiverWindow) }
        return removed
    }

    static func controller(for path: PeerPath, peerReceiverWindow: UInt32) -> CongestionController {
        let isIPv6 = if case .v6 = path.address { true } else { false }
        return CongestionController(pmdcs: pmdcs(mtu: path.mtu), peerReceiverWindow: peerReceiverWindow, isIPv6: isIPv6)
    }

    /// Keeps one controller per path after the path list changed.
    mutating func matchPaths(_ paths: [PeerPath]) {
        while congestion.count < paths.count {
            congestion.append(Self.controller(for: paths[congestion.count], peerReceiverWindow: lastPeerWindow))
        }
        if congestion.count > paths.count { congestion.removeLast(congestion.count - paths.count) }
    }

    /// Nothing queued and nothing in flight.
    var isIdle: Bool { queue.isEmpty && outstanding.isEmpty }

}
