import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire

/// Wraps a participant and, once per rule, drops or holds back the first datagram it sends
/// that holds a chunk of the rule's type: a loss or a reordering placed exactly.
final class PacketFilterParticipant: SimulationParticipant {
    enum Action {
        /// The datagram is lost.
        case drop
        /// The datagram leaves this much later (after what is sent meanwhile).
        case hold(Duration)
        /// The datagram goes as usual (to reach a later one of the same kind).
        case pass
    }

    let inner: EndpointParticipant
    private var rules: [(chunkType: UInt8, action: Action)]
    private var held: [(release: SCTPInstant, datagram: OutgoingDatagram)] = []
    /// How many rules were applied.
    private(set) var applied = 0

    init(_ inner: EndpointParticipant, rules: [(UInt8, Action)]) {
        self.inner = inner
        self.rules = rules.map { (chunkType: $0.0, action: $0.1) }
    }

    var addresses: [IPAddress] { inner.addresses }

    var nextDeadline: SCTPInstant? {
        let release = held.map(\.release).min()
        guard let own = inner.nextDeadline else { return release }
        return release.map { min($0, own) } ?? own
    }

    func handleTimeout(now: SCTPInstant) {
        if let deadline = inner.nextDeadline, deadline <= now { inner.handleTimeout(now: now) }
    }

    func receive(_ delivery: Delivery, now: SCTPInstant) { inner.receive(delivery, now: now) }

    func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? {
        while let outgoing = inner.pollTransmit(now: now) {
            let chunks = (try? SCTPPacket(parsing: outgoing.datagram, checksum: .skipped))?.chunks ?? []
            guard let index = rules.firstIndex(where: { rule in chunks.contains { $0.type == rule.chunkType } }) else {
                return outgoing
            }
            let rule = rules.remove(at: index)
            applied += 1
            switch rule.action {
            case .drop: continue
            case .hold(let duration): held.append((now + duration, outgoing))
            case .pass: return outgoing
            }
        }
        if let index = held.firstIndex(where: { $0.release <= now }) { return held.remove(at: index).datagram }
        return nil
    }
}
