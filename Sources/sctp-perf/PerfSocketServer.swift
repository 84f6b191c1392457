import ArgumentParser
import Foundation
import NIOCore
import SCTP
import SCTPCore

/// `sctp-perf --server --one-to-many`: the server on the RFC 6458 sockets API, one
/// one-to-many `SCTPSocket` (SOCK_SEQPACKET) for every association: one thread reads with
/// `recvmsg`, association changes come as notifications, echoes go back with `sendmsg` to
/// the association the message came from. Counts, echoes and reports as `PerfServer` does.
struct PerfSocketServer {
    var bindAddresses: [String]
    var port: UInt16
    var udpPort: Int
    var peerUDPPort: Int
    var echo: Bool
    var once: Bool
    var json: Bool
    var quiet: Bool

    func run() throws {
        let loops = try PerfLoops(1)
        defer { loops.shutdown() }
        let stack = SCTPStack(options: SCTPStack.Options(udpPort: udpPort, peerUDPPort: peerUDPPort), group: loops.next())
        defer { _ = try? stack.close().wait() }
        let socket = SCTPSocket(style: .oneToMany, stack: stack)
        defer { try? socket.close() }
        do {
            var local: [SocketAddress] = []
            for text in bindAddresses {
                do {
                    local.append(try SocketAddress(ipAddress: text, port: Int(port)))
                } catch {
                    throw SCTPError(.invalidArgument, "not an IP address: \(text)")
                }
            }
            try socket.setOption(.events, [.associationChange])
            try socket.bind(local)
            try socket.listen()
        } catch {
            reportFailure(error)
            throw ExitCode.failure
        }
        say("sctp-perf server: listening on \(bindAddresses.joined(separator: ",")) SCTP port \(port), "
            + "UDP port \(stack.udpPort ?? udpPort) (peer UDP port \(peerUDPPort) until learned), one-to-many socket"
            + (echo ? ", echoing" : ""))
        var associations: [AssociationID: ServedAssociation] = [:]
        let verbose = !quiet || once
        while true {
            let item: SCTPReceived?
            do {
                item = try socket.recvmsg(maxLength: 1 << 20)
            } catch {
                reportFailure(error)
                throw ExitCode.failure
            }
            guard let item else { return }
            switch item {
            case .message(let message):
                let id = message.info.associationID
                // In place (no copy of the state per message). `recvmsg` returns large messages
                // in pieces; an echo needs the whole.
                guard let whole = associations[id]?.take(message.data, stream: message.info.stream,
                                                         unordered: message.info.isUnordered,
                                                         isComplete: message.isEndOfRecord, keep: echo), echo else { continue }
                let info = SCTPSendInfo(stream: message.info.stream, payloadProtocolIdentifier: message.info.payloadProtocolIdentifier,
                                        flags: message.info.isUnordered ? [.unordered] : [], associationID: id)
                do {
                    try socket.sendmsg(whole, info: info)
                    associations[id]?.echoed += 1
                } catch {
                    associations[id]?.echoFailures += 1
                }
            case .notification(.associationChange(let change, let id, let outbound, let inbound, _)):
                switch change {
                case .communicationUp, .restart:
                    associations[id] = ServedAssociation()
                    if verbose && !json {
                        let peers = (try? socket.getpaddrs(id))?.compactMap(\.ipAddress).joined(separator: ", ") ?? ""
                        say("association \(id.rawValue) up: peer [\(peers)], streams out \(outbound) / in \(inbound)")
                    }
                case .shutdownComplete, .communicationLost:
                    guard let state = associations.removeValue(forKey: id) else { continue }
                    let how = change == .shutdownComplete ? "shutdown" : "lost"
                    if verbose {
                        // The sockets API does not tell retransmissions.
                        let report = state.report(id, ended: how, retransmissions: nil)
                        say(json ? report.json : report.summary)
                    }
                    if once {
                        guard how == "shutdown" else {
                            FileHandle.standardError.write(Data("error: ECONNRESET: the association ended without a graceful shutdown\n".utf8))
                            throw ExitCode.failure
                        }
                        return
                    }
                default:
                    break
                }
            case .notification:
                break
            }
        }
    }
}
