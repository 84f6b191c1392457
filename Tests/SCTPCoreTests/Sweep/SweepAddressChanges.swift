@testable import SCTPCore
import SCTPWire

extension SweepScenario {
    /// An address change of the client (RFC 5061) at `offset` after the association is up.
    struct AddressChange {
        enum Action {
            case add(IPAddress)
            case delete(IPAddress)
            case setPeerPrimary(IPAddress)
        }

        var offset: Duration
        var action: Action
    }

    /// The client's second address, linked to the server like the first.
    static let spareClientAddress = IPAddress.v4(IPv4Address(10, 0, 0, 2))

    /// Both sides negotiate ASCONF (also accepted unauthenticated, so that runs where AUTH is
    /// off on one side still change addresses) and
    /// the client changes its addresses mid-transfer (from a generator of its own, so the
    /// rest of the seed's scenario is the plain sweep's): it adds its second address, and
    /// then, drawn per run, makes it the server's primary, deletes its first address (the one
    /// every path uses until then), or both.
    mutating func withAddressChanges() {
        for index in [0, 1] {
            var configuration = index == 0 ? client : server
            configuration.addressReconfiguration = true
            configuration.acceptsUnauthenticatedAddressChanges = true
            if index == 0 { client = configuration } else { server = configuration }
        }
        var r = SeededRandomSource(seed: seed ^ 0x4153_434F_4E46_5357)  // "ASCONFSW"
        func below(_ n: Int) -> Int { Int(r.nextUInt64() % UInt64(n)) }
        var offset = Duration.milliseconds(below(1500))
        var changes = [AddressChange(offset: offset, action: .add(Self.spareClientAddress))]
        let plan = below(4)
        if plan == 1 || plan == 3 {
            offset += .milliseconds(below(500))
            changes.append(AddressChange(offset: offset, action: .setPeerPrimary(Self.spareClientAddress)))
        }
        if plan == 2 || plan == 3 {
            offset += .milliseconds(below(500))
            changes.append(AddressChange(offset: offset, action: .delete(Self.clientAddress)))
        }
        clientAddressChanges = changes
    }
}
