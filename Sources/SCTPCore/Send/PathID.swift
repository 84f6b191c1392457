/// Identifies one destination path of the peer inside an association.
///
/// A small, dense integer: the association numbers its paths from 0 (the index of the path
/// in its path list). The send side keeps per-path counters in arrays indexed by it, so the
/// numbers should stay small.
public struct PathID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The index of the path, from 0.
    public var rawValue: Int

    /// A path id; `rawValue` must not be negative.
    public init(_ rawValue: Int) {
        precondition(rawValue >= 0, "path ids are not negative")
        self.rawValue = rawValue
    }

    public static func < (lhs: PathID, rhs: PathID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "path#\(rawValue)" }
}
