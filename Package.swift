// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "swift-sctp",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "SCTPWire", targets: ["SCTPWire"]),
        .library(name: "SCTPCore", targets: ["SCTPCore"]),
        .library(name: "SCTPSimulation", targets: ["SCTPSimulation"]),
        .library(name: "SCTP", targets: ["SCTP"]),
        // SwiftNIO channels and bootstraps over SCTP sockets.
        .library(name: "NIOSCTP", targets: ["NIOSCTP"]),
        // libswiftsctp: the C interface (Sources/CSCTPSocketsAPI/include/swiftsctp.h).
        .library(name: "swiftsctp", type: .dynamic, targets: ["SCTPCInterface"]),
        .executable(name: "sctp-cat", targets: ["sctp-cat"]),
        .executable(name: "sctp-perf", targets: ["sctp-perf"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    ],
    targets: [
        .target(name: "CSCTPChecksum"),
        .target(name: "CSCTPHash"),
        .target(name: "CSCTPSystem"),
        .target(name: "CSCTPSocketsAPI"),
        .target(
            name: "SCTPWire",
            dependencies: [
                "CSCTPChecksum",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "SCTPCore",
            dependencies: [
                "SCTPWire",
                "CSCTPHash",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "SCTPSimulation",
            dependencies: ["SCTPCore"],
            swiftSettings: strict
        ),
        .target(
            name: "SCTP",
            dependencies: [
                "SCTPCore",
                "CSCTPSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "NIOSCTP",
            dependencies: [
                "SCTP", "SCTPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "SCTPCInterface",
            dependencies: [
                "SCTP", "SCTPCore", "SCTPWire", "CSCTPSocketsAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sctp-cat",
            dependencies: [
                "SCTP", "SCTPCore", "SCTPWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sctp-perf",
            dependencies: [
                "SCTP",
                "SCTPCore",
                "SCTPWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "SCTPTestSupport",
            dependencies: [
                "SCTPCore",
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/SCTPTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "SCTPWireTests",
            dependencies: [
                "SCTPWire", "CSCTPChecksum", "SCTPTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SCTPCoreTests",
            dependencies: [
                "SCTPCore", "SCTPSimulation", "SCTPWire", "CSCTPHash",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),  // reference hashes and HMACs
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SCTPTests",
            dependencies: [
                "SCTP", "SCTPCore", "SCTPWire", "SCTPTestSupport", "CSCTPSystem",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "NIOSCTPTests",
            dependencies: [
                "NIOSCTP", "SCTP", "SCTPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "InteropTests",
            dependencies: [
                "SCTP", "SCTPCore", "SCTPWire", "SCTPTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
    ]
)
