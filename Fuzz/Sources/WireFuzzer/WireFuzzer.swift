import FuzzDriver
import NIOCore
import SCTPWire

/// libFuzzer entry point: any bytes given to the packet parser must either parse or throw
/// a `WireError`, never trap; and whatever parses must survive a write and re-read unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPacketParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))

    // With the real checksum rule (almost every input stops here) ...
    _ = try? SCTPPacket(parsing: buffer, checksum: .required)

    // ... and without it, so the chunk, parameter and cause readers see every input.
    guard let packet = try? SCTPPacket(parsing: buffer, checksum: .skipped) else {
        var reader = ChunkReader(chunksOf: buffer)
        while (try? reader.next()) != nil {}
        return 0
    }
    _ = try? packet.validateBundling()
    _ = packet.unrecognizedChunksToReport
    for chunk in packet.chunks {
        switch chunk {
        case .initiation(let c): _ = c.parameters.unrecognizedToReport
        case .initiationAck(let c): _ = (c.parameters.unrecognizedToReport, c.stateCookie)
        default: break
        }
    }

    // Round trip: what we read, we can write, and reading that gives the same packet.
    let written = packet.serialized()
    guard let reread = try? SCTPPacket(parsing: written, checksum: .required) else {
        fatalError("a parsed packet did not parse again after writing: \(packet)")
    }
    if reread.chunks != packet.chunks {
        fatalError("round trip changed the packet:\n\(packet.chunks)\n\(reread.chunks)")
    }
    return 0
}

@_cdecl("WireFuzzer_main")
public func wireFuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, test: fuzzPacketParser)
}
