import NIOCore
import SCTPWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which local address the kernel's routing table uses to reach a destination: a UDP
/// socket is connected to it (which sends nothing) and asked for its own address. A
/// multi-homed endpoint sends each packet from the address on the way to its destination,
/// so that the peer's answers come back over the same path. Runs on the calling thread,
/// so in that thread's network namespace.
enum RouteLookup {
    static func source(toward destination: IPAddress) -> IPAddress? {
        guard let remote = try? destination.destinationAddress(port: 9) else { return nil }
        let family = destination.isIPv4 ? AF_INET : AF_INET6
        #if canImport(Glibc)
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue), 0)
        #else
        let fd = socket(family, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let connected: Int32 = remote.withSockAddr { pointer, length in
            connect(fd, pointer, socklen_t(length))
        }
        guard connected == 0 else { return nil }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return nil }
        let local: SocketAddress? = switch Int32(storage.ss_family) {
        case AF_INET:
            withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee, host: "") } }
        case AF_INET6:
            withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee, host: "") } }
        default:
            nil
        }
        return local.flatMap(IPAddress.init)
    }
}
