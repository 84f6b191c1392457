import Foundation
import SCTPTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The built `sctp-perf` in its server and client modes, against itself (ephemeral UDP ports)
/// and against usrsctp's `tsctp` (fixed ports, picked free just before). Every wait has a
/// deadline; nothing sleeps for a fixed time.
@Suite("sctp-perf server and client")
struct SCTPPerfTests {
    static func tool() throws -> String {
        try #require(Tools.builtProduct("sctp-perf"), "sctp-perf is not built next to the tests")
    }

    /// The last stdout line as a JSON object.
    static func json(_ output: String) throws -> [String: Any] {
        let line = try #require(output.split(separator: "\n").last.map(String.init), "no output")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
    }

    static func int(_ object: [String: Any], _ key: String) -> Int? { (object[key] as? NSNumber)?.intValue }

    /// Starts `sctp-perf --server --once --json` on a free UDP port; returns it and the port.
    static func server(_ extra: [String] = []) throws -> (ChildProcess, udpPort: String) {
        let process = try ChildProcess(try tool(), ["--server", "--once", "--json", "--udp-port", "0"] + extra)
        #expect(process.wait { out, _ in out.contains("listening on") }, "no listening line: \(process.standardError)")
        let line = try #require(process.standardOutput.split(separator: "\n").first { $0.contains("listening on") })
        let port = try #require(line.split(separator: "UDP port ").dropFirst().first?.split(separator: " ").first.map(String.init))
        return (process, port)
    }

    /// A UDP port free on 127.0.0.1 now (a socket bound to port 0, read back, closed).
    static func freeUDPPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test("echo over three streams: every echo checked, both summaries agree, graceful shutdown",
          arguments: [["--length", "700", "--streams", "3", "--messages", "3000"],
                      ["--length", "70000", "--unordered", "--messages", "40"],
                      ["--length", "12", "--streams", "7", "--messages", "2000"],
                      ["--length", "900", "--streams", "3", "--messages", "2000", "--scheduler", "priority",
                       "--stream-values", "0:2,1:0,2:1"],
                      ["--length", "300", "--streams", "4", "--messages", "2000", "--scheduler", "wfq", "--stream-values", "0:4,3:2"]])
    func echo(arguments: [String]) throws {
        let (server, udp) = try Self.server(["--echo"])
        defer { server.terminate() }
        let client = try ChildProcess(try Self.tool(), ["--client", "127.0.0.1", "--udp-port", "0", "--peer-udp-port", udp,
                                                        "--echo", "--json"] + arguments)
        defer { client.terminate() }
        #expect(client.waitForExit(seconds: 60) == 0, "client: \(client.standardError)")
        #expect(server.waitForExit(seconds: 20) == 0, "server: \(server.standardError)")
        let messages = Int(arguments[arguments.firstIndex(of: "--messages")! + 1])!
        let sent = try Self.json(client.standardOutput)
        #expect(sent["role"] as? String == "client")
        #expect(Self.int(sent, "messages") == messages && Self.int(sent, "echoed") == messages)
        #expect(Self.int(sent, "verify_errors") == 0)
        #expect(sent["ended"] as? String == "shutdown")
        for key in ["bytes", "seconds", "mbps", "messages_per_second", "setup_seconds", "retransmissions"] {
            #expect(sent[key] != nil, "missing \(key)")
        }
        let served = try Self.json(server.standardOutput)
        #expect(served["role"] as? String == "server")
        #expect(Self.int(served, "messages") == messages && Self.int(served, "echoed") == messages)
        #expect(Self.int(served, "bytes") == Self.int(sent, "bytes"))
    }

    @Test("without --echo the client sends from the event loop: the server counts exactly what the client sent, by count and by time",
          arguments: [["--length", "64", "--streams", "3", "--messages", "100003"],
                      ["--length", "100", "--messages", "513"],
                      ["--length", "8", "--messages", "1000"],
                      ["--length", "70000", "--unordered", "--messages", "30"],
                      ["--length", "64", "--time", "1"]])
    func sendsFromEventLoop(arguments: [String]) throws {
        let (server, udp) = try Self.server()
        defer { server.terminate() }
        let client = try ChildProcess(try Self.tool(), ["--client", "127.0.0.1", "--udp-port", "0", "--peer-udp-port", udp, "--json"]
                                      + arguments)
        defer { client.terminate() }
        #expect(client.waitForExit(seconds: 60) == 0, "client: \(client.standardError)")
        #expect(server.waitForExit(seconds: 20) == 0, "server: \(server.standardError)")
        let sent = try Self.json(client.standardOutput)
        let served = try Self.json(server.standardOutput)
        let length = Int(arguments[arguments.firstIndex(of: "--length")! + 1])!
        if let index = arguments.firstIndex(of: "--messages") {
            #expect(Self.int(sent, "messages") == Int(arguments[index + 1])!)
        } else {
            #expect((Self.int(sent, "messages") ?? 0) > 0)
        }
        #expect(Self.int(served, "messages") == Self.int(sent, "messages"))
        #expect(Self.int(served, "bytes") == Self.int(sent, "bytes") && Self.int(sent, "bytes") == (Self.int(sent, "messages") ?? 0) * length)
        #expect(sent["ended"] as? String == "shutdown" && served["ended"] as? String == "shutdown")
    }

    @Test("--series: a CSV row per interval with cwnd, SRTT and acknowledged throughput; the last row counts every byte sent")
    func series() throws {
        let (server, udp) = try Self.server()
        defer { server.terminate() }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sctp-perf-series-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).csv").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let client = try ChildProcess(try Self.tool(), ["--client", "127.0.0.1", "--udp-port", "0", "--peer-udp-port", udp, "--json",
                                                        "--length", "1000", "--messages", "30000", "--series", file,
                                                        "--series-interval", "10"])
        defer { client.terminate() }
        #expect(client.waitForExit(seconds: 60) == 0, "client: \(client.standardError)")
        #expect(server.waitForExit(seconds: 20) == 0, "server: \(server.standardError)")
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        let header = try #require(lines.first).split(separator: ",").map(String.init)
        #expect(header.first == "time_s" && header.contains("cwnd_bytes") && header.contains("acked_mbps"), "\(header)")
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.count >= 2, "\(lines)")
        #expect(rows.allSatisfy { $0.count == header.count }, "\(lines)")
        func column(_ name: String) -> [String] { rows.map { $0[header.firstIndex(of: name)!] } }
        let times = column("time_s").compactMap(Double.init)
        #expect(times.count == rows.count && zip(times, times.dropFirst()).allSatisfy { $0 < $1 }, "\(times)")
        let acknowledged = column("bytes_acknowledged").compactMap(Int.init)
        #expect(zip(acknowledged, acknowledged.dropFirst()).allSatisfy { $0 <= $1 }, "\(acknowledged)")
        // The last row, written after the graceful shutdown, counts every byte.
        #expect(acknowledged.last == 30000 * 1000, "\(acknowledged)")
        #expect(column("cwnd_bytes").compactMap(Int.init).contains { $0 >= 1200 }, "\(lines)")
        #expect(column("srtt_ms").compactMap(Double.init).contains { $0 > 0 }, "\(lines)")
        #expect(column("acked_mbps").compactMap(Double.init).contains { $0 > 0 }, "\(lines)")
        let sent = try Self.json(client.standardOutput)
        #expect(Self.int(sent, "bytes") == 30000 * 1000)
    }

    @Test("--reset-every: the client resets its streams during an echo run; every echo checked, each reset performed")
    func resetEvery() throws {
        let (server, udp) = try Self.server(["--echo"])
        defer { server.terminate() }
        let client = try ChildProcess(try Self.tool(), ["--client", "127.0.0.1", "--udp-port", "0", "--peer-udp-port", udp,
                                                        "--echo", "--json", "--streams", "3", "--messages", "3000",
                                                        "--reset-every", "500"])
        defer { client.terminate() }
        #expect(client.waitForExit(seconds: 60) == 0, "client: \(client.standardError)")
        #expect(server.waitForExit(seconds: 20) == 0, "server: \(server.standardError)")
        let sent = try Self.json(client.standardOutput)
        #expect(Self.int(sent, "echoed") == 3000 && Self.int(sent, "verify_errors") == 0)
        // After messages 500, 1000, ..., 2500 (not after the last one).
        #expect(Self.int(sent, "stream_resets") == 5, "\(sent)")
    }

    @Test("setup rate against a quiet server: every association counted, no line per association",
          arguments: ["socket", "events"], [1, 8])
    func setupRate(api: String, concurrency: Int) throws {
        let server = try ChildProcess(try Self.tool(), ["--server", "--quiet", "--udp-port", "0", "--port", "5003"])
        defer { server.terminate() }
        #expect(server.wait { out, _ in out.contains("listening on") }, "no listening line: \(server.standardError)")
        let line = try #require(server.standardOutput.split(separator: "\n").first { $0.contains("listening on") })
        let udp = try #require(line.split(separator: "UDP port ").dropFirst().first?.split(separator: " ").first.map(String.init))
        let client = try ChildProcess(try Self.tool(), ["--client", "127.0.0.1", "--port", "5003", "--udp-port", "0",
                                                        "--peer-udp-port", udp, "--setup-rate", "200", "--setup-api", api,
                                                        "--setup-concurrency", "\(concurrency)", "--time", "60", "--json"])
        defer { client.terminate() }
        #expect(client.waitForExit(seconds: 60) == 0, "client: \(client.standardError)")
        let result = try Self.json(client.standardOutput)
        #expect(result["role"] as? String == "setup-rate")
        #expect(result["api"] as? String == api)
        #expect(Self.int(result, "concurrency") == concurrency)
        #expect(Self.int(result, "associations") == 200)
        #expect(((result["per_second"] as? NSNumber)?.doubleValue ?? 0) > 0)
        // The server stays up (it serves many) and printed nothing per association.
        #expect(!server.hasExited)
        #expect(server.standardOutput.split(separator: "\n").count == 1, "\(server.standardOutput)")
        #expect(server.standardError.isEmpty, "\(server.standardError)")
    }

    @Test("--shards 2: two associations on two shards, both carry data; the sharded setup run counts associations, none failed",
          .enabled(if: SCTPEventLoopAvailable.value))
    func shardedRuns() throws {
        let throughput = try ChildProcess(try Self.tool(), ["--shards", "2", "--associations", "2", "--time", "1", "--json"])
        defer { throughput.terminate() }
        #expect(throughput.waitForExit(seconds: 60) == 0, "\(throughput.standardError)")
        let result = try Self.json(throughput.standardOutput)
        #expect(result["mode"] as? String == "throughput" && Self.int(result, "shards") == 2)
        #expect(((result["mbps"] as? NSNumber)?.doubleValue ?? 0) > 0)
        // Client k's INIT is steered to shard k mod 2: each shard received messages.
        let perShard = try #require(result["messagesPerShard"] as? [NSNumber]).map(\.intValue)
        #expect(perShard.count == 2 && perShard.allSatisfy { $0 > 0 }, "\(perShard)")

        let setup = try ChildProcess(try Self.tool(), ["--shards", "2", "--setup-clients", "4", "--time", "1", "--json"])
        defer { setup.terminate() }
        #expect(setup.waitForExit(seconds: 60) == 0, "\(setup.standardError)")
        let rate = try Self.json(setup.standardOutput)
        #expect(rate["mode"] as? String == "setup" && Self.int(rate, "clients") == 4)
        #expect((Self.int(rate, "associations") ?? 0) > 0)
        #expect(Self.int(rate, "failed") == 0)
    }

    @Test("--shards takes 1...64 and no --server or --client; --associations and --setup-clients need it")
    func shardOptions() throws {
        for arguments in [["--shards", "0"], ["--shards", "65"], ["--shards", "2", "--server"], ["--associations", "2"],
                          ["--setup-clients", "4"], ["--shards", "2", "--setup-clients", "4", "--length", "100"]] {
            let process = try ChildProcess(try Self.tool(), arguments)
            defer { process.terminate() }
            #expect(process.waitForExit() != 0, "\(arguments) was accepted")
            #expect(["--shards", "--associations", "--setup-clients"].contains { process.standardError.contains($0) },
                    "\(arguments): \(process.standardError)")
        }
    }

    @Test("--scheduler takes the six names and belongs to client throughput runs, like --stream-values")
    func schedulerOptions() throws {
        for arguments in [["--client", "127.0.0.1", "--scheduler", "lottery"], ["--server", "--scheduler", "rr"],
                          ["--client", "127.0.0.1", "--stream-values", "1"], ["--client", "127.0.0.1", "--latency", "--scheduler", "fc"]] {
            let process = try ChildProcess(try Self.tool(), arguments)
            defer { process.terminate() }
            #expect(process.waitForExit() != 0, "\(arguments) was accepted")
            #expect(["--scheduler", "--stream-values"].contains { process.standardError.contains($0) },
                    "\(arguments): \(process.standardError)")
        }
    }

    @Test("--quiet, --one-to-many, --setup-api, --setup-concurrency and --series belong to their modes")
    func modeOptions() throws {
        for arguments in [["--client", "127.0.0.1", "--quiet"], ["--server", "--setup-api", "events"],
                          ["--client", "127.0.0.1", "--setup-api", "events"], ["--client", "127.0.0.1", "--one-to-many"],
                          ["--client", "127.0.0.1", "--setup-concurrency", "4"], ["--server", "--setup-concurrency", "4"],
                          ["--client", "127.0.0.1", "--setup-rate", "10", "--setup-concurrency", "0"],
                          ["--server", "--series", "/dev/null"], ["--client", "127.0.0.1", "--latency", "--series", "/dev/null"],
                          ["--client", "127.0.0.1", "--series-interval", "50"],
                          ["--client", "127.0.0.1", "--series", "/dev/null", "--series-interval", "5"]] {
            let process = try ChildProcess(try Self.tool(), arguments)
            defer { process.terminate() }
            #expect(process.waitForExit() != 0, "\(arguments) was accepted")
            #expect(["--quiet", "--setup-api", "--setup-concurrency", "--one-to-many", "--series"].contains { process.standardError.contains($0) },
                    "\(arguments): \(process.standardError)")
        }
    }

    @Test("one-to-many server (sockets API): two clients at once, every echo checked, a summary per association")
    func oneToManyServer() throws {
        let server = try ChildProcess(try Self.tool(), ["--server", "--one-to-many", "--echo", "--json", "--udp-port", "0"])
        defer { server.terminate() }
        #expect(server.wait { out, _ in out.contains("listening on") }, "no listening line: \(server.standardError)")
        let line = try #require(server.standardOutput.split(separator: "\n").first { $0.contains("listening on") })
        #expect(line.contains("one-to-many socket"))
        let udp = try #require(line.split(separator: "UDP port ").dropFirst().first?.split(separator: " ").first.map(String.init))
        let arguments = [["--length", "700", "--streams", "3", "--messages", "1500"],
                         ["--length", "70000", "--unordered", "--messages", "20"]]
        let clients = try arguments.map { extra in
            try ChildProcess(try Self.tool(), ["--client", "127.0.0.1", "--udp-port", "0", "--peer-udp-port", udp,
                                               "--echo", "--json"] + extra)
        }
        defer { clients.forEach { $0.terminate() } }
        for (client, extra) in zip(clients, arguments) {
            #expect(client.waitForExit(seconds: 60) == 0, "client: \(client.standardError)")
            let result = try Self.json(client.standardOutput)
            let messages = Int(extra[extra.firstIndex(of: "--messages")! + 1])!
            #expect(Self.int(result, "messages") == messages && Self.int(result, "echoed") == messages)
            #expect(Self.int(result, "verify_errors") == 0 && result["ended"] as? String == "shutdown")
        }
        #expect(server.wait { out, _ in out.split(separator: "\n").filter { $0.contains("\"role\": \"server\"") }.count == 2 },
                "\(server.standardOutput)")
        let summaries = server.standardOutput.split(separator: "\n").filter { $0.contains("\"role\": \"server\"") }
        let counts = try summaries.map { try Self.json(String($0)) }.compactMap { Self.int($0, "echoed") }.sorted()
        #expect(counts == [20, 1500])
        #expect(!server.hasExited, "a server without --once keeps serving")
    }

    @Test("a port nobody listens on: exit 1, error: ECONNREFUSED")
    func refused() throws {
        let (server, udp) = try Self.server()
        defer { server.terminate() }
        let client = try ChildProcess(try Self.tool(), ["--client", "127.0.0.1", "--port", "5999", "--udp-port", "0",
                                                        "--peer-udp-port", udp, "--messages", "1"])
        defer { client.terminate() }
        #expect(client.waitForExit() == 1)
        #expect(client.standardError.hasPrefix("error: ECONNREFUSED"), "\(client.standardError)")
    }

    @Test("no peer at all: exit 1, error: ETIMEDOUT after the INIT retransmissions asked for")
    func timedOut() throws {
        let silent = try Self.freeUDPPort()
        let client = try ChildProcess(try Self.tool(), ["--client", "127.0.0.1", "--udp-port", "0", "--peer-udp-port", "\(silent)",
                                                        "--max-init-retransmits", "1", "--rto-initial", "50", "--messages", "1"])
        defer { client.terminate() }
        #expect(client.waitForExit() == 1)
        #expect(client.standardError.hasPrefix("error: ETIMEDOUT"), "\(client.standardError)")
    }

    // MARK: usrsctp's tsctp

    /// tsctp, with usrsctp's debug output left on (it goes to stdout; the runs are short).
    static func tsctp() -> String? {
        guard let path = Tools.find("tsctp") else {
            if Tools.required { Issue.record("tsctp is not installed (apt-get install libusrsctp-examples)") }
            return nil
        }
        return path
    }

    @Test("tsctp server, sctp-perf client: tsctp counts every message and byte sent")
    func tsctpServer() throws {
        guard let tsctp = Self.tsctp() else { return }
        let (u1, u2) = (try Self.freeUDPPort(), try Self.freeUDPPort())
        let server = try ChildProcess(tsctp, ["-E", "\(u1)", "-U", "\(u2)", "-L", "127.0.0.1", "-p", "5001"])
        defer { server.terminate() }
        let client = try ChildProcess(try Self.tool(), ["--client", "127.0.0.1", "--udp-port", "\(u2)", "--peer-udp-port", "\(u1)",
                                                        "--messages", "3000", "--length", "1200", "--rto-initial", "200", "--json"])
        defer { client.terminate() }
        #expect(client.waitForExit(seconds: 60) == 0, "client: \(client.standardError)")
        // "length, messages, recv calls, bytes, seconds, bytes/s, notifications" when the association ends.
        // (The predicate gets the output: reading `standardOutput` inside it would deadlock.)
        func result(_ output: String) -> Substring? { output.split(separator: "\n").first { $0.hasPrefix("1200, ") } }
        #expect(server.wait(seconds: 30) { out, _ in result(out) != nil }, "no result line from tsctp")
        let fields = try #require(result(server.standardOutput)).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(fields.count == 7 && fields[1] == "3000" && fields[3] == "3600000", "\(fields)")
    }

    @Test("sctp-perf server, tsctp client: we count every message and byte tsctp sent")
    func tsctpClient() throws {
        guard let tsctp = Self.tsctp() else { return }
        let u2 = try Self.freeUDPPort()
        let (server, udp) = try Self.server(["--peer-udp-port", "\(u2)"])
        defer { server.terminate() }
        let client = try ChildProcess(tsctp, ["-D", "-E", "\(u2)", "-U", udp, "-L", "127.0.0.1", "-l", "1200", "-n", "3000", "127.0.0.1"])
        defer { client.terminate() }
        #expect(client.waitForExit(seconds: 60) == 0)
        #expect(server.waitForExit(seconds: 30) == 0, "server: \(server.standardError)")
        let served = try Self.json(server.standardOutput)
        #expect(Self.int(served, "messages") == 3000 && Self.int(served, "bytes") == 3_600_000)
        #expect(served["ended"] as? String == "shutdown")
    }
}

/// Whether swift-sctp's own loop (epoll) runs here; the sharded runs use it.
enum SCTPEventLoopAvailable {
    #if os(Linux)
    static let value = true
    #else
    static let value = false
    #endif
}
