import NIOCore
import SCTPCore
import SCTPWire

/// A socket option with a typed value (RFC 6458 §8 and the socket-level options that SCTP
/// sockets have). Read with `SCTPSocket.getOption`, write with `setOption`.
///
/// Options that describe new associations (`initMessage`, `noDelay`, buffer sizes, ...) are
/// the socket's defaults: they apply to associations set up after they are set.
/// `rtoInfo`, `associationInfo` and `peerAddressParameters` also apply to a live association:
/// the one named with `association:`, or a connected one-to-one socket's own (which then
/// also becomes the default).
public struct SCTPSocketOption<Value: Sendable>: Sendable {
    /// The option's RFC 6458 / sockets name, for messages.
    public let name: String
    let read: @Sendable (SCTPSocket, AssociationID?) throws(SCTPError) -> Value
    let write: (@Sendable (SCTPSocket, Value, AssociationID?) throws(SCTPError) -> Void)?
}

extension SCTPSocket {
    /// Reads an option (`getsockopt`). Per-association options need `association` on
    /// one-to-many sockets.
    public func getOption<Value>(_ option: SCTPSocketOption<Value>, association: AssociationID? = nil) throws(SCTPError) -> Value {
        try onLoop { [self] in
            guard phase != .closed else { throw SCTPError(.badFileDescriptor, "the socket is closed") }
            return try option.read(self, association)
        }
    }

    /// Sets an option (`setsockopt`). Read-only options fail with EINVAL (`ENOPROTOOPT` in C).
    public func setOption<Value>(_ option: SCTPSocketOption<Value>, _ value: Value, association: AssociationID? = nil) throws(SCTPError) {
        try onLoop { [self] in
            guard phase != .closed else { throw SCTPError(.badFileDescriptor, "the socket is closed") }
            guard let write = option.write else { throw SCTPError(.invalidArgument, "\(option.name) is read-only") }
            try write(self, value, association)
            driver?.configuration = configuration
        }
    }

    /// A snapshot of a peer address of an association (`SCTP_GET_PEER_ADDR_INFO`).
    public func peerAddressInfo(_ address: SocketAddress, association: AssociationID? = nil) throws(SCTPError) -> PathStatus {
        try getOption(.peerAddressInfo(address), association: association)
    }
}

extension SCTPSocket {
    /// The live association a per-association option is about: the one named, or a one-to-one
    /// socket's own; `nil` means the socket's defaults for new associations.
    func optionTarget(_ association: AssociationID?) throws(SCTPError) -> (EndpointDriver, AssociationID)? {
        if association != nil { return try resolve(association) }
        guard style == .oneToOne, let driver, let own = self.association, driver.state(of: own) != nil else { return nil }
        return (driver, own)
    }
}

private func positive(_ value: Int, _ name: String) throws(SCTPError) -> Int {
    guard value > 0 else { throw SCTPError(.invalidArgument, "\(name) must be positive") }
    return value
}

extension SCTPSocketOption where Value == SCTPInitMessage {
    /// `SCTP_INITMSG`: the streams INIT asks for and how often it is sent.
    public static var initMessage: Self {
        Self(name: "SCTP_INITMSG", read: { socket, _ in
            let c = socket.configuration
            return SCTPInitMessage(outboundStreams: c.outboundStreams, maxInboundStreams: c.maxInboundStreams,
                                   maxAttempts: c.maxInitRetransmits, maxInitTimeout: c.maxInitTimeout)
        }, write: { socket, value, _ throws(SCTPError) in
            guard value.outboundStreams > 0, value.maxInboundStreams > 0, value.maxAttempts >= 0 else {
                throw SCTPError(.invalidArgument, "SCTP_INITMSG needs at least one stream each way")
            }
            socket.configuration.outboundStreams = value.outboundStreams
            socket.configuration.maxInboundStreams = value.maxInboundStreams
            socket.configuration.maxInitRetransmits = value.maxAttempts
            socket.configuration.maxInitTimeout = value.maxInitTimeout
        })
    }
}

extension SCTPSocketOption where Value == SCTPRTOInfo {
    /// `SCTP_RTOINFO`: RTO.Initial, RTO.Min and RTO.Max, of an association (the one named,
    /// or a connected one-to-one socket's) or else the socket's defaults.
    public static var rtoInfo: Self {
        Self(name: "SCTP_RTOINFO", read: { socket, association throws(SCTPError) in
            if let (driver, id) = try socket.optionTarget(association), let p = driver.parameters(of: id) {
                return SCTPRTOInfo(initial: p.rtoInitial, minimum: p.rtoMin, maximum: p.rtoMax)
            }
            let c = socket.configuration
            return SCTPRTOInfo(initial: c.rtoInitial, minimum: c.rtoMin, maximum: c.rtoMax)
        }, write: { socket, value, association throws(SCTPError) in
            guard value.minimum > .zero, value.minimum <= value.initial, value.initial <= value.maximum else {
                throw SCTPError(.invalidArgument, "SCTP_RTOINFO needs 0 < min <= initial <= max")
            }
            if let (driver, id) = try socket.optionTarget(association) {
                try driver.setRTOParameters(initial: value.initial, minimum: value.minimum, maximum: value.maximum, of: id)
                if association != nil { return }
            }
            socket.configuration.rtoInitial = value.initial
            socket.configuration.rtoMin = value.minimum
            socket.configuration.rtoMax = value.maximum
        })
    }
}

extension SCTPSocketOption where Value == SCTPAssociationParameters {
    /// `SCTP_ASSOCINFO`: Association.Max.Retrans and the cookie lifetime.
    public static var associationInfo: Self {
        Self(name: "SCTP_ASSOCINFO", read: { socket, association throws(SCTPError) in
            let maxRetransmissions = try socket.optionTarget(association).flatMap { $0.0.parameters(of: $0.1) }?
                .associationMaxRetransmits ?? socket.configuration.associationMaxRetransmits
            return SCTPAssociationParameters(maxRetransmissions: maxRetransmissions, cookieLife: socket.configuration.validCookieLife)
        }, write: { socket, value, association throws(SCTPError) in
            let count = try positive(value.maxRetransmissions, "maxRetransmissions")
            guard value.cookieLife > .zero else { throw SCTPError(.invalidArgument, "the cookie life must be positive") }
            if let (driver, id) = try socket.optionTarget(association) {
                try? driver.setAssociationMaxRetransmits(count, of: id)
                if association != nil { return }
            }
            socket.configuration.associationMaxRetransmits = count
            socket.configuration.validCookieLife = value.cookieLife
        })
    }
}

extension SCTPSocketOption where Value == SCTPPeerAddressParameters {
    /// `SCTP_PEER_ADDR_PARAMS`: heartbeat interval, Path.Max.Retrans and path MTU.
    public static var peerAddressParameters: Self {
        Self(name: "SCTP_PEER_ADDR_PARAMS", read: { socket, association throws(SCTPError) in
            if let (driver, id) = try socket.optionTarget(association), let p = driver.parameters(of: id),
               let status = driver.status(of: id) {
                return SCTPPeerAddressParameters(heartbeatInterval: p.heartbeatInterval, pathMaxRetransmissions: p.pathMaxRetransmits,
                                                 pathMTU: status.paths.first?.mtu ?? socket.configuration.pathMTU,
                                                 pathMTUDiscovery: status.paths.first.map { $0.mtuDiscovery.state != .disabled })
            }
            let c = socket.configuration
            return SCTPPeerAddressParameters(heartbeatInterval: c.heartbeatInterval, pathMaxRetransmissions: c.pathMaxRetransmits,
                                             pathMTU: c.pathMTU, pathMTUDiscovery: c.pathMTUDiscovery.isEnabled)
        }, write: { socket, value, association throws(SCTPError) in
            guard (508...65_527).contains(value.pathMTU) else { throw SCTPError(.invalidArgument, "path MTU outside 508...65527") }
            if let interval = value.heartbeatInterval, interval <= .zero {
                throw SCTPError(.invalidArgument, "the heartbeat interval must be positive")
            }
            let retransmissions = try positive(value.pathMaxRetransmissions, "pathMaxRetransmissions")
            if let (driver, id) = try socket.optionTarget(association) {
                try driver.setPathParameters(heartbeatInterval: value.heartbeatInterval, pathMaxRetransmits: retransmissions,
                                             mtu: value.pathMTU, of: id)
                // SPP_PMTUD_ENABLE / SPP_PMTUD_DISABLE (SCTPSocket+PathMTU.swift).
                if let discovery = value.pathMTUDiscovery {
                    try driver.setPathMTUDiscovery(discovery, mtu: discovery ? nil : value.pathMTU, of: id)
                }
                if association != nil { return }
            }
            socket.configuration.heartbeatInterval = value.heartbeatInterval
            socket.configuration.pathMaxRetransmits = retransmissions
            socket.configuration.pathMTU = value.pathMTU
            if let discovery = value.pathMTUDiscovery { socket.configuration.pathMTUDiscovery.isEnabled = discovery }
        })
    }
}

extension SCTPSocketOption where Value == Bool {
    /// `SCTP_NODELAY`: send at once rather than wait to bundle small messages.
    public static var noDelay: Self {
        Self(name: "SCTP_NODELAY", read: { socket, _ in socket.configuration.noDelay },
             write: { socket, value, _ in socket.configuration.noDelay = value })
    }

    /// `SCTP_RECVNXTINFO`: each read that ends a message says what the next read will return
    /// (`SCTPMessage.nextInfo`), when that has arrived already. Off by default.
    public static var receiveNextInfo: Self {
        Self(name: "SCTP_RECVNXTINFO", read: { socket, _ in socket.receiveNextInfo },
             write: { socket, value, _ in socket.receiveNextInfo = value })
    }

    /// `SCTP_REUSE_PORT` (RFC 6458 §8.1.27): the socket may bind a port that other sockets
    /// of the stack have bound on the same addresses, when all of them set this option before
    /// binding (otherwise bind fails with EADDRINUSE as usual). At most one of them listens
    /// (a second `listen` fails with EADDRINUSE until the listener closes); the others are
    /// clients: they may share a fixed local port for associations to different peers; a second
    /// association to the same peer from the shared port fails with EADDRNOTAVAIL.
    ///
    /// One-to-one sockets only: EOPNOTSUPP on a one-to-many socket. Set before `bind`
    /// (or `bindx`, or the implicit bind of `connectx`): EINVAL afterwards. Accepted sockets
    /// report their listener's value.
    public static var reusePort: Self {
        Self(name: "SCTP_REUSE_PORT", read: { socket, _ in socket.reusePort },
             write: { socket, value, _ throws(SCTPError) in
                 guard socket.style == .oneToOne else {
                     throw SCTPError(.notSupported, "SCTP_REUSE_PORT is for one-to-one sockets only")
                 }
                 guard socket.driver == nil else { throw SCTPError(.invalidArgument, "SCTP_REUSE_PORT must be set before bind") }
                 socket.reusePort = value
             })
    }

    /// Non-blocking mode (`O_NONBLOCK`): calls that would wait fail with EWOULDBLOCK instead;
    /// `connectx` returns the association id at once.
    public static var nonBlocking: Self {
        Self(name: "O_NONBLOCK", read: { socket, _ in socket.nonBlocking },
             write: { socket, value, _ in socket.nonBlocking = value })
    }
}

extension SCTPSocketOption where Value == UInt32? {
    /// `SCTP_ADAPTATION_LAYER`: the Adaptation Layer Indication code point (RFC 5061 §4.2.5)
    /// new associations announce in INIT and INIT ACK; `nil` (the default) announces none.
    /// The peer's arrives as `SCTPNotification.adaptationIndication` (subscribe with
    /// `SCTPEventTypes.adaptationIndication`).
    public static var adaptationLayer: Self {
        Self(name: "SCTP_ADAPTATION_LAYER", read: { socket, _ in socket.configuration.adaptationLayerIndication },
             write: { socket, value, _ in socket.configuration.adaptationLayerIndication = value })
    }
}

extension SCTPSocketOption where Value == UInt32 {
    /// `SCTP_ACCEPT_ZERO_CHECKSUM` (RFC 9653's socket option): the error detection method of the carrier
    /// under which new associations accept packets with a zero checksum, announced with the
    /// Zero Checksum Acceptable parameter in INIT and INIT ACK; 0 (`SCTP_EDMID_NONE`, the
    /// default) none. 1 (`ZeroChecksumAcceptableParameter.dtls`, `SCTP_EDMID_LOWER_LAYER_DTLS`)
    /// says that every packet travels in DTLS (RFC 8261), whose integrity check covers it.
    /// Where the peer announces the same method, the association also sends zero checksums
    /// (`AssociationStatus.zeroChecksum`), sparing the CRC32c on both sides.
    ///
    /// Setting it says the carrier detects errors, so only a carrier stack
    /// (`SCTPStack(carrier:)`) takes a method: over UDP and raw IP only the 16-bit UDP/IP
    /// checksums would remain, and a method fails with EINVAL there.
    public static var acceptZeroChecksum: Self {
        Self(name: "SCTP_ACCEPT_ZERO_CHECKSUM", read: { socket, _ in socket.configuration.zeroChecksumMethod ?? 0 },
             write: { socket, value, _ throws(SCTPError) in
                 guard value == 0 || socket.stack.isCarrier else {
                     throw SCTPError(.invalidArgument,
                                     "SCTP_ACCEPT_ZERO_CHECKSUM needs a carrier that detects errors (SCTPStack(carrier:)); UDP and raw IP do not")
                 }
                 socket.configuration.zeroChecksumMethod = value == 0 ? nil : value
             })
    }
}

extension SCTPSocketOption where Value == SCTPInitProfile {
    /// Which optional parameters the INITs and INIT ACKs of new associations carry (ours,
    /// not in RFC 6458): `.full` (the default on UDP and raw IP stacks: also Supported Address
    /// Types and ECN Capable) or `.webRTC` (the default on carrier stacks: only what WebRTC
    /// stacks such as pion/sctp accept, see `SCTPInitProfile`).
    public static var initProfile: Self {
        Self(name: "SCTP_INIT_PROFILE", read: { socket, _ in socket.configuration.initProfile },
             write: { socket, value, _ in socket.configuration.initProfile = value })
    }
}

extension SCTPSocketOption where Value == SCTPSendInfo {
    /// `SCTP_DEFAULT_SNDINFO`: what `sendmsg` uses when given no send info.
    public static var defaultSendInfo: Self {
        Self(name: "SCTP_DEFAULT_SNDINFO", read: { socket, _ in socket.defaultSendInfo },
             write: { socket, value, _ in socket.defaultSendInfo = value })
    }
}

extension SCTPSocketOption where Value == SCTPEventTypes {
    /// `SCTP_EVENT`: which notifications `recvmsg` delivers.
    public static var events: Self {
        Self(name: "SCTP_EVENT", read: { socket, _ in socket.subscriptions },
             write: { socket, value, _ in socket.subscriptions = value })
    }
}

extension SCTPSocketOption where Value == AssociationStatus {
    /// `SCTP_STATUS` (read-only): state, windows, streams, primary address, paths.
    public static var status: Self {
        Self(name: "SCTP_STATUS", read: { socket, association throws(SCTPError) in
            let (driver, id) = try socket.resolve(association)
            guard let status = driver.status(of: id) else { throw SCTPError(.invalidArgument, "no such association") }
            return status
        }, write: nil)
    }
}

extension SCTPSocketOption where Value == SocketAddress {
    /// `SCTP_PRIMARY_ADDR`: the peer address new data goes to.
    public static var primaryAddress: Self {
        Self(name: "SCTP_PRIMARY_ADDR", read: { socket, association throws(SCTPError) in
            let (driver, id) = try socket.resolve(association)
            guard let address = driver.primaryAddress(of: id), let port = driver.peerPort(of: id),
                  let result = try? address.socketAddress(port: Int(port)) else {
                throw SCTPError(.invalidArgument, "no such association")
            }
            return result
        }, write: { socket, value, association throws(SCTPError) in
            let (driver, id) = try socket.resolve(association)
            guard let ip = IPAddress(value) else { throw SCTPError(.addressFamilyNotSupported, "not an IP address: \(value)") }
            try driver.setPrimaryAddress(ip, of: id)
        })
    }
}

extension SCTPSocketOption where Value == Int {
    /// `SO_SNDBUF`: bytes queued for sending before sends block.
    public static var sendBufferSize: Self {
        Self(name: "SO_SNDBUF", read: { socket, _ in socket.configuration.sendBufferSize },
             write: { socket, value, _ throws(SCTPError) in socket.configuration.sendBufferSize = try positive(value, "SO_SNDBUF") })
    }

    /// `SCTP_MAXSEG`: the largest user data in one DATA chunk, for associations set up
    /// afterwards; 0: as much as the path MTU allows (what reading it gives by default).
    public static var maxSegment: Self {
        Self(name: "SCTP_MAXSEG", read: { socket, _ in socket.configuration.maxSegmentSize ?? 0 },
             write: { socket, value, _ throws(SCTPError) in
                 guard value == 0 || (4...65_535).contains(value) else { throw SCTPError(.invalidArgument, "SCTP_MAXSEG is 0 or 4...65535") }
                 socket.configuration.maxSegmentSize = value == 0 ? nil : value
             })
    }

    /// The most associations the socket holds at once (ours; beyond it connectx fails with
    /// ENOBUFS and INITs are refused with ABORT Out of Resource).
    public static var maxAssociations: Self {
        Self(name: "SCTP_MAX_ASSOCIATIONS", read: { socket, _ in socket.configuration.maxAssociations },
             write: { socket, value, _ throws(SCTPError) in socket.configuration.maxAssociations = try positive(value, "maxAssociations") })
    }

    /// `SO_RCVBUF`: the receive window offered to peers (data not yet read counts against it).
    public static var receiveBufferSize: Self {
        Self(name: "SO_RCVBUF", read: { socket, _ in socket.configuration.receiveBufferSize },
             write: { socket, value, _ throws(SCTPError) in
                 guard value >= 1500 else { throw SCTPError(.invalidArgument, "SO_RCVBUF must be at least 1500") }
                 socket.configuration.receiveBufferSize = value
             })
    }
}

extension SCTPSocketOption where Value == Int? {
    /// `SCTP_REMOTE_UDP_ENCAPS_PORT`: the peer's UDP port until one is learned from its packets
    /// (`nil`: the stack's default).
    public static var remoteUDPEncapsulationPort: Self {
        Self(name: "SCTP_REMOTE_UDP_ENCAPS_PORT", read: { socket, _ in socket.remoteUDPPort },
             write: { socket, value, _ throws(SCTPError) in
                 if let value, !(1...65_535).contains(value) { throw SCTPError(.invalidArgument, "not a UDP port: \(value)") }
                 socket.remoteUDPPort = value
                 socket.driver?.remoteUDPPort = value
             })
    }
}

extension SCTPSocketOption where Value == Duration? {
    /// `SO_LINGER`: `nil` (off) closes gracefully in the background; zero aborts on close;
    /// a positive time makes `close` wait up to that long for the graceful shutdown.
    public static var linger: Self {
        Self(name: "SO_LINGER", read: { socket, _ in socket.linger },
             write: { socket, value, _ throws(SCTPError) in
                 if let value, value < .zero { throw SCTPError(.invalidArgument, "negative linger time") }
                 socket.linger = value
             })
    }

    /// `SCTP_AUTOCLOSE`: associations idle this long (nothing queued or unacknowledged, no
    /// user data either way) shut down gracefully; `nil` never.
    public static var autoClose: Self {
        Self(name: "SCTP_AUTOCLOSE", read: { socket, _ in socket.configuration.autoClose },
             write: { socket, value, _ throws(SCTPError) in
                 if let value, value <= .zero { throw SCTPError(.invalidArgument, "the autoclose time must be positive") }
                 socket.configuration.autoClose = value
             })
    }

    /// `SO_RCVTIMEO`: how long `recvmsg` and `accept` wait before failing with EWOULDBLOCK
    /// (`nil`: forever).
    public static var receiveTimeout: Self {
        Self(name: "SO_RCVTIMEO", read: { socket, _ in socket.receiveTimeout },
             write: { socket, value, _ throws(SCTPError) in
                 if let value, value <= .zero { throw SCTPError(.invalidArgument, "the receive timeout must be positive") }
                 socket.receiveTimeout = value
             })
    }
}
