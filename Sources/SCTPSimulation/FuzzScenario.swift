import NIOCore
import SCTPCore
import SCTPWire

/// A stateful fuzz scenario: two `SCTPEndpoint`s (a "client" and a "server", both
/// multi-homed, both accepting associations) on virtual time, driven entirely by a string
/// of bytes, as a stateful fuzzer feeds them.
///
/// The first bytes choose each side's configuration (RTO bounds, heartbeats, delayed SACK,
/// MTU, buffers, outstanding-chunk limit, streams, PR-SCTP, ECN, retransmission limits, cookie
/// life) and the network (latency, jitter, loss, a seed for the network's own draws). The rest
/// is a sequence of actions, one byte choosing each and the following bytes its arguments:
/// connect (to one or both of the other side's addresses), send a message (stream, size,
/// ordered or unordered, PR-SCTP policy), read delivered data, shut down, abort, let time pass
/// (timers only), run the network for a while (deliveries with the chosen latency and loss,
/// and timers), deliver / drop / duplicate / delay one datagram in flight, corrupt a byte of
/// one (with or without a correct checksum afterwards), inject a forged packet (random chunks
/// with a verification tag seen on the wire, 0 or a random one), change an association's
/// options (`setRTOParameters`, `setPathParameters`, `setAssociationMaxRetransmits`, the stream
/// scheduler and stream scheduler values), reset streams or the association and add streams
/// (RFC 6525).
/// Missing bytes read as zero; the scenario ends when the bytes or the action budget run out.
///
/// After every action, and after every step inside one, both endpoints'
/// `SCTPEndpoint.checkInvariants()` run. End-to-end properties are checked on every message
/// delivered: each message's payload carries its id, size, stream, ordering flag and a CRC32c of
/// its body, so that a message is never delivered twice, ordered messages of a stream arrive in
/// the order they were sent (PR-SCTP and aborts may skip messages, never reorder them), and what
/// arrives is what was sent, on the stream it was sent on. A side that was handed a forged
/// or corrupted-and-re-checksummed packet carrying data can legitimately deliver altered data,
/// so the content and ordering checks stop for that side from then on (duplicates still count).
///
/// Everything is bounded: the input (`maxInputSize`), the actions (`maxActions`), the steps
/// of each wait, the datagrams in flight, message sizes and event drains. The core reads no
/// clock and draws no randomness: all of it comes from the bytes.
///
/// Used by the `StateFuzzer` libFuzzer target (`Fuzz/`) and by a test in `SCTPCoreTests`
/// that replays the fuzzer's corpus (`Fuzz/corpus-state`).
public struct FuzzScenario {
    /// The most input bytes used; the rest is ignored.
    public static let maxInputSize = 4096
    /// The most actions run.
    public static let maxActions = 400

    /// What a run found.
    public struct Outcome: Sendable {
        /// Invariant and end-to-end violations, at most a few dozen; empty when all held.
        public var violations: [String]
        /// Actions run.
        public var actions: Int
        /// Messages delivered complete, both ways.
        public var messagesDelivered: Int
        /// `communicationUp` events seen, both sides.
        public var associationsUp: Int
        /// With `trace`: every action, datagram handed to an endpoint and event, one a line.
        public var trace: [String]
    }

    /// Runs the scenario the bytes describe and reports what it found; `trace` records what
    /// happened, for reading a failing input.
    public static func run(_ input: [UInt8], trace: Bool = false) -> Outcome {
        let world = FuzzWorld(bytes: FuzzBytes(Array(input.prefix(maxInputSize))))
        world.tracing = trace
        world.run()
        return Outcome(violations: world.violations, actions: world.actions,
                       messagesDelivered: world.sides.reduce(0) { $0 + $1.deliveredCount },
                       associationsUp: world.sides.reduce(0) { $0 + $1.upCount }, trace: world.trace)
    }
}

/// The fuzzer's bytes, read front to back; reads past the end give zero.
struct FuzzBytes {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isExhausted: Bool { index >= bytes.count }

    mutating func u8() -> UInt8 {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func u16() -> UInt16 { UInt16(u8()) << 8 | UInt16(u8()) }

    mutating func u32() -> UInt32 { UInt32(u16()) << 16 | UInt32(u16()) }

    mutating func bool() -> Bool { u8() & 1 == 1 }

    /// A value in `0..<bound` (0 when `bound` ≤ 1).
    mutating func below(_ bound: Int) -> Int {
        guard bound > 1 else { return 0 }
        return bound <= 256 ? Int(u8()) % bound : Int(u16()) % bound
    }

    mutating func milliseconds(_ range: ClosedRange<Int>) -> Duration {
        .milliseconds(Int64(range.lowerBound + below(range.count)))
    }
}

/// A message a side's application handed to `send` and the core accepted.
struct FuzzSentMessage {
    var stream: UInt16
    var size: Int
    var unordered: Bool
}

/// One endpoint and the application on it.
final class FuzzSide {
    let name: String
    let endpoint: SCTPEndpoint
    let addresses: [IPAddress]
    let port: UInt16
    let readsAtOnce: Bool
    /// Ids of this side's messages start here (the two sides never share one).
    var nextMessageID: UInt32
    /// Messages this side sent, by id.
    var sent: [UInt32: FuzzSentMessage] = [:]
    /// Ordered message ids per stream, in the order sent.
    var orderedSent: [UInt16: [UInt32]] = [:]
    var orderedPosition: [UInt32: Int] = [:]
    /// Messages of this side reported failed.
    var failed: Set<UInt32> = []
    /// Messages of the peer delivered here.
    var delivered: Set<UInt32> = []
    var deliveredCount = 0
    /// Per association and stream: the send position of the latest ordered message delivered.
    var lastOrdered: [PieceKey: Int] = [:]
    /// Pieces of a message delivered in parts, per association and stream.
    var pieces: [PieceKey: ByteBuffer] = [:]
    /// Bytes delivered and not yet read, per association.
    var unread: [AssociationID: Int] = [:]
    var upCount = 0
    /// Forged or altered data reached this side: what it delivers may legitimately differ.
    var tainted = false
    /// Verification tags of packets addressed to this side (its associations' local tags).
    var tagsSeen: [UInt32] = []
    /// TSNs of DATA this side sent, and cumulative TSNs of its SACKs (for forging near them).
    var tsnsSent: [UInt32] = []
    var cumulativeAcks: [UInt32] = []

    struct PieceKey: Hashable {
        var association: AssociationID
        var stream: UInt16
    }

    init(name: String, endpoint: SCTPEndpoint, port: UInt16, readsAtOnce: Bool, firstMessageID: UInt32) {
        self.name = name
        self.endpoint = endpoint
        self.addresses = endpoint.localAddresses
        self.port = port
        self.readsAtOnce = readsAtOnce
        self.nextMessageID = firstMessageID
    }

    static func remember<T: Equatable>(_ value: T, in list: inout [T], limit: Int = 8) {
        if let index = list.firstIndex(of: value) { list.remove(at: index) }
        list.append(value)
        if list.count > limit { list.removeFirst() }
    }
}

/// A datagram on its way.
struct FuzzDatagram {
    var bytes: ByteBuffer
    var from: IPAddress
    var to: IPAddress
    var deliverAt: SCTPInstant
    var congestionExperienced = false
    /// Altered with a valid checksum: the receiver may take altered data as real.
    var altered = false
}

/// The world of one scenario: both sides, the datagrams in flight, virtual time.
final class FuzzWorld {
    static let clientAddresses: [IPAddress] = [.v4(IPv4Address(10, 0, 0, 1)), .v4(IPv4Address(10, 0, 0, 2))]
    static let serverAddresses: [IPAddress] = [.v4(IPv4Address(10, 0, 1, 1)), .v4(IPv4Address(10, 0, 1, 2))]
    static let stranger = IPAddress.v4(IPv4Address(10, 9, 9, 9))
    static let maxInFlight = 64
    static let maxStepsPerWait = 400
    static let maxMessageSize = 5000

    var input: FuzzBytes
    var now = SCTPInstant.zero
    let sides: [FuzzSide]
    var inFlight: [FuzzDatagram] = []
    var violations: [String] = []
    var actions = 0
    var tracing = false
    var trace: [String] = []
    // The network.
    let latency: Duration
    let jitter: Duration
    let lossPerMille: Int
    var network: SeededRandomSource

    init(bytes: FuzzBytes) {
        input = bytes
        let client = Self.configuration(&input)
        let server = Self.configuration(&input)
        latency = input.milliseconds(1...60)
        jitter = input.milliseconds(0...20)
        lossPerMille = [0, 0, 10, 50, 100, 200, 300, 0][input.below(8)]
        network = SeededRandomSource(seed: UInt64(input.u16()))
        let clientReadsAtOnce = input.u8() % 4 != 0
        let serverReadsAtOnce = input.u8() % 4 != 0
        sides = [
            FuzzSide(name: "client", endpoint: SCTPEndpoint(
                configuration: client, localPort: 5002, localAddresses: Self.clientAddresses, acceptsAssociations: true,
                random: SeededRandomSource(seed: 1), now: .zero), port: 5002, readsAtOnce: clientReadsAtOnce, firstMessageID: 1),
            FuzzSide(name: "server", endpoint: SCTPEndpoint(
                configuration: server, localPort: 5001, localAddresses: Self.serverAddresses, acceptsAssociations: true,
                random: SeededRandomSource(seed: 2), now: .zero), port: 5001, readsAtOnce: serverReadsAtOnce,
                firstMessageID: 0x8000_0000),
        ]
    }

    /// One side's configuration from the next bytes.
    static func configuration(_ input: inout FuzzBytes) -> SCTPConfiguration {
        var c = SCTPConfiguration()
        c.rtoMin = input.milliseconds(5...200)
        c.rtoInitial = c.rtoMin + input.milliseconds(0...300)
        c.rtoMax = c.rtoInitial + input.milliseconds(0...3000)
        c.heartbeatInterval = input.u8() % 4 == 0 ? nil : input.milliseconds(20...2000)
        c.delayedAckTimeout = input.milliseconds(0...300)
        c.delayedAckFrequency = 1 + input.below(4)
        c.pathMTU = 512 + input.below(256) * 4
        c.noDelay = input.bool()
        c.maxBurst = 1 + input.below(8)
        c.sendBufferSize = 2000 + Int(input.u16())
        c.receiveBufferSize = 1500 + Int(input.u16())
        c.maxOutstandingChunks = 2 + input.below(200)
        c.outboundStreams = UInt16(1 + input.below(6))
        c.maxInboundStreams = UInt16(1 + input.below(6))
        c.partialReliability = input.u8() % 4 != 0
        // One byte: bit 0 ECN, bit 1 user message interleaving (I-DATA, RFC 8260), bit 2 AUTH
        // asked for DATA, SACK, I-DATA and the FORWARD TSNs (RFC 4895), bit 3 HMAC-SHA-1 only,
        // bits 5 and 6 path MTU discovery (below), so that the inputs of the corpus keep the
        // meaning of every other byte.
        let extensions = input.u8()
        c.ecn = extensions & 1 == 1
        c.interleaving = extensions & 2 != 0
        if extensions & 4 != 0 { c.authentication.chunkTypes = [0, 3, 64, 192, 194] }
        if extensions & 8 != 0 { c.authentication.hmacAlgorithms = [.sha1] }
        // Bit 5: path MTU discovery (RFC 8899), probing up to 1500 or 4000 (bit 6).
        c.pathMTUDiscovery.isEnabled = extensions & 0x20 != 0
        c.pathMTUDiscovery.maximumPMTU = extensions & 0x40 != 0 ? 4000 : 1500
        c.associationMaxRetransmits = 2 + input.below(20)
        c.pathMaxRetransmits = 1 + input.below(6)
        c.maxInitRetransmits = 1 + input.below(8)
        c.validCookieLife = input.u8() % 8 == 0 ? input.milliseconds(50...500) : .seconds(60)
        c.autoClose = input.u8() % 16 == 0 ? input.milliseconds(500...5000) : nil
        c.partialDeliveryPoint = 500 + Int(input.u16() % 20000)
        c.maxGapBlocksReported = 1 + input.below(64)
        return c
    }

    func other(_ side: FuzzSide) -> FuzzSide { side === sides[0] ? sides[1] : sides[0] }

    func violation(_ text: String) {
        if violations.count < 40 { violations.append("at \(now) after \(actions) actions: \(text)") }
    }

    // MARK: Running

    func run() {
        while actions < FuzzScenario.maxActions && !input.isExhausted && violations.isEmpty {
            actions += 1
            step(action: input.u8() % 17)
        }
        // A short quiet ending: the network runs without new actions.
        if violations.isEmpty { runNetwork(for: .seconds(2)) }
    }

    func note(_ text: @autoclosure () -> String) {
        if tracing && trace.count < 100_000 { trace.append("\(now) " + text()) }
    }

    static func describe(_ datagram: ByteBuffer) -> String {
        guard let packet = try? SCTPPacket(parsing: datagram, checksum: .skipped) else { return "(unparsable)" }
        return "tag \(packet.header.verificationTag) " + packet.chunks.prefix(8).map { chunk in
            switch chunk {
            case .data(let d): "DATA(\(d.tsn.rawValue) s\(d.streamIdentifier) n\(d.ssn.rawValue) \(d.payload.readableBytes)B f\(d.dataFlags.rawValue))"
            case .sack(let s): "SACK(\(s.cumulativeTSNAck.rawValue) a_rwnd \(s.advertisedReceiverWindowCredit) gaps \(s.gapAckBlocks.map { "\($0.start)-\($0.end)" }))"
            case .nrSack(let s): "NR-SACK(\(s.cumulativeTSNAck.rawValue) a_rwnd \(s.advertisedReceiverWindowCredit) gaps \(s.gapAckBlocks.map { "\($0.start)-\($0.end)" }) nr \(s.nonRenegableGapAckBlocks.map { "\($0.start)-\($0.end)" }))"
            case .forwardTSN(let f): "FORWARD-TSN(\(f.newCumulativeTSN.rawValue))"
            default: String("\(chunk)".prefix(60))
            }
        }.joined(separator: " ")
    }

    func step(action: UInt8) {
        let side = sides[Int(input.u8() & 1)]
        note("action \(action) on the \(side.name)")
        switch action {
        case 0: connect(side)
        case 1, 2: send(side)
        case 3: read(side)
        case 4: withAssociation(side) { try side.endpoint.shutdown($0, now: now) }
        case 5: withAssociation(side) { try side.endpoint.abort($0, reason: input.bool() ? ByteBuffer(bytes: [1, 2, 3]) : nil, now: now) }
        case 6: advanceTimers(by: input.milliseconds(0...5000))
        case 7, 8: runNetwork(for: input.milliseconds(0...3000))
        case 9: deliver(at: input.below(inFlight.count))
        case 10: if !inFlight.isEmpty { inFlight.remove(at: input.below(inFlight.count)) }
        case 11: duplicate(at: input.below(inFlight.count))
        case 12: delay(at: input.below(inFlight.count), by: input.milliseconds(0...2000))
        case 13: corrupt(at: input.below(inFlight.count))
        case 14: forge(to: side)
        case 15: changeOptions(side)
        default: reconfigure(side)
        }
        pump()
    }

    // MARK: User calls

    func connect(_ side: FuzzSide) {
        let peer = other(side)
        let addresses: [IPAddress] = switch input.below(3) {
        case 0: [peer.addresses[0]]
        case 1: [peer.addresses[1], peer.addresses[0]]
        default: peer.addresses
        }
        if let id = try? side.endpoint.connect(to: addresses, port: peer.port, now: now) { side.unread[id] = side.unread[id] ?? 0 }
    }

    /// Runs a call on one of the side's associations (chosen by the next byte), if it has any.
    func withAssociation(_ side: FuzzSide, _ body: (AssociationID) throws -> Void) {
        let ids = side.endpoint.associationIDs
        guard !ids.isEmpty else { return }
        let id = ids[input.below(ids.count)]
        try? body(id)
    }

    func send(_ side: FuzzSide) {
        let ids = side.endpoint.associationIDs
        guard !ids.isEmpty else { return }
        let association = ids[input.below(ids.count)]
        let stream = UInt16(input.below(7))  // sometimes beyond the negotiated streams
        let sizeClass = input.u8()
        let size = switch sizeClass % 4 {
        case 0: 16 + Int(sizeClass >> 2)
        case 1: 16 + input.below(1200)
        default: 16 + input.below(FuzzWorld.maxMessageSize - 16)
        }
        let unordered = input.u8() % 4 == 0
        let policy: PartialReliability = switch input.u8() % 8 {
        case 0: .lifetime(input.milliseconds(1...2000))
        case 1: .maxRetransmissions(input.below(3))
        default: .reliable
        }
        let id = side.nextMessageID
        let message = OutgoingMessage(streamIdentifier: stream, payloadProtocolIdentifier: id, isUnordered: unordered,
                                      partialReliability: policy, context: id,
                                      payload: Self.payload(id: id, size: size, stream: stream, unordered: unordered))
        do {
            try side.endpoint.send(message, on: association, now: now)
        } catch {
            return
        }
        side.nextMessageID &+= 1
        side.sent[id] = FuzzSentMessage(stream: stream, size: size, unordered: unordered)
        if !unordered {
            side.orderedPosition[id] = side.orderedSent[stream, default: []].count
            side.orderedSent[stream, default: []].append(id)
        }
    }

    /// id, size, stream, flags, CRC32c of the body, then the body (a pattern of the id).
    static func payload(id: UInt32, size: Int, stream: UInt16, unordered: Bool) -> ByteBuffer {
        var body = [UInt8](repeating: 0, count: size - 16)
        for index in body.indices { body[index] = UInt8(truncatingIfNeeded: id &* 31 &+ UInt32(truncatingIfNeeded: index) &* 7) }
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        buffer.writeInteger(id)
        buffer.writeInteger(UInt32(size))
        buffer.writeInteger(stream)
        buffer.writeInteger(UInt16(unordered ? 1 : 0))
        buffer.writeInteger(CRC32c.checksum(body))
        buffer.writeBytes(body)
        return buffer
    }

    func read(_ side: FuzzSide) {
        let waiting = side.unread.filter { $0.value > 0 }.keys.sorted { $0.rawValue < $1.rawValue }
        guard !waiting.isEmpty else { return }
        let id = waiting[input.below(waiting.count)]
        let amount = min(side.unread[id]!, 1 + Int(input.u16()))
        side.unread[id]! -= amount
        side.endpoint.consumed(bytes: amount, on: id, now: now)
    }

    func changeOptions(_ side: FuzzSide) {
        let choice = input.below(5)
        withAssociation(side) { id in
            switch choice {
            case 0:
                let minimum = input.milliseconds(1...500)
                let initial = minimum + input.milliseconds(0...1000)
                let maximum = initial + input.milliseconds(0...5000)
                try side.endpoint.setRTOParameters(initial: initial, minimum: minimum, maximum: maximum, of: id)
            case 1:
                let heartbeat: Duration? = input.u8() % 4 == 0 ? nil : input.milliseconds(10...3000)
                let mtu: Int? = input.bool() ? 512 + input.below(256) * 4 : nil
                let peer = side.endpoint.peerAddresses(of: id).map(\.address)
                let address: IPAddress? = input.bool() && !peer.isEmpty ? peer[input.below(peer.count)] : nil
                try side.endpoint.setPathParameters(heartbeatInterval: heartbeat, pathMaxRetransmits: 1 + input.below(6), mtu: mtu,
                                                    address: address, of: id, now: now)
            case 2:
                try side.endpoint.setAssociationMaxRetransmits(1 + input.below(20), of: id)
            case 3:
                let kinds = StreamSchedulerKind.allCases
                try side.endpoint.setStreamScheduler(kinds[input.below(kinds.count)], of: id)
            default:
                // Streams past the outbound count are refused (invalidStream), which is fine too.
                try side.endpoint.setStreamSchedulerValue(input.bool() ? UInt16(input.below(4)) : input.u16(),
                                                         stream: UInt16(input.below(12)), of: id)
            }
        }
    }

    /// Stream reconfiguration (RFC 6525): reset streams either way, add streams, reset the
    /// association's TSNs and SSNs, or change what the peer may ask. Refusals (not
    /// established, busy, bad streams) are part of the game.
    func reconfigure(_ side: FuzzSide) {
        let choice = input.below(4)
        withAssociation(side) { id in
            switch choice {
            case 0:
                let streams = input.bool() ? [] : (0..<(1 + input.below(3))).map { _ in UInt16(input.below(12)) }
                let direction: StreamResetDirection = [.outgoing, .incoming, [.incoming, .outgoing]][input.below(3)]
                try side.endpoint.resetStreams(streams, direction: direction, on: id, now: now)
            case 1:
                try side.endpoint.addStreams(outgoing: UInt16(input.below(4)), incoming: UInt16(input.below(4)), on: id, now: now)
            case 2:
                try side.endpoint.resetAssociation(id, now: now)
            default:
                try side.endpoint.setStreamResetPermissions(StreamResetPermissions(rawValue: UInt32(input.u8() & 7)), on: id)
            }
        }
    }

    // MARK: Outputs and checks

    /// Takes every event and datagram the endpoints have, then checks both endpoints' invariants.
    func pump() {
        for side in sides {
            drainEvents(side)
            var taken = 0
            while taken < 256, let transmit = side.endpoint.pollTransmit() {
                taken += 1
                let from = transmit.source ?? side.addresses[0]
                if inFlight.count >= Self.maxInFlight || (lossPerMille > 0 && Int(network.nextUInt64() % 1000) < lossPerMille) {
                    continue  // lost
                }
                let extra = jitter == .zero ? Duration.zero : .nanoseconds(Int64(network.nextUInt64() % UInt64(jitter.nanosecondsClamped + 1)))
                inFlight.append(FuzzDatagram(bytes: transmit.datagram, from: from, to: transmit.destination, deliverAt: now + latency + extra,
                                             congestionExperienced: transmit.ecnCapable && network.nextUInt64() % 16 == 0))
            }
            drainEvents(side)
        }
        for side in sides {
            for line in side.endpoint.checkInvariants() { violation("\(side.name): invariant: \(line)") }
        }
    }

    func drainEvents(_ side: FuzzSide) {
        var budget = 10_000
        while let event = side.endpoint.pollEvent() {
            budget -= 1
            if budget == 0 {
                violation("\(side.name): events never stop coming")
                return
            }
            handle(event, on: side)
        }
    }

    func handle(_ event: SCTPEvent, on side: FuzzSide) {
        note("\(side.name) event \(String("\(event)".prefix(120)))")
        switch event {
        case .communicationUp(let id, _, _), .restart(let id):
            if case .communicationUp = event { side.upCount += 1 }
            side.unread[id] = side.unread[id] ?? 0
            side.pieces = side.pieces.filter { $0.key.association != id }
        case .cannotStart(let id, _), .communicationLost(let id, _), .shutdownComplete(let id):
            side.pieces = side.pieces.filter { $0.key.association != id }
        case .partialDeliveryAborted(let id, let stream):
            side.pieces[FuzzSide.PieceKey(association: id, stream: stream)] = nil
        case .sendFailed(_, let failed):
            let id = failed.context
            if side.sent[id] == nil {
                violation("\(side.name): message \(id) reported failed was never sent")
            } else if !side.failed.insert(id).inserted {
                violation("\(side.name): message \(id) reported failed twice")
            }
        case .message(let id, let message):
            received(message, on: id, by: side)
        case .peerShutdown, .peerAddressChange, .peerAddressReconfigured, .remoteError, .senderDry, .adaptationIndication, .streamReset,
             .associationReset, .streamChange, .authentication:
            break
        }
    }

    func received(_ message: ReceivedMessage, on association: AssociationID, by side: FuzzSide) {
        side.unread[association, default: 0] += message.payload.readableBytes
        if side.readsAtOnce {
            side.unread[association]! -= message.payload.readableBytes
            side.endpoint.consumed(bytes: message.payload.readableBytes, on: association, now: now)
        }
        let key = FuzzSide.PieceKey(association: association, stream: message.streamIdentifier)
        var payload = message.payload
        if var earlier = side.pieces.removeValue(forKey: key) {
            earlier.writeBuffer(&payload)
            payload = earlier
        }
        guard message.isComplete else {
            if payload.readableBytes <= FuzzWorld.maxMessageSize {
                side.pieces[key] = payload
            } else if !side.tainted {
                violation("\(side.name): a message in pieces grew past any message sent (\(payload.readableBytes) bytes)")
            }
            return
        }
        side.deliveredCount += 1
        check(payload, key: key, unordered: message.isUnordered, ppid: message.payloadProtocolIdentifier, by: side)
    }

    /// The end-to-end checks on one complete message.
    func check(_ payload: ByteBuffer, key: FuzzSide.PieceKey, unordered: Bool, ppid: UInt32, by side: FuzzSide) {
        let stream = key.stream
        let sender = other(side)
        var reader = payload
        guard let id = reader.readInteger(as: UInt32.self), let sent = sender.sent[id] else {
            if !side.tainted { violation("\(side.name): delivered a message that was never sent (PPID \(ppid), \(payload.readableBytes) bytes)") }
            return
        }
        if !side.tainted {
            if !side.delivered.insert(id).inserted { violation("\(side.name): message \(id) delivered twice") }
        } else {
            side.delivered.insert(id)
        }
        guard !side.tainted else { return }
        if ppid != id || stream != sent.stream || unordered != sent.unordered {
            violation("\(side.name): message \(id) arrived with PPID \(ppid), stream \(stream), unordered \(unordered); "
                      + "sent on stream \(sent.stream), unordered \(sent.unordered)")
        }
        if payload != Self.payload(id: id, size: sent.size, stream: sent.stream, unordered: sent.unordered) {
            violation("\(side.name): message \(id) arrived altered (\(payload.readableBytes) bytes, \(sent.size) sent)")
        }
        if !sent.unordered, let position = sender.orderedPosition[id] {
            if let last = side.lastOrdered[key], position <= last {
                violation("\(side.name): ordered message \(id) (position \(position) on stream \(stream)) after position \(last)")
            }
            side.lastOrdered[key] = position
        }
    }
}
