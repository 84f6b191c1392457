import Foundation
import NIOCore
import SCTP
import SCTPCore
import SCTPTestSupport
import Testing

extension UsrsctpInterop {
    /// Our stream schedulers (RFC 8260 §3) seen from usrsctp: the order in which the peer's
    /// application reads the messages (`usrsctp-peer server --log-arrivals`).
    @Suite("stream schedulers")
    struct StreamSchedulerInteropTests {
        /// A 16 MiB message on stream 4 goes first and keeps the association busy while ten
        /// messages each on streams 0 to 3 are queued round robin behind it; with the
        /// priority scheduler (values 3, 2, 1, 0) the peer reads all of stream 3's, then 2's,
        /// 1's and 0's. The default round robin would interleave them.
        @Test("our client with the priority scheduler → usrsctp server: arrivals in priority order")
        func priorityToUsrsctp() async throws {
            try await InteropRun.perform("scheduler-priority") { run in
                let server = try run.server(["--mode", "discard", "--verify", "--log-arrivals", "--streams", "10"])
                let stack = run.stack(peerUDPPort: server.udpPort)
                let client = try run.socket(stack, events: [.associationChange, .shutdown])
                try client.setOption(.initMessage, SCTPInitMessage(outboundStreams: 10, maxInboundStreams: 10))
                try client.setOption(.streamScheduler, .priority)
                try client.setOption(.sendBufferSize, 64 << 20)
                try client.bind([loopback(0)])
                let udpPort = try #require(stack.udpPort)
                try run.capture(ports: [udpPort, server.udpPort])
                _ = try await client.connectx([loopback(server.port)])
                _ = try server.waitFor("ASSOC_UP", timeout: .seconds(20))
                for stream: UInt16 in 0..<4 { try client.setOption(.streamSchedulerValue(stream: stream), 3 - stream) }
                #expect(try client.getOption(.streamScheduler) == .priority)

                try await client.sendmsg(MessagePattern.message(seq: 0, stream: 4, length: 16 << 20),
                                         info: SCTPSendInfo(stream: 4, payloadProtocolIdentifier: MessagePattern.orderedPPID))
                for seq: UInt32 in 0..<10 {
                    for stream: UInt16 in 0..<4 {
                        try await client.sendmsg(MessagePattern.message(seq: seq, stream: stream, length: 200),
                                                 info: SCTPSendInfo(stream: stream, payloadProtocolIdentifier: MessagePattern.orderedPPID))
                    }
                }
                try await client.shutdownExpectingCompletion()
                let result = try server.result()
                #expect(try server.exitStatus() == 0, "\(server.transcript)")
                #expect(result.messagesReceived == 41 && result.verifyErrors == 0, "\(result)")

                let arrivals = server.child.lines.filter { $0.hasPrefix("ARRIVAL ") }.map(UsrsctpPeer.fields)
                let streams = arrivals.compactMap { $0["stream"].flatMap(UInt16.init) }
                let expected: [UInt16] = [4] + [3, 2, 1, 0].flatMap { Array(repeating: UInt16($0), count: 10) }
                #expect(streams == expected, "\(server.transcript)")
                // Within each stream, in order.
                for stream in 0..<4 {
                    let seqs = arrivals.filter { $0["stream"] == "\(stream)" }.compactMap { $0["seq"].flatMap(Int.init) }
                    #expect(seqs == Array(0..<10), "stream \(stream)")
                }
                run.expectNoAbort()
            }
        }
    }
}
