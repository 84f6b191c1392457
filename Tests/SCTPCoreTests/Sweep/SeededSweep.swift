import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire

/// One run of the seeded sweep: builds the scenario of a seed, runs it on the simulated
/// network and checks the invariants. Everything, the network's fate of each datagram
/// included, follows from the seed, so a run repeats exactly.
enum SeededSweep {
    /// What one run found.
    struct Result {
        var seed: UInt64
        var scenario: SweepScenario
        var violations: [String]
        var steps: Int
        /// The virtual time when both sides had ended.
        var end: SCTPInstant
        var aborted: Bool
        var retransmitted: Bool
        var fastRetransmitted: Bool
        var duplicatesReceived: Bool
        var ecnReduced: Bool
        /// Path MTU discovery: probes were acknowledged, a black hole was detected.
        var mtuProbed = false
        var blackHole = false
        var messagesDelivered: Int
        /// Address changes (RFC 5061) the server saw performed.
        var addressReconfigurations = 0

        var report: String {
            "\(scenario)\n  after \(steps) steps, at \(end):\n    " + violations.joined(separator: "\n    ")
        }
    }

    static let clientPort: UInt16 = 5002
    static let serverPort: UInt16 = 5001
    /// Virtual time a run may take: the association must have ended (shut down, or aborted
    /// and torn down on both sides) by then.
    static let timeLimit = Duration.seconds(7200)
    static let stepLimit = 400_000

    static func run(seed: UInt64, schedulers: Bool = false, addressChanges: Bool = false, trace: Bool = false) -> Result {
        var scenario = SweepScenario(seed: seed, schedulers: schedulers)
        if addressChanges { scenario.withAddressChanges() }
        let clientAddress = SweepScenario.clientAddress, serverAddress = SweepScenario.serverAddress
        var network = SimulatedNetwork(seed: seed)
        network.addLink(from: clientAddress, to: serverAddress, conditions: scenario.forward)
        network.addLink(from: serverAddress, to: clientAddress, conditions: scenario.backward)
        if addressChanges {
            // The client's second address, over a network path like the first.
            network.addLink(from: SweepScenario.spareClientAddress, to: serverAddress, conditions: scenario.forward)
            network.addLink(from: serverAddress, to: SweepScenario.spareClientAddress, conditions: scenario.backward)
        }
        let client = SweepPeer(
            name: "client",
            endpoint: SCTPEndpoint(configuration: scenario.client, localPort: clientPort, localAddresses: [clientAddress],
                                   random: SeededRandomSource(seed: seed &* 31 &+ 1), now: .zero),
            isClient: true, scenario: scenario, messages: scenario.clientMessages, reader: scenario.clientReader,
            peerReceiveBuffer: scenario.server.receiveBufferSize)
        let server = SweepPeer(
            name: "server",
            endpoint: SCTPEndpoint(configuration: scenario.server, localPort: serverPort, localAddresses: [serverAddress],
                                   acceptsAssociations: true, random: SeededRandomSource(seed: seed &* 31 &+ 2), now: .zero),
            isClient: false, scenario: scenario, messages: scenario.serverMessages, reader: scenario.serverReader,
            peerReceiveBuffer: scenario.client.receiveBufferSize)
        client.schedulers = scenario.clientSchedulers
        server.schedulers = scenario.serverSchedulers
        client.peerMessages = scenario.serverMessages
        server.peerMessages = scenario.clientMessages
        client.resets = scenario.clientResets
        client.addressChanges = scenario.clientAddressChanges
        server.resets = scenario.serverResets
        if trace {
            client.trace = []
            server.trace = []
        }
        switch scenario.ending {
        case .shutdown(let byClient, let both, let after):
            if byClient || both { client.shutdownAfter = after }
            if !byClient || both { server.shutdownAfter = after }
        case .abort(let byClient, let after):
            (byClient ? client : server).abortAfter = after
        case .abortEarly(let after):
            client.abortAtAbsolute = .zero + after
        }

        // A one-to-one server: once its association is up it accepts no other, so a COOKIE
        // ECHO retransmitted after that association ended is answered with ABORT instead
        // of setting up a new association from the still-valid cookie.
        server.stopsListeningWhenUp = true
        var loop = SimulationLoop(network: network, participants: [client, server])
        client.connect(to: serverAddress, port: serverPort, now: loop.now)
        func ended() -> Bool {
            client.endedAt != nil && client.endpoint.associations.isEmpty && server.endpoint.associations.isEmpty
                && (server.upEvents == 0 || server.endedAt != nil)
        }
        if let change = scenario.mtuChange {
            // Run to the moment the links' MTU changes, then change both (mid-transfer).
            _ = loop.run(until: .zero + change.at, maxSteps: stepLimit) { _ in ended() }
            for (from, to, conditions) in [(clientAddress, serverAddress, scenario.forward), (serverAddress, clientAddress, scenario.backward)] {
                var changed = conditions
                changed.maxDatagramSize = change.size
                loop.network.addLink(from: from, to: to, conditions: changed)
            }
        }
        var outcome = loop.run(for: timeLimit, maxSteps: stepLimit) { _ in ended() }
        var violations: [String] = []
        if outcome.reason == .condition {
            // Stragglers (late duplicates, a delayed COOKIE ECHO) must not bring anything back
            // to life, or if they do, that must end too.
            let end = outcome.now
            _ = loop.run(for: .seconds(1), maxSteps: stepLimit)
            outcome = loop.run(for: timeLimit, maxSteps: stepLimit) { _ in ended() }
            if outcome.reason == .condition { outcome.now = end }
        }
        if outcome.reason != .condition {
            violations.append("not ended after \(loop.totalSteps) steps at \(loop.now) (\(outcome.reason)): client "
                + "\(client.association.flatMap { client.endpoint.state(of: $0) }.map { "\($0)" } ?? "gone"), server "
                + "\(server.association.flatMap { server.endpoint.state(of: $0) }.map { "\($0)" } ?? "gone")")
        }
        violations += client.violations + server.violations
        violations += checkTransfer(from: client, to: server, scenario: scenario)
        violations += checkTransfer(from: server, to: client, scenario: scenario)
        violations += checkEnding(client: client, server: server, scenario: scenario)

        let statistics = [client.statistics, server.statistics]
        if trace {
            // Both sides' lines, in time order (stable: each side's own order kept).
            let lines = (client.trace! + server.trace!).enumerated().sorted { a, b in
                a.element.time != b.element.time ? a.element.time < b.element.time : a.offset < b.offset
            }
            violations.append("trace:\n" + lines.map(\.element.line).joined(separator: "\n"))
        }
        return Result(
            seed: seed, scenario: scenario, violations: violations, steps: loop.totalSteps, end: outcome.now,
            aborted: scenario.ending.isAbort,
            retransmitted: statistics.contains { $0.retransmissionTimeouts > 0 },
            fastRetransmitted: statistics.contains { $0.fastRetransmitMarks > 0 },
            duplicatesReceived: statistics.contains { $0.duplicateDataChunksReceived > 0 },
            ecnReduced: statistics.contains { $0.ecnWindowReductions > 0 },
            mtuProbed: statistics.contains { $0.pathMTUProbesAcknowledged > 0 },
            blackHole: statistics.contains { $0.pathMTUBlackHoles > 0 },
            messagesDelivered: client.delivered.count + server.delivered.count,
            addressReconfigurations: server.addressReconfigurations)
    }

    /// Exactly once, unaltered, in order within ordered streams; after an abort, every
    /// message accepted for sending either arrived or was reported as failed.
    static func checkTransfer(from sender: SweepPeer, to receiver: SweepPeer, scenario: SweepScenario) -> [String] {
        var violations: [String] = []
        let direction = "\(sender.name)→\(receiver.name)"
        func note(_ text: String) { if violations.count < 10 { violations.append("\(direction): \(text)") } }
        let accepted = Set(sender.accepted)
        var seen = Set<Int>()
        var orderedArrivals: [UInt16: [Int]] = [:]
        for message in receiver.delivered {
            guard sender.messages.indices.contains(message.index) else {
                note("delivered message \(message.index) was never sent")
                continue
            }
            let sent = sender.messages[message.index]
            if !accepted.contains(message.index) { note("delivered message \(message.index) was never accepted") }
            if !seen.insert(message.index).inserted { note("message \(message.index) delivered twice") }
            if message.stream != sent.stream || message.unordered != sent.unordered
                || message.payload != scenario.payload(sent, fromClient: sender.isClient) {
                note("message \(message.index) altered: stream \(message.stream), unordered \(message.unordered), "
                     + "\(message.payload.readableBytes) of \(sent.size) bytes")
            }
            if !sent.unordered { orderedArrivals[sent.stream, default: []].append(message.index) }
        }
        // Ordered streams: arrivals in the order sent; only messages that may be given up
        // (PR-SCTP) may be skipped before one that arrived.
        for (stream, arrivals) in orderedArrivals {
            let sentOrder = sender.accepted.filter { !sender.messages[$0].unordered && sender.messages[$0].stream == stream }
            var position = 0
            for arrival in arrivals {
                while position < sentOrder.count && sentOrder[position] != arrival {
                    if sender.messages[sentOrder[position]].isReliable {
                        note("stream \(stream): message \(arrival) arrived but reliable \(sentOrder[position]) before it did not")
                    }
                    position += 1
                }
                if position == sentOrder.count {
                    note("stream \(stream) out of order: \(arrivals.prefix(20)) for \(sentOrder.prefix(20))")
                    break
                }
                position += 1
            }
        }
        let reliable = Set(accepted.filter { sender.messages[$0].isReliable })
        if scenario.ending.isAbort {
            let missing = accepted.subtracting(seen).subtracting(sender.failed)
            if !missing.isEmpty { note("messages \(missing.sorted().prefix(10)) neither delivered nor reported failed") }
        } else {
            let missing = reliable.subtracting(seen)
            if !missing.isEmpty { note("messages \(missing.sorted().prefix(10)) of \(accepted.count) not delivered") }
            let givenUp = accepted.subtracting(reliable).subtracting(seen).subtracting(sender.failed)
            if !givenUp.isEmpty { note("PR messages \(givenUp.sorted().prefix(10)) neither delivered nor reported failed") }
            let failedReliable = sender.failed.intersection(reliable)
            if !failedReliable.isEmpty { note("reliable messages \(failedReliable.sorted().prefix(10)) reported failed") }
            if !receiver.pieces.isEmpty { note("a partial delivery never finished") }
        }
        return violations
    }

    /// Each side saw the ending the scenario asked for, and nothing else.
    static func checkEnding(client: SweepPeer, server: SweepPeer, scenario: SweepScenario) -> [String] {
        var violations: [String] = []
        func note(_ text: String) { violations.append("ending: \(text)") }
        func isPeerAbort(_ reasons: [LossReason]) -> Bool {
            reasons.count == 1 && { if case .peerAborted = reasons[0] { true } else { false } }()
        }
        func describe(_ p: SweepPeer) -> String {
            "\(p.name): up \(p.upEvents), shutdown complete \(p.shutdownCompletes), lost \(p.lost), cannot start \(p.cannotStart)"
        }
        switch scenario.ending {
        case .shutdown(let byClient, let both, _):
            for side in [client, server] where side.shutdownCompletes != 1 || !side.lost.isEmpty || !side.cannotStart.isEmpty || side.upEvents != 1 {
                note("graceful shutdown expected; \(describe(side))")
            }
            if !both, (byClient ? server : client).peerShutdowns != 1 { note("the peer of the side shutting down saw no SHUTDOWN") }
            // A graceful end concludes every outgoing stream reset asked for (done, or
            // failed when the shutdown began before the request could go).
            for side in [client, server] where !side.resetsConcluded {
                note("\(side.name): \(side.outgoingResetsRequested) outgoing resets asked for, events \(side.resetEvents)")
            }
        case .abort(let byClient, _):
            let aborter = byClient ? client : server, peer = byClient ? server : client
            if aborter.abortedAt == nil || aborter.lost != [.userAborted] || aborter.shutdownCompletes != 0 {
                note("user abort expected; \(describe(aborter))")
            }
            // The server may abort before its COOKIE ACK reached the client: "refused".
            let peerOK = (isPeerAbort(peer.lost) && peer.cannotStart.isEmpty)
                || (peer.lost.isEmpty && peer.upEvents == 0 && peer.cannotStart == [.refused(causes: [])])
            if !peerOK || peer.shutdownCompletes != 0 {
                note("peer abort expected; \(describe(peer))")
            }
        case .abortEarly:
            let clientOK = client.abortedAt != nil && client.shutdownCompletes == 0
                && ((client.upEvents == 0 && client.cannotStart == [.cancelled] && client.lost.isEmpty)
                    || (client.upEvents == 1 && client.lost == [.userAborted] && client.cannotStart.isEmpty))
            if !clientOK { note("user abort expected; \(describe(client))") }
            let serverOK = server.shutdownCompletes == 0 && server.cannotStart.isEmpty
                && ((server.upEvents == 0 && server.lost.isEmpty) || (server.upEvents == 1 && isPeerAbort(server.lost)))
            if !serverOK { note("no association or a peer abort expected; \(describe(server))") }
        }
        return violations
    }
}
