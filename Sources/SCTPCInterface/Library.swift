#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSCTPSocketsAPI
import NIOConcurrencyHelpers
import NIOCore
import SCTP
import SCTPCore
import SystemPackage

/// The state behind the C interface (`swiftsctp.h`): the library's stack and its table of
/// descriptors.
///
/// A descriptor is a real file descriptor of the process, opened on /dev/null, so that it
/// can never be mistaken for another of the process's descriptors; the table maps it to the
/// `SCTPSocket` it stands for. `swiftsctp_close` closes both.
enum CLibrary {
    /// One socket of the C interface.
    final class Entry: Sendable {
        let socket: SCTPSocket
        /// `SCTP_RECVRCVINFO`: `sctp_recvv` reports a `struct sctp_rcvinfo` with each message.
        let receiveInfo = NIOLockedValueBox(false)
        /// Send failures come as `struct sctp_send_failed` (`SCTP_SEND_FAILED`, subscribed
        /// through `SCTP_EVENTS` or `SCTP_EVENT`) rather than `struct sctp_send_failed_event`.
        let legacySendFailed = NIOLockedValueBox(false)
        /// The rest of a notification a read's buffer could not hold: the next reads return it.
        let notificationRest = NIOLockedValueBox<ByteBuffer?>(nil)
        /// Held while an option is read, changed and written back, so that two threads
        /// setting options of one socket do not lose each other's change.
        let optionLock = NIOLock()

        init(_ socket: SCTPSocket) { self.socket = socket }
    }

    private static let table = NIOLockedValueBox<[CInt: Entry]>([:])

    /// The stack every socket of the C interface runs on: UDP encapsulation on
    /// `SWIFTSCTP_UDP_PORT` (default 9899; 0 picks a free port), sending to
    /// `SWIFTSCTP_PEER_UDP_PORT` (default 9899) until a peer's own port is learned.
    static let stack: SCTPStack = {
        // As in the kernel: a signal handled on a thread blocked in a call makes it fail
        // with EINTR (for every handler: this library cannot tell whether it has SA_RESTART).
        SCTPSocket.signalsInterrupt = true
        func port(_ name: String, default value: Int) -> Int {
            guard let text = getenv(name).map({ String(cString: $0) }), let number = Int(text), (0...65_535).contains(number)
            else { return value }
            return number
        }
        return SCTPStack(options: SCTPStack.Options(udpPort: port("SWIFTSCTP_UDP_PORT", default: 9899),
                                                    peerUDPPort: port("SWIFTSCTP_PEER_UDP_PORT", default: 9899)))
    }()

    /// The association a call names: none on a one-to-one socket (its own; RFC 6458 says
    /// the id is ignored there), none for 0 and the SCTP_FUTURE/CURRENT/ALL_ASSOC values.
    static func target(_ socket: SCTPSocket, _ id: sctp_assoc_t) -> AssociationID? {
        guard socket.style == .oneToMany, id > SCTP_ALL_ASSOC else { return nil }
        return AssociationID(UInt32(bitPattern: id))
    }

    /// Gives `socket` a descriptor.
    static func add(_ socket: SCTPSocket) throws(SCTPError) -> CInt {
        let descriptor = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let error = errno
            try? socket.close()
            throw SCTPError(Errno(rawValue: error), "no descriptor for a new socket")
        }
        let entry = Entry(socket)
        table.withLockedValue { $0[descriptor] = entry }
        return descriptor
    }

    static func entry(_ descriptor: CInt) throws(SCTPError) -> Entry {
        guard let entry = table.withLockedValue({ $0[descriptor] }) else {
            throw SCTPError(.badFileDescriptor, "\(descriptor) is not a socket of libswiftsctp")
        }
        return entry
    }

    static func socket(_ descriptor: CInt) throws(SCTPError) -> SCTPSocket { try entry(descriptor).socket }

    /// Takes `descriptor` out of the table and closes it; returns its socket.
    static func remove(_ descriptor: CInt) throws(SCTPError) -> SCTPSocket {
        guard let entry = table.withLockedValue({ $0.removeValue(forKey: descriptor) }) else {
            throw SCTPError(.badFileDescriptor, "\(descriptor) is not a socket of libswiftsctp")
        }
        _ = close(descriptor)
        return entry.socket
    }

    /// Waits for one turn of the stack's event loop: what the loop was doing (sending the
    /// SHUTDOWN COMPLETE that ended an association, a close's SHUTDOWN or ABORT) has been
    /// written out before the call returns, even if the program exits right after, as C
    /// programs do after close.
    static func settle() {
        _ = try? stack.eventLoop.submit {}.wait()
    }

    /// Runs a C call: its value, or `failure` with errno set from the `SCTPError` it threw.
    static func call<T>(_ failure: T, _ body: () throws(SCTPError) -> T) -> T {
        do {
            return try body()
        } catch {
            errno = error.errno.rawValue
            return failure
        }
    }

    /// EFAULT unless `length` bytes at `pointer` can be read.
    static func readable(_ pointer: UnsafeRawPointer?, _ length: Int, _ what: String) throws(SCTPError) {
        guard length >= 0, swiftsctp_readable_memory(pointer, length) != 0 else {
            throw SCTPError(.badAddress, "\(what) cannot be read")
        }
    }

    /// EFAULT unless `length` bytes at `pointer` can be written.
    static func writable(_ pointer: UnsafeMutableRawPointer?, _ length: Int, _ what: String) throws(SCTPError) {
        guard length >= 0, swiftsctp_writable_memory(pointer, length) != 0 else {
            throw SCTPError(.badAddress, "\(what) cannot be written")
        }
    }

    // MARK: Addresses

    /// The size of a `sockaddr` of `family` (EAFNOSUPPORT for anything but IPv4 and IPv6).
    static func size(ofFamily family: sa_family_t) throws(SCTPError) -> Int {
        switch CInt(family) {
        case AF_INET: return MemoryLayout<sockaddr_in>.size
        case AF_INET6: return MemoryLayout<sockaddr_in6>.size
        default: throw SCTPError(.addressFamilyNotSupported, "address family \(family) is neither AF_INET nor AF_INET6")
        }
    }

    /// One address at `pointer`, `length` bytes long at most (`nil`: as long as its family says).
    static func address(at pointer: UnsafeRawPointer, length: Int?) throws(SCTPError) -> (SocketAddress, size: Int) {
        let familyOffset = MemoryLayout<sockaddr>.offset(of: \.sa_family) ?? 0
        try readable(pointer, familyOffset + MemoryLayout<sa_family_t>.size, "the address")
        let family = pointer.loadUnaligned(fromByteOffset: familyOffset, as: sa_family_t.self)
        let size = try size(ofFamily: family)
        if let length, length < size { throw SCTPError(.invalidArgument, "an address length of \(length) for family \(family)") }
        try readable(pointer, size, "the address")
        if CInt(family) == AF_INET {
            return (SocketAddress(pointer.loadUnaligned(as: sockaddr_in.self)), size)
        }
        return (SocketAddress(pointer.loadUnaligned(as: sockaddr_in6.self)), size)
    }

    /// `count` addresses packed one after the other (`sctp_connectx`, `sctp_bindx`).
    static func packedAddresses(_ pointer: UnsafeRawPointer?, count: CInt) throws(SCTPError) -> [SocketAddress] {
        guard count > 0 else { throw SCTPError(.invalidArgument, "the address count must be positive, not \(count)") }
        guard count <= 1024 else { throw SCTPError(.invalidArgument, "\(count) addresses are more than 1024") }
        guard let pointer else { throw SCTPError(.badAddress, "the address array is NULL") }
        var addresses: [SocketAddress] = []
        var offset = 0
        for _ in 0..<count {
            let (address, size) = try address(at: pointer + offset, length: nil)
            addresses.append(address)
            offset += size
        }
        return addresses
    }

    /// Writes `address` as a `sockaddr` into `buffer` (`capacity` bytes); returns its full size
    /// (it is cut to `capacity`, as the kernel does).
    @discardableResult
    static func write(_ address: SocketAddress, to buffer: UnsafeMutableRawPointer, capacity: Int) -> Int {
        address.withSockAddr { pointer, size in
            buffer.copyMemory(from: pointer, byteCount: min(size, capacity))
            return size
        }
    }

    /// Writes `address` for a call's optional `(addr, addrlen)` pair.
    static func write(_ address: SocketAddress?, to buffer: UnsafeMutablePointer<sockaddr>?, length: UnsafeMutablePointer<socklen_t>?) {
        guard let buffer, let length else { return }
        let capacity = Int(length.pointee)
        guard let address else {
            length.pointee = 0
            return
        }
        length.pointee = socklen_t(write(address, to: UnsafeMutableRawPointer(buffer), capacity: capacity))
    }

    /// EFAULT unless a call's optional `(addr, addrlen)` output pair can be written (checked
    /// before anything is taken from the socket, so that a failure loses nothing). `addr`
    /// without `addrlen` is EFAULT, as with the kernel.
    static func checkAddressOutput(_ buffer: UnsafeMutablePointer<sockaddr>?, _ length: UnsafeMutablePointer<socklen_t>?) throws(SCTPError) {
        guard let buffer else { return }
        guard let length else { throw SCTPError(.badAddress, "an address buffer without its length") }
        try writable(length, MemoryLayout<socklen_t>.size, "the address length")
        try writable(buffer, min(Int(length.pointee), MemoryLayout<sockaddr_in6>.size), "the address buffer")
    }

    /// A `malloc`ed array of packed addresses, for `sctp_getpaddrs` / `sctp_getladdrs`.
    static func packedArray(_ addresses: [SocketAddress]) throws(SCTPError) -> UnsafeMutablePointer<sockaddr>? {
        let total = addresses.reduce(0) { $0 + $1.withSockAddr { _, size in size } }
        guard let memory = malloc(max(total, 1)) else { throw SCTPError(.noBufferSpace, "no memory for \(addresses.count) addresses") }
        var offset = 0
        for address in addresses { offset += write(address, to: memory + offset, capacity: total - offset) }
        return memory.assumingMemoryBound(to: sockaddr.self)
    }

    // MARK: Values

    static func associationID(_ id: sctp_assoc_t) -> AssociationID? {
        id == 0 ? nil : AssociationID(UInt32(bitPattern: id))
    }

    static func cID(_ id: AssociationID?) -> sctp_assoc_t { sctp_assoc_t(bitPattern: id?.rawValue ?? 0) }

    /// A C option value of type `T` from `(pointer, length)`: EINVAL when too short, EFAULT
    /// when it cannot be read.
    static func value<T>(_ pointer: UnsafeRawPointer?, _ length: socklen_t, as type: T.Type) throws(SCTPError) -> T {
        // A C structure's sizeof is Swift's stride (its size leaves out the tail padding).
        guard Int(length) >= MemoryLayout<T>.stride else {
            throw SCTPError(.invalidArgument, "an option value of \(length) bytes; \(T.self) has \(MemoryLayout<T>.stride)")
        }
        try readable(pointer, MemoryLayout<T>.stride, "the option value")
        return pointer!.loadUnaligned(as: T.self)
    }

    /// Stores a C option value into `(pointer, length)`, setting `length` to its size.
    static func store<T>(_ value: T, _ pointer: UnsafeMutableRawPointer?, _ length: UnsafeMutablePointer<socklen_t>?) throws(SCTPError) {
        guard let length else { throw SCTPError(.badAddress, "the option length is NULL") }
        try writable(length, MemoryLayout<socklen_t>.size, "the option length")
        let size = MemoryLayout<T>.stride
        guard Int(length.pointee) >= size else {
            throw SCTPError(.invalidArgument, "an option buffer of \(length.pointee) bytes; \(T.self) needs \(size)")
        }
        try writable(pointer, size, "the option buffer")
        pointer!.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        var copy = value
        withUnsafeBytes(of: &copy) { pointer!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        length.pointee = socklen_t(size)
    }
}
