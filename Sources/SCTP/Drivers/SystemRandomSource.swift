import SCTPCore

/// The operating system's cryptographically secure generator (getrandom on Linux,
/// arc4random on Apple platforms), for verification tags, initial TSNs and cookie secrets.
public struct SystemRandomSource: SCTPRandomSource, Sendable {
    public init() {}

    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var generator = SystemRandomNumberGenerator()
        var index = 0
        while index < buffer.count {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) where index < buffer.count {
                buffer[index] = UInt8(truncatingIfNeeded: word >> UInt64(shift))
                index += 1
            }
        }
    }
}
