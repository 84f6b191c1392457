import Foundation
import NIOCore
import SCTP
import SCTPCore

/// `--series FILE`: one CSV row per interval while the client sends, read on the event loop
/// from the association's status and counters: time, throughput acknowledged in the
/// interval, the primary path's cwnd / SRTT / RTO, the peer's window, what is in flight and
/// queued, and the retransmission counters so far. A last row is written when the run stops
/// (after a graceful shutdown, from the counters the association ended with: its
/// `bytes_acknowledged` is everything sent).
final class PerfSeries: @unchecked Sendable {
    static let header = "time_s,acked_mbps,bytes_acknowledged,cwnd_bytes,srtt_ms,rto_ms,peer_rwnd_bytes,"
        + "unacknowledged_chunks,queued_bytes,data_chunks_sent,data_chunks_retransmitted,fast_retransmit_marks,"
        + "retransmission_timeouts,primary_path"

    private let output: FileHandle
    private let interval: Duration
    // Loop-confined once started.
    private var task: RepeatedTask?
    private var start = ContinuousClock.now
    private var lastTime = Duration.zero
    private var lastAcknowledged = 0

    /// Opens (truncates) `path` and writes the header; EACCES-style failures throw.
    init(path: String, intervalMilliseconds: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data((Self.header + "\n").utf8)),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw SCTPError(.permissionDenied, "cannot write the series file \(path)")
        }
        handle.seekToEndOfFile()
        output = handle
        interval = .milliseconds(max(intervalMilliseconds, 10))
    }

    /// Starts the rows for association `id` of `client`.
    func start(_ client: UDPEncapsulationEndpoint, _ id: AssociationID) {
        let amount = TimeAmount.milliseconds(interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000)
        try? client.eventLoop.submit { [self] in
            start = .now
            task = client.eventLoop.scheduleRepeatedTask(initialDelay: amount, delay: amount) { [self] _ in sample(client, id) }
        }.wait()
    }

    /// Writes a last row and stops: of the association if it is still there, else of
    /// `final`, its counters when it ended (the status columns then stay empty).
    func stop(_ client: UDPEncapsulationEndpoint, _ id: AssociationID, final: @escaping @Sendable () -> AssociationStatistics?) {
        try? client.eventLoop.submit { [self] in
            task?.cancel()
            task = nil
            if let statistics = client.statisticsOnEventLoop(of: id) {
                write(statistics, client.statusOnEventLoop(of: id))
            } else if let statistics = final() {
                write(statistics, nil)
            }
        }.wait()
        output.closeFile()
    }

    /// The row of this instant.
    private func sample(_ client: UDPEncapsulationEndpoint, _ id: AssociationID) {
        guard let statistics = client.statisticsOnEventLoop(of: id) else { return }
        write(statistics, client.statusOnEventLoop(of: id))
    }

    private func write(_ statistics: AssociationStatistics, _ status: AssociationStatus?) {
        let now = ContinuousClock.now - start
        let seconds = Self.seconds(now), elapsed = Self.seconds(now - lastTime)
        let acknowledged = statistics.bytesAcknowledged
        let mbps = elapsed > 0 ? Double(acknowledged - lastAcknowledged) * 8 / 1e6 / elapsed : 0
        lastTime = now
        lastAcknowledged = acknowledged
        let primary = status.flatMap { status in status.paths.first { $0.address == status.primaryAddress } ?? status.paths.first }
        let fields: [String] = [
            String(format: "%.3f", seconds), String(format: "%.2f", mbps), "\(acknowledged)",
            primary.map { "\($0.congestionWindow)" } ?? "", primary?.smoothedRTT.map { String(format: "%.3f", Self.seconds($0) * 1000) } ?? "",
            primary.map { String(format: "%.3f", Self.seconds($0.rto) * 1000) } ?? "", status.map { "\($0.peerReceiveWindow)" } ?? "",
            status.map { "\($0.unacknowledgedChunks)" } ?? "", status.map { "\($0.pendingBytes)" } ?? "", "\(statistics.dataChunksSent)",
            "\(statistics.dataChunksRetransmitted)", "\(statistics.fastRetransmitMarks)", "\(statistics.retransmissionTimeouts)",
            primary.map { "\($0.address)" } ?? "",
        ]
        output.write(Data((fields.joined(separator: ",") + "\n").utf8))
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
