import ArgumentParser
import Foundation
import SCTP

/// `sctp-cat`: an ncat-like tool for SCTP. It needs the association and sockets layers,
/// which later issues bring; until then it says so and exits with a failure status.
@main
struct SCTPCat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sctp-cat",
        abstract: "Send standard input over SCTP and print what arrives (not yet available).",
        discussion: "The association layer this tool needs is not built yet; see README.md.")

    func run() throws {
        let error = SCTPError(.notSupported, "sctp-cat needs the association layer, which is not built yet")
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}
