import SystemPackage

/// An error of the sockets API, carrying the errno that the `sctp_connectx` manual page
/// or RFC 6458 names for the condition, and a message that says what happened.
public struct SCTPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The errno the C API would report.
    public var errno: Errno
    /// A human-readable explanation.
    public var message: String

    public init(_ errno: Errno, _ message: String) {
        self.errno = errno
        self.message = message
    }

    /// The errno's symbolic name, such as `ECONNREFUSED`.
    public var errnoName: String {
        switch errno {
        case .addressInUse: "EADDRINUSE"
        case .addressNotAvailable: "EADDRNOTAVAIL"
        case .addressFamilyNotSupported: "EAFNOSUPPORT"
        case .alreadyInProcess: "EALREADY"
        case .badFileDescriptor: "EBADF"
        case .connectionRefused: "ECONNREFUSED"
        case .badAddress: "EFAULT"
        case .interrupted: "EINTR"
        case .invalidArgument: "EINVAL"
        case .noBufferSpace: "ENOBUFS"
        case .wouldBlock: "EWOULDBLOCK"
        case .timedOut: "ETIMEDOUT"
        case .notSupported: "EOPNOTSUPP"
        case .nowInProgress: "EINPROGRESS"
        case .socketNotConnected: "ENOTCONN"
        case .connectionReset: "ECONNRESET"
        case .permissionDenied: "EACCES"
        case .notPermitted: "EPERM"
        case .messageTooLong: "EMSGSIZE"
        default: "errno \(errno.rawValue)"
        }
    }

    public var description: String { "\(errnoName): \(message)" }
}
