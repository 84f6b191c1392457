/// The receiver's advertised window (a_rwnd, RFC 9260 §6.2).
public enum ReceiveWindow {
    /// The a_rwnd to advertise: the receive buffer size minus every byte we still hold
    /// for the peer's data — fragments waiting in reassembly and messages delivered to the
    /// application but not yet read — never below zero (and at most `UInt32.max`).
    public static func advertisedWindow(receiveBufferSize: Int, bufferedBytes: Int,
                                        deliveredUnreadBytes: Int) -> UInt32 {
        let (held, overflow) = max(0, bufferedBytes).addingReportingOverflow(max(0, deliveredUnreadBytes))
        if overflow { return 0 }
        let free = max(0, receiveBufferSize) - held
        return free <= 0 ? 0 : UInt32(clamping: free)
    }
}
