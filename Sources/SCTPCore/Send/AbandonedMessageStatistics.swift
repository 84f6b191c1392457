/// Messages PR-SCTP gave up (RFC 7496 §4: `SCTP_PR_ASSOC_STATUS`, `SCTP_PR_STREAM_STATUS`),
/// counted per policy, for the association and per outbound stream. They start at zero
/// with the association and only grow.
public struct AbandonedMessageStatistics: Hashable, Sendable {
    /// Abandoned messages of one policy: those none of which was sent, and the others.
    public struct Counts: Hashable, Sendable {
        /// `sprstat_abandoned_unsent`: given up before any of it went on the wire.
        public var unsent = 0
        /// `sprstat_abandoned_sent`: given up after some of it was sent.
        public var sent = 0

        /// Both at zero.
        public init(unsent: Int = 0, sent: Int = 0) {
            self.unsent = unsent
            self.sent = sent
        }

        static func + (left: Counts, right: Counts) -> Counts {
            Counts(unsent: left.unsent + right.unsent, sent: left.sent + right.sent)
        }
    }

    /// The counts of each policy of one scope (the association, or one stream).
    public struct PerPolicy: Hashable, Sendable {
        /// `SCTP_PR_SCTP_TTL`: the lifetime ended.
        public var lifetime = Counts()
        /// `SCTP_PR_SCTP_RTX`: the retransmission limit was reached (always sent).
        public var retransmissions = Counts()
        /// Every policy (`SCTP_PR_SCTP_ALL`).
        public var all: Counts { lifetime + retransmissions }

        /// Everything at zero.
        public init() {}
    }

    /// The whole association's.
    public private(set) var association = PerPolicy()
    /// Per outbound stream, only the streams that had a message abandoned (at most one entry
    /// per stream of ours, so bounded by our outbound stream count).
    public private(set) var streams: [UInt16: PerPolicy] = [:]

    /// Everything at zero.
    public init() {}

    /// Counts one abandoned message of `stream`; `lifetime`: its policy was a lifetime, else
    /// a retransmission limit.
    mutating func count(stream: UInt16, lifetime: Bool, sent: Bool) {
        Self.add(to: &association, lifetime: lifetime, sent: sent)
        Self.add(to: &streams[stream, default: PerPolicy()], lifetime: lifetime, sent: sent)
    }

    private static func add(to counts: inout PerPolicy, lifetime: Bool, sent: Bool) {
        switch (lifetime, sent) {
        case (true, false): counts.lifetime.unsent += 1
        case (true, true): counts.lifetime.sent += 1
        case (false, false): counts.retransmissions.unsent += 1
        case (false, true): counts.retransmissions.sent += 1
        }
    }
}
