import NIOCore
import SCTPWire

/// A 32-byte secret key for State Cookie MACs (RFC 9260 §5.1.3). The core never draws
/// randomness itself: the caller supplies the bytes, or a `SCTPRandomSource` to draw them from.
public struct CookieSecret: Sendable, CustomStringConvertible {
    /// The length of a secret in bytes.
    public static let byteCount = 32

    private var bytes: SIMD32<UInt8>

    /// A secret from exactly `byteCount` bytes; `nil` for any other count.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var value = SIMD32<UInt8>()
        for (index, byte) in bytes.enumerated() { value[index] = byte }
        self.bytes = value
    }

    /// A secret of 32 bytes drawn from `random`.
    public init(using random: inout some SCTPRandomSource) {
        var value = SIMD32<UInt8>()
        withUnsafeMutableBytes(of: &value) { random.fill($0) }
        bytes = value
    }

    /// Never shows the key.
    public var description: String { "CookieSecret(redacted)" }

    /// Calls `body` with the secret's bytes.
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeBytes(of: bytes, body)
    }
}

/// Why a cookie was refused without further answer (RFC 9260 §5.1.5: silently discarded).
public enum CookieRejection: Error, Hashable, Sendable {
    /// Shorter than the smallest or longer than the largest cookie we make.
    case wrongLength
    /// A layout version we do not write.
    case unsupportedVersion
    /// The MAC does not match under the current or the previous secret, or names a secret
    /// we no longer keep.
    case badMAC
    /// Authentic, but its contents do not parse (cannot happen with cookies we made).
    case malformed
}

/// The result of opening a State Cookie from a COOKIE ECHO.
public enum CookieVerification: Hashable, Sendable {
    /// Authentic and within its lifetime.
    case valid(StateCookie)
    /// Authentic but expired: answer with a Stale Cookie error cause (§5.1.5 step 3) carrying
    /// `stalenessMicroseconds`, how long ago it expired (rounded up, saturating at `UInt32.max`).
    case stale(stalenessMicroseconds: UInt32, cookie: StateCookie)
    /// Not ours, altered or malformed: discard silently.
    case invalid(CookieRejection)
}

/// Seals `StateCookie`s into authenticated bytes for the INIT ACK, and opens the bytes a
/// COOKIE ECHO brings back (RFC 9260 §5.1.3, §5.1.5, §10).
///
/// A sealed cookie is a versioned binary layout followed by HMAC-SHA256 over it, under a
/// 32-byte secret. Two secrets are kept: the current one, which seals, and the previous
/// one, which still opens cookies made before the last rotation. Each cookie carries the
/// low byte of its secret's generation number, so opening computes one MAC, not two; the
/// comparison is constant-time. Rotate on demand (`rotate(newSecret:now:)`) or when the
/// current secret has lived `Configuration.secretLifetime` (`rotateIfDue(now:using:)`,
/// `nextRotation`).
public struct CookieSigner: Sendable {
    /// Limits and lifetimes of the cookies.
    public struct Configuration: Sendable, Hashable {
        /// Valid.Cookie.Life (RFC 9260 §16): how long a fresh cookie is valid.
        public var validCookieLife: Duration
        /// The most a peer's Cookie Preservative may add to a cookie's lifetime. Zero ignores
        /// the parameter (§5.2.6 lets the receiver decline for security reasons).
        public var maximumLifeIncrement: Duration
        /// Rotate the secret once it has been current this long; `nil` rotates only on demand.
        public var secretLifetime: Duration?
        /// How many distinct addresses of the peer's INIT a cookie keeps (the rest are
        /// ignored); 0…255.
        public var maximumPeerAddresses: Int

        /// Defaults: 60 s cookie life, at most 60 s extra on request, a new secret every hour, 16 addresses.
        public init(validCookieLife: Duration = .seconds(60), maximumLifeIncrement: Duration = .seconds(60),
                    secretLifetime: Duration? = .seconds(3600), maximumPeerAddresses: Int = 16) {
            self.validCookieLife = validCookieLife
            self.maximumLifeIncrement = maximumLifeIncrement
            self.secretLifetime = secretLifetime
            self.maximumPeerAddresses = maximumPeerAddresses
        }
    }

    private struct Generation: Sendable {
        var secret: CookieSecret
        var number: UInt32
        var installed: SCTPInstant
        /// HMAC-SHA256 keyed with `secret`, before any data: each MAC starts from a copy, so
        /// the key schedule (padding, inner and outer pads) is done once per secret.
        var keyed: KeyedMAC
        var tag: UInt8 { UInt8(truncatingIfNeeded: number) }

        init(secret: CookieSecret, number: UInt32, installed: SCTPInstant) {
            self.secret = secret
            self.number = number
            self.installed = installed
            keyed = KeyedMAC(secret: secret)
        }
    }

    /// The most addresses a cookie can hold (its count is one byte).
    public static let addressCapacity = 255

    /// The limits this signer applies (the address cap is clamped to 0…255); `reconfigure`
    /// changes them.
    public private(set) var configuration: Configuration
    private var current: Generation
    private var previous: Generation?

    /// A signer whose first secret is `secret`, installed at `now`.
    public init(secret: CookieSecret, now: SCTPInstant, configuration: Configuration = Configuration()) {
        self.configuration = Self.clamped(configuration)
        current = Generation(secret: secret, number: 0, installed: now)
    }

    /// Applies new limits and lifetimes to the cookies made from now on; the secrets stay.
    /// Cookies already out open as before: one made under a larger address cap still opens
    /// (its MAC proves it is ours; the layout's own cap bounds what is read).
    public mutating func reconfigure(_ configuration: Configuration) {
        self.configuration = Self.clamped(configuration)
    }

    private static func clamped(_ configuration: Configuration) -> Configuration {
        var configuration = configuration
        configuration.maximumPeerAddresses = min(max(configuration.maximumPeerAddresses, 0), addressCapacity)
        return configuration
    }

    // MARK: Secrets

    /// How many times the secret has been rotated.
    public var secretGeneration: UInt32 { current.number }

    /// When the current secret was installed.
    public var currentSecretInstalled: SCTPInstant { current.installed }

    /// When the current secret is due for rotation, or `nil` when rotation is on demand only.
    public var nextRotation: SCTPInstant? {
        configuration.secretLifetime.map { current.installed + $0 }
    }

    /// Whether the current secret has lived its `secretLifetime` at `now`.
    public func needsRotation(now: SCTPInstant) -> Bool {
        guard let due = nextRotation else { return false }
        return now >= due
    }

    /// Makes `newSecret` current; the current one becomes the previous one (still opens
    /// cookies) and the previous one is forgotten.
    public mutating func rotate(newSecret: CookieSecret, now: SCTPInstant) {
        previous = current
        current = Generation(secret: newSecret, number: current.number &+ 1, installed: now)
    }

    /// Rotates to a secret drawn from `random` if the current one is due; returns whether it did.
    @discardableResult
    public mutating func rotateIfDue(now: SCTPInstant, using random: inout some SCTPRandomSource) -> Bool {
        guard needsRotation(now: now) else { return false }
        rotate(newSecret: CookieSecret(using: &random), now: now)
        return true
    }

    // MARK: Lifetime

    /// The part of a Cookie Preservative's requested increment (milliseconds, §3.3.2.1) we
    /// grant: at most `maximumLifeIncrement`; zero when there was no request.
    public func acceptedIncrement(_ requestedMilliseconds: UInt32?) -> Duration {
        guard let requestedMilliseconds else { return .zero }
        return min(.milliseconds(Int64(requestedMilliseconds)), configuration.maximumLifeIncrement)
    }

    /// The lifetime of a new cookie: Valid.Cookie.Life plus the granted part of any
    /// Cookie Preservative request.
    public func cookieLifetime(requestedIncrementMilliseconds: UInt32?) -> Duration {
        configuration.validCookieLife + acceptedIncrement(requestedIncrementMilliseconds)
    }

    // MARK: Sealing and opening

    /// The longest cookie this signer makes with its current limits, in bytes.
    public var maximumCookieLength: Int {
        StateCookieCoding.maximumLength(addresses: configuration.maximumPeerAddresses)
    }

    /// The longest cookie any configuration makes (`addressCapacity` addresses): what `open`
    /// accepts at most, so that a cookie made before a lower cap still opens.
    static let longestCookie = StateCookieCoding.maximumLength(addresses: addressCapacity)

    /// The cookie's bytes for the INIT ACK's State Cookie parameter, authenticated with the
    /// current secret. Only the first `maximumPeerAddresses` distinct peer addresses are kept.
    public func seal(_ cookie: StateCookie) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: StateCookieCoding.maximumLength(addresses: min(cookie.peerAddresses.count, configuration.maximumPeerAddresses)))
        seal(cookie, into: &buffer)
        return buffer
    }

    /// Writes the sealed cookie (the bytes `seal(_:)` returns) at `buffer`'s writer index:
    /// the INIT ACK's State Cookie parameter is written in place, with no buffer of its own.
    func seal(_ cookie: StateCookie, into buffer: inout ByteBuffer) {
        var addresses: [IPAddress] = []
        if !cookie.peerAddresses.isEmpty {
            addresses.reserveCapacity(min(cookie.peerAddresses.count, configuration.maximumPeerAddresses))
            for address in cookie.peerAddresses where addresses.count < configuration.maximumPeerAddresses {
                if !addresses.contains(address) { addresses.append(address) }
            }
        }
        let start = buffer.writerIndex
        StateCookieCoding.writeBody(cookie, addresses: addresses, generation: current.tag, to: &buffer)
        let bodyOffset = start - buffer.readerIndex
        var mac = SIMD32<UInt8>()
        buffer.withUnsafeReadableBytes { readable in
            let body = UnsafeRawBufferPointer(rebasing: readable[bodyOffset...])
            current.keyed.withCode(for: body) { code in withUnsafeMutableBytes(of: &mac) { $0.copyMemory(from: code) } }
        }
        withUnsafeBytes(of: mac) { _ = buffer.writeBytes(UnsafeRawBufferPointer(rebasing: $0[0..<StateCookieCoding.macLength])) }
    }

    /// Authenticates and reads the cookie a COOKIE ECHO carries (its readable bytes), then
    /// checks its lifetime against `now` (§5.1.5 steps 1–3). The length is checked before
    /// any MAC is computed; the MAC before any field is trusted.
    public func open(_ bytes: ByteBuffer, now: SCTPInstant) -> CookieVerification {
        let length = bytes.readableBytes
        // Bounded by what any cookie of ours can hold, not by the current address cap: one
        // made before `reconfigure` lowered the cap still opens.
        guard length >= StateCookieCoding.minimumLength, length <= Self.longestCookie else {
            return .invalid(.wrongLength)
        }
        guard let version = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self),
              let tag = bytes.getInteger(at: bytes.readerIndex + 1, as: UInt8.self) else {
            return .invalid(.wrongLength)
        }
        guard version == StateCookieCoding.version else { return .invalid(.unsupportedVersion) }
        let keyed: KeyedMAC
        if tag == current.tag {
            keyed = current.keyed
        } else if let previous, tag == previous.tag {
            keyed = previous.keyed
        } else {
            return .invalid(.badMAC)
        }
        let bodyLength = length - StateCookieCoding.macLength
        let authentic = bytes.withUnsafeReadableBytes { raw in
            // Constant time: every byte is compared whatever the earlier ones were.
            keyed.verify(UnsafeRawBufferPointer(rebasing: raw[bodyLength...]), for: UnsafeRawBufferPointer(rebasing: raw[..<bodyLength]))
        }
        guard authentic, let body = bytes.getSlice(at: bytes.readerIndex, length: bodyLength) else {
            return .invalid(.badMAC)
        }
        let cookie: StateCookie
        do {
            cookie = try StateCookieCoding.readBody(body, maximumAddresses: Self.addressCapacity)
        } catch {
            return .invalid(error)
        }
        let expiry = cookie.expiry
        guard now > expiry else { return .valid(cookie) }
        let nanoseconds = (now - expiry).nanosecondsClamped
        let microseconds = nanoseconds / 1000 + (nanoseconds % 1000 == 0 ? 0 : 1)
        return .stale(stalenessMicroseconds: UInt32(clamping: microseconds), cookie: cookie)
    }
}
