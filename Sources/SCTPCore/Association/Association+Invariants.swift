import SCTPWire

extension Association {
    /// Checks the association's consistency between two calls into it; returns one line per
    /// property that does not hold (each prefixed with the association), an empty list when
    /// all do.
    ///
    /// The parts' own checks (`SendQueue`, `OutstandingData`, `DataReceiver` with
    /// `DataTracker` and `ReassemblyQueue`), and across them:
    /// - one congestion controller per path once the peer's parameters are known (none
    ///   before), each with a positive cwnd, non-negative ssthresh and partial_bytes_acked,
    ///   and the PMDCS of its path's MTU; no bytes in flight on a path that does not exist;
    /// - at least one path, the primary and configured primary among them, no address twice;
    /// - T3-rtx runs on every path with data in flight (§6.3.2 R1), and only where data is in
    ///   flight or given-up data waits for a FORWARD TSN to be acknowledged (RFC 3758 §3.5);
    ///   a heartbeat in flight has its deadline;
    /// - handshake state exactly in COOKIE-WAIT and COOKIE-ECHOED, with T1 armed; no DATA
    ///   sent before ESTABLISHED; T2 exactly in SHUTDOWN-SENT and SHUTDOWN-ACK-SENT, T5 only
    ///   there; nothing queued or outstanding in those states; no timer at all once closed;
    /// - the peer's tag known once the handshake is past COOKIE-WAIT; the send queue and the
    ///   reassembly queue sized to the negotiated stream counts;
    /// - PR-SCTP state (abandoned chunks, a FORWARD TSN to send) only with a peer that supports it;
    /// - per stream, the ordered messages outstanding carry consecutive SSNs, the last one
    ///   just before the SSN the send queue gives next;
    /// - the receiver is between packets (every packet's processing was ended).
    ///
    /// Compiled in debug builds and with `-DSCTP_INVARIANTS`; otherwise returns `[]`.
    func checkInvariants() -> [String] {
        #if DEBUG || SCTP_INVARIANTS
        var violations: [String] = []
        let prefix = "\(id) (\(state)): "
        func fail(_ text: @autoclosure () -> String) {
            if violations.count < 48 { violations.append(prefix + text()) }
        }
        for line in sender.queue.checkInvariants() + sender.outstanding.checkInvariants() + receiver.checkInvariants() {
            fail(line)
        }
        let outstanding = sender.outstanding
        let settingUp = state == .cookieWait || state == .cookieEchoed
        let configured = !sender.congestion.isEmpty

        // Paths and congestion control.
        if paths.isEmpty {
            fail("no path")
        } else {
            if !paths.indices.contains(primaryPath) { fail("primary path \(primaryPath) of \(paths.count)") }
            if !paths.indices.contains(configuredPrimaryPath) {
                fail("configured primary path \(configuredPrimaryPath) of \(paths.count)")
            }
        }
        if Set(paths.map(\.address)).count != paths.count { fail("a peer address is listed twice") }
        if configured {
            if sender.congestion.count != paths.count {
                fail("\(sender.congestion.count) congestion controllers for \(paths.count) paths")
            }
        } else if !(state == .cookieWait || state == .closed) {
            fail("no congestion controller after the handshake")
        }
        for (index, controller) in sender.congestion.enumerated() {
            if controller.cwnd <= 0 || controller.ssthresh < 0 || controller.partialBytesAcked < 0 {
                fail("path \(index): cwnd \(controller.cwnd), ssthresh \(controller.ssthresh), "
                     + "partial_bytes_acked \(controller.partialBytesAcked)")
            }
            if paths.indices.contains(index), controller.pmdcs != DataSender.pmdcs(mtu: paths[index].mtu) {
                fail("path \(index): congestion control counts a PMDCS of \(controller.pmdcs), its MTU \(paths[index].mtu) "
                     + "gives \(DataSender.pmdcs(mtu: paths[index].mtu))")
            }
        }
        for index in paths.count..<max(paths.count, outstanding.flight.count) where outstanding.bytesInFlight(on: PathID(index)) > 0 {
            fail("\(outstanding.bytesInFlight(on: PathID(index))) bytes in flight on path \(index), which does not exist")
        }

        // Timers.
        let abandonedWaiting = outstanding.advancedPeerAckPoint != nil
        for (index, path) in paths.enumerated() {
            let inFlight = outstanding.bytesInFlight(on: PathID(index))
            if state == .closed {
                if path.t3Deadline != nil || path.heartbeatDeadline != nil { fail("path \(index) has a timer armed") }
                continue
            }
            if inFlight > 0 && path.t3Deadline == nil { fail("path \(index): \(inFlight) bytes in flight and T3-rtx off") }
            if path.t3Deadline != nil && inFlight == 0 && !abandonedWaiting {
                fail("path \(index): T3-rtx armed with nothing in flight and no FORWARD TSN to acknowledge")
            }
            if path.heartbeatInFlight != nil && path.heartbeatDeadline == nil {
                fail("path \(index): a heartbeat in flight without a deadline")
            }
        }
        if (handshake != nil) != settingUp { fail("handshake state \(handshake == nil ? "missing" : "present")") }
        if let handshake {
            if handshake.t1Deadline == nil { fail("handshake without T1") }
            if !handshake.connectAddresses.indices.contains(handshake.cursor) {
                fail("handshake cursor \(handshake.cursor) of \(handshake.connectAddresses.count) addresses")
            }
        }
        let shuttingDown = state == .shutdownSent || state == .shutdownAckSent
        if (shutdown.t2Deadline != nil) != shuttingDown { fail("T2-shutdown \(shutdown.t2Deadline == nil ? "off" : "armed")") }
        if shutdown.t5Deadline != nil && !shuttingDown { fail("T5-shutdown-guard armed") }
        if shuttingDown && !sender.isIdle {
            fail("\(sender.queue.queuedBytes) bytes queued, \(outstanding.count) chunks outstanding after SHUTDOWN")
        }
        if settingUp && !outstanding.isEmpty { fail("\(outstanding.count) chunks outstanding before ESTABLISHED") }

        // Negotiated values.
        if !(state == .cookieWait || state == .closed) && peerTag == 0 { fail("the peer's tag is unknown") }
        if configured {
            if sender.queue.outboundStreamCount != Int(outboundStreams) {
                fail("the send queue has \(sender.queue.outboundStreamCount) streams, \(outboundStreams) negotiated")
            }
            if receiver.reassembly.inboundStreamCount != inboundStreams {
                fail("the reassembly queue has \(receiver.reassembly.inboundStreamCount) streams, \(inboundStreams) negotiated")
            }
        }
        if !peerSupportsForwardTSN && (abandonedWaiting || forwardTSNPending) {
            fail("PR-SCTP state with a peer that does not support FORWARD TSN")
        }

        // SSNs of the ordered messages outstanding, per stream.
        var lastSSN: [UInt16: SSN] = [:]
        for entry in outstanding.chunks where !entry.chunk.dataFlags.contains(.unordered) {
            let chunk = entry.chunk
            let stream = chunk.streamIdentifier
            if let last = lastSSN[stream] {
                let expected = chunk.dataFlags.contains(.beginning) ? last.next : last
                if chunk.ssn != expected {
                    fail("stream \(stream): SSN \(chunk.ssn.rawValue) (TSN \(chunk.tsn.rawValue)) after SSN \(last.rawValue)")
                }
            }
            lastSSN[stream] = chunk.ssn
        }
        for (stream, last) in lastSSN where last.next != sender.queue.nextSSN(for: stream) {
            fail("stream \(stream): SSN \(last.rawValue) outstanding, the next one \(sender.queue.nextSSN(for: stream).rawValue)")
        }

        if state != .closed && receiver.tracker.isInsidePacket { fail("a packet's DATA processing never ended") }
        return violations
        #else
        return []
        #endif
    }
}
