import SCTPCore

extension SCTPSocketOption where Value == StreamSchedulerKind {
    /// `SCTP_STREAM_SCHEDULER` (RFC 8260 §4.3.2): the stream scheduler, which outbound
    /// stream's messages go next. Of an association (the one named, or a connected one-to-one
    /// socket's, which then also becomes the default) or else the socket's default for new
    /// associations. Changing it on a live association keeps every queued message, each
    /// stream's in order. `StreamSchedulerKind(optionValue:)` maps the C constants
    /// (`SCTP_SS_DEFAULT` 0, `SCTP_SS_RR` 1, `SCTP_SS_RR_PKT` 2, `SCTP_SS_PRIO` 3, `SCTP_SS_FC` 4,
    /// `SCTP_SS_FCFS` 5, `SCTP_SS_WFQ` 6, as in usrsctp) and refuses others.
    public static var streamScheduler: Self {
        Self(name: "SCTP_STREAM_SCHEDULER", read: { socket, association throws(SCTPError) in
            if let (driver, id) = try socket.optionTarget(association), let kind = driver.streamScheduler(of: id) {
                return kind
            }
            return socket.configuration.streamScheduler
        }, write: { socket, value, association throws(SCTPError) in
            if let (driver, id) = try socket.optionTarget(association) {
                try driver.setStreamScheduler(value, of: id)
                if association != nil { return }
            }
            socket.configuration.streamScheduler = value
        })
    }
}

extension SCTPSocketOption where Value == UInt16 {
    /// `SCTP_STREAM_SCHEDULER_VALUE` (RFC 8260 §4.3.3, `struct sctp_stream_value`) of the
    /// outbound stream `stream` of an association (the one named, or a connected one-to-one
    /// socket's): its priority under `.priority` (lower goes first), its weight under
    /// `.weightedFairQueueing` (0, the default, counts as 1); other schedulers keep it for
    /// when the scheduler changes. EINVAL for a stream at or above the outbound stream count;
    /// ENOTCONN without an association.
    public static func streamSchedulerValue(stream: UInt16) -> Self {
        Self(name: "SCTP_STREAM_SCHEDULER_VALUE", read: { socket, association throws(SCTPError) in
            let (driver, id) = try socket.resolve(association)
            return try driver.streamSchedulerValue(stream: stream, of: id)
        }, write: { socket, value, association throws(SCTPError) in
            let (driver, id) = try socket.resolve(association)
            try driver.setStreamSchedulerValue(value, stream: stream, of: id)
        })
    }
}

extension SCTPSocketOption where Value == UInt32 {
    /// `SCTP_STREAM_SCHEDULER` as its C value (`struct sctp_assoc_value`'s `assoc_value`):
    /// `SCTP_SS_DEFAULT` 0 (round robin), `SCTP_SS_RR` 1, `SCTP_SS_RR_PKT` 2, `SCTP_SS_PRIO` 3,
    /// `SCTP_SS_FC` 4, `SCTP_SS_FCFS` 5, `SCTP_SS_WFQ` 6 (usrsctp's numbers); any other value
    /// fails with EINVAL. Reading gives the scheduler in use (never 0). Otherwise the same
    /// as `streamScheduler`.
    public static var rawStreamScheduler: Self {
        let typed = SCTPSocketOption<StreamSchedulerKind>.streamScheduler
        return Self(name: "SCTP_STREAM_SCHEDULER", read: { socket, association throws(SCTPError) in
            try typed.read(socket, association).rawValue
        }, write: { socket, value, association throws(SCTPError) in
            guard let kind = StreamSchedulerKind(optionValue: value) else {
                throw SCTPError(.invalidArgument, "SCTP_STREAM_SCHEDULER: no scheduler \(value) (0...6)")
            }
            try typed.write!(socket, kind, association)
        })
    }
}
