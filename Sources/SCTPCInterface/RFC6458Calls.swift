#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSCTPSocketsAPI
import NIOCore
import SCTP
import SCTPCore

// The functions of RFC 6458 §9 with their C signatures.

@_cdecl("sctp_bindx")
public func sctp_bindx(_ sd: CInt, _ addresses: UnsafeMutablePointer<sockaddr>?, _ count: CInt, _ flags: CInt) -> CInt {
    CLibrary.call(-1) { () throws(SCTPError) -> CInt in
        let socket = try CLibrary.socket(sd)
        let operation: SCTPSocket.BindxOperation
        switch flags {
        case SCTP_BINDX_ADD_ADDR: operation = .add
        case SCTP_BINDX_REM_ADDR: operation = .remove
        default: throw SCTPError(.invalidArgument, "flags \(flags) are neither SCTP_BINDX_ADD_ADDR nor SCTP_BINDX_REM_ADDR")
        }
        try socket.bindx(CLibrary.packedAddresses(addresses.map { UnsafeRawPointer($0) }, count: count), operation)
        return 0
    }
}

/// The seed's function: an association to a peer reachable at `addrcnt` addresses, tried
/// round robin on INIT retransmission; its id in `*id` (when `id` is not NULL).
@_cdecl("sctp_connectx")
public func sctp_connectx(_ sd: CInt, _ addresses: UnsafeMutablePointer<sockaddr>?, _ count: CInt,
                          _ id: UnsafeMutablePointer<sctp_assoc_t>?) -> CInt {
    CLibrary.call(-1) { () throws(SCTPError) -> CInt in
        let entry = try CLibrary.entry(sd)
        let peers = try CLibrary.packedAddresses(addresses.map { UnsafeRawPointer($0) }, count: count)
        if let id { try CLibrary.writable(id, MemoryLayout<sctp_assoc_t>.size, "the association id") }
        let (association, started) = try connect(entry, to: peers)
        id?.pointee = CLibrary.cID(association)
        if started { throw .connectStarted }
        return 0
    }
}

@_cdecl("sctp_peeloff")
public func sctp_peeloff(_ sd: CInt, _ id: sctp_assoc_t) -> CInt {
    CLibrary.call(-1) { () throws(SCTPError) -> CInt in
        let socket = try CLibrary.socket(sd)
        guard let association = CLibrary.associationID(id) else { throw SCTPError(.invalidArgument, "association id 0") }
        return try CLibrary.add(socket.peeloff(association))
    }
}

extension CLibrary {
    /// `sctp_getpaddrs` / `sctp_getladdrs`: `read`'s addresses of the association, packed into
    /// a `malloc`ed array stored in `*addresses`; their count.
    static func addressList(_ sd: CInt, _ id: sctp_assoc_t, _ addresses: UnsafeMutablePointer<UnsafeMutablePointer<sockaddr>?>?,
                            _ read: (SCTPSocket, AssociationID?) throws(SCTPError) -> [SocketAddress]) -> CInt {
        call(-1) { () throws(SCTPError) -> CInt in
            let socket = try socket(sd)
            guard let addresses else { throw SCTPError(.badAddress, "addrs is NULL") }
            try writable(addresses, MemoryLayout<UnsafeMutablePointer<sockaddr>?>.size, "addrs")
            let list = try read(socket, target(socket, id))
            addresses.pointee = try packedArray(list)
            return CInt(list.count)
        }
    }
}

@_cdecl("sctp_getpaddrs")
public func sctp_getpaddrs(_ sd: CInt, _ id: sctp_assoc_t, _ addresses: UnsafeMutablePointer<UnsafeMutablePointer<sockaddr>?>?) -> CInt {
    CLibrary.addressList(sd, id, addresses) { socket, association throws(SCTPError) in try socket.getpaddrs(association) }
}

@_cdecl("sctp_freepaddrs")
public func sctp_freepaddrs(_ addresses: UnsafeMutablePointer<sockaddr>?) {
    free(addresses)
}

@_cdecl("sctp_getladdrs")
public func sctp_getladdrs(_ sd: CInt, _ id: sctp_assoc_t, _ addresses: UnsafeMutablePointer<UnsafeMutablePointer<sockaddr>?>?) -> CInt {
    CLibrary.addressList(sd, id, addresses) { socket, association throws(SCTPError) in try socket.getladdrs(association) }
}

@_cdecl("sctp_freeladdrs")
public func sctp_freeladdrs(_ addresses: UnsafeMutablePointer<sockaddr>?) {
    free(addresses)
}

// MARK: Sending

extension CLibrary {
    /// The bytes of `count` iovecs as one message (EFAULT for memory that cannot be read).
    static func gather(_ iov: UnsafePointer<iovec>?, count: CInt) throws(SCTPError) -> ByteBuffer {
        guard count >= 0, count <= 1024 else { throw SCTPError(.invalidArgument, "iovcnt \(count) is not within 0...1024") }
        guard count > 0 else { return ByteBuffer() }
        guard let iov else { throw SCTPError(.badAddress, "iov is NULL") }
        try readable(iov, Int(count) * MemoryLayout<iovec>.stride, "the iovec array")
        var total = 0
        for index in 0..<Int(count) {
            let length = iov[index].iov_len
            guard length <= Int.max - total else { throw SCTPError(.invalidArgument, "the iovecs overflow") }
            try readable(iov[index].iov_base, length, "iovec \(index)")
            total += length
        }
        var message = ByteBufferAllocator().buffer(capacity: total)
        for index in 0..<Int(count) where iov[index].iov_len > 0 {
            message.writeBytes(UnsafeRawBufferPointer(start: iov[index].iov_base, count: iov[index].iov_len))
        }
        return message
    }

    /// Send flags from `snd_flags` / `sinfo_flags`.
    static func sendFlags(_ flags: UInt32) throws(SCTPError) -> SCTPSendFlags {
        var result: SCTPSendFlags = []
        let known: UInt32 = UInt32(SCTP_UNORDERED | SCTP_ADDR_OVER | SCTP_ABORT | SCTP_SACK_IMMEDIATELY | SCTP_SENDALL | SCTP_EOF | SCTP_EOR)
        guard flags & ~known == 0 else { throw SCTPError(.invalidArgument, "unknown send flags 0x\(String(flags, radix: 16))") }
        if flags & UInt32(SCTP_EOR) != 0 { result.insert(.endOfRecord) }
        if flags & UInt32(SCTP_UNORDERED) != 0 { result.insert(.unordered) }
        if flags & UInt32(SCTP_ADDR_OVER) != 0 { result.insert(.addressOverride) }
        if flags & UInt32(SCTP_ABORT) != 0 { result.insert(.abort) }
        if flags & UInt32(SCTP_SACK_IMMEDIATELY) != 0 { result.insert(.sackImmediately) }
        if flags & UInt32(SCTP_SENDALL) != 0 { result.insert(.sendAll) }
        if flags & UInt32(SCTP_EOF) != 0 { result.insert(.endOfFile) }
        return result
    }

    static func cFlags(_ flags: SCTPSendFlags) -> UInt16 {
        var result: UInt16 = 0
        if flags.contains(.unordered) { result |= UInt16(SCTP_UNORDERED) }
        if flags.contains(.addressOverride) { result |= UInt16(SCTP_ADDR_OVER) }
        if flags.contains(.abort) { result |= UInt16(SCTP_ABORT) }
        if flags.contains(.sackImmediately) { result |= UInt16(SCTP_SACK_IMMEDIATELY) }
        if flags.contains(.sendAll) { result |= UInt16(SCTP_SENDALL) }
        if flags.contains(.endOfFile) { result |= UInt16(SCTP_EOF) }
        if flags.contains(.endOfRecord) { result |= UInt16(SCTP_EOR) }
        return result
    }

    /// `struct sctp_sndinfo` as send info, with the PR-SCTP policy of `base` (the socket's
    /// default). The PPID is kept as the bytes the C caller wrote (they go on the wire
    /// unchanged, as with a kernel socket; callers use htonl). Association ids 0 to 2
    /// (SCTP_FUTURE/CURRENT/ALL_ASSOC) name none.
    static func sendInfo(_ info: sctp_sndinfo, base: SCTPSendInfo = SCTPSendInfo()) throws(SCTPError) -> SCTPSendInfo {
        SCTPSendInfo(stream: info.snd_sid, payloadProtocolIdentifier: UInt32(bigEndian: info.snd_ppid),
                     flags: try sendFlags(UInt32(info.snd_flags)), context: info.snd_context,
                     associationID: info.snd_assoc_id > SCTP_ALL_ASSOC ? associationID(info.snd_assoc_id) : nil,
                     partialReliability: base.partialReliability)
    }

    static func cSendInfo(_ info: SCTPSendInfo) -> sctp_sndinfo {
        sctp_sndinfo(snd_sid: info.stream, snd_flags: cFlags(info.flags), snd_ppid: info.payloadProtocolIdentifier.bigEndian,
                     snd_context: info.context, snd_assoc_id: cID(info.associationID))
    }

    static func partialReliability(policy: UInt16, value: UInt32) throws(SCTPError) -> PartialReliability {
        switch Int32(policy) {
        case SCTP_PR_SCTP_NONE: return .reliable
        case SCTP_PR_SCTP_TTL: return value == 0 ? .reliable : .lifetime(.milliseconds(Int64(value)))
        case SCTP_PR_SCTP_RTX: return .maxRetransmissions(Int(value))
        default: throw SCTPError(.invalidArgument, "PR-SCTP policy 0x\(String(policy, radix: 16)) is not NONE, TTL or RTX")
        }
    }

    /// The send info of an `sctp_sendv` call (`info`, `infolen`, `infotype`), on top of the
    /// socket's default.
    static func sendvInfo(_ socket: SCTPSocket, _ info: UnsafeMutableRawPointer?, _ length: socklen_t,
                          _ type: CUnsignedInt) throws(SCTPError) -> SCTPSendInfo? {
        switch Int32(type) {
        case SCTP_SENDV_NOINFO:
            return nil
        case SCTP_SENDV_SNDINFO:
            return try sendInfo(value(info, length, as: sctp_sndinfo.self), base: socket.getOption(.defaultSendInfo))
        case SCTP_SENDV_PRINFO:
            let pr = try value(info, length, as: sctp_prinfo.self)
            var result = try socket.getOption(.defaultSendInfo)
            result.partialReliability = try partialReliability(policy: pr.pr_policy, value: pr.pr_value)
            return result
        case SCTP_SENDV_AUTHINFO:
            throw SCTPError(.notSupported, "SCTP_SENDV_AUTHINFO: messages use the association's active key")
        case SCTP_SENDV_SPA:
            let spa = try value(info, length, as: sctp_sendv_spa.self)
            let known = UInt32(SCTP_SEND_SNDINFO_VALID | SCTP_SEND_PRINFO_VALID | SCTP_SEND_AUTHINFO_VALID)
            guard spa.sendv_flags & ~known == 0 else { throw SCTPError(.invalidArgument, "unknown sendv_flags") }
            if spa.sendv_flags & UInt32(SCTP_SEND_AUTHINFO_VALID) != 0 {
                throw SCTPError(.notSupported, "SCTP_SEND_AUTHINFO_VALID: messages use the association's active key")
            }
            let base = try socket.getOption(.defaultSendInfo)
            var result = spa.sendv_flags & UInt32(SCTP_SEND_SNDINFO_VALID) != 0 ? try sendInfo(spa.sendv_sndinfo, base: base) : base
            if spa.sendv_flags & UInt32(SCTP_SEND_PRINFO_VALID) != 0 {
                result.partialReliability = try partialReliability(policy: spa.sendv_prinfo.pr_policy, value: spa.sendv_prinfo.pr_value)
            }
            return result
        default:
            throw SCTPError(.invalidArgument, "infotype \(type) is not an SCTP_SENDV_ type")
        }
    }

    /// Send-call flags: MSG_NOSIGNAL is taken (nothing here raises SIGPIPE), MSG_EOR ends the
    /// message being built under SCTP_EXPLICIT_EOR (`true`); anything else is EINVAL.
    static func callFlags(_ flags: CInt) throws(SCTPError) -> Bool {
        #if os(Linux)
        let accepted = CInt(MSG_NOSIGNAL) | CInt(MSG_EOR)
        #else
        let accepted = CInt(MSG_EOR)
        #endif
        guard flags & ~accepted == 0 else { throw SCTPError(.invalidArgument, "send flags 0x\(String(flags, radix: 16)) are not supported") }
        return flags & CInt(MSG_EOR) != 0
    }
}

@_cdecl("sctp_sendv")
public func sctp_sendv(_ sd: CInt, _ iov: UnsafePointer<iovec>?, _ iovcnt: CInt, _ addresses: UnsafeMutablePointer<sockaddr>?,
                       _ addrcnt: CInt, _ info: UnsafeMutableRawPointer?, _ infolen: socklen_t, _ infotype: CUnsignedInt,
                       _ flags: CInt) -> Int {
    CLibrary.call(-1) { () throws(SCTPError) -> Int in
        let socket = try CLibrary.socket(sd)
        let endOfRecord = try CLibrary.callFlags(flags)
        let message = try CLibrary.gather(iov, count: iovcnt)
        let peers = addrcnt == 0 && addresses == nil
            ? nil : try CLibrary.packedAddresses(addresses.map { UnsafeRawPointer($0) }, count: addrcnt)
        var sendInfo = try CLibrary.sendvInfo(socket, info, infolen, infotype)
        if endOfRecord {
            if sendInfo == nil { sendInfo = try socket.getOption(.defaultSendInfo) }
            sendInfo?.flags.insert(.endOfRecord)
        }
        try socket.sendmsg(message, info: sendInfo, to: peers)
        return message.readableBytes
    }
}

@_cdecl("sctp_sendmsg")
public func sctp_sendmsg(_ sd: CInt, _ message: UnsafeRawPointer?, _ length: Int, _ to: UnsafeMutablePointer<sockaddr>?,
                         _ tolen: socklen_t, _ ppid: UInt32, _ flags: UInt32, _ stream: UInt16, _ timeToLive: UInt32,
                         _ context: UInt32) -> Int {
    CLibrary.call(-1) { () throws(SCTPError) -> Int in
        let socket = try CLibrary.socket(sd)
        try CLibrary.readable(message, length, "msg")
        let data = length == 0 ? ByteBuffer() : ByteBuffer(bytes: UnsafeRawBufferPointer(start: message, count: length))
        let peer = try to.map { pointer throws(SCTPError) in try CLibrary.address(at: UnsafeRawPointer(pointer), length: Int(tolen)).0 }
        // The PR-SCTP policy rides in the flags (SCTP_PR_SCTP_TTL / RTX, Linux's sinfo_flags);
        // a time to live without one is a lifetime.
        let policy = UInt16(flags & UInt32(SCTP_PR_SCTP_TTL | SCTP_PR_SCTP_RTX))
        let reliability = policy == 0 && timeToLive != 0
            ? .lifetime(.milliseconds(Int64(timeToLive))) : try CLibrary.partialReliability(policy: policy, value: timeToLive)
        // SCTP_EOR or MSG_EOR (which no sinfo flag uses) ends the message being built.
        var info = SCTPSendInfo(stream: stream, payloadProtocolIdentifier: UInt32(bigEndian: ppid),
                                flags: try CLibrary.sendFlags(flags & ~(UInt32(SCTP_PR_SCTP_TTL | SCTP_PR_SCTP_RTX) | UInt32(MSG_EOR))),
                                context: context, partialReliability: reliability)
        if flags & UInt32(MSG_EOR) != 0 { info.flags.insert(.endOfRecord) }
        try socket.sendmsg(data, info: info, to: peer.map { [$0] })
        return length
    }
}

// MARK: Receiving

extension CLibrary {
    struct Read {
        var data: ByteBuffer
        var flags: CInt
        var peer: SocketAddress?
        var message: SCTPMessage?
    }

    /// Reads one message or notification into at most `capacity` bytes: nil at end of file.
    /// A notification longer than `capacity` comes in several reads, the last with MSG_EOR.
    static func read(_ entry: Entry, capacity: Int) throws(SCTPError) -> Read? {
        guard capacity > 0 else { throw SCTPError(.invalidArgument, "no room to read into (every iov_len is 0)") }
        let socket = entry.socket
        if var rest = entry.notificationRest.withLockedValue({ $0 }) {
            let part = rest.readSlice(length: min(capacity, rest.readableBytes))!
            entry.notificationRest.withLockedValue { $0 = rest.readableBytes > 0 ? rest : nil }
            return Read(data: part, flags: CInt(MSG_NOTIFICATION) | (rest.readableBytes == 0 ? CInt(MSG_EOR) : 0), peer: nil, message: nil)
        }
        guard let received = try socket.recvmsg(maxLength: capacity) else {
            settle()  // the SHUTDOWN COMPLETE that ended it goes out
            return nil
        }
        switch received {
        case .message(let message):
            let peer = try? socket.getpaddrs(socket.style == .oneToOne ? nil : message.info.associationID).first
            return Read(data: message.data, flags: message.isEndOfRecord ? CInt(MSG_EOR) : 0, peer: peer, message: message)
        case .notification(let notification):
            var bytes = Notifications.encode(notification, legacySendFailed: entry.legacySendFailed.withLockedValue { $0 })
            let part = bytes.readSlice(length: min(capacity, bytes.readableBytes))!
            if bytes.readableBytes > 0 { entry.notificationRest.withLockedValue { $0 = bytes } }
            return Read(data: part, flags: CInt(MSG_NOTIFICATION) | (bytes.readableBytes == 0 ? CInt(MSG_EOR) : 0), peer: nil, message: nil)
        }
    }

    /// Copies `data` into the iovecs; returns the bytes copied.
    static func scatter(_ data: ByteBuffer, into iov: UnsafePointer<iovec>, count: Int) -> Int {
        var copied = 0
        data.withUnsafeReadableBytes { bytes in
            for index in 0..<count where copied < bytes.count {
                let length = min(iov[index].iov_len, bytes.count - copied)
                guard length > 0, let base = iov[index].iov_base else { continue }
                base.copyMemory(from: bytes.baseAddress! + copied, byteCount: length)
                copied += length
            }
        }
        return copied
    }

    static func cReceiveInfo(_ info: SCTPReceiveInfo) -> sctp_rcvinfo {
        sctp_rcvinfo(rcv_sid: info.stream, rcv_ssn: info.streamSequenceNumber, rcv_flags: info.isUnordered ? UInt16(SCTP_UNORDERED) : 0,
                     rcv_ppid: info.payloadProtocolIdentifier.bigEndian, rcv_tsn: info.tsn, rcv_cumtsn: 0, rcv_context: 0,
                     rcv_assoc_id: cID(info.associationID))
    }

    static func cNextInfo(_ next: SCTPNextInfo) -> sctp_nxtinfo {
        var flags: UInt16 = 0
        if next.isUnordered { flags |= UInt16(SCTP_UNORDERED) }
        if next.isComplete { flags |= UInt16(SCTP_COMPLETE) }
        if next.isNotification { flags |= UInt16(SCTP_NOTIFICATION) }
        return sctp_nxtinfo(nxt_sid: next.stream, nxt_flags: flags, nxt_ppid: next.payloadProtocolIdentifier.bigEndian,
                            nxt_length: UInt32(clamping: next.length), nxt_assoc_id: cID(next.associationID))
    }
}

@_cdecl("sctp_recvv")
public func sctp_recvv(_ sd: CInt, _ iov: UnsafePointer<iovec>?, _ iovlen: CInt, _ from: UnsafeMutablePointer<sockaddr>?,
                       _ fromlen: UnsafeMutablePointer<socklen_t>?, _ info: UnsafeMutableRawPointer?,
                       _ infolen: UnsafeMutablePointer<socklen_t>?, _ infotype: UnsafeMutablePointer<CUnsignedInt>?,
                       _ flags: UnsafeMutablePointer<CInt>?) -> Int {
    CLibrary.call(-1) { () throws(SCTPError) -> Int in
        let entry = try CLibrary.entry(sd)
        guard iovlen > 0, iovlen <= 1024 else { throw SCTPError(.invalidArgument, "iovlen \(iovlen) is not within 1...1024") }
        guard let iov else { throw SCTPError(.badAddress, "iov is NULL") }
        try CLibrary.readable(iov, Int(iovlen) * MemoryLayout<iovec>.stride, "the iovec array")
        // Every output is checked before anything is taken from the socket: a failure loses nothing.
        var capacity = 0
        for index in 0..<Int(iovlen) {
            try CLibrary.writable(iov[index].iov_base, iov[index].iov_len, "iovec \(index)")
            guard iov[index].iov_len <= Int.max - capacity else { throw SCTPError(.invalidArgument, "the iovecs overflow") }
            capacity += iov[index].iov_len
        }
        try CLibrary.checkAddressOutput(from, fromlen)
        if let flags { try CLibrary.writable(flags, MemoryLayout<CInt>.size, "flags") }
        if let infotype { try CLibrary.writable(infotype, MemoryLayout<CUnsignedInt>.size, "infotype") }
        var infoCapacity = 0
        if let info, let infolen, infotype != nil {
            try CLibrary.writable(infolen, MemoryLayout<socklen_t>.size, "infolen")
            infoCapacity = Int(infolen.pointee)
            try CLibrary.writable(info, min(infoCapacity, MemoryLayout<sctp_recvv_rn>.stride), "info")
        }
        guard let read = try CLibrary.read(entry, capacity: capacity) else {
            flags?.pointee = 0
            infotype?.pointee = CUnsignedInt(SCTP_RECVV_NOINFO)
            if infoCapacity > 0 { infolen?.pointee = 0 }
            return 0
        }
        let copied = CLibrary.scatter(read.data, into: iov, count: Int(iovlen))
        CLibrary.write(read.peer, to: from, length: fromlen)
        flags?.pointee = read.flags
        // What comes with it: SCTP_RECVRCVINFO and SCTP_RECVNXTINFO decide (RFC 6458 §9.13),
        // and what fits in `*infolen` (the richest kind that fits; none if nothing does).
        let rcv = read.message.flatMap { entry.receiveInfo.withLockedValue { $0 } ? CLibrary.cReceiveInfo($0.info) : nil }
        let nxt = read.message?.nextInfo.map(CLibrary.cNextInfo)
        var type = SCTP_RECVV_NOINFO
        if let info, let infolen, infoCapacity > 0 {
            if let rcv, let nxt, infoCapacity >= MemoryLayout<sctp_recvv_rn>.stride {
                try CLibrary.store(sctp_recvv_rn(recvv_rcvinfo: rcv, recvv_nxtinfo: nxt), info, infolen)
                type = SCTP_RECVV_RN
            } else if let rcv, infoCapacity >= MemoryLayout<sctp_rcvinfo>.stride {
                try CLibrary.store(rcv, info, infolen)
                type = SCTP_RECVV_RCVINFO
            } else if let nxt, infoCapacity >= MemoryLayout<sctp_nxtinfo>.stride {
                try CLibrary.store(nxt, info, infolen)
                type = SCTP_RECVV_NXTINFO
            } else {
                infolen.pointee = 0
            }
        }
        infotype?.pointee = CUnsignedInt(type)
        return copied
    }
}

@_cdecl("sctp_recvmsg")
public func sctp_recvmsg(_ sd: CInt, _ message: UnsafeMutableRawPointer?, _ length: Int, _ from: UnsafeMutablePointer<sockaddr>?,
                         _ fromlen: UnsafeMutablePointer<socklen_t>?, _ sinfo: UnsafeMutablePointer<sctp_sndrcvinfo>?,
                         _ flags: UnsafeMutablePointer<CInt>?) -> Int {
    CLibrary.call(-1) { () throws(SCTPError) -> Int in
        let entry = try CLibrary.entry(sd)
        guard length > 0 else { throw SCTPError(.invalidArgument, "len must be positive") }
        try CLibrary.writable(message, length, "msg")
        try CLibrary.checkAddressOutput(from, fromlen)
        if let sinfo { try CLibrary.writable(sinfo, MemoryLayout<sctp_sndrcvinfo>.stride, "sinfo") }
        if let flags { try CLibrary.writable(flags, MemoryLayout<CInt>.size, "msg_flags") }
        guard let read = try CLibrary.read(entry, capacity: length) else {
            flags?.pointee = 0
            return 0
        }
        let count = min(read.data.readableBytes, length)
        if count > 0 { read.data.withUnsafeReadableBytes { message!.copyMemory(from: $0.baseAddress!, byteCount: count) } }
        CLibrary.write(read.peer, to: from, length: fromlen)
        flags?.pointee = read.flags
        if let sinfo {
            var value = sctp_sndrcvinfo()
            if let info = read.message?.info {
                value.sinfo_stream = info.stream
                value.sinfo_ssn = info.streamSequenceNumber
                value.sinfo_flags = info.isUnordered ? UInt16(SCTP_UNORDERED) : 0
                value.sinfo_ppid = info.payloadProtocolIdentifier.bigEndian
                value.sinfo_tsn = info.tsn
                value.sinfo_assoc_id = CLibrary.cID(info.associationID)
            }
            sinfo.pointee = value
        }
        return count
    }
}
