import NIOCore
import SCTP
import SCTPCore

/// A channel option that is an SCTP socket option (`SCTPSocketOption`), so that every SCTP
/// option reaches a channel through `setOption` / `getOption` and the bootstraps'
/// `channelOption`. Make one with `ChannelOptions.sctp(_:association:)`:
///
/// ```swift
/// try await channel.setOption(ChannelOptions.sctp(.noDelay), value: true).get()
/// ```
///
/// Options describing new associations (`.initMessage`, buffer sizes, ...) apply to those set
/// up afterwards: on a server, set them with `serverChannelOption` so that the listener's
/// associations get them. `association` names the association of a per-association option on
/// a one-to-many channel. Two options are equal when they have the same name and association.
public struct SCTPChannelOption<Value: Sendable>: ChannelOption, Sendable {
    /// The socket option.
    public let socketOption: SCTPSocketOption<Value>
    /// The association it is about (one-to-many channels), `nil` for the socket's own.
    public let association: AssociationID?

    /// The channel option for `socketOption`.
    public init(_ socketOption: SCTPSocketOption<Value>, association: AssociationID? = nil) {
        self.socketOption = socketOption
        self.association = association
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.socketOption.name == rhs.socketOption.name && lhs.association == rhs.association
    }
}

extension ChannelOptions {
    /// The channel option for an SCTP socket option, e.g. `ChannelOptions.sctp(.noDelay)`.
    public static func sctp<Value>(_ option: SCTPSocketOption<Value>, association: AssociationID? = nil) -> SCTPChannelOption<Value> {
        SCTPChannelOption(option, association: association)
    }
}

/// Reads and writes an `SCTPChannelOption` whatever its value type (on the loop).
protocol SocketOptionAccess {
    func set(on socket: SCTPSocket, _ value: any Sendable) throws(SCTPError)
    func get(from socket: SCTPSocket) throws(SCTPError) -> any Sendable
}

extension SCTPChannelOption: SocketOptionAccess {
    func set(on socket: SCTPSocket, _ value: any Sendable) throws(SCTPError) {
        guard let value = value as? Value else { throw SCTPError(.invalidArgument, "a value of the wrong type for \(socketOption.name)") }
        try socket.setOptionOnLoop(socketOption, value, association: association)
    }

    func get(from socket: SCTPSocket) throws(SCTPError) -> any Sendable {
        try socket.getOptionOnLoop(socketOption, association: association)
    }
}
