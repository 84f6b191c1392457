import Foundation
import SCTPTestSupport
import Testing

/// libswiftsctp, the C interface: `Examples/c/connectx_echo.c` (`CLibraryExample`) run as
/// separate processes over loopback, each with the library's own stack.
@Suite("C library (libswiftsctp)")
struct CLibraryTests {
    @Test("the manual page's flow in C: sctp_connectx to an address that does not answer and then the server's, the association id, sctp_getpaddrs, sctp_sendv / sctp_recvv echoes verified (bytes, stream, PPID), SCTP_STATUS, shutdown to end of file")
    func connectxEcho() throws {
        guard let program = try CLibraryExample.compiled() else { return }
        // 30 echoes and the two messages check_options builds from pieces (SCTP_EXPLICIT_EOR).
        let (server, port, udp) = try CLibraryExample.server(program, count: 32, ["127.0.0.1", "127.0.0.2"])
        defer { server.terminate() }
        // 127.0.0.9 has nobody: the first INIT goes there, the retransmission to 127.0.0.1.
        let client = try ChildProcess("/usr/bin/env", ["SWIFTSCTP_UDP_PORT=0", "SWIFTSCTP_PEER_UDP_PORT=\(udp)", program, "client", port,
                                                       "30", "127.0.0.9", "127.0.0.1"])
        defer { client.terminate() }
        #expect(client.waitForExit(seconds: 60) == 0, "client: \(client.standardOutput)\n\(client.standardError)")
        let lines = client.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("CONNECTED id=") == true, "\(lines)")
        let peers = Set(lines.filter { $0.hasPrefix("PEER ") })
        #expect(peers == ["PEER 127.0.0.1 \(port)", "PEER 127.0.0.2 \(port)"], "the peer's addresses: \(peers)")
        #expect(lines.contains("VERIFIED 30") && lines.contains("STATUS state=4 out=5 in=5") && lines.contains("EOF 0"), "\(lines)")
        // The options of the live association (check_options): 19 checks, none failed.
        #expect(lines.filter { $0.hasPrefix("OPTION ") }.count == 19 && !lines.contains { $0.hasPrefix("OPTION-FAIL") }, "\(lines)")
        // SHUTDOWN_COMP (state 3) is read as a notification before the end of file.
        #expect(lines.suffix(2) == ["NOTIFICATION type=0x8001 state=3", "EOF 0"], "\(lines)")
        // SCTP_COMM_UP (0x8001, state 0), 20 bytes read 8 at a time: MSG_EOR on the third piece.
        #expect(lines.contains("NOTIFICATION type=0x8001 state=0 length=20 read=20"), "\(lines)")
        #expect(server.waitForExit(seconds: 30) == 0, "server: \(server.standardOutput)\n\(server.standardError)")
        let serverLines = server.standardOutput.split(separator: "\n").map(String.init)
        #expect(serverLines.contains { $0.hasPrefix("ASSOC_CHANGE state=0 ") && $0.hasSuffix("in=5 out=5") }, "\(serverLines)")
        #expect(serverLines.contains("ECHOED 32") && serverLines.contains("SHUTDOWN_COMP"), "\(serverLines)")
    }

    @Test("sctp_connectx fails with the manual page's errors: EBADF, EFAULT, EINVAL, EAFNOSUPPORT, EWOULDBLOCK then EALREADY, ECONNREFUSED, EADDRNOTAVAIL")
    func connectxErrors() throws {
        guard let program = try CLibraryExample.compiled() else { return }
        // A running stack whose UDP port the INITs go to: it refuses them for a port nobody listens on.
        let (server, _, udp) = try CLibraryExample.server(program, count: 1, ["127.0.0.1"])
        defer { server.terminate() }
        let errors = try ChildProcess("/usr/bin/env", ["SWIFTSCTP_UDP_PORT=0", "SWIFTSCTP_PEER_UDP_PORT=\(udp)", program, "errors", "5",
                                                       "127.0.0.1", "127.0.0.9"])
        defer { errors.terminate() }
        #expect(errors.waitForExit(seconds: 60) == 0, "\(errors.standardOutput)\n\(errors.standardError)")
        let lines = errors.standardOutput.split(separator: "\n").map(String.init)
        #expect(!lines.contains { $0.hasPrefix("FAIL ") }, "\(lines)")
        for name in ["EBADF", "EFAULT for addrs", "EFAULT for id", "EINVAL", "EAFNOSUPPORT for IPv6", "EWOULDBLOCK", "EALREADY",
                     "ECONNREFUSED", "EADDRNOTAVAIL"] {
            #expect(lines.contains { $0.hasPrefix("OK \(name)") }, "no passing check \(name): \(lines)")
        }
        #expect(lines.last == "FAILURES 0")
    }

    @Test("EINTR: a signal handled without SA_RESTART interrupts a blocking sctp_recvv (the next message is still read), accept and sctp_connectx (the attempt goes on: EALREADY)")
    func interruptedCalls() throws {
        guard let program = try CLibraryExample.compiled() else { return }
        // Its own stack both ways: UDP port 0 for itself, and the same port for its peers.
        let run = try ChildProcess("/usr/bin/env", ["SWIFTSCTP_UDP_PORT=0", "SWIFTSCTP_PEER_UDP_PORT=0", program, "interrupt", "127.0.0.9"])
        defer { run.terminate() }
        #expect(run.waitForExit(seconds: 60) == 0, "\(run.standardOutput)\n\(run.standardError)")
        let lines = run.standardOutput.split(separator: "\n").map(String.init)
        #expect(!lines.contains { $0.hasPrefix("FAIL ") }, "\(lines)")
        for name in ["EINTR from a blocking sctp_recvv", "the message after the interruption", "EINTR from a blocking accept",
                     "EINTR from a blocking sctp_connectx", "EALREADY"] {
            #expect(lines.contains { $0.hasPrefix("OK \(name)") }, "no passing check \(name): \(lines)")
        }
        let handled = lines.first { $0.hasPrefix("HANDLED ") }.flatMap { Int($0.dropFirst(8)) } ?? 0
        #expect(handled >= 3, "each interrupted call took at least one signal: \(lines)")
    }
}
