import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore

/// `sctp-perf --server`: accepts associations, counts every message (echoing it with
/// `--echo`), prints a summary when each association ends.
struct PerfServer {
    var bindAddresses: [String]
    var port: UInt16
    var udpPort: Int
    var peerUDPPort: Int
    var echo: Bool
    var once: Bool
    var json: Bool
    /// No line per association (`--quiet`): errors, and with `--once` the summary, still print.
    var quiet: Bool
    /// The SCTP packet size (`SCTPConfiguration.pathMTU`), when not the default.
    var mtu: Int?
    /// Path MTU discovery (`--pmtud`, `--max-mtu`), when asked for.
    var pathMTUDiscovery: PathMTUDiscovery? = nil
    /// Offer I-DATA (`--interleaving`).
    var interleaving = false

    /// What the server knows of one association; touched on the event loop only.
    final class AssociationState: @unchecked Sendable {
        let id: AssociationID
        var peers: [String] = []
        var counts = ServedAssociation()
        init(id: AssociationID) {
            self.id = id
            // The clock once every 32 pieces: the report's duration ends at the peer's
            // SHUTDOWN (`.peerShutdown` sets `lastActivity`), or without one up to 31 pieces
            // before the last.
            counts.clockMask = 31
        }
    }

    /// Event-loop state of the server.
    final class Session: @unchecked Sendable {
        var associations: [AssociationID: AssociationState] = [:]
        /// The association of the last message (runs of messages skip the table).
        var last: AssociationState?

        func state(of id: AssociationID) -> AssociationState? {
            if let last, last.id == id { return last }
            last = associations[id]
            return last
        }
        weak var driver: UDPEncapsulationEndpoint?
    }

    /// Runs until killed, or with `--once` until the first association ends; throws
    /// `ExitCode.failure` when the endpoint cannot start or (with `--once`) the association
    /// did not end with a graceful shutdown.
    func run() throws {
        let group = try PerfLoops(1)
        defer { group.shutdown() }
        var options = UDPEncapsulationEndpoint.Options(sctpPort: port, localAddresses: bindAddresses)
        options.udpPort = udpPort
        options.peerUDPPort = peerUDPPort
        options.acceptsAssociations = true
        if let mtu { options.configuration.pathMTU = mtu }
        if let pathMTUDiscovery { options.configuration.pathMTUDiscovery = pathMTUDiscovery }
        options.configuration.interleaving = interleaving
        PerfAuthentication.apply(to: &options.configuration)
        let session = Session()
        let finished = Locked<PerfReport?>(nil)
        let settings = Settings(echo: echo, json: json, verbose: !quiet || once, once: once)
        let server: UDPEncapsulationEndpoint
        do {
            server = try UDPEncapsulationEndpoint.start(options: options, on: group.next()) { event in
                Self.handle(event, session: session, settings: settings, finished: finished)
            }.wait()
        } catch {
            reportFailure(error)
            throw ExitCode.failure
        }
        try server.eventLoop.submit { session.driver = server }.wait()
        say("sctp-perf server: listening on \(bindAddresses.joined(separator: ",")) SCTP port \(port), "
            + "UDP port \(server.localUDPPort) (peer UDP port \(peerUDPPort) until learned)\(echo ? ", echoing" : "")")

        if once {
            finished.wait(until: .distantFuture) { $0 != nil }
            _ = try? server.close().wait()
            if let report = finished.read({ $0 }), report.ended != "shutdown" {
                FileHandle.standardError.write(Data("error: ECONNRESET: the association ended without a graceful shutdown: \(report.ended)\n".utf8))
                throw ExitCode.failure
            }
        } else {
            // Serve until killed.
            while true { finished.wait(until: .distantFuture) { _ in false } }
        }
    }

    /// What the event handler needs of the options.
    struct Settings {
        var echo: Bool
        var json: Bool
        /// A line per association.
        var verbose: Bool
        /// The main thread waits for the first association's end.
        var once: Bool
    }

    private static func handle(_ event: SCTPEvent, session: Session, settings: Settings, finished: Locked<PerfReport?>) {
        let json = settings.json, echo = settings.echo, verbose = settings.verbose
        switch event {
        case .communicationUp(let id, let outbound, let inbound):
            let state = AssociationState(id: id)
            session.associations[id] = state
            guard verbose else { return }
            state.peers = session.driver?.peerAddressesOnEventLoop(of: id).map(\.description) ?? []
            if !json {
                say("association \(id.rawValue) up: peer [\(state.peers.joined(separator: ", "))], streams out \(outbound) / in \(inbound)")
            }
        case .restart(let id):
            if !json && verbose { say("association \(id.rawValue): the peer restarted it") }
            session.associations[id] = AssociationState(id: id)
            session.last = nil
        case .message(let id, let message):
            guard let state = session.state(of: id),
                  let whole = state.counts.take(message.payload, stream: message.streamIdentifier, unordered: message.isUnordered,
                                                isComplete: message.isComplete, keep: echo) else { return }
            guard echo, let driver = session.driver else { return }
            let reply = OutgoingMessage(streamIdentifier: message.streamIdentifier,
                                        payloadProtocolIdentifier: message.payloadProtocolIdentifier,
                                        isUnordered: message.isUnordered, payload: whole)
            driver.send(reply, on: id).whenComplete { result in
                switch result {
                case .success: state.counts.echoed += 1
                case .failure: state.counts.echoFailures += 1
                }
            }
        case .peerShutdown(let id):
            session.associations[id]?.counts.lastActivity = .now
        case .shutdownComplete(let id):
            end(id, how: "shutdown", session: session, settings: settings, finished: finished)
        case .communicationLost(let id, let reason):
            end(id, how: verbose ? "lost: \(reason)" : "lost", session: session, settings: settings, finished: finished)
        default:
            break
        }
    }

    private static func end(_ id: AssociationID, how: String, session: Session, settings: Settings,
                            finished: Locked<PerfReport?>) {
        guard let state = session.associations.removeValue(forKey: id) else { return }
        if session.last === state { session.last = nil }
        // Quiet and serving many: nobody reads a report.
        guard settings.verbose || settings.once else { return }
        let statistics = session.driver?.statisticsOnEventLoop(of: id)
        let report = state.counts.report(id, ended: how, retransmissions: statistics?.dataChunksRetransmitted ?? 0)
        if settings.verbose { say(settings.json ? report.json : report.summary) }
        // Only a --once server's main thread waits for this (an update wakes it).
        if settings.once { finished.update { if $0 == nil { $0 = report } } }
    }
}
