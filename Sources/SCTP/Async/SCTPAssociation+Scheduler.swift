import SCTPCore

extension SCTPAssociation {
    /// The association's stream scheduler (RFC 8260 §3, `SCTP_STREAM_SCHEDULER`): which
    /// stream's messages go next when several streams have data waiting.
    public func streamScheduler() throws(SCTPError) -> StreamSchedulerKind {
        try socket.getOption(.streamScheduler, association: id)
    }

    /// Switches the stream scheduler. Queued messages stay, each stream's in order.
    ///
    /// ```swift
    /// try association.setStreamScheduler(.priority)
    /// try association.setStreamSchedulerValue(0, stream: 1)    // stream 1 first
    /// try association.setStreamSchedulerValue(9, stream: 2)    // stream 2 when 1 has nothing
    /// ```
    public func setStreamScheduler(_ kind: StreamSchedulerKind) throws(SCTPError) {
        try socket.setOption(.streamScheduler, kind, association: id)
    }

    /// The scheduler value (priority or weight) of an outbound stream
    /// (`SCTP_STREAM_SCHEDULER_VALUE`); 0 unless set. EINVAL for a stream that does not exist.
    public func streamSchedulerValue(stream: UInt16) throws(SCTPError) -> UInt16 {
        try socket.getOption(.streamSchedulerValue(stream: stream), association: id)
    }

    /// Sets the scheduler value of an outbound stream: its priority under `.priority` (lower
    /// goes first), its weight under `.weightedFairQueueing`; kept when the scheduler changes.
    /// EINVAL for a stream that does not exist.
    public func setStreamSchedulerValue(_ value: UInt16, stream: UInt16) throws(SCTPError) {
        try socket.setOption(.streamSchedulerValue(stream: stream), value, association: id)
    }
}
