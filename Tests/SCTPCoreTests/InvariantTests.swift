import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// The invariant checks (`checkInvariants()` of each part, the association and the endpoint)
/// hold on consistent state and report corrupted state: none of them is a check that
/// cannot fail. Every other core test that runs an `AssociationHarness`, and the seeded
/// sweep, runs the endpoint's checks after each call into it.
@Suite("invariant checks")
struct InvariantTests {
    static func data(_ tsn: TSN, stream: UInt16 = 0, ssn: UInt16 = 0, flags: DataFlags = .complete, size: Int = 100) -> DataChunk {
        DataChunk(flags: flags, tsn: tsn, streamIdentifier: stream, ssn: SSN(ssn), payloadProtocolIdentifier: 0,
                  payload: ByteBuffer(repeating: 1, count: size))
    }

    @Test("the checks are compiled into debug builds")
    func compiledIn() {
        #expect(SCTPEndpoint.invariantsAreChecked)
    }

    @Test("OutstandingData: a flight counter or a window credit out of step is reported")
    func outstandingData() throws {
        var data = OutstandingData(initialTSN: TSN(10), peerReceiverWindow: 10_000)
        SendTestSupport.send(&data, count: 4, path: 0)
        SendTestSupport.send(&data, count: 2, path: 1)
        _ = try data.handleSack(SendTestSupport.sack(11, [(2, 2)], rwnd: 8_000), now: .zero)
        data.handleRetransmissionTimeout(on: PathID(1))
        #expect(data.checkInvariants() == [])

        var flight = data
        flight.corruptFlightForTesting(path: PathID(0), bytes: 4)
        let flightViolations = flight.checkInvariants()
        #expect(flightViolations.contains { $0.contains("path 0 counts") }, "\(flightViolations)")
        #expect(flightViolations.contains { $0.contains("bytesInFlight") }, "\(flightViolations)")

        var window = data
        window.corruptWindowCreditForTesting(by: 1)
        #expect(window.checkInvariants().contains { $0.contains("window credit") })
    }

    @Test("OutstandingData: the window rule holds when PR-SCTP gives up a chunk in flight")
    func outstandingWindowAfterAbandon() throws {
        var data = OutstandingData(initialTSN: TSN(1), peerReceiverWindow: 10_000)
        // Message A in TSNs 1-2, sent once at most; single-chunk messages in 3-5.
        data.append(Self.data(TSN(1), flags: .beginning), path: PathID(0), now: .zero, maxRetransmissions: 0)
        data.append(Self.data(TSN(2), flags: .ending), path: PathID(0), now: .zero, maxRetransmissions: 0)
        for tsn in 3...5 { data.append(Self.data(TSN(UInt32(tsn))), path: PathID(0), now: .zero) }
        // Three SACKs newly acknowledging 3, 4, 5 mark 1 and 2 for Fast Retransmit.
        for end in UInt16(3)...5 { _ = try data.handleSack(SendTestSupport.sack(0, [(3, end)], rwnd: 9_000), now: .zero) }
        #expect(data.markedForRetransmissionCount == 2)
        // TSN 1 goes again (in flight), then the message is given up: TSN 1 is abandoned
        // while in flight, and its bytes stay counted against the window until the next SACK.
        #expect(data.nextRetransmission(maxSize: 200, path: PathID(0), now: .zero)?.tsn == TSN(1))
        let windowBefore = data.peerReceiverWindow
        #expect(data.abandonMessages(now: .zero).count == 1)
        #expect(data.chunk(tsn: TSN(1))?.isAbandoned == true)
        #expect(data.peerReceiverWindow == windowBefore)
        #expect(data.checkInvariants() == [])
        _ = try data.handleSack(SendTestSupport.sack(0, [(3, 5)], rwnd: 9_000), now: .zero)
        #expect(data.checkInvariants() == [])
    }

    @Test("SendQueue: a byte count out of step with the messages is reported")
    func sendQueue() throws {
        var queue = SendQueue(outboundStreamCount: 4)
        try queue.enqueue(SendTestSupport.message(stream: 1, size: 3000))
        try queue.enqueue(SendTestSupport.message(stream: 1, size: 10))
        try queue.enqueue(SendTestSupport.message(stream: 2, size: 10))
        _ = queue.nextChunk(tsn: TSN(1), maxPayloadSize: 1000)  // stream 1's first message is now being fragmented
        #expect(queue.checkInvariants() == [])
        queue.corruptQueuedBytesForTesting(by: 7)
        let violations = queue.checkInvariants()
        #expect(violations.count == 1 && violations[0].contains("queuedBytes"), "\(violations)")
    }

    @Test("DataTracker: overlapping or misplaced ranges are reported")
    func dataTracker() {
        var tracker = DataTracker(peerInitialTSN: TSN(100))
        tracker.observe(TSN(100))
        tracker.observe(TSN(103))
        tracker.observe(TSN(104))
        #expect(tracker.checkInvariants() == [])
        var overlapping = tracker
        overlapping.insertRangeForTesting(first: TSN(104), last: TSN(106))
        #expect(overlapping.checkInvariants().contains { $0.contains("overlaps or touches") })
        var touching = DataTracker(peerInitialTSN: TSN(100))
        touching.insertRangeForTesting(first: TSN(100), last: TSN(101))  // starts at the cumulative TSN + 1
        #expect(!touching.checkInvariants().isEmpty)
    }

    @Test("ReassemblyQueue: buffered bytes out of step with the fragments held are reported")
    func reassemblyQueue() {
        var queue = ReassemblyQueue(inboundStreamCount: 4)
        queue.insert(Self.data(TSN(1), stream: 1, ssn: 0, flags: .beginning), cumulativeTSN: TSN(1))
        queue.insert(Self.data(TSN(3), stream: 2, ssn: 0, flags: [.beginning, .unordered]), cumulativeTSN: TSN(1))
        #expect(queue.bufferedBytes == 200)
        #expect(queue.checkInvariants() == [])
        var bytes = queue
        bytes.sink.bufferedBytes += 1
        #expect(bytes.checkInvariants().contains { $0.contains("bufferedBytes") })
        var run = queue
        guard let position = run.streams.locate(1) else {
            Issue.record("stream 1 holds nothing")
            return
        }
        run.streams.uniqueStorage(at: position, id: 1, spare: &run.spareStorage).reassembler.headRunBytes += 5
        #expect(queue.checkInvariants() == [], "the copy changed, not the original")
        #expect(run.checkInvariants().contains { $0.contains("headRunBytes") })
    }

    @Test("DataReceiver: a fragment held whose TSN the tracker never recorded is reported")
    func dataReceiver() {
        var receiver = DataReceiver(peerInitialTSN: TSN(1), inboundStreamCount: 4)
        #expect(receiver.receive(Self.data(TSN(1), flags: .beginning)) == .accepted)
        #expect(receiver.checkInvariants() == [])
        receiver.insertUntrackedForTesting(Self.data(TSN(5), stream: 1, flags: .beginning))
        #expect(receiver.checkInvariants().contains { $0.contains("not recorded as received") })
    }

    @Test("association and endpoint: a congestion controller counting another MTU, T3 off with data in flight, and a lost tag entry are reported")
    func associationAndEndpoint() throws {
        let h = AssociationHarness(seed: 3)
        h.client.onInvariantViolation = nil  // this test corrupts the state on purpose
        h.server.onInvariantViolation = nil
        let id = try h.connect()
        #expect(h.run { h.client.endpoint.state(of: id) == .established })
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(repeating: 2, count: 5000)), on: id, now: h.now)
        while h.client.endpoint.pollTransmit() != nil {}  // in flight, and lost
        let endpoint = h.client.endpoint
        #expect(endpoint.checkInvariants() == [])
        let association = try #require(endpoint.associations[id])

        let pmdcs = association.paths[0].congestion.pmdcs
        association.paths[0].congestion.pmdcs = pmdcs - 100  // counting another MTU than its path's
        #expect(endpoint.checkInvariants().contains { $0.contains("congestion control counts a PMDCS of \(pmdcs - 100)") })
        association.paths[0].congestion.pmdcs = pmdcs

        let t3 = association.paths[0].t3Deadline
        association.paths[0].t3Deadline = nil
        #expect(endpoint.checkInvariants().contains { $0.contains("in flight and T3-rtx off") })
        association.paths[0].t3Deadline = t3

        endpoint.associations.forgetLocalTagForTesting(association.localTag)
        #expect(endpoint.checkInvariants().contains { $0.contains("not found by its local tag") })
        endpoint.associations.restoreLocalTagForTesting(association.localTag, id)
        #expect(endpoint.checkInvariants() == [])
    }
}
