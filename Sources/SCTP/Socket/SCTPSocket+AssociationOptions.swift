import NIOCore
import SCTPCore
import SCTPWire

// RFC 6458 §8 options that were endpoint settings only (max burst, delayed SACK, partial
// delivery point, PR-SCTP, ECN, path thresholds), and the association queries (context,
// statistics, association lists, PR-SCTP status).

/// `struct sctp_sack_info` (RFC 6458 §8.1.19): the delayed-SACK settings.
public struct SCTPSackInfo: Hashable, Sendable {
    /// `sack_delay`: how long a SACK may wait for a second packet, at most 500 ms. Written,
    /// zero leaves the delay as it is.
    public var delay: Duration
    /// `sack_freq`: packets with DATA acknowledged at once; 1 switches delayed SACK off.
    /// Written, zero leaves it as it is.
    public var frequency: Int

    public init(delay: Duration, frequency: Int) {
        self.delay = delay
        self.frequency = frequency
    }
}

/// `struct sctp_paddrthlds` (RFC 7829 §6, `SCTP_PEER_ADDR_THLDS`): when a path counts as
/// failed and when as potentially failed, for every path of an association.
public struct SCTPPeerAddressThresholds: Hashable, Sendable {
    /// `spt_pathmaxrxt`: Path.Max.Retrans, errors after which a path is inactive.
    public var pathMaxRetransmissions: Int
    /// `spt_pathpfthld`: Path.PF.Max.Retrans, errors after which a path is potentially failed
    /// (0: at the first error). At or above `pathMaxRetransmissions` a path never becomes
    /// potentially failed before it fails.
    public var potentiallyFailedMaxRetransmissions: Int

    public init(pathMaxRetransmissions: Int, potentiallyFailedMaxRetransmissions: Int) {
        self.pathMaxRetransmissions = pathMaxRetransmissions
        self.potentiallyFailedMaxRetransmissions = potentiallyFailedMaxRetransmissions
    }
}

/// An association's counters (`SCTP_GET_ASSOC_STATS`), named after Linux's
/// `struct sctp_assoc_stats` where they mean the same; `counters` has all the core keeps.
/// They count from the association's setup (a restart starts them again).
public struct SCTPAssociationStats: Hashable, Sendable {
    /// `sas_assoc_id`.
    public var associationID: AssociationID
    /// `sas_opackets`: SCTP packets sent.
    public var packetsSent: Int
    /// `sas_ipackets`: SCTP packets received.
    public var packetsReceived: Int
    /// `sas_oodchunks` + `sas_ouodchunks`: DATA chunks sent for the first time.
    public var dataChunksSent: Int
    /// `sas_iodchunks` + `sas_iuodchunks`: DATA chunks received (duplicates included).
    public var dataChunksReceived: Int
    /// `sas_rtxchunks`: DATA chunks retransmitted.
    public var retransmittedChunks: Int
    /// `sas_idupchunks`: DATA chunks received more than once.
    public var duplicateChunksReceived: Int
    /// `sas_isacks`: SACKs (and NR-SACKs) received.
    public var sacksReceived: Int
    /// `sas_maxrto`: the largest RTO of the association's paths now (Linux: the largest since
    /// the last read).
    public var maxRTO: Duration
    /// `sas_obs_rto_ipaddr`: the peer address whose path has `maxRTO`.
    public var maxRTOAddress: IPAddress?
    /// Every counter of the core (`AssociationStatistics`): fast retransmit marks, T3-rtx
    /// expiries, ECN, path MTU probes, AUTH refusals, ...
    public var counters: AssociationStatistics
}

/// Which PR-SCTP policy a status query is about (RFC 7496 §4 `sprstat_policy`).
public enum SCTPPRPolicy: Hashable, Sendable {
    /// `SCTP_PR_SCTP_ALL`: every policy.
    case all
    /// `SCTP_PR_SCTP_TTL`: a lifetime.
    case lifetime
    /// `SCTP_PR_SCTP_RTX`: a retransmission limit.
    case retransmissions
}

/// `struct sctp_prstatus` (RFC 7496 §4): how many messages PR-SCTP gave up.
public struct SCTPPRStatus: Hashable, Sendable {
    /// `sprstat_abandoned_unsent`: none of it had been sent.
    public var abandonedUnsent: Int
    /// `sprstat_abandoned_sent`: some of it had been sent.
    public var abandonedSent: Int

    public init(abandonedUnsent: Int, abandonedSent: Int) {
        self.abandonedUnsent = abandonedUnsent
        self.abandonedSent = abandonedSent
    }

    init(_ counts: AbandonedMessageStatistics.PerPolicy?, _ policy: SCTPPRPolicy) {
        let chosen: AbandonedMessageStatistics.Counts = switch policy {
        case .all: counts?.all ?? .init()
        case .lifetime: counts?.lifetime ?? .init()
        case .retransmissions: counts?.retransmissions ?? .init()
        }
        self.init(abandonedUnsent: chosen.unsent, abandonedSent: chosen.sent)
    }
}

extension SCTPSocketOption where Value == Int {
    /// `SCTP_MAX_BURST` (RFC 6458 §8.1.24): Max.Burst, new packets sent at once on one path;
    /// 0 switches burst mitigation off (cwnd alone limits). Of an association (the one named,
    /// or a connected one-to-one socket's, which then also becomes the default) or else the
    /// socket's default for new associations.
    public static var maxBurst: Self {
        Self(name: "SCTP_MAX_BURST", read: { socket, association throws(SCTPError) in
            if let (driver, id) = try socket.optionTarget(association), let p = driver.parameters(of: id) { return p.maxBurst }
            return socket.configuration.maxBurst
        }, write: { socket, value, association throws(SCTPError) in
            guard value >= 0 else { throw SCTPError(.invalidArgument, "SCTP_MAX_BURST must not be negative") }
            if let (driver, id) = try socket.optionTarget(association) {
                try driver.setMaxBurst(value, of: id)
                if association != nil { return }
            }
            socket.configuration.maxBurst = value
        })
    }

    /// `SCTP_PARTIAL_DELIVERY_POINT` (RFC 6458 §8.1.21): a message is handed to reads in
    /// pieces (without `isEndOfRecord` until its last) once this many bytes of it are waiting,
    /// before it is complete. For associations set up afterwards; never more than half the
    /// receive buffer.
    public static var partialDeliveryPoint: Self {
        Self(name: "SCTP_PARTIAL_DELIVERY_POINT", read: { socket, _ in socket.configuration.partialDeliveryPoint },
             write: { socket, value, _ throws(SCTPError) in
                 guard value > 0 else { throw SCTPError(.invalidArgument, "SCTP_PARTIAL_DELIVERY_POINT must be positive") }
                 socket.configuration.partialDeliveryPoint = value
             })
    }

    /// `SCTP_GET_ASSOC_NUMBER` (RFC 6458 §8.2.5, read-only): how many associations a
    /// one-to-many socket has (a one-to-one socket: 0 or 1).
    public static var associationNumber: Self {
        Self(name: "SCTP_GET_ASSOC_NUMBER", read: { socket, _ in socket.ownAssociations.count }, write: nil)
    }
}

extension SCTPSocketOption where Value == [AssociationID] {
    /// `SCTP_GET_ASSOC_ID_LIST` (RFC 6458 §8.2.6, read-only): the associations of the socket,
    /// in increasing id order.
    public static var associationIDList: Self {
        Self(name: "SCTP_GET_ASSOC_ID_LIST", read: { socket, _ in socket.ownAssociations }, write: nil)
    }
}

extension SCTPSocketOption where Value == SCTPSackInfo {
    /// `SCTP_DELAYED_SACK` (RFC 6458 §8.1.19): the delayed-SACK timeout and packet count, of
    /// an association (the one named, or a connected one-to-one socket's, which then also
    /// becomes the default) or else the socket's default. A delay above 500 ms is EINVAL;
    /// zero in either field leaves that setting as it is.
    public static var delayedSack: Self {
        Self(name: "SCTP_DELAYED_SACK", read: { socket, association throws(SCTPError) in
            if let (driver, id) = try socket.optionTarget(association), let p = driver.parameters(of: id) {
                return SCTPSackInfo(delay: p.delayedAckTimeout, frequency: p.delayedAckFrequency)
            }
            return SCTPSackInfo(delay: socket.configuration.delayedAckTimeout, frequency: socket.configuration.delayedAckFrequency)
        }, write: { socket, value, association throws(SCTPError) in
            guard value.delay >= .zero, value.delay <= .milliseconds(500), value.frequency >= 0 else {
                throw SCTPError(.invalidArgument, "SCTP_DELAYED_SACK: the delay is at most 500 ms, the frequency not negative")
            }
            if let (driver, id) = try socket.optionTarget(association), let p = driver.parameters(of: id) {
                try driver.setDelayedSack(timeout: value.delay == .zero ? p.delayedAckTimeout : value.delay,
                                          frequency: value.frequency == 0 ? p.delayedAckFrequency : value.frequency, of: id)
                if association != nil { return }
            }
            if value.delay != .zero { socket.configuration.delayedAckTimeout = value.delay }
            if value.frequency != 0 { socket.configuration.delayedAckFrequency = value.frequency }
        })
    }
}

extension SCTPSocketOption where Value == SCTPPeerAddressThresholds {
    /// `SCTP_PEER_ADDR_THLDS` (RFC 7829 §6): Path.Max.Retrans and Path.PF.Max.Retrans of
    /// every path of an association (the one named, or a connected one-to-one socket's,
    /// which then also becomes the default) or else the socket's defaults. They apply from
    /// the next error; the per-address form is not offered (all paths share them).
    public static var peerAddressThresholds: Self {
        Self(name: "SCTP_PEER_ADDR_THLDS", read: { socket, association throws(SCTPError) in
            if let (driver, id) = try socket.optionTarget(association), let p = driver.parameters(of: id) {
                return SCTPPeerAddressThresholds(pathMaxRetransmissions: p.pathMaxRetransmits,
                                                 potentiallyFailedMaxRetransmissions: p.pathPotentiallyFailedThreshold - 1)
            }
            let c = socket.configuration
            return SCTPPeerAddressThresholds(pathMaxRetransmissions: c.pathMaxRetransmits,
                                             potentiallyFailedMaxRetransmissions: c.pathPotentiallyFailedThreshold - 1)
        }, write: { socket, value, association throws(SCTPError) in
            guard value.pathMaxRetransmissions > 0, value.potentiallyFailedMaxRetransmissions >= 0,
                  value.potentiallyFailedMaxRetransmissions < Int(UInt16.max) else {
                throw SCTPError(.invalidArgument, "SCTP_PEER_ADDR_THLDS: Path.Max.Retrans positive, Path.PF.Max.Retrans not negative")
            }
            let threshold = value.potentiallyFailedMaxRetransmissions + 1
            if let (driver, id) = try socket.optionTarget(association) {
                try driver.setPathThresholds(pathMaxRetransmits: value.pathMaxRetransmissions, potentiallyFailedThreshold: threshold, of: id)
                if association != nil { return }
            }
            socket.configuration.pathMaxRetransmits = value.pathMaxRetransmissions
            socket.configuration.pathPotentiallyFailedThreshold = threshold
        })
    }
}

extension SCTPSocketOption where Value == Bool {
    /// `SCTP_PR_SUPPORTED` (RFC 7496): whether new associations announce PR-SCTP
    /// (FORWARD TSN); read on a live association, whether both sides did. On by default.
    public static var partialReliabilitySupported: Self {
        Self(name: "SCTP_PR_SUPPORTED", read: { socket, association throws(SCTPError) in
            if let (driver, id) = try socket.optionTarget(association), let supported = driver.partialReliabilitySupported(of: id) {
                return supported
            }
            return socket.configuration.partialReliability
        }, write: { socket, value, _ in socket.configuration.partialReliability = value })
    }

    /// `SCTP_ECN_SUPPORTED` (as in Linux and FreeBSD; not in RFC 6458): whether new associations
    /// announce ECN (under the `.full` INIT profile); read on a live association, whether
    /// both sides did. On by default.
    public static var ecnSupported: Self {
        Self(name: "SCTP_ECN_SUPPORTED", read: { socket, association throws(SCTPError) in
            if let (driver, id) = try socket.optionTarget(association), let status = driver.status(of: id) { return status.ecn }
            return socket.configuration.ecn
        }, write: { socket, value, _ in socket.configuration.ecn = value })
    }

    /// `SCTP_DISABLE_FRAGMENTS` (RFC 6458 §8.1.11): a message larger than the association's
    /// fragmentation point (`SCTP_STATUS`; the path MTU less headers, `SCTP_MAXSEG` and an
    /// AUTH chunk taken into account) fails with EMSGSIZE instead of being fragmented. Off by
    /// default.
    public static var disableFragments: Self {
        Self(name: "SCTP_DISABLE_FRAGMENTS", read: { socket, _ in socket.disableFragments },
             write: { socket, value, _ in socket.disableFragments = value })
    }
}

extension SCTPSocketOption where Value == PartialReliability {
    /// `SCTP_DEFAULT_PRINFO` (RFC 6458 §8.1.32): the PR-SCTP policy of sends without one (the
    /// `partialReliability` of `SCTP_DEFAULT_SNDINFO`). A negative lifetime or limit is EINVAL.
    public static var defaultPRInfo: Self {
        Self(name: "SCTP_DEFAULT_PRINFO", read: { socket, _ in socket.defaultSendInfo.partialReliability },
             write: { socket, value, _ throws(SCTPError) in
                 switch value {
                 case .reliable: break
                 case .lifetime(let lifetime):
                     guard lifetime >= .zero else { throw SCTPError(.invalidArgument, "SCTP_DEFAULT_PRINFO: a negative lifetime") }
                 case .maxRetransmissions(let count):
                     guard count >= 0 else { throw SCTPError(.invalidArgument, "SCTP_DEFAULT_PRINFO: a negative limit") }
                 }
                 socket.defaultSendInfo.partialReliability = value
             })
    }
}

extension SCTPSocketOption where Value == UInt32 {
    /// `SCTP_CONTEXT` (RFC 6458 §8.1.25): the context a message carries (back in its
    /// send-failed notification) when its send info gives none (0). Of an association (the one
    /// named, or a connected one-to-one socket's, which then also becomes the default) or
    /// else the socket's default for associations without one of their own.
    public static var context: Self {
        Self(name: "SCTP_CONTEXT", read: { socket, association throws(SCTPError) in
            if let (_, id) = try socket.optionTarget(association) { return socket.context(of: id) }
            return socket.defaultContext
        }, write: { socket, value, association throws(SCTPError) in
            if let (_, id) = try socket.optionTarget(association) {
                socket.associationContexts[id] = value
                if association != nil { return }
            }
            socket.defaultContext = value
        })
    }
}

extension SCTPSocketOption where Value == SCTPAssociationStats {
    /// `SCTP_GET_ASSOC_STATS` (read-only): an association's counters.
    public static var associationStats: Self {
        Self(name: "SCTP_GET_ASSOC_STATS", read: { socket, association throws(SCTPError) in
            let (driver, id) = try socket.resolve(association)
            guard let counters = driver.statistics(of: id), let status = driver.status(of: id) else {
                throw SCTPError(.invalidArgument, "no such association")
            }
            let slowest = status.paths.max { $0.rto < $1.rto }
            return SCTPAssociationStats(associationID: id, packetsSent: counters.packetsSent, packetsReceived: counters.packetsReceived,
                                        dataChunksSent: counters.dataChunksSent,
                                        dataChunksReceived: counters.dataChunksReceived,
                                        retransmittedChunks: counters.dataChunksRetransmitted,
                                        duplicateChunksReceived: counters.duplicateDataChunksReceived,
                                        sacksReceived: counters.sacksReceived, maxRTO: slowest?.rto ?? .zero,
                                        maxRTOAddress: slowest?.address, counters: counters)
        }, write: nil)
    }
}

extension SCTPSocketOption where Value == SCTPPRStatus {
    /// `SCTP_PR_ASSOC_STATUS` (RFC 7496 §4, read-only): the messages of an association that
    /// PR-SCTP gave up under `policy`, unsent and sent.
    public static func partialReliabilityAssociationStatus(policy: SCTPPRPolicy = .all) -> Self {
        Self(name: "SCTP_PR_ASSOC_STATUS", read: { socket, association throws(SCTPError) in
            let (driver, id) = try socket.resolve(association)
            guard let statistics = driver.abandonedMessages(of: id) else { throw SCTPError(.invalidArgument, "no such association") }
            return SCTPPRStatus(statistics.association, policy)
        }, write: nil)
    }

    /// `SCTP_PR_STREAM_STATUS` (RFC 7496 §4, read-only): the same for one outbound stream;
    /// EINVAL for a stream the association does not have.
    public static func partialReliabilityStreamStatus(stream: UInt16, policy: SCTPPRPolicy = .all) -> Self {
        Self(name: "SCTP_PR_STREAM_STATUS", read: { socket, association throws(SCTPError) in
            let (driver, id) = try socket.resolve(association)
            guard let statistics = driver.abandonedMessages(of: id), let streams = driver.streams(of: id) else {
                throw SCTPError(.invalidArgument, "no such association")
            }
            guard stream < streams.outbound else {
                throw SCTPError(.invalidArgument, "SCTP_PR_STREAM_STATUS: no outbound stream \(stream) (\(streams.outbound))")
            }
            return SCTPPRStatus(statistics.streams[stream], policy)
        }, write: nil)
    }
}

extension SCTPSocketOption where Value == PathStatus {
    /// `SCTP_GET_PEER_ADDR_INFO` (RFC 6458 §8.2.2, read-only): a peer address's path (state,
    /// cwnd, SRTT, RTO, MTU); EINVAL for an address that is not the peer's.
    public static func peerAddressInfo(_ address: SocketAddress) -> Self {
        Self(name: "SCTP_GET_PEER_ADDR_INFO", read: { socket, association throws(SCTPError) in
            guard let ip = IPAddress(address) else { throw SCTPError(.addressFamilyNotSupported, "not an IP address: \(address)") }
            let (driver, id) = try socket.resolve(association)
            guard let path = driver.status(of: id)?.paths.first(where: { $0.address == ip }) else {
                throw SCTPError(.invalidArgument, "\(address) is not an address of the peer")
            }
            return path
        }, write: nil)
    }
}

extension SCTPSocket {
    /// The socket's associations in id order (on the loop).
    var ownAssociations: [AssociationID] {
        style == .oneToOne ? association.map { [$0] } ?? [] : associations.sorted
    }

    /// The `SCTP_CONTEXT` of an association: its own, else the socket's default.
    func context(of id: AssociationID) -> UInt32 { associationContexts[id] ?? defaultContext }
}
