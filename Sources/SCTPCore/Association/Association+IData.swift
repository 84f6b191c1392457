import NIOCore
import SCTPWire

// User message interleaving (RFC 8260 §2): negotiation, and I-DATA / I-FORWARD-TSN in.
// The send side lives in the transmission queue (`TransmissionQueue.interleaving`), the
// receive side in `DataReceiver` / `ReassemblyQueue+IData.swift`.

extension SCTPConfiguration {
    /// The chunk types interleaving adds to our Supported Extensions parameter: I-DATA, and
    /// I-FORWARD-TSN when PR-SCTP is on too (RFC 8260 §2.2.1, §2.3.1).
    var interleavingChunkTypes: [UInt8] {
        guard interleaving else { return [] }
        return partialReliability ? [IDataChunk.chunkType, IForwardTSNChunk.chunkType] : [IDataChunk.chunkType]
    }
}

extension Association {
    /// Applies what the peer's INIT or INIT ACK (or the cookie) said about interleaving, once
    /// data transfer is set up: I-DATA when both sides listed it (RFC 8260 §2.2.1). PR-SCTP
    /// with I-DATA needs I-FORWARD-TSN from the peer (FORWARD TSN cannot name messages by
    /// MID); a peer listing I-DATA without it gets reliable messages only.
    func negotiateInterleaving(_ features: PeerFeatures) {
        let on = configuration.interleaving && features.contains(.interleaving)
        if on && !features.contains(.interleavedForwardTSN) { peerSupportsForwardTSN = false }
        interleaving = on
        // Made later, the data transfer state takes it from `interleaving` (`makeDataState`).
        guard let state = dataSlot.pointer else { return }
        state.pointee.tx.setInterleaving(on)
        state.pointee.receiver.interleaving = on
    }

    /// A chunk that breaks the association's choice between DATA and I-DATA (RFC 8260 §2.1:
    /// the receiver aborts, with a Protocol Violation cause).
    func dataKindViolation(_ text: String, now: SCTPInstant) {
        abort(causes: [.protocolViolation(ProtocolViolationCause(information: text))],
              reason: .protocolViolation(text), now: now)
    }

    /// One I-DATA chunk (RFC 8260 §2.1) from `source`; false when the association ended and the
    /// packet's other chunks must be dropped.
    func handleIData(_ chunk: IDataChunk, from source: IPAddress? = nil, now: SCTPInstant) -> Bool {
        guard let data = dataArrives(from: source, now: now) else { return true }
        return conclude(data.pointee.receiver.receive(chunk), streamIdentifier: chunk.streamIdentifier, tsn: chunk.tsn,
                        kind: "I-DATA", data: data, now: now)
    }

    /// I-FORWARD-TSN (RFC 8260 §2.3.2).
    func handleIForwardTSN(_ chunk: IForwardTSNChunk, now: SCTPInstant) {
        receiver.receive(chunk)
        deliverMessages()
    }
}

extension SCTPEndpoint {
    /// Whether an association uses I-DATA (both ends offered interleaving, RFC 8260 §2.2.1);
    /// `nil` when it does not exist or has ended.
    public func usesInterleaving(_ id: AssociationID) -> Bool? {
        guard let association = association(id), !association.isClosed else { return nil }
        return association.interleaving
    }
}
