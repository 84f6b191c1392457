import NIOCore
import SCTPWire
import Testing
@testable import SCTPCore

/// Builders shared by the cookie tests.
enum CookieFixtures {
    static func secret(_ fill: UInt8) -> CookieSecret {
        CookieSecret(bytes: (0..<32).map { UInt8(truncatingIfNeeded: Int(fill) &+ $0) })!
    }

    static let v4Source = IPAddress.v4(IPv4Address(192, 0, 2, 1))

    static func cookie(addresses: [IPAddress] = [.v4(IPv4Address(192, 0, 2, 1)), .v4(IPv4Address(198, 51, 100, 7)),
                                                 .v6(IPv6Address(high: 0x2001_0DB8_0000_0000, low: 0x42))],
                       created: SCTPInstant = SCTPInstant(nanoseconds: 10_000_000_000),
                       lifetime: Duration = .seconds(60)) -> StateCookie {
        StateCookie(
            localTag: 0xA1B2_C3D4, peerTag: 0x0102_0304, localInitialTSN: TSN(0xFFFF_FFF0),
            peerInitialTSN: TSN(17), peerReceiverWindow: 131_072, outboundStreams: 10, inboundStreams: 5,
            peerOutboundStreams: 5, peerInboundStreams: 65535, localPort: 5000, peerPort: 5001,
            source: .v6(IPv6Address(high: 0x2001_0DB8_0000_0001, low: 0x1)), peerAddresses: addresses,
            localTieTag: 0xDEAD_BEEF, peerTieTag: 0xCAFE_F00D,
            peerFeatures: [.forwardTSN, .interleaving, .reconfiguration, .ecn],
            peerZeroChecksumMethod: 1, peerAdaptationIndication: 0x1234_5678,
            created: created, lifetime: lifetime)
    }

    static func bytes(_ buffer: ByteBuffer) -> [UInt8] { Array(buffer.readableBytesView) }

    static func buffer(_ bytes: [UInt8]) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return buffer
    }
}

extension CookieVerification {
    var isValid: Bool { if case .valid = self { true } else { false } }
    var rejection: CookieRejection? { if case .invalid(let reason) = self { reason } else { nil } }
}

@Suite("state cookie")
struct StateCookieTests {
    let now = SCTPInstant(nanoseconds: 10_000_000_000)

    @Test("a sealed cookie opens to the same value")
    func roundTrip() {
        let signer = CookieSigner(secret: CookieFixtures.secret(1), now: .zero)
        let cookie = CookieFixtures.cookie()
        let sealed = signer.seal(cookie)
        #expect(sealed.readableBytes <= signer.maximumCookieLength)
        #expect(signer.open(sealed, now: now) == .valid(cookie))
    }

    @Test("absent optional fields stay absent, IPv4 sources and empty address lists round trip")
    func roundTripMinimal() {
        let signer = CookieSigner(secret: CookieFixtures.secret(2), now: .zero)
        let cookie = StateCookie(
            localTag: 1, peerTag: 2, localInitialTSN: TSN(3), peerInitialTSN: TSN(4), peerReceiverWindow: 0,
            outboundStreams: 1, inboundStreams: 1, peerOutboundStreams: 1, peerInboundStreams: 1,
            localPort: 1, peerPort: 2, source: CookieFixtures.v4Source, peerAddresses: [],
            created: .zero, lifetime: .milliseconds(1500))
        let sealed = signer.seal(cookie)
        #expect(sealed.readableBytes == StateCookieCoding.minimumLength)
        guard case .valid(let opened) = signer.open(sealed, now: .zero) else {
            Issue.record("not valid")
            return
        }
        #expect(opened == cookie)
        #expect(opened.peerZeroChecksumMethod == nil)
        #expect(opened.peerAdaptationIndication == nil)
        #expect(opened.peerFeatures == [])
        #expect(opened.expiry == SCTPInstant(nanoseconds: 1_500_000_000))
    }

    @Test("changing any single byte makes the cookie invalid")
    func tamperEveryByte() {
        let signer = CookieSigner(secret: CookieFixtures.secret(3), now: .zero)
        let original = CookieFixtures.bytes(signer.seal(CookieFixtures.cookie()))
        for index in original.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var tampered = original
                tampered[index] ^= mask
                let result = signer.open(CookieFixtures.buffer(tampered), now: now)
                #expect(result.rejection != nil, "byte \(index) ^ \(mask) accepted")
            }
        }
    }

    @Test("truncated or extended cookies are invalid")
    func truncation() {
        let signer = CookieSigner(secret: CookieFixtures.secret(4), now: .zero)
        let original = CookieFixtures.bytes(signer.seal(CookieFixtures.cookie()))
        for length in 0..<original.count {
            let result = signer.open(CookieFixtures.buffer(Array(original.prefix(length))), now: now)
            #expect(result.rejection != nil, "prefix of \(length) bytes accepted")
        }
        #expect(signer.open(CookieFixtures.buffer(original + [0]), now: now).rejection != nil)
        #expect(signer.open(CookieFixtures.buffer([]), now: now) == .invalid(.wrongLength))
    }

    @Test("a cookie from a signer with another secret fails its MAC")
    func otherSecret() {
        let mine = CookieSigner(secret: CookieFixtures.secret(5), now: .zero)
        let theirs = CookieSigner(secret: CookieFixtures.secret(6), now: .zero)
        #expect(mine.open(theirs.seal(CookieFixtures.cookie()), now: now) == .invalid(.badMAC))
    }

    @Test("the previous secret still opens cookies after one rotation, not after two")
    func rotation() {
        var signer = CookieSigner(secret: CookieFixtures.secret(10), now: .zero)
        let cookie = CookieFixtures.cookie()
        let first = signer.seal(cookie)
        signer.rotate(newSecret: CookieFixtures.secret(11), now: .zero)
        #expect(signer.secretGeneration == 1)
        #expect(signer.open(first, now: now) == .valid(cookie))
        let second = signer.seal(cookie)
        #expect(CookieFixtures.bytes(second) != CookieFixtures.bytes(first))
        #expect(signer.open(second, now: now) == .valid(cookie))
        signer.rotate(newSecret: CookieFixtures.secret(12), now: .zero)
        #expect(signer.open(first, now: now) == .invalid(.badMAC))
        #expect(signer.open(second, now: now) == .valid(cookie))
    }

    @Test("rotation falls due after the secret lifetime and draws the secret from the random source")
    func rotationSchedule() {
        let start = SCTPInstant(nanoseconds: 5_000)
        var signer = CookieSigner(secret: CookieFixtures.secret(20), now: start,
                                  configuration: .init(secretLifetime: .seconds(10)))
        var random = SeededRandomSource(seed: 99)
        #expect(signer.nextRotation == start + .seconds(10))
        let due = start + .seconds(10)
        #expect(!signer.needsRotation(now: due + .nanoseconds(-1)))
        #expect(!signer.rotateIfDue(now: due + .nanoseconds(-1), using: &random))
        #expect(signer.secretGeneration == 0)
        let cookie = CookieFixtures.cookie()
        let before = signer.seal(cookie)
        #expect(signer.rotateIfDue(now: due, using: &random))
        #expect(signer.secretGeneration == 1)
        #expect(signer.currentSecretInstalled == due)
        #expect(signer.nextRotation == due + .seconds(10))
        #expect(signer.open(before, now: now) == .valid(cookie))
        #expect(CookieFixtures.bytes(signer.seal(cookie)) != CookieFixtures.bytes(before))

        let manual = CookieSigner(secret: CookieFixtures.secret(20), now: start,
                                  configuration: .init(secretLifetime: nil))
        #expect(manual.nextRotation == nil)
        #expect(!manual.needsRotation(now: SCTPInstant(nanoseconds: .max)))
    }

    @Test("an expired cookie is stale by exactly the time since expiry, in microseconds rounded up")
    func staleness() {
        let signer = CookieSigner(secret: CookieFixtures.secret(30), now: .zero)
        let created = SCTPInstant(nanoseconds: 10_000_000_000)
        let cookie = CookieFixtures.cookie(created: created, lifetime: .seconds(60))
        let sealed = signer.seal(cookie)
        let expiry = created + .seconds(60)
        #expect(signer.open(sealed, now: created) == .valid(cookie))
        #expect(signer.open(sealed, now: expiry) == .valid(cookie))
        #expect(signer.open(sealed, now: expiry + .microseconds(1500))
            == .stale(stalenessMicroseconds: 1500, cookie: cookie))
        #expect(signer.open(sealed, now: expiry + .nanoseconds(1))
            == .stale(stalenessMicroseconds: 1, cookie: cookie))
        #expect(signer.open(sealed, now: expiry + .nanoseconds(2_000_001))
            == .stale(stalenessMicroseconds: 2001, cookie: cookie))
        #expect(signer.open(sealed, now: expiry + .seconds(5000))
            == .stale(stalenessMicroseconds: .max, cookie: cookie))
    }

    @Test("the Cookie Preservative increment is granted up to the configured maximum")
    func preservative() {
        let signer = CookieSigner(secret: CookieFixtures.secret(40), now: .zero,
                                  configuration: .init(validCookieLife: .seconds(30), maximumLifeIncrement: .seconds(10)))
        #expect(signer.acceptedIncrement(nil) == .zero)
        #expect(signer.acceptedIncrement(2500) == .milliseconds(2500))
        #expect(signer.acceptedIncrement(10_000) == .seconds(10))
        #expect(signer.acceptedIncrement(.max) == .seconds(10))
        #expect(signer.cookieLifetime(requestedIncrementMilliseconds: nil) == .seconds(30))
        #expect(signer.cookieLifetime(requestedIncrementMilliseconds: 4000) == .seconds(34))
        #expect(signer.cookieLifetime(requestedIncrementMilliseconds: 60_000) == .seconds(40))

        let strict = CookieSigner(secret: CookieFixtures.secret(40), now: .zero,
                                  configuration: .init(maximumLifeIncrement: .zero))
        #expect(strict.acceptedIncrement(5000) == .zero)

        // The granted lifetime is what the cookie carries and what staleness is measured against.
        let cookie = CookieFixtures.cookie(created: .zero,
                                           lifetime: signer.cookieLifetime(requestedIncrementMilliseconds: 4000))
        let sealed = signer.seal(cookie)
        #expect(signer.open(sealed, now: .zero + .seconds(34)).isValid)
        #expect(signer.open(sealed, now: .zero + .seconds(35)) == .stale(stalenessMicroseconds: 1_000_000, cookie: cookie))
    }

    @Test("only the first distinct peer addresses up to the cap are kept")
    func addressCap() {
        let many = (0..<40).map { IPAddress.v4(IPv4Address(10, 0, 0, UInt8($0))) }
        let signer = CookieSigner(secret: CookieFixtures.secret(50), now: .zero)
        #expect(signer.configuration.maximumPeerAddresses == 16)
        guard case .valid(let opened) = signer.open(signer.seal(CookieFixtures.cookie(addresses: many)), now: now) else {
            Issue.record("not valid")
            return
        }
        #expect(opened.peerAddresses == Array(many.prefix(16)))

        let small = CookieSigner(secret: CookieFixtures.secret(50), now: .zero,
                                 configuration: .init(maximumPeerAddresses: 3))
        let duplicated = [many[0], many[0], many[1], many[0], many[2], many[3]]
        guard case .valid(let fewer) = small.open(small.seal(CookieFixtures.cookie(addresses: duplicated)), now: now) else {
            Issue.record("not valid")
            return
        }
        #expect(fewer.peerAddresses == [many[0], many[1], many[2]])

        // A cookie made before the cap was lowered (`reconfigure`) still opens, with all its
        // addresses; new cookies keep the new cap.
        var changing = CookieSigner(secret: CookieFixtures.secret(50), now: .zero, configuration: .init(maximumPeerAddresses: 255))
        let lots = (0..<200).map { IPAddress.v6(IPv6Address(high: 0x2001_0DB8 << 32, low: UInt64($0))) }
        let madeBefore = changing.seal(CookieFixtures.cookie(addresses: lots))
        changing.reconfigure(.init(maximumPeerAddresses: 3))
        guard case .valid(let opened) = changing.open(madeBefore, now: now) else {
            Issue.record("a cookie made under the larger cap does not open")
            return
        }
        #expect(opened.peerAddresses == lots)
        guard case .valid(let after) = changing.open(changing.seal(CookieFixtures.cookie(addresses: lots)), now: now) else {
            Issue.record("not valid")
            return
        }
        #expect(after.peerAddresses == Array(lots.prefix(3)))
        // Longer than any cookie of ours: refused before any MAC.
        let tooLong = CookieFixtures.buffer(Array(repeating: 0, count: CookieSigner.longestCookie + 1))
        #expect(small.open(tooLong, now: now) == .invalid(.wrongLength))
        #expect(CookieSigner(secret: CookieFixtures.secret(50), now: .zero,
                             configuration: .init(maximumPeerAddresses: 1000)).configuration.maximumPeerAddresses == 255)
    }

    @Test("random bytes never open and never trap")
    func randomGarbage() {
        var signer = CookieSigner(secret: CookieFixtures.secret(60), now: .zero)
        signer.rotate(newSecret: CookieFixtures.secret(61), now: .zero)
        var random = SeededRandomSource(seed: 2024)
        for round in 0..<4000 {
            let length = Int(random.nextUInt64() % UInt64(signer.maximumCookieLength + 40))
            var bytes = [UInt8](repeating: 0, count: length)
            bytes.withUnsafeMutableBytes { random.fill($0) }
            // Half the time look like our layout: right version and a live secret tag.
            if round % 2 == 0, length >= 2 {
                bytes[0] = StateCookieCoding.version
                bytes[1] = UInt8(round % 4 == 0 ? 0 : 1)
            }
            let result = signer.open(CookieFixtures.buffer(bytes), now: now)
            #expect(result.rejection != nil)
        }
    }

    @Test("the body parser rejects truncated, extended and random bodies without trapping")
    func boundedBodyParser() throws {
        // Take an authentic body (without its MAC) and feed the parser every prefix.
        let signer = CookieSigner(secret: CookieFixtures.secret(70), now: .zero)
        let body = Array(CookieFixtures.bytes(signer.seal(CookieFixtures.cookie())).dropLast(StateCookieCoding.macLength))
        let parsed = try StateCookieCoding.readBody(CookieFixtures.buffer(body), maximumAddresses: 16)
        #expect(parsed == CookieFixtures.cookie())
        for length in 0..<body.count {
            #expect(throws: CookieRejection.self) {
                try StateCookieCoding.readBody(CookieFixtures.buffer(Array(body.prefix(length))), maximumAddresses: 16)
            }
        }
        #expect(throws: CookieRejection.malformed) {
            try StateCookieCoding.readBody(CookieFixtures.buffer(body + [0]), maximumAddresses: 16)
        }
        // More addresses than allowed.
        #expect(throws: CookieRejection.malformed) {
            try StateCookieCoding.readBody(CookieFixtures.buffer(body), maximumAddresses: 2)
        }
        // An unknown address family in the source address (offset 72).
        var badFamily = body
        badFamily[StateCookieCoding.fixedLength] = 5
        #expect(throws: CookieRejection.malformed) {
            try StateCookieCoding.readBody(CookieFixtures.buffer(badFamily), maximumAddresses: 16)
        }
        // A negative lifetime (offset 56).
        var negative = body
        negative[56] = 0x80
        #expect(throws: CookieRejection.malformed) {
            try StateCookieCoding.readBody(CookieFixtures.buffer(negative), maximumAddresses: 16)
        }
        var random = SeededRandomSource(seed: 7)
        var parsedCount = 0
        for _ in 0..<4000 {
            var bytes = [UInt8](repeating: 0, count: Int(random.nextUInt64() % 400))
            bytes.withUnsafeMutableBytes { random.fill($0) }
            if !bytes.isEmpty { bytes[0] = StateCookieCoding.version }
            if (try? StateCookieCoding.readBody(CookieFixtures.buffer(bytes), maximumAddresses: 255)) != nil {
                parsedCount += 1
            }
        }
        // Random bytes almost never form a body whose length matches its address list exactly.
        #expect(parsedCount < 40)
    }

    @Test("secrets need exactly 32 bytes and never print their key")
    func secrets() {
        #expect(CookieSecret(bytes: [UInt8](repeating: 1, count: 31)) == nil)
        #expect(CookieSecret(bytes: [UInt8](repeating: 1, count: 33)) == nil)
        #expect(CookieSecret(bytes: [UInt8](repeating: 1, count: 32)) != nil)
        #expect(CookieFixtures.secret(1).description == "CookieSecret(redacted)")
        // Two secrets drawn from differently seeded sources seal differently.
        var r1 = SeededRandomSource(seed: 1)
        var r2 = SeededRandomSource(seed: 2)
        let a = CookieSigner(secret: CookieSecret(using: &r1), now: .zero)
        let b = CookieSigner(secret: CookieSecret(using: &r2), now: .zero)
        #expect(CookieFixtures.bytes(a.seal(CookieFixtures.cookie())) != CookieFixtures.bytes(b.seal(CookieFixtures.cookie())))
        #expect(b.open(a.seal(CookieFixtures.cookie()), now: now) == .invalid(.badMAC))
    }

    @Test("peer features are read from INIT parameters")
    func features() {
        let none = PeerFeatures(parameters: ParameterList([]))
        #expect(none == [])
        let list = ParameterList([
            .ipv4Address(IPv4AddressParameter(address: IPv4Address(10, 0, 0, 1))),
            .supportedExtensions(SupportedExtensionsParameter(chunkTypes: [64, 130, 0xC1, 0x80, 0xC2])),
            .ecnCapable(ECNCapableParameter()),
            .forwardTSNSupported(ForwardTSNSupportedParameter()),
        ])
        #expect(PeerFeatures(parameters: list)
            == [.interleaving, .reconfiguration, .addressReconfiguration, .interleavedForwardTSN, .ecn, .forwardTSN])
        // ASCONF without ASCONF-ACK is not address reconfiguration; FORWARD TSN in the list counts.
        let partial = ParameterList([.supportedExtensions(SupportedExtensionsParameter(chunkTypes: [0xC1, 192, 15]))])
        #expect(PeerFeatures(parameters: partial) == [.forwardTSN, .authentication])
        var random = ByteBufferAllocator().buffer(capacity: 32)
        random.writeRepeatingByte(7, count: 32)
        #expect(PeerFeatures(parameters: ParameterList([.random(RandomParameter(random: random))])) == [.authentication])
    }

    @Test("all peer addresses start with the INIT's source and hold no duplicates")
    func allAddresses() {
        var cookie = CookieFixtures.cookie(addresses: [.v4(IPv4Address(10, 0, 0, 2)), CookieFixtures.v4Source,
                                                       .v4(IPv4Address(10, 0, 0, 2))])
        cookie.source = CookieFixtures.v4Source
        #expect(cookie.allPeerAddresses == [CookieFixtures.v4Source, .v4(IPv4Address(10, 0, 0, 2))])
    }
}
