// swift-tools-version: 6.1
// Benchmarks live in their own package so the test build never compiles them.
//   swift run -c release --package-path Benchmarks WireBenchmark
//   swift run -c release --package-path Benchmarks CoreBenchmark
//   swift run -c release --package-path Benchmarks MemoryBenchmark 10000
// Benchmarks/run.sh runs everything against usrsctp (see Benchmarks/README.md).
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
        // Replaces malloc and its siblings in the executable it is linked into, to count
        // heap allocations (CoreBenchmark's allocations per packet).
        .target(name: "CMallocCounter"),
        .executableTarget(
            name: "CoreBenchmark",
            dependencies: [
                "CMallocCounter",
                .product(name: "SCTPCore", package: "swift-sctp"),
                .product(name: "SCTPWire", package: "swift-sctp"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(name: "CMallocInfo"),
        .executableTarget(
            name: "MemoryBenchmark",
            dependencies: [
                "CMallocInfo",
                .product(name: "SCTP", package: "swift-sctp"),
                .product(name: "SCTPCore", package: "swift-sctp"),
                .product(name: "SCTPWire", package: "swift-sctp"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ]
)
