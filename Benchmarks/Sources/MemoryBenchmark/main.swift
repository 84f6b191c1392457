import CMallocInfo
import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore
import SCTPWire

// Memory per idle association, two ways:
//
//   MemoryBenchmark [N] [--json]
//     The core over the simulated in-memory link: one accepting server endpoint
//     (`SCTPEndpoint`, as a one-to-many socket holds it) and one client endpoint per
//     association, handing packets to each other directly (serialized, checksummed and
//     parsed as on a real link). After N handshakes the client endpoints are dropped
//     without a packet reaching the server, so what remains is the server's state for N
//     idle associations.
//
//   MemoryBenchmark --udp-server --port P --udp-port U --peer-udp-port V --assocs N [--time S]
//     The whole stack over UDP on 127.0.0.1 (`UDPEncapsulationEndpoint` accepting, what
//     `sctp-perf --server` runs): prints READY, waits until N associations are up (any
//     client: Benchmarks/run.sh uses `usrsctp-bench hold`), prints the growth since the
//     endpoint was up (READY: its sockets bound, as usrsctp-bench's server measures from its
//     bound socket), and as `..._with_endpoint` the growth since before it started (the
//     endpoint's own start-up spread over the associations; the only figure before
//     2026-12-08), and as `..._marginal` the growth from the (N/100)th association on per
//     association (usrsctp-bench's server prints the same), and exits. Bounded by --time
//     (default 120 s).
//
// Heap bytes in use come from glibc's mallinfo2 (uordblks + hblkhd: exact, unaffected by
// fragmentation); RSS from /proc/self/statm, for reference. Output: one line of text, or
// a JSON object with --json (always JSON with --udp-server).

let arguments = Array(CommandLine.arguments.dropFirst())

func fail(_ text: String) -> Never {
    FileHandle.standardError.write(Data("MemoryBenchmark: \(text)\n".utf8))
    exit(2)
}

func option(_ name: String) -> Int? {
    guard let index = arguments.firstIndex(of: name) else { return nil }
    guard index + 1 < arguments.count, let value = Int(arguments[index + 1]) else { fail("\(name) needs a number") }
    return value
}

func heapInUse() -> Int { Int(cmallocinfo_heap_in_use()) }
func residentBytes() -> Int { Int(cmallocinfo_resident_bytes()) }

/// The core alone, over the in-memory link.
func inMemory(count: Int, json: Bool) {
    let serverAddress = IPAddress.v4(IPv4Address(127, 0, 0, 2))
    var configuration = SCTPConfiguration()
    configuration.maxAssociations = max(configuration.maxAssociations, count)
    let now = SCTPInstant.zero
    let server = SCTPEndpoint(configuration: configuration, localPort: 5001, localAddresses: [serverAddress],
                              acceptsAssociations: true, random: SeededRandomSource(seed: 2), now: now)
    let heapBefore = heapInUse()
    let rssBefore = residentBytes()
    var clients: [SCTPEndpoint] = []
    clients.reserveCapacity(count)
    var up = 0
    for index in 0..<count {
        // One client endpoint per association (an endpoint pair of ports has one association).
        // A peer transport address per association: 50,000 ports per client address.
        let clientAddress = IPAddress.v4(IPv4Address(127, 0, UInt8(1 + index / 50_000), 1))
        let client = SCTPEndpoint(configuration: configuration, localPort: UInt16(10_000 + index % 50_000),
                                  localAddresses: [clientAddress], random: SeededRandomSource(seed: UInt64(100 + index)), now: now)
        do {
            _ = try client.connect(to: [serverAddress], port: 5001, now: now)
        } catch {
            fail("connect \(index): \(error)")
        }
        var clientUp = false
        // INIT, INIT ACK, COOKIE ECHO, COOKIE ACK: a bounded number of rounds.
        for _ in 0..<16 where !clientUp {
            while let transmit = client.pollTransmit() {
                server.handle(datagram: transmit.datagram, from: clientAddress, to: serverAddress, now: now)
            }
            while let transmit = server.pollTransmit() {
                client.handle(datagram: transmit.datagram, from: serverAddress, to: clientAddress, now: now)
            }
            while let event = client.pollEvent() {
                if case .communicationUp = event { clientUp = true }
            }
            while let event = server.pollEvent() {
                if case .communicationUp = event { up += 1 }
            }
        }
        guard clientUp else { fail("association \(index) did not come up") }
        clients.append(client)
    }
    let heapWithClients = heapInUse()
    let rssWithClients = residentBytes()
    clients = []
    let heapServerOnly = heapInUse()
    // For heap profilers (heaptrack's "leaked" view): exit while the server's associations are
    // alive, so that what is still allocated at exit is what they hold.
    if ProcessInfo.processInfo.environment["MEMORY_BENCHMARK_EXIT_HOLDING"] != nil {
        withExtendedLifetime(server) { exit(0) }
    }
    guard up == count, server.associationIDs.count == count else {
        fail("\(up) associations came up on the server, \(server.associationIDs.count) alive; \(count) expected")
    }
    let serverPer = Double(heapServerOnly - heapBefore) / Double(count)
    let clientPer = Double(heapWithClients - heapServerOnly) / Double(count)
    let rssPer = Double(rssWithClients - rssBefore) / Double(count)
    if json {
        print(String(format: "{\"link\": \"in-memory\", \"associations\": %d, \"server_heap_per_association\": %.1f, "
                     + "\"client_heap_per_association_with_endpoint\": %.1f, \"rss_per_association_both_sides\": %.1f}",
                     count, serverPer, clientPer, rssPer))
    } else {
        print(String(format: "%d idle associations over the in-memory link: server heap %.0f B per association; "
                     + "client endpoint with its association %.0f B; RSS, both sides, %.0f B per association",
                     count, serverPer, clientPer, rssPer))
    }
}

/// The whole stack over UDP: counts associations coming up on an accepting endpoint.
final class UpCounter: @unchecked Sendable {
    private let condition = NSCondition()
    private var count = 0
    /// The heap once `warmCount` associations were up (read on the loop, in the event).
    private let warmCount: Int
    private(set) var warmHeap: Int?
    init(warmCount: Int) { self.warmCount = warmCount }
    func increment() {
        condition.lock()
        count += 1
        if count == warmCount { warmHeap = heapInUse() }
        condition.broadcast()
        condition.unlock()
    }
    /// Waits until `target` associations are up or `deadline` passes; returns the count.
    func wait(for target: Int, until deadline: Date) -> Int {
        condition.lock()
        defer { condition.unlock() }
        while count < target && condition.wait(until: deadline) {}
        return count
    }
}

func udpServer() {
    guard let port = option("--port"), let udpPort = option("--udp-port"), let peerUDPPort = option("--peer-udp-port"),
          let count = option("--assocs") else {
        fail("--udp-server needs --port, --udp-port, --peer-udp-port and --assocs")
    }
    let seconds = option("--time") ?? 120
    guard (1...65535).contains(port), (1...65535).contains(udpPort), (1...65535).contains(peerUDPPort),
          (1...100_000).contains(count), (1...3600).contains(seconds) else {
        fail("ports 1...65535, --assocs 1...100000, --time 1...3600")
    }
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    var options = UDPEncapsulationEndpoint.Options(sctpPort: UInt16(port), localAddresses: ["127.0.0.1"])
    options.udpPort = udpPort
    options.peerUDPPort = peerUDPPort
    options.acceptsAssociations = true
    options.configuration.maxAssociations = max(options.configuration.maxAssociations, count)
    // The marginal figure: the growth from the (N/100)th association on, per association (the
    // buffers made on the first packets, such as NIO's receive buffers, exist by then).
    let warmCount = max(count / 100, 1)
    let counter = UpCounter(warmCount: warmCount)
    let heapBefore = heapInUse()
    let rssBefore = residentBytes()
    let server: UDPEncapsulationEndpoint
    do {
        server = try UDPEncapsulationEndpoint.start(options: options, on: group.next()) { event in
            if case .communicationUp = event { counter.increment() }
        }.wait()
    } catch {
        fail("cannot start: \(error)")
    }
    // As usrsctp-bench's server measures (from its bound socket, before listen): the growth
    // since the endpoint is up is what the associations cost. The growth since before it
    // started adds the endpoint's own (its sockets, the packet pool), spread over them.
    let (heapStarted, rssStarted) = (try? server.eventLoop.submit { (heapInUse(), residentBytes()) }.wait()) ?? (heapInUse(), residentBytes())
    print("READY")
    fflush(nil)
    let up = counter.wait(for: count, until: Date().addingTimeInterval(TimeInterval(seconds)))
    // Read on the loop, so that no packet is being handled while the heap is measured.
    let (heap, rss) = (try? server.eventLoop.submit { (heapInUse(), residentBytes()) }.wait()) ?? (heapInUse(), residentBytes())
    guard up >= count else { fail("only \(up) of \(count) associations came up in \(seconds) s") }
    print(String(format: "{\"link\": \"udp\", \"associations\": %d, \"heap_bytes\": %d, \"rss_bytes\": %d, "
                 + "\"heap_per_association\": %.1f, \"rss_per_association\": %.1f, "
                 + "\"heap_per_association_with_endpoint\": %.1f, \"rss_per_association_with_endpoint\": %.1f, "
                 + "\"heap_per_association_marginal\": %.1f}",
                 up, heap - heapStarted, rss - rssStarted, Double(heap - heapStarted) / Double(up), Double(rss - rssStarted) / Double(up),
                 Double(heap - heapBefore) / Double(up), Double(rss - rssBefore) / Double(up),
                 up > warmCount ? Double(heap - (counter.warmHeap ?? heap)) / Double(up - warmCount) : 0))
    fflush(nil)
    // The client ends the associations; leave without waiting for it.
    exit(0)
}

if arguments.contains("--udp-server") {
    udpServer()
} else {
    let count = arguments.compactMap { Int($0) }.first ?? 10_000
    guard (1...100_000).contains(count) else { fail("the association count must be within 1...100000") }
    inMemory(count: count, json: arguments.contains("--json"))
}
