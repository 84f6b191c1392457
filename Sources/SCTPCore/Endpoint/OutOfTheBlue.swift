import NIOCore
import SCTPWire

/// The answers RFC 9260 §8.4 gives to an "out of the blue" packet: one that belongs to no
/// association. The endpoint calls this after deciding a packet is out of the blue; a
/// driver calls it for packets to a port where no endpoint listens.
public enum OutOfTheBlue {
    /// The packet to send back, if any, for an out-of-the-blue `packet`.
    ///
    /// - ABORT, SHUTDOWN COMPLETE, COOKIE ACK, and ERROR carrying Stale Cookie: discarded.
    /// - SHUTDOWN ACK: SHUTDOWN COMPLETE with the T bit, the packet's tag reflected.
    /// - INIT (only reached when it cannot be processed, e.g. nobody listens): ABORT with the
    ///   INIT's Initiate Tag as verification tag and the T bit clear.
    /// - Anything else: ABORT with the T bit and the packet's tag reflected.
    ///
    /// `afterGracefulEnd`: the packet carries the tag of an association of ours that has just
    /// ended with a graceful shutdown (a late duplicate, or a retransmission that crossed our
    /// SHUTDOWN COMPLETE). Where the answer would be an ABORT it is a SHUTDOWN COMPLETE (T
    /// bit) instead: a peer still in SHUTDOWN-ACK-SENT then completes gracefully rather than
    /// taking the end for an abort, and a closed peer discards it.
    public static func response(to packet: SCTPPacket, afterGracefulEnd: Bool = false) -> SCTPPacket? {
        let reply = CommonHeader(sourcePort: packet.header.destinationPort, destinationPort: packet.header.sourcePort,
                                 verificationTag: packet.header.verificationTag)
        for chunk in packet.chunks {
            switch chunk {
            case .abort, .shutdownComplete, .cookieAck:
                return nil
            case .error(let error):
                if error.causes.contains(where: { if case .staleCookie = $0 { true } else { false } }) { return nil }
            case .shutdownAck:
                return SCTPPacket(header: reply, chunks: [.shutdownComplete(ShutdownCompleteChunk(tagFlags: .reflectedTag))])
            case .initiation(let initiation):
                var header = reply
                header.verificationTag = initiation.initiateTag
                return SCTPPacket(header: header, chunks: [.abort(AbortChunk())])
            default:
                continue
            }
        }
        if afterGracefulEnd {
            return SCTPPacket(header: reply, chunks: [.shutdownComplete(ShutdownCompleteChunk(tagFlags: .reflectedTag))])
        }
        return SCTPPacket(header: reply, chunks: [.abort(AbortChunk(tagFlags: .reflectedTag))])
    }
}
