import NIOCore
import SCTPWire

extension SCTPEndpoint {
    // MARK: User calls

    /// Starts an association to a peer reachable at `addresses` (the seed's `sctp_connectx`):
    /// INIT goes to the first address and each T1 expiry moves to the next, round robin.
    /// Returns at once with the association's id; `communicationUp` or `cannotStart` follows.
    public func connect(to addresses: [IPAddress], port: UInt16, now: SCTPInstant) throws(CoreError) -> AssociationID {
        guard !addresses.isEmpty else { throw .invalidAddresses("no address given") }
        guard port != 0 else { throw .invalidAddresses("port 0") }
        let limit = configuration.peerAddressLimit
        guard addresses.count <= limit || Set(addresses).count <= limit else {
            throw .invalidAddresses("more than \(limit) peer addresses (maxPeerAddresses)")
        }
        var unique: [IPAddress] = []
        unique.reserveCapacity(addresses.count)
        if addresses.count <= 16 {
            for address in addresses where !unique.contains(address) { unique.append(address) }
        } else {
            var seen = Set<IPAddress>(minimumCapacity: addresses.count)
            for address in addresses where seen.insert(address).inserted { unique.append(address) }
        }
        for address in unique {
            if let id = associations.id(peer: address, port: port), associations[id]?.isClosed == false {
                throw .alreadyConnected(id)
            }
        }
        guard associations.count < configuration.maxAssociations else { throw .tooManyAssociations }
        let localTag = newLocalTag()
        let initialTSN = TSN(random.next32())
        let association = Association(
            id: newAssociationID(), configuration: sharedAssociationConfiguration, localPort: localPort, peerPort: port,
            localAddresses: localAddresses, localTag: localTag, initialTSN: initialTSN,
            randomSeed: UInt64(random.next32()) << 32 | UInt64(random.next32()))
        // The INIT, written straight into its datagram: our parameters as bytes prepared once
        // per configuration, then AUTH's (RANDOM per association, the lists prepared); the
        // bytes `SCTPPacket` would make of the same chunk, with tag 0 and a CRC32c.
        let prepared = localInitParameterSets().initiationBytes
        let authLength: Int = configuration.announcesAuthentication ? AuthKeyVector.maximumLength + 8 : 0
        var writer = InitPacketWriter(
            header: CommonHeader(sourcePort: localPort, destinationPort: port, verificationTag: 0),
            chunkType: InitChunk.chunkType, initiateTag: localTag,
            advertisedReceiverWindowCredit: UInt32(clamping: associationConfiguration.receiveBufferSize),
            outboundStreams: configuration.outboundStreams, inboundStreams: configuration.maxInboundStreams,
            initialTSN: initialTSN, capacity: CommonHeader.size + 20 + prepared.readableBytes + authLength)
        writer.appendPrepared(prepared)
        if configuration.announcesAuthentication {
            let vector = newLocalAuthVector()
            association.authentication = AuthenticationState(local: vector)
            appendLocalAuthParameters(vector, to: &writer)
        }
        association.connect(to: unique, initPacket: writer.finish(checksum: .crc32c), now: now)
        register(association)
        return association.id
    }

    /// Queues a user message on an association and sends what the windows allow.
    public func send(_ message: consuming OutgoingMessage, on id: AssociationID, now: SCTPInstant) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        try association.send(message, now: now)
        markPending(association)
    }

    /// Starts a graceful shutdown (§9.2).
    public func shutdown(_ id: AssociationID, now: SCTPInstant) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        association.beginShutdown(now: now)
        markPending(association)
    }

    /// Aborts an association (§9.1), with an optional reason for the peer.
    public func abort(_ id: AssociationID, reason: ByteBuffer? = nil, now: SCTPInstant) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        let causes: [ErrorCause] = reason.map { [.userInitiatedAbort(UserInitiatedAbortCause(bytes: $0))] } ?? []
        association.abort(causes: causes, reason: .userAborted, now: now)
        markPending(association)
    }

    /// The application has read `bytes` of data delivered on an association: its receive
    /// window reopens (and a window-update SACK goes out when it grew enough). Until data is
    /// consumed it counts against the window the peer sees, which is what stops a fast
    /// sender from overrunning a slow reader.
    public func consumed(bytes: Int, on id: AssociationID, now: SCTPInstant) {
        guard let association = association(id), !association.isClosed else { return }
        association.consumed(bytes: bytes, now: now)
        markPending(association)
    }

    // MARK: Stream reconfiguration (RFC 6525)

    /// Resets streams of an association (`SCTP_RESET_STREAMS`): our outgoing ones, and/or
    /// asks the peer to reset its outgoing ones (our incoming); empty `streams` means all.
    /// Messages sent meanwhile on a stream being reset wait and then start at SSN 0. The
    /// outcome arrives as `SCTPEvent.streamReset`.
    ///
    /// Throws `reconfigurationNotSupported` when either side lacks RE-CONFIG,
    /// `invalidReconfiguration` for streams that do not exist or an association that is not
    /// established, `reconfigurationBusy` when too many requests wait.
    public func resetStreams(_ streams: [UInt16], direction: StreamResetDirection, on id: AssociationID,
                             now: SCTPInstant) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        try association.requestStreamReset(streams, direction: direction, now: now)
        markPending(association)
    }

    /// Resets the association's TSNs and all SSNs both ways (`SCTP_RESET_ASSOC`); the outcome
    /// arrives as `SCTPEvent.associationReset`.
    public func resetAssociation(_ id: AssociationID, now: SCTPInstant) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        try association.requestAssociationReset(now: now)
        markPending(association)
    }

    /// Adds outgoing streams and/or asks the peer for more incoming ones (`SCTP_ADD_STREAMS`);
    /// the outcome arrives as `SCTPEvent.streamChange`.
    public func addStreams(outgoing: UInt16, incoming: UInt16, on id: AssociationID, now: SCTPInstant) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        try association.requestAddStreams(outgoing: outgoing, incoming: incoming, now: now)
        markPending(association)
    }

    /// Which of the peer's reconfiguration requests an association performs
    /// (`SCTP_ENABLE_STREAM_RESET` on a live association).
    public func setStreamResetPermissions(_ permissions: StreamResetPermissions, on id: AssociationID) throws(CoreError) {
        guard let association = association(id), !association.isClosed else { throw .unknownAssociation }
        association.setStreamResetPermissions(permissions)
    }

    /// Whether stream reconfiguration is in use on an association: both sides announced
    /// RE-CONFIG (`SCTP_RECONFIG_SUPPORTED` of a live association). `nil` for an unknown one.
    public func isReconfigurationSupported(on id: AssociationID) -> Bool? {
        guard let association = association(id) else { return nil }
        return association.reconfig != nil
    }
}
