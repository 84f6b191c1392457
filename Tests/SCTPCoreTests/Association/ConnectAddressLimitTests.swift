import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// `connect`'s bound on the addresses it is given (`SCTPConfiguration.maxPeerAddresses`).
@Suite("connect address limit")
struct ConnectAddressLimitTests {
    typealias H = AssociationHarness

    @Test("connect takes at most maxPeerAddresses distinct addresses (duplicates count once); any maxPeerAddresses is usable")
    func connectAddressLimit() throws {
        var configuration = SCTPConfiguration()
        configuration.maxPeerAddresses = 3
        let h = H(seed: 15, clientConfiguration: configuration)
        let many = (1...4).map { IPAddress.v4(IPv4Address(10, 0, 9, UInt8($0))) }
        #expect(throws: CoreError.invalidAddresses("more than 3 peer addresses (maxPeerAddresses)")) {
            try h.client.endpoint.connect(to: many, port: H.serverPort, now: h.now)
        }
        #expect(h.client.endpoint.associationIDs.isEmpty, "nothing made by a refused connect")
        // Twenty addresses that are three distinct ones.
        let repeated = (0..<20).map { many[$0 % 3] }
        let id = try h.client.endpoint.connect(to: repeated, port: H.serverPort, now: h.now)
        #expect(h.client.endpoint.association(id)?.paths.count == 3)

        for extreme in [Int.max, Int.min, 0] {
            var odd = SCTPConfiguration()
            odd.maxPeerAddresses = extreme
            #expect((1...CookieSigner.addressCapacity).contains(odd.peerAddressLimit))
            let h = H(seed: 16, clientConfiguration: odd, serverConfiguration: odd)
            let id = try h.connect()
            #expect(h.run(for: .seconds(10)) { !H.upEvents(h.client).isEmpty }, "maxPeerAddresses \(extreme)")
            #expect(h.client.endpoint.association(id)?.state == .established)
        }
    }

    @Test("the server keeps as many of the INIT's addresses as the client could give, whatever maxPeerAddresses says, also after a change")
    func bothSidesAgree() throws {
        let clientAddresses = (1...6).map { IPAddress.v4(IPv4Address(10, 0, 0, UInt8($0))) }
        for (configured, expected) in [(0, 1), (4, 4), (300, 6)] {
            var configuration = SCTPConfiguration()
            configuration.maxPeerAddresses = configured
            let h = H(seed: 17, clientAddresses: clientAddresses, serverConfiguration: configuration)
            #expect(h.server.endpoint.cookies.configuration.maximumPeerAddresses == configuration.peerAddressLimit)
            _ = try h.connect()
            #expect(h.run(for: .seconds(10)) { !H.upEvents(h.server).isEmpty }, "maxPeerAddresses \(configured)")
            let serverID = try #require(H.upEvents(h.server).first)
            let server = try #require(h.server.endpoint.association(serverID))
            #expect(server.paths.count == expected, "maxPeerAddresses \(configured)")
        }
        // A change of the endpoint's configuration reaches its cookies.
        let h = H(seed: 18, clientAddresses: clientAddresses)
        var changed = h.server.endpoint.configuration
        changed.maxPeerAddresses = 2
        changed.maxCookieLifeIncrement = .seconds(5)
        h.server.endpoint.configuration = changed
        #expect(h.server.endpoint.cookies.configuration.maximumPeerAddresses == 2)
        #expect(h.server.endpoint.cookies.configuration.maximumLifeIncrement == .seconds(5))
        _ = try h.connect()
        #expect(h.run(for: .seconds(10)) { !H.upEvents(h.server).isEmpty })
        let serverID = try #require(H.upEvents(h.server).first)
        let server = try #require(h.server.endpoint.association(serverID))
        #expect(server.paths.count == 2)
    }
}
