import ArgumentParser
import Foundation
import NIOCore
import SCTP
import SCTPCore
import SCTPWire

/// `sctp-cat`: ncat for SCTP. Standard input becomes messages, received messages go to
/// standard output. Over UDP encapsulation (RFC 6951) by default, or raw IP with `--raw`.
@main
struct SCTPCat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sctp-cat",
        abstract: "Send standard input over SCTP as messages and print the messages that arrive.",
        discussion: """
            Connect:  sctp-cat [options] ADDR[,ADDR...] PORT
              connectx to every address (tried in turn while INIT goes unanswered), then each
              line of standard input becomes one message; at end of input the association is
              shut down gracefully once everything sent is acknowledged.
            Listen:   sctp-cat --listen [options] PORT
              accept an association on --bind (default 127.0.0.1) and do the same.

            Examples:
              sctp-cat --listen --udp-port 9899 5001
              echo hello | sctp-cat --verbose 127.0.0.1,127.0.0.2 5001
              sctp-cat --listen --echo --keep-open --one-to-many 5001
              sctp-cat --raw --pcap out.pcap 127.0.0.1 5001          (root: SCTP over IP)
            """)

    @Flag(name: .shortAndLong, help: "Listen for associations instead of connecting.")
    var listen = false

    @Argument(help: "Peer addresses (comma-separated) and port when connecting; only the port when listening.")
    var arguments: [String] = []

    @Option(help: "Local addresses to bind, comma-separated (default 127.0.0.1 when listening; chosen from the peers when connecting).")
    var bind: String?

    @Option(name: .customLong("udp-port"), help: "Local UDP encapsulation port (0: a free one).")
    var udpPort: Int = 9899

    @Option(name: .customLong("peer-udp-port"), help: "The peer's UDP encapsulation port until one is learned.")
    var peerUDPPort: Int = 9899

    @Flag(help: "SCTP directly over IP (protocol 132) instead of UDP; needs root (CAP_NET_RAW).")
    var raw = false

    @Option(help: "Stream to send on.")
    var stream: UInt16 = 0

    @Option(help: "Payload protocol identifier to send with.")
    var ppid: UInt32 = 0

    @Flag(help: "Send unordered messages.")
    var unordered = false

    @Flag(help: "Read standard input in raw blocks (up to 64 KiB per message) and write messages as they are, without newlines.")
    var binary = false

    @Flag(help: "Send every received message back on the same stream with the same PPID and ordering (standard input is not read).")
    var echo = false

    @Flag(name: .customLong("keep-open"), help: "When listening, accept further associations after one ends.")
    var keepOpen = false

    @Flag(name: .customLong("one-to-many"), help: "Use a one-to-many socket (many associations on one socket; input goes to all of them).")
    var oneToMany = false

    @Flag(name: .shortAndLong, help: "Print notifications (association up/down with streams, peer address changes) on standard error.")
    var verbose = false

    @Flag(help: "Ask the peer to authenticate DATA and SACK chunks (AUTH, RFC 4895); the peer must announce AUTH too.")
    var auth = false

    @Option(help: "The HMAC to prefer for AUTH: sha1 or sha256 (SHA-1 is always accepted as well).")
    var hmac: String?

    @Option(name: .customLong("auth-key"), help: "The AUTH shared key, in hex, with its number (default 1), made the active key. Example: --auth-key 736563726574:1")
    var authKey: String?

    @Option(help: "Write every packet sent and received to this pcap file (decode with tshark -d udp.port==N,sctp).")
    var pcap: String?

    func validate() throws {
        if listen {
            guard arguments.count == 1, UInt16(arguments[0]) != nil else { throw ValidationError("--listen takes one argument: PORT") }
        } else {
            guard arguments.count == 2, UInt16(arguments[1]) != nil, UInt16(arguments[1]) != 0 else {
                throw ValidationError("expected ADDR[,ADDR...] PORT (or --listen PORT)")
            }
        }
        guard (0...65_535).contains(udpPort), (1...65_535).contains(peerUDPPort) else { throw ValidationError("UDP ports are 0...65535") }
        if echo && !listen { throw ValidationError("--echo is for --listen") }
    }

    func run() throws {
        do {
            try runOrThrow()
        } catch let error as SCTPError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func runOrThrow() throws(SCTPError) {
        let stack = raw ? SCTPStack.rawIP() : SCTPStack(options: SCTPStack.Options(udpPort: udpPort, peerUDPPort: peerUDPPort))
        defer { _ = try? stack.close().wait() }
        if let pcap { try stack.startCapture(to: pcap) }
        let style: SCTPSocket.Style = oneToMany ? .oneToMany : .oneToOne
        var local: [SocketAddress]?
        if let bind { local = try addresses(bind, port: 0) }
        if listen {
            let port = UInt16(arguments[0])!
            let socket = SCTPSocket(family: family(of: local ?? []), style: style, stack: stack)
            try prepare(socket)
            if let local {
                try socket.bind(local.map { $0.withPort(port) })
            } else {
                try socket.bind([try address("127.0.0.1", port: port)])
            }
            try socket.listen()
            note("listening on \(try socket.getladdrs().map(describe).joined(separator: ", "))" + (raw ? "" : " (UDP port \(stack.udpPort ?? udpPort))"))
            if oneToMany {
                try serve(socket, isListener: true)
            } else {
                repeat {
                    let association = try socket.accept()
                    try prepare(association)
                    try serve(association, isListener: false)
                    try association.close()
                } while keepOpen
            }
            try socket.close()
        } else {
            let peers = try addresses(arguments[0], port: UInt16(arguments[1])!)
            let socket = SCTPSocket(family: family(of: peers + (local ?? [])), style: style, stack: stack)
            try prepare(socket)
            if let local { try socket.bind(local) }
            let id = try socket.connectx(peers)
            note("connected: association \(id.rawValue), peer addresses \(try socket.getpaddrs(id).map(describe).joined(separator: ", "))")
            try serve(socket, isListener: false)
            try socket.close()
        }
        stack.stopCapture()
    }

    /// Moves data until the association (or, for a one-to-many listener, the socket) is done.
    private func serve(_ socket: SCTPSocket, isListener: Bool) throws(SCTPError) {
        let reader = Thread { [self] in receive(on: socket) }
        reader.start()
        if !echo {
            try sendStandardInput(on: socket)
            if !(oneToMany && isListener) { try? socket.shutdown() }
            if oneToMany {
                for id in socket.associationIDs {
                    try? socket.sendmsg(ByteBuffer(), info: SCTPSendInfo(flags: .endOfFile, associationID: id))
                }
            }
        }
        while !reader.isFinished { usleep(10_000) }
    }

    private func sendStandardInput(on socket: SCTPSocket) throws(SCTPError) {
        let input = FileHandle.standardInput
        var flags: SCTPSendFlags = unordered ? [.unordered] : []
        if oneToMany { flags.insert(.sendAll) }
        let info = SCTPSendInfo(stream: stream, payloadProtocolIdentifier: ppid, flags: flags)
        if binary {
            while true {
                let block = input.readData(ofLength: 64 * 1024)
                if block.isEmpty { return }
                try socket.sendmsg(ByteBuffer(bytes: block), info: info)
            }
        }
        var pending = Data()
        while true {
            let chunk = input.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[pending.startIndex..<newline]
                pending = Data(pending[(newline + 1)...])
                if !line.isEmpty { try socket.sendmsg(ByteBuffer(bytes: line), info: info) }
            }
        }
        if !pending.isEmpty { try socket.sendmsg(ByteBuffer(bytes: pending), info: info) }
    }

    /// Prints (or echoes) what arrives until the association ends.
    private func receive(on socket: SCTPSocket) {
        let output = FileHandle.standardOutput
        while true {
            let item: SCTPReceived?
            do {
                item = try socket.recvmsg(maxLength: 1 << 20)
            } catch {
                if error.errno != .badFileDescriptor { FileHandle.standardError.write(Data("error: \(error)\n".utf8)) }
                return
            }
            guard let item else { return }
            switch item {
            case .message(let message):
                if echo {
                    let flags: SCTPSendFlags = message.info.isUnordered ? [.unordered] : []
                    try? socket.sendmsg(message.data, info: SCTPSendInfo(stream: message.info.stream,
                                                                        payloadProtocolIdentifier: message.info.payloadProtocolIdentifier,
                                                                        flags: flags, associationID: message.info.associationID))
                } else {
                    output.write(Data(message.data.readableBytesView))
                    if !binary && message.isEndOfRecord { output.write(Data("\n".utf8)) }
                }
            case .notification(let notification):
                if verbose { note(describe(notification)) }
                // A one-to-many socket has no end of file: it ends when its last association does,
                // unless it keeps listening.
                if oneToMany, case .associationChange(let change, _, _, _, _) = notification,
                   change == .communicationLost || change == .shutdownComplete || change == .cannotStartAssociation {
                    if !keepOpen && socket.associationIDs.isEmpty { return }
                }
            }
        }
    }

    private func prepare(_ socket: SCTPSocket) throws(SCTPError) {
        // Association changes are needed to see one-to-many associations end.
        var events: SCTPEventTypes = verbose ? [.associationChange, .peerAddressChange, .remoteError, .shutdown, .sendFailed] : []
        if oneToMany { events.insert(.associationChange) }
        if auth || authKey != nil { events.insert(.authentication) }
        try socket.setOption(.events, events)
        if auth {
            try socket.setOption(.authChunk, 0)
            try socket.setOption(.authChunk, 64)
            try socket.setOption(.authChunk, 3)
        }
        if let hmac {
            switch hmac {
            case "sha1": try socket.setOption(.hmacIdent, [1])
            case "sha256": try socket.setOption(.hmacIdent, [3, 1])
            default: throw SCTPError(.invalidArgument, "--hmac is sha1 or sha256")
            }
        }
        if let authKey {
            let parts = authKey.split(separator: ":", omittingEmptySubsequences: false)
            let hex = parts.first.map(String.init) ?? ""
            var key: [UInt8] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) ?? hex.endIndex
                guard let byte = UInt8(hex[index..<next], radix: 16), hex.distance(from: index, to: next) == 2 else {
                    throw SCTPError(.invalidArgument, "--auth-key: an even number of hex digits")
                }
                key.append(byte)
                index = next
            }
            guard let number = parts.count > 1 ? UInt16(parts[1]) : 1 else {
                throw SCTPError(.invalidArgument, "--auth-key: the key number is 0...65535")
            }
            try socket.setOption(.authKey, SCTPAuthKey(keyNumber: number, key: key))
            try socket.setOption(.authActiveKey, number)
        }
    }

    private func note(_ line: String) {
        guard verbose else { return }
        FileHandle.standardError.write(Data("sctp-cat: \(line)\n".utf8))
    }

    private func addresses(_ list: String, port: UInt16) throws(SCTPError) -> [SocketAddress] {
        var result: [SocketAddress] = []
        for text in list.split(separator: ",") { result.append(try address(String(text), port: port)) }
        guard !result.isEmpty else { throw SCTPError(.invalidArgument, "no address in \"\(list)\"") }
        return result
    }

    private func address(_ text: String, port: UInt16) throws(SCTPError) -> SocketAddress {
        do {
            return try SocketAddress(ipAddress: text, port: Int(port))
        } catch {
            throw SCTPError(.invalidArgument, "not an IP address: \(text)")
        }
    }

    private func family(of addresses: [SocketAddress]) -> SCTPSocket.Family {
        addresses.contains { if case .v6 = $0 { true } else { false } } ? .ipv6 : .ipv4
    }

    private func describe(_ address: SocketAddress) -> String {
        "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
    }

    private func describe(_ notification: SCTPNotification) -> String {
        switch notification {
        case .associationChange(let change, let id, let outbound, let inbound, let error):
            let what = switch change {
            case .communicationUp: "up, streams out \(outbound) in \(inbound)"
            case .communicationLost: "lost"
            case .restart: "restarted by the peer"
            case .shutdownComplete: "shut down"
            case .cannotStartAssociation: "could not start"
            }
            return "association \(id.rawValue) \(what)" + (error.map { " (\($0.errnoName))" } ?? "")
        case .peerAddressChange(let address, let state, let id):
            return "association \(id.rawValue): peer address \(address.map(describe) ?? "?") \(state)"
        case .remoteError(let causes, let id):
            return "association \(id.rawValue): the peer reported \(causes.count) error cause(s)"
        case .shutdown(let id):
            return "association \(id.rawValue): the peer is shutting down"
        case .sendFailed(let data, let info, let wasSent):
            return "a message of \(data.readableBytes) bytes on stream \(info.stream) could not be "
                + (wasSent ? "delivered (it was sent; the peer may have it)" : "sent")
        case .partialDeliveryAborted(let stream, let id):
            return "association \(id.rawValue): a partly delivered message on stream \(stream) was aborted"
        case .senderDry(let id):
            return "association \(id.rawValue): everything sent is acknowledged"
        case .adaptationIndication(let codePoint, let id):
            return "association \(id.rawValue): the peer's adaptation layer indication is \(codePoint)"
        case .streamReset(let event, let id):
            let direction = [event.flags.contains(.incoming) ? "incoming" : nil,
                             event.flags.contains(.outgoing) ? "outgoing" : nil].compactMap { $0 }.joined(separator: " and ")
            let streams = event.streams.isEmpty ? "all streams" : "streams \(event.streams.map(String.init).joined(separator: ","))"
            let outcome = event.flags.contains(.denied) ? " denied" : event.flags.contains(.failed) ? " failed" : ""
            return "association \(id.rawValue): \(direction) \(streams) reset\(outcome)"
        case .associationReset(let event, let id):
            let outcome = event.flags.contains(.denied) ? " denied" : event.flags.contains(.failed) ? " failed" : ""
            return "association \(id.rawValue): TSNs and SSNs reset\(outcome) (next TSN out \(event.localTSN.rawValue), "
                + "in \(event.remoteTSN.rawValue))"
        case .streamChange(let event, let id):
            let outcome = event.flags.contains(.denied) ? " denied" : event.flags.contains(.failed) ? " failed" : ""
            return "association \(id.rawValue): streams changed\(outcome), out \(event.outboundStreams) in \(event.inboundStreams)"
        case .authentication(let event, let id):
            return "association \(id.rawValue): AUTH \(event.indication) key \(event.keyNumber)"
        }
    }
}

extension SocketAddress {
    func withPort(_ port: UInt16) -> SocketAddress {
        var copy = self
        copy.port = Int(port)
        return copy
    }
}
