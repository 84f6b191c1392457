import ArgumentParser
import SCTPCore

/// `--auth`, `--hmac`, `--auth-key`: chunk authentication (RFC 4895) for the runs.
enum PerfAuthentication {
    /// What every run applies (set once, before any run starts); `nil` leaves the defaults.
    nonisolated(unsafe) static var settings: SCTPAuthenticationConfiguration?

    static func settings(auth: Bool, hmac: String?, key: String?) throws -> SCTPAuthenticationConfiguration? {
        guard auth || hmac != nil || key != nil else { return nil }
        var settings = SCTPAuthenticationConfiguration()
        if auth { settings.chunkTypes = [0, 64, 3] }
        switch hmac {
        case nil, "sha256": settings.hmacAlgorithms = [.sha256, .sha1]
        case "sha1": settings.hmacAlgorithms = [.sha1]
        default: throw ValidationError("--hmac is sha1 or sha256")
        }
        if let key {
            let parts = key.split(separator: ":", omittingEmptySubsequences: false)
            let hex = Array(parts.first ?? "")
            guard hex.count % 2 == 0, hex.count <= 2 * SCTPAuthenticationConfiguration.maximumKeyLength else {
                throw ValidationError("--auth-key: an even number of hex digits")
            }
            var bytes: [UInt8] = []
            for index in stride(from: 0, to: hex.count, by: 2) {
                guard let byte = UInt8(String(hex[index...index + 1]), radix: 16) else { throw ValidationError("--auth-key: not hex") }
                bytes.append(byte)
            }
            guard let number = parts.count > 1 ? UInt16(parts[1]) : 1 else { throw ValidationError("--auth-key: key number 0...65535") }
            settings.keys[number] = bytes
            settings.activeKey = number
        }
        return settings
    }

    static func apply(to configuration: inout SCTPConfiguration) {
        if let settings { configuration.authentication = settings }
    }
}
