import Foundation

/// `Examples/c/connectx_echo.c` compiled against libswiftsctp (the C interface), for the
/// tests that run it: with the system's C compiler, the header in
/// `Sources/CSCTPSocketsAPI/include`, the library built next to the tests (`swift build
/// --product swiftsctp`, which scripts/test.sh runs) and run paths to it and to the Swift
/// runtime this process uses.
public enum CLibraryExample {
    /// The compiled program; `nil` without a C compiler or the library, unless every test
    /// must run in full (`Tools.required`): then, and when it does not compile, it throws.
    public static func compiled() throws -> String? {
        switch build {
        case .success(let path): return path
        case .failure(let problem):
            if Tools.required || problem.isCompileError { throw problem }
            return nil
        }
    }

    /// Starts the program's echo server (`server COUNT ADDRESS...`, a free UDP port); returns
    /// it with its SCTP and UDP ports once it listens.
    public static func server(_ program: String, count: Int, _ addresses: [String]) throws -> (ChildProcess, sctpPort: String, udpPort: String) {
        let server = try ChildProcess("/usr/bin/env", ["SWIFTSCTP_UDP_PORT=0", program, "server", "\(count)"] + addresses)
        _ = server.wait(seconds: 20) { out, _ in out.contains("LISTENING") }
        guard let line = server.standardOutput.split(separator: "\n").first(where: { $0.hasPrefix("LISTENING") }) else {
            server.terminate()
            throw Problem(description: "the C echo server did not start: \(server.standardError)")
        }
        let fields = line.split(separator: " ").map(String.init)
        guard fields.count == 3 else { throw Problem(description: "a LISTENING line without ports: \(line)") }
        return (server, fields[1], fields[2])
    }

    /// Why the program is not there.
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
        var isCompileError = false
    }

    private static let build: Result<String, Problem> = {
        guard let compiler = Tools.find("cc") ?? Tools.find("clang") else { return .failure(Problem(description: "no C compiler (cc)")) }
        guard let library = Tools.builtProduct("libswiftsctp.so") else {
            return .failure(Problem(description: "libswiftsctp.so is not built next to the tests: swift build --product swiftsctp"))
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let libraryDirectory = URL(fileURLWithPath: library).deletingLastPathComponent().path
        // The Swift runtime the library needs: where this process loaded its own from.
        let maps = (try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)) ?? ""
        let runtime = maps.split(separator: "\n").lazy.compactMap { line -> String? in
            guard let path = line.split(separator: " ").last, path.hasSuffix("/libswiftCore.so") else { return nil }
            return URL(fileURLWithPath: String(path)).deletingLastPathComponent().path
        }.first
        let directory: URL
        do {
            directory = try Tools.temporaryDirectory()
        } catch {
            return .failure(Problem(description: "no temporary directory: \(error)"))
        }
        let output = directory.appendingPathComponent("connectx_echo").path
        var arguments = ["-Wall", "-Werror", "-I", root.appendingPathComponent("Sources/CSCTPSocketsAPI/include").path,
                         root.appendingPathComponent("Examples/c/connectx_echo.c").path, "-o", output,
                         "-L", libraryDirectory, "-lswiftsctp", "-Wl,-rpath,\(libraryDirectory)"]
        if let runtime { arguments.append("-Wl,-rpath,\(runtime)") }
        do {
            let result = try Tools.run(compiler, arguments, timeout: .seconds(120))
            guard result.status == 0 else {
                return .failure(Problem(description: "connectx_echo.c does not compile:\n\(result.stderr)", isCompileError: true))
            }
        } catch {
            return .failure(Problem(description: "the C compiler did not run: \(error)", isCompileError: true))
        }
        return .success(output)
    }()
}
