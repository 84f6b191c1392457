import Foundation
import SCTPCore
import SCTPSimulation
import Testing

/// The stateful fuzzer's interpreter (`FuzzScenario`, shared with `Fuzz/StateFuzzer`): every
/// input of its committed corpus, and 200 seeded random inputs, run with the
/// endpoints' invariants and the end-to-end checks holding.
@Suite("stateful fuzz scenarios")
struct FuzzScenarioTests {
    /// `Fuzz/corpus-state` in this checkout.
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus-state")

    static func corpusFiles() -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []
        return names.sorted().filter { !$0.hasPrefix(".") }.map { corpus.appendingPathComponent($0) }
    }

    @Test("every input of Fuzz/corpus-state replays without a violation")
    func replayCorpus() throws {
        let files = Self.corpusFiles()
        #expect(files.count >= 10, "the corpus at \(Self.corpus.path) holds \(files.count) files")
        var actions = 0
        var delivered = 0
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: file))
            let outcome = FuzzScenario.run(bytes)
            actions += outcome.actions
            delivered += outcome.messagesDelivered
            if !outcome.violations.isEmpty {
                Issue.record("\(file.lastPathComponent):\n  \(outcome.violations.joined(separator: "\n  "))")
            }
        }
        // The corpus is only worth replaying if it reaches established associations and data.
        #expect(actions > 100)
        #expect(delivered > 10)
    }

    @Test("seeded random inputs run without a violation", arguments: 0..<8)
    func randomInputs(chunk: Int) {
        var random = SeededRandomSource(seed: UInt64(chunk) &* 7919 &+ 17)
        var delivered = 0
        var up = 0
        for _ in 0..<25 {
            let count = Int(random.nextUInt64() % UInt64(FuzzScenario.maxInputSize))
            var bytes = [UInt8](repeating: 0, count: count)
            bytes.withUnsafeMutableBytes { random.fill($0) }
            let outcome = FuzzScenario.run(bytes)
            delivered += outcome.messagesDelivered
            up += outcome.associationsUp
            if !outcome.violations.isEmpty {
                let name = "fuzz-failure-\(chunk)-\(bytes.count).bin"
                if let directory = ProcessInfo.processInfo.environment["FUZZ_FAILURES"] {
                    FileManager.default.createFile(atPath: directory + "/" + name, contents: Data(bytes))
                }
                Issue.record("input \(name) (FUZZ_FAILURES=dir saves it):\n  \(outcome.violations.joined(separator: "\n  "))")
            }
        }
        #expect(up > 0)
    }

    /// `FUZZ_INPUT=path swift test --filter FuzzScenarioTests/replayOne` runs one input (a
    /// fuzzer's crash file, say) with its trace printed.
    @Test("replay one input with its trace (FUZZ_INPUT)", .enabled(if: ProcessInfo.processInfo.environment["FUZZ_INPUT"] != nil))
    func replayOne() throws {
        let path = ProcessInfo.processInfo.environment["FUZZ_INPUT"]!
        let outcome = FuzzScenario.run(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))), trace: true)
        print(outcome.trace.joined(separator: "\n"))
        #expect(outcome.violations == [])
    }
}
