import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// What an association holds while it is idle (issue 19: memory per idle association):
/// no data transfer state (transmission queue, receiver, data counters) until data or a data
/// call needs it, nothing per stream until a stream carries data, no path MTU prober while
/// discovery is off, no AUTH MACs while nothing is signed, one configuration shared by the
/// endpoint's associations until one of them changes its own, and compact per-path parts.
@Suite("idle association memory")
struct IdleAssociationMemoryTests {
    typealias H = AssociationHarness

    static func established(_ h: H) throws -> (AssociationID, AssociationID) {
        let id = try h.connect()
        #expect(h.run(for: .seconds(10)) { !H.upEvents(h.server).isEmpty && !H.upEvents(h.client).isEmpty })
        return (id, try #require(H.upEvents(h.server).first))
    }

    @Test("an established association has no stream storage either way until a stream carries data, then only that stream's")
    func streamsCostNothingUntilUsed() throws {
        let h = H(seed: 31)
        let (id, serverID) = try Self.established(h)
        let client = try #require(h.client.endpoint.association(id))
        let server = try #require(h.server.endpoint.association(serverID))
        #expect(client.outboundStreams > 1 && server.inboundStreams > 1)
        #expect(client.tx.queue.streams.ids.isEmpty)
        #expect(server.receiver.reassembly.streams.isEmpty && server.receiver.reassembly.interleavedStreams.isEmpty)
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 7, payloadProtocolIdentifier: 0,
                                                   payload: ByteBuffer(string: "seven")), on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(10)) { H.messages(h.server).count == 1 })
        #expect(client.tx.queue.streams.ids == [7])
        #expect(Array(server.receiver.reassembly.streams.keys) == [7])
    }

    @Test("paths keep no path MTU prober while discovery is off; switching it on makes one with the configured settings")
    func proberOnlyWhenDiscoveryRuns() throws {
        var configuration = SCTPConfiguration()
        configuration.pathMTUDiscovery.basePMTU = 1000
        let h = H(seed: 32, clientConfiguration: configuration)
        let (id, _) = try Self.established(h)
        let client = try #require(h.client.endpoint.association(id))
        #expect(client.paths.allSatisfy { !$0.pmtudEnabled && $0.pmtud.state == .disabled && $0.pmtudDeadline == nil })
        try h.client.endpoint.setPathMTUDiscovery(true, of: id, now: h.now)
        #expect(client.paths.allSatisfy { $0.pmtudEnabled && $0.pmtud.settings.basePMTU == 1000 && $0.pmtud.state != .disabled })
        try h.client.endpoint.setPathMTUDiscovery(false, mtu: 1200, of: id, now: h.now)
        #expect(client.paths.allSatisfy { !$0.pmtudEnabled && $0.mtu == 1200 })
    }

    /// Two associations of the client endpoint (the first one up): the first one's id, and both.
    static func twoClientAssociations(_ h: H) throws -> (AssociationID, Association, Association) {
        let first = try h.connect()
        #expect(h.run(for: .seconds(10)) { H.upEvents(h.server).count == 1 })
        let second = try h.client.endpoint.connect(to: h.server.addresses, port: H.serverPort + 1, now: h.now)
        return (first, try #require(h.client.endpoint.association(first)), try #require(h.client.endpoint.association(second)))
    }

    @Test("the endpoint's associations share one configuration; an association's own option copies it for itself")
    func sharedConfiguration() throws {
        let h = H(seed: 33)
        let (first, a, b) = try Self.twoClientAssociations(h)
        #expect(a.sharedConfiguration === b.sharedConfiguration)
        try h.client.endpoint.setRTOParameters(initial: .seconds(2), minimum: .milliseconds(500), maximum: .seconds(9), of: first)
        #expect(a.sharedConfiguration !== b.sharedConfiguration)
        #expect(a.configuration.rtoMax == .seconds(9))
        #expect(b.configuration.rtoMax == h.client.endpoint.configuration.rtoMax && b.configuration.rtoMax != .seconds(9))
        h.client.endpoint.configuration.rtoMax = .seconds(7)
        #expect(b.configuration.rtoMax != .seconds(7), "a change of the endpoint's applies to later associations only")
    }

    @Test("paths made from one configuration share their RTO parameters; an association's own RTO bounds apply to it alone, and to its later paths")
    func rtoParametersShared() throws {
        let h = H(seed: 38)
        let (first, a, b) = try Self.twoClientAssociations(h)
        #expect(a.paths[0].rto.sharesParameters(with: b.paths[0].rto))
        #expect(a.paths[0].rto.parameters.initial == h.client.endpoint.configuration.rtoInitial)
        try h.client.endpoint.setRTOParameters(initial: .seconds(2), minimum: .milliseconds(500), maximum: .seconds(9), of: first)
        #expect(a.paths[0].rto.parameters.maximum == .seconds(9) && a.paths[0].rto.parameters.minimum == .milliseconds(500))
        #expect(b.paths[0].rto.parameters.maximum == h.client.endpoint.configuration.rtoMax, "the other association keeps its bounds")
        #expect(!a.paths[0].rto.sharesParameters(with: b.paths[0].rto))
        // A path made later (as ASCONF or a restart would) starts from the association's own bounds.
        let later = PeerPath(address: .v4(IPv4Address(10, 0, 9, 9)), state: .unconfirmed, configuration: a.configuration,
                             rto: a.sharedConfiguration.initialRTO)
        #expect(later.rto.parameters.maximum == .seconds(9) && later.rto.rto == .seconds(2))
        #expect(PeerPath(address: .v4(IPv4Address(10, 0, 9, 9)), state: .unconfirmed, configuration: b.configuration,
                         rto: b.sharedConfiguration.initialRTO).rto.sharesParameters(with: b.paths[0].rto))
    }

    @Test("an association where AUTH is announced but nothing is signed holds no MACs")
    func noMACsUntilUsed() throws {
        let h = H(seed: 34)
        let (id, serverID) = try Self.established(h)
        for association in [h.client.endpoint.association(id), h.server.endpoint.association(serverID)] {
            let association = try #require(association)
            #expect(association.authenticationNegotiated)
            #expect(association.authenticationSummary.sender == nil && association.authenticationSummary.verifier == nil)
        }
    }

    @Test("an idle association makes no data transfer state through setup, heartbeats, status and statistics; the first message makes it on both sides")
    func dataStateOnFirstUse() throws {
        let h = H(seed: 35)
        let (id, serverID) = try Self.established(h)
        let client = try #require(h.client.endpoint.association(id))
        let server = try #require(h.server.endpoint.association(serverID))
        // Several heartbeat intervals of idleness.
        _ = h.run(for: .seconds(200)) { false }
        #expect(client.state == .established && server.state == .established)
        #expect(!client.hasDataState && !server.hasDataState)
        let status = try #require(h.client.endpoint.status(of: id))
        #expect(status.unacknowledgedChunks == 0 && status.pendingBytes == 0 && status.peerReceiveWindow > 0)
        let statistics = try #require(h.client.endpoint.statistics(of: id))
        #expect(statistics.packetsSent > 2 && statistics.packetsReceived > 2 && statistics.dataChunksSent == 0)
        #expect(h.client.endpoint.streamScheduler(of: id) == h.client.endpoint.configuration.streamScheduler)
        #expect(h.client.endpoint.abandonedMessages(of: id) == AbandonedMessageStatistics())
        #expect(client.checkInvariants().isEmpty && server.checkInvariants().isEmpty)
        #expect(!client.hasDataState && !server.hasDataState, "reading status and statistics makes nothing")

        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 1, payloadProtocolIdentifier: 0,
                                                   payload: ByteBuffer(string: "first")), on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(10)) { H.messages(h.server).count == 1 })
        #expect(client.hasDataState && server.hasDataState)
        #expect(h.client.endpoint.statistics(of: id)?.dataChunksSent == 1)
        #expect(h.server.endpoint.statistics(of: serverID)?.dataChunksReceived == 1)
    }

    @Test("options changed on an idle association make no data transfer state; the state made later has the configuration of setup, with the options' own changes applied")
    func optionsMakeNoDataState() throws {
        let h = H(seed: 36)
        let (id, _) = try Self.established(h)
        let client = try #require(h.client.endpoint.association(id))
        #expect(!client.hasDataState)
        let atSetup = DataReceiver.Configuration(client.configuration)
        let schedulerAtSetup = client.configuration.streamScheduler
        // The endpoint's configuration changes too: the association's setup configuration
        // is then referred to by nobody else.
        h.client.endpoint.configuration.rtoMax = .seconds(7)
        try h.client.endpoint.setPathParameters(heartbeatInterval: .seconds(5), pathMaxRetransmits: 4, mtu: 1000, of: id, now: h.now)
        try h.client.endpoint.setRTOParameters(initial: .seconds(2), minimum: .milliseconds(500), maximum: .seconds(9), of: id)
        try h.client.endpoint.setMaxBurst(2, of: id)
        try h.client.endpoint.setPathThresholds(pathMaxRetransmits: 3, potentiallyFailedThreshold: 2, of: id)
        try h.client.endpoint.setAssociationMaxRetransmits(7, of: id)
        try h.client.endpoint.setPathMTUDiscovery(false, mtu: 1000, of: id, now: h.now)
        #expect(!client.hasDataState, "per-association options on an idle association make no data state")
        #expect(client.configuration.rtoMax == .seconds(9) && client.configuration.maxBurst == 2
                && client.configuration.pathMTU == 1000 && client.configuration.associationMaxRetransmits == 7)
        #expect(client.paths.allSatisfy { $0.mtu == 1000 })
        #expect(atSetup != DataReceiver.Configuration(client.configuration), "the MTU is part of the receiver's settings")
        #expect(client.checkInvariants().isEmpty)

        let other: StreamSchedulerKind = schedulerAtSetup == .roundRobin ? .firstComeFirstServed : .roundRobin
        try h.client.endpoint.setStreamScheduler(other, of: id)
        #expect(client.hasDataState, "the scheduler lives in the send queue")
        #expect(client.receiver.configuration == atSetup, "made with the configuration of setup, not the MTU set since")
        #expect(client.tx.queue.schedulerKind == other, "and the option's change applied to it")
        #expect(client.sharedConfiguration.dataStateBasis == nil, "the setup configuration is let go once the state exists")
        #expect(client.configuration.maxBurst == 2 && client.configuration.rtoMax == .seconds(9))

        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payloadProtocolIdentifier: 0,
                                                   payload: ByteBuffer(repeating: 7, count: 3000)), on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(10)) { H.messages(h.server).count == 1 })
        #expect(H.messages(h.server).first?.payload.readableBytes == 3000)
        #expect(client.checkInvariants().isEmpty)
    }

    @Test("an option changed before data transfer starts (COOKIE-WAIT) applies to the receiver made when it starts")
    func optionBeforeDataTransferStarts() throws {
        let h = H(seed: 39)
        let id = try h.connect()
        let client = try #require(h.client.endpoint.association(id))
        #expect(client.state == .cookieWait)
        try h.client.endpoint.setPathMTUDiscovery(false, mtu: 1000, of: id, now: h.now)
        #expect(h.run(for: .seconds(10)) { !H.upEvents(h.client).isEmpty })
        #expect(client.receiver.configuration == DataReceiver.Configuration(client.configuration))
        #expect(client.receiver.configuration.windowUpdateMinimum == 1000)
    }

    @Test("a Packet Too Big quoting a TSN of an association without data makes no data state")
    func packetTooBigMakesNoDataState() throws {
        let h = H(seed: 37)
        let (id, _) = try Self.established(h)
        let client = try #require(h.client.endpoint.association(id))
        try h.client.endpoint.setPathMTUDiscovery(true, of: id, now: h.now)
        #expect(!client.pathMTUPacketTooBig(path: 0, size: 1280, quoted: .data(client.nextTSN), now: h.now))
        #expect(!client.hasDataState)
    }

    @Test("an endpoint lets its packet buffers go a second after its last association went, though no association's timer calls it")
    func packetBuffersGoWithLastAssociation() throws {
        let h = H(seed: 38)
        let (id, _) = try Self.established(h)
        for index in 0..<8 {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payloadProtocolIdentifier: 0,
                                                       payload: testPayload(stream: 0, index: index, length: 1000)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(10)) { H.messages(h.server).count == 8 })
        let pool = h.client.endpoint.packetBuffers
        #expect(pool.holdsStorage, "an established association's packets are kept for reuse")
        try h.client.endpoint.abort(id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(10)) { h.client.endpoint.association(id) == nil })
        #expect(h.client.endpoint.associations.isEmpty)
        let wentAt = h.now
        let deadline = try #require(h.client.endpoint.nextDeadline, "the pool's trim is due")
        #expect(deadline > wentAt && deadline <= wentAt + PacketBufferPool.idleTime)
        #expect(h.run(for: .seconds(5)) { !pool.holdsStorage })
        #expect(h.now >= deadline, "kept until the idle time is over")
        if let next = h.client.endpoint.nextDeadline { #expect(next > h.now + .seconds(5), "no trim deadline left") }
    }

    @Test("the per-path parts and the association object keep their compact sizes")
    func compactSizes() throws {
        // 208 bytes, and 8 more for the tail loss probe's deadline (its probe count fills a
        // gap); the RTO parameters are shared (they took 40 bytes more of each path).
        #expect(MemoryLayout<PeerPath>.stride <= 216)
        #expect(MemoryLayout<RTOEstimator>.size <= 40)
        #expect(MemoryLayout<CongestionController>.size <= 72)
        #expect(MemoryLayout<AuthenticationSummary>.size <= 24)
        #expect(MemoryLayout<DataTransferSlot>.size == 8)
        #if os(Linux)
        let h = H(seed: 37)
        let (id, _) = try Self.established(h)
        let client = try #require(h.client.endpoint.association(id))
        // The heap block of the object itself (glibc's usable size; 1,640 bytes while the
        // transmission queue, receiver and counters were stored in it, 424 before the gaps
        // between its fields were filled and the latest DATA's source moved to the data state).
        let usable = mallocUsableSize(Unmanaged.passUnretained(client).toOpaque())
        #expect(usable <= 376, "the association object takes \(usable) bytes")
        #endif
    }

    /// The packet array a transmission builds in is kept from one poll to the next while user
    /// data moves at that instant, on the receiving side too (its SACKs are built in it), and
    /// given back once the association is idle. Dropped after every poll, the receiver of a
    /// bulk transfer allocated an array every few dozen packets (CoreBenchmark, issue 19).
    @Test("a receiving association keeps its spare packet array while data arrives, and drops it when idle")
    func sparePacketArrayWhileReceiving() throws {
        let clientAddress = IPAddress.v4(IPv4Address(127, 0, 0, 1))
        let serverAddress = IPAddress.v4(IPv4Address(127, 0, 0, 2))
        let client = SCTPEndpoint(configuration: SCTPConfiguration(), localPort: 5002, localAddresses: [clientAddress],
                                  random: SeededRandomSource(seed: 1), now: .zero)
        let server = SCTPEndpoint(configuration: SCTPConfiguration(), localPort: 5001, localAddresses: [serverAddress],
                                  acceptsAssociations: true, random: SeededRandomSource(seed: 2), now: .zero)
        var now = SCTPInstant.zero
        var serverID: AssociationID?
        var delivered = 0
        func pump() {
            var moved = true
            while moved {
                moved = false
                while let t = client.pollTransmit() {
                    server.handle(datagram: t.datagram, from: clientAddress, to: serverAddress, now: now)
                    moved = true
                }
                while let event = server.pollEvent() {
                    if case .communicationUp(let id, _, _) = event { serverID = id }
                    if case .message(let id, let message) = event {
                        delivered += 1
                        server.consumed(bytes: message.payload.readableBytes, on: id, now: now)
                    }
                }
                while let t = server.pollTransmit() {
                    client.handle(datagram: t.datagram, from: serverAddress, to: clientAddress, now: now)
                    moved = true
                }
                while client.pollEvent() != nil {}
            }
        }
        let id = try client.connect(to: [serverAddress], port: 5001, now: now)
        pump()
        let accepted = try #require(serverID)
        let association = try #require(server.association(accepted))
        // Data at one instant: every packet each way, the SACKs among them, at `now`.
        now = now + .milliseconds(10)
        for _ in 0..<40 {
            try client.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 1, count: 1000)), on: id, now: now)
        }
        pump()
        #expect(delivered == 40)
        #expect(try #require(client.association(id)).dataStatistics.sacksReceived > 0)
        #expect(association.spareBuilderStorage.capacity > 0, "kept while data arrived at this instant")
        #expect(association.outbox.isEmpty)
        // Later, no data moving: the next poll of the association (its heartbeats, at the
        // latest) finds it idle and gives the array back.
        for _ in 0..<90 {
            now = now + .seconds(1)
            client.handleTimeout(now: now)
            server.handleTimeout(now: now)
            pump()
        }
        #expect(delivered == 40)
        #expect(association.spareBuilderStorage.capacity == 0, "dropped once idle")
    }
}

#if os(Linux)
/// glibc's `malloc_usable_size` (not in the Glibc module's headers).
@_silgen_name("malloc_usable_size")
private func mallocUsableSize(_ pointer: UnsafeMutableRawPointer) -> Int
#endif

#if DEBUG
/// Debug builds check overlapping accesses to the data transfer state behind its pointer
/// (`DataAccessCheck`) as Swift checks a class's stored properties.
@Suite("data transfer state access check")
struct DataAccessCheckTests {
    static func modifying<Value>(_ value: inout Value, while body: () -> Void) { body() }

    static func associationWithData() -> Association? {
        let h = AssociationHarness(seed: 40)
        guard let id = try? h.connect(), h.run(for: .seconds(10), until: { !AssociationHarness.upEvents(h.server).isEmpty }),
              let association = h.client.endpoint.association(id) else { return nil }
        _ = association.tx
        return association
    }

    @Test("separate and nested reads, and one part modified while another is read, are allowed")
    func allowedAccesses() throws {
        let association = try #require(Self.associationWithData())
        Self.modifying(&association.tx) { _ = association.receiver.deliveredUnreadBytes }
        Self.modifying(&association.dataStatistics) { _ = association.tx.isIdle }
        _ = association.tx.isIdle && association.tx.outstanding.isEmpty
        association.dataStatistics.tailLossProbes += 1
        #expect(association.statistics.tailLossProbes == 1)
    }

    @Test("reading a part while it is modified traps")
    func readDuringModificationTraps() async {
        await #expect(processExitsWith: .failure) {
            guard let association = DataAccessCheckTests.associationWithData() else { return }
            DataAccessCheckTests.modifying(&association.tx) { _ = association.tx.isIdle }
        }
    }

    @Test("modifying a part while it is modified traps")
    func nestedModificationTraps() async {
        await #expect(processExitsWith: .failure) {
            guard let association = DataAccessCheckTests.associationWithData() else { return }
            DataAccessCheckTests.modifying(&association.receiver) { association.receiver.interleaving = true }
        }
    }
}
#endif
