/// A sequence number with RFC 1982 serial-number arithmetic.
///
/// `<` compares in serial space: `a < b` when `b` is ahead of `a` by less than half
/// the number space. That order is not transitive across the whole space, so never
/// sort long-lived collections by it; compare numbers that are known to be close.
public protocol SerialNumber: Hashable, Comparable, Sendable, CustomStringConvertible {
    associatedtype RawValue: FixedWidthInteger & UnsignedInteger & Sendable
    var rawValue: RawValue { get }
    init(_ rawValue: RawValue)
}

extension SerialNumber {
    @inlinable
    public static func < (lhs: Self, rhs: Self) -> Bool {
        let half = RawValue(1) << (RawValue.bitWidth - 1)
        return lhs.rawValue != rhs.rawValue && (rhs.rawValue &- lhs.rawValue) < half
    }

    /// The number `n` steps ahead (wrapping).
    @inlinable
    public func advanced(by n: RawValue) -> Self { Self(rawValue &+ n) }

    /// The next number (wrapping).
    @inlinable
    public var next: Self { Self(rawValue &+ 1) }

    /// The number just before this one (wrapping).
    @inlinable
    public var previous: Self { Self(rawValue &- 1) }

    /// How far `other` is ahead of `self`, modulo the number space.
    @inlinable
    public func distance(to other: Self) -> RawValue { other.rawValue &- rawValue }

    public var description: String { String(rawValue) }
}

/// Transmission Sequence Number of a DATA or I-DATA chunk (RFC 9260 §3.3.1).
public struct TSN: SerialNumber {
    public var rawValue: UInt32
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
}

/// Stream Sequence Number of an ordered DATA chunk.
public struct SSN: SerialNumber {
    public var rawValue: UInt16
    @inlinable public init(_ rawValue: UInt16) { self.rawValue = rawValue }
}

/// Message Identifier of an I-DATA chunk (RFC 8260).
public struct MID: SerialNumber {
    public var rawValue: UInt32
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
}

/// Fragment Sequence Number of an I-DATA chunk (RFC 8260).
public struct FSN: SerialNumber {
    public var rawValue: UInt32
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
}
