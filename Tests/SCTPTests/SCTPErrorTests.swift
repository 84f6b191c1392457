import SystemPackage
import Testing
import SCTP

@Suite("SCTPError")
struct SCTPErrorTests {
    @Test("carries the errno of the seed's error list and names it")
    func names() {
        let cases: [(Errno, String)] = [
            (.addressInUse, "EADDRINUSE"), (.addressNotAvailable, "EADDRNOTAVAIL"),
            (.addressFamilyNotSupported, "EAFNOSUPPORT"), (.alreadyInProcess, "EALREADY"),
            (.badFileDescriptor, "EBADF"), (.connectionRefused, "ECONNREFUSED"), (.badAddress, "EFAULT"),
            (.interrupted, "EINTR"), (.invalidArgument, "EINVAL"), (.noBufferSpace, "ENOBUFS"),
            (.wouldBlock, "EWOULDBLOCK"), (.timedOut, "ETIMEDOUT"), (.notSupported, "EOPNOTSUPP"),
        ]
        for (errno, name) in cases {
            let error = SCTPError(errno, "because")
            #expect(error.errnoName == name)
            #expect(error.description == "\(name): because")
        }
    }
}
