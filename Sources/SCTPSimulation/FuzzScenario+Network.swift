import NIOCore
import SCTPCore
import SCTPWire

/// The fuzz world's network: time passing, datagrams delivered, dropped, duplicated,
/// delayed and corrupted, and forged packets.
extension FuzzWorld {
    // MARK: Time and the network

    /// Runs the timers due up to `now + duration`, delivering nothing.
    func advanceTimers(by duration: Duration) {
        let target = now + duration
        for _ in 0..<Self.maxStepsPerWait {
            guard let next = sides.compactMap({ $0.endpoint.nextDeadline }).min(), next <= target else { break }
            now = max(now, next)
            runTimers()
            pump()
            if !violations.isEmpty { return }
        }
        now = max(now, target)
    }

    /// Runs the network up to `now + duration`: datagrams arrive at their times, timers fire,
    /// what the endpoints send goes on the network with the latency, jitter and loss chosen.
    func runNetwork(for duration: Duration) {
        let target = now + duration
        for _ in 0..<Self.maxStepsPerWait {
            var next = inFlight.map(\.deliverAt).min()
            for side in sides {
                if let deadline = side.endpoint.nextDeadline, next.map({ deadline < $0 }) ?? true { next = deadline }
            }
            guard let next, next <= target else { break }
            now = max(now, next)
            while let index = inFlight.firstIndex(where: { $0.deliverAt <= now }) {
                deliver(at: index)
                if !violations.isEmpty { return }
            }
            runTimers()
            pump()
            if !violations.isEmpty { return }
        }
        now = max(now, target)
    }

    func runTimers() {
        for side in sides {
            if let deadline = side.endpoint.nextDeadline, deadline <= now { side.endpoint.handleTimeout(now: now) }
        }
    }

    func side(owning address: IPAddress) -> FuzzSide? { sides.first { $0.addresses.contains(address) } }

    func deliver(at index: Int) {
        guard inFlight.indices.contains(index) else { return }
        let datagram = inFlight.remove(at: index)
        guard let receiver = side(owning: datagram.to) else { return }
        if datagram.altered { receiver.tainted = true }
        note("\(receiver.name) ← \(datagram.from): \(Self.describe(datagram.bytes))")
        learn(from: datagram.bytes, to: receiver)
        receiver.endpoint.handle(datagram: datagram.bytes, from: datagram.from, to: datagram.to, now: now,
                                 congestionExperienced: datagram.congestionExperienced)
        pump()
    }

    func duplicate(at index: Int) {
        guard inFlight.indices.contains(index), inFlight.count < Self.maxInFlight else { return }
        var copy = inFlight[index]
        copy.deliverAt = now + latency
        inFlight.append(copy)
    }

    func delay(at index: Int, by duration: Duration) {
        guard inFlight.indices.contains(index) else { return }
        var datagram = inFlight.remove(at: index)
        datagram.deliverAt = max(datagram.deliverAt, now) + duration
        inFlight.append(datagram)
    }

    func corrupt(at index: Int) {
        guard inFlight.indices.contains(index), inFlight[index].bytes.readableBytes > 0 else { return }
        var bytes = inFlight[index].bytes
        let offset = input.below(bytes.readableBytes)
        let mask = input.u8() | 1
        let position = bytes.readerIndex + offset
        if let value = bytes.getInteger(at: position, as: UInt8.self) { bytes.setInteger(value ^ mask, at: position) }
        if input.bool() && bytes.readableBytes >= CommonHeader.size {
            PacketChecksum.store(in: &bytes, mode: .crc32c)
            inFlight[index].altered = true
        }
        inFlight[index].bytes = bytes
    }

    /// Records the tags and TSNs a datagram shows (forged packets aim near them).
    func learn(from datagram: ByteBuffer, to receiver: FuzzSide) {
        guard let packet = try? SCTPPacket(parsing: datagram, checksum: .skipped) else { return }
        let sender = other(receiver)
        if packet.header.verificationTag != 0 { FuzzSide.remember(packet.header.verificationTag, in: &receiver.tagsSeen) }
        for chunk in packet.chunks.prefix(16) {
            switch chunk {
            case .data(let data): FuzzSide.remember(data.tsn.rawValue, in: &sender.tsnsSent)
            case .sack(let sack): FuzzSide.remember(sack.cumulativeTSNAck.rawValue, in: &sender.cumulativeAcks)
            case .initiation(let initChunk): FuzzSide.remember(initChunk.initiateTag, in: &sender.tagsSeen)
            case .initiationAck(let ack): FuzzSide.remember(ack.initiateTag, in: &sender.tagsSeen)
            default: break
            }
        }
    }

    // MARK: Forged packets

    func forge(to target: FuzzSide) {
        let sender = other(target)
        let tag: UInt32 = switch input.below(4) {
        case 0: 0
        case 1: input.u32()
        default: target.tagsSeen.isEmpty ? input.u32() : target.tagsSeen[input.below(target.tagsSeen.count)]
        }
        let portChoice = input.u8()
        let sourcePort = portChoice % 8 == 0 ? input.u16() : sender.port
        let destinationPort = input.u8() % 8 == 0 ? input.u16() : target.port
        var chunks: [Chunk] = []
        var carriesData = false
        // Some forged packets start with a forged AUTH chunk (RFC 4895): a key id that may not
        // exist, an HMAC identifier that may not be announced, a MAC of a right or wrong
        // length that never matches. What follows it must be discarded.
        if (portChoice >> 3) & 3 == 1 {
            let hmac: UInt16 = [1, 3, 2, 0][input.below(4)]
            let length = [20, 32, 0, 19][input.below(4)]
            chunks.append(.auth(AuthChunk(sharedKeyIdentifier: UInt16(input.below(4)), hmacIdentifier: hmac,
                                          hmac: ByteBuffer(repeating: input.u8(), count: length))))
        }
        for _ in 0..<(1 + input.below(3)) {
            let chunk = forgedChunk(to: target, from: sender)
            if case .data = chunk { carriesData = true }
            if case .forwardTSN = chunk { carriesData = true }
            chunks.append(chunk)
        }
        let packet = SCTPPacket(header: CommonHeader(sourcePort: sourcePort, destinationPort: destinationPort, verificationTag: tag),
                                chunks: chunks)
        let source = input.u8() % 8 == 0 ? Self.stranger : sender.addresses[input.below(sender.addresses.count)]
        let destination = target.addresses[input.below(target.addresses.count)]
        if carriesData { target.tainted = true }
        note("forged to the \(target.name) from \(source): \(Self.describe(packet.serialized()))")
        target.endpoint.handle(datagram: packet.serialized(), from: source, to: destination, now: now,
                               congestionExperienced: input.u8() % 8 == 0)
        pump()
    }

    /// A TSN near those `side` sent (or a random one).
    func tsn(near list: [UInt32]) -> TSN {
        guard !list.isEmpty, input.u8() % 8 != 0 else { return TSN(input.u32()) }
        let base = list[input.below(list.count)]
        return TSN(base &+ UInt32(bitPattern: Int32(Int8(bitPattern: input.u8()))))
    }

    func forgedChunk(to target: FuzzSide, from sender: FuzzSide) -> Chunk {
        switch input.below(14) {
        case 0, 1:
            var flags = DataFlags(rawValue: input.u8() & 0x0F)
            if input.bool() { flags = .complete }
            let size = input.below(64)
            return .data(DataChunk(flags: flags, tsn: tsn(near: sender.tsnsSent), streamIdentifier: UInt16(input.below(8)),
                                   ssn: SSN(UInt16(input.below(8))), payloadProtocolIdentifier: input.u32(),
                                   payload: ByteBuffer(repeating: input.u8(), count: size)))
        case 2, 3:
            let nonRenegable = input.below(4) == 0  // an NR-SACK, its blocks split between the lists
            var blocks: [GapAckBlock] = []
            for _ in 0..<input.below(4) {
                let start = UInt16(input.below(40))
                blocks.append(GapAckBlock(start: start, end: start &+ UInt16(input.below(10))))
            }
            let duplicates = (0..<input.below(3)).map { _ in tsn(near: target.tsnsSent) }
            if nonRenegable {
                let split = input.below(blocks.count + 1)
                return .nrSack(NRSackChunk(cumulativeTSNAck: tsn(near: target.tsnsSent),
                                           advertisedReceiverWindowCredit: input.u8() % 4 == 0 ? 0 : input.u32() % 200_000,
                                           gapAckBlocks: Array(blocks[..<split]), nonRenegableGapAckBlocks: Array(blocks[split...]),
                                           duplicateTSNs: duplicates))
            }
            return .sack(SackChunk(cumulativeTSNAck: tsn(near: target.tsnsSent), advertisedReceiverWindowCredit: input.u8() % 4 == 0 ? 0 : input.u32() % 200_000,
                                   gapAckBlocks: blocks, duplicateTSNs: duplicates))
        case 4:
            let skipped = (0..<input.below(3)).map { _ in
                ForwardTSNChunk.SkippedStream(streamIdentifier: UInt16(input.below(8)), ssn: SSN(UInt16(input.below(8))))
            }
            return .forwardTSN(ForwardTSNChunk(newCumulativeTSN: tsn(near: sender.tsnsSent), skippedStreams: skipped))
        case 5:
            return .heartbeat(HeartbeatChunk(info: HeartbeatInfoParameter(info: ByteBuffer(repeating: input.u8(), count: input.below(40)))))
        case 6:
            return .heartbeatAck(HeartbeatAckChunk(info: HeartbeatInfoParameter(info: ByteBuffer(repeating: input.u8(), count: input.below(40)))))
        case 7:
            return .abort(AbortChunk(tagFlags: input.bool() ? .reflectedTag : [], causes: []))
        case 8:
            return .shutdown(ShutdownChunk(cumulativeTSNAck: tsn(near: target.tsnsSent)))
        case 9:
            return input.bool() ? .shutdownAck(ShutdownAckChunk()) : .shutdownComplete(ShutdownCompleteChunk(tagFlags: input.bool() ? .reflectedTag : []))
        case 10:
            return input.bool() ? .cookieAck(CookieAckChunk()) : .error(ErrorChunk(causes: [.staleCookie(StaleCookieCause(staleness: input.u32() % 2_000_000))]))
        case 11:
            return input.bool() ? .ecne(ECNEChunk(lowestTSN: tsn(near: target.tsnsSent))) : .cwr(CWRChunk(lowestTSN: tsn(near: sender.tsnsSent)))
        case 12:
            return .initiation(InitChunk(initiateTag: input.u32(), advertisedReceiverWindowCredit: input.u32() % 100_000,
                                         outboundStreams: UInt16(input.below(8)), inboundStreams: UInt16(input.below(8)),
                                         initialTSN: TSN(input.u32()), parameters: ParameterList([])))
        default:
            return .unknown(UnknownChunk(type: input.u8() | 0x40, flags: input.u8(), value: ByteBuffer(repeating: input.u8(), count: input.below(16))))
        }
    }
}
