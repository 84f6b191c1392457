/// A table from a transport address (an IP address and a port) to a 32-bit value, stored
/// compactly: an IPv4 key is packed into 64 bits, an IPv6 key kept in its own table. Tables
/// with an entry per association (the endpoint's peer addresses, the UDP ports learned per
/// peer) took 24 bytes per key as `IPAddress` and port; packed, an IPv4 key takes 8 (memory
/// per idle association, issue 19).
///
/// Not generic: a generic table defined here ran unspecialized in the modules that use it
/// (each access looked up its type's metadata at run time: about 1,900 instructions per
/// insertion), so the values are 32-bit integers (an association id, a UDP port).
///
/// Both tables are standard `Dictionary`s: their hashing is seeded per process, so a peer
/// that picks addresses and ports cannot aim for collisions.
package struct TransportAddressMap {
    private struct V6Key: Hashable {
        var address: IPv6Address
        var port: UInt16
    }

    private var v4: [UInt64: UInt32] = [:]
    private var v6: [V6Key: UInt32] = [:]

    package init() {}

    @inline(__always)
    private static func packed(_ address: IPv4Address, _ port: UInt16) -> UInt64 {
        UInt64(address.rawValue) << 16 | UInt64(port)
    }

    /// The value stored for `address`:`port`; assigning `nil` removes the entry.
    package subscript(address: IPAddress, port: UInt16) -> UInt32? {
        get {
            switch address {
            case .v4(let a): v4[Self.packed(a, port)]
            case .v6(let a): v6[V6Key(address: a, port: port)]
            }
        }
        set {
            switch address {
            case .v4(let a): v4[Self.packed(a, port)] = newValue
            case .v6(let a): v6[V6Key(address: a, port: port)] = newValue
            }
        }
    }

    /// How many entries there are.
    package var count: Int { v4.count + v6.count }
    package var isEmpty: Bool { v4.isEmpty && v6.isEmpty }

    /// Removes every entry (and the tables' storage).
    package mutating func removeAll() {
        v4 = [:]
        v6 = [:]
    }

    /// Every entry, IPv4 ones first, each in no particular order.
    package var entries: [(address: IPAddress, port: UInt16, value: UInt32)] {
        var all: [(address: IPAddress, port: UInt16, value: UInt32)] = []
        all.reserveCapacity(count)
        for (key, value) in v4 {
            all.append((.v4(IPv4Address(rawValue: UInt32(truncatingIfNeeded: key >> 16))), UInt16(truncatingIfNeeded: key), value))
        }
        for (key, value) in v6 { all.append((.v6(key.address), key.port, value)) }
        return all
    }
}
