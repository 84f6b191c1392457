import CoreMetrics
import NIOCore
import SCTPCore

/// Exports every association of a stack through swift-metrics: its counters
/// (`AssociationStatistics`: packets, DATA chunks, retransmissions, timeouts, SACKs, ...) as
/// `Counter`s, and its primary path's congestion window, smoothed RTT and RTO, the peer's
/// receive window and the data in flight as `Gauge`s and `Timer`s.
///
/// Started with ``SCTPStack/startMetrics(_:)``. Every ``Options/interval`` the reporter reads
/// the associations on the stack's loop and records what changed since the last round; an
/// association that ends is recorded one last time when it ends (nothing counted in its
/// last interval is lost) and its metrics are destroyed. The packet path is untouched:
/// with no reporter there is no cost, with one the cost is one read per association per
/// interval.
///
/// Labels are `<prefix>_<name>` (``Options/labelPrefix``, `sctp` by default); dimensions are
/// `local_port` and `association` (the association id, unique per local port). The counters
/// are those of ``counterNames``; the gauges `cwnd_bytes`, `peer_rwnd_bytes`,
/// `unacknowledged_chunks` and `queued_bytes`; the timers `srtt` and `rto`; and, without
/// dimensions, the gauge `associations` (how many the stack has; give each stack its own
/// prefix when several report into one factory).
public final class SCTPMetricsReporter: @unchecked Sendable {
    /// How and where a reporter records.
    public struct Options: Sendable {
        /// How often the associations are read (at least 10 ms).
        public var interval: Duration = .seconds(1)
        /// The first part of every label.
        public var labelPrefix = "sctp"
        /// Where the metrics go; `nil`: the process's `MetricsSystem.factory`.
        public var factory: (any MetricsFactory)?

        /// One round a second, labels `sctp_…`, into `MetricsSystem.factory`.
        public init(interval: Duration = .seconds(1), labelPrefix: String = "sctp", factory: (any MetricsFactory)? = nil) {
            self.interval = interval
            self.labelPrefix = labelPrefix
            self.factory = factory
        }
    }

    /// The names of the per-association counters (after the prefix), in the order of
    /// ``counterValues(_:)``.
    public static let counterNames = [
        "packets_sent", "packets_received", "bytes_acknowledged", "data_chunks_sent", "data_chunks_retransmitted", "fast_retransmit_marks",
        "retransmission_timeouts", "data_chunks_received", "duplicate_data_chunks_received", "sacks_received",
        "nonrenegably_acked_chunks", "congestion_experienced_packets", "ecn_echoes_received", "ecn_window_reductions",
        "pmtu_probes_acknowledged", "pmtu_black_holes", "auth_refused_packets", "unauthenticated_chunks_dropped",
    ]

    /// The counters of `statistics`, in the order of ``counterNames``.
    public static func counterValues(_ statistics: AssociationStatistics) -> [Int] {
        [
            statistics.packetsSent, statistics.packetsReceived, statistics.bytesAcknowledged, statistics.dataChunksSent, statistics.dataChunksRetransmitted,
            statistics.fastRetransmitMarks, statistics.retransmissionTimeouts, statistics.dataChunksReceived,
            statistics.duplicateDataChunksReceived, statistics.sacksReceived, statistics.nonRenegablyAckedChunks,
            statistics.congestionExperiencedPackets, statistics.ecnEchoesReceived, statistics.ecnWindowReductions,
            statistics.pathMTUProbesAcknowledged, statistics.pathMTUBlackHoles, statistics.authenticationRefusedPackets,
            statistics.unauthenticatedChunksDropped,
        ]
    }

    /// One association's metrics and the counter values last recorded.
    private final class Entry {
        let counters: [Counter]
        var recorded: [Int]
        let cwnd, peerWindow, unacknowledged, queued: Gauge
        let srtt, rto: CoreMetrics.Timer

        init(prefix: String, dimensions: [(String, String)], factory: any MetricsFactory) {
            counters = SCTPMetricsReporter.counterNames.map { Counter(label: "\(prefix)_\($0)", dimensions: dimensions, factory: factory) }
            recorded = Array(repeating: 0, count: counters.count)
            cwnd = Gauge(label: "\(prefix)_cwnd_bytes", dimensions: dimensions, factory: factory)
            peerWindow = Gauge(label: "\(prefix)_peer_rwnd_bytes", dimensions: dimensions, factory: factory)
            unacknowledged = Gauge(label: "\(prefix)_unacknowledged_chunks", dimensions: dimensions, factory: factory)
            queued = Gauge(label: "\(prefix)_queued_bytes", dimensions: dimensions, factory: factory)
            srtt = CoreMetrics.Timer(label: "\(prefix)_srtt", dimensions: dimensions, factory: factory)
            rto = CoreMetrics.Timer(label: "\(prefix)_rto", dimensions: dimensions, factory: factory)
        }

        /// Records the change since the last call. Counters only grow, except when the
        /// association restarted (the core starts them again): then all of the new value counts.
        func record(_ statistics: AssociationStatistics, _ status: AssociationStatus?) {
            let values = SCTPMetricsReporter.counterValues(statistics)
            for index in values.indices {
                let delta = values[index] >= recorded[index] ? values[index] - recorded[index] : values[index]
                if delta > 0 { counters[index].increment(by: Int64(delta)) }
            }
            recorded = values
            guard let status else { return }
            let primary = status.paths.first { $0.address == status.primaryAddress } ?? status.paths.first
            if let primary {
                cwnd.record(primary.congestionWindow)
                if let smoothed = primary.smoothedRTT { srtt.recordNanoseconds(Self.nanoseconds(smoothed)) }
                rto.recordNanoseconds(Self.nanoseconds(primary.rto))
            }
            peerWindow.record(status.peerReceiveWindow)
            unacknowledged.record(status.unacknowledgedChunks)
            queued.record(status.pendingBytes)
        }

        func destroy() {
            for counter in counters { counter.destroy() }
            for gauge in [cwnd, peerWindow, unacknowledged, queued] { gauge.destroy() }
            srtt.destroy()
            rto.destroy()
        }

        static func nanoseconds(_ duration: Duration) -> Int64 {
            let (seconds, attoseconds) = duration.components
            return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        }
    }

    private struct Key: Hashable {
        var driver: ObjectIdentifier
        var id: AssociationID
    }

    /// The stack it reports on.
    public let stack: SCTPStack
    /// How it reports.
    public let options: Options
    private let factory: any MetricsFactory
    private let associationCount: Gauge
    // Loop-confined.
    private var entries: [Key: Entry] = [:]
    private var task: RepeatedTask?
    private var stopped = false

    init(stack: SCTPStack, options: Options) {
        self.stack = stack
        self.options = options
        factory = options.factory ?? MetricsSystem.factory
        associationCount = Gauge(label: "\(options.labelPrefix)_associations", factory: factory)
    }

    /// Starts the rounds (on the loop).
    func start() {
        stack.eventLoop.assertInEventLoop()
        let interval = max(options.interval, .milliseconds(10))
        let amount = TimeAmount.nanoseconds(Entry.nanoseconds(interval))
        task = stack.eventLoop.scheduleRepeatedTask(initialDelay: amount, delay: amount) { [self] _ in report() }
    }

    /// Records every association now, besides the periodic rounds (a test, or just before
    /// the application reads its metrics).
    public func reportNow() {
        if stack.eventLoop.inEventLoop { return report() }
        try? stack.eventLoop.submit { [self] in report() }.wait()
    }

    /// Stops the rounds after a last one and destroys every metric the reporter made.
    public func stop() {
        if stack.eventLoop.inEventLoop { return stopOnLoop() }
        try? stack.eventLoop.submit { [self] in stopOnLoop() }.wait()
    }

    func stopOnLoop() {
        guard !stopped else { return }
        report()
        stopped = true
        task?.cancel()
        task = nil
        for entry in entries.values { entry.destroy() }
        entries.removeAll()
        associationCount.destroy()
    }

    /// One round: every association of every endpoint of the stack.
    private func report() {
        stack.eventLoop.assertInEventLoop()
        guard !stopped else { return }
        var seen = Set<Key>()
        for driver in stack.endpointDrivers {
            for id in driver.associationIDs {
                guard let statistics = driver.statistics(of: id) else { continue }
                let key = Key(driver: ObjectIdentifier(driver), id: id)
                seen.insert(key)
                entry(for: key, driver: driver).record(statistics, driver.status(of: id))
            }
        }
        for key in entries.keys where !seen.contains(key) { entries.removeValue(forKey: key)?.destroy() }
        associationCount.record(seen.count)
    }

    private func entry(for key: Key, driver: EndpointDriver) -> Entry {
        if let entry = entries[key] { return entry }
        let entry = Entry(prefix: options.labelPrefix,
                          dimensions: [("local_port", "\(driver.localPort)"), ("association", "\(key.id.rawValue)")], factory: factory)
        entries[key] = entry
        return entry
    }

    /// An association ends (its last event is being dispatched, the core still has it):
    /// its last counts are recorded and its metrics destroyed.
    func associationEnded(_ id: AssociationID, of driver: EndpointDriver) {
        guard !stopped, let statistics = driver.statistics(of: id) else { return }
        let key = Key(driver: ObjectIdentifier(driver), id: id)
        let entry = entries.removeValue(forKey: key) ?? Entry(prefix: options.labelPrefix,
            dimensions: [("local_port", "\(driver.localPort)"), ("association", "\(id.rawValue)")], factory: factory)
        entry.record(statistics, nil)
        entry.destroy()
    }
}

extension SCTPStack {
    /// Starts exporting the stack's associations through swift-metrics (see
    /// ``SCTPMetricsReporter``). A stack has at most one reporter: starting another stops the
    /// previous one.
    @discardableResult
    public func startMetrics(_ options: SCTPMetricsReporter.Options = .init()) -> SCTPMetricsReporter {
        let reporter = SCTPMetricsReporter(stack: self, options: options)
        let install = { [self] in
            metricsReporter?.stopOnLoop()
            metricsReporter = reporter
            reporter.start()
        }
        if eventLoop.inEventLoop { install() } else { try? eventLoop.submit(install).wait() }
        return reporter
    }
}
