import ArgumentParser
import SCTP
import SCTPWire

@main
struct SCTPPerf: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sctp-perf",
        abstract: "Measure SCTP throughput on loopback.")

    func run() throws {
        print("sctp-perf: placeholder (CRC32c: \(CRC32c.implementation))")
    }
}
