import NIOCore
import SCTPWire

extension Association {
    /// Arms the heartbeat timer of every path (§8.3): unconfirmed paths are probed soon,
    /// the others after an idle interval.
    func startHeartbeats(now: SCTPInstant) {
        for index in paths.indices { scheduleHeartbeat(path: index, now: now) }
    }

    /// The next heartbeat of a path: RTO + HB.interval, jittered by ±50 % of the RTO.
    func scheduleHeartbeat(path index: Int, now: SCTPInstant) {
        guard let interval = configuration.heartbeatInterval, state != .closed else {
            paths[index].heartbeatDeadline = nil
            return
        }
        let rto = paths[index].rto.rto
        let rtoNanos = max(rto.nanosecondsClamped, 1)
        let jitter = Int64(random.nextUInt64() % UInt64(rtoNanos)) - rtoNanos / 2
        let base = paths[index].state == .unconfirmed ? Duration.zero : interval
        paths[index].heartbeatDeadline = now + rto + base + .nanoseconds(jitter)
    }

    /// A heartbeat is due on a path: count an unanswered previous one as an error, then send.
    func heartbeatDue(path index: Int, now: SCTPInstant) {
        if paths[index].heartbeatInFlight != nil {
            paths[index].heartbeatInFlight = nil
            paths[index].rto.backOff()
            recordError(path: index, now: now)
            if state == .closed { return }
        }
        let nonce = random.nextUInt64()
        var info = ByteBuffer()
        info.writeInteger(nonce)
        info.writeInteger(now.nanoseconds)
        Parameter(address: paths[index].address).write(to: &info)
        sendControl([.heartbeat(HeartbeatChunk(info: HeartbeatInfoParameter(info: info)))], to: index)
        paths[index].heartbeatInFlight = (nonce, now)
        paths[index].lastSent = now
        // The answer is awaited for one RTO before the next heartbeat counts this one lost.
        paths[index].heartbeatDeadline = now + paths[index].rto.rto
    }

    /// HEARTBEAT from the peer (§8.3): echo its info unchanged, on the path it came from.
    func handleHeartbeat(_ heartbeat: HeartbeatChunk, from source: IPAddress) {
        let index = pathIndex(for: source) ?? primaryPath
        sendControl([.heartbeatAck(HeartbeatAckChunk(info: heartbeat.info))], to: index)
    }

    /// HEARTBEAT ACK (§8.3): confirms the path, clears its errors, gives an RTT sample.
    func handleHeartbeatAck(_ ack: HeartbeatAckChunk, now: SCTPInstant) {
        var info = ack.info.info
        guard let nonce = info.readInteger(as: UInt64.self), let sent = info.readInteger(as: Int64.self),
              let address = (try? ParameterList(parsing: info))?.parameters.first?.address,
              let index = pathIndex(for: address),
              let inFlight = paths[index].heartbeatInFlight, inFlight.nonce == nonce, inFlight.sentAt.nanoseconds == sent
        else { return }
        paths[index].heartbeatInFlight = nil
        paths[index].rto.addSample(now - inFlight.sentAt)
        associationErrorCount = 0
        markReachable(path: index)
        scheduleHeartbeat(path: index, now: now)
    }

    /// A path answered: it is active again (reported if it was not).
    func markReachable(path index: Int) {
        paths[index].errorCount = 0
        if paths[index].state != .active {
            paths[index].state = .active
            events.append(.peerAddressChange(id, paths[index].address, .active))
            // Return to the configured primary when it recovers.
            if index == 0 || !paths[primaryPath].isUsable { primaryPath = preferredPath() }
        }
    }

    /// One more unanswered retransmission or heartbeat on a path (§8.1, §8.2, RFC 7829).
    func recordError(path index: Int, now: SCTPInstant) {
        paths[index].errorCount += 1
        associationErrorCount += 1
        if associationErrorCount > configuration.associationMaxRetransmits {
            abort(causes: [], reason: .retransmissionsExhausted, now: now)
            return
        }
        let errors = paths[index].errorCount
        if errors > configuration.pathMaxRetransmits, paths[index].state != .inactive {
            paths[index].state = .inactive
            events.append(.peerAddressChange(id, paths[index].address, .inactive))
        } else if errors >= configuration.pathPotentiallyFailedThreshold, paths[index].state == .active {
            paths[index].state = .potentiallyFailed
            events.append(.peerAddressChange(id, paths[index].address, .potentiallyFailed))
        }
        if index == primaryPath, !paths[index].isUsable { primaryPath = preferredPath() }
    }

    /// The path to send new data on: the first active one in the peer's order, the primary
    /// address first; when none is active, the one with the fewest errors.
    func preferredPath() -> Int {
        if let active = paths.indices.first(where: { paths[$0].isUsable }) { return active }
        return paths.indices.min { paths[$0].errorCount < paths[$1].errorCount } ?? 0
    }

    /// Another usable path than `index` for retransmissions (§6.4.1), or `index` itself.
    func alternatePath(to index: Int) -> Int {
        if let other = paths.indices.first(where: { $0 != index && paths[$0].isUsable }) { return other }
        return index
    }
}
