import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore

/// `sctp-perf --client`: connectx to the given addresses, send pattern messages round robin
/// over the streams for a count or a time, check echoes with `--echo`, shut down gracefully.
struct PerfClient {
    var peerAddresses: [String]
    var bindAddresses: [String]
    var port: UInt16
    var udpPort: Int
    var peerUDPPort: Int
    var length: Int
    var messages: Int?
    var seconds: Double
    var streams: Int
    var unordered: Bool
    var echo: Bool
    var json: Bool
    var maxInitRetransmits: Int?
    var rtoInitialMilliseconds: Int?
    /// The SCTP packet size (`SCTPConfiguration.pathMTU`), when not the default.
    var mtu: Int?
    /// Path MTU discovery (`--pmtud`, `--max-mtu`), when asked for.
    var pathMTUDiscovery: PathMTUDiscovery? = nil
    /// Reset every outgoing stream after each this many messages (`--reset-every`).
    var resetEvery: Int? = nil
    /// The stream scheduler (`--scheduler`) and the streams' values (`--stream-values`).
    var scheduler: StreamSchedulerKind = .default
    var streamValues: [(stream: UInt16, value: UInt16)] = []
    /// Offer I-DATA (`--interleaving`).
    var interleaving = false
    /// `--series FILE` / `--series-interval MS`: a CSV time series of the association.
    var seriesPath: String? = nil
    var seriesIntervalMilliseconds = 100

    /// Without an echo for this long, the missing echoes are given up (counted as errors).
    static let echoIdleTimeout: TimeInterval = 10
    /// The most the graceful shutdown may take before the run fails with ETIMEDOUT.
    static let shutdownTimeout: TimeInterval = 60

    /// State shared by the event loop (events, echo checks) and the sending thread.
    struct Shared {
        /// Messages sent per stream so far (an echo with a higher sequence number was never sent).
        var sentPerStream: [UInt32]
        /// Next expected sequence number per stream, for ordered echoes.
        var nextOrdered: [UInt32]
        /// Sequence numbers already echoed, per stream (a bitmap; a second echo is an error).
        var seen: [[UInt64]]
        var echoed = 0
        var echoedBytes = 0
        var verifyErrors = 0
        var firstErrors: [String] = []
        var lastEcho = Date()
        /// Pieces of partially delivered echoes, per stream and ordering.
        var pieces: [UInt32: ByteBuffer] = [:]
        /// The association ended (graceful or not); its counters at that moment.
        var ended: String?
        var statistics: AssociationStatistics?
        var association: AssociationID?
        /// Outgoing stream resets the peer performed (`--reset-every`).
        var resets = 0

        init(streams: Int) {
            sentPerStream = Array(repeating: 0, count: streams)
            nextOrdered = Array(repeating: 0, count: streams)
            seen = Array(repeating: [], count: streams)
        }

        mutating func error(_ text: String) {
            verifyErrors += 1
            if firstErrors.count < 5 { firstErrors.append(text) }
        }

        /// Checks one echoed message.
        mutating func check(_ message: ReceivedMessage, payload: ByteBuffer, unordered: Bool) {
            echoed += 1
            echoedBytes += payload.readableBytes
            lastEcho = Date()
            let stream = message.streamIdentifier
            guard Int(stream) < sentPerStream.count else {
                error("echo on stream \(stream), which was never used")
                return
            }
            if message.payloadProtocolIdentifier != PerfPattern.ppid(unordered: message.isUnordered) {
                error("echo on stream \(stream) has PPID \(message.payloadProtocolIdentifier)")
            }
            if message.isUnordered != unordered {
                error("echo on stream \(stream) came back \(message.isUnordered ? "unordered" : "ordered")")
            }
            switch PerfPattern.verify(payload, stream: stream) {
            case .failure(let mismatch):
                error("echo on stream \(stream): \(mismatch)")
            case .success(let decoded):
                let seq = decoded.seq
                guard seq < sentPerStream[Int(stream)] else {
                    error("echo of message \(seq) on stream \(stream), which was never sent")
                    return
                }
                let word = Int(seq / 64), bit = UInt64(1) << UInt64(seq % 64)
                if seen[Int(stream)].count <= word {
                    seen[Int(stream)].append(contentsOf: repeatElement(0, count: word + 1 - seen[Int(stream)].count))
                }
                if seen[Int(stream)][word] & bit != 0 {
                    error("message \(seq) on stream \(stream) echoed twice")
                    return
                }
                seen[Int(stream)][word] |= bit
                if !message.isUnordered {
                    if seq != nextOrdered[Int(stream)] {
                        error("ordered stream \(stream): echo \(seq) arrived when \(nextOrdered[Int(stream)]) was due")
                    }
                    nextOrdered[Int(stream)] = seq &+ 1
                }
            }
        }
    }

    func run() throws {
        let group = try PerfLoops(1)
        defer { group.shutdown() }
        var options = UDPEncapsulationEndpoint.Options(sctpPort: UInt16.random(in: 49152...65535), localAddresses: bindAddresses)
        options.udpPort = udpPort
        options.peerUDPPort = peerUDPPort
        options.configuration.outboundStreams = UInt16(max(streams, 10))
        if let maxInitRetransmits { options.configuration.maxInitRetransmits = maxInitRetransmits }
        if let rtoInitialMilliseconds { options.configuration.rtoInitial = .milliseconds(rtoInitialMilliseconds) }
        if let mtu { options.configuration.pathMTU = mtu }
        if let pathMTUDiscovery { options.configuration.pathMTUDiscovery = pathMTUDiscovery }
        options.configuration.streamScheduler = scheduler
        options.configuration.interleaving = interleaving
        PerfAuthentication.apply(to: &options.configuration)
        let shared = Locked(Shared(streams: streams))
        let unordered = unordered
        let driverBox = DriverBox()
        let echo = echo
        let client: UDPEncapsulationEndpoint
        do {
            client = try UDPEncapsulationEndpoint.start(options: options, on: group.next()) { event in
                Self.handle(event, shared: shared, driver: driverBox, unordered: unordered, echo: echo)
            }.wait()
        } catch {
            reportFailure(error)
            throw ExitCode.failure
        }
        driverBox.driver = client
        defer { _ = try? client.close().wait() }

        do {
            try transfer(client, shared: shared)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            reportFailure(error)
            throw ExitCode.failure
        }
    }

    private func transfer(_ client: UDPEncapsulationEndpoint, shared: Locked<Shared>) throws {
        if !json {
            say("sctp-perf client: \(bindAddresses.joined(separator: ",")) UDP port \(client.localUDPPort) → "
                + "\(peerAddresses.joined(separator: ",")) SCTP port \(port), UDP port \(peerUDPPort)")
        }
        let setupStart = Date()
        let id = try client.connect(to: peerAddresses, port: port).wait()
        let setup = Date().timeIntervalSince(setupStart)
        shared.update { $0.association = id }
        let negotiated = try client.streams(of: id).wait()
        if !json {
            let peers = try client.peerAddresses(of: id).wait().map(\.description).joined(separator: ", ")
            say("connectx: association \(id.rawValue), peer addresses [\(peers)], streams out \(negotiated?.outbound ?? 0) / in "
                + "\(negotiated?.inbound ?? 0), set up in \(String(format: "%.1f", setup * 1000)) ms")
            let amount = messages.map { "\($0) messages" } ?? "\(seconds) s"
            say("sending \(length)-byte \(unordered ? "unordered" : "ordered") messages on \(streams) stream(s) for \(amount)"
                + (echo ? ", checking echoes" : ""))
        }
        if let negotiated, Int(negotiated.outbound) < streams {
            throw SCTPError(.invalidArgument, "the peer granted \(negotiated.outbound) outbound streams, \(streams) asked for")
        }
        for (stream, value) in streamValues { try client.setStreamSchedulerValue(value, stream: stream, of: id).wait() }
        if !json && (scheduler != .default || !streamValues.isEmpty) {
            say("stream scheduler \(scheduler)" + (streamValues.isEmpty ? "" : ", values "
                + streamValues.map { "\($0.stream):\($0.value)" }.joined(separator: ",")))
        }

        let series = try seriesPath.map { try PerfSeries(path: $0, intervalMilliseconds: seriesIntervalMilliseconds) }
        series?.start(client, id)
        defer { series?.stop(client, id) { shared.read { $0.statistics } } }

        let pattern = PerfPattern(length: length)
        let allocator = ByteBufferAllocator()
        let ppid = PerfPattern.ppid(unordered: unordered)
        // With --echo, at most this many bytes are sent and not yet echoed back: the server
        // echoes whatever arrives, so this bounds what it must hold.
        let echoWindow = max(4 << 20, 2 * length)
        var seqs = [UInt32](repeating: 0, count: streams)
        var sent = 0
        var sentBytes = 0
        let start = Date()
        if !echo && resetEvery == nil {
            (sent, sentBytes) = try sendFromEventLoop(client, id: id, shared: shared, start: start)
        }
        var nextReport = 1.0
        var lastReportedBytes = 0
        var lastReportTime = 0.0
        var last: EventLoopFuture<Void>?
        var resetsAsked = 0
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int64(seconds * 1000))
        // With --echo or --reset-every, this thread sends, a batch at a time (it waits for
        // echoes and resets between batches); otherwise `sendFromEventLoop` has sent already.
        var finished = !echo && resetEvery == nil
        while !finished {
            let batch = min(64, messages.map { $0 - sent } ?? 64)
            if batch <= 0 { break }
            if echo {
                let limit = echoWindow
                let total = sentBytes
                shared.wait(until: .distantFuture) { $0.ended != nil || total - $0.echoedBytes <= limit }
                // Counted before they are sent: an echo may come back before `send` returns.
                let first = sent
                shared.update { state in
                    for index in 0..<batch { state.sentPerStream[(first + index) % streams] &+= 1 }
                }
            }
            var inBatch = 0
            var outgoing: [OutgoingMessage] = []
            outgoing.reserveCapacity(batch)
            while inBatch < batch {
                let stream = sent % streams
                // The last message asks for an immediate SACK (I bit, RFC 7053), so that the
                // shutdown does not wait for the peer's delayed-ack timer.
                let isLast = messages.map { sent + 1 == $0 } ?? (clock.now >= deadline)
                let payload = pattern.message(seq: seqs[stream], stream: UInt16(stream), allocator: allocator)
                seqs[stream] &+= 1
                outgoing.append(OutgoingMessage(streamIdentifier: UInt16(stream), payloadProtocolIdentifier: ppid,
                                                isUnordered: unordered, requestsImmediateAck: isLast, payload: payload))
                sent += 1
                sentBytes += length
                inBatch += 1
                if isLast {
                    finished = true
                    break
                }
            }
            // One hop to the event loop for the whole batch.
            if !outgoing.isEmpty { last = client.send(outgoing, on: id) }
            // --reset-every: what was sent so far goes with the old numbering, the rest after
            // the reset (the core holds it back until the peer has answered).
            if let every = resetEvery, !finished, sent / every > (sent - inBatch) / every {
                try client.resetStreams([], direction: .outgoing, on: id).wait()
                resetsAsked += 1
            }
            if echo && inBatch < batch {
                let first = sent
                shared.update { state in
                    for index in 0..<(batch - inBatch) { state.sentPerStream[(first + index) % streams] &-= 1 }
                }
            }
            do {
                try last?.wait()
            } catch {
                // A send after the association died fails as "no such association": say why it died.
                if let ended = shared.read({ $0.ended }) { throw SCTPError(.connectionReset, "the association ended: \(ended)") }
                throw error
            }
            if let ended = shared.read({ $0.ended }) { throw SCTPError(.connectionReset, "the association ended: \(ended)") }
            let elapsed = Date().timeIntervalSince(start)
            if !json && elapsed >= nextReport {
                let interval = elapsed - lastReportTime
                say(String(format: "  %6.1f s  %9.1f Mbit/s sent", elapsed, Double(sentBytes - lastReportedBytes) * 8 / 1e6 / interval))
                lastReportedBytes = sentBytes
                lastReportTime = elapsed
                nextReport = elapsed.rounded(.down) + 1
            }
        }

        if echo {
            // Every echo, or no new echo for echoIdleTimeout.
            while true {
                let done = shared.wait(until: Date().addingTimeInterval(1)) { $0.echoed >= sent || $0.ended != nil }
                if done { break }
                if Date().timeIntervalSince(shared.read { $0.lastEcho }) > Self.echoIdleTimeout { break }
            }
        }

        // Graceful shutdown: SHUTDOWN goes out once everything sent is acknowledged.
        let shutdown = client.shutdown(id)
        let closed = shared.wait(until: Date().addingTimeInterval(Self.shutdownTimeout)) { $0.ended != nil }
        let elapsed = Date().timeIntervalSince(start)
        guard closed else { throw SCTPError(.timedOut, "the graceful shutdown did not complete in \(Int(Self.shutdownTimeout)) s") }
        try shutdown.wait()

        let state = shared.read { $0 }
        var report = PerfReport(role: "client", association: id.rawValue)
        report.messages = sent
        report.bytes = sentBytes
        report.seconds = elapsed
        report.echoed = state.echoed
        report.verifyErrors = state.verifyErrors + (echo ? max(sent - state.echoed, 0) : 0)
        report.setupSeconds = setup
        report.retransmissions = state.statistics?.dataChunksRetransmitted ?? 0
        report.ended = state.ended ?? "shutdown"
        if resetEvery != nil { report.streamResets = state.resets }
        if resetEvery != nil && !json { say("stream resets: \(resetsAsked) asked for, \(state.resets) performed by the peer") }
        if echo && state.echoed < sent {
            FileHandle.standardError.write(Data("sctp-perf: \(sent - state.echoed) echoes missing\n".utf8))
        }
        for text in state.firstErrors { FileHandle.standardError.write(Data("sctp-perf: verify error: \(text)\n".utf8)) }
        say(json ? report.json : report.summary)
        if report.verifyErrors > 0 {
            FileHandle.standardError.write(Data("error: EIO: \(report.verifyErrors) echo verification errors\n".utf8))
            throw ExitCode.failure
        }
    }

    /// Sends from the event loop (`PerfSender`) and waits until the last message is queued,
    /// printing a progress line each second unless `--json`; returns the messages and bytes sent.
    private func sendFromEventLoop(_ client: UDPEncapsulationEndpoint, id: AssociationID, shared: Locked<Shared>,
                                   start: Date) throws -> (Int, Int) {
        let outcome = Locked<Result<Void, any Error>?>(nil)
        let sender = PerfSender(client: client, id: id, length: length, streams: streams, unordered: unordered, limit: messages,
                                seconds: seconds) { error in
            outcome.update { $0 = error.map { .failure($0) } ?? .success(()) }
        }
        sender.start()
        var lastReportedBytes = 0
        var lastReportTime = 0.0
        while true {
            let elapsed = Date().timeIntervalSince(start)
            let nextReport = elapsed.rounded(.down) + 1
            if outcome.wait(until: start.addingTimeInterval(nextReport), for: { $0 != nil }) { break }
            guard !json else { continue }
            // Once a second: the counters are the loop's.
            let bytes = try client.eventLoop.submit { sender.sentBytes }.wait()
            let now = Date().timeIntervalSince(start)
            say(String(format: "  %6.1f s  %9.1f Mbit/s sent", now, Double(bytes - lastReportedBytes) * 8 / 1e6 / (now - lastReportTime)))
            lastReportedBytes = bytes
            lastReportTime = now
        }
        if case .failure(let error) = outcome.read({ $0! }) {
            // A send after the association died fails as "no such association": say why it died.
            if let ended = shared.read({ $0.ended }) { throw SCTPError(.connectionReset, "the association ended: \(ended)") }
            throw error
        }
        return (sender.sent, sender.sentBytes)
    }

    /// The driver, once it exists, for the event handler (set before any association).
    final class DriverBox: @unchecked Sendable {
        private let lock = NSLock()
        private var _driver: UDPEncapsulationEndpoint?
        var driver: UDPEncapsulationEndpoint? {
            get { lock.withLock { _driver } }
            set { lock.withLock { _driver = newValue } }
        }
    }

    private static func handle(_ event: SCTPEvent, shared: Locked<Shared>, driver: DriverBox, unordered: Bool, echo: Bool) {
        switch event {
        case .message(_, let message):
            // Without --echo whatever the peer sends is read and dropped.
            guard echo else { return }
            shared.update { state in
                let key = UInt32(message.streamIdentifier) << 1 | (message.isUnordered ? 1 : 0)
                var whole = message.payload
                if !message.isComplete || state.pieces[key] != nil {
                    var collected = state.pieces[key] ?? ByteBuffer()
                    var piece = message.payload
                    collected.writeBuffer(&piece)
                    guard message.isComplete else {
                        state.pieces[key] = collected
                        return
                    }
                    state.pieces[key] = nil
                    whole = collected
                }
                state.check(message, payload: whole, unordered: unordered)
            }
        case .streamReset(_, let reset) where reset.flags == .outgoing:
            shared.update { $0.resets += 1 }
        case .shutdownComplete(let id):
            let statistics = driver.driver?.statisticsOnEventLoop(of: id)
            shared.update {
                $0.statistics = statistics
                $0.ended = "shutdown"
            }
        case .communicationLost(let id, let reason):
            let statistics = driver.driver?.statisticsOnEventLoop(of: id)
            shared.update {
                $0.statistics = statistics
                $0.ended = "lost: \(reason)"
            }
        default:
            break
        }
    }
}
