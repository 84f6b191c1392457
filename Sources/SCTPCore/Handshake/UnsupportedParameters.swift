import NIOCore
import SCTPWire

extension SCTPConfiguration {
    /// Whether an INIT or INIT ACK parameter belongs to an extension this endpoint does not
    /// implement, or has switched off. The wire layer knows every parameter's format, but
    /// "recognised" in RFC 9260 §3.2.1 means the extension is supported: such a parameter is
    /// handled like an unknown one, by its type's two high bits. Those with the report bit
    /// reach the peer as Unrecognized Parameters, which is how the peer learns that the
    /// extension is not there:
    ///
    /// - Forward-TSN-Supported (0xC000) when PR-SCTP is off (RFC 3758 §3.3.1 relies on that report).
    ///
    /// The Adaptation Layer Indication (0xC006, RFC 5061 §4.2.5) is always accepted and
    /// reported to the application (`SCTPEvent.adaptationIndication`). The other extension
    /// parameters an INIT carries (ECN, zero checksum, AUTH's Random, HMAC and Chunk List,
    /// Supported Extensions, Padding) have type bits `10`: skipped silently whether supported
    /// or not.
    func isUnsupportedInitParameter(type: UInt16) -> Bool {
        switch type {
        case ForwardTSNSupportedParameter.parameterType: !partialReliability
        default: false
        }
    }

    /// The most bytes the reports of one INIT or INIT ACK take (each reported parameter's TLV,
    /// padded, plus the 4-byte header that wraps it in an INIT ACK). An INIT of nearly 64 KiB
    /// of four-byte parameters that ask for a report would otherwise make an INIT ACK (or an
    /// ERROR cause) longer than a chunk can be; what is past this is not reported.
    static let maximumReportBytes = 32_768

    /// The parameters of an INIT or INIT ACK to report back to the peer (RFC 9260 §3.2.2): the
    /// unknown ones and the known ones of unsupported extensions (`isUnsupportedInitParameter`)
    /// whose type asks for a report, in order, up to the first one whose type says to stop, and
    /// at most `maximumReportBytes` of them.
    func initParametersToReport(_ list: ParameterList) -> [UnknownParameter] {
        // Read in place: most lists have nothing to report, and then no value is made.
        var found: [ParameterView] = []
        list.withParameterBytes { cursor in
            var reportBytes = 0
            while let parameter = cursor.next() {
                guard !Parameter.isKnownType(parameter.type) || isUnsupportedInitParameter(type: parameter.type) else { continue }
                let action = parameter.action
                if action.reports {
                    reportBytes += 4 + (4 + parameter.value.count + 3) & ~3
                    if reportBytes > Self.maximumReportBytes { break }
                    found.append(parameter)
                }
                if !action.continues { break }
            }
        }
        return found.map { UnknownParameter(type: $0.type, value: list.slice($0.value)) }
    }
}
