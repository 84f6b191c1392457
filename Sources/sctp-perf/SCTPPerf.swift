import ArgumentParser
import Foundation
import NIOCore
import SCTP
import SCTPCore

/// `sctp-perf`: SCTP throughput over UDP encapsulation (RFC 6951).
///
/// - no mode: a server and a client in one process on loopback (`PerfLoopback`);
/// - `--server`: accept associations, count (and with `--echo` return) every message;
/// - `--client ADDR[,ADDR...]`: connectx, send for a count or a time, shut down gracefully.
///
/// Both modes interoperate with usrsctp's `tsctp`.
@main
struct SCTPPerf: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sctp-perf",
        abstract: "Measure SCTP throughput over UDP encapsulation (RFC 6951); no privileges needed.",
        discussion: """
            Modes:
              (none)     a loopback transfer inside one process (server on 127.0.0.1 and 127.0.0.2, \
            client on 127.0.0.1), a progress line each second and a summary in Mbit/s.
              --server   accept associations, count every message (echo it with --echo), print a \
            summary when each association ends; --once exits after the first one.
              --client   connect (connectx) to the listed addresses, send messages round robin over \
            the streams for --messages N or --time S, check echoes with --echo, then shut down \
            gracefully once everything is acknowledged.

            Addresses are always explicit (the wildcard is never bound). Message content: bytes 0..3 \
            sequence number within the stream (u32 BE), 4..5 stream (u16 BE), 6..7 A5 5A, 8..11 total \
            length (u32 BE), byte i >= 12 = (seq*7 + stream*13 + i) & 0xFF; PPID 0x50455246 (+1 when \
            unordered). Failures exit non-zero with one line on stderr: "error: ENAME: message".

            Examples:
              sctp-perf --length 1200 --time 5 --streams 2
              sctp-perf --server --bind 127.0.0.1,127.0.0.2 --port 5001 --echo
              sctp-perf --server --one-to-many --port 5001 --echo --once --json
              sctp-perf --client 127.0.0.1,127.0.0.2 --port 5001 --echo --messages 100000 --json
              sctp-perf --client 127.0.0.1 --port 5001 --setup-rate 5000 --time 10
              sctp-perf --client 127.0.0.1 --port 5001 --setup-rate 5000 --setup-api events
              sctp-perf --client 127.0.0.1 --port 5001 --latency --length 64 --time 3
              tsctp -E 9900 -U 9901 -L 127.0.0.1 -p 5001 &
              sctp-perf --client 127.0.0.1 --udp-port 9901 --peer-udp-port 9900 --time 3
              sctp-perf --server --once --udp-port 9900 --peer-udp-port 9901 &
              tsctp -D -E 9901 -U 9900 -L 127.0.0.1 -l 1200 -T 3 127.0.0.1
            """)

    // MARK: Mode

    @Flag(help: "Run as a server: accept associations. Example: --server --echo --once")
    var server = false

    @Option(help: ArgumentHelp("Run as a client connecting (connectx) to these peer addresses, comma separated. "
                               + "Example: --client 127.0.0.1,127.0.0.2", valueName: "ADDR[,ADDR...]"))
    var client: String?

    // MARK: Addresses and ports

    @Option(help: ArgumentHelp("Local addresses to bind, comma separated, never the wildcard (default 127.0.0.1, "
                               + "or ::1 when a client's peers are all IPv6). Example: --bind 127.0.0.1,127.0.0.2",
                               valueName: "ADDR[,ADDR...]"))
    var bind: String?

    @Option(help: "The server's SCTP port (default 5001, tsctp's too). Example: --port 5001")
    var port: Int?

    @Option(name: .customLong("udp-port"),
            help: "Local UDP encapsulation port (default 9899; 0 picks a free one and prints it). Example: --udp-port 9900")
    var udpPort: Int?

    @Option(name: .customLong("peer-udp-port"),
            help: "The peer's UDP encapsulation port until one is learned from its packets (default 9899; 0: the same as the local UDP port). Example: --peer-udp-port 9901")
    var peerUDPPort: Int?

    // MARK: What to send

    @Option(name: .shortAndLong, help: "Message length in bytes, 1...16777216 (default 1200; --echo needs at least 12). Example: --length 8000")
    var length: Int?

    @Option(name: [.customShort("n"), .long], help: "Client: send this many messages instead of sending for a time. Example: --messages 100000")
    var messages: Int?

    @Option(name: .shortAndLong, help: "Seconds to send for (client default 10, loopback default 5). Example: --time 3")
    var time: Double?

    @Option(help: "Streams to send on, round robin (1...1024; default 1; the loopback run allows 1...10). Example: --streams 4")
    var streams: Int?

    @Flag(help: "Send unordered messages (U bit).")
    var unordered = false

    @Option(name: .customLong("reset-every"),
            help: ArgumentHelp("Client: reset every outgoing stream (RFC 6525 RE-CONFIG) after each N messages, while "
                               + "sending; the summary counts the resets the peer performed. Example: --reset-every 1000",
                               valueName: "N"))
    var resetEvery: Int?

    @Flag(help: ArgumentHelp("Ask the peer to authenticate DATA, I-DATA and SACK (AUTH, RFC 4895; both ends of the loopback "
                             + "run). Example: --auth --hmac sha256"))
    var auth = false

    @Option(help: ArgumentHelp("The HMAC AUTH prefers: sha1 or sha256 (SHA-1 is always accepted too). Example: --hmac sha1"))
    var hmac: String?

    @Option(name: .customLong("auth-key"),
            help: ArgumentHelp("The AUTH shared key in hex, with its number (default 1), made the active key. Example: --auth-key 736563726574:1"))
    var authKey: String?

    @Flag(help: ArgumentHelp("Offer user message interleaving (I-DATA, RFC 8260): used when the peer offers it too "
                             + "(client, server, or both ends of the loopback run). Example: --interleaving"))
    var interleaving = false

    @Option(help: ArgumentHelp("Client: the stream scheduler (RFC 8260 §3): rr (round robin per message, the default), "
                               + "rr-packet, priority, fc (fair capacity), fcfs (first come, first served), wfq (weighted "
                               + "fair queueing). Example: --streams 3 --scheduler priority --stream-values 0:2,1:0,2:1",
                               valueName: "name"))
    var scheduler: String?

    @Option(name: .customLong("stream-values"),
            help: ArgumentHelp("Client: scheduler values per stream, stream:value comma separated: the priority for "
                               + "--scheduler priority (lower goes first), the weight for wfq. Example: --stream-values 0:3,1:1",
                               valueName: "list"))
    var streamValues: String?

    /// `--stream-values` parsed.
    static func streamValues(_ text: String) throws -> [(stream: UInt16, value: UInt16)] {
        try text.split(separator: ",").map { item in
            let parts = item.split(separator: ":")
            guard parts.count == 2, let stream = UInt16(parts[0]), let value = UInt16(parts[1]) else {
                throw ValidationError("--stream-values: '\(item)' is not stream:value (each 0...65535)")
            }
            return (stream, value)
        }
    }

    // MARK: Behaviour

    @Flag(help: ArgumentHelp("Server: send every message back on the same stream with the same PPID and ordering. "
                             + "Client: check every echo (content, stream, order within ordered streams) and wait for all of them."))
    var echo = false

    @Option(name: .customLong("setup-rate"),
            help: ArgumentHelp("Client: measure the association setup rate instead: open this many associations one after "
                               + "another (each aborted once up; --time bounds the run), against a server that serves many "
                               + "(--server without --once). Example: --setup-rate 5000", valueName: "N"))
    var setupRate: Int?

    @Option(name: .customLong("setup-api"),
            help: ArgumentHelp("Client, with --setup-rate: 'socket' (default) drives the setups with a one-to-many SCTPSocket "
                               + "(blocking connectx, then sendmsg with SCTP_ABORT); 'events' with the event-driven endpoint "
                               + "(the next connect and the abort are issued on the event loop). Example: --setup-api events",
                               valueName: "socket|events"))
    var setupAPI: PerfSetupRate.API?

    @Option(name: .customLong("setup-concurrency"),
            help: ArgumentHelp("Client, with --setup-rate: keep this many associations being set up at once, each completion "
                               + "starting the next (1...1000, default 1). events: that many endpoints (SCTP ports) on the one "
                               + "event loop; socket: that many threads, each with its own one-to-many SCTPSocket doing the "
                               + "blocking loop. Example: --setup-concurrency 16", valueName: "K"))
    var setupConcurrency: Int?

    @Flag(help: ArgumentHelp("Server: no line per association (errors, and with --once the summary, are still printed); "
                             + "for runs with many associations, such as --setup-rate."))
    var quiet = false

    @Flag(help: ArgumentHelp("Client: measure the echo round-trip time instead: one message outstanding, for --messages N "
                             + "or --time S, against --server --echo; prints p50, p99 and the largest in microseconds."))
    var latency = false

    @Flag(help: "Server: exit after the first association ends (non-zero unless it ended with a graceful shutdown).")
    var once = false

    @Flag(name: .customLong("one-to-many"),
          help: ArgumentHelp("Server: serve every association on one one-to-many SCTPSocket (the RFC 6458 sockets API: "
                             + "recvmsg on a thread, association changes as notifications, echoes with sendmsg) instead of "
                             + "the event-driven endpoint. Example: --server --one-to-many --echo"))
    var oneToMany = false

    @Option(name: .customLong("event-loop"),
            help: ArgumentHelp("The event loop the stack runs on: 'sctp', swift-sctp's own (epoll; it reads and writes the "
                               + "UDP sockets itself; the default on Linux) or 'nio', SwiftNIO's (its channels read). "
                               + "Example: --event-loop nio", valueName: "sctp|nio"))
    var eventLoop: PerfLoopKind?

    @Flag(help: ArgumentHelp("Print one JSON object as the last stdout line: role, messages, bytes, seconds, mbps, "
                             + "messages_per_second, echoed, verify_errors, setup_seconds, retransmissions (and association, ended)."))
    var json = false

    @Option(name: .customLong("max-init-retransmits"),
            help: "Client: INIT / COOKIE ECHO retransmissions before ETIMEDOUT (0...100; default 8). Example: --max-init-retransmits 2")
    var maxInitRetransmits: Int?

    @Option(name: .customLong("rto-initial"),
            help: "Client: RTO.Initial in milliseconds, the first T1 and T3 timeouts (10...60000; default 1000). Example: --rto-initial 200")
    var rtoInitial: Int?

    @Option(help: ArgumentHelp("SCTP packet size in bytes (the path MTU without IP and UDP headers), 256...9216 (default 1200, "
                               + "which fits any IPv6 path; 1472 fills a 1500-byte Ethernet frame over IPv4). Example: --mtu 1472"))
    var mtu: Int?

    @Flag(name: .customLong("pmtud"),
          help: ArgumentHelp("Path MTU discovery (RFC 8899 PLPMTUD: HEARTBEAT + PAD probes from 1200 bytes up to --max-mtu, "
                             + "black hole detection); the packet size then follows what the path carries. Example: --pmtud"))
    var pmtud = false

    @Option(name: .customLong("max-mtu"),
            help: "With --pmtud: the largest SCTP packet probed, 1200...9216 (default 8952). Example: --max-mtu 1472")
    var maxMTU: Int?

    @Option(help: ArgumentHelp("Client (throughput runs): write a CSV time series to this file, one row per --series-interval: "
                               + "acknowledged throughput, cwnd, SRTT, RTO, peer window, data in flight and queued, "
                               + "retransmissions. Example: --series run.csv"))
    var series: String?

    @Option(name: .customLong("series-interval"), help: "With --series: milliseconds between rows, 10...60000 (default 100). Example: --series-interval 50")
    var seriesInterval: Int?

    @Option(help: ArgumentHelp("Scaling over event loops, in one process: a server endpoint sharded over N loops (1...64) and "
                               + "clients on the same loops; compare N = 1 with N = 2. Example: --shards 2 --associations 2 --time 3"))
    var shards: Int?

    @Option(help: "With --shards: associations sending at once, 1...1024 (default 2). Example: --associations 4")
    var associations: Int?

    @Option(name: .customLong("setup-clients"),
            help: ArgumentHelp("With --shards: measure the setup rate instead, with this many clients (1...1024) each setting up "
                               + "and aborting associations one after another. Example: --shards 2 --setup-clients 16"))
    var setupClients: Int?

    /// The path MTU discovery settings `--pmtud` and `--max-mtu` ask for.
    private var pathMTUDiscovery: PathMTUDiscovery? {
        guard pmtud else { return nil }
        var settings = PathMTUDiscovery(isEnabled: true)
        if let maxMTU { settings.maximumPMTU = maxMTU }
        return settings
    }

    // MARK: Validation

    private var isLoopback: Bool { !server && client == nil }

    /// Splits and checks a comma-separated address list.
    static func addresses(_ text: String, option: String) throws -> [String] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !parts.isEmpty, parts.count <= 16 else { throw ValidationError("\(option): between 1 and 16 addresses") }
        for part in parts {
            guard !part.isEmpty, (try? SocketAddress(ipAddress: part, port: 0)) != nil else {
                throw ValidationError("\(option): '\(part)' is not an IPv4 or IPv6 address")
            }
            if part == "0.0.0.0" || part == "::" {
                throw ValidationError("\(option): the wildcard address is not allowed; give explicit addresses")
            }
        }
        return parts
    }

    func validate() throws {
        if server && client != nil { throw ValidationError("--server and --client exclude each other") }
        if let shards {
            guard (1...64).contains(shards) else { throw ValidationError("--shards must be within 1...64") }
            if server || client != nil { throw ValidationError("--shards runs both ends in one process: no --server or --client") }
            if let associations, !(1...1024).contains(associations) { throw ValidationError("--associations must be within 1...1024") }
            if let setupClients, !(1...1024).contains(setupClients) { throw ValidationError("--setup-clients must be within 1...1024") }
            if setupClients != nil && (associations != nil || length != nil || unordered) {
                throw ValidationError("--setup-clients measures setups: no --associations, --length or --unordered")
            }
            if let length, !(1...65_536).contains(length) { throw ValidationError("--length must be within 1...65536 with --shards") }
            if let time, !(time > 0 && time <= 3600) { throw ValidationError("--time must be within (0, 3600] seconds") }
            return
        }
        if associations != nil || setupClients != nil { throw ValidationError("--associations and --setup-clients need --shards") }
        if let scheduler, StreamSchedulerKind(name: scheduler) == nil {
            throw ValidationError("--scheduler: one of \(StreamSchedulerKind.allCases.map(\.name).joined(separator: ", "))")
        }
        if let streamValues { _ = try Self.streamValues(streamValues) }
        if client == nil || setupRate != nil || latency {
            if scheduler != nil { throw ValidationError("--scheduler applies to --client throughput runs only") }
            if streamValues != nil { throw ValidationError("--stream-values applies to --client throughput runs only") }
        }
        if let length, !(1...16_777_216).contains(length) { throw ValidationError("--length must be within 1...16777216") }
        if let time, !(time > 0 && time <= 86_400) { throw ValidationError("--time must be within (0, 86400] seconds") }
        if let port, !(1...65535).contains(port) { throw ValidationError("--port must be within 1...65535") }
        if let udpPort, !(0...65535).contains(udpPort) { throw ValidationError("--udp-port must be within 0...65535") }
        if let peerUDPPort, !(0...65535).contains(peerUDPPort) { throw ValidationError("--peer-udp-port must be within 0...65535") }
        if let messages, !(1...Int(UInt32.max)).contains(messages) { throw ValidationError("--messages must be within 1...4294967295") }
        if let maxInitRetransmits, !(0...100).contains(maxInitRetransmits) {
            throw ValidationError("--max-init-retransmits must be within 0...100")
        }
        if let rtoInitial, !(10...60_000).contains(rtoInitial) { throw ValidationError("--rto-initial must be within 10...60000 ms") }
        // The UDP driver reads datagrams of up to 9216 bytes.
        if let mtu, !(256...9216).contains(mtu) { throw ValidationError("--mtu must be within 256...9216") }
        if let maxMTU, !(1200...9216).contains(maxMTU) { throw ValidationError("--max-mtu must be within 1200...9216") }
        if maxMTU != nil && !pmtud { throw ValidationError("--max-mtu needs --pmtud") }
        if let bind { _ = try Self.addresses(bind, option: "--bind") }
        if let client {
            let peers = try Self.addresses(client, option: "--client")
            if let bind {
                // Packets to a peer leave from a local address of its family.
                let local = try Self.addresses(bind, option: "--bind")
                for peer in peers where !local.contains(where: { $0.contains(":") == peer.contains(":") }) {
                    throw ValidationError("--bind has no \(peer.contains(":") ? "IPv6" : "IPv4") address to reach \(peer) from")
                }
            }
        }

        func reject(_ given: Bool, _ name: String, _ mode: String) throws {
            if given { throw ValidationError("\(name) applies to \(mode) only") }
        }
        if eventLoop == .sctp && !SCTPEventLoop.isSupported {
            throw ValidationError("--event-loop sctp needs Linux (epoll); use --event-loop nio")
        }
        if isLoopback {
            let network = "--server or --client"
            try reject(bind != nil, "--bind", network)
            try reject(port != nil, "--port", network)
            try reject(udpPort != nil, "--udp-port", network)
            try reject(peerUDPPort != nil, "--peer-udp-port", network)
            try reject(echo, "--echo", network)
            try reject(json, "--json", network)
            try reject(mtu != nil, "--mtu", network)
            try reject(pmtud, "--pmtud", network)
            try reject(once, "--once", "--server")
            try reject(messages != nil, "--messages", "--client")
            try reject(maxInitRetransmits != nil, "--max-init-retransmits", "--client")
            try reject(rtoInitial != nil, "--rto-initial", "--client")
            try reject(setupRate != nil, "--setup-rate", "--client")
            try reject(setupAPI != nil, "--setup-api", "--client")
            try reject(setupConcurrency != nil, "--setup-concurrency", "--client")
            try reject(quiet, "--quiet", "--server")
            try reject(oneToMany, "--one-to-many", "--server")
            try reject(latency, "--latency", "--client")
            try reject(resetEvery != nil, "--reset-every", "--client")
            try reject(series != nil || seriesInterval != nil, "--series", "--client")
            if let streams, !(1...10).contains(streams) { throw ValidationError("--streams must be within 1...10 in the loopback run") }
        } else if server {
            try reject(length != nil, "--length", "--client and the loopback run")
            try reject(time != nil, "--time", "--client and the loopback run")
            try reject(messages != nil, "--messages", "--client")
            try reject(streams != nil, "--streams", "--client and the loopback run")
            try reject(unordered, "--unordered", "--client and the loopback run")
            try reject(maxInitRetransmits != nil, "--max-init-retransmits", "--client")
            try reject(rtoInitial != nil, "--rto-initial", "--client")
            try reject(setupRate != nil, "--setup-rate", "--client")
            try reject(setupAPI != nil, "--setup-api", "--client")
            try reject(setupConcurrency != nil, "--setup-concurrency", "--client")
            try reject(latency, "--latency", "--client")
            try reject(resetEvery != nil, "--reset-every", "--client")
            try reject(series != nil || seriesInterval != nil, "--series", "--client")
            if oneToMany && mtu != nil { throw ValidationError("--mtu applies to the endpoint server, not --one-to-many") }
            if oneToMany && pmtud { throw ValidationError("--pmtud applies to the endpoint server, not --one-to-many") }
        } else {
            try reject(once, "--once", "--server")
            try reject(quiet, "--quiet", "--server")
            try reject(oneToMany, "--one-to-many", "--server")
            if setupRate == nil {
                try reject(setupAPI != nil, "--setup-api", "--setup-rate")
                try reject(setupConcurrency != nil, "--setup-concurrency", "--setup-rate")
            }
            if let setupConcurrency, !(1...1000).contains(setupConcurrency) {
                throw ValidationError("--setup-concurrency must be within 1...1000")
            }
            if let setupRate {
                guard (1...10_000_000).contains(setupRate) else { throw ValidationError("--setup-rate must be within 1...10000000") }
                try reject(echo, "--echo", "throughput and echo runs, not --setup-rate")
                try reject(latency, "--latency", "runs without --setup-rate")
                try reject(messages != nil, "--messages", "runs without --setup-rate (give the count to --setup-rate)")
                try reject(length != nil, "--length", "runs without --setup-rate (no data is sent)")
                try reject(streams != nil, "--streams", "runs without --setup-rate")
                try reject(unordered, "--unordered", "runs without --setup-rate")
                try reject(mtu != nil, "--mtu", "runs without --setup-rate")
                try reject(pmtud, "--pmtud", "runs without --setup-rate")
            }
            if latency && (length ?? 1200) < PerfPattern.headerSize {
                throw ValidationError("--latency needs --length of at least \(PerfPattern.headerSize) (the pattern header)")
            }
            if messages != nil && time != nil { throw ValidationError("give --messages or --time, not both") }
            if let streams, !(1...1024).contains(streams) { throw ValidationError("--streams must be within 1...1024") }
            if echo && (length ?? 1200) < PerfPattern.headerSize {
                throw ValidationError("--echo needs --length of at least \(PerfPattern.headerSize) (the pattern header)")
            }
            if let resetEvery, resetEvery < 1 { throw ValidationError("--reset-every must be positive") }
            if let seriesInterval, !(10...60_000).contains(seriesInterval) { throw ValidationError("--series-interval must be 10...60000") }
            if seriesInterval != nil && series == nil { throw ValidationError("--series-interval needs --series") }
            if series != nil && (setupRate != nil || latency) {
                throw ValidationError("--series applies to client throughput and echo runs")
            }
            if resetEvery != nil && (setupRate != nil || latency) {
                throw ValidationError("--reset-every applies to throughput and echo runs")
            }
        }
    }

    // MARK: Run

    func run() throws {
        if let eventLoop { PerfLoops.kind = eventLoop }
        PerfAuthentication.settings = try PerfAuthentication.settings(auth: auth, hmac: hmac, key: authKey)
        if let shards {
            try PerfSharded(shards: shards, associations: associations ?? 2, setupClients: setupClients, length: length ?? 1200,
                            time: time ?? 3, unordered: unordered, json: json).run()
            return
        }
        if server && oneToMany {
            try PerfSocketServer(bindAddresses: try Self.addresses(bind ?? "127.0.0.1", option: "--bind"),
                                 port: UInt16(port ?? 5001), udpPort: udpPort ?? 9899, peerUDPPort: peerUDPPort ?? 9899,
                                 echo: echo, once: once, json: json, quiet: quiet).run()
        } else if server {
            try PerfServer(bindAddresses: try Self.addresses(bind ?? "127.0.0.1", option: "--bind"),
                           port: UInt16(port ?? 5001), udpPort: udpPort ?? 9899, peerUDPPort: peerUDPPort ?? 9899,
                           echo: echo, once: once, json: json, quiet: quiet, mtu: mtu, pathMTUDiscovery: pathMTUDiscovery,
                           interleaving: interleaving).run()
        } else if let client {
            let peers = try Self.addresses(client, option: "--client")
            let allIPv6 = peers.allSatisfy { $0.contains(":") }
            let binds = try Self.addresses(bind ?? (allIPv6 ? "::1" : "127.0.0.1"), option: "--bind")
            if let setupRate {
                try PerfSetupRate(peerAddress: peers[0], bindAddress: binds[0], port: UInt16(port ?? 5001), udpPort: udpPort ?? 9899,
                                  peerUDPPort: peerUDPPort ?? 9899, count: setupRate, seconds: time ?? 10, json: json,
                                  api: setupAPI ?? .socket, concurrency: setupConcurrency ?? 1).run()
                return
            }
            if latency {
                try PerfLatency(peerAddresses: peers, bindAddresses: binds, port: UInt16(port ?? 5001), udpPort: udpPort ?? 9899,
                                peerUDPPort: peerUDPPort ?? 9899, length: length ?? 64, messages: messages, seconds: time ?? 10,
                                unordered: unordered, json: json, mtu: mtu, pathMTUDiscovery: pathMTUDiscovery).run()
                return
            }
            try PerfClient(peerAddresses: peers,
                           bindAddresses: try Self.addresses(bind ?? (allIPv6 ? "::1" : "127.0.0.1"), option: "--bind"),
                           port: UInt16(port ?? 5001), udpPort: udpPort ?? 9899, peerUDPPort: peerUDPPort ?? 9899,
                           length: length ?? 1200, messages: messages, seconds: time ?? 10, streams: streams ?? 1,
                           unordered: unordered, echo: echo, json: json, maxInitRetransmits: maxInitRetransmits,
                           rtoInitialMilliseconds: rtoInitial, mtu: mtu, pathMTUDiscovery: pathMTUDiscovery, resetEvery: resetEvery,
                           scheduler: scheduler.flatMap { StreamSchedulerKind(name: $0) } ?? .default,
                           streamValues: try streamValues.map(Self.streamValues) ?? [], interleaving: interleaving,
                           seriesPath: series, seriesIntervalMilliseconds: seriesInterval ?? 100).run()
        } else {
            try PerfLoopback(length: length ?? 1200, time: time ?? 5, streams: streams ?? 1, unordered: unordered,
                             interleaving: interleaving).run()
        }
    }
}
