import Foundation
import NIOCore
import SCTPTestSupport
import Testing
@testable import SCTPWire

/// What we serialize, decoded by Wireshark's dissector: no malformed packet, no bad checksum.
@Suite("tshark decodes our packets")
struct TsharkTests {
    static let udpPort: UInt16 = 9899

    /// Writes every sample packet to a pcap (over UDP encapsulation, IPv4 and IPv6) and returns its path.
    func writeCapture(in directory: URL) throws -> (path: String, packets: [SCTPPacket]) {
        var pcap = PcapWriter()
        let packets = SamplePackets.allChunkPackets
        for (index, packet) in packets.enumerated() {
            let bytes = packet.serialized()
            let (source, destination): (IPAddress, IPAddress) = index % 2 == 0
                ? (.v4(IPv4Address(127, 0, 0, 1)), .v4(IPv4Address(127, 0, 0, 2)))
                : (.v6(.loopback), .v6(.loopback))
            pcap.append(sctpPacket: bytes, source: source, destination: destination,
                        encapsulation: .udp(sourcePort: Self.udpPort, destinationPort: Self.udpPort),
                        nanoseconds: Int64(index) * 1_000_000)
        }
        // And one packet straight over IP (protocol 132).
        pcap.append(sctpPacket: packets[4].serialized(), source: .v4(IPv4Address(127, 0, 0, 1)),
                    destination: .v4(IPv4Address(127, 0, 0, 2)), encapsulation: .rawIP, nanoseconds: 99_000_000)
        let url = directory.appendingPathComponent("ours.pcap")
        try Data(pcap.bytes.readableBytesView).write(to: url)
        return (url.path, packets + [packets[4]])
    }

    /// The chunk types tshark lists for a packet: each chunk, followed by the chunk nested in
    /// an Unrecognized Chunk Type cause, which it decodes too.
    static func decodedTypes(_ packet: SCTPPacket) -> [UInt8] {
        packet.chunks.flatMap { chunk -> [UInt8] in
            let causes: [ErrorCause]
            switch chunk {
            case .abort(let c): causes = c.causes
            case .error(let c): causes = c.causes
            default: causes = []
            }
            return [chunk.type] + causes.compactMap {
                if case .unrecognizedChunkType(let cause) = $0 { cause.bytes.getInteger(at: cause.bytes.readerIndex, as: UInt8.self) } else { nil }
            }
        }
    }

    @Test("every chunk kind decodes with a good checksum and nothing malformed")
    func decodes() throws {
        guard let tshark = Tools.find("tshark") else {
            if Tools.required { Issue.record("tshark is not installed (scripts/test.sh installs it)") }
            return
        }
        let directory = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (path, packets) = try writeCapture(in: directory)
        let common = ["-n", "-r", path, "-d", "udp.port==\(Self.udpPort),sctp", "-o", "sctp.checksum:CRC-32C"]

        // Nothing bad.
        let bad = try Tools.run(tshark, common + [
            "-Y", "sctp.checksum.status != 1 || _ws.malformed || _ws.expert.severity >= 8388608",
        ])
        #expect(bad.status == 0, "tshark failed: \(bad.stderr)")
        #expect(bad.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
                "tshark found problems:\n\(bad.stdout)")

        // Every packet decoded as SCTP, with its chunk types in order.
        let fields = try Tools.run(tshark, common + ["-T", "fields", "-e", "sctp.chunk_type", "-e", "sctp.checksum.status"])
        #expect(fields.status == 0)
        let lines = fields.stdout.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        #expect(lines.count == packets.count)
        for (line, packet) in zip(lines, packets) {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
            let types = columns.first.map { $0.split(separator: ",").compactMap { UInt8($0) } } ?? []
            #expect(types == Self.decodedTypes(packet), "line: \(line)")
            #expect(columns.count > 1 && columns[1] == "1", "checksum status in \(line)")
        }

        // Spot-check decoded fields of the INIT and of the SACK.
        let initFields = try Tools.run(tshark, common + [
            "-Y", "sctp.chunk_type == 1", "-T", "fields",
            "-e", "sctp.init_initiate_tag", "-e", "sctp.init_nr_out_streams", "-e", "sctp.init_initial_tsn",
            "-e", "sctp.parameter_ipv4_address",
        ])
        #expect(initFields.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            == "0xa1b2c3d4\t10\t4294967280\t127.0.0.1,127.0.0.2")
        let sackFields = try Tools.run(tshark, common + [
            "-Y", "sctp.chunk_type == 3", "-T", "fields",
            "-e", "sctp.sack_cumulative_tsn_ack_raw", "-e", "sctp.sack_gap_block_start", "-e", "sctp.sack_gap_block_end",
            "-e", "sctp.sack_duplicate_tsn",
        ])
        #expect(sackFields.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "99\t2,5\t3,9\t97")
        // NR-SACK (type 16): both block lists in their places (the sample has 1 renegable and
        // 2 non-renegable blocks).
        let nrSackFields = try Tools.run(tshark, common + [
            "-Y", "sctp.chunk_type == 16 && sctp.nr_sack_number_of_nr_gap_blocks == 2", "-T", "fields",
            "-e", "sctp.nr_sack_number_of_gap_blocks", "-e", "sctp.nr_sack_gap_block_start", "-e", "sctp.nr_sack_gap_block_end",
            "-e", "sctp.nr_sack_nr_gap_block_start", "-e", "sctp.nr_sack_nr_gap_block_end", "-e", "sctp.nr_sack_duplicate_tsn",
        ])
        #expect(nrSackFields.stdout.split(separator: "\n").first.map(String.init) == "1\t2\t3\t5,12\t9,20\t97")
    }
}
