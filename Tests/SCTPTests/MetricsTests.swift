import Foundation
import MetricsTestKit
import NIOCore
import SCTP
import SCTPCore
import Testing

/// `SCTPStack.startMetrics`: per-association counters, gauges and timers through
/// swift-metrics (a `TestMetrics` factory per test, never the process-wide one).
@Suite("swift-metrics export")
struct MetricsTests {
    static func dimensions(_ socket: SCTPSocket) throws -> [(String, String)] {
        let id = try #require(socket.associationIDs.first)
        return [("local_port", "\(try #require(socket.localPort))"), ("association", "\(id.rawValue)")]
    }

    @Test("counters follow the traffic (20 messages of 1000 bytes: DATA chunks, bytes acknowledged, packets), cwnd and SRTT recorded; at the end of an association its last counts arrive and its metrics are destroyed")
    func associationMetrics() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let metrics = TestMetrics()
        // An hour between rounds: only `reportNow`, the association's end and `stop` record.
        let reporter = stack.startMetrics(.init(interval: .seconds(3600), labelPrefix: "test_sctp", factory: metrics))
        let (listener, client, server) = try SocketOptionTests.connectedPair(on: stack)
        defer { try? listener.close(); try? server.close(); try? client.close() }
        let payload = [UInt8](repeating: 7, count: 1000)
        for _ in 0..<20 { try client.send(payload) }
        for _ in 0..<20 { #expect(try server.nextMessage().data.readableBytes == 1000) }
        #expect(eventually(seconds: 10) { (try? client.getOption(.status).unacknowledgedChunks) == 0 })
        reporter.reportNow()
        let clientDimensions = try Self.dimensions(client), serverDimensions = try Self.dimensions(server)
        let sentChunks = try metrics.expectCounter("test_sctp_data_chunks_sent", clientDimensions)
        #expect(sentChunks.totalValue == 20)
        let acknowledged = try metrics.expectCounter("test_sctp_bytes_acknowledged", clientDimensions)
        #expect(acknowledged.totalValue == 20_000)
        #expect(try metrics.expectCounter("test_sctp_data_chunks_received", serverDimensions).totalValue == 20)
        let packetsSent = try metrics.expectCounter("test_sctp_packets_sent", clientDimensions)
        let received = try metrics.expectCounter("test_sctp_packets_received", serverDimensions)
        // Handshake packets and DATA: at least COOKIE ECHO and one packet of DATA each way.
        #expect(packetsSent.totalValue >= 2 && received.totalValue >= 2)
        #expect(try metrics.expectGauge("test_sctp_cwnd_bytes", clientDimensions).lastValue ?? 0 >= 1200)
        #expect(try metrics.expectTimer("test_sctp_srtt", clientDimensions).lastValue ?? -1 >= 0)
        #expect(try metrics.expectGauge("test_sctp_associations").lastValue == 2)
        // A second round adds only what changed: nothing.
        reporter.reportNow()
        #expect(sentChunks.totalValue == 20 && acknowledged.totalValue == 20_000)

        // The end: the SHUTDOWN exchange is counted (more packets) though no round ran
        // since, and the association's metrics are gone from the factory.
        let before = packetsSent.totalValue
        try client.close()
        #expect(eventually(seconds: 10) { metrics.counters(label: "test_sctp_packets_sent", dimensions: clientDimensions).isEmpty })
        #expect(packetsSent.totalValue > before, "the SHUTDOWN was not counted")
        // The server's association ends with the same SHUTDOWN exchange.
        #expect(eventually(seconds: 10) { metrics.counters(label: "test_sctp_packets_sent", dimensions: serverDimensions).isEmpty })
        reporter.reportNow()
        #expect(try metrics.expectGauge("test_sctp_associations").lastValue == 0)
        reporter.stop()
        #expect(metrics.counters.isEmpty, "stop destroys every metric: \(metrics.counters.map(\.label))")
    }

    @Test("the rounds run by themselves at the interval asked for")
    func periodicRounds() throws {
        let stack = makeStack()
        defer { _ = try? stack.close().wait() }
        let metrics = TestMetrics()
        let reporter = stack.startMetrics(.init(interval: .milliseconds(20), labelPrefix: "tick", factory: metrics))
        defer { reporter.stop() }
        let (listener, client, server) = try SocketOptionTests.connectedPair(on: stack)
        defer { try? listener.close(); try? server.close(); try? client.close() }
        try client.send(Array("hello".utf8))
        #expect(try server.nextMessage().data.readableBytes == 5)
        let dimensions = try Self.dimensions(client)
        // No reportNow: only the periodic rounds can make the counter reach 1.
        #expect(eventually(seconds: 10) {
            metrics.counters(label: "tick_data_chunks_sent", dimensions: dimensions).first?.totalValue == 1
        })
    }
}
