// swift-tools-version: 6.1
// Benchmarks live in their own package so the test build never compiles them.
//   swift run -c release --package-path Benchmarks WireBenchmark
//   swift run -c release --package-path Benchmarks CoreBenchmark
import PackageDescription

let package = Package(
    name: "swift-sctp-benchmarks",
    dependencies: [
        .package(name: "swift-sctp", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "WireBenchmark",
            dependencies: [
                .product(name: "SCTPWire", package: "swift-sctp"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "CoreBenchmark",
            dependencies: [
                .product(name: "SCTPCore", package: "swift-sctp"),
                .product(name: "SCTPWire", package: "swift-sctp"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ]
)
