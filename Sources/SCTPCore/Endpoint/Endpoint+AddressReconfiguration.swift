import SCTPWire

extension SCTPEndpoint {
    // MARK: Dynamic address reconfiguration (RFC 5061)

    /// Adds local addresses to the endpoint (`sctp_bindx` with `SCTP_BINDX_ADD_ADDR` on a
    /// bound socket): later associations list them, and with
    /// `SCTPConfiguration.automaticAddressReconfiguration` (`SCTP_AUTO_ASCONF`) every
    /// established association that negotiated ASCONF asks its peer to add them (Add IP
    /// Address). Packets leave from an added address only once the peer acknowledged it.
    ///
    /// All or nothing: when an association cannot queue its requests (more than
    /// `AddressReconfigurationState.maxPendingRequests` would wait), nothing changes and the
    /// call throws `addressReconfigurationBusy` (EWOULDBLOCK: try again once the peer
    /// answered), or `invalidAddressChange` (EINVAL) when the call alone asks for more.
    public func addLocalAddresses(_ addresses: [IPAddress], now: SCTPInstant) throws(CoreError) {
        var added: [IPAddress] = []
        for address in addresses where !localAddresses.contains(address) && !added.contains(address) {
            guard !address.isWildcard else { throw .invalidAddresses("the wildcard address") }
            added.append(address)
        }
        guard !added.isEmpty else { return }
        let plans = try planAutomaticAddressChanges { _ in added.map { .add($0) } }
        localAddresses += added
        removedLocalAddresses.removeAll { added.contains($0) }
        for association in associations.values where !association.isClosed { association.restoreSourceAddresses(added) }
        for (association, planned) in plans {
            association.commitAddressChanges(planned, now: now)
            markPending(association)
        }
    }

    /// Removes local addresses from the endpoint (`sctp_bindx` with `SCTP_BINDX_REM_ADDR`):
    /// no packet leaves from them any more (each association's paths move to another of its
    /// addresses at once), and with `automaticAddressReconfiguration` the associations that
    /// negotiated ASCONF ask their peer to delete them (Delete IP Address). At least one
    /// address must remain (EINVAL). All or nothing, as `addLocalAddresses`.
    public func removeLocalAddresses(_ addresses: [IPAddress], now: SCTPInstant) throws(CoreError) {
        let remaining = localAddresses.filter { !addresses.contains($0) }
        guard !remaining.isEmpty else { throw .invalidAddresses("cannot remove every local address") }
        guard remaining.count != localAddresses.count else { return }
        let removed = localAddresses.filter { addresses.contains($0) }
        let plans = try planAutomaticAddressChanges { association in
            // Before a delete that would leave the association none of its addresses, one of
            // the endpoint's remaining ones is added (the peer learns it first).
            let add: [AddressReconfigurationState.Request] = association.localAddresses.contains(where: remaining.contains)
                ? [] : remaining.prefix(1).map { .add($0) }
            return add + removed.map { .delete($0) }
        }
        localAddresses = remaining
        removedLocalAddresses.removeAll { removed.contains($0) }
        removedLocalAddresses += removed
        if removedLocalAddresses.count > 16 { removedLocalAddresses.removeFirst(removedLocalAddresses.count - 16) }
        for association in associations.values where !association.isClosed {
            if let planned = plans.first(where: { $0.association === association })?.planned {
                association.commitAddressChanges(planned, now: now)
            }
            association.excludeSourceAddresses(removed)
            markPending(association)
        }
    }

    /// With `automaticAddressReconfiguration`, the requests of every established association
    /// that negotiated ASCONF, planned (`Association.planAddressChanges`) before anything
    /// changes: the first association that cannot take its requests makes the call throw.
    private func planAutomaticAddressChanges(
        _ requests: (Association) -> [AddressReconfigurationState.Request]
    ) throws(CoreError) -> [(association: Association, planned: AddressReconfigurationState)] {
        guard configuration.automaticAddressReconfiguration else { return [] }
        var plans: [(association: Association, planned: AddressReconfigurationState)] = []
        for association in associations.values where association.addressReconfig != nil && association.state == .established {
            if let planned = try association.planAddressChanges(requests(association)) { plans.append((association, planned)) }
        }
        return plans
    }

    /// Asks the peer to send to our address `address` (`SCTP_SET_PEER_PRIMARY_ADDR`: Set
    /// Primary Address). `address` must be one of the association's addresses (EADDRNOTAVAIL).
    public func requestPeerPrimaryAddress(_ address: IPAddress, on id: AssociationID, now: SCTPInstant) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        try association.requestAddressChange(.setPrimary(address), now: now)
        markPending(association)
    }

    /// Asks the peer of one association to add or delete one of our addresses, whatever
    /// `automaticAddressReconfiguration` says (`sctp_bindx` aimed at one association). The
    /// address must be one of the endpoint's to be added.
    public func requestAddressChange(adding address: IPAddress, on id: AssociationID, now: SCTPInstant) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        guard localAddresses.contains(address) else { throw .addressNotAvailable(address) }
        try association.requestAddressChange(.add(address), now: now)
        markPending(association)
    }

    /// Asks the peer of one association to delete one of our addresses.
    public func requestAddressChange(deleting address: IPAddress, on id: AssociationID, now: SCTPInstant) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        try association.requestAddressChange(.delete(address), now: now)
        markPending(association)
    }

    /// Our addresses as the peer of an association knows them (`sctp_getladdrs`).
    public func localAddresses(of id: AssociationID) -> [IPAddress] {
        association(id)?.localAddresses ?? []
    }

    /// Whether the association negotiated ASCONF (both sides announced it).
    public func supportsAddressReconfiguration(_ id: AssociationID) -> Bool {
        association(id)?.addressReconfig != nil
    }

    /// What became of the association's latest address change requests, oldest first (at
    /// most 64 are kept).
    public func addressChangeOutcomes(of id: AssociationID) -> [AddressChangeOutcome] {
        association(id)?.addressChangeOutcomes ?? []
    }
}

extension Association {
    /// The endpoint no longer has `removed`: no packet leaves from them (each path moves to
    /// another of the association's addresses, or the driver picks among the endpoint's).
    func excludeSourceAddresses(_ removed: [IPAddress]) {
        for address in removed where !withdrawnSourceAddresses.contains(address) { withdrawnSourceAddresses.append(address) }
        updatePinnedSourceAddresses()
    }

    /// The endpoint has `added` (again).
    func restoreSourceAddresses(_ added: [IPAddress]) {
        guard withdrawnSourceAddresses.contains(where: added.contains) else { return }
        withdrawnSourceAddresses.removeAll { added.contains($0) }
        updatePinnedSourceAddresses()
    }
}
