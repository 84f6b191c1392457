import SCTPWire

extension SCTPEndpoint {
    /// The application has read `bytes` of data delivered on an association: its receive
    /// window reopens (and a window-update SACK goes out when it grew enough). Until data is
    /// consumed it counts against the window the peer sees, which is what stops a fast
    /// sender from overrunning a slow reader.
    public func consumed(bytes: Int, on id: AssociationID, now: SCTPInstant) {
        guard let association = association(id), !association.isClosed else { return }
        association.consumed(bytes: bytes, now: now)
        markPending(association)
    }

    /// The data transfer counters of an association, `nil` once it is gone (an association
    /// that ended is still there until its last event has been polled).
    public func statistics(of id: AssociationID) -> AssociationStatistics? { associations[id]?.statistics }

    /// Bytes of user data queued on an association and not yet sent.
    public func queuedBytes(on id: AssociationID) -> Int? { associations[id]?.queuedBytes }
}
