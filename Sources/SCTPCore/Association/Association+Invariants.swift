import SCTPWire

extension Association {
    /// Checks the association's consistency between two calls into it; returns one line per
    /// property that does not hold (each prefixed with the association), an empty list when
    /// all do.
    ///
    /// The parts' own checks (`SendQueue`, `OutstandingData`, `DataReceiver` with
    /// `DataTracker` and `ReassemblyQueue`), and across them:
    /// - each path's congestion control with a positive cwnd, non-negative ssthresh and
    ///   partial_bytes_acked, counting the PMDCS of the path's MTU; no bytes in flight on a
    ///   path that does not exist;
    /// - at least one path, the primary and configured primary among them, no address twice;
    /// - T3-rtx runs on every path with data in flight (§6.3.2 R1), and only where data is in
    ///   flight or given-up data waits for a FORWARD TSN to be acknowledged (RFC 3758 §3.5);
    ///   a heartbeat in flight has its deadline;
    /// - T1 armed exactly in COOKIE-WAIT and COOKIE-ECHOED (the phases that carry the
    ///   handshake); no DATA sent before ESTABLISHED; T2 exactly in SHUTDOWN-SENT and
    ///   SHUTDOWN-ACK-SENT, T5 only there; nothing queued or outstanding in those states; no
    ///   timer at all once closed;
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
        // Without a data transfer state, the one `makeDataState` would make (not stored).
        let data = dataSlot.pointer?.pointee ?? initialDataState()
        let tx = data.tx
        let receiver = data.receiver
        for line in tx.queue.checkInvariants() + tx.outstanding.checkInvariants(resetPoints: tx.resetPoints) + receiver.checkInvariants() {
            fail(line)
        }
        let outstanding = tx.outstanding
        let settingUp = state == .cookieWait || state == .cookieEchoed
        // The peer's parameters are known (stream counts negotiated, congestion control set
        // up): past COOKIE-WAIT. A closed association is not checked for them.
        let configured = !(state == .cookieWait || state == .closed)

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
        for (index, path) in paths.enumerated() {
            let controller = path.congestion
            if controller.cwnd <= 0 || controller.ssthresh < 0 || controller.partialBytesAcked < 0 {
                fail("path \(index): cwnd \(controller.cwnd), ssthresh \(controller.ssthresh), "
                     + "partial_bytes_acked \(controller.partialBytesAcked)")
            }
            if controller.pmdcs != TransmissionQueue.pmdcs(mtu: path.mtu) {
                fail("path \(index): congestion control counts a PMDCS of \(controller.pmdcs), its MTU \(path.mtu) "
                     + "gives \(TransmissionQueue.pmdcs(mtu: path.mtu))")
            }
            // Path MTU discovery: the path's MTU is its prober's, never below the base; no timer once closed.
            let prober = path.pmtud
            if prober.isEnabled {
                if path.mtu != prober.effectiveMTU { fail("path \(index): MTU \(path.mtu), its prober's \(prober.effectiveMTU)") }
                if prober.plpmtu < prober.settings.effectiveBase || prober.plpmtu > prober.settings.effectiveMaximum {
                    fail("path \(index): PLPMTU \(prober.plpmtu) outside \(prober.settings.effectiveBase)...\(prober.settings.effectiveMaximum)")
                }
                if path.fragmentChunkSize > TransmissionQueue.pmdcs(mtu: prober.settings.effectiveBase) {
                    fail("path \(index): chunks of \(path.fragmentChunkSize) bytes would not fit the base PLPMTU")
                }
            }
            if state == .closed && prober.deadline != nil { fail("path \(index): the path MTU timer is armed after close") }
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
        if state == .closed && (timers[.t1Init] != nil || timers[.t2Shutdown] != nil || timers[.t5ShutdownGuard] != nil) {
            fail("a timer armed after the association closed")
        }
        if (timers[.t1Init] != nil) != settingUp { fail("T1 \(timers[.t1Init] == nil ? "off" : "armed")") }
        if let handshake {
            if !handshake.connectAddresses.indices.contains(handshake.cursor) {
                fail("handshake cursor \(handshake.cursor) of \(handshake.connectAddresses.count) addresses")
            }
        }
        let shuttingDown = state == .shutdownSent || state == .shutdownAckSent
        if (timers[.t2Shutdown] != nil) != shuttingDown { fail("T2-shutdown \(timers[.t2Shutdown] == nil ? "off" : "armed")") }
        if timers[.t5ShutdownGuard] != nil && !shuttingDown { fail("T5-shutdown-guard armed") }
        if shuttingDown && !tx.isIdle {
            fail("\(tx.queue.queuedBytes) bytes queued, \(outstanding.count) chunks outstanding after SHUTDOWN")
        }
        if settingUp && !outstanding.isEmpty { fail("\(outstanding.count) chunks outstanding before ESTABLISHED") }

        // Negotiated values.
        if !(state == .cookieWait || state == .closed) && peerTag == 0 { fail("the peer's tag is unknown") }
        if configured {
            if tx.queue.outboundStreamCount != Int(outboundStreams) {
                fail("the send queue has \(tx.queue.outboundStreamCount) streams, \(outboundStreams) negotiated")
            }
            if receiver.reassembly.inboundStreamCount != inboundStreams {
                fail("the reassembly queue has \(receiver.reassembly.inboundStreamCount) streams, \(inboundStreams) negotiated")
            }
        }
        if !peerSupportsForwardTSN && (abandonedWaiting || tx.forwardTSNPending) {
            fail("PR-SCTP state with a peer that does not support FORWARD TSN")
        }

        // SSNs of the ordered messages outstanding, per stream; a stream reset (RFC 6525)
        // performed between two chunks restarts the numbering at 0.
        let resetPoints = tx.resetPoints
        func resetBetween(_ earlier: TSN, _ later: TSN, on stream: UInt16) -> Bool {
            resetPoints.contains { earlier <= $0.tsn && $0.tsn < later && $0.covers(stream) }
        }
        var lastSSN: [UInt16: (ssn: SSN, tsn: TSN)] = [:]
        for entry in outstanding.chunks where !entry.chunk.dataFlags.contains(.unordered) && !entry.isInterleaved {
            let chunk = entry.chunk
            let stream = chunk.streamIdentifier
            if let last = lastSSN[stream] {
                var expected = chunk.dataFlags.contains(.beginning) ? last.ssn.next : last.ssn
                if resetBetween(last.tsn, chunk.tsn, on: stream) { expected = SSN(0) }
                if chunk.ssn != expected {
                    fail("stream \(stream): SSN \(chunk.ssn.rawValue) (TSN \(chunk.tsn.rawValue)) after SSN \(last.ssn.rawValue)")
                }
            }
            lastSSN[stream] = (chunk.ssn, chunk.tsn)
        }
        let nextTSN = tx.outstanding.nextTSN
        for (stream, last) in lastSSN where !resetBetween(last.tsn, nextTSN, on: stream)
            && last.ssn.next != tx.queue.nextSSN(for: stream) {
            fail("stream \(stream): SSN \(last.ssn.rawValue) outstanding, the next one \(tx.queue.nextSSN(for: stream).rawValue)")
        }

        if state != .closed && receiver.tracker.isInsidePacket { fail("a packet's DATA processing never ended") }
        return violations
        #else
        return []
        #endif
    }
}
