import CSCTPSocketsAPI
import NIOCore
import SCTP
import SCTPCore
import SCTPWire

/// Notifications as the C structures of RFC 6458 §6.1 (`union sctp_notification`), with
/// Linux's type numbers: what `sctp_recvv` returns with MSG_NOTIFICATION.
enum Notifications {
    /// `legacySendFailed`: a send failure as `struct sctp_send_failed` (`SCTP_SEND_FAILED`)
    /// rather than `struct sctp_send_failed_event`.
    static func encode(_ notification: SCTPNotification, legacySendFailed: Bool = false) -> ByteBuffer {
        var buffer = ByteBuffer()
        switch notification {
        case .associationChange(let change, let id, let outbound, let inbound, let error):
            var value = sctp_assoc_change()
            value.sac_type = UInt16(SCTP_ASSOC_CHANGE)
            value.sac_state = switch change {
            case .communicationUp: UInt16(SCTP_COMM_UP)
            case .communicationLost: UInt16(SCTP_COMM_LOST)
            case .restart: UInt16(SCTP_RESTART)
            case .shutdownComplete: UInt16(SCTP_SHUTDOWN_COMP)
            case .cannotStartAssociation: UInt16(SCTP_CANT_STR_ASSOC)
            }
            value.sac_error = UInt16(truncatingIfNeeded: error?.errno.rawValue ?? 0)
            value.sac_outbound_streams = outbound
            value.sac_inbound_streams = inbound
            value.sac_assoc_id = CLibrary.cID(id)
            append(&value, to: &buffer, length: \.sac_length)
        case .peerAddressChange(let address, let state, let id):
            var value = sctp_paddr_change()
            value.spc_type = UInt16(SCTP_PEER_ADDR_CHANGE)
            if let address {
                withUnsafeMutableBytes(of: &value.spc_aaddr) { _ = CLibrary.write(address, to: $0.baseAddress!, capacity: $0.count) }
            }
            value.spc_state = switch state {
            case .available: SCTP_ADDR_AVAILABLE
            case .unreachable: SCTP_ADDR_UNREACHABLE
            case .potentiallyFailed: SCTP_ADDR_POTENTIALLY_FAILED
            case .unconfirmed: SCTP_ADDR_AVAILABLE
            case .added: SCTP_ADDR_ADDED
            case .removed: SCTP_ADDR_REMOVED
            case .madePrimary: SCTP_ADDR_MADE_PRIM
            }
            value.spc_assoc_id = CLibrary.cID(id)
            append(&value, to: &buffer, length: \.spc_length)
        case .sendFailed(let data, let info, let wasSent) where legacySendFailed:
            var value = sctp_send_failed()
            value.ssf_type = UInt16(SCTP_SEND_FAILED)
            value.ssf_flags = UInt16(wasSent ? SCTP_DATA_SENT : SCTP_DATA_UNSENT)
            value.ssf_info.sinfo_stream = info.stream
            value.ssf_info.sinfo_flags = CLibrary.cFlags(info.flags)
            value.ssf_info.sinfo_ppid = info.payloadProtocolIdentifier.bigEndian
            value.ssf_info.sinfo_context = info.context
            value.ssf_info.sinfo_assoc_id = CLibrary.cID(notification.associationID)
            value.ssf_assoc_id = CLibrary.cID(notification.associationID)
            append(&value, to: &buffer, length: \.ssf_length, trailing: data)
        case .sendFailed(let data, let info, let wasSent):
            var value = sctp_send_failed_event()
            value.ssf_type = UInt16(SCTP_SEND_FAILED_EVENT)
            value.ssf_flags = UInt16(wasSent ? SCTP_DATA_SENT : SCTP_DATA_UNSENT)
            value.ssfe_info = CLibrary.cSendInfo(info)
            value.ssfe_info.snd_assoc_id = CLibrary.cID(notification.associationID)
            value.ssf_assoc_id = CLibrary.cID(notification.associationID)
            append(&value, to: &buffer, length: \.ssf_length, trailing: data)
        case .remoteError(let causes, let id):
            var value = sctp_remote_error()
            value.sre_type = UInt16(SCTP_REMOTE_ERROR)
            value.sre_error = (causes.first?.code ?? 0).bigEndian
            value.sre_assoc_id = CLibrary.cID(id)
            var raw = ByteBuffer()
            for cause in causes { cause.write(to: &raw) }
            append(&value, to: &buffer, length: \.sre_length, trailing: raw)
        case .shutdown(let id):
            var value = sctp_shutdown_event()
            value.sse_type = UInt16(SCTP_SHUTDOWN_EVENT)
            value.sse_assoc_id = CLibrary.cID(id)
            append(&value, to: &buffer, length: \.sse_length)
        case .partialDeliveryAborted(let stream, let id):
            var value = sctp_pdapi_event()
            value.pdapi_type = UInt16(SCTP_PARTIAL_DELIVERY_EVENT)
            value.pdapi_indication = 0  // SCTP_PARTIAL_DELIVERY_ABORTED
            value.pdapi_assoc_id = CLibrary.cID(id)
            value.pdapi_stream = UInt32(stream)
            append(&value, to: &buffer, length: \.pdapi_length)
        case .senderDry(let id):
            var value = sctp_sender_dry_event()
            value.sender_dry_type = UInt16(SCTP_SENDER_DRY_EVENT)
            value.sender_dry_assoc_id = CLibrary.cID(id)
            append(&value, to: &buffer, length: \.sender_dry_length)
        case .adaptationIndication(let indication, let id):
            var value = sctp_adaptation_event()
            value.sai_type = UInt16(SCTP_ADAPTATION_INDICATION)
            value.sai_adaptation_ind = indication
            value.sai_assoc_id = CLibrary.cID(id)
            append(&value, to: &buffer, length: \.sai_length)
        case .streamReset(let event, let id):
            var value = sctp_stream_reset_event()
            value.strreset_type = UInt16(SCTP_STREAM_RESET_EVENT)
            value.strreset_flags = event.flags.rawValue
            value.strreset_assoc_id = CLibrary.cID(id)
            var streams = ByteBuffer()
            for stream in event.streams { streams.writeInteger(stream, endianness: .host) }
            append(&value, to: &buffer, length: \.strreset_length, trailing: streams)
        case .associationReset(let event, let id):
            var value = sctp_assoc_reset_event()
            value.assocreset_type = UInt16(SCTP_ASSOC_RESET_EVENT)
            value.assocreset_flags = event.flags.rawValue
            value.assocreset_assoc_id = CLibrary.cID(id)
            value.assocreset_local_tsn = event.localTSN.rawValue
            value.assocreset_remote_tsn = event.remoteTSN.rawValue
            append(&value, to: &buffer, length: \.assocreset_length)
        case .streamChange(let event, let id):
            var value = sctp_stream_change_event()
            value.strchange_type = UInt16(SCTP_STREAM_CHANGE_EVENT)
            value.strchange_flags = event.flags.rawValue
            value.strchange_assoc_id = CLibrary.cID(id)
            value.strchange_instrms = event.inboundStreams
            value.strchange_outstrms = event.outboundStreams
            append(&value, to: &buffer, length: \.strchange_length)
        case .authentication(let event, let id):
            var value = sctp_authkey_event()
            value.auth_type = UInt16(SCTP_AUTHENTICATION_EVENT)
            value.auth_keynumber = event.keyNumber
            value.auth_indication = switch event.indication {
            case .newKey: UInt32(SCTP_AUTH_NEW_KEY)
            case .freeKey: UInt32(SCTP_AUTH_FREE_KEY)
            case .noAuthentication: UInt32(SCTP_AUTH_NO_AUTH)
            }
            value.auth_assoc_id = CLibrary.cID(id)
            append(&value, to: &buffer, length: \.auth_length)
        }
        return buffer
    }

    /// Writes the structure (as C's sizeof: with its tail padding, Swift's stride), its
    /// length field set to that size plus `trailing` (the variable part: data, causes,
    /// stream numbers), then `trailing`.
    private static func append<T>(_ value: inout T, to buffer: inout ByteBuffer, length: WritableKeyPath<T, UInt32>,
                                  trailing: ByteBuffer = ByteBuffer()) {
        value[keyPath: length] = UInt32(MemoryLayout<T>.stride + trailing.readableBytes)
        _ = withUnsafeBytes(of: &value) { buffer.writeBytes($0) }
        buffer.writeRepeatingByte(0, count: MemoryLayout<T>.stride - MemoryLayout<T>.size)
        buffer.writeImmutableBuffer(trailing)
    }
}
