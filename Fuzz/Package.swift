// swift-tools-version: 6.1
// The fuzz targets live in their own package so that the test build never compiles them.
// Build and run with ./run.sh [wire|state] [SECONDS] (libFuzzer + AddressSanitizer).
import PackageDescription

let package = Package(
    name: "swift-sctp-fuzz",
    dependencies: [
        .package(name: "swift-sctp", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .target(name: "FuzzDriver"),
        .executableTarget(
            name: "WireFuzzer",
            dependencies: [
                "FuzzDriver",
                .product(name: "SCTPWire", package: "swift-sctp"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "StateFuzzer",
            dependencies: [
                "FuzzDriver",
                .product(name: "SCTPCore", package: "swift-sctp"),
                .product(name: "SCTPSimulation", package: "swift-sctp"),
            ]
        ),
    ]
)
