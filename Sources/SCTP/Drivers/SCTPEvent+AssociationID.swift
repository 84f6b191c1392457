import SCTPCore

extension SCTPEvent {
    /// The association an event is about.
    public var associationID: AssociationID? {
        switch self {
        case .communicationUp(let id, _, _), .cannotStart(let id, _), .communicationLost(let id, _), .restart(let id),
             .shutdownComplete(let id), .peerShutdown(let id), .peerAddressChange(let id, _, _), .peerAddressReconfigured(let id, _, _), .remoteError(let id, _),
             .sendFailed(let id, _), .partialDeliveryAborted(let id, _), .senderDry(let id), .message(let id, _),
             .adaptationIndication(let id, _), .streamReset(let id, _), .associationReset(let id, _),
             .streamChange(let id, _), .authentication(let id, _):
            id
        }
    }
}
