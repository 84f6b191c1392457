import Foundation
import NIOCore
import SCTP
import SCTPCore
import SCTPTestSupport
import Testing

extension UsrsctpInterop {
    /// NR-SACK with usrsctp both ways, through the lossy relay so that there are gaps to
    /// report: usrsctp-peer `--nr-sack` (it offers NR-SACK, sends it with CMT on, and with
    /// draining off reports out-of-order TSNs as non-renegable); our sockets offer it by
    /// default. Every message is verified; where there is a capture, NR-SACKs with
    /// non-renegable blocks go both ways and no SACK at all.
    @Suite("NR-SACK")
    struct NRSackInteropTests {
        /// In the capture: NR-SACKs carrying non-renegable Gap Ack Blocks from both ports, no SACK.
        static func checkAcknowledgements(_ run: InteropRun) {
            guard run.expectCapture() else { return }
            let nrSacks = run.decodedCapture(filter: "sctp.chunk_type == 16 && sctp.nr_sack_number_of_nr_gap_blocks > 0",
                                             fields: ["udp.srcport"])
            let sacks = run.decodedCapture(filter: "sctp.chunk_type == 3", fields: ["udp.srcport"])
            #expect(sacks.isEmpty, "SACK chunks on an NR-SACK association: \(sacks.count) packets")
            #expect(Set(nrSacks).count >= 2, "NR gap blocks from one side only: source ports \(Set(nrSacks))")
        }

        @Test("usrsctp client → our echo server through the lossy relay (5 % loss), NR-SACK both ways: every message back once, in order")
        func usrsctpClientThroughRelay() async throws {
            try await InteropRun.perform("nrsack-relay-server") { run in
                let relay = try await echoServer(run, clients: [
                    (name: "lossy", count: 800, lengths: 12...6000, seed: 161, unordered: false, streams: 10),
                ], relay: LossyRelayTests.impairments(loss: 0.05), seed: 61,
                   clientArguments: ["--nr-sack"] + LossyRelayTests.peerRTO, timeLimit: .seconds(60)) {
                    try $0.setOption(.rtoInfo, LossyRelayTests.ourRTO)
                }
                #expect(relay?.counts.toLeft.dropped ?? 0 > 0)
                Self.checkAcknowledgements(run)
            }
        }

        @Test("our client → usrsctp echo server through the lossy relay (5 % loss), NR-SACK both ways, ordered and unordered: every message back once")
        func ourClientThroughRelay() async throws {
            try await InteropRun.perform("nrsack-relay-client") { run in
                let plan = MessagePlan(count: 800, streams: 10, lengths: 12...6000, seed: 62, delivery: .mixed(fraction: 0.25))
                let relay = try await echoClient(run, plan: plan, relay: LossyRelayTests.impairments(loss: 0.05), seed: 62,
                                                 serverArguments: ["--nr-sack"] + LossyRelayTests.peerRTO, timeLimit: .seconds(60)) {
                    try $0.setOption(.rtoInfo, LossyRelayTests.ourRTO)
                }
                #expect(relay?.counts.toRight.dropped ?? 0 > 0)
                Self.checkAcknowledgements(run)
            }
        }
    }
}
