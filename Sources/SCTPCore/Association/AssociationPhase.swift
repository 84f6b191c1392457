import NIOCore
import SCTPWire

/// Where an association is in its life (the states of RFC 9260 §4), with the data only that
/// phase has: the active side's handshake while COOKIE-WAIT or COOKIE-ECHOED, the T2 backoff
/// while SHUTDOWN-SENT or SHUTDOWN-ACK-SENT. `state` names the phase without its data.
enum AssociationPhase {
    case closed
    indirect case cookieWait(HandshakeProgress)
    indirect case cookieEchoed(HandshakeProgress)
    case established
    case shutdownPending
    case shutdownReceived
    indirect case shutdownSent(ShutdownProgress)
    indirect case shutdownAckSent(ShutdownProgress)

    /// The RFC state of this phase.
    var state: AssociationState {
        switch self {
        case .closed: .closed
        case .cookieWait: .cookieWait
        case .cookieEchoed: .cookieEchoed
        case .established: .established
        case .shutdownPending: .shutdownPending
        case .shutdownReceived: .shutdownReceived
        case .shutdownSent: .shutdownSent
        case .shutdownAckSent: .shutdownAckSent
        }
    }

    /// The handshake, while the association is being set up by this side.
    var handshake: HandshakeProgress? {
        switch self {
        case .cookieWait(let progress), .cookieEchoed(let progress): progress
        default: nil
        }
    }

    /// The T2-shutdown backoff, while SHUTDOWN or SHUTDOWN ACK waits for its answer.
    var shutdown: ShutdownProgress? {
        switch self {
        case .shutdownSent(let progress), .shutdownAckSent(let progress): progress
        default: nil
        }
    }
}

/// Where the active side of the handshake stands (RFC 9260 §5.1): the chunk to retransmit
/// on T1 expiry and the round-robin position over the addresses given to connect.
struct HandshakeProgress {
    /// The INIT this side sent, as the datagram it went in (written from prepared bytes,
    /// `SCTPEndpoint.connect`): sent again as it is on T1-init expiry while `pending` is
    /// empty, and read back to be sent with a Cookie Preservative after a Stale Cookie error.
    var initPacket: ByteBuffer
    /// What T1 retransmits when not `initPacket`: the INIT with a Cookie Preservative while
    /// COOKIE-WAIT after a Stale Cookie error, COOKIE ECHO (with what is bundled) while
    /// COOKIE-ECHOED.
    var pending: [Chunk]
    /// The COOKIE ECHO datagram while COOKIE-ECHOED, when it is a lone COOKIE ECHO not
    /// signed (`handleInitAck` writes it once from the INIT ACK's cookie): T1-cookie sends it
    /// again as it is, and `pending` is then empty.
    var cookieEchoPacket: ByteBuffer? = nil
    /// The addresses given to connectx, in order; each T1 expiry moves to the next one.
    var connectAddresses: [IPAddress]
    var cursor = 0
    var retransmissions = 0
    /// The T1 timeout: the RTO doubled once per full round of the addresses.
    var timeout: Duration
}

/// SHUTDOWN or SHUTDOWN ACK is out (§9.2): the T2-shutdown timeout, doubled on each expiry.
struct ShutdownProgress {
    var t2Timeout: Duration
}

/// The association-wide timers (RFC 9260 §14: T1-init and T1-cookie, T2-shutdown,
/// T5-shutdown-guard). The per-path timers, T3-rtx and the heartbeat timer, are kept with
/// their path (`PeerPath`); the delayed SACK timer with the receiver's SACK policy
/// (`DataReceiver.sackDeadline`). Extensions add their timers here.
enum AssociationTimer: CaseIterable {
    /// T1-init or T1-cookie: retransmits INIT or COOKIE ECHO (round robin over the addresses).
    case t1Init
    /// T2-shutdown: retransmits SHUTDOWN or SHUTDOWN ACK.
    case t2Shutdown
    /// T5-shutdown-guard: ends a shutdown that takes too long with ABORT.
    case t5ShutdownGuard
    /// The stream reconfiguration timer (RFC 6525 §5.1.1): retransmits the RE-CONFIG
    /// chunk in flight.
    case reconfiguration
    /// The address reconfiguration timer (RFC 5061 §5.1): retransmits the ASCONF in flight.
    case addressReconfiguration
}

/// The deadlines of the association-wide timers, one per `AssociationTimer`; `nil` when the
/// timer is stopped. Inline storage: no allocation.
struct TimerTable {
    @PackedInstant private var t1: SCTPInstant? = nil
    @PackedInstant private var t2: SCTPInstant? = nil
    @PackedInstant private var t5: SCTPInstant? = nil
    @PackedInstant private var reconfig: SCTPInstant? = nil
    @PackedInstant private var asconf: SCTPInstant? = nil

    /// The deadline of a timer; set `nil` to stop it.
    subscript(timer: AssociationTimer) -> SCTPInstant? {
        get {
            switch timer {
            case .t1Init: t1
            case .t2Shutdown: t2
            case .t5ShutdownGuard: t5
            case .reconfiguration: reconfig
            case .addressReconfiguration: asconf
            }
        }
        set {
            switch timer {
            case .t1Init: t1 = newValue
            case .t2Shutdown: t2 = newValue
            case .t5ShutdownGuard: t5 = newValue
            case .reconfiguration: reconfig = newValue
            case .addressReconfiguration: asconf = newValue
            }
        }
    }

    /// Whether a timer runs and its deadline is at or before `now`.
    func hasExpired(_ timer: AssociationTimer, at now: SCTPInstant) -> Bool {
        guard let deadline = self[timer] else { return false }
        return deadline <= now
    }

    /// The earliest deadline of all running timers.
    var earliest: SCTPInstant? {
        func earlier(_ a: SCTPInstant?, _ b: SCTPInstant?) -> SCTPInstant? {
            guard let a else { return b }
            guard let b else { return a }
            return a < b ? a : b
        }
        return earlier(earlier(earlier(earlier(t1, t2), t5), reconfig), asconf)
    }

    /// Stops every timer.
    mutating func stopAll() { self = TimerTable() }
}
