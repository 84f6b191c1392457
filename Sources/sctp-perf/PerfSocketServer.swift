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

    /// What the server knows of one association.
    struct AssociationState {
        let up = ContinuousClock.now
        var lastActivity: ContinuousClock.Instant?
        var messages = 0
        var bytes = 0
        var echoed = 0
        var echoFailures = 0
        /// The part of a message read so far, per stream and ordering (`recvmsg` returns
        /// large messages in pieces; an echo needs the whole).
        var pieces: [UInt32: ByteBuffer] = [:]
    }

    func run() throws {
        let stack = SCTPStack(options: SCTPStack.Options(udpPort: udpPort, peerUDPPort: peerUDPPort))
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
        var associations: [AssociationID: AssociationState] = [:]
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
                guard var state = associations[id] else { continue }
                state.bytes += message.data.readableBytes
                state.lastActivity = .now
                let key = UInt32(message.info.stream) << 1 | (message.info.isUnordered ? 1 : 0)
                var whole = message.data
                if !message.isEndOfRecord || state.pieces[key] != nil {
                    var collected = state.pieces[key] ?? ByteBuffer()
                    if echo {
                        var piece = message.data
                        collected.writeBuffer(&piece)
                    }
                    state.pieces[key] = collected
                    if message.isEndOfRecord { whole = state.pieces.removeValue(forKey: key) ?? whole }
                }
                if message.isEndOfRecord {
                    state.messages += 1
                    if echo {
                        let info = SCTPSendInfo(stream: message.info.stream,
                                                payloadProtocolIdentifier: message.info.payloadProtocolIdentifier,
                                                flags: message.info.isUnordered ? [.unordered] : [], associationID: id)
                        do {
                            try socket.sendmsg(whole, info: info)
                            state.echoed += 1
                        } catch {
                            state.echoFailures += 1
                        }
                    }
                }
                associations[id] = state
            case .notification(.associationChange(let change, let id, let outbound, let inbound, _)):
                switch change {
                case .communicationUp, .restart:
                    associations[id] = AssociationState()
                    if verbose && !json {
                        let peers = (try? socket.getpaddrs(id))?.compactMap(\.ipAddress).joined(separator: ", ") ?? ""
                        say("association \(id.rawValue) up: peer [\(peers)], streams out \(outbound) / in \(inbound)")
                    }
                case .shutdownComplete, .communicationLost:
                    guard let state = associations.removeValue(forKey: id) else { continue }
                    let how = change == .shutdownComplete ? "shutdown" : "lost"
                    if verbose {
                        var report = PerfReport(role: "server", association: id.rawValue)
                        report.messages = state.messages
                        report.bytes = state.bytes
                        report.seconds = PerfSetupRate.seconds((state.lastActivity ?? .now) - state.up)
                        report.echoed = state.echoed
                        report.verifyErrors = state.echoFailures
                        report.retransmissions = nil
                        report.ended = how
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
