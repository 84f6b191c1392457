import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// The parameters an endpoint lists in its INIT are made once and kept; a change of the
/// configuration or of the local addresses must show in the next INIT.
@Suite("INIT parameters follow the endpoint's configuration and addresses")
struct InitParametersTests {
    static let first = IPAddress.v4(IPv4Address(10, 0, 0, 1))
    static let second = IPAddress.v4(IPv4Address(10, 0, 0, 2))
    static let peer = IPAddress.v4(IPv4Address(10, 0, 1, 1))

    /// The parameters of the INIT the endpoint sends for a new association.
    /// Each call sets up an association to another peer port (one association per peer).
    static func initParameters(of endpoint: SCTPEndpoint, peerPort: UInt16) throws -> [Parameter] {
        _ = try endpoint.connect(to: [peer], port: peerPort, now: .zero)
        let transmit = try #require(endpoint.pollTransmit())
        let packet = try SCTPPacket(parsing: transmit.datagram)
        guard case .initiation(let chunk) = try #require(packet.chunks.first) else {
            Issue.record("not an INIT")
            return []
        }
        return chunk.parameters.parameters
    }

    static func hasECN(_ parameters: [Parameter]) -> Bool {
        parameters.contains { if case .ecnCapable = $0 { true } else { false } }
    }

    static func addresses(_ parameters: [Parameter]) -> [IPAddress] { parameters.compactMap(\.address) }

    @Test("a configuration change and an address change each show in the next INIT")
    func changesShow() throws {
        var configuration = SCTPConfiguration()
        configuration.ecn = true
        let endpoint = SCTPEndpoint(configuration: configuration, localPort: 4000, localAddresses: [Self.first],
                                    random: SeededRandomSource(seed: 7), now: .zero)
        let before = try Self.initParameters(of: endpoint, peerPort: 5001)
        #expect(Self.hasECN(before))
        #expect(Self.addresses(before).isEmpty)  // one address: none listed

        endpoint.configuration.ecn = false
        let afterConfiguration = try Self.initParameters(of: endpoint, peerPort: 5002)
        #expect(!Self.hasECN(afterConfiguration))

        endpoint.localAddresses = [Self.first, Self.second]
        let afterAddresses = try Self.initParameters(of: endpoint, peerPort: 5003)
        #expect(Self.addresses(afterAddresses) == [Self.first, Self.second])
        #expect(!Self.hasECN(afterAddresses))

        // Unchanged: the same list again.
        // (AUTH's RANDOM is drawn afresh for each INIT.)
        func withoutRandom(_ parameters: [Parameter]) -> [Parameter] {
            parameters.filter { if case .random = $0 { false } else { true } }
        }
        #expect(withoutRandom(try Self.initParameters(of: endpoint, peerPort: 5004)) == withoutRandom(afterAddresses))
    }

    @Test("setting the configuration it has keeps the prepared INIT parameters and AUTH template; a change drops them")
    func equalConfigurationKeepsPrepared() throws {
        var configuration = SCTPConfiguration()
        configuration.authentication.enabled = true
        let endpoint = SCTPEndpoint(configuration: configuration, localPort: 4000, localAddresses: [Self.first],
                                    random: SeededRandomSource(seed: 7), now: .zero)
        _ = try Self.initParameters(of: endpoint, peerPort: 5001)
        #expect(endpoint.initParameters != nil)
        #expect(endpoint.localAuthVectorTemplate != nil)
        endpoint.configuration = configuration
        #expect(endpoint.initParameters != nil)
        #expect(endpoint.localAuthVectorTemplate != nil)
        endpoint.configuration.ecn.toggle()
        #expect(endpoint.initParameters == nil)
        #expect(endpoint.localAuthVectorTemplate == nil)
        #expect(Self.hasECN(try Self.initParameters(of: endpoint, peerPort: 5002)) == endpoint.configuration.ecn)
    }
}
