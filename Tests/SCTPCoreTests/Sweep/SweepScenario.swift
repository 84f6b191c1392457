import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire

/// Everything one run of the seeded sweep does, derived from its seed alone: the link
/// conditions, both endpoints' configurations, the messages each side sends and when, how
/// the application reads, and how the association ends.
struct SweepScenario: CustomStringConvertible {
    /// How the run is meant to end.
    enum Ending: Hashable, CustomStringConvertible {
        /// One side (or both, `both`) shuts down gracefully `after` its association came up.
        case shutdown(byClient: Bool, both: Bool, after: Duration)
        /// One side aborts `after` its association came up (mid-transfer, usually).
        case abort(byClient: Bool, after: Duration)
        /// The client aborts while the handshake may still be going on, `after` connect.
        case abortEarly(after: Duration)

        var isAbort: Bool { if case .shutdown = self { false } else { true } }

        var description: String {
            switch self {
            case .shutdown(let byClient, let both, let after):
                both ? "shutdown by both at up+\(after)" : "shutdown by \(byClient ? "client" : "server") at up+\(after)"
            case .abort(let byClient, let after): "abort by \(byClient ? "client" : "server") at up+\(after)"
            case .abortEarly(let after): "client abort at connect+\(after)"
            }
        }
    }

    /// One message a side sends.
    struct Message {
        /// Also its payload protocol identifier, so a received message names itself.
        var index: Int
        var stream: UInt16
        var unordered: Bool
        var size: Int
        /// When the application hands it over, after its association came up.
        var offset: Duration
        /// PR-SCTP: a message with a policy may be given up (reported failed, skipped).
        var policy: PartialReliability = .reliable
        var isReliable: Bool { policy == .reliable }
    }

    /// A stream reset (RFC 6525) one side's application asks for, after its association came up.
    struct Reset {
        var offset: Duration
        /// Empty: every stream.
        var streams: [UInt16]
        var direction: StreamResetDirection
    }

    /// The stream schedulers of one side (the scheduler sweep only): the one its association
    /// starts with is `SCTPConfiguration.streamScheduler`; these values are set when it comes
    /// up, and the scheduler is switched at these times after that.
    struct Schedulers {
        var values: [(stream: UInt16, value: UInt16)]
        var switches: [(after: Duration, kind: StreamSchedulerKind)]
    }

    /// How one side's application reads what arrives.
    struct Reader {
        /// `nil`: everything at once; otherwise this many bytes every `interval`.
        var bytesPerRead: Int?
        var interval: Duration
    }

    let seed: UInt64
    var forward: LinkConditions
    var backward: LinkConditions
    var client: SCTPConfiguration
    var server: SCTPConfiguration
    /// Messages client → server and server → client.
    var clientMessages: [Message]
    var serverMessages: [Message]
    var clientReader: Reader
    var serverReader: Reader
    var ending: Ending
    /// The client hands its first messages (those at offset 0) over at connect, before
    /// the association is up.
    var clientSendsEarly: Bool
    /// Stream resets each side asks for (from a random stream of their own, so that the
    /// rest of a seed's scenario is what it was before resets were added).
    var clientResets: [Reset] = []
    var serverResets: [Reset] = []
    /// Random stream schedulers, values and switches per side (`init(seed:schedulers:)`),
    /// `nil` in the plain sweep.
    var clientSchedulers: Schedulers?
    var serverSchedulers: Schedulers?
    /// Path MTU discovery (RFC 8899) runs: both sides discover, the links drop datagrams above
    /// a size, and at `at` after the start both links' limit becomes `size` (`nil`: none).
    var mtuChange: (at: Duration, size: Int?)?
    /// The client's address changes (RFC 5061, `withAddressChanges()`); none in the plain sweep.
    var clientAddressChanges: [AddressChange] = []

    static let clientAddress = IPAddress.v4(IPv4Address(10, 0, 0, 1))
    static let serverAddress = IPAddress.v4(IPv4Address(10, 0, 1, 1))

    /// The scenario of `seed`; with `schedulers`, also random stream schedulers (drawn from a
    /// generator of their own, so the rest of the scenario is the plain sweep's for the seed).
    init(seed: UInt64, schedulers: Bool = false) {
        self.seed = seed
        var r = SeededRandomSource(seed: seed ^ 0x5357_4545_5053_4545)  // "SWEEPSEE"
        func unit() -> Double { Double(r.nextUInt64() >> 11) * 0x1p-53 }
        func below(_ n: Int) -> Int { Int(r.nextUInt64() % UInt64(n)) }
        func chance(_ p: Double) -> Bool { unit() < p }
        func pick<T>(_ values: [T]) -> T { values[below(values.count)] }
        func millis(_ range: ClosedRange<Int>) -> Duration { .milliseconds(range.lowerBound + below(range.count)) }

        func link() -> LinkConditions {
            let jittery = chance(0.5)
            return LinkConditions(
                delay: millis(1...40), jitter: jittery ? millis(0...10) : .zero,
                lossProbability: unit() * 0.20,
                duplicationProbability: chance(0.5) ? unit() * 0.05 : 0,
                reorderProbability: chance(0.6) ? unit() * 0.3 : 0, reorderDelay: millis(1...60),
                corruptionProbability: chance(0.5) ? unit() * 0.05 : 0,
                congestionExperiencedProbability: chance(0.3) ? unit() * 0.2 : 0)
        }
        forward = link()
        backward = chance(0.3) ? link() : forward

        func configuration() -> SCTPConfiguration {
            var c = SCTPConfiguration()
            c.outboundStreams = UInt16(1 + below(8))
            c.maxInboundStreams = pick([UInt16(2048), 4, 2])
            c.pathMTU = pick([512, 1200, 1200, 1452])
            c.receiveBufferSize = pick([6000, 16 << 10, 64 << 10, 256 << 10, 4 << 20])
            c.sendBufferSize = pick([48 << 10, 256 << 10, 4 << 20])
            c.maxOutstandingChunks = pick([8, 64, 65536])
            c.maxGapBlocksReported = pick([2, 16, 64])
            c.maxBurst = 1 + below(4)
            c.noDelay = chance(0.7)
            c.delayedAckFrequency = 1 + below(2)
            c.delayedAckTimeout = millis(20...200)
            c.rtoInitial = pick([.milliseconds(300), .seconds(1)])
            c.rtoMin = pick([.milliseconds(100), .milliseconds(300), .seconds(1)])
            c.rtoMax = pick([.seconds(5), .seconds(10), .seconds(60)])
            if c.rtoInitial < c.rtoMin { c.rtoInitial = c.rtoMin }
            c.heartbeatInterval = pick([.seconds(5), .seconds(30)])
            c.partialReliability = chance(0.5)
            c.ecn = chance(0.8)
            // Loss up to 20 % (plus corruption) each way: with the default limits a run in
            // ten thousand could legitimately give up. These runs test delivery, not failure
            // detection, so the limits sit where giving up is practically impossible.
            c.associationMaxRetransmits = 25
            c.pathMaxRetransmits = 25
            c.maxInitRetransmits = 25
            // T5 would end a shutdown that a slow reader on the other side holds up.
            c.shutdownGuardTimeout = .seconds(3600)
            return c
        }
        client = configuration()
        server = configuration()

        let clientStreams = Int(min(client.outboundStreams, server.maxInboundStreams))
        let serverStreams = Int(min(server.outboundStreams, client.maxInboundStreams))
        func messages(count: Int, streams: Int, mtu: Int) -> [Message] {
            let unorderedShare = pick([0.0, 0.0, 0.3, 0.5, 1.0])
            let spread = pick([0, 200, 1000, 3000])
            // In some runs part of the messages may be given up (PR-SCTP).
            let partialShare = chance(0.25) ? pick([0.3, 0.7, 1.0]) : 0
            var list: [Message] = []
            var offset = 0
            for index in 0..<count {
                let size: Int
                switch below(20) {
                case 0..<11: size = 1 + below(200)
                case 11..<17: size = 200 + below(2 * mtu)
                case 17..<19: size = mtu + below(4 * mtu)
                default: size = 4 * mtu + below(3 * mtu)
                }
                if spread > 0 && chance(0.3) { offset += below(spread / 4 + 1) }
                var message = Message(index: index, stream: UInt16(below(streams)), unordered: chance(unorderedShare),
                                      size: size, offset: .milliseconds(offset))
                if chance(partialShare) {
                    message.policy = chance(0.5) ? .maxRetransmissions(below(3)) : .lifetime(millis(30...1500))
                }
                list.append(message)
            }
            return list
        }
        let both = chance(0.7)
        clientMessages = messages(count: below(both ? 20 : 36) + (both ? 0 : 1), streams: clientStreams, mtu: client.pathMTU)
        serverMessages = both || chance(0.2) ? messages(count: below(20), streams: serverStreams, mtu: server.pathMTU) : []

        func reader() -> Reader {
            chance(0.75) ? Reader(bytesPerRead: nil, interval: .zero)
                         : Reader(bytesPerRead: pick([500, 2000, 8000]), interval: millis(5...50))
        }
        clientSendsEarly = chance(0.3)
        clientReader = reader()
        serverReader = reader()

        // Stream resets racing the data, in about a third of the runs, on streams both
        // directions have.
        var resetRandom = SeededRandomSource(seed: seed ^ 0x5245_5345_5453_5745)  // "RESETSWE"
        func resets() -> [Reset] {
            func below(_ n: Int) -> Int { Int(resetRandom.nextUInt64() % UInt64(n)) }
            guard below(3) == 0 else { return [] }
            let common = min(clientStreams, serverStreams)
            return (0...below(3)).map { _ in
                let streams: [UInt16] = below(4) == 0 ? [] : (0...below(min(common, 3))).map { _ in UInt16(below(common)) }
                let direction: StreamResetDirection = switch below(7) {
                case 0: .incoming
                case 1: [.incoming, .outgoing]
                default: .outgoing
                }
                return Reset(offset: .milliseconds(below(2500)), streams: streams, direction: direction)
            }.sorted { $0.offset < $1.offset }
        }
        clientResets = resets()
        serverResets = resets()

        switch below(10) {
        case 0..<6:
            ending = .shutdown(byClient: chance(0.6), both: chance(0.1), after: millis(0...3000))
        case 6..<9:
            ending = .abort(byClient: chance(0.5), after: millis(0...2000))
        default:
            ending = .abortEarly(after: millis(0...150))
        }
        // Message interleaving (RFC 8260 I-DATA), from a generator of its own so that the rest
        // of each scenario stays what it was: both sides offer it in three runs of ten, one
        // side only (the association falls back to DATA) in two.
        var i = SeededRandomSource(seed: seed ^ 0x4944_4154_4149_4E54)  // "IDATAINT"
        switch i.nextUInt64() % 10 {
        case 0..<3:
            client.interleaving = true
            server.interleaving = true
        case 3: client.interleaving = true
        case 4: server.interleaving = true
        default: break
        }
        // NR-SACK (on by default): one side leaves it out in two runs of ten, so plain SACKs
        // stay covered; its own generator again.
        var n = SeededRandomSource(seed: seed ^ 0x4E52_5341_434B_5321)  // "NRSACK!"
        switch n.nextUInt64() % 10 {
        case 0: client.nonRenegableSacks = false
        case 1: server.nonRenegableSacks = false
        default: break
        }
        // Path MTU discovery with an MTU change mid-run, from a generator of its own: in three
        // runs of ten both sides discover (the links' limits stay at or above the base, 1200,
        // which data without discovery would not respect).
        var m = SeededRandomSource(seed: seed ^ 0x504D_5455_4453_5750)  // "PMTUDSWP"
        func belowM(_ n: Int) -> Int { Int(m.nextUInt64() % UInt64(n)) }
        if belowM(10) < 3 {
            let discovery = PathMTUDiscovery(isEnabled: true, maximumPMTU: [4000, 8952][belowM(2)])
            client.pathMTUDiscovery = discovery
            server.pathMTUDiscovery = discovery
            func limit() -> Int? { belowM(4) == 0 ? nil : 1200 + belowM(8000) }
            forward.maxDatagramSize = limit()
            backward.maxDatagramSize = belowM(2) == 0 ? forward.maxDatagramSize : limit()
            mtuChange = (.milliseconds(100 + belowM(3000)), belowM(4) == 0 ? nil : 1200 + belowM(400))
        }
        // AUTH (RFC 4895), from a generator of its own: in three runs of ten one or both sides
        // ask for DATA (and SACK, FORWARD TSN, ...) to be authenticated, under SHA-1 or SHA-256,
        // with a shared key; in one of ten one side does not announce AUTH at all.
        var a = SeededRandomSource(seed: seed ^ 0x4155_5448_4155_5448)  // "AUTHAUTH"
        let authCase = a.nextUInt64() % 10
        if authCase < 3 {
            let key = (0..<Int(a.nextUInt64() % 40)).map { _ in UInt8(truncatingIfNeeded: a.nextUInt64()) }
            // Not ABORT: an endpoint that lost its association answers with a bare ABORT, which a
            // peer that requires ABORT authenticated must ignore (RFC 4895 §6.3), so the run would
            // end by timeout instead of the abort the sweep expects.
            let chunkSets: [[UInt8]] = [[0], [0, 3], [0, 3, 64, 192, 194, 4, 5, 7, 8, 130, 12, 13], [3]]
            for configuration in [0, 1] where authCase != UInt64(configuration) {
                var auth = configuration == 0 ? client.authentication : server.authentication
                auth.chunkTypes = chunkSets[Int(a.nextUInt64() % UInt64(chunkSets.count))]
                auth.hmacAlgorithms = a.nextUInt64() % 2 == 0 ? [.sha1] : [.sha256, .sha1]
                if configuration == 0 { client.authentication = auth } else { server.authentication = auth }
            }
            client.authentication.keys = [0: key]
            server.authentication.keys = [0: key]
        } else if authCase == 3 {
            if a.nextUInt64() % 2 == 0 { client.authentication.enabled = false } else { server.authentication.enabled = false }
        }
        guard schedulers else { return }
        var q = SeededRandomSource(seed: seed ^ 0x5343_4845_4455_4C45)  // "SCHEDULE"
        func below2(_ n: Int) -> Int { Int(q.nextUInt64() % UInt64(n)) }
        func plan(_ configuration: inout SCTPConfiguration) -> Schedulers {
            configuration.streamScheduler = StreamSchedulerKind.allCases[below2(6)]
            var values: [(UInt16, UInt16)] = []
            for stream in 0..<Int(configuration.outboundStreams) where below2(3) > 0 {
                values.append((UInt16(stream), UInt16(below2(2) == 0 ? below2(4) : below2(65536))))
            }
            var switches: [(Duration, StreamSchedulerKind)] = []
            for _ in 0..<below2(4) {
                switches.append((.milliseconds(below2(3000)), StreamSchedulerKind.allCases[below2(6)]))
            }
            return Schedulers(values: values, switches: switches.sorted { $0.0 < $1.0 })
        }
        clientSchedulers = plan(&client)
        serverSchedulers = plan(&server)
    }

    /// The payload of a message: its index, stream and size, then bytes derived from the seed
    /// and those (truncated for messages shorter than the header). Filled eight bytes at a
    /// time: byte-wise writes cost more than the protocol in a debug build.
    func payload(_ message: Message, fromClient: Bool) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: message.size + 16)
        var state = seed &* 0x9E37_79B9 &+ UInt64(message.index) &* 2 &+ (fromClient ? 1 : 0)
        let words = (message.size + 7) / 8 + 2
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: words * 8) { raw in
            var header = UInt64(message.index) << 32 | UInt64(message.stream) << 16 | UInt64(message.size & 0xFFFF)
            raw.storeBytes(of: header.bigEndian, toByteOffset: 0, as: UInt64.self)
            header = UInt64(message.size)
            raw.storeBytes(of: header.bigEndian, toByteOffset: 8, as: UInt64.self)
            var offset = 16
            while offset < words * 8 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                raw.storeBytes(of: state, toByteOffset: offset, as: UInt64.self)
                offset += 8
            }
            return words * 8
        }
        return buffer.getSlice(at: buffer.readerIndex, length: message.size)!
    }

    var description: String {
        func ms(_ d: Duration) -> String { "\(d.nanosecondsClamped / 1_000_000)ms" }
        func pct(_ p: Double) -> String { "\((p * 1000).rounded() / 10)%" }
        func link(_ c: LinkConditions) -> String {
            "delay \(ms(c.delay)) jitter \(ms(c.jitter)) loss \(pct(c.lossProbability)) dup \(pct(c.duplicationProbability)) "
                + "reorder \(pct(c.reorderProbability))/\(ms(c.reorderDelay)) corrupt \(pct(c.corruptionProbability)) "
                + "CE \(pct(c.congestionExperiencedProbability))"
                + (c.maxDatagramSize.map { " max \($0) B" } ?? "")
        }
        func configuration(_ c: SCTPConfiguration) -> String {
            "OS \(c.outboundStreams) MIS \(c.maxInboundStreams) MTU \(c.pathMTU) rcvbuf \(c.receiveBufferSize) sndbuf \(c.sendBufferSize) "
                + "maxOutstanding \(c.maxOutstandingChunks) gaps \(c.maxGapBlocksReported) burst \(c.maxBurst) nodelay \(c.noDelay) "
                + "sack \(c.delayedAckFrequency)/\(c.delayedAckTimeout) rto \(c.rtoInitial)/\(c.rtoMin)/\(c.rtoMax) prsctp \(c.partialReliability) ecn \(c.ecn) idata \(c.interleaving) nrsack \(c.nonRenegableSacks)"
                + (c.pathMTUDiscovery.isEnabled ? " plpmtud max \(c.pathMTUDiscovery.maximumPMTU)" : "")
                + " auth \(c.authentication.enabled ? "\(c.authentication.chunkTypes)/\(c.authentication.hmacAlgorithms.map(\.rawValue))" : "off")"
        }
        func reader(_ r: Reader) -> String { r.bytesPerRead.map { "\($0) B every \(r.interval)" } ?? "immediate" }
        func schedulers(_ c: SCTPConfiguration, _ plan: Schedulers?) -> String {
            guard let plan else { return "" }
            return "; scheduler \(c.streamScheduler), values \(plan.values.map { "\($0.stream)=\($0.value)" }), switches "
                + "\(plan.switches.map { "up+\($0.after): \($0.kind)" })"
        }
        return """
            seed \(seed): \(ending)
              client→server: \(link(forward)); server→client: \(link(backward))\(mtuChange.map { "; at +\($0.at) both links' limit becomes \($0.size.map { "\($0) B" } ?? "none")" } ?? "")
              client: \(configuration(client))\(schedulers(client, clientSchedulers)); reads \(reader(clientReader)); sends \(clientMessages.count)\(clientSendsEarly ? " (early)" : "") (\(clientMessages.filter { !$0.isReliable }.count) PR) (\(clientMessages.reduce(0) { $0 + $1.size }) B)
              server: \(configuration(server))\(schedulers(server, serverSchedulers)); reads \(reader(serverReader)); sends \(serverMessages.count) (\(serverMessages.filter { !$0.isReliable }.count) PR) (\(serverMessages.reduce(0) { $0 + $1.size }) B)
            """
    }
}
