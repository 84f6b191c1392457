import NIOCore
import NIOPosix
import SCTP
import SCTPCore
import Testing

/// The UDP driver must not advertise a receive window its socket cannot hold: a peer filling
/// the window would overrun the socket, and the kernel's drops look like loss (measured on
/// loopback: 4 MiB advertised over an 8 MiB socket lost 10–20 % of the packets of a two-way
/// transfer; a window of an eighth of the socket buffer lost none).
@Suite("UDP driver: receive window fits the socket buffer")
struct ReceiveWindowTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    func start(window: Int) throws -> UDPEncapsulationEndpoint {
        var options = UDPEncapsulationEndpoint.Options(sctpPort: 5001, localAddresses: ["127.0.0.1"])
        options.udpPort = 0
        options.configuration.receiveBufferSize = window
        return try wait(UDPEncapsulationEndpoint.start(options: options, on: Self.group.next()) { _ in })
    }

    @Test("a window larger than the socket can hold is lowered to an eighth of SO_RCVBUF")
    func lowered() throws {
        let endpoint = try start(window: 1 << 30)
        defer { _ = try? wait(endpoint.close()) }
        let window = endpoint.effectiveConfiguration.receiveBufferSize
        #expect(window < 1 << 30)
        #expect(window >= 16 << 10)
        #expect(endpoint.options.configuration.receiveBufferSize == 1 << 30, "the options keep what was asked")
    }

    @Test("a window the socket can hold is kept")
    func kept() throws {
        let endpoint = try start(window: 16 << 10)
        defer { _ = try? wait(endpoint.close()) }
        #expect(endpoint.effectiveConfiguration.receiveBufferSize == 16 << 10)
    }

    @Test("the rule: an eighth of the socket buffer, at least 16 KiB")
    func rule() {
        #expect(SCTPStack.receiveWindow(forSocketBuffer: 8 << 20) == 1 << 20)
        #expect(SCTPStack.receiveWindow(forSocketBuffer: 425_984) == 53_248)
        #expect(SCTPStack.receiveWindow(forSocketBuffer: 4096) == 16 << 10)
    }
}
