import SCTPWire

/// One destination address of the peer, with what RFC 9260 keeps per path: reachability,
/// error counter, RTO, congestion state and timers.
struct PeerPath {
    let address: IPAddress
    var state: PathState
    /// Consecutive unacknowledged retransmissions / heartbeats on this path.
    var errorCount = 0
    var rto: RTOEstimator
    var mtu: Int
    /// T3-rtx deadline while data is outstanding on this path.
    var t3Deadline: SCTPInstant?
    /// When the next heartbeat is due (idle or unconfirmed path).
    var heartbeatDeadline: SCTPInstant?
    /// The nonce of the heartbeat in flight and when it was sent.
    var heartbeatInFlight: (nonce: UInt64, sentAt: SCTPInstant)?
    /// When new DATA or a heartbeat (a chunk that measures the RTT) was last sent on this
    /// path: a path that carried one within HB.interval is not idle and gets no heartbeat (§8.3).
    var lastSent: SCTPInstant?

    init(address: IPAddress, state: PathState, configuration: SCTPConfiguration) {
        self.address = address
        self.state = state
        rto = RTOEstimator(initial: configuration.rtoInitial, minimum: configuration.rtoMin, maximum: configuration.rtoMax)
        mtu = configuration.pathMTU
    }

    /// Whether data may be sent here (RFC 7829: potentially failed paths are avoided).
    var isUsable: Bool { state == .active }
}
