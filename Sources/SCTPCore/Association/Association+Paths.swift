import NIOCore
import SCTPWire

extension Association {
    /// Starts path management once the association is up: remembers the primary path chosen
    /// at setup and arms the heartbeat timer of every path (§8.3): unconfirmed paths are
    /// probed soon, the others after an idle interval.
    func startHeartbeats(now: SCTPInstant) {
        configuredPrimaryPath = paths.indices.contains(primaryPath) ? primaryPath : 0
        lastDataActivity = now  // the idle time of SCTP_AUTOCLOSE counts from here
        for index in paths.indices { scheduleHeartbeat(path: index, now: now) }
        startPathMTUDiscovery(now: now)
    }

    /// The next heartbeat of a path, counted from `now`: RTO + HB.interval, jittered by ±50 %
    /// of the RTO (§8.3). Unconfirmed paths (§5.4) and potentially failed ones (RFC 7829)
    /// are probed once per RTO, without HB.interval.
    func scheduleHeartbeat(path index: Int, now: SCTPInstant) {
        guard let interval = configuration.heartbeatInterval, state != .closed else {
            paths[index].heartbeatDeadline = nil
            return
        }
        let rto = paths[index].rto.rto
        let rtoNanos = max(rto.nanosecondsClamped, 1)
        let jitter = Int64(random.nextUInt64() % UInt64(rtoNanos)) - rtoNanos / 2
        let probing = paths[index].state == .unconfirmed || paths[index].state == .potentiallyFailed
        let base = probing ? Duration.zero : interval
        paths[index].heartbeatDeadline = now + rto + base + .nanoseconds(jitter)
    }

    /// The heartbeat timer of a path fired. With a heartbeat in flight, its RTO has passed
    /// unanswered (§8.3): an error on the path, the RTO backs off, and the next heartbeat is
    /// scheduled from when that one was sent. Otherwise a heartbeat goes out, unless the path
    /// is not idle: new DATA went there within HB.interval (§8.3's definition of idle).
    ///
    /// In SHUTDOWN-SENT and SHUTDOWN-ACK-SENT no heartbeat goes out (as in Linux): T2's
    /// retransmissions probe the peer, and a peer that has already closed (its SHUTDOWN
    /// COMPLETE was lost) answers a HEARTBEAT with ABORT, turning a shutdown that finished
    /// into a lost association, where the next SHUTDOWN ACK would have drawn the SHUTDOWN
    /// COMPLETE that ends it gracefully.
    func heartbeatDue(path index: Int, now: SCTPInstant) {
        if state == .shutdownSent || state == .shutdownAckSent {
            paths[index].heartbeatInFlight = nil
            paths[index].heartbeatDeadline = nil
            return
        }
        if let inFlight = paths[index].heartbeatInFlight {
            paths[index].heartbeatInFlight = nil
            paths[index].rto.backOff()
            // §8.1: only heartbeats missed on the path that carries data count towards
            // Association.Max.Retrans; a failed idle alternate must not end the association.
            recordError(path: index, countsForAssociation: index == primaryPath, now: now)
            if state == .closed { return }
            scheduleHeartbeat(path: index, now: inFlight.sentAt)
            if let deadline = paths[index].heartbeatDeadline, deadline < now { paths[index].heartbeatDeadline = now }
            return
        }
        if paths[index].state == .active, let interval = configuration.heartbeatInterval,
           let last = paths[index].lastSent, now < last + interval {
            scheduleHeartbeat(path: index, now: last)  // later than now: at least last + interval + RTO/2
            return
        }
        let (nonce, heartbeat) = makeHeartbeat(path: index, now: now)
        sendControl([heartbeat], to: index)
        paths[index].heartbeatInFlight = (nonce, now)
        paths[index].lastSent = now
        // The answer is awaited for one RTO; then the heartbeat counts as missed.
        paths[index].heartbeatDeadline = now + paths[index].rto.rto
    }

    /// HEARTBEAT from the peer (§8.3): echo its info unchanged, on the path it came from.
    func handleHeartbeat(_ heartbeat: HeartbeatChunk, from source: IPAddress) {
        let index = pathIndex(for: source) ?? primaryPath
        sendControl([.heartbeatAck(HeartbeatAckChunk(info: heartbeat.info))], to: index)
    }

    /// HEARTBEAT ACK (§8.3): confirms the path, clears its errors and the association's
    /// (§8.1), gives an RTT sample.
    func handleHeartbeatAck(_ ack: HeartbeatAckChunk, now: SCTPInstant) {
        var info = ack.info.info
        guard let nonce = info.readInteger(as: UInt64.self), let sent = info.readInteger(as: Int64.self),
              let address = (try? ParameterList(parsing: info))?.parameters.first?.address,
              let index = pathIndex(for: address)
        else { return }
        // A path MTU probe's answer (Association+PathMTU.swift).
        if pathMTUProbeAcknowledged(path: index, nonce: nonce, now: now) { return }
        guard let inFlight = paths[index].heartbeatInFlight, inFlight.nonce == nonce, inFlight.sentAt.nanoseconds == sent
        else { return }
        paths[index].heartbeatInFlight = nil
        paths[index].rto.addSample(now - inFlight.sentAt)
        associationErrorCount = 0
        markReachable(path: index)
        scheduleHeartbeat(path: index, now: now)
    }

    /// A path answered (a heartbeat, or data sent on it acknowledged): its errors are cleared
    /// and it is active again (reported if it was not, §8.2). Data returns to the configured
    /// primary once it answers (§6.4, RFC 7829), and leaves a current path that is unusable.
    func markReachable(path index: Int) {
        paths[index].errorCount = 0
        if paths[index].state != .active {
            paths[index].state = .active
            events.append(.peerAddressChange(id, paths[index].address, .active))
        }
        if index == configuredPrimaryPath || !paths[primaryPath].isUsable { primaryPath = preferredPath() }
    }

    /// One more unanswered retransmission or heartbeat on a path (§8.1, §8.2, RFC 7829).
    /// `countsForAssociation` is false for a heartbeat missed on a path that does not carry
    /// data (§8.1).
    func recordError(path index: Int, countsForAssociation: Bool = true, now: SCTPInstant) {
        paths[index].errorCount += 1
        if countsForAssociation {
            associationErrorCount += 1
            if associationErrorCount > configuration.associationMaxRetransmits {
                abort(causes: [], reason: .retransmissionsExhausted, now: now)
                return
            }
        }
        let errors = paths[index].errorCount
        if errors > configuration.pathMaxRetransmits, paths[index].state != .inactive {
            paths[index].state = .inactive
            events.append(.peerAddressChange(id, paths[index].address, .inactive))
            // The path may have changed when it comes back: discovery starts again (RFC 8899 §5.2).
            restartPathMTUDiscovery(path: index, now: now)
        } else if errors >= configuration.pathPotentiallyFailedThreshold, paths[index].state == .active {
            paths[index].state = .potentiallyFailed
            events.append(.peerAddressChange(id, paths[index].address, .potentiallyFailed))
            // RFC 7829: a potentially failed path is probed once per RTO.
            if paths[index].heartbeatInFlight == nil { scheduleHeartbeat(path: index, now: now) }
        }
        if index == primaryPath, !paths[index].isUsable { primaryPath = preferredPath() }
    }

    /// The path to send new data on: the configured primary when it is active, else the
    /// first active one in the peer's order; when none is active, the one with the fewest
    /// errors, the configured primary on a tie (RFC 7829).
    func preferredPath() -> Int {
        if paths.indices.contains(configuredPrimaryPath), paths[configuredPrimaryPath].isUsable { return configuredPrimaryPath }
        if let active = paths.indices.first(where: { paths[$0].isUsable }) { return active }
        var best = paths.indices.contains(configuredPrimaryPath) ? configuredPrimaryPath : 0
        for index in paths.indices where paths[index].state != .unconfirmed && paths[index].errorCount < paths[best].errorCount {
            best = index
        }
        return best
    }

    /// Another usable path than `index` for retransmissions (§6.4.1): the configured primary
    /// if it qualifies, else the first in the peer's order; `index` itself when there is none.
    func alternatePath(to index: Int) -> Int {
        if configuredPrimaryPath != index, paths.indices.contains(configuredPrimaryPath),
           paths[configuredPrimaryPath].isUsable { return configuredPrimaryPath }
        if let other = paths.indices.first(where: { $0 != index && paths[$0].isUsable }) { return other }
        return index
    }
}

extension Association {
    /// A HEARTBEAT for path `index` and its nonce: the info carries the nonce, the time sent
    /// and the path's address (a heartbeat and a path MTU probe alike).
    func makeHeartbeat(path index: Int, now: SCTPInstant) -> (nonce: UInt64, chunk: Chunk) {
        let nonce = random.nextUInt64()
        var info = ByteBuffer()
        info.writeInteger(nonce)
        info.writeInteger(now.nanoseconds)
        Parameter(address: paths[index].address).write(to: &info)
        return (nonce, .heartbeat(HeartbeatChunk(info: HeartbeatInfoParameter(info: info))))
    }
}
