import Foundation
import SCTPTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A tshark capture of a test's UDP ports on loopback (needs root and tshark; without root the
/// tests run uncaptured), decoded at the end as SCTP over UDP with CRC32c checked:
///
/// ```
/// tshark -i lo -f "udp port A or udp port B" -w FILE
/// tshark -r FILE -d udp.port==A,sctp -d udp.port==B,sctp -o sctp.checksum:CRC-32C \
///        -Y "sctp.checksum.status != 1 || _ws.malformed || _ws.expert.severity >= 8388608"
/// ```
///
/// which must print nothing (/work/shared/INTEROP.md).
final class Capture: @unchecked Sendable {
    let file: URL
    let ports: [Int]
    private let tshark: String
    private let child: MonitoredProcess
    private var stopped = false


    /// The display filter of packets that are wrong.
    static let problemFilter = "sctp.checksum.status != 1 || _ws.malformed || _ws.expert.severity >= 8388608"

    /// Whether captures can be taken here (root and tshark); records an issue when tshark is
    /// missing although the tools are required.
    static var tsharkPath: String? {
        guard geteuid() == 0 else { return nil }
        guard let path = InteropEnvironment.findTool("tshark") else {
            if InteropEnvironment.toolsRequired {
                Issue.record("tshark is not installed (scripts/test.sh installs it): interop traffic cannot be checked")
            }
            return nil
        }
        return path
    }

    private init(file: URL, ports: [Int], tshark: String, child: MonitoredProcess, marker: MarkerSocket) {
        self.file = file
        self.ports = ports
        self.tshark = tshark
        self.child = child
        self.marker = marker
    }

    private let marker: MarkerSocket
    /// How far the file has been searched for markers.
    private var searched = 0
    private let markerID = UUID().uuidString

    /// Starts capturing `ports` and waits until tshark captures; `nil` where captures cannot
    /// be taken.
    ///
    /// tshark says "Capturing on" a moment before it captures, writes packets to the file
    /// with a delay, and loses what it has not written when stopped. So marker datagrams
    /// (from a socket of ours to itself, on a port the filter also takes) go out and the file
    /// is watched for them: start markers until one is in the file (the capture is live), an
    /// end marker before stopping (everything sent before it is in the file).
    ///
    /// With `namespace`, tshark runs inside that namespace (`ip netns exec`) on `interfaces`
    /// and on that namespace's `lo`, where the marker socket (made inside the namespace) sends.
    /// An interface taken down while captured ends libpcap's capture on it (ENETDOWN): capture
    /// on the side of a link that stays up.
    /// With `rawSCTP`, SCTP directly over IP (protocol 132) is captured too.
    static func start(ports: [Int], name: String, namespace: (pair: NamespacePair, side: NamespacePair.Side)? = nil,
                      interfaces: [String] = [], rawSCTP: Bool = false) throws -> Capture? {
        guard let tshark = tsharkPath else { return nil }
        let marker = try namespace.map { namespace in try namespace.pair.perform(on: namespace.side) { try MarkerSocket() } }
            ?? MarkerSocket()
        let file = InteropEnvironment.runDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8)).pcapng")
        let filter = ((ports + [marker.port]).map { "udp port \($0)" } + (rawSCTP ? ["ip proto 132"] : [])).joined(separator: " or ")
        // -B and -f before the first -i: the defaults for every interface.
        let arguments = ["-n", "-q", "-B", "16", "-f", filter] + (["lo"] + interfaces).flatMap { ["-i", $0] } + ["-w", file.path]
        let command = namespace.map { $0.pair.command(on: $0.side, tshark, arguments) } ?? (executable: tshark, arguments: arguments)
        let child = try MonitoredProcess(command.executable, command.arguments, name: "tshark capture")
        let capture = Capture(file: file, ports: ports, tshark: tshark, child: child, marker: marker)
        do {
            _ = try child.waitForLine(stderr: true, timeout: .seconds(30), "\"Capturing on\"") { $0.contains("Capturing on") }
            try capture.waitForMarker("start", resend: true)
        } catch {
            child.terminate()
            marker.close()
            throw error
        }
        return capture
    }

    /// Sends marker datagrams (one, or one every 50 ms with `resend`) until one shows in the file.
    private func waitForMarker(_ kind: String, resend: Bool) throws {
        let bytes = Data("swift-sctp capture marker \(markerID) \(kind)".utf8)
        try marker.send(bytes)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let handle = try? FileHandle(forReadingFrom: file) {
                defer { try? handle.close() }
                let start = max(searched - bytes.count, 0)
                try? handle.seek(toOffset: UInt64(start))
                if let data = try? handle.readToEnd() {
                    searched = start + data.count
                    if data.range(of: bytes) != nil { return }
                }
            }
            Thread.sleep(forTimeInterval: 0.05)
            if resend { try marker.send(bytes) }
        }
        throw MonitoredProcess.Failure(description: "the \(kind) marker never reached \(file.path)\n\(child.transcript)")
    }

    /// Stops the capture once everything sent before is in (tshark writes it and exits).
    func stop() {
        guard !stopped else { return }
        stopped = true
        try? waitForMarker("end", resend: false)
        child.signal(SIGINT)
        if (try? child.waitForExit(timeout: .seconds(15))) == nil { child.terminate() }
        marker.close()
    }

    private func decodeArguments(_ extraPorts: [Int]) -> [String] {
        var arguments = ["-n", "-r", file.path, "-o", "sctp.checksum:CRC-32C"]
        for port in Set(ports + extraPorts).sorted() { arguments += ["-d", "udp.port==\(port),sctp"] }
        return arguments
    }

    /// Decodes the capture with a display filter: one line per packet.
    func decode(filter: String, extraPorts: [Int] = [], fields: [String]? = nil) throws -> [String] {
        stop()
        var arguments = decodeArguments(extraPorts) + ["-Y", filter]
        if let fields { arguments += ["-T", "fields"] + fields.flatMap { ["-e", $0] } }
        let result = try MonitoredProcess.run(tshark, arguments, timeout: .seconds(120))
        guard result.status == 0 else {
            throw MonitoredProcess.Failure(description: "tshark -r failed (\(result.status)): \(result.stderr)")
        }
        return result.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// The packets with a bad checksum, malformed or with an error-level expert note. With
    /// `onlyTo`, only datagrams sent to those UDP ports are checked (the relay corrupts what it
    /// forwards: check what the peers themselves sent).
    func problems(extraPorts: [Int] = [], onlyTo: [Int]? = nil) throws -> [String] {
        // The capture's own marker datagrams are not SCTP: tshark decodes them by their port's
        // heuristics (on 41170, say, as a malformed MANOLITO packet), so they are left out.
        var filter = "!(udp.port == \(marker.port)) && (\(Self.problemFilter))"
        if let onlyTo {
            filter = "(" + onlyTo.map { "udp.dstport == \($0)" }.joined(separator: " || ") + ") && (\(filter))"
        }
        return try decode(filter: filter, extraPorts: extraPorts)
    }

    /// Removes the file.
    func discard() {
        stop()
        try? FileManager.default.removeItem(at: file)
    }
}

/// A UDP socket on 127.0.0.1 that sends marker datagrams to itself.
private final class MarkerSocket: @unchecked Sendable {
    let fd: Int32
    let port: Int
    private var address = sockaddr_in()

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        self.fd = fd
        guard fd >= 0 else { throw MonitoredProcess.Failure(description: "socket: errno \(errno)") }
        var bound = sockaddr_in()
        bound.sin_family = sa_family_t(AF_INET)
        bound.sin_addr.s_addr = inet_addr("127.0.0.1")
        bound.sin_port = 0
        let result = withUnsafePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        address = bound
        port = Int(UInt16(bigEndian: bound.sin_port))
        guard result == 0, named == 0 else {
            Glibc.close(fd)
            throw MonitoredProcess.Failure(description: "bind/getsockname: errno \(errno)")
        }
    }

    func send(_ bytes: Data) throws {
        var target = address
        let sent = withUnsafePointer(to: &target) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sockaddrPointer, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard sent >= 0 else { throw MonitoredProcess.Failure(description: "sendto: errno \(errno)") }
    }

    private var closed = false
    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }
}
