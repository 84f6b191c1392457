import Foundation
import NIOCore
import SCTP
import SCTPCore

/// The result of one association, as the summary line and the `--json` object show it.
struct PerfReport {
    var role: String
    var association: UInt32
    var messages = 0
    var bytes = 0
    var seconds = 0.0
    var echoed = 0
    var verifyErrors = 0
    /// The handshake's duration (client only; 0 on the server, which does not see it start).
    var setupSeconds = 0.0
    /// DATA chunks retransmitted; `nil` where the API used does not tell (the sockets API
    /// of `--one-to-many`): `null` in JSON, "n/a" in the summary.
    var retransmissions: Int? = 0
    /// How the association ended: "shutdown", "aborted: ...", ...
    var ended = "shutdown"
    /// Outgoing stream resets the peer performed (`--reset-every`); `nil` when not asked.
    var streamResets: Int? = nil

    var mbps: Double { seconds > 0 ? Double(bytes) * 8 / seconds / 1e6 : 0 }
    var messagesPerSecond: Double { seconds > 0 ? Double(messages) / seconds : 0 }

    /// One human-readable line.
    var summary: String {
        var line = String(format: "%@ summary: association %u: %d messages, %d bytes in %.3f s: %.1f Mbit/s, %.0f messages/s",
                          role, association, messages, bytes, seconds, mbps, messagesPerSecond)
        line += ", echoed \(echoed), verify errors \(verifyErrors)"
        if role == "client" { line += String(format: ", setup %.1f ms", setupSeconds * 1000) }
        line += ", retransmissions \(retransmissions.map(String.init) ?? "n/a"), ended: \(ended)"
        if let streamResets { line += ", stream resets \(streamResets)" }
        return line
    }

    /// One JSON object on one line.
    var json: String {
        func number(_ value: Double) -> String { value.isFinite ? String(format: "%.6f", value) : "0" }
        var fields: [(String, String)] = [
            ("role", quoted(role)),
            ("association", String(association)),
            ("messages", String(messages)),
            ("bytes", String(bytes)),
            ("seconds", number(seconds)),
            ("mbps", number(mbps)),
            ("messages_per_second", number(messagesPerSecond)),
            ("echoed", String(echoed)),
            ("verify_errors", String(verifyErrors)),
            ("setup_seconds", number(setupSeconds)),
            ("retransmissions", retransmissions.map(String.init) ?? "null"),
            ("ended", quoted(ended)),
        ]
        if let streamResets { fields.append(("stream_resets", String(streamResets))) }
        return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
    }

    private func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// What a server counts of one association, whichever API serves it (`PerfServer`,
/// `PerfSocketServer`).
struct ServedAssociation {
    let up = ContinuousClock.now
    var lastActivity: ContinuousClock.Instant?
    var messages = 0
    var bytes = 0
    var echoed = 0
    var echoFailures = 0
    /// Pieces of messages delivered in parts, per stream and ordering (kept only to echo them;
    /// otherwise an empty buffer marks a message in progress).
    private var pieces: [UInt32: ByteBuffer] = [:]

    /// Pieces taken so far.
    private var taken = 0
    /// The clock is read for the pieces whose count has these bits clear: 0, every piece;
    /// 31, every 32nd, for a server that sets `lastActivity` itself when the peer shuts down.
    var clockMask = 0

    /// Counts a delivered piece; returns the whole message once its last piece is in.
    mutating func take(_ payload: ByteBuffer, stream: UInt16, unordered: Bool, isComplete: Bool, keep: Bool) -> ByteBuffer? {
        bytes += payload.readableBytes
        // A clock reading per 64-byte message was 4 % of the receiving process (`clockMask`).
        if taken & clockMask == 0 { lastActivity = .now }
        taken &+= 1
        let key = UInt32(stream) << 1 | (unordered ? 1 : 0)
        var whole = payload
        if !isComplete || (!pieces.isEmpty && pieces[key] != nil) {
            var collected = pieces[key] ?? ByteBuffer()
            if keep {
                var piece = payload
                collected.writeBuffer(&piece)
            }
            pieces[key] = collected
            guard isComplete else { return nil }
            whole = pieces.removeValue(forKey: key) ?? whole
        }
        messages += 1
        return whole
    }

    /// The server's report for the association.
    func report(_ id: AssociationID, ended: String, retransmissions: Int?) -> PerfReport {
        var report = PerfReport(role: "server", association: id.rawValue)
        report.messages = messages
        report.bytes = bytes
        report.seconds = PerfSetupRate.seconds((lastActivity ?? .now) - up)
        report.echoed = echoed
        report.verifyErrors = echoFailures
        report.retransmissions = retransmissions
        report.ended = ended
        return report
    }
}

/// Prints a line and flushes stdout at once, so that a script waiting for the line sees it
/// even when stdout is a pipe.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

/// Writes `error: ENAME: message` on stderr (the tools' one failure line).
func reportFailure(_ error: any Error) {
    let text: String = if let error = error as? SCTPError { error.description } else { "EIO: \(error)" }
    FileHandle.standardError.write(Data("error: \(text)\n".utf8))
}

/// A mutex-protected value for state shared between the event loop and the main thread.
final class Locked<Value>: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: Value

    init(_ value: Value) { self.value = value }

    /// Runs `body` on the value and wakes every waiter.
    @discardableResult
    func update<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        return try body(&value)
    }

    func read<R>(_ body: (Value) throws -> R) rethrows -> R {
        condition.lock()
        defer { condition.unlock() }
        return try body(value)
    }

    /// Waits until `predicate` holds or `deadline` passes; returns whether it holds.
    @discardableResult
    func wait(until deadline: Date, for predicate: (Value) -> Bool) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !predicate(value) {
            if deadline == .distantFuture {
                condition.wait()
            } else if !condition.wait(until: deadline) {
                return predicate(value)
            }
        }
        return true
    }
}
