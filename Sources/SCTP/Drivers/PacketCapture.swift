import NIOCore
import SCTPWire
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pcap file being written: every packet a stack sends and receives, with IP and (for
/// UDP) UDP headers synthesised so that Wireshark and tshark decode it
/// (`SCTPStack.startCapture(to:)`). Used on the stack's event loop only.
final class PacketCapture: @unchecked Sendable {
    private let file: SystemPackage.FileDescriptor
    private var writer = PcapWriter()
    private var closed = false

    /// Creates or truncates the file at `path` and writes the pcap header; fails with the
    /// errno of opening it.
    init(path: String) throws(SCTPError) {
        do {
            file = try SystemPackage.FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .truncate],
                                                         permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch let error as Errno {
            throw SCTPError(error, "cannot open \(path) for the capture")
        } catch {
            throw SCTPError(.ioError, "cannot open \(path): \(error)")
        }
        flush()
    }

    /// Appends a packet, as it travels between `source` and `destination` (in UDP with
    /// `udp`'s ports, else directly over IP), stamped with the wall clock.
    func record(_ packet: ByteBuffer, from source: IPAddress, to destination: IPAddress,
                udp: (source: UInt16, destination: UInt16)?) {
        guard !closed, source.isIPv4 == destination.isIPv4 else { return }
        let encapsulation: PcapWriter.Encapsulation = udp.map { .udp(sourcePort: $0.source, destinationPort: $0.destination) } ?? .rawIP
        writer.append(sctpPacket: packet, source: source, destination: destination, encapsulation: encapsulation,
                      nanoseconds: Self.wallClockNanoseconds())
        flush()
    }

    private func flush() {
        let bytes = writer.takeBytes()
        guard bytes.readableBytes > 0 else { return }
        _ = try? bytes.withUnsafeReadableBytes { try file.writeAll($0) }
    }

    /// Closes the file; later records are dropped.
    func close() {
        guard !closed else { return }
        closed = true
        try? file.close()
    }

    private static func wallClockNanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
