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

// The socket calls of `swiftsctp.h`: what socket(2), bind(2), listen(2), accept(2),
// connect(2), shutdown(2), close(2) and fcntl(2) do for a kernel SCTP socket.

@_cdecl("swiftsctp_socket")
public func swiftsctp_socket(_ domain: CInt, _ type: CInt, _ proto: CInt) -> CInt {
    CLibrary.call(-1) { () throws(SCTPError) -> CInt in
        let family: SCTPSocket.Family
        switch domain {
        case AF_INET: family = .ipv4
        case AF_INET6: family = .ipv6
        default: throw SCTPError(.addressFamilyNotSupported, "domain \(domain) is neither AF_INET nor AF_INET6")
        }
        #if os(Linux)
        let flags = CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue)
        let nonBlocking = type & CInt(SOCK_NONBLOCK.rawValue) != 0
        let kind = type & ~flags
        let stream = CInt(SOCK_STREAM.rawValue), sequentialPackets = CInt(SOCK_SEQPACKET.rawValue)
        #else
        let nonBlocking = false
        let kind = type
        let stream = SOCK_STREAM, sequentialPackets = SOCK_SEQPACKET
        #endif
        let style: SCTPSocket.Style
        switch kind {
        case stream: style = .oneToOne
        case sequentialPackets: style = .oneToMany
        default: throw SCTPError(Errno.protocolNotSupported, "socket type \(type): SCTP has SOCK_STREAM and SOCK_SEQPACKET")
        }
        guard proto == 0 || proto == CInt(IPPROTO_SCTP) else {
            throw SCTPError(Errno.protocolNotSupported, "protocol \(proto) is not IPPROTO_SCTP")
        }
        let socket = SCTPSocket(family: family, style: style, stack: CLibrary.stack)
        if nonBlocking { try socket.setOption(.nonBlocking, true) }
        return try CLibrary.add(socket)
    }
}

@_cdecl("swiftsctp_bind")
public func swiftsctp_bind(_ sd: CInt, _ address: UnsafePointer<sockaddr>?, _ length: socklen_t) -> CInt {
    CLibrary.call(-1) { () throws(SCTPError) -> CInt in
        let socket = try CLibrary.socket(sd)
        guard let address else { throw SCTPError(.badAddress, "the address is NULL") }
        let (local, _) = try CLibrary.address(at: UnsafeRawPointer(address), length: Int(length))
        try socket.bind([local])
        return 0
    }
}

@_cdecl("swiftsctp_listen")
public func swiftsctp_listen(_ sd: CInt, _ backlog: CInt) -> CInt {
    CLibrary.call(-1) { () throws(SCTPError) -> CInt in
        try CLibrary.socket(sd).listen(backlog: Int(backlog))
        return 0
    }
}

@_cdecl("swiftsctp_accept")
public func swiftsctp_accept(_ sd: CInt, _ address: UnsafeMutablePointer<sockaddr>?, _ length: UnsafeMutablePointer<socklen_t>?) -> CInt {
    CLibrary.call(-1) { () throws(SCTPError) -> CInt in
        let listener = try CLibrary.socket(sd)
        try CLibrary.checkAddressOutput(address, length)
        let child = try listener.accept()
        CLibrary.write(try? child.getpaddrs().first, to: address, length: length)
        return try CLibrary.add(child)
    }
}

@_cdecl("swiftsctp_connect")
public func swiftsctp_connect(_ sd: CInt, _ address: UnsafePointer<sockaddr>?, _ length: socklen_t) -> CInt {
    CLibrary.call(-1) { () throws(SCTPError) -> CInt in
        let entry = try CLibrary.entry(sd)
        guard let address else { throw SCTPError(.badAddress, "the address is NULL") }
        let (peer, _) = try CLibrary.address(at: UnsafeRawPointer(address), length: Int(length))
        // connect(2) on a non-blocking socket: EINPROGRESS, as POSIX says (the manual page's
        // EWOULDBLOCK is sctp_connectx's).
        if try connect(entry, to: [peer]).started { throw SCTPError(.nowInProgress, "non-blocking: the association is being set up") }
        return 0
    }
}

/// connect / connectx: blocking, until the association is up; non-blocking, the attempt
/// starts and the call fails with EWOULDBLOCK, as the sctp_connectx page says (`started`;
/// completion shows as an SCTP_ASSOC_CHANGE notification, and the id is known already).
func connect(_ entry: CLibrary.Entry, to peers: [SocketAddress]) throws(SCTPError) -> (id: AssociationID, started: Bool) {
    let nonBlocking = try entry.socket.getOption(.nonBlocking)
    return (try entry.socket.connectx(peers), nonBlocking)
}

extension SCTPError {
    static let connectStarted = SCTPError(.wouldBlock, "non-blocking: the association is being set up")
}

@_cdecl("swiftsctp_shutdown")
public func swiftsctp_shutdown(_ sd: CInt, _ how: CInt) -> CInt {
    CLibrary.call(-1) { () throws(SCTPError) -> CInt in
        let socket = try CLibrary.socket(sd)
        switch how {
        case CInt(SHUT_RD): return 0  // reading stays possible, as with a kernel SCTP socket
        case CInt(SHUT_WR), CInt(SHUT_RDWR): try socket.shutdown()
        default: throw SCTPError(.invalidArgument, "how \(how) is not SHUT_RD, SHUT_WR or SHUT_RDWR")
        }
        return 0
    }
}

@_cdecl("swiftsctp_close")
public func swiftsctp_close(_ sd: CInt) -> CInt {
    CLibrary.call(-1) { () throws(SCTPError) -> CInt in
        try CLibrary.remove(sd).close()
        CLibrary.settle()
        return 0
    }
}

@_cdecl("swiftsctp_fcntl")
public func swiftsctp_fcntl(_ sd: CInt, _ command: CInt, _ argument: CInt) -> CInt {
    CLibrary.call(-1) { () throws(SCTPError) -> CInt in
        let entry = try CLibrary.entry(sd)
        switch command {
        case F_GETFL:
            return O_RDWR | (try entry.socket.getOption(.nonBlocking) ? O_NONBLOCK : 0)
        case F_SETFL:
            try entry.socket.setOption(.nonBlocking, argument & O_NONBLOCK != 0)
            return 0
        default:
            throw SCTPError(.invalidArgument, "fcntl command \(command): only F_GETFL and F_SETFL (O_NONBLOCK)")
        }
    }
}

@_cdecl("swiftsctp_udp_port")
public func swiftsctp_udp_port() -> CInt {
    CLibrary.stack.udpPort.map { CInt($0) } ?? -1
}
