import SCTPCore

extension SCTPSocketOption where Value == Int {
    /// `SCTP_FRAGMENT_INTERLEAVE` (RFC 6458 §8.1.20): 0, 1 (the default) or 2; other values
    /// are EINVAL. Level 2 is what user message interleaving needs (RFC 8260 §4.3.1); going
    /// below it while `interleavingSupported` is on is EINVAL. Reads of this socket hand out
    /// the pieces of a partially delivered message with their stream and `isEndOfRecord`
    /// (`MSG_EOR`), and pieces of messages of different streams may follow one another, as
    /// level 2 allows; pieces of two messages of one stream never interleave.
    public static var fragmentInterleave: Self {
        Self(name: "SCTP_FRAGMENT_INTERLEAVE", read: { socket, _ in socket.fragmentInterleave },
             write: { socket, value, _ throws(SCTPError) in
                 guard (0...2).contains(value) else {
                     throw SCTPError(.invalidArgument, "SCTP_FRAGMENT_INTERLEAVE: \(value) is not 0, 1 or 2")
                 }
                 if value < 2 && socket.configuration.interleaving {
                     throw SCTPError(.invalidArgument, "SCTP_INTERLEAVING_SUPPORTED is on: it needs SCTP_FRAGMENT_INTERLEAVE 2")
                 }
                 socket.fragmentInterleave = value
             })
    }
}

extension SCTPSocketOption where Value == Bool {
    /// `SCTP_INTERLEAVING_SUPPORTED` (RFC 8260 §4.3.1): new associations offer user message
    /// interleaving (I-DATA, and I-FORWARD-TSN with PR-SCTP) and use it when the peer offers
    /// it too; otherwise DATA. Off by default. Switching it on needs `fragmentInterleave` 2
    /// first, else EINVAL. A live association keeps what it negotiated.
    public static var interleavingSupported: Self {
        Self(name: "SCTP_INTERLEAVING_SUPPORTED", read: { socket, _ in socket.configuration.interleaving },
             write: { socket, value, _ throws(SCTPError) in
                 if value && socket.fragmentInterleave != 2 {
                     throw SCTPError(.invalidArgument, "SCTP_INTERLEAVING_SUPPORTED needs SCTP_FRAGMENT_INTERLEAVE 2")
                 }
                 socket.configuration.interleaving = value
             })
    }
}

extension SCTPSocket {
    /// Whether an association of this socket uses I-DATA (RFC 8260): both ends offered it.
    /// `nil` when there is no such association.
    public func usesInterleaving(association: AssociationID? = nil) throws(SCTPError) -> Bool? {
        try onLoop { [self] () throws(SCTPError) -> Bool? in
            guard let (driver, id) = try optionTarget(association) else { return nil }
            return driver.usesInterleaving(id)
        }
    }
}

extension SCTPSocket {
    /// Sets `SCTP_FRAGMENT_INTERLEAVE` to 2 and `SCTP_INTERLEAVING_SUPPORTED` on: new
    /// associations offer I-DATA (RFC 8260).
    public func offerInterleaving() throws(SCTPError) {
        try setOption(.fragmentInterleave, 2)
        try setOption(.interleavingSupported, true)
    }
}
