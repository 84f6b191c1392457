import NIOCore
import SCTPCore
import SCTPWire

/// `struct sctp_reset_streams` (RFC 6525 §6.3.2): which streams to reset, which way.
public struct SCTPResetStreams: Hashable, Sendable {
    /// `srs_flags`: `.outgoing` resets our outgoing streams, `.incoming` asks the peer to
    /// reset its outgoing streams (our incoming ones); both may be given.
    public var direction: StreamResetDirection
    /// `srs_stream_list`; empty means every stream.
    public var streams: [UInt16]

    public init(direction: StreamResetDirection, streams: [UInt16] = []) {
        self.direction = direction
        self.streams = streams
    }
}

/// `struct sctp_add_streams` (RFC 6525 §6.3.4): streams to add each way.
public struct SCTPAddStreams: Hashable, Sendable {
    /// `sas_instrms`: incoming streams the peer is asked to add.
    public var inbound: UInt16
    /// `sas_outstrms`: outgoing streams to add.
    public var outbound: UInt16

    public init(inbound: UInt16 = 0, outbound: UInt16 = 0) {
        self.inbound = inbound
        self.outbound = outbound
    }
}

extension SCTPSocketOption {
    /// The reader of an option that can only be set (an action such as a reset).
    static func writeOnlyReader(_ name: String) -> @Sendable (SCTPSocket, AssociationID?) throws(SCTPError) -> Value {
        { _, _ throws(SCTPError) in throw SCTPError(.invalidArgument, "\(name) is write-only") }
    }
}

extension SCTPSocket {
    /// The live association an action option (reset, add streams) applies to: the one
    /// named, or a connected one-to-one socket's own.
    fileprivate func actionTarget(_ association: AssociationID?, _ name: String) throws(SCTPError) -> (EndpointDriver, AssociationID) {
        guard let target = try optionTarget(association) else {
            throw SCTPError(style == .oneToMany ? .invalidArgument : .socketNotConnected,
                            "\(name) needs an association" + (style == .oneToMany ? " id" : ""))
        }
        return target
    }

    /// Resets streams (`SCTP_RESET_STREAMS`, RFC 6525 §6.3.2); see `SCTPSocketOption.resetStreams`.
    public func resetStreams(_ streams: [UInt16] = [], direction: StreamResetDirection,
                             association: AssociationID? = nil) throws(SCTPError) {
        try setOption(.resetStreams, SCTPResetStreams(direction: direction, streams: streams), association: association)
    }

    /// Resets the association's TSNs and SSNs (`SCTP_RESET_ASSOC`, RFC 6525 §6.3.3).
    public func resetAssociation(association: AssociationID? = nil) throws(SCTPError) {
        try setOption(.resetAssociation, (), association: association)
    }

    /// Adds streams (`SCTP_ADD_STREAMS`, RFC 6525 §6.3.4).
    public func addStreams(outbound: UInt16 = 0, inbound: UInt16 = 0, association: AssociationID? = nil) throws(SCTPError) {
        try setOption(.addStreams, SCTPAddStreams(inbound: inbound, outbound: outbound), association: association)
    }
}

extension SCTPSocketOption where Value == StreamResetPermissions {
    /// `SCTP_ENABLE_STREAM_RESET` (RFC 6525 §6.3.1): which reconfiguration requests of the
    /// peer are performed (the others are denied). Of a live association (the one named, or
    /// a connected one-to-one socket's) and of the associations set up later. Default:
    /// `.resetStreams`.
    public static var enableStreamReset: Self {
        Self(name: "SCTP_ENABLE_STREAM_RESET", read: { socket, _ in socket.configuration.streamResetPermissions },
             write: { socket, value, association throws(SCTPError) in
                 let known: StreamResetPermissions = [.resetStreams, .resetAssociation, .changeStreams]
                 guard known.isSuperset(of: value) else {
                     throw SCTPError(.invalidArgument, "SCTP_ENABLE_STREAM_RESET: unknown flags \(value.rawValue)")
                 }
                 if let (driver, id) = try socket.optionTarget(association) {
                     try driver.setStreamResetPermissions(value, of: id)
                     if association != nil { return }
                 }
                 socket.configuration.streamResetPermissions = value
             })
    }
}

extension SCTPSocketOption where Value == Bool {
    /// `SCTP_RECONFIG_SUPPORTED` (RFC 6525 §6.3.5): whether RE-CONFIG is announced in the
    /// INIT / INIT ACK of new associations; read on a live association, whether both sides
    /// announced it.
    public static var reconfigSupported: Self {
        Self(name: "SCTP_RECONFIG_SUPPORTED", read: { socket, association throws(SCTPError) in
            if let (driver, id) = try socket.optionTarget(association), let supported = driver.isReconfigurationSupported(of: id) {
                return supported
            }
            return socket.configuration.streamReconfiguration
        }, write: { socket, value, _ in socket.configuration.streamReconfiguration = value })
    }
}

extension SCTPSocketOption where Value == SCTPResetStreams {
    /// `SCTP_RESET_STREAMS` (RFC 6525 §6.3.2), write-only: resets streams of a live
    /// association. An outgoing reset sends what is queued on the streams first; messages
    /// sent on them afterwards wait for the peer's answer, then start at SSN 0. The outcome
    /// arrives as `SCTPNotification.streamReset` (subscribe with `.streamReset`). Errors:
    /// EOPNOTSUPP when either side lacks RE-CONFIG, EINVAL for streams that do not exist or
    /// more than 256 of them, EALREADY when too many requests wait.
    public static var resetStreams: Self {
        Self(name: "SCTP_RESET_STREAMS", read: writeOnlyReader("SCTP_RESET_STREAMS"), write: { socket, value, association throws(SCTPError) in
            let (driver, id) = try socket.actionTarget(association, "SCTP_RESET_STREAMS")
            try driver.resetStreams(value.streams, direction: value.direction, of: id)
        })
    }
}

extension SCTPSocketOption where Value == Void {
    /// `SCTP_RESET_ASSOC` (RFC 6525 §6.3.3), write-only: resets the TSNs and every SSN of a
    /// live association both ways (the peer must allow it). New messages wait until
    /// everything sent is acknowledged and the peer answered. The outcome arrives as
    /// `SCTPNotification.associationReset`.
    public static var resetAssociation: Self {
        Self(name: "SCTP_RESET_ASSOC", read: writeOnlyReader("SCTP_RESET_ASSOC"), write: { socket, _, association throws(SCTPError) in
            let (driver, id) = try socket.actionTarget(association, "SCTP_RESET_ASSOC")
            try driver.resetAssociation(id)
        })
    }
}

extension SCTPSocketOption where Value == SCTPAddStreams {
    /// `SCTP_ADD_STREAMS` (RFC 6525 §6.3.4), write-only: adds outgoing streams and/or asks
    /// the peer to add incoming ones (the peer must allow it). The outcome arrives as
    /// `SCTPNotification.streamChange`.
    public static var addStreams: Self {
        Self(name: "SCTP_ADD_STREAMS", read: writeOnlyReader("SCTP_ADD_STREAMS"), write: { socket, value, association throws(SCTPError) in
            let (driver, id) = try socket.actionTarget(association, "SCTP_ADD_STREAMS")
            try driver.addStreams(outgoing: value.outbound, incoming: value.inbound, of: id)
        })
    }
}
