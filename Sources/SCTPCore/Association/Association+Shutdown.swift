import NIOCore
import SCTPWire

/// Graceful shutdown bookkeeping (RFC 9260 §9.2).
extension Association {
    /// The user asks for a graceful shutdown (§9.2): no new data; once everything sent is
    /// acknowledged, SHUTDOWN goes out.
    func beginShutdown(now: SCTPInstant) {
        switch state {
        case .cookieWait, .cookieEchoed:
            // Nothing was set up on the peer's side yet worth a graceful end.
            abort(causes: [], reason: .userAborted, now: now)
        case .established:
            enter(.shutdownPending)
            progressShutdown(now: now)
        default:
            break
        }
    }

    /// Moves a pending shutdown on once no data is outstanding or queued, and no SSN/TSN
    /// reset request of ours waits for its answer: DATA that arrived meanwhile was
    /// acknowledged and is held until the answer says which numbering it belongs to (RFC 6525
    /// §5.1.4), so ending before the answer would lose it.
    func progressShutdown(now: SCTPInstant) {
        guard isTransmissionIdle, dataSlot.pointer?.pointee.receiver.isHoldingForAssociationReset != true else { return }
        switch state {
        case .shutdownPending:
            enter(.shutdownSent(ShutdownProgress(t2Timeout: paths[primaryPath].rto.rto)))
            sendShutdown(now: now)
            let guardTimeout = configuration.shutdownGuardTimeout ?? configuration.rtoMax * 5
            timers[.t5ShutdownGuard] = now + guardTimeout
        case .shutdownReceived:
            enter(.shutdownAckSent(ShutdownProgress(t2Timeout: paths[primaryPath].rto.rto)))
            sendShutdownAck(now: now)
        default:
            break
        }
    }

    private func sendShutdown(now: SCTPInstant) {
        sendControl([.shutdown(ShutdownChunk(cumulativeTSNAck: peerCumulativeTSN))], to: primaryPath)
        armT2(now: now)
    }

    private func sendShutdownAck(now: SCTPInstant) {
        sendControl([.shutdownAck(ShutdownAckChunk())], to: primaryPath)
        armT2(now: now)
    }

    private func armT2(now: SCTPInstant) {
        guard let progress = phase.shutdown else { return }
        timers[.t2Shutdown] = now + progress.t2Timeout
    }

    /// T2-shutdown expired: count an error, retransmit on an alternate path with a doubled timeout.
    func t2Expired(now: SCTPInstant) {
        timers[.t2Shutdown] = nil
        recordError(path: primaryPath, now: now)
        guard state != .closed else { return }
        primaryPath = alternatePath(to: primaryPath)
        switch phase {
        case .shutdownSent(var progress):
            progress.t2Timeout = min(progress.t2Timeout * 2, configuration.rtoMax)
            enter(.shutdownSent(progress))
            sendShutdown(now: now)
        case .shutdownAckSent(var progress):
            progress.t2Timeout = min(progress.t2Timeout * 2, configuration.rtoMax)
            enter(.shutdownAckSent(progress))
            sendShutdownAck(now: now)
        default: break
        }
    }

    /// T5-shutdown-guard expired (§9.2): give up with ABORT.
    func t5Expired(now: SCTPInstant) {
        timers[.t5ShutdownGuard] = nil
        abort(causes: [], reason: .shutdownTimedOut, now: now)
    }

    /// SHUTDOWN from the peer (§9.2).
    func handleShutdown(_ chunk: ShutdownChunk, now: SCTPInstant) {
        // A Cumulative TSN Ack beyond what we sent is a protocol violation: the association
        // is aborted (in `handleSack`) and nothing more may happen to it.
        switch state {
        case .established, .shutdownPending:
            processCumulativeAck(chunk.cumulativeTSNAck, now: now)
            // An acknowledgement of TSNs never sent aborts the association.
            guard state != .closed else { return }
            enter(.shutdownReceived)
            events.append(.peerShutdown(id))
            progressShutdown(now: now)
        case .shutdownReceived:
            processCumulativeAck(chunk.cumulativeTSNAck, now: now)
            guard state != .closed else { return }
            progressShutdown(now: now)
        case .shutdownSent:
            // Both sides shut down at once: answer with SHUTDOWN ACK (T2 starts again for it).
            processCumulativeAck(chunk.cumulativeTSNAck, now: now)
            guard let progress = phase.shutdown, state == .shutdownSent else { return }
            enter(.shutdownAckSent(progress))
            timers[.t2Shutdown] = nil
            sendShutdownAck(now: now)
        case .shutdownAckSent:
            sendShutdownAck(now: now)
        default:
            break
        }
    }

    /// SHUTDOWN ACK (§9.2): answer SHUTDOWN COMPLETE and close.
    func handleShutdownAck(from source: IPAddress, now: SCTPInstant) {
        switch state {
        case .shutdownSent, .shutdownAckSent:
            sendControl([.shutdownComplete(ShutdownCompleteChunk())], to: primaryPath)
            close(event: .shutdownComplete(id))
        case .cookieWait, .cookieEchoed:
            // §8.5.1 E: out of the blue (the endpoint normally answers it before it gets here):
            // SHUTDOWN COMPLETE to the sender, its tag reflected, T bit set.
            var header = commonHeader
            header.verificationTag = localTag
            let reply = SCTPPacket(header: header, chunks: [.shutdownComplete(ShutdownCompleteChunk(tagFlags: .reflectedTag))])
            outbox.append(Transmit(datagram: reply.serialized(), destination: source))
        default:
            break
        }
    }

    /// §9.2: an INIT in SHUTDOWN-ACK-SENT (our SHUTDOWN COMPLETE was lost, or the peer
    /// restarted) is discarded and SHUTDOWN ACK sent again; T2 keeps running.
    func retransmitShutdownAck() {
        guard state == .shutdownAckSent else { return }
        sendControl([.shutdownAck(ShutdownAckChunk())], to: primaryPath)
    }

    /// §5.2.4 A in SHUTDOWN-ACK-SENT: the peer restarted, but no new association is set up;
    /// SHUTDOWN ACK goes again with an ERROR "Cookie Received While Shutting Down".
    func refuseRestartWhileShuttingDown() {
        guard state == .shutdownAckSent else { return }
        sendControl([
            .shutdownAck(ShutdownAckChunk()),
            .error(ErrorChunk(causes: [.cookieReceivedWhileShuttingDown(CookieReceivedWhileShuttingDownCause())])),
        ], to: primaryPath)
    }

    /// SHUTDOWN COMPLETE (§9.2): the association is gone.
    func handleShutdownComplete() {
        guard state == .shutdownAckSent else { return }
        close(event: .shutdownComplete(id))
    }

    /// ABORT from the peer (§9.1): the association is gone, with the peer's reasons.
    ///
    /// In SHUTDOWN-ACK-SENT, an ABORT with the T bit is the peer's endpoint answering a
    /// packet of ours out of the blue (§8.4): it has closed already, typically after both
    /// sides shut down at once and our SHUTDOWN reached it late, with its SHUTDOWN COMPLETE
    /// lost. Every byte both ways was acknowledged before our SHUTDOWN ACK, so this ends the
    /// shutdown as its SHUTDOWN COMPLETE would have (`.shutdownComplete`), not as a loss.
    func handleAbort(_ chunk: AbortChunk) {
        if state == .shutdownAckSent && chunk.tagFlags.contains(.reflectedTag) {
            close(event: .shutdownComplete(id))
            return
        }
        let event: SCTPEvent = state == .cookieWait || state == .cookieEchoed
            ? .cannotStart(id, .refused(causes: chunk.causes))
            : .communicationLost(id, .peerAborted(causes: chunk.causes))
        close(event: event)
    }
}
