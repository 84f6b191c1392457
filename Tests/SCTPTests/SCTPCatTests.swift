import Foundation
import SCTPTestSupport
import Testing

@Suite("sctp-cat")
struct SCTPCatTests {
    /// Starts `sctp-cat --listen` with a free UDP and SCTP port; returns it with those ports.
    func listener(_ extra: [String]) throws -> (ChildProcess, sctpPort: String, udpPort: String) {
        let tool = try #require(Tools.builtProduct("sctp-cat"), "sctp-cat is not built next to the tests")
        let process = try ChildProcess(tool, ["--listen", "--verbose", "--udp-port", "0"] + extra + ["0"])
        #expect(process.wait { _, err in err.contains("listening on") }, "no listening line: \(process.standardError)")
        let line = try #require(process.standardError.split(separator: "\n").first { $0.contains("listening on") })
        let sctpPort = try #require(line.split(separator: ":").last?.split(separator: " ").first.map(String.init))
        let udpPort = try #require(line.split(separator: "UDP port ").last?.dropLast().description)
        return (process, sctpPort, udpPort)
    }

    @Test("lines go out as messages and come back from an echoing listener; end of input shuts down gracefully")
    func echo() throws {
        let (server, port, udp) = try listener(["--echo"])
        defer { server.terminate() }
        let tool = try #require(Tools.builtProduct("sctp-cat"))
        let client = try ChildProcess(tool, ["--verbose", "--udp-port", "0", "--peer-udp-port", udp, "--stream", "3",
                                             "127.0.0.1,127.0.0.2", port])
        defer { client.terminate() }
        let lines = (0..<100).map { "line \($0) " + String(repeating: "x", count: $0 * 13) }
        for line in lines { client.write(line + "\n") }
        // Every echo is back before input ends (a SHUTDOWN would stop the echoes).
        #expect(client.wait { out, _ in out.split(separator: "\n").count >= lines.count }, "echoes: \(client.standardOutput.count) bytes")
        client.closeInput()
        #expect(client.waitForExit() == 0, "client stderr: \(client.standardError)")
        #expect(client.standardOutput.split(separator: "\n").map(String.init) == lines)
        #expect(client.standardError.contains(/association \d+ up, streams out 10 in 10/))
        #expect(client.standardError.contains("shut down"))
        #expect(server.waitForExit() == 0, "server stderr: \(server.standardError)")
    }

    @Test("a refused association exits non-zero naming ECONNREFUSED")
    func refused() throws {
        let (server, port, udp) = try listener([])
        defer { server.terminate() }
        let tool = try #require(Tools.builtProduct("sctp-cat"))
        let closedPort = String((Int(port)! % 65535) + 1)
        let client = try ChildProcess(tool, ["--udp-port", "0", "--peer-udp-port", udp, "127.0.0.1", closedPort])
        defer { client.terminate() }
        client.closeInput()
        #expect(client.waitForExit() == 1)
        #expect(client.standardError.hasPrefix("error: ECONNREFUSED"))
    }
}
