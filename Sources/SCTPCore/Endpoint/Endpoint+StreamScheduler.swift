extension SCTPEndpoint {
    // MARK: Stream schedulers (RFC 8260 §3, §4.3.2, §4.3.3)

    /// The stream scheduler an association runs (`SCTP_STREAM_SCHEDULER`), `nil` once it is gone.
    public func streamScheduler(of id: AssociationID) -> StreamSchedulerKind? {
        guard let association = association(id), !association.isClosed else { return nil }
        // Until the send queue is made (first use) the configuration names it.
        return association.dataSlot.pointer?.pointee.tx.queue.schedulerKind ?? association.configuration.streamScheduler
    }

    /// Switches an association's stream scheduler (`SCTP_STREAM_SCHEDULER`). Queued messages
    /// stay, each stream's in its order; a message being fragmented is finished first; the
    /// streams' scheduler values stay.
    public func setStreamScheduler(_ kind: StreamSchedulerKind, of id: AssociationID) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        association.configuration.streamScheduler = kind
        association.tx.queue.setScheduler(kind)
        markPending(association)
    }

    /// The scheduler value (priority or weight) of an outbound stream of an association
    /// (`SCTP_STREAM_SCHEDULER_VALUE`); 0 unless set. Throws `invalidStream` for a stream at or
    /// above the association's outbound stream count.
    public func streamSchedulerValue(stream: UInt16, of id: AssociationID) throws(CoreError) -> UInt16 {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        do {
            return try association.tx.queue.schedulerValue(for: stream)
        } catch {
            throw .invalidStream(stream)
        }
    }

    /// Sets the scheduler value of an outbound stream of an association
    /// (`SCTP_STREAM_SCHEDULER_VALUE`): its priority under `.priority` (lower goes first), its
    /// weight under `.weightedFairQueueing` (0 counts as 1); other schedulers keep it for later.
    /// Throws `invalidStream` for a stream at or above the outbound stream count (before the
    /// association is up, the count asked for in INIT).
    public func setStreamSchedulerValue(_ value: UInt16, stream: UInt16, of id: AssociationID) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        do {
            try association.tx.queue.setSchedulerValue(value, for: stream)
        } catch {
            throw .invalidStream(stream)
        }
        markPending(association)
    }
}
