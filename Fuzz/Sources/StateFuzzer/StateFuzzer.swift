import FuzzDriver
import SCTPCore
import SCTPSimulation

/// libFuzzer entry point of the stateful fuzzer: the bytes drive two `SCTPEndpoint`s on
/// virtual time through `FuzzScenario` (connect, send, read, shut down, abort, time, network
/// deliveries, drops, duplicates, delays, corruption, forged packets, option changes). Any
/// invariant violation (`SCTPEndpoint.checkInvariants()` after every step) or end-to-end
/// violation (a message delivered twice, out of order on an ordered stream, or altered) traps,
/// so libFuzzer records the input as a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAssociations(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: min(size, FuzzScenario.maxInputSize)))
    let outcome = FuzzScenario.run(bytes)
    if !outcome.violations.isEmpty {
        fatalError("stateful fuzz scenario violated:\n  " + outcome.violations.joined(separator: "\n  "))
    }
    return 0
}

@_cdecl("StateFuzzer_main")
public func stateFuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    // Without the checks compiled in, the fuzzer would only find crashes.
    precondition(SCTPEndpoint.invariantsAreChecked, "build the state fuzzer with -Xswiftc -DSCTP_INVARIANTS (Fuzz/run.sh state)")
    return runLibFuzzer(argc, argv, test: fuzzAssociations)
}
