import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire

/// One side of a sweep run: an `SCTPEndpoint` on the simulated network plus the
/// application above it, which sends its scripted messages at their times (retrying while
/// the send buffer is full), reads what arrives (at once or slowly), shuts down or aborts
/// when the scenario says, and records everything the invariants need. After every call
/// into the endpoint it checks that the association's memory stays within its limits and
/// that the endpoint's invariants hold (`SCTPEndpoint.checkInvariants()`).
final class SweepPeer: SimulationParticipant {
    /// A message as the application received it (pieces of a partial delivery joined).
    struct Delivered {
        var index: Int
        var stream: UInt16
        var unordered: Bool
        var payload: ByteBuffer
        var time: SCTPInstant
    }

    let name: String
    let endpoint: SCTPEndpoint
    let isClient: Bool
    let scenario: SweepScenario
    let messages: [SweepScenario.Message]
    /// What the peer sends (to judge what arrives).
    var peerMessages: [SweepScenario.Message] = []
    let reader: SweepScenario.Reader
    /// The stream resets this side asks for.
    var resets: [SweepScenario.Reset] = []
    private var nextReset = 0
    /// The address changes this side makes (RFC 5061).
    var addressChanges: [SweepScenario.AddressChange] = []
    private var nextAddressChange = 0
    /// Resets asked for and accepted, per direction; their outcomes as reported.
    private(set) var outgoingResetsRequested = 0
    private(set) var incomingResetsRequested = 0
    private(set) var resetEvents: [StreamResetEvent] = []
    /// The a_rwnd the peer starts with: what our outstanding data is bounded by.
    let peerReceiveBuffer: Int

    // The application's script.
    var association: AssociationID?
    private(set) var upAt: SCTPInstant?
    private var nextToSend = 0
    private var retryAt: SCTPInstant?
    private var stoppedSending = false
    /// When to shut down or abort, relative to coming up (`abortAtAbsolute`: from connect).
    var shutdownAfter: Duration?
    var abortAfter: Duration?
    var abortAtAbsolute: SCTPInstant?
    /// Stop accepting associations once one is up (a one-to-one server socket).
    var stopsListeningWhenUp = false
    /// Stream scheduler values to set when up, and switches to make (the scheduler sweep).
    var schedulers: SweepScenario.Schedulers?
    private var nextSwitch = 0
    private var readAt: SCTPInstant?

    // What happened.
    /// Message indices `send` accepted, in order.
    private(set) var accepted: [Int] = []
    /// Message indices reported by `.sendFailed`.
    private(set) var failed: Set<Int> = []
    private(set) var delivered: [Delivered] = []
    private(set) var pieces: [UInt16: (index: Int, payload: ByteBuffer)] = [:]
    private(set) var unreadBytes = 0
    private(set) var upEvents = 0
    /// Address changes of the peer (RFC 5061) reported.
    private(set) var addressReconfigurations = 0
    private(set) var shutdownCompletes = 0
    private(set) var peerShutdowns = 0
    private(set) var lost: [LossReason] = []
    private(set) var cannotStart: [ConnectFailure] = []
    /// When the application called abort.
    private(set) var abortedAt: SCTPInstant?
    /// When the association ended for the application (abort called, or a final event).
    private(set) var endedAt: SCTPInstant?
    private(set) var violations: [String] = []
    /// Every packet and event with its time, when tracing (for replays).
    var trace: [(time: Int64, line: String)]? = nil
    /// The association's counters as last seen.
    private(set) var statistics = AssociationStatistics()

    init(name: String, endpoint: SCTPEndpoint, isClient: Bool, scenario: SweepScenario,
         messages: [SweepScenario.Message], reader: SweepScenario.Reader, peerReceiveBuffer: Int) {
        self.name = name
        self.endpoint = endpoint
        self.isClient = isClient
        self.scenario = scenario
        self.messages = messages
        self.reader = reader
        self.peerReceiveBuffer = peerReceiveBuffer
    }

    func violation(_ text: String, at now: SCTPInstant) {
        if violations.count < 20 { violations.append("\(name) at \(now): \(text)") }
    }

    // MARK: SimulationParticipant

    /// The endpoint's addresses, and those it removed: their transport stays open (as a
    /// driver's does after `bindx` remove), so packets the peer still sends there arrive
    /// (RFC 5061 §5.1: keep accepting them until the peer stopped using the address).
    var addresses: [IPAddress] { endpoint.localAddresses + removedAddresses }
    private var removedAddresses: [IPAddress] = []

    var nextDeadline: SCTPInstant? {
        var earliest = endpoint.nextDeadline
        func consider(_ time: SCTPInstant?) {
            if let time, earliest.map({ time < $0 }) ?? true { earliest = time }
        }
        consider(nextActionTime)
        return earliest
    }

    func handleTimeout(now: SCTPInstant) {
        runActions(now: now)
        if let deadline = endpoint.nextDeadline, deadline <= now { endpoint.handleTimeout(now: now) }
        drainEvents(now: now)
        checkMemory(now: now)
    }

    func receive(_ delivery: Delivery, now: SCTPInstant) {
        if trace != nil { trace!.append((now.nanoseconds, "\(now) \(name) ← \(Self.describe(delivery.datagram))")) }
        endpoint.handle(datagram: delivery.datagram, from: delivery.from, to: delivery.to, now: now,
                        congestionExperienced: delivery.congestionExperienced)
        drainEvents(now: now)
        checkMemory(now: now)
    }

    func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? {
        // Events were drained after every call that can produce them.
        guard let transmit = endpoint.pollTransmit() else {
            checkInvariants(now: now)
            return nil
        }
        if trace != nil { trace!.append((now.nanoseconds, "\(now) \(name) → \(transmit.destination) \(Self.describe(transmit.datagram))")) }
        return OutgoingDatagram(datagram: transmit.datagram, from: transmit.source ?? endpoint.localAddresses[0], to: transmit.destination)
    }

    // MARK: The application

    /// Connects (the client) and hands over the messages meant to wait for the handshake.
    func connect(to peer: IPAddress, port: UInt16, now: SCTPInstant) {
        do {
            association = try endpoint.connect(to: [peer], port: port, now: now)
        } catch {
            violation("connect failed: \(error)", at: now)
            return
        }
        if scenario.clientSendsEarly { sendDue(now: now, early: true) }
        drainEvents(now: now)
    }

    private var nextActionTime: SCTPInstant? {
        var earliest: SCTPInstant? = nil
        func consider(_ time: SCTPInstant?) {
            if let time, earliest.map({ time < $0 }) ?? true { earliest = time }
        }
        if endedAt == nil {
            consider(abortAtAbsolute)
            if let upAt {
                if !stoppedSending && nextToSend < messages.count { consider(retryAt ?? upAt + messages[nextToSend].offset) }
                consider(shutdownAfter.map { upAt + $0 })
                if nextReset < resets.count { consider(upAt + resets[nextReset].offset) }
                if nextAddressChange < addressChanges.count { consider(upAt + addressChanges[nextAddressChange].offset) }
                consider(abortAfter.map { upAt + $0 })
                if let schedulers, nextSwitch < schedulers.switches.count { consider(upAt + schedulers.switches[nextSwitch].after) }
            }
        }
        consider(readAt)
        return earliest
    }

    private func runActions(now: SCTPInstant) {
        if let readAt, readAt <= now { read(now: now) }
        guard endedAt == nil else { return }
        if let upAt, let schedulers, let association {
            while nextSwitch < schedulers.switches.count, upAt + schedulers.switches[nextSwitch].after <= now {
                let kind = schedulers.switches[nextSwitch].kind
                nextSwitch += 1
                do { try endpoint.setStreamScheduler(kind, of: association) } catch {
                    violation("switching to \(kind) failed: \(error)", at: now)
                }
            }
        }
        if upAt != nil { sendDue(now: now, early: false) }
        resetDue(now: now)
        addressChangesDue(now: now)
        if let upAt, let after = shutdownAfter, upAt + after <= now {
            shutdownAfter = nil
            stoppedSending = true
            do { try endpoint.shutdown(association!, now: now) } catch {
                violation("shutdown failed: \(error)", at: now)
            }
        }
        let abortDue = abortAtAbsolute.map { $0 <= now } ?? false || (upAt.map { up in abortAfter.map { up + $0 <= now } ?? false } ?? false)
        if abortDue {
            abortAtAbsolute = nil
            abortAfter = nil
            stoppedSending = true
            drainEvents(now: now)
            if let association, endedAt == nil {
                do {
                    try endpoint.abort(association, now: now)
                    abortedAt = now
                    endedAt = now
                } catch {
                    violation("abort failed: \(error)", at: now)
                }
            }
        }
    }

    /// Hands over every message whose time has come, in order, until the send buffer is full.
    private func sendDue(now: SCTPInstant, early: Bool) {
        if let retryAt, retryAt > now { return }
        retryAt = nil
        guard let association else { return }
        while !stoppedSending && nextToSend < messages.count {
            let message = messages[nextToSend]
            if early ? message.offset != .zero : upAt! + message.offset > now { return }
            let outgoing = OutgoingMessage(streamIdentifier: message.stream, payloadProtocolIdentifier: UInt32(message.index),
                                           isUnordered: message.unordered, partialReliability: message.policy,
                                           payload: scenario.payload(message, fromClient: isClient))
            do {
                try endpoint.send(outgoing, on: association, now: now)
                accepted.append(message.index)
                nextToSend += 1
            } catch .sendBufferFull {
                retryAt = now + .milliseconds(5)
                return
            } catch .associationClosing, .unknownAssociation {
                // The peer shut down (or the association ended): the rest is never sent.
                stoppedSending = true
            } catch {
                violation("send of message \(message.index) failed: \(error)", at: now)
                stoppedSending = true
            }
        }
    }

    /// Asks for the stream resets whose time has come. Refusals the script cannot avoid
    /// (the association is shutting down, too many requests wait) are fine; others are not.
    private func resetDue(now: SCTPInstant) {
        guard let upAt, let association else { return }
        while nextReset < resets.count, upAt + resets[nextReset].offset <= now {
            let reset = resets[nextReset]
            nextReset += 1
            do {
                try endpoint.resetStreams(reset.streams, direction: reset.direction, on: association, now: now)
                if reset.direction.contains(.outgoing) { outgoingResetsRequested += 1 }
                if reset.direction.contains(.incoming) { incomingResetsRequested += 1 }
            } catch .invalidReconfiguration, .reconfigurationBusy, .unknownAssociation, .associationClosing {
                continue
            } catch {
                violation("reset \(reset.streams) \(reset.direction) failed: \(error)", at: now)
            }
        }
    }

    /// Makes the address changes whose time has come. Refusals the script cannot avoid (the
    /// association is not established any more, too many changes wait) are fine.
    private func addressChangesDue(now: SCTPInstant) {
        guard let upAt, let association else { return }
        while nextAddressChange < addressChanges.count, upAt + addressChanges[nextAddressChange].offset <= now {
            let change = addressChanges[nextAddressChange]
            nextAddressChange += 1
            do {
                switch change.action {
                case .add(let address): try endpoint.addLocalAddresses([address], now: now)
                case .delete(let address):
                    // Removing the address the peer knows us by, once the association can no
                    // longer tell the peer (shutting down), would cut it off: not done.
                    guard endpoint.state(of: association) == .established else { continue }
                    try endpoint.removeLocalAddresses([address], now: now)
                    removedAddresses.append(address)
                case .setPeerPrimary(let address): try endpoint.requestPeerPrimaryAddress(address, on: association, now: now)
                }
            } catch .invalidAddressChange, .addressReconfigurationBusy, .unknownAssociation, .addressNotAvailable {
                continue
            } catch {
                violation("address change \(change.action) failed: \(error)", at: now)
            }
        }
    }

    /// Whether every reset this side asked for was concluded (performed, or failed when the
    /// association began to shut down), as the events say.
    var resetsConcluded: Bool {
        let outgoing = resetEvents.filter { $0.flags.contains(.outgoing) && !$0.flags.contains(.incoming) }.count
        return outgoing >= outgoingResetsRequested
    }

    /// A slow reader's periodic read.
    private func read(now: SCTPInstant) {
        readAt = nil
        guard let bytes = reader.bytesPerRead else { return }
        let amount = min(bytes, unreadBytes)
        consume(amount, now: now)
        if unreadBytes > 0 { readAt = now + reader.interval }
    }

    private func consume(_ bytes: Int, now: SCTPInstant) {
        guard bytes > 0 else { return }
        unreadBytes -= bytes
        if let association { endpoint.consumed(bytes: bytes, on: association, now: now) }
    }

    // MARK: Events

    func drainEvents(now: SCTPInstant) {
        var budget = 100_000
        while budget > 0, let event = endpoint.pollEvent() {
            budget -= 1
            handle(event, now: now)
        }
        if budget == 0 { violation("events never stop coming", at: now) }
    }

    private func handle(_ event: SCTPEvent, now: SCTPInstant) {
        if trace != nil {
            if case .message(_, let m) = event {
                trace!.append((now.nanoseconds, "\(now) \(name) event message \(m.payloadProtocolIdentifier) stream \(m.streamIdentifier) \(m.payload.readableBytes) B complete \(m.isComplete)"))
            } else {
                trace!.append((now.nanoseconds, "\(now) \(name) event \(event)"))
            }
        }
        switch event {
        case .communicationUp(let id, _, _):
            upEvents += 1
            if upEvents > 1 { violation("second communicationUp (\(id))", at: now) }
            if let association, association != id { violation("up for \(id), expected \(association)", at: now) }
            if endedAt != nil { violation("communicationUp after the end", at: now) }
            association = id
            upAt = now
            if stopsListeningWhenUp { endpoint.acceptsAssociations = false }
            for (stream, value) in schedulers?.values ?? [] {
                do { try endpoint.setStreamSchedulerValue(value, stream: stream, of: id) } catch .invalidStream {
                    // Fewer streams were negotiated than asked for.
                } catch {
                    violation("setting stream \(stream)'s scheduler value failed: \(error)", at: now)
                }
            }
        case .cannotStart(_, let failure):
            cannotStart.append(failure)
            end(now)
        case .communicationLost(_, let reason):
            lost.append(reason)
            end(now)
        case .restart(let id):
            violation("unexpected restart of \(id)", at: now)
        case .shutdownComplete:
            shutdownCompletes += 1
            end(now)
        case .peerShutdown:
            peerShutdowns += 1
        case .peerAddressChange:
            break
        case .peerAddressReconfigured:
            addressReconfigurations += 1
        case .remoteError(_, let causes):
            // The peer reports the extensions it does not support (Forward-TSN-Supported
            // when its PR-SCTP is off); anything else is unexpected.
            let unexpected = causes.filter { if case .unrecognizedParameters = $0 { false } else { true } }
            if !unexpected.isEmpty { violation("peer reported an error: \(unexpected)", at: now) }
        case .streamReset(_, let reset):
            // Both sides allow stream resets: none is denied.
            if reset.flags.contains(.denied) { violation("stream reset denied: \(reset)", at: now) }
            resetEvents.append(reset)
        case .associationReset, .streamChange:
            violation("unexpected stream reconfiguration event \(event)", at: now)
        case .authentication(_, let auth):
            // Only a peer without AUTH is reported, and only where one side has it off.
            if auth.indication != .noAuthentication { violation("unexpected AUTH event \(auth)", at: now) }
        case .adaptationIndication:
            // Neither side announces an adaptation layer in the sweep.
            violation("unexpected adaptation indication", at: now)
        case .sendFailed(_, let failedMessage):
            let (stream, payload) = (failedMessage.streamIdentifier, failedMessage.payload)
            let index = Int(failedMessage.payloadProtocolIdentifier)
            if !failed.insert(index).inserted { violation("message \(index) reported failed twice", at: now) }
            if let message = messages.first(where: { $0.index == index }) {
                // A message whose first chunks were acknowledged comes back with the rest only.
                let original = scenario.payload(message, fromClient: isClient)
                let tail = original.getSlice(at: original.readerIndex + original.readableBytes - payload.readableBytes,
                                             length: payload.readableBytes)
                // One the peer acknowledged non-renegably in full (NR-SACK) comes back without data.
                if failedMessage.dataReleased {
                    if message.stream != stream || payload.readableBytes != 0 {
                        violation("failed message \(index) released by NR-SACK comes back with data", at: now)
                    }
                } else if message.stream != stream || payload.readableBytes == 0 || tail != payload {
                    violation("failed message \(index) comes back altered", at: now)
                }
            } else {
                violation("failed message \(index) was never sent", at: now)
            }
        case .partialDeliveryAborted(_, let stream):
            // Only a message the peer gave up (PR-SCTP) may stop half delivered.
            if let partial = pieces.removeValue(forKey: stream) {
                if peerMessages.indices.contains(partial.index) && peerMessages[partial.index].isReliable {
                    violation("partial delivery of reliable message \(partial.index) aborted", at: now)
                }
            } else {
                violation("partial delivery aborted on stream \(stream) with none in progress", at: now)
            }
        case .senderDry:
            break
        case .message(_, let message):
            receive(message, now: now)
        }
    }

    private func end(_ now: SCTPInstant) {
        if endedAt == nil { endedAt = now }
        stoppedSending = true
    }

    private func receive(_ message: ReceivedMessage, now: SCTPInstant) {
        let index = Int(message.payloadProtocolIdentifier)
        if let endedAt { violation("message \(index) delivered after the association ended at \(endedAt)", at: now) }
        unreadBytes += message.payload.readableBytes
        var payload = message.payload
        if var partial = pieces.removeValue(forKey: message.streamIdentifier) {
            if partial.index != index { violation("pieces of messages \(partial.index) and \(index) mixed on stream \(message.streamIdentifier)", at: now) }
            partial.payload.writeBuffer(&payload)
            payload = partial.payload
        }
        if message.isComplete {
            delivered.append(Delivered(index: index, stream: message.streamIdentifier, unordered: message.isUnordered,
                                       payload: payload, time: now))
        } else {
            pieces[message.streamIdentifier] = (index, payload)
        }
        if reader.bytesPerRead == nil {
            consume(message.payload.readableBytes, now: now)
        } else if readAt == nil {
            readAt = now + reader.interval
        }
    }

    /// A packet's chunks in a line.
    static func describe(_ datagram: ByteBuffer) -> String {
        guard let packet = try? SCTPPacket(parsing: datagram, checksum: .required) else { return "(corrupt)" }
        return "tag \(packet.header.verificationTag) " + packet.chunks.map { chunk in
            switch chunk {
            case .data(let d):
                "DATA(\(d.tsn.rawValue) s\(d.streamIdentifier) n\(d.ssn.rawValue) ppid \(d.payloadProtocolIdentifier) \(d.payload.readableBytes)B f\(d.dataFlags.rawValue))"
            case .sack(let s):
                "SACK(\(s.cumulativeTSNAck.rawValue) a_rwnd \(s.advertisedReceiverWindowCredit) gaps \(s.gapAckBlocks.map { "\($0.start)-\($0.end)" }) dups \(s.duplicateTSNs.count))"
            case .nrSack(let s):
                "NR-SACK(\(s.cumulativeTSNAck.rawValue) a_rwnd \(s.advertisedReceiverWindowCredit) gaps \(s.gapAckBlocks.map { "\($0.start)-\($0.end)" }) nr \(s.nonRenegableGapAckBlocks.map { "\($0.start)-\($0.end)" }) dups \(s.duplicateTSNs.count))"
            case .forwardTSN(let f):
                "FORWARD-TSN(\(f.newCumulativeTSN.rawValue) \(f.skippedStreams.map { "s\($0.streamIdentifier) n\($0.ssn.rawValue)" }))"
            default:
                "\(chunk)".prefix(80).description
            }
        }.joined(separator: " ")
    }

    // MARK: Memory

    /// The endpoint's invariants (`SCTPEndpoint.checkInvariants()`: the association's state
    /// machine, queues, flight and window accounting, timers).
    private func checkInvariants(now: SCTPInstant) {
        for line in endpoint.checkInvariants() { violation("invariant: \(line)", at: now) }
    }

    /// Every association's queues within their configured limits, and the endpoint's invariants.
    private func checkMemory(now: SCTPInstant) {
        checkInvariants(now: now)
        if endpoint.associations.count > 1 { violation("\(endpoint.associations.count) associations", at: now) }
        for association in endpoint.associations.values where !association.isClosed {
            let c = association.configuration
            let sender = association.tx
            let receiver = association.receiver
            func check(_ value: Int, _ limit: Int, _ what: String) {
                if value > limit { violation("\(what) \(value) over its limit \(limit)", at: now) }
            }
            check(sender.queue.queuedBytes, c.sendBufferSize, "send queue bytes")
            // The TSN of a given-up message's unsent rest (PR-SCTP) may take one more; no
            // new chunk is sent while the count is at the limit.
            check(sender.outstanding.count, c.maxOutstandingChunks + 1, "outstanding chunks")
            // What the sender believes the peer's window to be never exceeds what the peer
            // offered. (Bytes in flight have no such bound: a SACK reordered behind a later
            // one with the same Cumulative TSN Ack looks like a renege, which puts every chunk
            // gap-acknowledged since back in flight, §6.2.1 D iii; the outstanding-chunk
            // limit bounds them.)
            check(sender.outstanding.peerReceiverWindow, peerReceiveBuffer, "peer window")
            check(receiver.reassembly.bufferedBytes,
                  receiver.configuration.reassembly.memoryLimit + receiver.configuration.reassembly.overshootAllowance,
                  "reassembly bytes")
            check(receiver.tracker.gapRangeCount, receiver.tracker.configuration.maxGapRanges, "gap ranges")
            check(receiver.tracker.pendingDuplicateTSNs.count, receiver.tracker.configuration.maxDuplicateTSNs, "duplicate TSNs")
            check(association.outbox.count, 64, "packets waiting")
            check(association.pendingControl.count, 16, "control chunks waiting")
            check(association.events.count, 0, "events not polled")
            if association.id == self.association { statistics = association.statistics }
            if association.id == self.association && receiver.deliveredUnreadBytes != unreadBytes {
                violation("receiver counts \(receiver.deliveredUnreadBytes) unread bytes, the application \(unreadBytes)", at: now)
            }
        }
    }
}
