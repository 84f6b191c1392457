import NIOCore
import SCTPWire

/// Dynamic address reconfiguration (RFC 5061): our requests (add or delete one of our
/// addresses, ask the peer to change its primary path), sent one ASCONF at a time on their own
/// retransmission timer, and the peer's, answered by serial number (a retransmitted ASCONF
/// gets the same ASCONF-ACK again).
///
/// AUTH seam: RFC 5061 §4.1.1 requires ASCONF and ASCONF-ACK to be authenticated (RFC 4895).
/// The receive loop passes `chunkAuthenticated` (an AUTH chunk earlier in the packet covered
/// the chunk); an unauthenticated one is discarded unless the configuration says
/// `acceptsUnauthenticatedAddressChanges` (tests, closed networks).
extension Association {
    // MARK: Setup

    /// Called when data transfer starts: ASCONF is on when both sides announced it.
    func startAddressReconfiguration(peerInitialTSN: TSN) {
        // RFC 5061 §4.1.1: ASCONF only with AUTH in use (or the testing flag that accepts
        // unauthenticated address changes).
        // The peer must also list ASCONF and ASCONF-ACK in its CHUNKS: we authenticate only the
        // types it lists, and a compliant peer drops the others (RFC 5061 §4.1.1).
        let authenticated = (authenticationNegotiated && peerRequiresAuthentication(ChunkType.asconf)
                             && peerRequiresAuthentication(ChunkType.asconfAck))
            || configuration.acceptsUnauthenticatedAddressChanges
        addressReconfig = configuration.addressReconfiguration && peerSupportsAddressReconfiguration && authenticated
            ? AddressReconfigurationState(localInitialTSN: nextTSN, peerInitialTSN: peerInitialTSN)
            : nil
    }

    /// Whether an ASCONF or ASCONF-ACK may be processed (the AUTH seam).
    private func acceptsAddressChange(chunkAuthenticated: Bool) -> Bool {
        chunkAuthenticated || configuration.acceptsUnauthenticatedAddressChanges
    }

    // MARK: User requests

    /// Queues a request of ours. Adding an address the peer knows, or deleting one it does not,
    /// does nothing. A delete must leave an address; Set Primary names one of ours.
    func requestAddressChange(_ request: AddressReconfigurationState.Request, now: SCTPInstant) throws(CoreError) {
        if let planned = try planAddressChanges([request]) { commitAddressChanges(planned, now: now) }
    }

    /// The address reconfiguration state with `requests` queued in order, the association
    /// left as it is: `nil` when none of them needs sending. Throws what the first request
    /// the association cannot take would (nothing queued then): `addressReconfigurationBusy`
    /// when the queue has no room for all of them now, `invalidAddressChange` when they are
    /// more than it ever holds.
    func planAddressChanges(_ requests: [AddressReconfigurationState.Request]) throws(CoreError) -> AddressReconfigurationState? {
        guard var rc = addressReconfig else { throw .addressReconfigurationNotSupported }
        guard state == .established else { throw .invalidAddressChange("the association is not established") }
        let queued = rc.pending.count
        for request in requests {
            // §5.3: a request type the peer did not understand is not sent again.
            if rc.unrecognizedRequestTypes.contains(request.parameterType) { throw .addressReconfigurationNotSupported }
            let deleting = rc.deleting
            let adding = rc.adding
            let known = localAddresses.filter { !deleting.contains($0) } + adding
            switch request {
            case .add(let address):
                guard !address.isWildcard else { throw .invalidAddressChange("the wildcard address") }
                if known.contains(address) { continue }
            case .delete(let address):
                guard known.contains(address) else { continue }
                guard known.contains(where: { $0 != address }) else {
                    throw .invalidAddressChange("\(address) is the association's last address")
                }
            case .setPrimary(let address):
                guard known.contains(address) else { throw .addressNotAvailable(address) }
            }
            rc.pending.append(request)
        }
        let limit = AddressReconfigurationState.maxPendingRequests
        if rc.pending.count - queued > limit {
            throw .invalidAddressChange("\(rc.pending.count - queued) address changes at once; at most \(limit) wait")
        }
        guard rc.pending.count <= limit else { throw .addressReconfigurationBusy }
        return rc.pending.count == queued ? nil : rc
    }

    /// Takes the state `planAddressChanges` returned: its requests go with the next ASCONF.
    func commitAddressChanges(_ planned: AddressReconfigurationState, now: SCTPInstant) {
        addressReconfig = planned
        updatePinnedSourceAddresses()
        transmitOwed = max(transmitOwed ?? now, now)
    }

    /// Our addresses packets may leave from while our address set changes: those the peer
    /// knows, less those being deleted (a deleted address stops being a source at once, the
    /// paths move to another; an added one is used once the peer acknowledged it).
    /// Addresses the endpoint gave up (`withdrawnSourceAddresses`) are never sources. `nil`
    /// (the driver's choice) while nothing changed.
    func updatePinnedSourceAddresses() {
        guard addressReconfig != nil || !withdrawnSourceAddresses.isEmpty else {
            pinnedSourceAddresses = nil
            return
        }
        let deleting = addressReconfig?.deleting ?? []
        pinnedSourceAddresses = localAddresses.filter { !deleting.contains($0) && !withdrawnSourceAddresses.contains($0) }
    }

    /// The source for a packet to `destination` when the association pins its sources; `nil`
    /// leaves the choice to the driver.
    func sourceAddress(toward destination: IPAddress) -> IPAddress? {
        pinnedSourceAddresses?.first { $0.isSameFamily(as: destination) }
    }

    // MARK: Sending

    /// Sends the next ASCONF when none is in flight: up to `maxRequestsPerChunk` queued
    /// requests, to the primary path, with the Address Parameter naming an address of ours
    /// the peer knows and that stays (§5.1).
    func sendPendingAddressReconfiguration(now: SCTPInstant) {
        // Requests made while established still go once a shutdown began: the peer processes
        // ASCONF until its SHUTDOWN ACK, and must learn of an address we stopped using.
        switch state {
        case .established, .shutdownPending, .shutdownReceived, .shutdownSent: break
        default: return
        }
        guard var rc = addressReconfig, rc.inFlight == nil, !rc.pending.isEmpty,
              paths.indices.contains(primaryPath) else { return }
        let count = min(rc.pending.count, AddressReconfigurationState.maxRequestsPerChunk)
        let batch = Array(rc.pending.prefix(count))
        rc.pending.removeFirst(count)
        var parameters: [Parameter] = []
        var requests: [(correlationID: UInt32, request: AddressReconfigurationState.Request)] = []
        for request in batch {
            let correlationID = rc.nextCorrelationID
            rc.nextCorrelationID &+= 1
            requests.append((correlationID, request))
            switch request {
            case .add(let address):
                parameters.append(.addIPAddress(AddIPAddressParameter(correlationID: correlationID, address: address)))
            case .delete(let address):
                parameters.append(.deleteIPAddress(DeleteIPAddressParameter(correlationID: correlationID, address: address)))
            case .setPrimary(let address):
                parameters.append(.setPrimaryAddress(SetPrimaryAddressParameter(correlationID: correlationID, address: address)))
            }
        }
        let deleted = Set(rc.deleting + batch.compactMap { if case .delete(let a) = $0 { a } else { nil } })
        let destination = paths[primaryPath].address
        let lookup = localAddresses.first { !deleted.contains($0) && $0.isSameFamily(as: destination) }
            ?? localAddresses.first { !deleted.contains($0) }
            ?? localAddresses.first
            ?? (destination.isSameFamily(as: .v4(IPv4Address(rawValue: 0))) ? .v4(IPv4Address(rawValue: 0)) : .v6(IPv6Address(high: 0, low: 0)))
        let chunk = ASCONFChunk(serialNumber: rc.nextSerialNumber, address: lookup, parameters: ParameterList(parameters))
        rc.inFlight = .init(serialNumber: rc.nextSerialNumber, chunk: chunk, requests: requests, path: primaryPath)
        rc.nextSerialNumber &+= 1
        addressReconfig = rc
        updatePinnedSourceAddresses()
        queueControl(.asconf(chunk))
        timers[.addressReconfiguration] = now + paths[primaryPath].rto.rto
    }

    /// The ASCONF timer expired (§5.1 B): the same ASCONF goes again, to another path if
    /// there is one, with the RTO backed off and an error counted, as T3-rtx does; too many
    /// end the association.
    func addressReconfigurationTimerExpired(now: SCTPInstant) {
        timers[.addressReconfiguration] = nil
        guard let inFlight = addressReconfig?.inFlight, paths.indices.contains(inFlight.path) else { return }
        let path = inFlight.path
        paths[path].rto.backOff()
        recordError(path: path, now: now)
        guard state != .closed else { return }
        let next = alternatePath(to: path)
        addressReconfig?.inFlight?.path = next
        sendControl([.asconf(inFlight.chunk)], to: next)
        timers[.addressReconfiguration] = now + paths[next].rto.rto
    }

    /// The association ends: requests not answered are dropped.
    func abandonAddressReconfiguration() {
        guard addressReconfig?.inFlight != nil || addressReconfig?.pending.isEmpty == false else { return }
        addressReconfig?.inFlight = nil
        addressReconfig?.pending = []
    }

    // MARK: ASCONF-ACK

    /// The peer's answer to our ASCONF (§5.3). One for a serial number we have not sent yet
    /// ends the association with ABORT, "Association Aborted Due to Illegal ASCONF-ACK"
    /// (§5.3 F0, §4.3.4); one for an earlier serial number is discarded.
    /// A request with an Error Cause Indication failed; one without an answer succeeded,
    /// unless it comes after a failed one, which then fails too unless a Success Indication
    /// names it (§5.3).
    func handleASCONFAck(_ ack: ASCONFAckChunk, chunkAuthenticated: Bool, now: SCTPInstant) {
        guard acceptsAddressChange(chunkAuthenticated: chunkAuthenticated), let rc = addressReconfig else { return }
        guard let inFlight = rc.inFlight, ack.serialNumber == inFlight.serialNumber else {
            if rc.isAhead(ack.serialNumber) {
                abort(causes: [.illegalASCONFAck(IllegalASCONFAckCause())],
                      reason: .protocolViolation("an ASCONF-ACK for serial number \(ack.serialNumber), not sent yet"), now: now)
            }
            return
        }
        timers[.addressReconfiguration] = nil
        addressReconfig?.inFlight = nil
        associationErrorCount = 0
        var answers: [UInt32: ErrorCause?] = [:]
        for parameter in ack.parameters.parameters.prefix(2 * AddressReconfigurationState.maxRequestsPerChunk) {
            switch parameter {
            case .successIndication(let success):
                answers[success.correlationID] = .some(nil)
            case .errorCauseIndication(let failure):
                answers[failure.correlationID] = .some(failure.causes.first ?? .outOfResource(OutOfResourceCause()))
                for case .unrecognizedParameters(let cause) in failure.causes {
                    addressReconfig?.unrecognizedRequestTypes.formUnion(Self.requestTypes(in: cause))
                }
            default:
                continue
            }
        }
        var afterFailure = false
        var outcomes: [AddressChangeOutcome] = []
        for (correlationID, request) in inFlight.requests {
            let cause: ErrorCause?
            if let answer = answers[correlationID] {
                cause = answer
                if cause != nil { afterFailure = true }
            } else {
                cause = afterFailure ? .outOfResource(OutOfResourceCause()) : nil
            }
            outcomes.append(AddressChangeOutcome(request: request, failure: cause))
            guard cause == nil else { continue }
            switch request {
            case .add(let address):
                if !localAddresses.contains(address) { localAddresses.append(address) }
            case .delete(let address):
                localAddresses.removeAll { $0 == address }
            case .setPrimary:
                break
            }
        }
        // §5.3: requests of a type the peer does not understand, still waiting, fail now.
        if let refused = addressReconfig?.unrecognizedRequestTypes, !refused.isEmpty {
            let dropped = addressReconfig?.pending.filter { refused.contains($0.parameterType) } ?? []
            addressReconfig?.pending.removeAll { refused.contains($0.parameterType) }
            outcomes += dropped.map { AddressChangeOutcome(request: $0, failure: .unrecognizedParameters(UnrecognizedParametersCause(bytes: ByteBuffer()))) }
        }
        addressChangeOutcomes.append(contentsOf: outcomes)
        if addressChangeOutcomes.count > Self.maxAddressChangeOutcomes {
            addressChangeOutcomes.removeFirst(addressChangeOutcomes.count - Self.maxAddressChangeOutcomes)
        }
        updatePinnedSourceAddresses()
        transmitOwed = max(transmitOwed ?? now, now)
    }

    /// How many answered requests of ours `addressChangeOutcomes` keeps.
    static let maxAddressChangeOutcomes = 64

    /// The request parameter types (Add IP Address, Delete IP Address, Set Primary Address)
    /// among the parameters an "Unrecognized Parameters" cause lists. Reads at most 16
    /// parameter headers, each length bounded by what is left.
    static func requestTypes(in cause: UnrecognizedParametersCause) -> Set<UInt16> {
        let requestTypes: Set<UInt16> = [AddIPAddressParameter.parameterType, DeleteIPAddressParameter.parameterType,
                                         SetPrimaryAddressParameter.parameterType]
        var bytes = cause.bytes
        var found: Set<UInt16> = []
        for _ in 0..<16 {
            guard let type = bytes.readInteger(as: UInt16.self), let length = bytes.readInteger(as: UInt16.self),
                  length >= 4 else { break }
            if requestTypes.contains(type) { found.insert(type) }
            let rest = (Int(length) - 4 + 3) & ~3
            guard bytes.readableBytes >= rest else { break }
            bytes.moveReaderIndex(forwardBy: rest)
        }
        return found
    }

    /// The peer reported that it does not recognize the ASCONF chunk (RFC 5061 §5.1 A9): no
    /// ASCONF is sent again and T-4 stops; what was asked and not answered fails.
    func peerRefusesAddressReconfiguration() {
        guard let rc = addressReconfig else { return }
        timers[.addressReconfiguration] = nil
        let unanswered = (rc.inFlight?.requests.map(\.request) ?? []) + rc.pending
        addressReconfig = nil
        let cause = ErrorCause.unrecognizedChunkType(UnrecognizedChunkTypeCause(bytes: ByteBuffer()))
        addressChangeOutcomes.append(contentsOf: unanswered.map { AddressChangeOutcome(request: $0, failure: cause) })
        if addressChangeOutcomes.count > Self.maxAddressChangeOutcomes {
            addressChangeOutcomes.removeFirst(addressChangeOutcomes.count - Self.maxAddressChangeOutcomes)
        }
        updatePinnedSourceAddresses()
    }

    // MARK: ASCONF

    /// An ASCONF from the peer (§5.2). The expected serial number is processed and answered;
    /// one processed before is answered again from the cache (§5.2 E2); any other is
    /// discarded. The ASCONF-ACK goes to where the ASCONF came from and fits one packet of the
    /// path MTU (`answerRoom`). Returns the peer's addresses from before when its paths
    /// changed (the endpoint indexes the association by them).
    func handleASCONF(_ chunk: ASCONFChunk, from source: IPAddress, chunkAuthenticated: Bool,
                      now: SCTPInstant) -> [IPAddress]? {
        guard acceptsAddressChange(chunkAuthenticated: chunkAuthenticated) else { return nil }
        switch state {
        case .established, .shutdownPending, .shutdownSent, .shutdownReceived: break
        default: return nil
        }
        guard let rc = addressReconfig else { return nil }
        guard chunk.serialNumber == rc.peerSerialNumber &+ 1 else {
            // E2: the cached answer again, once per packet; none when it is no longer kept
            // (or never was: E5, a serial number ahead of the expected one).
            if let answer = rc.cachedAnswer(serialNumber: chunk.serialNumber),
               !rc.answersRepeatedThisPacket.contains(chunk.serialNumber) {
                addressReconfig?.answersRepeatedThisPacket.append(chunk.serialNumber)
                sendASCONFAck(answer, to: source)
            }
            return nil
        }
        let before = paths.map(\.address)
        let responses = performRequests(of: chunk, from: source, room: answerRoom(toward: source), now: now)
        let answer = ASCONFAckChunk(serialNumber: chunk.serialNumber, parameters: ParameterList(responses))
        addressReconfig?.peerSerialNumber = chunk.serialNumber
        addressReconfig?.cache(answer)
        sendASCONFAck(answer, to: source)
        let after = paths.map(\.address)
        return after == before ? nil : before
    }

    /// Performs the requests of an ASCONF in order (§5.2 V1) and returns the answers, in at
    /// most `room` bytes. A failed request gets an Error Cause Indication; after the first
    /// failure, a request that succeeded gets a Success Indication (a request without an
    /// answer after a failure counts as failed, §5.3). An unrecognised parameter is handled
    /// by its type's top bits (§5.2 V2, RFC 9260 §3.2.1): reported in an Error Cause
    /// Indication with "Unrecognized Parameters", and processing stops or goes on.
    ///
    /// Requests beyond `maxRequestsProcessed`, or whose answer might not leave room to refuse
    /// the next request, are not performed: the first of them is refused with "Operation
    /// Refused Due to Resource Shortage" and the rest are left unanswered, so that they count
    /// as failed. Room for that refusal is kept at every step.
    private func performRequests(of chunk: ASCONFChunk, from source: IPAddress, room: Int, now: SCTPInstant) -> [Parameter] {
        let parameters = chunk.parameters.parameters
        let limit = AddressReconfigurationState.maxRequestsProcessed
        // The requests that may be reached (one past the limit), each with its refusal.
        var refusals: [(index: Int, refusal: Parameter, size: Int)] = []
        for (index, parameter) in parameters.enumerated() where refusals.count <= limit {
            guard let id = parameter.asconfCorrelationID else { continue }
            let refusal = Parameter.errorCauseIndication(ErrorCauseIndicationParameter(
                correlationID: id, causes: [.resourceShortage(ResourceShortageCause(parameter: parameter))]))
            refusals.append((index, refusal, refusal.paddedSize))
        }
        var responses: [Parameter] = []
        var used = 0
        var failed = false
        var processed = 0
        var next = 0  // the first entry of `refusals` at or after the parameter being handled
        for (index, parameter) in parameters.enumerated() {
            while next < refusals.count && refusals[next].index < index { next += 1 }
            if let correlationID = parameter.asconfCorrelationID {
                // Its answer takes at most its refusal's size (every cause carries the request).
                guard next < refusals.count else { return responses }
                let reserve = next + 1 < refusals.count ? refusals[next + 1].size : 0
                guard processed < limit, used + refusals[next].size + reserve <= room else {
                    if used + refusals[next].size <= room { responses.append(refusals[next].refusal) }
                    return responses
                }
                let cause: ErrorCause?
                switch parameter {
                case .addIPAddress(let request):
                    cause = addPeerAddress(request.address, parameter: parameter, source: source, now: now)
                case .deleteIPAddress(let request):
                    cause = deletePeerAddress(request.address, parameter: parameter, source: source, now: now)
                case .setPrimaryAddress(let request):
                    cause = setPeerPrimary(request.address, parameter: parameter, source: source)
                default:
                    continue
                }
                processed += 1
                let response: Parameter
                if let cause {
                    failed = true
                    response = .errorCauseIndication(ErrorCauseIndicationParameter(correlationID: correlationID, causes: [cause]))
                } else if failed {
                    response = .successIndication(SuccessIndicationParameter(correlationID: correlationID))
                } else {
                    continue
                }
                responses.append(response)
                used += response.paddedSize
            } else if case .unknown(let unknown) = parameter {
                if unknown.action.reports && processed < limit {
                    let report = Parameter.errorCauseIndication(ErrorCauseIndicationParameter(
                        correlationID: unknown.asconfCorrelationID,
                        causes: [.unrecognizedParameters(UnrecognizedParametersCause(parameters: [unknown]))]))
                    let size = report.paddedSize
                    // Reported when the refusal of the next request still fits after it.
                    let reserve = next < refusals.count ? refusals[next].size : 0
                    if used + size + reserve <= room {
                        responses.append(report)
                        used += size
                        processed += 1
                        failed = true
                    }
                }
                guard unknown.action.continues else { return responses }
            }
            // Anything else (Adaptation Layer Indication, answers, which are not valid here): skipped.
        }
        return responses
    }

    /// Bytes the parameters of an ASCONF-ACK to `destination` may take: a packet of the MTU of
    /// the path it goes on (the primary's when `destination` is not a path, and no more than a
    /// new path's, the ASCONF may add it) less the common header, an AUTH chunk when the peer
    /// wants ASCONF-ACK authenticated, and the chunk's header with its serial number.
    func answerRoom(toward destination: IPAddress) -> Int {
        let mtu: Int
        if let index = pathIndex(for: destination) {
            mtu = paths[index].mtu
        } else {
            let newPath = PathMTUProber(settings: configuration.pathMTUDiscovery, fixedMTU: configuration.pathMTU).plpmtu
            mtu = paths.indices.contains(primaryPath) ? min(paths[primaryPath].mtu, newPath) : newPath
        }
        var overhead = CommonHeader.size + 8  // the ASCONF-ACK's chunk header and serial number
        if let authenticator = packetAuthenticator(), authenticator.chunks.contains(ChunkType.asconfAck) {
            overhead += authenticator.chunkSize
        }
        return mtu - overhead
    }

    /// Sends an ASCONF-ACK to where the ASCONF came from (§5.2), which need not be one of the
    /// peer's addresses (an ASCONF adding its source address whose add failed).
    private func sendASCONFAck(_ ack: ASCONFAckChunk, to destination: IPAddress) {
        if let index = pathIndex(for: destination) {
            sendControl([.asconfAck(ack)], to: index)
            return
        }
        guard paths.indices.contains(primaryPath) else { return }
        var builder = PacketBuilder(header: commonHeader, mtu: paths[primaryPath].mtu, destination: destination,
                                    checksum: checksumMode)
        builder.source = sourceAddress(toward: destination)
        builder.authenticator = packetAuthenticator()
        builder.add(.asconfAck(ack))
        finishPackets(&builder)
    }

    /// Add IP Address (§4.2.1, §5.2): a new path, unconfirmed until a heartbeat answers
    /// (probed at once). The wildcard address adds the packet's source.
    private func addPeerAddress(_ requested: IPAddress, parameter: Parameter, source: IPAddress,
                                now: SCTPInstant) -> ErrorCause? {
        let address = requested.isWildcard ? source : requested
        if pathIndex(for: address) != nil { return nil }
        // An address we cannot send to: of a family we have none of, multicast or broadcast.
        guard localAddresses.contains(where: { $0.isSameFamily(as: address) }), address.isUnicast else {
            return .unresolvableAddress(UnresolvableAddressCause(parameter: parameter))
        }
        // A usable address we refuse: one of ours, or one another association of ours uses
        // ("Request Refused - No Authorization", §4.3.5: refused by policy, not unresolvable).
        guard !localAddresses.contains(address), !peerAddressOwnedElsewhere(address) else {
            return .noAuthorization(NoAuthorizationCause(parameter: parameter))
        }
        guard paths.count < configuration.peerAddressLimit else {
            return .resourceShortage(ResourceShortageCause(parameter: parameter))
        }
        var path = PeerPath(address: address, state: .unconfirmed, configuration: configuration, rto: sharedConfiguration.initialRTO)
        path.resetCongestion(peerReceiverWindow: tx.lastPeerWindow)
        paths.append(path)
        let added = paths.count - 1
        // Verified at once (RFC 9260 §5.4): a peer adds an address to use it (it often asks for
        // it as primary next), and it carries no DATA until a heartbeat confirms it. Only when
        // it is the one unconfirmed path, so that a peer adding many (or deleting and adding
        // again) draws at most one immediate heartbeat; the others wait an RTO as usual.
        let othersUnconfirmed = paths.indices.contains { $0 != added && paths[$0].state == .unconfirmed }
        scheduleHeartbeat(path: added, now: now)
        if configuration.heartbeatInterval != nil && !othersUnconfirmed { paths[added].heartbeatDeadline = now }
        restartPathMTUDiscovery(path: added, now: now)
        events.append(.peerAddressReconfigured(id, address, .added))
        return nil
    }

    /// Delete IP Address (§4.2.2, §5.2): the path goes, not the last one, not the one the
    /// ASCONF came from. Deleting an address the association does not have succeeds. The
    /// wildcard address deletes every address but the packet's source.
    private func deletePeerAddress(_ requested: IPAddress, parameter: Parameter, source: IPAddress,
                                   now: SCTPInstant) -> ErrorCause? {
        if requested.isWildcard {
            guard pathIndex(for: source) != nil else {
                return .unresolvableAddress(UnresolvableAddressCause(parameter: parameter))
            }
            for address in paths.map(\.address) where address != source { removePeerPath(address, now: now) }
            return nil
        }
        if requested == source { return .deleteSourceAddress(DeleteSourceAddressCause(parameter: parameter)) }
        guard pathIndex(for: requested) != nil else { return nil }
        guard paths.count > 1 else { return .deleteLastRemainingAddress(DeleteLastRemainingAddressCause(parameter: parameter)) }
        removePeerPath(requested, now: now)
        return nil
    }

    /// Set Primary Address (§4.2.4, §5.2): data goes to this path from now on (once it is
    /// confirmed and active). The wildcard address names the packet's source.
    private func setPeerPrimary(_ requested: IPAddress, parameter: Parameter, source: IPAddress) -> ErrorCause? {
        let address = requested.isWildcard ? source : requested
        guard let index = pathIndex(for: address) else {
            return .unresolvableAddress(UnresolvableAddressCause(parameter: parameter))
        }
        configuredPrimaryPath = index
        primaryPath = preferredPath()
        events.append(.peerAddressReconfigured(id, address, .madePrimary))
        return nil
    }

    /// Removes the path to `address`: its chunks in flight go again on another path, the
    /// path indices after it move down by one everywhere they are kept.
    func removePeerPath(_ address: IPAddress, now: SCTPInstant) {
        guard let index = pathIndex(for: address), paths.count > 1 else { return }
        func shifted(_ value: Int) -> Int? { value == index ? nil : (value > index ? value - 1 : value) }
        tx.outstanding.removePath(PathID(index))
        let wasCarryingData = index == primaryPath
        let removedT3 = paths[index].t3Deadline
        paths.remove(at: index)
        configuredPrimaryPath = shifted(configuredPrimaryPath) ?? 0
        primaryPath = shifted(primaryPath) ?? preferredPath()
        if !paths[primaryPath].isUsable { primaryPath = preferredPath() }
        if let path = reconfig?.inFlightPath { reconfig?.inFlightPath = shifted(path) ?? primaryPath }
        if let path = addressReconfig?.inFlight?.path { addressReconfig?.inFlight?.path = shifted(path) ?? primaryPath }
        if let data = dataSlot.pointer, data.pointee.lastDataSource == address { data.pointee.lastDataSource = nil }
        // The path's T3-rtx goes with it; what is still outstanding (gap-acknowledged chunks,
        // abandoned ones a FORWARD TSN must skip) needs a timer on the path that now carries
        // data, or nothing would ever send it again.
        if !tx.outstanding.isEmpty, !paths.contains(where: { $0.t3Deadline != nil }) {
            paths[primaryPath].t3Deadline = removedT3 ?? now + paths[primaryPath].rto.rto
        }
        if tx.outstanding.hasChunksToRetransmit || wasCarryingData { transmitOwed = max(transmitOwed ?? now, now) }
        events.append(.peerAddressReconfigured(id, address, .removed))
    }
}

/// What became of one of our address reconfiguration requests (kept for inspection:
/// `SCTPEndpoint.addressChangeOutcomes(of:)`).
public struct AddressChangeOutcome: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case add, delete, setPrimary
    }

    public var kind: Kind
    public var address: IPAddress
    /// Why the peer refused it; `nil` when it succeeded.
    public var failure: ErrorCause?

    init(request: AddressReconfigurationState.Request, failure: ErrorCause?) {
        switch request {
        case .add(let address): (kind, self.address) = (.add, address)
        case .delete(let address): (kind, self.address) = (.delete, address)
        case .setPrimary(let address): (kind, self.address) = (.setPrimary, address)
        }
        self.failure = failure
    }
}

extension Parameter {
    /// The correlation id of an ASCONF request parameter.
    var asconfCorrelationID: UInt32? {
        switch self {
        case .addIPAddress(let p): p.correlationID
        case .deleteIPAddress(let p): p.correlationID
        case .setPrimaryAddress(let p): p.correlationID
        default: nil
        }
    }

    /// Bytes the parameter takes in a chunk, its padding included.
    var paddedSize: Int {
        var buffer = ByteBuffer()
        write(to: &buffer)
        return (buffer.readableBytes + 3) & ~3
    }
}

extension UnknownParameter {
    /// The correlation id to report it under in an ASCONF-ACK: its first four bytes, where
    /// every ASCONF request parameter has its correlation id (RFC 5061 §4.2), or 0 when it is
    /// shorter.
    var asconfCorrelationID: UInt32 {
        value.getInteger(at: value.readerIndex, as: UInt32.self) ?? 0
    }
}

extension ResourceShortageCause {
    /// The cause for a request parameter (its TLV, header included).
    init(parameter: Parameter) { self.init(bytes: Self.tlv(parameter)) }
    static func tlv(_ parameter: Parameter) -> ByteBuffer {
        var buffer = ByteBuffer()
        parameter.write(to: &buffer)
        return buffer
    }
}

extension DeleteSourceAddressCause {
    init(parameter: Parameter) { self.init(bytes: ResourceShortageCause.tlv(parameter)) }
}

extension DeleteLastRemainingAddressCause {
    init(parameter: Parameter) { self.init(bytes: ResourceShortageCause.tlv(parameter)) }
}

extension NoAuthorizationCause {
    init(parameter: Parameter) { self.init(bytes: ResourceShortageCause.tlv(parameter)) }
}
