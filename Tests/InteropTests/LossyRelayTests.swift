import Foundation
import NIOCore
import SCTP
import SCTPCore
import SCTPTestSupport
import Testing

extension UsrsctpInterop {
    /// Scenario 5 of issue 6: our stack and usrsctp through the lossy relay (loss, reordering,
    /// duplication, delay, corruption from a seed): nothing lost, nothing duplicated, order kept
    /// on ordered streams, both directions (echoes carry the data back).
    @Suite("through a lossy relay")
    struct LossyRelayTests {
        /// Short RTOs on both sides, so that losses cost tenths of a second, not seconds.
        static let ourRTO = SCTPRTOInfo(initial: .milliseconds(200), minimum: .milliseconds(100), maximum: .seconds(1))
        static let peerRTO = ["--rto-initial", "200", "--rto-min", "100", "--rto-max", "1000"]

        static func impairments(loss: Double) -> LossyRelay.Impairments {
            LossyRelay.Impairments(loss: loss, duplicate: 0.02, reorder: 0.03, delay: 0.02, corrupt: 0.005,
                                   delayTime: .milliseconds(15), reorderHold: .milliseconds(10))
        }

        static let cases: [(loss: Double, messages: Int, seed: UInt64)] = [(0.02, 1500, 51), (0.10, 600, 52)]

        @Test("our client → usrsctp echo server through the relay", arguments: cases.indices)
        func ourClient(caseIndex: Int) async throws {
            let (loss, messages, seed) = Self.cases[caseIndex]
            try await InteropRun.perform("relay-client-\(Int(loss * 100))pct") { run in
                let plan = MessagePlan(count: messages, streams: 10, lengths: 12...2000, seed: seed, delivery: .mixed(fraction: 0.25))
                let relay = try await echoClient(run, plan: plan, relay: Self.impairments(loss: loss), seed: seed,
                                                 serverArguments: Self.peerRTO, timeLimit: .seconds(50)) {
                    try $0.setOption(.rtoInfo, Self.ourRTO)
                }
                try check(relay, run)
            }
        }

        @Test("usrsctp client → our echo server through the relay", arguments: cases.indices)
        func usrsctpClient(caseIndex: Int) async throws {
            let (loss, messages, seed) = Self.cases[caseIndex]
            try await InteropRun.perform("relay-server-\(Int(loss * 100))pct") { run in
                let relay = try await echoServer(run, clients: [
                    (name: "lossy", count: messages, lengths: 12...2000, seed: seed + 100, unordered: false, streams: 10),
                ], relay: Self.impairments(loss: loss), seed: seed, clientArguments: Self.peerRTO, timeLimit: .seconds(50)) {
                    try $0.setOption(.rtoInfo, Self.ourRTO)
                }
                try check(relay, run)
            }
        }

        /// The relay did impair both directions (else the test proved little).
        func check(_ relay: LossyRelay?, _ run: InteropRun) throws {
            let relay = try #require(relay)
            let counts = relay.counts
            run.trace("relay to usrsctp: \(counts.toRight); to us: \(counts.toLeft)")
            for (direction, count) in [("towards usrsctp", counts.toRight), ("towards us", counts.toLeft)] {
                #expect(count.dropped > 0 && count.duplicated > 0 && count.reordered > 0, "\(direction): \(count)")
            }
        }
    }
}
