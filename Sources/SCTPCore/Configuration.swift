/// The protocol parameters and limits of an endpoint and its associations (RFC 9260 §16
/// and RFC 6458 options). Every limit has a safe default; exceeding one gives a clear error
/// to the API or the protocol's answer to the peer, never unbounded memory.
public struct SCTPConfiguration: Sendable, Hashable {
    // MARK: Handshake (RFC 9260 §5, §16)

    /// Outbound streams we ask for in INIT / INIT ACK (`SCTP_INITMSG` sinit_num_ostreams).
    public var outboundStreams: UInt16 = 10
    /// Maximum inbound streams we accept (`sinit_max_instreams`).
    public var maxInboundStreams: UInt16 = 2048
    /// Max.Init.Retransmits (`sinit_max_attempts` − 1): T1-init / T1-cookie retransmissions before giving up.
    public var maxInitRetransmits: Int = 8
    /// Upper bound of the T1 timers (`sinit_max_init_timeo`); `nil` means RTO.Max.
    public var maxInitTimeout: Duration? = nil
    /// Valid.Cookie.Life.
    public var validCookieLife: Duration = .seconds(60)
    /// The most extra cookie life a peer's Cookie Preservative may obtain.
    public var maxCookieLifeIncrement: Duration = .seconds(60)
    /// How often the cookie secret rotates (the previous one still verifies).
    public var cookieSecretLifetime: Duration = .seconds(3600)

    // MARK: Timers (RFC 9260 §6.3, §8)

    public var rtoInitial: Duration = .seconds(1)
    public var rtoMin: Duration = .seconds(1)
    public var rtoMax: Duration = .seconds(60)
    /// Association.Max.Retrans.
    public var associationMaxRetransmits: Int = 10
    /// Path.Max.Retrans.
    public var pathMaxRetransmits: Int = 5
    /// Errors at or above which a path is potentially failed (RFC 7829): this is RFC 7829's
    /// Path.PF.Max.Retrans + 1 (so 1 means "potentially failed at the first error").
    public var pathPotentiallyFailedThreshold: Int = 2
    /// HB.interval; `nil` switches heartbeats off.
    public var heartbeatInterval: Duration? = .seconds(30)
    /// Delayed SACK timeout (`SCTP_DELAYED_SACK` sack_delay), at most 500 ms.
    public var delayedAckTimeout: Duration = .milliseconds(200)
    /// Packets with DATA received before a SACK is sent (`sack_freq`).
    public var delayedAckFrequency: Int = 2
    /// Tail loss probe, a deliberate addition to RFC 9260 (after TCP's RACK-TLP, RFC 8985
    /// §7; docs/DECISIONS.md): when DATA is in flight on a path and no SACK acknowledging
    /// anything new came for max(2 × SRTT, this), the highest TSN in flight there is sent
    /// once more, with the I bit (RFC 7053), so that the peer answers at once; a second probe
    /// after twice that time if no SACK acknowledged new data meanwhile, then no more until one
    /// does or T3-rtx expires. A lone packet with nothing more to send waits 200 ms longer
    /// (the peer may delay its SACK), unless a chunk is gap-acknowledged (a peer with a gap
    /// SACKs at once). Probes do not change cwnd, the RTO or the error counts,
    /// and never fire later than T3-rtx would. Without it, the stall lasts until T3-rtx (at least RTO.Min, 1 s) when the last
    /// SACKs of a window are lost, or the peer's delayed-SACK timer (200 ms) when the last
    /// packet of a window reaches it alone. `nil` switches probes off.
    public var tailLossProbeMinimum: Duration? = .milliseconds(10)
    /// T5-shutdown-guard; `nil` means 5 × RTO.Max.
    public var shutdownGuardTimeout: Duration? = nil
    /// Close an idle association after this long (`SCTP_AUTOCLOSE`); `nil` never.
    public var autoClose: Duration? = nil

    // MARK: Sending

    /// Path MTU assumed before anything better is known (the SCTP packet, without IP/UDP headers).
    public var pathMTU: Int = 1200
    /// Path MTU discovery (RFC 8899 PLPMTUD with PAD probes); off by default. When on, it
    /// replaces `pathMTU`.
    public var pathMTUDiscovery = PathMTUDiscovery()
    /// The largest user data in one DATA chunk (`SCTP_MAXSEG`); `nil`: as much as the path
    /// MTU allows. Larger messages are fragmented to it.
    public var maxSegmentSize: Int? = nil
    /// Disable Nagle-like bundling delay (`SCTP_NODELAY`). When `false`, while data is
    /// unacknowledged, new data waits until a full chunk's worth is queued or the SACK comes.
    public var noDelay: Bool = true
    /// Max.Burst: new packets sent at once on one path (`SCTP_MAX_BURST`); 0 switches burst
    /// mitigation off (cwnd alone limits).
    public var maxBurst: Int = 4
    /// Bytes of user messages that may wait in the send queue (`SO_SNDBUF`).
    public var sendBufferSize: Int = 4 << 20
    /// The largest user message accepted.
    public var maxMessageSize: Int = 256 << 20
    /// Outstanding (sent, unacknowledged) DATA chunks at most.
    public var maxOutstandingChunks: Int = 65536
    /// The stream scheduler of new associations (`SCTP_STREAM_SCHEDULER`, RFC 8260 §3): which
    /// stream's messages go next. An association's can be changed while it runs
    /// (`SCTPEndpoint.setStreamScheduler`), keeping its queued messages.
    public var streamScheduler: StreamSchedulerKind = .default

    // MARK: Receiving

    /// Receive buffer (`SO_RCVBUF`): the a_rwnd advertised when empty, and the reassembly memory limit.
    public var receiveBufferSize: Int = 4 << 20
    /// Partial delivery point (`SCTP_PARTIAL_DELIVERY_POINT`).
    public var partialDeliveryPoint: Int = 1 << 20
    /// Gap-ack blocks processed per incoming SACK (the rest are ignored).
    public var maxGapBlocksProcessed: Int = 256
    /// Gap-ack blocks reported in an outgoing SACK.
    public var maxGapBlocksReported: Int = 64

    // MARK: Endpoint

    /// Associations one endpoint may hold (INITs beyond it are answered with ABORT, Out of Resource).
    public var maxAssociations: Int = 16384
    /// Addresses accepted from a peer's INIT / INIT ACK and by ASCONF, the most `connect`
    /// takes, and the most a state cookie keeps (1 to 255; other values count as the nearest
    /// of those, `peerAddressLimit`).
    public var maxPeerAddresses: Int = 16

    /// `maxPeerAddresses` within 1...255: the same bound on both sides of a handshake (the
    /// accepting side keeps the peer's addresses in its state cookie, which holds 255).
    var peerAddressLimit: Int { min(max(maxPeerAddresses, 1), CookieSigner.addressCapacity) }

    // MARK: Extensions

    /// Announce and accept PR-SCTP (FORWARD-TSN).
    public var partialReliability: Bool = true
    /// Announce and accept user message interleaving (RFC 8260 §2, `SCTP_INTERLEAVING_SUPPORTED`):
    /// I-DATA (64) in the Supported Extensions parameter, and I-FORWARD-TSN (0xC2) with
    /// PR-SCTP. When the peer lists I-DATA too, the association sends and accepts I-DATA
    /// only (messages of different streams interleave chunk by chunk); otherwise DATA. Off
    /// by default.
    public var interleaving: Bool = false
    /// Announce and accept ECN (RFC 9260 Appendix A): the ECN Capable parameter in INIT and
    /// INIT ACK; with a peer that announced it too, ECN Echoes cut cwnd and are answered with
    /// CWR, and packets the driver reports as CE-marked are echoed. The core cannot see IP
    /// headers: a driver passes the mark to `SCTPEndpoint.handle(datagram:from:to:now:congestionExperienced:)`
    /// (the UDP, raw IP and carrier drivers of the `SCTP` module do not read ECN bits yet, nor
    /// set ECT on what they send, so over them ECN is announced but never triggered).
    public var ecn: Bool = true
    /// The Adaptation Layer Indication (RFC 5061 §4.2.5, `SCTP_ADAPTATION_LAYER`) this end
    /// announces in INIT and INIT ACK: a code point the upper layers agree on (RFC 4960
    /// M3UA / NAP / ... registries); `nil` announces none. The peer's, when it sends one,
    /// is reported with `SCTPEvent.adaptationIndication` after the association comes up.
    public var adaptationLayerIndication: UInt32? = nil
    /// Announce and accept stream reconfiguration (RFC 6525, the RE-CONFIG chunk):
    /// resetting streams, resetting the association's sequence numbers, adding streams.
    /// Which requests the peer may make of us is `streamResetPermissions`
    /// (`SCTP_ENABLE_STREAM_RESET`).
    public var streamReconfiguration: Bool = true
    /// Announce and use non-renegable SACKs (NR-SACK, chunk type 16,
    /// draft-natarajan-tsvwg-sctp-nrsack) with the `.full` INIT profile: when the peer lists
    /// NR-SACK too, our acknowledgements report out-of-order data as non-renegable (this
    /// stack never reneges) and the peer's let us free acknowledged data before the
    /// Cumulative TSN Ack reaches it. On by default; the `.webRTC` profile never announces it.
    public var nonRenegableSacks: Bool = true
    /// Which of the peer's reconfiguration requests are performed; the others are denied
    /// (`SCTP_ENABLE_STREAM_RESET`). By default a peer may reset streams (a WebRTC data
    /// channel closes that way); SSN/TSN resets and added streams are denied.
    public var streamResetPermissions: StreamResetPermissions = [.resetStreams]
    /// Announce and accept dynamic address reconfiguration (RFC 5061: ASCONF and ASCONF-ACK
    /// in Supported Extensions): adding and deleting addresses of a live association and
    /// asking the peer to change its primary path. Off by default. RFC 5061 requires both
    /// chunks to be authenticated (RFC 4895, AUTH); an ASCONF or ASCONF-ACK is processed only
    /// when the receive path says it was authenticated, or when
    /// `acceptsUnauthenticatedAddressChanges` is set.
    public var addressReconfiguration: Bool = false
    /// `SCTP_AUTO_ASCONF`: local addresses added to or removed from the endpoint
    /// (`SCTPEndpoint.addLocalAddresses`, `sctp_bindx`) are announced to every association
    /// that supports address reconfiguration. On by default, as in FreeBSD and usrsctp.
    public var automaticAddressReconfiguration: Bool = true
    /// Process ASCONF and ASCONF-ACK chunks that were not authenticated (RFC 4895), as
    /// usrsctp's `asconf_auth_nochk` sysctl does. For tests and closed networks only: anyone
    /// who can send packets with the association's verification tag could then move it to
    /// addresses of its choosing. Off by default.
    public var acceptsUnauthenticatedAddressChanges: Bool = false
    /// Accept zero checksums under this error detection method (RFC 9653): the lower layer
    /// detects errors at least as well as CRC32c (method 1, `ZeroChecksumAcceptableParameter.dtls`:
    /// SCTP over DTLS, RFC 8261); `nil` (the default) never. With a method, INIT and INIT ACK
    /// carry the Zero Checksum Acceptable parameter; the associations where we announced it
    /// accept packets whose checksum field is zero, and those whose peer announced the same
    /// method send zero checksums, except in packets with INIT or COOKIE ECHO and in answers
    /// to out-of-the-blue packets, which always carry CRC32c. Set it only when every packet
    /// really travels over such a carrier (the `SCTP` module refuses it over UDP and raw IP).
    public var zeroChecksumMethod: UInt32? = nil
    /// Chunk authentication (RFC 4895): announced by default under the `.full` INIT profile
    /// with an empty chunk list (nothing of ours needs authenticating until asked, but a peer
    /// that wants its chunks authenticated, or ASCONF, can have it); see DECISIONS.md.
    public var authentication = SCTPAuthenticationConfiguration()

    // MARK: What INIT and INIT ACK announce

    /// Which optional parameters INIT and INIT ACK carry (`SCTP_INIT_PROFILE` on sockets):
    /// `.full` by default, `.webRTC` for peers that accept only what WebRTC stacks send (the
    /// default of carrier stacks in the `SCTP` module).
    public var initProfile: SCTPInitProfile = .full

    /// Whether INIT and INIT ACK announce ECN: `ecn` under the `.full` profile; never under `.webRTC`.
    public var announcesECN: Bool { ecn && initProfile == .full }
    /// Whether INIT and INIT ACK announce AUTH: `authentication.enabled` under `.full`; never under `.webRTC`.
    public var announcesAuthentication: Bool { authentication.enabled && initProfile == .full }

    public init() {}
}

/// The optional parameters an endpoint's INIT and INIT ACK carry (RFC 9260 §3.3.2, §3.3.3).
///
/// Both profiles list the local addresses only when there are several (a single-homed
/// endpoint's address is the packet's source, §5.1.2), announce PR-SCTP (Forward-TSN-Supported,
/// and FORWARD TSN in Supported Extensions) when `partialReliability` is on, RE-CONFIG in
/// Supported Extensions when `streamReconfiguration` is on, and Zero Checksum Acceptable and
/// the Adaptation Layer Indication when configured. An INIT ACK never carries Supported
/// Address Types (RFC 9260 lists it for INIT only).
public enum SCTPInitProfile: Sendable, Hashable, CaseIterable {
    /// Everything this stack supports: also Supported Address Types in INIT (the families of
    /// the local addresses, as usrsctp and the kernels send it) and ECN Capable when `ecn` is
    /// on. For general use, multi-homing and telecom peers.
    case full
    /// Only what WebRTC stacks send and accept: no Supported Address Types and no ECN Capable.
    /// pion/sctp (the Go stack under most Go WebRTC servers) silently drops an INIT or INIT
    /// ACK with a parameter it does not know, Supported Address Types included; ECN means
    /// nothing over a carrier that hides the IP header. The default of carrier stacks.
    case webRTC
}
