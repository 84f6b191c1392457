import NIOCore
import SCTPCore
import SCTPWire

extension SCTPSocketOption where Value == Bool {
    /// `SCTP_EXPLICIT_EOR` (RFC 6458 §8.1.26): a message is built from several sends. A send
    /// without `SCTPSendFlags.endOfRecord` adds its bytes to the message being built on its
    /// association; the send with `.endOfRecord` (or `.endOfFile`) adds its own, possibly none,
    /// and hands the whole to the association as ONE user message. Off by default: every send
    /// is a message. A socket setting: accepted and peeled-off sockets copy it.
    ///
    /// While a message is being built on an association, its sends must keep its stream, PPID,
    /// unordered flag, PR-SCTP policy and `SCTP_ADDR_OVER` address (EINVAL otherwise; the
    /// message stays as it was). The pieces may add up to `SO_SNDBUF` bytes: a piece beyond
    /// that fails with EMSGSIZE and drops the message. An empty send needs `.endOfRecord` and
    /// a message to complete (EINVAL otherwise). `.abort`, the association's end and `close`
    /// drop it. Switching the option off while a message is being built is EINVAL.
    /// `docs/DECISIONS.md` gives the reasons.
    public static var explicitEOR: Self {
        Self(name: "SCTP_EXPLICIT_EOR", read: { socket, _ in socket.explicitEOR },
             write: { socket, value, _ throws(SCTPError) in
                 if !value, !socket.partialRecords.isEmpty {
                     throw SCTPError(.invalidArgument,
                                     "SCTP_EXPLICIT_EOR: a message is being built on association \(socket.partialRecords.keys.map(\.rawValue).sorted()); end it with SCTP_EOR first")
                 }
                 socket.explicitEOR = value
             })
    }
}

/// A message being built from sends under `SCTP_EXPLICIT_EOR`: the send info of its first
/// piece and the bytes so far.
struct PartialRecord {
    var info: SCTPSendInfo
    var destination: IPAddress?
    var data: ByteBuffer

    /// Whether a send with `info` and `destination` may add to this message: the same stream,
    /// PPID, unordered flag, PR-SCTP policy and `SCTP_ADDR_OVER` address.
    func takes(_ other: SCTPSendInfo, destination otherDestination: IPAddress?) -> Bool {
        info.stream == other.stream && info.payloadProtocolIdentifier == other.payloadProtocolIdentifier
            && info.flags.contains(.unordered) == other.flags.contains(.unordered)
            && info.partialReliability == other.partialReliability && destination == otherDestination
    }
}

extension SCTPSocket {
    /// A send under `SCTP_EXPLICIT_EOR` (on the loop): adds `piece` to the message being built
    /// on each of `targets`, and with `.endOfRecord` / `.endOfFile` hands each whole message to
    /// `queueOnLoop`. Everything is checked before anything changes.
    func sendPieceOnLoop(_ piece: ByteBuffer, info: SCTPSendInfo, driver: EndpointDriver, targets: [AssociationID],
                         destination: IPAddress?, tag: UInt64?) -> EventLoopFuture<Void> {
        for id in targets {
            if let record = partialRecords[id] {
                guard record.takes(info, destination: destination) else {
                    return eventLoop.makeFailedFuture(SCTPError(.invalidArgument,
                        "SCTP_EXPLICIT_EOR: the message being built on association \(id.rawValue) has stream \(record.info.stream), PPID \(record.info.payloadProtocolIdentifier), unordered \(record.info.flags.contains(.unordered)) and its PR-SCTP policy and address; this send differs"))
                }
            } else if driver.state(of: id) == .established, let streams = driver.streams(of: id), info.stream >= streams.outbound {
                return eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "stream \(info.stream) does not exist"))
            }
        }
        let limit = min(configuration.sendBufferSize, configuration.maxMessageSize)
        if targets.contains(where: { piece.readableBytes > limit - (partialRecords[$0]?.data.readableBytes ?? 0) }) {
            for id in targets { partialRecords[id] = nil }
            return eventLoop.makeFailedFuture(SCTPError(.messageTooLong,
                "SCTP_EXPLICIT_EOR: the message would exceed \(limit) bytes (SO_SNDBUF); it is dropped"))
        }
        guard info.flags.contains(.endOfRecord) || info.flags.contains(.endOfFile) else {
            guard piece.readableBytes > 0 else { return eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "an empty message")) }
            for id in targets {
                if var record = partialRecords.removeValue(forKey: id) {
                    var bytes = piece
                    record.data.writeBuffer(&bytes)
                    if info.flags.contains(.sackImmediately) { record.info.flags.insert(.sackImmediately) }
                    partialRecords[id] = record
                } else {
                    partialRecords[id] = PartialRecord(info: info, destination: destination, data: piece)
                }
            }
            return eventLoop.makeSucceededVoidFuture()
        }
        var sends: [EventLoopFuture<Void>] = []
        sends.reserveCapacity(targets.count)
        for id in targets {
            guard let record = partialRecords.removeValue(forKey: id) else {
                sends.append(queueOnLoop(piece, info: info, driver: driver, targets: [id], destination: destination, tag: tag))
                continue
            }
            var whole = record.data
            var bytes = piece
            whole.writeBuffer(&bytes)
            var wholeInfo = info
            wholeInfo.context = record.info.context
            if record.info.flags.contains(.sackImmediately) { wholeInfo.flags.insert(.sackImmediately) }
            let queued = queueOnLoop(whole, info: wholeInfo, driver: driver, targets: [id], destination: destination, tag: tag)
            // A send that would block (non-blocking) or was interrupted took nothing: the
            // message goes back to what it was before this send, which can be tried again.
            queued.whenFailure { [self] error in
                let code = EndpointDriver.map(error).errno
                guard code == .wouldBlock || code == .interrupted, phase != .closed, partialRecords[id] == nil,
                      ownAssociations.contains(id), self.driver?.state(of: id) != nil else { return }
                partialRecords[id] = record
            }
            sends.append(queued)
        }
        return EventLoopFuture.andAllSucceed(sends, on: eventLoop)
    }
}
