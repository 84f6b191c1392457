import Foundation
import NIOCore
import Testing

/// Shared helpers for the wire tests.
enum TestSupport {
    /// Bytes of a hex fixture: `#` starts a comment line; whitespace is ignored.
    static func hexBytes(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let digits = line.filter(\.isHexDigit)
            var index = digits.startIndex
            while index < digits.endIndex, let next = digits.index(index, offsetBy: 2, limitedBy: digits.endIndex) {
                bytes.append(UInt8(digits[index..<next], radix: 16)!)
                index = next
            }
        }
        return bytes
    }

    /// A fixture file's URL from the test bundle's resources.
    static func fixtureURL(_ relativePath: String) throws -> URL {
        let base = try #require(Bundle.module.resourceURL)
        return base.appendingPathComponent("Fixtures").appendingPathComponent(relativePath)
    }

}
