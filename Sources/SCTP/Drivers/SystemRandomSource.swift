import NIOConcurrencyHelpers
import SCTPCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The operating system's cryptographically secure generator (getentropy, which is
/// getrandom on Linux), for verification tags, initial TSNs and cookie secrets.
///
/// Small draws are served from a pool of 256 bytes refilled with one system call, so setting
/// up an association costs no system call of its own. Copies of a value share its pool (a
/// reference): two copies never hand out the same bytes.
public struct SystemRandomSource: SCTPRandomSource, Sendable {
    private let pool = Pool()

    /// A source with a pool of its own.
    public init() {}

    /// Fills `buffer` with random bytes (from the pool, refilled by one system call when short).
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        pool.fill(buffer)
    }

    private final class Pool: @unchecked Sendable {
        static let size = 256
        private let lock = NIOLock()
        #if DEBUG
        private var bytes = [UInt8](repeating: 0, count: Pool.size)
        #else
        @exclusivity(unchecked) private var bytes = [UInt8](repeating: 0, count: Pool.size)
        #endif
        /// The next unused byte; `size` when the pool is spent.
        #if DEBUG
        private var next = Pool.size
        #else
        @exclusivity(unchecked) private var next = Pool.size
        #endif

        func fill(_ buffer: UnsafeMutableRawBufferPointer) {
            guard buffer.count <= Pool.size / 4 else {
                Self.system(buffer)
                return
            }
            lock.withLock {
                if Pool.size - next < buffer.count {
                    bytes.withUnsafeMutableBytes { Self.system($0) }
                    next = 0
                }
                bytes.withUnsafeMutableBytes { pool in
                    let taken = UnsafeMutableRawBufferPointer(rebasing: pool[next..<next + buffer.count])
                    buffer.copyMemory(from: UnsafeRawBufferPointer(taken))
                    // Handed-out bytes do not stay in memory.
                    taken.initializeMemory(as: UInt8.self, repeating: 0)
                }
                next += buffer.count
            }
        }

        /// Fills `buffer` straight from the operating system (getentropy gives at most 256
        /// bytes a call; the standard library's generator is the fallback).
        static func system(_ buffer: UnsafeMutableRawBufferPointer) {
            #if canImport(Glibc) || canImport(Darwin)
            var done = 0
            while done < buffer.count {
                let part = min(buffer.count - done, 256)
                guard getentropy(buffer.baseAddress! + done, part) == 0 else { break }
                done += part
            }
            if done == buffer.count { return }
            #endif
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
}
