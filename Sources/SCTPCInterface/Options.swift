#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSCTPSocketsAPI
import NIOCore
import SCTP
import SCTPCore
import SystemPackage

// setsockopt / getsockopt / sctp_opt_info. The options this library's C interface has are
// listed in docs/C-LIBRARY.md; any other is ENOPROTOOPT.

extension CLibrary {
    static let eventTypes: [(UInt16, SCTPEventTypes)] = [
        (UInt16(SCTP_ASSOC_CHANGE), .associationChange), (UInt16(SCTP_PEER_ADDR_CHANGE), .peerAddressChange),
        (UInt16(SCTP_SEND_FAILED_EVENT), .sendFailed), (UInt16(SCTP_REMOTE_ERROR), .remoteError),
        (UInt16(SCTP_SHUTDOWN_EVENT), .shutdown), (UInt16(SCTP_PARTIAL_DELIVERY_EVENT), .partialDelivery),
        (UInt16(SCTP_SENDER_DRY_EVENT), .senderDry), (UInt16(SCTP_ADAPTATION_INDICATION), .adaptationIndication),
        (UInt16(SCTP_STREAM_RESET_EVENT), .streamReset), (UInt16(SCTP_ASSOC_RESET_EVENT), .associationReset),
        (UInt16(SCTP_STREAM_CHANGE_EVENT), .streamChange), (UInt16(SCTP_AUTHENTICATION_EVENT), .authentication),
    ]

    static func milliseconds(_ duration: Duration) -> UInt32 {
        UInt32(clamping: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// An option given as `struct sctp_assoc_value` (the association it names, its value) or,
    /// as Linux also takes, a bare 32-bit value for the socket (or its one association).
    static func assocValue(_ socket: SCTPSocket, _ pointer: UnsafeRawPointer?, _ length: socklen_t) throws(SCTPError)
        -> (AssociationID?, UInt32) {
        if Int(length) == MemoryLayout<UInt32>.size { return (nil, try value(pointer, length, as: UInt32.self)) }
        let setting = try value(pointer, length, as: sctp_assoc_value.self)
        return (target(socket, setting.assoc_id), setting.assoc_value)
    }

    /// `struct sctp_assoc_ids`: the count, then as many ids as fit; EINVAL when the buffer
    /// has no room for all of them.
    static func storeAssociationList(_ ids: [AssociationID], _ pointer: UnsafeMutableRawPointer?,
                                     _ length: UnsafeMutablePointer<socklen_t>?) throws(SCTPError) {
        guard let length else { throw SCTPError(.badAddress, "the option length is NULL") }
        try writable(length, MemoryLayout<socklen_t>.size, "the option length")
        let size = MemoryLayout<UInt32>.size + ids.count * MemoryLayout<sctp_assoc_t>.size
        guard Int(length.pointee) >= size else {
            throw SCTPError(.invalidArgument, "an option buffer of \(length.pointee) bytes; \(ids.count) association ids need \(size)")
        }
        try writable(pointer, size, "the option buffer")
        pointer!.storeBytes(of: UInt32(ids.count), as: UInt32.self)
        for (index, id) in ids.enumerated() {
            pointer!.storeBytes(of: cID(id), toByteOffset: MemoryLayout<UInt32>.size + index * MemoryLayout<sctp_assoc_t>.size,
                                as: sctp_assoc_t.self)
        }
        length.pointee = socklen_t(size)
    }

    static func setOption(_ entry: Entry, level: CInt, name: CInt, _ pointer: UnsafeRawPointer?, _ length: socklen_t) throws(SCTPError) {
        // Several options are read, changed and written back: one thread at a time per socket.
        entry.optionLock.lock()
        defer { entry.optionLock.unlock() }
        let socket = entry.socket
        if level == SOL_SOCKET {
            switch name {
            case SO_RCVTIMEO:
                let time = try Self.value(pointer, length, as: timeval.self)
                guard time.tv_sec >= 0, (0..<1_000_000).contains(Int(time.tv_usec)) else {
                    throw SCTPError(Errno.outOfDomain, "SO_RCVTIMEO out of range: \(time.tv_sec) s \(time.tv_usec) µs")
                }
                // Beyond a year is as good as never.
                let seconds = min(Int64(time.tv_sec), 366 * 86_400)
                let timeout = Duration.seconds(seconds) + .microseconds(Int64(time.tv_usec))
                try socket.setOption(.receiveTimeout, timeout == .zero ? nil : timeout)
            case SO_LINGER:
                let setting = try Self.value(pointer, length, as: linger.self)
                try socket.setOption(.linger, setting.l_onoff == 0 ? nil : .seconds(Int64(max(setting.l_linger, 0))))
            case SO_SNDBUF:
                try socket.setOption(.sendBufferSize, Int(try Self.value(pointer, length, as: CInt.self)))
            case SO_RCVBUF:
                try socket.setOption(.receiveBufferSize, Int(try Self.value(pointer, length, as: CInt.self)))
            default:
                throw SCTPError(.protocolNotAvailable, "socket option \(name) is not supported")
            }
            return
        }
        guard level == CInt(IPPROTO_SCTP) else { throw SCTPError(.protocolNotAvailable, "option level \(level) is not IPPROTO_SCTP or SOL_SOCKET") }
        switch name {
        case SCTP_INITMSG:
            let message = try Self.value(pointer, length, as: sctp_initmsg.self)
            var current = try socket.getOption(.initMessage)
            if message.sinit_num_ostreams != 0 { current.outboundStreams = message.sinit_num_ostreams }
            if message.sinit_max_instreams != 0 { current.maxInboundStreams = message.sinit_max_instreams }
            if message.sinit_max_attempts != 0 { current.maxAttempts = Int(message.sinit_max_attempts) }
            if message.sinit_max_init_timeo != 0 { current.maxInitTimeout = Duration.milliseconds(Int64(message.sinit_max_init_timeo)) }
            try socket.setOption(.initMessage, current)
        case SCTP_NODELAY:
            try socket.setOption(.noDelay, try Self.value(pointer, length, as: CInt.self) != 0)
        case SCTP_REUSE_PORT:
            try socket.setOption(.reusePort, try Self.value(pointer, length, as: CInt.self) != 0)
        case SCTP_RTOINFO:
            let info = try Self.value(pointer, length, as: sctp_rtoinfo.self)
            let association = target(socket, info.srto_assoc_id)
            var current = try socket.getOption(.rtoInfo, association: association)
            if info.srto_initial != 0 { current.initial = Duration.milliseconds(Int64(info.srto_initial)) }
            if info.srto_min != 0 { current.minimum = Duration.milliseconds(Int64(info.srto_min)) }
            if info.srto_max != 0 { current.maximum = Duration.milliseconds(Int64(info.srto_max)) }
            try socket.setOption(.rtoInfo, current, association: association)
        case SCTP_EVENT:
            let event = try Self.value(pointer, length, as: sctp_event.self)
            let on = event.se_on != 0
            switch Int32(event.se_type) {
            case SCTP_DATA_IO_EVENT:
                // The receive info with each message (as SCTP_RECVRCVINFO).
                entry.receiveInfo.withLockedValue { $0 = on }
                return
            case SCTP_SEND_FAILED:
                entry.legacySendFailed.withLockedValue { $0 = on }
            case SCTP_SEND_FAILED_EVENT:
                if on { entry.legacySendFailed.withLockedValue { $0 = false } }
            default:
                break
            }
            let kind: SCTPEventTypes
            if Int32(event.se_type) == SCTP_SEND_FAILED {
                kind = .sendFailed
            } else if let known = eventTypes.first(where: { $0.0 == event.se_type })?.1 {
                kind = known
            } else {
                throw SCTPError(.invalidArgument, "event type 0x\(String(event.se_type, radix: 16)) is not one this library reports")
            }
            var subscribed = try socket.getOption(.events)
            if on { subscribed.insert(kind) } else { subscribed.remove(kind) }
            try socket.setOption(.events, subscribed)
        case SCTP_EVENTS:
            // Shorter values (programs built against an older structure) set the kinds they
            // name and leave the others as they are; a longer one is EINVAL.
            guard length > 0, Int(length) <= MemoryLayout<sctp_event_subscribe>.stride else {
                throw SCTPError(.invalidArgument, "an SCTP_EVENTS value of \(length) bytes")
            }
            let count = Int(length)
            try readable(pointer, count, "the option value")
            let bytes = UnsafeRawBufferPointer(start: pointer, count: count)
            // Byte 0, sctp_data_io_event, is the receive info; the others in the structure's order.
            let kinds: [SCTPEventTypes] = [.associationChange, .peerAddressChange, .sendFailed, .remoteError, .shutdown,
                                           .partialDelivery, .adaptationIndication, .authentication, .senderDry, .streamReset,
                                           .associationReset, .streamChange, .sendFailed]
            var subscribed = try socket.getOption(.events)
            // sctp_send_failure_event (byte 3) asks for struct sctp_send_failed, byte 13 for the newer event.
            let legacy = count > 3 && bytes[3] != 0, newer = count > 13 && bytes[13] != 0
            for (index, kind) in kinds.enumerated() where index + 1 < count && kind != .sendFailed {
                if bytes[index + 1] != 0 { subscribed.insert(kind) } else { subscribed.remove(kind) }
            }
            if count > 3 {
                if legacy || newer { subscribed.insert(.sendFailed) } else { subscribed.remove(.sendFailed) }
                entry.legacySendFailed.withLockedValue { $0 = legacy && !newer }
            }
            try socket.setOption(.events, subscribed)
            entry.receiveInfo.withLockedValue { $0 = bytes[0] != 0 }
        case SCTP_RECVRCVINFO:
            let on = try Self.value(pointer, length, as: CInt.self) != 0
            _ = try socket.getOption(.noDelay)  // EBADF on a closed socket, as every option
            entry.receiveInfo.withLockedValue { $0 = on }
        case SCTP_RECVNXTINFO:
            try socket.setOption(.receiveNextInfo, try Self.value(pointer, length, as: CInt.self) != 0)
        case SCTP_DEFAULT_SNDINFO:
            let info = try Self.value(pointer, length, as: sctp_sndinfo.self)
            try socket.setOption(.defaultSendInfo, sendInfo(info, base: socket.getOption(.defaultSendInfo)))
        case SCTP_AUTOCLOSE:
            let seconds = try Self.value(pointer, length, as: CInt.self)
            guard seconds >= 0 else { throw SCTPError(.invalidArgument, "a negative SCTP_AUTOCLOSE") }
            try socket.setOption(.autoClose, seconds == 0 ? nil : .seconds(Int64(seconds)))
        case SCTP_MAXSEG:
            let setting = try Self.value(pointer, length, as: sctp_assoc_value.self)
            try socket.setOption(.maxSegment, Int(setting.assoc_value))
        case SCTP_MAX_BURST:
            let (association, value) = try assocValue(socket, pointer, length)
            try socket.setOption(.maxBurst, Int(value), association: association)
        case SCTP_CONTEXT:
            let (association, value) = try assocValue(socket, pointer, length)
            try socket.setOption(.context, value, association: association)
        case SCTP_PR_SUPPORTED:
            try socket.setOption(.partialReliabilitySupported, try assocValue(socket, pointer, length).1 != 0)
        case SCTP_ECN_SUPPORTED:
            try socket.setOption(.ecnSupported, try assocValue(socket, pointer, length).1 != 0)
        case SCTP_DISABLE_FRAGMENTS:
            try socket.setOption(.disableFragments, try Self.value(pointer, length, as: CInt.self) != 0)
        case SCTP_EXPLICIT_EOR:
            try socket.setOption(.explicitEOR, try Self.value(pointer, length, as: CInt.self) != 0)
        case SCTP_FRAGMENT_INTERLEAVE:
            try socket.setOption(.fragmentInterleave, Int(try Self.value(pointer, length, as: CInt.self)))
        case SCTP_PARTIAL_DELIVERY_POINT:
            try socket.setOption(.partialDeliveryPoint, Int(try Self.value(pointer, length, as: UInt32.self)))
        case SCTP_DELAYED_SACK:
            let info = try Self.value(pointer, length, as: sctp_sack_info.self)
            try socket.setOption(.delayedSack, SCTPSackInfo(delay: .milliseconds(Int64(info.sack_delay)), frequency: Int(info.sack_freq)),
                                 association: target(socket, info.sack_assoc_id))
        case SCTP_DEFAULT_PRINFO:
            let info = try Self.value(pointer, length, as: sctp_default_prinfo.self)
            try socket.setOption(.defaultPRInfo, try partialReliability(policy: info.pr_policy, value: info.pr_value))
        case SCTP_PEER_ADDR_THLDS:
            let thresholds = try Self.value(pointer, length, as: sctp_paddrthlds.self)
            try socket.setOption(.peerAddressThresholds,
                                 SCTPPeerAddressThresholds(pathMaxRetransmissions: Int(thresholds.spt_pathmaxrxt),
                                                           potentiallyFailedMaxRetransmissions: Int(thresholds.spt_pathpfthld)),
                                 association: target(socket, thresholds.spt_assoc_id))
        case SCTP_REMOTE_UDP_ENCAPS_PORT:
            let encapsulation = try Self.value(pointer, length, as: sctp_udpencaps.self)
            try socket.setOption(.remoteUDPEncapsulationPort, encapsulation.sue_port == 0 ? nil : Int(UInt16(bigEndian: encapsulation.sue_port)))
        default:
            throw SCTPError(.protocolNotAvailable, "SCTP option \(name) is not supported")
        }
    }

    static func getOption(_ entry: Entry, level: CInt, name: CInt, _ pointer: UnsafeMutableRawPointer?,
                          _ length: UnsafeMutablePointer<socklen_t>?) throws(SCTPError) {
        let socket = entry.socket
        if level == SOL_SOCKET {
            switch name {
            case SO_RCVTIMEO:
                let timeout = try socket.getOption(.receiveTimeout)
                let microseconds = timeout.map { $0.components.seconds * 1_000_000 + $0.components.attoseconds / 1_000_000_000_000 } ?? 0
                try store(timeval(tv_sec: time_t(microseconds / 1_000_000), tv_usec: suseconds_t(microseconds % 1_000_000)), pointer, length)
            case SO_LINGER:
                let time = try socket.getOption(.linger)
                try store(linger(l_onoff: time == nil ? 0 : 1, l_linger: CInt(clamping: time?.components.seconds ?? 0)), pointer, length)
            case SO_SNDBUF:
                try store(CInt(clamping: try socket.getOption(.sendBufferSize)), pointer, length)
            case SO_RCVBUF:
                try store(CInt(clamping: try socket.getOption(.receiveBufferSize)), pointer, length)
            default:
                throw SCTPError(.protocolNotAvailable, "socket option \(name) is not supported")
            }
            return
        }
        guard level == CInt(IPPROTO_SCTP) else { throw SCTPError(.protocolNotAvailable, "option level \(level) is not IPPROTO_SCTP or SOL_SOCKET") }
        // Options naming an association read it from the caller's value first.
        func requestedAssociation() throws(SCTPError) -> AssociationID? {
            guard let pointer, let length else { return nil }
            try writable(length, MemoryLayout<socklen_t>.size, "the option length")
            guard Int(length.pointee) >= MemoryLayout<sctp_assoc_t>.size else { return nil }
            try readable(pointer, MemoryLayout<sctp_assoc_t>.size, "the option value")
            return target(socket, pointer.loadUnaligned(as: sctp_assoc_t.self))
        }
        switch name {
        case SCTP_INITMSG:
            let message = try socket.getOption(.initMessage)
            try store(sctp_initmsg(sinit_num_ostreams: message.outboundStreams, sinit_max_instreams: message.maxInboundStreams,
                                   sinit_max_attempts: UInt16(clamping: message.maxAttempts),
                                   sinit_max_init_timeo: UInt16(clamping: message.maxInitTimeout.map(milliseconds) ?? 0)), pointer, length)
        case SCTP_NODELAY:
            try store(CInt(try socket.getOption(.noDelay) ? 1 : 0), pointer, length)
        case SCTP_REUSE_PORT:
            try store(CInt(try socket.getOption(.reusePort) ? 1 : 0), pointer, length)
        case SCTP_RTOINFO:
            let association = try requestedAssociation()
            let info = try socket.getOption(.rtoInfo, association: association)
            try store(sctp_rtoinfo(srto_assoc_id: cID(association), srto_initial: milliseconds(info.initial),
                                   srto_max: milliseconds(info.maximum), srto_min: milliseconds(info.minimum)), pointer, length)
        case SCTP_EVENT:
            guard let length else { throw SCTPError(.badAddress, "the option length is NULL") }
            try writable(length, MemoryLayout<socklen_t>.size, "the option length")
            var answer = try Self.value(pointer, length.pointee, as: sctp_event.self)
            switch Int32(answer.se_type) {
            case SCTP_DATA_IO_EVENT:
                answer.se_on = entry.receiveInfo.withLockedValue { $0 } ? 1 : 0
            case SCTP_SEND_FAILED, SCTP_SEND_FAILED_EVENT:
                let legacy = entry.legacySendFailed.withLockedValue { $0 }
                let subscribed = try socket.getOption(.events).contains(.sendFailed)
                answer.se_on = subscribed && legacy == (Int32(answer.se_type) == SCTP_SEND_FAILED) ? 1 : 0
            default:
                guard let kind = eventTypes.first(where: { $0.0 == answer.se_type })?.1 else {
                    throw SCTPError(.invalidArgument, "event type 0x\(String(answer.se_type, radix: 16)) is not one this library reports")
                }
                answer.se_on = try socket.getOption(.events).contains(kind) ? 1 : 0
            }
            try store(answer, pointer, length)
        case SCTP_RECVRCVINFO:
            try store(CInt(entry.receiveInfo.withLockedValue { $0 } ? 1 : 0), pointer, length)
        case SCTP_RECVNXTINFO:
            try store(CInt(try socket.getOption(.receiveNextInfo) ? 1 : 0), pointer, length)
        case SCTP_DEFAULT_SNDINFO:
            try store(cSendInfo(try socket.getOption(.defaultSendInfo)), pointer, length)
        case SCTP_AUTOCLOSE:
            try store(CInt(clamping: try socket.getOption(.autoClose)?.components.seconds ?? 0), pointer, length)
        case SCTP_MAXSEG:
            let association = try requestedAssociation()
            try store(sctp_assoc_value(assoc_id: cID(association), assoc_value: UInt32(clamping: try socket.getOption(.maxSegment))),
                      pointer, length)
        case SCTP_STATUS:
            let association = try requestedAssociation()
            let status = try socket.getOption(.status, association: association)
            let port = (try? socket.getpaddrs(association).first?.port) ?? nil
            try store(cStatus(status, id: association ?? socket.associationIDs.first, peerPort: port ?? 0), pointer, length)
        case SCTP_GET_ASSOC_NUMBER:
            try store(UInt32(socket.associationIDs.count), pointer, length)
        case SCTP_GET_ASSOC_ID_LIST:
            try storeAssociationList(try socket.getOption(.associationIDList), pointer, length)
        case SCTP_MAX_BURST:
            let association = try requestedAssociation()
            try store(sctp_assoc_value(assoc_id: cID(association), assoc_value: UInt32(clamping: try socket.getOption(.maxBurst, association: association))),
                      pointer, length)
        case SCTP_CONTEXT:
            let association = try requestedAssociation()
            try store(sctp_assoc_value(assoc_id: cID(association), assoc_value: try socket.getOption(.context, association: association)),
                      pointer, length)
        case SCTP_PR_SUPPORTED, SCTP_ECN_SUPPORTED:
            let association = try requestedAssociation()
            let on = try socket.getOption(name == SCTP_PR_SUPPORTED ? .partialReliabilitySupported : .ecnSupported, association: association)
            try store(sctp_assoc_value(assoc_id: cID(association), assoc_value: on ? 1 : 0), pointer, length)
        case SCTP_DISABLE_FRAGMENTS:
            try store(CInt(try socket.getOption(.disableFragments) ? 1 : 0), pointer, length)
        case SCTP_EXPLICIT_EOR:
            try store(CInt(try socket.getOption(.explicitEOR) ? 1 : 0), pointer, length)
        case SCTP_FRAGMENT_INTERLEAVE:
            try store(CInt(try socket.getOption(.fragmentInterleave)), pointer, length)
        case SCTP_PARTIAL_DELIVERY_POINT:
            try store(UInt32(clamping: try socket.getOption(.partialDeliveryPoint)), pointer, length)
        case SCTP_DELAYED_SACK:
            let association = try requestedAssociation()
            let info = try socket.getOption(.delayedSack, association: association)
            try store(sctp_sack_info(sack_assoc_id: cID(association), sack_delay: milliseconds(info.delay),
                                     sack_freq: UInt32(clamping: info.frequency)), pointer, length)
        case SCTP_DEFAULT_PRINFO:
            let association = try requestedAssociation()
            var info = sctp_default_prinfo()
            info.pr_assoc_id = cID(association)
            switch try socket.getOption(.defaultPRInfo) {
            case .reliable: info.pr_policy = UInt16(SCTP_PR_SCTP_NONE)
            case .lifetime(let lifetime): (info.pr_policy, info.pr_value) = (UInt16(SCTP_PR_SCTP_TTL), milliseconds(lifetime))
            case .maxRetransmissions(let count): (info.pr_policy, info.pr_value) = (UInt16(SCTP_PR_SCTP_RTX), UInt32(clamping: count))
            }
            try store(info, pointer, length)
        case SCTP_PEER_ADDR_THLDS:
            let association = try requestedAssociation()
            let thresholds = try socket.getOption(.peerAddressThresholds, association: association)
            var value = sctp_paddrthlds()
            value.spt_assoc_id = cID(association)
            value.spt_pathmaxrxt = UInt16(clamping: thresholds.pathMaxRetransmissions)
            value.spt_pathpfthld = UInt16(clamping: thresholds.potentiallyFailedMaxRetransmissions)
            try store(value, pointer, length)
        case SCTP_PR_ASSOC_STATUS, SCTP_PR_STREAM_STATUS:
            guard let length else { throw SCTPError(.badAddress, "the option length is NULL") }
            try writable(length, MemoryLayout<socklen_t>.size, "the option length")
            var status = try Self.value(pointer, length.pointee, as: sctp_prstatus.self)
            let policy: SCTPPRPolicy = switch Int32(status.sprstat_policy) {
            case SCTP_PR_SCTP_TTL: .lifetime
            case SCTP_PR_SCTP_RTX: .retransmissions
            case SCTP_PR_SCTP_ALL: .all
            default: throw SCTPError(.invalidArgument, "sprstat_policy 0x\(String(status.sprstat_policy, radix: 16)) is not TTL, RTX or ALL")
            }
            let association = target(socket, status.sprstat_assoc_id)
            let counts = try socket.getOption(name == SCTP_PR_ASSOC_STATUS
                ? .partialReliabilityAssociationStatus(policy: policy)
                : .partialReliabilityStreamStatus(stream: status.sprstat_sid, policy: policy), association: association)
            status.sprstat_abandoned_unsent = UInt64(counts.abandonedUnsent)
            status.sprstat_abandoned_sent = UInt64(counts.abandonedSent)
            try store(status, pointer, length)
        case SCTP_GET_ASSOC_STATS:
            let association = try requestedAssociation()
            let stats = try socket.getOption(.associationStats, association: association)
            var value = sctp_assoc_stats()
            value.sas_assoc_id = cID(stats.associationID)
            if let address = stats.maxRTOAddress, let port = (try? socket.getpaddrs(association).first?.port) ?? nil,
               let socketAddress = try? address.socketAddress(port: port) {
                withUnsafeMutableBytes(of: &value.sas_obs_rto_ipaddr) { _ = write(socketAddress, to: $0.baseAddress!, capacity: $0.count) }
            }
            value.sas_maxrto = UInt64(milliseconds(stats.maxRTO))
            value.sas_isacks = UInt64(stats.sacksReceived)
            value.sas_opackets = UInt64(stats.packetsSent)
            value.sas_ipackets = UInt64(stats.packetsReceived)
            value.sas_rtxchunks = UInt64(stats.retransmittedChunks)
            value.sas_idupchunks = UInt64(stats.duplicateChunksReceived)
            value.sas_oodchunks = UInt64(stats.dataChunksSent)
            value.sas_iodchunks = UInt64(stats.dataChunksReceived)
            try store(value, pointer, length)
        case SCTP_REMOTE_UDP_ENCAPS_PORT:
            var encapsulation = sctp_udpencaps()
            encapsulation.sue_port = UInt16(clamping: try socket.getOption(.remoteUDPEncapsulationPort) ?? 0).bigEndian
            try store(encapsulation, pointer, length)
        default:
            throw SCTPError(.protocolNotAvailable, "SCTP option \(name) is not supported")
        }
    }

    /// `struct sctp_status`. `sstat_penddata` (DATA chunks received and not yet delivered)
    /// is not tracked: 0.
    static func cStatus(_ status: AssociationStatus, id: AssociationID?, peerPort: Int) -> sctp_status {
        var value = sctp_status()
        value.sstat_assoc_id = cID(id)
        value.sstat_state = switch status.state {
        case .closed: SCTP_CLOSED
        case .cookieWait: SCTP_COOKIE_WAIT
        case .cookieEchoed: SCTP_COOKIE_ECHOED
        case .established: SCTP_ESTABLISHED
        case .shutdownPending: SCTP_SHUTDOWN_PENDING
        case .shutdownSent: SCTP_SHUTDOWN_SENT
        case .shutdownReceived: SCTP_SHUTDOWN_RECEIVED
        case .shutdownAckSent: SCTP_SHUTDOWN_ACK_SENT
        }
        value.sstat_rwnd = UInt32(clamping: status.peerReceiveWindow)
        value.sstat_unackdata = UInt16(clamping: status.unacknowledgedChunks)
        value.sstat_penddata = 0
        value.sstat_instrms = status.inboundStreams
        value.sstat_outstrms = status.outboundStreams
        value.sstat_fragmentation_point = UInt32(clamping: status.fragmentationPoint)
        if let primary = status.primaryAddress, let path = status.paths.first(where: { $0.address == primary }) {
            var info = sctp_paddrinfo()
            info.spinfo_assoc_id = cID(id)
            if let address = try? primary.socketAddress(port: peerPort) {
                withUnsafeMutableBytes(of: &info.spinfo_address) { _ = write(address, to: $0.baseAddress!, capacity: $0.count) }
            }
            info.spinfo_state = switch path.state {
            case .active: SCTP_ACTIVE
            case .potentiallyFailed: SCTP_PF
            case .inactive: SCTP_INACTIVE
            case .unconfirmed: SCTP_UNCONFIRMED
            }
            info.spinfo_cwnd = UInt32(clamping: path.congestionWindow)
            info.spinfo_srtt = path.smoothedRTT.map(milliseconds) ?? 0
            info.spinfo_rto = milliseconds(path.rto)
            info.spinfo_mtu = UInt32(clamping: path.mtu)
            value.sstat_primary = info
        }
        return value
    }
}

@_cdecl("swiftsctp_setsockopt")
public func swiftsctp_setsockopt(_ sd: CInt, _ level: CInt, _ name: CInt, _ value: UnsafeRawPointer?, _ length: socklen_t) -> CInt {
    CLibrary.call(-1) { () throws(SCTPError) -> CInt in
        try CLibrary.setOption(CLibrary.entry(sd), level: level, name: name, value, length)
        return 0
    }
}

@_cdecl("swiftsctp_getsockopt")
public func swiftsctp_getsockopt(_ sd: CInt, _ level: CInt, _ name: CInt, _ value: UnsafeMutableRawPointer?,
                                 _ length: UnsafeMutablePointer<socklen_t>?) -> CInt {
    CLibrary.call(-1) { () throws(SCTPError) -> CInt in
        try CLibrary.getOption(CLibrary.entry(sd), level: level, name: name, value, length)
        return 0
    }
}

/// `sctp_opt_info` (RFC 6458 §9.5): getsockopt for an association, whose id is written into
/// the option value's first field (every structure here starts with it) before the read.
@_cdecl("sctp_opt_info")
public func sctp_opt_info(_ sd: CInt, _ id: sctp_assoc_t, _ option: CInt, _ value: UnsafeMutableRawPointer?,
                          _ size: UnsafeMutablePointer<socklen_t>?) -> CInt {
    CLibrary.call(-1) { () throws(SCTPError) -> CInt in
        let entry = try CLibrary.entry(sd)
        guard let size else { throw SCTPError(.badAddress, "size is NULL") }
        try CLibrary.writable(size, MemoryLayout<socklen_t>.size, "size")
        let withID: Set<CInt> = [SCTP_RTOINFO, SCTP_STATUS, SCTP_MAXSEG]
        if withID.contains(option) {
            guard Int(size.pointee) >= MemoryLayout<sctp_assoc_t>.size else { throw SCTPError(.invalidArgument, "size is too small") }
            try CLibrary.writable(value, MemoryLayout<sctp_assoc_t>.size, "arg")
            value!.storeBytes(of: id, as: sctp_assoc_t.self)
        }
        try CLibrary.getOption(entry, level: CInt(IPPROTO_SCTP), name: option, value, size)
        return 0
    }
}
