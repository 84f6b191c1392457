import CSCTPHash
import Crypto
import Testing
@testable import SCTPCore

/// `KeyedMAC` (CSCTPHash's SHA-1 / SHA-256 and HMAC), every implementation this CPU can run
/// (the SHA instructions and the portable C), against published vectors and swift-crypto.
/// Serialized: the implementation choice is process-wide, and each test selects one.
@Suite("keyed MAC (CSCTPHash)", .serialized)
struct KeyedMACTests {
    /// The implementations this CPU runs: the portable one always.
    static let implementations: [String] = ["portable", "x86-sha"].filter { name in csctp_hash_select(name) == 0 }

    /// Runs `body` with `implementation` selected, then puts the default choice back.
    static func with<T>(_ implementation: String, _ body: () throws -> T) rethrows -> T {
        #expect(csctp_hash_select(implementation) == 0)
        defer { _ = csctp_hash_select(implementations.last!) }
        return try body()
    }

    private static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        bytes.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }

    private static func mac(_ hash: KeyedMAC.Hash, _ key: [UInt8], _ message: [UInt8], zeroing: Range<Int> = 0..<0) -> [UInt8] {
        let keyed = key.withUnsafeBytes { KeyedMAC(hash, key: $0) }
        return message.withUnsafeBytes { bytes in keyed.withCode(for: bytes, zeroing: zeroing) { Array($0) } }
    }

    private static func hexMAC(_ hash: KeyedMAC.Hash, _ key: [UInt8], _ message: [UInt8]) -> String {
        mac(hash, key, message).withUnsafeBytes { hex($0) }
    }

    @Test("published vectors: RFC 4231 (HMAC-SHA-256) and RFC 2202 (HMAC-SHA-1), keys shorter and longer than a block",
          arguments: implementations)
    func vectors(implementation: String) {
        Self.with(implementation) {
            #expect(Self.hexMAC(.sha256, [UInt8](repeating: 0x0B, count: 20), Array("Hi There".utf8))
                    == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
            #expect(Self.hexMAC(.sha256, Array("Jefe".utf8), Array("what do ya want for nothing?".utf8))
                    == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
            #expect(Self.hexMAC(.sha256, [UInt8](repeating: 0xAA, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
                    == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
            #expect(Self.hexMAC(.sha1, [UInt8](repeating: 0x0B, count: 20), Array("Hi There".utf8))
                    == "b617318655057264e28bc0b6fb378c8ef146be00")
            #expect(Self.hexMAC(.sha1, Array("Jefe".utf8), Array("what do ya want for nothing?".utf8))
                    == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
            #expect(Self.hexMAC(.sha1, [UInt8](repeating: 0xAA, count: 80), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
                    == "aa4ae5e15272d00e95705637ce8a3b55ed402112")
        }
    }

    @Test("hashes and MACs of every length 0-300 (each block boundary and padding case), with keys of 0-150 bytes and a range taken as zero, match swift-crypto's",
          arguments: implementations)
    func againstSwiftCrypto(implementation: String) {
        var random = SplitMix(seed: 0x5EED)
        Self.with(implementation) {
            for length in 0...300 {
                let message = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
                var sha1 = [UInt8](repeating: 0, count: 20), sha256 = [UInt8](repeating: 0, count: 32)
                _ = csctp_hash(Int32(CSCTP_HASH_SHA1), message, message.count, &sha1)
                _ = csctp_hash(Int32(CSCTP_HASH_SHA256), message, message.count, &sha256)
                #expect(sha1 == Array(Insecure.SHA1.hash(data: message)), "SHA-1 of \(length) bytes")
                #expect(sha256 == Array(SHA256.hash(data: message)), "SHA-256 of \(length) bytes")

                let key = (0..<Int.random(in: 0...150, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                // A range taken as zero: anywhere, possibly empty, possibly past the end.
                let start = Int.random(in: 0...length + 8, using: &random)
                let zeroing = start..<(start + Int.random(in: 0...40, using: &random))
                var zeroed = message
                for index in zeroing where index < length { zeroed[index] = 0 }
                let symmetric = SymmetricKey(data: key)
                #expect(Self.mac(.sha1, key, message, zeroing: zeroing)
                        == Array(HMAC<Insecure.SHA1>.authenticationCode(for: zeroed, using: symmetric)),
                        "HMAC-SHA-1, \(length) bytes, key of \(key.count), zero \(zeroing)")
                #expect(Self.mac(.sha256, key, message, zeroing: zeroing)
                        == Array(HMAC<SHA256>.authenticationCode(for: zeroed, using: symmetric)),
                        "HMAC-SHA-256, \(length) bytes, key of \(key.count), zero \(zeroing)")
            }
            // Long messages: many blocks straight from the buffer, the zero range in the middle.
            let long = (0..<9000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            var zeroed = long
            for index in 4000..<4020 { zeroed[index] = 0 }
            #expect(Self.mac(.sha1, [1, 2, 3], long, zeroing: 4000..<4020)
                    == Array(HMAC<Insecure.SHA1>.authenticationCode(for: zeroed, using: SymmetricKey(data: [UInt8]([1, 2, 3])))))
            #expect(Self.mac(.sha256, [1, 2, 3], long, zeroing: 4000..<4020)
                    == Array(HMAC<SHA256>.authenticationCode(for: zeroed, using: SymmetricKey(data: [UInt8]([1, 2, 3])))))
        }
    }

    @Test("two MACs at once (side by side) equal two MACs one at a time, for messages of different lengths and zero ranges",
          arguments: implementations)
    func pairs(implementation: String) {
        var random = SplitMix(seed: 0xFA12)
        Self.with(implementation) {
            for hash in [KeyedMAC.Hash.sha1, .sha256] {
                for _ in 0..<300 {
                    let key = (0..<Int.random(in: 0...100, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                    let keyed = key.withUnsafeBytes { KeyedMAC(hash, key: $0) }
                    let messages = (0..<2).map { _ in
                        (0..<Int.random(in: 0...1600, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                    }
                    let zeroes = messages.map { message in
                        let start = Int.random(in: 0...message.count + 4, using: &random)
                        return start..<(start + Int.random(in: 0...32, using: &random))
                    }
                    let singles = zip(messages, zeroes).map { message, zero in
                        message.withUnsafeBytes { keyed.withCode(for: $0, zeroing: zero) { Array($0) } }
                    }
                    let (first, second) = messages[0].withUnsafeBytes { a in
                        messages[1].withUnsafeBytes { b in keyed.codes(for: a, zeroing: zeroes[0], and: b, zeroing: zeroes[1]) }
                    }
                    let pair = [first, second].map { code in withUnsafeBytes(of: code) { Array($0.prefix(hash.length)) } }
                    #expect(pair == singles, "\(hash), lengths \(messages.map(\.count)), zero \(zeroes)")
                }
            }
        }
    }

    @Test("one keyed MAC gives the same code again; verify accepts it and refuses one changed byte or a short MAC")
    func reuseAndVerify() {
        let keyed = [UInt8](repeating: 7, count: 32).withUnsafeBytes { KeyedMAC(.sha256, key: $0) }
        func code(_ message: [UInt8]) -> [UInt8] { message.withUnsafeBytes { keyed.withCode(for: $0) { Array($0) } } }
        let first = code([UInt8](repeating: 1, count: 100))
        #expect(first == code([UInt8](repeating: 1, count: 100)))
        #expect(first != code([UInt8](repeating: 2, count: 100)))
        let message = [UInt8](repeating: 1, count: 100)
        message.withUnsafeBytes { bytes in
            #expect(first.withUnsafeBytes { keyed.verify($0, for: bytes) })
            var changed = first
            changed[31] ^= 1
            #expect(!changed.withUnsafeBytes { keyed.verify($0, for: bytes) })
            #expect(!first.dropLast().withUnsafeBytes { keyed.verify($0, for: bytes) })
        }
    }
}

/// splitmix64, as a RandomNumberGenerator.
private struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
