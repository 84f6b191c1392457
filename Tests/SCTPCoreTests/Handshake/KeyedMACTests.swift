import Testing
@testable import SCTPCore

@Suite("keyed MAC")
struct KeyedMACTests {
    private static func hex(_ key: [UInt8], _ message: [UInt8]) -> String {
        let mac = key.withUnsafeBytes { KeyedMAC(key: $0) }
        let digest = message.withUnsafeBytes { mac.code(for: $0) }
        return digest.withUnsafeBytes { $0.map { byte in String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }.joined() }
    }

    @Test("RFC 4231 test vectors: short key, short key with text, key longer than a block")
    func vectors() {
        #expect(Self.hex([UInt8](repeating: 0x0B, count: 20), Array("Hi There".utf8))
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(Self.hex(Array("Jefe".utf8), Array("what do ya want for nothing?".utf8))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(Self.hex([UInt8](repeating: 0xAA, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test("one keyed MAC gives the same code again: each code starts from copies of the keyed states")
    func reuse() {
        let mac = [UInt8](repeating: 7, count: 32).withUnsafeBytes { KeyedMAC(key: $0) }
        let first = [UInt8](repeating: 1, count: 100).withUnsafeBytes { mac.code(for: $0) }
        let other = [UInt8](repeating: 2, count: 100).withUnsafeBytes { mac.code(for: $0) }
        let again = [UInt8](repeating: 1, count: 100).withUnsafeBytes { mac.code(for: $0) }
        #expect(first == again)
        #expect(first != other)
    }
}
