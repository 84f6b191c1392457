import Foundation
import NIOCore
import SCTPCore
import SCTPTestSupport
import SCTPWire
import Testing

/// What the pion interop tests need: Go and Debian's pion/sctp (golang-go,
/// golang-github-pion-sctp-dev) to build `scripts/interop/pion/pion-peer.go` offline.
/// Without them the tests are skipped, or fail with `SCTP_REQUIRE_TOOLS=1` / `CI=true`.
enum PionEnvironment {
    /// The pion peer, built once per test run into the run directory: its path, or why not.
    static let peer: Result<String, InteropEnvironment.ToolMissing> = build()

    static var shouldRun: Bool {
        if case .success = peer { return true }
        return Tools.required
    }

    private static func build() -> Result<String, InteropEnvironment.ToolMissing> {
        let script = InteropEnvironment.repositoryRoot.appendingPathComponent("scripts/interop/pion/build-pion-peer.sh").path
        guard FileManager.default.isExecutableFile(atPath: script) else {
            return .failure(.init(description: "\(script) is missing"))
        }
        let output = InteropEnvironment.runDirectory.appendingPathComponent("pion-peer").path
        do {
            let result = try MonitoredProcess.run(script, [output], timeout: .seconds(300))
            guard result.status == 0, FileManager.default.isExecutableFile(atPath: output) else {
                return .failure(.init(description:
                    "building the pion peer failed (scripts/test.sh installs golang-go and golang-github-pion-sctp-dev): "
                        + "exit \(result.status)\n\(result.stderr)"))
            }
        } catch {
            return .failure(.init(description: "building the pion peer failed: \(error)"))
        }
        return .success(output)
    }

    /// The peer's path, or `nil` after skipping (or failing, tools required).
    static func peerOrSkip() -> String? {
        switch peer {
        case .success(let path):
            return path
        case .failure(let missing):
            if Tools.required { Issue.record("pion interop tests cannot run: \(missing) (SCTP_REQUIRE_TOOLS=1)") }
            return nil
        }
    }

    /// Whether our core answers an Outgoing SSN Reset Request (RFC 6525) with a RE-CONFIG
    /// response, rather than reporting the chunk as unrecognised: probed on two endpoints
    /// in this process, so the stream-reset test enables itself once the RE-CONFIG responder
    /// is in the core.
    static let answersStreamReset: Bool = probeStreamReset().contains(ChunkType.reconfig)

    /// The chunk types the server endpoint answered the probe's RE-CONFIG + HEARTBEAT packet
    /// with (empty when the handshake did not complete): HEARTBEAT ACK, and RE-CONFIG once
    /// the responder exists.
    static func probeStreamReset() -> [UInt8] {
        let clientAddress = IPAddress.v4(IPv4Address(127, 0, 0, 1)), serverAddress = IPAddress.v4(IPv4Address(127, 0, 0, 2))
        let client = SCTPEndpoint(configuration: SCTPConfiguration(), localPort: 5000, localAddresses: [clientAddress],
                                  random: SeededRandomSource(seed: 6525), now: .zero)
        let server = SCTPEndpoint(configuration: SCTPConfiguration(), localPort: 5000, localAddresses: [serverAddress],
                                  acceptsAssociations: true, random: SeededRandomSource(seed: 6526), now: .zero)
        guard (try? client.connect(to: [serverAddress], port: 5000, now: .zero)) != nil else { return [] }
        var serverTag: UInt32?
        var clientInitialTSN: TSN?
        // The handshake: datagrams back and forth until neither side has any (a few rounds).
        for _ in 0..<10 {
            var moved = false
            while let transmit = client.pollTransmit() {
                moved = true
                if let packet = try? SCTPPacket(parsing: transmit.datagram),
                   case .initiation(let initChunk) = packet.chunks.first { clientInitialTSN = initChunk.initialTSN }
                server.handle(datagram: transmit.datagram, from: clientAddress, to: serverAddress, now: .zero)
            }
            while let transmit = server.pollTransmit() {
                moved = true
                if let packet = try? SCTPPacket(parsing: transmit.datagram),
                   case .initiationAck(let ack) = packet.chunks.first { serverTag = ack.initiateTag }
                client.handle(datagram: transmit.datagram, from: serverAddress, to: clientAddress, now: .zero)
            }
            if !moved { break }
        }
        guard let serverTag, let clientInitialTSN else { return [] }
        // No DATA was sent: the last TSN assigned is the one before the initial TSN, so the
        // request can be carried out at once.
        let request = OutgoingSSNResetRequestParameter(requestSequenceNumber: clientInitialTSN.rawValue, responseSequenceNumber: 0,
                                                       sendersLastAssignedTSN: TSN(clientInitialTSN.rawValue &- 1), streams: [0])
        // A HEARTBEAT after the RE-CONFIG shows that the packet reached the association: a
        // RE-CONFIG it does not support (type bits 10) is skipped silently, the HEARTBEAT ACK
        // comes all the same.
        let heartbeat = HeartbeatChunk(info: HeartbeatInfoParameter(info: ByteBuffer(bytes: [6, 5, 2, 5])))
        let reconfig = SCTPPacket(header: CommonHeader(sourcePort: 5000, destinationPort: 5000, verificationTag: serverTag),
                                  chunks: [.reconfig(ReconfigChunk(parameters: ParameterList([.outgoingSSNResetRequest(request)]))),
                                           .heartbeat(heartbeat)])
        server.handle(datagram: reconfig.serialized(), from: clientAddress, to: serverAddress, now: .zero)
        var answer: [UInt8] = []
        while let transmit = server.pollTransmit() {
            guard let packet = try? SCTPPacket(parsing: transmit.datagram) else { continue }
            answer += packet.chunks.map(\.type)
        }
        return answer
    }
}

/// Every pion interop test, one at a time.
@Suite("Interop with pion/sctp", .serialized,
       .enabled(if: PionEnvironment.shouldRun,
                "needs Go and pion/sctp (golang-go, golang-github-pion-sctp-dev); scripts/test.sh installs them"))
enum PionInterop {}

/// `pion-peer` (scripts/interop/pion) as a child process: started with `--udp-port 0` and
/// `--timeout`, its READY line read; its other lines waited for with deadlines.
final class PionPeer: @unchecked Sendable {
    let child: MonitoredProcess
    /// The peer's UDP port (SCTP packets are its payloads).
    let udpPort: Int

    static let peerTimeout = 20
    static let endTimeout: Duration = .seconds(45)

    private init(child: MonitoredProcess, udpPort: Int) {
        self.child = child
        self.udpPort = udpPort
    }

    static func start(_ path: String, _ role: String, _ arguments: [String]) throws -> PionPeer {
        let all = [role, "--bind", "127.0.0.1", "--udp-port", "0", "--timeout", String(peerTimeout)] + arguments
        let child = try MonitoredProcess(path, all, name: "pion-peer \(role)")
        do {
            let ready = try child.waitForLine("READY", timeout: .seconds(20))
            guard let udp = UsrsctpPeer.fields(ready)["udp"].flatMap(Int.init) else {
                throw MonitoredProcess.Failure(description: "unreadable READY line: \(ready)")
            }
            return PionPeer(child: child, udpPort: udp)
        } catch {
            child.terminate()
            throw error
        }
    }

    func waitFor(_ prefix: String, timeout: Duration = PionPeer.endTimeout) throws -> [String: String] {
        UsrsctpPeer.fields(try child.waitForLine(prefix, timeout: timeout))
    }

    func result(timeout: Duration = PionPeer.endTimeout) throws -> PeerResult {
        PeerResult(fields: try waitFor("RESULT", timeout: timeout))
    }

    func exitStatus(timeout: Duration = PionPeer.endTimeout) throws -> Int32 { try child.waitForExit(timeout: timeout) }

    var transcript: String { child.transcript }

    func terminate() { child.terminate() }
}
