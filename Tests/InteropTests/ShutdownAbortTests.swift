import Foundation
import NIOCore
import SCTP
import SCTPCore
import SystemPackage
import Testing

extension UsrsctpInterop {
    /// Scenario 3 of issue 6: graceful shutdown started by each side with data in flight, and
    /// ABORT from each side, against usrsctp.
    @Suite("shutdown and abort")
    struct ShutdownAbortTests {
        /// usrsctp-peer server --close-after 100 (SHUTDOWN) while we are still sending: every
        /// message our sendmsg took is delivered, then sends fail with EPIPE; we see the peer's
        /// SHUTDOWN event, SHUTDOWN COMPLETE and end of file.
        @Test("usrsctp server shuts down while we send: all we queued arrives, then EPIPE and end of file")
        func peerShutsDownWhileWeSend() async throws {
            try await InteropRun.perform("peer-close-after") { run in
                let server = try run.server(["--mode", "verify", "--close-after", "100"])
                let (client, _) = try await connectedClient(run, to: server, events: [.associationChange, .shutdown])
                let plan = MessagePlan(count: 1_000_000, streams: 10, lengths: 1000...1000, seed: 31)
                let (sent, error) = try await withDeadline(.seconds(60), "sending until the peer's shutdown") {
                    await sendUntilError(client, plan: plan)
                }
                #expect(error?.errno == .brokenPipe, "the send after the peer's SHUTDOWN failed with \(String(describing: error))")
                #expect(sent >= 100 && sent < plan.count)
                let notifications = try await drain(client)
                #expect(notifications.contains { if case .shutdown = $0 { true } else { false } }, "no SHUTDOWN event: \(notifications)")
                #expect(notifications.contains { if case .associationChange(.shutdownComplete, _, _, _, _) = $0 { true } else { false } },
                        "no SHUTDOWN_COMP: \(notifications)")

                let result = try server.result()
                #expect(result.messagesReceived == sent, "we sent \(sent): \(result)\n\(server.transcript)")
                #expect(result.verifyErrors == 0, "\(result)")
                #expect(try server.downReason() == "shutdown", "\(server.transcript)")
                #expect(try server.exitStatus() == 0, "\(server.transcript)")
                run.expectNoAbort()
            }
        }

        /// Our shutdown() right after queueing 3000 messages (most still in our send buffer):
        /// usrsctp receives them all, then the association ends gracefully.
        @Test("our shutdown right after queueing 3000 messages: usrsctp receives them all")
        func weShutDownWithDataQueued() async throws {
            try await InteropRun.perform("our-shutdown") { run in
                let server = try run.server(["--mode", "verify"])
                let (client, _) = try await connectedClient(run, to: server, events: [.associationChange])
                let plan = MessagePlan(count: 3000, streams: 10, lengths: 12...2000, seed: 32, delivery: .mixed(fraction: 0.2))
                try await withDeadline(.seconds(60), "queueing") { try await client.send(plan) }
                let queued = try client.getOption(.status)
                try client.shutdown()
                run.trace("shutdown with \(queued.unacknowledgedChunks) chunks unacknowledged, \(queued.pendingBytes) bytes pending")
                let notifications = try await drain(client)
                #expect(notifications.contains { if case .associationChange(.shutdownComplete, _, _, _, _) = $0 { true } else { false } },
                        "no SHUTDOWN_COMP: \(notifications)")
                #expect(errno { try client.send(Array("late".utf8)) } == .brokenPipe)

                let result = try server.result()
                #expect(result.messagesReceived == plan.count && result.bytesReceived == plan.totalBytes && result.verifyErrors == 0,
                        "\(result)\n\(server.transcript)")
                #expect(try server.downReason() == "shutdown", "\(server.transcript)")
                #expect(try server.exitStatus() == 0, "\(server.transcript)")
                run.expectNoAbort()
            }
        }

        /// A usrsctp-peer client sends 3000 messages and shuts down at once (its data still in
        /// flight): our server reads them all, then end of file.
        @Test("usrsctp client shuts down with data in flight: our server reads everything, then end of file")
        func peerShutsDownWithDataInFlight() async throws {
            try await InteropRun.perform("peer-shutdown") { run in
                let (listener, stack) = try listening(run)
                let port = try #require(listener.localPort)
                let udpPort = try #require(stack.udpPort)
                try run.capture(ports: [udpPort])
                let client = try run.client(toUDPPort: udpPort, port: port,
                                            ["--streams", "10", "--messages", "3000", "--length", "12-3000", "--seed", "33"])
                let accepted = try listener.accept()
                run.track(accepted)
                try accepted.setOption(.receiveTimeout, .seconds(20))
                try accepted.setOption(.events, [.associationChange, .shutdown])
                let plan = MessagePlan(count: 3000, streams: 10, lengths: 12...3000, seed: 33)
                let outcome = try await withDeadline(.seconds(60), "reading") { try await serve(accepted, plan: plan, echo: false) }
                #expect(outcome.verifier.messages == plan.count && outcome.verifier.errorCount == 0 && outcome.verifier.missing == 0,
                        "\(outcome.verifier.summary)")
                #expect(outcome.notifications.contains { $0.contains("shutdown(") }, "no SHUTDOWN event: \(outcome.notifications)")
                #expect(outcome.notifications.contains { $0.contains("shutdownComplete") }, "no SHUTDOWN_COMP: \(outcome.notifications)")
                #expect(try client.downReason() == "shutdown", "\(client.transcript)")
                #expect(try client.exitStatus() == 0, "\(client.transcript)")
                run.expectNoAbort()
            }
        }

        /// usrsctp-peer server --abort-after 100 while we send: our sends fail with ECONNRESET,
        /// we get COMM_LOST with ECONNRESET and end of file.
        @Test("usrsctp server aborts while we send: ECONNRESET, COMM_LOST, end of file")
        func peerAbortsWhileWeSend() async throws {
            try await InteropRun.perform("peer-abort-after") { run in
                let server = try run.server(["--mode", "verify", "--abort-after", "100"])
                let (client, _) = try await connectedClient(run, to: server, events: [.associationChange])
                let plan = MessagePlan(count: 1_000_000, streams: 10, lengths: 1000...1000, seed: 34)
                let (sent, error) = try await withDeadline(.seconds(60), "sending until the peer's abort") {
                    await sendUntilError(client, plan: plan)
                }
                #expect(error?.errno == .connectionReset, "the send after the ABORT failed with \(String(describing: error))")
                #expect(sent >= 100)
                let notifications = try await drain(client)
                let lost = notifications.compactMap { notification -> SCTPError?? in
                    if case .associationChange(.communicationLost, _, _, _, let error) = notification { error } else { nil }
                }
                #expect(lost.count == 1 && lost.first??.errno == .connectionReset, "COMM_LOST: \(notifications)")

                let result = try server.result()
                #expect(result.messagesReceived == 100 && result.verifyErrors == 0, "\(result)\n\(server.transcript)")
                #expect(try server.downReason() == "local_abort", "\(server.transcript)")
            }
        }

        /// Our close with linger 0 (ABORT) while a usrsctp-peer client sends: the client's send
        /// (or its receive) fails with ECONNRESET and it reports reason=abort.
        @Test("our close with linger 0 while usrsctp sends: the peer sees the ABORT")
        func weAbortWhilePeerSends() async throws {
            try await InteropRun.perform("our-abort") { run in
                let (listener, stack) = try listening(run)
                let port = try #require(listener.localPort)
                let udpPort = try #require(stack.udpPort)
                try run.capture(ports: [udpPort])
                let client = try run.client(toUDPPort: udpPort, port: port,
                                            ["--streams", "10", "--messages", "1000000", "--length", "1000", "--seed", "35"])
                let accepted = try listener.accept()
                run.track(accepted)
                try accepted.setOption(.receiveTimeout, .seconds(20))
                let plan = MessagePlan(count: 1000, streams: 10, lengths: 1000...1000, seed: 35)
                let outcome = try await withDeadline(.seconds(60), "reading") {
                    try await serve(accepted, plan: plan, echo: false, stopAfter: 200)
                }
                #expect(outcome.verifier.messages == 200 && outcome.verifier.errorCount == 0, "\(outcome.verifier.summary)")
                try accepted.setOption(.linger, .zero)
                try accepted.close()

                #expect(try client.downReason() == "abort", "\(client.transcript)")
                #expect(try client.exitStatus() == 4, "\(client.transcript)")
                // Its sending thread or its receiving one meets the reset first, whichever runs
                // when the ABORT lands (both print errno 104; one run had only the receive's).
                let reset = client.line("ERROR")?.contains("errno=104") == true || client.transcript.contains("recv: errno=104")
                #expect(reset, "the client's send or receive fails with ECONNRESET: \(client.transcript)")
            }
        }

        /// Our client's close with linger 0 after the usrsctp-peer server has received what we
        /// sent: the server reports reason=abort.
        @Test("our client's close with linger 0: the usrsctp server sees the ABORT")
        func ourClientAborts() async throws {
            try await InteropRun.perform("our-client-abort") { run in
                let server = try run.server(["--mode", "verify"])
                let (client, _) = try await connectedClient(run, to: server, events: [])
                let plan = MessagePlan(count: 500, streams: 10, lengths: 12...1500, seed: 36)
                try await withDeadline(.seconds(60), "sending") { try await client.send(plan) }
                // Wait until the server has everything (all acknowledged), then abort.
                try await waitUntil(.seconds(20), "everything acknowledged") {
                    let status = try client.getOption(.status)
                    return status.unacknowledgedChunks == 0 && status.pendingBytes == 0
                }
                try client.setOption(.linger, .zero)
                try client.close()
                #expect(try server.downReason() == "abort", "\(server.transcript)")
                let result = try server.result()
                #expect(result.messagesReceived == plan.count && result.verifyErrors == 0, "\(result)")
            }
        }

        /// A usrsctp-peer client that sends 1000 messages, waits until all are acknowledged and
        /// aborts (--abort-at-end): our server reads all 1000, then COMM_LOST (ECONNRESET) and
        /// end of file.
        @Test("usrsctp client aborts after its data: we read all of it, then COMM_LOST")
        func peerAbortsAtEnd() async throws {
            try await InteropRun.perform("peer-abort-at-end") { run in
                let (listener, stack) = try listening(run)
                let port = try #require(listener.localPort)
                let udpPort = try #require(stack.udpPort)
                try run.capture(ports: [udpPort])
                let client = try run.client(toUDPPort: udpPort, port: port,
                                            ["--streams", "10", "--messages", "1000", "--length", "12-5000", "--seed", "37", "--abort-at-end"])
                let accepted = try listener.accept()
                run.track(accepted)
                try accepted.setOption(.receiveTimeout, .seconds(20))
                try accepted.setOption(.events, [.associationChange])
                let plan = MessagePlan(count: 1000, streams: 10, lengths: 12...5000, seed: 37)
                let outcome = try await withDeadline(.seconds(60), "reading") { try await serve(accepted, plan: plan, echo: false) }
                #expect(outcome.verifier.messages == plan.count && outcome.verifier.errorCount == 0 && outcome.verifier.missing == 0,
                        "\(outcome.verifier.summary)")
                #expect(outcome.notifications.contains { $0.contains("communicationLost") && $0.contains("errno 104") }
                            || outcome.notifications.contains { $0.contains("communicationLost") },
                        "no COMM_LOST: \(outcome.notifications)")
                #expect(try client.downReason() == "local_abort", "\(client.transcript)")
                #expect(try client.exitStatus() == 0, "\(client.transcript)")
            }
        }
    }
}

// MARK: Helpers

/// A client socket of ours connected to a usrsctp-peer server (capture started first).
func connectedClient(_ run: InteropRun, to server: UsrsctpPeer, events: SCTPEventTypes,
                     configure: (SCTPSocket) throws -> Void = { _ in }) async throws -> (SCTPSocket, AssociationID) {
    let stack = run.stack(peerUDPPort: server.udpPort)
    let client = try run.socket(stack, events: events)
    try client.setOption(.initMessage, SCTPInitMessage(outboundStreams: 10, maxInboundStreams: 10))
    try configure(client)
    try client.bind([loopback(0)])
    try run.capture(ports: [try #require(stack.udpPort), server.udpPort])
    let id = try await client.connectx([loopback(server.port)])
    _ = try server.waitFor("ASSOC_UP", timeout: .seconds(20))
    return (client, id)
}

/// A listening one-to-one socket of ours on 127.0.0.1 (free SCTP and UDP ports).
func listening(_ run: InteropRun) throws -> (SCTPSocket, SCTPStack) {
    let stack = run.stack(peerUDPPort: 9)  // learned from the peer's packets
    let listener = try run.socket(stack)
    try listener.bind([loopback(0)])
    try listener.listen()
    return (listener, stack)
}

/// Sends the plan until a send fails; how many went and the error.
func sendUntilError(_ socket: SCTPSocket, plan: MessagePlan) async -> (sent: Int, error: SCTPError?) {
    var sent = 0
    for message in plan.messages {
        do {
            try await socket.sendmsg(message.payload, info: SCTPSendInfo(stream: message.stream, payloadProtocolIdentifier: message.ppid,
                                                                          flags: message.unordered ? .unordered : []))
        } catch {
            return (sent, error)
        }
        sent += 1
    }
    return (sent, nil)
}

/// Reads until end of file; the notifications (data is not expected).
func drain(_ socket: SCTPSocket) async throws -> [SCTPNotification] {
    var notifications: [SCTPNotification] = []
    while let inbound = try await socket.nextInbound() {
        switch inbound {
        case .notification(let notification): notifications.append(notification)
        case .message(let message): Issue.record("unexpected data: \(message.data.readableBytes) bytes on stream \(message.info.stream)")
        }
    }
    return notifications
}

/// Polls `condition` every 10 ms until it holds, failing after `limit`.
func waitUntil(_ limit: Duration, _ what: String, _ condition: () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while try !condition() {
        guard ContinuousClock.now < deadline else { throw PatternError("\(what): not within \(limit)") }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// The errno a call failed with.
func errno(of body: () throws -> Void) -> Errno? {
    do {
        try body()
        return nil
    } catch let error as SCTPError {
        return error.errno
    } catch {
        return nil
    }
}
